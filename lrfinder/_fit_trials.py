"""Round 3 of :mod:`lrfinder.refine` in a Lightning fit: annealed trials with the module's own ``training_step``.

:class:`~lrfinder.LRFinder` (``refine=``) runs, after its sweep and any re-sweeps, short trials at
a few LRs around the curve's reading, each from the exact state the test started from, inside
:func:`lrfinder._lightning.isolation`, judged on the fit's validation loader or on held-out
training batches; under DDP the held-out losses are averaged over ranks and rank 0's pick is
broadcast. The trials themselves are :func:`lrfinder.refine.run_trials` and
:func:`lrfinder.refine.trial_round`, as in the engine. The held-out loss (:func:`val_batches_held`,
:func:`held_out_loss_of`, :func:`held_out_mean`) is also each point of ``LRFinder(curve="val")``.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch

from . import _lightning
from ._checks import sentence
from ._fit_facts import _length, _mean_over_ranks, _val_loader
from ._wording import plural
from .data_parallel import failure_told_to_other_ranks
from .diagnostics import _error_line, raise_training_step_error
from .exceptions import DataError, ModelError
from .range_test import RangeTestResult
from .refine import (
    Refine,
    Refinement,
    Resweep,
    Trial,
    _mean_loss,
    all_diverged_message,
    fewest_over_ranks,
    held_out_count,
    run_trials,
    trial_round,
)
from .snapshot import StateSnapshot

if TYPE_CHECKING:
    import pytorch_lightning as pl

    from .callback import _TestRun


def _said(judged_on: str) -> str:
    """What a fit's refine trials are judged on, in its log lines and errors.

    ``Refinement.judged_on`` says ``"val_data"``, ``range_test``'s argument; a fit has no such argument
    (its trials are judged on the fit's validation loader), so the callback's lines said "judged on val_data".
    """
    return "fit's validation batches" if judged_on == "val_data" else judged_on


def ranks_mean(trainer: pl.Trainer) -> Callable[[list[float]], list[float]]:
    """The element-wise mean over the fit's ranks of a list of floats (the list itself on one process)."""

    def reduce(per_batch: list[float]) -> list[float]:
        return [float(v) for v in _mean_over_ranks(trainer, torch.tensor(per_batch, dtype=torch.float64)).cpu()]

    return reduce


def val_batches_held(
    trainer: pl.Trainer, pl_module: pl.LightningModule, val_loader: Any, count: int, user: str
) -> list[Any]:
    """The first ``count`` batches of the fit's validation loader, on the module's device, to judge a loss on.

    Under DDP the fewest any rank drew (:func:`~lrfinder.refine.fewest_over_ranks`), so every rank holds as many
    and their losses are averaged element by element. ``user`` names what needs them, for the error.

    Raises:
        DataError: The loader yielded no batch (on some rank).

    """
    held: list[Any] = []
    for batch in val_loader:
        held.append(_lightning.to_device(trainer, pl_module, batch))
        if len(held) >= count:
            break
    ranks = int(trainer.world_size) > 1
    if ranks:
        held = held[: fewest_over_ranks(len(held), count, ranks_mean(trainer))]
    if not held:
        where = " on at least one rank" if ranks else ""
        raise DataError(f"The validation dataloader yielded no batch{where}; {user} needs at least one.")
    return held


def held_out_loss_of(trainer: pl.Trainer, pl_module: pl.LightningModule, why: str) -> Callable[[Any], torch.Tensor]:
    """``loss_of(batch)``: the loss ``training_step`` returns on a held-out batch, under the fit's precision.

    The held-out loss of refine's trials and of ``curve="val"``: ``training_step``'s, not ``validation_step``'s
    (which usually logs its metrics rather than returning a loss). ``why`` ends the error of a ``None`` loss.
    """
    strategy = trainer.strategy
    params = list(inspect.signature(pl_module.training_step).parameters.values())
    takes_idx = len(params) >= 2 or any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)

    def loss_of(batch: Any) -> torch.Tensor:
        # Under the fit's precision (autocast), as the fit's own steps run.
        with strategy.precision_plugin.val_step_context():
            out = pl_module.training_step(*((batch, 0) if takes_idx else (batch,)))
        loss = _lightning._loss_of(out, None, {})
        if loss is None:
            raise ModelError(f"training_step returned None on a held-out batch; {why}.")
        return loss

    return loss_of


def held_out_mean(
    loss_of: Callable[[Any], torch.Tensor],
    held: Sequence[Any],
    pl_module: pl.LightningModule,
    reduce: Callable[[list[float]], list[float]],
    *,
    who: str,
    judged_on: str,
    curve: bool,
) -> float:
    """The mean loss over the ``held`` batches (eval mode, no gradients) and over the ranks (``reduce``).

    Refine's baseline, and each point of ``curve="val"`` (``curve=True`` words the errors for it).

    Raises:
        ModelError: ``training_step`` runs a backward of its own, or returns no loss.
        DataError: The batches do not fit the model.

    """
    option, use, leave = (
        ("curve='val'", "curve='val' records", "leave curve='train'")
        if curve
        else ("refine=...", "refine judges its trials on", "leave refine=False")
    )
    try:
        own_losses = _mean_loss(loss_of, held, pl_module)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure here means the batches do not fit the model
        if "does not require grad" in str(exc):
            # Not the data: a training_step that runs a backward of its own (steps a GAN's critic with an
            # optimizer of its own) cannot run under no_grad, and "cannot compute a loss on the held-out
            # batches" sent the user after the batches.
            raise ModelError(
                f"{who}({option}) cannot compute a held-out loss on the {judged_on}: training_step "
                f"runs a backward of its own ({type(exc).__name__}: {_error_line(exc)}; an optimizer it "
                f"steps itself, a GAN's critic), and {use} training_step's loss "
                "evaluated under torch.no_grad() in eval mode. Run that backward and step only while "
                f"training (if torch.is_grad_enabled(): ...), or {leave}."
            ) from exc
        raise DataError(
            f"Cannot compute a loss on the {judged_on} with the module's training_step: {type(exc).__name__}: {exc}"
        ) from exc
    # Outside the try: under DDP a failed all_reduce (another rank stopped) is no fault of these batches.
    return float(sum(reduce(own_losses)) / len(held))


def _refine_trials(
    trainer: pl.Trainer,
    pl_module: pl.LightningModule,
    run: _TestRun,
    result: RangeTestResult,
    refine: Refine,
    *,
    who: str,
    rounds: Sequence[Resweep] = (),
    cost: int = 0,
    notes: Sequence[str] = (),
) -> RangeTestResult:
    """Round 3 of :mod:`lrfinder.refine` with the fit's own stepper, inside the isolation.

    ``run`` is the range test's (:class:`lrfinder.callback._TestRun`), ``who`` what the user called
    (``LRFinder``), for the messages.

    Each trial starts from the exact state the test started from (weights, optimizer, RNGs,
    data order) and everything is restored afterwards. Under DDP the held-out losses are
    averaged over ranks (so every rank takes the same decisions) and rank 0's pick is
    broadcast. ``rounds``, ``cost`` and ``notes`` of round 2 go into the refinement; with
    no trials to run (an inconclusive curve, manual optimization) the refinement still
    records them when round 2 ran.
    """
    s = result.suggestion
    skip_why = None
    if s is None:
        skip_why = f"no trials: the curve is inconclusive. {sentence(result.error)}"
    elif not pl_module.automatic_optimization:
        skip_why = "no trials: refine's trials run under automatic optimization only"
        _lightning.warn(trainer, f"{who}: refine's trials run under automatic optimization only; skipped.")
    if skip_why is not None or s is None:
        if not rounds:
            return result
        _, _, _, budget = refine.plan()
        judged_on = "val_data" if _val_loader(trainer) is not None else "held-out training batches"
        empty = Refinement(
            (), None, None, None, refine.schedule, int(refine.training_steps),  # type: ignore[arg-type]
            budget, judged_on, tuple(rounds), cost, (*notes, str(skip_why)),
        )
        return replace(result, refinement=empty)
    candidates, _, steps, _ = refine.plan()
    total = int(refine.training_steps)  # type: ignore[arg-type]  # _refine_settings set it
    strategy = trainer.strategy
    notes = list(notes)
    val_loader = _val_loader(trainer)

    reduce = ranks_mean(trainer)
    # Under DDP every rank judges the trials on as many held-out batches (their losses are averaged element by
    # element): a rank whose loader is shorter (its own shard, no DistributedSampler) held out fewer before.
    ranks = int(trainer.world_size) > 1
    skip = 0
    if val_loader is None:
        size = _length(run.batches.loader)
        skip = held_out_count(refine.val_batches, size, reduce if ranks else None, notes)
        if size is not None and size <= skip:
            raise DataError(
                f"The training loader yields only {size} batch(es) per pass: too few to hold out "
                "a batch for refine and still train on one. Add a validation loader (refine judges its trials on "
                "it), or split the training data into more batches."
            )
    judged_on = "val_data" if val_loader is not None else "held-out training batches"
    loaders = [run.batches.loader, run.train_loader] + ([val_loader] if val_loader is not None else [])
    # Each trial starts from the data's draw state after the held-out batches: every RNG and counter below
    # the loaders (snapshot._DataState), not only their .generator, so every trial sees the same batches.
    data = [lo for loader in loaders for lo in _lightning.flat_loaders(loader)]
    optimizer = run.optimizers[0]
    # The trials can take longer than the sweep: a bar of their own, as the sweep's, counting judged trials.
    # Made before the isolation, which takes the fit's callbacks (its progress bar among them) away.
    bar = _lightning.progress_bar(trainer, candidates, desc="Refining LR")

    # A rank failing in the trials (its held-out batch, a trial's step) ends its process: the others, waiting in the
    # held-out losses' all-reduce, name it and its error rather than gloo's "Connection closed by peer" (as the sweep).
    told = failure_told_to_other_ranks(int(trainer.global_rank), int(trainer.world_size), f"{who}'s refine trials")
    with told, _lightning.isolation(trainer, pl_module, run.optimizers, run.configs, loaders) as logged, (
        contextlib.closing(bar) if bar is not None else contextlib.nullcontext()
    ):
        if val_loader is not None:
            held = val_batches_held(trainer, pl_module, val_loader, refine.val_batches, "refine")
        else:
            first = _lightning.TrainBatches(trainer, pl_module, run.batches.loader)
            held = [first.next()[0] for _ in range(skip)]
        snapshot = StateSnapshot(
            pl_module, run.optimizers, data, module_attributes=True, wrapper=_lightning.strategy_model(trainer)
        )

        loss_of = held_out_loss_of(trainer, pl_module, "refine cannot judge it")
        stepper: list[Any] = []

        def reset() -> None:
            batches = _lightning.TrainBatches(trainer, pl_module, run.batches.loader, skip=skip)
            stepper[:] = [
                _lightning.make_stepper(
                    trainer, pl_module, batches, run.optimizers, logged, accumulate=run.settings.accumulate_steps
                )
            ]

        # The trial running (its index and LR, from on_trial) and its steps taken, for an error of the module's code.
        trial: list[Any] = [0, 0.0, 0]

        def step() -> float:
            # At the LR the trial's schedule set for this step, read back from the optimizer (the largest
            # group's, as the sweep records it): a DataError for NaN in the batch names it (it said "lr=nan").
            try:
                loss = float(stepper[0](max(float(group["lr"]) for group in optimizer.param_groups)))
            except Exception as exc:
                # As the sweep's steps: torch's bare error (a shape the batch does not fit) named neither the test
                # nor the trial. An out-of-memory stays torch's, for code that lowers the batch size on it.
                leave_out = "leave refine out (refine=False)"
                raise_training_step_error(exc, who, trial[2], trial[1], leave_out, trial=trial[0])
            trial[2] += 1
            return loss

        baseline = held_out_mean(loss_of, held, pl_module, reduce, who=who, judged_on=_said(judged_on), curve=False)
        snapshot.restore()

        ran: list[Trial] = []

        def on_trial(index: int, lr: float, steps_done: int, loss: float) -> None:
            if steps_done == 0 and math.isnan(loss):  # a trial starts
                trial[:] = [index, lr, 0]
            if bar is None or steps_done == 0:
                return
            bar.total = max(bar.total, index + 1)  # an extension trial beyond the candidates
            bar.set_postfix(lr=f"{lr:.2e}", held_out=f"{loss:.4g}", refresh=False)
            bar.update(1)

        def trials_at(lrs: Sequence[float]) -> list[Trial]:
            trials = run_trials(
                model=pl_module, optimizer=optimizer, lrs=lrs, steps=steps, training_steps=total,
                refine=refine, snapshot=snapshot, next_batch=lambda: None, loss_of=loss_of, held_out=held,
                baseline=baseline, reset_stream=reset, step=step, reduce=reduce, train_mode=False,
                floor=s.min_lr / s.max_lr, on_trial=on_trial, first_index=len(ran),
            )
            ran.extend(trials)
            return trials

        refinement = trial_round(
            s, refine, trials_at, judged_on=judged_on, rounds=rounds, cost=cost, notes=notes
        )
    picked = strategy.broadcast((refinement.lr, refinement.max_lr), src=0)
    refinement = replace(refinement, lr=picked[0], max_lr=picked[1])
    picked_lr = "none (see result.refinement.notes)" if refinement.lr is None else f"{refinement.lr:.2e}"
    _lightning.info(
        trainer,
        f"{who}: refined lr={picked_lr} from {plural(len(refinement.trials), 'trial')} of {plural(steps, 'step')} "
        f"({refinement.cost_steps} steps, judged on the {_said(judged_on)})",
    )
    refined = replace(result, refinement=refinement)
    diverged = all_diverged_message(refined)
    if diverged is not None:
        _lightning.warn(trainer, f"{who}: {diverged}")
    return refined
