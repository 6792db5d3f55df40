"""lrfinder's own warnings: said once per refine call, and by rank zero alone under data parallelism.

Every ``warnings.warn`` of the engine, the schedulers, the scaling and the training loop goes
through :func:`warn`, which adds two policies to Python's own (filters, ``stacklevel``):

* **once per call** (:func:`once_per_call`): a ``refine`` re-runs code that warns (each re-sweep is
  a range test with the same arguments, each trial builds its schedule), so the same warning came
  once per re-sweep or trial, in the trial's compressed numbers (``step_size=2 over its 40
  steps``) after the user's own (``step_size=100 over its 2000 steps``). Inside the scope each
  distinct warning is said the first time only: two warnings are the same when their category
  and their text but for its numbers are.
* **rank zero** (:func:`process_rank`): under data parallelism every rank runs the same code on the
  same arguments, so a warning about the arguments or the (all-reduced) curve was printed once
  per process; it is said by rank zero only, as the Lightning callback says its own
  (``rank_zero_warn``). A warning about what one rank holds (its batches, the state it restores)
  passes ``every_rank=True`` and is said by whichever rank sees it: one seen on rank 1 alone
  is not lost. A warning the filters turn into an error (``python -W error``,
  ``warnings.simplefilter("error")``) is raised on every rank, as rank zero raises it: raised on
  rank zero alone, it left the other ranks waiting in the next collective for rank zero, which
  had stopped (until the process group's timeout, 30 minutes by default).

Nothing here imports torch: ``lrfind --help`` and ``lrfind list`` import none.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import sys
import warnings
from collections.abc import Iterator

from ._checks import caller_stacklevel

#: The warnings already said in the current :func:`once_per_call` scope (``None`` outside one).
_SAID: contextvars.ContextVar[set[tuple[type[Warning], str]] | None] = contextvars.ContextVar(
    "lrfinder_warnings_said", default=None
)

#: A number as lrfinder's messages write them: ``40``, ``0.1``, ``1.0e-19``, ``3.00e+00``; not the digits of a
#: name (``layer1``, ``blocks.0.weight``, ``fc_2``), which tell two warnings apart.
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:e[+-]?\d+)?(?!\w|\.\w)")


def _key(message: str, category: type[Warning]) -> tuple[type[Warning], str]:
    """What makes two warnings the same one: the category and the text with each number as ``#``."""
    return category, _NUMBER.sub("#", message)


@contextlib.contextmanager
def once_per_call() -> Iterator[None]:
    """Inside: each distinct warning of :func:`warn` is said once (see the module's docstring).

    Scopes nest: an inner one (the range test a re-sweep runs) shares the outer's record, so a
    warning the first sweep gave is not given again by the re-sweep.
    """
    if _SAID.get() is not None:
        yield
        return
    token = _SAID.set(set())
    try:
        yield
    finally:
        _SAID.reset(token)


def process_rank() -> int:
    """The rank of this process under data parallelism, ``0`` without it.

    The initialized default process group's rank; before one is initialized (a Trainer's
    processes building their callbacks), the launcher's ``RANK`` or ``LOCAL_RANK`` when its
    ``WORLD_SIZE`` is more than one (torchrun's and Lightning's launchers set them), as
    Lightning's ``rank_zero_only`` reads them.
    """
    dist = sys.modules.get("torch.distributed")  # no process group without torch imported
    if dist is not None and dist.is_available() and dist.is_initialized():
        return int(dist.get_rank())
    try:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            return int(os.environ.get("RANK") or os.environ.get("LOCAL_RANK") or 0)
    except ValueError:  # a malformed variable is no launcher's
        pass
    return 0


def warn(
    message: str,
    category: type[Warning] = UserWarning,
    *,
    stacklevel: int | None = None,
    every_rank: bool = False,
) -> None:
    """``warnings.warn(message, category)``, said once per :func:`once_per_call` scope and by rank zero only.

    Args:
        message: The warning's text.
        category: Its class.
        stacklevel: As ``warnings.warn``'s, counted from the function that calls this one
            (``2``: its caller's line); ``None`` points at the first frame outside lrfinder
            (:func:`~lrfinder._checks.caller_stacklevel`).
        every_rank: Said by any rank that sees it, not by rank zero alone: for a warning about
            what this process holds (its own batches, the state it restores), which another rank
            may not share.

    """
    said = _SAID.get()
    if said is not None:
        key = _key(message, category)
        if key in said:
            return
        said.add(key)
    # caller_stacklevel() counts this frame as level 1 and walks past lrfinder's frames above it; a given
    # stacklevel is the caller's count, one frame further out from here.
    level = caller_stacklevel() if stacklevel is None else stacklevel + 1
    if not every_rank and process_rank() != 0 and not _raised(message, category, level):
        return
    warnings.warn(message, category, stacklevel=level)


def _raised(message: str, category: type[Warning], stacklevel: int) -> bool:
    """Whether ``warnings.warn(message, category, stacklevel)`` in :func:`warn` raises: the filters say ``"error"``.

    Python's own rule, read without saying anything: the first of ``warnings.filters`` whose message,
    category, module and line match, else ``warnings.defaultaction``; the module and line are those
    of the frame ``stacklevel`` counts to from :func:`warn` (level 1).
    """
    try:
        frame = sys._getframe(stacklevel)  # level 0 here is this function, level 1 warn's frame
    except ValueError:  # past the outermost frame: warnings.warn names module "sys", line 1
        module, lineno = "sys", 1
    else:
        module, lineno = str(frame.f_globals.get("__name__", "<string>")), frame.f_lineno
    for action, text, kind, where, line in warnings.filters:
        if (
            (text is None or text.match(message))
            and issubclass(category, kind)
            and (where is None or where.match(module))
            and line in (0, lineno)
        ):
            return bool(action == "error")
    return bool(warnings.defaultaction == "error")  # type: ignore[attr-defined]
