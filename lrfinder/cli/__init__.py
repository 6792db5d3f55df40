"""``lrfind``: the command line, a thin click layer over the library.

One module per command: :mod:`~lrfinder.cli.run` (the range test on a saved model),
:mod:`~lrfinder.cli.fit` (the test, then training with the found LR), :mod:`~lrfinder.cli.report`
(re-render saved results), :mod:`~lrfinder.cli.demo` (the built-in example) and
:mod:`~lrfinder.cli.list_` (the names ``lrfind`` accepts). Shared pieces: :mod:`.options` (the
click options, declared once, and the :class:`~lrfinder.cli.options.Options` object they
build), :mod:`.config` (``--config FILE``), :mod:`.pipeline` (test, scale, train, write),
:mod:`.output` (summary, JSON, CSV, report), :mod:`.errors` (exit codes) and :mod:`.loading`
(models, data and losses from files).

Conventions: results go to stdout, progress bars and warnings to stderr (bars only on a
terminal and without ``--quiet``); exit code 0 on success, 2 for usage errors, whose fix is on
the command line (click, a model file that needs ``--unsafe-pickle`` or ``--model-class``, a
``module:Name`` that does not import or a data function that needs arguments, a ``--data`` file
of a format lrfind does not read, ``--model-args`` the class cannot take, ``--gradient-clip-val``
over sparse gradients, and a ``report`` input that is not a result), 1 for a failed run (an
error in the model, the data or the curve, or an inconclusive one with ``--strict``), 130 when
interrupted; one-line errors unless ``--debug``; outputs are
written atomically and never over an input file (the ``--config`` file included). Every option of
``run``/``fit``/``demo`` can also come from a TOML file (``--config FILE``) with the same names;
the command line wins.

Start-up is fast: importing this package imports click and :mod:`lrfinder.names` only; torch,
scipy, matplotlib and Lightning are imported inside the commands that use them, so
``lrfind --help``, ``--version`` and ``list`` answer at once.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import __version__
from . import demo, fit, list_, report, run
from .errors import as_the_program, interruptible, silence_stdout
from .formatting import HelpContext
from .options import CONTEXT
from .output import PipeSafe, StdoutError, guard_pipes

__all__ = ["main"]


def _succeeded(outcome: BaseException | None) -> bool:
    """Whether the command ended well: it returned, or exited with status 0 (click's ``standalone_mode``)."""
    return outcome is None or isinstance(outcome, SystemExit) and outcome.code in (0, None)


class _Lrfind(click.Group):
    """The ``lrfind`` group: quiet when the reader of stdout or stderr goes away (``lrfind run ... | head -3``).

    Both streams are wrapped in :class:`~lrfinder.cli.output.PipeSafe` first: once the reader
    has gone, further output is dropped and the command finishes its work, so the files it was
    asked to write are written and the exit code is the command's own (0 on success). A broken
    pipe that still escapes (a write below Python's streams) ends the command quietly with 1.
    """

    context_class = HelpContext  # help wrapped only at spaces, as the commands' is

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command line with guarded output streams."""
        refused = guard_pipes()
        if refused is not None:
            # `lrfind run ... >&-` dropped the summary and exited 0: told before any work, as a write error (exit 1).
            StdoutError(refused).show()
            sys.exit(StdoutError.exit_code)
        # Run as the program (its arguments from sys.argv, the process exits after it), not from a test's runner.
        as_the_program((args[0] if args else kwargs.get("args")) is None)
        try:
            try:
                return super().main(*args, **kwargs)
            finally:
                # Flush here, where a broken pipe can still be handled, not at interpreter exit.
                outcome = sys.exc_info()[1]
                if sys.stdout is not None and not sys.stdout.closed:
                    try:
                        sys.stdout.flush()
                        if isinstance(sys.stdout, PipeSafe):
                            sys.stdout.raise_failed()
                    except StdoutError as exc:  # results went nowhere (> /dev/full), the command's files written
                        if _succeeded(outcome):  # a failure of its own (an error, an interrupt) is the command's say
                            exc.show()
                            sys.exit(exc.exit_code)
        except BrokenPipeError:
            silence_stdout()
            sys.exit(1)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, its option parsing included, under :func:`~lrfinder.cli.errors.interruptible`.

        Ctrl-C while a command's options were parsed and checked (a ``--config`` file read, torch
        imported) was click's ``Aborted!`` with exit 1, SIGTERM a silent end: both now print the
        interrupt message and exit 130 and 143 (SIGHUP 129), as during the run itself.
        """
        with interruptible():
            return super().invoke(ctx)


@click.group(
    cls=_Lrfind,
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  lrfind demo
  lrfind run model.pt --data train.npz
  lrfind run model.pt --data train.csv --target label --optimizer adamw --weight-decay 0,1e-4,1e-3
  lrfind fit model.pt --data train.npz --val-data val.npz --epochs 5 --scheduler onecycle -o trained.pt
  lrfind report result.json --report again.png
  lrfind list""",
)
@click.version_option(__version__, prog_name="lrfind")
@click.option("--debug", is_flag=True, help="Show full tracebacks (also accepted by every command).")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Find a good learning rate for a PyTorch model (Smith's LR range test), then train with it.

    Results go to stdout, progress bars and warnings to stderr. Exit codes: 0 success, 1 a failed
    run (or an inconclusive one with --strict), 2 a usage error (an option, or a file or function
    given to one, to fix on the command line), 130 interrupted (Ctrl-C), 143
    terminated (SIGTERM), 129 hung up (SIGHUP).
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


for _module in (run, fit, report, demo, list_):
    main.add_command(_module.command)
