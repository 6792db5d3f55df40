"""LRFinder beside Lightning's callbacks and Trainer options that act on the optimizer and its schedule.

Each test failed on the code before it (the third Lightning audit): a real ``Trainer.fit`` on a
tiny model, checking what training steps with after the test.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from _models import FAST, LIGHTNING_VERSION, TINY_FIT_WARNINGS, DataModule, Net, make_loader, pl, trainer
from torch import nn

from lrfinder.callback import LRFinder

pytestmark = [
    pytest.mark.usefixtures("seeded_one_thread"),
    pytest.mark.filterwarnings(*TINY_FIT_WARNINGS),
]


class Backboned(pl.LightningModule):
    """A backbone for ``BackboneFinetuning`` to freeze, a head, and each epoch's param groups as training starts it."""

    def __init__(self) -> None:
        super().__init__()
        self.lr = 0.01
        self.backbone = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
        self.head = nn.Linear(16, 3)
        self.epoch_groups: list[list[tuple[frozenset[int], float]]] = []

    def on_train_epoch_start(self) -> None:  # after the callbacks' (BackboneFinetuning's) own
        groups = self.trainer.optimizers[0].param_groups
        self.epoch_groups.append([(frozenset(id(p) for p in g["params"]), g["lr"]) for g in groups])

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(self.head(self.backbone(x)), y)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD([p for p in self.parameters() if p.requires_grad], lr=self.lr)


def test_optimizer_option_leaves_out_what_a_finetuning_callback_froze(tmp_path: Path) -> None:
    # The registry optimizer kept the frozen backbone in its groups, so BackboneFinetuning found it there at the
    # unfreeze ("already exist within another group ... skipped"): the backbone trained at the head's LR, not
    # at a tenth of it, and the LR it set for the backbone in later epochs went to the head's no-decay group.
    model = Backboned()
    finder = LRFinder(**FAST, optimizer="adamw")
    finetuning = pl.callbacks.BackboneFinetuning(unfreeze_backbone_at_epoch=1)
    t = trainer(tmp_path, [finder, finetuning], max_epochs=2, max_steps=-1)
    t.fit(model, make_loader())
    lr = finder.applied_lr
    assert lr is not None and finder.result is not None
    head = frozenset(id(p) for p in model.head.parameters())
    backbone = frozenset(id(p) for p in model.backbone.parameters())
    first, second = model.epoch_groups
    # AdamW's decay (head.weight) and no-decay (head.bias) groups, both at the found LR: the head alone.
    assert [lr_ for _, lr_ in first] == [lr, lr] and frozenset().union(*(ids for ids, _ in first)) == head
    # At the unfreeze, the backbone is a group of its own at backbone_initial_ratio_lr (0.1) of the LR.
    assert second[:2] == first and second[2] == (backbone, lr * 0.1)


class ValNet(Net):
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", F.cross_entropy(self.head(self.body(x)), y))


def test_plateau_on_a_val_metric_steps_only_after_epochs_that_validate(tmp_path: Path) -> None:
    # check_val_every_n_epoch=2: Lightning stepped the plateau schedule after every epoch, and the first one,
    # which logs no val_loss, stopped the fit after the test ("conditioned on metric val_loss which is not
    # available"). Lightning's rule: a frequency that is a multiple of check_val_every_n_epoch.
    finder = LRFinder(
        optimizer="sgd", scheduler="plateau", scheduler_settings={"patience": 0}, report=tmp_path / "r.png", **FAST
    )
    t = trainer(tmp_path, [finder], max_epochs=4, max_steps=-1, check_val_every_n_epoch=2)
    t.fit(ValNet(), make_loader(), make_loader(64))
    config = t.lr_scheduler_configs[0]
    assert config.monitor == "val_loss" and config.interval == "epoch" and config.frequency == 2
    assert config.scheduler.last_epoch == 2  # after epochs 2 and 4, each time on a new val_loss
    # The report's plan reads the metric as often: once in the fit (after 16 of its 32 steps, the best so far),
    # so patience 0 never lowers it; read after each 8-step epoch, it planned a decay from step 17 on.
    assert finder._schedule_preview == pytest.approx([finder.applied_lr] * 32)


@pytest.mark.parametrize(("every", "interval", "frequency", "steps"), [(4, "step", 4, 8), (16, "epoch", 2, 2)])
def test_plateau_on_a_val_metric_steps_once_per_step_based_validation(
    tmp_path: Path, every: int, interval: str, frequency: int, steps: int
) -> None:
    # Trainer(val_check_interval=N, check_val_every_n_epoch=None): validation every N batches of the fit, here over
    # 4 epochs of 8 batches. The schedule stepped once per epoch: every 4 batches it read one validation in two;
    # every 16, the first epoch ended without val_loss and Lightning stopped the fit after the test.
    finder = LRFinder(optimizer="sgd", scheduler="plateau", scheduler_settings={"patience": 0}, **FAST)
    t = trainer(tmp_path, [finder], max_epochs=4, max_steps=-1, val_check_interval=every, check_val_every_n_epoch=None)
    t.fit(ValNet(), make_loader(), make_loader(64))
    config = t.lr_scheduler_configs[0]
    assert (config.monitor, config.interval, config.frequency) == ("val_loss", interval, frequency)
    assert config.scheduler.last_epoch == steps == 32 // every  # once after each validation
    assert t.global_step == 32


def test_plateau_on_a_val_metric_validated_out_of_step_with_the_epochs_fails_before_the_test(tmp_path: Path) -> None:
    # Every 12 batches over 8-batch epochs: epoch 1 ends before any validation, epoch 4 after a stale one. Lightning
    # said "conditioned on metric val_loss which is not available" at the end of epoch 1, after the whole test.
    finder = LRFinder(optimizer="sgd", scheduler="plateau", **FAST)
    t = trainer(tmp_path, [finder], max_epochs=4, max_steps=-1, val_check_interval=12, check_val_every_n_epoch=None)
    with pytest.raises(ValueError, match=r"^LRFinder\(scheduler='plateau'\) steps on monitor='val_loss', but "
                       r"Trainer\(val_check_interval=12, check_val_every_n_epoch=None\) validates every 12 training "
                       r"batches and an epoch has 8.*Set val_check_interval to a multiple or a divisor of 8.*"
                       r"'monitor': 'train_loss'"):  # fmt: skip
        t.fit(ValNet(), make_loader(), make_loader(64))
    assert finder.result is None and t.global_step == 0


@pytest.mark.skipif(LIGHTNING_VERSION < (2, 6), reason="Lightning < 2.6 has no val_check_interval by the clock "
                    "('00:00:00:30'): its Trainer refuses the string itself")
def test_plateau_on_a_val_metric_validated_by_the_clock_fails_before_the_test(tmp_path: Path) -> None:
    # By the clock: no validation before the first epoch ends, the same stop as validating out of step.
    finder = LRFinder(optimizer="sgd", scheduler="plateau", **FAST)
    t = trainer(tmp_path, [finder], max_epochs=2, max_steps=-1, val_check_interval="00:00:00:30")
    with pytest.raises(ValueError, match=r"validates by the clock \(every 30 s\).*check_val_every_n_epoch=N"):
        t.fit(ValNet(), make_loader(), make_loader(64))
    assert finder.result is None and t.global_step == 0


class ValData(DataModule):
    def val_dataloader(self) -> Any:
        return make_loader(64, shuffle=False)


def test_plateau_stepping_is_judged_at_target_batch_sizes_epochs_before_the_test(tmp_path: Path) -> None:
    # 256 examples: 8 batches of 32 an epoch, validated every 4; target_batch_size=96 makes epochs of 3 batches,
    # out of step with the validation. That was found only after the whole test, once the loader was rebuilt.
    finder = LRFinder(optimizer="sgd", scheduler="plateau", target_batch_size=96, **FAST)
    model = ValNet()
    t = trainer(tmp_path, [finder], max_epochs=4, max_steps=-1, val_check_interval=4, check_val_every_n_epoch=None)
    with pytest.raises(ValueError, match=r"validates every 4 training batches and an epoch has 3 at the batch of 96 "
                       r"per device that target_batch_size=96 sets, so some epochs end without a new val_loss.*"
                       r"a multiple or a divisor of 3"):  # fmt: skip
        t.fit(model, datamodule=ValData())
    assert finder.result is None and model.test_events() == []
    # Epochs of 4 batches at 64 validate at their ends: the schedule steps once after each validation.
    finder = LRFinder(optimizer="sgd", scheduler="plateau", scheduler_settings={"patience": 0}, target_batch_size=64,
                      **FAST)  # fmt: skip
    t = trainer(tmp_path, [finder], max_epochs=4, max_steps=-1, val_check_interval=4, check_val_every_n_epoch=None)
    t.fit(ValNet(), datamodule=ValData())
    config = t.lr_scheduler_configs[0]
    assert (config.interval, config.frequency, config.scheduler.last_epoch, t.global_step) == ("step", 4, 4, 16)


class EpochStartLRFinder(pl.callbacks.LearningRateFinder):
    """Lightning's fine-tuning recipe: ``lr_find`` at the start of the first epoch, not at fit start."""

    def on_fit_start(self, *args: Any, **kwargs: Any) -> None:
        return

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.current_epoch == 0:
            self.lr_find(trainer, pl_module)


def test_a_learning_rate_finder_that_runs_after_the_test_is_said_to_set_the_lr(tmp_path: Path) -> None:
    # The warning said LRFinder runs after Lightning's LearningRateFinder, so that LRFinder's LR wins: this one
    # runs lr_find as the first epoch starts, after LRFinder's test, and training ran at the LR it set (Lightning
    # >= 2.6). Before 2.6 its lr_find sets the module's lr and puts the optimizer back from its checkpoint: training
    # runs at LRFinder's LR, which the warning ("training runs at that LR") denied.
    finder = LRFinder(**FAST)
    model = Net()
    lightning_finder = EpochStartLRFinder(num_training_steps=30, early_stop_threshold=None)
    t = trainer(tmp_path, [lightning_finder, finder], max_steps=2)
    said = (
        r"not at the LR LRFinder applied" if LIGHTNING_VERSION >= (2, 6) else rf"under Lightning {pl.__version__} it "
        r"sets the module's LR attribute to its own suggestion but leaves the optimizer's LR as it was, so training "
        r"runs at the LR LRFinder applied \(finder.applied_lr\) while the attribute says another\. Keep one"
    )
    with pytest.warns(UserWarning, match=r"EpochStartLRFinder, a Lightning LearningRateFinder, .*its "
                      rf"on_train_epoch_start runs after LRFinder's test.*{said}"):
        t.fit(model, make_loader())
    assert finder.applied_lr is not None and lightning_finder.optimal_lr is not None
    trained_at = model.train_events()[-1][1][0]  # the fit's last step (lr_find's own steps come first)
    assert model.lr == lightning_finder.optimal_lr.suggestion() != finder.applied_lr
    assert trained_at == (model.lr if LIGHTNING_VERSION >= (2, 6) else finder.applied_lr)


class HardCodedBackboned(Backboned):
    """:class:`Backboned` at a hard-coded LR (no attribute: the found LR rescales the groups), counting its epochs."""

    def __init__(self) -> None:
        super().__init__()
        del self.lr
        self.epochs_started = 0

    def on_train_epoch_start(self) -> None:  # bookkeeping only: it sets no LR
        self.epochs_started += 1
        super().on_train_epoch_start()

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD([p for p in self.parameters() if p.requires_grad], lr=0.01)


@pytest.mark.filterwarnings("error:.*set them to others")
def test_a_group_a_finetuning_callback_adds_is_not_said_to_be_an_lr_the_module_set(tmp_path: Path) -> None:
    # Without an attribute, a module with its own on_train_epoch_start is checked for setting the LR itself at the
    # first steps. BackboneFinetuning's new group (the backbone, unfrozen at epoch 0) was read as that: "its
    # on_train_epoch_start set them to others before the first training steps (nan)".
    model = HardCodedBackboned()
    finder = LRFinder(**FAST)
    finetuning = pl.callbacks.BackboneFinetuning(unfreeze_backbone_at_epoch=0)
    t = trainer(tmp_path, [finder, finetuning], max_epochs=1, max_steps=3)
    t.fit(model, make_loader())
    lr = finder.applied_lr
    assert lr is not None and model.epochs_started == 1
    backbone = frozenset(id(p) for p in model.backbone.parameters())
    (groups,) = model.epoch_groups
    assert [g[1] for g in groups] == [lr, lr * 0.1] and groups[1][0] == backbone
    assert [[g["lr"] for g in opt.param_groups] for opt in t.optimizers] == [[lr, lr * 0.1]]


def test_a_schedule_that_cannot_take_the_unfrozen_group_is_refused_before_training(tmp_path: Path) -> None:
    # OneCycleLR keeps max_lr/initial_lr per group from its construction: the backbone's group BackboneFinetuning
    # adds at epoch 1 failed it there, with torch's KeyError 'initial_lr', after epoch 0 had trained.
    model = Backboned()
    finder = LRFinder(**FAST, optimizer="adamw", scheduler="onecycle")
    finetuning = pl.callbacks.BackboneFinetuning(unfreeze_backbone_at_epoch=1)
    t = trainer(tmp_path, [finder, finetuning], max_epochs=2, max_steps=-1)
    with pytest.raises(ValueError, match=r"^LRFinder\(scheduler='onecycle'\) builds OneCycleLR, which keeps one value "
                       r"per param group from the start, but BackboneFinetuning adds a param group"):  # fmt: skip
        t.fit(model, make_loader())
    assert finder.result is not None and finder.result.lr is not None  # the test ran and found an LR
    assert model.epoch_groups == []  # no epoch trained


def test_train_refuses_such_a_schedule_and_takes_a_warm_up_that_ends_before_the_unfreeze(tmp_path: Path) -> None:
    from lrfinder import train

    def sgd(m: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.01)

    def finetuning() -> Any:
        return pl.callbacks.BackboneFinetuning(unfreeze_backbone_at_epoch=1)

    # LambdaLR's multipliers are one per group: "zip() argument 2 is shorter than argument 1" at epoch 1.
    with pytest.raises(ValueError, match=r"^train\(scheduler='constant'\) builds LambdaLR, which keeps one value per "
                       r"param group from the start.*'cosine', 'step'"):  # fmt: skip
        train(Backboned(), make_loader(), optimizer=sgd, scheduler="constant", epochs=2, callbacks=[finetuning()])
    model = Backboned()
    result = train(model, make_loader(), optimizer=sgd, scheduler="cosine", warmup_steps=2, epochs=2,
                   callbacks=[finetuning()])  # fmt: skip
    assert len(model.epoch_groups) == 2 and len(model.epoch_groups[1]) == 2  # the backbone's group was added
    assert len(result.lrs) == 2 * len(make_loader())


def test_a_warm_up_still_running_at_the_unfreeze_is_refused_before_training(tmp_path: Path) -> None:
    # cosine after a warm-up of 9 steps, the backbone unfrozen at epoch 1 after 8: the warm-up's LambdaLR failed
    # there with torch's "zip() argument 2 is shorter than argument 1", after epoch 0 had trained.
    def fit(warmup: int) -> tuple[Backboned, LRFinder]:
        model = Backboned()
        finder = LRFinder(**FAST, optimizer="sgd", scheduler="cosine", scheduler_settings={"warmup_steps": warmup})
        finetuning = pl.callbacks.BackboneFinetuning(unfreeze_backbone_at_epoch=1)
        trainer(tmp_path, [finder, finetuning], max_epochs=2, max_steps=-1).fit(model, make_loader())
        return model, finder

    with pytest.raises(ValueError, match=r"^LRFinder\(scheduler='cosine'\) warms up for 9 optimizer steps, but "
                       r"BackboneFinetuning unfreezes the backbone at epoch 1, after 8 optimizer steps, while the "
                       r"warm-up still runs.*Warm up for at most 8 steps "
                       r"\(scheduler_settings=\{'warmup_steps': 8\}\)"):  # fmt: skip
        fit(9)
    model, finder = fit(8)  # over by the unfreeze: trains on, the backbone in a group of its own
    # sgd's decay and no-decay groups for the head, and at epoch 1 the backbone's
    assert finder.applied_lr is not None and [len(groups) for groups in model.epoch_groups] == [2, 3]


class _Stream(torch.utils.data.IterableDataset):
    """The batches of ``make_loader(shuffle=False)`` from a loader without a length."""

    def __iter__(self) -> Any:
        return iter(list(make_loader(shuffle=False)))


@pytest.mark.parametrize(
    ("sized", "at", "said"),
    [
        (True, 1, r"epoch 1, after 8 optimizer steps.*Warm up for at most 8 steps \(warmup_steps=8\)"),
        # An unfreeze at epoch 0 comes after no step whatever the loader's length; train judged it only over a loader
        # with one, and the warm-up's LambdaLR failed with torch's "zip() argument 2 is shorter than argument 1".
        (False, 0, r"epoch 0, after 0 optimizer steps.*\(warmup_steps=0, no warm-up\)"),
    ],
)
def test_train_refuses_a_warm_up_still_running_at_the_unfreeze(tmp_path: Path, sized: bool, at: int, said: str) -> None:
    from lrfinder import train

    model = Backboned()
    sgd = lambda m: torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.01)  # noqa: E731
    data = make_loader() if sized else torch.utils.data.DataLoader(_Stream(), batch_size=None)
    # exponential: a schedule that needs no total_steps, which a loader without a length cannot give.
    with pytest.raises(ValueError, match=r"^train\(scheduler='exponential'\) warms up for 9 optimizer steps, but "
                       r"BackboneFinetuning unfreezes the backbone at " + said):  # fmt: skip
        train(model, data, optimizer=sgd, scheduler="exponential", scheduler_settings={"gamma": 0.99}, warmup_steps=9,
              epochs=2, callbacks=[pl.callbacks.BackboneFinetuning(unfreeze_backbone_at_epoch=at)])  # fmt: skip
    assert model.epoch_groups == []  # refused as training starts


class GrowingData(pl.LightningDataModule):
    """A curriculum: the train loader, built again every epoch, grows by two batches an epoch (``grow=False``: not)."""

    def __init__(self, grow: bool = True) -> None:
        super().__init__()
        self.grow = grow

    def train_dataloader(self) -> Any:
        return make_loader(128 + 64 * self.trainer.current_epoch * self.grow)


@pytest.mark.parametrize("grow", [True, False])
def test_a_reloaded_loader_of_another_length_is_said_not_to_fit_the_schedule(tmp_path: Path, grow: bool) -> None:
    # The schedule was sized to 4 + 4 + 4 steps from the loader at the fit's start; the fit took 4 + 6 + 8. A
    # onecycle failed at step 13 with torch's "Tried to step 13 times", after training 12 steps, with nothing said.
    finder = LRFinder(**FAST, optimizer="sgd", scheduler="cosine")
    t = trainer(tmp_path, [finder], max_epochs=3, max_steps=-1, reload_dataloaders_every_n_epochs=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t.fit(Net(), datamodule=GrowingData(grow))
    said = [str(w.message) for w in caught if "no longer spans the fit" in str(w.message)]
    assert t.global_step == (18 if grow else 12)
    if not grow:
        assert said == []  # reloaded at the same length: nothing to say
        return
    assert len(said) == 1 and said[0].startswith(
        "LRFinder(scheduler='cosine') sized the schedule to 12 optimizer steps from the 4 batches an epoch of the "
        "train loader at the fit's start, but the loader reloaded for epoch 1 has 6, so the schedule no longer spans "
        "the fit (OneCycleLR stepped past its end fails: 'Tried to step ... times'). Set Trainer(max_steps=N, "
        "max_epochs=-1)"
    )
    # A schedule that spans no length (exponential, step) goes on as it is over the longer epochs: nothing to say.
    for name, settings in [("exponential", {"gamma": 0.99}), ("step", {"step_size": 5})]:
        finder = LRFinder(**FAST, optimizer="sgd", scheduler=name, scheduler_settings=settings)
        t = trainer(tmp_path, [finder], max_epochs=3, max_steps=-1, reload_dataloaders_every_n_epochs=1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t.fit(Net(), datamodule=GrowingData())
        assert t.global_step == 18
        assert [str(w.message) for w in caught if "no longer spans the fit" in str(w.message)] == []
    # As it says: sized to max_steps, the schedule spans the fit.
    finder = LRFinder(**FAST, optimizer="sgd", scheduler="onecycle")
    t = trainer(tmp_path, [finder], max_epochs=-1, max_steps=18, reload_dataloaders_every_n_epochs=1)
    t.fit(Net(), datamodule=GrowingData())
    assert t.global_step == 18 and t.lr_scheduler_configs[0].scheduler.total_steps == 18


def test_the_profiler_counts_the_fits_hook_calls_not_the_tests(tmp_path: Path) -> None:
    # Trainer(profiler="simple") timed the module hooks of the test's 80 steps with the fit's 3: its report said
    # on_before_backward ran 83 times, at a mean over both. The test's time is the hook that runs it.
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], profiler="simple", max_steps=3)
    t.fit(Net(), make_loader())
    assert finder.result is not None and finder.result.num_steps > 10
    calls = {name: len(times) for name, times in t.profiler.recorded_durations.items()}
    hooks = ["on_before_batch_transfer", "on_before_backward", "on_after_backward", "on_before_optimizer_step"]
    assert [calls[f"[LightningModule]Net.{hook}"] for hook in hooks] == [3] * len(hooks)
    assert calls["[Callback]LRFinder.on_train_start"] == 1


class TrainedLRs(pl.Callback):
    """The first group's LR at each training batch: the LR each optimizer step of the fit runs at."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_batch_start(self, trainer: Any, *args: Any) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


@pytest.mark.parametrize("bound", ["max_epochs", "max_steps"])
def test_a_second_fit_of_the_same_trainer_gets_a_schedule_over_the_steps_it_takes(tmp_path: Path, bound: str) -> None:
    # The second trainer.fit goes on from the first's global_step (4) to 8: the test runs again and a new one-cycle
    # schedule is built, which was sized to all 8 steps of both fits: it stopped at its middle, never annealed.
    finder = LRFinder(**FAST, optimizer="sgd", scheduler="onecycle")
    lrs = TrainedLRs()
    t = trainer(tmp_path, [finder, lrs], max_epochs=1, max_steps=-1)
    t.fit(Net(), make_loader(n=128))  # 4 batches
    assert t.global_step == 4 and t.lr_scheduler_configs[0].scheduler.total_steps == 4
    first = lrs.lrs[:]
    if bound == "max_epochs":
        t.fit_loop.max_epochs = 2
    else:
        t.fit_loop.max_epochs, t.fit_loop.epoch_loop.max_steps = -1, 8
    t.fit(Net(), make_loader(n=128))
    sched = t.lr_scheduler_configs[0].scheduler
    assert finder.applied_lr is not None and t.global_step == 8
    assert isinstance(sched, torch.optim.lr_scheduler.OneCycleLR) and sched.total_steps == sched.last_epoch == 4
    # Each fit's 4 steps rise from the found LR to the peak and anneal to the floor, a ten-thousandth of the start.
    second = lrs.lrs[4:]
    for fit in (first, second):
        assert len(fit) == 4 and fit[1] == max(fit) and fit[-1] == pytest.approx(fit[0] / 1e4)
