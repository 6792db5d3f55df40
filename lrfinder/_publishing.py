"""What :class:`~lrfinder.LRFinder` tells the loggers: the ``lr_finder/*`` metrics, the curve, the trials.

The summary goes into ``trainer.callback_metrics`` (which survive ``ddp_spawn``) and every
logger; the curve and refine's trials as a CSV next to a ``CSVLogger``'s files, a ``log_table``
where the logger has one, or TensorBoard scalars; a hyper-parameter the callback set (the LR, the
batch size) is logged again so ``hparams.yaml`` says it.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from . import _lightning
from ._checks import has_class_named
from .noise import format_batch
from .range_test import RangeTestResult
from .refine import Refinement

if TYPE_CHECKING:
    import pytorch_lightning as pl


def _send_metrics(trainer: pl.Trainer, metrics: Mapping[str, float]) -> None:
    """Put ``metrics`` in ``trainer.callback_metrics`` and log them to every logger (rank zero).

    ``callback_metrics`` survive ``ddp_spawn``: they are sent back to the main process, where they are
    all a user reads of the result, so they hold the values exactly (float64: torch's default float32
    rounded an applied LR of 0.106 to 0.10599999874830246, which set by hand trained at another LR).
    """
    trainer.callback_metrics.update({k: torch.tensor(v, dtype=torch.float64) for k, v in metrics.items()})
    if trainer.is_global_zero:
        for lg in trainer.loggers:
            lg.log_metrics(dict(metrics), step=trainer.global_step)


def _log_hyperparameter(trainer: pl.Trainer, name: str, value: Any) -> None:
    """Log one hyper-parameter again to every logger (rank zero), ``hparams.yaml`` included.

    A logger that refuses a changed value (MLflow) keeps its own, with a warning.
    """
    for lg in trainer.loggers:
        try:
            lg.log_hyperparams({name: value})
            _lightning.rewrite_hparams_file(trainer, lg)
        except Exception as exc:  # e.g. MLflow refuses to change a logged parameter
            _lightning.warn(
                trainer, f"LRFinder: {type(lg).__name__} keeps the logged {name} ({type(exc).__name__}: {exc})"
            )


def _summary_metrics(result: RangeTestResult) -> dict[str, float]:
    metrics: dict[str, float] = {"lr_finder/num_steps": float(result.num_steps)}
    s = result.suggestion
    if s is not None:
        metrics.update(
            {
                "lr_finder/suggested_lr": s.lr,
                "lr_finder/steepest_lr": s.steepest_lr,
                "lr_finder/min_loss_lr": s.min_loss_lr,
                "lr_finder/min_lr": s.min_lr,
                "lr_finder/max_lr": s.max_lr,
                "lr_finder/confidence": s.confidence,
            }
        )
        if s.divergence_lr is not None:
            metrics["lr_finder/divergence_lr"] = s.divergence_lr
    if result.lr is not None:
        metrics["lr_finder/lr"] = result.lr
    f = result.refinement
    if f is not None:
        for i, trial in enumerate(f.trials):
            metrics[f"lr_finder/trial_{i}_lr"] = trial.lr
            metrics[f"lr_finder/trial_{i}_heldout"] = trial.held_out_loss
        if f.lr is not None:
            metrics["lr_finder/refined_lr"] = f.lr
        metrics["lr_finder/refine_cost_steps"] = float(f.cost_steps)
        metrics["lr_finder/resweeps"] = float(len(f.rounds))
    return metrics


def _log_curve(lg: Any, result: RangeTestResult) -> None:
    """The curve as a table: a CSV next to the logger's files, or ``log_table`` where it exists."""
    smoothed = result.suggestion.smoothed_losses if result.suggestion is not None else (math.nan,) * result.num_steps
    rows = [[i, lr, loss, sm] for i, (lr, loss, sm) in enumerate(zip(result.lrs, result.losses, smoothed))]
    columns = ["step", "lr", "loss", "smoothed_loss"]
    log_dir = getattr(lg, "log_dir", None)
    # By name, of either Lightning package, and of a subclass of it (a project's own CSVLogger).
    if has_class_named(lg, "CSVLogger") and log_dir:
        path = Path(log_dir) / "lr_finder_curve.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(rows)
        if result.refinement is not None:
            with (path.parent / "lr_finder_trials.csv").open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(TRIAL_COLUMNS)
                writer.writerows(_trial_rows(result.refinement))
    elif hasattr(lg, "log_table"):
        lg.log_table(key="lr_finder/curve", columns=columns, data=rows)
        if result.refinement is not None:
            lg.log_table(key="lr_finder/trials", columns=list(TRIAL_COLUMNS), data=_trial_rows(result.refinement))
    else:
        experiment: Any = getattr(lg, "experiment", None)
        if hasattr(experiment, "add_scalar"):  # TensorBoard: loss against the step of the sweep
            for i, lr, loss, _ in rows:
                if math.isfinite(loss):
                    experiment.add_scalar("lr_finder/curve_loss", loss, global_step=i)
                experiment.add_scalar("lr_finder/curve_lr", lr, global_step=i)


#: Columns of ``lr_finder_trials.csv`` (one row per refine trial).
TRIAL_COLUMNS = ("trial", "lr", "schedule", "steps", "final_train_loss", "held_out_loss", "diverged", "picked")


def _trial_rows(f: Refinement) -> list[list[Any]]:
    return [
        [i, t.lr, t.schedule, t.steps, t.train_losses[-1] if t.train_losses else math.nan, t.held_out_loss,
         int(t.diverged), int(f.lr is not None and t.lr == f.lr)]
        for i, t in enumerate(f.trials)
    ]


def _describe(result: RangeTestResult) -> str:
    s = result.suggestion
    on = " on the validation loss" if result.settings.curve == "val" else ""
    text = f"suggested {s.lr:.2e}{on}, confidence {s.confidence:.2f}" if s is not None else f"no suggestion{on}"
    if result.scaled is not None and result.scaled.factor != 1.0:
        sc = result.scaled
        text += (
            f", scaled x{sc.factor:.3g} ({sc.rule}) from batch {format_batch(sc.from_batch_size)} to "
            f"{format_batch(sc.to_batch_size)}"
        )
    return text
