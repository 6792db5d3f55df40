"""What ``lrfind`` prints and writes: the summary, the sweep table, progress, JSON, CSV, the report.

Results go to stdout; progress bars, notices and warnings to stderr (bars only on a terminal and
without ``--quiet``). Files are written atomically (:mod:`lrfinder._atomic`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import re
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from .._wording import inconclusive_gist, optimizers_words, plural, unmeasured_noise
from ..names import LIGHTNING_LOGGERS

if TYPE_CHECKING:
    from .._atomic import StagedWrites
    from ..range_test import RangeTestResult
    from ..scaling import ScaledLR
    from ..sweeps import WeightDecayChoice

__all__ = [
    "Progress",
    "PipeSafe",
    "STDOUT_CLOSED",
    "STDOUT_READ_ONLY",
    "StdoutError",
    "stdout_error",
    "as_options",
    "encodable",
    "as_schedule_options",
    "cli_warnings",
    "in_cli_words",
    "guard_pipes",
    "setup_logging",
    "quiet_warnings",
    "summary_rows",
    "inconclusive_error",
    "scaled_text",
    "echo_summary",
    "echo_sweep",
    "sweep_json",
    "json_text",
    "schedule_json",
    "curve_csv",
    "sweep_csv",
    "check_writable",
    "stage_file",
    "WriteError",
    "write_error",
    "stage_outputs",
]


#: ASCII stand-ins for the few non-ASCII characters lrfind prints ("critical batch  ≈ 39 (90% 32–47)").
_ASCII_STAND_INS = str.maketrans({"≈": "~", "×": "x", "÷": "/", "–": "-", "—": "-", "…": "...", "∞": "inf"})


def encodable(text: str, encoding: str | None) -> str:
    """``text`` as a stream in ``encoding`` can take it: lrfind's own symbols in ASCII, anything else as ``?``.

    A latin-1 locale (``LANG=de_DE.ISO-8859-1``) or a Windows console or redirect in cp1252 has no ``≈``
    (nor latin-1 the ``–`` of ``32–47``): printing the summary failed with "Error: 'latin-1' codec can't
    encode character ..." and exit 1, after the range test, and none of the outputs was written.
    """
    if not encoding:
        return text
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        text = text.translate(_ASCII_STAND_INS)
        return text.encode(encoding, errors="replace").decode(encoding)
    except LookupError:  # an encoding Python does not know: nothing to adapt to
        pass
    return text


class StdoutError(click.ClickException):
    """Standard output cannot take the results (closed, a full disk, ...): a failed command (exit 1), said so.

    ``lrfind run ... > /dev/full`` said Python's "[Errno 28] No space left on device", naming no output (``list``
    and ``--version`` printed a traceback), and ``>&-`` dropped the summary with exit 0.
    """


#: What ``lrfind`` says when it starts with standard output closed (``>&-``), before it runs anything.
STDOUT_CLOSED = (
    "standard output is closed (>&-), and lrfind writes its results there; nothing was run. Redirect it to a file "
    "(> FILE), or to /dev/null (> /dev/null) to drop the results."
)

#: What ``lrfind`` says when it starts with standard output open for reading only (``1< FILE``), before it runs
#: anything. It said :data:`STDOUT_CLOSED`'s "closed (>&-)" of a stdout that was open.
STDOUT_READ_ONLY = (
    "standard output is not writable (opened for reading only, as 1< FILE does), and lrfind writes its results "
    "there; nothing was run. Redirect it for writing (> FILE), or to /dev/null (> /dev/null) to drop the results."
)


def stdout_error(exc: OSError) -> StdoutError:
    """``exc``, raised writing to standard output, as a one-line error naming standard output and what to do."""
    reason = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
    fix = "free some space there or redirect" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "redirect"
    return StdoutError(
        f"cannot write to standard output: {reason}; the results were not printed in full. {fix.capitalize()} "
        "standard output to another file (> FILE), or to /dev/null (> /dev/null) to drop the results."
    )


class PipeSafe:
    """A text stream that goes quiet when its reader is gone (``lrfind run ... | head -3``).

    The first write or flush that meets a closed pipe (``BrokenPipeError``) points the file
    descriptor at ``os.devnull`` and drops this and every later write, so the command finishes
    its work (its files are still written, nothing is lost) and exits as it would have (0 on
    success), with no "Broken pipe" error and no noise when Python flushes the stream at exit.
    Text the stream's encoding cannot hold (``≈`` in a latin-1 or cp1252 locale) is written with
    :func:`encodable`'s stand-ins rather than failing. Everything else is the wrapped stream's.

    Args:
        stream: The stream to wrap.
        results: Whether it is standard output, where the results go: another write error than a broken pipe
            (``> /dev/full``) then points the descriptor at ``os.devnull`` as a broken pipe does, and is kept as
            :class:`StdoutError` for :meth:`raise_failed` to raise once the command is done, so the files it writes
            (the range test's JSON, report, trained model) are still written. Errors writing to stderr stay
            Python's.

    """

    def __init__(self, stream: Any, *, results: bool = False) -> None:
        self._stream = stream
        self._results = results
        self.broken = False
        self._error: StdoutError | None = None

    def _failed(self, exc: OSError, text: str | None = None) -> None:
        # click writes "" to learn whether the stream takes text: it catches what that raises, and the stream has
        # lost nothing yet, so it is not silenced then (the first real write says what failed).
        if not self._results or text == "":
            raise exc
        self._silence()
        # Raised here, it ended the command at its summary, before the files it was asked to write (a --json result
        # of minutes of work was lost to a full stdout): raised by raise_failed once the command is done.
        self._error = stdout_error(exc)

    def raise_failed(self) -> None:
        """Raise the :class:`StdoutError` a write to standard output met (``> /dev/full``), once; else nothing."""
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _silence(self) -> None:
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self._stream.fileno())
            finally:
                os.close(devnull)
        except (OSError, ValueError, AttributeError):  # no real descriptor (a test runner's buffer)
            pass

    def write(self, text: str) -> int:
        """Write ``text``; after a broken pipe, drop it."""
        if not self.broken:
            try:
                try:
                    return int(self._stream.write(text))
                except UnicodeEncodeError:
                    # A text stream encodes the whole string before writing any of it: nothing went out.
                    self._stream.write(encodable(text, getattr(self._stream, "encoding", None)))
                    return len(text)
            except BrokenPipeError:
                self._silence()
            except OSError as exc:
                self._failed(exc, text)
        return len(text)

    def flush(self) -> None:
        """Flush; after a broken pipe, do nothing."""
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._silence()
            except OSError as exc:
                self._failed(exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _open_closed_std(fd: int, name: str) -> Literal["closed", "read-only"] | None:
    """Point a closed (or read-only) standard descriptor at :data:`os.devnull` and give ``sys`` a stream on it.

    ``lrfind run ... 2>&-`` starts Python without fd 2: ``sys.stderr`` is ``None``, and every run
    failed with "AttributeError: 'NoneType' object has no attribute 'isatty'" (exit 1, nothing
    written), where the output was only meant to be dropped. A closed descriptor is also the next
    one a file opens, so writes meant for stderr (a C library's included) would have gone into it.

    Returns:
        ``"closed"`` or ``"read-only"`` (``1< FILE``) for a descriptor that was so, ``None`` for a writable one.

    """
    unusable: Literal["closed", "read-only"] | None = None
    try:
        os.fstat(fd)
    except OSError:
        unusable = "closed"
    if unusable is None and hasattr(os, "O_ACCMODE"):
        import fcntl

        try:
            if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
                unusable = "read-only"
        except OSError:
            unusable = "closed"
    if unusable is not None:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
        except OSError:  # pragma: no cover - no /dev/null to point it at
            return unusable
    if getattr(sys, name) is None:
        setattr(sys, name, open(fd, "w", encoding="utf-8", buffering=1, closefd=False))  # noqa: SIM115 - sys's own
    return unusable


def guard_pipes() -> str | None:
    """Wrap ``sys.stdout`` and ``sys.stderr`` in :class:`PipeSafe` (idempotent).

    A closed stdout or stderr (``>&-``, ``2>&-``) is pointed at :data:`os.devnull` first
    (:func:`_open_closed_std`). What would have gone to stderr is dropped, the command runs as it
    would have; a closed stdout would lose the results, which the caller refuses
    (:data:`STDOUT_CLOSED`).

    Returns:
        Why stdout cannot take the results (:data:`STDOUT_CLOSED`, :data:`STDOUT_READ_ONLY`), else ``None``.

    """
    closed = {name: _open_closed_std(fd, name) for fd, name in ((1, "stdout"), (2, "stderr"))}
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, PipeSafe):
            setattr(sys, name, PipeSafe(stream, results=name == "stdout"))
    return {"closed": STDOUT_CLOSED, "read-only": STDOUT_READ_ONLY, None: None}[closed["stdout"]]


def setup_logging(quiet: bool, debug: bool) -> None:
    """Log levels for a command: lrfinder's debug log with ``--debug``, else errors only."""
    level = logging.DEBUG if debug else logging.ERROR
    logging.getLogger("lrfinder").setLevel(level)
    # Lightning announces devices and summaries on its loggers: not results, so kept off stdout.
    for name in LIGHTNING_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if debug else logging.WARNING)
    if not debug:
        quiet_warnings()


def quiet_warnings() -> None:
    """Hide Lightning's advice that does not apply to a CLI run (workers, unused GPUs, deprecations)."""
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*self.log.*trainer.*")
    warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*no `val_dataloader`.*")
    warnings.filterwarnings("ignore", message=".*treespec.*")


def _no_length() -> Iterator[Any]:
    """An empty iterator without a length hint: a click progress bar over it counts without a total."""
    yield from ()


#: What click writes around a bar to hide the cursor and show it again (``\033[?25l``, ``\033[?25h``).
_CURSOR_CODES = re.compile(r"\x1b\[\?25[lh]")


class _NoCursorCodes:
    """A terminal stream that drops click's cursor codes: for a terminal whose ``TERM`` is ``dumb``.

    A dumb terminal (Emacs's ``M-x shell``, an IDE's run console) has no cursor to hide: every
    step of the bar showed ``[?25l`` in the text. The carriage return a bar is redrawn with is
    kept (a dumb terminal has one); the rest goes to the stream as it is.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` without the cursor codes."""
        self._stream.write(_CURSOR_CODES.sub("", text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _bar_stream() -> Any:
    """``sys.stderr`` for a progress bar: without cursor codes on a dumb terminal (:class:`_NoCursorCodes`)."""
    return _NoCursorCodes(sys.stderr) if os.environ.get("TERM") == "dumb" else sys.stderr


class Progress:
    """Progress on stderr: a bar on a terminal, or one line per step, or nothing.

    Args:
        length: Steps in all; ``None`` when not known beforehand (a ``--refine`` re-sweep, whose
            length the engine chooses): the lines then count without a total, the bar shows
            the count alone.
        label: What is counted (``"range test"``, ``"epoch 2/5"``).
        quiet: ``--quiet``: no progress at all.
        mode: ``"auto"`` (a bar on a terminal, nothing otherwise), ``"bar"``, ``"lines"`` (one
            flushed line per step, for logs and for programs that follow the run) or ``"none"``.

    """

    def __init__(self, length: int | None, label: str, quiet: bool = False, mode: str = "auto") -> None:
        self._bar: Any = None
        self._lines = False
        self._length = length
        self._label = label
        self._pos = 0
        # Counters padded to the total's width, so the lines of a log stay aligned.
        self._digits = len(str(length)) if length is not None else 0
        self._of = f"/{length}" if length is not None else ""
        if quiet or mode == "none":
            return
        if mode == "lines":
            self._lines = True
        elif mode == "bar" or sys.stderr.isatty():
            # Without a length, click counts the steps of a bar with no end (an iterable it cannot measure).
            out = _bar_stream()
            self._bar = (
                click.progressbar(length=length, label=label, file=out, show_pos=True)
                if length is not None
                else click.progressbar(iter(_no_length()), label=label, file=out, show_pos=True)
            )
            self._bar.__enter__()

    def update(self, n: int = 1) -> None:
        """Advance by ``n``."""
        self._pos += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._lines:
            click.echo(f"{self._label}: batch {self._pos:>{self._digits}}{self._of}", err=True)
            sys.stderr.flush()

    def tick(self, index: int, lr: float, loss: float) -> None:
        """Advance by one optimizer step (the ``on_step`` hook of ``range_test``)."""
        self._pos = index + 1
        if self._bar is not None:
            self._bar.update(1)
        elif self._lines:
            click.echo(
                f"{self._label}: step {self._pos:>{self._digits}}{self._of}  lr {lr:.2e}  loss {loss:.4g}",
                err=True,
            )
            sys.stderr.flush()

    def trial(self, index: int, lr: float, steps_done: int, loss: float) -> None:
        """Report a trial run of ``--refine`` (the ``on_trial`` hook of ``range_test``).

        A line as the trial starts (``steps_done == 0``) and one once it is judged, with its steps
        and held-out loss; the bar counts the judged trials and grows for the ladder's extension
        trials (``length`` is the candidates planned).
        """
        number = index + 1
        if steps_done == 0:
            if self._lines:
                click.echo(f"{self._label}: trial {number}  lr {lr:.2e}  running", err=True)
                sys.stderr.flush()
            return
        self._pos = number
        if self._bar is not None:
            if number > self._bar.length:
                self._bar.length = number  # an extension trial beyond the candidates
            self._bar.update(1)
        elif self._lines:
            held = f"held-out loss {loss:.4g}" if math.isfinite(loss) else "stopped: non-finite loss"
            click.echo(f"{self._label}: trial {number}  lr {lr:.2e}  {steps_done} steps  {held}", err=True)
            sys.stderr.flush()

    @property
    def position(self) -> int:
        """Steps (or batches, or judged trials) counted so far."""
        return self._pos

    def close(self) -> None:
        """Finish the bar (idempotent)."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def curve_csv(result: RangeTestResult) -> str:
    """The curve as CSV: ``lr,loss,smoothed,slope``, one row per step (empty cells for NaN)."""
    import numpy as np

    from ..analysis import loss_slope
    from ..report import _smoothed

    lrs = np.asarray(result.lrs, dtype=float)
    smoothed = _smoothed(result)
    slope = loss_slope(lrs, smoothed)
    lines = ["lr,loss,smoothed,slope"]
    for row in zip(lrs, result.losses, smoothed, slope):
        lines.append(",".join("" if not math.isfinite(v) else repr(float(v)) for v in row))
    return "\n".join(lines) + "\n"


def sweep_csv(results: Sequence[RangeTestResult], weight_decays: Sequence[float]) -> str:
    """A weight-decay sweep's curves as one CSV table: ``weight_decay,lr,loss,smoothed,slope``.

    One header and one row per step of every curve, the curve's weight decay in the first
    column, so any CSV reader (or ``pandas.read_csv``) takes it as it is.
    """
    lines: list[str] = []
    for result, value in zip(results, weight_decays):
        header, *rows = curve_csv(result).splitlines()
        lines = lines or [f"weight_decay,{header}"]
        lines.extend(f"{float(value)!r},{row}" for row in rows)
    return "\n".join(lines) + "\n"


#: The library's parameter names that messages advise changing, and the ``lrfind`` options that set them.
_SCALING_WORDS = re.compile(r"rule='(linear|sqrt|auto|noise|none)'(?: or '(linear|sqrt|auto|noise|none)')?")
_OPTION_WORDS = re.compile(r"(?<![\w.-])(min_lr|max_lr|num_steps|stop_factor|val_data|gradient_clip_val)(?![\w=(])")
#: The schedule's length: ``lrfind`` sets ``total_steps`` itself (``--epochs`` x batches per epoch).
_SCHEDULE_WORDS = (
    (re.compile(r"(?<![\w.-])total_steps - warmup_steps(?![\w=(])"), "the training's steps after --warmup-steps"),
    (re.compile(r"(?<![\w.-])total_steps(?![\w=(])"), "the training's steps (--epochs)"),
    (re.compile(r"(?<![\w.-])warmup_steps(?![\w=(])"), "--warmup-steps"),
    # The band is the summary's "one-cycle band"; the schedule is built at the training batch size.
    (
        re.compile(
            r"Expected max_lr >= suggestion\.min_lr for onecycle, but got max_lr=(\S+), "
            r"suggestion\.min_lr=(\S+?)(?=[\s(]|$)"
        ),
        r"Expected the --scheduler-opt max_lr=\1 to be at least the one-cycle band's low end at the training batch "
        r"size, \2: raise it, or drop --scheduler-opt max_lr=... for the band's own peak",
    ),
    # cyclic with one end given and the other the band's: the band is the summary's, at the training batch size.
    (
        re.compile(r"\(suggestion\.(?:max|min)_lr=(\S+?)(?=[;)])"),
        r"(at the training batch size, \1",
    ),
    (
        re.compile(r"pass (base_lr|max_lr)=\.\.\. too, or leave (base_lr|max_lr) out for"),
        r"pass --scheduler-opt \1=... too, or drop --scheduler-opt \2=... for",
    ),
)
#: Advice the command line has no option for: ``scale_lr(cap=True)`` (``lrfind`` never caps), an optimizer
#: given only some parameters (``lrfind`` gives it the whole model), ``Refine.val_batches``.
_NO_OPTION = (
    (re.compile(r"Use cap=True to clamp it, a milder rule,"), "Use a milder --scaling rule,"),
    (
        re.compile(
            r"Give SparseAdam only the sparse embeddings' parameters \(the range test then sweeps them alone\), "
            r"or sweep an optimizer for dense gradients such as Adam over the whole model\."
        ),
        "lrfind gives the optimizer the whole model: sweep one for dense gradients, such as --optimizer adam.",
    ),
    # The settings --opt takes: the LR is the sweep's (--opt lr is refused), so the list leaves it out.
    (re.compile(r"(does not take the settings? .*?; it accepts: )lr, "), r"\1"),
    # An Adam-family optimizer given --momentum: its momentum is the first of --betas.
    (re.compile(r"set betas \(e\.g\. ([\d.]+), ([\d.]+)\) instead"), r"pass --betas \1,\2 instead"),
    # A dict batch's unread keys: no option passes a step_fn; a LightningModule's training_step reads the batch whole.
    (
        re.compile(r"pass step_fn=lambda model, batch: <loss tensor> to range_test\."),
        "use a LightningModule as --model-class whose training_step reads them and returns the loss.",
    ),
    # Refine(val_batches=...): --refine holds out its default number of batches.
    (
        re.compile(r"or (?:lower Refine\.val_batches|split the training data into more batches)\."),
        "or give --data more batches (more rows or a smaller --batch-size).",
    ),
)
#: The result's attributes, the scaling rule and the optimizer's name as the command line knows them: the
#: one-cycle peak is what ``--scheduler onecycle``/``cyclic`` climbs to, the rule is ``--scaling``'s, the name
#: is ``--optimizer``'s value.
_RESULT_WORDS = (
    (
        re.compile(r"training_suggestion\.max_lr \(the peak of a one-cycle or cyclic schedule built from it\)"),
        "the peak that --scheduler onecycle or cyclic climbs to",
    ),
    (re.compile(r"\ba milder rule\b"), "a milder --scaling rule"),
    # create_optimizer's argument: on the command line the name is --optimizer's value.
    (re.compile(r"Unknown optimizer name='"), "Unknown optimizer '"),
    # lrfinder.train's data, which names its errors' source as val_data's are (--val-data): here --data's.
    (re.compile(r"^train_data: "), "--data: "),
    # The whole of a reason the summary gives the gist of (the critical batch's): --json's file holds it.
    (re.compile(r"\bnoise_error says why\b"), "--json's noise_error says why"),
    # The sweep an inconclusive curve's message says to run again, as the options that run it.
    (
        re.compile(r"\bmin_lr=([\d.e+-]+), max_lr=([\d.e+-]+), num_steps=(\d+)"),
        r"--min-lr \1 --max-lr \2 --num-steps \3",
    ),
)


def as_options(text: str) -> str:
    """A library message in the command line's words: ``lower min_lr`` -> ``lower --min-lr``.

    The curve's messages advise changing ``range_test``'s parameters; the CLI user sets them
    with options. Only the bare names are rewritten (not ``min_lr=...`` or ``settings.min_lr``),
    a scaling rule (``rule='sqrt'``) becomes ``--scaling sqrt``, the schedule's length
    (:func:`as_schedule_options`) the training's, the scaled one-cycle peak
    (``training_suggestion.max_lr``) the peak ``--scheduler onecycle`` climbs to, and advice to
    pass ``cap=True``, which no option sets, is left out. Every library message the command line prints goes through it:
    the summary, the sweep table, errors (:func:`~lrfinder.cli.errors.clean_errors`) and
    warnings (:func:`cli_warnings`).

    ``max_lr`` is the sweep's end here: a schedule's peak is ``--scheduler-opt max_lr=...``, so
    the schedule's messages name it ``max_lr=`` (kept) or say "its peak".

    Example:
        >>> as_options("lower min_lr, or increase num_steps (more num_steps)")
        'lower --min-lr, or increase --num-steps (more --num-steps)'
        >>> as_options("or scale with rule='linear' or 'sqrt'.")
        'or scale with --scaling linear or sqrt.'
        >>> as_options("Drop gradient_clip_val, or make the embeddings dense")
        'Drop --gradient-clip-val, or make the embeddings dense'
        >>> as_options("run again with min_lr=1.00e-05, max_lr=1.00e+01, num_steps=200 (twice the steps)")
        'run again with --min-lr 1.00e-05 --max-lr 1.00e+01 --num-steps 200 (twice the steps)'

    """
    for pattern, words in (*_NO_OPTION, *_RESULT_WORDS):
        text = pattern.sub(words, text)
    text = as_schedule_options(text)
    text = _SCALING_WORDS.sub(lambda m: "--scaling " + " or ".join(filter(None, (m.group(1), m.group(2)))), text)
    return _OPTION_WORDS.sub(lambda m: "--" + m.group(1).replace("_", "-"), text)


def as_schedule_options(text: str) -> str:
    """A schedule's message in the command line's words: ``total_steps`` is the training's length.

    The settings keys (``pct_start``, ``max_lr=...``) are ``--scheduler-opt`` keys and stay.

    Example:
        >>> as_schedule_options("(total_steps - warmup_steps): raise total_steps or pct_start")
        "(the training's steps after --warmup-steps): raise the training's steps (--epochs) or pct_start"
        >>> print(as_schedule_options("Expected max_lr >= suggestion.min_lr for onecycle, but got max_lr=1e-09, "
        ...                           "suggestion.min_lr=4.38e-02"))  # doctest: +NORMALIZE_WHITESPACE
        Expected the --scheduler-opt max_lr=1e-09 to be at least the one-cycle band's low end
        at the training batch size, 4.38e-02: raise it, or drop --scheduler-opt max_lr=... for the band's own peak

    """
    for pattern, words in _SCHEDULE_WORDS:
        text = pattern.sub(words, text)
    return text


def in_cli_words(result: RangeTestResult) -> RangeTestResult:
    """A copy of ``result`` whose messages are in the command line's words (:func:`as_options`), for its report.

    The report draws the curve's error, notes, the scaled LR's warning, the refinement's notes
    and why the critical batch was not measured: for a report the command line writes, they name
    its options as its summary does. The numbers, and the JSON (the library's record), are unchanged.
    """
    from dataclasses import replace

    s = result.suggestion
    f = result.refinement
    sc = result.scaled
    return replace(
        result,
        error=None if result.error is None else as_options(result.error),
        noise_error=None if result.noise_error is None else as_options(result.noise_error),
        suggestion=None if s is None else replace(s, notes=tuple(as_options(n) for n in s.notes)),
        refinement=None if f is None else replace(f, notes=tuple(as_options(n) for n in f.notes)),
        scaled=sc if sc is None or sc.warning is None else replace(sc, warning=as_options(sc.warning)),
    )


@contextlib.contextmanager
def cli_warnings() -> Iterator[None]:
    """Show warnings as ``warning: ...`` lines in the command line's words (:func:`as_options`).

    Python's own form, ``/path/to/module.py:272: UserWarning: ...`` and the source line under it,
    reads like a traceback and names the library's parameters. Only the formatting changes, for
    the length of the command: which warnings show, and tests that record them, are unaffected.
    """
    previous = warnings.formatwarning

    def formatwarning(message: Warning | str, *args: Any, **kwargs: Any) -> str:
        return f"warning: {as_options(' '.join(str(message).split()))}\n"

    warnings.formatwarning = formatwarning
    try:
        yield
    finally:
        warnings.formatwarning = previous


#: Summary lines are wrapped to this many columns (a long warning or note), the values aligned.
SUMMARY_WIDTH = 100


def echo_summary(rows: Sequence[tuple[str, str]], *, err: bool) -> None:
    """Print ``key  value`` rows, aligned; a long value wraps under its own column."""
    width = max(len(k) for k, _ in rows) + 2
    for key, value in rows:
        lines = textwrap.wrap(as_options(value), width=max(40, SUMMARY_WIDTH - width), break_on_hyphens=False) or [""]
        click.echo(f"{key:<{width}}{lines[0]}", err=err)
        for line in lines[1:]:
            click.echo(" " * width + line, err=err)


def _in_the_json(json_path: str | None) -> str | None:
    """Where ``--json json_path`` writes the whole of an inconclusive curve's reason; ``None`` without ``--json``."""
    if json_path is None:
        return None
    return 'in the JSON on stdout, its "error"' if json_path == "-" else f'in {json_path}, its "error"'


def inconclusive_error(result: RangeTestResult, *, json_path: str | None, sweep: bool = False) -> str:
    """Why an inconclusive curve ends ``lrfind fit`` (or ``run --strict``): its gist, and where the whole reason is.

    The whole reason runs to a dozen lines, and the summary above the error has just printed it (its
    ``whole reason`` row, or the sweep's table) or said which JSON holds it: the error gives the gist, as the
    summary's ``reason`` row does (:func:`~lrfinder._wording.inconclusive_gist`), and says where the rest is.
    """
    if result.error is None:
        return "no reason recorded"
    gist = as_options(" ".join(inconclusive_gist(result.error)))
    where = _in_the_json(json_path) or ("in its row of the table above" if sweep else 'the "whole reason" row above')
    return f"{gist} The whole reason: {where}."


def summary_rows(
    result: RangeTestResult, *, source: str | None = None, json_path: str | None = None
) -> list[tuple[str, str]]:
    """The summary of one range test: model, optimizer, steps, suggestion, scaling, notes.

    An inconclusive curve's reason is its gist (:func:`~lrfinder._wording.inconclusive_gist`), and a row says where
    the whole of it is, ``json_path``'s ``error`` (``--json``), or without ``json_path`` gives the whole of it.
    """
    rows: list[tuple[str, str]] = []
    if source:
        count = f"{result.num_parameters or 0:,} trainable parameters"
        rows.append(("model", f"{result.model_name} ({count}) from {source}"))
    precision, clipping = result.settings.precision_words, result.settings.clipping
    gradients = (f", {precision}" if precision else "") + (f", gradients {clipping}" if clipping else "")
    optimizer = optimizers_words(result.optimizer_name)
    # Several optimizers are a list of their own ("2 optimizers: SGD, Adam"): the batch size after a semicolon.
    sep = "; " if optimizer != result.optimizer_name else ", "
    rows.append(("optimizer", f"{optimizer}{sep}batch size {result.batch_size}{gradients}"))
    rows.append(("steps", f"{result.num_steps}/{result.settings.num_steps} ({result.stop_words})"))
    if result.settings.curve == "val":
        rows.append(("curve", "validation loss (the mean over --val-data after every step)"))
    if result.noise_scale is not None:
        rows.append(("critical batch", result.noise_scale.summary().removeprefix("critical batch ")))
    elif result.noise_error is not None:
        # The gist, as the report's header gives it: the whole reason ran to 8 lines (a Conv-LSTM's B_simple).
        rows.append(("critical batch", unmeasured_noise(result.noise_error)))
    s = result.suggestion
    if s is None:
        rows.append(("suggested lr", "none: the curve is inconclusive"))
        if result.error is None:
            rows.append(("reason", "?"))
            return rows
        # The gist: the whole reason ran to 15 lines of the summary (a model that cannot learn, random labels).
        rows.append(("reason", " ".join(inconclusive_gist(result.error))))
        # Where the JSON holds it, where; else the whole of it, here: a rerun with --json only to read it cost a test.
        rows.append(("whole reason", _in_the_json(json_path) or result.error))
        return rows
    rule: str = s.rule
    if s.rule == "divergence_div10" and s.divergence_lr is None and " = " in s.derivation:
        # No turn-up: the rule read the minimum instead, and "(rule: divergence_div10)" above "divergence  not
        # reached" left the reader to guess where the LR came from (the report's header says it).
        rule += ": " + s.derivation.partition(" = ")[2].removesuffix(", nearest swept LR")
    rows.append(("suggested lr", f"{s.lr:.2e}  (rule: {rule})"))
    rows.append(("one-cycle band", f"{s.min_lr:.2e} .. {s.max_lr:.2e}"))
    rows.append(("steepest descent", f"{s.steepest_lr:.2e}"))
    rows.append(("minimum loss at", f"{s.min_loss_lr:.2e}"))
    rows.append(("divergence", f"{s.divergence_lr:.2e}" if s.divergence_lr is not None else "not reached"))
    if s.blowup_lr is not None:
        # Where the curve was cut as blown up (nothing past it read), as the report's legend and the JSON say it.
        rows.append(("blew up at", f"{s.blowup_lr:.2e}"))
    rows.append(("confidence", f"{s.confidence:.2f}"))
    rows.append(("pick spread", _spread_text(result)))
    if result.scaled is not None:
        sc = result.scaled
        text = scaled_text(sc)
        if sc.warmup_epochs:
            text += f"; warm up {plural(sc.warmup_epochs, 'epoch')}"
        rows.append(("scaled lr", text))
    for note in s.notes:
        rows.append(("note", note))
    if result.refinement is not None:
        rows.extend(refinement_rows(result))
    if result.scaled is not None and result.scaled.warning:
        rows.append(("warning", result.scaled.warning))
    return rows


def scaled_text(scaled: ScaledLR) -> str:
    """The summary's ``scaled lr``: ``9.55e-02  (noise x1.41, batch 32 -> 64)``.

    A ``--target-batch-size`` equal to the test's batch needs no scaling, and says so: it read
    ``(noise x1, batch 32 -> 32)``. The report leaves such a scaling out too.
    """
    from ..noise import format_batch

    if scaled.to_batch_size == scaled.from_batch_size and scaled.lr == scaled.base_lr:
        batch = format_batch(scaled.to_batch_size)
        return f"{scaled.lr:.2e}  (no scaling needed: --target-batch-size is the test's batch size, {batch})"
    return (
        f"{scaled.lr:.2e}  ({scaled.rule} x{scaled.factor:.3g}, batch {format_batch(scaled.from_batch_size)} -> "
        f"{format_batch(scaled.to_batch_size)})"
    )


def _spread_text(result: RangeTestResult) -> str:
    """How far the curve's noise moves the pick (:func:`lrfinder.analysis.pick_spread`), in words."""
    from ..analysis import SPREAD_COPIES, pick_spread

    assert result.suggestion is not None
    spread = pick_spread(result.lrs, result.losses, rule=result.suggestion.rule)
    if not math.isfinite(spread):
        return f"the pick does not survive the curve's noise: under 2 of {SPREAD_COPIES} bootstrap copies read"
    return f"×/÷{10**spread:.2f} ({spread:.2f} decades) from the curve's own noise ({SPREAD_COPIES} bootstrap copies)"


def refinement_rows(result: RangeTestResult) -> list[tuple[str, str]]:
    """The refinement's rows: the refined LR, its cost, every trial (the pick marked), re-sweeps."""
    f = result.refinement
    if f is None:
        return []
    rows: list[tuple[str, str]] = []
    if f.lr is None:
        rows.append(("refined lr", "none (" + "; ".join(f.notes) + ")"))
    else:
        curve = f"{f.curve_lr:.2e}" if f.curve_lr is not None else "?"
        judged_on = "--val-data" if f.judged_on == "val_data" else f.judged_on
        rows.append(("refined lr", f"{f.lr:.2e}  ({f.schedule}; the curve said {curve}; judged on {judged_on})"))
    rows.append(("refine cost", f"{f.cost_steps} steps = {f.cost_fraction:.0%} of {f.training_steps} training steps"))
    for r in f.rounds:
        found = f"{r.suggestion_lr:.2e}" if r.suggestion_lr is not None else "inconclusive"
        rows.append(("re-sweep", f"{r.reason.replace('_', ' ')}: {r.min_lr:.2e} .. {r.max_lr:.2e}, {r.steps_run} "
                                 f"steps -> {found}"))
    for t in f.trials:
        held = "diverged" if t.diverged else f"held-out loss {t.held_out_loss:.4g}"
        mark = "  <- pick" if f.lr is not None and t.lr == f.lr else ""
        rows.append(("trial", f"lr {t.lr:.2e}  {t.steps} steps  {held}{mark}"))
    for note in f.notes:
        rows.append(("refine note", note))
    return rows


def sweep_json(
    results: Sequence[RangeTestResult], values: Sequence[float], choice: WeightDecayChoice | None
) -> dict[str, Any]:
    """The JSON document of a weight-decay sweep (``kind: weight_decay_sweep``)."""
    from ..range_test import SCHEMA_VERSION

    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "weight_decay_sweep",
        "weight_decays": list(values),
        "recommended_index": None if choice is None else choice.index,
        "recommended_weight_decay": None if choice is None else choice.weight_decay,
        # The recommended curve's LR to train with, as one result's top-level "lr".
        "lr": None if choice is None else results[choice.index].lr,
        "reason": None if choice is None else choice.reason,
        "results": [r.to_dict() for r in results],
    }


def echo_sweep(
    results: Sequence[RangeTestResult], values: Sequence[float], choice: WeightDecayChoice | None, *, err: bool
) -> None:
    """Print the weight-decay sweep as a table, the recommended row marked."""
    from ..sweeps import format_weight_decay, shown_minimum_loss

    # Under --curve val every curve is the validation loss: the column says so (it read "min loss", as of training).
    loss, width = ("min val loss", 14) if any(r.settings.curve == "val" for r in results) else ("min loss", 11)
    header = f"{'weight decay':<14}{'suggested lr':<14}{loss:<{width}}{'at lr':<11}{'stable to':<11}confidence"
    click.echo(header, err=err)
    for i, (r, v) in enumerate(zip(results, values)):
        s = r.suggestion
        mark = "  <- recommended" if choice is not None and choice.index == i else ""
        if s is None:
            click.echo(f"{format_weight_decay(v):<14}{'inconclusive':<14}{as_options(r.error or '')}", err=err)
            continue
        stable = s.divergence_lr if s.divergence_lr is not None else r.lrs[-1]
        # The minimum the recommendation compares, at the LR printed beside it (the lowest point of the
        # whole curve may lie past the blow-up, at another LR).
        click.echo(
            f"{format_weight_decay(v):<14}{s.lr:<14.2e}{shown_minimum_loss(r):<{width}.4g}{s.min_loss_lr:<11.2e}"
            f"{stable:<11.2e}{s.confidence:.2f}{mark}",
            err=err,
        )
    if choice is not None:
        click.echo(f"recommended weight decay: {format_weight_decay(choice.weight_decay)} ({choice.reason})", err=err)


def check_writable(paths: Mapping[str, str | None]) -> None:
    """Check, before any work, that every output path can be written (``-`` and ``None`` skipped).

    A path can be written when it names a file (not a directory, and not ``dir/`` with a trailing
    separator), and its nearest existing ancestor is a directory this process may create files
    in: missing directories are created when writing. A symlink, a device or a named pipe
    (``/dev/stdout``, ``/dev/null``) needs only to be writable itself: a device or a pipe is written
    into (:func:`lrfinder._atomic.in_place`), and so is a linked file whose directory takes no new
    file (one that does gets its file replaced atomically from there). The permission bits alone do not say it
    (root passes them, and a read-only or virtual file system such as ``/proc`` refuses new
    files anyway), so a hidden file (or, for a missing parent, a directory) is created there and
    removed at once, as the atomic write itself will do.

    Args:
        paths: The option (``--report``) of each output path, for the message.

    Raises:
        click.BadParameter: An output that cannot be written (a usage error, exit 2), naming the
            option, the path and why.

    """
    from .._atomic import unwritable

    for option, path in paths.items():
        if not path or path == "-":
            continue
        reason = unwritable(path)
        if reason is not None:
            raise click.BadParameter(reason, param_hint=option)


class WriteError(OSError):
    """An output that could not be written, said ``cannot write PATH: reason`` (no ``[Errno N]`` in front)."""

    def __str__(self) -> str:
        return str(self.strerror)


def write_error(path: str, exc: OSError) -> WriteError:
    """``exc``, raised writing the output ``path``, as every ``lrfind`` command says it.

    ``run`` said "cannot write r.png: No space left on device", ``report`` Python's "[Errno 28] No space
    left on device: 'r.png'". A full disk (or quota) adds what to do.

    Example:
        >>> import errno
        >>> str(write_error("r.png", OSError(errno.ENOSPC, "No space left on device", ".r.png.tmp")))
        'cannot write r.png: No space left on device; free some space there or choose another path'

    """
    reason = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason += "; free some space there or choose another path"
    return WriteError(exc.errno, f"cannot write {path}: {reason}")


def stage_file(staged: StagedWrites, path: str, write: Callable[[str], object]) -> None:
    """Stage one file; an OS error names ``path``, never the hidden temporary file it was going to."""
    try:
        staged.add(path, write)
    except OSError as exc:
        raise write_error(path, exc) from None


def schedule_json(schedule: Any, name: str | None, kind: str = "planned") -> dict[str, Any]:
    """The ``"schedule"`` object of ``--json``: ``{"name": ..., "kind": ..., "lrs": [...]}``, an LR per training step.

    ``kind`` is ``"planned"`` (``lrfind run --scheduler``'s plan) or ``"applied"`` (the LRs
    ``lrfind fit`` trained with). ``lrfind report`` reads it back
    (:func:`lrfinder.cli.report.load_results`) and draws the schedule panel the run's report had,
    titled the same; files without it (written before it was saved, or by a run without a
    schedule) report without the panel, and a schedule without ``"kind"`` reads as planned.
    """
    import numpy as np

    return {"name": name, "kind": kind, "lrs": [float(v) for v in np.asarray(schedule, dtype=float).ravel()]}


def json_text(doc: dict[str, Any]) -> str:
    """``doc`` as ``--json`` writes it: indented by 2, with a ``"schedule"``'s LRs on one line.

    The schedule holds one LR per training step, up to a million of them. One per line under
    ``indent=2`` made a million-line file (a cosine schedule: 25 MB, 6 MB of it indentation and
    line breaks) that buried the fields after it. Written on one line, without spaces (20 MB
    there; a step schedule's repeated LRs 8.5 MB instead of 13.5 MB), the list is the same JSON:
    ``json.loads`` reads the same ``{"name": ..., "lrs": [...]}``, every LR exact, so files
    written before and after read alike. The other fields stay one per line; the schedule comes
    last, its LRs after its name.
    """
    schedule = doc.get("schedule")
    if not (isinstance(schedule, dict) and isinstance(schedule.get("lrs"), list)):
        return json.dumps(doc, indent=2, allow_nan=False)
    lrs = json.dumps(schedule["lrs"], separators=(",", ":"), allow_nan=False)
    # A stand-in for the list, written as the document's last value: the last match is it, whatever else holds.
    marker = "lrs"
    body = {k: v for k, v in doc.items() if k != "schedule"}
    body["schedule"] = {**{k: v for k, v in schedule.items() if k != "lrs"}, "lrs": marker}
    head, _, tail = json.dumps(body, indent=2, allow_nan=False).rpartition(json.dumps(marker))
    return head + lrs + tail


def stage_outputs(
    staged: StagedWrites,
    results: Sequence[RangeTestResult],
    *,
    report: str | None,
    json_path: str | None,
    csv_path: str | None,
    json_doc: dict[str, Any] | None = None,
    schedule: Any = None,
    schedule_name: str | None = None,
    schedule_kind: str = "planned",
    highlight: int | None = None,
    weight_decays: Sequence[float] | None = None,
) -> list[str]:
    """Stage the JSON, the CSV and the report in ``staged``; return what goes to stdout (``-``).

    Several ``results`` are a weight-decay sweep, one per value of ``weight_decays``.

    Nothing appears on disk until ``staged.commit()``; the stdout texts are printed by the
    caller after the commit, so an interrupted command prints no partial result either. With a
    ``schedule`` (drawn in the report), the JSON also holds it (:func:`schedule_json`);
    ``schedule_kind`` says whether it is a plan or what training applied (``lrfind fit``).
    """
    to_stdout: list[str] = []
    if json_path:
        doc = json_doc if json_doc is not None else results[0].to_dict()
        if schedule is not None:
            # What the report's schedule panel drew, so ``lrfind report`` draws it again from the file.
            doc = {**doc, "schedule": schedule_json(schedule, schedule_name, schedule_kind)}
        text = json_text(doc)
        if json_path == "-":
            to_stdout.append(text + "\n")
        else:
            stage_file(staged, json_path, lambda tmp: Path(tmp).write_text(text + "\n", encoding="utf-8"))
    if csv_path:
        text = curve_csv(results[0]) if len(results) == 1 else sweep_csv(results, weight_decays or ())
        if csv_path == "-":
            to_stdout.append(text)
        else:
            csv_text = text
            stage_file(staged, csv_path, lambda tmp: Path(tmp).write_text(csv_text, encoding="utf-8"))
    if report:
        from ..report import command_line_words, report_writer

        worded = [in_cli_words(r) for r in results]
        with command_line_words():  # the whole reason: the summary's row, the JSON's "error" (not result.error)
            write = report_writer(
                worded if len(worded) > 1 else worded[0],
                report,
                schedule=schedule,
                schedule_name=schedule_name,
                schedule_kind=schedule_kind,
                highlight=highlight,
            )
        stage_file(staged, report, write)
    return to_stdout
