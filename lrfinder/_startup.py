"""Ctrl-C while ``lrfind`` starts: the interrupt's message and exit 130, never a traceback of an import.

Importing the command line (click, the commands' modules) takes the first half second of a run; a
SIGINT there raised ``KeyboardInterrupt`` in the middle of an import, before any of ``lrfind``'s
handling: a raw traceback, exit 1 or a kill by the signal. Run as the program, ``lrfind`` holds
SIGINT from the package's import (:func:`hold_sigint`, called by ``lrfinder/__init__.py``) until the
command's own handling takes it over (:func:`lrfinder.cli.errors.interruptible`): a Ctrl-C there ends
the process at once with the message and 130. Nothing has been written by then. It imports nothing
heavy, and does nothing in a process that only imports lrfinder.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

#: What ``signal.getsignal`` returns.
_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

#: The interrupt's words and exit code, as :mod:`lrfinder.cli.errors` says them (imported later: it imports click).
_MESSAGE = b"Interrupted; nothing was written.\n"
_EXIT_INTERRUPTED = 130


def _stop_at_start(signum: int, frame: FrameType | None) -> None:
    """Say the interrupt and end the process: it is in an import, where raising would print a traceback."""
    try:
        os.write(2, _MESSAGE)
    finally:
        os._exit(_EXIT_INTERRUPTED)


#: The modules that run the command line: ``python -m lrfinder`` and its older ``python -m lrfinder.cli``.
_PROGRAM_MODULES = ("lrfinder", "lrfinder.__main__", "lrfinder.cli", "lrfinder.cli.__main__")

#: Python's one-letter options that take a value (``-W ignore``, ``-Wignore``); ``-c`` and ``-m`` end the options.
_VALUED_OPTIONS = "WX"


def _module_run(argv: list[str]) -> str | None:
    """The module ``python ... -m MODULE`` runs, read from the interpreter's own arguments as Python reads them.

    ``-m`` may stand alone or be joined to its module (``-mlrfinder``) and follow other flags in one argument
    (``-um lrfinder``); a script, ``-c`` or ``-`` runs no module, and what follows them is the script's own arguments.
    """
    args = iter(argv[1:])
    for arg in args:
        if arg == "--check-hash-based-pycs":  # Python's one long option that takes a value
            next(args, None)
            continue
        if not arg.startswith("-") or arg == "-" or arg == "--":
            return None
        if arg.startswith("--"):
            continue
        flags = arg[1:]
        for i, flag in enumerate(flags):
            rest = flags[i + 1 :]
            if flag == "m":
                return rest or next(args, None)
            if flag == "c":
                return None
            if flag in _VALUED_OPTIONS:
                if not rest:
                    next(args, None)
                break
    return None


def _run_as_the_program() -> bool:
    """Whether the process is ``lrfind`` (its console script) or ``python -m lrfinder``, not an importer of it.

    Each spelling that runs the command line counts: ``python -m lrfinder`` (``-mlrfinder``, ``-um lrfinder``) and
    ``python -m lrfinder.cli``.
    """
    # `python -m lrfinder` imports the package before runpy makes lrfinder.__main__ the __main__ module.
    if _module_run(list(getattr(sys, "orig_argv", ()))) in _PROGRAM_MODULES:
        return True
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and getattr(spec, "name", None) in _PROGRAM_MODULES:
        return True
    name = os.path.basename(str(getattr(main, "__file__", "") or ""))
    return name in ("lrfind", "lrfind-script.py", "lrfind.exe")


def hold_sigint() -> None:
    """Run as the program, end the process on a SIGINT with the interrupt's message until the command takes it over.

    Left alone: a SIGINT the process ignores (a shell's background job), one set by someone else, an importer of
    :mod:`lrfinder.cli` (a test's runner, a script) and a thread other than the main one.
    """
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler or not _run_as_the_program():
        return
    try:
        signal.signal(signal.SIGINT, _stop_at_start)
    except ValueError:  # not the main thread
        return


def released(handler: _Handler) -> _Handler:
    """``handler``, or Python's own SIGINT handler where it is the start's: what a command puts back when it ends."""
    return signal.default_int_handler if handler is _stop_at_start else handler
