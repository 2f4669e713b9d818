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
    assert round(res.p_value, 3) == 0.006 and round(res.effect, 2) == 0.03
    assert round(res.effect_null_sd, 3) == 0.006
    printed = stdout.getvalue().strip()
    quoted = re.findall(r"```\n(SeparabilityResult.*?)```", README.read_text(), re.S)
    assert len(quoted) == 1
    _assert_matches_quoted(printed, quoted[0].strip())


_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def _last_digit_unit(token: str) -> float:
    """The value of one unit in the last digit the README quotes."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def _assert_matches_quoted(printed: str, quoted: str):
    """Text equal, numbers equal to the digits the README quotes.

    The README quotes only digits that are stable across BLAS kernels; the
    printed value may differ beyond them, and by one unit of the last quoted
    digit (a value near a rounding boundary may round either way).
    """
    assert _NUMBER.sub("#", printed) == _NUMBER.sub("#", quoted)
    for p, q in zip(_NUMBER.findall(printed), _NUMBER.findall(quoted), strict=True):
        if not any(c in q for c in ".eE"):  # integers (labels, counts): exact
            assert p == q, (p, q)
        else:
            assert abs(float(p) - float(q)) <= _last_digit_unit(q), (p, q)


def test_readme_python_blocks_are_valid_python():
    for block in _blocks("python"):
        ast.parse(block)


def test_quoted_number_check_rejects_other_digits():
    """Plumbing check of the comparison helper itself."""
    _assert_matches_quoted("x=0.0058766, y=[1, 2]", "x=0.00588, y=[1, 2]")
    for wrong in ("x=0.00590, y=[1, 2]", "x=0.00588, y=[1, 3]", "z=0.00588, y=[1, 2]"):
        try:
            _assert_matches_quoted("x=0.0058766, y=[1, 2]", wrong)
        except AssertionError:
            continue
        raise AssertionError(f"accepted {wrong!r}")
