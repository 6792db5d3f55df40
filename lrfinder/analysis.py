"""Curve analysis: from a recorded loss-vs-LR curve to a suggested learning rate.

Pure numpy/scipy: arrays in, floats and arrays out; nothing here knows about models.

The pipeline of :func:`analyze`:

1. Keep the finite prefix of the curve (everything before the first non-finite loss).
2. Smooth the loss over ``log10(lr)`` with a Savitzky-Golay filter (:func:`smooth_losses`).
   The filter is centred, so unlike the causal exponential moving average used by other finders it
   has no phase lag: a feature of the curve stays at the LR where it happened.
3. Cut the curve at the first *blow-up* (the smoothed loss climbing back by half of everything it
   had fallen): what comes after it, including any "recovery" slope, is never searched.
4. Read off the minimum, the steepest descent (most negative ``d loss / d log10 lr`` before the
   minimum), the falling region around it, and the divergence point after the minimum.
5. Derive the suggestion, the one-cycle/cyclic bounds and a confidence.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", 2017, arXiv:1506.01186.
    Smith & Topin, "Super-Convergence", 2017, arXiv:1708.07120.

"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

import numpy as np
from scipy.signal import savgol_coeffs, savgol_filter

from .exceptions import InconclusiveCurveError

__all__ = [
    "Rule",
    "RULES",
    "DEFAULT_RULE",
    "Suggestion",
    "analyze",
    "smooth_losses",
    "loss_slope",
]

logger = logging.getLogger(__name__)

Rule = Literal["divergence_div10", "min_div10", "valley", "steepest"]
#: The rules :func:`analyze` can use for :attr:`Suggestion.lr` (the values of :data:`Rule`).
RULES: tuple[Rule, ...] = get_args(Rule)
#: The rule used when none is given (chosen by measurement, see ``benchmarks/RESULTS.md``).
DEFAULT_RULE: Rule = "divergence_div10"

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
            LR at or below ``min_loss_lr``. Chosen by measurement (``benchmarks/RESULTS.md``).
        confidence: In [0, 1]; the geometric mean of the depth of the fall against the noise, the
            width of the falling region, whether the top of the usable range was seen, and the
            agreement of the rules. Below 0.5, read the notes.
        rule: The rule that produced ``lr``.
        notes: Human-readable reasons and warnings.
        smoothed_losses: The smoothed curve, aligned with the input LRs (NaN where not smoothed:
            from the first non-finite loss on).
        window: The Savitzky-Golay window length used, in points.

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
    smoothed_losses: tuple[float, ...]
    window: int

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
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Suggestion:
        """Build a :class:`Suggestion` from :meth:`to_dict`'s output."""
        return cls(
            lr=float(data["lr"]),
            steepest_lr=float(data["steepest_lr"]),
            min_loss_lr=float(data["min_loss_lr"]),
            divergence_lr=_opt_float(data.get("divergence_lr")),
            non_finite_lr=_opt_float(data.get("non_finite_lr")),
            min_lr=float(data["min_lr"]),
            max_lr=float(data["max_lr"]),
            confidence=float(data["confidence"]),
            rule=_rule(data["rule"]),
            notes=tuple(str(n) for n in data.get("notes", ())),
            smoothed_losses=tuple(float(v) for v in data["smoothed_losses"]),
            window=int(data["window"]),
        )


def _rule(value: object) -> Rule:
    """``value`` as a :data:`Rule`, or a ``ValueError`` listing the rules."""
    if value not in RULES:
        raise ValueError(f"Unknown rule {value!r}; expected one of {', '.join(RULES)}")
    return cast(Rule, value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _check_curve(
    lrs: Sequence[float] | np.ndarray, losses: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    lr_arr = np.asarray(lrs, dtype=float)
    loss_arr = np.asarray(losses, dtype=float)
    if lr_arr.ndim != 1 or loss_arr.ndim != 1:
        raise ValueError(f"Expected 1-D lrs and losses, but got shapes {lr_arr.shape} and {loss_arr.shape}")
    if lr_arr.shape != loss_arr.shape:
        raise ValueError(
            f"Expected lrs and losses of the same length, but got len(lrs)={lr_arr.size}, len(losses)={loss_arr.size}"
        )
    if lr_arr.size and (not np.all(np.isfinite(lr_arr)) or np.any(lr_arr <= 0)):
        raise ValueError(f"Expected every lr to be finite and > 0, but got min(lrs)={lr_arr.min():.2e}")
    if lr_arr.size > 1 and np.any(np.diff(lr_arr) <= 0):
        raise ValueError("Expected lrs strictly increasing, as recorded by a range test")
    return lr_arr, loss_arr


def _window_length(n: int, window: int | None) -> int:
    """Odd Savitzky-Golay window: by default 10% of the points (at least 5), at most ``n``."""
    w = max(5, round(0.1 * n)) if window is None else int(window)
    if w < 3:
        raise ValueError(f"Expected window >= 3, but got window={window}")
    w = min(w, n if n % 2 else n - 1)
    return w if w % 2 else w - 1


def smooth_losses(
    lrs: Sequence[float] | np.ndarray,
    losses: Sequence[float] | np.ndarray,
    *,
    window: int | None = None,
    polyorder: int = 2,
) -> np.ndarray:
    """Smooth a loss curve over ``log10(lr)`` without phase lag.

    A Savitzky-Golay filter (a local least-squares polynomial of degree ``polyorder`` over a
    centred window of ``window`` points) is applied on an evenly spaced ``log10(lr)`` grid; when
    the LRs are not evenly spaced in log (a linear sweep) the curve is resampled onto such a grid
    and back. Only the finite prefix is smoothed; later points are NaN. Values far above the
    starting loss are clipped first (to the starting loss plus its total fall), so an explosion
    at the end of the sweep cannot drag the smoothed minimum away.

    Args:
        lrs: Strictly increasing, positive learning rates.
        losses: Recorded losses, one per LR.
        window: Window length in points (made odd, at most the number of finite points);
            default: adapted to the noise, from 10% of the points on a clean curve to 25% on a
            noisy one (see ``_auto_window``).
        polyorder: Polynomial degree, less than the window.

    Returns:
        The smoothed losses, same length as ``losses``.

    Example:
        >>> lrs = np.logspace(-5, 0, 50); smooth_losses(lrs, np.ones(50))[:2]
        array([1., 1.])

    """
    lr_arr, loss_arr = _check_curve(lrs, losses)
    out = np.full(loss_arr.shape, np.nan)
    n = _finite_prefix(loss_arr)
    if n < 3:
        out[:n] = loss_arr[:n]
        return out
    y = _clip_explosion(loss_arr[:n])
    x = np.log10(lr_arr[:n])
    w = _auto_window(x, y, loss_arr[:n]) if window is None else _window_length(n, window)
    if polyorder >= w:
        raise ValueError(f"Expected polyorder < window, but got polyorder={polyorder}, window={w}")
    out[:n] = _savgol(x, y, w, polyorder)
    return out


def _savgol(x: np.ndarray, y: np.ndarray, w: int, polyorder: int = 2) -> np.ndarray:
    """Savitzky-Golay on an even log-LR grid (resampling there and back when ``x`` is uneven)."""
    steps = np.diff(x)
    if np.allclose(steps, steps.mean(), rtol=1e-6, atol=0.0):
        return np.asarray(savgol_filter(y, w, polyorder, mode="interp"))
    grid = np.linspace(x[0], x[-1], x.size)
    smoothed = savgol_filter(np.interp(grid, x, y), w, polyorder, mode="interp")
    return np.asarray(np.interp(x, grid, smoothed))


def _noise_sigma(y: np.ndarray, raw: np.ndarray, smoothed: np.ndarray, w: int) -> float:
    """Robust (MAD) noise level of the residuals before the first clipped point.

    A clipped plateau has no residual at all and would make the noise look smaller than it is.
    """
    clipped = np.flatnonzero(y < raw)
    stop = int(clipped[0]) if clipped.size and clipped[0] >= w else y.size
    residual = y[:stop] - smoothed[:stop]
    return 1.4826 * float(np.median(np.abs(residual - np.median(residual))))


def _auto_window(x: np.ndarray, y: np.ndarray, raw: np.ndarray) -> int:
    """Window length adapted to the noise: 10% of the points on a clean curve, up to 25% on a noisy one.

    A pilot pass with the 10% window measures the fall and the noise; the window fraction is
    ``0.1 * sqrt(20 / snr)`` clipped to [0.1, 0.25], where ``snr`` is the fall over the noise.
    Slopes need more smoothing than values, and a noisy curve's steepest point otherwise jumps
    to a noise dip.
    """
    n = y.size
    pilot = _window_length(n, None)
    s = _savgol(x, y, pilot)
    sigma = _noise_sigma(y, raw, s, pilot)
    i_min = int(np.argmin(s))
    drop = float(np.max(s[: i_min + 1]) - s[i_min])
    if sigma <= 0 or drop <= 0:
        return pilot
    frac = min(max(0.1 * math.sqrt(20.0 * sigma / drop), 0.1), 0.25)
    return _window_length(n, max(5, round(frac * n)))


def loss_slope(lrs: Sequence[float] | np.ndarray, smoothed: Sequence[float] | np.ndarray) -> np.ndarray:
    """Slope ``d loss / d log10(lr)`` of a (smoothed) curve, by central differences.

    The derivative is against ``log10(lr)``, never linear LR: the sweep is exponential, and a
    slope against linear LR would favour the large-LR end of the curve.

    Args:
        lrs: Strictly increasing, positive learning rates.
        smoothed: Loss values (NaN entries give NaN slopes).

    Returns:
        One slope per point (``numpy.gradient`` with second-order accurate edges).

    """
    lr_arr, y = _check_curve(lrs, smoothed)
    out = np.full(y.shape, np.nan)
    n = _finite_prefix(y)
    if n >= 2:
        out[:n] = np.gradient(y[:n], np.log10(lr_arr[:n]))
    return out


def _finite_prefix(values: np.ndarray) -> int:
    bad = np.flatnonzero(~np.isfinite(values))
    return int(bad[0]) if bad.size else int(values.size)


def _clip_explosion(y: np.ndarray) -> np.ndarray:
    """Clip values above the starting level plus the total fall (or five noise levels).

    Only differences of losses enter the cap, so a loss shifted by a constant is clipped the same.
    """
    head = float(np.median(y[: max(3, y.size // 20)]))
    low = float(np.min(y))
    # Batch-to-batch noise from first differences (robust to the explosion itself).
    noise = 1.4826 * float(np.median(np.abs(np.diff(y)))) / math.sqrt(2.0) if y.size > 1 else 0.0
    cap = head + max(head - low, 5.0 * noise, 1e-12 * max(1.0, abs(head)))
    return np.minimum(y, cap)


def _noise_gain(window: int, polyorder: int) -> float:
    """Standard deviation of the filter's output for unit white noise."""
    return float(np.sqrt(np.sum(savgol_coeffs(window, polyorder) ** 2)))


def analyze(
    lrs: Sequence[float] | np.ndarray,
    losses: Sequence[float] | np.ndarray,
    *,
    rule: Rule | str = DEFAULT_RULE,
    window: int | None = None,
) -> Suggestion:
    """Analyse a range-test curve and suggest a learning rate.

    Args:
        lrs: Strictly increasing, positive learning rates, one per optimizer step.
        losses: The loss recorded at each step (NaN/inf allowed: the curve ends there).
        rule: How :attr:`Suggestion.lr` is picked:

            * ``"divergence_div10"`` (default): the divergence LR (else the minimum's) divided
              by 10, the nearest swept LR at or below the minimum. An LR ten times below the
              point where training breaks down; it had the lowest regret against a grid-search
              oracle on the tuning tasks of ``benchmarks/quality.py``, held up on the checking
              tasks, and had the smallest spread across seeds (``benchmarks/RESULTS.md``);
            * ``"min_div10"``: the LR of the minimum divided by 10 (the rule of thumb);
            * ``"valley"``: the geometric middle of the falling region (the contiguous stretch
              around the steepest point where the slope is at least half the steepest);
            * ``"steepest"``: the steepest-descent LR (what Lightning and torch-lr-finder pick).
        window: Savitzky-Golay window in points (see :func:`smooth_losses`).

    Returns:
        A :class:`Suggestion`.

    Raises:
        ValueError: Malformed arrays or an unknown rule.
        InconclusiveCurveError: Too few finite points, a loss that never falls (flat or noise),
            or a loss still falling at the largest LR.

    """
    rule = _rule(rule)
    lr_arr, loss_arr = _check_curve(lrs, losses)
    n = _finite_prefix(loss_arr)
    non_finite_lr = float(lr_arr[n]) if n < loss_arr.size else None
    if n < MIN_POINTS:
        where = f" (the loss became non-finite at lr={non_finite_lr:.2e})" if non_finite_lr else ""
        raise InconclusiveCurveError(
            f"Only {n} finite loss values were recorded{where}; at least {MIN_POINTS} are needed. "
            "Lower min_lr or max_lr, or increase num_steps, so the test records more points "
            "before the loss blows up."
        )
    x = np.log10(lr_arr[:n])
    y = _clip_explosion(loss_arr[:n])
    w = _auto_window(x, y, loss_arr[:n]) if window is None else _window_length(n, window)
    smoothed = smooth_losses(lr_arr, loss_arr, window=w)
    s = smoothed[:n]
    sigma = _noise_sigma(y, loss_arr[:n], s, w)
    se = max(sigma * _noise_gain(w, 2), 1e-12 * max(1.0, float(np.max(np.abs(s)))))
    # Expected max-minus-min of the smoothed noise alone over n / w independent stretches: a
    # fall or a rise smaller than this could be noise.
    noise_band = 2.0 * math.sqrt(2.0 * math.log(max(n / w, 2.0))) * se

    # Cut at the first blow-up: a recovery after it must never be searched.
    end = n
    running_min = np.minimum.accumulate(s)
    peak_before = np.maximum.accumulate(s)
    fall = peak_before - running_min
    blowup = np.flatnonzero((s - running_min) > np.maximum(BLOWUP_RISE * fall, 1.5 * noise_band + 2.0 * se))
    if blowup.size:
        end = int(blowup[0])
    i_min = int(np.argmin(s[:end]))
    start_level = float(np.max(s[: i_min + 1]))
    drop = start_level - float(s[i_min])
    # The raw losses must confirm the fall: medians of the start and of a window around the
    # minimum. A filter's ringing next to a sharp rise (a trained model that only diverges) is
    # not in the raw data.
    half = w // 2
    raw_drop = float(np.median(y[: max(3, half)])) - float(np.median(y[max(0, i_min - half) : i_min + half + 1]))
    # Only differences of losses are compared, so the verdict does not change when the loss is
    # shifted by a constant; the last term only guards against float round-off on exact curves.
    if (
        drop < 3.0 * se + noise_band
        or raw_drop < 2.0 * se + noise_band / 2.0
        or drop < 1e-9 * max(1.0, abs(start_level))
    ):
        raise InconclusiveCurveError(
            f"The loss never clearly falls: it drops by {drop:.3g} over the sweep, against a noise "
            f"level of {se:.3g} (smoothed). Check that the loss depends on the model, lower min_lr "
            "(the model may already be trained at these LRs), or increase num_steps."
        )
    tail = max(1, w // 4)
    diverged = np.flatnonzero(s[i_min:] - s[i_min] > max(DIVERGENCE_RISE * drop, noise_band))
    divergence_idx = i_min + int(diverged[0]) if diverged.size else None
    if divergence_idx is None and non_finite_lr is None and i_min >= n - 1 - tail:
        raise InconclusiveCurveError(
            f"The loss is still falling at the largest LR tried ({lr_arr[n - 1]:.2e}); the test "
            "never reached the divergence region. Increase max_lr (or num_steps) and run again."
        )
    divergence_lr = float(lr_arr[divergence_idx]) if divergence_idx is not None else non_finite_lr

    slope = loss_slope(lr_arr[:n], s)
    i_steep = int(np.argmin(slope[: i_min + 1]))
    steepest = float(slope[i_steep])
    if steepest >= 0:  # only possible when the minimum is the first point, excluded above
        i_steep = 0
    falling = slope[: i_min + 1] <= FALLING_FRACTION * steepest
    a = i_steep
    while a > 0 and falling[a - 1]:
        a -= 1
    b = i_steep
    while b < i_min and falling[b + 1]:
        b += 1

    steepest_lr = float(lr_arr[i_steep])
    min_loss_lr = float(lr_arr[i_min])
    valley_lr = float(lr_arr[(a + b) // 2])
    start_lr = float(lr_arr[a])
    candidates = {
        "steepest": steepest_lr,
        "valley": valley_lr,
        "min_div10": _nearest(lr_arr[: i_min + 1], min_loss_lr / 10.0),
        "divergence_div10": _nearest(lr_arr[: i_min + 1], (divergence_lr or min_loss_lr) / 10.0),
    }
    lr = candidates[rule]
    top = divergence_lr if divergence_lr is not None else min_loss_lr
    max_lr = _nearest(lr_arr[: i_min + 1], top / ONECYCLE_DIV)
    min_lr = _nearest(lr_arr[: i_min + 1], min(max(start_lr, max_lr / 10.0), max_lr / 3.0))
    if min_lr >= max_lr:
        min_lr = max_lr / 3.0

    notes: list[str] = []
    c_depth = float(np.clip((drop / se - 4.0) / 20.0, 0.05, 1.0))
    if c_depth < 0.5:
        notes.append(f"shallow fall: the loss drops only {drop / se:.1f}x its noise level")
    width = float(x[b] - x[a]) if b > a else 0.0
    c_width = float(np.clip(width / 1.0, 0.1, 1.0))
    if c_width < 0.5:
        notes.append(f"narrow falling region ({width:.2f} decades of LR)")
    if divergence_idx is not None:
        c_top = 1.0
    elif non_finite_lr is not None:
        c_top = 0.8
        notes.append(f"loss became non-finite at lr={non_finite_lr:.2e} without turning up first")
    else:
        c_top = 0.6
        notes.append("the loss flattened but never clearly turned up: the top of the range is uncertain")
    spread = float(np.log10(max(candidates.values()) / min(candidates.values())))
    c_agree = float(np.clip(1.0 - (spread - 0.5) / 1.5, 0.1, 1.0))
    if c_agree < 0.5:
        notes.append(f"the rules disagree by {spread:.1f} decades of LR")
    if blowup.size and end < n:
        notes.append(f"ignored the curve after the loss blew up at lr={lr_arr[end]:.2e}")
    confidence = float((c_depth * c_width * c_top * c_agree) ** 0.25)
    if lr >= (divergence_lr or math.inf):
        notes.append("the suggestion is at or past the divergence point")
    logger.debug("analyze: lr=%.2e steepest=%.2e min=%.2e conf=%.2f", lr, steepest_lr, min_loss_lr, confidence)
    return Suggestion(
        lr=lr,
        steepest_lr=steepest_lr,
        min_loss_lr=min_loss_lr,
        divergence_lr=divergence_lr,
        non_finite_lr=non_finite_lr,
        min_lr=min_lr,
        max_lr=max_lr,
        confidence=confidence,
        rule=rule,
        notes=tuple(notes),
        smoothed_losses=tuple(float(v) for v in smoothed),
        window=w,
    )


def _nearest(lrs: np.ndarray, target: float) -> float:
    """The swept LR closest to ``target`` in log space."""
    return float(lrs[int(np.argmin(np.abs(np.log10(lrs) - math.log10(target))))])
