"""The report: one figure that answers "which learning rate, and why".

:func:`plot_range_test` draws a :class:`~lrfinder.RangeTestResult` (or several, overlaid) into a
matplotlib :class:`~matplotlib.figure.Figure`; :func:`save_report` writes it to a PNG, SVG or PDF
file chosen by the extension. The figure has

* a header with what a reader needs to trust the curve: model and parameter count, optimizer,
  batch size (and the target batch size, scaling rule and factor), steps run, stop reason,
  confidence, how far the curve's own noise moves the pick (:func:`~lrfinder.analysis.pick_spread`),
  and every warning;
* the loss against the LR on a log axis: raw points faint, the smoothed curve bold, markers for
  the steepest descent, the minimum, the divergence point and the first non-finite loss (the
  region past divergence shaded), the one-cycle/cyclic band shaded, and the suggested LR as a
  vertical line with its value written next to it;
* the slope ``d loss / d log10(lr)`` of the smoothed curve (:func:`lrfinder.loss_slope`);
* when a schedule is given, the planned LR at each training step.

matplotlib is imported inside the functions, with the Agg backend and the object API only (no
``pyplot`` state), so ``import lrfinder`` never imports it and reports can be written from
threads and headless machines. The output size is fixed by ``figsize`` and ``dpi`` (no "tight"
bounding box), so the same call always gives an image of the same pixel size.
"""

from __future__ import annotations

import contextvars
import io
import logging
import math
import os
import re
import textwrap
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

# Imported at run time (not under TYPE_CHECKING) for typing.get_type_hints on plot_range_test and
# save_report: the classes only, no pyplot and no backend chosen; ``import lrfinder`` imports no
# matplotlib, as the package imports this module on first use.
try:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis as MplAxis
    from matplotlib.figure import Figure
    from matplotlib.ticker import Formatter, LogFormatterSciNotation
    from matplotlib.transforms import Bbox
except ValueError as _refused:  # matplotlib's words for a bad MPLBACKEND named no variable
    from ._matplotlib import backend_refusal

    raise backend_refusal(_refused) from None

from . import names
from ._atomic import atomic_write
from ._checks import (
    answers_peer_options,
    is_choice,
    is_int,
    is_not_a_sequence,
    is_peer_history,
    is_real,
    plain,
    real_number,
    single_number_note,
    text_or_bool_at,
    text_or_bool_message,
)
from ._wording import first_clause, inconclusive_gist, optimizers_words, plural, unmeasured_noise
from .analysis import (
    _TINY,
    BLOWUP_NAMED,
    DIVERGENCE_RISE,
    DOUBTFUL_BLOWUP_NAMED,
    LOW_CONFIDENCE,
    MIN_POINTS,
    ROUND_OFF,
    apart_digits,
    choose_window,
    clip_explosion,
    find_blowup_lr,
    finite_prefix,
    loss_slope,
    pick_spread,
    smooth_losses,
    sweep_digits,
)
from .exceptions import InconclusiveCurveError
from .noise import format_batch
from .range_test import STOP_NAMES, RangeTestResult
from .scaling import ScaledLR

__all__ = ["plot_range_test", "save_report", "report_writer", "REPORT_FORMATS", "COLORS"]

logger = logging.getLogger(__name__)

#: File extensions :func:`save_report` writes, and the matplotlib format used for each.
REPORT_FORMATS: dict[str, str] = {ext: ext.lstrip(".") for ext in names.REPORT_FORMATS}

#: Colours of the report's elements (Okabe-Ito palette: safe for colour-blind readers).
COLORS: dict[str, str] = {
    "curve": "#0072b2",
    "suggestion": "#009e73",
    "band": "#56b4e9",
    "steepest": "#e69f00",
    "minimum": "#000000",
    "divergence": "#d55e00",
    "non_finite": "#cc0000",
    "scaled": "#cc79a7",
    "warning": "#b35900",
}
#: Curve colours of an overlay, in order.
OVERLAY_COLORS: tuple[str, ...] = (
    "#0072b2",
    "#d55e00",
    "#009e73",
    "#cc79a7",
    "#e69f00",
    "#56b4e9",
    "#000000",
    "#f0e442",
)

#: Line style of each round of :data:`OVERLAY_COLORS` in an overlay of more curves than colours.
_OVERLAY_STYLES: tuple[str, ...] = ("-", ":", "-.")

#: Marker of each pick on the curves: matplotlib marker, size, face and edge colour (``None``:
#: the curve's own colour in an overlay), and edge width.
MARKERS: dict[str, dict[str, Any]] = {
    "steepest": {"marker": "v", "ms": 10, "mfc": COLORS["steepest"], "mec": "black", "mew": 1.0},
    "minimum": {"marker": "*", "ms": 15, "mfc": "white", "mec": COLORS["minimum"], "mew": 1.5},
    "divergence": {"marker": "X", "ms": 11, "mfc": COLORS["divergence"], "mec": "black", "mew": 1.0},
    "non_finite": {"marker": "X", "ms": 12, "mfc": COLORS["non_finite"], "mec": "black", "mew": 1.0},
}

#: Half the largest marker of :data:`MARKERS` with its edge, plus a point, in points: how far a marker's centre keeps
#: from the frame (:func:`_lr_limits`, :func:`_y_limits`, :func:`_at_bottom`).
_EDGE_POINTS = max(style["ms"] + style["mew"] for style in MARKERS.values()) / 2.0 + 1.0

#: What a report's schedule panel shows: a plan (``lrfind run --scheduler``) or what training applied (``lrfind fit``).
ScheduleKind = Literal["planned", "applied"]
SCHEDULE_KINDS: tuple[str, ...] = ("planned", "applied")

class ReportFigure(Figure):
    """The report's matplotlib :class:`~matplotlib.figure.Figure`, which a notebook shows as an image by itself.

    A notebook shows a ``Figure`` a cell ends with as an image only once pyplot's inline backend is set up
    (``%matplotlib inline``, or a pyplot call earlier in the session): the report is not pyplot's, so a
    cell ending in ``plot_range_test(result)`` showed the text ``<Figure size 1200x900 with 3 Axes>``
    alone. IPython reads :meth:`_repr_png_` when no backend's formatter takes the figure; with the inline
    backend set up, its formatter does, as for any figure (shown once: the report is not in pyplot's list).
    """

    def _repr_png_(self) -> bytes:
        """The figure as PNG bytes, at its own size and dpi (what :func:`save_report` writes to a ``.png``).

        Saved under the style it was drawn in (:func:`_report_style`): a notebook's ``savefig.dpi = 300`` or
        ``savefig.bbox = "tight"`` showed it at another size.
        """
        buffer = io.BytesIO()
        with _report_style():
            self.savefig(buffer, format="png", dpi=self.dpi)
        return buffer.getvalue()

    def show(self, warn: bool = True) -> None:
        """Show the figure as ``fig.show()`` shows a pyplot figure, handing it to pyplot first when it is not.

        The report is drawn outside pyplot (none piles up in a loop), so matplotlib's ``Figure.show`` refused it
        with "works only for figures managed by pyplot", where ``fig = lr_finder.plot(); fig.show()`` (Lightning's,
        moved over) asks to see it: the figure is put in pyplot's hands (``plt.figure(fig)``) and shown by the
        backend, a window under a GUI backend, the warning of a non-interactive one otherwise.

        Raises:
            AttributeError: pyplot cannot take a figure it did not make (matplotlib before 3.11), with the calls
                that show the report instead.

        """
        if self.canvas.manager is None:
            import matplotlib.pyplot as plt

            try:
                plt.figure(self)
            except (TypeError, ValueError) as err:
                raise AttributeError(
                    "The report's figure is not pyplot's (none piles up in a loop) and this matplotlib cannot hand "
                    "it to pyplot: write it with fig.savefig('lr.png') (or lrfinder.save_report(result, 'lr.png')), "
                    "or in a notebook end the cell with fig; matplotlib 3.11 and later show it with fig.show()."
                ) from err
        super().show(warn=warn)


_DEFAULT_FIGSIZE = (12.0, 9.0)
_DEFAULT_DPI = 100
#: The most pixels a side of the figure may have (``figsize`` x ``dpi``): ``dpi=100000`` asked Agg for a
#: 1,200,000-pixel-wide canvas and died with C++'s ``std::bad_alloc``.
MAX_PIXELS = 10_000
#: The least ``dpi`` the report draws at: below about 5, FreeType cannot size its smallest text ("FT_Set_Char_Size
#: failed with error 0x97: invalid ppem value" from deep in matplotlib); under 10 nothing is legible anyway.
MIN_DPI = 10
#: The least header width, in characters, its lines are wrapped to: a figure narrower than about 0.4 inches
#: wrapped them to a negative width (textwrap's "invalid width -3 (must be > 0)").
_MIN_HEADER_CHARS = 24


def _peer_finder_hint(value: object) -> str:
    """What to pass instead of another finder's object (torch-lr-finder's ``LRFinder``, Lightning's tuner's), or ``""``.

    ``plot_range_test(lr_finder)``, a torch-lr-finder script's ``lr_finder.plot()`` ported, was told only "but got
    LRFinder".
    """
    history = getattr(value, "history", None)
    results = getattr(value, "results", None)
    if not any(is_peer_history(curve) for curve in (history, results)):
        return ""
    return (
        " (another LR finder's object: run the test with result = lrfinder.range_test(model, train_loader, ...) or"
        " lrfinder.find_lr(...) and pass its result, or draw the curve it recorded with"
        " lrfinder.RangeTestResult.from_curve(lrs, losses), its moving average undone; see docs/migrating.md)"
    )


def _as_results(result_or_results: RangeTestResult | Sequence[RangeTestResult]) -> list[RangeTestResult]:
    """The results to plot, as a list; anything but a result or a sequence of them is refused by what it is.

    ``None`` (a test that was never run) read as "'NoneType' object is not iterable", and a result's dict
    (``to_dict()``, a JSON file read with ``json.load``) as "item 0 is a str" (its first key).
    """
    if isinstance(result_or_results, RangeTestResult):
        return [result_or_results]
    if isinstance(result_or_results, Mapping):
        raise TypeError(
            "Expected a RangeTestResult or a sequence of them, but got a dict; a result saved as JSON reads back with "
            "RangeTestResult.from_json(path) (a dict from to_dict() with RangeTestResult.from_dict(data))"
        )
    if is_not_a_sequence(result_or_results):
        hint = (
            " (a path: read the file with RangeTestResult.from_json(path) first)"
            if isinstance(result_or_results, (str, bytes, os.PathLike))
            else _peer_finder_hint(result_or_results)
        )
        raise TypeError(
            f"Expected a RangeTestResult or a sequence of them, but got {type(result_or_results).__name__}{hint}"
            + single_number_note(result_or_results)
        )
    results = list(result_or_results)
    if not results:
        raise ValueError("Expected at least one RangeTestResult, but got an empty sequence")
    for i, item in enumerate(results):
        if not isinstance(item, RangeTestResult):
            raise TypeError(f"Expected RangeTestResult objects, but item {i} is a {type(item).__name__}")
    return results


def _too_short(result: RangeTestResult) -> bool:
    """Whether ``result`` has fewer finite losses than the analysis reads (:data:`~lrfinder.analysis.MIN_POINTS`)."""
    return result.suggestion is None and finite_prefix(np.asarray(result.losses, dtype=float)) < MIN_POINTS


def _smoothed(result: RangeTestResult) -> np.ndarray:
    """Return the smoothed curve: the suggestion's, else smoothed here (NaN when too short).

    A curve shorter than the analysis reads is not smoothed: a window of its few points fitted a
    parabola that dipped below every recorded loss (a fall that never happened) before the blow-up.
    """
    if result.suggestion is not None:
        return np.asarray(result.suggestion.smoothed_losses, dtype=float)
    lrs = np.asarray(result.lrs, dtype=float)
    losses = np.asarray(result.losses, dtype=float)
    if _too_short(result):
        return np.full(losses.shape, np.nan)
    try:
        return smooth_losses(lrs, losses)
    except ValueError:
        return np.full(losses.shape, np.nan)


def _floored(result: RangeTestResult, values: np.ndarray) -> np.ndarray:
    """``values`` of the smoothed curve as the loss panel draws them: at least 0 for a loss that cannot be negative.

    A cross-entropy that falls to about 0.002 and then blows up sharply has its smoothed curve undershoot below
    zero at the turn: drawn there, and its minimum marked there, the panel showed a negative loss that was never
    recorded. The rule is the legend's (:func:`lrfinder.sweeps.loss_never_negative`: every finite recorded loss
    >= 0); the slope panel, the CSV and the analysis keep the smoothed values as they are.
    """
    from .sweeps import loss_never_negative

    if not loss_never_negative(result):
        return values
    with np.errstate(invalid="ignore"):
        return np.where(values < 0.0, 0.0, values)


def _drawable_smoothed(result: RangeTestResult) -> np.ndarray:
    """Return the smoothed curve, cut where the raw loss exploded past the analysis's clip level.

    :func:`lrfinder.smooth_losses` clips values far above the starting loss before smoothing, so
    past the explosion the smoothed curve is a flat artefact of the clip, not the loss: not drawn.
    The clip is the analysis's own (:func:`lrfinder.analysis.clip_explosion`). Only a clipped
    loss at or past the smoothed curve's minimum starts the explosion: a lone spike before it (one
    bad batch mid-fall) is read through by the analysis, and cutting there hid the rest of the
    curve and left its picks floating off any line.
    """
    smoothed: np.ndarray = _smoothed(result).copy()  # ndarray.copy is typed Any
    raw = np.asarray(result.losses, dtype=float)
    n = finite_prefix(raw)
    if n < 3 or not np.isfinite(smoothed[:n]).any():
        return smoothed
    bottom = int(np.nanargmin(smoothed[:n]))
    over = np.flatnonzero(clip_explosion(raw[:n]) < raw[:n])
    over = over[over >= bottom]
    if over.size:
        smoothed[int(over[0]) + 1 :] = np.nan
    return smoothed


def _y_limits(results: Sequence[RangeTestResult], ax: Axes | None = None) -> tuple[float, float] | None:
    """Loss-axis limits that show the whole fall without letting an explosion flatten it.

    The margin above and below is 6% of the losses' span, or in a short ``ax`` (a small panel of someone's
    figure) what holds the centre of a marker at the lowest or highest loss (the minimum's star) half the
    largest marker of :data:`MARKERS` inside the frame, as :func:`_lr_limits` does along the LR axis.
    """
    lows: list[float] = []
    highs: list[float] = []
    for result in results:
        raw = np.asarray(result.losses, dtype=float)
        finite = raw[np.isfinite(raw)]
        if finite.size == 0:
            continue
        head = float(np.median(finite[: max(3, finite.size // 20)]))
        low = float(np.min(finite))
        smoothed = _smoothed(result)
        # Up to its minimum: past it the smoothed curve climbs with the explosion, and a top set by
        # that climb plus a fall squashed the fall into the panel's bottom third.
        start = smoothed[: int(np.nanargmin(smoothed)) + 1] if np.isfinite(smoothed).any() else smoothed[:0]
        smooth_max = float(np.nanmax(start)) if start.size else head
        fall = max(head - low, ROUND_OFF * abs(head), _TINY)  # relative: losses in any unit
        # Anything more than one full fall above the start is the explosion: clipped at the top.
        # The smoothed curve (and the minimum marker on it) may dip below the raw losses.
        lows.append(min(low, float(np.nanmin(_floored(result, smoothed)))) if np.isfinite(smoothed).any() else low)
        top = max(head, smooth_max) + fall
        # Most of the curve above that top: it rose from its first steps (min_lr past where the model diverges),
        # and the panel showed two points and the curve leaving it, over an empty sweep.
        rose = result.suggestion is None and np.count_nonzero(finite > top) > finite.size / 2
        if (_too_short(result) or rose) and len(results) == 1:
            # No fall to keep legible: the few points and the blow-up that ended the test are the story.
            # (In an overlay the other curves' falls are: their limits hold.)
            highs.append(float(np.max(finite)))
        else:
            highs.append(min(float(np.max(finite)), top))
    if not lows:
        return None
    low, high = min(lows), max(highs)
    size = max(abs(high), abs(low))
    span = high - low if high > low else (0.1 * size if size > 0 else 0.1)
    pad = 0.06 * span
    fig = _root_figure(ax) if ax is not None else None
    if ax is not None and fig is not None and ax.bbox.height > 0:
        # The share of the axes' height the marker needs at each end, of a height of span + 2 * pad.
        share = min(_EDGE_POINTS * fig.dpi / 72.0 / ax.bbox.height, 0.25)
        pad = max(pad, share * span / (1.0 - 2.0 * share))
    # Losses near the largest float (1.7e308): the span, the pad or the limits overflowed to inf. The axis is clipped
    # to a range whose span stays finite in matplotlib's transforms; the losses past it are drawn off the panel.
    big = _LARGEST_LOSS_DRAWN
    return max(low - pad, -big), min(high + pad, big)


#: The largest loss, in size, the loss axis reaches: a quarter of the largest float, so its span stays finite.
_LARGEST_LOSS_DRAWN = float(np.finfo(float).max) / 4.0


def _lr_limits(results: Sequence[RangeTestResult], ax: Axes | None = None) -> tuple[float, float] | None:
    """The LR axis's limits: the swept LRs, with a margin on each side that holds a pick's marker.

    The margin is 1.5% of the axis, or in a narrow ``ax`` (a small panel of someone's figure) half
    the largest marker of :data:`MARKERS` wide, so a marker at the first or last LR stays inside the frame.
    """
    lrs = [lr for r in results for lr in r.lrs if lr > 0 and math.isfinite(lr)]
    if not lrs:
        # Nothing recorded (a test stopped before its first step): the planned sweep, not matplotlib's
        # default 1 .. 10, which reads as LRs that were tried.
        lrs = [lr for r in results for lr in (r.settings.min_lr, r.settings.max_lr) if lr > 0 and math.isfinite(lr)]
    if not lrs:
        return None
    low, high = min(lrs), max(lrs)
    if high <= low:
        return low / 2.0, low * 2.0
    # A small margin, so a line or marker at the first or last LR (a suggestion at min_lr, the
    # first non-finite loss) is not drawn on the axes' frame, half cut.
    share = 0.015
    fig = _root_figure(ax) if ax is not None else None
    if ax is not None and fig is not None and ax.bbox.width > 0:
        share = max(share, _EDGE_POINTS * fig.dpi / 72.0 / ax.bbox.width)
    margin = 10 ** (min(share, 0.25) * math.log10(high / low))
    return low / margin, high * margin


def _root_figure(artist: Any) -> Figure | None:
    """The figure an artist is drawn on: the top one, also for an axes in a subfigure.

    matplotlib 3.10 gives it as ``get_figure(root=True)``; before, ``get_figure()`` is the artist's
    own (sub)figure, whose ``figure`` is the top one (a top figure's ``figure`` is itself).
    """
    try:
        return cast("Figure | None", artist.get_figure(root=True))
    except TypeError:  # matplotlib < 3.10: get_figure() takes no root
        parent = artist.get_figure()
        return None if parent is None else cast(Figure, parent.figure)


def _dpi(artist: Any) -> float:
    """The dots per inch of the figure ``artist`` is drawn on (:func:`_root_figure`), or the report's default."""
    root = _root_figure(artist)
    return float(root.dpi if root is not None else _DEFAULT_DPI)


def _at_bottom(ax: Axes) -> Any:
    """The transform of a marker on the bottom edge (x in data, y in axes units), lifted to hold it in the frame."""
    from matplotlib.transforms import offset_copy

    return offset_copy(ax.get_xaxis_transform(), fig=_root_figure(ax), y=_EDGE_POINTS, units="points")


def _fmt_int(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


#: A name (model, optimizer, curve label) longer than this is cut in the report, with an ellipsis.
_NAME_CHARS = 48


def _short(text: str, limit: int = _NAME_CHARS) -> str:
    """``text``, cut to ``limit`` characters with an ellipsis: a long name never runs off the figure.

    Drawable as it stands (:func:`_drawable`): a cut never leaves half a ``$...$`` for matplotlib to fail on.
    """
    return _drawable(text if len(text) <= limit else text[: max(limit - 1, 1)].rstrip() + "…")


def _optimizer_fact(optimizer_name: str | None) -> str:
    """The header's optimizer: ``optimizer SGD``, or several counted: ``2 optimizers: SGD, Adam`` (optimizers_words).

    The callback's two optimizers read ``optimizer SGD,Adam``, and two SGDs ``optimizer SGD``, as one.
    """
    words = optimizers_words(optimizer_name)
    if words is None:
        return "optimizer ?"
    return _short(words, _NAME_CHARS) if words != optimizer_name else f"optimizer {_short(words, 32)}"


def _model_names(results: Sequence[RangeTestResult], limit: int) -> list[tuple[str, str]]:
    """The models of ``results`` for the title: (name cut to ``limit`` characters, parameter count), each once.

    Told apart by their full names: cut at the end, models named alike up to ``limit`` characters
    (``TransformerEncoderClassifierA``, ``...B``) read as one, and the title of three models named
    one. Their names are cut in the middle instead, keeping the ends that tell them apart.
    """
    full = list(dict.fromkeys((r.model_name or "model", _fmt_int(r.num_parameters)) for r in results))
    cut = [_short(name, limit) for name, _ in full]
    if len(set(cut)) < len({name for name, _ in full}):
        head = max(limit // 2, 1)
        tail = max(limit - 1 - head, 1)
        cut = [
            _drawable(name if len(name) <= limit else name[:head].rstrip() + "…" + name[-tail:].lstrip())
            for name, _ in full
        ]
    return list(dict.fromkeys(zip(cut, (count for _, count in full))))


#: A lone UTF-16 surrogate, which no font draws (Python's stand-in for an undecodable byte).
_SURROGATE = re.compile("[\ud800-\udfff]")


def _drawable(text: str) -> str:
    r"""``text`` as matplotlib can draw it: its ``$`` signs escaped unless it is mathtext matplotlib parses.

    matplotlib reads a text with two unescaped ``$`` as mathtext and fails on it at ``savefig`` (a
    ``ParseSyntaxException`` from deep inside matplotlib) when the part between them is not valid TeX: a
    title ``run_$1_$2``, a result file ``a_$x_$.json`` (its name is the curve's label). Such a text is drawn
    as written; one that parses (``$\alpha$ sweep``) is kept as mathtext. A text with no ``$`` left
    unescaped is drawable in any company, so the pieces of a line (names, labels) can be joined.

    A lone surrogate (a byte that is not UTF-8 in a command-line argument, ``--title $'caf\xe9'``, or a ``"\ud800"``
    escape in a result file) is drawn as U+FFFD: matplotlib's font code refused the text with "set_text():
    incompatible function arguments".
    """
    text = _SURROGATE.sub("\ufffd", text)
    if "$" not in text:
        return text
    from matplotlib import cbook

    if cbook.is_math_text(text):
        from matplotlib.font_manager import FontProperties
        from matplotlib.mathtext import MathTextParser

        try:
            MathTextParser("path").parse(text, 72, FontProperties())
        except ValueError:  # pyparsing's ParseSyntaxException, as matplotlib raises it
            pass
        else:
            return text
    return re.sub(r"(?<!\\)\$", r"\\$", text)


def _asked_window(result: RangeTestResult) -> int | None:
    """The suggestion's smoothing window when it was asked for (``result.analyze(window=...)``), else ``None``.

    A window :func:`lrfinder.analysis.choose_window` would not have chosen for the curve was asked for: the
    pick's spread is then measured with it, not with the adapted windows of another reading of the curve.
    """
    assert result.suggestion is not None
    raw = np.asarray(result.losses, dtype=float)
    raw = raw[: finite_prefix(raw)]
    with np.errstate(over="ignore", invalid="ignore"):
        adapted = choose_window(clip_explosion(raw), raw) if raw.size >= 3 else None
    return None if result.suggestion.window == adapted else result.suggestion.window


def _spread_fact(result: RangeTestResult) -> str:
    """``"  |  pick ×/÷1.10 from noise"``: how far the curve's own noise moves the pick (:func:`pick_spread`)."""
    assert result.suggestion is not None
    try:
        window = _asked_window(result)
        spread = pick_spread(result.lrs, result.losses, rule=result.suggestion.rule, window=window)
    except (InconclusiveCurveError, ValueError):  # a result made by another version's analysis
        return ""
    if not math.isfinite(spread):
        return "  |  pick unstable under the curve's noise"
    return f"  |  pick ×/÷{10**spread:.2f} from noise"


def _batch_parts(result: RangeTestResult) -> str:
    """How the effective batch was made, after its size: ``" (summed over 2 DDP ranks, 2 micro-batches accumulated)"``.

    The batch size is the effective one: the sum over the DDP ranks (:attr:`RangeTestSettings.world_size`) of each
    one's batch, times the micro-batches accumulated. A DDP result said ``batch size 64`` alone, where the
    script's DataLoader says 32. No batch per rank is said: the ranks' loaders may differ (16 and 32 sum to 48).
    """
    accumulated, ranks = result.settings.accumulate_steps, result.settings.world_size
    parts = []
    if ranks > 1:
        parts.append(f"summed over {ranks} DDP ranks")
    if accumulated > 1:
        # Not taken in one forward pass: say it was accumulated.
        parts.append(f"{accumulated} micro-batches accumulated")
    return f" ({', '.join(parts)})" if parts else ""


def _header_lines(
    results: Sequence[RangeTestResult], title_chars: int | None = None, applied_lr: float | None = None
) -> tuple[str, list[str], list[str]]:
    """Title, facts, and the notes and warnings for the header, each labelled (``note: ...``, ``warning: ...``).

    A suggestion's notes are "note", as the summary of ``lrfind`` and the docs call them; the rest are warnings.

    ``applied_lr``: the LR training was set to (:func:`plot_range_test`'s), said next to the suggestion where it
    differs from the LR to train with (a one-cycle schedule's peak).

    ``title_chars``: the characters a line of the title holds; the names of several models are then
    cut shorter, their parameter counts left out, and the names cut shorter again, down to
    :data:`_SHORTEST_MODEL_NAME` characters each, until the title fits in :data:`_TITLE_LINES` lines
    (:func:`_title_lines`).
    """
    first = results[0]
    # Curves of several models (`lrfind report a.json b.json`) name each, in legend order: the title named the
    # first one's alone, as if every curve were of it.
    models = _model_names(results, 40)
    if len(models) == 1:
        name, params = models[0]
        # A curve recorded elsewhere (RangeTestResult.from_curve) has no count: "(? trainable parameters)" said nothing.
        title = f"LR range test: {name}" + ("" if params == "?" else f" ({params} trainable parameters)")
    else:
        # Too long for the title's lines, the names are cut shorter; still too long, the counts go before the
        # names are cut shortest: a name tells the curves apart, a count does not.
        tries = [(limit, True) for limit in range(40, 23, -4)]
        tries += [(limit, False) for limit in range(40, _SHORTEST_MODEL_NAME - 1, -4)]
        for limit, with_counts in tries:
            models = _model_names(results, limit)
            # " / ", not ", ": the counts have thousands separators ("4,420, 411" read as three numbers).
            names, counts = " / ".join(m[0] for m in models), " / ".join(m[1] for m in models)
            title = f"LR range test: {names}" + (f" ({counts} trainable parameters)" if with_counts else "")
            if title_chars is None or len(_title_lines(title, title_chars, cut=False)) <= _TITLE_LINES:
                break
    facts: list[str] = []
    warnings: list[str] = []
    if len(results) == 1:
        r = first
        scaled = _moved(r)
        batch = f"batch size {_fmt_int(r.batch_size)}{_batch_parts(r)}"
        if scaled is not None:
            batch += f" -> target {format_batch(scaled.to_batch_size)} ({scaled.rule} rule, x{scaled.factor:.3g})"
        if r.settings.precision_words:
            batch += f"  |  {r.settings.precision_words}"
        if r.settings.clipping:
            batch += f"  |  gradients {r.settings.clipping}"
        # A sweep that ran every step says so by its count: "stopped: completed" read against the legend's
        # "blew up at" (the stop rule waits for stop_factor x the best loss, the analysis reads a smaller rise).
        # One that stopped says why and where, as lrfind's summary does (result.stop_words, without its rule).
        stopped = ""
        if r.stop_reason != "completed":
            stopped = f"  |  stopped: {STOP_NAMES[r.stop_reason]}"
            if r.stop_lr is not None:
                stopped += f" at lr {r.stop_lr:.{_lr_digits(r)}e}"
        facts.append(
            f"{_optimizer_fact(r.optimizer_name)}  |  {batch}  |  "
            f"steps run {r.num_steps}/{r.settings.num_steps} ({_sweep(r)}){stopped}"
        )
        s = r.suggestion
        d = _lr_digits(r)
        if s is not None:
            derivation = s.derivation or f"{s.lr:.{d}e}"
            groups = _lr_groups(results, of_it=True)
            # The LRs are the swept group's: say so where they are read, with what the others get.
            facts.append(
                f"suggested lr {derivation}  (rule {s.rule})"
                + ("" if groups is None else f"  |  LRs are those of param {groups[0]} ({groups[1]})")
                + _applied_fact(r, applied_lr, d)
            )
            line = f"one-cycle band {s.min_lr:.{d}e} .. {s.max_lr:.{d}e}  |  confidence {s.confidence:.2f}"
            line += _spread_fact(r)
            if scaled is not None:
                line += f"  |  train with {scaled.lr:.{d}e} at batch {format_batch(scaled.to_batch_size)}"
                if scaled.warmup_epochs:
                    line += f"  |  warm up {scaled.warmup_epochs} epoch{'' if scaled.warmup_epochs == 1 else 's'}"
            facts.append(line)
            f = r.refinement
            if f is not None and f.lr is not None:
                facts.append(
                    f"refined lr {f.lr:.{d}e} ({f.schedule} trials judged on {_judged_on(f)}; "
                    f"the curve said {f.curve_lr:.{d}e})" if f.curve_lr is not None else
                    f"refined lr {f.lr:.{d}e} ({f.schedule} trials judged on {_judged_on(f)})"
                )
            elif f is not None and f.trials:
                # The summary says "refined lr none"; the header said nothing, over a bold suggested lr.
                low, high = min(t.lr for t in f.trials), max(t.lr for t in f.trials)
                warnings.insert(
                    0, f"warning: every refine trial diverged ({low:.2e} .. {high:.2e}): the LR falls back to the "
                    "curve's suggested lr"
                )
            warnings.extend(f"note: {note}" for note in s.notes)
            if s.confidence < LOW_CONFIDENCE:
                warnings.insert(
                    0, f"warning: low confidence ({s.confidence:.2f}): read the curve before trusting the suggestion"
                )
        else:
            # The reason is written once, in the plot. Training may still have run, at an LR of its own (the
            # callback's fallback, the module's LR): the header said what was applied for a suggestion alone.
            line = (
                "no suggestion: the curve is inconclusive (why: see the plot)"
                if r.error is not None
                else "no suggestion: the result was not analysed (result.analyze() reads its curve)"
            )
            if applied_lr is not None:
                line += f"  |  applied in training: lr {applied_lr:.{d}e} (a fallback: the test found none)"
            facts.append(line)
        if r.scaled is not None and r.scaled.warning:
            # First: it is about the LR the header says to train with, and listed after the notes it was the line
            # hidden behind "(+N more warning lines)" when they filled the header.
            warnings.insert(0, f"warning: {r.scaled.warning}")
        if r.noise_scale is not None:
            facts.append(r.noise_scale.summary())
        elif r.noise_error is not None:
            # The whole reason, with what to do, is the result's noise_error (in its JSON), as the summary says.
            unmeasured = unmeasured_noise(r.noise_error)
            if _COMMAND_LINE.get():
                unmeasured = unmeasured.replace("noise_error says why", "--json's noise_error says why")
            facts.append(f"critical batch: {unmeasured}")
    else:
        # In legend order, each value once.
        optimizers = list(dict.fromkeys(_short(optimizers_words(r.optimizer_name) or "?", 40) for r in results))
        batches = list(dict.fromkeys(_fmt_int(r.batch_size) for r in results))
        # The training batch the curves were scaled to (`lrfind run --weight-decay ... --target-batch-size`), as one
        # curve's header says it: the overlay said the test's batch alone.
        targets = list(dict.fromkeys(
            f"{format_batch(sc.to_batch_size)} ({sc.rule} rule, x{sc.factor:.3g})"
            for sc in map(_moved, results) if sc is not None
        ))
        sweeps = list(dict.fromkeys(_sweep(r) for r in results))
        between = "; " if any("," in o or ":" in o for o in optimizers) else ", "  # "SGD; 2 optimizers: SGD x2"
        facts.append(
            f"{len(results)} curves  |  optimizer {between.join(optimizers)}"
            f"  |  batch size {', '.join(batches)}"
            + (f" -> target {', '.join(targets)}" if targets else "")
            + f"  |  sweep {'; '.join(sweeps)}"
        )
        for i, r in enumerate(results):
            label = _curve_name(results, i)
            if r.suggestion is None:
                warnings.append(f"warning: {label}: inconclusive ({_drawable(r.error or 'no suggestion')})")
            elif r.scaled is not None and r.scaled.warning:
                warnings.append(f"warning: {label}: {r.scaled.warning}")
    # The schedule is named in its own panel's title.
    return title, facts, warnings


def _applied_fact(result: RangeTestResult, applied_lr: float | None, digits: int = 2) -> str:
    """``"  |  applied in training: lr 5.92e-02 (...)"`` where training was set to another LR than ``result.lr``.

    The callback's report showed the suggested LR alone where a module's OneCycleLR trained up to its peak,
    twice as high (``LRFinder.applied_lr``); ``""`` where the two agree, or nothing was applied. Written with
    ``digits`` after the point (the header's, :func:`_lr_digits`), or more where those write it as the suggested
    LR: in a sweep of a small fraction of a decade both read ``1.00e-03``.
    """
    if applied_lr is None or result.lr is None or math.isclose(applied_lr, result.lr, rel_tol=1e-6):
        return ""
    peak = result.training_suggestion
    why = ""
    if peak is not None and math.isclose(applied_lr, peak.max_lr, rel_tol=1e-6):
        why = " (the one-cycle peak, training_suggestion.max_lr)"
    digits = apart_digits([result.lr, applied_lr], digits)
    return f"  |  applied in training: lr {applied_lr:.{digits}e}{why}"


def _judged_on(refinement: Any) -> str:
    """What the trials were judged on, in words both the CLI's and the Python API's reports can say.

    A refinement records ``"val_data"`` (``range_test``'s argument); the report drew it so under ``lrfind``, whose
    summary says ``--val-data``, and under the callback, which judges on the Trainer's validation loader.
    """
    return "validation data" if refinement.judged_on == "val_data" else _drawable(refinement.judged_on)


def _group_name(index: int, names: Sequence[str | None]) -> str:
    """``group 1 'head'`` (or ``group 1`` when the group has no name)."""
    name = names[index] if index < len(names) else None
    return f"group {index} {_short(name, 20)!r}" if name else f"group {index}"


def _ratio_text(ratio: float) -> str:
    """A group's LR ratio as a multiplier: ``0.1×``, ``0.003×``."""
    return f"{ratio:.2g}×"


def _lr_groups(
    results: Sequence[RangeTestResult], *, names: bool = True, of_it: bool = False
) -> tuple[str, str] | None:
    """Which param group's LR the LR axis shows, when the optimizer's groups had different LRs.

    Returns ``(swept, others)``: ``("group 1 'head'", "group 0 'body' at 0.1×")``, or ``("each
    curve's group with the largest LR", "the others at their ratios to it")`` for an overlay whose
    curves had other groups; ``None`` when every group had the same LR (or none was recorded).
    A group at ratio 0 (``lr=0``, a frozen group) is said to be frozen, not "at 0×" of the swept
    one: ``"group 0 'body' frozen at lr 0"``; with both kinds, ``"2 groups at 0.01× to 0.1×, 1
    frozen at lr 0"``. With ``names=False`` the groups are said by their index alone (``"group 1"``);
    with ``of_it=True`` the ratios read ``"at 0.1× of it"``, for a text that names the swept group
    just before.
    """
    split = [r for r in results if r.lr_ratios and min(r.lr_ratios) < 1.0]
    if not split:
        return None
    first = split[0]
    if len(results) > 1 and any((r.lr_ratios, r.group_names) != (first.lr_ratios, first.group_names) for r in results):
        return "each curve's group with the largest LR", "the others at their ratios to it"
    ref = first.lr_group or 0
    group_names = first.group_names if names else ()
    others = [(i, ratio) for i, ratio in enumerate(first.lr_ratios) if i != ref]
    # A group at lr 0 does not move with the sweep: "at 0× of it" read as a multiple of the swept LR.
    scaled = [(i, ratio) for i, ratio in others if ratio > 0.0]
    frozen = [i for i, ratio in others if ratio == 0.0]
    of = " of it" if of_it else ""
    parts = []
    if len(scaled) == 1:
        i, ratio = scaled[0]
        parts.append(f"{_group_name(i, group_names)} at {_ratio_text(ratio)}{of}")
    elif scaled:
        low, high = min(r for _, r in scaled), max(r for _, r in scaled)
        span = _ratio_text(low) if low == high else f"{_ratio_text(low)} to {_ratio_text(high)}"
        parts.append(f"{'the other ' if not frozen else ''}{len(scaled)} groups at {span}{of}")
    if len(frozen) == 1 and (not scaled or len(scaled) == 1):
        parts.append(f"{_group_name(frozen[0], group_names)} frozen at lr 0")
    elif frozen:
        noun = "group" if len(frozen) == 1 else "groups"
        parts.append(f"{'the other ' if not scaled else ''}{len(frozen)} {noun} frozen at lr 0")
    return _group_name(ref, group_names), ", ".join(parts)


def _lr_axis_label(results: Sequence[RangeTestResult], width: int | None = None) -> str:
    """The LR axis's label: which param group's LR it is when the groups had different LRs.

    ``learning rate of param group 1 'head' (log scale; group 0 'body' at 0.1× of it)``: the
    sweep set the group with the largest LR and kept the others' ratios, so the curve's LRs (and
    the picks) are that group's. ``width``: the characters a line of the label may hold (a small
    axes of one's own); a longer label is said shorter, in at most two lines (a third ran into
    the axes below in a 3 x 2 inch subplot): ``LR of param group 1 'head' (group 0 'body' at
    0.1×)``, the log scale read from the ticks; then without "param"; then the groups by their
    index alone (``LR of group 1 (group 0 at 0.1×)``); then cut short with "…".
    """
    full = _lr_groups(results, of_it=True)
    groups = _lr_groups(results)
    if full is None or groups is None:
        return "learning rate (log scale)"
    label = f"learning rate of param {full[0]} (log scale; {full[1]})"
    if width is None or len(label) <= width:
        return label
    swept, others = groups
    unnamed = _lr_groups(results, names=False) or groups
    shorter = (
        (f"LR of param {swept}", f"({others})"),
        (f"LR of {swept}", f"({others})"),
        (f"LR of {unnamed[0]}", f"({unnamed[1]})"),
    )
    # The group on one line and the others on the next reads best; a break inside either comes next.
    for head, tail in shorter:
        if len(head) <= width and len(tail) <= width:
            return f"{head} {tail}" if len(head) + 1 + len(tail) <= width else f"{head}\n{tail}"
    for head, tail in shorter:
        lines = textwrap.wrap(f"{head} {tail}", width, break_on_hyphens=False)
        if len(lines) <= 2:
            return "\n".join(lines)
    return "\n".join(
        textwrap.wrap(" ".join(shorter[-1]), width, max_lines=2, placeholder=" …", break_on_hyphens=False)
    )


def _sweep(result: RangeTestResult) -> str:
    """The planned sweep of ``result``, e.g. ``exp, 1.00e-07 .. 1.00e+01``."""
    settings = result.settings
    d = _lr_digits(result)
    return f"{settings.mode}, {settings.min_lr:.{d}e} .. {settings.max_lr:.{d}e}"


def _moved(result: RangeTestResult) -> ScaledLR | None:
    """The scaling of ``result`` when it changed the batch size or the LR, else ``None``."""
    sc = result.scaled
    if sc is None or (sc.to_batch_size == sc.from_batch_size and sc.lr == sc.base_lr):
        return None
    return sc


#: Separator of the fields of one header line; a long line breaks between fields first.
_FIELD_SEP = "  |  "


def _wrap(lines: Sequence[str], width: int) -> list[str]:
    """Wrap header lines to ``width`` characters, breaking between ``|`` fields where one fits."""
    out: list[str] = []
    for line in lines:
        rows: list[str] = []
        for field in line.split(_FIELD_SEP):
            joined = f"{rows[-1]}{_FIELD_SEP}{field}" if rows else field
            if rows and len(joined) <= width:
                rows[-1] = joined
            else:
                # Never at a hyphen: "1.00e-\n07" and "--num-\nsteps" read as two words. Room for the indent.
                rows.extend(textwrap.wrap(field, width=width - 4, break_on_hyphens=False) or [""])
        out.extend(rows[:1] + ["    " + row for row in rows[1:]])
    return out


#: Lines the header's title may take (an overlay of several models names each), and the fewest characters a model's
#: name is cut to to fit them (:func:`_header_lines`).
_TITLE_LINES = 2
_SHORTEST_MODEL_NAME = 12


def _title_lines(title: str, width: int, *, most: int = _TITLE_LINES, cut: bool = True) -> list[str]:
    r"""``title`` in lines of at most ``width`` characters, at most ``most`` of them when ``cut``.

    An overlay's title naming several models was cut to one line with an ellipsis, and lost every
    name but the first. It is wrapped between words; only what ``most`` lines cannot hold is cut
    (the last line ends in an ellipsis). A mathtext title (``$\alpha$ sweep``) keeps one line, cut:
    a line break may fall inside its ``$...$``.
    """
    if len(title) <= width:
        return [title]
    if most <= 1 or re.search(r"(?<!\\)\$", title):
        return [_short(title, width)]
    lines = textwrap.wrap(title, width, break_on_hyphens=False) or [title]
    if cut and len(lines) > most:
        lines = lines[: most - 1] + [_short(" ".join(lines[most - 1 :]), width)]
    return [_short(line, width) for line in lines] if cut else lines


#: Lines the header may hold under its title; warnings always keep :data:`_WARNING_ROOM` of them.
_HEADER_ROOM = 8
_WARNING_ROOM = 2


def _header_text(
    results: Sequence[RangeTestResult], width_chars: int, title: str | None, applied_lr: float | None = None
) -> list[tuple[str, str | None]]:
    """Return the header as ``(line, colour)`` pairs: title first, then facts, then warnings."""
    # The title is in a larger bold font: about 0.65 of the characters of a body line fit on a line.
    title_chars = int(0.65 * width_chars)
    default_title, facts, warnings = _header_lines(results, title_chars, applied_lr)
    body = [(line, None) for line in _wrap(facts, width_chars)]
    warn = [(line, COLORS["warning"]) for line in _wrap(warnings, width_chars)]
    # Keep the header readable: at most _HEADER_ROOM lines under the title, the rest summarised;
    # a cut warning ends in an ellipsis, never mid-sentence without one, and is never hidden whole.
    if len(body) + len(warn) > _HEADER_ROOM:
        keep = max(_WARNING_ROOM, _HEADER_ROOM - len(body)) - 1
        hidden = len(warn) - keep
        # An overlay's warnings hold its inconclusive curves' errors too (one result's is in its plot instead).
        overlay_error = len(results) > 1 and any(r.suggestion is None for r in results)
        where = "error, notes and scaled.warning" if overlay_error else "notes and scaled.warning"
        more = f"(+{plural(hidden, 'more line')}: see the result's {where}, or its JSON)"
        if len(more) > width_chars:
            # Never wrapped (the header has no line to spare): in a narrow figure it ran off the right edge.
            more = f"(+{hidden} more: the result's {where})"
        warn = warn[:keep] + [(more, COLORS["warning"])]
        if keep:
            warn[keep - 1] = (warn[keep - 1][0] + " …", COLORS["warning"])
    # One model's title, or one of the caller's, keeps its one line (cut): in a small report a second line took
    # the loss panel's room for a word or two. An overlay's names each model.
    several = title is None and len({(r.model_name, r.num_parameters) for r in results}) > 1
    title_lines = _title_lines(
        title if title is not None else default_title, title_chars, most=_TITLE_LINES if several else 1
    )
    return [("\n".join(title_lines), "title"), *body, *warn]


_TITLE_PT = 20.0
_LINE_PT = 15.5


def _header_points(lines: Sequence[tuple[str, str | None]], scale: float = 1.0) -> float:
    """The height in points of the header's ``lines`` above their first body line: the title's, of one or two lines.

    ``scale``: the header's type relative to the default report's (:func:`_header_scale`).
    """
    titles = sum(line.count("\n") + 1 for line, color in lines if color == "title")
    return _TITLE_PT * scale * max(titles, 1)


#: A report less high than this (inches) sets its header smaller, by :data:`_SMALL_HEADER_SCALE`: at 6 x 4.5 inches
#: ten header lines in 10.5 pt took half the figure and left the loss panel under an inch.
_SMALL_HEADER_BELOW = 6.0
_SMALL_HEADER_SCALE = 0.8


#: A report less high than this (inches) sets its header smaller again, by :data:`_TINY_HEADER_SCALE`: at 5 x 4
#: inches twelve lines at 0.8 took two thirds of the figure, and the loss panel ran up over them.
_TINY_HEADER_BELOW = 4.5
_TINY_HEADER_SCALE = 0.7


def _header_scale(size: tuple[float, float]) -> float:
    """The size of the header's type in a report of ``size`` inches, relative to the default report's."""
    if size[1] < _TINY_HEADER_BELOW:
        return _TINY_HEADER_SCALE
    return _SMALL_HEADER_SCALE if size[1] < _SMALL_HEADER_BELOW else 1.0


def _draw_header(ax: Axes, lines: Sequence[tuple[str, str | None]], scale: float = 1.0) -> None:
    """Write the header's ``lines`` (:func:`_header_text`), the type set ``scale`` times the default report's."""
    ax.set_axis_off()
    # Lines are placed at fixed offsets in points from the top, so spacing never depends on the
    # strip's height.
    for i, (line, color) in enumerate(lines):
        if color == "title":
            text = ax.annotate(
                line,
                xy=(0.0, 1.0),
                xycoords="axes fraction",
                xytext=(0, 0),
                textcoords="offset points",
                ha="left",
                va="top",
                fontsize=14 * scale,
                fontweight="bold",
            )
            # The strip's height is set from the number of lines; a line longer than the figure
            # is cut at its edge rather than letting the layout shrink every panel to fit it.
            text.set_in_layout(False)
            continue
        offset = _header_points(lines, scale) + (4.0 + (i - 1) * _LINE_PT) * scale
        text = ax.annotate(
            line,
            xy=(0.0, 1.0),
            xycoords="axes fraction",
            xytext=(0, -offset),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=10.5 * scale,
            color=color or "black",
        )
        text.set_in_layout(False)


def _value_at(lrs: np.ndarray, values: np.ndarray, lr: float) -> float:
    """Return the value of a curve at one of its own LRs (nearest in log space)."""
    finite = np.isfinite(values)
    if not finite.any():
        return math.nan
    idx = np.flatnonzero(finite)
    j = idx[int(np.argmin(np.abs(np.log10(lrs[idx]) - math.log10(lr))))]
    return float(values[j])


def _mark(
    ax: Axes,
    kind: str,
    x: float,
    y: float,
    *,
    color: str | None = None,
    size: float | None = None,
    label: str | None = None,
    **kwargs: Any,
) -> None:
    """Draw one pick as a marker styled by :data:`MARKERS` (``color`` recolours it for an overlay)."""
    style = dict(MARKERS[kind])
    if color is not None:
        style["mfc" if style["mfc"] != "white" else "mec"] = color
    if size is not None:
        style["ms"] = size
    ax.plot([x], [y], ls="none", zorder=kwargs.pop("zorder", 5), label=label, **style, **kwargs)


#: A corner of the axes a legend may take.
_Corner = Literal["lower left", "upper left", "lower right", "upper right"]
#: Where the single-curve legend may go, in order of preference on a tie (the top of the axes
#: holds the pick labels).
_LEGEND_LOCS: tuple[_Corner, ...] = (
    "lower left",
    "upper left",
    "lower right",
    "upper right",
)
#: A pick marker (a one-point line: steepest, minimum, divergence) weighs as much as this many
#: flat-region curve points when the legend is placed: covering a pick hides what the report is about.
_MARKER_WEIGHT = 50
#: A curve point from the fall onwards (``focus_from``) weighs as much as this many flat ones.
_FOCUS_WEIGHT = 10
#: Covering a text of the axes (the suggested LR's label, the inconclusive message) costs more
#: than covering every point: a legend over a label hides the answer.
_TEXT_WEIGHT = 1e9
#: A one-column legend taller than this fraction of its axes is laid out in two columns.
_TALL_LEGEND = 0.5


def _renderer(ax: Axes) -> Any:
    """A renderer to measure texts and legends of ``ax``'s figure with.

    The figure's own canvas gives it (the report's Agg canvas, pyplot's); a plain
    :class:`~matplotlib.figure.Figure` has a bare ``FigureCanvasBase`` with none, and is measured
    with an Agg renderer of its size and dpi (its canvas is left as it is).
    """
    canvas = ax.figure.canvas
    get = getattr(canvas, "get_renderer", None)
    if callable(get):
        return get()
    from matplotlib.backends.backend_agg import RendererAgg

    root = getattr(ax.figure, "figure", None) or ax.figure
    return RendererAgg(int(root.bbox.width), int(root.bbox.height), root.dpi)


def _text_extents(ax: Axes, renderer: Any) -> list[Any]:
    """The extent of each of ``ax``'s texts in axes units, its framed box included (the LR labels').

    A text's own extent leaves out the padded frame drawn around it: a legend beside a label's
    text, clear of it, still covered its frame's edge.
    """
    return [_framed_extent(text, renderer).transformed(ax.transAxes.inverted()) for text in ax.texts]


def _framed_extent(text: Any, renderer: Any) -> Any:
    """The extent of ``text`` in display units, the padded frame drawn around it included."""
    from matplotlib.transforms import Bbox

    extent = text.get_window_extent(renderer)
    patch = text.get_bbox_patch()
    if patch is not None:
        text.update_bbox_position_size(renderer)  # the frame is sized and placed at draw time
        extent = Bbox.union([extent, patch.get_window_extent(renderer)])
    return extent


def _plotted_points(ax: Axes, focus_from: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Every plotted point of ``ax`` in axes units, and its weight for the legend's placement.

    Pick markers (one-point lines) weigh :data:`_MARKER_WEIGHT`; curve points at LRs from
    ``focus_from`` on :data:`_FOCUS_WEIGHT`, the others 1. Lines drawn in axes units along y that
    span the height (the pick lines) are left out.
    """
    points: list[np.ndarray] = [np.empty((0, 2))]
    weights: list[np.ndarray] = [np.empty(0)]
    for line in ax.get_lines():
        if line.get_transform() != ax.transData and np.size(line.get_xdata()) != 1:
            continue  # lines drawn in axes units (the pick lines spanning the height)
        xy = np.column_stack([np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)])
        xy = xy[np.isfinite(xy).all(axis=1)]
        # A marker may be placed in axes units along y (the first non-finite loss, at the bottom).
        to_axes = line.get_transform() + ax.transAxes.inverted()
        points.append(to_axes.transform(xy) if xy.size else np.empty((0, 2)))
        if len(xy) == 1:
            weights.append(np.full(1, float(_MARKER_WEIGHT)))
        else:
            focus = xy[:, 0] >= focus_from if focus_from is not None else np.zeros(len(xy), dtype=bool)
            weights.append(np.where(focus, float(_FOCUS_WEIGHT), 1.0))
    return np.concatenate(points), np.concatenate(weights)


def _place_legend(ax: Axes, *, focus_from: float | None = None, **kwargs: Any) -> float:
    """Put the legend where it covers the least of the plot: a corner, in one or two columns.

    matplotlib's ``loc="best"`` can land on the right of a typical curve (flat on the left, then
    the fall, the minimum and the blow-up on the right), over the part a reader came for. Here
    the legend's real size is measured, and every plotted point (curve, raw losses) in each
    corner is counted, with the axes' limits already set: points at LRs from ``focus_from`` on
    (the fall and what follows) count :data:`_FOCUS_WEIGHT` times, pick markers
    :data:`_MARKER_WEIGHT` times, the flat start once; a corner over one of the axes' texts (the
    LR labels, their framed boxes included) is taken last. A legend taller than :data:`_TALL_LEGEND`
    of the axes (a short loss panel above the schedule, batch and trial panels) may also take two columns: the
    layout and corner that cover least win (one column, the lower left, on a tie), so a tall
    narrow legend over the flat start beats a wide one over the fall.

    Returns:
        How much of what matters the placed legend covers: the weight of the points from
        ``focus_from`` on and of the pick markers under it (0.0: only the flat start, or nothing).

    """
    renderer = _renderer(ax)

    def measure(settings: dict[str, Any]) -> tuple[float, float]:
        legend = ax.legend(loc=_LEGEND_LOCS[0], **settings)
        size = legend.get_window_extent(renderer).transformed(ax.transAxes.inverted())
        legend.remove()
        return size.width, size.height

    layouts = [dict(kwargs)]
    width, height = measure(kwargs)
    sizes = [(width, height)]
    entries = len(kwargs["labels"]) if "labels" in kwargs else len(ax.get_legend_handles_labels()[1])
    if height > _TALL_LEGEND and "ncol" not in kwargs and entries > 3:
        layouts.append({**kwargs, "ncol": 2})
        sizes.append(measure(layouts[-1]))
        if height > 0.95:  # a one-column legend taller than the panel would run off it
            layouts, sizes = layouts[1:], sizes[1:]
    texts = _text_extents(ax, renderer)
    xy, weight = _plotted_points(ax, focus_from)

    def inside(size: tuple[float, float], loc: str) -> tuple[np.ndarray, float]:
        width, height = min(size[0], 1.0), min(size[1], 1.0)
        x0 = 0.0 if "left" in loc else 1.0 - width
        y0 = 0.0 if "lower" in loc else 1.0 - height
        under = (xy[:, 0] >= x0) & (xy[:, 0] <= x0 + width) & (xy[:, 1] >= y0) & (xy[:, 1] <= y0 + height)
        over = sum(b.x0 < x0 + width and b.x1 > x0 and b.y0 < y0 + height and b.y1 > y0 for b in texts)
        return under, _TEXT_WEIGHT * over

    def covered(size: tuple[float, float], loc: str) -> float:
        under, texts_under = inside(size, loc)
        return float(weight[under].sum()) + texts_under

    options = [(covered(size, loc), i, loc) for i, size in enumerate(sizes) for loc in _LEGEND_LOCS]
    _, best, loc = min(options, key=lambda o: o[0])
    ax.legend(loc=loc, **layouts[best])
    under, _ = inside(sizes[best], loc)
    return float(weight[under & (weight > 1.0)].sum())


def _points_in_view(ax: Axes, focus_from: float | None) -> np.ndarray:
    """The plotted points (curves, raw losses) of ``ax`` over its bottom and between its sides, in axes units."""
    xy, _ = _plotted_points(ax, focus_from)
    return xy[(xy[:, 1] >= 0.0) & (xy[:, 0] >= 0.0) & (xy[:, 0] <= 1.0)]


def _share_under(xy: np.ndarray, box: Bbox) -> float:
    """The share of the points ``xy`` inside ``box`` (both in axes units); 0 for no points."""
    if not len(xy):
        return 0.0
    return float(((xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1) & (xy[:, 1] >= box.y0) & (xy[:, 1] <= box.y1)).mean())


def _legend_cover(ax: Axes, focus_from: float | None, *, margin: float = 0.0) -> float:
    """The share of the points in view (:func:`_points_in_view`) under the legend's frame, padded by ``margin``."""
    legend = ax.get_legend()
    if legend is None:
        return 0.0
    box = legend.get_window_extent(_renderer(ax)).transformed(ax.transAxes.inverted()).padded(margin)
    return _share_under(_points_in_view(ax, focus_from), box)


#: The least share of the loss panel's height the curve keeps when the panel's top is raised to
#: make room for the legend above it (:func:`_make_legend_room`); a legend that needs more stays where it is.
_LEGEND_ROOM_MIN_SHARE = 0.6


def _make_legend_room(ax: Axes, top: float, *, focus_from: float | None, **kwargs: Any) -> None:
    """Make room for the legend beside the curve, when in every corner it covers some of it.

    :func:`_place_legend` takes the corner that covers least; in a short loss panel (above the
    batch, schedule and trial panels) its eight entries are half the panel's height, and the
    least it covered was the curve's flat start, hidden behind it (``examples/ddp_cpu.py``'s
    report). Here each corner, in one or two columns, is sized for the legend with the curve below
    it (above it in a lower corner): the one that squashes the curve least wins, and the panel's
    top is raised (its bottom lowered) by what it needs, unless the curve would keep less than
    :data:`_LEGEND_ROOM_MIN_SHARE` of the height.
    A corner over one of the axes' texts (the LR labels) is never taken. The curves stay cut at
    the old ``top`` (its explosion was clipped there), as :func:`_make_headroom` cuts them.
    """
    legend = ax.get_legend()
    if legend is None:
        return
    margin = 0.03  # between the curve's points and the legend's frame: the line has a width
    renderer = _renderer(ax)
    to_axes = ax.transAxes.inverted()
    xy = _points_in_view(ax, focus_from)
    if not _share_under(xy, legend.get_window_extent(renderer).transformed(to_axes).padded(margin)):
        return
    texts = [extent.padded(margin) for extent in _text_extents(ax, renderer)]
    entries = len(ax.get_legend_handles_labels()[1])
    layouts = [dict(kwargs)] + ([{**kwargs, "ncol": 2}] if "ncol" not in kwargs and entries > 3 else [])
    best: tuple[float, _Corner, dict[str, Any]] | None = None
    for layout in layouts:
        for loc in _LEGEND_LOCS:
            trial = ax.legend(loc=loc, **layout)
            size = trial.get_window_extent(renderer).transformed(to_axes)
            trial.remove()
            if size.height >= 1.0 - 2.0 * margin or any(
                b.x0 < size.x1 and b.x1 > size.x0 and b.y0 < size.y1 and b.y1 > size.y0 for b in texts
            ):
                continue
            under = xy[(xy[:, 0] >= size.x0 - margin) & (xy[:, 0] <= size.x1 + margin), 1]
            if loc.startswith("upper"):
                # Points above the top are cut there: they end at the old top, wherever it moves.
                high = min(float(under.max()), 1.0) if under.size else 0.0
                share = (size.y0 - margin) / high if high > 0.0 else 1.0
            else:
                low = float(under.min()) if under.size else 1.0
                share = (1.0 - size.y1 - margin) / (1.0 - low) if low < 1.0 else 1.0
            # Above 1 the corner is free with room to spare: the freest one reads best.
            if best is None or share > best[0]:
                best = (share, loc, layout)
    if best is None or best[0] < _LEGEND_ROOM_MIN_SHARE:
        _place_legend(ax, focus_from=focus_from, **kwargs)  # the trials replaced it: as it was
        return
    share, corner, layout = min(best[0], 1.0), best[1], best[2]
    low, high = ax.get_ylim()
    if corner.startswith("upper"):
        ax.set_ylim(low, low + (high - low) / share)
    else:
        ax.set_ylim(high - (high - low) / share, high)
    from matplotlib.transforms import Bbox, TransformedBbox, blended_transform_factory

    below_top = TransformedBbox(Bbox([[0.0, low], [1.0, top]]), blended_transform_factory(ax.transAxes, ax.transData))
    for line in ax.get_lines():
        if np.size(line.get_xdata()) > 1 and line.get_transform() == ax.transData:
            line.set_clip_box(below_top)
    ax.legend(loc=corner, **layout)


#: An overlay legend that covers more than this weight of the fall and the picks (two points of
#: the fall, :data:`_FOCUS_WEIGHT` each) in every corner goes under the panels instead.
_OVERLAY_LEGEND_COVER = 2 * _FOCUS_WEIGHT


def _legend_below(ax: Axes, legend: dict[str, Any]) -> None:
    """Move the loss panel's legend under the figure's panels, in two columns.

    An overlay of many curves fills every corner of the loss panel: its legend (a line per curve)
    covered the falls of the first curves wherever it went.
    """
    handles, labels = ax.get_legend_handles_labels()
    old = ax.get_legend()
    if old is not None:
        old.remove()
    settings = {**legend, "ncol": 2 if len(labels) > 3 else 1, "loc": "outside lower center"}
    cast("Figure", ax.figure).legend(handles, labels, **settings)


def _text_box(ax: Axes, x: float, y: float, text: str, color: str, *, fontsize: float, **kwargs: Any) -> None:
    """Write ``text`` in a white box edged with ``color`` (``x`` in data, ``y`` in axes units)."""
    from matplotlib.transforms import blended_transform_factory

    pad = kwargs.pop("pad", 0.2)
    alpha = kwargs.pop("alpha", 0.9)
    ax.text(
        x,
        y,
        text,
        transform=kwargs.pop("transform", blended_transform_factory(ax.transData, ax.transAxes)),
        ha=kwargs.pop("ha", "left"),
        va=kwargs.pop("va", "top"),
        fontsize=fontsize,
        color=color,
        zorder=6,
        bbox={"boxstyle": f"round,pad={pad}", "fc": "white", "ec": color, "alpha": alpha},
        **kwargs,
    )


#: Offsets in points from the top of the loss panel of the LR labels' rows: the LR to train with
#: first, then the others, one row each so they never overlap, whatever the panel's height.
_LABEL_ROWS = (3.0, 28.0, 50.0)


def _lr_label(ax: Axes, row: int, lr: float, text: str, color: str, *, main: bool = False) -> None:
    """Label the vertical line at ``lr`` at the top of the loss panel, on row ``row``.

    The label reads to the right of its line, or to the left when the line is in the right third
    of the axes, so it never runs off the figure. The x limits must be set before.
    """
    low, high = (math.log10(v) for v in ax.get_xlim())
    ha = "right" if (math.log10(lr) - low) / (high - low) > 0.65 else "left"
    _text_box(
        ax, lr, 1.0, f" {text} ", color, fontsize=12 if main else 10, ha=ha, transform=_lr_row(ax, _LABEL_ROWS[row]),
        fontweight="bold" if main else "normal", alpha=0.9 if main else 0.85, gid=_LR_LABEL,
    )  # fmt: skip
    # Out of the layout: a long label (an overlay's curve name) ran past the axes, and the layout
    # narrowed every panel to make room for it. _keep_lr_labels_inside moves it back instead.
    ax.texts[-1].set_in_layout(False)


#: The gid of the LR labels of the loss panel.
_LR_LABEL = "lr_label"
#: The rows (as :data:`_LABEL_ROWS`) the loss panel's LR labels other than the main one may take, highest first
#: (:func:`_place_lr_labels`): a two-line label (the scaled LR's) is about 26 points high.
_MORE_LABEL_ROWS = (28.0, 50.0, 78.0, 106.0, 134.0, 162.0, 190.0, 218.0)


def _lr_row(ax: Axes, points: float) -> Any:
    """The transform of an LR label of ``ax`` whose top is ``points`` below the panel's top (x in data units)."""
    from matplotlib.transforms import blended_transform_factory, offset_copy

    anchor = blended_transform_factory(ax.transData, ax.transAxes)
    return offset_copy(anchor, fig=cast("Figure", ax.figure), y=-points, units="points")


def _place_lr_labels(ax: Axes) -> None:
    """Move the loss panel's LR labels other than the main one where they cover no line, curve or text.

    The scaled LR's label ("scaled lr = 5.70e-02 (batch 64)") and the curve's reading under a
    refined LR sat on a fixed row beside their dashed lines: a scaled LR just above the suggested
    one had its label across the green line, one past the divergence across the blow-up line and
    the rising curve. Each takes the highest of :data:`_MORE_LABEL_ROWS`, on either side of its
    line, that covers none of them (:func:`_place_labels`). Measured on the final layout.
    """
    labels = [t for t in ax.texts if t.get_gid() == _LR_LABEL and t.get_fontweight() != "bold"]

    def put(text: Any, row: float, side: str) -> None:
        text.set_transform(_lr_row(ax, row))

    _place_labels(ax, labels, _MORE_LABEL_ROWS, put)


def _keep_lr_labels_inside(ax: Axes) -> None:
    """Turn an LR label that runs past the loss panel's side to the other side of its line.

    The side is first chosen from the line's place alone (:func:`_lr_label`); a long label (the
    recommended curve's name in an overlay) near the middle ran off the panel and the figure.
    Of the two sides, the one that runs out less wins. A label wider than either side leaves (a
    small axes of one's own) is set smaller, down to :data:`_SMALL_LR_LABEL_PT`, then said shorter
    (``suggested: 2.85e-02``, the curve's name left to the legend), then set smaller again, down to
    :data:`_SMALLEST_LR_LABEL_PT`. Measured on the final layout.
    """
    renderer = _renderer(ax)
    frame = ax.get_window_extent(renderer)

    def overflow(text: Any) -> float:
        """How far ``text`` runs past the panel on its best side, which it is turned to."""
        first = text.get_horizontalalignment()
        past: dict[str, float] = {}
        for side in (first, "left" if first == "right" else "right"):
            text.set_horizontalalignment(cast('Literal["left", "right"]', side))
            box = text.get_window_extent(renderer)
            # A few pixels more than the text: its frame (the box's pad) must fit too.
            past[side] = max(box.x1 + 4.0 - frame.x1, 0.0) + max(frame.x0 - box.x0 + 4.0, 0.0)
            if past[side] == 0.0:
                break
        best = min(past, key=past.__getitem__)
        text.set_horizontalalignment(cast('Literal["left", "right"]', best))
        return past[best]

    def shrink(text: Any, smallest: float) -> bool:
        """Set ``text`` smaller, step by step down to ``smallest`` points, until it fits; whether it does."""
        while float(text.get_fontsize()) > smallest:
            text.set_fontsize(max(float(text.get_fontsize()) * 0.85, smallest))
            if overflow(text) == 0.0:
                return True
        return False

    for text in ax.texts:
        if text.get_gid() != _LR_LABEL or overflow(text) == 0.0 or shrink(text, _SMALL_LR_LABEL_PT):
            continue
        short = text.get_text()
        for pattern, words in _SHORTER_LR_LABELS:
            short = re.sub(pattern, words, short)
        if short != text.get_text():
            text.set_text(short)
            if overflow(text) == 0.0:
                continue
        shrink(text, _SMALLEST_LR_LABEL_PT)


#: The type an LR label too wide for its panel is set down to before it is said shorter, and the
#: smallest it is set in then (:func:`_keep_lr_labels_inside`).
_SMALL_LR_LABEL_PT = 9.0
_SMALLEST_LR_LABEL_PT = 7.5
#: How an LR label too long for its panel at that size is said shorter: the words before the LR,
#: each pick keeping its own word (``suggested: 2.85e-02``, ``refined: 2.00e-02``, ``curve: ...``,
#: ``scaled: ...``; both picks read "lr = ..." before, alike), and an overlay curve's name (its
#: legend entry names it).
_SHORTER_LR_LABELS: tuple[tuple[str, str], ...] = (
    (r"^( ?)(suggested|refined) lr = ", r"\1\2: "),
    (r"^( ?)curve's reading = ", r"\1curve: "),
    (r"^( ?)scaled lr = ", r"\1scaled: "),
    (r" \([^()\n]*\)( ?)$", r"\1"),
)


def _tick_text(value: float) -> str:
    """A tick's LR in the report's format with the digits it needs: ``1e-03``, ``2e-01``, ``1.2e-06``.

    A narrow sweep (less than a decade) gets ticks between the powers of ten and their multiples,
    which one digit would all write alike (seven ticks read ``1e-06``).
    """
    return f"{value:.{_tick_digits(value)}e}"


def _batch_tick_text(value: float) -> str:
    """A batch size on the batch panel's axis: ``1,024``."""
    return f"{value:,.0f}"


def _tick_digits(value: float) -> int:
    """The fewest digits after the point (0 to 3) that write ``value`` exactly in ``e`` notation."""
    for digits in range(4):
        if abs(float(f"{value:.{digits}e}") - value) <= 1e-9 * abs(value):
            return digits
    return 3


def _lr_digits(result: RangeTestResult) -> int:
    """The digits after the point of the LRs the header and the legend name for ``result``: 2, or more.

    2 writes ``1.00e-03``; a sweep spanning a small fraction of a decade needs more. Two of the LRs named (the
    suggestion, the minimum, the band's ends, the sweep's) are told apart where they lie more than half a sweep
    step apart: in a sweep of ``1e-3 .. 1.0001e-3`` each was ``1.00e-03``. A sweep whose steps are more than 2%
    apart (any of the usual ones) keeps 2 digits.
    """
    named = [result.settings.min_lr, result.settings.max_lr]
    s = result.suggestion
    if s is not None:
        named += [s.lr, s.min_lr, s.max_lr, s.steepest_lr, s.min_loss_lr]
        named += [v for v in (s.divergence_lr, s.blowup_lr, s.non_finite_lr) if v is not None]
    f = result.refinement
    if f is not None:
        named += [v for v in (f.lr, f.curve_lr) if v is not None]
    return sweep_digits(result.lrs, named)


#: The multiples of a power of ten a log axis of few decades labels, densest first (:func:`_label_steps`):
#: every one, matplotlib's own subset, 1-2-5, 1-3, and the powers of ten alone.
_LABEL_STEPS: tuple[tuple[int, ...], ...] = ((1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 6), (1, 2, 5), (1, 3), (1,))


def _label_steps(axis: Any, fmt: Callable[[float], str]) -> tuple[int, ...] | None:
    """The multiples of each power of ten to label on ``axis`` when matplotlib labels fewer than three ticks.

    matplotlib labels only the powers of ten once an axis spans more than one: a sweep of
    ``1e-3 .. 1e-2`` (or ``1e-3 .. 3e-2``) had two labels, one at each end, and the batch panel's
    LR axis, its powers of ten ticked every third decade, two (``1e-01`` and ``1e+02``) with every
    line between them. Here an axis spanning half a decade or more with fewer than three major
    ticks in view gets the densest of :data:`_LABEL_STEPS` whose labels, at their closest, do not
    run into each other (measured from the axes' size and the tick font). ``None``: matplotlib's
    own choice stands (a wide axis, or one too short for any of these).
    """
    low, high = sorted(float(v) for v in axis.get_view_interval())
    if not (low > 0.0 and math.isfinite(high)) or math.log10(high / low) < 0.5:
        return None
    if sum(low <= v <= high for v in axis.get_majorticklocs()) >= 3:
        return None
    decades = math.log10(high / low)
    length, need = _label_room(axis, max(len(fmt(low)), len(fmt(high))))
    for steps in _LABEL_STEPS:
        closest = min(math.log10(b / a) for a, b in zip(steps, (*steps[1:], 10)))
        if closest * length / decades >= need:
            return steps
    return None


def _label_room(axis: Any, chars: int) -> tuple[float, float]:
    """The length of ``axis`` in pixels, and the room along it that a tick label of ``chars`` characters needs."""
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties

    vertical = axis.axis_name == "y"
    box = axis.axes.bbox
    length = float(box.height if vertical else box.width)
    size = FontProperties(size=rcParams["ytick.labelsize" if vertical else "xtick.labelsize"]).get_size_in_points()
    size *= _dpi(axis.axes) / 72.0
    # A label's height (with a gap) on a vertical axis; its width plus one em on a horizontal one.
    return length, 1.5 * size if vertical else (chars * 0.62 + 1.0) * size


class _LogLabels(LogFormatterSciNotation):
    """:func:`_log_labels`' formatter; a class of the module (not of the function) so that a report pickles.

    An axis spanning a small fraction of a decade (a sweep of ``1e-3 .. 1.0001e-3``) gets matplotlib's
    linear ticks between the powers of ten: each is written with the digits that tell it from the others
    (``1.00002e-03``, where ``fmt`` wrote them all ``1.000e-03``), and labelled only where its label
    clears its neighbours' and the powers of ten's (:attr:`labelled`).
    """

    steps: tuple[int, ...] | None = None
    #: Digits after the point for every label, where ``fmt`` writes two ticks in view alike; else ``None``.
    digits: int | None = None
    #: The linear ticks of a narrow axis that get a label; ``None``: matplotlib's choice (with :attr:`steps`).
    labelled: frozenset[float] | None = None

    def __init__(self, fmt: Callable[[float], str], *, labelOnlyBase: bool = True) -> None:  # noqa: N803
        super().__init__(labelOnlyBase=labelOnlyBase)
        self.fmt = fmt

    def set_locs(self, locs: Any = None) -> None:
        """Choose the ticks to label and their digits, for the ticks ``locs`` about to be drawn."""
        super().set_locs(locs)
        self.steps = _label_steps(self.axis, self.fmt)
        self.digits = self.labelled = None
        axis = self.axis
        if locs is None or not isinstance(axis, MplAxis):
            return
        low, high = sorted(float(v) for v in axis.get_view_interval())
        shown = sorted({float(x) for x in locs if low <= x <= high and x > 0.0 and self._label(float(x), None)})
        if not any(_multiple(x) is None for x in shown):
            return  # ticks at multiples of powers of ten: matplotlib's labels stand
        if len({self.fmt(x) for x in shown}) < len(shown):
            self.digits = apart_digits(shown, 4)
        length, need = _label_room(axis, max(len(self._text(x)) for x in shown))
        per_decade = length / math.log10(high / low)
        taken = [float(v) for v in axis.get_majorticklocs() if low <= v <= high and v > 0.0]
        labelled = []
        for x in shown:
            if all(abs(math.log10(x / t)) * per_decade >= need for t in taken):
                labelled.append(x)
                taken.append(x)
        self.labelled = frozenset(labelled)

    def _label(self, x: float, pos: int | None) -> bool:
        """Whether matplotlib (or :attr:`steps`) labels the tick at ``x``."""
        multiple = _multiple(x) if self.steps is not None else None
        if multiple is not None:
            return multiple in self.steps  # type: ignore[operator]
        return bool(super().__call__(x, pos))

    def _text(self, x: float) -> str:
        return self.fmt(x) if self.digits is None else f"{x:.{self.digits}e}"

    def __call__(self, x: float, pos: int | None = None) -> str:
        """The label of the tick at ``x``, or ``""``."""
        if self.labelled is not None:
            return self._text(x) if float(x) in self.labelled else ""
        return self._text(x) if self._label(x, pos) else ""


def _multiple(x: float) -> int | None:
    """The whole multiple of a power of ten that ``x`` is (``3`` for ``3e-04``), else ``None`` (``1.0002e-03``)."""
    if not x > 0.0:
        return None
    power = 10.0 ** math.floor(math.log10(x) + 1e-9)
    multiple = round(x / power)
    return multiple if abs(x / power - multiple) < 1e-6 else None


def _log_labels(axis: Any, fmt: Callable[[float], str] = _tick_text) -> None:
    """Label a log axis in the report's number format (``1e-03``, ``2e-01``) instead of mathtext.

    matplotlib decides which ticks get a label (every decade, and the minor ticks when the axis
    spans little), unless it would label fewer than three on an axis of half a decade or more
    (:func:`_label_steps`); the text reads ``1e-01`` and ``2e-01`` where matplotlib wrote
    ``10^-1`` and ``2×10^-1``, as the LRs are written everywhere else. ``fmt`` is a function of
    the module, so that the figure pickles.
    """
    axis.set_major_formatter(_LogLabels(fmt))
    axis.set_minor_formatter(_LogLabels(fmt, labelOnlyBase=False))


def _named_blowup(result: RangeTestResult) -> tuple[float, bool] | None:
    """The blow-up LR an inconclusive result's message names, and whether it calls the rise doubtful, else ``None``.

    The analysis reads no curve past a blow-up, and its message says where that was
    (:func:`lrfinder.analysis.find_blowup_lr`), but the plot drew the whole curve with no mark there:
    picture and message disagreed. Marked only where ``result.error`` names that LR (in the analysis's own words,
    :data:`~lrfinder.analysis.BLOWUP_NAMED` and :data:`~lrfinder.analysis.DOUBTFUL_BLOWUP_NAMED`), so the line is
    the one the message speaks of (a hand-built error, or one from another reading, gets none).
    """
    if result.suggestion is not None or not result.error or _too_short(result):
        return None
    try:
        lr = find_blowup_lr(result.lrs, result.losses)
    except (ValueError, TypeError, FloatingPointError):
        return None
    if lr is None:
        return None
    # Written with the digits the message needs to tell its LRs apart: 2, more in a sweep over a sliver of a decade.
    for digits in range(2, 13):
        if BLOWUP_NAMED.format(lr=f"{lr:.{digits}e}") in result.error:
            return lr, False
        if DOUBTFUL_BLOWUP_NAMED.format(lr=f"{lr:.{digits}e}") in result.error:
            return lr, True
    return None


def _draw_single(ax: Axes, slope_ax: Axes | None, result: RangeTestResult, *, brief: int | None = None) -> None:
    """Draw one result into the loss panel ``ax`` and, unless ``None``, the slope panel ``slope_ax``.

    ``brief``: the loss panel stands alone in someone's figure, about this many characters of the
    inconclusive message wide: the message is cut to its gist (:func:`first_clause`) in a smaller
    font, as the whole of it (a dozen lines at 12 pt) ran past a small axes onto its neighbours.
    """
    lrs = np.asarray(result.lrs, dtype=float)
    raw = np.asarray(result.losses, dtype=float)
    smoothed = _smoothed(result)
    drawn = _drawable_smoothed(result)
    s = result.suggestion
    finite = np.isfinite(raw)
    short = _too_short(result)
    d = _lr_digits(result)  # the digits of the LRs named (2, or more in a sweep of a small fraction of a decade)
    # A curve too short to smooth is shown by its raw points alone: drawn as plainly as a curve.
    ax.plot(
        lrs[finite], raw[finite], color=COLORS["curve"], alpha=0.9 if short else 0.35, lw=1.6 if short else 0.8,
        marker=".", ms=7 if short else 3.5, label="loss (raw)",
    )  # fmt: skip
    if np.isfinite(drawn).any():
        ax.plot(lrs, _floored(result, drawn), color=COLORS["curve"], lw=2.6, label="loss (smoothed)")
    non_finite_lr = s.non_finite_lr if s is not None else (float(lrs[~finite][0]) if (~finite).any() else None)
    end = float(lrs[-1]) if lrs.size else None
    # The LR lines (x, line style, width), drawn in both panels: the slope panel showing another LR
    # than the loss panel above it (the curve's s.lr under a refined LR) read as a third pick.
    picks: list[tuple[float, str, float]] = []
    if s is not None:
        ax.axvspan(
            s.min_lr,
            s.max_lr,
            color=COLORS["band"],
            alpha=0.18,
            lw=0,
            label=f"one-cycle band {s.min_lr:.{d}e} .. {s.max_lr:.{d}e}",
        )
        if s.divergence_lr is not None and end is not None:
            ax.axvspan(
                s.divergence_lr,
                max(end, s.divergence_lr),
                color=COLORS["divergence"],
                alpha=0.09,
                lw=0,
                # Alone in a small axes the entry is cut to its gist: the long one widened the legend over the fall.
                label="diverged region"
                if brief is not None
                else f"diverged: loss up {DIVERGENCE_RISE:.0%} of its fall, from {s.divergence_lr:.{d}e}",
            )
        if s.blowup_lr is not None:
            ax.axvline(
                s.blowup_lr,
                color=COLORS["divergence"],
                lw=1.4,
                ls=":",
                zorder=3,
                # Beside the shaded region (where the loss rose by the divergence rule), what the line adds: the curve
                # is cut here. "not searched past it" read as a second divergence mark (surface34).
                label=f"blew up at {s.blowup_lr:.{d}e}" + ("" if brief is not None else ": nothing past it is read"),
            )
        shown = _floored(result, smoothed)  # the marks sit on the curve as drawn
        y_st = _value_at(lrs, shown, s.steepest_lr)
        _mark(ax, "steepest", s.steepest_lr, y_st, label=f"steepest descent at lr {s.steepest_lr:.{d}e}")
        y_min = _value_at(lrs, shown, s.min_loss_lr)
        _mark(ax, "minimum", s.min_loss_lr, y_min, label=f"minimum loss at lr {s.min_loss_lr:.{d}e}")
        if s.divergence_lr is not None and s.divergence_lr != s.non_finite_lr:
            y_div = _value_at(lrs, shown, s.divergence_lr)
            _mark(ax, "divergence", s.divergence_lr, y_div, label=f"divergence at lr {s.divergence_lr:.{d}e}")
        # The LR to train with at the test's batch (the refined one after trials) is the bold
        # line and label; the curve's own reading is dashed under it when the trials moved it.
        # That reading is the one the trials centred on (Refinement.curve_lr): the one-cycle peak
        # max_lr for a one-cycle or cosine refinement, whose refined LR is a peak too, so the
        # two lines compare like with like (s.lr there would overstate the trials' move).
        f = result.refinement
        refined = f.lr if f is not None and f.lr is not None else None
        reading = f.curve_lr if f is not None and f.curve_lr is not None else s.lr
        moved = refined is not None and refined != reading
        if refined is not None:
            main = f"refined lr = {refined:.{d}e}" + ("" if moved else " (the curve's reading)")
            picks.append((refined, "-", 2.0))
            _lr_label(ax, 0, refined, main, COLORS["suggestion"], main=True)
            if moved:
                picks.append((reading, "--", 1.4))
                _lr_label(ax, 1, reading, f"curve's reading = {reading:.{d}e}", COLORS["suggestion"])
        else:
            picks.append((s.lr, "-", 2.0))
            _lr_label(ax, 0, s.lr, f"suggested lr = {s.lr:.{d}e}", COLORS["suggestion"], main=True)
        for x, ls, lw in picks:
            ax.axvline(x, color=COLORS["suggestion"], lw=lw, ls=ls, zorder=4)
        if _moved(result) is not None and result.scaled is not None:
            ax.axvline(result.scaled.lr, color=COLORS["scaled"], lw=1.6, ls="--", zorder=4)
            scaled = result.scaled
            capped = ", capped at the divergence" if scaled.capped else ""
            text = f"scaled lr = {scaled.lr:.{d}e}\n (batch {format_batch(scaled.to_batch_size)}{capped})"
            _lr_label(ax, 1 + moved, scaled.lr, text, COLORS["scaled"])
    else:
        head = "Inconclusive: no learning rate suggested."
        if result.error is None:
            # A result built by hand (or a file whose suggestion and error are null) was never read: "Inconclusive"
            # with no reason said of its curve what no analysis had found.
            head = "Not analysed: no learning rate suggested."
            reason = "The result holds neither a suggestion nor an error: result.analyze() reads its curve."
        elif brief is None:
            # Its gist, a sentence a line, what happened in the head ("Inconclusive: the loss never clearly falls."),
            # and where the whole of it is: the whole message ran to 17 lines at 12 pt over the curve it speaks of.
            happened, *rest = inconclusive_gist(result.error)
            head = f"Inconclusive: {happened[:1].lower()}{happened[1:]}"
            reason = "\n".join([*rest, _whole_reason()])
        else:
            reason = f"{first_clause(result.error, 2 * brief)} {_says_why()}"
        wrap, size = (_MESSAGE_CHARS, 12.0) if brief is None else (brief, _BRIEF_PT)
        # Never at a hyphen: the command line's "--num-steps" was drawn as "--num-" and "steps", a number "1.00e-07" as
        # "1.00e-" and "07".
        lines = [line for part in reason.split("\n") for line in textwrap.wrap(_drawable(part), wrap,
                                                                                 break_on_hyphens=False)]  # fmt: skip
        message = "\n".join([*textwrap.wrap(_drawable(head), wrap, break_on_hyphens=False), *lines])
        # At the top, above the curve (plot_range_test makes the room): the curve is what the
        # message asks the reader to look at.
        _text_box(
            ax,
            0.5,
            0.975,
            message,
            COLORS["warning"],
            fontsize=size,
            transform=ax.transAxes,
            ha="center",
            va="top",
            pad=0.5,
            alpha=0.92,
            # A gid, not a label: the legend would take a labelled text for an entry (and warn).
            gid="inconclusive",
        )
        if brief is None:
            # Fitted to the panel once the layout is final (_fit_message): until then it may be wider than the panel,
            # and the layout narrowed and shortened every panel around it.
            ax.texts[-1].set_in_layout(False)
        blowup = _named_blowup(result)
        if blowup is not None:
            lr, doubtful = blowup
            ax.axvline(
                lr,
                color=COLORS["divergence"],
                lw=1.4,
                ls=":",
                zorder=3,
                label=(f"rise read as a blow-up at {lr:.{d}e}" if doubtful else f"blew up at {lr:.{d}e}")
                + ("" if brief is not None else ": not read past it"),
            )
    if non_finite_lr is not None and end is not None:
        ax.axvspan(non_finite_lr, max(end, non_finite_lr), color=COLORS["non_finite"], alpha=0.12, lw=0, hatch="//")
        _mark(
            ax,
            "non_finite",
            non_finite_lr,
            0.0,
            label=f"first non-finite loss at lr {non_finite_lr:.{d}e}",
            transform=_at_bottom(ax),
            zorder=6,
            clip_on=False,
        )
    # The legend is placed once the axes' limits are known (plot_range_test).
    if slope_ax is None:  # the loss panel alone (plot_range_test(ax=...))
        return

    # The slope of the drawn curve: past the explosion the smoothed values are a clip artefact.
    slope = loss_slope(lrs, drawn)
    slope_ax.plot(lrs, slope, color=COLORS["curve"], lw=1.8)
    if short and finite.any():
        # An empty panel with made-up ticks (+-1e-12) read as a slope of zero.
        slope_ax.set_yticks([])
        slope_ax.text(
            0.5, 0.75, f"no slope: fewer than {MIN_POINTS} finite losses to smooth", transform=slope_ax.transAxes,
            ha="center", va="center", fontsize=10.5, color=COLORS["warning"],
        )  # fmt: skip
    for x, ls, lw in picks:
        slope_ax.axvline(x, color=COLORS["suggestion"], lw=lw, ls=ls, zorder=4)
    if s is not None:
        slope_ax.axvspan(s.min_lr, s.max_lr, color=COLORS["band"], alpha=0.18, lw=0)
        # Not clipped: the steepest slope is the panel's lowest point, on its bottom edge.
        _mark(slope_ax, "steepest", s.steepest_lr, _value_at(lrs, slope, s.steepest_lr), size=9, clip_on=False)


#: The characters a line of the report's inconclusive message holds at 12 pt (in the 12 x 9 inch default).
_MESSAGE_CHARS = 80
#: Whether the report being drawn is ``lrfind``'s (:func:`command_line_words`): it says where a whole reason is
#: in the words its reader sees (the summary's row, the JSON's keys), not the API's (``result.error``).
_COMMAND_LINE: contextvars.ContextVar[bool] = contextvars.ContextVar("lrfinder_report_command_line", default=False)
#: Whether the command drawing it printed a summary (``lrfind run``/``fit``), not ``lrfind report``'s re-rendering.
_WITH_SUMMARY: contextvars.ContextVar[bool] = contextvars.ContextVar("lrfinder_report_with_summary", default=True)


@contextmanager
def command_line_words(*, summary: bool = True) -> Iterator[None]:
    """Draw the reports made inside it as ``lrfind``'s: where a whole reason is, said in the command line's words.

    The Python API's reader has ``result.error`` and ``result.noise_error``; ``lrfind``'s has the summary's
    ``whole reason`` row and the JSON's ``"error"`` and ``"noise_error"``, and read ``result.error`` as a name
    from nowhere. ``summary=False`` for a command that prints no summary (``lrfind report``): its report named
    "the summary's row", which nothing had printed.
    """
    token, with_summary = _COMMAND_LINE.set(True), _WITH_SUMMARY.set(summary)
    try:
        yield
    finally:
        _WITH_SUMMARY.reset(with_summary)
        _COMMAND_LINE.reset(token)


def _whole_reason() -> str:
    """Where the report's inconclusive message says the whole of it is, after its gist."""
    if _COMMAND_LINE.get() and _WITH_SUMMARY.get():
        return 'The whole reason: the summary\'s "whole reason" row, the JSON\'s "error".'
    if _COMMAND_LINE.get():
        return 'The whole reason: the "error" of the JSON drawn.'
    return 'The whole reason: result.error, the JSON\'s "error".'


def _says_why() -> str:
    """What a message cut to its first clause adds: where the rest is."""
    return '(the JSON\'s "error" says why)' if _COMMAND_LINE.get() else "(result.error says why)"


#: The most of the loss panel's height the inconclusive message may take in the report (:func:`_fit_message`).
_MESSAGE_SHARE = 0.55
#: The smallest type the report's inconclusive message is set in before it is cut to its gist.
_SMALLEST_MESSAGE_PT = 8.0


def _fit_message(ax: Axes) -> None:
    """Fit the report's inconclusive message to its loss panel: wrapped to its width, set smaller, then cut to its gist.

    The message was wrapped at 70 characters in 12 pt whatever the figure's size: in a report of
    6 x 4.5 inches it was wider than the panel and taller than it, and covered the panel, the
    header above and the slope panel below. It is now wrapped to the panel's width and set smaller,
    down to :data:`_SMALLEST_MESSAGE_PT`, until it takes at most :data:`_MESSAGE_SHARE` of the
    panel's height; still too tall, it says its gist (:func:`first_clause`) and where the rest is.
    The default report (12 x 9 inches) keeps it whole, as before. Measured on the final layout.
    """
    texts = [text for text in ax.texts if text.get_gid() == "inconclusive"]
    if not texts:
        return
    text = texts[0]
    renderer = _renderer(ax)
    frame = ax.get_window_extent(renderer)
    head, *rest = text.get_text().split("\n")
    # The gist's sentences start a line each (inconclusive_gist), rewrapped one by one.
    reason = "\n".join(re.split(r"(?<=[.…]) (?=[A-Z])", " ".join(rest)))
    dots = _dpi(ax) / 72.0

    def fits() -> bool:
        # Its frame too: the gist's 6 lines at 10.8 pt fitted by their text, but their frame's pad rose over the panel.
        box = _framed_extent(text, renderer)
        return bool(
            box.width <= 0.96 * frame.width and box.height <= _MESSAGE_SHARE * frame.height and box.y1 <= frame.y1
        )

    def wrapped(words: str, size: float) -> int:
        """Set ``words`` under the head at ``size`` points, as many characters a line as the panel holds."""
        text.set_fontsize(size)
        chars = max(min(int(0.9 * frame.width / (0.6 * size * dots)), 70), 20)
        lines = [line for part in words.split("\n") for line in textwrap.wrap(part, chars, break_on_hyphens=False)]
        text.set_text("\n".join([head, *lines]))
        return chars

    if fits():
        return
    size = float(text.get_fontsize())
    while True:
        chars = wrapped(reason, size)
        if fits() or size <= _SMALLEST_MESSAGE_PT:
            break
        size = max(size * 0.9, _SMALLEST_MESSAGE_PT)
    if not fits():
        wrapped(f"{first_clause(' '.join(reason.split()), 2 * chars)} {_says_why()}", size)


def _curve_name(results: Sequence[RangeTestResult], i: int) -> str:
    """Curve ``i``'s name in an overlay: its label, else ``curve N``.

    Where the curves mix training and validation losses (``settings.curve``), whose axis says "loss" alone, the name
    says which it recorded: the overlay named neither.
    """
    result = results[i]
    name = _short(result.label or f"curve {i + 1}")
    if _loss_label(results) == "loss":
        name += f" ({'validation' if result.settings.curve == 'val' else 'training'} loss)"
    return name


def _loss_label(results: Sequence[RangeTestResult]) -> str:
    """The loss panel's axis label: what the curves recorded (``settings.curve``), "loss" for a mix of both."""
    curves = {result.settings.curve for result in results}
    if curves == {"val"}:
        return "validation loss"
    return "training loss" if curves == {"train"} else "loss"


#: The slope panel's axis label, said shorter in a panel too short for it (:func:`_fit_slope_label`).
_SLOPE_LABELS = ("d loss / d log10(lr)", "d loss /\nd log10(lr)", "slope")


def _fit_slope_label(ax: Axes) -> None:
    """Say the slope panel's axis label shorter when it is taller than the panel.

    In a small report (6 x 4.5 inches) the slope panel is about half an inch high: its label ran up
    past the panel into the loss panel's "training loss". Measured on the final layout.
    """
    renderer = _renderer(ax)
    height = ax.get_window_extent(renderer).height
    for words in _SLOPE_LABELS:
        ax.set_ylabel(words)
        if ax.yaxis.label.get_window_extent(renderer).height <= height:
            return


def _make_headroom(ax: Axes) -> None:
    """Raise the loss axis's top so the inconclusive message sits above the curve, not over it."""
    texts = [text for text in ax.texts if text.get_gid() == "inconclusive"]
    if not texts:
        return
    renderer = _renderer(ax)
    box = texts[0].get_window_extent(renderer).transformed(ax.transAxes.inverted())
    # The text's extent leaves out its padded frame: a margin of a few per cent covers it.
    room = min(1.0 - box.y0 + 0.06, 0.6)
    low, high = ax.get_ylim()
    ax.set_ylim(low, low + (high - low) / (1.0 - room))
    # The curves stay cut at the old top: raising it uncovered the blow-up the limits had clipped, and
    # the curve climbed through the message it had made room for.
    from matplotlib.transforms import Bbox, TransformedBbox, blended_transform_factory

    below = TransformedBbox(Bbox([[0.0, low], [1.0, high]]), blended_transform_factory(ax.transAxes, ax.transData))
    for line in ax.get_lines():
        if np.size(line.get_xdata()) > 1 and line.get_transform() == ax.transData:
            line.set_clip_box(below)


def _overlay_width(index: int, count: int) -> float:
    """Line width of curve ``index`` of ``count``: from 4.0 for the first down to 1.2 for the last."""
    if count <= 1:
        return 2.2
    return 4.0 - 2.8 * index / (count - 1)


def _overlay_ranks(count: int, highlight: int | None) -> list[int]:
    """Each curve's rank in the overlay's stack: 0 (widest, lowest) for the highlighted one, then the rest in order.

    The recommended (or, without one, the first) curve is the answer, so it is drawn the widest,
    with its halo; every other curve is thinner and on top of it, so none hides another.

    Example:
        >>> _overlay_ranks(3, None), _overlay_ranks(3, 2), _overlay_ranks(3, 1)
        ([0, 1, 2], [1, 2, 0], [1, 0, 2])

    """
    first = [] if highlight is None else [highlight]
    stack = first + [i for i in range(count) if i != highlight]
    return [stack.index(i) for i in range(count)]


#: The overlay legend's title; ``{curves}`` says "smoothed" of every curve only when none is drawn by its raw points
#: (:func:`_too_short`), ``{marks}`` names the marks drawn (:func:`_overlay_marks`).
_OVERLAY_LEGEND_TITLE = "{curves} ({marks})"


def _overlay_marks(results: Sequence[RangeTestResult], highlight: int | None) -> str:
    """The key to the marks :func:`_draw_overlay` drew for ``results``, each only when one of the curves has it.

    The title named "dashed: suggested lr; *: minimum; X: divergence" over two inconclusive curves, which have none
    of them, and not the X drawn on the bottom edge at a curve's first non-finite loss.
    """
    picks = [
        i for i, r in enumerate(results)
        if r.suggestion is not None or (r.refinement is not None and r.refinement.lr is not None)
    ]  # fmt: skip
    refined = any(r.refinement is not None and r.refinement.lr is not None for r in results)
    marks = []
    if any(i != highlight for i in picks):
        marks.append("dashed: suggested lr, or refined" if refined else "dashed: suggested lr")
    if any(r.suggestion is not None for r in results):
        marks.append("*: minimum")
    if any(r.suggestion is not None and r.suggestion.divergence_lr is not None for r in results):
        marks.append("X: divergence")
    if any(not np.isfinite(np.asarray(r.losses, dtype=float)).all() for r in results):
        marks.append("X on the bottom edge: first non-finite loss")
    if highlight is not None:
        marks.append("halo: recommended")
    return "; ".join(marks)
#: A curve too short to smooth, drawn by its recorded points: said on its legend entry.
_RAW_WORDS = "raw points, too short to smooth"


def _draw_overlay(
    ax: Axes, slope_ax: Axes | None, results: Sequence[RangeTestResult], highlight: int | None, *, brief: bool = False
) -> None:
    """Overlay ``results`` in the loss panel ``ax`` and, unless ``None``, the slope panel ``slope_ax``.

    ``brief``: the loss panel stands alone in a small axes; the legend entries leave out the
    minimum's LR (its marker shows it), so the legend covers less of the falls.
    """
    ranks = _overlay_ranks(len(results), highlight)
    for i, result in enumerate(results):
        color = OVERLAY_COLORS[i % len(OVERLAY_COLORS)]
        # Past the palette, colours repeat: the next round of curves is dotted, then dash-dotted, so two
        # curves of one colour (and their legend entries) still differ.
        style = _OVERLAY_STYLES[i // len(OVERLAY_COLORS) % len(_OVERLAY_STYLES)]
        lrs = np.asarray(result.lrs, dtype=float)
        raw = np.asarray(result.losses, dtype=float)
        smoothed = _smoothed(result)
        name = _curve_name(results, i)
        label = name
        s = result.suggestion
        # The LR to train with at the test's batch: a refined result's trials chose it, not the curve (each curve
        # was labelled, and its line drawn, at suggestion.lr, which the trials had moved away from).
        f = result.refinement
        refined = f is not None and f.lr is not None
        pick = f.lr if f is not None and f.lr is not None else (s.lr if s is not None else None)
        if s is not None and pick is not None:
            # The minimum the marker shows (before any blow-up), not the lowest point of the whole curve; a loss that
            # cannot be negative is never written below zero (its smoothed curve may undershoot there).
            from .sweeps import shown_minimum_loss

            low = shown_minimum_loss(result)
            label += f": {'refined lr' if refined else 'lr'} {pick:.2e}, min loss {low:.3g}" + (
                "" if brief else f" at lr {s.min_loss_lr:.2e}"
            )
        else:
            label += ": inconclusive" + (f" ({_RAW_WORDS})" if _too_short(result) else "")
        if highlight == i:
            label += "  (recommended)"
        finite = np.isfinite(raw)
        ax.plot(lrs[finite], raw[finite], color=color, alpha=0.25, lw=0.7)
        # No curve hides another: each curve of a later rank is drawn thinner, on top of the earlier
        # ones, so where curves coincide every one still shows as a band around the next. The
        # recommended curve has the first rank (widest), so it is the most visible, not the least.
        rank = ranks[i]
        width = _overlay_width(rank, len(results))
        drawn = _drawable_smoothed(result)
        if highlight == i:
            ax.plot(
                lrs, _floored(result, drawn), color=color, lw=width + 5.0, alpha=0.22, solid_capstyle="round", zorder=2
            )
        if _too_short(result):
            # Too short to smooth: its recorded points stand for it, in its colour and width (the faint raw
            # line alone was all but invisible under the legend entry naming it).
            ax.plot(
                lrs[finite], raw[finite], color=color, lw=width, ls=style, marker=".", label=label, zorder=3 + rank
            )
        else:
            ax.plot(lrs, _floored(result, drawn), color=color, lw=width, ls=style, label=label, zorder=3 + rank)
        if slope_ax is not None:
            slope = loss_slope(lrs, drawn)
            slope_ax.plot(lrs, slope, color=color, lw=max(width - 0.8, 0.8), ls=style, zorder=3 + rank)
        if pick is not None and highlight == i:
            # The recommended curve's LR is the answer: a solid line and its value, as for one curve.
            ax.axvline(pick, color=color, lw=2.0, zorder=4)
            word = "refined" if refined else "suggested"
            _lr_label(ax, 0, pick, f"{word} lr = {pick:.2e} ({name})", color, main=True)
        elif pick is not None:
            ax.axvline(pick, color=color, lw=1.3, ls="--", alpha=0.9)
        if s is not None:
            # Every curve, the recommended one too, shows its minimum and divergence (the legend says so).
            shown = _floored(result, smoothed)  # the marks sit on the curve as drawn
            _mark(ax, "minimum", s.min_loss_lr, _value_at(lrs, shown, s.min_loss_lr), color=color, size=13)
            if s.divergence_lr is not None:
                y_div = _value_at(lrs, shown, s.divergence_lr)
                _mark(ax, "divergence", s.divergence_lr, y_div, color=color, size=9)
        if not finite.all():
            first_bad = float(lrs[~finite][0])
            _mark(
                ax,
                "non_finite",
                first_bad,
                0.0,
                color=color,
                size=10,
                transform=_at_bottom(ax),
                zorder=6,
                clip_on=False,
            )
    # The legend is placed once the layout is known (plot_range_test).


#: The schedule panel's LR label goes above its line when the line is in this bottom fraction of the panel.
_LABEL_ROOM = 0.2


def _draw_schedule(
    ax: Axes,
    schedule: np.ndarray,
    name: str | None,
    results: Sequence[RangeTestResult],
    kind: ScheduleKind = "planned",
) -> None:
    steps = np.arange(1, schedule.size + 1)
    # A one-step schedule is a point: a line through it draws nothing.
    ax.plot(steps, schedule, color=COLORS["suggestion"], lw=2.0, marker="o" if schedule.size == 1 else None)
    ax.set_xlim(1, max(2, schedule.size))
    ax.set_xlabel("training step")
    ax.set_ylabel("planned lr" if kind == "planned" else "lr")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole: no "2.5"
    # LRs as the LR axes write them (1e-03, 2.5e-02), with the digits each tick needs: ":.1e" wrote the ticks of
    # a schedule spanning little alike (2.9e-02 three times) and zero as 0.0e+00.
    ax.yaxis.set_major_formatter(_ScheduleTicks())
    r = results[0]
    if len(results) == 1 and r.lr is not None:
        moved = _moved(r) is not None
        ax.axhline(r.lr, color=COLORS["scaled"] if moved else COLORS["suggestion"], lw=1.2, ls="--")
        refined = r.refinement is not None and r.refinement.lr is not None
        which = "scaled lr" if moved else ("refined lr" if refined else "suggested lr")
        # On a white ground above the schedule: a one-cycle's fall crossed the label at the panel's end.
        from matplotlib.transforms import offset_copy

        # A few points under the line, so the white ground does not cover the line itself; above it when the line
        # is near the panel's bottom (a schedule rising from the LR), where the label ran over the step axis.
        low, high = ax.get_ylim()
        up = r.lr - low < _LABEL_ROOM * (high - low)
        side = offset_copy(
            ax.get_yaxis_transform(), fig=cast("Figure", ax.figure), y=3.0 if up else -3.0, units="points"
        )
        ax.text(
            0.995, r.lr, f"{which} {r.lr:.2e} ", transform=side, ha="right", va="bottom" if up else "top",
            fontsize=9.5, zorder=5, bbox={"boxstyle": "square,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
        )  # fmt: skip
    peak = float(np.nanmax(schedule)) if schedule.size else math.nan
    # After training (lrfind fit) the panel shows the LRs training applied, not a plan.
    what = "planned LR schedule" if kind == "planned" else "LR schedule applied in training"
    # One step has no peak to speak of: "1 step at 2.6e-06", not "1 steps, peak 2.6e-06".
    span = f"1 step at {peak:.2e}" if schedule.size == 1 else f"{schedule.size} steps, peak {peak:.2e}"
    ax.set_title(
        f"{what}{f': {name}' if name else ''} ({span})",
        loc="left",
        fontsize=11,
    )
    ax.grid(True, alpha=0.3)


class _ScheduleTicks(Formatter):
    """The schedule panel's LR tick labels: ``0``, ``2e-02``, ``4e-02``, or ``2.5e-02``, ``3.0e-02`` alike.

    The report's LR format (``:.Ne``, as the LR axes and labels), with the fewest digits that
    write every tick of the panel exactly, the same for all (a linear axis reads evenly spaced
    numbers). A tick at zero (``1e-18`` from float rounding in the locator) is written ``0``.
    A class of the module (not of a function) so that a report pickles.
    """

    digits = 0
    zero = 0.0

    def set_locs(self, locs: Any) -> None:
        super().set_locs(locs)
        values = [float(v) for v in locs]
        self.zero = 1e-9 * (max(values) - min(values)) if values else 0.0
        self.digits = max((_tick_digits(v) for v in values if abs(v) > self.zero), default=0)

    def __call__(self, x: float, pos: int | None = None) -> str:
        return "0" if abs(x) <= self.zero else f"{x:.{self.digits}e}"


#: The gid of the trials panel's LR labels ("refined 2.51e-01", "curve's reading 7.92e-02").
_TRIAL_LABEL = "trial_label"
#: The heights (axes fraction, the label's top) the trials panel's LR labels may take, highest first.
_TRIAL_LABEL_ROWS = (0.97, 0.80, 0.63, 0.46, 0.29)


def _place_trial_labels(ax: Axes) -> None:
    """Move each LR label of the trials panel to the highest row where it covers no trial.

    The labels sat at fixed heights (the top, and a sixth below it) beside their lines; the curve's
    reading is a trial of the ladder (its centre), so its label began on that trial's marker, and
    the trials' line ran through its words whenever the held-out loss there was high. Each label
    takes the first of :data:`_TRIAL_LABEL_ROWS` where it covers nothing (:func:`_place_labels`).
    """

    def put(text: Any, row: float, side: str) -> None:
        text.set_y(row)
        word = text.get_text().strip()
        text.set_text(f"{word} " if side == "right" else f" {word}")

    _place_labels(ax, [text for text in ax.texts if text.get_gid() == _TRIAL_LABEL], _TRIAL_LABEL_ROWS, put)


def _inside_part(a: np.ndarray, b: np.ndarray, frame: Any) -> tuple[float, float] | None:
    """The fractions ``(t0, t1)`` of the segment from ``a`` to ``b`` (display units) that lie inside ``frame``.

    Liang-Barsky clipping: ``a + t (b - a)`` is inside for ``t0 <= t <= t1``; ``None`` when no part
    is, or an end is not finite.
    """
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return None
    t0, t1 = 0.0, 1.0
    for start, delta, low, high in ((a[0], b[0] - a[0], frame.x0, frame.x1), (a[1], b[1] - a[1], frame.y0, frame.y1)):
        if delta == 0.0:
            if not low <= start <= high:
                return None
            continue
        enter, leave = sorted(((low - start) / delta, (high - start) / delta))
        t0, t1 = max(t0, enter), min(t1, leave)
        if t0 > t1:
            return None
    return float(t0), float(t1)


def _line_points(ax: Axes, renderer: Any) -> list[tuple[float | None, np.ndarray]]:
    """The points, in display units, that ``ax``'s lines draw inside its frame, each line's with its x if vertical.

    A line's markers and, drawn with a line style, the points along its segments every two pixels;
    a vertical line drawn in axes units along y (an LR line) down the frame's height, a horizontal one
    drawn in axes units along x (the batch panel's divergence) across its width; a mark of its own (a
    pick, the test batch) its centre and outline, each point :data:`_MARKER_WEIGHT` times. The x (data
    units) of such a line comes with its points (a label beside its own line covers it), else ``None``.
    """
    frame = ax.get_window_extent(renderer)
    found: list[tuple[float | None, np.ndarray]] = []
    for line in ax.get_lines():
        data = np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float)
        data = data[np.isfinite(data).all(axis=1)]
        if data.size == 0:
            continue
        x: float | None = None
        if line.get_transform() != ax.transData:
            if len(data) == 2 and data[0, 0] == data[1, 0]:
                x = float(data[0, 0])
            elif len(data) != 2 or data[0, 1] != data[1, 1]:
                continue  # a marker placed in axes units (the first non-finite loss): in a corner, not a line
        xy = line.get_transform().transform(data)
        pieces = [xy]
        if len(xy) == 1 and line.get_marker() not in (None, "None", "none", "", " "):
            # A pick's mark (the minimum's star is 21 pixels across): its outline too, each point weighing as much as
            # _MARKER_WEIGHT curve points. A label placed where every row covers something covered the star, a single
            # point, rather than a few points of the raw curve.
            radius = float(line.get_markersize()) * _dpi(ax) / 144.0
            turns = np.linspace(0.0, 2.0 * np.pi, 8, endpoint=False)
            ring = xy[0] + radius * np.column_stack([np.cos(turns), np.sin(turns)])
            pieces = [np.repeat(np.vstack([xy, ring]), _MARKER_WEIGHT, axis=0)]
        if line.get_linestyle() not in ("None", "none", "", " "):
            for a, b in zip(xy[:-1], xy[1:]):
                # Only the part inside the frame is sampled: a loss far above the panel's limits (a blow-up
                # to 1e6 over a curve near 1) made a segment 1e9 pixels long, sampled every two pixels (GBs).
                span = _inside_part(a, b, frame)
                if span is None:
                    continue
                t0, t1 = span
                steps = np.linspace(t0, t1, max(int(np.hypot(*(b - a)) * (t1 - t0) / 2.0), 1) + 1)[:, None]
                pieces.append(a + (b - a) * steps)
        points = np.concatenate(pieces)
        inside = (points[:, 0] >= frame.x0) & (points[:, 0] <= frame.x1)
        inside &= (points[:, 1] >= frame.y0) & (points[:, 1] <= frame.y1)
        found.append((x, points[inside]))
    return found


def _place_labels(
    ax: Axes, labels: Sequence[Any], rows: Sequence[float], put: Callable[[Any, float, str], None]
) -> None:
    """Move each of ``labels`` (texts beside their LR lines) to the highest row where it covers nothing.

    Each label tries the ``rows`` in order, on its side of its line and then the other, moved there
    by ``put(text, row, side)`` (its horizontal alignment already set to ``side``): the first place
    that stays inside the panel and covers no plotted point, no line (a curve's, a trial ladder's,
    another LR line; its own line is left out) and no other text, its frame included, wins; with
    none, the place that covers the fewest points, another text (or the legend) weighing a thousand. A label with no
    place inside the panel stays where it was. Labels placed earlier are texts the later ones keep
    clear of. Measured on the final layout.
    """
    renderer = _renderer(ax)
    frame = ax.get_window_extent(renderer)
    lines = _line_points(ax, renderer)
    mine = {id(text) for text in labels}
    taken = [_framed_extent(text, renderer) for text in ax.texts if id(text) not in mine]
    legend = ax.get_legend()
    if legend is not None:
        taken.append(legend.get_window_extent(renderer))  # weighs as a text: a label over it hid entries
    margin = 5.0  # pixels: a marker's radius (ms=6) and the line's width
    for text in labels:
        own = float(text.get_position()[0])
        points = np.concatenate([np.empty((0, 2))] + [xy for x, xy in lines if x is None or not math.isclose(x, own)])
        first = str(text.get_horizontalalignment())
        was = (text.get_transform(), text.get_position(), first, text.get_text())
        best: tuple[int, float, str] | None = None
        for row in rows:
            for side in (first, "left" if first == "right" else "right"):
                text.set_horizontalalignment(cast('Literal["left", "right"]', side))
                put(text, row, side)
                box = _framed_extent(text, renderer)
                if box.x0 < frame.x0 or box.x1 > frame.x1 or box.y0 < frame.y0 or box.y1 > frame.y1:
                    continue
                wide = box.padded(margin)
                covered = int(
                    np.count_nonzero(
                        (points[:, 0] >= wide.x0) & (points[:, 0] <= wide.x1)
                        & (points[:, 1] >= wide.y0) & (points[:, 1] <= wide.y1)
                    )
                ) + 1000 * sum(box.overlaps(other) for other in taken)
                if best is None or covered < best[0]:
                    best = (covered, row, side)
                if covered == 0:
                    break
            if best is not None and best[0] == 0:
                break
        if best is None:
            transform, position, side, words = was
            text.set_transform(transform)
            text.set_position(position)
            text.set_text(words)
        else:
            _, row, side = best
            put(text, row, side)
        text.set_horizontalalignment(cast('Literal["left", "right"]', side))
        taken.append(_framed_extent(text, renderer))


def _draw_trials(ax: Axes, refinement: Any) -> None:
    """The refinement's trials: held-out loss against LR, the pick and the curve's own reading."""
    trials = list(refinement.trials)
    ok = [t for t in trials if not t.diverged and math.isfinite(t.held_out_loss)]
    ax.set_xscale("log")
    if ok:
        ax.plot([t.lr for t in ok], [t.held_out_loss for t in ok], "o-", color=COLORS["suggestion"], lw=1.5, ms=6)
    top = max((t.held_out_loss for t in ok), default=1.0)
    for t in trials:
        if t not in ok:
            ax.plot([t.lr], [top], "x", color="crimson", ms=9, mew=2)
            ax.annotate("diverged", (t.lr, top), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8.5)
    ax.margins(x=0.06, y=0.15)  # the end trials' markers inside the frame
    if not ok:
        # Every trial diverged: no held-out loss to read, and ticks around the markers' place (0.95 .. 1.05)
        # read as losses the trials reached.
        ax.set_yticks([])
    if refinement.lr is not None:
        ax.axvline(refinement.lr, color=COLORS["suggestion"], lw=1.4)
    if refinement.curve_lr is not None:
        ax.axvline(refinement.curve_lr, color="gray", lw=1.2, ls="--")
    # Labelled once the limits are known: a line in the right third (the best trial at the ladder's
    # end) is labelled on its left, or the text ran past the panel and the layout narrowed every panel.
    low, high = (math.log10(v) for v in ax.get_xlim())
    for lr, y, name, color in (
        (refinement.lr, 0.97, "refined", "black"),
        (refinement.curve_lr, 0.80, "curve's reading", "dimgray"),
    ):
        if lr is not None:
            right = (math.log10(lr) - low) / (high - low) > 0.65
            text = f"{name} {lr:.2e}"
            ax.text(lr, y, f"{text} " if right else f" {text}", transform=ax.get_xaxis_transform(),
                    ha="right" if right else "left", va="top", fontsize=9.5, color=color, gid=_TRIAL_LABEL)
    _log_labels(ax.xaxis)
    schedule = _drawable(refinement.schedule)
    ax.set_xlabel(f"trial lr ({schedule}, {trials[0].steps} steps each)" if trials else "trial lr")
    ax.set_ylabel("held-out loss")
    ax.set_title(f"trial runs judged on {_judged_on(refinement)} ({refinement.cost_steps} steps, "
                 f"{refinement.cost_steps / refinement.training_steps:.0%} of {refinement.training_steps})",
                 loc="left", fontsize=11)
    ax.grid(True, which="major", alpha=0.35)


@answers_peer_options(names.PEER_PLOT_OPTIONS)
def plot_range_test(
    result_or_results: RangeTestResult | Sequence[RangeTestResult],
    *,
    schedule: Sequence[float] | np.ndarray | None = None,
    schedule_name: str | None = None,
    schedule_kind: ScheduleKind = "planned",
    title: str | None = None,
    highlight: int | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
    ax: Axes | None = None,
    applied_lr: float | None = None,
) -> Figure:
    """Draw a range-test report into a new matplotlib figure, or the loss panel into ``ax``.

    Args:
        result_or_results: One result, or several to overlay (a weight-decay sweep, say); each
            curve is labelled by its ``label``.
        schedule: The planned LR at each training step (e.g. from
            ``lrfinder.schedulers.preview_schedule``); adds the schedule panel.
        schedule_name: Name of that schedule, for its title.
        schedule_kind: What ``schedule`` is: ``"planned"`` (a preview, titled "planned LR
            schedule") or ``"applied"`` (the LR training applied at each step, as ``lrfind fit``
            records it; titled "LR schedule applied in training").
        title: Replaces the header's first line; with ``ax``, the axes' title (without it the
            axes' own title is left as it is).
        highlight: In an overlay, the index of the curve to draw bold and mark "recommended".
        applied_lr: The LR training was set to (``LRFinder.applied_lr``), for one result: the header says it
            next to the suggestion where it is another than ``result.lr`` (a module's OneCycleLR trains up to
            its peak, ``training_suggestion.max_lr``), and next to "no suggestion" for an inconclusive one
            (the callback's fallback: training went on at the module's own LR). Full report only.
        figsize: Figure size in inches (default ``(12, 9)``); with ``dpi`` it fixes the pixel
            size of the output.
        dpi: Dots per inch of the figure (and of a PNG written from it); default 100.
        ax: A matplotlib :class:`~matplotlib.axes.Axes` of your own figure (``plt.subplots``,
            or a plain :class:`~matplotlib.figure.Figure`) to draw the loss panel into, as
            torch-lr-finder's and Lightning's ``lr_finder.plot(ax=ax)`` do: the raw and
            smoothed curves, the picks, the one-cycle band, the divergence and its legend (one
            result, or an overlay with ``highlight``), the LR on a log x axis and the training
            loss on y. Only ``ax`` is drawn into: the figure's other axes, its size and its
            layout are left alone (no panel is added; a layout engine of the figure's is run once, as
            drawing runs it, so the legend is placed on ``ax`` as it will be drawn), and the legend
            stays inside ``ax``. The header, slope, schedule, batch and trial panels belong to
            the full report: ``schedule``, ``schedule_name``, ``schedule_kind``, ``figsize``
            and ``dpi`` with ``ax`` raise a ``TypeError`` (size the figure where you make it).

    Returns:
        Without ``ax``, a new :class:`matplotlib.figure.Figure` (Agg canvas, not attached to
        ``pyplot``), drawn under matplotlib's default style with the user's fonts, whatever style or
        rcParams are in force (they are left as they were). Its axes carry the labels ``"header"``,
        ``"loss"``, ``"slope"``, (with a schedule) ``"schedule"``, (one result with a measured
        noise scale) ``"batch"``: the
        predicted best LR against batch size by the linear, sqrt and noise rules, with the test
        and target batches and the critical batch marked, and (a refined result with trials)
        ``"trials"`` (``Axes.get_label()``); a figure too small to give the loss panel its room
        leaves out the trial panel, then the batch panel, and its header says so (12 x 9 inches
        holds them all). With ``ax``, the figure ``ax`` is in (the
        top-level figure when ``ax`` is in a subfigure).

    Raises:
        ValueError: No result, a figure size or dpi that is not positive or makes more than
            :data:`MAX_PIXELS` a side, a dpi below :data:`MIN_DPI`, a ``highlight`` out of range, or a
            ``schedule`` that is not 1-D or holds an LR that is not finite and >= 0, a ``schedule_kind`` other than
            ``"planned"`` or ``"applied"``, or an ``applied_lr`` that is not finite and > 0 or given with several
            results.
        TypeError: Something other than :class:`~lrfinder.RangeTestResult` objects, an
            argument of the wrong type (``highlight="0"``, ``dpi="100"``, a ``schedule`` of
            text), an ``ax`` that is not a 2-D matplotlib ``Axes`` (a polar or 3-D one), or ``ax`` with an argument of
            the full report (``schedule``, ``schedule_name``, an ``"applied"`` ``schedule_kind``,
            ``figsize``, ``dpi``, ``applied_lr``), or an ``applied_lr`` that is not a number.

    Example:
        >>> fig = plot_range_test(result)  # doctest: +SKIP
        >>> fig.savefig("report.png")  # doctest: +SKIP
        >>> import matplotlib.pyplot as plt  # doctest: +SKIP
        >>> fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")  # doctest: +SKIP
        >>> for axis, r in zip(axes, [small, medium, large]):  # doctest: +SKIP
        ...     plot_range_test(r, ax=axis, title=r.label)
        >>> fig.savefig("compare.png")  # doctest: +SKIP

    """
    results = _as_results(result_or_results)
    highlight = plain(highlight)
    if highlight is not None and not is_int(highlight):
        raise TypeError(
            f"Expected highlight to be the index of a result (an int) or None, but got highlight={highlight!r}"
        )
    if highlight is not None and not 0 <= highlight < len(results):
        raise ValueError(f"Expected 0 <= highlight < {len(results)}, but got highlight={highlight}")
    for name, text in (("title", title), ("schedule_name", schedule_name)):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"Expected {name} to be a str or None, but got {name}={text!r:.60}")
    title = None if title is None else _drawable(title)
    schedule_name = None if schedule_name is None else _drawable(schedule_name)
    if not is_choice(schedule_kind, SCHEDULE_KINDS):
        raise ValueError(
            f"Expected schedule_kind to be one of {', '.join(map(repr, SCHEDULE_KINDS))}, but got "
            f"schedule_kind={schedule_kind!r:.60}"
        )
    if applied_lr is not None:
        applied_lr = float(real_number("applied_lr", applied_lr))
        if not (math.isfinite(applied_lr) and applied_lr > 0):
            raise ValueError(f"Expected applied_lr > 0 and finite, but got applied_lr={applied_lr}")
        if len(results) != 1:
            raise ValueError(
                f"Expected applied_lr with one result (the LR its training was set to), but got {len(results)} results"
            )
    if ax is not None:
        full = [
            name
            for name, value in (("schedule", schedule), ("schedule_name", schedule_name), ("figsize", figsize),
                                ("dpi", dpi), ("schedule_kind", None if schedule_kind == "planned" else schedule_kind),
                                ("applied_lr", applied_lr))
            if value is not None
        ]  # fmt: skip
        _check_axes(ax)
        if full:
            raise TypeError(
                f"plot_range_test(ax=...) draws the loss panel only, but got {', '.join(full)}, which only the full "
                "report (without ax) draws or uses: size the figure where you make it (plt.subplots(figsize=..., "
                "dpi=...)), or leave out ax for the report with its schedule panel"
            )
        return _plot_into(ax, results, title=title, highlight=highlight)
    size, dots = _check_size(_DEFAULT_FIGSIZE if figsize is None else figsize, _DEFAULT_DPI if dpi is None else dpi)
    schedule = _check_schedule(schedule)
    with _report_style():
        return _draw_report(
            results,
            schedule if schedule is not None and schedule.size else None,
            schedule_name=schedule_name,
            schedule_kind=schedule_kind,
            title=title,
            highlight=highlight,
            size=size,
            dots=dots,
            applied_lr=applied_lr,
        )


#: The least height (inches) the layout's first guess gives the loss panel before the batch and trial panels are left
#: out of a small report: the default report's (12 x 9 inches) is 1.5 or more with every panel.
_LEAST_LOSS_IN = 1.1


def _draw_report(
    results: Sequence[RangeTestResult],
    sched: np.ndarray | None,
    *,
    schedule_name: str | None,
    schedule_kind: ScheduleKind,
    title: str | None,
    highlight: int | None,
    size: tuple[float, float],
    dots: float,
    applied_lr: float | None = None,
) -> Figure:
    """:func:`plot_range_test`'s full report, its arguments checked (``sched``: ``None`` when empty)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = ReportFigure(figsize=size, dpi=dots, layout="constrained")
    FigureCanvasAgg(fig)
    # About 6.4 points per character of DejaVu Sans at 10.5 pt; a small report's header is set smaller (more
    # characters a line, lines less high).
    scale = _header_scale(size)
    width_chars = max(int(size[0] * 72 / (6.4 * scale)), _MIN_HEADER_CHARS)
    lines = _header_text(results, width_chars, title, applied_lr)

    def header_height() -> float:
        return (_header_points(lines, scale) + (6.0 + (len(lines) - 1) * _LINE_PT) * scale) / 72.0

    def shares() -> list[float]:
        return (
            [4.6, 1.7]
            + ([1.7] if sched is not None else [])
            + ([2.0] if batch_panel else [])
            + ([1.7] if trials_panel else [])
        )

    def rest_in() -> float:
        # Panel heights share what the header leaves of the figure (the layout engine adds labels).
        return max(size[1] - header_in - 0.9 - 0.45 * len(panels), 1.0)

    header_in = header_height()
    batch_panel = len(results) == 1 and results[0].noise_scale is not None and results[0].suggestion is not None
    refinement = results[0].refinement if len(results) == 1 else None
    trials_panel = refinement is not None and bool(refinement.trials)
    panels = shares()
    # A report smaller than the default cannot hold the batch and trial panels under its header: at 6.4 x 4.8 inches
    # the four panels were a fifth of an inch high each, the loss panel ran up over the header and the batch panel's
    # legend over its title (at 8 x 6, the legend hid the batch panel's lines). They are left out, the trials first,
    # until the loss panel has its room; the header keeps their numbers (refined lr, critical batch) and says so.
    left_out: list[str] = []
    while (batch_panel or trials_panel) and rest_in() * panels[0] / sum(panels) < _LEAST_LOSS_IN:
        left_out.insert(0, "trial" if trials_panel else "batch")
        batch_panel, trials_panel = batch_panel and trials_panel, False
        panels = shares()
    if left_out:
        note = f"{' and '.join(left_out)} panel{'s' if len(left_out) > 1 else ''} left out at this size"
        lines = [*lines, *((line, None) for line in _wrap([f"({note}; figsize=(12, 9) draws them)"], width_chars))]
        header_in = header_height()
    heights = [header_in] + [rest_in() * p / sum(panels) for p in panels]
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights)
    header = fig.add_subplot(grid[0], label="header")
    ax = fig.add_subplot(grid[1], label="loss")
    slope_ax = fig.add_subplot(grid[2], sharex=ax, label="slope")
    _draw_header(header, lines, scale)

    ylim = _draw_loss_panel(ax, slope_ax, results, highlight)
    _log_labels(slope_ax.xaxis)  # after the log scale is set: setting it resets the formatters
    if ylim is None:
        slope_ax.set_yticks([])  # no finite loss at all: the axes' default numbers would read as slopes
    ax.tick_params(which="both", labelbottom=False)  # the LRs are written under the slope panel

    slope_ax.axhline(0.0, color="black", lw=0.8, alpha=0.6)
    slope_ax.set_ylabel("d loss / d log10(lr)")
    slope_ax.set_xlabel(_lr_axis_label(results))
    slope_ax.grid(True, which="major", alpha=0.35)
    _limit_slope_axis(slope_ax)
    _whole_numbers(slope_ax.yaxis)

    if sched is not None:
        sched_ax = fig.add_subplot(grid[3], label="schedule")
        _draw_schedule(sched_ax, sched, schedule_name, results, schedule_kind)
    batch_ax = fig.add_subplot(grid[3 + (sched is not None)], label="batch") if batch_panel else None
    if batch_ax is not None:
        _draw_batch_scaling(batch_ax, results[0])
    if trials_panel:
        trials_ax = fig.add_subplot(grid[len(heights) - 1], label="trials")
        _draw_trials(trials_ax, refinement)
    # The room for the message and the legend's corner are measured on the final layout: before
    # it, the axes are narrower and the texts seem to cover more of them than they will.
    fig.get_layout_engine().execute(fig)  # type: ignore[union-attr]
    # The header's share was set from a guess of the room the panels' labels take: where they took less (a small
    # figure, matplotlib's own 6.4 x 4.8 inches), the header got more than its lines, and a blank band half an inch
    # high stood over a loss panel of one inch. Measured now, the header gets its lines' height, the panels the rest.
    def fit_header() -> None:
        axes_in = [a.get_position().height * size[1] for a in fig.axes]
        panels_in = sum(axes_in) - header_in
        if panels_in > 0.0:
            grid.set_height_ratios([header_in] + [panels_in * p / sum(panels) for p in panels])
            fig.get_layout_engine().execute(fig)  # type: ignore[union-attr]

    if batch_ax is not None:
        # The legend above the batch panel and the title raised over it take room from every panel: laid out (below)
        # before anything is measured on the panels, the loss panel's LR labels included. Placed after them, it moved
        # the loss panel's curve under its labels when the figure was saved: a label covered the divergence's mark.
        _place_batch_legend(batch_ax)
    fit_header()
    # The loss panel's LR labels stand over its top edge: where the header's last line came down to them (the demo's
    # "suggested lr" box 2 points under it at 8 x 6 inches, a refined result's 1.5 points into it at 9 x 6.75), the
    # header takes the room they lack, before anything is measured on the panels.
    short = _header_room_short(header, ax)
    if short > 0.0:
        header_in += short
        fit_header()
    _fit_slope_label(slope_ax)
    if batch_ax is not None:
        _finish_batch_panel(batch_ax)
    if trials_panel:
        _place_trial_labels(trials_ax)
    legend = _finish_loss_panel(ax, results, highlight, ylim, fontsize=9.5)
    if legend is not None:
        _legend_below(ax, legend)
        # The legend under the panels took its room from every panel, the header's too: a title of two lines
        # ran into the loss panel. The header gets its lines' height back, the panels give it.
        fig.get_layout_engine().execute(fig)  # type: ignore[union-attr]
        fit_header()
    _keep_title_inside(header)
    return fig


#: The least room, in points, between the header's last line and the box of the loss panel's highest LR label.
_HEADER_LABEL_GAP_PT = 6.0


def _header_room_short(header: Axes, ax: Axes) -> float:
    """The inches the header's last line and the loss panel's LR labels lack of :data:`_HEADER_LABEL_GAP_PT` apart."""
    renderer = _renderer(ax)
    lines = [t for t in header.texts if t.get_visible() and t.get_text()]
    labels = [t for t in ax.texts if t.get_gid() == _LR_LABEL and t.get_visible()]
    if not lines or not labels:
        return 0.0
    bottom = min(t.get_window_extent(renderer).y0 for t in lines)
    tops = []
    for label in labels:
        box = label.get_bbox_patch()
        if box is not None:
            label.update_bbox_position_size(renderer)
            tops.append(box.get_window_extent(renderer).y1)
        tops.append(label.get_window_extent(renderer).y1)
    dpi = _dpi(ax)
    return max(max(tops) + _HEADER_LABEL_GAP_PT * dpi / 72.0 - bottom, 0.0) / dpi


def _keep_title_inside(ax: Axes) -> None:
    """Cut the header's one-line title further, a character at a time, where it runs past the figure's right edge.

    Its length is guessed from the figure's width in characters, but the header starts where the panels do, past
    their axis labels: in a report 5 inches wide that is a seventh of the width, and the title's ellipsis ran off
    the edge. A title of two lines (an overlay's) or of mathtext is left as it is.
    """
    if not ax.texts:
        return
    title = ax.texts[0]
    text = title.get_text()
    if "\n" in text or "$" in text:
        return
    renderer = _renderer(ax)
    right = _root_figure(ax).bbox.x1  # type: ignore[union-attr]
    while len(text) > _SHORTEST_MODEL_NAME and title.get_window_extent(renderer).x1 > right:
        text = text.removesuffix("…")[:-1].rstrip() + "…"  # no "$" in it: drawable as it stands
        title.set_text(text)


def _draw_loss_panel(
    ax: Axes,
    slope_ax: Axes | None,
    results: Sequence[RangeTestResult],
    highlight: int | None,
    *,
    brief: int | None = None,
) -> tuple[float, float] | None:
    """Draw the loss panel into ``ax`` (and the slope panel into ``slope_ax`` unless ``None``).

    The LR axis is set to log scale and the sweep's limits first (the LR labels read their side
    from them), then the curves and picks are drawn and the loss axis limited, labelled and
    gridded. ``brief``: the panel stands alone (:func:`_draw_single`).

    Returns:
        The loss axis's limits, or ``None`` when no loss is finite (its ticks are then removed).

    """
    ax.set_xscale("log")
    xlim = _lr_limits(results, ax)
    if xlim is not None:
        ax.set_xlim(*xlim)  # first: the LR labels read their side from it
    ylim = _y_limits(results, ax)
    if ylim is not None:
        # Before the curves, too: autoscaled to losses near 1.7e308, matplotlib's margin made the axis infinite and
        # drawing failed ("Singular matrix"); set, the limits keep it off and clip what is past them.
        ax.set_ylim(*ylim)
    if len(results) == 1:
        _draw_single(ax, slope_ax, results[0], brief=brief)
    else:
        _draw_overlay(ax, slope_ax, results, highlight, brief=brief is not None)
    ylim = _y_limits(results, ax)
    if ylim is not None:
        ax.set_ylim(*ylim)
    else:
        # No finite loss at all: the axes' default numbers would read as losses.
        ax.set_yticks([])
    ax.set_ylabel(_loss_label(results))
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    _whole_numbers(ax.yaxis)
    return ylim


def _finish_loss_panel(
    ax: Axes,
    results: Sequence[RangeTestResult],
    highlight: int | None,
    ylim: tuple[float, float] | None,
    *,
    fontsize: float,
    brief: bool = False,
    **legend_settings: Any,
) -> dict[str, Any] | None:
    """Measured on the final layout: LR labels kept inside, room for the inconclusive message, the legend.

    ``brief``: the panel stands alone in a small axes; an overlay legend's title is broken in
    two lines, so the legend is no wider than its entries. ``legend_settings`` go to ``Axes.legend``.

    Returns:
        The overlay legend's settings when its best corner still covers more than
        :data:`_OVERLAY_LEGEND_COVER` of the falls and picks (the full report then moves it under
        the panels, :func:`_legend_below`), else ``None``: the legend stays where it was placed.

    """
    _keep_lr_labels_inside(ax)
    _place_lr_labels(ax)
    if not brief:
        _fit_message(ax)
    if ylim is not None:
        _make_headroom(ax)
    lows = [r.suggestion.min_lr for r in results if r.suggestion is not None]
    legend: dict[str, Any] = {"fontsize": fontsize, "framealpha": 0.92, **legend_settings}
    if len(results) > 1:
        # A curve too short to smooth is drawn raw (its entry says so): "smoothed curves" was not true of it.
        curves = "curves, smoothed unless raw" if any(_too_short(r) for r in results) else "smoothed curves"
        marks = _overlay_marks(results, highlight)
        title = _OVERLAY_LEGEND_TITLE.format(curves=curves, marks=marks) if marks else curves
        legend.update(
            title="\n".join(textwrap.wrap(title, 48, break_on_hyphens=False)) if brief else title,
            title_fontsize=fontsize - 0.5,
            alignment="left",
        )
    focus_from = min(lows) / 3 if lows else None
    hidden = _place_legend(ax, focus_from=focus_from, **legend)
    single = len(results) == 1 and not brief
    shorter = _compact_legends(ax, legend, overlay=False)
    if single and not _legend_fits(ax):
        # A small report (matplotlib's own 6.4 x 4.8 inches): the legend, in two columns, was wider than the panel;
        # the layout then narrowed every panel to half the figure to hold it, the LR label ran off the figure's left
        # edge, and the legend off its right one. Said shorter, as in an axes of one's own, until it fits.
        for compact in shorter:
            legend = compact
            _place_legend(ax, focus_from=focus_from, **legend)
            if _legend_fits(ax):
                break
    if single and ylim is not None:
        limits = ax.get_ylim()
        _make_legend_room(ax, ylim[1], focus_from=focus_from, **legend)
        # A legend that fits but finds no room clear of the curve is said shorter too: its full entries, a hair under
        # the size that shortens them (their type drawn a pixel shorter by matplotlib 3.7 to 3.10), stayed over the
        # flat start, the steepest descent's mark and the curve's reading of a short loss panel.
        for compact in shorter:
            if not _legend_cover(ax, focus_from):
                break
            legend = compact
            _place_legend(ax, focus_from=focus_from, **legend)
            _make_legend_room(ax, ylim[1], focus_from=focus_from, **legend)
        if ax.get_ylim() != limits:
            # The curve moved up (or down) under the LR labels placed beside it: a scaled LR's label placed clear of
            # the picks covered the minimum's star once the bottom was lowered for the legend. Placed again, clear
            # of the legend too.
            _place_lr_labels(ax)
    placed = ax.get_legend()
    if single and placed is not None:
        # Inside the panel: the layout, run again when the figure is saved, must not narrow the panels around it.
        placed.set_in_layout(False)
    if brief:
        # A small axes of one's own (a 3 x 2 inch subplot): the legend covered the curve, or ran out of
        # the axes over the next subplot. Said shorter, step by step, until it fits; a single curve's until it covers
        # at most :data:`_BRIEF_LEGEND_COVER` of the curve too (its shorter entries read from the labelled picks; an
        # overlay's title is their key).
        for compact in _compact_legends(ax, legend, overlay=len(results) > 1):
            if _legend_fits(ax) and not (len(results) == 1 and _legend_cover(ax, focus_from) > _BRIEF_LEGEND_COVER):
                break
            legend = compact
            _place_legend(ax, focus_from=focus_from, **compact)
        if len(results) == 1 and ylim is not None and _legend_cover(ax, focus_from) > _BRIEF_LEGEND_COVER:
            # Its shortest legend still over the curve (a 3 x 2 inch subplot with a title, laid out: 46% of it):
            # room made above or below the curve for it, as the report makes it.
            limits = ax.get_ylim()
            _make_legend_room(ax, ylim[1], focus_from=focus_from, **legend)
            if ax.get_ylim() != limits:
                _place_lr_labels(ax)
        return None
    return legend if len(results) > 1 and hidden > _OVERLAY_LEGEND_COVER else None


#: In a loss panel of one's own, the most of the axes' width and of its height the legend may take;
#: a larger one is said shorter (:func:`_compact_legends`). A 5 x 3.5 inch subplot's legend takes
#: about 0.6 x 0.35 and is left as it is; a 3 x 2 inch one's ran past the axes.
_BRIEF_LEGEND_FIT = (0.7, 0.6)
#: In a loss panel of one's own, the most of a single curve's plotted points its legend may cover; one covering more
#: is said shorter. In a 3 x 2 inch subplot the legend of eight entries, a hair under the fit's height where
#: matplotlib (3.7 to 3.10) draws its rows a pixel shorter, covered half of them, the whole flat start; those of 5 x
#: 4.5 and 5 x 3.5 inch subplots cover 8 to 15% (the flat start's first points) and keep their values.
_BRIEF_LEGEND_COVER = 0.25
#: The legend's font size once shortened.
_COMPACT_PT = 6.5
#: The most a shortened legend draws the picks' marks at, of their size on the plot: the rows of its small type
#: hold the minimum's star (15 points) at half its size.
_COMPACT_MARKERS = 0.5
#: Entries a single curve's shortest legend leaves out: the raw points, the diverged region and
#: the blow-up line read from the plot (and the LR labels) alone.
_MINOR_ENTRIES = ("loss (raw)", "diverged", "blew up", "first non-finite")


def _legend_fits(ax: Axes) -> bool:
    """Whether the axes' legend takes at most :data:`_BRIEF_LEGEND_FIT` of its width and of its height."""
    legend = ax.get_legend()
    if legend is None:
        return True
    box = legend.get_window_extent(_renderer(ax)).transformed(ax.transAxes.inverted())
    return bool(box.width <= _BRIEF_LEGEND_FIT[0] and box.height <= _BRIEF_LEGEND_FIT[1])


def _compact_legends(ax: Axes, legend: Mapping[str, Any], *, overlay: bool) -> Iterator[dict[str, Any]]:
    """Ever shorter legends for a small axes, as :meth:`~matplotlib.axes.Axes.legend` settings.

    An overlay: without its title (the key to the marks), each curve's name and LR, then its name
    alone. One curve: the entries without their values (the picks are labelled on the plot), then
    the curve, the band and the picks' marks alone. The last one is kept even if it does not fit.
    """
    handles, labels = ax.get_legend_handles_labels()
    base = {k: v for k, v in legend.items() if k not in ("title", "title_fontsize", "alignment")}
    # The picks' marks shrink with the type: at full size (the minimum's star is 15 points) they ran into each other,
    # into their words and out of the legend's frame, whose rows are 6.5-point text.
    scale = min(float(legend.get("markerscale", 1.0)), _COMPACT_MARKERS)
    base.update(fontsize=_COMPACT_PT, handlelength=1.2, handletextpad=0.4, borderpad=0.3, labelspacing=0.2,
                markerscale=scale)
    if overlay:
        # The highlighted curve's entry keeps its "(recommended)": the halo says nothing without the title.
        mark = [" (recommended)" if label.endswith("(recommended)") else "" for label in labels]
        plain = [label.removesuffix("  (recommended)") for label in labels]
        yield {**base, "handles": handles, "labels": [p.split(", min")[0] + m for p, m in zip(plain, mark)]}
        yield {**base, "handles": handles, "labels": [p.split(": ")[0] + m for p, m in zip(plain, mark)]}
        return
    # The comma before a value goes with it: "diverged: loss up 10% of its fall, from 2.01e-01" read "... fall,";
    # so do the words that name it an LR ("minimum loss at lr 3.4e-01" is "minimum loss").
    bare = [re.sub(r",?( at| from)?( lr)? [-+]?\d[\d.e+-]*( \.\. [-+]?\d[\d.e+-]*)?$", "", label) for label in labels]
    yield {**base, "handles": handles, "labels": bare}
    keep = [i for i, label in enumerate(labels) if not label.startswith(_MINOR_ENTRIES)]
    yield {**base, "handles": [handles[i] for i in keep], "labels": [bare[i] for i in keep]}


#: matplotlib's projections whose axes have no log-scaled x axis to draw the curve along (``ax.name``).
_CURVED_PROJECTIONS = ("polar", "3d", "aitoff", "hammer", "lambert", "mollweide")


def _check_axes(ax: Any) -> None:
    """``ax`` is one 2-D matplotlib :class:`~matplotlib.axes.Axes`, or a ``TypeError`` says what it is."""
    from matplotlib.axes import Axes

    if isinstance(ax, Axes) and getattr(ax, "name", None) in _CURVED_PROJECTIONS:
        # A polar or a 3-D axes failed in matplotlib ("The xscale cannot be set on a polar plot", "Axes3D.text()
        # missing 1 required positional argument: 's'"), part of the curve drawn into it already.
        raise TypeError(
            f"Expected ax to be a 2-D matplotlib Axes with x and y axes (the LR on a log scale), but got a "
            f"{ax.name} axes (projection={ax.name!r}): pass one made without a projection, e.g. fig.add_subplot() "
            "or plt.subplots()"
        )
    if isinstance(ax, Axes):
        return
    if isinstance(ax, np.ndarray) or (isinstance(ax, (list, tuple)) and ax and isinstance(ax[0], Axes)):
        raise TypeError(
            f"Expected ax to be one matplotlib Axes, but got {type(ax).__name__} of {np.size(ax)} axes: pass one "
            "of them, e.g. axes[0] of fig, axes = plt.subplots(1, 3)"
        )
    raise TypeError(f"Expected ax to be a matplotlib Axes (e.g. from plt.subplots()), but got ax={ax!r:.60}")


#: Font size of the inconclusive message in a loss panel of one's own (``plot_range_test(ax=...)``).
_BRIEF_PT = 9.0
#: Width in points of one character of DejaVu Sans at :data:`_BRIEF_PT`.
_BRIEF_CHAR_PT = 5.4
#: The legend of a loss panel of one's own: smaller than the report's, whose panel is 12 inches wide.
_BRIEF_LEGEND: dict[str, Any] = {"fontsize": 7.5, "markerscale": 0.6, "labelspacing": 0.3, "handlelength": 1.6}


def _plot_into(ax: Axes, results: Sequence[RangeTestResult], *, title: str | None, highlight: int | None) -> Figure:
    """:func:`plot_range_test` with ``ax``: the loss panel alone, in the user's axes, labelled for itself.

    Nothing outside ``ax`` is drawn: the legend's corner and the LR labels' sides are measured on ``ax``
    where it is now, after the figure's own layout engine, if it has one, has run (as drawing runs
    it, so it moves the figure's axes only as saving would); the legend stays in ``ax`` (an overlay's
    is never moved under the figure).
    """
    root = cast("Figure", getattr(ax.figure, "figure", None) or ax.figure)
    width_pt = ax.bbox.width / root.dpi * 72.0
    brief = min(max(int(width_pt / _BRIEF_CHAR_PT) - 6, 24), 70)
    ylim = _draw_loss_panel(ax, None, results, highlight, brief=brief)
    # About 6.2 points per character of the axis label's 10 pt.
    ax.set_xlabel(_lr_axis_label(results, width=max(int(width_pt / 6.2), 20)))
    _log_labels(ax.xaxis)
    if title is not None:
        ax.set_title(title)
    engine = root.get_layout_engine()
    if engine is None:
        _finish_loss_panel(ax, results, highlight, ylim, brief=True, **_BRIEF_LEGEND)
        return root
    # The figure's layout engine (layout="constrained", "tight") runs when it is drawn, and shrinks ax by the title
    # and labels just added: a legend measured before it, same size on a smaller panel, covered 46% of the curve in a
    # 3 x 2 inch subplot with a title. Run here, as drawing runs it, to measure ax where it is drawn; the figure's
    # other axes are put back where they were after (drawing lays them out again): they are not moved.
    from matplotlib.axes import Axes as _Axes

    placed = [(a, a.get_position(original=True), a.get_position(), a.get_in_layout()) for a in root.findobj(_Axes)
              if a is not ax]  # fmt: skip
    engine.execute(root)
    try:
        _finish_loss_panel(ax, results, highlight, ylim, brief=True, **_BRIEF_LEGEND)
        legend = ax.get_legend()
        if legend is not None:
            legend.set_in_layout(False)  # inside ax: the layout, run again at drawing, must not move ax around it
    finally:
        for a, original, active, in_layout in placed:
            a.set_position(original, which="original")
            a.set_position(active, which="active")
            a.set_in_layout(in_layout)  # set_position takes an axes out of the layout
    return root


#: The batch panel's name of the noise scale's rule; its legend entry adds the shape of the LR it predicts.
_NOISE_RULE = "noise-scale rule"


def _draw_batch_scaling(ax: Axes, result: RangeTestResult) -> None:
    """Predicted best LR against batch size: the linear, sqrt and noise rules from the test's batch."""
    from .noise import ADAPTIVE_SHAPE, LR_SHAPE_WORDS, noise_lr_factor
    from .scaling import optimizer_family

    ns, s = result.noise_scale, result.suggestion
    if ns is None or s is None:
        return
    b0 = float(result.batch_size or ns.small_batch_size)
    target = result.scaled.to_batch_size if result.scaled is not None else None
    low = min(b0, target or b0, ns.b_simple) / 4
    high = max(b0, target or b0, ns.b_simple) * 8
    batches = np.logspace(math.log10(max(low, 1.0)), math.log10(high), 200)
    shape = ADAPTIVE_SHAPE if optimizer_family(result.optimizer_name) == "adaptive" else "sgd"
    # The rules start from the LR that was scaled: after a refined test the refined LR, not the curve's (the
    # lines ran from the curve's reading and the target batch's marker, scaled from the refined LR, sat off them).
    f = result.refinement
    base = (
        result.scaled.base_lr
        if result.scaled is not None
        else (f.lr if f is not None and f.lr is not None else s.lr)
    )
    noise = [base * noise_lr_factor(b0, b, ns.b_simple, shape) for b in batches]
    ax.plot(batches, base * batches / b0, color="#999999", lw=1.4, ls="--", label="linear")
    ax.plot(batches, base * np.sqrt(batches / b0), color="#999999", lw=1.4, ls=":", label="sqrt")
    ax.plot(batches, noise, color=COLORS["scaled"], lw=2.2, label=f"{_NOISE_RULE} ({LR_SHAPE_WORDS[shape]})")
    ax.axvline(ns.b_simple, color="black", lw=1.0, alpha=0.6)
    low_i, high_i = ns.interval
    if math.isfinite(low_i):  # the 90% interval of the critical batch
        ax.axvspan(max(low_i, batches[0]), min(high_i, batches[-1]), color="black", alpha=0.07, lw=0)
    label = f" critical ≈ {format_batch(ns.b_simple)}"
    ax.text(ns.b_simple, 0.02, label, transform=ax.get_xaxis_transform(), fontsize=9, va="bottom",
            gid=_CRITICAL_LABEL)
    tested = f"test batch {format_batch(int(b0))}"  # the target's form: "4,096", not "4096"
    moved = _moved(result)
    if result.scaled is not None and moved is None:
        # Scaled to the test's own batch (DDP's effective batch given as the target): the target's diamond was drawn
        # over the test's marker, hiding it, and the legend named "test batch 64" and "target batch 64" apart.
        tested = f"test and target batch {format_batch(int(b0))}"
    ax.plot([b0], [base], "o", color=COLORS["suggestion"], mec="black", ms=8, zorder=5, label=tested)
    if moved is not None and target is not None:
        ax.plot([target], [moved.lr], "D", color=COLORS["scaled"], mec="black", ms=8, zorder=5,
                label=f"target batch {format_batch(target)}")
    if s.divergence_lr is not None:
        ax.axhline(s.divergence_lr, color=COLORS["divergence"], lw=1.0, ls="-.", label="divergence (test)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(batches[0], batches[-1])
    _log_labels(ax.xaxis, _batch_tick_text)
    _log_labels(ax.yaxis)
    ax.set_xlabel("batch size (log scale)")
    ax.set_ylabel("predicted best lr")
    ax.set_title("best LR against batch size, predicted from the test", loc="left", fontsize=11)
    ax.grid(True, which="major", alpha=0.3)


#: The gid of the batch panel's "critical ≈ N" label, which :func:`_place_critical_label` moves clear of the lines.
_CRITICAL_LABEL = "critical_label"

#: The batch panel's legend: three columns, so it stays a band at the top of the short panel.
_BATCH_LEGEND: dict[str, Any] = {"fontsize": 8.5, "ncol": 3, "framealpha": 0.9}


def _place_batch_legend(ax: Axes) -> None:
    """Put the batch panel's legend above the panel, at its right, where it covers no line; the LR axis fits the lines.

    The panel's lines span its whole width and the divergence line is drawn across it, so no corner is free: in
    one, the legend covered the test batch's marker, the critical batch's line and the divergence line; the panel's
    top raised above the lines to hold it ran the LR axis to ~3e1 over lines below 1. Above the frame, beside the
    panel's title (the title is raised over it where they would meet), it takes one row, or as few rows as keep it
    within the panel's width. Measured on the laid-out panel's width; the figure is laid out again after it, before
    anything is measured on the panels' heights (:func:`_finish_batch_panel`, the loss panel's labels).
    """
    renderer = _renderer(ax)

    def width(settings: dict[str, Any]) -> float:
        # The width with the legend's pad from the frame: one as wide as the panel ran that pad past its side.
        legend = ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), **settings)
        box = legend.get_window_extent(renderer).transformed(ax.transAxes.inverted())
        legend.remove()
        return float(box.x1 - box.x0) + 2.0 * (1.0 - float(box.x1))

    settings = dict(_BATCH_LEGEND)
    # In one row the legend was wider than the panel of a report under the default width (8 x 6 inches); in a panel
    # 6 inches wide the noise rule's entry, with its shape, left room for one column: six rows. Where the full entries
    # take more than two rows, the noise rule's is said without its shape.
    handles, labels = ax.get_legend_handles_labels()
    short = [label.split(" (")[0] if label.startswith(_NOISE_RULE) else label for label in labels]
    for entries in (labels, short):
        for columns in range(len(entries), 0, -1):
            settings.update(handles=handles, labels=entries, ncol=columns)
            if width(settings) <= 1.0:
                break
        if math.ceil(len(entries) / columns) <= 2:
            break
    legend = ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), **settings)
    to_axes = ax.transAxes.inverted()
    box = legend.get_window_extent(renderer).transformed(to_axes)
    title = getattr(ax, "_left_title")  # noqa: B009 - the title set with loc="left": matplotlib has no getter
    if title.get_text() and title.get_window_extent(renderer).transformed(to_axes).x1 + 0.01 > box.x0:
        # The title and the legend would meet: the title goes over the legend.
        above = legend.get_window_extent(renderer).y1 - ax.get_window_extent(renderer).y1
        ax.set_title(title.get_text(), loc="left", fontsize=title.get_fontsize(), pad=above * 72.0 / _dpi(ax) + 4.0)


def _finish_batch_panel(ax: Axes) -> None:
    """Place the batch panel's "critical ≈ N" label and space its LR ticks, on the layout that holds its legend.

    The legend above the panel (:func:`_place_batch_legend`) takes room from every panel once the layout runs again:
    measured before it, the label and the ticks were placed on a taller panel than the one drawn.
    """
    _place_critical_label(ax)
    # The LR axis may span three or four decades of a short panel: matplotlib's spacing (two label heights a tick)
    # ticked every third decade, and the lines ran between two labels with none on them. A label height and a half
    # a tick labels every decade there, still apart.
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties
    from matplotlib.ticker import LogLocator

    label_pt = FontProperties(size=rcParams["ytick.labelsize"]).get_size_in_points()
    height_pt = ax.get_window_extent(_renderer(ax)).height * 72.0 / _dpi(ax)
    ax.yaxis.set_major_locator(LogLocator(numticks=int(min(max(height_pt // (1.5 * label_pt), 2), 9))))


def _place_critical_label(ax: Axes) -> None:
    """Move the batch panel's "critical ≈ N" label to the lowest row under the legend where it covers nothing.

    It sat at the panel's foot, right of the critical batch's line, where the rules' lines start and, the critical
    batch being near the test's, across the test batch's marker ("critical ≈ 31" over "test batch 32"). It takes
    the first row, from the foot up to the legend, on either side of its line, where it covers no line and no
    marker (:func:`_place_labels`); with none, the one that covers the fewest.
    """
    labels = [text for text in ax.texts if text.get_gid() == _CRITICAL_LABEL]
    legend = ax.get_legend()
    if not labels or legend is None:
        return
    renderer = _renderer(ax)
    to_axes = ax.transAxes.inverted()
    height = labels[0].get_window_extent(renderer).transformed(to_axes).height
    top = min(legend.get_window_extent(renderer).transformed(to_axes).y0, 1.0) - height  # the legend may be above
    rows = [float(row) for row in np.arange(0.02, top, height / 2.0)] or [0.02]

    def put(text: Any, row: float, side: str) -> None:
        text.set_y(row)
        word = text.get_text().strip()
        text.set_text(f"{word} " if side == "right" else f" {word}")

    _place_labels(ax, labels, rows, put)


def _whole_numbers(axis: Any) -> None:
    """Write the loss (or slope) ticks as the values themselves, never as an offset or a multiplier.

    matplotlib writes losses near 1e6 that fall by a few hundred as ``50 .. 400`` with a small
    ``+1e6`` above the axis, and losses of millions as ``1.2 .. 2.8`` under ``1e6``: a reader
    takes the ticks for the loss. Values up to a billion are written in full (``1000050``);
    beyond, matplotlib's scientific notation stays (it fits). Tiny values (below 1e-4: the slope of
    a loss that moves by 1e-6) are written each in ``e`` notation (``-6e-07``, :class:`_TinyTicks`):
    matplotlib wrote ``-6 .. 2`` under a small ``1e-7`` above the panel, read as slopes of -6.
    """
    from matplotlib.ticker import ScalarFormatter

    formatter = axis.get_major_formatter()
    if not isinstance(formatter, ScalarFormatter):
        return
    formatter.set_useOffset(False)
    low, high = axis.get_view_interval()
    size = max(abs(low), abs(high))
    if 0 < size < _TINY_TICKS:
        axis.set_major_formatter(_TinyTicks())
    elif 1e3 <= size < 1e9:
        formatter.set_scientific(False)


#: Below this size, loss and slope ticks are written each in ``e`` notation (:class:`_TinyTicks`); it is where
#: matplotlib's default ``axes.formatter.limits`` puts them under a multiplier.
_TINY_TICKS = 1e-4


class _TinyTicks(Formatter):
    """Tiny ticks each written in full, ``-6e-07``, ``2.5e-07``, ``0``: never as digits under a multiplier.

    With the fewest significant digits (up to 7) that write the ticks in view apart.
    """

    digits = 1
    ticks: tuple[float, ...] = ()

    def set_locs(self, locs: Any) -> None:
        """Choose the digits for the ticks about to be drawn."""
        self.ticks = tuple(float(v) for v in locs)
        for self.digits in range(1, 8):
            if len({self._text(v) for v in self.ticks}) == len(set(self.ticks)):
                break

    def _text(self, x: float) -> str:
        scale = max((abs(v) for v in self.ticks), default=abs(x)) or 1.0
        if abs(x) <= 1e-9 * scale:  # 0, give or take the locator's rounding
            return "0"
        return f"{x:.{self.digits - 1}e}"

    def __call__(self, x: float, pos: int | None = None) -> str:
        """The tick at ``x`` in ``e`` notation."""
        return self._text(x)


def _limit_slope_axis(ax: Axes) -> None:
    """Keep the slope panel about the falling region: the blow-up's huge slopes are clipped."""
    values = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()] or [np.zeros(1)])
    values = values[np.isfinite(values)]
    if values.size < 2:
        return
    low = float(np.min(values))
    high = float(np.percentile(values, 90))
    high = max(high, 0.25 * abs(low), 1e-12)
    low = min(low, -1e-12)
    pad = 0.08 * (high - low)
    ax.set_ylim(low - pad, high + pad)


def _check_size(figsize: Any, dpi: Any) -> tuple[tuple[float, float], float]:
    """``figsize`` as two positive inches and ``dpi`` as a positive number, at most :data:`MAX_PIXELS` a side."""
    pair = tuple(plain(v) for v in figsize) if isinstance(figsize, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(is_real(v) for v in pair):
        raise TypeError(f"Expected figsize to be (width, height) in inches, e.g. (12, 9), but got figsize={figsize!r}")
    dpi = plain(dpi)
    if not is_real(dpi):
        raise TypeError(f"Expected dpi to be a number, e.g. 100, but got dpi={dpi!r}")
    width, height = float(pair[0]), float(pair[1])
    if not all(math.isfinite(v) and v > 0 for v in (width, height, float(dpi))):
        raise ValueError(f"Expected a positive figsize and dpi, but got figsize={figsize}, dpi={dpi}")
    if dpi < MIN_DPI:
        raise ValueError(
            f"Expected dpi >= {MIN_DPI}, but got dpi={dpi}: the report's text cannot be drawn that small; "
            "100 to 300 is usual (figsize sets the size in inches)"
        )
    if max(width, height) * dpi > MAX_PIXELS:
        raise ValueError(
            f"Expected figsize x dpi of at most {MAX_PIXELS:,} pixels a side, but got figsize={figsize}, dpi={dpi} "
            f"({width * dpi:,.0f} x {height * dpi:,.0f} pixels); lower dpi (100 to 300 is usual)"
        )
    return (width, height), dpi


def _check_schedule(schedule: Any) -> np.ndarray | None:
    """``schedule`` as a 1-D float array of finite LRs >= 0, or ``None``."""
    if schedule is None:
        return None
    if isinstance(schedule, (str, bytes)):
        raise TypeError(
            f"Expected schedule to be the LR at each training step (preview_schedule's array), but got "
            f"schedule={schedule!r:.60}; pass its name as schedule_name"
        )
    found = text_or_bool_at(schedule)
    if found is not None:
        raise TypeError(text_or_bool_message("schedule", found))
    if getattr(schedule, "is_meta", False):  # no values to copy out: torch's "Cannot copy out of meta tensor"
        raise TypeError(
            f"Expected schedule to be the LR at each training step, but got a tensor on the meta device, which holds "
            f"no values (shape {tuple(schedule.shape)}); pass preview_schedule's array"
        )
    try:
        lrs = np.asarray(schedule.detach().cpu() if hasattr(schedule, "detach") else schedule, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Expected schedule to be a sequence of LRs, but got {schedule!r:.60} ({exc})") from None
    if lrs.ndim != 1:
        raise ValueError(f"Expected schedule to be 1-D (one LR per training step), but got shape {lrs.shape}")
    bad = np.flatnonzero(~(np.isfinite(lrs) & (lrs >= 0)))
    if bad.size:
        raise ValueError(
            f"Expected every LR in schedule to be finite and >= 0, but got schedule[{bad[0]}]={lrs[bad[0]]}"
        )
    return lrs


#: The rcParams a report takes from the user's: the fonts, which a user sets to draw names in their script
#: (``font.sans-serif = ["SimHei"]``); every other setting is matplotlib's default.
_USER_FONTS: tuple[str, ...] = (
    "font.family", "font.sans-serif", "font.serif", "font.monospace", "font.cursive", "font.fantasy",
)  # fmt: skip
#: Held while a report is drawn or saved under :func:`_report_style`: rcParams are one global dict, and two reports
#: drawn at once from two threads would each put back the other's settings on leaving.
_STYLE_LOCK = threading.RLock()


@contextmanager
def _report_style(settings: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Draw (or save) a full report under matplotlib's default style, the user's fonts and ``settings``.

    The report is a document of its own, its colours fixed (:data:`COLORS`, white label boxes,
    black marks): under the user's ``plt.style.use("dark_background")`` its header and labels
    were drawn in white on white, under ``"fivethirtyeight"`` (14 pt type) its axis labels ran
    out of their panels, and ``savefig.bbox = "tight"`` wrote a file of another size. The
    user's rcParams, style and backend are as they were on leaving. A loss panel drawn into the
    user's own axes (``plot_range_test(ax=...)``) is not drawn under it: it takes their style.
    """
    import matplotlib
    from matplotlib import style

    params: Any = matplotlib.rcParams  # typed by its keys, which a loop over names cannot show
    with _STYLE_LOCK:
        fonts = {key: params[key] for key in _USER_FONTS}
        with matplotlib.rc_context():
            style.use("default")
            params.update({**fonts, **(settings or {})})
            yield


def report_format(path: str | os.PathLike[str]) -> str:
    """The matplotlib format of a report written to ``path``, from its extension.

    Raises:
        ValueError: An unsupported extension (the message lists the supported ones), or an empty path.
        IsADirectoryError: ``path`` is a directory without a report's extension (said as a directory: its missing
            extension was the reason given, and ``LRFinder(report='')`` named ``'.'``).

    """
    if not os.fspath(path):  # Path('') is '.': the error named the current directory
        raise ValueError("Expected a report path such as 'lr-report.png', but got an empty path ''")
    target = Path(path)
    fmt = REPORT_FORMATS.get(target.suffix.lower())
    if fmt is None and target.is_dir():
        raise IsADirectoryError(
            f"Cannot write a report to {str(target)!r}: it is a directory. Give a file path inside it, e.g. "
            f"{str(target / 'lr-report.png')!r}."
        )
    if fmt is None:
        raise ValueError(
            f"Unsupported report format {target.suffix or '(no extension)'!r} for {str(target)!r}; "
            f"expected one of {', '.join(REPORT_FORMATS)}"
        )
    return fmt


@contextmanager
def _as_laid_out(fig: Figure) -> Iterator[None]:
    """Within it, ``fig`` is laid out once more and saved as laid out, its layout engine set aside.

    With a layout engine, ``savefig`` draws the figure twice: once, rendering nothing, to run the engine, then to
    render. Run here directly, the engine lays the figure out as that first drawing did (the labels and legends placed
    after :func:`_draw_report`'s last layout move the panels: the last one is needed), and the figure is drawn once.
    For a figure nobody else holds (:func:`report_writer`'s); the engine is put back after. PNG only: drawn once, the
    first report of a process places some texts a millionth of a point off where later ones do, which a PNG's
    pixels do not show but an SVG's or PDF's numbers do (the same report wrote other bytes).
    """
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
    fig.set_layout_engine(None)  # not "none": savefig runs a placeholder engine's drawing all the same
    try:
        yield
    finally:
        fig.set_layout_engine(engine)


def report_writer(
    result_or_results: RangeTestResult | Sequence[RangeTestResult],
    path: str | os.PathLike[str],
    **kwargs: Any,
) -> Callable[[str], object]:
    """Draw the report now; return ``write(file)``, which saves it in the format of ``path``.

    For writers that stage several files and rename them together (the command line): the
    figure is drawn here, and ``write`` may target a temporary name, since the format comes
    from ``path``'s extension.

    Raises:
        ValueError: An unsupported extension (the message lists the supported ones).
        TypeError: An ``ax`` in ``kwargs``: the report is a figure of its own.

    """
    fmt = report_format(path)
    if "ax" in kwargs:
        # The file would hold the whole figure of the axes, not the report: save that figure yourself.
        raise TypeError(
            "save_report writes the full report and takes no ax; to save a figure you drew into with "
            "plot_range_test(result, ax=ax), call ax.figure.savefig(path)"
        )
    fig = plot_range_test(result_or_results, **kwargs)
    # Fixed metadata keeps SVG/PDF output byte-stable between runs.
    metadata = (
        {"Software": "lrfinder"} if fmt == "png" else ({"Date": None} if fmt == "svg" else {"CreationDate": None})
    )

    def write(file: str) -> None:
        # SVG ids (the clip paths') are hashes salted with a random uuid unless svg.hashsalt is set: two
        # identical runs wrote different .svg files. Saved under the style it was drawn in: the user's
        # savefig.bbox = "tight" cropped the file to another size, savefig.transparent left it without a background.
        with _report_style({"svg.hashsalt": "lrfinder"}):
            if fmt == "png":
                with _as_laid_out(fig):
                    fig.savefig(file, format=fmt, dpi=fig.dpi, metadata=metadata)
                return
            if fmt != "svg":
                fig.savefig(file, format=fmt, dpi=fig.dpi, metadata=metadata)
                return
            buffer = io.StringIO()
            fig.savefig(buffer, format=fmt, dpi=fig.dpi, metadata=metadata)
        with open(file, "w", encoding="utf-8") as handle:
            handle.write(_stable_svg_ids(buffer.getvalue()))

    return write


#: An id matplotlib's SVG writer makes by hashing what it names (a clip rectangle, a marker's path).
_HASHED_SVG_ID = re.compile(r'id="([a-z][0-9a-f]{10})"')


def _stable_svg_ids(svg: str) -> str:
    """Rename the hashed ids of an SVG document to ``<letter><n>``, numbered in order of appearance.

    matplotlib names a clip path by a hash of its rectangle, and the same report may lay out its
    axes 1e-13 apart from one drawing to the next (text extents are measured as it is drawn), so
    the same curve got different ids, and two identical runs different files.
    """
    names: dict[str, str] = {}
    for old in _HASHED_SVG_ID.findall(svg):
        names.setdefault(old, f"{old[0]}{len(names)}")
    if not names:
        return svg
    return re.sub("|".join(map(re.escape, names)), lambda m: names[m.group(0)], svg)


def save_report(
    result_or_results: RangeTestResult | Sequence[RangeTestResult],
    path: str | os.PathLike[str],
    **kwargs: Any,
) -> Path:
    """Write the report of one result (or an overlay of several) to ``path``.

    The format follows the extension: ``.png``, ``.svg`` or ``.pdf``. The file is written to a
    temporary file in the same directory and renamed, so it is never half-written.

    Args:
        result_or_results: What to draw (see :func:`plot_range_test`).
        path: Output file; its parent directories are created.
        **kwargs: Passed to :func:`plot_range_test` (``schedule``, ``schedule_name``,
            ``schedule_kind``, ``title``, ``highlight``, ``figsize``, ``dpi``, ``applied_lr``).

    Returns:
        The path written.

    Raises:
        ValueError: An empty ``path``, an unsupported extension (the message lists the supported
            ones), or as :func:`plot_range_test`.
        TypeError: ``path`` is not a path, an ``ax`` is given (the report is a figure of its own), or as
            :func:`plot_range_test`.
        NotADirectoryError: A directory on ``path`` is a file.
        IsADirectoryError: ``path`` is a directory, or ends in a path separator.

    Example:
        >>> save_report(result, "lr-report.png")  # doctest: +SKIP
        PosixPath('lr-report.png')

    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"Expected path to be a file path such as 'lr-report.png', but got path={path!r:.60}")
    if not os.fspath(path):  # Path('') is '.': the error named the current directory
        raise ValueError("Expected path to be a file path such as 'lr-report.png', but got an empty path ''")
    target = Path(path)
    atomic_write(path, report_writer(result_or_results, target, **kwargs))  # as given: 'r.png/' names a directory
    logger.info("Wrote report %s", target)
    return target
