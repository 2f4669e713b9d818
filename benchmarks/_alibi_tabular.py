"""Run alibi-detect's TabularDrift on data sets in a file (its own environment).

``python _alibi_tabular.py IN.npz OUT.npz`` with the alibi-detect interpreter
(it pins numpy < 2, so it lives in its own venv). ``IN`` holds ``ref_k`` and
``cur_k`` (float arrays) for k = 0 .. K-1 and ``categorical`` (column
indices to test with chi-square; the rest with Kolmogorov-Smirnov). ``OUT``
gets ``is_drift`` (Bonferroni at 0.05, alibi's default) and the smallest
feature p-value of each data set, and ``seconds`` per test.
"""

import sys
import time

import numpy as np
from alibi_detect.cd import TabularDrift


def main(src: str, dst: str) -> None:
    data = np.load(src)
    categorical = [int(j) for j in data["categorical"]]
    K = sum(1 for key in data.files if key.startswith("ref_"))
    drift, p_min, seconds = [], [], []
    for k in range(K):
        start = time.perf_counter()
        det = TabularDrift(
            data[f"ref_{k}"],
            p_val=0.05,
            categories_per_feature=dict.fromkeys(categorical),
        )
        out = det.predict(data[f"cur_{k}"])["data"]
        seconds.append(time.perf_counter() - start)
        drift.append(int(out["is_drift"]))
        p_min.append(float(np.min(out["p_val"])))
    np.savez(dst, is_drift=np.array(drift), p_min=np.array(p_min), seconds=seconds)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
