"""
Class Gaussians in a scikit-learn pipeline (wine)
=================================================

:class:`skkl.GroupGaussians` fits one Gaussian per class and maps each sample
to its log-density under every class: a small, interpretable feature space
for a linear model. The same fitted Gaussians give the class divergence
matrix.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_wine
from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skkl import GroupGaussians
from skkl.plotting import DivergenceMatrixDisplay, GaussianEllipsesDisplay

X, y = load_wine(return_X_y=True)
pipe = make_pipeline(
    StandardScaler(),
    GroupGaussians(shrinkage="ledoit_wolf"),
    LogisticRegression(max_iter=1000),
)
qda = QuadraticDiscriminantAnalysis(reg_param=0.1)
print(f"GroupGaussians + LogisticRegression: {cross_val_score(pipe, X, y).mean():.3f}")
print(f"QuadraticDiscriminantAnalysis:       {cross_val_score(qda, X, y).mean():.3f}")

# %%
# Which classes are hard to tell apart? Bhattacharyya distances between the
# fitted class Gaussians (the larger, the better separated).
pipe.fit(X, y)
groups = pipe[1]
DivergenceMatrixDisplay.from_estimator(groups, kind="bhattacharyya")
plt.show()

# %%
# The class Gaussians in the plane of the first two principal components.
GaussianEllipsesDisplay.from_estimator(groups, X=pipe[0].transform(X), y=y, pca=True)
plt.show()
