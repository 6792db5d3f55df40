"""Gradient noise scale and critical batch size, measured during a range test.

The *simple noise scale* of McCandlish et al. (2018) is ``B_simple = tr(Sigma) / |G|^2``, with
``G`` the true (full-data) gradient and ``Sigma`` the per-example gradient covariance. A
mini-batch gradient ``G_B`` of ``B`` independent examples has ``E|G_B|^2 = |G|^2 + tr(Sigma) / B``,
so squared gradient norms taken at two batch sizes ``B_s < B_b`` give two unbiased estimates::

    |G|^2     ~ (B_b |G_b|^2 - B_s |G_s|^2) / (B_b - B_s)
    tr(Sigma) ~ (|G_s|^2 - |G_b|^2) / (1/B_s - 1/B_b)

The ratio of two single-step estimates is wildly noisy (its denominator is a small difference),
so :func:`noise_scale_from_norms` averages numerator and denominator over the steps measured
*before* taking the ratio, and gives a bootstrap interval over steps.

``B_simple`` predicts the *critical batch size*: the best SGD learning rate at batch ``B`` is
``eps(B) = eps_max / (1 + B_noise / B)`` (linear in ``B`` well below ``B_noise``, flat well
above it), and the number of samples needed to reach a given loss grows like
``1 + B / B_noise``. :mod:`lrfinder.scaling` turns it into a learning rate (``rule="noise"``).

Where the two batch sizes come from (:class:`NoiseProbe`):

* ``"accumulation"``: the micro-batches of an accumulated step (``accumulate_steps > 1``) give
  ``|G_s|^2`` (their mean squared norm, read by tensor hooks as backward computes each) and the
  step's gradient ``|G_b|^2``; free apart from one squared norm per parameter per micro-batch.
* ``"steps"``: otherwise, the sweep's own consecutive steps at the start, where the LR is still
  too small to move the weights: each step's gradient is a small gradient (``B_s`` = the batch)
  and the mean over a block of ``NOISE_BLOCK`` steps a big one (``B_b = NOISE_BLOCK * B_s``).
  Free: no extra forward pass, one gradient sum kept; the engine's default source.
* ``"ranks"``: under data parallelism (McCandlish et al.'s appendix A), each rank's own
  gradient of each micro-batch, read by a tensor hook as backward computes it (before the
  all-reduce), gives ``|G_s|^2`` (``B_s`` = the per-device micro-batch; the mean over ranks and
  micro-batches), and the all-reduced step gradient ``|G_b|^2`` (``B_b`` = micro-batch x
  accumulation x ranks). Free: one squared norm per parameter per backward, nothing copied,
  one scalar all-reduce after the sweep. The engine runs all micro-batches but the last in
  DDP's ``no_sync`` (one gradient all-reduce per step): the hook still sees each micro-batch's
  own local gradient, and ``.grad`` after the last backward is still the ranks' mean of the
  micro-batches' sum, so the pair is the same up to float rounding. The same hooks give ``"accumulation"`` pairs on one
  device (:meth:`NoiseProbe.watch_backward`). Both sources pair two gradients taken at the very
  same weights, so every step up to the loss minimum counts, not only the flat start.
* ``"sub-batch"``: a dedicated measurement for custom loops (:meth:`NoiseProbe.sub_batch`): one
  extra forward/backward on the first ``batch // NOISE_SPLIT`` examples of a step's batch gives
  ``G_s``, next to the step's own gradient ``G_b``. The extra pass runs under a forked RNG, puts
  the model's buffers back and does not touch ``.grad``, so the loop it measures is unchanged.

Batch normalisation: with the ``"steps"``, ``"accumulation"`` and ``"ranks"`` sources every small
gradient is an ordinary training gradient of its batch, normalised with that batch's statistics (a
rank's own, under DDP), exactly as in training (``SyncBatchNorm`` couples the ranks, so the
callback does not use ``"ranks"`` with it); the big gradient is the mean of several of them (not
one forward pass over a bigger batch, whose statistics would differ). The measured ``Sigma`` is thus ``B_s`` times the
covariance of a batch-``B_s`` training gradient. The sub-batch pass also runs in train mode, so each sub-batch is
normalised with its own statistics (a "ghost batch"), as it would be in training at that batch
size; its running statistics are restored. Eval mode was the alternative and was rejected: it
normalises with the running statistics, which at the start of a test are still their initial
values (mean 0, variance 1), so it measures the gradient of a different function than the one
being trained. The estimate is therefore that of the ghost-batch gradient, whose per-example
covariance is defined as ``B_s`` times the covariance of a ``B_s`` sub-batch gradient.

References:
    McCandlish, Kaplan, Amodei and the OpenAI Dota Team, "An Empirical Model of Large-Batch
    Training", 2018, arXiv:1812.06162 (appendix A: the two-batch-size estimator).
    Hoffer et al., "Train longer, generalize better", 2017, arXiv:1705.08741 (ghost batch norm).

"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import torch
from torch import nn

from ._checks import (
    is_choice,
    is_int,
    is_not_a_sequence,
    non_finite_to_text,
    plain,
    real_number,
    single_number_note,
)
from ._wording import plural
from .exceptions import NoiseScaleError

__all__ = [
    "NoiseScale",
    "NoiseProbe",
    "LRShape",
    "lr_shape",
    "noise_lr_factor",
    "NoiseSource",
    "NOISE_SPLIT",
    "NOISE_PROBES",
    "noise_scale_from_norms",
    "format_batch",
    "split_batch",
    "squared_norm",
]

logger = logging.getLogger(__name__)

NoiseSource = Literal["steps", "sub-batch", "accumulation", "ranks", "given"]
#: The sub-batch of a ``"sub-batch"`` measurement is ``batch // NOISE_SPLIT`` examples: its
#: extra pass costs about ``1 / NOISE_SPLIT`` of a step.
NOISE_SPLIT = 4
#: At most this many steps of a sweep get a ``"sub-batch"`` measurement (spread evenly).
NOISE_PROBES = 12
#: Consecutive steps per block of the ``"steps"`` source: ``B_b = NOISE_BLOCK * batch``.
NOISE_BLOCK = 4
#: The ``"steps"`` source stops after this many blocks (64 steps), which bounds its cost. Against
#: the exact ``B_simple`` of per-example gradients (``benchmarks/noise_growth.py``), 8 blocks
#: were off by up to 6x on the batch-scaling tasks at batch 8, 16 blocks by at most 2.5x (in
#: practice the weights move past ``MAX_MOVE`` before more blocks are reached).
NOISE_MAX_BLOCKS = 16
#: The ``"steps"`` source counts only blocks ending before the weights have moved by this much
#: from where the sweep started (``||w - w0|| / ||w0||``): the gradients of a block must be
#: taken at (nearly) the same point.
MAX_MOVE = 0.01
#: A ``B_simple`` below one example is not a measurement: the small and big gradients (nearly) agree,
#: as when every batch is the whole dataset (no sampling noise) or every example pushes the same way.
MIN_B_SIMPLE = 1.0
#: Two-sided coverage of :attr:`NoiseScale.interval`.
CONFIDENCE = 0.9
#: A measurement is *conclusive* (``scale_lr(rule="auto")`` uses it) with at least this many
#: estimates (a bootstrap over fewer steps says little about its own spread) ...
MIN_ESTIMATES = 5
#: ... and a 90% interval whose ends are at most this factor apart: ``B`` known to within about
#: 2x either way. A wider interval moves the noise rule's LR by more than the gap between the
#: ``linear`` and ``sqrt`` rules over a 4x batch change, so it would not be information.
MAX_INTERVAL_RATIO = 4.0
#: Bootstrap resamples for the interval (seeded: the interval is reproducible).
BOOTSTRAP = 2000


def _number(name: str, value: object) -> float:
    """``value`` as a float (:func:`real_number`: Python and numpy numbers, 0-d tensors and arrays), else refused.

    A one-element tensor of one or more dimensions was read as its number (and a longer one refused without the
    ``.item()`` to pass), where the rest of the API refuses it with that hint.
    """
    return float(real_number(name, value))


def _count(name: str, value: object, fix: str) -> int:
    """``value`` as an integer >= 1 (:func:`plain`'s number of a 0-d tensor or array, or numpy's); else refused."""
    number = plain(value)
    if not is_int(number) and getattr(number, "shape", None) is not None:
        real_number(name, number)  # a tensor or array of one or more dimensions: refused by its shape, with .item()
    if not is_int(number) or number < 1:
        raise ValueError(f"Expected NoiseScale.{name} to be an integer >= 1, but got {name}={value!r}. {fix}")
    return int(number)


@dataclass(frozen=True)
class NoiseScale:
    """A measured gradient noise scale (McCandlish et al. 2018's ``B_simple``).

    Attributes:
        b_simple: ``trace_sigma / grad_sq``, in examples: the critical batch size.
        grad_sq: The estimate of ``|G|^2``, the squared norm of the true gradient (mean over steps).
        trace_sigma: The estimate of ``tr(Sigma)``, the trace of the per-example gradient
            covariance (mean over steps).
        small_batch_size: ``B_s``, the batch size of the small gradients.
        big_batch_size: ``B_b``, the batch size of the big gradients.
        n_estimates: Number of ``(|G_s|^2, |G_b|^2)`` pairs averaged (one per step measured).
        interval: ``CONFIDENCE`` (90%) bootstrap percentile interval of ``b_simple``, resampling
            the steps; the upper end is ``inf`` when some resamples cannot bound it (``grad_sq``
            not positive), and both ends are NaN with fewer than two estimates.
        steps: Indices of the sweep steps measured (empty for :func:`noise_scale_from_norms`
            called without them).
        source: ``"steps"``, ``"sub-batch"``, ``"accumulation"``, ``"ranks"`` or ``"given"`` (see
            the module docstring).

    """

    b_simple: float
    grad_sq: float
    trace_sigma: float
    small_batch_size: int
    big_batch_size: int
    n_estimates: int
    interval: tuple[float, float]
    steps: tuple[int, ...] = ()
    source: NoiseSource = "given"

    def __post_init__(self) -> None:
        """Check a measurement built by hand (or read back) as :func:`noise_scale_from_norms` builds it.

        A ``NoiseScale(...)`` written out went unchecked into ``scale_lr(rule="noise", noise_scale=...)``:
        batch sizes in the wrong order, or an interval that does not hold the estimate, scaled an LR
        without a word. Numbers are stored as plain ``float``/``int`` (numpy scalars and 0-d tensors too).

        Raises:
            TypeError: A field that is not a number (text, a bool), or ``interval`` not a pair.
            ValueError: ``b_simple``, ``grad_sq`` or ``trace_sigma`` not finite and > 0; batch sizes not
                integers with ``1 <= small_batch_size < big_batch_size``; ``n_estimates`` < 1; an
                interval not ``0 <= low <= b_simple <= high`` (``high`` may be ``inf``; both ends NaN
                means no interval); a negative step index; an unknown ``source``.

        """
        fix = "Build it with noise_scale_from_norms(...), or read it from range_test(..., noise_scale=True)."
        for name in ("b_simple", "grad_sq", "trace_sigma"):
            value = _number(name, getattr(self, name))
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"Expected NoiseScale.{name} finite and > 0, but got {name}={value!r}. {fix}")
            object.__setattr__(self, name, value)
        for name in ("small_batch_size", "big_batch_size", "n_estimates"):
            object.__setattr__(self, name, _count(name, getattr(self, name), fix))
        if not self.small_batch_size < self.big_batch_size:
            raise ValueError(
                "Expected NoiseScale.small_batch_size < big_batch_size (the two batch sizes the squared norms were "
                f"taken at, smaller first), but got small_batch_size={self.small_batch_size}, "
                f"big_batch_size={self.big_batch_size}. {fix}"
            )
        interval = self.interval
        if isinstance(interval, (str, bytes)) or not isinstance(interval, Sequence) or len(interval) != 2:
            raise TypeError(
                f"Expected NoiseScale.interval to be a (low, high) pair, but got interval={interval!r:.80}. {fix}"
            )
        low, high = (_number("interval", v) for v in interval)
        if not (math.isnan(low) and math.isnan(high)):
            # A relative tolerance: the bootstrap's resample equal to the data sums in another order.
            slack = 1e-9 * self.b_simple
            if not (0 <= low <= self.b_simple + slack and self.b_simple - slack <= high):
                raise ValueError(
                    f"Expected NoiseScale.interval to hold b_simple, 0 <= low <= b_simple <= high (high may be inf, "
                    f"both NaN for no interval), but got interval=({low!r}, {high!r}), b_simple={self.b_simple!r}. "
                    f"{fix}"
                )
        object.__setattr__(self, "interval", (low, high))
        if is_not_a_sequence(self.steps):
            # tuple() of a number failed with "'int' object is not iterable"; of bytes or text, took its characters.
            raise TypeError(
                f"Expected NoiseScale.steps to be a sequence of step indices, but got steps={self.steps!r:.80}"
                f"{single_number_note(self.steps)}. {fix}"
            )
        steps = tuple(plain(i) for i in self.steps)  # tuple(torch.tensor([3, 4])) holds 0-d tensors
        if any(not is_int(i) or i < 0 for i in steps):
            raise ValueError(
                f"Expected NoiseScale.steps to be step indices (integers >= 0), but got steps={steps!r:.80}. {fix}"
            )
        object.__setattr__(self, "steps", tuple(int(i) for i in steps))
        if not is_choice(self.source, tuple(_SOURCE_WORDS)):
            raise ValueError(
                f"Expected NoiseScale.source to be one of {', '.join(map(repr, _SOURCE_WORDS))}, but got "
                f"source={self.source!r}. {fix}"
            )

    def __repr__(self) -> str:
        """Every field as the dataclass writes it, but the steps measured in brief and the measures to 4 figures.

        One step index per estimate (a DDP test measures each step): written out, they made
        ``print(result)`` of a long test thousands of characters of indices. The estimates were written
        to full precision (``b_simple=412.3456789123``, ``interval=(123.45678912, 987.654321234)``), where
        the other results' reprs are short. They stay as they are in the fields,
        :meth:`to_dict` and the JSON.

        Example:
            >>> NoiseScale(412.3456789, 0.0123456789, 5.0987654321, 32, 256, 12, (123.456789, 987.654321),
            ...            tuple(range(12)), "steps")  # doctest: +NORMALIZE_WHITESPACE
            NoiseScale(b_simple=412.3, grad_sq=0.01235, trace_sigma=5.099, small_batch_size=32, big_batch_size=256,
                       n_estimates=12, interval=(123.5, 987.7), steps=<12 steps 0 .. 11>, source='steps')

        """
        from .refine import brief_repr

        def brief(steps: tuple[int, ...]) -> str:
            return f"<{len(steps)} step{'' if len(steps) == 1 else 's'} {steps[0]} .. {steps[-1]}>" if steps else "()"

        def figures(value: float) -> str:
            return f"{value:.4g}"

        def interval(pair: tuple[float, float]) -> str:
            return f"({pair[0]:.4g}, {pair[1]:.4g})"

        briefs: dict[str, Callable[[Any], str]] = {
            "steps": brief, "b_simple": figures, "grad_sq": figures, "trace_sigma": figures, "interval": interval
        }  # fmt: skip
        return brief_repr(self, briefs)

    @property
    def inconclusive(self) -> str | None:
        """Why the measurement is too uncertain to scale an LR by, or ``None`` when it is conclusive.

        Conclusive: at least ``MIN_ESTIMATES`` (5) estimates and a 90% interval whose ends are
        at most ``MAX_INTERVAL_RATIO`` (4x) apart. ``scale_lr(rule="auto")`` falls back to the
        optimizer family's fixed rule otherwise; ``rule="noise"`` uses it with a warning.
        """
        low, high = self.interval
        if self.n_estimates < MIN_ESTIMATES:
            return f"only {plural(self.n_estimates, 'estimate')}, fewer than {MIN_ESTIMATES}"
        if not (low > 0 and high / low <= MAX_INTERVAL_RATIO):
            return (
                f"its {int(CONFIDENCE * 100)}% interval {format_batch(low)}–{format_batch(high)} spans more than "
                f"{MAX_INTERVAL_RATIO:g}x"
            )
        return None

    @property
    def relative_spread(self) -> float:
        """``(high - low) / b_simple``: the width of the interval relative to the estimate."""
        low, high = self.interval
        return (high - low) / self.b_simple

    def summary(self) -> str:
        """One line for logs and reports.

        Example: ``critical batch ≈ 310 (90% 220–450; 12 estimates from blocks of steps)``.
        """
        low, high = self.interval
        if math.isnan(low):
            spread = "no interval"
        else:
            spread = f"{int(CONFIDENCE * 100)}% {format_batch(low)}–{format_batch(high)}"
        source = _SOURCE_WORDS.get(self.source, self.source)
        estimates = f"{self.n_estimates} estimate{'' if self.n_estimates == 1 else 's'}"
        return f"critical batch ≈ {format_batch(self.b_simple)} ({spread}; {estimates} from {source})"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values; non-finite interval ends as the strings ``"nan"``/``"inf"``."""
        return {
            "b_simple": self.b_simple,
            "grad_sq": self.grad_sq,
            "trace_sigma": self.trace_sigma,
            "small_batch_size": self.small_batch_size,
            "big_batch_size": self.big_batch_size,
            "n_estimates": self.n_estimates,
            "interval": [non_finite_to_text(v) for v in self.interval],
            "steps": list(self.steps),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NoiseScale:
        """Rebuild from :meth:`to_dict`'s output.

        The values go to the constructor as they are (the interval's ``"nan"``/``"inf"`` strings read back as
        floats), so a malformed one is named by its field: ``float(...)`` and ``int(...)`` here said only "could
        not convert string to float: 'x'".
        """
        interval = data["interval"]
        if isinstance(interval, (list, tuple)):
            interval = tuple(float(v) if v in ("nan", "inf", "-inf") else v for v in interval)
        return cls(
            b_simple=data["b_simple"],
            grad_sq=data["grad_sq"],
            trace_sigma=data["trace_sigma"],
            small_batch_size=data["small_batch_size"],
            big_batch_size=data["big_batch_size"],
            n_estimates=data["n_estimates"],
            interval=interval,
            steps=tuple(data.get("steps", ())),
            source=data.get("source", "given"),
        )


#: How :meth:`NoiseScale.summary` names each source for people (the JSON keeps the short names).
_SOURCE_WORDS = {
    "steps": "blocks of steps",
    "sub-batch": "sub-batches",
    "accumulation": "micro-batches",
    "ranks": "DDP ranks",
    "given": "given norms",
}


def format_batch(value: float) -> str:
    """A batch size for people: whole examples from 10 up (``89``, ``1,250``), two figures below.

    A batch size given as an ``int`` is written whole, its thousands separated (``4``, ``2,048``):
    the one form every message, table and report about batch sizes uses.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if not math.isfinite(value):
        return "∞"
    return f"{value:.2g}" if value < 10 else f"{value:,.0f}"


def _components(small_sq: np.ndarray, big_sq: np.ndarray, small: float, big: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-step unbiased estimates of ``|G|^2`` and ``tr(Sigma)``."""
    grad_sq = (big * big_sq - small * small_sq) / (big - small)
    trace = (small_sq - big_sq) / (1.0 / small - 1.0 / big)
    return grad_sq, trace


def noise_scale_from_norms(
    small_sq: Sequence[float] | np.ndarray,
    big_sq: Sequence[float] | np.ndarray,
    *,
    small_batch_size: int,
    big_batch_size: int,
    steps: Sequence[int] = (),
    source: NoiseSource | str = "given",
) -> NoiseScale:
    """Estimate ``B_simple`` from squared gradient norms measured at two batch sizes.

    For each step ``i`` (with ``B_s = small_batch_size``, ``B_b = big_batch_size``)::

        grad_sq_i = (B_b * big_sq[i] - B_s * small_sq[i]) / (B_b - B_s)
        trace_i   = (small_sq[i] - big_sq[i]) / (1 / B_s - 1 / B_b)

    both unbiased; then ``b_simple = mean(trace_i) / mean(grad_sq_i)``: numerator and
    denominator are averaged separately before the ratio. The interval resamples the steps
    (bootstrap, ``BOOTSTRAP`` resamples from a fixed seed, so it is reproducible; the global RNGs
    are not touched).

    Args:
        small_sq: ``|G_s|^2`` per step (when a step has several small gradients, their mean).
        big_sq: ``|G_b|^2`` per step, aligned with ``small_sq``.
        small_batch_size: ``B_s`` (>= 1).
        big_batch_size: ``B_b`` (> ``B_s``).
        steps: The sweep steps the pairs come from (recorded in the result).
        source: Where the two batch sizes came from (recorded in the result).

    Returns:
        A :class:`NoiseScale`.

    Raises:
        ValueError: Mismatched or empty inputs, or batch sizes out of order.
        NoiseScaleError: The noise scale is unmeasurable: a non-finite norm, ``tr(Sigma)``
            estimated <= 0 (no gradient noise resolvable at these batch sizes; a gradient that is zero at
            every step is said as such), or ``|G|^2``
            estimated <= 0 (the gradient is indistinguishable from pure noise: the critical batch
            is far above ``B_b``), or ``B_simple`` below one example (``MIN_B_SIMPLE``: the
            batches carry no sampling noise, e.g. each is the whole dataset). The message says why
            and what to do.

    Example:
        >>> # |G|^2 = 1, tr(Sigma) = 64: E|G_B|^2 = 1 + 64 / B
        >>> noise_scale_from_norms([1 + 64 / 8], [1 + 64 / 32], small_batch_size=8,
        ...                        big_batch_size=32).b_simple
        64.0

    References:
        McCandlish et al., "An Empirical Model of Large-Batch Training", 2018, arXiv:1812.06162,
        appendix A.

    """
    s = np.asarray(small_sq, dtype=np.float64).reshape(-1)
    b = np.asarray(big_sq, dtype=np.float64).reshape(-1)
    if s.shape != b.shape:
        raise ValueError(f"Expected small_sq and big_sq of the same length, but got {s.size} and {b.size}")
    if s.size == 0:
        raise ValueError("Expected at least one pair of squared norms, but got none")
    for name, value in (("small_batch_size", small_batch_size), ("big_batch_size", big_batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"Expected {name} to be a positive integer, but got {name}={value!r}")
    if not big_batch_size > small_batch_size:
        raise ValueError(
            f"Expected big_batch_size > small_batch_size, but got small_batch_size={small_batch_size}, "
            f"big_batch_size={big_batch_size}"
        )
    if steps and len(steps) != s.size:
        raise ValueError(f"Expected one step index per pair ({s.size}), but got {len(steps)}")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(b))):
        raise NoiseScaleError(
            "Cannot measure the gradient noise scale: a squared gradient norm is NaN or inf. "
            "Measure before the loss diverges (the range test does so by itself)."
        )
    small, big = float(small_batch_size), float(big_batch_size)
    grad_sq_i, trace_i = _components(s, b, small, big)
    grad_sq = float(grad_sq_i.mean())
    trace = float(trace_i.mean())
    where = f"batch sizes {small_batch_size} and {big_batch_size}, {plural(s.size, 'step')}"
    if not (np.any(s) or np.any(b)):
        # Not "no noise to resolve": more steps or smaller batches cannot help a gradient that is not there.
        raise NoiseScaleError(
            f"Cannot measure the gradient noise scale: the gradient is zero at every step measured ({where}), so "
            "the loss does not depend on the trained parameters there (a constant or detached loss, dead units). "
            "Check that the loss depends on the parameters the optimizer trains."
        )
    if not trace > 0:
        if s.mean() < 0.5 * b.mean():
            # E|G_s|^2 >= E|G_b|^2 for mean losses: small gradients this much smaller than the big ones come from
            # a loss summed over the batch, whose gradient grows with it (the sub-batch source sees that; pairs of
            # equal-size batches do not, their common factor cancels in B_simple).
            raise NoiseScaleError(
                f"Cannot measure the gradient noise scale: the small batches' squared gradient norms are "
                f"{s.mean() / b.mean():.2g}x the big ones' ({where}), which a loss averaged over the batch never "
                "gives: is the loss summed over the batch (reduction='sum')? Measure with the batch's mean loss."
            )
        raise NoiseScaleError(
            f"Cannot measure the gradient noise scale: tr(Sigma) is estimated at {trace:.3g} <= 0 ({where}); "
            "the gradient shows no noise these batch sizes can resolve. Measure on more steps or smaller batches."
        )
    if not grad_sq > 0:
        raise NoiseScaleError(
            f"Cannot measure the gradient noise scale: |G|^2 is estimated at {grad_sq:.3g} <= 0 ({where}); "
            f"the gradient is indistinguishable from pure noise, so the critical batch is far above "
            f"{big_batch_size}. Measure with larger batches or more steps."
        )
    b_simple = trace / grad_sq
    if b_simple < MIN_B_SIMPLE:
        # Not always rounding: a B_simple of 0.5 is gradients 2% apart at batches 32 and 128, the examples'
        # gradients nearly agreeing (a language model's first steps, all pushing towards the unigram).
        raise NoiseScaleError(
            f"Cannot measure the gradient noise scale: B_simple is estimated at {b_simple:.2g}, below one "
            f"example ({where}): the small batches' squared gradient norms are only {s.mean() / b.mean() - 1:.1%} "
            "above the big batches', so the batches carry (almost) no sampling noise. Either every example's "
            "gradient points the same way (early in training, a signal all examples share: every batch is then "
            "past the critical batch), or every batch is the whole dataset, or the same examples each step. "
            "Measure on shuffled batches smaller than the data, or scale with rule='linear' or 'sqrt'."
        )
    return NoiseScale(
        b_simple=b_simple,
        grad_sq=grad_sq,
        trace_sigma=trace,
        small_batch_size=int(small_batch_size),
        big_batch_size=int(big_batch_size),
        n_estimates=int(s.size),
        interval=_bootstrap_interval(grad_sq_i, trace_i),
        steps=tuple(int(i) for i in steps),
        source=cast(NoiseSource, str(source)),  # NoiseScale checks it is one
    )


def _bootstrap_interval(grad_sq_i: np.ndarray, trace_i: np.ndarray) -> tuple[float, float]:
    n = grad_sq_i.size
    if n < 2:
        return (math.nan, math.nan)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, n, size=(BOOTSTRAP, n))
    g = grad_sq_i[idx].mean(axis=1)
    t = trace_i[idx].mean(axis=1)
    # A resample whose |G|^2 is not positive cannot bound B from above: count it as infinite;
    # one with tr(Sigma) <= 0 puts no noise at all: count it as 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(g > 0, np.maximum(t, 0.0) / np.where(g > 0, g, 1.0), np.inf)
    alpha = (1.0 - CONFIDENCE) / 2.0
    low, high = np.quantile(ratio, [alpha, 1.0 - alpha], method="lower")
    return (float(low), float(high))


# --------------------------------------------------------------------------------------------
# Measuring during a sweep
# --------------------------------------------------------------------------------------------


def _strided(t: torch.Tensor) -> torch.Tensor:
    """``t`` itself, or the dense copy of a sparse gradient (``nn.Embedding(sparse=True)``).

    Norms, sums and the fused multi-tensor kernels take dense tensors only; the probe keeps a
    dense copy of every gradient for a block anyway (``zeros_like`` for a missing one).
    """
    return t if t.layout == torch.strided else t.to_dense()


def _wide(t: torch.Tensor) -> torch.Tensor:
    """``t`` itself, or a float32 copy of a half-precision tensor (their sums lose too much); dense."""
    t = _strided(t.detach())
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def _sq(t: torch.Tensor) -> torch.Tensor:
    """``||t||^2`` as a float64 0-d tensor (the norm itself in the tensor's precision: no copy)."""
    squared: torch.Tensor = torch.linalg.vector_norm(_wide(t)).double() ** 2  # torch.linalg is typed Any
    return squared


def _uniform(tensors: Sequence[torch.Tensor]) -> bool:
    return bool(tensors) and all(t.device == tensors[0].device and t.dtype == tensors[0].dtype for t in tensors)


def _norm_list(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """The norm of each tensor (0-d tensors, no host sync); one fused call when it can."""
    if _uniform(tensors) and tensors[0].dtype not in (torch.float16, torch.bfloat16):
        # torch.optim's own multi-tensor kernels: one call instead of one per parameter.
        return list(torch._foreach_norm(list(tensors)))
    return [torch.linalg.vector_norm(_wide(t)).float().cpu() for t in tensors]


def _stack(norms: Sequence[torch.Tensor]) -> torch.Tensor:
    if _uniform(norms):
        return torch.stack(list(norms)).float()
    return torch.stack([n.float().to(norms[0].device) for n in norms])


def _norms(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """The norm of each tensor, as one 1-d float tensor, without a host sync."""
    return _stack(_norm_list(tensors))


def _sum_sq(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """``sum ||t||^2`` as a float64 0-d tensor, without a host sync."""
    return _norms(tensors).double().pow(2).sum()


def _add_(totals: list[torch.Tensor], tensors: Sequence[torch.Tensor]) -> None:
    if _uniform([*totals, *tensors]):
        torch._foreach_add_(totals, list(tensors))
    else:
        for total, t in zip(totals, tensors):
            total.add_(t)


def squared_norm(tensors: Iterable[torch.Tensor | None]) -> float:
    """``sum ||t||^2`` over the tensors (``None`` skipped), summed in float64."""
    total: torch.Tensor | None = None
    for t in tensors:
        if t is None:
            continue
        part = _sq(t)
        total = part if total is None else total + part.to(total.device)
    return 0.0 if total is None else float(total.item())


def _leading_size(batch: Any) -> int | None:
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() > 0 else None
    if isinstance(batch, Mapping):
        values: Iterable[Any] = batch.values()
    elif isinstance(batch, (tuple, list)):
        values = batch
    else:
        return None
    for v in values:
        size = _leading_size(v)
        if size is not None:
            return size
    return None


def _take(batch: Any, size: int, full: int) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch[:size] if batch.dim() > 0 and batch.shape[0] == full else batch
    if isinstance(batch, Mapping):
        return type(batch)({k: _take(v, size, full) for k, v in batch.items()})  # type: ignore[call-arg]
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_take(v, size, full) for v in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(_take(v, size, full) for v in batch)
    return batch


def split_batch(batch: Any, size: int) -> tuple[Any, int]:
    """The first ``size`` examples of a batch, and the batch's own size.

    Every tensor whose leading dimension is the batch size (the leading dimension of the first
    tensor found) is cut along it, inside tuples, lists, named tuples and dicts; anything else is
    passed through.

    Raises:
        ValueError: The batch holds no tensor with a leading dimension, or ``size`` is not smaller
            than the batch.

    """
    full = _leading_size(batch)
    if full is None:
        kind = type(batch).__name__
        raise ValueError(f"Cannot split a batch of type {kind}: it holds no tensor with a batch dimension")
    if not 1 <= size < full:
        raise ValueError(f"Expected 1 <= size < batch size {full}, but got size={size}")
    return _take(batch, size, full), full


class NoiseProbe:
    """Collects ``(|G_s|^2, |G_b|^2)`` pairs during a sweep and turns them into a :class:`NoiseScale`.

    Two ways to feed it: with gradient accumulation or data parallelism, :meth:`watch_backward`
    hooks, a :meth:`before_backward`/:meth:`after_backward` bracket around each micro-batch's
    backward, and :meth:`end_backward_step` before the optimizer step; otherwise
    :meth:`end_step` after each step's backward (blocks of consecutive steps), with a
    :meth:`sub_batch` before it on the steps a custom loop wants measured that way.
    :meth:`estimate` keeps only the steps before a cut-off (the pre-divergence part of the curve).

    Args:
        params: The parameters whose gradient is measured (the optimizer's trainable ones).

    """

    def __init__(self, params: Iterable[nn.Parameter]) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.small_sq: list[float] = []
        self.big_sq: list[float] = []
        self.sizes: list[tuple[int, int]] = []
        self.steps: list[int] = []
        self.sources: list[str] = []
        self.skipped: str | None = None
        self._pending: tuple[float, int, int] | None = None
        self._block: list[torch.Tensor] = []
        self._block_sq: list[list[torch.Tensor]] = []
        self._block_size: int | None = None
        self._start: list[torch.Tensor] | None = None
        self._moved_away = False
        self._start_sq = 0.0
        #: Per recorded pair: how far the weights had moved from the start (``"steps"`` only; else 0).
        self.moved: list[float] = []
        self._watching = False
        self._parts: list[torch.Tensor] = []
        self._local: list[torch.Tensor] = []

    # -- dedicated sub-batch ------------------------------------------------------------------

    def sub_batch(self, model: nn.Module, batch: Any, loss_of: Any) -> None:
        """Measure ``|G_s|^2`` on the first ``batch // NOISE_SPLIT`` examples of ``batch``.

        Runs one extra forward/backward under a forked torch RNG, restores every buffer of
        ``model`` afterwards (BatchNorm running statistics), and leaves ``.grad`` alone
        (``torch.autograd.grad``), so the sweep does not change. A batch that cannot be split, or
        whose sub-batch the model or loss refuses (a ``RuntimeError``/``ValueError``: BatchNorm in
        training on a sub-batch of one), is skipped, with the reason kept in :attr:`skipped`;
        the buffers are restored either way.

        Args:
            model: The model (in train mode: batch norms use the sub-batch's statistics).
            batch: The step's batch, already on the device.
            loss_of: ``loss_of(batch) -> scalar loss tensor``, as the engine computes it: the mean over
                the batch's examples. A summed loss (``reduction="sum"``) scales the sub-batch's gradient
                and the batch's by their different sizes, and the estimate is refused with that reason.
                (The engine's other sources pair batches of one size, so a summed loss measures right.)

        """
        try:
            full = _leading_size(batch)
            if full is None or full // NOISE_SPLIT < 1:
                raise ValueError(f"a batch of {'unknown size' if full is None else plural(full, 'example')} cannot be "
                                 f"split into {NOISE_SPLIT}")
            part, full = split_batch(batch, full // NOISE_SPLIT)
        except ValueError as exc:
            self.skipped = str(exc)
            return
        size = full // NOISE_SPLIT
        buffers = [(b, b.detach().clone()) for b in model.buffers()]
        devices = [p.device.index for p in self.params if p.device.type == "cuda" and p.device.index is not None]
        try:
            with torch.random.fork_rng(devices=sorted(set(devices))):
                loss = loss_of(part)
                grads = torch.autograd.grad(loss, self.params, allow_unused=True)
        except (RuntimeError, ValueError) as exc:
            # The step's own batch went through; only its sub-batch does not (BatchNorm refuses one
            # example per channel in training): skip the measurement, never the user's step.
            self.skipped = f"the sub-batch of {plural(size, 'example')} does not go through the model and loss: {exc}"
            return
        finally:
            with torch.no_grad():  # also after a failed forward (BatchNorm counts the batch before it checks)
                for buf, saved in buffers:
                    buf.copy_(saved)
        self._pending = (squared_norm(grads), size, full)

    # -- local gradients (accumulation and data parallelism), read by tensor hooks ------------

    def watch_backward(self) -> list[Any]:
        """Hook every parameter to record this process's own gradient of each bracketed backward.

        The bracket is :meth:`before_backward` ... :meth:`after_backward`. A tensor hook sees
        the gradient backward computes for the parameter before it is added to ``.grad`` and
        before any all-reduce (DDP's hooks run after it), so under data parallelism it is the
        rank's local gradient. Gradients computed outside the bracket
        (say ``torch.autograd.grad`` in a ``training_step``) are ignored. Pair with
        :meth:`end_backward_step`.

        Returns:
            The hook handles; call ``.remove()`` on each when the sweep is over.

        """
        self._watching, self._parts, self._local = False, [], []

        def hook(grad: torch.Tensor) -> None:
            if self._watching:
                # Only the norm here; squared in float64 per micro-batch (after_backward): two ops fewer a parameter.
                self._parts.append(torch.linalg.vector_norm(_wide(grad)))

        return [p.register_hook(hook) for p in self.params]

    def before_backward(self) -> None:
        """Start recording the local gradient of the backward that follows."""
        self._parts = []
        self._watching = True

    def after_backward(self) -> None:
        """Close one micro-batch's backward: its local squared gradient norm joins the step."""
        self._watching = False
        parts, self._parts = self._parts, []
        if parts:
            # Each norm squared in float64 as _sq squares it (the same values, summed in the same order).
            if _uniform(parts):
                squares = torch.stack(parts).double() ** 2
            else:
                squares = torch.stack([(t.double() ** 2).to(parts[0].device) for t in parts])
            self._local.append(squares.sum())

    def end_backward_step(
        self,
        step: int,
        micro_batch_size: int | None,
        micro_batches: int,
        world: int = 1,
        *,
        grad_scale: float = 1.0,
    ) -> None:
        """Pair the step's last ``micro_batches`` local gradients with its gradient now in ``.grad``.

        Call after the last micro-batch's backward (and its all-reduce) and before the optimizer
        step, so ``.grad`` is neither clipped nor stepped yet.

        Args:
            step: The step's index in the sweep.
            micro_batch_size: Examples per micro-batch on this process (``None``: the step is skipped).
            micro_batches: Micro-batches per step (``accumulate``); each loss was divided by it.
            world: Number of data-parallel processes; ``.grad`` is their mean. With ``world > 1``
                the local norms must be averaged over ranks by :meth:`reduce_local`.
            grad_scale: The loss scale of mixed precision (``GradScaler.get_scale()``): the
                gradients are divided by it.

        """
        local, self._local = self._local[-micro_batches:], []
        if micro_batches < 2 and world < 2:
            return
        if micro_batch_size is None and self.skipped is None:
            self.skipped = (
                "the micro-batches of an accumulated step differ in size (or their size could not be read): "
                "pass batches of one size, e.g. DataLoader(drop_last=True)"
            )
        if micro_batch_size is None or len(local) < micro_batches:
            # Under DDP every rank must keep as many pairs as the others for reduce_local: a
            # NaN pair holds the place and is dropped there.
            if world < 2:
                return
            small_sq = big_sq = math.nan
        else:
            big_sq = squared_norm(p.grad for p in self.params) / grad_scale**2
            factor = (micro_batches / grad_scale) ** 2
            small_sq = float(torch.stack([t.to(local[0].device) for t in local]).mean().item()) * factor
        if world < 2 and not (math.isfinite(small_sq) and math.isfinite(big_sq)):
            # A non-finite gradient gives no pair. (Under DDP every rank keeps every pair until
            # reduce_local, which drops them; scanning every pair at every step cost O(steps^2).)
            return
        micro_batch_size = micro_batch_size or 0
        sizes = (micro_batch_size, micro_batch_size * micro_batches * world)
        self._record(small_sq, big_sq, sizes, step, "ranks" if world > 1 else "accumulation")

    def reduce_local(self, mean_over_ranks: Any) -> None:
        """Average the ``"ranks"`` pairs' local norms over the processes (call on every rank).

        A pair counts only where every rank's micro-batch held as many examples: ``.grad`` is the
        plain mean of the ranks' gradients, the gradient of ``world`` equal batches only when they
        are equal. Where they differ (ranks with loaders of different lengths, whose short last
        batches fall on different steps) the pair is dropped on every rank alike. Each rank kept
        the pairs of its own most common size before, so the ranks' noise scales (and the LR that
        ``scaling="noise"`` moves with them) differed. The sizes ride on the same ``all_reduce``:
        with ``s`` each rank's size, they are all equal exactly when ``mean(s**2) == mean(s)**2``.

        Args:
            mean_over_ranks: ``f(tensor) -> tensor``, the element-wise mean over ranks of a 1-d
                float64 tensor (``lambda t: strategy.reduce(t, reduce_op="mean")``).

        """
        idx = [i for i, source in enumerate(self.sources) if source == "ranks"]
        if not idx:
            return
        n = len(idx)
        sizes = [float(self.sizes[i][0]) for i in idx]
        values = [self.small_sq[i] for i in idx] + sizes + [s * s for s in sizes]
        mean = torch.as_tensor(mean_over_ranks(torch.tensor(values, dtype=torch.float64))).reshape(-1).tolist()
        for k, i in enumerate(idx):
            # Integers (and their squares) average exactly in float64: equal sizes compare equal.
            alike = mean[2 * n + k] == mean[n + k] ** 2
            self.small_sq[i] = float(mean[k]) if alike else math.nan
        self._drop_non_finite()

    def _record(
        self, small_sq: float, big_sq: float, sizes: tuple[int, int], step: int, source: str, moved: float = 0.0
    ) -> None:
        """Keep one ``(|G_s|^2, |G_b|^2)`` pair with its batch sizes, step, source and weight move."""
        self.small_sq.append(small_sq)
        self.big_sq.append(big_sq)
        self.sizes.append(sizes)
        self.steps.append(step)
        self.sources.append(source)
        self.moved.append(moved)

    def _drop_non_finite(self) -> None:
        keep = [i for i, (a, b) in enumerate(zip(self.small_sq, self.big_sq)) if math.isfinite(a) and math.isfinite(b)]
        if len(keep) < len(self.steps):
            for name in ("small_sq", "big_sq", "sizes", "steps", "sources", "moved"):
                values = getattr(self, name)
                setattr(self, name, [values[i] for i in keep])

    # -- per step -----------------------------------------------------------------------------

    def end_step(self, step: int, loss: float, batch_size: int | None = None, *, grad_scale: float = 1.0) -> None:
        """Close a step: pair what was recorded with the step's gradient now in ``.grad``.

        A step with a sub-batch (:meth:`sub_batch`) gives one pair. Any other step joins a block
        of ``NOISE_BLOCK`` consecutive steps (source ``"steps"``): each step's gradient is a small
        gradient (``B_s = batch_size``) and their mean a big one (``B_b = NOISE_BLOCK *
        batch_size``); this holds where the LR is still too small to move the weights, which
        :func:`noise_after_sweep` checks. (Accumulated micro-batches and DDP ranks pair through
        :meth:`end_backward_step` instead.)

        Steps with a non-finite loss or gradient are dropped (and end the current block).

        Args:
            step: The step's index in the sweep.
            loss: The step's loss.
            batch_size: The step's number of examples (needed by the ``"steps"`` source).
            grad_scale: The mixed-precision loss scale still in ``.grad`` (1 once unscaled).

        """
        pending, self._pending = self._pending, None
        if pending is None:
            self._block_step(step, loss, batch_size, grad_scale)
            return
        if not math.isfinite(loss):
            return
        big_sq = squared_norm(p.grad for p in self.params) / grad_scale**2
        small_sq, small, full = pending
        if not (math.isfinite(big_sq) and math.isfinite(small_sq)):
            return
        self._record(small_sq, big_sq, (small, full), step, "sub-batch")

    def _block_step(self, step: int, loss: float, batch_size: int | None, grad_scale: float = 1.0) -> None:
        if self._moved_away or self.sources.count("steps") >= NOISE_MAX_BLOCKS:
            return
        if not math.isfinite(loss) or batch_size is None or (self._block and batch_size != self._block_size):
            if self.skipped is None and batch_size is None:  # the first reason is kept
                self.skipped = "the batch size of a step could not be read from its batch"
            elif self.skipped is None and self._block and math.isfinite(loss):
                self.skipped = (
                    f"a block of {NOISE_BLOCK} consecutive steps needs batches of one size, but it changed from "
                    f"{self._block_size} to {batch_size}: pass batches of one size, e.g. DataLoader(drop_last=True)"
                )
            self._block, self._block_sq = [], []
            if not math.isfinite(loss) or batch_size is None:
                return
        if self._start is None:
            self._start = [p.detach().clone() for p in self.params]
            self._start_sq = float(_sum_sq(self._start).item())
        grads = [_strided(p.grad) if p.grad is not None else torch.zeros_like(p) for p in self.params]
        if grad_scale != 1.0:
            grads = [_wide(g) / grad_scale for g in grads]
        # Per step only the per-tensor norms (one fused call, no host sync) and the running sum:
        # the squares, sums and the sync wait for the end of the block.
        self._block_sq.append(_norm_list(grads))
        if self._block:
            _add_(self._block, grads)
        else:
            self._block = [_wide(g).clone() for g in grads]
        self._block_size = batch_size
        if len(self._block_sq) < NOISE_BLOCK:
            return
        n = len(self._block_sq)
        # One stack and one host sync per block: sum_t |g_t|^2, |sum_t g_t|^2, |w - w0|^2.
        step_sq = _stack([v for norms in self._block_sq for v in norms]).double().pow(2).sum()
        deltas = [p.detach() - w0 for p, w0 in zip(self.params, self._start)]
        totals = torch.stack([step_sq, _sum_sq(self._block).to(step_sq.device), _sum_sq(deltas).to(step_sq.device)])
        step_total, block_total, delta_sq = totals.tolist()
        small_sq = step_total / n
        big_sq = block_total / (n * n)
        self._block, self._block_sq = [], []
        move = math.sqrt(delta_sq / self._start_sq) if self._start_sq else 0.0
        # Past MAX_MOVE no later block can count: stop measuring (and paying for it).
        self._moved_away = move > MAX_MOVE
        if math.isfinite(small_sq) and math.isfinite(big_sq):
            self._record(small_sq, big_sq, (batch_size, n * batch_size), step, "steps", move)

    def estimate(self, before_step: int | None = None) -> NoiseScale:
        """The noise scale from the steps recorded before ``before_step`` (all when ``None``).

        Only the pairs with the most common ``(B_s, B_b)`` are used (a short last batch is left out).

        Raises:
            NoiseScaleError: Nothing usable was recorded, or :func:`noise_scale_from_norms` finds
                the noise scale unmeasurable.

        """
        keep = [i for i, step in enumerate(self.steps) if before_step is None or step < before_step]
        if not keep:
            what = (
                "Cannot measure the gradient noise scale: no step before the divergence (or, for blocks of "
                "steps, before the weights moved) was measured"
            )
            if self.skipped:
                # The reason steps were skipped is the likely cause, and says its own fix.
                raise NoiseScaleError(
                    f"{what}; steps were skipped because {self.skipped}. If that is not the cause, start the "
                    "sweep lower (min_lr) or use more steps."
                )
            raise NoiseScaleError(f"{what}. Start the sweep lower (min_lr) or use more steps.")
        counts: dict[tuple[int, int], int] = {}
        for i in keep:
            counts[self.sizes[i]] = counts.get(self.sizes[i], 0) + 1
        sizes = max(counts, key=lambda k: counts[k])
        keep = [i for i in keep if self.sizes[i] == sizes]
        return noise_scale_from_norms(
            [self.small_sq[i] for i in keep],
            [self.big_sq[i] for i in keep],
            small_batch_size=sizes[0],
            big_batch_size=sizes[1],
            steps=[self.steps[i] for i in keep],
            source=self.sources[keep[0]],
        )


def repeated_batches(batches_per_pass: int | None, accumulate_steps: int = 1) -> str | None:
    """Why the noise scale cannot be measured on data of ``batches_per_pass`` batches; ``None`` when it can.

    One estimate compares ``NOISE_BLOCK`` consecutive steps (source ``"steps"``), or the
    ``accumulate_steps`` micro-batches of a step (``"accumulation"``). Data of fewer batches than
    that per pass (a batch size of the whole training set: one batch) brings the same examples
    back within one estimate: the gradients it compares differ by the weights' move or dropout,
    not by sampling, and the critical batch read from them means nothing (``lrfind run
    --batch-size 5000`` over 1,400 rows printed one of 7.3, tight interval and all). Data of
    unknown length (``None``) is measured.

    Example:
        >>> repeated_batches(1) is not None, repeated_batches(4), repeated_batches(3, accumulate_steps=4) is not None
        (True, None, True)

    """
    if batches_per_pass is None:
        return None
    compared = accumulate_steps if accumulate_steps > 1 else NOISE_BLOCK
    if batches_per_pass >= compared:
        return None
    what = (
        f"the {compared} micro-batches of an accumulated step"
        if accumulate_steps > 1
        else f"the batches of {compared} consecutive steps"
    )
    return (
        "Cannot measure the gradient noise scale: the data gives "
        f"{plural(batches_per_pass, 'batch', 'batches')} per pass, too few to compare (an estimate compares {what}, "
        "so the same examples come back within it and carry no sampling noise). Use a smaller batch size, so that "
        "each pass gives more batches, or scale with rule='linear' or 'sqrt'."
    )


def probe_steps(num_steps: int, probes: int = NOISE_PROBES) -> frozenset[int]:
    """The step indices that get a sub-batch measurement: ``probes`` of them, spread evenly."""
    if num_steps <= probes:
        return frozenset(range(num_steps))
    return frozenset(int(round(i * (num_steps - 1) / (probes - 1))) for i in range(probes))


def _moved_from_the_start(probe: NoiseProbe, lrs: Sequence[float], cut: int | None) -> str | None:
    """Why nothing was measured when the sweep's first block of steps already moved the weights past ``MAX_MOVE``.

    The generic "start the sweep lower" is wrong when something besides the optimizer moves the weights
    (``max_norm`` renormalising embedding rows in the forward, a hook or ``step_fn`` writing to them): the
    message gives the move and the LRs it happened at, so the user can tell which. ``None`` for any other cause.
    """
    blocks = [i for i, source in enumerate(probe.sources) if source == "steps"]
    if not blocks or (cut is not None and any(step < cut for step in probe.steps)):
        return None
    first = blocks[0]
    step, move = probe.steps[first], probe.moved[first]
    if move <= MAX_MOVE or step >= len(lrs):
        return None
    return (
        "Cannot measure the gradient noise scale: no block of steps ended before the weights moved; they moved by "
        f"{move:.1%} of their norm within the sweep's first {plural(step + 1, 'step')} (lr {lrs[0]:.2e} to "
        f"{lrs[step]:.2e}), past the {MAX_MOVE:.0%} within which a block's gradients count as taken at one point. "
        "If the optimizer's steps are that large at these LRs, start the sweep lower (min_lr). If they cannot be, "
        "something else changes the weights, which no lower min_lr cures (nn.Embedding or nn.EmbeddingBag with "
        "max_norm renormalises the rows it looks up in its forward; a hook or step_fn may write to them): scale "
        "with rule='linear' or 'sqrt'."
    )


def noise_after_sweep(
    probe: NoiseProbe,
    lrs: Sequence[float],
    losses: Sequence[float],
    suggestion: Any = None,
) -> tuple[NoiseScale | None, str | None]:
    """The noise scale of a finished sweep, from its pre-divergence part only.

    The steps counted are those up to the minimum of the loss: the suggestion's ``min_loss_lr``
    when there is a suggestion; else (a flat or noisy curve) those before the first non-finite
    loss or the first running median (9 steps) past twice its lowest value. Past it the loss
    is rising, the weights are thrown about, and the gradient measures the blow-up, not the noise
    at the LRs worth using. Blocks of consecutive steps (source ``"steps"``) count only while
    the weights are within ``MAX_MOVE`` (1%) of where the sweep started.

    Args:
        probe: The probe that recorded the sweep.
        lrs: The sweep's LRs.
        losses: The sweep's losses.
        suggestion: The :class:`lrfinder.Suggestion`, if any.

    Returns:
        ``(noise_scale, None)``, or ``(None, reason)`` when it could not be measured.

    """
    cut: int | None = None
    min_loss_lr = getattr(suggestion, "min_loss_lr", None)
    if min_loss_lr is not None:
        cut = next((i for i, lr in enumerate(lrs) if lr > min_loss_lr), len(lrs))
    elif losses:
        # No suggestion (a flat, noisy or never-turning curve): up to the first blow-up, i.e. a
        # non-finite loss or a running median (9 steps) past twice its lowest value so far.
        cut = len(losses)
        lowest = math.inf
        for i, v in enumerate(losses):
            window = [w for w in losses[max(0, i - 8) : i + 1] if math.isfinite(w)]
            if not math.isfinite(v):
                cut = i
                break
            median = float(np.median(window))
            if median > 2 * lowest and i >= 8:
                cut = i
                break
            lowest = min(lowest, abs(median))
    moved = [step for step, m in zip(probe.steps, probe.moved) if m > MAX_MOVE]
    if cut is not None and moved:
        # Blocks of consecutive steps need weights that have not moved: the flat start.
        cut = min(cut, moved[0])
    try:
        measured = probe.estimate(before_step=cut if cut is not None else 0)
    except NoiseScaleError as exc:
        # Said to the user by the caller (range_test logs it; the callback warns once, on rank zero).
        why = _moved_from_the_start(probe, lrs, cut) or str(exc)
        logger.info("Gradient noise scale not measured: %s", why)
        return None, why
    logger.info("Gradient noise scale: %s", measured.summary())
    return measured, None


# --------------------------------------------------------------------------------------------
# The best learning rate against batch size
# --------------------------------------------------------------------------------------------

LRShape = Literal["sgd", "surge", "sqrt"]
#: The shape ``scale_lr(rule="noise")`` uses for adaptive optimizers: the SGD form, chosen on
#: ``benchmarks/batch_scaling.py`` over the surge and saturating-sqrt forms (see :func:`lrfinder.scale_lr`).
ADAPTIVE_SHAPE: LRShape = "sgd"
#: What each shape does, in words a reader of a report or a summary can follow (no form names).
LR_SHAPE_WORDS: dict[str, str] = {
    "sgd": "saturates near the critical batch",
    "surge": "peaks at the critical batch",
    "sqrt": "grows like sqrt, saturates near the critical batch",
}
#: Past ``to_batch_size > CRITICAL_WARN * B_noise`` a larger batch buys little speed per sample.
CRITICAL_WARN = 2.0


def lr_shape(batch_size: float | np.ndarray, noise_scale: float, shape: LRShape | str) -> Any:
    """The best learning rate at ``batch_size`` relative to its maximum over batch sizes.

    With ``b = batch_size`` and ``n = noise_scale``:

    * ``"sgd"``: ``1 / (1 + n / b)`` (McCandlish et al. 2018, eq. 2.6): linear in ``b`` for
      ``b << n``, flat for ``b >> n``.
    * ``"surge"``: ``1 / (0.5 * (sqrt(n / b) + sqrt(b / n)))`` (Li et al. 2024, for Adam-style
      optimizers): like ``sqrt(b)`` for ``b << n``, a peak at ``b = n``, then falling like
      ``1 / sqrt(b)``.
    * ``"sqrt"``: ``1 / sqrt(1 + n / b)``: like ``sqrt(b)`` for ``b << n``, flat past ``n`` (the
      square root of the SGD form).

    Args:
        batch_size: One batch size or an array of them (> 0).
        noise_scale: ``B_noise`` (> 0).
        shape: ``"sgd"``, ``"surge"`` or ``"sqrt"``.

    Returns:
        A float (or array) in ``(0, 1]``.

    Raises:
        ValueError: An unknown shape.

    References:
        McCandlish et al., "An Empirical Model of Large-Batch Training", 2018, arXiv:1812.06162.
        Li et al., "Surge Phenomenon in Optimal Learning Rate and Batch Size Scaling", 2024,
        arXiv:2405.14578.

    """
    b = np.asarray(batch_size, dtype=np.float64)
    n = float(noise_scale)
    if shape == "sgd":
        out = 1.0 / (1.0 + n / b)
    elif shape == "surge":
        out = 1.0 / (0.5 * (np.sqrt(n / b) + np.sqrt(b / n)))
    elif shape == "sqrt":
        out = 1.0 / np.sqrt(1.0 + n / b)
    else:
        raise ValueError(f"Unknown LR shape {shape!r}; expected one of sgd, surge, sqrt")
    return float(out) if out.ndim == 0 else out


def noise_lr_factor(from_batch_size: float, to_batch_size: float, noise_scale: float, shape: LRShape | str) -> float:
    """``lr_shape(to) / lr_shape(from)``: the factor that moves a best LR between batch sizes.

    For ``"sgd"`` this is ``(1 + n / from) / (1 + n / to)``.

    Example:
        >>> noise_lr_factor(32, 128, 32.0, "sgd")
        1.6

    """
    return float(lr_shape(to_batch_size, noise_scale, shape) / lr_shape(from_batch_size, noise_scale, shape))
