"""lrfinder: find a good learning rate for a PyTorch model, then train with it.

The public API, re-exported here. ``import lrfinder`` stays light: the report (matplotlib) and
the Lightning callback are imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .analysis import DEFAULT_RULE, RULES, Suggestion, analyze, loss_slope, smooth_losses
from .exceptions import DataError, InconclusiveCurveError, LRFinderError, ModelError
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
from .scaling import SCALING_RULES, ScaledLR, scale_lr
from .schedulers import (
    SCHEDULERS,
    SchedulerSpec,
    create_scheduler,
    lightning_scheduler_config,
    list_schedulers,
    preview_schedule,
)
from .yogi import Yogi

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "DEFAULT_RULE",
    "RULES",
    "SCALING_RULES",
    "DataError",
    "DivergenceMonitor",
    "InconclusiveCurveError",
    "LRFinderError",
    "LRSweeper",
    "ModelError",
    "RangeTestResult",
    "RangeTestSettings",
    "ScaledLR",
    "StateSnapshot",
    "Suggestion",
    "analyze",
    "loss_slope",
    "lr_schedule",
    "range_test",
    "run_sweep",
    "scale_lr",
    "smooth_losses",
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
]

# Imported on first use, so ``import lrfinder`` stays light: the report needs matplotlib and the
# callback pytorch_lightning (seconds to import).
_LAZY = {
    "plot_range_test": "report",
    "save_report": "report",
    "LRFinder": "callback",
    "find_lr": "callback",
}
__all__ += ["LRFinder", "find_lr", "plot_range_test", "save_report"]

if TYPE_CHECKING:
    from .callback import LRFinder, find_lr
    from .report import plot_range_test, save_report


def __getattr__(name: str) -> Any:
    """Resolve the lazily imported names (:data:`_LAZY`) on first access."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)
