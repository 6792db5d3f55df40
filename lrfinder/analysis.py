"""Curve analysis: from a recorded loss-vs-LR curve to a suggested learning rate.

Pure numpy/scipy: arrays in, floats and arrays out; nothing here knows about models.
``scipy.signal`` is imported inside the functions that filter, so importing this module (for
:data:`RULES` or :data:`RULE_DESCRIPTIONS`, say) stays light.

:func:`analyze` runs named steps, each a small pure function tested on its own:

1. :func:`finite_prefix`: keep the curve up to its first non-finite loss.
2. :func:`clip_explosion`: cap values far above the starting loss, so an explosion at the end of
   the sweep cannot drag the smoothed minimum away.
3. :func:`choose_window` and :func:`noise_level`: the Savitzky-Golay window, adapted to the
   noise, and the noise of the smoothed curve.
4. :func:`savgol`: smooth over ``log10(lr)`` once. The filter is centred, so unlike the
   causal exponential moving average used by other finders it has no phase lag: a feature of the
   curve stays at the LR where it happened.
5. :func:`blowup_index`: cut the curve at the first *blow-up* (the smoothed loss climbing back by
   half of everything it had fallen, confirmed by the recorded losses); what comes after it,
   including any "recovery" slope, is never searched. A rise that the loss later falls below its
   earlier minimum by more than it rose is a *bump* (:func:`bump_mask`: a wobble at tiny LRs, a
   spike in the fall), not a blow-up: the search goes on past it.
6. :func:`check_fall`: the minimum, and whether the loss clearly falls at all (from its highest
   point off the bumps).
7. :func:`divergence_index`: where the loss has clearly turned up after the minimum; without
   one, :func:`still_falling` tells a loss still falling at the largest LR (inconclusive) from a
   flat bottom whose lowest point the noise put last (read, with a note).
8. :func:`falling_region`: the steepest descent before the minimum (off the bumps) and the
   stretch around it.
9. One function per rule (:data:`RULE_FUNCTIONS`), :func:`one_cycle_band`, and
   :func:`confidence_and_notes`.

Steps 1-8 give a :class:`CurveReading`; :func:`read_curve` runs them, so other code (the report,
the benchmarks) reads a curve exactly as :func:`analyze` does.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", 2017, arXiv:1506.01186.
    Smith & Topin, "Super-Convergence", 2017, arXiv:1708.07120.
    Savitzky & Golay, "Smoothing and Differentiation of Data by Simplified Least Squares
    Procedures", Analytical Chemistry 36(8), 1964.

"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, cast

import numpy as np

from ._checks import (
    COMPLEX_LOSS_FIX,
    NON_FINITE_TEXT,
    answers_peer_options,
    is_choice,
    is_int,
    is_not_a_sequence,
    is_peer_history,
    is_real,
    non_finite_from_text,
    plain,
    single_number_note,
    text_or_bool_at,
    text_or_bool_message,
)
from ._warn import warn
from ._wording import plural
from .exceptions import InconclusiveCurveError
from .names import (
    CURVES,
    DEFAULT_RULE,
    PEER_ANALYSIS_OPTIONS,
    RULE_DESCRIPTIONS,
    RULES,
    Curve,
    Rule,
    did_you_mean,
    unknown_rule_hint,
)

__all__ = [
    "Rule",
    "RULES",
    "RULE_DESCRIPTIONS",
    "RULE_FUNCTIONS",
    "DEFAULT_RULE",
    "Suggestion",
    "NoiseLevel",
    "FallingRegion",
    "CurveReading",
    "analyze",
    "read_curve",
    "smooth_losses",
    "undo_ema",
    "loss_slope",
    "finite_prefix",
    "clip_explosion",
    "explosion_index",
    "choose_window",
    "savgol",
    "noise_level",
    "blowup_index",
    "bump_mask",
    "find_blowup_lr",
    "check_fall",
    "divergence_index",
    "still_falling",
    "falling_region",
    "nearest_swept_lr",
    "rule_divergence_div10",
    "rule_min_div10",
    "rule_valley",
    "rule_steepest",
    "one_cycle_band",
    "confidence_and_notes",
    "derivation",
    "pick_spread",
]

logger = logging.getLogger(__name__)


#: The one-cycle / cyclic ``max_lr`` is the divergence LR divided by this (see RESULTS.md).
ONECYCLE_DIV = 5.0
#: Fewer finite points than this and the curve cannot be analysed.
MIN_POINTS = 10
#: A falling region is where the slope is at least this fraction of the steepest slope.
FALLING_FRACTION = 0.5
#: The loss has *diverged* once it rises above its minimum by this fraction of its total fall.
DIVERGENCE_RISE = 0.1
#: The loss has *blown up* once it rises above its running minimum by this fraction of its fall.
BLOWUP_RISE = 0.5
#: Savitzky-Golay polynomial degree used by the analysis.
POLYORDER = 2
#: A fall that misses the noise bar while one step's losses scatter by at least this fraction of it
#: is told to average more examples per step (a larger batch): the advice only, never the verdict.
NOISY_STEPS = 0.25

#: A loss still falling (or never moving) at LRs of this and more is told why that is likely, not only to sweep higher:
#: Adam-type steps are bounded by the LR itself, and a loss that survives plain SGD at such LRs barely depends on the
#: weights' scale (:func:`_high_lr_words`).
HIGH_MAX_LR = 10.0
#: A flat curve that blew up only this many decades or more above ``min_lr`` is no advice to lower ``min_lr``:
#: :func:`_flat_until_blowup`.
FLAT_DECADES = 1.0
#: The decades below a blow-up, and above it, that the advice to sweep them again names: refine's re-sweep for a curve
#: that never fell but blew up (:func:`lrfinder.refine.next_sweep`).
RESWEEP_BELOW, RESWEEP_ABOVE = 1e4, 10.0
#: That advice's steps, in multiples of the sweep's, for the one sweep a user runs by hand: on the benchmark's tune
#: split (adding_gru_adam, seeds 0-2, flat until Adam blew it up) one sweep of twice the steps read no fall on any
#: seed, one of four times read one on all three (``benchmarks/results/advice.md``).
FLAT_STEPS = 4
#: The steps of refine's re-sweep of a curve that never fell but blew up, in multiples of the sweep's, which the
#: advice names beside its own: refine sweeps again where its re-sweep reads no fall (``Refine.max_resweeps``), so two
#: rounds of twice the steps reach the density of one of four times. Measured end to end on the tune split
#: (adding_gru_adam: 3 seeds, constant and one-cycle, both judges; ``benchmarks/results/refine_never_falls.md``):
#: twice the steps put 4 of 12 refined picks in the good band (geometric-mean regret 3.36), three times 2 of 12
#: (13.3), four times 2 of 12 (5.76), at 6% fewer steps (one re-sweep, where twice ran two on 2 seeds of 3).
RESWEEP_STEPS = 2
#: How far a sweep that ends too low is told to go up: refine's re-sweeps for a still-falling or never-moving curve.
RESWEEP_HIGHER = 1e3

#: A fall of fewer smoothed noise levels than this is noted as shallow.
SHALLOW_FALL = 8.0
#: Rules whose picks lie more decades apart than this are noted as disagreeing.
DISAGREE_DECADES = 2.0
#: Below this confidence the report warns to read the curve first.
LOW_CONFIDENCE = 0.35
#: A suggestion snapped more decades than this from its target is noted (a coarse sweep).
SNAP_DECADES = 0.15
#: Differences of losses below this fraction of their size are float round-off. Relative, so a
#: curve is read the same whatever the unit of its loss (1e-20 or 1e20).
ROUND_OFF = 1e-12
#: The smallest positive float: the round-off floor of an all-zero curve, so no level is 0.
_TINY = float(np.finfo(float).tiny)
_EPS = float(np.finfo(float).eps)
#: Smoothed losses (and their slopes) that differ by less than this many float64 ulps of the
#: losses' size are tied: the round-off of the filter's sums, which changes with the loss's unit or
#: offset. Ties go to the first point (:func:`check_fall`, :func:`falling_region`). Far below
#: :data:`ROUND_OFF`, so values that differ on paper, however little, are never tied.
TIE_ULPS = 32


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """What the curve says, with the reasons.

    Every LR below is one of the swept LRs (no interpolation), so it can be found on the curve;
    the one exception is ``min_lr`` on a falling region too short to hold a point below ``max_lr / 3``.

    Attributes:
        lr: The suggested learning rate for training, chosen by ``rule``.
        steepest_lr: LR of the most negative slope ``d loss / d log10(lr)`` of the smoothed
            curve, searched only between the start and the minimum.
        min_loss_lr: LR of the minimum of the smoothed curve (before any blow-up).
        divergence_lr: First LR after the minimum where the smoothed loss has risen by
            ``DIVERGENCE_RISE`` of its total fall (or by the noise band, see :func:`analyze`); else the first
            non-finite LR; ``None`` when the loss never turned up.
        non_finite_lr: LR of the first NaN/inf loss, ``None`` if every loss was finite.
        min_lr: Lower bound for cyclic / one-cycle schedules: the start of the falling region,
            kept between ``max_lr / 10`` and ``max_lr / 3`` (Smith's ratios).
        max_lr: Upper bound for cyclic / one-cycle schedules (the one-cycle peak): the
            divergence LR (else the minimum's) divided by ``ONECYCLE_DIV`` (5), the nearest swept
            LR at or below ``min_loss_lr``. Chosen by measurement (``benchmarks/RESULTS.md``). Never
            below ``lr``: where the rule's LR lies higher (``steepest``, ``valley``), the peak is ``lr``.
        confidence: In [0, 1]; the geometric mean of the depth of the fall against the noise, the
            width of the falling region, whether the top of the usable range was seen, and the
            agreement of the rules; below ``LOW_CONFIDENCE`` (0.35) when the recorded losses' own
            step-to-step scatter does not confirm the fall (a short sweep). Below 0.5, read the notes.
        rule: The rule that produced ``lr``.
        notes: Warnings, each an exception on the benchmark's curves (see
            ``benchmarks/results/notes.md`` for how often each fires): a shallow or one-step fall,
            no turn-up seen, rules far apart, a recovery after the blow-up, a suggestion clamped
            to the minimum or snapped far from its target, or at the divergence point, finite losses
            after the first non-finite one (not read).
        smoothed_losses: The smoothed curve, aligned with the input LRs (NaN where not smoothed:
            from the first non-finite loss on).
        window: The Savitzky-Golay window length used, in points.
        derivation: How ``lr`` was derived, e.g. ``"3.76e-02 = divergence 3.85e-01 / 10, nearest
            swept LR"``.
        blowup_lr: Where the curve was cut as blown up (nothing from there on was searched),
            ``None`` when it never blew up. Not the divergence point: the loss *diverges* once it
            has risen by ``DIVERGENCE_RISE`` of its fall, and *blows up* later, once it has risen
            by ``BLOWUP_RISE`` of it.

    """

    lr: float
    steepest_lr: float
    min_loss_lr: float
    divergence_lr: float | None
    non_finite_lr: float | None
    min_lr: float
    max_lr: float
    confidence: float
    rule: Rule
    notes: tuple[str, ...]
    smoothed_losses: tuple[float, ...] = field(repr=False)
    window: int
    derivation: str = ""
    blowup_lr: float | None = None

    def __post_init__(self) -> None:
        """Check the fields as :meth:`from_dict` checks a file's, numpy numbers and 0-d tensors as Python's.

        A Suggestion built by hand (to pass to ``create_scheduler`` or ``train``) took ``lr="abc"``, ``None`` or
        ``nan``, and failed only later: ``train`` with "must be real number, not str" inside its LR check, ``repr``
        with "Unknown format code 'e' for object of type 'str'", ``to_json`` with "Out of range float values are not
        JSON compliant".

        Raises:
            TypeError: A field of the wrong type (an LR or the confidence that is no number, notes that are not
                strings, a window that is no integer, smoothed losses that are not a sequence of numbers).
            ValueError: An LR that is not finite and > 0, a confidence outside [0, 1], an unknown rule, a window
                below 1, or a ``min_lr`` above ``max_lr`` (an inverted one-cycle band).

        """
        for key in (*_SUGGESTION_LRS, "confidence"):
            value = plain(getattr(self, key))
            if value is None and key in _OPTIONAL_LRS:
                continue
            if not is_real(value):
                raise TypeError(f"Expected suggestion.{key} to be a number, but got {key}={value!r:.60}")
            value = float(value)
            if key == "confidence" and not 0.0 <= value <= 1.0:
                raise ValueError(f"Expected suggestion.confidence in [0, 1], but got confidence={value!r}")
            if key != "confidence" and not (math.isfinite(value) and value > 0):
                raise ValueError(f"Expected suggestion.{key} to be a finite LR > 0, but got {key}={value!r}")
            object.__setattr__(self, key, value)
        if self.min_lr > self.max_lr:
            # Refused by create_scheduler only, and a result holding it wrote a file from_json refused.
            raise ValueError(
                f"suggestion.min_lr={self.min_lr:.2e} is above suggestion.max_lr={self.max_lr:.2e}, an inverted "
                "one-cycle band (a range test's min_lr is below its max_lr). Give the band as the test found it, "
                "min_lr below max_lr, or run the test again"
            )
        object.__setattr__(self, "rule", _rule(self.rule))
        try:
            object.__setattr__(self, "notes", _notes(self.notes))
        except ValueError as exc:
            raise TypeError(str(exc)) from None
        losses = self.smoothed_losses
        if type(losses) is not tuple or not all(type(v) is float for v in losses):
            # Read through once: a generator (map(float, ...)) checked, then read again, was stored as ().
            values = None if is_not_a_sequence(losses) else tuple(plain(v) for v in losses)
            if values is None or not all(is_real(v) for v in values):
                raise TypeError(
                    f"Expected suggestion.smoothed_losses to be a sequence of numbers, but got "
                    f"smoothed_losses={losses!r:.60}{single_number_note(losses)}"
                )
            object.__setattr__(self, "smoothed_losses", tuple(float(v) for v in values))
        window = plain(self.window)
        if not is_int(window):
            raise TypeError(f"Expected suggestion.window to be an integer, but got window={window!r:.60}")
        if window < 1:
            # The smoothing window counts points: window=0 was taken and written to JSON; no curve is read so.
            raise ValueError(
                f"Expected suggestion.window to be a positive number of points (the smoothing window the curve was "
                f"read with), but got window={window}"
            )
        object.__setattr__(self, "window", int(window))
        if not isinstance(self.derivation, str):
            raise TypeError(
                f"Expected suggestion.derivation to be a string, but got derivation={self.derivation!r:.60}"
            )

    def __repr__(self) -> str:
        div = "None" if self.divergence_lr is None else f"{self.divergence_lr:.2e}"
        return (
            f"Suggestion(lr={self.lr:.2e}, rule={self.rule!r}, steepest_lr={self.steepest_lr:.2e}, "
            f"min_loss_lr={self.min_loss_lr:.2e}, divergence_lr={div}, band={self.min_lr:.2e}..{self.max_lr:.2e}, "
            f"confidence={self.confidence:.2f}, notes={len(self.notes)})"
        )

    def to_dict(self) -> dict[str, object]:
        """Return the fields as plain JSON-serialisable Python values (NaN stays NaN)."""
        return {
            "lr": self.lr,
            "steepest_lr": self.steepest_lr,
            "min_loss_lr": self.min_loss_lr,
            "divergence_lr": self.divergence_lr,
            "non_finite_lr": self.non_finite_lr,
            "min_lr": self.min_lr,
            "max_lr": self.max_lr,
            "confidence": self.confidence,
            "rule": self.rule,
            "notes": list(self.notes),
            "smoothed_losses": list(self.smoothed_losses),
            "window": self.window,
            "derivation": self.derivation,
            "blowup_lr": self.blowup_lr,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Suggestion:
        """Build a :class:`Suggestion` from :meth:`to_dict`'s output.

        Raises:
            ValueError: A missing key (``Malformed suggestion: missing key 'lr'``), an unknown
                rule, notes that are not a list of strings, a value that is no number (named by its
                key), an LR that is not finite and > 0, or a confidence outside [0, 1].
            TypeError: ``data`` is not a mapping (a JSON object).

        """
        if not isinstance(data, Mapping):
            raise TypeError(f"Expected data to be a mapping (a JSON object), but got {type(data).__name__}")
        # Said as RangeTestResult.from_dict says it; a bare KeyError('lr') named no object.
        missing = [key for key in _SUGGESTION_KEYS if key not in data]
        if missing:
            raise ValueError(
                f"Malformed suggestion: missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}"
            )
        suggestion = cls(
            lr=_key_float(data, "lr"),
            steepest_lr=_key_float(data, "steepest_lr"),
            min_loss_lr=_key_float(data, "min_loss_lr"),
            divergence_lr=_key_float(data, "divergence_lr", optional=True),
            non_finite_lr=_key_float(data, "non_finite_lr", optional=True),
            min_lr=_key_float(data, "min_lr"),
            max_lr=_key_float(data, "max_lr"),
            confidence=_key_float(data, "confidence"),
            rule=_rule(data["rule"]),
            notes=_notes(data.get("notes", ())),
            smoothed_losses=_key_floats(data, "smoothed_losses"),
            window=_key_int(data, "window"),
            derivation=str(data.get("derivation", "")),
            blowup_lr=_key_float(data, "blowup_lr", optional=True),
        )
        return suggestion  # its LRs and confidence checked by __post_init__


@dataclass(frozen=True)
class NoiseLevel:
    """The smoothing window of a curve and the noise left after smoothing.

    Attributes:
        window: Savitzky-Golay window length in points (odd).
        sigma: Robust (MAD) standard deviation of the raw residuals around the smoothed curve.
        se: Standard deviation of that noise after the filter: ``sigma * ||h||`` with ``h`` the
            filter's coefficients (floored at a round-off level).
        band: Expected max-minus-min of the smoothed noise alone over ``n / window`` independent
            stretches, ``2 * sqrt(2 ln(max(n / window, 2))) * se``: a fall or a rise smaller than
            this could be noise.

    """

    window: int
    sigma: float
    se: float
    band: float


@dataclass(frozen=True)
class FallingRegion:
    """The contiguous stretch around the steepest descent where the slope is at least half of it.

    Attributes:
        start: Index of the first point of the region.
        steepest: Index of the most negative slope (at or before the minimum).
        end: Index of the last point of the region (at most the minimum's).

    """

    start: int
    steepest: int
    end: int


@dataclass(frozen=True, eq=False)
class CurveReading:
    """Everything :func:`analyze` reads off a curve before a rule picks the LR.

    Arrays cover the finite prefix of the curve only (``n`` points).

    Attributes:
        lrs: The swept LRs of the finite prefix.
        raw: The recorded losses of the finite prefix.
        clipped: ``raw`` after :func:`clip_explosion`.
        smoothed: The smoothed loss (:func:`savgol` of ``clipped``).
        slope: ``d smoothed / d log10(lr)`` (:func:`loss_slope`).
        noise: The window and noise levels (:class:`NoiseLevel`).
        end: Points searched: ``n``, or the index of the first blow-up (:func:`blowup_index`).
        i_min: Index of the smoothed minimum before ``end``.
        drop: Fall of the smoothed loss from its highest point before the minimum to the minimum.
        divergence: Index where the loss has turned up after the minimum, else ``None``.
        divergence_lr: Its LR, else the first non-finite LR, else ``None``.
        non_finite_lr: LR of the first non-finite loss of the whole curve, else ``None``.
        region: The falling region (:class:`FallingRegion`).
        finite_after: Finite losses after the first non-finite one (a curve from elsewhere may go
            on past a lone one; a range test stops there), which are not read.

    """

    lrs: np.ndarray
    raw: np.ndarray
    clipped: np.ndarray
    smoothed: np.ndarray
    slope: np.ndarray
    noise: NoiseLevel
    end: int
    i_min: int
    drop: float
    divergence: int | None
    divergence_lr: float | None
    non_finite_lr: float | None
    region: FallingRegion
    finite_after: int = 0

    @property
    def min_loss_lr(self) -> float:
        """LR of the smoothed minimum."""
        return float(self.lrs[self.i_min])

    @property
    def blew_up(self) -> bool:
        """Whether the curve was cut at a blow-up before its last finite point."""
        return self.end < self.lrs.size

    @property
    def top_lr(self) -> float:
        """The top of the usable range: the divergence LR, else the minimum's."""
        return self.divergence_lr if self.divergence_lr is not None else self.min_loss_lr


def _rule(value: object) -> Rule:
    """``value`` as a :data:`Rule`, or a ``ValueError`` listing the rules."""
    if not is_choice(value, RULES):
        raise ValueError(f"Unknown rule {value!r}; expected one of {', '.join(RULES)}." + unknown_rule_hint(value))
    return cast(Rule, value)


def _notes(value: Any) -> tuple[str, ...]:
    """``notes`` read back from a dict: a list of strings (a bare string is not split into letters)."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(note, str) for note in value):
        raise ValueError(f"Expected notes to be a list of strings, but got notes={value!r:.60}")
    return tuple(value)


#: A suggestion's LR fields, checked finite and > 0 (those of :data:`_OPTIONAL_LRS` may be ``None``).
_SUGGESTION_LRS = (
    "lr", "steepest_lr", "min_loss_lr", "divergence_lr", "non_finite_lr", "min_lr", "max_lr", "blowup_lr"
)  # fmt: skip
_OPTIONAL_LRS = ("divergence_lr", "non_finite_lr", "blowup_lr")

#: The keys :meth:`Suggestion.from_dict` needs (the others have defaults).
_SUGGESTION_KEYS = (
    "lr", "steepest_lr", "min_loss_lr", "min_lr", "max_lr", "confidence", "rule", "smoothed_losses", "window"
)  # fmt: skip


def _key_float(data: Mapping[str, Any], key: str, *, optional: bool = False) -> Any:
    """``data[key]`` as a float (``None`` kept when ``optional``), or a ValueError naming the key.

    ``float("x")`` said "could not convert string to float: 'x'" of a malformed suggestion, naming no key.
    """
    value = data.get(key) if optional else data[key]
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"Expected suggestion.{key} to be a number, but got {key}={value!r:.60}")
    if not isinstance(value, str):
        return float(value)
    # float("1e-3") read a number written as text (a hand-edited file) as that number, and float("Infinity") text
    # no writer produces, which the curve's reader refused.
    number = non_finite_from_text(value)
    if number is None:
        raise ValueError(
            f"Expected suggestion.{key} to be a number, but got {key}={value!r:.60}, text (only the values JSON cannot "
            f"hold are written as text: {', '.join(map(repr, NON_FINITE_TEXT))})"
        )
    return number


def _key_floats(data: Mapping[str, Any], key: str) -> tuple[float, ...]:
    """``data[key]`` as a tuple of floats, or a ValueError naming the key and the entry."""
    values = data[key]
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise ValueError(f"Expected suggestion.{key} to be a list of numbers, but got {key}={values!r:.60}")
    return tuple(_key_float({f"{key}[{i}]": v}, f"{key}[{i}]") for i, v in enumerate(values))


def _key_int(data: Mapping[str, Any], key: str) -> int:
    """``data[key]`` as an int, or a ValueError naming the key (``1.5`` is no window)."""
    value = data[key]
    if not is_int(value):
        raise ValueError(f"Expected suggestion.{key} to be an integer, but got {key}={value!r:.60}")
    return int(value)


# --------------------------------------------------------------------------------------------
# Input checks and smoothing
# --------------------------------------------------------------------------------------------


def _first_lowest(values: np.ndarray, tolerance: float) -> int:
    """Index of the first value within ``tolerance`` of the lowest.

    ``numpy.argmin`` takes the first of exactly equal values, but values equal on paper (a flat
    bottom, the same slope at two like steps of a curve) differ by float round-off, and which one
    comes out lowest then changes when the loss is scaled or shifted: read this way, the pick does not.
    """
    hits = np.flatnonzero(values <= float(np.min(values)) + tolerance)
    return int(hits[0]) if hits.size else int(np.argmin(values))  # NaN values: argmin's answer


def _value_tie(values: np.ndarray) -> float:
    """Differences of ``values`` (smoothed losses) below this are round-off: :data:`TIE_ULPS` ulps of their size."""
    return TIE_ULPS * _EPS * float(np.max(np.abs(values))) if values.size else 0.0


def _complex_at(values: Any) -> tuple[int, Any] | None:
    """The index and value of the first complex number in ``values`` (an array, a tensor or a list), else ``None``."""
    if hasattr(values, "is_complex") and hasattr(values, "detach"):  # a torch tensor, without importing torch
        if not values.is_complex():
            return None
        flat = values.detach().reshape(-1)
        return (0, flat[0].item()) if flat.numel() else None
    if isinstance(values, np.ndarray):
        return (0, values.reshape(-1)[0].item()) if values.dtype.kind == "c" and values.size else None
    if isinstance(values, (list, tuple)):
        for i, v in enumerate(values):
            if isinstance(v, (complex, np.complexfloating)) or (hasattr(v, "is_complex") and v.is_complex()):
                return i, v.item() if hasattr(v, "item") else v
    return None


def _check_real(values: Any, name: str) -> None:
    """Refuse complex ``values``, naming ``name`` and the first complex entry (see :func:`_as_numbers`)."""
    found = _complex_at(values)
    if found is not None:
        i, value = found
        fix = f" ({COMPLEX_LOSS_FIX})" if name != "lrs" else ""
        raise TypeError(
            f"Expected {name} to be real numbers, but got complex ones ({name}[{i}]={value!r}): the analysis reads "
            f"real values only{fix}."
        )


def _as_numbers(values: Any, name: str = "losses") -> Any:
    """``values`` with torch tensors read as float64 numbers, without importing torch.

    A tensor that requires grad, lives on a GPU or is bfloat16 (a curve of ``loss`` tensors, not
    ``loss.item()``) cannot go through ``numpy.asarray``; its values can. Complex numbers are
    refused, as :func:`lrfinder.range_test` refuses a complex loss: read as floats, their
    imaginary part was dropped with only numpy's ``ComplexWarning``.

    Raises:
        TypeError: ``values`` holds complex numbers (the message names ``name``).

    """
    _check_real(values, name)
    return _tensor_values(values)


def _tensor_values(values: Any) -> Any:
    """``values`` with torch tensors read as float64 numbers (:func:`_as_numbers` without its complex check)."""
    if hasattr(values, "detach") and hasattr(values, "cpu"):
        return values.detach().cpu().double().numpy()
    if isinstance(values, (list, tuple)) and any(hasattr(v, "detach") for v in values):
        return [float(v.detach().cpu().double()) if hasattr(v, "detach") else v for v in values]
    return values


def _listed(values: Any) -> Any:
    """A one-off iterable (a generator, ``map``, ``zip``, a dict's ``.values()``) as a list; other values unchanged.

    numpy read such an object as one item, and the refusal said "float() argument must be a string or a real number,
    not 'generator'" of a curve that was numbers; a generator read once is empty the second time.
    """
    if (
        isinstance(values, Iterable)
        and not isinstance(values, (Sequence, np.ndarray, str, bytes, Mapping, set, frozenset))
        and not hasattr(values, "__array__")  # a tensor, a pandas Series: numpy reads them
    ):
        return list(values)
    return values


def _numbers(values: Any, name: str) -> np.ndarray:
    """``values`` as a float array, or a ``TypeError`` naming ``name``: text, booleans, a mapping, complex numbers.

    numpy reads ``"1e-3"`` as 0.001 and ``True`` as 1.0, and its own failure ("could not convert
    string to float: 'a'") named neither the argument nor the fix.
    """
    if isinstance(values, (str, bytes, Mapping)):
        raise TypeError(f"Expected {name} to be a sequence of numbers, but got {type(values).__name__} {values!r:.60}")
    values = _listed(values)
    found = text_or_bool_at(values)
    if found is not None:
        raise TypeError(text_or_bool_message(name, found))
    _check_real(values, name)  # not in the try below, which words a failure as "not numbers"
    try:
        return np.asarray(_tensor_values(values), dtype=float)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"Expected {name} to be a sequence of numbers, but got {values!r:.60} ({exc})") from None


def _check_curve(
    lrs: Sequence[float] | np.ndarray, losses: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    lr_arr, loss_arr = _numbers(lrs, "lrs"), _numbers(losses, "losses")
    if lr_arr.ndim != 1 or loss_arr.ndim != 1:
        raise ValueError(f"Expected 1-D lrs and losses, but got shapes {lr_arr.shape} and {loss_arr.shape}")
    if lr_arr.shape != loss_arr.shape:
        raise ValueError(
            f"Expected lrs and losses of the same length, but got len(lrs)={lr_arr.size}, len(losses)={loss_arr.size}"
        )
    bad = np.flatnonzero(~(np.isfinite(lr_arr) & (lr_arr > 0)))
    if bad.size:
        # Name the entry: the minimum of an array with a NaN in it is NaN, and says nothing of where.
        raise ValueError(f"Expected every lr to be finite and > 0, but got lrs[{bad[0]}]={float(lr_arr[bad[0]])!r}")
    steps = np.flatnonzero(np.diff(lr_arr) <= 0)
    if steps.size:
        i = int(steps[0])
        hint = " (they decrease throughout: pass the steps in the order the test ran them)" if i == 0 else ""
        hint = hint if steps.size == lr_arr.size - 1 else ""
        raise ValueError(
            "Expected lrs strictly increasing, as recorded by a range test, but got "
            f"lrs[{i}]={float(lr_arr[i])!r} then lrs[{i + 1}]={float(lr_arr[i + 1])!r}{hint}"
        )
    same_log = np.flatnonzero(np.diff(np.log10(lr_arr)) <= 0) if lr_arr.size > 1 else np.zeros(0, dtype=int)
    if same_log.size:
        # Slopes are taken against log10(lr): two LRs with one logarithm would divide by zero.
        a, b = float(lr_arr[same_log[0]]), float(lr_arr[same_log[0] + 1])
        raise ValueError(
            f"Expected lrs whose log10 differ, but lrs[{same_log[0]}]={a!r} and lrs[{same_log[0] + 1}]={b!r} have the "
            "same log10 in float64: the steps are too small for a range test"
        )
    return lr_arr, loss_arr


def finite_prefix(values: Sequence[float] | np.ndarray) -> int:
    """Number of values before the first non-finite one.

    Example:
        >>> finite_prefix([3.0, 2.0, float("nan"), 1.0])
        2

    """
    arr = np.asarray(_as_numbers(values, "values"), dtype=float)
    bad = np.flatnonzero(~np.isfinite(arr))
    return int(bad[0]) if bad.size else int(arr.size)


def _window_length(n: int, window: int | None) -> int:
    """Odd Savitzky-Golay window: by default 10% of the points (at least 5), at most ``n``."""
    window = plain(window)  # a 0-d tensor or numpy integer as an int
    if window is not None and not is_int(window):
        raise TypeError(f"Expected window to be an int (points) or None, but got window={window!r}")
    w = max(5, round(0.1 * n)) if window is None else int(window)
    if w < 3:
        raise ValueError(f"Expected window >= 3, but got window={window}")
    w = min(w, n if n % 2 else n - 1)
    return w if w % 2 else w - 1


def clip_explosion(losses: Sequence[float] | np.ndarray) -> np.ndarray:
    """Clip values above the starting level plus the total fall (or five noise levels).

    With ``head`` the median of the first ``h = max(3, n // 20)`` losses, ``low`` the minimum and
    ``noise = 1.4826 * median(|diff(y)|) / sqrt(2)`` (the batch-to-batch noise) for ``y`` the smaller of the whole
    curve's and of the losses up to the lowest one (``h + 1`` at least), the cap is
    ``head + max(head - low, 5 * noise)``. Past the lowest loss the loss may be exploding, and an explosion that is
    most of the curve made the differences of the whole curve its growth, not noise (a short sweep that blew up from
    its first steps, 2.30, 2.31, 2.50, 3.0, 4.5, ... 1000, had its cap at 12 times the start, and the smoothed curve
    undershot every recorded loss next to the rise); a steep fall before the lowest loss is no noise either, hence
    the smaller. Only differences of losses enter the cap, so a loss shifted by a constant is clipped the same.

    Args:
        losses: Finite losses (the finite prefix of a curve).

    Returns:
        ``min(losses, cap)``.

    Example:
        >>> clip_explosion([4.0, 4.0, 4.0, 3.0, 2.0, 1.0, 1.0, 1.0, 20.0]).tolist()
        [4.0, 4.0, 4.0, 3.0, 2.0, 1.0, 1.0, 1.0, 7.0]

    """
    y = np.asarray(_as_numbers(losses), dtype=float)
    head = float(np.median(y[: max(3, y.size // 20)]))
    low = float(np.min(y))
    noise = 0.0
    if y.size > 1:
        before = y[: max(int(np.argmin(y)) + 1, max(3, y.size // 20) + 1)]
        noise = 1.4826 * min(_median_step(y), _median_step(before)) / math.sqrt(2.0)
    cap = head + max(head - low, 5.0 * noise, ROUND_OFF * abs(head), _TINY)
    clipped: np.ndarray = np.minimum(y, cap)  # numpy's ufuncs are typed to return Any
    return clipped


def _median_step(y: np.ndarray) -> float:
    """Median absolute difference of consecutive values."""
    return float(np.median(np.abs(np.diff(y))))


def explosion_index(losses: Sequence[float] | np.ndarray) -> int | None:
    """Index of the first loss :func:`clip_explosion` caps (of the finite prefix), else ``None``.

    Past it the smoothed curve is shaped by the cap, not by the loss. Losses capped from the first one on (a first
    loss two to five times the rest: the first step already fell) are a high start, not an explosion: nothing came
    before them to run off from, and the curve's own explosion, if any, is the first capped loss after them.

    Example:
        >>> explosion_index([4.0, 4.0, 4.0, 3.0, 2.0, 1.0, 1.0, 1.0, 20.0, float("nan")])
        8
        >>> explosion_index([9.0, 2.0, 2.1, 1.9, 2.0, 2.05, 1.95, 2.0]) is None
        True

    """
    raw = np.asarray(_as_numbers(losses), dtype=float)
    n = finite_prefix(raw)
    return None if n < 3 else _first_exploded(clip_explosion(raw[:n]), raw[:n])


def _first_exploded(clipped: np.ndarray, raw: np.ndarray) -> int | None:
    """:func:`explosion_index` of finite losses ``raw`` already clipped (``clipped``, :func:`clip_explosion`)."""
    capped = clipped < raw
    start = _capped_start(clipped, raw)
    over = np.flatnonzero(capped[start:])
    return start + int(over[0]) if over.size and not capped[start] else None


def _capped_start(clipped: np.ndarray, raw: np.ndarray) -> int:
    """How many losses :func:`clip_explosion` capped from the first one on (``clipped`` of ``raw``), else 0.

    A first loss above the rest by more than their whole fall (the first step already fell) is capped: a high start,
    not an explosion (:func:`explosion_index`), nor part of the start level a fall is measured from
    (:func:`check_fall`). 0 too where every loss is capped.

    Example:
        >>> y = np.array([9.0, 2.0, 2.1, 1.9, 2.0, 2.05, 1.95, 2.0])
        >>> _capped_start(clip_explosion(y), y)
        1

    """
    return int(np.argmin(clipped < raw))  # the first loss not capped (argmin of all True: 0)


def savgol(y: np.ndarray, window: int, polyorder: int = POLYORDER) -> np.ndarray:
    """Savitzky-Golay filter of a recorded curve: a centred local polynomial fit, no phase lag.

    The filter runs over the sequence of points with :func:`scipy.signal.savgol_filter`
    (``mode="interp"``), the window counting points. On an exponential sweep the points are even
    in ``x``, so the local polynomial is in ``log10(lr)``. On a linear sweep they are even in
    ``lr`` and the polynomial is in ``lr``: the points are never moved. (Resampling onto an even
    log grid would stretch the lone first point of a linear sweep from a tiny ``min_lr`` over most
    of the grid and squeeze the measured curve into a few grid points.) Slopes are taken against
    ``log10(lr)`` either way (:func:`loss_slope`).

    Args:
        y: Values, one per swept LR, at least ``window`` of them.
        window: Odd window length in points (> ``polyorder``).
        polyorder: Degree of the local polynomial.

    Returns:
        The smoothed values, one per point.

    Example:
        >>> x = np.linspace(-3.0, 0.0, 7)
        >>> np.allclose(savgol(1.0 + x**2, 5), 1.0 + x**2)
        True

    """
    from scipy.signal import savgol_filter

    return np.asarray(savgol_filter(y, window, polyorder, mode="interp"))


def _mad_sigma(clipped: np.ndarray, raw: np.ndarray, smoothed: np.ndarray, window: int) -> float:
    """Robust (MAD) noise level of the residuals before the first clipped point.

    A clipped plateau has no residual at all and would make the noise look smaller than it is.
    """
    capped = np.flatnonzero(clipped < raw)
    stop = int(capped[0]) if capped.size and capped[0] >= window else clipped.size
    residual = clipped[:stop] - smoothed[:stop]
    return 1.4826 * float(np.median(np.abs(residual - np.median(residual))))


def choose_window(clipped: np.ndarray, raw: np.ndarray, window: int | None = None) -> int:
    """The Savitzky-Golay window: ``window`` made valid, else adapted to the noise.

    A pilot pass with a 10% window measures the fall and the noise; the window fraction is
    ``0.1 * sqrt(20 / snr)`` clipped to [0.1, 0.25], where ``snr`` is the fall over the noise.
    Slopes need more smoothing than values, and a noisy curve's steepest point otherwise jumps
    to a noise dip. Every window is odd, at least 3 (5 by default) and at most the number of
    points.

    A window asked for that is longer than the curve is not cut to the curve's length: a window
    over every point fits one polynomial (a parabola) to the whole sweep, which cannot follow a
    flat start, a fall and a rise, so the reading came out of that one fit (a clean 30-point curve
    read with ``window=51``, cut to 29, "never clearly falls"; every window up to 25 read it). It is
    the case of a window sized for the planned ``num_steps`` on a sweep that stopped early, so the
    window is adapted to the noise instead, as without one, with a warning.

    Args:
        clipped: The losses of the finite prefix after :func:`clip_explosion`.
        raw: The same losses as recorded.
        window: A window asked for (made odd; adapted as ``None`` when longer than
            ``len(clipped)``), or ``None`` to adapt it.

    Returns:
        The window length in points.

    Raises:
        ValueError: ``window`` below 3.

    Warns:
        UserWarning: ``window`` is longer than the curve (the window used is named).

    Example:
        >>> y = np.linspace(2.0, 0.5, 100)
        >>> choose_window(y, y), choose_window(y, y, window=20)
        (9, 19)

    """
    n = clipped.size
    if window is not None:
        asked = _window_length(n, window)  # checks the type and the minimum first
        if int(plain(window)) <= n:
            return asked
        adapted = choose_window(clipped, raw)
        # Through lrfinder's warn: said by rank zero alone (every rank reads the same curve), once per refine call.
        warn(
            f"window={int(plain(window))} is longer than the curve's {n} finite points: a window over the whole curve "
            f"fits one parabola to it, so the window is adapted to the noise instead ({adapted} points), as with "
            "window=None (10% to 25% of the points)."
        )
        return adapted
    pilot = _window_length(n, None)
    with np.errstate(over="ignore", invalid="ignore"):  # losses near 1e308: read_curve says so
        s = savgol(clipped, pilot)
        sigma = _mad_sigma(clipped, raw, s, pilot)
        i_min = _first_lowest(s, _value_tie(s))
        drop = float(np.max(s[: i_min + 1]) - s[i_min])
    if not (0 < sigma < math.inf and 0 < drop < math.inf):
        return pilot
    frac = min(max(0.1 * math.sqrt(20.0 * sigma / drop), 0.1), 0.25)
    return _window_length(n, max(5, round(frac * n)))


def _noise_gain(window: int, polyorder: int) -> float:
    """Standard deviation of the filter's output for unit white noise."""
    from scipy.signal import savgol_coeffs

    return float(np.sqrt(np.sum(savgol_coeffs(window, polyorder) ** 2)))


def noise_level(clipped: np.ndarray, raw: np.ndarray, smoothed: np.ndarray, window: int) -> NoiseLevel:
    """Measure the noise of a smoothed curve (see :class:`NoiseLevel` for the formulas).

    Args:
        clipped: The finite prefix after :func:`clip_explosion`.
        raw: The finite prefix as recorded (residuals stop at the first clipped point).
        smoothed: ``clipped`` smoothed with ``window``.
        window: The window used.

    Returns:
        A :class:`NoiseLevel`.

    Example:
        >>> y = np.array([1.0, -1.0] * 10)
        >>> level = noise_level(y, y, np.zeros(20), 5)
        >>> round(level.sigma, 4), round(level.se / level.sigma, 4)  # gain sqrt(17/35) for 5 points
        (1.4826, 0.6969)

    """
    sigma = _mad_sigma(clipped, raw, smoothed, window)
    n = smoothed.size
    se = max(sigma * _noise_gain(window, POLYORDER), ROUND_OFF * float(np.max(np.abs(smoothed))), _TINY)
    band = 2.0 * math.sqrt(2.0 * math.log(max(n / window, 2.0))) * se
    return NoiseLevel(window=window, sigma=sigma, se=se, band=band)


def smooth_losses(
    lrs: Sequence[float] | np.ndarray,
    losses: Sequence[float] | np.ndarray,
    *,
    window: int | None = None,
    polyorder: int = POLYORDER,
) -> np.ndarray:
    """Smooth a loss curve over ``log10(lr)`` without phase lag.

    The steps of :func:`analyze`: the finite prefix (:func:`finite_prefix`), clipped
    (:func:`clip_explosion`), smoothed by :func:`savgol` with :func:`choose_window`'s window.
    Later points are NaN.

    Args:
        lrs: Strictly increasing, positive learning rates.
        losses: Recorded losses, one per LR.
        window: Window length in points (made odd; one longer than the finite points is adapted,
            with a warning); default: adapted to the noise, from 10% of the points on a clean
            curve to 25% on a noisy one (see :func:`choose_window`).
        polyorder: Polynomial degree, less than the window.

    Returns:
        The smoothed losses, same length as ``losses``.

    Raises:
        ValueError: Malformed arrays, or ``polyorder`` negative or not below the window.
        TypeError: Non-numeric arrays, or a ``window`` or ``polyorder`` that is not an int.

    Example:
        >>> lrs = np.logspace(-5, 0, 50); smooth_losses(lrs, np.ones(50))[:2]
        array([1., 1.])

    """
    lr_arr, loss_arr = _check_curve(lrs, losses)
    polyorder = plain(polyorder)
    if not is_int(polyorder):
        raise TypeError(f"Expected polyorder to be an int, but got polyorder={polyorder!r}")
    if polyorder < 0:
        raise ValueError(f"Expected polyorder >= 0, but got polyorder={polyorder}")
    out = np.full(loss_arr.shape, np.nan)
    n = finite_prefix(loss_arr)
    if n < 3:
        out[:n] = loss_arr[:n]
        return out
    y = clip_explosion(loss_arr[:n])
    w = choose_window(y, loss_arr[:n], window)
    if polyorder >= w:
        raise ValueError(f"Expected polyorder < window, but got polyorder={polyorder}, window={w}")
    out[:n] = savgol(y, w, polyorder)
    return out


def undo_ema(
    smoothed: Sequence[float] | np.ndarray,
    *,
    beta: float = 0.98,
    debias: Literal["lightning", "exact", "none"] = "lightning",
) -> np.ndarray:
    """The losses behind the exponential moving average another LR finder records.

    Other finders record a smoothed loss: it lags the curve by about ``beta / (1 - beta)`` steps,
    and Lightning's starts at about half the loss. :func:`analyze` reads recorded losses, so a
    peer's curve is read after undoing its average, exactly (the average is a linear filter):
    with ``avg[t] = beta * avg[t - 1] + (1 - beta) * loss[t]``,

    * ``"lightning"``: Lightning's ``lr_find`` (``results["loss"]``, ``beta=0.98``):
      ``smoothed[t] = avg[t] / (1 - beta ** (t + 2))``, ``avg[-1] = 0`` (its bias correction is
      one step late);
    * ``"exact"``: fastai's ``lr_find`` (``beta=0.98``): ``smoothed[t] = avg[t] / (1 - beta ** (t + 1))``;
    * ``"none"``: torch-lr-finder (``history["loss"]``, ``beta = 1 - smooth_f = 0.95``):
      ``smoothed[t] = avg[t]`` with ``avg[0] = loss[0]``.

    Args:
        smoothed: The recorded moving average, one value per step (a non-finite value ends the
            curve: later values are NaN).
        beta: The average's factor, in (0, 1).
        debias: How the average was corrected for its start (see above).

    Returns:
        The losses, one per step.

    Raises:
        ValueError: ``beta`` outside (0, 1), an unknown ``debias`` or a ``smoothed`` that is not 1-D.
        TypeError: ``smoothed`` is not a sequence of numbers (a string, a mapping, text values).

    Example:
        >>> ema = np.array([0.505, 0.6733, 0.7577])  # Lightning's first points over losses of 1.0
        >>> np.round(undo_ema(ema), 2).tolist()
        [1.0, 1.0, 1.0]

    """
    beta = plain(beta)
    if not is_real(beta) or not 0.0 < float(beta) < 1.0:
        raise ValueError(f"Expected 0 < beta < 1, but got beta={beta!r}")
    if not is_choice(debias, ("lightning", "exact", "none")):
        # A peer's name is the usual guess (debias='fastai'): each choice is named by the finder it undoes.
        raise ValueError(
            f"Expected debias to be 'lightning', 'exact' or 'none', but got debias={debias!r}: 'lightning' undoes "
            "Lightning's lr_find, 'exact' fastai's, 'none' torch-lr-finder's (with beta=0.95, 1 - its smooth_f)"
        )
    y = _numbers(smoothed, "smoothed")
    if y.ndim != 1:
        raise ValueError(f"Expected smoothed to be a 1-D curve, but got shape {y.shape}")
    out = np.full(y.shape, np.nan)
    n = finite_prefix(y)
    if n == 0:
        return out
    b = float(beta)
    steps = np.arange(n)
    if debias == "none":
        avg = y[:n]
        out[0] = avg[0]
    else:
        avg = y[:n] * (1.0 - b ** (steps + (2 if debias == "lightning" else 1)))
        out[0] = avg[0] / (1.0 - b)
    out[1:n] = (avg[1:] - b * avg[:-1]) / (1.0 - b)
    return out


def loss_slope(lrs: Sequence[float] | np.ndarray, smoothed: Sequence[float] | np.ndarray) -> np.ndarray:
    """Slope ``d loss / d log10(lr)`` of a (smoothed) curve, by central differences.

    The derivative is against ``log10(lr)``, never linear LR: the sweep is exponential, and a
    slope against linear LR would favour the large-LR end of the curve.

    Args:
        lrs: Strictly increasing, positive learning rates.
        smoothed: Loss values (NaN entries give NaN slopes).

    Returns:
        One slope per point (``numpy.gradient`` with second-order accurate edges).

    Example:
        >>> loss_slope([1e-3, 1e-2, 1e-1], [3.0, 2.0, 1.0]).tolist()
        [-1.0, -1.0, -1.0]

    """
    lr_arr, y = _check_curve(lrs, smoothed)
    out = np.full(y.shape, np.nan)
    n = finite_prefix(y)
    if n >= 2:
        # numpy.gradient multiplies the values by the inverse spacings before it subtracts: losses of
        # 1e307 overflow there although their slope does not. Scaled by a power of two (exact), the
        # slope of every other curve is unchanged to the last bit.
        # np.ldexp, not 2.0 ** e: the power for losses from 2 ** 1023 (8.99e307) on is past the float64 range.
        e = math.frexp(float(np.max(np.abs(y[:n]))))[1]
        with np.errstate(over="ignore"):  # a slope itself past the float64 range is inf
            out[:n] = np.ldexp(np.gradient(np.ldexp(y[:n], -e), np.log10(lr_arr[:n])), e)
    return out


# --------------------------------------------------------------------------------------------
# Reading the smoothed curve
# --------------------------------------------------------------------------------------------


def blowup_index(
    smoothed: np.ndarray, noise: NoiseLevel, clipped: np.ndarray | None = None, *, raw: np.ndarray | None = None
) -> int | None:
    """The first point where the smoothed loss has *blown up*, else ``None``.

    A *candidate* is a rise above the running minimum of more than
    ``max(BLOWUP_RISE * fall, 1.5 * band + 2 * se)``, where ``fall`` is the running maximum minus
    the running minimum: half of everything the loss had fallen, and clearly more than noise. With
    ``clipped`` and ``raw``, so is a smoothed loss that reached :func:`clip_explosion`'s cap (every loss
    in its window capped, :func:`_on_cap`): an explosion before any fall is capped about five noise
    levels above the start, which can be below that noise floor.
    With ``clipped`` (the losses the curve was smoothed from), a point in the first half window
    (where the filter fits one polynomial to the whole edge, see :func:`savgol`) counts only when
    the recorded loss there has risen as much above the recorded running minimum: the filter's
    ringing at the start of a sweep that begins on a bend (a linear sweep's second point already
    in the fall) is not a blow-up. Past that edge a candidate counts only when the recorded losses
    confirm the rise (:func:`_rise_recorded`): the smoothed loss at ``c`` lies above the median of
    the recorded losses around the minimum before it (those before ``c``, and with ``raw``, the
    losses as recorded, none that :func:`clip_explosion` capped) by ``2 * se + band / 2``.
    One lucky batch on a flat stretch drags a short sweep's smoothed curve down by up to half its
    depth, and the loss coming back to its level then rose from that dip in the smoothed curve
    only; an unconfirmed candidate is passed over and the search goes on from the next point.

    A blow-up does not recover. A candidate at ``c``, with ``m`` the minimum before it, is a
    *bump* when the loss later falls below ``m`` by more than it had risen above it: at some
    ``t > c``, ``m - smoothed[t] > max(smoothed[c:t]) - m``. The search then goes on from ``t``,
    and the bump (the points around ``c`` above ``m``, see :func:`bump_mask`) is left out of the
    running maximum, so ``fall`` stays what the loss had fallen net of it. A wobble at tiny LRs
    (Adam or momentum, a moving average started on a lucky batch) or a short spike in the
    middle of the fall looks like that: a rise, then a fall far larger than it. The rise
    already exceeds the noise floor, so a recovery deeper than the rise does too. The margin is
    the rise itself, no tuned constant: on the benchmark's tune tasks every first candidate
    either never came back below ``m`` (every lrfinder and Lightning curve) or came back by at
    least 1.3 times its rise (torch-lr-finder's moving average climbing from a low first batch).
    An explosion that reaches :func:`clip_explosion`'s cap rose by about the start's height above
    the lowest loss, more than the loss can fall below ``m``, and stays a blow-up whatever comes
    after it; so does any recovery shallower than the rise (noted by
    :func:`confidence_and_notes`, never searched).

    Example:
        >>> quiet = NoiseLevel(window=5, sigma=0.0, se=0.0, band=0.0)
        >>> blowup_index(np.array([5.0, 4.0, 3.0, 2.0, 1.0, 1.0, 2.0, 3.5, 6.0]), quiet)
        7
        >>> bump = np.array([5.0, 5.5, 5.0, 4.0, 3.0, 2.0, 1.0, 1.0, 2.0, 3.5, 6.0])
        >>> blowup_index(bump, quiet)  # up 0.5 from 5.0, then down 4.0 below it: a bump
        9

    """
    return _blowups(smoothed, noise, clipped, raw)[0]


def bump_mask(
    smoothed: np.ndarray, noise: NoiseLevel, clipped: np.ndarray | None = None, *, raw: np.ndarray | None = None
) -> np.ndarray:
    """Where the smoothed loss is on a *bump*: a rise that :func:`blowup_index` saw recover.

    For each candidate blow-up at ``c`` that recovered, the contiguous run of points around
    ``c`` above ``m``, the minimum before ``c``: the rise and its way back down to where the loss
    was. :func:`check_fall` leaves these points out of the level the fall starts from, and
    :func:`falling_region` out of the steepest descent: coming back down from a bump is not a
    fall.

    Example:
        >>> quiet = NoiseLevel(window=5, sigma=0.0, se=0.0, band=0.0)
        >>> bump = np.array([5.0, 5.5, 5.0, 4.0, 3.0, 2.0, 1.0, 1.0, 2.0, 3.5, 6.0])
        >>> np.flatnonzero(bump_mask(bump, quiet)).tolist()
        [1]

    """
    return _blowups(smoothed, noise, clipped, raw)[1]


def _blowups(
    smoothed: np.ndarray, noise: NoiseLevel, clipped: np.ndarray | None, raw: np.ndarray | None = None
) -> tuple[int | None, np.ndarray]:
    """:func:`blowup_index` and :func:`bump_mask` in one pass."""
    bumps = np.zeros(smoothed.shape, dtype=bool)
    running_min = np.minimum.accumulate(smoothed)
    floor = 1.5 * noise.band + 2.0 * noise.se
    rise = smoothed - running_min
    edge = 0
    if clipped is not None:
        edge = min(noise.window // 2, rise.size)
        recorded = clipped[:edge]
        rise[:edge] = np.minimum(rise[:edge], recorded - np.minimum.accumulate(recorded))
    on_cap = _on_cap(smoothed, clipped, raw)
    start = 0
    while True:
        # Index 0 is never on a bump (a bump lies above a minimum before it), so the maximum is finite.
        fall = np.maximum.accumulate(np.where(bumps, -np.inf, smoothed)) - running_min
        over = np.flatnonzero((rise[start:] > np.maximum(BLOWUP_RISE * fall[start:], floor)) | on_cap[start:])
        if not over.size:
            return None, bumps
        c = start + int(over[0])
        if clipped is not None and c >= edge and not _rise_recorded(clipped, smoothed, c, noise, raw):
            start = c + 1
            continue
        if c < edge and not rise[c] > _edge_floor(noise, c, int(np.argmin(smoothed[: c + 1]))):
            start = c + 1
            continue
        before = float(running_min[c])
        after = smoothed[c:]
        recovered = np.flatnonzero(before - after > np.maximum.accumulate(after) - before)
        if not recovered.size:
            return c, bumps
        above = smoothed > before
        a = c
        while above[a - 1]:  # stops at the minimum before c at the latest
            a -= 1
        b = c
        while above[b + 1]:  # stops at the recovery at the latest
            b += 1
        bumps[a : b + 1] = True
        start = c + int(recovered[0])


def _on_cap(smoothed: np.ndarray, clipped: np.ndarray | None, raw: np.ndarray | None) -> np.ndarray:
    """Where the smoothed loss has risen to :func:`clip_explosion`'s cap: every loss in its window was capped.

    Past the losses capped from the first one on (a high start, :func:`_capped_start`), the smoothed loss reaches the
    cap only over a window of losses that each ran above it, which noise does not do (a loss is capped above its start
    by five noise levels at least). The cap is what limits the rise the smoothed loss can show there: an early
    explosion, before the loss had fallen, is capped ``head + 5 * noise`` above a start whose running minimum is about
    ``head``, and the noise floor of a rise (``1.5 * band + 2 * se``, about 4.3 noise levels over 100 points) can
    lie above the cap. Without ``raw`` (nothing known to be capped), nowhere.
    """
    if clipped is None or raw is None:
        return np.zeros(smoothed.shape, dtype=bool)
    capped = clipped < raw
    start = _capped_start(clipped, raw)
    if not capped[start:].any():
        return np.zeros(smoothed.shape, dtype=bool)
    cap = float(np.max(clipped))
    on_cap: np.ndarray = smoothed >= cap - _value_tie(smoothed)
    on_cap[: start + int(np.argmax(capped[start:]))] = False  # not before the first loss capped past a high start
    return on_cap


def _edge_floor(noise: NoiseLevel, c: int, j: int) -> float:
    """The noise floor of a smoothed rise from ``j`` to ``c``, both in the filter's first half window.

    There :func:`savgol` evaluates one polynomial fitted to the first ``window`` losses, whose values
    at ``c`` and ``j`` differ by noise of standard deviation ``sigma * ||H[c] - H[j]||`` (``H`` the fit's
    hat matrix), up to twice ``se`` at the edge, where the interior's floor ``1.5 * band + 2 * se``
    (:func:`blowup_index`) takes ``se``. The floor is ``1.5 * band + 2 * sigma * ||H[c] - H[j]||``,
    at least the interior's.
    """
    from scipy.signal import savgol_coeffs

    # Row ``pos`` of the hat matrix: the weights of the fitted value at ``pos`` (use="dot": in the window's order).
    rows = [savgol_coeffs(noise.window, POLYORDER, pos=pos, use="dot") for pos in (c, j)]
    edge_se = noise.sigma * float(np.linalg.norm(rows[0] - rows[1]))
    return 1.5 * noise.band + 2.0 * max(noise.se, edge_se)


def _rise_recorded(
    clipped: np.ndarray, smoothed: np.ndarray, c: int, noise: NoiseLevel, raw: np.ndarray | None = None
) -> bool:
    """Whether the recorded losses confirm a smoothed rise at ``c`` above the minimum before it.

    With ``j`` the smoothed minimum before ``c`` and ``h = window // 2``, the smoothed loss at
    ``c`` must lie above ``median(clipped[j - h : min(j + h + 1, c)])``, the recorded level around
    the minimum (the rise itself, from ``c`` on, left out; with ``raw``, so are the losses
    :func:`clip_explosion` capped), by ``2 * se + band / 2``: the bar
    :func:`check_fall` sets the recorded losses of a fall. A rise from a dip that one lucky batch
    made is not confirmed: a single low loss on a flat stretch drags the smoothed curve down by up
    to half its depth (the centre coefficient of the 5-point filter of a short sweep is 17/35, of a
    13-point one 0.17), while the median around it is the level itself. The noise level cannot
    cover such a batch: it is measured robustly (MAD), which is what keeps one batch from
    inflating it.

    With :data:`_LOCAL_SCATTER_POINTS` or more recorded losses before ``c``, the bar is scaled up by
    their own step-to-step scatter (:func:`_step_noise`, times the filter's noise gain) where that
    exceeds ``se``: the noise level is the whole curve's, and a loss whose noise is a share of it
    (20-50% of a level that halves later) is twice as noisy at its start. Such noise was read as a
    blow-up within a decade of ``min_lr`` on 5 of 300 seeded curves (2 left: one at the filter's edge,
    :func:`_edge_floor`), and told "the model may already be trained".
    """
    h = noise.window // 2
    j = _first_lowest(smoothed[: c + 1], _value_tie(smoothed[: c + 1]))
    around = clipped[max(0, j - h) : min(j + h + 1, c)]
    if raw is not None:
        # A loss clip_explosion capped is the cap, not the level around the minimum (an explosion the
        # loss recovered from, just past it): the losses as recorded there are left out.
        recorded = around[around >= raw[max(0, j - h) : min(j + h + 1, c)]]
        around = recorded if recorded.size else around
    low = float(np.median(around))
    high = float(smoothed[c])
    bar = 2.0 * noise.se + noise.band / 2.0
    before = clipped[:c]
    if before.size >= _LOCAL_SCATTER_POINTS and noise.se > 0:
        # The noise where the rise starts, not the whole curve's: a loss whose noise scales with it (20-50% of a
        # level that halves later) has its noise level set by the lower half, and a start twice as noisy rose by it.
        step_se = _step_noise(before) * _noise_gain(noise.window, POLYORDER)
        bar = max(bar, bar * step_se / noise.se)
    return high - low > bar


#: How many recorded losses before a rise :func:`_rise_recorded` needs to take their own scatter as the noise.
_LOCAL_SCATTER_POINTS = 7


def check_fall(
    clipped: np.ndarray,
    smoothed: np.ndarray,
    end: int,
    noise: NoiseLevel,
    bumps: np.ndarray | None = None,
    *,
    blew_up: bool = True,
    rose: str | None = None,
    high_start: int = 0,
) -> tuple[int, float]:
    """The minimum before ``end`` and the fall to it; raise when the loss never clearly falls.

    The fall ``drop`` runs from the highest smoothed point before the minimum to the minimum,
    points on a bump (``bumps``, :func:`bump_mask`) left out: the loss going up and back down
    is not part of its fall. It is clear when it is more than round-off and one of these holds:

    * against the noise: ``drop`` exceeds ``3 * se + band``, and the raw losses confirm it: the
      median of the first ``max(3, window // 2)`` clipped losses (after ``high_start``) lies above the median of the
      ``window`` around the minimum by ``2 * se + band / 2`` (a filter's ringing next to a sharp
      rise is not in the raw data). Only differences of losses are compared, so a constant shift
      changes nothing;
    * a steady fall (:func:`_falls_steadily`): ``drop`` exceeds ``band`` and the raw losses fall
      steadily over the stretch where the smoothed curve comes down to its minimum. The noise
      test alone misses a fall packed into a few points next to an unstable tail (a linear sweep
      whose second LR is already large), because the tail's noise sets ``se``;
    * tenfold: positive losses (every one of them) whose raw median at the start is ten times the
      one around the minimum. Such a fall is never noise.

    Args:
        clipped: The finite prefix after :func:`clip_explosion`.
        smoothed: Its smoothed values.
        end: Only points before ``end`` are searched (:func:`blowup_index`).
        noise: The curve's :class:`NoiseLevel`.
        bumps: Points left out of the level the fall starts from (:func:`bump_mask`), or ``None``.
        blew_up: Whether the loss blew up, exploded or turned non-finite anywhere in the sweep. Only
            then does the message say the model may already be trained at the swept LRs (lower
            ``min_lr``): a trained model still blows up at large LRs, so a sweep where nothing happened
            at all has stopped too low, which :func:`read_curve` says (raise ``max_lr``). :func:`read_curve`
            passes ``False`` too for a loss that stayed at its first value a decade or more before it blew up
            (:func:`_flat_until_blowup`), where a lower ``min_lr`` cannot help.
        high_start: How many losses :func:`clip_explosion` capped from the first one on (a first loss above the rest
            by more than their whole fall: the first step already fell). The raw losses' start level is taken after
            them: in it, a capped first loss read a fall to a noisy dip on a flat curve (on 20% of seeded 30-point
            ones), where the curve's only fall is its first step's, at ``min_lr``.
        rose: Why to lower ``min_lr`` instead, for a loss that rose from its first steps to its blow-up
            or that blew up too close to ``min_lr`` to tell (:func:`_why_lower_min_lr`): the words in parentheses
            after "lower min_lr"; ``None``: "the model may already be trained at these LRs".

    A smoothed minimum below every recorded loss up to and around it (within half a window) is a dip the data do
    not hold: a short sweep's window that reaches into a sharp rise bends the local parabola below a flat start (a
    5-point filter turns 2.30, 2.31, 2.50, 3.0, 4.5 into 2.37, 2.18, 2.45, ...). The message then says the recorded
    losses fall by no more than they do, and sends no one to average out noise: the residuals around such a fit
    measure the filter's misfit of the rise, not the scatter of single steps.

    Returns:
        ``(i_min, drop)``.

    Raises:
        InconclusiveCurveError: The fall is within the noise; the message gives the bar it
            missed (the smoothed fall's, or the raw losses').

    Example:
        >>> quiet = NoiseLevel(window=3, sigma=0.0, se=0.01, band=0.02)
        >>> y = np.array([2.0, 2.0, 1.5, 1.0, 0.5, 0.6, 3.0])
        >>> check_fall(y, y, 6, quiet)
        (4, 1.5)

    """
    se, band, w = noise.se, noise.band, noise.window
    # The first of points tied within round-off (a flat bottom): the same one whatever the loss's unit.
    i_min = _first_lowest(smoothed[:end], _value_tie(smoothed[:end]))
    searched = smoothed[: i_min + 1] if bumps is None else np.where(bumps[: i_min + 1], -np.inf, smoothed[: i_min + 1])
    start_level = float(np.max(searched))
    drop = start_level - float(smoothed[i_min])
    half = w // 2
    head = float(np.median(clipped[high_start : high_start + max(3, half)]))
    bottom = float(np.median(clipped[max(0, i_min - half) : i_min + half + 1]))
    # Only guards against float round-off on exact curves (relative: losses in any unit).
    round_off = 1e3 * ROUND_OFF * max(abs(start_level), abs(float(smoothed[i_min])))
    real = drop > 0.0 and drop >= round_off
    need_drop, need_raw = 3.0 * se + band, 2.0 * se + band / 2.0
    above_noise = drop >= need_drop and head - bottom >= need_raw
    # A ratio means something for positive losses only: on a loss that goes below zero (a
    # log-likelihood, a shifted loss, noise around a small value) a median near zero is no tenfold fall.
    tenfold = float(np.min(clipped)) > 0.0 and head >= 10.0 * bottom
    if real and (above_noise or tenfold or (drop >= band and _falls_steadily(clipped, smoothed, i_min, drop) is True)):
        return i_min, drop
    lowest = float(np.min(clipped[: min(i_min + half + 1, clipped.size)]))
    invented = real and float(smoothed[i_min]) < lowest
    lower = f"lower min_lr ({rose or 'the model may already be trained at these LRs'})"
    # Say which bar the fall missed: the noise level alone does not tell it (a fall of 9 noise
    # levels still misses a bar of 3 levels plus a band of 4-5, or the raw losses' test).
    if drop <= 0:
        how = "it never goes below where it starts (smoothed)"
    elif not real:
        # A flat curve (or one that only rises) "falls" by float round-off: no noise bar to name.
        size = max(abs(start_level), abs(float(smoothed[i_min])))
        how = (
            f"it never goes below where it starts (smoothed; its fall of {drop:.3g} is float round-off on losses of "
            f"{size:.3g})"
        )
    elif invented and drop < need_drop:
        how = (
            f"its smoothed curve dips by {drop:.3g} below its highest point before the minimum, but that minimum "
            f"({float(smoothed[i_min]):.3g}) lies below every recorded loss up to it (the lowest {lowest:.3g}, "
            f"{max(head - lowest, 0.0):.3g} below the median of the first ones): the filter's undershoot next to a "
            "sharp rise, not a fall in the data"
        )
    elif drop < need_drop:
        shown, bar = _apart(drop, max(need_drop, round_off))
        how = (
            f"it drops by {shown} from its highest point before its minimum (smoothed), less than the {bar} "
            f"a fall needs to stand out of its noise (noise level {se:.3g})"
        )
    else:
        raw_fall, raw_bar = _apart(head - bottom, need_raw)
        where = (
            f"lie only {raw_fall} below those at the start, less than"
            if head >= bottom
            else f"lie above those at the start (by {bottom - head:.3g}), against"
        )
        how = (
            f"it drops by {drop:.3g} from its highest point before its minimum (smoothed), but the recorded losses "
            f"around its minimum {where} "
            f"the {raw_bar} a fall needs to stand out of their noise (noise level {se:.3g}): the smoothed dip "
            "may be a few lucky batches or the filter's ringing"
        )
    # What happened and what to do lead (a user reads the first sentence or two); the figures follow as evidence.
    how = how[:1].upper() + how[1:]
    if drop > 0 and real and not invented and noise.sigma >= NOISY_STEPS * drop:
        # The fall is there but single batches scatter by a good part of it: what helps is less
        # noise per point (a larger batch) or more points to smooth (num_steps).
        raise InconclusiveCurveError(
            f"{NEVER_FALLS}. Check that the loss depends on the model; if it does, average more examples per step (a "
            "larger batch size) or increase num_steps so a fall can stand out of the noise"
            + (f", or {lower}. " if blew_up else ". ")
            + f"{how}; single steps' losses scatter by {noise.sigma:.3g} (robust standard deviation), "
            f"{noise.sigma / drop:.0%} of that fall."
        )
    raise InconclusiveCurveError(
        f"{NEVER_FALLS}. Check that the loss depends on the model, "
        + (f"{lower}, or increase num_steps. " if blew_up else "or increase num_steps. ")
        + f"{how}."
    )


#: How :func:`check_fall`'s message starts: what happened, its first sentence (the advice follows it).
NEVER_FALLS = "The loss never clearly falls"


def _lead_with(message: str, advice: str | None) -> str:
    """``message`` with ``advice`` (a sweep to run again) after its first sentence, before the rest of its advice."""
    if advice is None:
        return message
    happened, rest = message.split(". ", 1)
    return f"{happened}. {advice} {rest}"


def _apart(value: float, bar: float) -> tuple[str, str]:
    """``value`` and the ``bar`` it missed, with the fewest significant digits (3 at least) that tell them apart.

    At ``:.3g`` a fall just short of its bar read as the bar itself ("drops by 1.68 ..., less
    than the 1.68 a fall needs").

    Example:
        >>> _apart(0.4999, 0.5)
        ('0.4999', '0.5')

    """
    for digits in range(3, 17):
        shown, needed = f"{value:.{digits}g}", f"{bar:.{digits}g}"
        if shown != needed:
            break
    return shown, needed


#: Significance of the trend test of :func:`_falls_steadily`.
TREND_P = 1e-3


def _falls_steadily(clipped: np.ndarray, smoothed: np.ndarray, i_min: int, drop: float) -> bool | None:
    """Whether the raw losses fall steadily over the stretch where the smoothed curve comes down.

    The stretch runs from the last point within ``DIVERGENCE_RISE * drop`` of the smoothed curve's highest one
    before it to the first point within ``DIVERGENCE_RISE * drop`` of the minimum: from where the fall starts, not
    the sweep's start (a curve level for 60 points before it fell was tested mostly on its level part, and the
    trend of its fall lost in it). Kendall's tau between step and loss (a rank test: no assumption on the size or the
    shape of the noise) must be negative with a p-value below ``TREND_P``. ``None`` (no verdict)
    for a stretch of fewer than 7 points, which can never reach that p-value.
    """
    from scipy.stats import kendalltau

    near = np.flatnonzero(smoothed[: i_min + 1] <= smoothed[i_min] + DIVERGENCE_RISE * drop)
    stop = int(near[0]) + 1 if near.size else i_min + 1
    top = float(np.max(smoothed[:stop]))
    first = int(np.flatnonzero(smoothed[:stop] >= top - DIVERGENCE_RISE * drop)[-1])
    if stop - first < 7:
        return None
    result = kendalltau(np.arange(stop - first), clipped[first:stop])
    return bool(result.statistic < 0 and result.pvalue < TREND_P)


def _step_noise(values: np.ndarray) -> float:
    """Robust standard deviation of the recorded losses' step-to-step noise, from their second differences.

    ``1.4826 * median(|y[i + 1] - 2 y[i] + y[i - 1]|) / sqrt(6)``: white noise of standard deviation
    ``sigma`` gives second differences of standard deviation ``sqrt(6) * sigma``, and a linear trend none.
    Unlike the residuals around the smoothed curve it does not depend on the filter, which on a short
    sweep follows much of the noise. ``0.0`` for fewer than 3 values.
    """
    if values.size < 3:
        return 0.0
    return 1.4826 * float(np.median(np.abs(np.diff(values, 2)))) / math.sqrt(6.0)


def _scatter_shortfall(reading: CurveReading) -> tuple[float, float, float] | None:
    """Whether the recorded losses' fall stands out of their own step-to-step scatter; ``None`` when it does.

    :func:`check_fall` tests the recorded losses (the median of the first ``max(3, window // 2)``
    against the median of the ``window`` around the minimum) by ``2 * se + band / 2``, with ``se``
    measured from the residuals around the smoothed curve. A 5-point filter takes out half the noise
    of an inner point and up to 89% at an edge, so on a short sweep (10-50 steps) those residuals
    understate the noise, by half or more on some curves: 4-7% of flat curves of white noise were read
    as a fall, at confidence 0.3-0.7. Here the same bar is set with ``se`` from :func:`_step_noise`
    of the losses before the window around the minimum (a fall's own steps, jagged at large LRs, are no
    noise), or of all searched ones when fewer than 7 lie there. A fall confirmed tenfold or by a steady
    trend (:func:`check_fall`) is not asked.

    Returns:
        ``None``, or ``(fall, bar, scatter)``: the recorded losses' fall, the bar it misses and the
        step-to-step scatter that set it.

    """
    clipped, smoothed, noise, i_min = reading.clipped, reading.smoothed, reading.noise, reading.i_min
    half = noise.window // 2
    # After the losses capped from the first one on (a first step that already fell), as check_fall takes them:
    # the cap is no level the fall starts from, and its step down to the rest no step-to-step scatter.
    high = _capped_start(clipped, reading.raw)
    head = float(np.median(clipped[high : high + max(3, half)]))
    bottom = float(np.median(clipped[max(0, i_min - half) : i_min + half + 1]))
    before = clipped[high : max(i_min - half, high)]
    scatter = _step_noise(before if before.size >= 7 else clipped[high : reading.end])
    step_se = scatter * _noise_gain(noise.window, POLYORDER)
    if step_se <= noise.se:
        return None
    bar = 2.0 * step_se + noise.band / noise.se * step_se / 2.0
    if head - bottom >= bar:
        return None
    tenfold = float(np.min(clipped)) > 0.0 and head >= 10.0 * bottom
    steady = reading.drop >= noise.band and _falls_steadily(clipped, smoothed, i_min, reading.drop) is True
    return None if tenfold or steady else (head - bottom, bar, scatter)


def still_falling(smoothed: np.ndarray, i_min: int, drop: float, noise: NoiseLevel) -> bool:
    """Whether the loss is still falling where the sweep ends (its minimum is then at the end).

    The minimum lies in the last ``window // 4`` points (at least the last one) and the smoothed
    loss at the end lies below its median over the window before the last one by more than
    ``max(DIVERGENCE_RISE * drop, noise.band)``: the mirror of :func:`divergence_index`'s rise,
    more than a stretch of smoothed noise can fall by alone, and a tenth of the whole fall. A
    minimum at the end of a flat bottom (the loss levelled off long before the largest LR, and
    its noise put the lowest point last) is no fall: the curve is read, with the note that it
    never clearly turned up.

    Example:
        >>> quiet = NoiseLevel(window=5, sigma=0.01, se=0.01, band=0.05)
        >>> still_falling(np.linspace(3.0, 0.5, 12), 11, 2.5, quiet)
        True
        >>> flat_bottom = np.array([3.0, 2.0, 1.0, 0.52, 0.51, 0.53, 0.52, 0.51, 0.53, 0.52, 0.51, 0.5])
        >>> still_falling(flat_bottom, 11, 2.5, quiet)
        False

    """
    n, w = smoothed.size, noise.window
    if i_min < n - 1 - max(1, w // 4):
        return False
    # The end against the window before the last one: a flat bottom's end is its level give or take
    # the noise (the end is a polynomial's extrapolation, noisier than ``se``); a fall that goes on
    # ends below it by what the loss must rise by to have diverged (:func:`divergence_index`).
    before = smoothed[max(0, n - 1 - 2 * w) : max(1, n - 1 - w)]
    return bool(float(np.median(before)) - smoothed[n - 1] > max(DIVERGENCE_RISE * drop, noise.band))


def divergence_index(smoothed: np.ndarray, i_min: int, drop: float, noise: NoiseLevel) -> int | None:
    """First point after the minimum where the loss has risen by ``max(DIVERGENCE_RISE * drop, band)``.

    Example:
        >>> quiet = NoiseLevel(window=3, sigma=0.0, se=0.0, band=0.0)
        >>> divergence_index(np.array([2.0, 1.0, 1.05, 1.2, 3.0]), 1, 1.0, quiet)
        3

    """
    risen = np.flatnonzero(smoothed[i_min:] - smoothed[i_min] > max(DIVERGENCE_RISE * drop, noise.band))
    return i_min + int(risen[0]) if risen.size else None


def falling_region(
    slope: np.ndarray,
    i_min: int,
    fraction: float = FALLING_FRACTION,
    bumps: np.ndarray | None = None,
    *,
    tie: float = 0.0,
) -> FallingRegion:
    """The steepest descent at or before ``i_min`` and the stretch around it.

    The region is the contiguous run of points around the steepest slope whose slope is at most
    ``fraction`` times the steepest (at least that steep), never past ``i_min``. Points where
    ``bumps`` is true (:func:`bump_mask`: the way back down from a bump) are never in it.
    Slopes within ``tie`` of the steepest are tied with it, and the first of them is the steepest
    point: :func:`read_curve` passes the slopes' float round-off, so that which of two slopes equal
    on paper comes out steeper does not change with the loss's unit or offset.

    Example:
        >>> falling_region(np.array([0.0, -1.0, -3.0, -4.0, -2.5, -1.0, 0.5]), 5)
        FallingRegion(start=2, steepest=3, end=4)

    """
    searched = slope[: i_min + 1] if bumps is None else np.where(bumps[: i_min + 1], np.inf, slope[: i_min + 1])
    i_steep = _first_lowest(searched, tie)
    steepest = float(searched[i_steep])
    if steepest >= 0:  # only possible when the minimum is the first point
        i_steep = 0
    falling = searched <= fraction * steepest
    a = i_steep
    while a > 0 and falling[a - 1]:
        a -= 1
    b = i_steep
    while b < i_min and falling[b + 1]:
        b += 1
    return FallingRegion(start=a, steepest=i_steep, end=b)


def _slope_tie(lrs: np.ndarray, smoothed: np.ndarray) -> float:
    """Slopes (:func:`loss_slope`) closer than this are round-off: the values' over the finest LR step."""
    step = float(np.min(np.diff(np.log10(lrs)))) if lrs.size > 1 else 1.0
    return _value_tie(smoothed) / step if step > 0 else math.inf


def _smooth(raw: np.ndarray, window: int | None) -> tuple[np.ndarray, int, np.ndarray]:
    """``(clipped, window, smoothed)`` of a curve's finite losses: the first steps of :func:`read_curve`.

    ``smoothed`` is non-finite only for losses near the float64 limit (the arithmetic overflows).
    """
    clipped = clip_explosion(raw)
    with np.errstate(over="ignore", invalid="ignore"):
        w = choose_window(clipped, raw, window)
        smoothed = savgol(clipped, w)
    return clipped, w, smoothed


def find_blowup_lr(
    lrs: Sequence[float] | np.ndarray, losses: Sequence[float] | np.ndarray, *, window: int | None = None
) -> float | None:
    """The LR where the smoothed loss blew up (:func:`blowup_index`), even on an inconclusive curve.

    The curve is read as :func:`read_curve` reads it, up to the blow-up: for a conclusive curve
    this is :attr:`Suggestion.blowup_lr`. ``None`` when it never blew up, for fewer than
    :data:`MIN_POINTS` finite losses, or for losses too large to smooth.

    Example:
        >>> lrs = np.logspace(-4, 0, 40)  # falls to 1.0 at lrs[29], then jumps to 1.5 and climbs
        >>> f"{find_blowup_lr(lrs, np.r_[np.linspace(2.0, 1.0, 30), np.linspace(1.5, 6.0, 10)]):.2e}"
        '1.51e-01'

    """
    lr_arr, loss_arr = _check_curve(lrs, losses)
    n = finite_prefix(loss_arr)
    if n < MIN_POINTS:
        return None
    raw = loss_arr[:n]
    clipped, w, smoothed = _smooth(raw, window)
    if not np.all(np.isfinite(smoothed)):
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        index = blowup_index(smoothed, noise_level(clipped, raw, smoothed, w), clipped, raw=raw)
    return None if index is None else float(lr_arr[index])


#: A first loss below this fraction of the median of the next five (or of steps 13-17), and the lowest of the curve,
#: looks like a moving average started low (on the benchmark's cached curves: Lightning's 0.43-0.85 of the next five,
#: torch-lr-finder's 0.79 of steps 13-17 on two diabetes curves, never the first loss of lrfinder's curves, which is
#: never the lowest).
_LOW_START = 0.9

#: How much of the next three steps' rise a short curve's first step must exceed to read as a moving average
#: warming up (:func:`_warms_up`): Lightning's rises as much at its first step as over the three after it, a
#: steady rise a third as much.
_SHORT_WARM_UP = 0.6


def _warms_up(raw: np.ndarray) -> bool:
    """Whether the first steps of ``raw`` rise as a moving average warming up: most at the start, then less.

    From its first point to steps 3-7 (medians of five, for the noise) such a curve rises more than
    over the ten steps after: Lightning's ``lr_find`` curves 1.4 to 14 times more on the benchmark's
    cached ones. A loss that rises steadily from its first step (the sweep began where the model
    already diverges) rises half as much there, over half the steps, and one that accelerates less:
    its first loss is the lowest too, but no moving average is to blame. A curve of fewer than 18
    points is told by its first steps alone: an average warming up rises at its first step by more than
    :data:`_SHORT_WARM_UP` times as much as over the three after it (Lightning's by 0.17 of the loss, then
    0.08, 0.05 and 0.03: 0.17 against 0.17); a loss that rises steadily from its first step rises a third as
    much there, and one that accelerates less still. Three steps, not two, for the noise: the average of
    batches that scatter by 5, 10 or 20% took the first step's rise against the next two's for a loss that
    accelerates in 10, 24 and 34% of seeded short curves, against the next three's at 0.6 in 4, 8 and 18%
    (``tests/test_analysis.py``). Fewer than 5 points count as a moving average.
    """
    if raw.size < 5:
        return True
    if raw.size < 18:
        return bool(raw[1] - raw[0] > _SHORT_WARM_UP * (raw[4] - raw[1]))
    early = float(np.median(raw[3:8]))
    later = float(np.median(raw[13:18])) - early
    return later <= 0 or early - float(raw[0]) > later


def _average_start(raw: np.ndarray) -> tuple[float, bool] | None:
    """The level a curve climbs to from a first loss that looks like a moving average's low start, else ``None``.

    The first loss is the lowest of the curve, below :data:`_LOW_START` times the level, and the curve rises
    most at its first steps (:func:`_warms_up`). The level is the median of the next five losses, else of steps
    13-17 (then ``slow`` is ``True``): Lightning's average starts at about half the loss and is most of the way
    up within five steps, but torch-lr-finder's (``avg[0]`` the first batch's loss, ``beta=0.95``, no
    correction) climbs from a low first batch by a twentieth of the way per step, its next five still within a
    tenth of its start. A loss that diverges from its first steps rises as fast or faster later, which
    :func:`_warms_up` tells apart.

    Returns:
        ``(level, slow)``, or ``None``.

    """
    if raw.size < 2 or not raw[0] > 0 or raw[0] > float(np.min(raw)) or not _warms_up(raw):
        return None
    follow = float(np.median(raw[1:6]))
    if raw[0] < _LOW_START * follow:
        return follow, False
    later = float(np.median(raw[13:18])) if raw.size >= 18 else follow
    return (later, True) if raw[0] < _LOW_START * later else None


def _finite_after(losses: np.ndarray, n: int) -> int:
    """How many finite losses follow the first non-finite one, at ``n`` (none when ``n`` is the end)."""
    return int(np.count_nonzero(np.isfinite(losses[n + 1 :])))


def _values(count: int) -> str:
    """``"1 finite loss value"``, ``"3 finite loss values"``."""
    return f"{count} finite loss value{'' if count == 1 else 's'}"


#: How an inconclusive curve's message names its blow-up LR (``lr``), and a blow-up it calls doubtful (the loss came
#: back below the rise's start): the report marks the LR a message names by these words (``report._named_blowup``).
#: ``lr`` comes written, with the digits the message writes its LRs with (:func:`_named_digits`).
BLOWUP_NAMED = "The loss did blow up, from lr={lr}"
DOUBTFUL_BLOWUP_NAMED = "The smoothed loss rose from lr={lr} and was read as a blow-up"


def _came_back(smoothed: np.ndarray, blowup: int) -> int | None:
    """Where the smoothed loss first comes back below its minimum before ``blowup``, else ``None``.

    :func:`blowup_index` reads such a rise as a bump only when the loss falls below that minimum by
    more than it rose; a shallower return still shows the curve did not run off there.
    """
    below = np.flatnonzero(smoothed[blowup:] < float(np.min(smoothed[: blowup + 1])))
    return None if not below.size else blowup + int(below[0])


def _fell_back(raw: np.ndarray, blowup: int) -> tuple[float, float, int] | None:
    """Where the recorded loss falls back after a rise read as a blow-up: ``(high, low, index)``, else ``None``.

    Past ``blowup`` and before the curve's highest loss, the median of five running recorded losses falls back from
    a high by more than a quarter of its rise above the lowest such median up to ``blowup`` and by more than three
    of its noise levels (from the recorded losses' up to that highest one, :func:`_step_noise`). The recorded
    losses, not the smoothed ones: the smoothed curve is of the clipped losses, whose cap can hide the whole rise.

    A loss that diverges does not come back (:func:`_why_lower_min_lr` tells a rise from its first steps so): a
    moving average of a low first batch (torch-lr-finder's, Lightning's) climbs for steps or dozens of steps, is
    read as a blow-up a few steps in, and then falls back with the loss behind it.
    """
    top = int(np.argmax(raw))
    if top < blowup + _FELL_BACK_WIDTH:
        return None
    # Medians of five running losses (indexed by their middle one): single losses of a real, noisy blow-up fall
    # back from a high often; a median of five has a fifth of the variance (times pi / 2) of one.
    med = np.median(np.lib.stride_tricks.sliding_window_view(raw[: top + 1], _FELL_BACK_WIDTH), axis=1)
    half = _FELL_BACK_WIDTH // 2
    start = float(np.min(med[: max(blowup - half, 0) + 1]))
    first = max(blowup - half, 0)
    upto = med[first:]
    high = np.maximum.accumulate(upto)
    back = high - upto
    noise = 3.0 * math.sqrt(math.pi / 2.0 / _FELL_BACK_WIDTH) * _step_noise(raw[: top + 1])
    hit = np.flatnonzero((back > 0.25 * (high - start)) & (back > noise) & (high > start))
    if not hit.size:
        return None
    j = int(hit[0]) + int(np.argmin(upto[hit[0] :]))
    return float(high[hit[0]]), float(upto[j]), first + j + half


#: How many running recorded losses :func:`_fell_back` takes the median of.
_FELL_BACK_WIDTH = 5


def _optimizer_names(optimizer: str | None) -> list[str]:
    """The optimizers a result's ``optimizer_name`` names, lower-case class or registry names.

    The Python API names the class, with its form after it (``"SGD (momentum)"``, ``"Adadelta,SGD"`` for several);
    ``lrfind`` the registry name, with its settings after it (``"momentum, weight_decay=1e-04"``), which are no names.
    A module path (``"mypkg.optim:MySGD"``) counts by its class name.
    """
    if optimizer is None:
        return []
    parts = (part.strip() for part in optimizer.split(","))
    names = [part.split(" (")[0].rsplit(":", 1)[-1].rsplit(".", 1)[-1] for part in parts if part and "=" not in part]
    return [name.strip().lower() for name in names if name.strip()]


def _is_adadelta(optimizer: str | None) -> bool:
    """Whether a result's ``optimizer_name`` names Adadelta (``"Adadelta"``, ``"Adadelta,SGD"``, ``"adadelta"``)."""
    return any(name.startswith("adadelta") for name in _optimizer_names(optimizer))


#: Why Adadelta's loss is still falling (or never moved) at LRs of :data:`HIGH_MAX_LR` and more: its own step size.
ADADELTA_HIGH_LR = (
    "With Adadelta that is expected, not a sign of a loss that ignores the weights' scale: its step starts at about "
    "lr * sqrt(eps) per weight (1e-3 * lr at torch's eps=1e-6) and grows only as its running average of past updates "
    "does, so its useful LRs lie decades above an Adam-type optimizer's (torch's default for it is lr=1.0)."
)


def _is_sgd(optimizer: str | None) -> bool:
    """Whether a result's ``optimizer_name`` names SGD only (``"SGD"``, ``"SGD (momentum)"``, ``"SGD,SGD"``).

    Also ``lrfind``'s names (``"sgd"``, ``"momentum"``, ``"nesterov, weight_decay=1e-04"``) and a subclass named
    for it (``"MySGD (Nesterov)"``): a result saved by ``lrfind`` and analysed again read as an Adam-type step's.
    """
    names = _optimizer_names(optimizer)
    return bool(names) and all("sgd" in name or name in ("momentum", "nesterov") for name in names)


#: Why SGD's loss may still be falling (or never have moved) at LRs of :data:`HIGH_MAX_LR` and more: its step is the LR
#: times the gradient, and small gradients take large LRs.
SGD_HIGH_LR = (
    "With SGD that can be this model's own range: its step is the LR times the gradient, so where the gradients are "
    "small (a recurrent net whose saturating gates damp them, for one) the blow-up can lie past 1..10. Or the loss "
    "does not depend on the weights' scale (weights up to a BatchNorm or LayerNorm, weight-normalised layers): the LR "
    "acts only through lr / ||w||**2 and no blow-up bounds it. Check whether scaling every weight by 10 changes the "
    "loss: if it does, the higher sweep finds the blow-up; if not, initialise the weights at the usual scale, or sweep "
    "higher for these weights' norm."
)


def _high_lr_words(optimizer: str | None = None) -> str:
    """Why a loss not blown up by the largest LR (:data:`HIGH_MAX_LR` or more) is likely scale-free, and what to do.

    Plain SGD's step grows with the LR and an Adam-type step is about the LR per weight whatever the gradient, so
    a loss that depends on the weights' scale has run off by such LRs, and an adaptive optimizer's useful LRs lie
    far below 1..10. A loss that has not run off barely depends on the LR: the weights before a normalization layer
    (BatchNorm, LayerNorm) or in weight-normalised layers only set a direction, and the LR acts through
    ``lr / ||w||**2``. Large weights (a large init) move the whole curve to large LRs, where no blow-up bounds it:
    a usual init moves it back; a higher sweep finds the fall for the weights' present norm.

    Adadelta (``optimizer`` naming it) is the exception: its step is about ``lr * sqrt(eps)`` per weight at first
    (:data:`ADADELTA_HIGH_LR`), so such LRs are its usual range and a higher sweep is the whole advice. With SGD
    (:data:`SGD_HIGH_LR`) small gradients are as likely as a scale-free loss, and the check tells the two apart.
    """
    if _is_adadelta(optimizer):
        return ADADELTA_HIGH_LR
    if _is_sgd(optimizer):
        return SGD_HIGH_LR
    return (
        "At LRs this high that is rare (an Adam-type step is about the LR per weight: an adaptive "
        "optimizer's range rarely needs to pass 1..10). Most likely the loss does not depend on the weights' scale "
        "(weights up to a BatchNorm or LayerNorm, weight-normalised layers): the LR acts only through lr / ||w||**2 "
        "and no blow-up bounds it. Check that scaling every weight by 10 leaves the loss unchanged; if so, "
        "initialise the weights at the usual scale, or sweep higher for these weights' norm."
    )


def _resweep_words(start: float, top: float, steps: int, d: int) -> str:
    """``min_lr=..., max_lr=..., num_steps=...`` of a sweep to run again, its LRs written as the messages write them."""
    return f"min_lr={start:.{d}e}, max_lr={top:.{d}e}, num_steps={steps}"


def _flat_until_blowup(lrs: np.ndarray, raw: np.ndarray, noise: NoiseLevel, bound: float | None) -> bool:
    """Whether a curve that never clearly fell stayed at its first loss a decade or more before it blew up at ``bound``.

    Then a lower ``min_lr`` cannot help: the swept LRs below the blow-up span at least :data:`FLAT_DECADES`, the
    loss did not go below where it started over them, and at smaller LRs the weights move less still. The first loss
    is not above the next ones by more than three noise levels (``noise.sigma``): a first step that already fell is a
    fall at ``min_lr``, which a lower ``min_lr`` does show. A curve that rises from its first steps (diverged from the
    start, a blow-up within a decade of ``min_lr``) and a moving average's low start (:func:`_warms_up`) are not
    flat: a lower ``min_lr``, or the losses behind the average, do help there. A first loss below the next ones that
    is not the curve's lowest is noise, not an average's start.

    Example:
        >>> lrs = np.logspace(-7, 0, 8)
        >>> quiet = NoiseLevel(window=3, sigma=0.01, se=0.01, band=0.02)
        >>> _flat_until_blowup(lrs, np.full(8, 2.3), quiet, 1e-2)
        True
        >>> _flat_until_blowup(lrs, np.r_[4.0, np.full(7, 2.3)], quiet, 1e-2)
        False

    """
    if bound is None or raw.size < 2 or math.log10(bound / float(lrs[0])) < FLAT_DECADES:
        return False
    follow = float(np.median(raw[1 : 1 + max(3, noise.window // 2)]))
    # The recorded losses' own scatter up to the blow-up too (_step_noise): sigma is the residuals' around the
    # smoothed curve, which a loss whose noise scales with it (20-50%, a level that halves) sets by its lower half.
    scatter = max(noise.sigma, _step_noise(raw[: int(np.searchsorted(lrs, bound))]))
    fell_first = float(raw[0]) - follow > max(3.0 * scatter, 1e3 * ROUND_OFF * abs(follow))
    # A first loss below the next ones is a moving average's low start only where it is the curve's lowest too
    # (_average_start): on a noisy flat curve one first loss in three lies below 0.9 times the next ones by noise
    # alone, and was told "lower min_lr (the model may already be trained at these LRs)". On the benchmark's 11 such
    # curves (lrfinder's noisy regressions and the adding-problem GRU) the oracle's best LR lies 0.5-2 decades below
    # the blow-up and 4-6 above min_lr, inside the re-sweep this advises.
    return not fell_first and _average_start(raw) is None


def _why_lower_min_lr(lrs: np.ndarray, raw: np.ndarray, noise: NoiseLevel, bound: float | None) -> str | None:
    """Why to lower ``min_lr`` for a loss that blew up at ``bound`` without falling first, when the curve tells.

    * The loss rose from its first steps: with ``k = max(3, window // 2)`` (the steps :func:`check_fall` takes as
      the start), every median of ``k`` running recorded losses from step ``k`` up to the blow-up (to step ``2 k``
      at least) lies above the median of the first ``k`` by more than their spread (max minus min) and than three
      noise levels of the difference of two such medians (``sigma`` the larger of the smoothed curve's and the
      recorded losses' scatter from second differences, :func:`_step_noise`). The loss left its starting level at once
      and never came back to it: the sweep starts where the model already diverges, and a lower ``min_lr`` finds
      the LRs below. A model already trained at these LRs, the reason told otherwise, keeps its loss at the level of
      its first steps for a while before the blow-up. A loss that diverges does not come back: where the recorded
      losses, before the curve's highest one, fall back from a high by more than a quarter of its rise above that
      start (and by more than three noise levels ``sigma``), the rise levelled off, as a moving average's climb from
      a low first loss does (torch-lr-finder's, from a low first batch, over dozens of steps), and this reason is
      not given.
    * It blew up less than :data:`FLAT_DECADES` above ``min_lr`` after a level start: too little of the sweep to
      tell a trained model from a range that starts where the model diverges. Both are said.

    ``None`` otherwise, for fewer than :data:`MIN_POINTS` losses, and for a curve that starts as a moving average
    does (:func:`_average_start`: a first loss that is the lowest of the curve and below :data:`_LOW_START` times the
    level it climbs to, rising as :func:`_warms_up` tells): the message keeps "the model may already be trained at
    these LRs", and :func:`read_curve` adds why the start is the average's.

    Example:
        >>> lrs = np.logspace(0.5, 1.5, 12)
        >>> quiet = NoiseLevel(window=5, sigma=0.01, se=0.01, band=0.02)
        >>> rising = np.array([2.3, 2.31, 2.5, 3.0, 4.5, 7.0, 12.0, 25.0, 60.0, 150.0, 400.0, 1e3])
        >>> _why_lower_min_lr(lrs, rising, quiet, float(lrs[6]))
        'the loss rose from its first steps to its blow-up 0.5 decades above min_lr: the swept range starts where \
this model already diverges'

    """
    if bound is None or raw.size < MIN_POINTS:
        # read_curve reads no curve this short; on one of 5 or 6 losses the medians after the first k are of 2 or 3
        # losses, the blow-up's own among them, and a level start then a blow-up read as a rise from the first steps.
        return None
    decades = math.log10(bound / float(lrs[0]))
    k = max(3, noise.window // 2)
    if _average_start(raw) is not None:
        return None  # the rise is the average's, not the loss's: read_curve's note says so
    # The scatter of single recorded losses up to the blow-up (second differences: a steady rise does not enter
    # it), not only the smoothed curve's residuals: those are zero on a smooth average and a fraction of the
    # scatter on a noisy rise, where single losses of a steady rise in 1-10% noise fell back from a noisy high by
    # three residual noise levels, or lay below the start's level, in 17-67% of curves.
    stop = max(int(np.searchsorted(lrs, bound)), 2 * k)
    scatter = max(noise.sigma, _step_noise(raw[:stop]))
    start = float(np.median(raw[:k]))
    # Up to the curve's highest loss: what an explosion gives back after its peak says nothing of the start.
    upto = raw[: int(np.argmax(raw)) + 1]
    high = np.maximum.accumulate(upto)
    back = high - upto
    came_back = bool(np.any((back > 0.25 * (high - start)) & (back > 3.0 * scatter) & (high > start)))
    # Medians of k running losses after the first k (as many as there are, on a curve under 2 k losses) against
    # the first k's median and spread, with three noise levels of the difference of two such medians (a median of
    # k has pi / 2 / k the variance of one loss). At least k losses are looked at: the smoothed blow-up can come
    # within the first steps, the filter's window reaching ahead into the rise; losses past it are higher still on
    # a curve that rose.
    width = max(1, min(k, raw.size - k))
    bar = 3.0 * math.sqrt(math.pi / 2.0 * (1.0 / k + 1.0 / width)) * scatter
    level = start + max(bar, float(np.max(raw[:k]) - np.min(raw[:k])))
    if not came_back and _running_medians_above(raw, width, k, min(stop, raw.size) - width + 1, level):
        return (
            f"the loss rose from its first steps to its blow-up {decades:.1f} decades above min_lr: the swept range "
            "starts where this model already diverges"
        )
    return _both_reasons(decades) if decades < FLAT_DECADES else None


#: How many losses :func:`_running_medians_above` takes the medians of at once: its memory, whatever the curve's length.
_MEDIAN_BLOCK = 1 << 20


def _running_medians_above(raw: np.ndarray, width: int, start: int, stop: int, level: float) -> bool:
    """Whether the median of ``raw[i : i + width]`` exceeds ``level`` for every ``start <= i < stop`` (or none).

    Taken in blocks of about :data:`_MEDIAN_BLOCK` losses, up to the first that does not: the windows of a curve of
    ``n`` points are ``n / 20`` wide, so all of them at once took ``n ** 2 / 400`` floats (380 GB for a million points,
    a MemoryError). A median of two losses near the largest float overflows to inf, above any level as they are.
    """
    rows = max(1, _MEDIAN_BLOCK // width)
    for a in range(start, stop, rows):
        b = min(stop, a + rows)
        windows = np.lib.stride_tricks.sliding_window_view(raw[a : b + width - 1], width)
        with np.errstate(over="ignore"):
            if not bool(np.all(np.median(windows, axis=1) > level)):
                return False
    return True


def _both_reasons(decades: float) -> str:
    """Why to lower ``min_lr`` for a loss blown up ``decades`` above it, too soon to tell a trained model."""
    return (
        f"the loss blew up only {decades:.1f} decades above min_lr: the model may already be trained at these LRs, "
        "or the swept range starts just below where it diverges"
    )


def _chance_words(level: float) -> str:
    """A first loss ``level`` that is ``ln C`` (within 1%), said as a cross-entropy's loss at chance over ``C`` classes.

    The analysis does not know the loss function, and a loss of any kind lands within 1% of some ``ln C`` (C from 2
    to 29) for about 23% of levels between 0.5 and 4.6 (a regression's MSE of 1.10 read as ln 3, the benchmark's
    adding-problem GRU): so the words make the loss function, which the user knows, the condition, and say that any
    other loss matches by coincidence. Only a ``C`` the level singles out is named: where the 1% window
    ``[0.99 level, 1.01 level]`` holds the logarithms of several class counts (``C`` above 29), any loss there would
    match one of them (an MSE of 10.6 read as ln 38375), so none is named.

    Example:
        >>> _chance_words(2.3026)
        ': if the loss is a cross-entropy over 10 classes, its loss at chance, ln 10 (a uniform guess); a loss of \
another kind is near ln 10 by coincidence'
        >>> _chance_words(10.555)
        ''

    """
    if not 0.5 < level < 12.0:
        return ""
    fits = range(math.ceil(math.exp(0.99 * level)), math.floor(math.exp(1.01 * level)) + 1)
    classes = fits[0] if len(fits) == 1 else 0
    if classes < 2:
        return ""
    return (
        f": if the loss is a cross-entropy over {classes} classes, its loss at chance, ln {classes} (a uniform guess); "
        f"a loss of another kind is near ln {classes} by coincidence"
    )


def _why_no_fall(
    lrs: np.ndarray,
    raw: np.ndarray,
    blowup: int | None,
    non_finite_lr: float | None,
    size: int,
    later: int = 0,
    smoothed: np.ndarray | None = None,
    flat_until: float | None = None,
    optimizer: str | None = None,
    high_start: int = 0,
    exploded: bool = False,
) -> tuple[str | None, str]:
    """What :func:`read_curve` adds to :func:`check_fall`'s message: ``(lead, rest)``, what else the curve shows.

    ``lead`` is the sweep to run again where the curve names one (``None`` where not): the message puts it right
    after its first sentence, what happened, and before the figures; ``rest`` follows the message. ``exploded``: whether
    :func:`clip_explosion` capped a loss after the curve's start (:func:`explosion_index`), which :func:`read_curve`
    has read off the curve it clipped.

    * Nothing happened at any LR swept (no blow-up, no explosion clipped away, every loss finite):
      the sweep may have stopped below the LRs where the model learns. It names refine's re-sweep
      for the case: the same start, :data:`RESWEEP_HIGHER` times the top, twice the ``size`` steps;
      from :data:`HIGH_MAX_LR` on, with why that is rare (:func:`_high_lr_words`, in short), or with
      Adadelta (``optimizer``) why it is not (:data:`ADADELTA_HIGH_LR`), or with SGD why it may not be
      (:data:`SGD_HIGH_LR`). But for a first loss :func:`clip_explosion` capped (``high_start`` of them,
      :func:`_capped_start`: above the rest by more than their whole fall): then the first step, at ``min_lr``,
      already fell, and the curve was flat after it. The LRs where this model learns lie below the sweep, not
      above it: a sweep :data:`RESWEEP_HIGHER` times lower, at the same steps per decade, shows that fall. Raising
      ``max_lr`` only adds LRs past a fall already over.
    * ``flat_until``: the loss stayed at its first value until it blew up there, a decade or more
      above ``min_lr`` (:func:`_flat_until_blowup`): a lower ``min_lr`` cannot help. The fall, if the
      model can learn at all, needs more steps at the LRs below the blow-up: the range refine
      re-sweeps for the case, :data:`RESWEEP_BELOW` below it to :data:`RESWEEP_ABOVE` above, at
      :data:`FLAT_STEPS` times the steps: one sweep by hand must read, and one of twice the steps read
      no fall where four times did. Refine re-sweeps at :data:`RESWEEP_STEPS` times the steps and
      again where that reads no fall, which the message says.
    * The curve was cut at a non-finite loss: only the losses before it were read.
    * The first loss is the lowest of the curve and below the next ones (or the level of steps 13-17),
      and the curve rises most at its first steps (:func:`_average_start`): the start of a moving
      average that starts low (Lightning's ``lr_find`` records one whose first point is about half
      the loss, torch-lr-finder's one that climbs from a low first batch), not of the model's loss.
      A curve that rises steadily from its first step diverged there: its first loss is the lowest
      too, and the blow-up says so.
    * The loss blew up (``blowup``): no LR is suggested, but that LR bounds any choice from above,
      and a tenth of it is the usual fallback (Smith's rule), which the curve does not confirm.
      With ``smoothed``, a blow-up the smoothed loss later came back below the start of (by less
      than it rose, else :func:`blowup_index` would have read a bump) is said to be doubtful: on a
      curve too noisy to show a fall, such a rise at tiny LRs is as likely the noise of single
      steps, and "keep it below that" would bound the LR by noise.
    * Every loss is the same, bit for bit: no step changed the loss, so its gradients are zero (or
      the LRs too small to move the weights at their precision). Losses of different steps are hardly
      ever bit-identical while the weights move or the batches change.
    """
    n = raw.size
    parts: list[str] = []
    lead: str | None = None
    back = None if blowup is None or smoothed is None else _came_back(smoothed, blowup)
    # The LRs named, written apart from each other and from the sweep's ends (a sweep over a fraction of a decade).
    d = _named_digits(lrs, *(None if i is None else float(lrs[i]) for i in (blowup, back)), non_finite_lr)
    if n > 1 and bool(np.all(raw == raw[0])):
        parts.append(
            f"Every one of the {n} recorded losses is exactly {float(raw[0])!r}: no step changed the loss, so its "
            "gradients are zero (dead or saturated units, such as ReLUs with large negative biases, a loss that does "
            "not depend on the trained parameters) or the LRs too small to move the weights at their precision. "
            "Check that loss.backward() gives the trained parameters nonzero gradients."
        )
    if blowup is not None and back is not None and smoothed is not None:
        top, start, low = float(lrs[blowup]), float(np.min(smoothed[: blowup + 1])), float(smoothed[back])
        shown_low, shown_start = _apart(low, start)
        parts.append(
            DOUBTFUL_BLOWUP_NAMED.format(lr=f"{top:.{d}e}") + " (nothing past it was read), but it "
            f"later came back below where that rise started ({shown_low} at lr={float(lrs[back]):.{d}e}, against "
            f"{shown_start}): on a curve this noisy the rise may be noise, not the LR. Steady the curve (a larger "
            "batch size or more num_steps) and run again before you take that LR as the one to stay below (a tenth "
            f"of it, {top / 10:.{d}e}, would be the usual fallback)."
        )
    elif blowup is not None and (fell := _fell_back(raw, blowup)) is not None:
        top, (peak, low, at) = float(lrs[blowup]), fell
        shown_peak, shown_low = _apart(peak, low)
        parts.append(
            DOUBTFUL_BLOWUP_NAMED.format(lr=f"{top:.{d}e}") + " (nothing past it was read), but it later fell back "
            f"from {shown_peak} to {shown_low} (at lr={float(lrs[at]):.{d}e}), more than a quarter of its rise: a loss "
            "that diverges does not come back, so the rise may be a moving average's climb from a low first loss, or "
            "noise, not the LR. Analyse the raw losses, or steady the curve (a larger batch size or more num_steps), "
            f"and run again before you take that LR as the one to stay below (a tenth of it, {top / 10:.{d}e}, "
            "would be the usual fallback)."
        )
    elif blowup is not None:
        top = float(lrs[blowup])
        parts.append(
            BLOWUP_NAMED.format(lr=f"{top:.{d}e}") + " (nothing past it was read): whatever LR you train at, keep "
            f"it below that. A tenth of it ({top / 10:.{d}e}) is the usual fallback, but this curve shows no fall to "
            "confirm it."
        )
    # Nothing happened at any LR swept: no blow-up, no non-finite loss, no explosion clipped away.
    calm = blowup is None and non_finite_lr is None and not exploded
    if calm and high_start:
        top, start = float(lrs[n - 1]), float(lrs[0])
        low = _named_digits(lrs, start / RESWEEP_HIGHER)
        follow = float(np.median(raw[high_start : high_start + 5]))
        times = f", {float(raw[0]) / follow:.1f} times lower" if follow > 0 else ""
        steps = math.ceil(size * math.log10(top * RESWEEP_HIGHER / start) / math.log10(top / start))
        lead = (
            "Lower min_lr and run again, e.g. 3 decades lower "
            f"({_resweep_words(start / RESWEEP_HIGHER, top, steps, low)}, the same steps per decade)."
        )
        parts.append(
            f"The first step, at min_lr={start:.{low}e}, already took the loss from {float(raw[0]):.3g} to "
            f"{follow:.3g}{times}, and it stayed there up to lr={top:.{low}e} without blowing up: the fall lies below "
            "the swept LRs, so a higher max_lr cannot show it. If one step at so small an LR cannot move this model's "
            "loss that far, the first loss is unlike the rest for another reason (a first batch unlike the others): "
            "check the data."
        )
    elif calm:
        top, start = float(lrs[n - 1]), float(lrs[0])
        up = _named_digits(lrs, top * RESWEEP_HIGHER)
        again = _resweep_words(start, top * RESWEEP_HIGHER, 2 * size, up)
        higher = (
            f"Raise max_lr and run again, e.g. with {again} (3 decades higher at twice the steps, the re-sweep refine "
            "runs for such a curve)."
        )
        if top < HIGH_MAX_LR:
            lead = higher
            parts.append(
                "The loss never blew up either, so the sweep may have stopped below the LRs where this model learns "
                f"(it ended at {top:.{up}e})."
            )
        elif _is_adadelta(optimizer) or _is_sgd(optimizer):
            lead = higher
            why = ADADELTA_HIGH_LR if _is_adadelta(optimizer) else SGD_HIGH_LR
            parts.append(f"The loss never blew up either, up to lr={top:.{up}e}. {why}")
        else:
            parts.append(
                f"The loss never blew up either, up to lr={top:.{up}e}, which is rare: if it depends on the model, it "
                "likely does not depend on the weights' scale (weights up to a BatchNorm or LayerNorm; check that "
                f"scaling every weight by 10 leaves it unchanged), and a higher max_lr ({again}) finds only where it "
                "falls for these weights' norm."
            )
    if flat_until is not None:
        start = float(lrs[0])
        low, high = max(flat_until / RESWEEP_BELOW, start), flat_until * RESWEEP_ABOVE
        below = _named_digits(lrs, flat_until, low, high)
        level = float(np.median(raw[:5]))
        lead = (
            "If the model can learn, it needs more steps below the blow-up, swept on a decade past it: run again with "
            f"{_resweep_words(low, high, FLAT_STEPS * size, below)} ({FLAT_STEPS} times the steps, so that one sweep "
            "reads; past the blow-up only for the turn-up the reading needs, train below it; refine's re-sweep of "
            f"such a curve takes {RESWEEP_STEPS} times the steps below the blow-up and sweeps again where that reads "
            "no fall)."
        )
        parts.append(
            f"The loss never clearly fell from its first value ({level:.3g}{_chance_words(level)}) over the "
            f"{math.log10(flat_until / start):.1f} decades swept below the blow-up, so a lower min_lr cannot help: "
            "at smaller LRs the weights move less still. If it is already trained to its floor, no LR lowers its loss."
        )
    if non_finite_lr is not None:
        parts.append(
            f"Only the {n} losses before the first non-finite one (at lr={non_finite_lr:.{d}e}) were read; the "
            f"{size - n} from there on were not"
            + (f" ({later} of them finite: if that loss was one bad step, drop it to read past it)." if later else ".")
        )
    averaged = _average_start(raw)
    if averaged is not None:
        level, slow = averaged
        parts.append(
            f"The first loss ({raw[0]:.3g}) is the lowest of the curve, below "
            + (f"the level it climbs to by steps 13-17 ({level:.3g})" if slow else f"the next ones ({level:.3g})")
            + ": if the curve is a moving average, that is its start, not the model's loss "
            + (
                "(torch-lr-finder records one that starts at its first batch's loss and climbs from a low one for "
                'dozens of steps). Analyse the losses behind it, lrfinder.undo_ema(losses, beta=0.95, debias="none") '
                "for torch-lr-finder's"
                if slow
                else "(Lightning's lr_find records one whose first point is about half the loss, from an off-by-one "
                "bias correction). Analyse the losses behind it, lrfinder.undo_ema(losses) for Lightning's"
            )
            + ", or the raw losses lrfinder.range_test and the LRFinder callback record."
        )
    return lead, "".join(f" {part}" for part in parts)


def check_curve(curve: object) -> None:
    """Check ``range_test``'s (and :func:`analyze`'s) ``curve``: ``"train"`` or ``"val"``.

    Raises:
        ValueError: Any other value, with the valid ones.

    """
    if not is_choice(curve, CURVES):
        raise ValueError(
            f"Expected curve to be {' or '.join(map(repr, CURVES))}, but got curve={curve!r}: 'train' records each "
            "step's training loss, 'val' the mean loss over val_data after each step."
            + did_you_mean(curve, CURVES, {"training": "train", "validation": "val", "valid": "val"})
        )


def _first_loss_words(first: float, lr: str, curve: Curve) -> str:
    """Why a curve's first loss is already non-finite, told for the kind of curve it is (``lr``: its LR, written)."""
    if curve == "val":
        # A validation curve's loss at lr[0] is measured after the step at lr[0], but one step at the smallest LR
        # of a sweep is not what makes a loss undefined: a validation batch with no target to score is.
        return (
            f"The first loss is already {first} (at lr={lr}): on a validation curve (curve='val') it is the "
            "mean loss over val_data after one step at the smallest LR of the sweep, too small a step to be the "
            "cause. Check the model, the validation data and the loss function (a val_data batch whose targets are "
            "all ignore_index, whose mean loss is a mean over nothing; NaN or inf targets, a log of zero, a "
            "division by zero)."
        )
    # A range test records each loss before the step at that LR: the first one saw no update at all.
    return (
        f"The first loss is already {first} (at lr={lr}): a range test records each loss "
        "before the step at its LR, so this is the untouched model's loss and the learning rate is not the "
        "cause. Check the model, the data and the loss function (NaN or inf inputs or targets, a log of zero, "
        "a division by zero)."
    )


#: A curve too short to read whose loss blew up within this many decades of ``min_lr`` is told to start lower: the
#: sweep started too close to the blow-up for a fall to show (a coarser sweep blows up further up, and more steps help).
_START_LOWER_WITHIN = 3.0
#: How far below the LR it blew up from such a curve's advised ``min_lr`` lies, in decades (a fall shows 1-3 below).
_START_BELOW_BLOWUP = 4.0
#: The steps per decade of that advised sweep: the default sweep's (100 steps over 1e-7 .. 10).
_STEPS_PER_DECADE = 12.5


def short_blowup_message(lrs: np.ndarray, losses: np.ndarray, n: int, stopped: str, step: int) -> str | None:
    """What a curve too short to read (``n`` finite losses, ``n < MIN_POINTS``) that ended by blowing up says.

    ``stopped``: how it ended, in words (``"the loss became non-finite"``, ``"the divergence rule stopped the
    test"``), at step ``step`` (from 1) of ``lrs``. Where that was within :data:`_START_LOWER_WITHIN` decades of
    ``min_lr`` (the first LR), the sweep started at or just below where the model diverges: lowering ``max_lr`` or
    more ``num_steps`` alone cannot help, so the message names the LR the loss rose from (its lowest loss's,
    :data:`BLOWUP_NAMED`: the bound to stay below) and a sweep from :data:`_START_BELOW_BLOWUP` decades below it to a
    decade above where it stopped, at :data:`_STEPS_PER_DECADE`. Else ``None``: the sweep was coarse, more steps help.
    """
    first, end = float(lrs[0]), float(lrs[step - 1])
    if n == 0 or math.log10(end / first) >= _START_LOWER_WITHIN:
        return None
    low = int(np.argmin(losses[:n]))  # the loss rose from its lowest recorded value
    rose_from = float(lrs[low])
    start = 10.0 ** math.floor(math.log10(rose_from) - _START_BELOW_BLOWUP)
    top = 10.0 ** math.ceil(math.log10(end) + 1.0)
    steps = max(100, math.ceil(_STEPS_PER_DECADE * math.log10(top / start)))
    d = _named_digits(lrs[:step], end, rose_from, start, top)
    how = (
        f"from the first step of the sweep: it never fell below its first loss, at lr={first:.{d}e} (min_lr)"
        if low == 0
        else f"{plural(low, 'step')} into the sweep: its lowest loss was at lr={rose_from:.{d}e}, "
        f"{plural(low, 'step')} above min_lr ({first:.{d}e})"
    )
    return (
        f"The loss blew up {how}. {stopped[:1].upper()}{stopped[1:]} at step {step} (lr={end:.{d}e}), after only "
        f"{_values(n)}, fewer than the {MIN_POINTS} a curve needs. {BLOWUP_NAMED.format(lr=f'{rose_from:.{d}e}')}: "
        "keep any LR you train at below it. The sweep starts too close to where the model diverges for a fall to "
        "show, and a lower max_lr or more num_steps alone cannot change that: run again from about "
        f"{math.log10(first / start):.0f} decades lower ({_resweep_words(start, top, steps, d)})."
    )


def read_curve(
    lrs: Sequence[float] | np.ndarray,
    losses: Sequence[float] | np.ndarray,
    *,
    window: int | None = None,
    curve: Curve = "train",
    optimizer: str | None = None,
) -> CurveReading:
    """Run the steps of :func:`analyze` up to the rules (see the module docstring).

    Args:
        lrs: Strictly increasing, positive learning rates, one per optimizer step.
        losses: The loss recorded at each step (NaN/inf allowed: the curve ends there).
        window: Savitzky-Golay window in points (see :func:`choose_window`).
        curve: What the losses are (see :func:`analyze`); only the words of an error depend on it.
        optimizer: The optimizer swept (see :func:`analyze`); only the words of an error depend on it.

    Returns:
        A :class:`CurveReading`.

    Raises:
        ValueError: Malformed arrays.
        InconclusiveCurveError: Too few finite points (the message tells a non-finite first loss,
            which no LR caused, from an early blow-up), a loss that never falls (flat or noise), or a
            loss still falling at the largest LR.

    """
    check_curve(curve)
    lr_arr, loss_arr = _check_curve(lrs, losses)
    n = finite_prefix(loss_arr)
    non_finite_lr = float(lr_arr[n]) if n < loss_arr.size else None
    d = _named_digits(lr_arr, non_finite_lr)  # the LR the errors below name, told apart from the sweep's ends
    if loss_arr.size == 0:
        # "Only 0 finite loss values ... before the loss blows up" blamed a blow-up that no step recorded.
        raise InconclusiveCurveError(
            f"No losses were recorded (lrs and losses are empty): there is no curve to read. Run the range test for "
            f"at least {MIN_POINTS} steps and analyse the lrs and losses it records."
        )
    if n == 0 and non_finite_lr is not None:
        raise InconclusiveCurveError(_first_loss_words(loss_arr[0], f"{non_finite_lr:.{d}e}", curve))
    later = _finite_after(loss_arr, n)
    if n < MIN_POINTS and later:
        # Not a curve that ran off: finite losses follow (a range test stops at its first non-finite one).
        follow = "follows" if later == 1 else "follow"
        raise InconclusiveCurveError(
            f"Only {_values(n)} came before the first non-finite one (at lr={non_finite_lr:.{d}e}), where a curve "
            f"ends; at least {MIN_POINTS} are needed. {_values(later).capitalize()} {follow} it: if it was one bad "
            "step, not the loss running off, drop that step's lr and loss and analyse the rest."
        )
    if n < MIN_POINTS and non_finite_lr is not None:
        early = short_blowup_message(lr_arr, loss_arr, n, "the loss became non-finite", n + 1)
        if early is not None:
            raise InconclusiveCurveError(early)
    if n < MIN_POINTS:
        where = f" (the loss became non-finite at lr={non_finite_lr:.{d}e})" if non_finite_lr else ""
        raise InconclusiveCurveError(
            f"Only {_values(n)} {'was' if n == 1 else 'were'} recorded{where}; at least {MIN_POINTS} are needed. "
            "Lower min_lr or max_lr, or increase num_steps, so the test records more points "
            "before the loss blows up."
        )
    lr_arr, raw = lr_arr[:n], loss_arr[:n]
    clipped, w, smoothed = _smooth(raw, window)
    if not np.all(np.isfinite(smoothed)):
        # Only losses near the float64 limit (about 1e308) that clip_explosion does not cap: a plunge
        # towards -inf, or all of them that large.
        raise InconclusiveCurveError(
            f"The recorded losses reach {float(np.max(np.abs(raw))):.3g}, too large to smooth in float64 (the "
            "arithmetic overflows). Rescale the loss (a mean rather than a sum, other units), or lower max_lr so "
            "the test stops before the loss runs off."
        )
    noise = noise_level(clipped, raw, smoothed, w)
    blowup, bumps = _blowups(smoothed, noise, clipped, raw)
    end = n if blowup is None else blowup
    high_start = _capped_start(clipped, raw)
    try:
        # As _why_no_fall's "never blew up either": then the sweep stopped too low, and a model already
        # trained at these LRs (lower min_lr) is no cause: it would still blow up at large LRs.
        # The LR the message names as the blow-up (_why_no_fall), else where the loss turned non-finite or exploded.
        bound = float(lr_arr[blowup]) if blowup is not None else non_finite_lr
        exploded = _first_exploded(clipped, raw) if bound is None else None
        bound = float(lr_arr[exploded]) if exploded is not None else bound
        blew_up = bound is not None
        rose = _why_lower_min_lr(lr_arr, raw, noise, bound)
        # A loss that rose from its first steps never stayed at its first value, however far above min_lr the
        # coarse steps of a short sweep put its blow-up: a lower min_lr is the advice, not "cannot help".
        flat = rose is None and _flat_until_blowup(lr_arr, raw, noise, bound)
        i_min, drop = check_fall(
            clipped, smoothed, end, noise, bumps, blew_up=blew_up and not flat, rose=rose,
            high_start=high_start,
        )  # fmt: skip
    except InconclusiveCurveError as exc:
        lead, rest = _why_no_fall(
            lr_arr, raw, blowup, non_finite_lr, loss_arr.size, later, smoothed, bound if flat else None, optimizer,
            high_start, exploded is not None,
        )
        raise InconclusiveCurveError(_lead_with(str(exc), lead) + rest) from None
    divergence = divergence_index(smoothed, i_min, drop, noise)
    if divergence is None and non_finite_lr is None and still_falling(smoothed, i_min, drop, noise):
        # The LRs a sweep visits are set by min_lr and max_lr alone: "(or num_steps)" sent users to rerun the same
        # span at a finer step, still falling. The 3 decades are refine.next_sweep's re-sweep for this case.
        top, start = float(lr_arr[n - 1]), float(lr_arr[0])
        d = _named_digits(lr_arr, top * RESWEEP_HIGHER)
        # The steps per decade of this sweep, kept over the higher one (as refine's re-sweep keeps them).
        steps = math.ceil(n * math.log10(top * RESWEEP_HIGHER / start) / math.log10(top / start))
        again = _resweep_words(start, top * RESWEEP_HIGHER, steps, d)
        said = (
            f"The loss is still falling at the largest LR tried ({top:.{d}e}); the test never reached the divergence "
            "region. "
        )
        if top < HIGH_MAX_LR:
            raise InconclusiveCurveError(
                said + f"Increase max_lr and run again, e.g. 3 decades higher ({again}, the same steps per decade); "
                "more num_steps alone sweeps the same LRs."
            )
        raise InconclusiveCurveError(
            said + f"Increase max_lr and run again, e.g. 3 decades higher ({again}, the same steps per decade). "
            + _high_lr_words(optimizer)
        )
    slope = loss_slope(lr_arr, smoothed)
    return CurveReading(
        lrs=lr_arr,
        raw=raw,
        clipped=clipped,
        smoothed=smoothed,
        slope=slope,
        noise=noise,
        end=end,
        i_min=i_min,
        drop=drop,
        divergence=divergence,
        divergence_lr=float(lr_arr[divergence]) if divergence is not None else non_finite_lr,
        non_finite_lr=non_finite_lr,
        region=falling_region(slope, i_min, bumps=bumps, tie=_slope_tie(lr_arr, smoothed)),
        finite_after=later,
    )


# --------------------------------------------------------------------------------------------
# Rules, band, confidence
# --------------------------------------------------------------------------------------------


def nearest_swept_lr(lrs: Sequence[float] | np.ndarray, target: float) -> float:
    """The swept LR closest to ``target`` in log space.

    Example:
        >>> nearest_swept_lr([1e-3, 1e-2, 1e-1], 0.04)
        0.1

    """
    arr = np.asarray(lrs, dtype=float)
    return float(arr[int(np.argmin(np.abs(np.log10(arr) - math.log10(target))))])


def rule_divergence_div10(reading: CurveReading) -> float:
    """The divergence LR (else the minimum's) / 10, the nearest swept LR at or below the minimum."""
    return nearest_swept_lr(reading.lrs[: reading.i_min + 1], reading.top_lr / 10.0)


def rule_min_div10(reading: CurveReading) -> float:
    """The minimum's LR / 10, the nearest swept LR."""
    return nearest_swept_lr(reading.lrs[: reading.i_min + 1], reading.min_loss_lr / 10.0)


def rule_valley(reading: CurveReading) -> float:
    """The middle point (by index, so the geometric middle on an exponential sweep) of the falling region."""
    return float(reading.lrs[(reading.region.start + reading.region.end) // 2])


def rule_steepest(reading: CurveReading) -> float:
    """The LR of the steepest descent."""
    return float(reading.lrs[reading.region.steepest])


#: The function behind each rule: ``CurveReading -> lr``.
RULE_FUNCTIONS: dict[Rule, Callable[[CurveReading], float]] = {
    "divergence_div10": rule_divergence_div10,
    "min_div10": rule_min_div10,
    "valley": rule_valley,
    "steepest": rule_steepest,
}


def one_cycle_band(reading: CurveReading, lr: float | None = None) -> tuple[float, float]:
    """``(min_lr, max_lr)`` for one-cycle / cyclic schedules.

    ``max_lr``: the divergence LR (else the minimum's) / ``ONECYCLE_DIV``, the nearest swept LR
    at or below the minimum, or ``lr`` where that lies higher. ``min_lr``: the start of the falling
    region kept between ``max_lr / 10`` and ``max_lr / 3`` (Smith's ratios), the nearest swept LR;
    ``max_lr / 3`` when no swept LR lies below ``max_lr``.

    Args:
        reading: The :class:`CurveReading`.
        lr: The rule's constant LR (a swept LR at or below the minimum), ``None`` for the divergence
            band alone. The default rule's (the divergence LR / 10) and ``min_div10``'s always lie below
            the divergence LR / 5; ``steepest``'s and ``valley``'s can lie above it, and a one-cycle
            peak below the constant LR it came with contradicts Smith & Topin (the peak lies at the
            end of the falling region, at or above its steepest point) and fastai (the suggestion is
            ``fit_one_cycle``'s peak), so the peak is then ``lr`` itself.

    Example:
        >>> lrs = np.logspace(-6, 1, 141)
        >>> x = np.log10(lrs)
        >>> fall = 0.5 + 1.5 / (1.0 + np.exp((x + 2.0) / 0.6))
        >>> reading = read_curve(lrs, fall + np.where(x > -1.5, np.expm1(4.0 * (x + 1.5)), 0.0))
        >>> [f"{v:.2e}" for v in one_cycle_band(reading)]  # the divergence LR 3.55e-02 / 5
        ['2.24e-03', '7.08e-03']
        >>> [f"{v:.2e}" for v in one_cycle_band(reading, rule_steepest(reading))]  # the steepest LR is higher
        ['2.51e-03', '1.78e-02']

    """
    swept = reading.lrs[: reading.i_min + 1]
    max_lr = nearest_swept_lr(swept, reading.top_lr / ONECYCLE_DIV)
    if lr is not None and lr > max_lr:
        max_lr = float(lr)
    start_lr = float(reading.lrs[reading.region.start])
    min_lr = nearest_swept_lr(swept, min(max(start_lr, max_lr / 10.0), max_lr / 3.0))
    if min_lr >= max_lr:
        min_lr = max_lr / 3.0
    return min_lr, max_lr


def apart_digits(values: Iterable[float], least: int, *, close: float = 0.0) -> int:
    """The fewest digits after the point, ``least`` to 12, that write ``values`` apart in ``e`` notation.

    Values less than ``close`` apart (relative) count as one: a pick and the swept LR it was read at need
    not be told apart. Shared by the texts of a reading (:func:`text_digits`), the report's LR ticks of a
    narrow axis and the LRs its header and legend name.
    """
    kept: list[float] = []
    for value in sorted(float(v) for v in values if v > 0.0 and math.isfinite(v)):
        if not kept or value > kept[-1] * (1.0 + close):
            kept.append(value)
    return next((d for d in range(least, 12) if len({f"{x:.{d}e}" for x in kept}) == len(kept)), 12)


def text_digits(reading: CurveReading, lrs: Iterable[float] = ()) -> int:
    """The digits after the point of the LRs a reading's texts name (derivation, notes): 2, or more.

    2 writes ``1.00e-03``; a sweep spanning a small fraction of a decade needs more, where the LRs named (the
    sweep's ends, the minimum, the divergence point, ``lrs``: the picks) lie more than half a sweep step apart:
    in a sweep of ``1e-3 .. 1.0001e-3`` the derivation read ``1.00e-03 = divergence 1.00e-03 / 10``. The same
    rule as the report's header and the summary's tables, so the texts they quote agree with them.
    """
    swept = reading.lrs
    named = [float(swept[0]), float(swept[-1]), reading.min_loss_lr, *lrs]
    named += [v for v in (reading.divergence_lr, reading.non_finite_lr) if v is not None]
    return sweep_digits(swept, named)


def sweep_digits(swept: Iterable[float], named: Iterable[float]) -> int:
    """The digits after the point that write the LRs ``named`` apart, in a sweep over ``swept``: 2, or more.

    LRs less than half a sweep step apart (the step being the sweep's per-step ratio, from its ends and its count)
    count as one: a pick and the swept LR it was read at need not be told apart. A sweep whose steps are more
    than 2% apart (any of the usual ones) keeps 2 digits. Shared by the reading's texts (:func:`text_digits`) and
    the report's header and legend.
    """
    lrs = [float(v) for v in swept if v > 0.0 and math.isfinite(v)]
    step = (max(lrs) / min(lrs)) ** (1.0 / (len(lrs) - 1)) - 1.0 if len(lrs) > 1 else 1.0
    return apart_digits(named, 2, close=max(step, 0.0) / 2.0)


def _named_digits(swept: np.ndarray, *named: float | None) -> int:
    """:func:`sweep_digits` of the LRs a text without a reading names (``None``: none) and the sweep's ends.

    For :func:`read_curve`'s errors: in a sweep over a sliver of a decade they wrote distinct LRs alike.
    """
    ends = [float(swept[0]), float(swept[-1])] if len(swept) else []  # no point recorded: "Only 0 values ..."
    return sweep_digits(swept, [*ends, *(float(v) for v in named if v is not None)])


def confidence_and_notes(
    reading: CurveReading, lrs_by_rule: Mapping[Any, float], lr: float, *, digits: int = 2
) -> tuple[float, list[str]]:
    """The confidence of a reading and the notes that explain it.

    The confidence is the geometric mean of four scores in [0, 1]:

    * depth: ``(drop / se - 4) / 20`` clipped to [0.05, 1];
    * width of the falling region: its width in decades of LR, clipped to [0.1, 1];
    * top: 1 when the loss turned up, 0.8 when it became non-finite without turning up, 0.6
      when it only flattened;
    * agreement: ``1 - (spread - 0.5) / 1.5`` clipped to [0.1, 1], with ``spread`` the decades
      between the smallest and the largest LR of ``lrs_by_rule``.

    A fall the recorded losses' own step-to-step scatter does not confirm (:func:`_scatter_shortfall`,
    short sweeps) caps the confidence at ``LOW_CONFIDENCE`` times the share of the bar the fall reaches,
    with a note.

    Notes are exceptions, with thresholds set so each fires on few of the benchmark's curves
    (``benchmarks/results/notes.md``): a fall of fewer than ``SHALLOW_FALL`` noise levels; raw
    losses without a significant falling trend (:func:`_falls_steadily`); a falling region of a
    single swept LR; a steepest point in the first half window of the sweep (the fall may begin
    below ``min_lr``); no turn-up seen; rules more than ``DISAGREE_DECADES``
    apart; a recovery below the minimum after the blow-up, shallower than the rise (ignored; a
    deeper one makes the rise a bump, see :func:`blowup_index`); a suggestion at or past the
    divergence point.

    Args:
        reading: The :class:`CurveReading`.
        lrs_by_rule: The LR each rule picks.
        lr: The suggested LR.
        digits: Digits after the point of the LRs the notes name (:func:`text_digits`).

    Returns:
        ``(confidence, notes)``.

    """
    d = digits
    x = np.log10(reading.lrs)
    se = reading.noise.se
    a, b = reading.region.start, reading.region.end
    notes: list[str] = []
    depth = reading.drop / se
    c_depth = float(np.clip((depth - 4.0) / 20.0, 0.05, 1.0))
    if depth < SHALLOW_FALL:
        notes.append(f"shallow fall: the loss drops only {depth:.1f}x its smoothed noise level")
    if _falls_steadily(reading.clipped, reading.smoothed, reading.i_min, reading.drop) is False:
        notes.append(
            "the recorded losses do not fall steadily where the smoothed curve falls (no significant "
            "trend): the fall may be noise"
        )
    width = float(x[b] - x[a]) if b > a else 0.0
    c_width = float(np.clip(width / 1.0, 0.1, 1.0))
    if b == a:
        notes.append(
            f"the loss falls steeply at a single swept LR ({reading.lrs[a]:.{d}e}): the steepest point "
            "is sharper than the sweep can resolve"
        )
    if a == 0 and reading.region.steepest < max(1, reading.noise.window // 2):
        # Where the smoothing window cannot be centred, the steepest point is the filter's extrapolation.
        notes.append(
            f"the loss already falls steeply at the start of the sweep (lr={reading.lrs[0]:.{d}e}): the fall may "
            "begin below min_lr, and the steepest point is uncertain; lower min_lr to see where it starts"
        )
    if reading.divergence is not None:
        c_top = 1.0
    elif reading.non_finite_lr is not None:
        c_top = 0.8
        notes.append(f"loss became non-finite at lr={reading.non_finite_lr:.{d}e} without turning up first")
    else:
        c_top = 0.6
        notes.append("the loss flattened but never clearly turned up: the top of the range is uncertain")
    picks = list(lrs_by_rule.values())
    spread = float(np.log10(max(picks) / min(picks)))
    c_agree = float(np.clip(1.0 - (spread - 0.5) / 1.5, 0.1, 1.0))
    if spread > DISAGREE_DECADES:
        notes.append(f"the rules disagree by {spread:.1f} decades of LR")
    if reading.blew_up:
        after = reading.smoothed[reading.end :]
        if np.nanmin(after) < reading.smoothed[reading.i_min]:
            # Quoted no lower than any loss recorded there: past a cliff the smoothed curve rings below
            # the losses (a cross-entropy "fell to -0.729"), a value no step recorded.
            lowest = max(float(np.nanmin(after)), float(np.nanmin(reading.raw[reading.end :])))
            notes.append(
                f"ignored a recovery after the blow-up at lr={reading.lrs[reading.end]:.{d}e}: the loss fell again "
                f"to {lowest:.3g}, below the minimum before it"
            )
    confidence = float((c_depth * c_width * c_top * c_agree) ** 0.25)
    shortfall = _scatter_shortfall(reading)
    if shortfall is not None:
        fall, bar, scatter = shortfall
        # Below LOW_CONFIDENCE, so the summary and the report say to read the curve first.
        confidence = min(confidence, LOW_CONFIDENCE * max(fall, 0.0) / bar)
        notes.append(
            f"the recorded losses around the minimum lie only {fall:.3g} below those at the start, less than the "
            f"{bar:.3g} their step-to-step scatter ({scatter:.3g}) asks of a fall: the fall may be noise (the "
            "smoothed curve follows much of the noise on a short sweep); increase num_steps to tell"
        )
    if lr >= (reading.divergence_lr or math.inf):
        notes.append("the suggestion is at or past the divergence point")
    return confidence, notes


def derivation(reading: CurveReading, rule: Rule, lr: float, *, digits: int = 2) -> tuple[str, list[str]]:
    """How ``rule`` arrived at ``lr``, and notes when the pick was clamped or snapped far.

    A rule that divides an LR (``divergence_div10``, ``min_div10``) snaps the quotient to the
    nearest swept LR at or below the minimum; when the quotient lies past the minimum (a long
    plateau between the minimum and the divergence point, common on regression losses) the pick
    is clamped to the minimum, and a note says so. A snap of more than ``SNAP_DECADES`` is noted too:
    a coarse sweep (more ``num_steps``), or a quotient below the smallest swept LR (the pick is then
    that LR; a lower ``min_lr`` would place it).

    Args:
        reading: The :class:`CurveReading`.
        rule: The rule used.
        lr: The LR it picked.
        digits: Digits after the point of the LRs the texts name (:func:`text_digits`).

    Returns:
        ``(derivation, notes)``, e.g. ``("3.76e-02 = divergence 3.85e-01 / 10, nearest swept LR", [])``.

    Example:
        >>> lrs = np.logspace(-6, 1, 141)
        >>> x = np.log10(lrs)
        >>> fall = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3))
        >>> analyze(lrs, fall + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0)).derivation
        '1.12e-02 = divergence 1.12e-01 / 10, nearest swept LR'

    """
    d = digits
    notes: list[str] = []
    if rule in ("divergence_div10", "min_div10"):
        if rule == "min_div10":
            base, what = reading.min_loss_lr, f"minimum {reading.min_loss_lr:.{d}e}"
        elif reading.divergence is not None:
            base, what = reading.top_lr, f"divergence {reading.top_lr:.{d}e}"
        elif reading.non_finite_lr is not None:
            base, what = reading.top_lr, f"first non-finite loss {reading.top_lr:.{d}e}"
        else:
            base, what = reading.min_loss_lr, f"minimum {reading.min_loss_lr:.{d}e} (no turn-up seen)"
        target = base / 10.0
        text = f"{lr:.{d}e} = {what} / 10, nearest swept LR"
        if nearest_swept_lr(reading.lrs, target) > lr:
            text = f"{lr:.{d}e} = the minimum's LR ({what} / 10 = {target:.{d}e} lies past it)"
            notes.append(
                f"the suggestion is clamped to the minimum {lr:.{d}e} because {what} / 10 = {target:.{d}e} lies past "
                "it; the loss stays near its minimum for over a decade before it diverges"
            )
        elif abs(math.log10(lr / target)) > SNAP_DECADES and target < reading.lrs[0]:
            # Below the sweep, not between two swept LRs: more num_steps would change nothing.
            text = f"{lr:.{d}e} = the smallest swept LR ({what} / 10 = {target:.{d}e} lies below the sweep)"
            notes.append(
                f"{what} / 10 = {target:.{d}e} lies below the smallest swept LR, so the suggestion is that LR, "
                f"{lr:.{d}e}, {math.log10(lr / target):.2f} decades above it: the sweep started too high to place it; "
                f"lower min_lr (below {target:.{d}e}) and run again"
            )
        elif abs(math.log10(lr / target)) > SNAP_DECADES:
            notes.append(
                f"the nearest swept LR {lr:.{d}e} is {abs(math.log10(lr / target)):.2f} decades from {target:.{d}e}: "
                "the sweep is coarse here; more num_steps would place the suggestion better"
            )
        return text, notes
    if rule == "valley":
        start, end = reading.lrs[reading.region.start], reading.lrs[reading.region.end]
        return f"{lr:.{d}e} = middle of the falling region {start:.{d}e} .. {end:.{d}e}", notes
    return f"{lr:.{d}e} = steepest descent of the smoothed loss", notes


def _refuse_missing_losses(lrs: object) -> NoReturn:
    """Say what :func:`analyze` takes when ``losses`` was left out.

    Python's "missing 1 required positional argument" named neither the range test's result, the usual thing
    passed alone, nor what to call for it.

    Raises:
        TypeError: Always.

    """
    if hasattr(lrs, "lrs") and hasattr(lrs, "losses") and hasattr(lrs, "stop_reason"):
        # A RangeTestResult (not imported here: the analysis knows nothing of the engine).
        raise TypeError(
            f"analyze takes a curve as two arrays, analyze(lrs, losses), but got a {type(lrs).__name__} alone. "
            "Call result.analyze(rule=...) for a new result with the suggestion, or "
            "analyze(result.lrs, result.losses) for the Suggestion alone."
        )
    if isinstance(lrs, Mapping):
        keys = ", ".join(repr(key) for key in list(lrs)[:6])
        if is_peer_history(lrs):
            # torch-lr-finder's `history` and Lightning's `results` hold the curve under these keys, each as a moving
            # average of its own: read as recorded, the pick lags by the average's length.
            raise TypeError(
                f"analyze takes a curve as two arrays, analyze(lrs, losses), but got a {type(lrs).__name__} alone "
                f"(keys {keys}: torch-lr-finder's history or Lightning's results). Pass its two lists with the peer's "
                "moving average undone: analyze(history['lr'], undo_ema(history['loss'], beta=0.95, debias='none')) "
                "for torch-lr-finder's (beta = 1 - smooth_f), analyze(results['lr'], undo_ema(results['loss'])) for "
                "Lightning's."
            )
        raise TypeError(
            f"analyze takes a curve as two arrays, analyze(lrs, losses), but got a {type(lrs).__name__} alone "
            f"(keys {keys}): pass the LRs and the losses recorded at them as two arguments."
        )
    raise TypeError(
        "analyze takes a curve as two arrays, analyze(lrs, losses), but got no losses: pass the loss recorded at "
        "each LR as the second argument."
    )


@answers_peer_options(PEER_ANALYSIS_OPTIONS)
def analyze(
    lrs: Sequence[float] | np.ndarray,
    losses: Sequence[float] | np.ndarray | None = None,
    *,
    rule: Rule | str = DEFAULT_RULE,
    window: int | None = None,
    curve: Curve = "train",
    optimizer: str | None = None,
) -> Suggestion:
    """Analyse a range-test curve and suggest a learning rate.

    Args:
        lrs: Strictly increasing, positive learning rates, one per optimizer step.
        losses: The loss recorded at each step (NaN/inf allowed: the curve ends there). Both
            as lists, numpy arrays or torch tensors (also of loss tensors that require grad).
            Required: its default only lets a call without it be told what to pass.
        rule: How :attr:`Suggestion.lr` is picked (:data:`RULE_FUNCTIONS`):

            * ``"divergence_div10"`` (default): the divergence LR (else the minimum's) divided
              by 10, the nearest swept LR at or below the minimum. An LR ten times below the
              point where training breaks down; it had the lowest regret against a grid-search
              oracle on the tuning tasks of ``benchmarks/quality.py``, held up on the checking
              tasks, and had the smallest spread across seeds (``benchmarks/RESULTS.md``);
            * ``"min_div10"``: the LR of the minimum divided by 10 (the rule of thumb);
            * ``"valley"``: the geometric middle of the falling region (the contiguous stretch
              around the steepest point where the slope is at least half the steepest);
            * ``"steepest"``: the steepest-descent LR (what Lightning and torch-lr-finder pick).
        window: Savitzky-Golay window in points (see :func:`choose_window`).
        curve: What the losses are: ``"train"`` (default), each step's training loss recorded
            before its step, or ``"val"``, the validation loss after each step
            (``range_test(curve="val")``). It changes no rule, only what an inconclusive
            curve's message says of its first loss.
        optimizer: The optimizer swept, as :attr:`~lrfinder.RangeTestResult.optimizer_name` names it
            (``"Adadelta"``), or ``None``. It changes no rule, only what a message says of a loss
            still falling (or never moving) at LRs of 10 and more: rare for most optimizers, usual
            for Adadelta, whose step is about ``lr * sqrt(eps)`` per weight.

    Returns:
        A :class:`Suggestion`.

    Raises:
        ValueError: Malformed arrays or an unknown rule.
        TypeError: ``losses`` not given (a :class:`~lrfinder.RangeTestResult` alone is said so, with
            ``result.analyze(...)`` to call instead), or arrays that are not numbers.
        InconclusiveCurveError: Too few finite points, a loss that never falls (flat or noise),
            or a loss still falling at the largest LR.

    Example:
        >>> lrs = np.logspace(-6, 1, 141)
        >>> x = np.log10(lrs)
        >>> fall = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3))  # steepest at 1e-3
        >>> s = analyze(lrs, fall + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0), rule="steepest")
        >>> f"{s.lr:.2e}"
        '1.00e-03'

    """
    if losses is None:
        _refuse_missing_losses(lrs)
    lrs, losses = _listed(lrs), _listed(losses)  # read twice below: a generator would be empty the second time
    rule = _rule(rule)
    reading = read_curve(lrs, losses, window=window, curve=curve, optimizer=optimizer)
    lrs_by_rule = {name: fn(reading) for name, fn in RULE_FUNCTIONS.items()}
    lr = lrs_by_rule[rule]
    min_lr, max_lr = one_cycle_band(reading, lr)
    digits = text_digits(reading, [lr, min_lr, max_lr, *lrs_by_rule.values()])
    confidence, notes = confidence_and_notes(reading, lrs_by_rule, lr, digits=digits)
    text, pick_notes = derivation(reading, rule, lr, digits=digits)
    notes.extend(pick_notes)
    later = reading.finite_after
    if later:
        # A range test stops at its first non-finite loss; a curve from elsewhere may go on past a lone one.
        notes.append(
            f"the curve was read up to its first non-finite loss (lr={reading.non_finite_lr:.{digits}e}); the "
            f"{_values(later)} after it {'was' if later == 1 else 'were'} not read: if that loss was one bad step, "
            "drop it to read past it"
        )
    logger.debug(
        "analyze: lr=%.2e steepest=%.2e min=%.2e conf=%.2f",
        lr,
        rule_steepest(reading),
        reading.min_loss_lr,
        confidence,
    )
    smoothed = np.full(len(losses), np.nan)  # checked 1-D by read_curve
    smoothed[: reading.lrs.size] = reading.smoothed
    return Suggestion(
        lr=lr,
        steepest_lr=rule_steepest(reading),
        min_loss_lr=reading.min_loss_lr,
        divergence_lr=reading.divergence_lr,
        non_finite_lr=reading.non_finite_lr,
        min_lr=min_lr,
        max_lr=max_lr,
        confidence=confidence,
        rule=rule,
        notes=tuple(notes),
        smoothed_losses=tuple(float(v) for v in smoothed),
        window=reading.noise.window,
        derivation=text,
        blowup_lr=float(reading.lrs[reading.end]) if reading.blew_up else None,
    )


#: Residual-bootstrap copies :func:`pick_spread` reads by default.
SPREAD_COPIES = 40


def pick_spread(
    lrs: Sequence[float] | np.ndarray,
    losses: Sequence[float] | np.ndarray,
    *,
    rule: Rule | str = DEFAULT_RULE,
    window: int | None = None,
    copies: int = SPREAD_COPIES,
    seed: int = 0,
) -> float:
    """How far the curve's own noise moves the pick: decades of LR, a standard deviation.

    The curve is read again on ``copies`` residual-bootstrap copies (the smoothed curve plus
    residuals drawn with replacement from those before the blow-up cut; the points after the
    finite prefix are kept), and the spread is the standard deviation of ``log10`` of their picks
    (copies read as inconclusive are left out). ``10 ** spread`` is the factor a rerun's pick
    typically moves by: 0.08 decades is x/1.2. Unlike :attr:`Suggestion.confidence` it is
    measured: on the benchmark's curves it tracks how far a seed's pick strays from its task's
    usual pick (rank correlation +0.36; the confidence's is +0.02,
    ``benchmarks/results/confidence.md``). Neither says how far the pick is from the best LR.
    It costs ``copies`` readings (a few hundred ms for a 100-point curve), so :func:`analyze`
    does not compute it.

    Args:
        lrs: As for :func:`analyze`.
        losses: As for :func:`analyze`.
        rule: The rule whose pick is spread (as for :func:`analyze`).
        window: Savitzky-Golay window in points, or ``None`` to choose it per copy.
        copies: Bootstrap copies (at least 2).
        seed: Seed of the residual draws (the same seed gives the same spread).

    Returns:
        The spread in decades; ``inf`` when fewer than two copies are conclusive.

    Raises:
        ValueError: ``copies`` below 2, ``seed`` not an integer >= 0, and as for :func:`analyze`.
        InconclusiveCurveError: The curve itself is inconclusive: there is no pick to spread.

    Example:
        >>> lrs = np.logspace(-6, 1, 100)
        >>> x = np.log10(lrs)
        >>> curve = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0)
        >>> noise = np.random.default_rng(0).normal(0.0, 0.01, x.size)
        >>> pick_spread(lrs, curve + noise) < pick_spread(lrs, curve + 10 * noise)
        True

    """
    copies, seed = plain(copies), plain(seed)
    if isinstance(copies, bool) or not isinstance(copies, (int, np.integer)) or copies < 2:
        raise ValueError(f"Expected copies to be an integer >= 2, but got copies={copies!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        # numpy's own errors ("expected non-negative integer") name no parameter.
        raise ValueError(f"Expected seed to be an integer >= 0, but got seed={seed!r}")
    lr_arr, loss_arr = _check_curve(lrs, losses)
    window = plain(window)
    if window is not None and not is_int(window):
        # Checked before the cache, which needs it hashable: a list failed there as "unhashable type: 'list'".
        raise TypeError(f"Expected window to be an int (points) or None, but got window={window!r}")
    # Cached by value (the arrays' bytes, so a NaN tail compares equal): lrfind's summary and its
    # report both show the spread of one curve.
    points = None if window is None else int(window)
    return _pick_spread(lr_arr.tobytes(), loss_arr.tobytes(), _rule(rule), points, int(copies), int(seed))


@functools.lru_cache(maxsize=8)
def _pick_spread(lr_bytes: bytes, loss_bytes: bytes, rule: Rule, window: int | None, copies: int, seed: int) -> float:
    """:func:`pick_spread` of a checked float64 curve (read once: it raises when the curve is inconclusive)."""
    lrs, losses = np.frombuffer(lr_bytes), np.frombuffer(loss_bytes)
    reading = read_curve(lrs, losses, window=window)
    size = reading.raw.size
    residual = (reading.clipped - reading.smoothed)[: reading.end]
    tail = losses[size:]
    rng = np.random.default_rng(seed)
    logs = []
    for _ in range(copies):
        copy = np.concatenate([reading.smoothed + rng.choice(residual, size=size, replace=True), tail])
        try:
            logs.append(math.log10(analyze(lrs, copy, rule=rule, window=window).lr))
        except InconclusiveCurveError:
            continue
    return float(np.std(logs)) if len(logs) > 1 else math.inf
