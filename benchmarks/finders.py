"""Adapters that run each LR finder on a benchmark task with the finder's own defaults.

Every adapter gets the same thing: the task's model freshly built from ``seed``, the task's
optimizer, and a shuffling DataLoader whose order is fixed by ``seed``. It returns a
:class:`Finding`: the suggested LR (``None`` on failure), the recorded curve and why it failed.

* ``lrfinder``: :func:`lrfinder.range_test` (1e-7 .. 10, 100 steps, stop at 4x, rule
  :data:`lrfinder.DEFAULT_RULE`); ``max_lr`` is :attr:`Suggestion.max_lr` for one-cycle.
* ``lrfinder_cb``: the Lightning callback :func:`lrfinder.callback.find_lr`, when present.
* ``lightning``: ``Tuner(trainer).lr_find(...)`` (1e-8 .. 1, 100 steps, stop at 4x,
  steepest gradient) and ``.suggestion()``.
* ``torch_lr_finder``: ``torch_lr_finder.LRFinder`` with an optimizer at lr=1e-7 as in its
  README, ``range_test(loader, end_lr=10, num_iter=100)`` and the suggestion of ``plot()``
  (steepest gradient, skipping 10 points at the start and 5 at the end).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from .tasks import Task

__all__ = ["Finding", "FINDERS", "available_finders", "run_finder", "LitTask"]


@dataclass
class Finding:
    """What one finder said on one task and seed."""

    finder: str
    seed: int
    lr: float | None
    max_lr: float | None = None
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["losses"] = [v if math.isfinite(v) else str(v) for v in self.losses]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        d = dict(d)
        d["losses"] = [float(v) for v in d["losses"]]
        return cls(**d)


def _valid(lr: object) -> float | None:
    if lr is None:
        return None
    try:
        value = float(lr)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


# --------------------------------------------------------------------------------------------
# Plain engine
# --------------------------------------------------------------------------------------------


def find_lrfinder(task: Task, seed: int) -> Finding:
    from lrfinder import range_test

    model = task.build(seed)
    opt = task.optimizer(model.parameters(), 1e-3)
    result = range_test(model, task.loader(seed), optimizer=opt, loss_fn=task.loss_fn)
    s = result.suggestion
    extra: dict[str, Any] = {"stop_reason": result.stop_reason}
    if s is not None:
        extra.update(steepest_lr=s.steepest_lr, min_loss_lr=s.min_loss_lr, divergence_lr=s.divergence_lr,
                     min_lr=s.min_lr, confidence=s.confidence, rule=s.rule)
    return Finding("lrfinder", seed, s.lr if s else None, s.max_lr if s else None, list(result.lrs),
                   list(result.losses), result.error, extra=extra)


# --------------------------------------------------------------------------------------------
# Lightning
# --------------------------------------------------------------------------------------------


def _quiet_lightning() -> None:
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric", "lrfinder"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    warnings.filterwarnings("ignore", module="lightning_fabric")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")


def _lit_module_class() -> type:
    import pytorch_lightning as pl

    class _LitTask(pl.LightningModule):
        """The task's model and optimizer as a LightningModule with an ``lr`` attribute."""

        def __init__(self, task: Task, seed: int, lr: float = 1e-3) -> None:
            super().__init__()
            self.task = task
            self.model = task.build(seed)
            self.lr = lr

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.model(x)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            return self.task.loss_fn(self.model(x), y)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return self.task.optimizer(self.parameters(), self.lr)

    return _LitTask


def LitTask(task: Task, seed: int, lr: float = 1e-3) -> Any:  # noqa: N802 - a class factory
    """Build the LightningModule for ``task`` (Lightning imported lazily)."""
    return _lit_module_class()(task, seed, lr)


def _trainer(root: str, **kwargs: Any) -> Any:
    import pytorch_lightning as pl

    options: dict[str, Any] = dict(
        accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=root, max_epochs=1000,
    )
    options.update(kwargs)
    return pl.Trainer(**options)


def find_lightning(task: Task, seed: int) -> Finding:
    from pytorch_lightning.tuner import Tuner

    _quiet_lightning()
    module = LitTask(task, seed)
    with tempfile.TemporaryDirectory() as root, contextlib.redirect_stdout(io.StringIO()):
        trainer = _trainer(root)
        finder = Tuner(trainer).lr_find(module, train_dataloaders=task.loader(seed))
    if finder is None:
        return Finding("lightning", seed, None, error="lr_find returned None")
    lr = _valid(finder.suggestion())
    return Finding("lightning", seed, lr, lr, [float(v) for v in finder.results["lr"]],
                   [float(v) for v in finder.results["loss"]], None if lr else "no suggestion")


def find_lrfinder_callback(task: Task, seed: int) -> Finding:
    from lrfinder.callback import find_lr  # type: ignore[import-not-found]

    _quiet_lightning()
    module = LitTask(task, seed)
    with tempfile.TemporaryDirectory() as root, contextlib.redirect_stdout(io.StringIO()):
        trainer = _trainer(root)
        result = find_lr(module, train_dataloaders=task.loader(seed), trainer=trainer)
    s = getattr(result, "suggestion", None)
    return Finding("lrfinder_cb", seed, s.lr if s else None, s.max_lr if s else None,
                   [float(v) for v in result.lrs], [float(v) for v in result.losses], getattr(result, "error", None))


# --------------------------------------------------------------------------------------------
# torch-lr-finder
# --------------------------------------------------------------------------------------------


def find_torch_lr_finder(task: Task, seed: int) -> Finding:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from torch_lr_finder import LRFinder

    model = task.build(seed)
    opt = task.optimizer(model.parameters(), 1e-7)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder = LRFinder(model, opt, task.loss_fn, device="cpu")
        finder.range_test(task.loader(seed), end_lr=10, num_iter=100)
        lrs = [float(v) for v in finder.history["lr"]]
        losses = [float(v) for v in finder.history["loss"]]
        fig, ax = plt.subplots()
        try:
            _, lr = finder.plot(ax=ax)
        except (RuntimeError, ValueError) as exc:
            return Finding("torch_lr_finder", seed, None, None, lrs, losses, f"{type(exc).__name__}: {exc}")
        finally:
            plt.close(fig)
        finder.reset()
    lr = _valid(lr)
    return Finding("torch_lr_finder", seed, lr, lr, lrs, losses, None if lr else "no suggestion")


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------

FINDERS: dict[str, Callable[[Task, int], Finding]] = {
    "lrfinder": find_lrfinder,
    "lrfinder_cb": find_lrfinder_callback,
    "lightning": find_lightning,
    "torch_lr_finder": find_torch_lr_finder,
}


def available_finders() -> list[str]:
    """The finders that can run here (the callback only once ``lrfinder.callback`` exists)."""
    names = ["lrfinder"]
    try:
        import lrfinder.callback  # noqa: F401
    except ImportError:
        pass
    else:
        names.append("lrfinder_cb")
    names.append("lightning")
    try:
        import torch_lr_finder  # noqa: F401
    except ImportError:
        pass
    else:
        names.append("torch_lr_finder")
    return names


def run_finder(name: str, task: Task, seed: int) -> Finding:
    """Run one finder; any exception becomes a failed :class:`Finding` (a failure is a result)."""
    os.environ.setdefault("PL_DISABLE_FORK", "1")
    start = time.perf_counter()
    try:
        finding = FINDERS[name](task, seed)
    except Exception as exc:  # noqa: BLE001 - a crash of a finder is what we measure
        finding = Finding(name, seed, None, error=f"{type(exc).__name__}: {exc}"[:300])
    finding.seconds = time.perf_counter() - start
    return finding


def model_size_bytes(model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> int:
    """Bytes of the parameters plus the optimizer's tensor state."""
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    if optimizer is not None:
        for state in optimizer.state.values():
            total += sum(v.numel() * v.element_size() for v in state.values() if isinstance(v, torch.Tensor))
    return total
