"""How ``lrfind`` fails: exit codes, one-line messages, Ctrl-C.

Exit codes: 0 success; 1 a failed run (or an inconclusive one with ``--strict``); 2 a usage
error (click); 130 interrupted (Ctrl-C). Library errors become one ``Error: ...`` line on stderr
unless ``--debug`` asks for the traceback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import click

from ..exceptions import LRFinderError
from .options import one_line

__all__ = ["EXIT_INTERRUPTED", "clean_errors", "debug_flag"]

#: The shell's code for a command stopped by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130


@contextlib.contextmanager
def clean_errors(debug: bool) -> Iterator[None]:
    """Turn library errors into one-line click errors (exit 1); ``--debug`` keeps tracebacks."""
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except KeyboardInterrupt:
        click.echo("Interrupted; nothing more was written.", err=True)
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    except (LRFinderError, ValueError, TypeError, OSError, RuntimeError) as exc:
        if debug:
            raise
        raise click.ClickException(one_line(exc)) from None
    except Exception as exc:
        if debug:
            raise
        raise click.ClickException(
            f"{type(exc).__name__}: {one_line(exc)} (run with --debug for the traceback)"
        ) from None


def debug_flag(ctx: click.Context, debug: bool) -> bool:
    """Whether ``--debug`` was given to the command or to ``lrfind`` itself."""
    root = ctx.find_root()
    return bool(debug or (root.obj or {}).get("debug"))
