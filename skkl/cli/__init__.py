"""The ``skkl`` command line: a demo on bundled data and commands on files.

Every command validates its flags and files before computing: a bad flag, a
missing file or column, non-numeric, missing or ragged values, too few rows
or a malformed ``.npz`` end with a one-line message on stderr that names the
file (and line, column or flag) and exit status 2. ``skkl drift`` exits 1
when it finds drift, so scripts and CI jobs can branch on it; an internal
error (a bug) exits 3 with a traceback.

Layout
------
``_main``
    ``COMMANDS``, the parser built from them, and ``main``.
``_command``
    :class:`~skkl.cli._command.Command` and :class:`~skkl.cli._command.Arg`,
    the records the parser and the dispatch read.
``_demo``, ``_pairwise``, ``_separability``, ``_drift``
    One module per command: its ``COMMAND`` record and its handler.
``_flags``
    Flag values (checked at parse time) and the arguments commands share.
``_files``, ``_readers``, ``_numbers``
    Bytes in (decompression, field counts), tables in, and what a number is.
``_gaussian_files``, ``_writers``
    Gaussians in ``.npz`` and packed files; outputs (``-`` is stdout).
``_errors``, ``_tables``
    Exit statuses and the library's errors; text tables.

Adding a command
----------------
Write ``skkl/cli/_NAME.py`` with a handler ``cmd_NAME(args) -> int`` (an exit
status from ``_errors``) and one record::

    COMMAND = Command(
        name="NAME",
        help="one line for skkl --help",
        handler=cmd_NAME,
        arguments=(
            arg("data", metavar="DATA", param="X", help="..."),
            arg("--level", param="alpha", type=level, default=0.05, help="..."),
            *table_args(),
        ),
    )

then add ``_NAME.COMMAND`` to ``COMMANDS`` in ``_main``. Import the library
inside the handler (``skkl --help`` must not load scikit-learn). Check each
flag's value with a type from ``_flags`` (the message names the flag); give
``param=`` to an argument that sets a library parameter, and call the library
inside ``library_errors(COMMAND.parameter_names(), files, about)``: an
:class:`~skkl._errors.InputError` about that parameter is then printed with
the flag's name, any other ``ValueError`` as it is. Raise
:class:`~skkl.cli._errors.CLIError` for bad input the command finds itself.
Add the command's files to the fuzz cases (``tests/test_fuzz_cli.py``) and
each ``param=`` to the error cases of ``tests/test_cli_flags.py``.
"""

from ._main import build_parser, main

__all__ = ["build_parser", "main"]
