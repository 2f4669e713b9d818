"""Doctest set-up: a headless matplotlib backend for examples that plot."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
