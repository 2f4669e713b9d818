"""The README's Python examples run, and print what the README says they print."""

import ast
import contextlib
import io
import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).parents[1] / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.S)


def test_readme_python_examples_run_and_match_their_comments():
    namespace: dict = {}
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        for block in _blocks("python"):
            exec(compile(block, str(README), "exec"), namespace)
    # Values quoted in the README's comments and output block.
    assert np.isclose(
        namespace["kl_divergence"](
            np.zeros(400), 10 * np.eye(400), np.zeros(400), np.eye(400)
        ),
        1339.482981401191,
    )
    assert np.isclose(namespace["D"][0, 1], 26.6344, atol=5e-5)
    res = namespace["res"]
    assert res.is_drift and res.feature_p_values.argmin() == 3
    assert round(res.p_value, 3) == 0.007 and round(res.effect, 2) == 0.03
    assert round(res.effect_null_sd, 3) == 0.006
    printed = stdout.getvalue().strip()
    quoted = re.findall(r"```\n(SeparabilityResult.*?)```", README.read_text(), re.S)
    assert len(quoted) == 1 and printed == quoted[0].strip()


def test_readme_python_blocks_are_valid_python():
    for block in _blocks("python"):
        ast.parse(block)
