"""Candidate suggestion rules, evaluated next to :func:`lrfinder.analyze`'s own rules.

They read a curve through the analysis's own steps (:func:`lrfinder.analysis.read_curve`, the
rule functions, :func:`lrfinder.analysis.falling_region`), never a copy of them, so a candidate
can be scored on recorded curves without touching the library; the one that wins is proposed as
a change to ``lrfinder/analysis.py``.

``biggest_fall``: ``analyze`` takes the falling region around the single steepest point. On a
curve with a bump (the loss falls over a decade, rises a little, then dips steeply once more just
before it blows up) that steepest point sits in the short final dip, and the suggestion jumps by a
decade or more between seeds. ``biggest_fall`` instead splits the part of the curve before the
minimum into falling stretches (slope at most ``FALL_FRACTION`` of the steepest slope) and keeps
the stretch whose loss drops the most; inside it, the usual valley (slope at least half that
stretch's steepest) gives ``valley`` (its geometric middle), ``steepest`` and ``end`` (its last
point, a one-cycle ``max_lr``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lrfinder.analysis import CurveReading

__all__ = ["FALL_FRACTION", "BiggestFall", "biggest_fall", "candidate_lrs", "CANDIDATES"]

#: A point belongs to a falling stretch when its slope is at most this fraction of the steepest.
FALL_FRACTION = 0.2
#: Inside the chosen stretch, the valley is where the slope is at least this fraction of its steepest.
VALLEY_FRACTION = 0.5

#: Every candidate name, in report order: the rules of :func:`lrfinder.analyze`, other readings
#: of its :class:`~lrfinder.Suggestion`, and the biggest-fall readings.
CANDIDATES = (
    "divergence_div10", "steepest", "valley", "min_div10", "max_lr", "min_loss", "min_div3", "div_div10",
    "div_div3", "div_div5", "geo_steep_min",
    "valley_div2", "bigfall_valley", "bigfall_steepest", "bigfall_end", "bigfall_valley_div2",
)


@dataclass(frozen=True)
class BiggestFall:
    """The falling stretch of a curve with the largest drop, and the LRs read off it."""

    start_lr: float
    end_lr: float
    valley_lr: float
    steepest_lr: float
    valley_end_lr: float
    drop: float


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` index pairs of the runs of ``True`` in ``mask``."""
    out = []
    i, n = 0, len(mask)
    while i < n:
        if mask[i]:
            j = i
            while j + 1 < n and mask[j + 1]:
                j += 1
            out.append((i, j))
            i = j + 1
        else:
            i += 1
    return out


def biggest_fall(reading: CurveReading) -> BiggestFall:
    """Read the biggest falling stretch off a :class:`lrfinder.analysis.CurveReading`."""
    from lrfinder.analysis import falling_region

    lr, smoothed = reading.lrs, reading.smoothed
    slope = reading.slope[: reading.i_min + 1]
    steepest = float(np.min(slope))
    runs = _runs(slope <= FALL_FRACTION * steepest) or [(int(np.argmin(slope)), int(np.argmin(slope)))]
    a, b = max(runs, key=lambda r: smoothed[r[0]] - smoothed[r[1]])
    # Inside the stretch, the valley is analyze()'s own falling region, at VALLEY_FRACTION.
    inner = falling_region(slope[a : b + 1], b - a, VALLEY_FRACTION)
    lo, k, hi = a + inner.start, a + inner.steepest, a + inner.end
    return BiggestFall(
        start_lr=float(lr[a]), end_lr=float(lr[b]), valley_lr=float(lr[(lo + hi) // 2]),
        steepest_lr=float(lr[k]), valley_end_lr=float(lr[hi]), drop=float(smoothed[a] - smoothed[b]),
    )


def candidate_lrs(lrs: Sequence[float], losses: Sequence[float]) -> dict[str, float | None]:
    """Every candidate LR read off one recorded curve (all ``None`` when it is inconclusive).

    The curve is read once (:func:`lrfinder.analysis.read_curve`, as :func:`lrfinder.analyze`
    reads it); the rules are :data:`lrfinder.analysis.RULE_FUNCTIONS` themselves. ``max_lr``:
    :func:`lrfinder.analysis.one_cycle_band`'s ``max_lr``. ``min_loss``: the LR of the smoothed
    minimum; ``min_div3``: that / 3. ``div_div10``: the divergence LR / 10. ``geo_steep_min``: the
    geometric mean of the steepest and minimum LRs. ``valley_div2``: the valley / 2, snapped to
    the nearest swept LR at or below the minimum. ``bigfall_*``: :func:`biggest_fall`'s valley,
    steepest point and valley end.
    """
    from lrfinder import InconclusiveCurveError
    from lrfinder.analysis import RULE_FUNCTIONS, nearest_swept_lr, one_cycle_band, read_curve

    try:
        reading = read_curve(lrs, losses)
    except InconclusiveCurveError:
        return dict.fromkeys(CANDIDATES)
    fall = biggest_fall(reading)
    by_rule: dict[str, float] = {rule: fn(reading) for rule, fn in RULE_FUNCTIONS.items()}
    swept = reading.lrs[: reading.i_min + 1]
    div = reading.divergence_lr
    values: dict[str, float | None] = dict(by_rule)
    values.update(
        max_lr=one_cycle_band(reading)[1],
        min_loss=reading.min_loss_lr,
        min_div3=reading.min_loss_lr / 3,
        div_div10=div / 10 if div else None,
        div_div3=div / 3 if div else None,
        div_div5=div / 5 if div else None,
        geo_steep_min=math.sqrt(by_rule["steepest"] * reading.min_loss_lr),
        valley_div2=nearest_swept_lr(swept, by_rule["valley"] / 2),
        bigfall_valley=fall.valley_lr,
        bigfall_steepest=fall.steepest_lr,
        bigfall_end=fall.valley_end_lr,
        bigfall_valley_div2=nearest_swept_lr(swept, fall.valley_lr / 2),
    )
    return {k: (float(v) if v is not None and math.isfinite(v) and v > 0 else None)
            for k, v in values.items() if k in CANDIDATES}
