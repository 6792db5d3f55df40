"""lrfinder: find a good learning rate for a PyTorch model, then train with it.

The public API, re-exported here. ``import lrfinder`` is light: every name below is imported
from its module on first use (PEP 562), so ``import lrfinder`` costs no torch, scipy,
matplotlib or Lightning, and ``lrfind --help`` (a subpackage, which runs this file first) starts
in a fraction of a second. ``from lrfinder import range_test`` and ``lrfinder.range_test(...)``
work as usual; the first use imports the module that defines the name.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ._startup import hold_sigint

hold_sigint()  # run as `lrfind`, a Ctrl-C while it imports is the interrupt's message and 130, not a traceback

__version__ = "0.1.0"

#: Public name -> the module (relative to this package) that defines it.
_LAZY: dict[str, str] = {
    # analysis: the curve (numpy/scipy)
    "Suggestion": "analysis",
    "analyze": "analysis",
    "loss_slope": "analysis",
    "smooth_losses": "analysis",
    "undo_ema": "analysis",
    # names: the closed vocabularies (no dependencies)
    "DEFAULT_RULE": "names",
    "RULES": "names",
    "SCALING_RULES": "names",
    # exceptions
    "DataError": "exceptions",
    "InconclusiveCurveError": "exceptions",
    "LRFinderError": "exceptions",
    "ModelError": "exceptions",
    "RefineInterrupted": "exceptions",
    # range_test: the engine (torch)
    "DivergenceMonitor": "range_test",
    "LRSweeper": "range_test",
    "RangeTestResult": "range_test",
    "RangeTestSettings": "range_test",
    "StateSnapshot": "range_test",
    "lr_schedule": "range_test",
    "range_test": "range_test",
    "run_sweep": "range_test",
    # scaling
    "ScaledLR": "scaling",
    "scale_lr": "scaling",
    # optimizers and schedulers (torch)
    "OPTIMIZERS": "optimizers",
    "OptimizerSpec": "optimizers",
    "create_optimizer": "optimizers",
    "list_optimizers": "optimizers",
    "param_groups": "optimizers",
    "SCHEDULERS": "schedulers",
    "SchedulerSpec": "schedulers",
    "create_scheduler": "schedulers",
    "lightning_scheduler_config": "schedulers",
    "list_schedulers": "schedulers",
    "preview_schedule": "schedulers",
    "Yogi": "yogi",
    # the weight-decay test and the training loop of ``lrfind fit``
    "WeightDecayChoice": "sweeps",
    "recommend_weight_decay": "sweeps",
    "weight_decay_sweep": "sweeps",
    "TrainingDivergedError": "training",
    "TrainingResult": "training",
    "train": "training",
    # the report (matplotlib) and the Lightning callback
    "plot_range_test": "report",
    "save_report": "report",
    "LRFinder": "callback",
    "find_lr": "callback",
    # the later rounds of the range test (re-sweeps and trial runs)
    "Refine": "refine",
    "Refinement": "refine",
}

__all__ = [
    "__version__",
    "Suggestion",
    "analyze",
    "loss_slope",
    "smooth_losses",
    "undo_ema",
    "DEFAULT_RULE",
    "RULES",
    "SCALING_RULES",
    "DataError",
    "InconclusiveCurveError",
    "LRFinderError",
    "ModelError",
    "RefineInterrupted",
    "DivergenceMonitor",
    "LRSweeper",
    "RangeTestResult",
    "RangeTestSettings",
    "StateSnapshot",
    "lr_schedule",
    "range_test",
    "run_sweep",
    "ScaledLR",
    "scale_lr",
    "OPTIMIZERS",
    "OptimizerSpec",
    "create_optimizer",
    "list_optimizers",
    "param_groups",
    "SCHEDULERS",
    "SchedulerSpec",
    "create_scheduler",
    "lightning_scheduler_config",
    "list_schedulers",
    "preview_schedule",
    "Yogi",
    "WeightDecayChoice",
    "recommend_weight_decay",
    "weight_decay_sweep",
    "TrainingDivergedError",
    "TrainingResult",
    "train",
    "plot_range_test",
    "save_report",
    "LRFinder",
    "find_lr",
    "Refine",
    "Refinement",
]

if TYPE_CHECKING:
    from .analysis import Suggestion, analyze, loss_slope, smooth_losses, undo_ema
    from .callback import LRFinder, find_lr
    from .exceptions import DataError, InconclusiveCurveError, LRFinderError, ModelError, RefineInterrupted
    from .names import DEFAULT_RULE, RULES, SCALING_RULES
    from .optimizers import OPTIMIZERS, OptimizerSpec, create_optimizer, list_optimizers, param_groups
    from .range_test import (
        DivergenceMonitor,
        LRSweeper,
        RangeTestResult,
        RangeTestSettings,
        StateSnapshot,
        lr_schedule,
        range_test,
        run_sweep,
    )
    from .refine import Refine, Refinement
    from .report import plot_range_test, save_report
    from .scaling import ScaledLR, scale_lr
    from .schedulers import (
        SCHEDULERS,
        SchedulerSpec,
        create_scheduler,
        lightning_scheduler_config,
        list_schedulers,
        preview_schedule,
    )
    from .sweeps import WeightDecayChoice, recommend_weight_decay, weight_decay_sweep
    from .training import TrainingDivergedError, TrainingResult, train
    from .yogi import Yogi


#: Submodules reached as attributes after a bare ``import lrfinder`` (``lrfinder.schedulers.advised_warmup``, as
#: the README writes them), imported on first access like the public names. ``range_test`` is the function.
_SUBMODULES = frozenset(
    {
        "analysis", "batches", "callback", "cli", "data_parallel", "demo", "diagnostics", "exceptions", "names",
        "noise", "optimizers", "refine", "report", "scaling", "schedulers", "settings", "snapshot", "stepping",
        "sweeps", "training", "yogi",
    }
)  # fmt: skip


def __getattr__(name: str) -> Any:
    """Import a public name (:data:`_LAZY`) from its module on first access, then keep it; or a submodule."""
    module = _LAZY.get(name)
    if module is None:
        if name in _SUBMODULES:
            return import_module(f".{name}", __name__)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names with the module's own attributes (for completion in a REPL)."""
    return sorted({*globals(), *_LAZY})


class _Package(ModuleType):
    """The package's module type: a public name wins over a submodule of the same name.

    Importing ``lrfinder.range_test`` (the module) makes the import system bind it as the
    package attribute ``range_test``; the public API means the function of that name (as it did
    when this file imported everything eagerly), so the binding is redirected to it.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, ModuleType) and value.__name__ == f"{__name__}.{name}" and _LAZY.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
