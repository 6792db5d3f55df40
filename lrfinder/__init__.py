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
from .schedulers import SCHEDULERS, SchedulerSpec, create_scheduler, list_schedulers, preview_schedule
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
    "list_schedulers",
    "preview_schedule",
    "Yogi",
]

# The report imports matplotlib: resolved on first use, so ``import lrfinder`` stays light.
_LAZY_REPORT = ("plot_range_test", "save_report")
__all__ += ["plot_range_test", "save_report"]

if TYPE_CHECKING:
    from .report import plot_range_test, save_report


def __getattr__(name: str) -> Any:
    """Import the lazy attributes (the report functions) on first access."""
    if name in _LAZY_REPORT:
        from . import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# The Lightning callback imports pytorch_lightning (seconds): resolved on first use as well.
_LAZY_CALLBACK = ("LRFinder", "find_lr")
__all__ += ["LRFinder", "find_lr"]

if TYPE_CHECKING:
    from .callback import LRFinder, find_lr

_getattr_before_callback = globals().get("__getattr__")


def __getattr__(name: str) -> Any:  # type: ignore[no-redef]  # noqa: F811
    """Import the Lightning callback on first access; other names go to the previous hook."""
    if name in _LAZY_CALLBACK:
        from . import callback

        return getattr(callback, name)
    if _getattr_before_callback is not None:
        return _getattr_before_callback(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
