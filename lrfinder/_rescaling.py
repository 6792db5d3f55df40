"""The found LR put into the fit's own optimizers and LR schedulers, when no attribute carries it.

:class:`~lrfinder.LRFinder` sweeps each param group from its configured LR (:func:`_base_lr`: a
CyclicLR's or OneCycleLR's peak, a warm-up's target, else ``initial_lr``), so the ratios between
groups are the configured ones; after the test every group's LRs, and its schedulers' (``base_lrs``,
``max_lrs``, the floors ``eta_min``/``min_lrs``), are multiplied by the group's factor
(:func:`_factors`, :func:`_rescale`). The schedulers are read as torch keeps them, wrapped ones
(``SequentialLR``, ``ChainedScheduler``) included (:func:`_each_scheduler`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, CyclicLR, OneCycleLR

from ._attributes import _is_number

if TYPE_CHECKING:
    import pytorch_lightning as pl
    from pytorch_lightning.utilities.types import LRSchedulerConfig


def _moved(tested: Sequence[float], trainer: pl.Trainer) -> bool:
    """Whether any param group's configured LR now differs from the one the test swept at (or their number does)."""
    bases = _base_lrs(trainer.optimizers, trainer.lr_scheduler_configs)
    return len(bases) != len(tested) or any(not math.isclose(t, b, rel_tol=1e-9) for t, b in zip(tested, bases))


def _has_cycle(configs: Sequence[LRSchedulerConfig]) -> bool:
    """Whether a OneCycleLR or CyclicLR schedules the LR (its peak is then the LR to set)."""
    return any(isinstance(s, (OneCycleLR, CyclicLR)) for c in configs for s in _schedulers(c.scheduler))


def _cycle_top(configs: Sequence[LRSchedulerConfig]) -> float | None:
    """The largest LR a OneCycleLR or CyclicLR in ``configs`` climbs to (``None`` without one)."""
    tops = [
        float(top)
        for config in configs
        for sched in _schedulers(config.scheduler)
        if isinstance(sched, (OneCycleLR, CyclicLR))
        for top in (
            sched.max_lrs if isinstance(sched, CyclicLR) else [g["max_lr"] for g in sched.optimizer.param_groups]
        )
    ]
    return max(tops) if tops else None


def _factors(lr: float, tested: Sequence[float], trainer: pl.Trainer) -> list[float]:
    """What each param group's LRs are multiplied by to train at ``lr`` times its ``tested`` ratio.

    ``tested``: every group's LR during the test, in optimizer order (the largest is the
    reference the found LR is for). When configure_optimizers built another number of groups,
    one factor moves the largest LR to ``lr``.
    """
    bases = _base_lrs(trainer.optimizers, trainer.lr_scheduler_configs)
    if len(bases) == len(tested) and max(tested) > 0:
        return [lr * t / max(tested) / b if b > 0 else 1.0 for t, b in zip(tested, bases)]
    return [lr / max(bases)] * len(bases)


def _peaks(configs: Sequence[LRSchedulerConfig]) -> dict[int, float]:
    """CyclicLR's upper bound for each of its groups (its ``initial_lr`` is the lower one)."""
    out: dict[int, float] = {}
    for config in configs:
        for sched in _schedulers(config.scheduler):
            if isinstance(sched, CyclicLR):
                for group, peak in zip(sched.optimizer.param_groups, sched.max_lrs):
                    out[id(group)] = float(peak)
    return out


def _warmup_targets(configs: Sequence[LRSchedulerConfig]) -> dict[int, float]:
    """The LR a warm-up of lrfinder's ``PlateauWithWarmup`` climbs to, for each of its groups."""
    out: dict[int, float] = {}
    for sched in _each_scheduler(configs):
        targets = getattr(sched, "warmup_target_lrs", None)
        groups = getattr(getattr(sched, "optimizer", None), "param_groups", None)
        if isinstance(targets, list) and groups is not None and len(targets) == len(groups):
            out.update({id(g): float(t) for g, t in zip(groups, targets)})
    return out


def _base_lr(group: Mapping[str, Any], configs: Sequence[LRSchedulerConfig]) -> float:
    """A group's configured LR: CyclicLR's/OneCycleLR's peak, a warm-up's target, else ``initial_lr``, else ``lr``."""
    peak = _peaks(configs).get(id(group))
    if peak is not None:
        return peak
    target = _warmup_targets(configs).get(id(group))
    if target is not None:  # the warm-up starts below it (at 0 by default)
        return target
    if "max_lr" in group:  # OneCycleLR keeps its peak in the group
        return float(group["max_lr"])
    return float(group.get("initial_lr", group["lr"]))


def _schedulers(sched: Any) -> list[Any]:
    """A scheduler and the ones it wraps (SequentialLR, ChainedScheduler)."""
    out = [sched]
    for child in getattr(sched, "_schedulers", ()) or ():
        out.extend(_schedulers(child))
    return out


def _each_scheduler(configs: Sequence[LRSchedulerConfig]) -> list[Any]:
    """Every scheduler of ``configs`` and the ones they wrap (:func:`_schedulers`), each once."""
    out: list[Any] = []
    seen: set[int] = set()
    for config in configs:
        for sched in _schedulers(config.scheduler):
            if id(sched) not in seen:
                seen.add(id(sched))
                out.append(sched)
    return out


def _base_lrs(optimizers: Sequence[Optimizer], configs: Sequence[LRSchedulerConfig]) -> list[float]:
    """Every param group's configured LR (:func:`_base_lr`), in optimizer order."""
    return [_base_lr(g, configs) for opt in optimizers for g in opt.param_groups]


def _rescale(optimizers: Sequence[Optimizer], configs: Sequence[LRSchedulerConfig], factors: Sequence[float]) -> None:
    """Multiply every LR of each param group (in optimizer order) and its schedulers' by the group's factor."""
    by_group: dict[int, float] = {}
    groups = [g for opt in optimizers for g in opt.param_groups]
    for group, factor in zip(groups, factors):
        by_group[id(group)] = factor
        for key in ("lr", "initial_lr", "max_lr", "min_lr"):
            value = group.get(key)
            # A tensor LR (torch accepts one, e.g. for fused/capturable Adam) is scaled out of
            # place: groups may share one tensor object, and it keeps its dtype and device.
            if isinstance(value, (int, float, torch.Tensor)) and not isinstance(value, bool):
                group[key] = value * factor
    uniform = factors[0] if factors and all(math.isclose(f, factors[0], rel_tol=1e-9) for f in factors) else None
    for sched in _each_scheduler(configs):
        sched_groups = getattr(getattr(sched, "optimizer", None), "param_groups", None)
        # ReduceLROnPlateau's min_lrs are per group: its floors keep their ratio to the LR.
        for key in ("base_lrs", "max_lrs", "_last_lr", "min_lrs", "warmup_target_lrs"):
            values = getattr(sched, key, None)
            if not isinstance(values, list):
                continue
            if sched_groups is not None and len(values) == len(sched_groups):
                setattr(sched, key, [v * by_group.get(id(g), 1.0) for v, g in zip(values, sched_groups)])
            elif uniform is not None:
                setattr(sched, key, [v * uniform for v in values])
        # One floor for all its groups (CosineAnnealingLR's and CosineAnnealingWarmRestarts' eta_min,
        # ReduceLROnPlateau's default): moved with them when they share a factor. Left absolute, a
        # floor above the new LR turned the anneal into a climb to it (or a plateau that never lowers).
        own = [by_group.get(id(g), 1.0) for g in sched_groups] if sched_groups is not None else []
        common = own[0] if own and all(math.isclose(f, own[0], rel_tol=1e-9) for f in own) else uniform
        for key in ("eta_min", "default_min_lr"):
            floor: Any = getattr(sched, key, None)
            if common is not None and _is_number(floor):
                setattr(sched, key, floor * common)


def _floors_above_lr(configs: Sequence[LRSchedulerConfig]) -> list[str]:
    """Schedulers whose floor (``eta_min``, ``min_lrs``) is above the LR of a group they drive, described.

    A cosine anneal then climbs from the LR to its floor; ReduceLROnPlateau never lowers the LR.
    """
    notes: list[str] = []
    for sched in _each_scheduler(configs):
        groups = getattr(getattr(sched, "optimizer", None), "param_groups", None) or []
        lrs = getattr(sched, "base_lrs", None)
        if not (isinstance(lrs, list) and len(lrs) == len(groups)):
            lrs = [g.get("initial_lr", g.get("lr")) for g in groups]
        eta_min: Any = getattr(sched, "eta_min", None)
        min_lrs: Any = getattr(sched, "min_lrs", None)
        if _is_number(eta_min):
            key, floors, effect = "eta_min", [float(eta_min)] * len(groups), "anneals up to it"
        elif isinstance(min_lrs, list) and len(min_lrs) == len(groups):
            key, floors, effect = "min_lr", [float(v) for v in min_lrs], "never lowers the LR"
        else:
            continue
        above = [(f, float(lr)) for f, lr in zip(floors, lrs) if _is_number(lr) and f > float(lr) * (1 + 1e-9)]
        if above:
            floor, lr = above[0]
            notes.append(f"{type(sched).__name__}'s {key}={floor:.2e} is above the LR {lr:.2e}: it {effect}")
    return notes


def _schedule_name(configs: Sequence[LRSchedulerConfig]) -> str:
    """The registry name of the module's own LR schedule (``"constant"`` when unknown or none)."""
    for config in configs:
        for sched in _schedulers(config.scheduler):
            if isinstance(sched, OneCycleLR):
                return "onecycle"
            if isinstance(sched, CosineAnnealingLR):
                return "cosine"
    return "constant"
