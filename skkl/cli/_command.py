"""What a subcommand is: one record that the parser and the dispatch read.

A :class:`Command` names the subcommand, its help, its arguments (a tuple of
:class:`Arg`, each what :meth:`argparse.ArgumentParser.add_argument` takes)
and the function that runs it. An argument that sets a library parameter
says which (``param``): an :class:`~skkl._errors.InputError` about that
parameter is printed with the argument's flag, so the library's messages are
never rewritten.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Arg", "Command", "arg"]


@dataclass(frozen=True)
class Arg:
    """One argument of a command.

    Attributes
    ----------
    names : tuple of str
        Option strings (``'--level'``) or the positional's name.
    param : str or None
        The library parameter the argument sets, as the library's errors name
        it (``'alpha'`` for ``--level``), or None.
    options : mapping
        Keyword arguments of ``add_argument``.
    """

    names: tuple[str, ...]
    param: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def positional(self) -> bool:
        return not self.names[0].startswith("-")

    @property
    def spelling(self) -> str:
        """How a message names the argument: its first long flag, or metavar."""
        if self.positional:
            return self.options.get("metavar", self.names[0].upper())
        return next((n for n in self.names if n.startswith("--")), self.names[0])

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(*self.names, **self.options)


def arg(*names: str, param: str | None = None, **options: Any) -> Arg:
    """An :class:`Arg` from ``add_argument``'s arguments.

    Examples
    --------
    >>> level = arg("--level", param="alpha", type=float, default=0.05)
    >>> level.spelling, level.param
    ('--level', 'alpha')
    >>> arg("reference", metavar="REFERENCE", param="X_ref").spelling
    'REFERENCE'
    """
    return Arg(names, param, options)


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, help, arguments and the function that runs it.

    Attributes
    ----------
    name : str
        What the user types after ``skkl``.
    help : str
        One line for ``skkl --help``.
    handler : callable
        ``handler(args) -> int``: runs the command on the parsed arguments and
        returns the exit status. It imports what it needs from the library
        when it runs, so that ``skkl --help`` stays fast.
    arguments : tuple of Arg
        In the order ``skkl NAME --help`` lists them.
    description, epilog : str or None
        Longer help for ``skkl NAME --help``.
    raw_help : bool
        Keep the line breaks of ``description`` and ``epilog``.
    check : callable or None
        ``check(args) -> str or None``: a problem with a combination of
        flags, reported as a usage error before any file is read.
    """

    name: str
    help: str
    handler: Callable[[argparse.Namespace], int]
    arguments: tuple[Arg, ...] = ()
    description: str | None = None
    epilog: str | None = None
    raw_help: bool = False
    check: Callable[[argparse.Namespace], str | None] | None = None

    def __post_init__(self) -> None:
        params = [a.param for a in self.arguments if a.param is not None]
        twice = sorted({p for p in params if params.count(p) > 1})
        if twice:
            raise ValueError(f"command {self.name!r} maps {twice} to two arguments")

    def add_to(self, subparsers) -> argparse.ArgumentParser:
        """Add this command to ``subparsers`` and return its parser."""
        formatter = (
            argparse.RawDescriptionHelpFormatter
            if self.raw_help
            else argparse.HelpFormatter
        )
        parser = subparsers.add_parser(
            self.name,
            help=self.help,
            description=self.description,
            epilog=self.epilog,
            formatter_class=formatter,
        )
        for argument in self.arguments:
            argument.add_to(parser)
        parser.set_defaults(_command=self, _parser=parser)
        return parser

    def parameter_names(self) -> dict[str, str]:
        """Library parameter -> how this command's messages spell it.

        Examples
        --------
        >>> cmd = Command("x", "", int, (arg("--level", param="alpha"),))
        >>> cmd.parameter_names()
        {'alpha': '--level'}
        """
        return {a.param: a.spelling for a in self.arguments if a.param is not None}
