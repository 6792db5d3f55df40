"""``lrfind``'s help text, wrapped only at spaces: the formatter every command's context writes help with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

__all__ = ["Command", "HelpContext", "HelpFormatter"]

#: Stands for a hyphen while click wraps help: U+2011, a hyphen no line breaks at (put back in the output).
_UNBROKEN_HYPHEN = "\u2011"


class HelpFormatter(click.HelpFormatter):
    """click's help formatter, wrapping only at spaces: never inside ``--val-data`` or ``lrfind-report.png``.

    click wraps help as :mod:`textwrap` does, at hyphens too: ``--report``'s default was printed as
    ``lrfind-`` and ``report.png`` on two lines, an option's name as ``--val-`` and ``data``. The
    hyphens of the text it wraps are held as non-breaking ones, and given back as hyphens.
    """

    def write_text(self, text: str) -> None:
        """Write a paragraph (the command's description, its epilog), wrapped at spaces."""
        super().write_text(text.replace("-", _UNBROKEN_HYPHEN))

    def write_dl(self, rows: Sequence[tuple[str, str]], *args: Any, **kwargs: Any) -> None:
        """Write the option rows, their help wrapped at spaces."""
        super().write_dl([(term, text.replace("-", _UNBROKEN_HYPHEN)) for term, text in rows], *args, **kwargs)

    def getvalue(self) -> str:
        """The help written, its hyphens given back."""
        return super().getvalue().replace(_UNBROKEN_HYPHEN, "-")


class HelpContext(click.Context):
    """A context whose help is written by :class:`HelpFormatter`."""

    formatter_class = HelpFormatter


class Command(click.Command):
    """A command whose help wraps only at spaces (:class:`HelpFormatter`)."""

    context_class = HelpContext
