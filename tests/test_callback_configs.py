"""The callback against the shapes a module's optimizers and LR attribute take, and the Trainer's options.

Each test here failed on the code before it (the second Lightning audit): a real ``Trainer.fit``
on a tiny model, checking the LR that training actually steps with.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from _models import FAST, TINY_FIT_WARNINGS, MemoryLogger, Net, make_loader, pl, trainer, weights

from lrfinder.callback import LRFinder

pytestmark = [
    pytest.mark.usefixtures("seeded_one_thread"),
    pytest.mark.filterwarnings(*TINY_FIT_WARNINGS),
]


class TensorLRNet(Net):
    """A hard-coded LR given as a tensor (torch accepts one; fused/capturable Adam use it)."""

    def __init__(self) -> None:
        super().__init__(lr=None)

    def configure_optimizers(self) -> Any:
        return torch.optim.Adam(self.parameters(), lr=torch.tensor(0.01))


def test_hard_coded_tensor_lr_is_rescaled(tmp_path: Path) -> None:
    """A tensor LR was skipped by the rescale: training kept 0.01 while the log said the found LR."""
    model = TensorLRNet()
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=2)
    t.fit(model, make_loader())
    lr = finder.applied_lr
    assert lr is not None and abs(lr - 0.01) > 1e-3
    group = t.optimizers[0].param_groups[0]
    assert isinstance(group["lr"], torch.Tensor) and float(group["lr"]) == pytest.approx(lr, rel=1e-6)


class PropertyLRNet(Net):
    """``lr`` a read-only property over ``hparams.lr`` (``save_hyperparameters``), as many modules write it."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr=None)
        self.save_hyperparameters({"lr": lr})

    @property
    def lr(self) -> float:  # type: ignore[override]
        return float(self.hparams.lr)


def test_read_only_lr_property_sets_the_attribute_it_reads(tmp_path: Path) -> None:
    """The property was found first and set: AttributeError after the whole test, nothing trained."""
    model = PropertyLRNet()
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=2)
    t.fit(model, make_loader())
    lr = finder.applied_lr
    assert lr is not None and model.hparams.lr == lr == model.lr
    assert all(e[1] == (lr,) for e in model.train_events()) and len(model.train_events()) == 2


def test_read_only_attr_name_is_an_error_before_the_test(tmp_path: Path) -> None:
    model = PropertyLRNet()
    finder = LRFinder(attr_name="lr", **FAST)
    with pytest.raises(AttributeError, match=r"attr_name='lr'.*read-only property of PropertyLRNet.*'hparams.lr'"):
        trainer(tmp_path, [finder], max_steps=2).fit(model, make_loader())
    assert model.test_events() == []


def test_attr_name_in_a_frozen_config_is_an_error_before_the_test(tmp_path: Path) -> None:
    """attr_name='cfg.lr' on a frozen dataclass config ran the whole test, then failed with a raw
    FrozenInstanceError from setattr when it set the found LR."""
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Config:
        lr: float = 0.01

    class ConfigNet(Net):
        def __init__(self) -> None:
            super().__init__(lr=None)
            self.cfg = Config()

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=self.cfg.lr)

    model = ConfigNet()
    finder = LRFinder(attr_name="cfg.lr", **FAST)
    with pytest.raises(AttributeError, match=r"'cfg.lr'.*a field of the frozen dataclass Config.*attr_name=None"):
        trainer(tmp_path, [finder], max_steps=2).fit(model, make_loader())
    assert model.test_events() == []


@pytest.mark.parametrize(("batches", "said"), [(2, "2 batches"), (1, "1 batch")])
def test_overfit_batches_is_named_in_the_limits_warning(tmp_path: Path, batches: int, said: str) -> None:
    """overfit_batches=2 was reported as 'limit_train_batches=2', an option the user never set; one read '1 batches'."""
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=-1, max_epochs=1, overfit_batches=batches)
    with pytest.warns(UserWarning) as record:
        t.fit(Net(), make_loader())
    messages = [str(w.message) for w in record if "LRFinder" in str(w.message)]
    assert any(f"overfit_batches={batches} gives training {said} per epoch" in m for m in messages), messages
    assert not any("limit_train_batches" in m for m in messages)
    assert finder.applied_lr is not None


class LBFGSNet(Net):
    """LBFGS evaluates the closure several times per step, each at new weights."""

    def configure_optimizers(self) -> Any:
        return torch.optim.LBFGS(self.parameters(), lr=self.lr, max_iter=4)


def test_lbfgs_closure_is_evaluated_again_during_the_test(tmp_path: Path) -> None:
    """The test's closure handed back the first loss on every call: LBFGS stepped on stale gradients."""
    model = LBFGSNet()
    finder = LRFinder(num_steps=20, min_lr=1e-3, max_lr=1.0, stop_factor=None)
    t = trainer(tmp_path, [finder], max_steps=2)
    # range_test and lrfind refuse LBFGS; a fit runs the test, and says what its curve records.
    with pytest.warns(UserWarning, match=r"LRFinder: the fit steps LBFGS, whose step runs up to max_iter inner"):
        t.fit(model, make_loader())
    result = finder.result
    assert result is not None and result.num_steps == 20
    test_calls = [s for s in model.steps if s[0] == "test"]
    # One forward per step, plus LBFGS's re-evaluations of the same batch at its new weights.
    assert len(test_calls) > result.num_steps
    # Re-evaluated losses differ from the step's first one (the weights moved between calls).
    assert len({round(s[2], 6) for s in test_calls}) > result.num_steps


class SAMNet(Net):
    """SAM (two forward/backward passes per step, the first through the closure's first call)."""

    def configure_optimizers(self) -> Any:
        from conftest import SAM

        return SAM(self.parameters(), lr=self.lr, momentum=0.9)


def test_sam_runs_its_second_pass_during_the_test(tmp_path: Path) -> None:
    """Each test step runs the batch forward twice: at the weights, and at SAM's perturbed ones."""
    model = SAMNet()
    finder = LRFinder(num_steps=12, min_lr=1e-3, max_lr=1.0, stop_factor=None)
    trainer(tmp_path, [finder], max_steps=2).fit(model, make_loader())
    assert finder.result is not None and finder.result.num_steps == 12
    test_calls = [s for s in model.steps if s[0] == "test"]
    assert len(test_calls) == 2 * 12
    # The second pass is at the perturbed weights: its loss differs from the first.
    assert all(first[2] != second[2] for first, second in zip(test_calls[::2], test_calls[1::2], strict=True))
    assert len([s for s in model.steps if s[0] == "train"]) == 2 * 2


class MixedGroupsNet(Net):
    """``self.lr`` drives the head; the body's LR is hard-coded, and larger (the sweep's reference group)."""

    def __init__(self, schedule: bool = False) -> None:
        super().__init__(lr=0.01)
        self.with_schedule = schedule

    def configure_optimizers(self) -> Any:
        from _models import RecordingSGD

        params = [{"params": self.body.parameters(), "lr": 0.05}, {"params": self.head.parameters(), "lr": self.lr}]
        opt = RecordingSGD(params, self.events, lambda: self.phase, lr=self.lr)
        if not self.with_schedule:
            return opt
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 4))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


@pytest.mark.parametrize("schedule", [False, True], ids=["plain", "warm-up"])
def test_attribute_driving_some_groups_trains_at_the_tested_ratios(tmp_path: Path, schedule: bool) -> None:
    """Setting lr moved only the head: training ran the head at 5x and the body at a fixed LR, not as tested."""
    model = MixedGroupsNet(schedule=schedule)
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=4)
    with pytest.warns(UserWarning, match="lr drives only some of the param groups"):
        t.fit(model, make_loader())
    lr = finder.applied_lr
    assert lr is not None
    # The sweep: body is the reference, head at 0.01 / 0.05 of it.
    assert all(head == pytest.approx(0.2 * body, rel=1e-12) for _, (body, head), _, _ in model.test_events())
    warm = [min(1.0, (s + 1) / 4) if schedule else 1.0 for s in range(4)]
    train = [e[1] for e in model.train_events()]
    assert train == [pytest.approx((lr * w, 0.2 * lr * w), rel=1e-9) for w in warm]
    # lr holds what the head it drives trains at (it held the body's LR, 5x the head's).
    assert model.lr == pytest.approx(0.2 * lr, rel=1e-12)


class IdleTopGroupNet(Net):
    """``self.lr`` drives the model's group, and a group that trains nothing (empty or frozen) at 10x it."""

    def __init__(self, idle: str) -> None:
        super().__init__(lr=0.01)
        self.idle = idle

    def configure_optimizers(self) -> Any:
        idle: list[torch.nn.Parameter] = []
        if self.idle == "frozen":
            idle = list(self.body[0].parameters())
            for p in idle:
                p.requires_grad_(False)
        params = [p for p in self.parameters() if p.requires_grad]
        return torch.optim.SGD([{"params": params, "lr": self.lr}, {"params": idle, "lr": 10 * self.lr}], lr=self.lr)


@pytest.mark.parametrize("idle", ["empty", "frozen"])
def test_a_swept_group_that_trains_nothing_is_warned_about_as_range_test_does(tmp_path: Path, idle: str) -> None:
    """range_test warned that the group swept (the largest LR) trains nothing; the callback, which sweeps the groups
    from the base LRs Lightning's scheduler configs give, said nothing, and its LR was the idle group's."""
    model = IdleTopGroupNet(idle)
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=1)
    with pytest.warns(UserWarning) as caught:
        t.fit(model, make_loader())
    what = "holds no parameters" if idle == "empty" else "holds only frozen parameters"
    assert [str(w.message) for w in caught if "Param group" in str(w.message)] == [
        f"LRFinder: Param group 1 {what}, yet has the largest LR: the range test records its LR, so the curve's LRs "
        "and the suggestion are 10x those of group 0, the largest that trains. Remove the group from the optimizer "
        "(or give it an LR no larger than the others'), or take the result's LRs as that group's "
        "(create_optimizer(..., lr=result.lr, lr_group='largest') sets them so)."
    ]
    # What it says: the recorded LRs are the idle group's, 10x those the model's group swept at.
    assert finder.result is not None and finder.result.lr_ratios == pytest.approx((0.1, 1.0), rel=1e-12)
    # A module whose largest group trains is not warned about.
    with warnings.catch_warnings(record=True) as quiet:
        warnings.simplefilter("always")
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=1).fit(Net(), make_loader())
    assert not [w for w in quiet if "Param group" in str(w.message)]


class HeadAtTenTimes(Net):
    """``self.lr`` (a saved hyper-parameter) drives both groups, the head at 10x: the head is the sweep's reference."""

    def __init__(self, lr: float = 0.01, schedule: bool = False) -> None:
        super().__init__(lr=lr)
        self.save_hyperparameters()
        self.with_schedule = schedule

    def configure_optimizers(self) -> Any:
        from _models import RecordingSGD

        lrs = [self.lr, self.lr * 10]
        params = [{"params": self.body.parameters(), "lr": lrs[0]}, {"params": self.head.parameters(), "lr": lrs[1]}]
        opt = RecordingSGD(params, self.events, lambda: self.phase, lr=self.lr)
        if not self.with_schedule:
            return opt
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lrs, total_steps=6)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


@pytest.mark.parametrize("schedule", [False, True], ids=["plain", "onecycle"])
def test_attribute_scaled_for_the_reference_group_holds_what_rebuilds_training(tmp_path: Path, schedule: bool) -> None:
    """A head at self.lr * 10: the found LR is the head's, so self.lr (and hparams.lr, and the logged lr) is it / 10.

    self.lr was set to the found LR while its body group trained at a tenth of it: the checkpoint's
    hparams.lr rebuilt a module that trained 10x too high, and the logger recorded that LR.
    """

    def fit(root: Path, lr: float, finder: LRFinder | None) -> tuple[HeadAtTenTimes, MemoryLogger]:
        pl.seed_everything(7, verbose=False)
        model, memory = HeadAtTenTimes(lr=lr, schedule=schedule), MemoryLogger()
        trainer(root, [finder] if finder is not None else [], max_steps=6, logger=memory).fit(model, make_loader())
        return model, memory

    finder = LRFinder(**FAST)
    model, memory = fit(tmp_path / "a", 0.01, finder)
    lr = finder.applied_lr
    assert lr is not None and finder.result is not None
    assert lr == (finder.result.training_suggestion.max_lr if schedule else finder.result.lr)  # type: ignore[union-attr]
    assert all(head == pytest.approx(10 * body, rel=1e-12) for _, (body, head), _, _ in model.test_events())
    trained = [e[1] for e in model.train_events()]
    assert all(head == pytest.approx(10 * body, rel=1e-12) for body, head in trained)
    peaks = [g.get("max_lr", g["lr"]) for g in model.trainer.optimizers[0].param_groups]
    assert peaks == pytest.approx([lr / 10, lr], rel=1e-12)  # the head trains at the found LR (its cycle's peak)
    assert model.lr == model.hparams.lr == pytest.approx(lr / 10, rel=1e-12)
    assert memory.params["lr"] == model.lr
    # A module built from the saved hyper-parameter trains exactly as the fit with the callback did.
    rebuilt, _ = fit(tmp_path / "b", model.hparams.lr, None)
    wa, wb = weights(model), weights(rebuilt)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


class AnomalyNet(Net):
    """Records whether autograd's anomaly detection is on at each training_step."""

    def __init__(self) -> None:
        super().__init__(lr=0.01, bn=False)
        self._anomaly: list[tuple[str, bool]] = []  # private: the test's restore puts back public attributes

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self._anomaly.append((self.phase, torch.is_anomaly_enabled()))
        return super().training_step(batch, batch_idx)


@pytest.mark.filterwarnings("ignore:Encountered `nan` values:UserWarning")  # the model's own MeanMetric
def test_detect_anomaly_does_not_stop_the_test_at_its_divergence(tmp_path: Path) -> None:
    """Trainer(detect_anomaly=True) made the test's NaN backward a RuntimeError that ended the fit."""
    model = AnomalyNet()
    finder = LRFinder(num_steps=60, min_lr=1e-2, max_lr=1e6, stop_factor=None)
    t = trainer(tmp_path, [finder], max_steps=2, detect_anomaly=True)
    t.fit(model, make_loader())
    result = finder.result
    assert result is not None and result.stop_reason == "non_finite" and finder.applied_lr is not None
    assert {on for phase, on in model._anomaly if phase == "test"} == {False}
    assert [on for phase, on in model._anomaly if phase == "train"] == [True, True]  # back on for training


class ManualScheduledNet(Net):
    """Manual optimization stepping ``self.lr_schedulers()`` when there is one."""

    def __init__(self) -> None:
        super().__init__(lr=0.01)
        self.automatic_optimization = False
        self.schedulers_seen: list[tuple[str, bool]] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        opt, sched = self.optimizers(), self.lr_schedulers()
        self.schedulers_seen.append((self.phase, sched is not None))
        loss = super().training_step(batch, batch_idx)
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
        if sched is not None:
            sched.step()
        return loss

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=self.lr)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=100)]


def test_optimizer_option_under_manual_optimization_says_the_schedulers_are_dropped(tmp_path: Path) -> None:
    """self.lr_schedulers() turned None under optimizer=, unannounced: training_step failed on None.step()."""
    model = ManualScheduledNet()
    finder = LRFinder(optimizer="adamw", **FAST)
    t = trainer(tmp_path, [finder], max_steps=2)
    with pytest.warns(UserWarning, match=r"optimizer='adamw'.*drops its LR scheduler.*self.lr_schedulers\(\)"):
        t.fit(model, make_loader())
    assert {seen for _, seen in model.schedulers_seen} == {False}
    assert type(t.optimizers[0]).__name__ == "AdamW" and t.optimizers[0].param_groups[0]["lr"] == finder.applied_lr


def test_optimizer_option_without_scheduler_says_the_modules_schedule_is_dropped(tmp_path: Path) -> None:
    """Under automatic optimization the module's OneCycleLR went with its optimizer without a word: a constant LR."""
    model = Net(schedule="onecycle")
    t = trainer(tmp_path, [LRFinder(optimizer="adamw", **FAST)], max_steps=2)
    with pytest.warns(UserWarning, match=r"optimizer='adamw'.*scheduler \(OneCycleLR\).*constant LR"):
        t.fit(model, make_loader())
    assert t.lr_scheduler_configs == []
    with warnings.catch_warnings(record=True) as record:  # with scheduler= there is nothing to say
        warnings.simplefilter("always")
        trainer(tmp_path, [LRFinder(optimizer="adamw", scheduler="cosine", **FAST)], max_steps=2).fit(
            Net(schedule="onecycle"), make_loader()
        )
    assert not any("replaces the module's optimizer" in str(w.message) for w in record)


class FrozenBackboneNet(Net):
    """Transfer learning: the body frozen and left in eval mode (BatchNorm statistics kept, no dropout)."""

    def __init__(self) -> None:
        super().__init__(lr=0.01, dropout=0.5)
        self.body.requires_grad_(False)
        self.body.eval()
        self._modes: list[tuple[str, bool]] = []  # private: the test's restore puts back public attributes

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self._modes.append((self.phase, self.body.training))
        return super().training_step(batch, batch_idx)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.head.parameters(), lr=self.lr)


@pytest.mark.filterwarnings("ignore:Found .* module\\(s\\) in eval mode")  # Lightning's, about the frozen body
@pytest.mark.parametrize("refine", [False, True], ids=["sweep", "refine"])
def test_submodules_left_in_eval_mode_stay_so_in_the_test(tmp_path: Path, refine: bool) -> None:
    """The test put the whole module in train mode: a frozen eval-mode backbone ran BatchNorm and dropout
    in training mode during the sweep (and the refine trials), unlike the fit it was finding the LR for."""
    from lrfinder import Refine

    model = FrozenBackboneNet()
    finder = LRFinder(**FAST, refine=Refine(candidates=2, extend=0, training_steps=100) if refine else False)
    t = trainer(tmp_path, [finder], max_steps=2)
    t.fit(model, make_loader())
    assert finder.applied_lr is not None
    assert {mode for phase, mode in model._modes} == {False}  # the test's steps (and trials) and training's
    assert len([p for p, _ in model._modes if p == "test"]) > finder.result.num_steps * (2 if refine else 1) // 2
    assert not model.body.training and model.head.training


def test_cycle_peak_is_named_in_the_training_lr_message(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """'training with lr=2.89e-01 (suggested 1.43e-01, ...)' gave no reason for the LR twice the suggestion."""
    import logging

    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=2)
    with caplog.at_level(logging.INFO):
        t.fit(Net(schedule="onecycle"), make_loader())
    result = finder.result
    assert result is not None and result.lr is not None and finder.applied_lr is not None
    assert finder.applied_lr > result.lr
    line = next(r.getMessage() for r in caplog.records if "LRFinder: training with" in r.getMessage())
    assert f"lr={finder.applied_lr:.2e} as the cycle's peak (training_suggestion.max_lr)" in line
    assert f"suggested {result.suggestion.lr:.2e}" in line


def test_the_report_header_says_the_cycle_peak_training_was_set_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's header said "suggested lr 2.94e-02" alone where the module's OneCycleLR trained up to 5.92e-02."""
    import lrfinder.report as report

    written: list[dict[str, Any]] = []
    save_report = report.save_report

    def recording(result: Any, path: Any, **kwargs: Any) -> Path:
        written.append(kwargs)
        return save_report(result, path, **kwargs)

    monkeypatch.setattr(report, "save_report", recording)
    finder = LRFinder(report=tmp_path / "lr.png", **FAST)
    t = trainer(tmp_path, [finder], max_steps=2)
    t.fit(Net(schedule="onecycle"), make_loader())
    result = finder.result
    assert result is not None and result.lr is not None and finder.applied_lr is not None
    assert finder.applied_lr > result.lr and (tmp_path / "lr.png").is_file()
    assert written and written[0]["applied_lr"] == finder.applied_lr
    suggested = next(line for line in report._header_lines([result], None, finder.applied_lr)[1] if "suggested" in line)
    assert f"  |  applied in training: lr {finder.applied_lr:.2e} (the one-cycle peak, training_suggestion.max_lr)" in (
        suggested
    )
    # Trained at the suggested LR: nothing more to say.
    assert "applied" not in " ".join(report._header_lines([result], None, result.lr)[1])


@pytest.mark.parametrize("scheduler", ["onecycle", "cyclic", "cosine"])
def test_a_schedule_of_scheduler_that_climbs_past_the_found_lr_is_named_in_the_training_lr_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, scheduler: str
) -> None:
    """LRFinder(scheduler="onecycle") logged "training with lr=2.15e-02" while the cycle climbed to 3.76e-02."""
    import logging

    settings = {"step_size_up": 2} if scheduler == "cyclic" else {}
    finder = LRFinder(optimizer="momentum", scheduler=scheduler, scheduler_settings=settings, **FAST)
    t = trainer(tmp_path, [finder], max_steps=4)
    with caplog.at_level(logging.INFO):
        t.fit(Net(), make_loader())
    result = finder.result
    assert result is not None and result.training_suggestion is not None and finder.applied_lr == result.lr
    line = next(r.getMessage() for r in caplog.records if "LRFinder: training with" in r.getMessage())
    top = result.training_suggestion.max_lr
    named = f"lr={result.lr:.2e}, scheduler={scheduler!r} peaking at {top:.2e} (training_suggestion.max_lr) ("
    if scheduler == "cosine":  # decays from the found LR: nothing above it to name
        assert "peaking" not in line and f"training with lr={result.lr:.2e} (" in line
    else:
        assert top > result.lr and named in line


def test_the_training_lr_message_says_per_param_group_what_the_cycle_peaks_at(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With groups at different LRs the line read "peaking at 3.76e-02 (...) for param group 0, group 1 at 0.5× of it":
    the largest group's peak, then "for param group", as if the peak were the LR of the groups named after it."""
    import logging

    finder = LRFinder(optimizer="momentum", optimizer_settings={"bias_lr_factor": 0.5}, scheduler="onecycle", **FAST)
    t = trainer(tmp_path, [finder], max_steps=4)
    with caplog.at_level(logging.INFO):
        t.fit(Net(), make_loader())
    result = finder.result
    assert result is not None and result.training_suggestion is not None and result.lr is not None
    line = next(r.getMessage() for r in caplog.records if "LRFinder: training with" in r.getMessage())
    top = result.training_suggestion.max_lr
    assert top > result.lr
    # The found LR and the peak, each with the group it is the LR of.
    groups = "param group 0 'decay', the other 2 groups at 0.5× to 1× of it"
    assert f"training with lr={result.lr:.2e} for {groups}; scheduler='onecycle' peaking at {top:.2e} " in line
    in_groups = "in group 0 'decay', the other groups at the same ratios"
    assert f"peaking at {top:.2e} (training_suggestion.max_lr) {in_groups} (suggested" in line
    assert "(training_suggestion.max_lr) for param group" not in line


class StepsSizedNet(Net):
    """A hard-coded LR (no attribute) under a OneCycleLR sized from ``trainer.estimated_stepping_batches``."""

    def __init__(self) -> None:
        super().__init__(lr=None)

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=0.05)
        total = self.trainer.estimated_stepping_batches
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=total)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def test_target_batch_size_resizes_a_schedule_sized_from_the_fits_steps(tmp_path: Path) -> None:
    """Without an LR attribute the schedule kept the old batch's length (32 steps for a fit of 8): no anneal."""
    from _models import DataModule

    finder = LRFinder(target_batch_size=64, **FAST)
    t = trainer(tmp_path, [finder], max_steps=-1, max_epochs=2)
    t.fit(StepsSizedNet(), datamodule=DataModule(batch_size=16))
    sched = t.lr_scheduler_configs[0].scheduler
    assert t.global_step == 8 and sched.total_steps == 8  # 256 / 64 batches x 2 epochs
    assert finder.applied_lr is not None
    assert t.optimizers[0].param_groups[0]["max_lr"] == pytest.approx(finder.applied_lr, rel=1e-9)


class ReassignedBufferNet(Net):
    """Running statistics kept in buffers that training_step reassigns (not updates in place)."""

    def __init__(self) -> None:
        super().__init__(lr=0.01)
        self.register_buffer("loss_ema", torch.zeros(()))
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))
        self.at_train: list[tuple[float, int]] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.phase == "train":
            self.at_train.append((float(self.loss_ema), int(self.seen)))
        loss = super().training_step(batch, batch_idx)
        self.loss_ema = 0.9 * self.loss_ema + 0.1 * loss.detach()
        self.seen = self.seen + 1
        return loss


def test_buffers_reassigned_by_training_step_are_restored(tmp_path: Path) -> None:
    """The test's steps leaked into training: its first step saw seen=num_steps and the divergent losses' EMA."""
    model = ReassignedBufferNet()
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=2)
    t.fit(model, make_loader())
    assert finder.result is not None and finder.result.num_steps > 10
    assert model.at_train[0] == (0.0, 0)
    assert int(model.seen) == 2


class PerSampleLossNet(Net):
    """Forgot the reduction: training_step returns one loss per example."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.cross_entropy(self.head(self.body(x)), y, reduction="none")


def test_a_per_example_loss_is_named_with_its_shape(tmp_path: Path) -> None:
    """The message said 'but got Tensor' for a (32,) loss: a tensor is what it asks for."""
    from lrfinder import ModelError

    with pytest.raises(ModelError, match=r"but got a tensor of shape \(32,\)\. Reduce the loss to one number"):
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=2).fit(PerSampleLossNet(), make_loader())


class PackedLossNet(Net):
    """Returns the loss beside the logits, or as a Python number (loss.item())."""

    def __init__(self, packing: str) -> None:
        super().__init__()
        self.packing = packing

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        logits = self.head(self.body(x))
        loss = torch.nn.functional.cross_entropy(logits, y)
        if self.packing == "dict without loss":
            return {"total": loss, "logits": logits}
        if self.packing == "dict of None":
            return {"loss": None, "logits": logits}
        return (loss, logits) if self.packing == "tuple" else loss.item()


@pytest.mark.parametrize(
    ("packing", "said"),
    [
        ("tuple", r"but got a tuple whose first item is a scalar tensor, the loss beside other outputs\. Return that "
                  r"item alone, or a dict with it under 'loss' and the others beside it, as Lightning takes them\.$"),
        ("item", r"but got a Python float, which carries no gradient \(loss\.item\(\)\?\)\. Return the loss tensor "
                 r"itself and leave backward\(\) and the optimizer step to Lightning\.$"),
        # {"loss": None} was told it had no 'loss' key.
        ("dict of None", r"^training_step returned a dict whose 'loss' is None\. Put the loss tensor under 'loss', or "
                         r"return it alone\.$"),
        ("dict without loss", r"^training_step returned a dict without a 'loss' key \(its keys: 'total', 'logits'\)\."),
    ],
)
def test_a_loss_packed_with_logits_or_returned_as_a_number_says_what_to_return(
    tmp_path: Path, packing: str, said: str
) -> None:
    """`return loss, logits` and `return loss.item()` were told to "Reduce the loss to one number (loss.mean())"."""
    from lrfinder import ModelError

    with pytest.raises(ModelError, match=said):
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=2).fit(PackedLossNet(packing), make_loader())


class LogsScaledLossNet(Net):
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        self.log("scaled_loss", loss * 100)
        return loss


def test_monitor_under_automatic_optimization_is_said_to_be_unused(tmp_path: Path) -> None:
    """monitor= was silently ignored under automatic optimization: the curve was not the key asked for."""
    finder = LRFinder(monitor="scaled_loss", **FAST)
    with pytest.warns(UserWarning, match=r"monitor='scaled_loss'\) is read under manual optimization only"):
        trainer(tmp_path, [finder], max_steps=2).fit(LogsScaledLossNet(), make_loader())
    assert finder.result is not None and finder.result.losses[0] < 10  # the returned loss, not 100x it


def test_onecycle_too_short_to_rise_is_said_once_with_a_report(tmp_path: Path) -> None:
    """The report's preview built the schedule again and repeated create_scheduler's warning."""
    finder = LRFinder(**FAST, optimizer="sgd", scheduler="onecycle", report=tmp_path / "report.png")
    t = trainer(tmp_path, [finder], max_steps=3)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")  # no once-per-location filter hides a repeat
        t.fit(Net(), make_loader())
    assert sum("no room to rise" in str(w.message) for w in seen) == 1
    assert (tmp_path / "report.png").is_file() and finder._schedule_preview is not None


def test_scheduler_onecycle_on_a_fit_too_short_to_rise(tmp_path: Path) -> None:
    """create_scheduler refused a onecycle of pct_start * steps <= 1: the fit failed after the whole test."""
    finder = LRFinder(**FAST, optimizer="sgd", scheduler="onecycle")
    t = trainer(tmp_path, [finder], max_steps=3)
    with pytest.warns(UserWarning, match="no room to rise"):
        t.fit(Net(), make_loader())
    assert finder.applied_lr is not None and t.global_step == 3
    assert isinstance(t.lr_scheduler_configs[0].scheduler, torch.optim.lr_scheduler.OneCycleLR)


def test_resumed_fit_sets_the_attribute_to_the_value_the_checkpoint_fit_gave_it(tmp_path: Path) -> None:
    """A head at self.lr * 10: the resumed fit's self.lr is the found LR / 10, as in the fit that found it."""
    finder = LRFinder(**FAST)
    ckpt = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    model = HeadAtTenTimes()
    trainer(tmp_path, [finder, ckpt], enable_checkpointing=True, max_steps=2).fit(model, make_loader())
    assert finder.applied_lr is not None and model.lr == pytest.approx(finder.applied_lr / 10, rel=1e-12)
    resumed = HeadAtTenTimes(lr=0.5)
    with pytest.warns(UserWarning, match="resumes from ckpt_path"):
        trainer(tmp_path / "r", [LRFinder(**FAST)], max_steps=4).fit(
            resumed, make_loader(), ckpt_path=tmp_path / "ckpt" / "last.ckpt"
        )
    assert resumed.lr == model.lr
    assert [e[1] for e in resumed.train_events()][-1] == pytest.approx((model.lr, finder.applied_lr), rel=1e-12)


def test_a_schedule_too_long_to_preview_leaves_the_report_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """preview_schedule is bounded (MAX_PREVIEW_STEPS): a longer fit trains, its report without the schedule panel."""
    import lrfinder.schedulers

    monkeypatch.setattr(lrfinder.schedulers, "MAX_PREVIEW_STEPS", 4)
    finder = LRFinder(**FAST, optimizer="sgd", scheduler="cosine", report=tmp_path / "report.png")
    trainer(tmp_path, [finder], max_steps=6).fit(Net(), make_loader())
    assert (tmp_path / "report.png").is_file() and finder._schedule_preview is None
    assert finder.applied_lr is not None


class RpropNet(Net):
    """Rprop reads its lr once, as each weight's first step size, then adapts the step sizes itself."""

    def configure_optimizers(self) -> Any:
        return torch.optim.Rprop(self.parameters(), lr=self.lr)


def test_rprop_is_refused_with_the_module_put_back(tmp_path: Path) -> None:
    """The sweep's LRs were never used: it warned "raise max_lr (it ended at 1.00e+01)" and trained on."""
    model = RpropNet()
    before = weights(model)
    t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=2)
    with pytest.raises(ValueError, match=r"Rprop reads lr once, as each weight's first step size") as info:
        t.fit(model, make_loader())
    after = weights(model)
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    # The ways out of this fit, not range_test's "Run the range test with an optimizer such as SGD or Adam".
    message = str(info.value)
    assert "Train with Rprop without the range test (leave LRFinder out of this fit)" in message
    assert "pass LRFinder(optimizer='adamw')" in message and "Run the range test" not in message
    assert model.test_events() == []  # refused before the test ran a step


def test_rprop_replaced_by_the_finders_optimizer_runs(tmp_path: Path) -> None:
    # The way out the refusal offers: the finder's own optimizer replaces Rprop, whose LR the test then finds.
    finder = LRFinder(optimizer="adamw", **FAST)
    t = trainer(tmp_path, [finder], max_steps=2)
    t.fit(RpropNet(), make_loader())
    assert finder.applied_lr is not None and type(t.optimizers[0]).__name__ == "AdamW"


class SelfSizingOptimizer(torch.optim.Optimizer):
    """An optimizer that sets its own step size and keeps lr=None (as Adafactor with relative_step=True)."""

    def __init__(self, params: Any) -> None:
        super().__init__(params, {"lr": None})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-0.01)


class SelfSizingNet(Net):
    def configure_optimizers(self) -> Any:
        return SelfSizingOptimizer(self.parameters())


def test_a_group_without_an_lr_is_refused_before_the_test(tmp_path: Path) -> None:
    """lr=None raised float()'s TypeError from deep in the callback; range_test says why and what to do."""
    model = SelfSizingNet()
    before = weights(model)
    t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=2)
    with pytest.raises(ValueError, match=r"group 0 of SelfSizingOptimizer has lr=None \(an optimizer that sets its "
                       r"own step size, such as Adafactor with relative_step=True, has no LR to sweep"):
        t.fit(model, make_loader())
    after = weights(model)
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


class HeadOnlyNet(Net):
    """An optimizer over the head alone: the body is left untrained without being frozen."""

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.head.parameters(), lr=0.01)


@pytest.mark.parametrize("net", [HeadOnlyNet, Net])
def test_optimizer_option_over_parameters_the_modules_optimizer_left_out_is_warned_about(
    tmp_path: Path, net: type[Net]
) -> None:
    # LRFinder(optimizer='adamw') is built over the whole module: the body, which configure_optimizers left out,
    # was swept and trained too without a word.
    model = net()
    finder = LRFinder(**FAST, optimizer="adamw")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer(tmp_path, [finder], max_steps=2).fit(model, make_loader())
    said = [str(w.message) for w in caught if "left out" in str(w.message)]
    if net is Net:  # its optimizer holds every parameter
        assert said == []
        return
    assert len(said) == 1
    assert said[0].startswith("LRFinder(optimizer='adamw') is built over every trainable parameter of the module, but "
                              "configure_optimizers' optimizer left out 4 of them (first: body.0.weight)")  # fmt: skip
    assert "requires_grad_(False)" in said[0] and "leave optimizer=None" in said[0]


@pytest.mark.parametrize("settings", [{}, {"lr_factors": {"body": 0.1}}], ids=["plain", "lr_factors"])
def test_optimizer_option_over_a_module_optimizer_with_groups_at_different_lrs_is_warned_about(
    tmp_path: Path, settings: dict[str, Any]
) -> None:
    # configure_optimizers put the body at 0.1x of the head (a held-out task: a learned temperature at 0.01x);
    # LRFinder(optimizer='adamw') swept and trained both at the found LR, the ratio dropped without a word.
    finder = LRFinder(**FAST, optimizer="adamw", optimizer_settings=settings)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer(tmp_path, [finder], max_steps=2).fit(Net(groups=True), make_loader())
    said = [str(w.message) for w in caught if "param groups are at different LRs" in str(w.message)]
    if settings:  # ratios of the user's own choosing: nothing to say
        assert said == []
        return
    assert said == [
        "LRFinder(optimizer='adamw') replaces configure_optimizers' RecordingSGD, whose 2 param groups are at "
        "different LRs (0.1, 1 of the largest): the range test and training run every parameter at one LR, the found "
        "one. Leave optimizer=None to test and train the module's own optimizer at its ratios, or give them in "
        "optimizer_settings={'lr_factors': {'<module name>': <factor>}}."
    ]
    # One group, or groups at one LR: nothing to say either.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer(tmp_path, [LRFinder(**FAST, optimizer="adamw")], max_steps=2).fit(Net(), make_loader())
    assert not [w for w in caught if "param groups are at different LRs" in str(w.message)]


@pytest.mark.parametrize("lrs", [(0.1 * 3, 0.3), (0.3, 0.3)], ids=["round-off", "equal"])
def test_optimizer_option_over_groups_at_one_lr_is_not_warned_about(tmp_path: Path, lrs: tuple[float, float]) -> None:
    # Two groups at 0.1 * 3 and 0.3 (0.30000000000000004 against 0.3: one LR but for float round-off) were warned of
    # as "param groups are at different LRs (1, 1 of the largest)", a ratio of one to keep.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer(tmp_path, [LRFinder(**FAST, optimizer="adamw")], max_steps=2).fit(Net(hard_lr=lrs), make_loader())
    assert not [w for w in caught if "param groups are at different LRs" in str(w.message)]


def test_constructing_with_a_schedule_logs_no_stand_in_schedule(caplog: pytest.LogCaptureFixture) -> None:
    # The construction-time check builds the schedule over a stand-in run: it logged "create_scheduler: onecycle
    # total_steps=1000000000000" at DEBUG, a schedule the user never asked for. A schedule built for a run is logged.
    with caplog.at_level("DEBUG", logger="lrfinder"):
        LRFinder(optimizer="momentum", scheduler="onecycle", scheduler_settings={"pct_start": 0.2, "warmup_steps": 2})
    assert not [r.getMessage() for r in caplog.records if "create_scheduler" in r.getMessage()]
    with pytest.raises(ValueError, match="pct_start"):
        LRFinder(optimizer="momentum", scheduler="onecycle", scheduler_settings={"pct_start": 2.0})
    from lrfinder.schedulers import create_scheduler

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    with caplog.at_level("DEBUG", logger="lrfinder"):
        create_scheduler("onecycle", optimizer, total_steps=40, pct_start=0.2)
    assert [r.getMessage() for r in caplog.records if "create_scheduler" in r.getMessage()] == [
        "create_scheduler: onecycle total_steps=40 warmup=0 {'pct_start': 0.2}"
    ]
