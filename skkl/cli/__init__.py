"""The ``skkl`` command line: a demo on bundled data and commands on files.

Every command validates its flags and files before computing: a bad flag, a
missing file or column, non-numeric or missing values, too few rows or a
malformed ``.npz`` end with a message on stderr and exit status 2.
``skkl drift`` exits 1 when it finds drift, so scripts and CI jobs can branch
on it; an internal error (a bug) exits 3 with a traceback.

Layout: ``_main`` (parser, ``main``), ``_commands`` (pairwise, separability,
drift), ``_io`` (readers and writers), ``_tables`` (text tables), ``_demo``.
"""

from ._main import build_parser, main

__all__ = ["build_parser", "main"]
