"""Smith's weight-decay test: one range test per weight decay, from the same state, compared.

:func:`weight_decay_sweep` runs :func:`lrfinder.range_test` once per value, each from the same
initial model, optimizer, RNG and data-order state (the engine restores all of it after each
test), and labels the results ``"wd=<value>"`` so the report overlays them.
:func:`recommend_weight_decay` picks one with a documented rule:

1. only conclusive curves compete (an inconclusive curve has no minimum to compare);
2. the lowest minimum of the smoothed loss wins, where minima within ``tie`` (default 5%) of the
   largest fall among the curves count as equal: that is the curve-to-curve noise level, and
   Smith reads "lower" only when the gap is visible on the plot;
3. among those ties, the curve that stays stable to the largest LR wins (its divergence LR, or
   the last LR swept when it never diverged): a wider stable range tolerates a larger LR;
4. a remaining tie (stable LRs within a factor 1.25, about 0.1 decade: two steps of a 100-step
   sweep over seven decades) goes to the larger weight decay: more regularisation at the same
   speed.

References:
    Smith, "A disciplined approach to neural network hyper-parameters: Part 1", 2018,
    arXiv:1803.09820.

"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from ._checks import (
    check_module_initialised,
    is_real,
    is_single_number,
    not_a_module_message,
    plain,
    single_number_note,
)
from ._warn import warn
from ._wording import repeated, word
from .analysis import Suggestion
from .exceptions import InconclusiveCurveError
from .names import did_you_mean_each
from .range_test import RangeTestResult, range_test
from .settings import check_callable

__all__ = [
    "WeightDecayChoice",
    "weight_decay_sweep",
    "check_uses_weight_decay",
    "recommend_weight_decay",
    "format_weight_decay",
    "minimum_loss",
    "shown_minimum_loss",
]

logger = logging.getLogger(__name__)

#: Stable LRs within this factor of the largest count as equally stable (rule step 4).
STABLE_TIE = 1.25


def _weight_decay(value: Any) -> Any:
    """A weight decay given as a one-element tensor or a numpy scalar as the Python number it holds.

    A bool (``True``, ``torch.tensor(True)``) stays a bool and a string stays a string, for the
    checks to refuse: ``float()`` read ``torch.tensor(True)`` as a weight decay of 1.
    """
    if torch.is_tensor(value) and value.numel() == 1:
        value = value.reshape(())
    return plain(value)


def _check_weight_decays(values: Sequence[float]) -> None:
    """Refuse a weight decay that is negative or not finite, named with its value."""
    for v in values:
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"Expected every weight decay to be finite and >= 0, but got weight_decay={v}")


def format_weight_decay(value: float) -> str:
    """Return a short label for a weight decay: ``0``, ``1e-04``, ``0.0005``.

    Example:
        >>> format_weight_decay(1e-4), format_weight_decay(0.0)
        ('1e-04', '0')

    """
    if value == 0:
        return "0"
    text = f"{value:.0e}" if float(f"{value:.0e}") == value else f"{value:.3g}"
    return text


@dataclass(frozen=True)
class WeightDecayChoice:
    """The recommended weight decay of a sweep, and why.

    Attributes:
        index: Index of the chosen result in the sweep.
        weight_decay: The chosen value.
        reason: One sentence saying which step of the rule decided.

    """

    index: int
    weight_decay: float
    reason: str


def weight_decay_sweep(
    model: nn.Module,
    train_data: Iterable[Any],
    weight_decays: Sequence[float],
    *,
    make_optimizer: Callable[[nn.Module, float], torch.optim.Optimizer],
    on_start: Callable[[int, float], Callable[[int, float, float], None] | None] | None = None,
    **range_test_kwargs: Any,
) -> list[RangeTestResult]:
    """Run one range test per weight decay, each from the same initial state.

    Ctrl-C stops the whole sweep, not only the current test: the interrupted test is the last
    result (``stop_reason="interrupted"``) and the values after it are not run, so a cut curve
    is never compared with full ones by mistake.

    Args:
        model: The model (restored after every test).
        train_data: The training batches.
        weight_decays: The values to compare (``>= 0``), e.g. ``(0, 1e-4, 1e-3)``.
        make_optimizer: ``make_optimizer(model, weight_decay) -> optimizer``; called once per
            value, for every value before the first test (e.g.
            ``lambda m, wd: create_optimizer("adamw", m, lr=1e-7, weight_decay=wd)``). Each
            optimizer must use the value it is given (:func:`check_uses_weight_decay`).
        on_start: Called as ``on_start(index, weight_decay)`` before each test; what it returns,
            unless ``None``, is that test's ``on_step`` hook (e.g. a fresh progress bar).
        **range_test_kwargs: Passed to :func:`lrfinder.range_test` (``loss_fn``, ``min_lr``,
            ``on_step``, ...); ``restore`` is always ``True``.

    Returns:
        One result per value run, in order, labelled ``"wd=<value>"``: every distinct value
        (a repeated one runs once, with a warning), unless the sweep was interrupted.

    Raises:
        ValueError: No values, a negative or non-finite one, or a ``make_optimizer`` that ignores
            the weight decay (two values built optimizers with the same settings: the sweep would
            compare one optimizer with itself); raised before any test runs.
        TypeError: ``model`` is not a ``torch.nn.Module``, ``weight_decays`` is not a sequence of
            numbers, ``make_optimizer`` is not a function ``(model, weight_decay) -> optimizer`` or
            returns something else (``None`` ran torch's default optimizer, without weight decay,
            under every label), or
            ``optimizer=`` is passed (each value's optimizer comes from ``make_optimizer``).

    """
    if not isinstance(model, nn.Module):
        # make_optimizer(model, wd) ran first and failed in the caller's lambda: "'NoneType' object has no
        # attribute 'parameters'".
        raise TypeError(not_a_module_message("model", model))
    check_module_initialised("model", model)
    zero_d = getattr(weight_decays, "ndim", None) == 0  # a 0-d tensor or array: "iteration over a 0-d tensor"
    if isinstance(weight_decays, (str, bytes)) or zero_d or not isinstance(weight_decays, Iterable):
        one = f"; for one value pass [{plain(weight_decays)!r}]" if is_real(plain(weight_decays)) else ""
        raise TypeError(
            "Expected weight_decays to be a sequence of numbers such as (0, 1e-4, 1e-3), but got "
            f"weight_decays={weight_decays!r}{one}"
        )
    given = list(weight_decays)
    bad = [v for v in given if not is_real(_weight_decay(v))]
    if bad:
        raise TypeError(f"Expected every weight decay to be a number, but got {bad[0]!r} in weight_decays={given!r}")
    is_class = isinstance(make_optimizer, type) and issubclass(make_optimizer, torch.optim.Optimizer)
    if not callable(make_optimizer) or is_class:
        what = make_optimizer.__name__ if isinstance(make_optimizer, type) else repr(make_optimizer)
        raise TypeError(
            f"Expected make_optimizer to be a function (model, weight_decay) -> optimizer, but got {what}. E.g. "
            "make_optimizer=lambda m, wd: torch.optim.AdamW(m.parameters(), lr=1e-7, weight_decay=wd)"
        )
    try:
        inspect.signature(make_optimizer).bind(model, 0.0)
    except TypeError:
        name = getattr(make_optimizer, "__name__", type(make_optimizer).__name__)
        raise TypeError(
            f"Expected make_optimizer to take (model, weight_decay), but {name}{inspect.signature(make_optimizer)} "
            "does not. E.g. make_optimizer=lambda m, wd: torch.optim.AdamW(m.parameters(), lr=1e-7, weight_decay=wd)"
        ) from None
    except ValueError:  # a builtin without a signature to read: its call says what is wrong
        pass
    check_callable("on_start", on_start, "on_start(index, weight_decay) -> an on_step hook or None")
    if on_start is not None:
        try:
            inspect.signature(on_start).bind(0, 0.0)
        except TypeError:
            # Was Python's "<lambda>() takes 0 positional arguments but 2 were given", after the first optimizer.
            raise TypeError(
                f"Expected on_start to take (index, weight_decay), but {getattr(on_start, '__name__', 'it')}"
                f"{inspect.signature(on_start)} does not"
            ) from None
        except ValueError:  # a builtin without a signature to read
            pass
    if "optimizer" in range_test_kwargs:
        raise TypeError(
            "weight_decay_sweep builds one optimizer per weight decay with make_optimizer, so optimizer= cannot be "
            "passed: pass make_optimizer=lambda m, wd: <your optimizer over m.parameters() with weight_decay=wd>"
        )
    known = [n for n in inspect.signature(range_test).parameters if n not in ("model", "train_data", "optimizer")]
    unknown = [str(key) for key in range_test_kwargs if key not in known]
    if unknown:
        # Was range_test's own "got an unexpected keyword argument", raised after every optimizer was built.
        raise TypeError(
            f"weight_decay_sweep got the unknown range_test {word(len(unknown), 'setting')} {', '.join(unknown)}; it "
            "passes on "
            f"{', '.join(known)}." + did_you_mean_each(unknown, known)
        )
    values = [float(_weight_decay(v)) for v in given]
    if not values:
        raise ValueError("Expected at least one weight decay, but got none")
    _check_weight_decays(values)
    distinct = list(dict.fromkeys(values))
    if len(distinct) < len(values):
        # The same value twice would run the same test twice, under one label: once is enough.
        twice = repeated(values)
        warn(
            f"weight_decays repeats {', '.join(format_weight_decay(v) for v in twice)}: each value runs once "
            f"({len(distinct)} test{'s' if len(distinct) > 1 else ''}, not {len(values)}).",
            stacklevel=2,
        )
        values = distinct
    range_test_kwargs["restore"] = True
    # Every optimizer first (torch's allocate their state at the first step, not here), so a factory
    # that ignores its weight decay is refused before a test runs, not after the first one.
    optimizers = [make_optimizer(model, v) for v in values]
    for v, optimizer in zip(values, optimizers):
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"Expected make_optimizer(model, {format_weight_decay(v)}) to return a torch.optim.Optimizer, but "
                f"it returned {'None' if optimizer is None else type(optimizer).__name__}. Return the optimizer: "
                "make_optimizer=lambda m, wd: torch.optim.AdamW(m.parameters(), lr=1e-7, weight_decay=wd)"
            )
    check_uses_weight_decay(optimizers, values)
    results = []
    for i, (v, optimizer) in enumerate(zip(values, optimizers)):
        kwargs = dict(range_test_kwargs)
        hook = on_start(i, v) if on_start is not None else None
        if hook is not None:
            if not callable(hook):
                # Was named as range_test's on_step, which the caller never passed.
                raise TypeError(
                    f"Expected on_start(index, weight_decay) to return an on_step hook (index, lr, loss) or None, but "
                    f"it returned {hook!r:.60}"
                )
            kwargs["on_step"] = hook
        result = range_test(model, train_data, optimizer=optimizer, **kwargs)
        results.append(replace(result, label=f"wd={format_weight_decay(v)}"))
        if result.stop_reason == "interrupted":
            logger.warning("Weight-decay sweep interrupted at weight_decay=%s; the rest is not run.", v)
            break
    return results


def _group_settings(optimizer: Any) -> tuple[tuple[tuple[str, str], ...], ...] | None:
    """Every param group's settings but its parameters (compared by ``repr``), or ``None`` without groups."""
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        return None
    return tuple(tuple(sorted((str(k), repr(v)) for k, v in g.items() if k != "params")) for g in groups)


def _decays(optimizer: Any) -> list[float | None]:
    """The ``weight_decay`` of each param group with parameters (``None`` where a group has none)."""
    out: list[float | None] = []
    for group in getattr(optimizer, "param_groups", None) or []:
        if isinstance(group, dict) and group.get("params"):
            value: Any = group.get("weight_decay")
            out.append(float(value) if is_real(value) or torch.is_tensor(value) else None)
    return out


def _describe(decays: Sequence[float | None]) -> str:
    """The groups' weight decays as a message lists them (``none`` for a group without one)."""
    return ", ".join("none" if d is None else format_weight_decay(d) for d in decays)


def check_uses_weight_decay(optimizers: Sequence[Any], weight_decays: Sequence[float]) -> None:
    """Refuse a ``make_optimizer`` that ignores its weight decay (see :func:`weight_decay_sweep`).

    ``optimizers[i]`` was built for ``weight_decays[i]``. Two different values whose optimizers
    have the same param-group settings (everything but the parameters) are proof that the factory
    ignored its argument: a ``ValueError``. Short of proof, an optimizer whose groups (with
    parameters) carry a ``weight_decay`` but none at its value (groups at 0 are the no-decay
    groups of biases and norms), or any decay for 0, gets a warning: a factory may scale the
    value on purpose (layer-wise decay, ``weight_decay / lr``), or keep it under another name.
    Objects without ``param_groups`` are left to :func:`lrfinder.range_test` to refuse.

    Raises:
        ValueError: Two different weight decays built optimizers with the same settings.

    """
    seen: dict[tuple[tuple[tuple[str, str], ...], ...], float] = {}
    for optimizer, value in zip(optimizers, weight_decays):
        settings = _group_settings(optimizer)
        if settings is None:
            continue
        other = seen.setdefault(settings, value)
        if other != value:
            found = _describe(_decays(optimizer))
            raise ValueError(
                f"make_optimizer(model, {format_weight_decay(other)}) and make_optimizer(model, "
                f"{format_weight_decay(value)}) built {type(optimizer).__name__}s with the same settings (param "
                f"groups' weight_decay {found}): the factory does not use the weight decay it is given, so the "
                "sweep would compare one optimizer with itself. Pass it to the optimizer, e.g. "
                'make_optimizer=lambda m, wd: create_optimizer("adamw", m, lr=1e-7, weight_decay=wd).'
            )
    for optimizer, value in zip(optimizers, weight_decays):
        decays = _decays(optimizer)
        numbers = [d for d in decays if d is not None]
        if not numbers:
            continue
        if value > 0:
            ok = any(math.isclose(d, value, rel_tol=1e-6) for d in numbers)
        else:
            ok = not any(numbers)
        if not ok:
            found = _describe(decays)
            warn(
                f"make_optimizer(model, {format_weight_decay(value)}) built {type(optimizer).__name__} whose param "
                f"groups have weight_decay {found}, {'none' if value > 0 else 'not all'} at "
                f"{format_weight_decay(value)}: the curve labelled wd={format_weight_decay(value)} may not have "
                "run at that weight decay. Ignore this if the factory scales it on purpose.",
                stacklevel=3,
            )


def _suggestion(result: RangeTestResult) -> Suggestion:
    if result.suggestion is None:  # callers filter inconclusive curves first
        raise InconclusiveCurveError(f"{result.label or 'a curve'} is inconclusive: {result.error}")
    return result.suggestion


def minimum_loss(result: RangeTestResult) -> float:
    """The smoothed loss at the curve's minimum (``suggestion.min_loss_lr``, before any blow-up).

    The minimum :func:`recommend_weight_decay` compares, and the one the summary's table and the
    report's legend print: the lowest point of the whole smoothed curve can lie past the blow-up
    (a recovery the analysis ignores), at another LR than ``min_loss_lr``.

    Raises:
        InconclusiveCurveError: The curve has no suggestion.

    """
    s = _suggestion(result)
    lrs = np.asarray(result.lrs)
    smoothed = np.asarray(s.smoothed_losses)
    return float(smoothed[int(np.argmin(np.abs(lrs - s.min_loss_lr)))])


def loss_never_negative(result: RangeTestResult) -> bool:
    """Whether ``result``'s loss is taken to be one that cannot be negative: every finite recorded loss is >= 0.

    Cross-entropy's is; its smoothed curve may still undershoot below zero at a sharp turn, which the report and
    the tables do not show (:func:`shown_minimum_loss`).
    """
    raw = np.asarray(result.losses, dtype=float)
    finite = raw[np.isfinite(raw)]
    return bool(finite.size) and float(finite.min()) >= 0.0


def shown_minimum_loss(result: RangeTestResult) -> float:
    """:func:`minimum_loss` as the report's overlay legend and ``lrfind``'s sweep table write it.

    A loss that cannot be negative (every recorded loss >= 0, as cross-entropy's) whose smoothed
    curve undershoots below zero at a sharp turn read ``min -0.0184``: the loss recorded at
    ``min_loss_lr`` is written instead. :func:`recommend_weight_decay` still compares
    :func:`minimum_loss` itself.

    Raises:
        InconclusiveCurveError: The curve has no suggestion.

    """
    low = minimum_loss(result)
    raw = np.asarray(result.losses, dtype=float)
    finite = raw[np.isfinite(raw)]
    if low >= 0.0 or not loss_never_negative(result):
        return low
    at = raw[int(np.argmin(np.abs(np.asarray(result.lrs) - _suggestion(result).min_loss_lr)))]
    return float(at) if math.isfinite(at) else float(finite.min())


def _fall(result: RangeTestResult) -> float:
    smoothed = np.asarray(_suggestion(result).smoothed_losses)
    head = smoothed[: max(3, smoothed.size // 20)]
    return float(np.nanmax(head)) - minimum_loss(result)


def _stable_to(result: RangeTestResult) -> float:
    s = _suggestion(result)
    return s.divergence_lr if s.divergence_lr is not None else float(result.lrs[-1])


def recommend_weight_decay(
    results: Sequence[RangeTestResult],
    weight_decays: Sequence[float],
    *,
    tie: float = 0.05,
) -> WeightDecayChoice:
    """Pick a weight decay from a sweep with the rule in the module docstring.

    Args:
        results: The sweep's results (:func:`weight_decay_sweep`).
        weight_decays: The value of each result.
        tie: Minima closer than ``tie`` times the largest fall of the loss count as equal.

    Returns:
        A :class:`WeightDecayChoice`.

    Raises:
        ValueError: Lengths differ, a weight decay is negative, not finite or given twice, or ``tie`` is negative or
            not finite.
        TypeError: ``tie`` is not a number, ``results`` or ``weight_decays`` is not a sequence, a result is not a
            :class:`~lrfinder.RangeTestResult`, or a weight decay is not a number.
        InconclusiveCurveError: No curve is conclusive.

    """
    for name, value in (("results", results), ("weight_decays", weight_decays)):
        if is_single_number(value):
            raise TypeError(
                f"Expected {name} to be a sequence (a list or tuple), but got {type(value).__name__} "
                f"{value!r:.40}{single_number_note(value)}"
            )
        if isinstance(value, (str, bytes)) or not (hasattr(value, "__len__") and hasattr(value, "__getitem__")):
            raise TypeError(
                f"Expected {name} to be a sequence (a list or tuple), but got {type(value).__name__}: pass "
                f"list({name}) for an iterator"
            )
    wrong = [r for r in results if not isinstance(r, RangeTestResult)]
    if wrong:
        raise TypeError(
            f"Expected results to be RangeTestResults (what weight_decay_sweep returns), but got "
            f"{type(wrong[0]).__name__}: {wrong[0]!r}"
        )
    bad = [v for v in weight_decays if not is_real(_weight_decay(v))]
    if bad:
        raise TypeError(f"Expected every weight decay to be a number, but got {bad[0]!r} in {list(weight_decays)!r}")
    if len(results) != len(weight_decays):
        raise ValueError(
            f"Expected one weight decay per result, but got {len(results)} results and {len(weight_decays)} values"
        )
    # As weight_decay_sweep refuses them: a NaN was recommended as weight_decay=nan, a negative one as chosen.
    values = [float(_weight_decay(v)) for v in weight_decays]
    _check_weight_decays(values)
    twice = repeated(values)
    if twice:
        # Two curves under one label (a value copied where another was meant): one of them was picked, or lost a tie,
        # as the curve of a value it was not run with.
        raise ValueError(
            f"Expected distinct weight decays, one per result, but got "
            f"{', '.join(format_weight_decay(v) for v in twice)} more than once in weight_decays={values!r}: pass the "
            "value each result was run with "
            "(weight_decay_sweep returns one result per distinct value, in their order)"
        )
    tie = plain(tie)
    if not is_real(tie):
        raise TypeError(f"Expected tie to be a number such as 0.05, but got tie={tie!r}")
    if not (math.isfinite(tie) and tie >= 0):
        raise ValueError(f"Expected tie to be a finite number >= 0 (e.g. 0.05), but got tie={tie!r}")
    ok = [i for i, r in enumerate(results) if r.suggestion is not None]
    if not ok:
        raise InconclusiveCurveError(
            "Every curve of the weight-decay sweep is inconclusive; nothing to compare. Fix the range test first "
            "(see each curve's error), then sweep again."
        )
    if len(ok) == 1:
        i = ok[0]
        return WeightDecayChoice(i, float(_weight_decay(weight_decays[i])), "the only conclusive curve")
    minima = {i: minimum_loss(results[i]) for i in ok}
    best = min(minima.values())
    band = tie * max(_fall(results[i]) for i in ok)
    lowest = [i for i in ok if minima[i] <= best + band]
    if len(lowest) == 1:
        i = lowest[0]
        reason = f"lowest minimum of the smoothed loss ({minima[i]:.4g})"
        return WeightDecayChoice(i, float(_weight_decay(weight_decays[i])), reason)
    stable = {i: _stable_to(results[i]) for i in lowest}
    top = max(stable.values())
    widest = [i for i in lowest if stable[i] >= top / STABLE_TIE]
    i = max(widest, key=lambda j: (float(_weight_decay(weight_decays[j])), -j))
    if len(widest) == 1:
        reason = f"minima tied within {tie:.0%} of the fall; stable to the largest LR ({stable[i]:.2e})"
    else:
        reason = "minima and stable ranges tied; the larger weight decay regularises more at the same speed"
    logger.debug("recommend_weight_decay: %s -> %s", list(weight_decays), weight_decays[i])
    return WeightDecayChoice(i, float(_weight_decay(weight_decays[i])), reason)
