"""The library's error about its caller's input, carrying where the fault is.

A message that names parameters is written as a template, and the parameters
it names are passed as :class:`Setting` objects. ``str(error)`` renders them as
Python spells them (``shrinkage='ledoit_wolf'``); the ``skkl`` command renders
the same error with its own flags (``--shrinkage ledoit_wolf``) through
:meth:`InputError.render`, so no message is ever rewritten by pattern matching
and changing a message cannot silently change what the command prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["InputError", "Setting"]

_UNSET = object()


@dataclass(frozen=True)
class Setting:
    """A parameter named in a message, optionally with the value to give it.

    Examples
    --------
    >>> str(Setting("shrinkage", "ledoit_wolf"))
    "shrinkage='ledoit_wolf'"
    >>> Setting("shrinkage", "ledoit_wolf").render({"shrinkage": "--shrinkage"})
    '--shrinkage ledoit_wolf'
    >>> Setting("reg_covar").render({})
    'reg_covar'
    """

    name: str
    value: Any = _UNSET

    def render(self, names: Mapping[str, str]) -> str:
        """This setting as ``names`` spells parameters (Python's own if absent)."""
        flag = names.get(self.name)
        if self.value is _UNSET:
            return flag or self.name
        if flag is None:
            return f"{self.name}={self.value!r}"
        return f"{flag} {self.value}"

    def __str__(self) -> str:
        return self.render({})


class InputError(ValueError):
    """A ``ValueError`` about one argument of a call, with where the fault is.

    Parameters
    ----------
    template : str
        The message, a :meth:`str.format` template. ``{argument}`` stands for
        the argument at fault; other fields are filled from ``fields``, where a
        :class:`Setting` stands for another parameter (or a value to give it).
    argument : str or None, default=None
        The parameter (``'X'``, ``'sample_weight'``) whose value is at fault.
    file, column, row : optional
        Where in a file or table the fault is, when the caller knows.
    **fields
        Values for the template's other fields.

    Examples
    --------
    >>> err = InputError(
    ...     "{argument} has 3 rows; use {fix}.",
    ...     argument="X_ref",
    ...     fix=Setting("shrinkage", "ledoit_wolf"),
    ... )
    >>> str(err)
    "X_ref has 3 rows; use shrinkage='ledoit_wolf'."
    >>> err.render({"X_ref": "REFERENCE", "shrinkage": "--shrinkage"})
    'REFERENCE has 3 rows; use --shrinkage ledoit_wolf.'
    """

    def __init__(
        self,
        template: str,
        *,
        argument: str | None = None,
        file: str | None = None,
        column: Any = None,
        row: int | None = None,
        **fields: Any,
    ) -> None:
        self.template = template
        self.argument = argument
        self.file = file
        self.column = column
        self.row = row
        self.fields = fields
        super().__init__(self.render({}))

    def render(self, names: Mapping[str, str]) -> str:
        """The message with parameters spelled as ``names`` maps them."""
        values = {
            key: value.render(names) if isinstance(value, Setting) else value
            for key, value in self.fields.items()
        }
        if self.argument is not None:
            values["argument"] = names.get(self.argument, self.argument)
        return self.template.format(**values)

    def __reduce__(self):
        # Exceptions pickle through their args; keep the structure instead.
        kwargs = dict(
            argument=self.argument,
            file=self.file,
            column=self.column,
            row=self.row,
            **self.fields,
        )
        return (_rebuild, (self.template, kwargs))


def _rebuild(template: str, kwargs: dict) -> InputError:
    return InputError(template, **kwargs)
