"""Test configuration shared by every test module."""

import os
import sys

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
from hypothesis import settings

# CI runs a fixed set of examples so a failure reproduces on a developer's machine.
settings.register_profile("ci", deadline=None, derandomize=True, max_examples=40)
settings.register_profile("dev", deadline=None, max_examples=40)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every matplotlib figure a test opened (without importing pyplot)."""
    yield
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


@pytest.fixture
def no_figures(monkeypatch):
    """Displays without matplotlib: numbers and tables only (and fast)."""
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)


@pytest.fixture(scope="module")
def client():
    """A local dask cluster: two single-threaded in-process workers."""
    distributed = pytest.importorskip("distributed")
    with distributed.Client(
        processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0"
    ) as c:
        yield c
