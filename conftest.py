"""Doctest set-up: a headless matplotlib backend for examples that plot.

Doctests of modules that need an optional extra are skipped, not failed,
when the extra is not installed.
"""

import importlib
import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

# Package directory -> the optional module its doctests need.
_DOCTEST_EXTRAS = {os.path.join("skkl", "plotting"): "matplotlib"}


def _available(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not isinstance(item, pytest.DoctestItem):
            continue
        path = str(item.path)
        for directory, module in _DOCTEST_EXTRAS.items():
            if directory in path and not _available(module):
                item.add_marker(
                    pytest.mark.skip(reason=f"doctest needs {module} (optional extra)")
                )
