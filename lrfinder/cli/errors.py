"""How ``lrfind`` fails: exit codes, one-line messages, interrupts.

Exit codes: 0 success; 1 a failed run (or an inconclusive one with ``--strict``, or training
that diverged); 2 a usage error (click); 130 interrupted by SIGINT (Ctrl-C); 143 terminated by
SIGTERM; 129 hung up by SIGHUP (the terminal closed, an ssh session dropped). Library errors
become one ``Error: ...`` line on stderr unless ``--debug`` asks for the traceback.

Interrupts stop the whole command. While a command runs, from its option parsing (a
``--config`` file, the checks of the outputs, torch's import) to its last line
(:func:`interruptible`, around every command of ``lrfind``), SIGINT, SIGTERM and SIGHUP all raise
``KeyboardInterrupt`` (the signal is remembered for the exit code), so every layer unwinds the
same way: the engine restores the model, Lightning shuts down, staged outputs are discarded.
A range test that the engine ended with ``stop_reason="interrupted"`` counts as interrupted
too (:func:`raise_if_interrupted`). Outputs are only committed at the very end, all together
(:class:`lrfinder._atomic.StagedWrites`); once the commit has begun, a signal no longer stops
the command, so "nothing was written" is always true when it is printed.
"""

from __future__ import annotations

import contextlib
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING

import click

from .._startup import released
from ..exceptions import LRFinderError
from .options import one_line
from .output import as_options, as_schedule_options, cli_warnings

if TYPE_CHECKING:
    from ..range_test import RangeTestResult

__all__ = [
    "as_the_program",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "EXIT_HUNG_UP",
    "INTERRUPTED_MESSAGE",
    "clean_errors",
    "debug_flag",
    "finishing",
    "interruptible",
    "raise_if_interrupted",
    "raise_if_signalled",
    "silence_stdout",
]

#: A failed run.
EXIT_FAILED = 1
#: A usage error (click's code).
EXIT_USAGE = 2
#: The shell's code for a command stopped by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130
#: The shell's code for a command stopped by SIGTERM (128 + 15).
EXIT_TERMINATED = 143
#: The shell's code for a command stopped by SIGHUP (128 + 1): its terminal closed, its ssh session dropped.
EXIT_HUNG_UP = 129
#: The signals that stop a command as an interrupt, and the exit code each gives. SIGHUP (POSIX only) ended the
#: process at once, exit 129 without a word, leaving the temporary files of a write under way.
_STOPPING: dict[int, int] = {
    signal.SIGINT: EXIT_INTERRUPTED,
    signal.SIGTERM: EXIT_TERMINATED,
    **({signal.SIGHUP: EXIT_HUNG_UP} if hasattr(signal, "SIGHUP") else {}),
}
#: What an interrupted command prints on stderr.
INTERRUPTED_MESSAGE = "Interrupted; nothing was written."
#: How :func:`_what_failed` starts the one line of a TorchScript interpreter's dump.
_SCRIPT_FAILED = "The TorchScript model failed:"


class _State:
    """The signal that stopped the command, whether the outputs are being committed, whether the stop was said."""

    received: int | None = None
    committing: bool = False
    stopped: bool = False
    #: Run as the program (:func:`as_the_program`): the process exits when the command ends.
    program: bool = False


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _State.received = signum
    # Once the interrupt is said, the command only unwinds: a second Ctrl-C raised again in the middle of it.
    if not (_State.committing or _State.stopped):
        raise KeyboardInterrupt


@contextlib.contextmanager
def _signal_handlers() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP (:data:`_STOPPING`) raise ``KeyboardInterrupt`` for the length of the command.

    Nested (:func:`clean_errors` inside :func:`interruptible`), the inner one changes nothing: the
    signal already received and the commit's start belong to the whole command. A signal the
    process ignores (``nohup``'s SIGHUP, a shell's ``trap '' TERM``) is left ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # A signal ignored when the command started stays ignored: `nohup lrfind fit ...` must outlive its terminal.
    handled = [sig for sig in _STOPPING if signal.getsignal(sig) != signal.SIG_IGN]
    if all(signal.getsignal(sig) is _on_signal for sig in handled):
        yield
        return
    _State.received = None
    _State.committing = False
    _State.stopped = False
    # The start's hold on SIGINT (lrfinder.cli._startup) ends here: after the command Python's own handler is back.
    previous = {sig: released(signal.getsignal(sig)) for sig in handled}
    for sig in previous:
        signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        if _State.program and _State.received is not None:
            _leave_signals_to_the_system()  # not Python's handler again, even for a moment: the process is ending
        else:
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def finishing() -> None:
    """Mark the start of the outputs' commit: from now on a signal no longer stops the command.

    Passed as ``before`` to :meth:`lrfinder._atomic.StagedWrites.commit`, which holds the
    signals back until every file is renamed. A signal received before it, and swallowed on the
    way (:func:`raise_if_signalled`), stops the command here, before anything is written.

    Raises:
        KeyboardInterrupt: A stopping signal was received and swallowed before the commit.

    """
    raise_if_signalled()
    _State.committing = True


def _signalled() -> bool:
    """Whether a stopping signal was received while it still stops the command (before the commit)."""
    return _State.received is not None and not (_State.committing or _State.stopped)


def raise_if_signalled() -> None:
    """Raise the interrupt of a stopping signal received earlier, if code it landed in swallowed it.

    The handler raises ``KeyboardInterrupt`` wherever the main thread is; code that catches it goes on as
    if nothing happened: torch's C code, importing numpy while ``import torch`` runs, catches it, warns
    ("Failed to initialize NumPy") and goes on without numpy. Called at each step of the range test and
    before the commit (:func:`finishing`), so such a Ctrl-C still stops the command, at the next step.

    Raises:
        KeyboardInterrupt: A stopping signal was received and the command has not been stopped yet.

    """
    if _signalled():
        raise KeyboardInterrupt


def raise_if_interrupted(results: Sequence[RangeTestResult]) -> None:
    """Treat a range test the engine ended with ``stop_reason="interrupted"`` as an interrupt.

    Raises:
        KeyboardInterrupt: One of ``results`` was interrupted.

    """
    if any(r.stop_reason == "interrupted" for r in results):
        raise KeyboardInterrupt


def _exit_code() -> int:
    return _STOPPING.get(_State.received or signal.SIGINT, EXIT_INTERRUPTED)


def _say_interrupted() -> None:
    """Print :data:`INTERRUPTED_MESSAGE` on stderr; a terminal gone with a SIGHUP (EIO) is not an error of its own."""
    _State.stopped = True
    with contextlib.suppress(OSError):
        click.echo(INTERRUPTED_MESSAGE, err=True)


def as_the_program(program: bool) -> None:
    """Say whether the command runs as the program (the process exits after it) or in-process (a test's runner).

    As the program, a command a signal stopped leaves the signals to the system
    (:func:`_leave_signals_to_the_system`); in-process, the handlers it found are put back.
    """
    _State.program = program


def _leave_signals_to_the_system() -> None:
    """After a command a signal stopped, let a second signal end the process at once, as the system does.

    The interpreter's shutdown that follows (joining threads, torch's ``atexit`` callbacks) ran
    with Python's own SIGINT handler again: a second Ctrl-C there printed "Exception ignored in
    atexit callback ... KeyboardInterrupt" with a traceback of torch's code (the exit code stayed
    130), or, a moment earlier, click's "Aborted!" with exit 1. Each stopping signal not ignored
    gets its default action back: a second one ends the process as that signal does, without a
    word (a shell reads 130, 143 or 129 as before). Nothing is left to clean up by then: staged
    outputs are discarded before the interrupt is said.
    """
    for sig in _STOPPING:
        if signal.getsignal(sig) != signal.SIG_IGN:
            signal.signal(sig, signal.SIG_DFL)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Run a whole ``lrfind`` command, option parsing included: an interrupt exits 130, 143 or 129 (:data:`_STOPPING`).

    :func:`clean_errors` covers a command's body only; before it, while click parses the options
    (reading a ``--config`` file), checks the outputs and imports torch (most of a short run's
    time), Ctrl-C was click's ``Aborted!`` with exit 1, and SIGTERM ended the process without a
    word. Nothing is written before the body's end, so the message is the same.

    Raises:
        click.exceptions.Exit: Interrupted, with :data:`EXIT_INTERRUPTED`, :data:`EXIT_TERMINATED` or
            :data:`EXIT_HUNG_UP`.

    """
    with _signal_handlers():
        try:
            yield
        except KeyboardInterrupt:
            _say_interrupted()
            raise click.exceptions.Exit(_exit_code()) from None
        except click.exceptions.Exit:
            raise
        except Exception:
            # An error after a swallowed signal (raise_if_signalled) is the interrupt's: a numpy left half-imported
            # by it failed later ("module 'numpy' has no attribute ..."), said as a failed run (exit 1).
            if not _signalled():
                raise
            _say_interrupted()
            raise click.exceptions.Exit(_exit_code()) from None


@contextlib.contextmanager
def clean_errors(debug: bool) -> Iterator[None]:
    """Run a command body: one-line errors (exit 1), interrupts (exit 130/143/129); ``--debug`` keeps tracebacks.

    Messages are in the command line's words: a domain error's (an :class:`LRFinderError`, from
    the engine and the curve, whose advice names ``range_test``'s parameters) goes through
    :func:`~.output.as_options`, another's through :func:`~.output.as_schedule_options` only (an
    argument's ``max_lr`` may be a schedule's, set with ``--scheduler-opt``), and warnings show
    as ``warning: ...`` lines (:func:`~.output.cli_warnings`).
    """
    with _signal_handlers(), cli_warnings():
        try:
            yield
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            _say_interrupted()
            raise click.exceptions.Exit(_exit_code()) from None
        except BrokenPipeError:
            # ``lrfind run ... | head``: the reader left; nothing more to say to it (exit 1, as click does).
            silence_stdout()
            raise click.exceptions.Exit(EXIT_FAILED) from None
        except (LRFinderError, ValueError, TypeError, OSError, RuntimeError) as exc:
            if debug:
                raise
            # Only an interpreter dump is rewritten: lrfinder's own messages may name TorchScript too
            # ("Expected a TorchScript, ..."), and they read without an exception type in front.
            text = _what_failed(exc)
            if not text.startswith(_SCRIPT_FAILED):
                words = as_options if isinstance(exc, LRFinderError) else as_schedule_options
                text = words(one_line(exc))
            raise click.ClickException(text) from None
        except Exception as exc:
            if debug:
                raise
            raise click.ClickException(f"{_what_failed(exc)} (run with --debug for the traceback)") from None


def _what_failed(exc: BaseException) -> str:
    """``Type: message`` on one line; a TorchScript interpreter's dump (``torch.jit.Error``) by its last line.

    The interpreter's message is both tracebacks of the scripted code, then the Python error
    (``builtins.ValueError: Expected more than 1 value per channel ...``): only that last line says
    what went wrong.
    """
    text = str(exc).strip()
    if text.startswith("The following operation failed in the TorchScript interpreter"):
        last = [line.strip() for line in text.splitlines() if line.strip()][-1]
        match = re.match(r"^(?:builtins\.)?([A-Za-z_.]*(?:Error|Exception)): (.*)$", last)
        if match:
            return f"{_SCRIPT_FAILED} {match.group(1)}: {match.group(2)}"
        return f"{_SCRIPT_FAILED} {last}"
    return f"{type(exc).__name__}: {one_line(exc)}"


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os

    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def debug_flag(ctx: click.Context, debug: bool) -> bool:
    """Whether ``--debug`` was given to the command or to ``lrfind`` itself."""
    root = ctx.find_root()
    return bool(debug or (root.obj or {}).get("debug"))
