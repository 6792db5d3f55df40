"""The Lightning callback: real ``Trainer.fit`` runs on tiny models, one per behaviour of issue 3."""

from __future__ import annotations

import contextlib
import copy
import csv
import importlib
import inspect
import itertools
import math
import os
import re
import sys
import tracemalloc
import warnings
from collections import deque
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _models import (
    FAST,
    GAN,
    LIGHTNING_VERSION,
    TINY_FIT_WARNINGS,
    AlternatingGAN,
    Callback,
    CriticStepping,
    DataModule,
    MemoryLogger,
    Net,
    RecordingSGD,
    SavedNet,
    make_data,
    make_loader,
    pl,
    trainer,
    weights,
)
from conftest import NoCompilerForBackward
from torch import nn
from torch.utils.data import DataLoader

from lrfinder import DataError, InconclusiveCurveError, ModelError, RangeTestResult, Refine, lr_schedule
from lrfinder.callback import LRFinder, find_lr
from lrfinder.cli.output import summary_rows
from lrfinder.report import _header_lines
from lrfinder.scaling import optimizer_family
from lrfinder.stepping import SparseGradientClipError

ModelCheckpoint = pl.callbacks.ModelCheckpoint
CSVLogger = pl.loggers.CSVLogger

pytestmark = [
    pytest.mark.usefixtures("seeded_one_thread"),
    pytest.mark.filterwarnings(*TINY_FIT_WARNINGS),
]


# --------------------------------------------------------------------------------------------
# Tiny models and helpers
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Finding, applying, logging
# --------------------------------------------------------------------------------------------


def test_fit_finds_applies_and_trains(tmp_path: Path) -> None:
    finder = LRFinder(**FAST)
    model = Net(lr=0.01)
    t = trainer(tmp_path, [finder], max_steps=6)
    t.fit(model, make_loader())
    result = finder.result
    assert isinstance(result, RangeTestResult) and result.suggestion is not None
    assert result.stop_reason in {"diverged", "completed"} and 10 < result.num_steps <= FAST["num_steps"]
    assert result.batch_size == 32 and result.scaled is not None and result.scaled.factor == 1.0
    assert finder.applied_lr == result.lr == model.lr
    assert t.optimizers[0].param_groups[0]["lr"] == result.lr
    # Training used the found LR for every one of its steps, from the first one.
    train = model.train_events()
    assert len(train) == 6 and all(e[1] == (result.lr,) for e in train)
    assert t.global_step == 6
    assert t.callback_metrics["lr_finder/suggested_lr"].item() == pytest.approx(result.suggestion.lr)


def test_bit_identical_to_fit_with_lr_set_by_hand(tmp_path: Path) -> None:
    """Same seed: fit(callback) == fit(no callback, lr found set by hand), bit for bit.

    Also: no file on disk, user callbacks see the same hooks, epoch metrics (self.log and a
    torchmetrics metric) and the first training step start from the original weights.
    """

    class Recorder(Callback):
        def __init__(self) -> None:
            self.calls: list[tuple[str, int]] = []

        def on_before_backward(self, trainer: pl.Trainer, pl_module: Any, loss: torch.Tensor) -> None:
            self.calls.append(("on_before_backward", trainer.global_step))

        def on_after_backward(self, trainer: pl.Trainer, pl_module: Any) -> None:
            self.calls.append(("on_after_backward", trainer.global_step))

        def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: Any, optimizer: Any) -> None:
            self.calls.append(("on_before_optimizer_step", trainer.global_step))

        def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
            self.calls.append(("on_train_batch_start", batch_idx))
            if not hasattr(self, "first"):
                self.first = weights(pl_module)

    def run(root: Path, lr: float, with_finder: bool) -> tuple[Net, pl.Trainer, Recorder, dict[str, Any], LRFinder]:
        pl.seed_everything(7, verbose=False)
        model = Net(lr=lr, dropout=0.2)
        initial = weights(model)
        loader = make_loader()  # shuffled by the global RNG
        recorder = Recorder()
        finder = LRFinder(**FAST)
        callbacks: list[Callback] = [recorder, finder] if with_finder else [recorder]
        t = trainer(root, callbacks, max_epochs=2, max_steps=-1)
        before = list(t.callbacks)
        t.fit(model, loader)
        assert t.callbacks == before and all(a is b for a, b in zip(t.callbacks, before))
        return model, t, recorder, initial, finder

    a_root, b_root = tmp_path / "a", tmp_path / "b"
    model_a, t_a, rec_a, init_a, finder = run(a_root, 0.01, True)
    assert finder.result is not None and finder.applied_lr is not None
    found = finder.applied_lr
    model_b, t_b, rec_b, _, _ = run(b_root, found, False)

    # The first training step of the fit with the callback starts from the original weights.
    assert all(torch.equal(rec_a.first[k], init_a[k]) for k in init_a)
    wa, wb = weights(model_a), weights(model_b)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa), "fit with LRFinder differs from fit with the LR set by hand"
    assert rec_a.calls == rec_b.calls  # the test's backward/step hooks never reached user callbacks
    assert len(model_a.epoch_means) == 2 and model_a.epoch_means == model_b.epoch_means  # torchmetrics state
    for key in ("train_loss_epoch", "mean_loss"):
        assert torch.equal(t_a.callback_metrics[key], t_b.callback_metrics[key])
    assert [e[1:3] for e in model_a.train_events()] == [e[1:3] for e in model_b.train_events()]
    # Exact restore without files: nothing was written under default_root_dir.
    assert not a_root.exists() or list(a_root.rglob("*")) == []


class RunCSVLogger(CSVLogger):
    """A project's own CSVLogger (extra columns, a naming scheme): its curve went nowhere, told apart by class name."""


@pytest.mark.parametrize("logger_class", [CSVLogger, RunCSVLogger])
def test_csv_logger_gets_metrics_and_curve(tmp_path: Path, logger_class: type[CSVLogger]) -> None:
    finder = LRFinder(**FAST)
    csv_logger = logger_class(tmp_path, name="logs")
    t = trainer(tmp_path, [finder], logger=csv_logger, log_every_n_steps=1)
    t.fit(Net(), make_loader())
    assert t.logger is csv_logger and t.loggers == [csv_logger]
    result = finder.result
    assert result is not None and result.suggestion is not None
    with open(Path(csv_logger.log_dir) / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    found = [float(r["lr_finder/suggested_lr"]) for r in rows if r.get("lr_finder/suggested_lr")]
    assert found == [pytest.approx(result.suggestion.lr)]
    assert [float(r["lr_finder/confidence"]) for r in rows if r.get("lr_finder/confidence")] == [
        pytest.approx(result.suggestion.confidence)
    ]
    assert any(r.get("lr_finder/max_lr") for r in rows) and any(r.get("lr_finder/min_lr") for r in rows)
    assert any(r.get("train_loss_step") for r in rows)  # the fit's own logging is intact
    with open(Path(csv_logger.log_dir) / "lr_finder_curve.csv", newline="") as handle:
        curve = list(csv.DictReader(handle))
    assert len(curve) == result.num_steps
    assert [float(r["lr"]) for r in curve] == pytest.approx(list(result.lrs))
    assert [float(r["loss"]) for r in curve] == pytest.approx(list(result.losses))


def test_callback_metrics_hold_the_lrs_exactly(tmp_path: Path) -> None:
    # Under ddp_spawn the main process reads the result from callback_metrics only. They were float32 tensors:
    # lr_finder/applied_lr read 0.10599999874830246 for 0.106, and a fit at that LR set by hand trained at another.
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder])
    t.fit(Net(), make_loader())
    result = finder.result
    assert result is not None and result.suggestion is not None and finder.applied_lr is not None
    metrics = t.callback_metrics
    assert metrics["lr_finder/applied_lr"].item() == finder.applied_lr
    assert metrics["lr_finder/lr"].item() == result.lr
    assert metrics["lr_finder/suggested_lr"].item() == result.suggestion.lr
    assert metrics["lr_finder/confidence"].item() == result.suggestion.confidence


def test_report_png_written(tmp_path: Path) -> None:
    path = tmp_path / "out" / "lr.png"
    t = trainer(tmp_path, [LRFinder(report=path, **FAST)], max_steps=1)
    t.fit(Net(), make_loader())
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_report_that_cannot_be_written_stops_the_fit_before_the_test(tmp_path: Path) -> None:
    """report= under a file failed only at the write, after the whole test and with the found LR applied to the module:
    the fit died there, its module's lr changed (NotADirectoryError). Now nothing runs and nothing changes."""
    (tmp_path / "afile").write_text("a file, not a directory")
    net = Net()
    t = trainer(tmp_path, [LRFinder(report=tmp_path / "afile" / "lr.png", **FAST)], max_steps=1)
    with pytest.raises(ValueError) as info:
        t.fit(net, make_loader())
    assert str(info.value) == (
        f"LRFinder: report: cannot write {tmp_path / 'afile' / 'lr.png'}: {tmp_path / 'afile'} is not a directory "
        "(or report=None for none)"
    )
    assert net.steps == [] and net.lr == 0.01
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_report_has_the_schedule_panel_when_a_scheduler_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lrfinder.report

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(lrfinder.report, "save_report", lambda result, path, **kwargs: calls.append(kwargs))
    finder = LRFinder(optimizer="momentum", scheduler="cosine", report=tmp_path / "lr.png", **FAST)
    trainer(tmp_path, [finder], max_steps=6).fit(Net(), make_loader())
    assert len(calls) == 1 and calls[0]["schedule_name"] == "cosine"
    # The registry name chosen, after the class: the result (and so the report's header) said "SGD" alone.
    assert finder.result is not None and finder.result.optimizer_name == "SGD (momentum)"
    lr = finder.applied_lr
    assert lr is not None
    expected = [lr * (1 + math.cos(math.pi * s / 6)) / 2 for s in range(6)]
    assert list(calls[0]["schedule"]) == pytest.approx(expected, rel=1e-9)
    # Without scheduler= there is no schedule to show.
    calls.clear()
    plain = LRFinder(report=tmp_path / "lr2.png", **FAST)
    trainer(tmp_path, [plain], max_steps=1).fit(Net(), make_loader())
    assert calls == [{"schedule": None, "schedule_name": None, "applied_lr": plain.applied_lr}]


@pytest.mark.parametrize("enabled", [True, False])
def test_progress_bar_follows_enable_progress_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], enabled: bool
) -> None:
    t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=1, enable_progress_bar=enabled)
    t.fit(Net(), make_loader())
    out = capsys.readouterr()
    assert ("Finding LR" in out.out + out.err) is enabled


def test_find_lr_leaves_no_training_bar_behind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # find_lr's fit trains no step, but Lightning's training bar, opened at on_train_start, was closed with leave=True
    # at its end: a line "Training: |          | 0/? [00:00<?, ?it/s]" stayed on the screen (a notebook's output)
    # under the test's own bar, which is erased.
    def screen(text: str) -> list[str]:
        """The lines left on a terminal: each line as its last carriage return left it."""
        return [line.split("\r")[-1].strip() for line in text.split("\n")]

    result = find_lr(Net(), make_loader(), **FAST)
    out = capsys.readouterr().out
    assert "Finding LR" in out and "Training" in out  # both bars were drawn
    assert not any(line for line in screen(out)), out
    assert result.lrs  # the test ran
    # A Trainer of the caller's, its bar enabled, the same; the fit after find_lr shows its bar as usual.
    t = trainer(tmp_path, max_steps=2, enable_progress_bar=True)
    find_lr(Net(), make_loader(), trainer=t, **FAST)
    assert not any(line for line in screen(capsys.readouterr().out))
    t.fit(Net(), make_loader())
    assert any(line.startswith("Epoch 0") for line in screen(capsys.readouterr().out))


class MyFinder(LRFinder):
    """A subclass, for the message naming the class given."""


@pytest.mark.skipif(LIGHTNING_VERSION < (2, 6), reason="Lightning < 2.6 refuses a class in Trainer(callbacks=[...]) "
                    "itself ('Expected a parent'), before any hook of it runs")
@pytest.mark.parametrize("cls", [LRFinder, MyFinder])
def test_the_class_given_to_the_trainer_is_refused_by_name(tmp_path: Path, cls: type[LRFinder]) -> None:
    # Trainer(callbacks=[LRFinder]) ended in Lightning's "setup() missing 1 required positional argument: 'pl_module'",
    # then "on_exception() missing 1 required positional argument: 'exception'" raised while handling it.
    model = Net()
    before = weights(model)
    t = trainer(tmp_path, [cls])  # type: ignore[list-item]
    with pytest.raises(TypeError) as info:
        t.fit(model, make_loader())
    name = cls.__name__
    said = f"got the class {name} itself: pass {name}() (with its settings, e.g. {name}(max_lr"
    assert str(info.value).startswith("Expected an LRFinder instance in Trainer(callbacks=[...]), but ")
    assert said in str(info.value)
    assert info.value.__context__ is None  # nothing raised while Lightning handled it
    assert all(torch.equal(v, weights(model)[k]) for k, v in before.items())
    # An instance is as it was: its hooks take what Lightning passes.
    finder = LRFinder(**FAST)
    trainer(tmp_path, [finder], max_steps=1).fit(Net(), make_loader())
    assert finder.result is not None


# --------------------------------------------------------------------------------------------
# Where peers break
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("attribute", [True, False], ids=["attr", "hard-coded"])
def test_param_group_ratios_kept_through_test_and_apply(
    tmp_path: Path, attribute: bool, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    model = Net(lr=0.01, groups=True) if attribute else Net(lr=None, hard_lr=(0.001, 0.01))
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=3)
    with caplog.at_level(logging.INFO):
        t.fit(model, make_loader())
    sweep = model.test_events()
    assert len(sweep) >= 10
    for _, (low, high), _, _ in sweep:
        assert low == pytest.approx(0.1 * high, rel=1e-12)
    assert [e[1][1] for e in sweep] == pytest.approx(list(finder.result.lrs[: len(sweep)]))
    lr = finder.applied_lr
    assert lr is not None
    assert [g["lr"] for g in t.optimizers[0].param_groups] == pytest.approx([0.1 * lr, lr], rel=1e-12)
    assert all(e[1] == pytest.approx((0.1 * lr, lr), rel=1e-12) for e in model.train_events())
    assert getattr(model, "lr", None) == (lr if attribute else None)
    # The result says whose LR its lrs are (the report's axis names the group): the head's, the body at 0.1x.
    assert finder.result.lr_ratios == pytest.approx((0.1, 1.0)) and finder.result.lr_group == 1
    assert finder.result.group_names == (None, None)
    # The log line says so too: "training with lr=1.43e-01" read as every group's LR.
    line = next(r.getMessage() for r in caplog.records if "LRFinder: training with" in r.getMessage())
    assert f"training with lr={lr:.2e} for param group 1, group 0 at 0.1× of it (suggested" in line


def test_accumulate_grad_batches_mean_of_micro_batches(tmp_path: Path) -> None:
    finder = LRFinder(num_steps=12, min_lr=1e-3, max_lr=0.5, stop_factor=None)
    model = Net()
    t = trainer(tmp_path, [finder], accumulate_grad_batches=4, max_steps=2)
    t.fit(model, make_loader(n=64, batch_size=8))  # 8 batches: the 48 micro-batches cycle
    result = finder.result
    assert result is not None and result.num_steps == 12
    micro = [s[2] for s in model.steps if s[0] == "test"]
    assert len(micro) == 4 * 12
    for i, loss in enumerate(result.losses):
        assert loss == pytest.approx(sum(micro[4 * i : 4 * i + 4]) / 4, rel=1e-6)
    assert len(model.test_events()) == 12  # one optimizer step (one point) per 4 micro-batches
    assert result.settings.accumulate_steps == 4 and result.batch_size == 32
    assert len(model.train_events()) == 2 and len([s for s in model.steps if s[0] == "train"]) == 8


def test_an_epoch_shorter_than_the_accumulation_is_said(tmp_path: Path) -> None:
    """3 batches per epoch, accumulate_grad_batches=4: every step of the fit took 3/4 of a full step's gradient."""
    finder = LRFinder(num_steps=12, min_lr=1e-3, max_lr=0.5, stop_factor=None)
    t = trainer(tmp_path, [finder], accumulate_grad_batches=4, max_steps=2)
    match = r"has 3 training batch\(es\), fewer than accumulate_grad_batches=4.*3/4 of a full step's.*<= 3"
    with pytest.warns(UserWarning, match=match):
        t.fit(Net(), make_loader(n=24, batch_size=8))
    assert finder.result is not None and finder.result.settings.accumulate_steps == 4


def _counted_training_steps(model: Net, limit: int = 2000) -> list[int]:
    """Count ``model``'s ``training_step`` calls in the returned list's one item; past ``limit`` one raises.

    A first test step that cycles the loader without end fails the test instead of running on.
    """
    calls = [0]
    training_step = model.training_step

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] > limit:
            raise RuntimeError("the test's first step ran without end")
        return training_step(*args, **kwargs)

    model.training_step = counted  # type: ignore[method-assign]
    return calls


@pytest.mark.filterwarnings("ignore:.*the range test was inconclusive")
def test_an_accumulation_that_cycles_the_loader_over_and_over_is_refused(tmp_path: Path) -> None:
    """accumulate_grad_batches=10**9 over a 3-batch loader: the first test step ran without end, memory growing."""
    model = Net()
    before = weights(model)
    calls = _counted_training_steps(model)
    t = trainer(tmp_path, [LRFinder(num_steps=12)], accumulate_grad_batches=10**9, max_steps=2)
    match = (
        r"^Expected accumulate_grad_batches <= 10 x the 3 batches of the train loader for LRFinder's range test "
        r"\(30\), but got accumulate_grad_batches=1,000,000,000: each of the test's 12 optimizer steps would cycle "
        r"through the data 333,333,333 times, drawing the same batches again and again\. Set the Trainer's "
        r"accumulate_grad_batches to at most the 3 batches of an epoch"
    )
    with pytest.warns(UserWarning, match="fewer than accumulate_grad_batches"), pytest.raises(ValueError, match=match):
        t.fit(model, make_loader(n=24, batch_size=8))
    assert calls[0] == 0
    assert all(torch.equal(v, weights(model)[k]) for k, v in before.items())
    # A few passes per step still run: 10 micro-batches of a 3-batch loader.
    finder = LRFinder(num_steps=12, min_lr=1e-3, max_lr=0.5, stop_factor=None)
    t = trainer(tmp_path, [finder], accumulate_grad_batches=10, max_steps=1)
    with pytest.warns(UserWarning, match="fewer than accumulate_grad_batches"):
        t.fit(Net(), make_loader(n=24, batch_size=8))
    assert finder.result is not None and finder.result.num_steps == 12 and finder.result.settings.accumulate_steps == 10



def test_an_accumulation_no_loss_divides_by_is_refused_over_a_loader_without_a_length(tmp_path: Path) -> None:
    """accumulate_grad_batches=10**30 over an IterableDataset (not judged by its passes) failed with a bare
    "OverflowError: int too big to convert" at the test's first micro-batch."""

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self) -> Any:
            return iter(make_loader(n=24, batch_size=8))

    model = Net()
    before = weights(model)
    t = trainer(tmp_path, [LRFinder(num_steps=12)], accumulate_grad_batches=10**30, max_steps=2)
    with pytest.raises(ValueError) as caught:
        t.fit(model, DataLoader(Stream(), batch_size=None))
    assert str(caught.value) == (
        "Expected accumulate_grad_batches <= 9,223,372,036,854,775,807 over a train loader without a length, but got "
        f"accumulate_grad_batches={10**30:,}: the train loader of LRFinder's range test has no length (an "
        "IterableDataset), so its passes are not counted, and each micro-batch's loss is divided by "
        "accumulate_grad_batches, which torch cannot do past that. Set the Trainer's accumulate_grad_batches to the "
        "accumulation training uses."
    )
    assert all(torch.equal(v, weights(model)[k]) for k, v in before.items())

@pytest.mark.filterwarnings("ignore:.*the range test was inconclusive")
def test_an_accumulation_over_ten_passes_of_a_loader_without_a_length_is_refused_at_its_first_pass(
    tmp_path: Path,
) -> None:
    """accumulate_grad_batches=10**9 over a 3-batch IterableDataset loader was not judged (no length): the test's first
    step ran without end. Judged by the loader's first pass once it has ended, as a loader with a length is before
    the test; the module is put back. Up to 10 passes per step still run."""

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self) -> Any:
            return iter(make_loader(n=24, batch_size=8))

    model = Net()
    before = weights(model)
    calls = _counted_training_steps(model)
    t = trainer(tmp_path, [LRFinder(num_steps=12)], accumulate_grad_batches=31, max_steps=2)
    with pytest.raises(ValueError) as caught:
        t.fit(model, DataLoader(Stream(), batch_size=None))
    assert str(caught.value) == (
        "Expected accumulate_grad_batches <= 10 x the 3 batches the train loader of LRFinder's range test yielded in "
        "its first pass (it has no length: they were counted as the test drew them) (30), but got "
        "accumulate_grad_batches=31: each optimizer step of the test would cycle through the loader 10 times, "
        "drawing the same batches again and again. Set the Trainer's accumulate_grad_batches to the accumulation "
        "training uses."
    )
    assert calls[0] == 4  # the first pass and the next one's first batch
    assert all(torch.equal(v, weights(model)[k]) for k, v in before.items())
    finder = LRFinder(num_steps=12, min_lr=1e-3, max_lr=0.5, stop_factor=None)
    t = trainer(tmp_path, [finder], accumulate_grad_batches=30, max_steps=1)
    t.fit(Net(), DataLoader(Stream(), batch_size=None))
    assert finder.result is not None and finder.result.num_steps == 12 and finder.result.settings.accumulate_steps == 30


def test_gradient_accumulation_scheduler_sets_the_tests_accumulation(tmp_path: Path) -> None:
    """GradientAccumulationScheduler sets the Trainer's accumulation at each epoch start, after the test: read it."""
    finder = LRFinder(num_steps=12, min_lr=1e-3, max_lr=10.0, stop_factor=None)
    model = Net()
    gas = pl.callbacks.GradientAccumulationScheduler({0: 4})
    trainer(tmp_path, [finder, gas], max_steps=2).fit(model, make_loader(n=64, batch_size=8))
    result = finder.result
    assert result is not None and result.settings.accumulate_steps == 4 and result.batch_size == 32
    assert len([s for s in model.steps if s[0] == "test"]) == 4 * 12 and len(model.test_events()) == 12
    assert result.scaled is not None and result.scaled.to_batch_size == 32  # epoch 0 trains at 8 x 4
    assert len(model.train_events()) == 2 and len([s for s in model.steps if s[0] == "train"]) == 8


def test_the_tests_batch_is_the_median_of_a_batch_samplers_sizes_and_their_varying_is_warned(tmp_path: Path) -> None:
    """A batch sampler of its own sizes (no DataLoader batch_size): result.batch_size was the first batch's size (a
    short 4 before batches of 8: 4, and the LR scaled from it), unwarned. It is the median of the sizes drawn, as
    range_test's, with range_test's warning that they varied."""
    sizes = [4] + [8] * 7
    starts = np.cumsum([0, *sizes[:-1]]).tolist()
    sampler = [list(range(start, start + size)) for start, size in zip(starts, sizes)]
    loader = DataLoader(make_loader(n=sum(sizes)).dataset, batch_sampler=sampler)
    finder = LRFinder(**FAST)
    said = r"^The batches' sizes varied \(4 to 8 examples\) and the data gives no DataLoader batch_size: "
    with pytest.warns(UserWarning, match=said + r"the test's batch is their median, 8, which result\.batch_size"):
        trainer(tmp_path, [finder], max_steps=2).fit(Net(), loader)
    assert finder.result is not None and finder.result.batch_size == 8


def test_an_accumulation_that_changes_after_the_first_epoch_is_warned(tmp_path: Path) -> None:
    """GradientAccumulationScheduler({0: 2, 1: 4}): the test sweeps (and scales to) epoch 0's effective batch, and
    from epoch 1 the fit trains twice that batch at the same LR. It was documented, never said; a change past the
    fit's last epoch is not said."""
    said = (
        r"^LRFinder: the GradientAccumulationScheduler changes accumulate_grad_batches from 2 to 4 at epoch 1: the "
        r"test sweeps epoch 0's 2 batches per step, .* which from epoch 1 is x2 at the same LR\. Keep one "
        r"accumulation for the whole fit \(scheduling=\{0: k\}\), or scale the LR for epoch 1 yourself"
    )
    gas = pl.callbacks.GradientAccumulationScheduler({0: 2, 1: 4})
    finder = LRFinder(**FAST)
    with pytest.warns(UserWarning, match=said) as record:
        trainer(tmp_path, [finder, gas], max_epochs=2, max_steps=-1).fit(Net(), make_loader(n=64, batch_size=8))
    assert len([w for w in record if "GradientAccumulationScheduler changes" in str(w.message)]) == 1
    assert finder.result is not None and finder.result.settings.accumulate_steps == 2
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*GradientAccumulationScheduler changes")
        gas = pl.callbacks.GradientAccumulationScheduler({0: 2, 1: 4})
        t = trainer(tmp_path, [LRFinder(**FAST), gas], max_epochs=1, max_steps=-1)
        t.fit(Net(), make_loader(n=64, batch_size=8))


def test_accumulation_by_epoch_as_a_dict_is_refused_with_the_callback_to_use(tmp_path: Path) -> None:
    """Trainer(accumulate_grad_batches={0: 2}), Lightning 1's form, which Lightning 2 stores and fails on later.

    LRFinder and find_lr failed on it with int()'s bare "int() argument must be ... not 'dict'" from lrfinder's
    code; now they say what to pass instead, before the test, and the scheduler named there works.
    """
    package = pl.__name__
    message = (
        r"^LRFinder: Trainer\(accumulate_grad_batches=\{0: 2\}\) takes a number of batches; an accumulation by "
        r"epoch, \{epoch: batches\}, was Lightning 1's form, which Lightning 2 fails on at the first training batch\. "
        r"Pass callbacks=\[GradientAccumulationScheduler\(scheduling=\{0: 2\}\)\] \(from "
        + package.replace(".", r"\.")
        + r"\.callbacks\) and leave accumulate_grad_batches at 1: the test then accumulates as the first epoch does\.$"
    )
    model = Net()
    before = weights(model)
    with pytest.raises(ValueError, match=message):
        trainer(tmp_path, [LRFinder(**FAST)], accumulate_grad_batches={0: 2}, max_steps=2).fit(model, make_loader())
    assert model.steps == [] and all(torch.equal(v, before[k]) for k, v in weights(model).items())
    with pytest.raises(ValueError, match=message.replace("^LRFinder", "^find_lr")):
        find_lr(model, make_loader(), trainer=trainer(tmp_path, accumulate_grad_batches={0: 2}))
    assert model.steps == []

    finder = LRFinder(num_steps=12, min_lr=1e-3, max_lr=10.0, stop_factor=None)
    gas = pl.callbacks.GradientAccumulationScheduler(scheduling={0: 2})
    trainer(tmp_path, [finder, gas], max_steps=2).fit(model, make_loader())
    assert finder.result is not None and finder.result.settings.accumulate_steps == 2


@pytest.mark.parametrize("value", [0, -2])
def test_accumulation_below_one_names_the_trainers_option(tmp_path: Path, value: int) -> None:
    """Trainer(accumulate_grad_batches=0) was told 'Expected accumulate_steps to be an int >= 1', range_test's name."""
    model = Net()
    message = (
        r"^LRFinder: Expected Trainer\(accumulate_grad_batches=\.\.\.\) to be an int >= 1 \(the batches each optimizer "
        rf"step accumulates\), but got accumulate_grad_batches={value}\. Leave it at 1 for no accumulation\.$"
    )
    with pytest.raises(ValueError, match=message):
        trainer(tmp_path, [LRFinder(**FAST)], accumulate_grad_batches=value, max_steps=2).fit(model, make_loader())
    assert model.steps == []


def test_short_dataloader_is_cycled(tmp_path: Path) -> None:
    finder = LRFinder(num_steps=20, min_lr=1e-4, max_lr=0.1, stop_factor=None)
    model = Net()
    t = trainer(tmp_path, [finder], max_epochs=1, max_steps=-1)
    t.fit(model, make_loader(n=40, batch_size=8))  # 5 batches
    assert finder.result is not None and finder.result.num_steps == 20
    assert len([s for s in model.steps if s[0] == "test"]) == 20
    assert t.global_step == 5 and len(model.train_events()) == 5


class _NoisyData(torch.utils.data.Dataset):
    """``make_data`` with noise drawn in ``__getitem__`` (an augmentation in the loader's worker)."""

    def __init__(self) -> None:
        self.data = make_data(n=128)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.data[i]
        return x + 0.1 * torch.randn(8), y


def test_persistent_workers_loader_trains_every_epoch_as_without_the_test(tmp_path: Path) -> None:
    """Lightning makes the fit's train iterator before on_train_start, and a persistent-workers loader keeps it.

    The test drew its batches from that same iterator (iter() hands it back, reset), so the fit's first
    epoch got what the test left of it: no batch at all after whole passes, and the later epochs' worker
    RNGs were moved. Now the test has an iterator of its own and the fit's is left untouched.
    """

    def fit(with_finder: bool, lr: float) -> tuple[list[torch.Tensor], dict[str, torch.Tensor], float]:
        pl.seed_everything(11, verbose=False)
        model = Net(lr=lr)
        seen: list[torch.Tensor] = []

        class Batches(Callback):
            def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
                seen.append(batch[0].clone())

        finder = LRFinder(**FAST)
        loader = DataLoader(_NoisyData(), batch_size=32, shuffle=True, num_workers=1, persistent_workers=True)
        t = trainer(tmp_path, ([finder] if with_finder else []) + [Batches()], max_epochs=2, max_steps=-1)
        t.fit(model, loader)
        assert finder.applied_lr is not None or not with_finder
        return seen, weights(model), model.lr

    with_test, trained, found = fit(True, 0.01)
    assert len(with_test) == 8  # 4 batches in each of the 2 epochs (the first epoch had none)
    plain, by_hand, _ = fit(False, found)
    assert all(torch.equal(a, b) for a, b in zip(with_test, plain))
    assert all(torch.equal(trained[k], by_hand[k]) for k in trained)


class EpochOutputsNet(Net):
    """Lightning 2's replacement for ``training_epoch_end``: outputs kept in a list, averaged at the epoch's end.

    Also a step counter and a generator of its own, kept as plain attributes, that training_step moves.
    """

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr=lr)
        self.training_step_outputs: list[torch.Tensor] = []
        self.epoch_averages: list[tuple[int, float]] = []
        self.calls = 0
        self.noise = torch.Generator().manual_seed(0)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        x = x + 0.01 * torch.randn(x.shape, generator=self.noise) * min(self.calls, 10)
        loss = F.cross_entropy(self.head(self.body(x)), y)
        self.training_step_outputs.append(loss)
        self.calls += 1
        return loss

    def on_train_epoch_end(self) -> None:
        outputs = self.training_step_outputs
        self.epoch_averages.append((len(outputs), float(torch.stack(outputs).mean())))
        self.training_step_outputs.clear()


class CountingData(pl.LightningDataModule):
    """A datamodule that ``training_step`` counts in: a counter, a list of losses, an ``hparams`` entry."""

    def __init__(self, seen_in_hparams: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.seen = 0
        self.losses: list[float] = []
        self._private_calls = 0  # private names are left, as on the module

    def train_dataloader(self) -> DataLoader:
        return make_loader()


class CountsInTheDatamodule(Net):
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        data = self.trainer.datamodule
        data.seen += 1
        data.losses.append(float(loss))
        data.hparams.seen_in_hparams += 1
        data._private_calls += 1
        return loss


def test_the_datamodules_attributes_are_as_before_the_test(tmp_path: Path) -> None:
    """What training_step counts in the datamodule is put back, as on the module: it counted the test's steps."""
    data = CountingData()
    finder = LRFinder(**FAST)
    trainer(tmp_path, [finder], max_steps=3).fit(CountsInTheDatamodule(lr=0.01), datamodule=data)
    assert finder.result is not None and len(finder.result.losses) > 10
    assert (data.seen, len(data.losses), data.hparams.seen_in_hparams) == (3, 3, 3)
    assert data._private_calls > 3


class ArrayData(pl.LightningDataModule):
    """A datamodule holding its data as a numpy array (made in setup()) and a loader over it."""

    def __init__(self) -> None:
        super().__init__()
        self.features = np.ones((2**20, 16), dtype=np.float32)  # 64 MiB
        self.steps_seen = 0
        self.per_class = np.zeros(3)  # a small array of counts: state, put back

    def train_dataloader(self) -> DataLoader:
        return make_loader()


class CountsInArrayData(Net):
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self.trainer.datamodule.steps_seen += 1
        self.trainer.datamodule.per_class += 1
        return super().training_step(batch, batch_idx)


def test_the_datamodules_data_arrays_are_not_copied(tmp_path: Path) -> None:
    """Data a datamodule holds as an array is left as it is, not copied for each fit (its counters are put back)."""
    data = ArrayData()
    finder = LRFinder(**FAST)
    tracemalloc.start()
    try:
        trainer(tmp_path, [finder], max_steps=2).fit(CountsInArrayData(lr=0.01), datamodule=data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert finder.result is not None and data.steps_seen == 2 and data.per_class.tolist() == [2.0, 2.0, 2.0]
    assert peak < 32 * 2**20, f"{peak / 2**20:.0f} MiB allocated at the peak of the fit: the 64 MiB array was copied"


_NetT = TypeVar("_NetT", bound=Net)


def _fit_with_and_without_the_finder(tmp_path: Path, net: type[_NetT]) -> tuple[_NetT, _NetT]:
    """Two epochs of 4 steps with an LRFinder, then the same fit without it at the LR it applied."""

    def run(root: Path, lr: float, finder: LRFinder | None) -> _NetT:
        pl.seed_everything(7, verbose=False)
        model = net(lr=lr)
        t = trainer(root, [finder] if finder is not None else [], max_epochs=2, max_steps=-1, limit_train_batches=4)
        t.fit(model, make_loader())
        return model

    finder = LRFinder(**FAST)
    model = run(tmp_path / "a", 0.01, finder)
    assert finder.result is not None and finder.result.num_steps > 10 and finder.applied_lr is not None
    return model, run(tmp_path / "b", finder.applied_lr, None)


def test_the_modules_own_attributes_are_as_before_the_test(tmp_path: Path) -> None:
    """The outputs list, counter and generator training_step moves are put back: epoch 0 averages its own outputs.

    The test's steps stayed in the list (the first epoch's average took in its diverged losses) and the
    counter and generator went on from the test's steps.
    """

    model, by_hand = _fit_with_and_without_the_finder(tmp_path, EpochOutputsNet)
    assert model.epoch_averages == by_hand.epoch_averages and [n for n, _ in model.epoch_averages] == [4, 4]
    assert model.calls == by_hand.calls == 8
    wa, wb = weights(model), weights(by_hand)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


class ItemLossesNet(Net):
    """Losses kept as Python floats (``loss.item()``) in a list and a dict of lists, averaged at the epoch's end.

    Also the gradient norm of each optimizer step, kept in a list by ``on_before_optimizer_step``.
    """

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr=lr)
        self.losses: list[float] = []
        self.history: dict[str, list[float]] = {"loss": []}
        self.grad_norms: list[float] = []
        self.epoch_averages: list[tuple[int, float]] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        self.losses.append(loss.item())
        self.history["loss"].append(float(loss))
        return loss

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        self.grad_norms.append(float(torch.linalg.vector_norm(self.head.weight.grad)))

    def on_train_epoch_end(self) -> None:
        self.epoch_averages.append((len(self.losses), sum(self.losses) / len(self.losses)))
        self.losses.clear()


def test_the_modules_lists_of_plain_values_are_as_before_the_test(tmp_path: Path) -> None:
    """A list of ``loss.item()`` floats that training_step appends to is put back like a list of tensors.

    Lists and dicts of plain values were left as the test left them (as an optimizer's log is): epoch 0
    averaged the test's losses, the diverged ones included, with its own, and the history and the
    on_before_optimizer_step gradient norms held the test's steps.
    """

    model, by_hand = _fit_with_and_without_the_finder(tmp_path, ItemLossesNet)
    assert model.epoch_averages == by_hand.epoch_averages and [n for n, _ in model.epoch_averages] == [4, 4]
    assert model.history == by_hand.history and len(model.history["loss"]) == 8
    assert model.grad_norms == by_hand.grad_norms and len(model.grad_norms) == 8


class AverageMeter:
    """The classic running-average helper of PyTorch's examples: plain Python floats."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sum, self.count, self.avg = 0.0, 0, 0.0

    def update(self, value: float, n: int = 1) -> None:
        self.sum += value * n
        self.count += n
        self.avg = self.sum / self.count


class MeterNet(Net):
    """Averages its loss in an ``AverageMeter`` over the epoch and smooths it over a ``deque`` of the last 3."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr=lr)
        self.meter = AverageMeter()
        self.window: deque[float] = deque(maxlen=3)
        self._smoothed: list[tuple[str, float]] = []  # private: the test's restore puts back public attributes
        self._epoch_avgs: list[tuple[int, float]] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        self.meter.update(loss.item(), n=batch[0].shape[0])
        self.window.append(loss.item())
        self._smoothed.append((self.phase, sum(self.window) / len(self.window)))
        return loss

    def on_train_epoch_end(self) -> None:
        self._epoch_avgs.append((self.meter.count, self.meter.avg))
        self.meter.reset()


def test_a_helper_objects_fields_and_a_deque_are_as_before_the_test(tmp_path: Path) -> None:
    """An AverageMeter's sum and count, and a deque of the last losses, kept the test's losses.

    Epoch 0's average took in the sweep's ~40 losses (diverged ones included) and the first smoothed
    losses of training averaged the sweep's last ones: neither a list nor a dict, they were left as the
    test left them.
    """

    model, by_hand = _fit_with_and_without_the_finder(tmp_path, MeterNet)
    assert model._epoch_avgs == by_hand._epoch_avgs and [n for n, _ in model._epoch_avgs] == [128, 128]
    smoothed = [value for phase, value in model._smoothed if phase == "train"]
    assert smoothed == [value for _, value in by_hand._smoothed] and len(smoothed) == 8


class _Writer:
    """A stand-in for a logger's experiment (a SummaryWriter): keeps what it is sent."""

    def __init__(self) -> None:
        self.scalars: list[tuple[str, float, int]] = []

    def add_scalar(self, tag: str, value: float, global_step: int) -> None:
        self.scalars.append((tag, value, global_step))


class ExperimentLogger(MemoryLogger):
    """A ``MemoryLogger`` with an experiment and a ``log_dir``, as TensorBoardLogger has."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self._writer = _Writer()

    @property
    def experiment(self) -> _Writer:
        return self._writer

    @property
    def log_dir(self) -> str:
        return str(self.root / "logs")


class DirectLoggingNet(Net):
    """Sends its loss to the logger itself, not through ``self.log``: ``log_metrics`` and the experiment."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr=lr)
        self._log_dirs: list[Any] = []  # private: the test's restore puts back public attributes

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        self.logger.log_metrics({"direct_loss": loss.item()}, step=self.global_step)
        self.logger.experiment.add_scalar("direct_loss", loss.item(), self.global_step)
        self._log_dirs.append(self.logger.log_dir)
        return loss


def test_what_training_step_sends_the_logger_itself_stays_out_of_the_fits_logs(tmp_path: Path) -> None:
    """self.logger.log_metrics / self.logger.experiment.add_scalar in training_step logged every test step.

    The test's ~40 losses, the diverged ones included, went into the fit's logs at step 0 (a CSVLogger's
    metrics.csv had 45 rows of them for 8 training steps). A plain attribute of the logger still reads.
    """
    lg = ExperimentLogger(tmp_path)
    model = DirectLoggingNet()
    finder = LRFinder(**FAST)
    trainer(tmp_path, [finder], max_steps=4, logger=lg).fit(model, make_loader())
    assert finder.result is not None and finder.result.num_steps > 10
    direct = [(m["direct_loss"], step) for m, step in lg.metrics if "direct_loss" in m]
    assert [step for _, step in direct] == [0, 1, 2, 3]
    assert [(v, step) for _, v, step in lg.experiment.scalars] == direct
    assert model._log_dirs == [str(tmp_path / "logs")] * (finder.result.num_steps + 4)


class LogDirNet(Net):
    """Reads the Trainer's ``log_dir`` and the logger's class in ``training_step``, as code saving a figure does."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr=lr)
        self._seen: list[tuple[Any, bool]] = []  # private: the test's restore puts back public attributes

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self._seen.append((self.trainer.log_dir, isinstance(self.logger, CSVLogger)))
        return super().training_step(batch, batch_idx)


def test_the_trainers_log_dir_is_the_loggers_during_the_test(tmp_path: Path) -> None:
    """The muted logger passes for a CSVLogger: the Trainer's log_dir was its save_dir during the test's steps.

    Lightning reads ``loggers[0].log_dir`` only when ``isinstance`` says it is a TensorBoardLogger or a
    CSVLogger, so a path built from ``self.trainer.log_dir`` in training_step was another folder (the
    logger's root, not its version folder) for every step of the test, and an ``isinstance`` branch flipped.
    """
    csv_logger = CSVLogger(tmp_path, name="logs")
    model = LogDirNet()
    finder = LRFinder(**FAST)
    trainer(tmp_path, [finder], max_steps=4, logger=csv_logger).fit(model, make_loader())
    assert finder.result is not None and finder.result.num_steps > 10
    assert model._seen == [(csv_logger.log_dir, True)] * (finder.result.num_steps + 4)


def test_negative_loss(tmp_path: Path) -> None:
    """A loss shifted below zero gives the same curve shape and the same suggestion."""

    def run(shift: float, **options: Any) -> tuple[LRFinder, Net]:
        pl.seed_everything(0, verbose=False)
        finder = LRFinder(**{**FAST, **options})
        model = Net(loss_shift=shift)
        trainer(tmp_path, [finder], max_steps=1).fit(model, make_loader())
        return finder, model

    shifted, model = run(-10.0, stop_factor=None)
    plain, _ = run(0.0, stop_factor=None)
    assert shifted.result is not None and plain.result is not None
    assert max(shifted.result.losses[:10]) < 0
    assert list(shifted.result.losses) == pytest.approx([v - 10.0 for v in plain.result.losses], abs=1e-4)
    assert shifted.result.suggestion is not None and plain.result.suggestion is not None
    assert shifted.result.suggestion.lr == plain.result.suggestion.lr
    assert model.lr == shifted.result.lr
    # With the default stop rule the test runs on (a naive "loss > 4 * best" stops at once).
    stopped, _ = run(-10.0)
    assert stopped.result is not None and stopped.result.num_steps > FAST["num_steps"] // 2


def test_second_fit_on_trained_module_global_step_positive(tmp_path: Path) -> None:
    finder = LRFinder(**FAST)
    model = Net()
    t = trainer(tmp_path, [finder], max_epochs=1, max_steps=-1)
    t.fit(model, make_loader(n=128))  # 4 batches
    first = finder.result
    assert t.global_step == 4
    t.fit_loop.max_epochs = 2
    t.fit(model, make_loader(n=128))  # global_step > 0: the module is already trained
    assert finder.result is not None and finder.result is not first
    assert t.global_step == 8 and t.current_epoch == 2  # the test did not move the loop's counters
    assert len(model.train_events()) == 8
    assert model.lr == finder.applied_lr or finder.applied_lr is None


def test_resume_from_checkpoint_skips_and_is_not_disturbed(tmp_path: Path) -> None:
    ckpt_dir = tmp_path / "ckpt"
    finder = LRFinder(**FAST)
    pl.seed_everything(3, verbose=False)
    t = trainer(
        tmp_path,
        [finder, ModelCheckpoint(dirpath=ckpt_dir, save_last=True)],
        enable_checkpointing=True,
        max_steps=4,
    )
    t.fit(Net(), make_loader(shuffle=False))
    ckpt = ckpt_dir / "last.ckpt"
    assert ckpt.exists() and finder.result is not None

    def resume(with_finder: bool) -> tuple[Net, LRFinder]:
        pl.seed_everything(5, verbose=False)
        model = Net(lr=0.5)  # the checkpoint's optimizer state must win over this
        again = LRFinder(**FAST)
        t2 = trainer(tmp_path / ("r1" if with_finder else "r2"), [again] if with_finder else [], max_steps=8)
        t2.fit(model, make_loader(shuffle=False), ckpt_path=ckpt)
        assert t2.global_step == 8
        return model, again

    with pytest.warns(UserWarning, match="resumes from ckpt_path") as said:
        resumed, again = resume(True)
    # Why the test is skipped, and how to run one on the checkpoint's weights (was why alone).
    text = next(str(w.message) for w in said if "resumes from ckpt_path" in str(w.message))
    assert "stay exactly as saved. To test again on its weights, load them (load_from_checkpoint) and fit without " \
        "ckpt_path." in text
    plain, _ = resume(False)
    assert [e for e in resumed.events if e[0] == "test"] == []
    assert all(torch.equal(a, b) for a, b in zip(weights(resumed).values(), weights(plain).values()))
    # The result of the fit that found the LR is restored from the checkpoint.
    assert again.result is not None and again.result.lr == finder.result.lr and again.applied_lr == finder.applied_lr
    # The module's LR attribute says what the restored optimizer trains with, not the constructor's 0.5.
    assert resumed.lr == finder.applied_lr and [e[1] for e in resumed.train_events()][-1] == (finder.applied_lr,)


def test_resume_from_a_checkpoint_without_the_callback_forgets_the_callbacks_earlier_fit(tmp_path: Path) -> None:
    """The same LRFinder found an LR in an earlier fit; the checkpoint's fit had no LRFinder (no state to load).

    The resumed module's LR attribute was set to the earlier fit's LR ("the value that fit gave it"), while the
    restored optimizer trains with the checkpoint's own.
    """
    finder = LRFinder(**FAST)
    trainer(tmp_path / "first", [finder], max_steps=2).fit(Net(), make_loader())
    assert finder.applied_lr is not None
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    trainer(tmp_path / "plain", [ckpt], enable_checkpointing=True, max_steps=2).fit(Net(lr=0.03), make_loader())
    resumed = Net(lr=0.03)
    with pytest.warns(UserWarning, match="resumes from ckpt_path") as record:
        trainer(tmp_path / "r", [finder], max_steps=4).fit(
            resumed, make_loader(), ckpt_path=tmp_path / "ckpt" / "last.ckpt"
        )
    assert not any("is set to" in str(w.message) for w in record)
    assert resumed.lr == 0.03 and finder.applied_lr is None and finder.result is None
    assert [e[1] for e in resumed.train_events()] == [(0.03,), (0.03,)]


def test_a_second_fit_of_a_trainer_already_done_keeps_the_first_fits_result(tmp_path: Path) -> None:
    """trainer.fit again on a Trainer whose fit reached max_steps trains nothing, yet setup() set result and
    applied_lr to None: the first fit's result was lost. A later fit that trains again runs a test of its own."""
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=2)
    model = Net()
    t.fit(model, make_loader())
    result, applied = finder.result, finder.applied_lr
    assert result is not None and applied is not None
    with pytest.warns(UserWarning, match=r"already done.*stay those of this callback's previous fit"):
        t.fit(model, make_loader())
    assert t.global_step == 2
    assert finder.result is result and finder.applied_lr == applied and model.lr == applied
    t.fit_loop.epoch_loop.max_steps = 4
    t.fit(model, make_loader())
    assert t.global_step == 4 and finder.result is not None and finder.result is not result


class FailsInTheTest(Net):
    """Raises in ``training_step`` at the range test's ``fail_at``-th call (``None``: never)."""

    fail_at: int | None = 10

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.phase == "test" and len(self.steps) == self.fail_at:
            raise RuntimeError("the test's step failed")
        return super().training_step(batch, batch_idx)


def test_an_error_in_training_step_is_said_as_the_range_tests_at_its_step(tmp_path: Path) -> None:
    # torch's bare RuntimeError (a shape the batch does not fit, say) named neither the range test nor its step.
    model = FailsInTheTest()
    start = weights(model)
    finder = LRFinder(**FAST)
    with pytest.raises(ModelError) as info:
        trainer(tmp_path, [finder], max_steps=3).fit(model, make_loader())
    lr = lr_schedule(FAST["min_lr"], FAST["max_lr"], FAST["num_steps"])[10]
    said = str(info.value)
    assert said.startswith(
        "LRFinder: the module's training_step (or its backward or optimizer step) raised RuntimeError during the LR "
        f"range test, at step 10 (lr={lr:.2e}): the test's step failed. It ran on a batch of the fit's train loader"
    ), said
    assert "were put back as they were before the test. Fix it, or leave LRFinder out of this fit." in said
    assert isinstance(info.value.__cause__, RuntimeError) and str(info.value.__cause__) == "the test's step failed"
    assert all(torch.equal(v, weights(model)[k]) for k, v in start.items()) and finder.result is None


def test_the_sweeps_and_a_refine_trials_training_step_errors_share_one_ladder() -> None:
    # The sweep's and the refine trials' steps said the same thing in two copies of the same except ladder; one
    # helper raises both now, with the texts they had, and lets lrfinder's own errors through untouched.
    from lrfinder import LRFinderError
    from lrfinder.diagnostics import raise_training_step_error

    cause = RuntimeError("shapes do not fit")
    with pytest.raises(ModelError) as sweep:
        raise_training_step_error(cause, "LRFinder", 3, 0.0125, "leave LRFinder out of this fit")
    assert str(sweep.value) == (
        "LRFinder: the module's training_step (or its backward or optimizer step) raised RuntimeError during the LR "
        "range test, at step 3 (lr=1.25e-02): shapes do not fit. It ran on a batch of the fit's train loader, as in "
        "training: check that code on one such batch outside the fit (e.g. a shape or a key the batch does not have; "
        "the error it raised is chained, above it in the traceback). The weights, optimizer and scheduler states, "
        "RNGs and data order were put back as they were before the test. Fix it, or leave LRFinder out of this fit."
    )
    assert sweep.value.__cause__ is cause
    with pytest.raises(ModelError) as trial:
        raise_training_step_error(cause, "LRFinder", 1, 0.5, "leave refine out (refine=False)", trial=2)
    assert str(trial.value) == (
        "LRFinder: the module's training_step (or its backward or optimizer step) raised RuntimeError during the LR "
        "range test, in refine trial 2 (at lr=5.00e-01), at its step 1: shapes do not fit. It ran on a batch of the "
        "fit's train loader after the sweep, as in training: check that code on one such batch outside the fit (the "
        "error it raised is chained, above it in the traceback). The weights, optimizer and scheduler states, RNGs "
        "and data order were put back as they were before the test. Fix it, or leave refine out (refine=False)."
    )
    own = LRFinderError("worded already")
    with pytest.raises(LRFinderError) as passed:
        raise_training_step_error(own, "LRFinder", 0, 1.0, "leave LRFinder out of this fit")
    assert passed.value is own and own.__cause__ is None


def test_resume_from_a_checkpoint_written_during_the_test_runs_the_test(tmp_path: Path) -> None:
    """OnExceptionCheckpoint saved the fit's starting state on an error (or Ctrl-C) during the test.

    Run again, the fit resumes from it (OnExceptionCheckpoint's ckpt_path='last'): the test was skipped as for any
    resumed fit, and training ran at the module's own LR, with no test ever finished. It runs now.
    """
    model = FailsInTheTest()
    start = weights(model)
    on_error = pl.callbacks.OnExceptionCheckpoint(dirpath=tmp_path / "ckpt")
    first = trainer(tmp_path, [LRFinder(**FAST), on_error], max_steps=3, enable_checkpointing=True)
    with pytest.raises(ModelError, match="the test's step failed"):
        first.fit(model, make_loader())
    saved = torch.load(tmp_path / "ckpt" / "on_exception.ckpt", weights_only=False)
    assert saved["global_step"] == 0 and saved["callbacks"]["LRFinder"]["result"] is None
    assert all(torch.equal(saved["state_dict"][k], v) for k, v in start.items())

    finder = LRFinder(**FAST)
    again = FailsInTheTest()
    again.fail_at = None
    on_error = pl.callbacks.OnExceptionCheckpoint(dirpath=tmp_path / "ckpt")
    t = trainer(tmp_path, [finder, on_error], max_steps=3, enable_checkpointing=True)
    t.fit(again, make_loader())
    assert t.ckpt_path is not None and Path(t.ckpt_path).name == "on_exception.ckpt"  # it did resume
    assert finder.result is not None and finder.applied_lr is not None and again.lr == finder.applied_lr
    assert len(again.test_events()) > 10
    assert [e[1] for e in again.train_events()] == [(finder.applied_lr,)] * 3


def test_a_failed_test_gives_the_module_its_own_optimizer_back(tmp_path: Path) -> None:
    """optimizer='adamw': a test that fails leaves the module's own optimizer in the fit, and in what it saves.

    OnExceptionCheckpoint saved the registry AdamW built for the test (two param groups), and the fit resumed from
    that checkpoint failed in Lightning's restore: "loaded state dict has a different number of parameter groups".
    """
    options: dict[str, Any] = {"optimizer": "adamw", "scheduler": "cosine", **FAST}
    on_error = pl.callbacks.OnExceptionCheckpoint(dirpath=tmp_path / "ckpt")
    first = trainer(tmp_path, [LRFinder(**options), on_error], max_steps=3, enable_checkpointing=True)
    with pytest.raises(ModelError, match="the test's step failed"):
        first.fit(FailsInTheTest(), make_loader())
    assert [type(o).__name__ for o in first.optimizers] == ["RecordingSGD"] and first.lr_scheduler_configs == []
    saved = torch.load(tmp_path / "ckpt" / "on_exception.ckpt", weights_only=False)
    assert [g["lr"] for g in saved["optimizer_states"][0]["param_groups"]] == [0.01] and saved["lr_schedulers"] == []

    finder = LRFinder(**options)
    again = FailsInTheTest()
    again.fail_at = None
    t = trainer(tmp_path, [finder], max_steps=3)
    t.fit(again, make_loader(), ckpt_path=tmp_path / "ckpt" / "on_exception.ckpt")
    assert finder.applied_lr is not None and [type(o).__name__ for o in t.optimizers] == ["AdamW"]


def test_slurm_requeue_checkpoint_during_the_test_holds_the_starting_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SLURMEnvironment(auto_requeue=True): Lightning's handler of the requeue signal saves a checkpoint at once.

    Sent during the test, it saved the test's weights (blown up at the sweep's LRs), its optimizer state and LR,
    and no callback's state; the requeued job resumed from it (Lightning finds the hpc checkpoint itself), ran no
    test and trained from those weights. The checkpoint is written once the test's state is put back: the fit's
    starting state, from which the requeued job runs the test.
    """
    import signal

    connector = importlib.import_module(pl.__name__ + ".trainer.connectors.signal_connector")
    environments = importlib.import_module(pl.__name__ + ".plugins.environments")
    requeued: list[Any] = []
    monkeypatch.setattr(connector, "call", lambda cmd, *args, **kwargs: requeued.append(cmd) or 0)  # no scontrol
    for name, value in {"SLURM_NTASKS": "1", "SLURM_JOB_ID": "123", "SLURM_JOB_NAME": "train"}.items():
        monkeypatch.setenv(name, value)
    for name in ("SLURM_NODEID", "SLURM_PROCID", "SLURM_LOCALID"):
        monkeypatch.setenv(name, "0")

    class Requeued(Net):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            if self.phase == "test" and len(self.steps) == 60:  # late in the sweep, at LRs that blow the weights up
                os.kill(os.getpid(), signal.SIGUSR1)
            return super().training_step(batch, batch_idx)

    def fit(model: Net, finder: LRFinder) -> pl.Trainer:
        slurm = environments.SLURMEnvironment(auto_requeue=True)
        t = trainer(tmp_path, [finder], max_steps=2, plugins=[slurm])
        t.fit(model, make_loader())
        return t

    model = Requeued()
    start = weights(model)
    fit(model, LRFinder(**FAST))
    assert requeued == [["scontrol", "requeue", "123"]]
    saved = torch.load(tmp_path / "hpc_ckpt_1.ckpt", weights_only=False)
    assert saved["global_step"] == 0 and saved["callbacks"]["LRFinder"]["result"] is None
    assert all(torch.equal(saved["state_dict"][k], v) for k, v in start.items())
    assert saved["optimizer_states"][0]["state"] == {} and saved["optimizer_states"][0]["param_groups"][0]["lr"] == 0.01

    finder = LRFinder(**FAST)
    again = Net()
    t = fit(again, finder)
    assert t.ckpt_path is not None and Path(t.ckpt_path).name == "hpc_ckpt_1.ckpt"  # the requeued job resumed
    assert finder.applied_lr is not None and again.lr == finder.applied_lr and len(again.test_events()) > 10


def test_resume_of_a_fit_with_the_registry_optimizer_restores_it(tmp_path: Path) -> None:
    """optimizer='adamw', scheduler='cosine': resuming loaded AdamW's state into the module's own SGD (it failed:
    "loaded state dict has a different number of parameter groups"). Resumed from epoch 1, the fit ends as the
    uninterrupted one.
    """
    finder = LRFinder(**FAST, optimizer="adamw", scheduler="cosine")
    every_epoch = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_epochs=1, save_top_k=-1)
    full = Net(dropout=0.0)
    settings: dict[str, Any] = {"max_epochs": 2, "max_steps": -1}
    trainer(tmp_path, [finder, every_epoch], enable_checkpointing=True, **settings).fit(
        full, make_loader(n=128, shuffle=False)
    )
    resumed = Net(lr=0.5, dropout=0.0)
    t = trainer(tmp_path / "r", [LRFinder(**FAST, optimizer="adamw", scheduler="cosine")], **settings)
    with pytest.warns(UserWarning, match="resumes from ckpt_path"):
        t.fit(resumed, make_loader(n=128, shuffle=False), ckpt_path=tmp_path / "ckpt" / "epoch=0-step=4.ckpt")
    assert type(t.optimizers[0]).__name__ == "AdamW"
    assert isinstance(t.lr_scheduler_configs[0].scheduler, torch.optim.lr_scheduler.CosineAnnealingLR)
    assert [e for e in resumed.events if e[0] == "test"] == [] and t.global_step == 8
    wa, wb = weights(full), weights(resumed)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


class LRTrace(Callback):
    """The first param group's LR at each training batch's start."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def test_scheduler_without_optimizer_schedules_the_modules_own_optimizer_and_resumes_it(tmp_path: Path) -> None:
    """scheduler='cosine' without optimizer= was refused at construction ("Expected optimizer to be set when scheduler
    is"): it now schedules the one optimizer configure_optimizers returns, warm-up first, from the found LR; a fit
    resumed from a checkpoint continues the schedule (not restarts it) and ends as the uninterrupted one."""
    options: dict[str, Any] = {**FAST, "scheduler": "cosine", "scheduler_settings": {"warmup_steps": 2}}
    finder, trace = LRFinder(**options), LRTrace()
    every_epoch = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_epochs=1, save_top_k=-1)
    settings: dict[str, Any] = {"max_epochs": 2, "max_steps": -1}
    t = trainer(tmp_path, [finder, trace, every_epoch], enable_checkpointing=True, **settings)
    t.fit(full := Net(dropout=0.0), make_loader(n=128, shuffle=False))
    lr = finder.applied_lr
    assert lr is not None and full.lr == lr and type(t.optimizers[0]) is RecordingSGD  # the module's own
    sched = t.lr_scheduler_configs[0].scheduler
    assert isinstance(sched, torch.optim.lr_scheduler.SequentialLR) and sched.optimizer is t.optimizers[0]
    assert len(trace.lrs) == 8 and trace.lrs[0] < trace.lrs[1] < trace.lrs[2] == pytest.approx(lr)
    assert all(a > b for a, b in itertools.pairwise(trace.lrs[2:]))  # the cosine, down from the found LR

    resumed, again = Net(lr=0.5, dropout=0.0), LRTrace()
    t = trainer(tmp_path / "r", [LRFinder(**options), again], **settings)
    with pytest.warns(UserWarning, match="resumes from ckpt_path"):
        t.fit(resumed, make_loader(n=128, shuffle=False), ckpt_path=tmp_path / "ckpt" / "epoch=0-step=4.ckpt")
    assert type(t.optimizers[0]) is RecordingSGD and isinstance(
        t.lr_scheduler_configs[0].scheduler, torch.optim.lr_scheduler.SequentialLR
    )
    assert again.lrs == pytest.approx(trace.lrs[4:]) and t.global_step == 8
    wa, wb = weights(full), weights(resumed)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


class TensorLRNet(Net):
    """``Net`` whose optimizer holds its LR as a tensor (``lr=torch.tensor(...)``), which a schedule writes in place."""

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=torch.tensor(self.lr), momentum=0.9)


def test_scheduler_without_optimizer_leaves_a_tensor_lr_of_the_modules_optimizer_as_it_was(tmp_path: Path) -> None:
    """The schedule built over the module's own optimizer before the test (to check its settings) put back the groups'
    entries but not a tensor LR's value, which its warm-up had set in place to its start (0): an inconclusive test
    then trained at LR 0, not at the module's own LR the warning named."""
    options: dict[str, Any] = {"num_steps": 80, "min_lr": 1e-7, "max_lr": 1e-6}  # too low to fall: inconclusive
    options.update(scheduler="cosine", scheduler_settings={"warmup_steps": 2})
    trace = LRTrace()
    t = trainer(tmp_path, [LRFinder(**options), trace], max_steps=3)
    with pytest.warns(UserWarning, match=r"inconclusive.*module's own learning rate, 5\.00e-02"):
        t.fit(TensorLRNet(lr=0.05), make_loader())
    assert [float(lr) for lr in trace.lrs] == pytest.approx([0.05] * 3)


@pytest.mark.parametrize(
    ("build", "said"),
    [
        (lambda: Net(schedule="warmup"), r"returns an LR scheduler of its own \(LambdaLR\), and a second schedule"),
        (GAN, r"the module uses manual optimization, where Lightning steps no LR scheduler"),
    ],
    ids=["own-scheduler", "manual"],
)
def test_scheduler_without_optimizer_is_refused_where_the_modules_optimizer_cannot_take_it(
    tmp_path: Path, build: Any, said: str
) -> None:
    # A doubled schedule, or one Lightning never steps: refused before the test, naming optimizer= as the way out.
    t = trainer(tmp_path, [LRFinder(**FAST, scheduler="cosine")], max_steps=2)
    with pytest.raises(ValueError, match=said) as info:
        t.fit(model := build(), make_loader())
    message = " ".join(str(info.value).split())
    assert message.startswith("LRFinder(scheduler='cosine') without optimizer= schedules the one optimizer")
    assert "Pass optimizer= too" in message and "'adamw'" in message and "optimizer=torch.optim.AdamW" in message
    assert "leave scheduler=None and keep the schedule in configure_optimizers" in message
    assert [e for e in model.events if e[0] == "test"] == []  # before the test


def test_a_resumed_fit_longer_than_the_restored_one_cycle_is_refused_before_training(tmp_path: Path) -> None:
    """scheduler='onecycle' resumed with a larger max_epochs: Lightning restores the OneCycleLR sized for the
    checkpoint's fit, and torch's "Tried to step 9 times. The specified number of total steps is 8" stopped the
    training at its first step past the old end. Refused at the start, saying what to do; a resume that fits the
    schedule (from epoch 1 of the same 2) trains on as before.
    """
    every_epoch = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_epochs=1, save_top_k=-1)
    settings: dict[str, Any] = {"max_epochs": 2, "max_steps": -1}
    trainer(tmp_path, [LRFinder(**FAST, optimizer="adamw", scheduler="onecycle"), every_epoch],
            enable_checkpointing=True, **settings).fit(Net(dropout=0.0), make_loader(n=128, shuffle=False))  # fmt: skip
    t = trainer(tmp_path / "r", [LRFinder(**FAST, optimizer="adamw", scheduler="onecycle")], **settings)
    with pytest.warns(UserWarning, match="resumes from ckpt_path"):
        t.fit(Net(dropout=0.0), make_loader(n=128, shuffle=False), ckpt_path=tmp_path / "ckpt" / "epoch=0-step=4.ckpt")
    assert t.global_step == 8 and isinstance(t.lr_scheduler_configs[0].scheduler, torch.optim.lr_scheduler.OneCycleLR)

    longer = Net(dropout=0.0)
    t = trainer(tmp_path / "l", [LRFinder(**FAST, optimizer="adamw", scheduler="onecycle")], max_epochs=4, max_steps=-1)
    last = tmp_path / "ckpt" / "epoch=1-step=8.ckpt"
    with pytest.raises(ValueError) as info:
        t.fit(longer, make_loader(n=128, shuffle=False), ckpt_path=last)
    assert " ".join(str(info.value).split()) == (
        f"LRFinder(scheduler='onecycle'): the fit resumes from ckpt_path='{last}', "
        "whose one-cycle schedule spans 8 optimizer steps with 0 left, but this fit takes 8 more (max_epochs=4, "
        "max_steps=-1): torch's OneCycleLR cannot step past its end. Resume with the max_epochs or max_steps of the "
        "checkpoint's fit, or start a new fit without ckpt_path (the range test then runs again and sizes a new "
        "schedule)."
    )
    assert t.global_step == 8  # no step past the checkpoint's


@pytest.mark.parametrize(("name", "floor"), [("cosine", "eta_min=0.00e+00"), ("polynomial", "0")])
def test_a_resumed_fit_longer_than_the_restored_cosine_or_polynomial_is_told_it_trains_at_the_floor(
    tmp_path: Path, name: str, floor: str
) -> None:
    """scheduler='cosine' (or 'polynomial') resumed with a larger max_epochs: Lightning restores the schedule sized
    for the checkpoint's fit (T_max, total_iters), and the steps past its end trained at its floor (LR 0 here),
    silently. Warned, naming both lengths; a resume that fits the schedule says nothing of it."""
    every_epoch = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_epochs=1, save_top_k=-1)
    finder: dict[str, Any] = {**FAST, "optimizer": "adamw", "scheduler": name}
    trainer(tmp_path, [LRFinder(**finder), every_epoch], enable_checkpointing=True, max_epochs=2,
            max_steps=-1).fit(Net(dropout=0.0), make_loader(n=128, shuffle=False))  # fmt: skip
    t = trainer(tmp_path / "r", [LRFinder(**finder)], max_epochs=2, max_steps=-1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t.fit(Net(dropout=0.0), make_loader(n=128, shuffle=False), ckpt_path=tmp_path / "ckpt" / "epoch=0-step=4.ckpt")
    assert t.global_step == 8 and not [w for w in caught if "schedule spans" in str(w.message)]

    longer = Net(dropout=0.0)
    t = trainer(tmp_path / "l", [LRFinder(**finder)], max_epochs=4, max_steps=-1)
    last = tmp_path / "ckpt" / "epoch=0-step=4.ckpt"
    with pytest.warns(UserWarning, match="schedule spans") as info:
        t.fit(longer, make_loader(n=128, shuffle=False), ckpt_path=last)
    said = next(" ".join(str(w.message).split()) for w in info if "schedule spans" in str(w.message))
    assert said == (
        f"LRFinder(scheduler='{name}'): the fit resumes from ckpt_path='{last}', whose {name} schedule spans 8 "
        "optimizer steps with 4 left, but this fit takes 12 more (max_epochs=4, max_steps=-1): the steps past its end "
        f"train at its floor, LR {floor}. Resume with the max_epochs or max_steps of the checkpoint's fit, or start a "
        "new fit without ckpt_path (the range test then runs again and sizes a new schedule)."
    )
    assert t.global_step == 16 and {g["lr"] for g in t.optimizers[0].param_groups} == {0.0}  # on, at the floor


def test_a_fit_resumed_during_the_one_cycles_warm_up_trains_on_and_a_longer_one_is_refused(tmp_path: Path) -> None:
    """With a warm-up the schedule is a SequentialLR whose OneCycleLR torch holds at last_epoch -1 until the
    milestone: a fit resumed in the warm-up with the same max_epochs was refused ("spans 6 optimizer steps with 7
    left, but this fit takes 8 more") though the schedule had room for it. Counted from the SequentialLR's steps,
    it trains to the end; a longer fit is still refused, with the whole schedule's steps."""
    every_epoch = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_epochs=1, save_top_k=-1)
    finder: dict[str, Any] = {**FAST, "optimizer": "adamw", "scheduler": "onecycle",
                              "scheduler_settings": {"warmup_steps": 6}}  # fmt: skip
    settings: dict[str, Any] = {"max_epochs": 3, "max_steps": -1}
    trainer(tmp_path, [LRFinder(**finder), every_epoch], enable_checkpointing=True, **settings).fit(
        Net(dropout=0.0), make_loader(n=128, shuffle=False)
    )
    in_warm_up = tmp_path / "ckpt" / "epoch=0-step=4.ckpt"  # 4 of the 6 warm-up steps taken
    t = trainer(tmp_path / "r", [LRFinder(**finder)], **settings)
    with pytest.warns(UserWarning, match="resumes from ckpt_path"):
        t.fit(Net(dropout=0.0), make_loader(n=128, shuffle=False), ckpt_path=in_warm_up)
    sched = t.lr_scheduler_configs[0].scheduler
    assert t.global_step == 12 and isinstance(sched, torch.optim.lr_scheduler.SequentialLR)
    assert sched._schedulers[-1].last_epoch == 6  # the cycle's last step, 12 - 6

    t = trainer(tmp_path / "l", [LRFinder(**finder)], max_epochs=4, max_steps=-1)
    with pytest.raises(ValueError, match=r"whose one-cycle schedule spans 12 optimizer steps with 8 left, but this fit "
                                         r"takes 12 more \(max_epochs=4"):  # fmt: skip
        t.fit(Net(dropout=0.0), make_loader(n=128, shuffle=False), ckpt_path=in_warm_up)
    assert t.global_step == 4


#: Lightning < 2.6's BatchSizeFinder(mode="power") doubles the batch max_trials times after init_val, not
#: max_trials - 1: init_val=16, max_trials=2 finds 64 there, 32 from 2.6 on.
BSF_TRIAL_FACTOR = 2 if LIGHTNING_VERSION < (2, 6) else 1


def test_batch_size_finder_before_is_no_resume(tmp_path: Path) -> None:
    """Lightning's BatchSizeFinder restores its temporary checkpoint in place: not a resume, the test runs."""
    finder = LRFinder(**FAST)
    model, dm = Net(), DataModule(batch_size=16)
    bsf = pl.callbacks.BatchSizeFinder(mode="power", steps_per_trial=1, init_val=16, max_trials=2)
    t = trainer(tmp_path, [bsf, finder], max_steps=2)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*resumes from ckpt_path.*")
        t.fit(model, datamodule=dm)
    found = bsf.optimal_batch_size
    assert found == 32 * BSF_TRIAL_FACTOR and dm.batch_size == found
    result = finder.result
    assert result is not None and result.batch_size == found and finder.applied_lr is not None
    assert model.lr == finder.applied_lr and model.train_events()[-1][1] == (finder.applied_lr,)


def test_batch_size_finder_with_a_target_batch_is_said(tmp_path: Path) -> None:
    """target_batch_size silently replaced the batch BatchSizeFinder had just found (a larger one may not fit)."""
    finder = LRFinder(**FAST, target_batch_size=64)
    model, dm = Net(), DataModule(batch_size=16)
    bsf = pl.callbacks.BatchSizeFinder(mode="power", steps_per_trial=1, init_val=16, max_trials=1)
    t = trainer(tmp_path, [bsf, finder], max_steps=2)
    found = 16 * BSF_TRIAL_FACTOR
    with pytest.warns(UserWarning, match=rf"BatchSizeFinder found a batch of {found} per device, and "
                      r"target_batch_size=64 replaces it with 64 per device .*more than BatchSizeFinder found to fit "
                      r"in memory"):
        t.fit(model, datamodule=dm)
    assert finder.result is not None and finder.result.batch_size == found and dm.batch_size == 64


def test_lightnings_learning_rate_finder_too_is_said(tmp_path: Path) -> None:
    finder = LRFinder(**FAST)
    model = Net()
    lightning_finder = pl.callbacks.LearningRateFinder(num_training_steps=10)
    t = trainer(tmp_path, [lightning_finder, finder], max_steps=2)
    with pytest.warns(UserWarning, match="LearningRateFinder"):
        t.fit(model, make_loader())
    assert finder.applied_lr is not None and model.lr == finder.applied_lr
    assert t.optimizers[0].param_groups[0]["lr"] == finder.applied_lr


def test_lightnings_tuner_before_the_fit_runs_alone_and_the_fit_then_runs_the_test(tmp_path: Path) -> None:
    """``Tuner(trainer).lr_find`` on a Trainer holding LRFinder, then ``trainer.fit``: what docs/callback.md says.

    The Tuner's sweep runs without LRFinder (Lightning swaps the callbacks out), sets the module's LR; the fit then
    runs LRFinder's test, whose LR replaces the Tuner's, and trains with it.
    """
    finder = LRFinder(**FAST)
    model = Net()
    t = trainer(tmp_path, [finder], max_steps=2)
    tuned = importlib.import_module(f"{pl.__name__}.tuner").Tuner(t).lr_find(model, make_loader(), num_training=30)
    assert finder.result is None and model.lr == tuned.suggestion()
    t.fit(model, make_loader())
    assert finder.result is not None and finder.applied_lr is not None and finder.applied_lr != tuned.suggestion()
    assert model.lr == finder.applied_lr and t.optimizers[0].param_groups[0]["lr"] == finder.applied_lr


class ManualNet(Net):
    """:class:`Net` under manual optimization: one optimizer, stepped in ``training_step``; steps recorded.

    Subclasses add to the step with :meth:`before_step` (after the backward) and :meth:`after_step`.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.automatic_optimization = False

    def before_step(self, opt: Any) -> None:
        """Called between the backward and ``opt.step()``."""

    def after_step(self) -> None:
        """Called after ``opt.step()``."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        opt = self.optimizers()
        opt.zero_grad()
        x, y = batch
        loss = F.cross_entropy(self.head(self.body(x)), y)
        self.manual_backward(loss)
        self.before_step(opt)
        opt.step()
        self.after_step()
        self.steps.append((self.phase, x.shape[0], float(loss.detach()), False))
        self.mean_loss.update(loss.detach())
        return loss


def test_manual_optimization_single_optimizer(tmp_path: Path) -> None:
    finder = LRFinder(**FAST)
    model = ManualNet()
    t = trainer(tmp_path, [finder], max_steps=3)
    t.fit(model, make_loader())
    result = finder.result
    assert result is not None and result.suggestion is not None
    sweep = model.test_events()
    assert [e[1][0] for e in sweep] == pytest.approx(list(result.lrs))
    assert list(result.losses) == pytest.approx([s[2] for s in model.steps if s[0] == "test"])
    assert model.lr == result.lr and t.optimizers[0].param_groups[0]["lr"] == result.lr
    assert t.global_step == 3 and len(model.train_events()) == 3


def _step_in_backward(module: nn.Module, zero: bool | None) -> None:
    """Post-accumulate-grad hooks on ``module``'s parameters stepping an SGD of their own.

    The gradient is left (``zero=False``), zeroed in place (``True``) or set to ``None`` (torch's recipe).
    """
    in_backward = {p: torch.optim.SGD([p], lr=1e-3) for p in module.parameters()}

    def step(p: torch.Tensor) -> None:
        in_backward[p].step()
        if zero is not False:
            in_backward[p].zero_grad(set_to_none=zero is None)

    for p in module.parameters():
        p.register_post_accumulate_grad_hook(step)


@pytest.mark.parametrize("step", ["automatic", "manual", "closure"])
def test_a_hook_stepping_in_backward_is_refused_not_trained_at_two_lrs(tmp_path: Path, step: str) -> None:
    """Hooks stepping their own optimizers in backward: the test's optimizer stepped each weight again, at the swept
    LR (or stepped the zeros they left), and the fit ran unwarned. Refused at the first step, as range_test refuses
    it (4bd673a, 4fc058e, 3794050), under automatic and manual optimization, the weights put back. Hooks leaving no
    gradient failed in the optimizer's step ("stack expects a non-empty TensorList"), or ran flat with plain SGD.

    A manual ``opt.step(closure)`` (``ClosureStepped``) runs its backward inside the step, after the step's pre-hook
    that checked the hooked parameters (c465e91): such hooks ran unwarned there until the closure's first call was
    checked too (61432fb)."""
    for zero, said in [
        (False, r"changed during the first step's backward.*first: body\.0\.weight.*twice a step"),
        (True, r"changed during the first step's backward.*kept a gradient of zeros"),
        (None, r"None of the optimizer's parameters holds a gradient.*post-accumulate-grad hook.*first: body\.0"),
    ]:
        model = {"automatic": Net, "manual": ManualNet, "closure": ClosureStepped}[step]()
        _step_in_backward(model, zero)
        before = weights(model)
        t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=2)
        with pytest.raises(ModelError, match=said) as caught:
            t.fit(model, make_loader())
        # A LightningModule's advice: range_test's "one optimizer over model.parameters()" is no call it makes.
        assert "configure_optimizers" in str(caught.value) and "model.parameters()" not in str(caught.value)
        assert all(torch.equal(before[k], v) for k, v in weights(model).items())


class StepsInItsHook(ManualNet):
    """Manual optimization whose post-accumulate-grad hook on the first layer's weight (the last gradient the backward
    accumulates) calls the swept optimizer's own ``step()``; ``training_step`` then steps it again."""

    def __init__(self, raw: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)

        def step(_: torch.Tensor) -> None:
            opt = self.optimizers()
            (opt.optimizer if raw else opt).step()  # the torch optimizer itself, or Lightning's wrapper

        self.body[0].weight.register_post_accumulate_grad_hook(step)


@pytest.mark.parametrize("raw", [False, True])
def test_a_hook_stepping_the_swept_optimizer_in_backward_is_refused_under_manual_optimization(
    tmp_path: Path, raw: bool
) -> None:
    """A hook calling the swept optimizer's own ``step()`` in ``manual_backward`` stepped it twice a batch at the swept
    LR, unwarned: the check of hooks stepping in backward, at the first ``opt.step()``, ran inside that hook's own
    step, before it had changed a weight. Refused (the automatic path refuses it after its backward), weights put back.
    """
    model = StepsInItsHook(raw=raw)
    before = weights(model)
    t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=2)
    with pytest.raises(ModelError, match=r"optimizer's step\(\) was called during backward.*body\.0\.weight") as caught:
        t.fit(model, make_loader())
    assert "in training_step after self.manual_backward(loss)" in str(caught.value)
    assert all(torch.equal(before[k], v) for k, v in weights(model).items())


def test_a_torch_without_the_private_backward_probe_is_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusal above asks torch's private ``torch._C._current_graph_task_id`` whether a backward runs; a torch
    without it (setup.cfg allows torch>=2.1) would end every manual-optimization test in an AttributeError."""
    from lrfinder._lightning import _in_backward

    seen: list[bool] = []
    w = torch.ones(2, requires_grad=True)
    w.register_hook(lambda g: seen.append(_in_backward()))
    (w * 2).sum().backward()
    assert seen == [True] and not _in_backward()
    monkeypatch.delattr(torch._C, "_current_graph_task_id")
    (w * 2).sum().backward()
    assert seen == [True, False]


class ClosureStepped(ManualNet):
    """Manual optimization stepping through ``opt.step(closure)``: the backward runs inside the optimizer's step."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        opt = self.optimizers()
        x, y = batch
        losses: list[torch.Tensor] = []

        def closure() -> torch.Tensor:
            opt.zero_grad()
            losses.append(F.cross_entropy(self.head(self.body(x)), y))
            self.manual_backward(losses[-1])
            return losses[-1]

        opt.step(closure=closure)
        self.steps.append((self.phase, x.shape[0], float(losses[-1].detach()), False))
        self.mean_loss.update(losses[-1].detach())
        return losses[-1]


def test_a_gradient_hook_under_a_manual_closure_step_is_not_taken_for_a_step_in_backward(tmp_path: Path) -> None:
    """``opt.step(closure)`` runs its backward after the step's pre-hooks, where the check looked: no gradient yet,
    and post-accumulate-grad hooks that only add gradient noise were refused as an optimizer stepped in backward."""

    def noise(p: torch.Tensor) -> None:
        assert p.grad is not None
        p.grad.add_(1e-6 * torch.randn_like(p.grad))

    model = ClosureStepped()
    for p in model.parameters():
        p.register_post_accumulate_grad_hook(noise)
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=2)
    t.fit(model, make_loader())
    assert finder.result is not None and len(finder.result.losses) == len(model.test_events()) > 0
    assert t.global_step == 2


class HandAccumulating(Net):
    """Manual optimization that accumulates gradients by hand: one optimizer step every ``accumulate`` batches."""

    def __init__(self, lr: float = 0.01, accumulate: int = 4, step: bool = True) -> None:
        super().__init__(lr=lr)
        self.automatic_optimization = False
        self.accumulate = accumulate
        self.step = step

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        opt = self.optimizers()
        x, y = batch
        loss = F.cross_entropy(self.head(self.body(x)), y)
        self.manual_backward(loss / self.accumulate)
        if self.step and (batch_idx + 1) % self.accumulate == 0:
            opt.step()
            opt.zero_grad()
        self.steps.append((self.phase, x.shape[0], float(loss.detach()), False))
        self.mean_loss.update(loss.detach())
        return loss


def test_manual_optimization_accumulating_by_hand_sweeps_one_lr_per_optimizer_step(tmp_path: Path) -> None:
    """A training_step that steps every 4th batch: each LR of the sweep gets the 4 batches of one step.

    Every call of training_step got the next LR, stepped or not: the sweep had a quarter of the
    steps it named, and the result said batch 32 for an effective batch of 128.
    """

    def run(root: Path, lr: float, finder: LRFinder | None) -> tuple[HandAccumulating, pl.Trainer]:
        pl.seed_everything(7, verbose=False)
        model = HandAccumulating(lr=lr)
        t = trainer(root, [finder] if finder is not None else [], max_steps=6)
        t.fit(model, make_loader())  # 8 batches of 32 per pass: two steps of 4
        return model, t

    finder = LRFinder(num_steps=30, min_lr=1e-3, max_lr=10.0)
    model, t = run(tmp_path / "a", 0.01, finder)
    result = finder.result
    assert result is not None and result.suggestion is not None
    assert result.settings.accumulate_steps == 4 and result.batch_size == 4 * 32
    sweep = model.test_events()
    assert len(sweep) == result.num_steps  # one optimizer step per point of the curve
    assert [e[1][0] for e in sweep] == pytest.approx(list(result.lrs))
    micro = [s[2] for s in model.steps if s[0] == "test"]
    assert len(micro) == 4 * result.num_steps
    for i, loss in enumerate(result.losses):
        assert loss == pytest.approx(sum(micro[4 * i : 4 * i + 4]) / 4, rel=1e-6)
    assert result.scaled is not None and (result.scaled.from_batch_size, result.scaled.to_batch_size) == (128, 128)
    assert finder.applied_lr == result.lr == model.lr
    assert all(e[1] == (result.lr,) for e in model.train_events())
    # Training after the test is the fit with that LR set by hand, bit for bit.
    by_hand, _ = run(tmp_path / "b", result.lr, None)
    wa, wb = weights(model), weights(by_hand)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_manual_accumulation_by_hand_sets_the_per_device_batch_for_a_target(tmp_path: Path) -> None:
    """target_batch_size=256 with 4 batches per step by hand: 64 per device (it was set to 256, x4 too big)."""
    finder = LRFinder(num_steps=30, min_lr=1e-3, max_lr=10.0, target_batch_size=256, scaling="linear")
    dm = DataModule(batch_size=16, n=512)
    t = trainer(tmp_path, [finder], max_steps=2, max_epochs=2)
    t.fit(HandAccumulating(), datamodule=dm)
    result = finder.result
    assert result is not None and result.batch_size == 16 * 4
    assert dm.batch_size == 64 and t.train_dataloader.batch_size == 64
    assert result.scaled is not None and (result.scaled.from_batch_size, result.scaled.to_batch_size) == (64, 256)
    assert result.scaled.factor == 4.0


class ManualOneCycle(ManualNet):
    """Manual optimization stepping its own OneCycleLR in training_step, sized to the fit (10 steps)."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr=lr, schedule="onecycle", total_steps=10)

    def after_step(self) -> None:
        self.lr_schedulers().step()


def test_manual_optimization_stepping_its_own_schedule_in_training_step(tmp_path: Path) -> None:
    """self.lr_schedulers().step() in training_step does not move the LR during the test, nor end it.

    The module's OneCycleLR, sized to a fit of 10 steps, was stepped by each of the test's steps: the test
    stopped the fit with "Tried to step 11 times. The specified number of total steps is 10".
    """

    def run(root: Path, lr: float, finder: LRFinder | None) -> ManualOneCycle:
        pl.seed_everything(7, verbose=False)
        model = ManualOneCycle(lr=lr)
        trainer(root, [finder] if finder is not None else [], max_steps=10).fit(model, make_loader())
        return model

    finder = LRFinder(**FAST)
    model = run(tmp_path / "a", 0.01, finder)
    result = finder.result
    assert result is not None and result.suggestion is not None and result.num_steps > 10
    assert [e[1][0] for e in model.test_events()] == pytest.approx(list(result.lrs))  # the sweep's LR, each step
    assert finder.applied_lr == model.lr == result.training_suggestion.max_lr  # the cycle's peak
    by_hand = run(tmp_path / "b", model.lr, None)
    assert [e[1] for e in model.train_events()] == [e[1] for e in by_hand.train_events()]
    wa, wb = weights(model), weights(by_hand)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("steps_schedule", [False, True], ids=["not-stepped", "stepped"])
def test_manual_optimization_with_scheduler_from_the_callback_is_said_when_never_stepped(
    tmp_path: Path, steps_schedule: bool
) -> None:
    """Lightning steps no scheduler under manual optimization: scheduler= that training_step never steps is said.

    The fit trained at a constant LR, silently, while the report showed the cosine schedule.
    """

    class Stepping(HandAccumulating):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = super().training_step(batch, batch_idx)
            sched = self.lr_schedulers()
            if steps_schedule and sched is not None:
                sched.step()
            return loss

    finder = LRFinder(num_steps=30, min_lr=1e-3, max_lr=10.0, optimizer="sgd", scheduler="cosine")
    t = trainer(tmp_path, [finder], max_steps=4, max_epochs=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t.fit(Stepping(accumulate=1), make_loader())
    said = [str(w.message) for w in caught if "does not step LR schedulers" in str(w.message)]
    lr = t.optimizers[0].param_groups[0]["lr"]
    if steps_schedule:
        assert said == [] and lr < finder.applied_lr  # type: ignore[operator]
    else:
        assert len(said) == 1 and "self.lr_schedulers().step()" in said[0] and lr == finder.applied_lr


@pytest.mark.parametrize(
    ("how", "warmup_steps"),
    [
        # 4 batches per step by hand: 2 + 2 warm-up steps, not the 16 batches.
        ("by hand", 4),
        # GradientAccumulationScheduler({0: 4, 1: 2}): epoch 0 takes 8 / 4 = 2 steps, epoch 1 takes 8 / 2 = 4.
        # The first epoch's accumulation for both gave 4, half the advice.
        ("scheduler", 6),
    ],
)
def test_accumulation_counts_in_the_advised_warm_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str, warmup_steps: int
) -> None:
    """Scaled up x4 (2 warm-up epochs) at 8 batches an epoch: each warm-up epoch counts its own optimizer steps."""
    finder = LRFinder(
        num_steps=30, min_lr=1e-3, max_lr=10.0, target_batch_size=256, scaling="linear", optimizer="sgd",
        scheduler="cosine",
    )
    if how == "by hand":
        module: Net = HandAccumulating()
        t = trainer(tmp_path, [finder], max_steps=40, max_epochs=3)  # 3 x 8 / 4 = 6 optimizer steps
    else:
        module = Net()
        accumulation = pl.callbacks.GradientAccumulationScheduler({0: 4, 1: 2})
        t = trainer(tmp_path, [finder, accumulation], max_epochs=3, max_steps=-1)
    with caplog.at_level("INFO"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t.fit(module, datamodule=DataModule(batch_size=16, n=512))
    assert finder.result is not None and finder.result.scaled is not None
    assert finder.result.scaled.warmup_epochs == 2 and t.num_training_batches == 8
    assert any(f"LRFinder: {warmup_steps} warm-up steps" in r.getMessage() for r in caplog.records)
    if how == "scheduler":
        assert t.lr_scheduler_configs[0].scheduler._milestones == [6]  # warm-up, then the cosine


class _Stream(torch.utils.data.IterableDataset):
    """An endless-looking stream of Net's inputs: a train loader without ``len``."""

    def __iter__(self) -> Any:
        gen = torch.Generator().manual_seed(0)
        for _ in range(100_000):
            x = torch.randn(8, generator=gen)
            yield x, (x.sum() > 0).long()


class _StreamData(pl.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        self.batch_size = 32

    def train_dataloader(self) -> DataLoader:
        return DataLoader(_Stream(), batch_size=self.batch_size)


class _KeptStream(torch.utils.data.IterableDataset):
    """Net's inputs from a generator made once: every ``__iter__`` hands out the same one (``fresh``: a new one)."""

    def __init__(self, fresh: bool = False) -> None:
        self.fresh = fresh
        self.stream = self.batches()

    def batches(self) -> Any:
        gen = torch.Generator().manual_seed(0)
        for _ in range(100_000):
            x = torch.randn(8, 8, generator=gen)
            yield x, (x.sum(1) > 0).long()

    def __iter__(self) -> Any:
        return self.batches() if self.fresh else self.stream


@pytest.mark.parametrize("fresh", [False, True], ids=["kept", "fresh"])
def test_a_train_loader_that_keeps_its_iterator_is_warned_to_be_used_up(tmp_path: Path, fresh: bool) -> None:
    """The test drew its batches from the one generator such a dataset hands out, and the fit trained from where
    the test stopped, without a word (range_test warns of it, 7196770); a dataset that starts anew is not named."""
    data, finder = _KeptStream(fresh), LRFinder(**FAST)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        trainer(tmp_path, [finder], max_steps=2).fit(Net(), DataLoader(data, batch_size=None))
    messages = [str(w.message) for w in said if "hands out an iterator it keeps" in str(w.message)]
    if fresh:
        assert messages == []
        return
    assert messages == [
        "LRFinder: The train loader's IterableDataset (_KeptStream) hands out an iterator it keeps (a generator made "
        "once, returned by every __iter__): the batches the range test drew from it are used up, and restore cannot "
        "put them back, so training would start where the test stopped. Make __iter__ start the stream anew at each "
        "call (write it as a generator function, with yield)."
    ]
    # What the warning says: the test's batches and the fit's two came out of the one stream, which is further on.
    assert finder.result is not None
    drawn = len(finder.result.lrs) + 2
    upcoming = next(data.stream)[0]
    assert not any(torch.equal(upcoming, x) for x, _ in itertools.islice(_KeptStream().batches(), drawn))


@pytest.mark.parametrize(
    "kwargs", [{"optimizer": "sgd", "scheduler": "cosine"}, {"refine": True}], ids=["scheduler", "refine"]
)
def test_a_loader_without_length_over_max_epochs_asks_for_max_steps(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    """Lightning counts max_steps (-1, unset) as the steps of such a fit: it was refused as total_steps=-1
    ("over the fit's -1 optimizer steps") or training_steps=-1, with no word of what to set.
    """
    model = Net()
    t = trainer(tmp_path, [LRFinder(**kwargs, **FAST)], max_epochs=2, max_steps=-1)
    with pytest.raises(ValueError, match=r"train loader has no length.*set max_steps"):
        t.fit(model, datamodule=_StreamData())
    assert model.steps == []  # said before the test


def test_advised_warm_up_on_a_loader_without_length_is_dropped_with_a_warning(tmp_path: Path) -> None:
    """Scaled x4 (2 warm-up epochs) with no epoch length: 39 of the 40 steps were warm-up; now none, said."""
    finder = LRFinder(
        num_steps=30, min_lr=1e-3, max_lr=10.0, target_batch_size=128, scaling="linear", optimizer="sgd",
        scheduler="cosine",
    )
    t = trainer(tmp_path, [finder], max_steps=40)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        t.fit(Net(), datamodule=_StreamData())
    assert finder.result is not None and finder.result.scaled is not None
    assert finder.result.scaled.warmup_epochs == 2
    said = [str(w.message) for w in record if "warm-up epochs, but" in str(w.message)]
    assert len(said) == 1 and "no length" in said[0] and "'warmup_steps': N" in said[0]
    sched = t.lr_scheduler_configs[0].scheduler
    assert not isinstance(sched, torch.optim.lr_scheduler.SequentialLR)  # the cosine alone, from the found LR
    assert t.global_step == 40


class SchedulingHandAccumulating(HandAccumulating):
    """``HandAccumulating`` that steps its LR scheduler after each optimizer step, as manual optimization must."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        sched = self.lr_schedulers()
        if sched is not None and (batch_idx + 1) % self.accumulate == 0:
            sched.step()  # type: ignore[union-attr]
        return loss


@pytest.mark.parametrize(
    ("max_epochs", "max_steps", "batches", "expected"),
    [(2, -1, 8, 4), (3, 5, 8, 5), (2, -1, 10, 6)],
    ids=["epochs", "max-steps", "partial-step"],
)
def test_manual_accumulation_by_hand_sizes_the_schedule_in_optimizer_steps(
    tmp_path: Path, max_epochs: int, max_steps: int, batches: int, expected: int
) -> None:
    """scheduler='cosine' with 4 batches per step by hand: sized to the fit's optimizer steps, not its batches.

    Lightning's estimated_stepping_batches counts batches under manual optimization: the cosine ran
    over 16 steps of a 4-step fit and training ended at 3/4 of the LR instead of near zero.
    An epoch's last batches that fill no step round up (Lightning's rounding): 10 batches, 3 steps.
    """
    finder = LRFinder(num_steps=30, min_lr=1e-3, max_lr=10.0, optimizer="sgd", scheduler="cosine")
    t = trainer(tmp_path, [finder], max_steps=max_steps, max_epochs=max_epochs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t.fit(SchedulingHandAccumulating(), make_loader(n=32 * batches))
    sched = t.lr_scheduler_configs[0].scheduler
    assert sched.T_max == expected
    full = batches // 4 * max_epochs
    assert t.global_step == (full if max_steps == -1 else min(full, max_steps))
    if t.global_step == expected:  # the cosine ran to its end: the LR is at its floor
        assert t.optimizers[0].param_groups[0]["lr"] == pytest.approx(sched.eta_min, abs=1e-12)


def test_gradient_accumulation_scheduler_sizes_the_schedule_in_optimizer_steps(tmp_path: Path) -> None:
    """GradientAccumulationScheduler({0: 4, 1: 2}), 8 batches, 2 epochs: 2 + 4 = 6 optimizer steps.

    It sets the Trainer's accumulate_grad_batches at each epoch start, after the test: the cosine was
    sized to estimated_stepping_batches' 16 and training ended at 2/3 of the LR.
    """
    finder = LRFinder(num_steps=30, min_lr=1e-3, max_lr=10.0, optimizer="sgd", scheduler="cosine")
    accumulation = pl.callbacks.GradientAccumulationScheduler({0: 4, 1: 2})
    t = trainer(tmp_path, [finder, accumulation], max_epochs=2, max_steps=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t.fit(Net(), make_loader())
    sched = t.lr_scheduler_configs[0].scheduler
    assert t.global_step == 6 and sched.T_max == 6
    assert t.optimizers[0].param_groups[0]["lr"] == pytest.approx(sched.eta_min, abs=1e-12)


def test_manual_accumulation_by_hand_counts_in_the_limit_warning(tmp_path: Path) -> None:
    """limit_train_batches=40 is enough for 30 steps of one batch, not for 30 steps of 4 batches by hand."""
    finder = LRFinder(num_steps=30, min_lr=1e-3, max_lr=10.0, stop_factor=None)
    t = trainer(tmp_path, [finder], max_steps=2, limit_train_batches=40)
    with pytest.warns(UserWarning) as record:
        t.fit(HandAccumulating(), make_loader(n=32 * 64))
    said = [str(w.message) for w in record if "limit_train_batches=40" in str(w.message)]
    assert len(said) == 1 and "fewer than the 120 the range test needs" in said[0]


def test_manual_training_step_that_never_steps_is_a_clear_error(tmp_path: Path) -> None:
    t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=1, max_epochs=1)
    with pytest.raises(ModelError, match=r"without stepping an optimizer.*opt\.step\(\)"):
        t.fit(HandAccumulating(step=False), make_loader())


def test_manual_optimization_two_optimizers_with_monitor(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    finder = LRFinder(monitor="g_loss", num_steps=40, min_lr=1e-3, max_lr=100.0)
    model = GAN()
    t = trainer(tmp_path, [finder], max_steps=4)
    with caplog.at_level(logging.INFO):
        t.fit(model, make_loader())
    result = finder.result
    assert result is not None
    sweep = [e for e in model.events if e[0] == "test"]
    assert len(sweep) == 2 * result.num_steps
    gen_lrs = [e[1][0] for e in sweep[0::2]]
    disc_lrs = [e[1][0] for e in sweep[1::2]]
    assert gen_lrs == pytest.approx(list(result.lrs))  # the sweep drives both optimizers
    assert disc_lrs == pytest.approx([lr / 2 for lr in result.lrs])  # ratio kept
    assert list(result.losses) == pytest.approx([v for p, v in model.g_losses if p == "test"])
    # Both optimizers named, as optimizer_family reads them; what a person reads counts them. Two SGDs read
    # "optimizer RecordingSGD" (one) in the report's header, the JSON and lrfind's summary.
    assert result.optimizer_name == "RecordingSGD, RecordingSGD"
    assert optimizer_family(result.optimizer_name) == "sgd"
    assert RangeTestResult.from_json(result.to_json()).optimizer_name == result.optimizer_name
    assert _header_lines([result])[1][0].startswith("2 optimizers: RecordingSGD x2  |  batch size ")
    assert dict(summary_rows(result))["optimizer"].startswith("2 optimizers: RecordingSGD x2; batch size ")
    assert result.suggestion is not None
    lr = finder.applied_lr
    assert lr == model.lr
    assert [o.param_groups[0]["lr"] for o in t.optimizers] == pytest.approx([lr, lr / 2])
    assert t.global_step == 4  # Lightning counts both optimizers' steps in manual mode: 2 batches
    assert len([e for e in model.events if e[0] == "train"]) == 4
    assert "g_loss" in t.callback_metrics  # the fit's own logging still works
    # The groups are counted across the optimizers: the log line called the discriminator's "group 1".
    assert result.group_names == ("optimizer 0", "optimizer 1")
    line = next(r.getMessage() for r in caplog.records if "LRFinder: training with" in r.getMessage())
    assert "for param group 0 'optimizer 0', group 1 'optimizer 1' at 0.5× of it" in line


def test_manual_optimization_monitor_logged_every_other_batch(tmp_path: Path) -> None:
    """g_loss logged only on the generator's batches: a call without it gives no loss, as a None output does.

    The discriminator's batch logged d_loss only, and the fit stopped with "training_step did not log 'g_loss'".
    """
    finder = LRFinder(monitor="g_loss", **FAST)
    model = AlternatingGAN()
    t = trainer(tmp_path, [finder], max_steps=4)
    t.fit(model, make_loader())
    result = finder.result
    assert result is not None and result.suggestion is not None
    assert list(result.losses) == pytest.approx([v for p, v in model.g_losses if p == "test"])
    sweep = [e for e in model.events if e[0] == "test"]
    gen = [e[1][0] for e in sweep if e[3] == sweep[0][3]]  # batch 0 steps the generator
    assert gen == pytest.approx(list(result.lrs))  # one generator step per point of the curve
    disc = [e[1][0] for e in sweep if e[3] != sweep[0][3]]
    assert disc == pytest.approx([lr / 2 for lr in result.lrs[1:]])  # a point's batches share its LR
    assert result.settings.accumulate_steps == 1 and result.batch_size == 32
    assert finder.applied_lr == model.lr


def test_manual_monitor_never_logged_is_a_clear_error(tmp_path: Path) -> None:
    t = trainer(tmp_path, [LRFinder(monitor="gen_loss", **FAST)], max_steps=1)
    with pytest.raises(ModelError, match=r"did not log 'gen_loss'.*logged: \['d_loss', 'g_loss'\]"):
        t.fit(GAN(), make_loader())


def test_manual_monitor_missing_under_a_branch_on_global_step_names_the_counter(tmp_path: Path) -> None:
    """A GAN alternating on self.global_step runs one branch through the test (the counters stay at 0 there): the
    message told the user to log 'g_loss', which training_step does log, on the other branch."""

    class StepAlternatingGAN(GAN):
        def training_step(self, batch: Any, batch_idx: int) -> None:
            g_opt, d_opt = self.optimizers()
            x, y = batch
            opt, loss, key = (
                (d_opt, F.mse_loss(self.disc(x).squeeze(1), y.float()), "d_loss")
                if self.global_step % 2 == 0
                else (g_opt, F.cross_entropy(self.gen(x), y), "g_loss")
            )
            opt.zero_grad()
            self.manual_backward(loss)
            opt.step()
            self.log(key, loss)

    t = trainer(tmp_path, [LRFinder(monitor="g_loss", **FAST)], max_steps=1)
    with pytest.raises(
        ModelError,
        match=r"did not log 'g_loss'.*logged: \['d_loss'\]\).*training_step reads global_step: the Trainer's counters "
        r"stay at 0 through the range test.*Choose by batch_idx instead\.$",
    ):
        t.fit(StepAlternatingGAN(), make_loader())
    # A key that is logged nowhere gets no note about counters the module does not read.
    t = trainer(tmp_path, [LRFinder(monitor="gen_loss", **FAST)], max_steps=1)
    with pytest.raises(ModelError, match=r"self\.log\('gen_loss', loss\)\.$"):
        t.fit(GAN(), make_loader())


def test_manual_without_loss_or_monitor_is_a_clear_error(tmp_path: Path) -> None:
    # The keys training_step logged are named, as with a monitor it never logs: the message said only
    # "pass its key as LRFinder(monitor=...)", leaving the user to find which keys there were.
    t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=1)
    with pytest.raises(
        ModelError,
        match=r"gave no loss under manual optimization.*LRFinder\(monitor=\.\.\.\): it logged 'd_loss', 'g_loss'\.$",
    ):
        t.fit(GAN(), make_loader())


def test_a_training_step_that_never_returns_a_loss_is_told_to(tmp_path: Path) -> None:
    """A training_step without its ``return loss`` skips every batch: the message said only how many, not what to do."""

    class NoReturn(Net):
        def training_step(self, batch: Any, batch_idx: int) -> None:  # type: ignore[override]
            super().training_step(batch, batch_idx)  # the loss is computed, and not returned

    t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=1)
    with pytest.raises(ModelError, match=r"returned None for 100 batches in a row.*a missing `return loss` gives None"):
        t.fit(NoReturn(), make_loader())



class _NoCompilerNet(Net):
    """A compiled module on a machine without a C++ compiler: inductor fails at its first forward or backward."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.where == "forward":
            from torch._inductor.exc import InductorError

            raise InductorError(RuntimeError("InvalidCxxCompiler: No working C++ compiler found"), None)
        return NoCompilerForBackward.apply(super().training_step(batch, batch_idx))


@pytest.mark.parametrize("where", ["forward", "backward"])
@pytest.mark.parametrize("how", ["callback", "find_lr"])
def test_a_compile_failure_in_the_test_is_said_as_range_test_says_it(tmp_path: Path, where: str, how: str) -> None:
    # torch's InductorError came out of the fit bare (range_test and train said what to do).
    pattern = (
        r"^torch.compile could not compile the model \(InductorError: RuntimeError: InvalidCxxCompiler: No working "
        r"C\+\+ compiler found\): its compiler failed, not the batch.*install one.*backend='aot_eager'"
    )
    net = _NoCompilerNet(where)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(ModelError, match=pattern):
        if how == "callback":
            trainer(tmp_path, [LRFinder(**FAST)], max_steps=1).fit(net, make_loader())
        else:
            find_lr(net, make_loader(), **FAST)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())

class _BrokenHookNet(Net):
    """``on_before_optimizer_step`` reads an attribute the module never set."""

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        self.norms.append(1.0)


class _ClipsTwiceNet(Net):
    """Clips at its own value in ``configure_gradient_clipping`` next to ``Trainer(gradient_clip_val=...)``."""

    def configure_gradient_clipping(self, optimizer: Any, gradient_clip_val: Any = None, **kwargs: Any) -> None:
        self.clip_gradients(optimizer, gradient_clip_val=0.5)


@pytest.mark.parametrize(
    ("net", "kwargs", "match"),
    [
        (_BrokenHookNet, {}, r"_BrokenHookNet\.on_before_optimizer_step\(\) failed .*\(AttributeError: .*'norms'\)"),
        (
            _ClipsTwiceNet,
            {"gradient_clip_val": 1.0},
            r"_ClipsTwiceNet\.configure_gradient_clipping\(\) failed .*\(MisconfigurationException: You have set",
        ),
    ],
    ids=["on_before_optimizer_step", "configure_gradient_clipping"],
)
def test_the_modules_hook_failing_in_the_first_step_is_named_not_the_optimizer(
    tmp_path: Path, net: type[Net], kwargs: dict[str, Any], match: str
) -> None:
    """Lightning runs these hooks inside the optimizer's step: their failure was told as SGD.step()'s ("check
    the optimizer's settings against the model's parameters (their device and dtype ...)")."""
    t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=1, **kwargs)
    with pytest.raises(ModelError, match=match) as info:
        t.fit(net(), make_loader())
    assert "fix it in the module" in str(info.value) and "device and dtype" not in str(info.value)


def test_training_step_with_dataloader_iter_is_a_clear_error(tmp_path: Path) -> None:
    class IterNet(Net):
        def training_step(self, dataloader_iter: Any) -> torch.Tensor:  # type: ignore[override]
            batch, batch_idx, _ = next(dataloader_iter)
            return super().training_step(batch, batch_idx)

    model = IterNet()
    t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=1)
    with pytest.raises(ModelError, match=r"training_step\(dataloader_iter\).*batch, batch_idx"):
        t.fit(model, make_loader())
    assert model.steps == []  # said before the test


class EpochStartStateNet(Net):
    """training_step appends to a list that the module's on_train_epoch_start makes."""

    def on_train_epoch_start(self) -> None:
        self.epoch_losses: list[float] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        self.epoch_losses.append(float(loss.detach()))
        return loss


def test_training_step_reading_state_of_a_later_hook_is_a_clear_error(tmp_path: Path) -> None:
    """The test runs before the module's on_train_start/on_train_epoch_start: a bare AttributeError did not say so."""
    t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=2)
    with pytest.raises(ModelError, match=r"no attribute 'epoch_losses'.*before the module's own on_train_start and "
                       r"on_train_epoch_start.*__init__ or setup\(\)") as info:
        t.fit(EpochStartStateNet(), make_loader())
    assert isinstance(info.value.__cause__, AttributeError)


def test_training_step_reading_state_of_the_batch_start_hook_is_a_clear_error(tmp_path: Path) -> None:
    """State made in on_train_batch_start: the message named on_train_start/on_train_epoch_start only, which run
    later; on_train_batch_start does not run for the test's batches at all."""

    class BatchStartStateNet(Net):
        def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
            super().on_train_batch_start(batch, batch_idx)
            self.scale = 1.0 + 0.01 * batch_idx

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            return super().training_step(batch, batch_idx) * self.scale

    t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=2)
    with pytest.raises(ModelError, match=r"no attribute 'scale'.*its on_train_batch_start and on_train_batch_end do "
                       r"not run for the test's batches: create what training_step reads in __init__ or setup\(\)"):
        t.fit(BatchStartStateNet(), make_loader())


class NoOptimizerNet(Net):
    """``configure_optimizers`` that forgets its ``return``: Lightning trains with a stand-in without parameters."""

    def configure_optimizers(self) -> None:  # type: ignore[override]
        super().configure_optimizers()


def test_configure_optimizers_returning_none_is_a_clear_error(tmp_path: Path) -> None:
    """The sweep ran on Lightning's stand-in optimizer (no param group) and said "the loss never clearly falls"."""
    model = NoOptimizerNet()
    with pytest.warns(UserWarning, match="returned `None`"), pytest.raises(ModelError, match="returned no optimizer"):
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=1).fit(model, make_loader())
    assert model.steps == []  # said before the test
    # optimizer= builds the one to test and train with.
    finder = LRFinder(**FAST, optimizer="sgd")
    with pytest.warns(UserWarning, match="returned `None`"):
        t = trainer(tmp_path, [finder], max_steps=2)
        t.fit(model, make_loader())
    assert finder.applied_lr is not None and t.optimizers[0].param_groups[0]["lr"] == finder.applied_lr


class KeptGeneratorNet(Net):
    """``configure_optimizers`` over a ``self.parameters()`` generator kept from ``__init__``: empty the second time."""

    def __init__(self) -> None:
        super().__init__(lr=0.01)
        self.params = self.parameters()

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.params, lr=self.lr)


class NoneTheSecondTimeNet(Net):
    """``configure_optimizers`` that returns its optimizer once, then ``None``."""

    def configure_optimizers(self) -> Any:
        self.calls = getattr(self, "calls", 0) + 1
        return super().configure_optimizers() if self.calls == 1 else None


@pytest.mark.parametrize(
    ("net", "said"),
    [
        (KeptGeneratorNet, r"raised ValueError when the callback ran it again.*: optimizer got an empty parameter"),
        (NoneTheSecondTimeNet, r"returned no optimizer when the callback ran it again.*\(it returned 1 optimizer when"),
    ],
)
def test_configure_optimizers_that_cannot_run_again_is_a_clear_error(
    tmp_path: Path, net: type[Net], said: str
) -> None:
    """The found LR is applied by running configure_optimizers again: a second call that fails was torch's bare
    "optimizer got an empty parameter list", or "max() arg is an empty sequence" from the rescaling, and the
    module's lr was left at the found LR."""
    model = net()
    with pytest.warns(UserWarning) if net is NoneTheSecondTimeNet else contextlib.nullcontext():
        with pytest.raises(ModelError, match=said + r".*self\.parameters\(\) inside it\. Or pass attr_name=False"):
            trainer(tmp_path, [LRFinder(**FAST)], max_steps=2).fit(model, make_loader())
    assert model.lr == 0.01  # put back
    # attr_name=False rescales the optimizers configure_optimizers returned, without running it again.
    model = net()
    finder = LRFinder(**FAST, attr_name=False)
    t = trainer(tmp_path, [finder], max_steps=2)
    t.fit(model, make_loader())
    assert finder.applied_lr is not None
    assert t.optimizers[0].param_groups[0]["lr"] == pytest.approx(finder.applied_lr, rel=1e-12)
    assert model.lr == 0.01


def test_an_optimizer_over_frozen_parameters_only_is_a_clear_error(tmp_path: Path) -> None:
    """It stepped nothing, and the flat curve was read as "never clearly falls ... raise max_lr"."""
    class FrozenBodyOptimizer(Net):
        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.body.parameters(), lr=0.01)  # the frozen part: the head trains nowhere

    model = FrozenBodyOptimizer()
    for p in model.body.parameters():
        p.requires_grad_(False)
    with pytest.raises(ModelError, match=r"None of the \d+ parameters? of the fit's optimizer requires grad"):
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=1).fit(model, make_loader())


def test_an_optimizer_listing_a_tensor_twice_is_refused(tmp_path: Path) -> None:
    """It ran, torch warning only when the optimizer was built: the head's weight swept (and trained) at twice the
    LRs the curve recorded, as range_test now refuses it."""

    class Twice(Net):
        def configure_optimizers(self) -> Any:
            return torch.optim.SGD([*self.parameters(), self.head.weight], lr=0.01)

    model = Twice()
    said = r"configure_optimizers returned an optimizer whose param group 0 lists 1 tensor more than once"
    with pytest.warns(UserWarning, match="duplicate parameters"), pytest.raises(ModelError, match=said):
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=1).fit(model, make_loader())
    assert model.steps == []  # said before the test


def test_an_optimizer_that_maximizes_is_refused(tmp_path: Path) -> None:
    """maximize=True climbed the loss: its rise read as divergence, "the loss never clearly falls"."""

    class Maximizing(Net):
        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.01, maximize=True)

    with pytest.raises(ValueError, match=r"param group 0 of SGD has maximize=True.*loss = -objective, in "
                       r"training_step\) and build the optimizer with maximize=False"):  # fmt: skip
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=1).fit(Maximizing(), make_loader())


class _SparseBag(pl.LightningModule):
    """A bag of sparse embeddings and a dense head, stepped by the optimizer class it is given."""

    def __init__(self, optimizer: type[torch.optim.Optimizer]) -> None:
        super().__init__()
        self.embed, self.head = nn.Embedding(20, 4, sparse=True), nn.Linear(4, 3)
        self.optimizer = optimizer

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(ids).mean(1))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return F.cross_entropy(self(batch[0]), batch[1])

    def configure_optimizers(self) -> Any:
        return self.optimizer(self.parameters(), lr=1e-3)


def test_an_optimizer_that_cannot_step_the_gradients_it_gets_is_named_as_range_test_names_it(tmp_path: Path) -> None:
    """A SparseAdam over a dense head and an Adam over sparse embedding gradients came out of fit as torch's bare
    RuntimeError from inside the step; range_test answers both with a ModelError saying what to do."""
    gen = torch.Generator().manual_seed(0)
    ids, labels = torch.randint(0, 20, (64, 5), generator=gen), torch.randint(0, 3, (64,), generator=gen)
    loader = DataLoader(list(zip(ids, labels)), batch_size=16)
    for optimizer, pattern in (
        (torch.optim.SparseAdam, r"SparseAdam steps sparse gradients only .*\(first: head\.weight\)\. Give SparseAdam "
                                 r"only the sparse embeddings' parameters"),
        (torch.optim.Adam, r"Adam\.step\(\) failed on the range test's first step \(RuntimeError: Adam does not "
                           r"support sparse gradients.*Build the embedding with sparse=False"),
    ):  # fmt: skip
        torch.manual_seed(0)
        model = _SparseBag(optimizer)
        before = copy.deepcopy(model.state_dict())
        with pytest.raises(ModelError, match=pattern):
            trainer(tmp_path, [LRFinder(**FAST)], max_steps=1).fit(model, loader)
        assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    # SGD steps sparse gradients: the test runs.
    result = find_lr(_SparseBag(torch.optim.SGD), train_dataloaders=loader, num_steps=12)
    assert result.num_steps == 12


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_trainer_clipping_of_sparse_gradients_is_refused_as_range_test_refuses_it(
    tmp_path: Path, algorithm: str
) -> None:
    """Trainer(gradient_clip_val=...) over sparse embedding gradients: the ModelError quoted torch's dispatcher
    error (some 2,500 characters of backend names) and said to fix configure_gradient_clipping in the module."""
    gen = torch.Generator().manual_seed(0)
    ids, labels = torch.randint(0, 20, (64, 5), generator=gen), torch.randint(0, 3, (64,), generator=gen)
    loader = DataLoader(list(zip(ids, labels)), batch_size=16)
    torch.manual_seed(0)
    model = _SparseBag(torch.optim.SGD)
    before = copy.deepcopy(model.state_dict())
    fit = trainer(tmp_path, [LRFinder(**FAST)], max_steps=1, gradient_clip_val=1.0, gradient_clip_algorithm=algorithm)
    with pytest.raises(SparseGradientClipError) as caught:
        fit.fit(model, loader)
    message = str(caught.value)
    assert re.fullmatch(
        rf"Trainer\(gradient_clip_val=1\.0\) cannot clip sparse gradients \(those of nn\.Embedding\(sparse=True\)\): "
        rf"torch \S+'s clip_grad_{algorithm}_ fails on them, in training too\. Drop gradient_clip_val from the "
        r"Trainer, or make the embeddings dense \(sparse=False\) to clip them\.",
        message,
    ), message
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_a_modules_own_clipping_of_sparse_gradients_is_refused_by_name(tmp_path: Path) -> None:
    """A configure_gradient_clipping of the module's own clipping sparse gradients, with no Trainer setting."""

    class OwnClipping(_SparseBag):
        def configure_gradient_clipping(self, optimizer: Any, gradient_clip_val: Any = None,
                                        gradient_clip_algorithm: Any = None) -> None:  # fmt: skip
            self.clip_gradients(optimizer, gradient_clip_val=0.5, gradient_clip_algorithm="norm")

    gen = torch.Generator().manual_seed(0)
    ids, labels = torch.randint(0, 20, (64, 5), generator=gen), torch.randint(0, 3, (64,), generator=gen)
    with pytest.raises(SparseGradientClipError, match=r"^OwnClipping\.configure_gradient_clipping\(\) cannot clip "
                       r"sparse gradients .*clip_grad_norm_ fails on them.*Clip only the dense parameters there, or "
                       r"make the embeddings dense"):  # fmt: skip
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=1).fit(
            OwnClipping(torch.optim.SGD), DataLoader(list(zip(ids, labels)), batch_size=16)
        )


def test_a_module_whose_only_trainable_parameters_an_averaged_model_holds_is_told_so(tmp_path: Path) -> None:
    """A frozen module with its EMA as a submodule: "none requires grad" was untrue (the EMA's copies do)."""
    from torch.optim.swa_utils import AveragedModel

    class FrozenWithEma(Net):
        def __init__(self) -> None:
            super().__init__()
            self.requires_grad_(False)
            self.ema = AveragedModel(torch.nn.Sequential(torch.nn.Linear(2, 2)))

    with pytest.raises(ModelError, match=r"The module has no trainable parameters: the only ones that require grad "
                       r"\(ema\.module\.0\.weight and 1 more\) are the copies an AveragedModel holds"):
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=1).fit(FrozenWithEma(), make_loader())


def test_a_metric_kept_in_a_plain_dict_counts_the_fits_batches_only(tmp_path: Path) -> None:
    """Not registered (a dict, not a ModuleDict), it was not isolated: it counted the test's batches too."""
    import torchmetrics

    class DictMetric(Net):
        def __init__(self) -> None:
            super().__init__()
            self.scores = {"seen": torchmetrics.SumMetric()}

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self.scores["seen"].update(torch.ones(len(batch[0])))
            return super().training_step(batch, batch_idx)

    model = DictMetric()
    trainer(tmp_path, [LRFinder(**FAST)], max_steps=2).fit(model, make_loader())
    assert float(model.scores["seen"].compute()) == 64  # the fit's two batches of 32, not the test's 80 as well


@pytest.mark.filterwarnings("ignore:`torch.jit.*is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:.*might cause the trace to be incorrect")
def test_a_submodule_traced_in_eval_mode_is_warned_about(tmp_path: Path) -> None:
    """Its batch norm ran on frozen running statistics in the test and the fit, whatever mode Lightning set."""
    model = Net()
    model.body = torch.jit.trace(model.body.eval(), torch.randn(4, 8))
    with pytest.warns(UserWarning, match=r"LRFinder: The module's submodule body was traced in eval mode"):
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=1).fit(model, make_loader())


class _Slow:
    def __init__(self, weights: list[torch.Tensor]) -> None:
        self.weights = weights


class _SlowStateNet(Net):
    """An optimizer holding tensors in an attribute of its own (a Lookahead's slow weights): not restored."""

    def configure_optimizers(self) -> Any:
        configured = super().configure_optimizers()
        optimizer = configured if isinstance(configured, torch.optim.Optimizer) else configured["optimizer"]
        optimizer.slow = _Slow([p.detach().clone() for p in self.parameters()])
        return configured


def test_the_engines_warnings_through_the_callback_point_at_the_fit_line(tmp_path: Path) -> None:
    # The snapshot's warning looked past lrfinder's frames only and pointed at Lightning's trainer/call.py.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=1).fit(_SlowStateNet(lr=0.01), make_loader())
    said = [w for w in caught if "cannot restore: RecordingSGD.slow" in str(w.message)]
    assert said and {w.filename for w in said} == {__file__}


def test_a_module_with_uninitialized_lazy_layers_is_a_clear_error(tmp_path: Path) -> None:
    """The snapshot read their shapes: torch's "Attempted to use an uninitialized parameter" left the callback."""
    model = Net()
    model.body[1] = torch.nn.LazyBatchNorm1d()  # parameters and running statistics, all uninitialized
    with pytest.raises(ModelError, match=r"2 uninitialized parameters and 2 uninitialized buffers of a "
                       r"torch.nn.Lazy\* module \(first: body.1.weight\).*before trainer.fit"):  # fmt: skip
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=1).fit(model, make_loader())
    model.body(torch.zeros(2, 8))  # the forward pass the message asks for
    trainer(tmp_path, [LRFinder(**FAST)], max_steps=1).fit(model, make_loader())


# --------------------------------------------------------------------------------------------
# Schedulers, precision, clipping, batch sizes, custom optimizer
# --------------------------------------------------------------------------------------------


def test_onecycle_rebuilt_from_attribute(tmp_path: Path) -> None:
    """The module's own OneCycleLR peaks at max_lr (divergence / 5), like scheduler="onecycle" (issue 10, 3f)."""
    finder = LRFinder(**FAST)
    model = Net(schedule="onecycle", total_steps=10)
    t = trainer(tmp_path, [finder], max_steps=10)
    t.fit(model, make_loader())
    lr = finder.applied_lr
    result = finder.result
    assert lr is not None and result is not None and result.training_suggestion is not None
    assert result.lr is not None and lr > result.lr  # divergence / 5 against divergence / 10
    assert lr == pytest.approx(result.training_suggestion.max_lr) and model.lr == lr
    train = [e[1][0] for e in model.train_events()]
    assert train[0] == pytest.approx(lr / 25, rel=1e-9)  # OneCycleLR's div_factor
    assert max(train) == pytest.approx(lr, rel=1e-9)  # the whole cycle peaks at the found LR
    assert model.test_events()[0][1][0] == pytest.approx(FAST["min_lr"])
    # What ddp_spawn's main process reads: the peak trained with, next to the test's LR.
    assert float(t.callback_metrics["lr_finder/applied_lr"]) == pytest.approx(lr)
    assert float(t.callback_metrics["lr_finder/lr"]) == pytest.approx(result.lr)


class WarmingUpNet(Net):
    """Lightning's warm-up recipe in ``optimizer_step``: the LR rises over 4 steps to ``warm_to`` (or ``self.lr``)."""

    def __init__(self, warm_to: float | None) -> None:
        super().__init__(lr=None if warm_to is not None else 0.01, hard_lr=warm_to, bn=False)
        self.warm_to = warm_to

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any, optimizer_closure: Any = None) -> None:
        target = self.warm_to if self.warm_to is not None else self.lr
        for group in optimizer.param_groups:
            group["lr"] = min(1.0, (self.trainer.global_step + 1) / 4) * target
        optimizer.step(closure=optimizer_closure)


class HookWarmingUpNet(Net):
    """The same warm-up to a hard-coded LR, set in ``on_train_batch_start`` (``optimizer_step`` is Lightning's)."""

    def __init__(self, warm_to: float | None) -> None:
        super().__init__(lr=None, hard_lr=warm_to, bn=False)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        super().on_train_batch_start(batch, batch_idx)
        for group in self.trainer.optimizers[0].param_groups:
            group["lr"] = min(1.0, (self.trainer.global_step + 1) / 4) * 0.01


@pytest.mark.parametrize(
    ("net", "hard_coded"),
    [(WarmingUpNet, True), (WarmingUpNet, False), (HookWarmingUpNet, True)],
    ids=["hard-coded", "attribute", "hook"],
)
def test_an_optimizer_step_setting_the_lr_from_its_own_value_is_said(
    tmp_path: Path, net: Any, hard_coded: bool
) -> None:
    """Without an attribute the found LR went into the param groups, and optimizer_step overwrote it at every step:
    training ran at the module's hard-coded LR (0.0025 .. 0.01) while the callback said it trained at the found one."""
    model = net(warm_to=0.01 if hard_coded else None)
    finder = LRFinder(**FAST)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer(tmp_path, [finder], max_steps=3).fit(model, make_loader())
    assert finder.applied_lr is not None and finder.applied_lr != 0.01
    trained = [e[1][0] for e in model.train_events()]
    said = [str(w.message) for w in caught if "set them to others before the first training step" in str(w.message)]
    if hard_coded:
        assert trained == pytest.approx([0.0025, 0.005, 0.0075])
        assert len(said) == 1 and f"{net.__name__}'s LR" in said[0] and "(2.50e-03)" in said[0]
    else:
        assert trained == pytest.approx([finder.applied_lr * k / 4 for k in (1, 2, 3)]) and said == []


class DocsWarmingUpNet(Net):
    """Lightning's documented warm-up recipe, to a hard-coded LR: the LR set after ``optimizer.step``."""

    def __init__(self) -> None:
        super().__init__(lr=None, hard_lr=0.01, bn=False)

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any, optimizer_closure: Any = None) -> None:
        optimizer.step(closure=optimizer_closure)
        for group in optimizer.param_groups:
            group["lr"] = min(1.0, (self.trainer.global_step + 1) / 4) * 0.01


def test_a_warm_up_set_after_the_optimizer_step_is_said(tmp_path: Path) -> None:
    """Lightning's own recipe sets the LR after optimizer.step: the first step ran at the found LR, the check saw
    nothing, and training went on at the hard-coded 0.0025 .. 0.01 while the callback said the found LR, unwarned."""
    model = DocsWarmingUpNet()
    finder = LRFinder(**FAST)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer(tmp_path, [finder], max_steps=3).fit(model, make_loader())
    assert finder.applied_lr is not None
    trained = [e[1][0] for e in model.train_events()]
    assert trained == pytest.approx([finder.applied_lr, 0.0025, 0.005])
    said = [str(w.message) for w in caught if "set them to others before the first training step" in str(w.message)]
    assert len(said) == 1 and "DocsWarmingUpNet's LR" in said[0] and "(2.50e-03)" in said[0]


def test_cyclic_hard_coded_is_rescaled(tmp_path: Path) -> None:
    finder = LRFinder(**FAST)
    model = Net(lr=None, hard_lr=0.05, schedule="cyclic")
    t = trainer(tmp_path, [finder], max_steps=6)
    t.fit(model, make_loader())
    lr = finder.applied_lr
    assert lr is not None
    train = [e[1][0] for e in model.train_events()]
    assert max(train) == pytest.approx(lr, rel=1e-9) and min(train) == pytest.approx(lr / 10, rel=1e-9)
    # the sweep swept the peak LR, not the scheduler's step-0 value
    assert [e[1][0] for e in model.test_events()] == pytest.approx(list(finder.result.lrs))


class FloorNet(Net):
    """configure_optimizers with an absolute LR floor: eta_min (cosine, warm restarts) or min_lr (plateau)."""

    def __init__(self, kind: str, *, hard: bool = True) -> None:
        super().__init__(lr=0.01)
        self.kind = kind
        self.hard = hard

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=5.0 if self.hard else self.lr, momentum=0.9)
        sched: Any
        if self.kind == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=8, eta_min=1.0)
        elif self.kind == "warm":
            sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=4, eta_min=1.0)
        else:
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0, min_lr=1.0)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "train_loss", "interval": "step"}}


@pytest.mark.parametrize("kind", ["cosine", "warm", "plateau"])
def test_hard_coded_lr_moves_the_schedules_floor_with_it(tmp_path: Path, kind: str) -> None:
    # lr=5 hard-coded, floor 1 (a fifth of it); the found LR is far below 1. The floor stayed at 1: the
    # cosine climbed from the found LR to 1 (24x), the plateau schedule could never lower the LR. It keeps
    # its ratio to the LR now, as CyclicLR's base_lr and OneCycleLR's min_lr do.
    finder = LRFinder(**FAST)
    seen = StepLRs()
    t = trainer(tmp_path, [finder, seen], max_steps=8)
    t.fit(FloorNet(kind), make_loader())
    lr = finder.applied_lr
    assert lr is not None and lr < 1.0
    sched = t.lr_scheduler_configs[0].scheduler
    floor = sched.min_lrs[0] if kind == "plateau" else sched.eta_min
    assert floor == pytest.approx(lr / 5, rel=1e-9)
    lrs = [v[0] for v in seen.lrs]
    assert lrs[0] == pytest.approx(lr, rel=1e-9)
    assert all(floor * (1 - 1e-9) <= v <= lr * (1 + 1e-9) for v in lrs), lrs
    if kind == "cosine":
        assert lrs == sorted(lrs, reverse=True)


def test_a_floor_above_the_found_lr_from_the_modules_code_is_warned_about(tmp_path: Path) -> None:
    # configure_optimizers reads self.lr but sets eta_min=1 absolutely: the rebuilt cosine climbs. It is what
    # a fit with the LR set by hand runs, so it is kept, and said.
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=2)
    with pytest.warns(UserWarning, match=r"CosineAnnealingLR's eta_min=1\.00e\+00 is above the LR .*: it anneals up"):
        t.fit(FloorNet("cosine", hard=False), make_loader())
    assert t.lr_scheduler_configs[0].scheduler.eta_min == 1.0


def test_warmup_uses_found_lr_for_whole_run(tmp_path: Path) -> None:
    finder = LRFinder(**FAST)
    model = Net(schedule="warmup")
    t = trainer(tmp_path, [finder], max_steps=8)
    t.fit(model, make_loader())
    lr = finder.applied_lr
    assert lr is not None
    train = [e[1][0] for e in model.train_events()]
    assert train == pytest.approx([lr * min(1.0, (s + 1) / 5) for s in range(8)], rel=1e-9)


def test_gradient_clipping_applies_during_test(tmp_path: Path) -> None:
    finder = LRFinder(**FAST)
    model = Net()
    trainer(tmp_path, [finder], max_steps=1, gradient_clip_val=0.05).fit(model, make_loader())
    norms = [e[2] for e in model.test_events()]
    assert len(norms) >= 10 and max(norms) <= 0.05 * (1 + 1e-4)
    # The result says so, as range_test(gradient_clip_val=...)'s does.
    assert finder.result is not None and finder.result.settings.gradient_clip_val == 0.05
    assert finder.result.settings.gradient_clip_algorithm == "norm"
    by_value = LRFinder(**FAST)
    trainer(tmp_path, [by_value], max_steps=1, gradient_clip_val=0.5, gradient_clip_algorithm="value").fit(
        Net(), make_loader()
    )
    assert by_value.result is not None and by_value.result.settings.gradient_clip_algorithm == "value"


class ManualClipNet(ManualNet):
    """Manual optimization that clips by hand, as Lightning documents it (Trainer(gradient_clip_val) is refused)."""

    def before_step(self, opt: Any) -> None:
        self.clip_gradients(opt, gradient_clip_val=0.05, gradient_clip_algorithm="norm")


class OwnClipNet(Net):
    """Automatic optimization, clipping by value in its own configure_gradient_clipping (no Trainer setting)."""

    def configure_gradient_clipping(self, optimizer: Any, *args: Any, **kwargs: Any) -> None:
        self.clip_gradients(optimizer, gradient_clip_val=0.25, gradient_clip_algorithm="value")


def test_clipping_the_module_does_itself_is_recorded_in_the_settings(tmp_path: Path) -> None:
    # The settings (the report's header, the saved result) said "no clipping" of a test that clipped every step: by
    # hand under manual optimization, or in the module's own configure_gradient_clipping.
    finder = LRFinder(**FAST)
    model = ManualClipNet()
    trainer(tmp_path, [finder], max_steps=1).fit(model, make_loader())
    assert max(e[2] for e in model.test_events()) <= 0.05 * (1 + 1e-4)  # it clipped
    assert finder.result is not None and finder.result.settings.clipping == "clipped to norm 0.05"
    own = LRFinder(**FAST)
    trainer(tmp_path, [own], max_steps=1).fit(OwnClipNet(), make_loader())
    assert own.result is not None and own.result.settings.clipping == "clipped to value 0.25"
    # A module that does not clip: none, under either optimization.
    plain = LRFinder(**FAST)
    trainer(tmp_path, [plain], max_steps=1).fit(Net(), make_loader())
    assert plain.result is not None and plain.result.settings.gradient_clip_val is None
    # The precision plugin's method is put back after the test.
    t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=1)
    t.fit(ManualClipNet(), make_loader())
    assert "clip_gradients" not in vars(t.precision_plugin)


def test_precision_bf16_mixed_autocast_during_test(tmp_path: Path) -> None:
    finder = LRFinder(**FAST)
    model = Net()
    trainer(tmp_path, [finder], max_steps=1, precision="bf16-mixed").fit(model, make_loader())
    flags = [s[3] for s in model.steps if s[0] == "test"]
    assert flags and all(flags)
    assert finder.result is not None and finder.result.num_steps >= 10
    # The result said "32": the precision range_test's default, not the one the test ran under.
    assert finder.result.settings.precision == "bf16-mixed"
    assert RangeTestResult.from_json(finder.result.to_json()).settings.precision == "bf16-mixed"


@pytest.mark.parametrize(("precision", "dtype"), [("bf16-true", torch.bfloat16), ("64-true", torch.float64)])
def test_true_precision_batches_converted_as_in_fit(tmp_path: Path, precision: str, dtype: torch.dtype) -> None:
    """bf16-true / 64-true: the module's weights are cast, so the test's batches must be too (convert_input)."""

    class Dtypes(Net):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self.dtypes.append((self.phase, batch[0].dtype))
            return super().training_step(batch, batch_idx)

    finder = LRFinder(**FAST)
    model = Dtypes()
    model.dtypes = []
    trainer(tmp_path, [finder], max_steps=2, precision=precision).fit(model, make_loader())
    assert finder.result is not None and finder.result.num_steps >= 10
    assert finder.result.settings.precision == precision
    assert RangeTestResult.from_json(finder.result.to_json()).settings.precision == precision
    assert {d for phase, d in model.dtypes} == {dtype}
    assert [phase for phase, _ in model.dtypes].count("train") == 2


def test_test_batch_size_rebuilds_loader_and_scales(tmp_path: Path) -> None:
    finder = LRFinder(test_batch_size=32, scaling="linear", **FAST)
    model = Net()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the x4 scaled LR may pass the divergence point
        trainer(tmp_path, [finder], max_steps=2).fit(model, make_loader(n=512, batch_size=128))
    result = finder.result
    assert result is not None and result.suggestion is not None
    assert {s[1] for s in model.steps if s[0] == "test"} == {32}
    assert {s[1] for s in model.steps if s[0] == "train"} == {128}
    assert result.batch_size == 32
    assert result.scaled is not None and (result.scaled.from_batch_size, result.scaled.to_batch_size) == (32, 128)
    assert result.lr == pytest.approx(4 * result.suggestion.lr) and model.lr == result.lr


def test_target_batch_size_and_auto_rule(tmp_path: Path) -> None:
    finder = LRFinder(target_batch_size=128, **FAST)  # SGD: auto -> linear
    model = Net()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer(tmp_path, [finder], max_steps=1).fit(model, datamodule=DataModule(batch_size=32))
    result = finder.result
    assert result is not None and result.scaled is not None and result.suggestion is not None
    assert result.scaled.rule == "linear" and result.scaled.to_batch_size == 128
    assert result.lr == pytest.approx(4 * result.suggestion.lr)
    # The LR is scaled for batch 128, and training runs at batch 128 (the datamodule's batch_size is set).
    assert {s[1] for s in model.steps if s[0] == "test"} == {32}
    assert {s[1] for s in model.steps if s[0] == "train"} == {128}


class StepsNet(Net):
    """``Net`` whose OneCycleLR spans ``trainer.estimated_stepping_batches``: it builds the train loader early."""

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=self.lr)
        total = int(self.trainer.estimated_stepping_batches)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=total)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def test_resumed_fit_trains_at_the_batch_size_set_for_target_batch_size(tmp_path: Path) -> None:
    """The checkpoint's fit trained at batch 128 (its LR scaled to it); the resumed fit trained at the
    datamodule's own 32, with that LR and a 4x longer epoch. Now the batch_size is set again on resume.
    """
    finder = LRFinder(target_batch_size=128, **FAST)
    ckpt = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_epochs=1, save_top_k=-1)
    settings: dict[str, Any] = {"max_epochs": 2, "max_steps": -1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer(tmp_path, [finder, ckpt], enable_checkpointing=True, **settings).fit(
            StepsNet(), datamodule=DataModule(batch_size=32)
        )
    assert finder.applied_lr is not None and finder.result is not None and finder.result.scaled is not None
    assert finder.result.scaled.to_batch_size == 128
    resumed = StepsNet(lr=0.5)
    t = trainer(tmp_path / "r", [LRFinder(target_batch_size=128, **FAST)], **settings)
    with pytest.warns(UserWarning, match="resumes from ckpt_path.*batch_size is 128 per device"):
        t.fit(resumed, datamodule=DataModule(batch_size=32), ckpt_path=tmp_path / "ckpt" / "epoch=0-step=2.ckpt")
    assert [s[1] for s in resumed.steps if s[0] == "train"] == [128, 128]
    assert t.global_step == 4 and t.datamodule.batch_size == 128  # 2 steps in each epoch of 256 examples


class HparamsDataModule(DataModule):
    """``batch_size`` a saved hyper-parameter of the datamodule, which its loader reads."""

    def __init__(self, batch_size: int = 32) -> None:
        super().__init__(batch_size=batch_size)
        del self.batch_size
        self.save_hyperparameters()

    def train_dataloader(self) -> DataLoader:
        return make_loader(n=self.n, batch_size=self.hparams.batch_size)


def test_batch_size_set_for_target_batch_size_reaches_hparams_yaml(tmp_path: Path) -> None:
    """The loggers got the datamodule's batch_size=32 at the fit's start; training (and the checkpoint) used 64.

    Logged again when set, and when a resumed fit sets it from the checkpoint.
    """
    import yaml

    finder = LRFinder(target_batch_size=64, **FAST)
    ckpt = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    csv_logger = CSVLogger(tmp_path, name="logs")
    t = trainer(tmp_path, [finder, ckpt], max_steps=2, logger=csv_logger, enable_checkpointing=True)
    t.fit(SavedNet(), datamodule=HparamsDataModule(batch_size=32))
    assert finder.applied_lr is not None and t.datamodule.hparams.batch_size == 64
    saved = yaml.safe_load((Path(csv_logger.log_dir) / "hparams.yaml").read_text())
    assert saved["batch_size"] == 64 and saved["lr"] == pytest.approx(finder.applied_lr)

    resumed_logger = CSVLogger(tmp_path, name="resumed")
    t = trainer(tmp_path, [LRFinder(target_batch_size=64, **FAST)], max_steps=3, logger=resumed_logger)
    with pytest.warns(UserWarning, match="resumes from ckpt_path"):
        t.fit(SavedNet(), datamodule=HparamsDataModule(batch_size=32), ckpt_path=tmp_path / "ckpt" / "last.ckpt")
    assert t.datamodule.hparams.batch_size == 64
    assert yaml.safe_load((Path(resumed_logger.log_dir) / "hparams.yaml").read_text())["batch_size"] == 64


def test_target_batch_size_training_does_not_use_is_an_error(tmp_path: Path) -> None:
    """Issue 10, 3d: no LR scaled x8 for batch 256 while training runs at batch 32."""
    model = Net()
    t = trainer(tmp_path, [LRFinder(target_batch_size=256, **FAST)], max_steps=1)
    with pytest.raises(ValueError, match=r"target_batch_size=256.*effective batch of 32"):
        t.fit(model, make_loader(batch_size=32))
    assert model.steps == []  # stopped before the test
    # Its batch sizes are written as lrfinder writes them elsewhere ("2,048"); the argument as it is passed.
    t = trainer(tmp_path, [LRFinder(target_batch_size=2048, **FAST)], max_steps=1)
    with pytest.raises(ValueError) as info:
        t.fit(Net(), make_loader(batch_size=32))
    assert str(info.value).startswith(
        "LRFinder(target_batch_size=2048): training uses an effective batch of 32 (32 per device x 1 device x 1 "
        "accumulation step), so an LR scaled to batch 2,048 would be wrong for it."
    ), info.value
    assert "make the train loader's batch 2,048, or leave target_batch_size=None." in str(info.value)


class TwoLoaders(Net):
    """Trains on several train loaders at once (a dict or a list: one batch of each per step), sized by batch_size."""

    def __init__(self, kind: str, sizes: tuple[int, int] | None = None) -> None:
        super().__init__(lr=0.01)
        self.kind = kind
        self.sizes = sizes
        self.batch_size = 32

    def train_dataloader(self) -> Any:
        a, b = self.sizes or (self.batch_size, self.batch_size)
        loaders = [make_loader(n=512, batch_size=a), make_loader(n=256, batch_size=b)]
        return dict(zip("ab", loaders)) if self.kind == "dict" else loaders

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        parts = list(batch.values()) if isinstance(batch, dict) else list(batch)
        loss = sum(F.cross_entropy(self.head(self.body(x)), y) for x, y in parts) / len(parts)
        self.steps.append((self.phase, parts[0][0].shape[0], float(loss.detach()), False))
        return loss


@pytest.mark.parametrize("kind", ["dict", "list"])
def test_target_batch_size_with_several_train_loaders_sets_their_batch(tmp_path: Path, kind: str) -> None:
    """A dict of loaders gave no batch size (no scaling, a warning); a list: scaled x4, training stayed at 32."""
    finder = LRFinder(target_batch_size=128, scaling="linear", **FAST)
    model = TwoLoaders(kind)
    t = trainer(tmp_path, [finder], max_steps=2)
    t.fit(model)
    result = finder.result
    assert result is not None and result.suggestion is not None and result.batch_size == 32
    assert result.scaled is not None and (result.scaled.from_batch_size, result.scaled.to_batch_size) == (32, 128)
    assert model.batch_size == 128 and {s[1] for s in model.steps if s[0] == "train"} == {128}


def test_target_batch_size_with_train_loaders_of_unknown_batch_is_refused(tmp_path: Path) -> None:
    """Two loaders of different batch sizes and no batch_size they read: the LR was scaled x4, training kept 32."""

    class Fixed(TwoLoaders):
        def __init__(self) -> None:
            super().__init__("list", sizes=(32, 16))
            del self.batch_size

    model = Fixed()
    t = trainer(tmp_path, [LRFinder(target_batch_size=128, scaling="linear", **FAST)], max_steps=2)
    with pytest.raises(ValueError, match=r"target_batch_size=128.*effective batch of 32"):
        t.fit(model)
    assert [s for s in model.steps if s[0] == "train"] == []


def test_target_batch_size_not_divisible_is_an_error(tmp_path: Path) -> None:
    t = trainer(tmp_path, [LRFinder(target_batch_size=100, **FAST)], max_steps=1, accumulate_grad_batches=3)
    with pytest.raises(ValueError, match=r"target_batch_size=100.*multiple of 3"):
        t.fit(Net(), datamodule=DataModule(batch_size=32))


def test_a_warmup_in_scheduler_settings_is_built_in(tmp_path: Path) -> None:
    # What the warning on a loader without length advises (scheduler_settings={'warmup_steps': N}) was refused by
    # LRFinder itself: "Scheduler 'cosine' does not take the setting(s) warmup_steps".
    finder = LRFinder(
        optimizer="momentum", scheduler="cosine", scheduler_settings={"warmup_steps": 4, "warmup_start_factor": 0.5},
        **FAST,
    )
    seen = StepLRs()
    t = trainer(tmp_path, [finder, seen], max_steps=8)
    t.fit(Net(), make_loader())
    assert isinstance(t.lr_scheduler_configs[0].scheduler, torch.optim.lr_scheduler.SequentialLR)
    lr = finder.applied_lr
    assert lr is not None
    assert [max(v) for v in seen.lrs][:5] == pytest.approx([lr / 2, 5 * lr / 8, 3 * lr / 4, 7 * lr / 8, lr])


def test_scaling_warmup_applied_to_registry_scheduler(tmp_path: Path) -> None:
    """Issue 10, 3d: the warm-up the scaling advises (x8 -> 3 epochs) is built into scheduler=."""
    finder = LRFinder(optimizer="momentum", scheduler="cosine", target_batch_size=256, **FAST)
    seen = StepLRs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = trainer(tmp_path, [finder, seen], max_epochs=4, max_steps=-1)
        t.fit(Net(), datamodule=DataModule(batch_size=32, n=1024))
    result = finder.result
    assert result is not None and result.scaled is not None and result.scaled.warmup_epochs == 3
    assert t.train_dataloader.batch_size == 256 and len(seen.lrs) == 16  # 4 batches x 4 epochs
    sched = t.lr_scheduler_configs[0].scheduler
    assert isinstance(sched, torch.optim.lr_scheduler.SequentialLR)  # warm-up, then cosine
    lrs = [max(v) for v in seen.lrs]
    # Goyal et al.'s ramp: from the LR found at the test's batch (it started at 0) to the scaled one.
    assert lrs[0] == pytest.approx(result.scaled.base_lr, rel=1e-6)
    assert lrs[:12] == sorted(lrs[:12])  # 3 epochs x 4 steps of warm-up
    assert max(lrs) == pytest.approx(finder.applied_lr, rel=1e-6)


def test_no_advised_warm_up_goes_before_a_schedule_that_climbs_itself(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """onecycle starts low and climbs to its peak: the scaling's 3 warm-up epochs took 12 of its 16 steps."""
    finder = LRFinder(optimizer="momentum", scheduler="onecycle", target_batch_size=256, **FAST)
    seen = StepLRs()
    with caplog.at_level("INFO"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = trainer(tmp_path, [finder, seen], max_epochs=4, max_steps=-1)
        t.fit(Net(), datamodule=DataModule(batch_size=32, n=1024))
    result = finder.result
    assert result is not None and result.scaled is not None and result.scaled.warmup_epochs == 3
    assert isinstance(t.lr_scheduler_configs[0].scheduler, torch.optim.lr_scheduler.OneCycleLR)
    lrs = [max(v) for v in seen.lrs]
    assert result.training_suggestion is not None
    peak = result.training_suggestion.max_lr
    assert len(lrs) == 16 and lrs[0] < lrs[1] and max(lrs) == pytest.approx(peak, rel=0.05)  # its peak, reached
    said = [r.getMessage() for r in caplog.records if "climbs from a low start itself" in r.getMessage()]
    assert said == ["LRFinder: no warm-up before onecycle, which climbs from a low start itself (the batch-size "
                    "scaling advised 12 steps)"]


def test_optimizer_option_builds_training_optimizer(tmp_path: Path) -> None:
    finder = LRFinder(optimizer="adamw", optimizer_settings={"weight_decay": 0.01}, target_batch_size=128, **FAST)
    model = Net()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = trainer(tmp_path, [finder], max_steps=2)
        t.fit(model, datamodule=DataModule(batch_size=32))
    result = finder.result
    assert result is not None and result.suggestion is not None
    assert result.optimizer_name == "AdamW" and result.scaled is not None and result.scaled.rule == "sqrt"
    opt = t.optimizers[0]
    assert isinstance(opt, torch.optim.AdamW)
    assert max(g["lr"] for g in opt.param_groups) == pytest.approx(result.lr)
    assert len(opt.state) > 0  # training stepped this optimizer


# --------------------------------------------------------------------------------------------
# Inconclusive curves, divergence, find_lr, options
# --------------------------------------------------------------------------------------------


def test_inconclusive_warns_keeps_lr_and_trains(tmp_path: Path) -> None:
    finder = LRFinder(**FAST)
    model = Net(lr=0.02, flat=True)
    t = trainer(tmp_path, [finder], max_steps=3)
    with pytest.warns(UserWarning, match="inconclusive") as record:
        t.fit(model, make_loader())
    assert finder.result is not None and finder.result.suggestion is None and finder.result.error
    assert finder.applied_lr is None and model.lr == 0.02
    # The error's sentences are quoted as they are, not wrapped in "(...)." (which read "LRs).). Training").
    (message,) = [str(w.message) for w in record if "inconclusive" in str(w.message)]
    assert f"inconclusive: {finder.result.error} Training goes on" in message and ".)." not in message
    assert message.endswith("Training goes on with the module's own learning rate, 2.00e-02.")  # the LR it keeps
    assert [e[1] for e in model.train_events()] == [(0.02,)] * 3


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (
            {"scheduler": "cosine"},
            "scheduler='cosine' is not built: it starts from the found LR, and the test found none.",
        ),
        (
            {"optimizer": "adamw", "scheduler": "cosine"},
            "optimizer='adamw' and scheduler='cosine' are not built: they start from the found LR, and the test found "
            "none.",
        ),
    ],
    ids=["scheduler", "optimizer-and-scheduler"],
)
def test_an_inconclusive_test_says_the_schedule_asked_for_is_not_built(
    tmp_path: Path, options: dict[str, Any], said: str
) -> None:
    # scheduler='cosine' over the module's own optimizer: an inconclusive test trained at the module's LR with no
    # schedule at all, and the warning said only the LR, so the missing schedule went unnoticed.
    finder, trace = LRFinder(**FAST, **options), LRTrace()
    with pytest.warns(UserWarning, match="inconclusive") as record:
        trainer(tmp_path, [finder, trace], max_steps=3).fit(Net(lr=0.02, flat=True), make_loader())
    (message,) = [str(w.message) for w in record if "inconclusive" in str(w.message)]
    assert message.endswith(f"Training goes on with the module's own learning rate, 2.00e-02. {said}")
    assert trace.lrs == [0.02] * 3


def test_an_inconclusive_tests_report_says_the_lr_training_went_on_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The header said what training was set to for a suggestion alone: after an inconclusive test training goes on
    # at the module's own LR, and the report said "no suggestion" with no word of it.
    import lrfinder.report

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(lrfinder.report, "save_report", lambda result, path, **kwargs: calls.append(kwargs))
    finder = LRFinder(report=tmp_path / "lr.png", **FAST)
    with pytest.warns(UserWarning, match="inconclusive"):
        trainer(tmp_path, [finder], max_steps=2).fit(Net(lr=0.02, flat=True), make_loader())
    assert finder.result is not None and finder.result.suggestion is None and finder.applied_lr is None
    assert len(calls) == 1 and calls[0]["applied_lr"] == pytest.approx(0.02)
    facts = lrfinder.report._header_lines([finder.result], None, calls[0]["applied_lr"])[1]
    assert "no suggestion: the curve is inconclusive (why: see the plot)  |  applied in training: lr 2.00e-02 (a " \
           "fallback: the test found none)" in facts
    # strict=True stops the fit: nothing was applied.
    calls.clear()
    with pytest.raises(InconclusiveCurveError, match="strict"):
        trainer(tmp_path, [LRFinder(strict=True, report=tmp_path / "lr2.png", **FAST)], max_steps=2).fit(
            Net(lr=0.02, flat=True), make_loader()
        )
    assert len(calls) == 1 and calls[0]["applied_lr"] is None


def test_inconclusive_strict_raises(tmp_path: Path) -> None:
    t = trainer(tmp_path, [LRFinder(strict=True, **FAST)], max_steps=3)
    with pytest.raises(InconclusiveCurveError, match="strict"):
        t.fit(Net(flat=True), make_loader())


def test_divergence_to_nan_leaves_no_diverged_weights(tmp_path: Path) -> None:
    finder = LRFinder(num_steps=30, min_lr=1e-3, max_lr=1e8, stop_factor=None)
    model = Net(bn=False)
    initial = weights(model)

    class First(Callback):
        def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
            if batch_idx == 0:
                self.w = weights(pl_module)

    first = First()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer(tmp_path, [finder, first], max_steps=1).fit(model, make_loader())
    assert finder.result is not None and finder.result.stop_reason == "non_finite"
    assert not math.isfinite(finder.result.losses[-1])
    assert all(torch.equal(first.w[k], initial[k]) for k in initial)


def test_find_lr_only_finds(tmp_path: Path) -> None:
    model = Net(lr=0.03)
    initial = weights(model)
    t = trainer(tmp_path, max_steps=5)
    result = find_lr(model, train_dataloaders=make_loader(), trainer=t, **FAST)
    assert isinstance(result, RangeTestResult) and result.suggestion is not None
    assert model.lr == 0.03 and model.train_events() == []
    assert all(torch.equal(v, initial[k]) for k, v in weights(model).items())
    assert t.callbacks == [c for c in t.callbacks if not isinstance(c, LRFinder)]
    assert t.global_step == 0 and not t.should_stop
    t.fit(model, make_loader())  # the trainer is reusable afterwards, with the module's own LR
    assert t.global_step == 5 and [e[1] for e in model.train_events()] == [(0.03,)] * 5


def test_find_lr_puts_back_an_optimizer_training_step_steps_itself(tmp_path: Path) -> None:
    model = CriticStepping()
    x, y = make_data(32).tensors
    model.training_step((x, y), 0)  # the critic's optimizer with real state
    model.critic_opt.zero_grad(set_to_none=True)
    before = copy.deepcopy(model.critic_opt.state_dict())
    initial = weights(model)
    find_lr(model, train_dataloaders=make_loader(), trainer=trainer(tmp_path, max_steps=5), **FAST)
    after = model.critic_opt.state_dict()
    assert after["param_groups"] == before["param_groups"] and after["state"].keys() == before["state"].keys()
    for key, state in before["state"].items():
        assert all(torch.equal(v, after["state"][key][name]) for name, v in state.items())
    assert all(torch.equal(v, initial[k]) for k, v in weights(model).items())


class _PartlyLabelled(pl.LightningModule):
    """Two tasks, the second labelled on the first 16 examples only: a later batch has none of its labels."""

    def __init__(self) -> None:
        super().__init__()
        self.lr = 0.01
        self.net = torch.nn.Linear(8, 5)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y, z = batch
        out = self.net(x)
        return F.cross_entropy(out[:, :3], y) + F.cross_entropy(out[:, 3:], z)  # z all -100: NaN

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.net.parameters(), lr=self.lr)


def test_a_loss_undefined_on_a_clean_batch_is_told_from_a_divergence(tmp_path: Path) -> None:
    # The second task's cross_entropy over a batch whose labels are all ignore_index is NaN at lr=1e-07: the curve
    # read it as the blow-up and the fit was told to "Lower min_lr or max_lr", as range_test was.
    x, y = make_data(64).tensors
    z = torch.full((64,), -100)
    z[:16] = y[:16] % 2
    loader = DataLoader(torch.utils.data.TensorDataset(x, y, z), batch_size=8)
    model = _PartlyLabelled()
    initial = weights(model)
    with pytest.raises(DataError, match=r"^find_lr: Batch 2 gives a non-finite loss \(nan\) at step 2 "
                       r"\(lr=[0-9.e+-]+\) and at the weights the test started from too: .*ignore_index"):  # fmt: skip
        find_lr(model, train_dataloaders=loader, trainer=trainer(tmp_path, max_steps=5), **FAST)
    assert all(torch.equal(v, initial[k]) for k, v in weights(model).items())


class _ManualPartlyLabelled(_PartlyLabelled):
    """:class:`_PartlyLabelled` under manual optimization: training_step runs its backward and step itself."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        opt = self.optimizers()
        opt.zero_grad()  # type: ignore[union-attr]
        loss = super().training_step(batch, batch_idx)
        self.manual_backward(loss)
        opt.step()  # type: ignore[union-attr]
        return loss


@pytest.mark.filterwarnings("ignore:Encountered `nan` values:UserWarning")  # ManualNet's mean_loss, at the blow-up
def test_a_loss_undefined_on_a_clean_batch_is_told_under_manual_optimization_too(tmp_path: Path) -> None:
    # The check at the starting weights ran under automatic optimization only: a manual training_step's NaN over a
    # batch of ignore_index labels read "the loss became non-finite at lr=1.26e-03 ... Lower min_lr or max_lr".
    x, y = make_data(64).tensors
    z = torch.full((64,), -100)
    z[:16] = y[:16] % 2
    loader = DataLoader(torch.utils.data.TensorDataset(x, y, z), batch_size=8)
    model = _ManualPartlyLabelled()
    initial = weights(model)
    with pytest.raises(DataError, match=r"^find_lr: Batch 2 gives a non-finite loss \(nan\) at step 2 "
                       r"\(lr=[0-9.e+-]+\) and at the weights the test started from too: .*ignore_index"):  # fmt: skip
        find_lr(model, train_dataloaders=loader, trainer=trainer(tmp_path, max_steps=5), **FAST)
    assert all(torch.equal(v, initial[k]) for k, v in weights(model).items())
    assert all(p.grad is None for p in model.parameters())
    # A manual module whose loss blows up to NaN is not told so: its loss is finite at the starting weights.
    result = find_lr(ManualNet(), train_dataloaders=make_loader(), trainer=trainer(tmp_path, max_steps=5),
                     num_steps=30, min_lr=1e-3, max_lr=1e30, stop_factor=None)  # fmt: skip
    assert result.stop_reason == "non_finite" and result.num_steps < 30


def test_find_lr_default_trainer_with_datamodule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class DM(pl.LightningDataModule):
        def train_dataloader(self) -> DataLoader:
            return make_loader()

    monkeypatch.chdir(tmp_path)
    result = find_lr(Net(), datamodule=DM(), **FAST)
    assert result.suggestion is not None and result.batch_size == 32
    assert list(tmp_path.iterdir()) == []  # no logs, no checkpoints


def test_find_lr_rejects_training_options() -> None:
    with pytest.raises(TypeError, match="scheduler"):
        find_lr(Net(), train_dataloaders=make_loader(), scheduler="cosine")


class _LogsScaledLoss(Net):
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        self.log("scaled_loss", loss * 100)
        return loss


def test_find_lr_messages_name_find_lr_not_the_callback(tmp_path: Path) -> None:
    """find_lr(monitor=...) warned "LRFinder(monitor=...)": a callback its caller never built."""
    read = r"^find_lr\(monitor='scaled_loss'\) is read under manual optimization"
    with pytest.warns(UserWarning, match=read) as seen:
        find_lr(_LogsScaledLoss(), train_dataloaders=make_loader(), trainer=trainer(tmp_path), monitor="scaled_loss",
                **FAST)  # fmt: skip
    assert not [str(w.message) for w in seen if "LRFinder" in str(w.message)]
    manual = ManualNet()  # the stepper's own messages too
    with pytest.raises(ModelError, match=r"^find_lr\(monitor='nowhere'\): training_step did not log 'nowhere'"):
        find_lr(manual, train_dataloaders=make_loader(), trainer=trainer(tmp_path), monitor="nowhere", **FAST)

    class Frozen(Net):
        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.body.parameters(), lr=0.01)

    frozen = Frozen()
    for p in frozen.body.parameters():
        p.requires_grad_(False)
    with pytest.raises(ModelError, match=r"requires grad.*or do without find_lr for this module\.$") as info:
        find_lr(frozen, train_dataloaders=make_loader(), trainer=trainer(tmp_path), **FAST)
    assert "LRFinder" not in str(info.value)
    # The callback still names itself.
    with pytest.raises(ModelError, match=r"or leave LRFinder out of this fit\.$"):
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=1).fit(frozen, make_loader())


def test_find_lr_max_steps_warning_promises_no_training(tmp_path: Path) -> None:
    """find_lr with a Trainer of max_steps=3 was told "training then runs its 3": find_lr trains nothing."""
    with pytest.warns(UserWarning) as seen:
        find_lr(Net(), train_dataloaders=make_loader(), trainer=trainer(tmp_path, max_steps=3), **FAST)
    said = [str(w.message) for w in seen if "is smaller than num_steps" in str(w.message)]
    assert said and all(m.startswith("find_lr: max_steps=3") and "training then runs" not in m for m in said)
    with pytest.warns(UserWarning, match=r"max_steps=3 is smaller.*; training then runs its 3\.$"):
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=3).fit(Net(), make_loader())


def test_a_test_batch_above_the_dataset_is_recorded_and_scaled_at_the_batch_it_ran(tmp_path: Path) -> None:
    """test_batch_size=1000 over 256 examples tested at 256 without a word; the result and the scaling say 256."""
    finder = LRFinder(test_batch_size=1000, **FAST)
    with pytest.warns(UserWarning, match=r"test_batch_size=1000 is more than the 256 examples the train loader gives "
                      r"each device, so every batch of the test holds 256: the LR is found \(and scaled\) at batch "
                      r"256\. Set test_batch_size <= 256"):  # fmt: skip
        trainer(tmp_path, [finder], max_steps=1).fit(Net(), make_loader(256, 32))
    assert finder.result is not None and finder.result.batch_size == 256
    assert finder.result.suggestion is not None
    assert finder.applied_lr == pytest.approx(finder.result.suggestion.lr * 32 / 256)  # linear, SGD: 256 -> 32
    larger = LRFinder(test_batch_size=64, **FAST)  # above the training batch, within the data: no word of it
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        trainer(tmp_path, [larger], max_steps=1).fit(Net(), make_loader(256, 32))
    assert larger.result is not None and larger.result.batch_size == 64
    assert not [w for w in seen if "examples the train loader gives" in str(w.message)]


def test_a_test_batch_above_a_one_example_dataset_says_example_in_the_singular(tmp_path: Path) -> None:
    # "is more than the 1 examples the train loader gives each device".
    loader = DataLoader(make_loader(1, 1).dataset, batch_size=1, drop_last=True)
    with pytest.raises(DataError, match=r"test_batch_size=2 is more than the 1 example the train loader gives each "):
        trainer(tmp_path, [LRFinder(test_batch_size=2, **FAST)], max_steps=1).fit(Net(), loader)


def test_a_test_batch_above_the_dataset_of_a_drop_last_loader_is_refused_by_name(tmp_path: Path) -> None:
    """With drop_last=True the rebuilt loader gives no batch: the error named a DataLoader(batch_size=1000) the user
    never built and told them to lower its batch_size, not test_batch_size."""
    loader = make_loader(256, 32)
    loader = DataLoader(loader.dataset, batch_size=32, shuffle=True, drop_last=True)
    model = Net()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(DataError, match=r"test_batch_size=1000 is more than the 256 examples the train loader gives "
                                        r"each device, and the loader drops its last short batch \(drop_last=True\), "
                                        r"so the test would get no batch\. Set test_batch_size <= 256"):  # fmt: skip
        trainer(tmp_path, [LRFinder(test_batch_size=1000, **FAST)], max_steps=1).fit(model, loader)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_lrfinder_takes_numpy_batch_sizes_and_keeps_the_settings_it_validated() -> None:
    finder = LRFinder(target_batch_size=np.int64(256), test_batch_size=np.int32(32),
                      optimizer="adamw", optimizer_settings={"weight_decay": 0.1, "bias_lr_factor": 2.0})  # fmt: skip
    assert (finder.target_batch_size, finder.test_batch_size) == (256, 32)  # were refused as not a positive int
    assert type(finder.target_batch_size) is int


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        # Were LRFinder.__init__'s "unexpected keyword argument", Lightning's "`model` must be a
        # `LightningModule`", "'int' object has no attribute 'callbacks'", "... no attribute 'on_exception'" and
        # its MisconfigurationException.
        (lambda: find_lr(Net(), train_dataloaders=make_loader(), num_step=10), TypeError,
         r"unknown option num_step.*Did you mean 'num_steps'"),
        # A call moved from Lightning's Tuner.lr_find: its names are answered with lrfinder's (were only listed),
        # and update_attr (on by default there) says find_lr changes nothing.
        (lambda: find_lr(Net(), train_dataloaders=make_loader(), num_training=10, early_stop_threshold=4.0),
         TypeError, r"For 'num_training': did you mean 'num_steps'\? For 'early_stop_threshold': did you mean "
         r"'stop_factor'\?"),
        # Tuner.lr_find's dataloaders and method got only the option list (method "Did you mean 'mode'?").
        (lambda: find_lr(Net(), dataloaders=make_loader()), TypeError,
         r"unknown option dataloaders;.*\)\. Lightning's dataloaders .* not read by a fit; pass the training "
         r"loader as train_dataloaders=\.$"),
        (lambda: find_lr(Net(), train_dataloaders=make_loader(), method="fit"), TypeError,
         r"unknown option method;.*\)\. Lightning's method has no equivalent: find_lr always runs the test in a "
         r"fit \(Tuner\.lr_find's only method='fit'\); drop it\.$"),
        (lambda: find_lr(Net(), train_dataloaders=make_loader(), update_attr=True), TypeError,
         r"no 'update_attr': it leaves the module as it was.*model\.lr = result\.lr, and model\.hparams\.lr = "
         r"result\.lr when hparams holds one.*add LRFinder to the Trainer's callbacks: it sets both"),
        (lambda: find_lr(Net(), train_dataloaders=make_loader(), mode="exponential"), ValueError,
         r"but got mode='exponential'\. Did you mean 'exp'\?"),
        (lambda: find_lr(torch.nn.Linear(2, 2), train_dataloaders=make_loader()), TypeError,
         r"model to be a LightningModule, but got Linear. For a plain torch.nn.Module use lrfinder.range_test"),
        (lambda: find_lr(Net(), train_dataloaders=make_loader(), trainer=5), TypeError,
         "trainer to be a Lightning Trainer or None"),
        (lambda: find_lr(Net(), datamodule=make_loader()), TypeError,
         "datamodule to be a LightningDataModule or None, but got DataLoader. Pass DataLoaders as train_dataloaders"),
        # A string recursed in the walk over the loaders (RecursionError); a number got Lightning's "An invalid
        # dataloader was passed to `Trainer.fit(train_dataloaders=...)`".
        (lambda: find_lr(Net(), train_dataloaders="train.csv"), TypeError,
         r"train_dataloaders to be a DataLoader \(or a list or dict of them\), but got str 'train.csv'"),
        (lambda: find_lr(Net(), train_dataloaders=64), TypeError,
         r"train_dataloaders to be an iterable of batches \(e.g. a torch DataLoader\), but got int"),
    ],
)
def test_find_lr_checks_its_arguments_before_fitting(call: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_find_lr_takes_the_loader_or_datamodule_positionally_as_lightnings_tuner(tmp_path: Path) -> None:
    """``Tuner(trainer).lr_find(model, train_loader)`` moved to ``find_lr(model, train_loader)`` got Python's bare
    "takes 1 positional argument but 2 were given"; ``trainer.fit(model, dm)`` takes a datamodule there too."""
    loader, net = make_loader(), Net()
    by_name = find_lr(net, train_dataloaders=loader, trainer=trainer(tmp_path), **FAST)
    by_position = find_lr(net, loader, trainer=trainer(tmp_path), **FAST)  # find_lr leaves net as it was
    assert by_position.lrs == by_name.lrs and by_position.losses == by_name.losses
    from_dm = find_lr(net, DataModule(), trainer=trainer(tmp_path), **FAST)
    assert from_dm.losses == find_lr(net, datamodule=DataModule(), trainer=trainer(tmp_path), **FAST).losses
    with pytest.raises(ValueError, match="Expected datamodule or train_dataloaders, not both"):
        find_lr(Net(), loader, datamodule=DataModule())


@pytest.mark.parametrize(
    ("call", "match"),
    [
        # Lightning's LearningRateFinder(num_training_steps=..., early_stop_threshold=...) moved to LRFinder: were
        # Python's bare "LRFinder.__init__() got an unexpected keyword argument", as range_test's were.
        (lambda: LRFinder(num_training_steps=50, early_stop_threshold=None),
         r"^LRFinder\.__init__\(\) got unexpected keyword arguments 'num_training_steps', 'early_stop_threshold'\. "
         r"For 'num_training_steps': did you mean 'num_steps'\? "
         r"For 'early_stop_threshold': did you mean 'stop_factor'\?$"),
        (lambda: LRFinder(update_attr=True), r"update_attr has no equivalent: .*attr_name=False sets none"),
        (lambda: LRFinder(milestones=(5, 10)), r"call trainer\.fit once per stage on the same Trainer"),
        # Tuner.lr_find(model, train, val_dataloaders=val): was "unknown option(s) val_dataloaders" and a list.
        (lambda: find_lr(Net(), make_loader(), val_dataloaders=make_loader()),
         r"^find_lr\(\) takes no 'val_dataloaders': the curve is the training loss"),
        # Tuner.lr_find(model, train, val) moved to find_lr: was Python's bare "takes from 1 to 2 positional arguments".
        (lambda: find_lr(Net(), make_loader(), make_loader()),
         r"^find_lr\(\) takes model and train_dataloaders positionally, but got 3 positional arguments\. A third one, "
         r"Lightning's Tuner\.lr_find\(model, train_dataloaders, val_dataloaders\), is not read.*drop the val loader"),
        (lambda: find_lr(Net(), make_loader(), smooth_f=0.05), r"\(DivergenceMonitor\)\.$"),
        # range_test's options (and torch-lr-finder's accumulation_steps) that the callback takes from the Trainer
        # or the module: were difflib's guesses, "Did you mean 'num_steps'?", for step_fn "Did you mean 'self'?".
        (lambda: LRFinder(accumulation_steps=4),
         r"^LRFinder\.__init__\(\) got an unexpected keyword argument 'accumulation_steps'\. For 'accumulation_steps': "
         r"the test accumulates as the fit does: set Trainer\(accumulate_grad_batches=\.\.\.\)\.$"),
        (lambda: LRFinder(step_fn=lambda m, b: m(b)),
         r"^LRFinder\.__init__\(\) got an unexpected keyword argument 'step_fn'\. For 'step_fn': the test's loss "
         r"is the one the LightningModule's training_step returns\.$"),
        (lambda: LRFinder(gradient_clip_val=1.0, end_lr=1.0),
         r"got unexpected keyword arguments 'gradient_clip_val', 'end_lr'\. For 'end_lr': did you mean 'max_lr'\? For "
         r"'gradient_clip_val': the test clips as the fit does: set Trainer\(gradient_clip_val=\.\.\., "
         r"gradient_clip_algorithm=\.\.\.\)\.$"),
        (lambda: find_lr(Net(), make_loader(), precision="bf16-mixed"),
         r"\(min_lr, .*\)\. For 'precision': the test runs at the fit's precision: set Trainer\(precision=\.\.\.\)\.$"),
        # LRFinder takes curve='val' (tests/test_callback_val.py); find_lr's fit has no validation loader to read.
        (lambda: find_lr(Net(), make_loader(), curve="val"),
         r"^find_lr\(\) takes no 'curve': its fit validates nothing \(it takes no validation loader\), so the curve is "
         r"the training loss\. .*LRFinder\(curve='val'\).*range_test\(model, train_loader, loss_fn=\.\.\., "
         r"val_data=val_loader, curve='val'\)\.$"),
        # torch-lr-finder's amp_backend (range_test's precision=): was Python's bare "unexpected keyword argument".
        (lambda: LRFinder(amp_backend="torch"),
         r"^LRFinder\.__init__\(\) got an unexpected keyword argument 'amp_backend'\. For 'amp_backend': the test "
         r"runs at the fit's precision: set Trainer\(precision=\.\.\.\)\.$"),
        # A Trainer argument given to the callback or find_lr: was Python's bare "unexpected keyword argument", which
        # did not say where it goes.
        (lambda: LRFinder(max_epochs=3),
         r"^LRFinder\.__init__\(\) got an unexpected keyword argument 'max_epochs'\. 'max_epochs' is a Trainer "
         r"argument: Trainer\(max_epochs=\.\.\., callbacks=\[LRFinder\(\.\.\.\)\]\)\.$"),
        (lambda: LRFinder(devices=2, num_steps=50),
         r"^LRFinder\.__init__\(\) got an unexpected keyword argument 'devices'\. 'devices' is a Trainer argument: "
         r"Trainer\(devices=\.\.\., callbacks=\[LRFinder\(\.\.\.\)\]\)\.$"),
        (lambda: find_lr(Net(), make_loader(), accelerator="cpu"),
         r"\(min_lr, .*\)\. 'accelerator' is a Trainer argument: "
         r"find_lr\(\.\.\., trainer=Trainer\(accelerator=\.\.\.\)\)\.$"),
    ],
)
def test_peer_options_without_a_counterpart_say_what_to_do_instead(call: Any, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        call()
    # The signature LightningCLI and help() read is LRFinder's own, through the wrapper.
    params = inspect.signature(LRFinder).parameters
    assert list(params)[:3] == ["min_lr", "max_lr", "num_steps"] and "kwargs" not in params


def test_a_one_shot_iterator_in_a_fit_is_not_told_to_become_a_list_of_batches(tmp_path: Path) -> None:
    # range_test's advice, "Pass a DataLoader, a list of batches or another re-iterable", was given inside a fit
    # too, where Lightning reads a list as several loaders: find_lr(model, list(loader)) then failed in the user's
    # training_step ("too many values to unpack").
    with pytest.raises(DataError) as caught:
        find_lr(Net(), iter(make_loader()), trainer=trainer(tmp_path), **FAST)
    said = str(caught.value)
    assert said.startswith("The training data ran out after 8 batches and cannot be restarted: it is a one-shot")
    assert "Pass a DataLoader or another re-iterable (not a list of batches: Lightning reads a list as several " in said
    with pytest.raises(DataError, match=r"Pass a DataLoader or another re-iterable \(not a list of batches"):
        trainer(tmp_path, [LRFinder(**FAST)]).fit(Net(), iter(make_loader()))


def test_lightnings_finder_attributes_say_what_to_use_instead(tmp_path: Path) -> None:
    # Lightning's LearningRateFinder: cb.optimal_lr.suggestion(), and a subclass calling self.lr_find(trainer, module)
    # at epoch milestones, moved to LRFinder got Python's bare "'LRFinder' object has no attribute 'optimal_lr'".
    finder = LRFinder(**FAST)
    optimal = r"^'LRFinder' object has no attribute 'optimal_lr': Lightning's LearningRateFinder\.optimal_lr is "
    with pytest.raises(AttributeError, match=optimal + r"finder\.result here .*finder\.applied_lr is the LR it set"):
        finder.optimal_lr  # noqa: B018
    with pytest.raises(AttributeError, match=r"'lr_find': LRFinder has no lr_find to call at epoch milestones: call "
                                             r"trainer\.fit once per stage"):  # fmt: skip
        finder.lr_find  # noqa: B018

    class Staged(LRFinder):
        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            self.lr_find(trainer, pl_module)

    with pytest.raises(AttributeError, match=r"has no attribute 'lr_find': LRFinder has no lr_find"):
        trainer(tmp_path, [Staged(**FAST)]).fit(Net(), make_loader())
    # Any other missing name is Python's own error; hasattr, copy and a fit see the callback as before.
    with pytest.raises(AttributeError, match=r"^'LRFinder' object has no attribute 'zzz'$"):
        finder.zzz  # noqa: B018
    assert not hasattr(finder, "optimal_lr") and hasattr(finder, "result") and finder.result is None
    copied = copy.deepcopy(finder)
    model = Net(lr=0.02)
    trainer(tmp_path, [copied]).fit(model, make_loader())
    assert copied.result is not None and copied.applied_lr == model.lr != 0.02


def test_an_attribute_error_inside_a_property_is_raised_as_it_is() -> None:
    # The __getattr__ that names Lightning's LearningRateFinder attributes (72800f4) is where Python goes when a
    # property raises AttributeError inside: a subclass's property reading a misspelt attribute was said to be
    # missing itself ("'Finder' object has no attribute 'peak'"), the error inside it lost.
    class Finder(LRFinder):
        @property
        def peak(self) -> float:
            return self.resullt.lr  # type: ignore[attr-defined]

        @property
        def lightning_name(self) -> Any:
            return self.optimal_lr

        @property
        def own(self) -> Any:
            raise AttributeError("the fit has not run: no result yet")

    finder = Finder(**FAST)
    with pytest.raises(AttributeError, match=r"^'Finder' object has no attribute 'resullt'$"):
        finder.peak  # noqa: B018
    with pytest.raises(AttributeError, match=r"^'Finder' object has no attribute 'optimal_lr': Lightning's"):
        finder.lightning_name  # noqa: B018
    with pytest.raises(AttributeError, match=r"^the fit has not run: no result yet$"):
        finder.own  # noqa: B018
    assert not hasattr(finder, "own") and finder._who == "LRFinder"
    with pytest.raises(AttributeError, match=r"^'Finder' object has no attribute 'zzz'$"):
        finder.zzz  # noqa: B018


def test_nan_in_the_data_is_named_not_read_as_a_divergence(tmp_path: Path) -> None:
    """A NaN in batch 3 made the loss NaN at lr=1.8e-06: "Only 3 finite loss values ... Lower min_lr or max_lr"."""
    from lrfinder import DataError

    data = make_data()
    x, y = data.tensors
    x = x.clone()
    x[100, 3] = math.nan
    model = Net()
    initial = weights(model)
    loader = DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)
    with pytest.raises(DataError, match=r"find_lr: Batch 3 holds NaN or inf in inputs \(inputs float32.*data made"):
        find_lr(model, train_dataloaders=loader, trainer=trainer(tmp_path), **FAST)
    assert all(torch.equal(v, initial[k]) for k, v in weights(model).items())

    manual = ManualNet()  # manual optimization: the step is the module's own, the data is checked the same
    initial = weights(manual)
    with pytest.raises(DataError, match=r"find_lr: Batch 3 holds NaN or inf in inputs"):
        find_lr(manual, train_dataloaders=loader, trainer=trainer(tmp_path), **FAST)
    assert all(torch.equal(v, initial[k]) for k, v in weights(manual).items())


def test_a_module_that_fills_nan_inputs_itself_diverges_as_any_other(tmp_path: Path) -> None:
    """Missing values as NaN, filled in training_step: the LR's NaN at the end of the sweep was blamed on the data."""

    class FillsNaN(Net):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            return super().training_step((torch.nan_to_num(x), y), batch_idx)

    data = make_data()
    x, y = data.tensors
    x = x.clone()
    x[::5, 3] = math.nan  # in every batch
    loader = DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)
    result = find_lr(FillsNaN(bn=False), train_dataloaders=loader, trainer=trainer(tmp_path), num_steps=60,
                     min_lr=1e-3, max_lr=1e12, stop_factor=None)  # fmt: skip
    assert result.stop_reason == "non_finite"


@pytest.mark.filterwarnings("ignore:.*(Total length|limit_train_batches|max_steps).*")
def test_find_lr_says_why_a_fit_ran_no_batch(tmp_path: Path) -> None:
    """An empty loader (or limit_train_batches=0) said "the strategy ran the fit elsewhere (e.g. ddp_spawn)"."""
    from lrfinder import DataError, LRFinderError

    empty = DataLoader(make_data(10), batch_size=32, drop_last=True)
    with pytest.raises(DataError, match=r"the train dataloader is empty \(it yielded no batch\), so the fit and the"):
        find_lr(Net(), train_dataloaders=empty, trainer=trainer(tmp_path), **FAST)
    with pytest.raises(LRFinderError, match=r"limit_train_batches=0 runs no training batch, so the range test never"):
        find_lr(Net(), train_dataloaders=make_loader(), trainer=trainer(tmp_path, limit_train_batches=0), **FAST)


@pytest.mark.filterwarnings("ignore:.*(Total length|limit_train_batches).*")
def test_the_callback_says_why_a_fit_with_no_batch_ran_no_test(tmp_path: Path) -> None:
    """On an empty train loader LRFinder said nothing (Lightning's "Total length of `DataLoader` across ranks is
    zero" alone) and left the LR as it was; find_lr raised, naming the empty loader."""
    empty = DataLoader(make_data(10), batch_size=32, drop_last=True)
    for loader, kwargs, says in (
        (empty, {}, "the train dataloader is empty (it yielded no batch), so the fit and the range test never ran. "
                    "Pass a non-empty DataLoader"),
        (make_loader(), {"limit_train_batches": 0}, "the Trainer's limit_train_batches=0 runs no training batch, so "
                                                    "the range test never started."),
    ):  # fmt: skip
        model = Net(lr=0.02)
        finder = LRFinder(**FAST)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trainer(tmp_path, [finder], **kwargs).fit(model, loader)
        ours = [str(w.message) for w in caught if "LRFinder" in str(w.message)]
        assert len(ours) == 1 and ours[0].startswith(f"LRFinder ran no range test: {says}"), ours
        assert ours[0].endswith("The LR is left as the module set it.")
        assert finder.result is None and model.lr == 0.02
    # A fit with batches warns nothing of the kind.
    finder = LRFinder(**FAST)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer(tmp_path, [finder]).fit(Net(lr=0.02), make_loader())
    assert finder.result is not None and not [w for w in caught if "ran no range test" in str(w.message)]


def test_find_lr_on_a_trainer_whose_fit_is_done_says_so(tmp_path: Path) -> None:
    """find_lr between two fits (as Lightning's tuner is called) said "the strategy ran the fit elsewhere (e.g.
    ddp_spawn)": the first fit had reached max_epochs or max_steps, so the second ran no batch."""
    from lrfinder import LRFinderError

    for limit, done, raise_it in (
        ({"max_epochs": 1, "max_steps": -1}, r"current_epoch=1 reached max_epochs=1", "fit_loop.max_epochs"),
        ({"max_steps": 3}, r"global_step=3 reached max_steps=3", "fit_loop.epoch_loop.max_steps"),
    ):
        t = trainer(tmp_path, **limit)
        model = Net(lr=0.02)
        t.fit(model, make_loader())
        with pytest.raises(LRFinderError, match=rf"fit is already done \({done}\).*trainer\.{raise_it} = "):
            find_lr(model, train_dataloaders=make_loader(), trainer=t, **FAST)
    # Raising the limit, as the message says, finds; the fit after it trains the next stage.
    t.fit_loop.epoch_loop.max_steps = 5
    assert find_lr(model, train_dataloaders=make_loader(), trainer=t, **FAST).suggestion is not None
    t.fit(model, make_loader())
    assert t.global_step == 5


def test_find_lr_on_a_fast_dev_run_trainer_is_refused_and_trains_nothing(tmp_path: Path) -> None:
    """Under fast_dev_run LRFinder skips the test: find_lr's fit trained the module a step, then blamed the Trainer."""
    model = Net(lr=0.02)
    initial = weights(model)
    t = trainer(tmp_path, fast_dev_run=True)
    with pytest.raises(ValueError, match=r"without fast_dev_run .*, but got fast_dev_run=True\. Pass a Trainer"):
        find_lr(model, train_dataloaders=make_loader(), trainer=t, **FAST)
    assert all(torch.equal(v, initial[k]) for k, v in weights(model).items()) and model.events == []
    assert t.global_step == 0


def test_find_lr_with_a_trainer_or_datamodule_of_the_other_distribution_says_so(tmp_path: Path) -> None:
    """A pytorch_lightning module with a lightning.pytorch Trainer (or the reverse) failed deep inside Lightning with
    "`model` must be a `LightningModule` or `torch._dynamo.OptimizedModule`, got `Net`", which it is."""
    import importlib

    from _models import DISTRIBUTIONS, LIGHTNING

    other_name = next(name for key, name in DISTRIBUTIONS.items() if key != LIGHTNING)
    other = importlib.import_module(other_name)
    model = Net(lr=0.02)
    initial = weights(model)
    t = other.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, default_root_dir=tmp_path)
    with pytest.raises(TypeError, match=rf"^model is a {pl.__name__} LightningModule \(Net\), but trainer is a "
                       rf"{other_name} Trainer: the two Lightning distributions do not mix .* from {pl.__name__} "
                       r"import Trainer"):  # fmt: skip
        find_lr(model, make_loader(), trainer=t, **FAST)

    class OtherData(other.LightningDataModule):
        def train_dataloader(self) -> DataLoader:
            return make_loader()

    with pytest.raises(TypeError, match=rf"but datamodule is a {other_name} LightningDataModule: .* from {pl.__name__} "
                       r"import LightningDataModule"):  # fmt: skip
        find_lr(model, OtherData(), **FAST)
    assert all(torch.equal(v, initial[k]) for k, v in weights(model).items())


def test_find_lr_on_a_compiled_module_builds_the_trainer_of_its_distribution() -> None:
    """find_lr(torch.compile(module)) picked the Trainer by the compiled wrapper, of neither distribution: the preferred
    one (lightning.pytorch) refused a pytorch_lightning module ("expected to be a compiled LightningModule")."""
    model = Net(lr=0.02)
    initial = weights(model)
    result = find_lr(torch.compile(model, backend="eager"), train_dataloaders=make_loader(), **FAST)
    assert result.suggestion is not None and model.lr == 0.02 and model.test_events()
    assert all(torch.equal(v, initial[k]) for k, v in weights(model).items())


def test_find_lr_without_data_or_with_a_dataset_says_what_to_pass(tmp_path: Path) -> None:
    from lrfinder import DataError

    # Lightning's "`train_dataloader` must be implemented to be used with the Lightning Trainer".
    with pytest.raises(ValueError, match=r"find_lr\(\) got no training data: pass train_dataloaders=DataLoader"):
        find_lr(Net(), **FAST)
    # A Dataset's items ran as batches of one unbatched example each, without a word.
    with pytest.raises(DataError, match=r"train_dataloaders is a TensorDataset, a Dataset: its items are single"):
        find_lr(Net(), train_dataloaders=make_data(), **FAST)

    class OwnLoader(Net):
        def train_dataloader(self) -> DataLoader:
            return make_loader()

    assert find_lr(OwnLoader(), trainer=trainer(tmp_path), **FAST).num_steps > 0  # its own loader is enough


def test_find_lr_takes_a_train_dataloader_set_on_the_instance(tmp_path: Path) -> None:
    # Lightning calls model.train_dataloader set as an attribute of the instance; find_lr's own check for data
    # read the class only and refused it: "find_lr() got no training data".
    model = Net()
    loader = make_loader()
    model.train_dataloader = lambda: loader  # type: ignore[method-assign]
    assert find_lr(model, trainer=trainer(tmp_path), **FAST).num_steps > 0


def test_find_lr_takes_the_train_dataloader_of_a_module_lightning_ships(tmp_path: Path) -> None:
    # Lightning's demo BoringModel (its docs' and its own tuner tests' module: Tuner(trainer).lr_find(model)) defines
    # train_dataloader; find_lr took any class of a Lightning module for the hook stub and refused it: "find_lr() got
    # no training data: ... or define BoringModel.train_dataloader()".
    boring = importlib.import_module(f"{pl.__name__}.demos.boring_classes").BoringModel
    model = boring()
    initial = weights(model)
    result = find_lr(model, trainer=trainer(tmp_path), num_steps=20, stop_factor=None)
    assert result.num_steps == 20 and result.batch_size == 1  # its loader's: DataLoader(RandomDataset(32, 64))
    assert all(torch.equal(v, initial[k]) for k, v in weights(model).items())


def test_find_lr_runs_no_validation_and_says_nothing_of_a_val_loader(tmp_path: Path) -> None:
    """find_lr's fit only finds: a module with a validation_step (most have one) got Lightning's "You defined a
    `validation_step` but have no `val_dataloader`" for the train loader find_lr takes, and a Trainer's sanity
    check ran validation_step on a datamodule's val loader before the test, changing the module it leaves as it
    was (a list of validation outputs two entries longer)."""

    class Validated(Net):
        def __init__(self) -> None:
            super().__init__()
            self.validation_step_outputs: list[float] = []

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            self.validation_step_outputs.append(float(F.cross_entropy(self.head(self.body(x)), y)))

    class WithVal(DataModule):
        def val_dataloader(self) -> DataLoader:
            return make_loader(shuffle=False)

    model = Validated()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for t in (None, trainer(tmp_path)):
            assert find_lr(model, train_dataloaders=make_loader(), trainer=t, **FAST).suggestion is not None
    assert [str(w.message) for w in seen if "validation_step" in str(w.message)] == []
    t = trainer(tmp_path, num_sanity_val_steps=2)
    assert find_lr(model, datamodule=WithVal(), trainer=t, **FAST).suggestion is not None
    assert model.validation_step_outputs == [] and t.num_sanity_val_steps == 2
    t.fit(model, datamodule=WithVal())  # the Trainer's own fit sanity-checks as set
    assert len(model.validation_step_outputs) >= 2


def test_find_lr_on_a_trainer_with_model_checkpoint_writes_no_checkpoint(tmp_path: Path) -> None:
    """ModelCheckpoint(save_last=True) saved last.ckpt at the end of find_lr's fit (step 0, the module's LR in its
    optimizer state): the fit after it warned "Checkpoint directory ... exists and is not empty", and
    fit(ckpt_path="last") resumed from it and trained at the LR from before find_lr, not the one set from it."""
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    t = trainer(tmp_path, [ckpt], enable_checkpointing=True, max_steps=3)
    model = Net(lr=0.03)
    result = find_lr(model, train_dataloaders=make_loader(), trainer=t, **FAST)
    assert not (tmp_path / "ckpt").exists() and ckpt.last_model_path == ""
    assert t.checkpoint_callback is ckpt
    model.lr = result.lr
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*exists and is not empty")
        t.fit(model, make_loader(), ckpt_path="last")
    assert [e[1] for e in model.train_events()] == [(result.lr,)] * 3
    assert (tmp_path / "ckpt" / "last.ckpt").exists()


def test_find_lr_with_lightnings_batch_size_finder(tmp_path: Path) -> None:
    """Lightning's BatchSizeFinder in the Trainer runs in find_lr's fit when it can scale the batch (the test
    then runs at the batch the fit after it trains at); given train_dataloaders, which it cannot scale, it refused
    the whole call ("cannot be used with dataloaders passed directly to `.fit()`"): it now sits out, with a
    warning naming the batch the LR was found at."""
    bsf = pl.callbacks.BatchSizeFinder(mode="power", steps_per_trial=1, init_val=16, max_trials=2)
    t = trainer(tmp_path, [bsf], max_steps=2)
    model = Net()
    with pytest.warns(UserWarning, match=r"BatchSizeFinder .* sat out this test .* found at a batch of 32\.") as seen:
        result = find_lr(model, train_dataloaders=make_loader(batch_size=32), trainer=t, **FAST)
    assert [w.filename for w in seen if "BatchSizeFinder" in str(w.message)] == [__file__]
    assert result.batch_size == 32 and model.train_events() == [] and t.callbacks[0] is bsf
    dm = DataModule(batch_size=16)
    result = find_lr(model, datamodule=dm, trainer=t, **FAST)
    found = bsf.optimal_batch_size
    assert found == 32 * BSF_TRIAL_FACTOR and dm.batch_size == result.batch_size == found
    model.lr = result.lr
    t.fit(model, datamodule=dm)  # BatchSizeFinder picks again: the batch the LR was found at
    assert dm.batch_size == found and model.train_events()[-1][1] == (result.lr,)


def test_a_training_step_returning_a_detached_loss_is_named(tmp_path: Path) -> None:
    # autograd's "element 0 of tensors does not require grad and does not have a grad_fn" from the stepper.
    class Detached(Net):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            return super().training_step(batch, batch_idx).detach()

    model = Detached()
    initial = weights(model)
    with pytest.raises(ModelError, match=r"training_step returned a loss that does not require grad.*loss\.detach\(\)"):
        find_lr(model, train_dataloaders=make_loader(), trainer=trainer(tmp_path), **FAST)
    assert all(torch.equal(v, initial[k]) for k, v in weights(model).items())


def test_a_fit_inside_inference_mode_is_named_not_the_training_step(tmp_path: Path) -> None:
    """trainer.fit inside torch.inference_mode() (left open after an evaluation) was told that training_step returned
    a detached loss (loss.detach(), loss.item()), sending the user after code that is fine; fuzz round 20."""
    model = Net()
    initial = weights(model)
    said = r"^Trainer\.fit was called inside torch\.inference_mode\(\) .* Call trainer\.fit outside torch\.inference"
    with torch.inference_mode(), pytest.raises(ModelError, match=said) as info:
        trainer(tmp_path, [LRFinder(**FAST)]).fit(model, make_loader())
    assert "loss.detach()" not in str(info.value)
    assert all(torch.equal(v, initial[k]) for k, v in weights(model).items())


def test_a_training_step_returning_an_integer_loss_is_named_by_its_dtype(tmp_path: Path) -> None:
    # An int64 loss (a count of correct predictions) cannot require grad: it was told it is "not connected to the
    # module's trainable parameters", with loss.detach() as the likely cause.
    class Counting(Net):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            super().training_step(batch, batch_idx)
            return (self.head(self.body(batch[0])).argmax(1) == batch[1]).sum()

    model = Counting()
    initial = weights(model)
    said = r"^training_step must return a floating-point loss, but got dtype torch\.int64: an integer or bool loss"
    with pytest.raises(ModelError, match=said):
        find_lr(model, train_dataloaders=make_loader(), trainer=trainer(tmp_path), **FAST)
    assert all(torch.equal(v, initial[k]) for k, v in weights(model).items())


def test_find_lr_refuses_a_datamodule_and_dataloaders_together() -> None:
    with pytest.raises(ValueError, match="datamodule or train_dataloaders, not both"):
        find_lr(Net(), datamodule=pl.LightningDataModule(), train_dataloaders=make_loader())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"min_lr": 1.0, "max_lr": 0.1}, ValueError, "max_lr > min_lr"),
        ({"num_steps": 3}, ValueError, "num_steps"),
        ({"mode": "log"}, ValueError, "mode"),
        ({"stop_factor": 0.5}, ValueError, "stop_factor"),
        ({"scaling": "cubic"}, ValueError, "scaling"),
        ({"rule": "magic"}, ValueError, "rule"),
        ({"target_batch_size": 0}, ValueError, "target_batch_size"),
        ({"test_batch_size": 2.5}, ValueError, "test_batch_size"),
        ({"scheduler": "cosin"}, ValueError, r"Unknown scheduler='cosin'; expected one of"),  # no optimizer= needed
        ({"attr_name": 3}, TypeError, "attr_name"),
        ({"strict": "yes"}, TypeError, "strict"),
        ({"optimizer": "adamx"}, ValueError, r"Unknown optimizer name='adamx'; expected one of sgd"),
        ({"optimizer": dict}, TypeError, r"optimizer=builtins\.dict, a class that is no torch\.optim\.Optimizer\.$"),
        ({"optimizer": "adamw", "scheduler": "cosin"}, ValueError, r"Unknown scheduler='cosin'; expected one of"),
        ({"optimizer": "adamw", "scheduler": "poly"}, ValueError, r"Did you mean 'polynomial'\?"),
        # keys LRFinder passes itself ("got multiple values for keyword argument" after the whole test)
        ({"optimizer": "adamw", "optimizer_settings": {"lr": 0.1}}, ValueError,
         r"optimizer_settings without 'lr': LRFinder sets it"),
        ({"optimizer": "adamw", "scheduler": "cosine", "scheduler_settings": {"total_steps": 100}}, ValueError,
         r"scheduler_settings without 'total_steps'"),
        # torch's name for the length was "does not take the setting T_max; it accepts: eta_min, ...", no more.
        ({"scheduler": "cosine", "scheduler_settings": {"T_max": 100}}, ValueError,
         r"scheduler_settings without 'T_max' \(T_max is another name for total_steps, the schedule's length\): "
         r"LRFinder sets it, as the schedule spans the fit's optimizer steps"),
        # OneCycleLR's own way to give the length was refused as settings onecycle does not take.
        ({"scheduler": "onecycle", "scheduler_settings": {"epochs": 3, "steps_per_epoch": 10}}, ValueError,
         r"scheduler_settings without 'epochs' \(epochs is part of torch's OneCycleLR's other way to give the length, "
         r"total_steps = epochs \* steps_per_epoch\): LRFinder sets it, as the schedule spans the fit's"),
        ({"optimizer": "adamw", "optimizer_settings": [1]}, TypeError, r"optimizer_settings to be a mapping"),
        ({"optimizer": "adamw", "scheduler": "cosine", "scheduler_settings": "warmup"}, TypeError,
         "scheduler_settings to be a mapping"),
        ({"report": "curve.jpg"}, ValueError, r"Unsupported report format '.jpg'.*\.png, \.svg, \.pdf"),
        ({"report": "curve"}, ValueError, r"'\(no extension\)'"),
        ({"report": 5}, TypeError, "report to be a file path"),
        # Misspelt settings failed at fit start (after the whole test for the optimizer's); now at construction.
        ({"optimizer": "sgd", "optimizer_settings": {"momentm": 0.9}}, TypeError,
         r"'sgd' \(SGD\) does not take the setting momentm.*Did you mean 'momentum'\?"),
        ({"optimizer": "adamw", "scheduler": "cosine", "scheduler_settings": {"eta_mn": 0.0}}, TypeError,
         r"'cosine' does not take the setting eta_mn; it accepts: eta_min, warmup_steps, warmup_start_factor. "
         r"Did you mean 'eta_min'\?"),
        ({"optimizer": 5}, TypeError, r"optimizer to be a registry name such as 'adamw'.*optimizer=5"),
        # A class that is no optimizer was "Expected a torch.optim.Optimizer subclass, but got name=<class ...>" (no
        # such parameter); a scheduler class "Unknown scheduler=<class ...>", saying nothing of where it goes.
        ({"optimizer": nn.Linear}, TypeError,
         r"^Expected optimizer to be .*but got optimizer=torch\.nn\.modules\.linear\.Linear, a class that is no "
         r"torch\.optim\.Optimizer\.$"),
        ({"optimizer": torch.optim.lr_scheduler.StepLR}, TypeError,
         r"no torch\.optim\.Optimizer\. It is an LR scheduler: pass a registry name as scheduler="),
        ({"scheduler": torch.optim.lr_scheduler.StepLR}, TypeError,
         r"^Expected scheduler to be a registry name \(constant, step, .*\) or None, but got the class "
         r"torch\.optim\.lr_scheduler\.StepLR: .*A scheduler of your own is returned from configure_optimizers"),
        # Values of the wrong type or range failed at fit start, after the Trainer's setup and the data's loading.
        ({"optimizer": "adam", "optimizer_settings": {"betas": [0.9, 0.99, 0.9]}}, TypeError,
         r"Expected betas to be a pair of numbers \(beta1, beta2\), but got betas=\[0.9, 0.99, 0.9\]"),
        ({"optimizer": "momentum", "optimizer_settings": {"momentum": "0.9"}}, TypeError,
         r"Expected momentum to be a number, but got momentum='0.9'"),
        ({"optimizer": "momentum", "optimizer_settings": {"momentum": 1.5}}, ValueError,
         r"Expected 0 <= momentum < 1, but got momentum=1.5"),
        ({"optimizer": "adam", "optimizer_settings": {"eps": -1.0}}, ValueError,
         r"Cannot build optimizer 'adam' \(Adam\): Invalid epsilon value: -1.0"),
        # lr_factors' type and factors too (its patterns name the module's submodules: checked at fit start).
        ({"optimizer": "adamw", "optimizer_settings": {"lr_factors": {"head": -1}}}, ValueError,
         r"^Expected lr_factors\['head'\] > 0 and finite, but got lr_factors\['head'\]=-1$"),
        ({"optimizer": "adamw", "optimizer_settings": {"lr_factors": [10.0]}}, TypeError,
         r"^Expected lr_factors to be a mapping of module-name patterns to LR factors"),
        # Schedule settings that no fit's length makes right failed at fit start too (the schedule's own checks).
        ({"optimizer": "sgd", "scheduler": "step"}, TypeError,
         r"^LRFinder\(scheduler='step', scheduler_settings=\.\.\.\): Scheduler 'step' needs the setting step_size$"),
        ({"optimizer": "sgd", "scheduler": "multistep", "scheduler_settings": {"milestones": [3, 1]}}, ValueError,
         r"^LRFinder\(scheduler='multistep', .*: Expected milestones strictly increasing, .*=\[3, 1\]$"),
        ({"optimizer": "sgd", "scheduler": "onecycle", "scheduler_settings": {"pct_start": 0}}, ValueError,
         r"^LRFinder\(scheduler='onecycle', .*: Expected 0 < pct_start and pct_start < 1, but got pct_start=0$"),
        ({"optimizer": "sgd", "scheduler": "onecycle", "scheduler_settings": {"pct_start": 1.5}}, ValueError,
         r"but got pct_start=1.5$"),
        ({"optimizer": "sgd", "scheduler": "cosine", "scheduler_settings": {"warmup_steps": -1}}, ValueError,
         r"^LRFinder\(scheduler='cosine', .*: Expected warmup_steps >= 0, but got warmup_steps=-1$"),
        ({"optimizer": "sgd", "scheduler": "cosine", "scheduler_settings": {"warmup_steps": 2,
                                                                            "warmup_start_factor": 2}}, ValueError,
         r"^LRFinder\(scheduler='cosine', .*but got warmup_start_factor=2$"),
        ({"optimizer": "sgd", "scheduler": "cyclic", "scheduler_settings": {"step_size_up": 0}}, ValueError,
         r"^LRFinder\(scheduler='cyclic', .*: Expected step_size_up >= 1, but got step_size_up=0$"),
    ],
)
def test_options_validated_at_construction(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        LRFinder(**kwargs)


def test_attr_name_missing_is_named_before_the_test(tmp_path: Path) -> None:
    t = trainer(tmp_path, [LRFinder(attr_name="hparams.learning_rate", **FAST)], max_steps=1)
    model = Net()
    with pytest.raises(AttributeError, match="hparams.learning_rate"):
        t.fit(model, make_loader())
    assert model.steps == []  # issue 10, 3b: noticed before the test ran, not after it


def test_lightningcli_yaml_gives_every_init_arg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every LRFinder argument can be given in a LightningCLI config; a class path names the optimizer class.

    ``optimizer: torch.optim.AdamW`` (LightningCLI's way to name a class) was parsed as a registry name and
    refused: the hint ``str | type[Optimizer]`` let jsonargparse take every value as a str.
    """
    pytest.importorskip("jsonargparse")
    import importlib
    import inspect

    import yaml

    cli_module = importlib.import_module(f"{pl.__name__}.cli")
    monkeypatch.setattr(sys, "argv", ["train.py"])  # LightningCLI's args= only, not pytest's
    init_args = {
        "min_lr": 1e-5,
        "max_lr": 1.0,
        "num_steps": 20,
        "mode": "linear",
        "stop_factor": None,
        "rule": "steepest",
        "scaling": "sqrt",
        "target_batch_size": 64,
        "test_batch_size": 16,
        "optimizer": "torch.optim.AdamW",
        "optimizer_settings": {"weight_decay": 0.01},
        "scheduler": "onecycle",
        "scheduler_settings": {"pct_start": 0.2},
        "attr_name": "hparams.lr",
        "monitor": "loss",
        "report": str(tmp_path / "lr.png"),
        "strict": True,
        "noise_scale": True,
        "refine": {"class_path": "lrfinder.Refine", "init_args": {"budget": 0.5, "candidates": [0.5, 1.0, 2.0]}},
        "curve": "val",
        "val_batches": 3,
    }
    assert set(init_args) == set(inspect.signature(LRFinder).parameters)  # a new argument is tested here too
    config = {"trainer": {"logger": False, "callbacks": [{"class_path": "lrfinder.LRFinder", "init_args": init_args}]}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    cli = cli_module.LightningCLI(SavedNet, args=["--config", str(path)], run=False)
    [finder] = [c for c in cli.trainer.callbacks if isinstance(c, LRFinder)]
    assert finder.optimizer is torch.optim.AdamW and finder.optimizer_settings == {"weight_decay": 0.01}
    assert (finder.settings.min_lr, finder.settings.max_lr, finder.settings.num_steps) == (1e-5, 1.0, 20)
    assert (finder.settings.mode, finder.settings.stop_factor, finder.rule, finder.scaling) == (
        "linear", None, "steepest", "sqrt"
    )
    assert (finder.target_batch_size, finder.test_batch_size, finder.attr_name, finder.monitor) == (
        64, 16, "hparams.lr", "loss"
    )
    assert finder.scheduler == "onecycle" and finder.scheduler_settings == {"pct_start": 0.2}
    assert finder.report == tmp_path / "lr.png" and finder.strict and finder.noise_scale
    assert finder.refine == Refine(budget=0.5, candidates=(0.5, 1.0, 2.0))
    assert finder.settings.curve == "val" and finder.val_batches == 3
    # A registry name stays a name.
    cli = cli_module.LightningCLI(
        SavedNet,
        args=[
            "--trainer.logger=false",
            "--trainer.callbacks+=lrfinder.LRFinder",
            "--trainer.callbacks.optimizer=adamw",
        ],
        run=False,
    )
    assert [c.optimizer for c in cli.trainer.callbacks if isinstance(c, LRFinder)] == ["adamw"]


@pytest.mark.parametrize(("given", "parsed"), [("false", False), ("lr", "lr"), ("optim.lr", "optim.lr")])
def test_lightningcli_gives_attr_name_false(monkeypatch: pytest.MonkeyPatch, given: str, parsed: object) -> None:
    # The hint str | Literal[False] | None let jsonargparse take attr_name: false as the str 'false': a config could
    # not ask for no attribute, and the fit failed on a module with no attribute named 'false'.
    pytest.importorskip("jsonargparse")
    import importlib

    cli_module = importlib.import_module(f"{pl.__name__}.cli")
    monkeypatch.setattr(sys, "argv", ["train.py"])  # LightningCLI's args= only, not pytest's
    named = f"--trainer.callbacks.attr_name={given}"
    cli = cli_module.LightningCLI(
        SavedNet, args=["--trainer.logger=false", "--trainer.callbacks+=lrfinder.LRFinder", named], run=False
    )
    assert [c.attr_name for c in cli.trainer.callbacks if isinstance(c, LRFinder)] == [parsed]


def test_closed_choices_are_typed_as_range_test_and_scale_lr_type_them() -> None:
    """LRFinder typed mode, rule and scaling as a plain str, where range_test and scale_lr give their choices
    (``Rule | str``): neither its signature nor a type checker showed them. Each stays a union with str, so a typo
    reaches lrfinder's own "Did you mean" (test_lightningcli_a_typo_in_a_choice_gets_lrfinders_message)."""
    import typing

    from lrfinder import range_test, scale_lr
    from lrfinder.names import Rule, ScalingRule, SweepMode

    hints = typing.get_type_hints(LRFinder.__init__)
    assert hints["mode"] == typing.get_type_hints(range_test)["mode"] == SweepMode | str
    assert hints["rule"] == typing.get_type_hints(range_test)["rule"] == Rule | str
    assert hints["scaling"] == typing.get_type_hints(scale_lr)["rule"] == ScalingRule | str


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("rule", "steepst", "Expected rule to be one of divergence_div10, min_div10, valley, steepest, but got "
                            "rule='steepst'. Did you mean 'steepest'?"),
        ("scaling", "sqrtt", "Expected scaling to be one of auto, linear, sqrt, noise, none, but got scaling='sqrtt'. "
                             "Did you mean 'sqrt'?"),
        ("mode", "lin", "Expected mode to be 'exp' or 'linear', but got mode='lin'. Did you mean 'linear'?"),
    ],
)
def test_lightningcli_a_typo_in_a_choice_gets_lrfinders_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, said: str
) -> None:
    """In a LightningCLI YAML, a choice with a typo is refused with lrfinder's message naming the choices and the
    likely one, which a Literal alone would have left to jsonargparse ("Expected a typing.Literal[...]"); the
    choice itself (``rule: steepest``) is test_lightningcli_yaml_gives_every_init_arg's."""
    pytest.importorskip("jsonargparse")
    import yaml

    cli_module = importlib.import_module(f"{pl.__name__}.cli")
    monkeypatch.setattr(sys, "argv", ["train.py"])  # LightningCLI's args= only, not pytest's
    init_args = {name: value}
    config = {"trainer": {"logger": False, "callbacks": [{"class_path": "lrfinder.LRFinder", "init_args": init_args}]}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError) as caught:
        cli_module.LightningCLI(SavedNet, args=["--config", str(path)], run=False)
    assert said in str(caught.value)


def fit_hparams_net(tmp_path: Path, finder: LRFinder, key: str, **attributes: Any) -> tuple[Net, type[Net]]:
    """Fit a :class:`Net` whose ``configure_optimizers`` reads its LR from ``self.hparams[key]`` (saved by
    ``save_hyperparameters``), with ``finder``; check that the found LR went there and into the optimizer.

    ``attributes`` are set on the module besides. Returns the module and its class (for another fit).
    """

    class HP(Net):
        def __init__(self) -> None:
            super().__init__(lr=None, hard_lr=0.0)
            self.save_hyperparameters({key: 0.01})
            for name, value in attributes.items():
                setattr(self, name, value)

        def configure_optimizers(self) -> Any:
            self.hard_lr = self.hparams[key]
            return super().configure_optimizers()

    model = HP()
    t = trainer(tmp_path, [finder], max_steps=1)
    t.fit(model, make_loader())
    assert finder.applied_lr is not None and model.hparams[key] == finder.applied_lr
    assert t.optimizers[0].param_groups[0]["lr"] == finder.applied_lr
    return model, HP


def test_attr_name_hparams(tmp_path: Path) -> None:
    fit_hparams_net(tmp_path, LRFinder(**FAST), "learning_rate")


def test_hparams_lr_comes_before_a_learning_rate_attribute(tmp_path: Path) -> None:
    """hparams.lr (read by configure_optimizers) beside an unrelated self.learning_rate: hparams.lr is set.

    Lightning's tuner looks ``lr`` up on the module and in its hparams before ``learning_rate``. LRFinder took
    self.learning_rate first: it overwrote that attribute and left hparams.lr (the checkpoint's LR) as it was.
    """
    # another rate, which configure_optimizers does not read
    model, _ = fit_hparams_net(tmp_path, LRFinder(**FAST), "lr", learning_rate=0.5)
    assert model.learning_rate == 0.5


def test_an_unrelated_lr_attribute_is_left_alone_for_the_hyperparameter_that_sets_the_lr(tmp_path: Path) -> None:
    """self.lr beside the hparams.learning_rate configure_optimizers reads: hparams.learning_rate takes the LR.

    ``lr`` is looked up first (as Lightning's tuner does); it drives no LR there, yet LRFinder overwrote it and left
    hparams.learning_rate (the checkpoint's LR) as it was. A fit resumed from the checkpoint leaves it alone too.
    """
    ckpt_dir = tmp_path / "ckpt"
    finder = LRFinder(**FAST)
    model, cls = fit_hparams_net(tmp_path, finder, "learning_rate", lr=0.5)  # another rate, not read
    assert model.lr == 0.5
    t = trainer(tmp_path, [finder, ModelCheckpoint(dirpath=ckpt_dir, save_last=True)], enable_checkpointing=True)
    t.fit(model := cls(), make_loader())
    applied = finder.applied_lr
    assert model.lr == 0.5 and model.hparams.learning_rate == applied
    assert torch.load(ckpt_dir / "last.ckpt", weights_only=False)["hyper_parameters"]["learning_rate"] == applied
    again = LRFinder(**FAST)
    with pytest.warns(UserWarning, match=r"resumes from ckpt_path.*learning_rate is set to the value that fit gave it"):
        trainer(tmp_path, [again], max_steps=8).fit(resumed := cls(), make_loader(), ckpt_path=ckpt_dir / "last.ckpt")
    assert resumed.lr == 0.5 and resumed.hparams.learning_rate == applied


def test_the_training_lr_message_names_the_attribute_that_took_the_lr(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A head at hparams.learning_rate * 10 beside an unrelated self.lr: the message named 'lr' for the value set."""
    import logging

    class HeadAtTen(Net):
        def __init__(self) -> None:
            super().__init__(lr=None, hard_lr=0.0)
            self.save_hyperparameters({"learning_rate": 0.01})
            self.lr = 0.5  # another rate, not read

        def configure_optimizers(self) -> Any:
            self.hard_lr = (self.hparams.learning_rate, self.hparams.learning_rate * 10)
            return super().configure_optimizers()

    finder = LRFinder(**FAST)
    with caplog.at_level(logging.INFO):
        trainer(tmp_path, [finder], max_steps=1).fit(model := HeadAtTen(), make_loader())
    assert finder.applied_lr is not None and model.lr == 0.5
    assert model.hparams.learning_rate == pytest.approx(finder.applied_lr / 10, rel=1e-12)
    line = next(r.getMessage() for r in caplog.records if "LRFinder: training with" in r.getMessage())
    said = f"; hparams.learning_rate={model.hparams.learning_rate:.2e}, which configure_optimizers turns into it"
    assert said in line


def test_the_lr_attribute_of_a_module_that_builds_its_optimizer_once_holds_the_found_lr(tmp_path: Path) -> None:
    """configure_optimizers that returns the optimizer it built before reads self.lr no more: it moves no LR when set,
    and no other attribute does, so it takes the found LR the optimizers are rescaled to (checkpoints carry it)."""

    class BuiltOnce(SavedNet):
        def configure_optimizers(self) -> Any:
            if not hasattr(self, "_built"):
                self._built = super().configure_optimizers()
            return self._built

    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=2)
    t.fit(model := BuiltOnce(), make_loader())
    assert finder.applied_lr is not None and model.lr == model.hparams.lr == finder.applied_lr
    assert t.optimizers[0].param_groups[0]["lr"] == finder.applied_lr


def test_attr_name_plain_finds_the_hparams_entry(tmp_path: Path) -> None:
    """attr_name="learning_rate" with only hparams.learning_rate: found there, as Lightning's tuner finds it.

    A LearningRateFinder(attr_name="learning_rate") config moved to LRFinder stopped the fit with
    "HP has no such attribute".
    """
    _, hp = fit_hparams_net(tmp_path, LRFinder(attr_name="learning_rate", **FAST), "learning_rate")
    missing = r"attr_name='rate'\): HP has no such attribute and no such entry in its hparams"
    with pytest.raises(AttributeError, match=missing):
        trainer(tmp_path, [LRFinder(attr_name="rate", **FAST)], max_steps=1).fit(hp(), make_loader())


def test_attr_name_typo_names_the_lr_the_module_holds(tmp_path: Path) -> None:
    """attr_name="learning_rat" (a typo) beside a module holding hparams.learning_rate said only "Set it in __init__
    (e.g. self.lr = lr)", as if the module held no LR; it now names the one it holds, which attr_name=None finds."""
    _, hp = fit_hparams_net(tmp_path, LRFinder(attr_name="learning_rate", **FAST), "learning_rate")
    with pytest.raises(AttributeError) as info:
        trainer(tmp_path, [LRFinder(attr_name="learning_rat", **FAST)], max_steps=1).fit(hp(), make_loader())
    assert str(info.value).endswith(
        "HP has no such attribute and no such entry in its hparams. It holds an LR in 'hparams.learning_rate': name "
        "that (attr_name='hparams.learning_rate'), or leave attr_name=None, which finds it."
    )


class StepLRs(Callback):
    """Records the LR of every group of the first optimizer at each training optimizer step."""

    def __init__(self) -> None:
        self.lrs: list[tuple[float, ...]] = []

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: Any, optimizer: Any) -> None:
        self.lrs.append(tuple(g["lr"] for g in optimizer.param_groups))


def test_scheduler_option_builds_schedule_from_found_lr(tmp_path: Path) -> None:
    finder = LRFinder(optimizer="momentum", scheduler="cosine", **FAST)
    seen = StepLRs()
    t = trainer(tmp_path, [finder, seen], max_steps=6)
    t.fit(Net(), make_loader())
    lr = finder.applied_lr
    assert lr is not None and finder.result is not None and lr == finder.result.lr
    configs = t.lr_scheduler_configs
    assert len(configs) == 1 and isinstance(configs[0].scheduler, torch.optim.lr_scheduler.CosineAnnealingLR)
    assert configs[0].interval == "step"
    expected = [lr * (1 + math.cos(math.pi * s / 6)) / 2 for s in range(6)]
    assert [max(v) for v in seen.lrs] == pytest.approx(expected, rel=1e-9)


def test_scheduler_option_onecycle_uses_suggested_bounds(tmp_path: Path) -> None:
    finder = LRFinder(optimizer="momentum", scheduler="onecycle", **FAST)
    seen = StepLRs()
    t = trainer(tmp_path, [finder, seen], max_steps=10)
    t.fit(Net(), make_loader())
    s = finder.result.suggestion if finder.result is not None else None
    assert s is not None
    assert isinstance(t.lr_scheduler_configs[0].scheduler, torch.optim.lr_scheduler.OneCycleLR)
    peaks = [max(v) for v in seen.lrs]
    assert max(peaks) == pytest.approx(s.max_lr, rel=1e-6)  # Smith: the cycle's top from the curve
    assert peaks[0] == pytest.approx(s.min_lr, rel=1e-6)


@pytest.mark.parametrize("scheduler", [None, "cosine", "onecycle"])
def test_optimizer_option_with_a_bias_factor_trains_the_largest_group_at_the_found_lr(
    tmp_path: Path, scheduler: str | None
) -> None:
    # bias_lr_factor=2: the test swept the biases at the recorded LR and the weights at half of it;
    # training keeps that (it put the weights at the found LR and the biases at twice it before).
    finder = LRFinder(optimizer="momentum", optimizer_settings={"bias_lr_factor": 2.0}, scheduler=scheduler, **FAST)
    seen = StepLRs()
    t = trainer(tmp_path, [finder, seen], max_steps=10)  # onecycle's peak on a step: 0.3 x 10
    t.fit(Net(), make_loader())
    result = finder.result
    assert result is not None and result.suggestion is not None
    groups = t.optimizers[0].param_groups
    factors = [g["lr_factor"] for g in groups]
    assert sorted(set(factors)) == [1.0, 2.0]
    peak = max(max(v) for v in seen.lrs)
    expected = result.suggestion.max_lr if scheduler == "onecycle" else finder.applied_lr
    assert peak == pytest.approx(expected, rel=1e-6)
    for lrs in seen.lrs:  # the weights at half the biases' LR, as in the test
        by_factor = dict(zip(factors, lrs))
        assert by_factor[1.0] == pytest.approx(by_factor[2.0] / 2, rel=1e-9)


@pytest.mark.slow  # a fresh interpreter importing torch: several seconds on a loaded machine
def test_import_lrfinder_stays_light_and_exports_callback() -> None:
    import subprocess
    import sys

    code = (
        "import sys, lrfinder; assert not {'pytorch_lightning', 'lightning'} & set(sys.modules), 'eager import'; "
        "from lrfinder import LRFinder, find_lr; import lrfinder.callback as c; "
        "assert LRFinder is c.LRFinder and find_lr is c.find_lr and 'LRFinder' in lrfinder.__all__"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_several_train_loaders_combined_as_in_fit(tmp_path: Path) -> None:
    class Two(Net):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            assert set(batch) == {"a", "b"}
            return super().training_step(batch["a"], batch_idx) + super().training_step(batch["b"], batch_idx)

    finder = LRFinder(**FAST)
    model = Two()
    loaders = {"a": make_loader(n=64), "b": make_loader(n=128, batch_size=16)}
    trainer(tmp_path, [finder], max_steps=2).fit(model, loaders)
    assert finder.result is not None and finder.result.num_steps >= 10
    assert {s[1] for s in model.steps if s[0] == "test"} == {32, 16}


def _first_values(batch: Any) -> Any:
    """What identifies a batch: each loader's first input value (``None`` for one run out, in max_size)."""
    if isinstance(batch, dict):
        return tuple((k, None if v is None else float(v[0][0, 0])) for k, v in sorted(batch.items()))
    return float(batch[0][0, 0])


# Every mode a fit trains with ("sequential" is refused by Lightning's fit loop).
@pytest.mark.parametrize("mode", ["max_size_cycle", "min_size", "max_size"])
def test_several_train_loaders_are_drawn_in_the_fits_combined_mode(tmp_path: Path, mode: str) -> None:
    """The test combined the loaders as max_size_cycle whatever CombinedLoader mode the fit was given."""

    class Seen(Net):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self._seen.append((self.phase, _first_values(batch)))
            parts = [b for b in batch.values() if b is not None] if isinstance(batch, dict) else [batch]
            return sum(super(Seen, self).training_step(b, batch_idx) for b in parts)  # type: ignore[return-value]

    def loaders() -> dict[str, DataLoader]:
        a, b = make_data(64, seed=1), make_data(160, seed=2)  # 2 and 5 batches of 32
        return {"a": DataLoader(a, batch_size=32), "b": DataLoader(b, batch_size=32)}

    expected = [_first_values(item[0]) for item in pl.utilities.CombinedLoader(loaders(), mode)]
    finder = LRFinder(num_steps=20, min_lr=1e-3, max_lr=1e-2, stop_factor=None)
    model = Seen()
    model._seen = []  # private: the test's restore puts back the module's public attributes, logs included
    trainer(tmp_path, [finder], max_steps=2).fit(model, pl.utilities.CombinedLoader(loaders(), mode))
    assert finder.result is not None and finder.result.num_steps == 20
    tested = [value for phase, value in model._seen if phase == "test"]
    assert tested == (expected * 20)[:20]  # a pass of the fit's mode, again and again
    assert [value for phase, value in model._seen if phase == "train"] == expected[:2]


def test_a_sequential_combined_loader_is_refused_before_the_test(tmp_path: Path) -> None:
    """Lightning's fit refuses CombinedLoader(mode="sequential") at its first epoch: after the whole range test had
    run and the found LR was applied to the module. find_lr, which trains nothing, still runs over it."""

    class Sequential(Net):
        def training_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
            return super().training_step(batch, batch_idx)

    def loaders() -> Any:
        return pl.utilities.CombinedLoader([make_loader(n=64), make_loader(n=64)], mode="sequential")

    model = Sequential(lr=0.02)
    before = weights(model)
    with pytest.raises(DataError, match=r"^LRFinder: the train loader is a CombinedLoader\(mode='sequential'\), which "
                       r"Lightning's fit does not train with .* mode='max_size_cycle'"):  # fmt: skip
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=2).fit(model, loaders())
    assert model.steps == [] and model.lr == 0.02
    now = weights(model)
    assert all(torch.equal(now[k], before[k]) for k in before)
    result = find_lr(Sequential(lr=0.02), train_dataloaders=loaders(), trainer=trainer(tmp_path, [], max_steps=2),
                     **FAST)  # fmt: skip
    assert result.lr is not None


def test_find_lr_strict_and_ignores_a_finder_in_the_trainer(tmp_path: Path) -> None:
    model = Net(lr=0.02)
    t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=2)
    result = find_lr(model, train_dataloaders=make_loader(), trainer=t, **FAST)
    assert result.suggestion is not None
    assert model.lr == 0.02  # the trainer's own LRFinder did not run and apply
    # Nor Lightning's LearningRateFinder, left in a Trainer moved from the Tuner: it swept too and set model.lr.
    lightning_finder = pl.callbacks.LearningRateFinder(num_training_steps=20)
    t = trainer(tmp_path, [lightning_finder], max_steps=2)
    before = weights(model)
    find_lr(model, train_dataloaders=make_loader(), trainer=t, **FAST)
    # (Lightning < 2.6 gives the callback its optimal_lr only once it has run.)
    assert model.lr == 0.02 and getattr(lightning_finder, "optimal_lr", None) is None
    assert all(torch.equal(v, weights(model)[k]) for k, v in before.items())
    assert t.callbacks[-1] is lightning_finder  # back in the trainer for its fit
    with pytest.raises(InconclusiveCurveError):
        find_lr(Net(flat=True), train_dataloaders=make_loader(), trainer=t, strict=True, **FAST)


def test_logger_with_log_table_gets_the_curve(tmp_path: Path) -> None:
    lg = MemoryLogger()
    finder = LRFinder(**FAST)
    trainer(tmp_path, [finder], max_steps=1, logger=lg).fit(Net(), make_loader())
    result = finder.result
    assert result is not None and result.suggestion is not None
    [(key, columns, data)] = lg.tables
    assert key == "lr_finder/curve" and columns == ["step", "lr", "loss", "smoothed_loss"]
    assert [row[1] for row in data] == list(result.lrs) and [row[2] for row in data] == list(result.losses)
    summary = [m for m, _ in lg.metrics if "lr_finder/suggested_lr" in m]
    assert len(summary) == 1 and summary[0]["lr_finder/suggested_lr"] == result.suggestion.lr
    assert summary[0]["lr_finder/divergence_lr"] == result.suggestion.divergence_lr


def test_inconclusive_with_optimizer_option_gives_the_module_its_own_back(tmp_path: Path) -> None:
    finder = LRFinder(optimizer="adamw", **FAST)
    model = Net(lr=0.02, flat=True)
    t = trainer(tmp_path, [finder], max_steps=2)
    with pytest.warns(UserWarning, match="inconclusive"):
        t.fit(model, make_loader())
    assert isinstance(t.optimizers[0], RecordingSGD) and t.optimizers[0].param_groups[0]["lr"] == 0.02
    assert [e[1] for e in model.train_events()] == [(0.02,)] * 2


def test_find_lr_interrupted_returns_partial_curve_and_restores() -> None:
    class Interrupted(Net):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            if len(self.steps) == 15:
                raise KeyboardInterrupt
            return super().training_step(batch, batch_idx)

    model = Interrupted()
    initial = weights(model)
    result = find_lr(model, train_dataloaders=make_loader(), **FAST)
    assert result.stop_reason == "interrupted" and result.num_steps == 15
    assert all(torch.equal(v, initial[k]) for k, v in weights(model).items())


def test_fast_dev_run_skips(tmp_path: Path) -> None:
    finder = LRFinder(**FAST)
    model = Net(lr=0.02)
    with pytest.warns(UserWarning, match="fast_dev_run"):
        trainer(tmp_path, [finder], fast_dev_run=2).fit(model, make_loader())
    assert finder.result is None and model.lr == 0.02 and model.test_events() == []


def test_fast_dev_run_says_the_finders_optimizer_and_schedule_are_not_what_it_trains(tmp_path: Path) -> None:
    # The warning said only "skipped": a fast_dev_run to check optimizer='adamw' with scheduler='cosine' trained
    # the module's own SGD, with no schedule, at its own LR and batch.
    finder = LRFinder(**FAST, optimizer=torch.optim.AdamW, scheduler="cosine", target_batch_size=64)
    model = Net(lr=0.02)
    t = trainer(tmp_path, [finder], fast_dev_run=2)
    with pytest.warns(UserWarning, match=r"^LRFinder: skipped because fast_dev_run is enabled: its batches train with "
                      r"the module's own configure_optimizers \(RecordingSGD\), LR and batch size, not with "
                      r"optimizer=AdamW, scheduler='cosine', target_batch_size=64, which are built from the LR the "
                      r"test finds\. Run without fast_dev_run to train with them\.$"):  # fmt: skip
        t.fit(model, make_loader())
    assert [type(o).__name__ for o in t.optimizers] == ["RecordingSGD"] and t.lr_scheduler_configs == []
    assert {e[1] for e in model.train_events()} == {(0.02,)} and {s[1] for s in model.steps} == {32}


def test_fp16_grad_scaler_state_restored(tmp_path: Path) -> None:
    """16-mixed with a GradScaler: the test's overflow skips must not leak into training."""
    MixedPrecision = pl.plugins.precision.MixedPrecision

    def run(lr: float, with_finder: bool) -> tuple[Net, torch.amp.GradScaler, LRFinder]:
        pl.seed_everything(1, verbose=False)
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)
        finder = LRFinder(**FAST)
        model = Net(lr=lr)
        plugin = MixedPrecision("16-mixed", "cpu", scaler=scaler)
        t = trainer(tmp_path, [finder] if with_finder else [], max_steps=3, plugins=[plugin])
        t.fit(model, make_loader())
        return model, scaler, finder

    model_a, scaler_a, finder = run(0.01, True)
    assert finder.applied_lr is not None and finder.result is not None
    model_b, scaler_b, _ = run(finder.applied_lr, False)
    assert scaler_a.state_dict() == scaler_b.state_dict()
    assert all(torch.equal(a, b) for a, b in zip(weights(model_a).values(), weights(model_b).values()))


def test_linear_mode_sweeps_evenly_in_lr(tmp_path: Path) -> None:
    finder = LRFinder(mode="linear", min_lr=1e-3, max_lr=0.2, num_steps=20, stop_factor=None)
    model = Net()
    trainer(tmp_path, [finder], max_steps=1).fit(model, make_loader())
    result = finder.result
    assert result is not None and result.num_steps == 20 and result.settings.mode == "linear"
    steps = [b - a for a, b in zip(result.lrs, result.lrs[1:])]
    assert steps == pytest.approx([(0.2 - 1e-3) / 19] * 19)
    assert [e[1][0] for e in model.test_events()] == pytest.approx(list(result.lrs))


# --------------------------------------------------------------------------------------------
# Issue 10: both Lightning distributions, peers' defects
# --------------------------------------------------------------------------------------------


def test_callback_is_an_instance_of_every_installed_callback_class() -> None:
    import importlib

    from lrfinder._lightning import installed_packages

    finder = LRFinder()
    assert "pytorch_lightning" in installed_packages()
    for name in installed_packages():
        callback_cls = importlib.import_module(name).Callback
        assert isinstance(finder, callback_cls) and issubclass(LRFinder, callback_cls), name
    assert isinstance(finder, pl.Callback)


def test_module_hook_on_before_batch_transfer_runs_with_a_datamodule(tmp_path: Path) -> None:
    """The module's hook, with a datamodule that does not override it, runs in the test as in the fit."""

    class Hooked(Net):
        def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
            self._hooked.append(self.phase)
            return batch

    model = Hooked()
    model._hooked = []  # private: the test's restore puts back the module's public attributes, logs included
    finder = LRFinder(**FAST)
    trainer(tmp_path, [finder], max_steps=2).fit(model, datamodule=DataModule())
    test_steps = len([s for s in model.steps if s[0] == "test"])
    # Every test batch went through the hook (one more: the fit's first batch, prefetched before training).
    assert finder.result is not None and test_steps >= 10 and model._hooked.count("test") >= test_steps


def test_find_lr_leaves_rngs_and_data_order_as_they_were(tmp_path: Path) -> None:
    """Issue 10, 3a: three find_lr calls give one curve, and a fit after find_lr is the fit without it."""
    import random

    import numpy as np

    def loader() -> DataLoader:
        return make_loader()  # shuffled by the global RNG

    gen_loader = DataLoader(make_loader().dataset, batch_size=32, shuffle=True, generator=torch.Generator())
    gen_loader.generator.manual_seed(3)
    pl.seed_everything(11, verbose=False)
    model = Net(dropout=0.3)
    gen_state = gen_loader.generator.get_state()
    state = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate(), gen_state)
    curves = [find_lr(model, train_dataloaders=loader(), **FAST).losses for _ in range(3)]
    find_lr(model, train_dataloaders=gen_loader, **FAST)
    assert curves[0] == curves[1] == curves[2]
    assert torch.equal(torch.get_rng_state(), state[0]) and (np.random.get_state()[1] == state[1]).all()
    assert random.getstate() == state[2] and torch.equal(gen_loader.generator.get_state(), state[3])

    def fit(with_find: bool) -> dict[str, torch.Tensor]:
        pl.seed_everything(5, verbose=False)
        net = Net(dropout=0.3)
        if with_find:
            find_lr(net, datamodule=DataModule(), trainer=trainer(tmp_path), **FAST)
        trainer(tmp_path, max_steps=6).fit(net, datamodule=DataModule())
        return weights(net)

    after, plain = fit(True), fit(False)
    assert all(torch.equal(after[k], plain[k]) for k in plain)


class _OwnRngSampler(torch.utils.data.Sampler):
    """Shuffles with its own numpy RNG (not ``.generator``) when iterated, and counts its passes."""

    def __init__(self, n: int) -> None:
        self.n, self.rng, self.epoch = n, np.random.default_rng(0), 0

    def __iter__(self) -> Any:
        self.epoch += 1
        return iter(self.rng.permutation(self.n).tolist())

    def __len__(self) -> int:
        return self.n


def test_find_lr_and_refine_put_back_a_sampler_s_own_rng(tmp_path: Path) -> None:
    # find_lr restored only a loader's .generator around the fit it runs, and the callback's refine trials only
    # that too: a sampler with its own RNG (drawn when Lightning makes the train iterator) came out moved.
    def loader() -> DataLoader:
        data = make_loader().dataset
        return DataLoader(data, batch_size=32, sampler=_OwnRngSampler(len(data)))

    used = loader()
    sampler = used.sampler
    state = copy.deepcopy(sampler.rng.bit_generator.state)
    find_lr(Net(), train_dataloaders=used, trainer=trainer(tmp_path), **FAST)
    assert sampler.rng.bit_generator.state == state and sampler.epoch == 0

    def fit(finder: LRFinder | None, lr: float) -> dict[str, torch.Tensor]:
        pl.seed_everything(5, verbose=False)
        net = Net(lr=lr)
        trainer(tmp_path, [finder] if finder else None, max_steps=6).fit(net, loader())
        return weights(net)

    # Every refine trial starts from the same draw state, so each sees the same first batch.
    import lrfinder._lightning as lightning_glue

    firsts: list[float] = []
    plain_batches = lightning_glue.TrainBatches

    class Recording(plain_batches):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, skip: int = 0, **kwargs: Any) -> None:
            super().__init__(*args, skip=skip, **kwargs)
            self.trial, self.first = skip > 0, True  # the trials' streams skip the held-out batches

        def next(self) -> Any:
            out = super().next()
            if self.trial and self.first:
                firsts.append(float(out[0][0].sum()))
                self.first = False
            return out

    finder = LRFinder(**FAST, refine=Refine(training_steps=60, candidates=2, extend=0))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lightning_glue, "TrainBatches", Recording)
        refined = fit(finder, 0.01)
    assert finder.result is not None and finder.applied_lr is not None
    assert len(firsts) >= 2 and len(set(firsts)) == 1, firsts
    plain = fit(None, finder.applied_lr)
    assert all(torch.equal(refined[k], plain[k]) for k in plain)


def test_hparams_lr_and_checkpoint_carry_the_found_lr(tmp_path: Path) -> None:
    """Issue 10, 3c: self.lr, hparams.lr, hparams.yaml and the checkpoint all get the found LR."""
    import yaml

    model = SavedNet()
    finder = LRFinder(**FAST)
    ckpt_dir = tmp_path / "ckpt"
    csv_logger = CSVLogger(tmp_path, name="logs")
    t = trainer(
        tmp_path,
        [finder, ModelCheckpoint(dirpath=ckpt_dir, save_last=True)],
        max_steps=2,
        logger=csv_logger,
        enable_checkpointing=True,
    )
    t.fit(model, make_loader())
    lr = finder.applied_lr
    assert lr is not None and lr != 0.01
    assert model.lr == lr and model.hparams.lr == lr
    assert torch.load(ckpt_dir / "last.ckpt", weights_only=False)["hyper_parameters"]["lr"] == lr
    saved = yaml.safe_load((Path(csv_logger.log_dir) / "hparams.yaml").read_text())
    assert saved["lr"] == pytest.approx(lr)


def test_tensorboard_hparams_yaml_carries_the_found_lr(tmp_path: Path) -> None:
    """TensorBoardLogger (the default logger with tensorboard installed) writes hparams.yaml at the fit's start.

    Its log_hyperparams only updates logger.hparams afterwards: the file kept the LR from before the test.
    """
    pytest.importorskip("tensorboard")
    import yaml

    model = SavedNet()
    finder = LRFinder(**FAST)
    tb_logger = pl.loggers.TensorBoardLogger(tmp_path, name="tb")
    t = trainer(tmp_path, [finder], max_steps=2, logger=tb_logger)
    t.fit(model, make_loader())
    lr = finder.applied_lr
    assert lr is not None and lr != 0.01 and model.hparams.lr == lr
    saved = yaml.safe_load((Path(tb_logger.log_dir) / "hparams.yaml").read_text())
    assert saved["lr"] == pytest.approx(lr)


class NestedHparamsNet(Net):
    """The LR inside a nested hyper-parameter, as a LightningCLI config groups it: ``hparams.optim["lr"]``."""

    def __init__(self, optim: dict[str, float] | None = None) -> None:
        super().__init__(lr=None)
        self.save_hyperparameters({"optim": dict(optim or {"lr": 0.01, "momentum": 0.9})})

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), **self.hparams.optim)


def test_nested_hparams_lr_reaches_hparams_yaml(tmp_path: Path) -> None:
    """attr_name="hparams.optim.lr": the logged hyper-parameters (hparams.yaml) get the found LR, as the checkpoint.

    Only a top-level hyper-parameter named like the attribute's last part was logged: hparams.yaml kept 0.01.
    """
    import yaml

    model = NestedHparamsNet()
    finder = LRFinder(attr_name="hparams.optim.lr", **FAST)
    csv_logger = CSVLogger(tmp_path, name="logs")
    t = trainer(tmp_path, [finder], max_steps=2, logger=csv_logger)
    t.fit(model, make_loader())
    lr = finder.applied_lr
    assert lr is not None and lr != 0.01 and model.hparams.optim == {"lr": lr, "momentum": 0.9}
    saved = yaml.safe_load((Path(csv_logger.log_dir) / "hparams.yaml").read_text())
    assert saved["optim"] == {"lr": pytest.approx(lr), "momentum": 0.9}


def test_attr_name_dotted_finds_the_nested_hparams_entry(tmp_path: Path) -> None:
    """attr_name="optim.lr" (the path inside hparams, without "hparams."): found there, as a plain name is.

    It stopped the fit with "NestedHparamsNet has no such attribute" (Lightning's tuner refuses it too); a dotted
    name found nowhere still names hparams in its message.
    """
    model = NestedHparamsNet()
    finder = LRFinder(attr_name="optim.lr", **FAST)
    t = trainer(tmp_path, [finder], max_steps=2)
    t.fit(model, make_loader())
    lr = finder.applied_lr
    assert lr is not None and lr != 0.01 and model.hparams.optim == {"lr": lr, "momentum": 0.9}
    assert t.optimizers[0].param_groups[0]["lr"] == lr
    missing = r"attr_name='optim.rate'\): NestedHparamsNet has no such attribute and no such entry in its hparams"
    with pytest.raises(AttributeError, match=missing):
        t = trainer(tmp_path, [LRFinder(attr_name="optim.rate", **FAST)], max_steps=1)
        t.fit(NestedHparamsNet(), make_loader())


def test_nested_hparams_lr_found_without_attr_name_reaches_the_checkpoint(tmp_path: Path) -> None:
    """attr_name=None finds the one LR of a nested hyper-parameter (hparams.optim["lr"]), as attr_name="optim.lr" does.

    The optimizers were rescaled to the found LR but hparams.optim["lr"] kept 0.01: the checkpoint saved it, and a
    module rebuilt from it (load_from_checkpoint) trained at 0.01.
    """
    model = NestedHparamsNet()
    finder = LRFinder(**FAST)
    checkpoints = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    t = trainer(tmp_path, [finder, checkpoints], max_steps=2, enable_checkpointing=True)
    t.fit(model, make_loader())
    lr = finder.applied_lr
    assert lr is not None and lr != 0.01 and t.optimizers[0].param_groups[0]["lr"] == lr
    assert model.hparams.optim == {"lr": lr, "momentum": 0.9}
    path = tmp_path / "ckpt" / "last.ckpt"
    assert torch.load(path, weights_only=False)["hyper_parameters"]["optim"] == {"lr": lr, "momentum": 0.9}
    rebuilt = NestedHparamsNet.load_from_checkpoint(path)
    assert rebuilt.configure_optimizers().param_groups[0]["lr"] == lr


def test_attr_name_of_a_nested_lr_sets_that_path_only(tmp_path: Path) -> None:
    # attr_name="optim.lr" set every holder of the last name: the module's own self.lr and hparams.lr (a teacher's,
    # a later stage's) took the found LR too, and the checkpoint saved them.
    class Both(NestedHparamsNet):
        def __init__(self) -> None:
            super().__init__()
            self.lr = 0.5
            self.hparams.lr = 0.25

    finder = LRFinder(attr_name="optim.lr", **FAST)
    t = trainer(tmp_path, [finder], max_steps=1)
    t.fit(model := Both(), make_loader())
    lr = finder.applied_lr
    assert lr is not None and lr != 0.01 and model.hparams.optim == {"lr": lr, "momentum": 0.9}
    assert t.optimizers[0].param_groups[0]["lr"] == lr
    assert (model.lr, model.hparams.lr) == (0.5, 0.25)


def test_a_nested_lr_read_from_a_config_as_text_is_said_to_keep_its_value(tmp_path: Path) -> None:
    # hparams.optim["lr"] = "1e-2" (PyYAML's text for 1e-2) was passed over without a word, where a top-level text LR
    # is warned of: the optimizers were rescaled, and the checkpoint's hparams kept "1e-2".
    class TextNested(NestedHparamsNet):
        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=float(self.hparams.optim["lr"]), momentum=0.9)

    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=1)
    said = r"LRFinder: hparams.optim.lr holds '1e-2' \(a str\), not a number, so it cannot take the found LR"
    with pytest.warns(UserWarning, match=said):
        t.fit(model := TextNested({"lr": "1e-2", "momentum": 0.9}), make_loader())  # type: ignore[dict-item]
    assert finder.applied_lr is not None and finder.applied_lr != 0.01
    assert t.optimizers[0].param_groups[0]["lr"] == pytest.approx(finder.applied_lr)
    assert model.hparams.optim == {"lr": "1e-2", "momentum": 0.9}


class CachedNestedLRNet(Net):
    """``configure_optimizers`` returns the optimizer built once (in ``__init__`` or ``setup``) at ``hparams.optim``."""

    def __init__(self, where: str = "init", optim: dict[str, float] | None = None) -> None:
        super().__init__(lr=None)
        self.save_hyperparameters({"optim": dict(optim or {"lr": 0.01, "momentum": 0.9})})
        self.where = where
        if where == "init":
            self.cached = torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)

    def setup(self, stage: str) -> None:
        if self.where == "setup":
            self.cached = torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)

    def configure_optimizers(self) -> Any:
        return self.cached


@pytest.mark.parametrize("where", ["init", "setup"])
def test_a_nested_lr_beside_an_optimizer_built_once_takes_the_found_lr(tmp_path: Path, where: str) -> None:
    # configure_optimizers returning the optimizer it built once read hparams.optim["lr"] no more, so the LR was taken
    # for one that drives nothing and put back: training ran at the found LR, the checkpoint's hparams said 0.01, and a
    # module rebuilt from them trained at 0.01. A nested LR the cached optimizer was not built at is still left alone.
    finder = LRFinder(**FAST)
    checkpoints = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    t = trainer(tmp_path, [finder, checkpoints], max_steps=1, enable_checkpointing=True)
    t.fit(model := CachedNestedLRNet(where), make_loader())
    lr = finder.applied_lr
    assert lr is not None and lr != 0.01 and t.optimizers[0].param_groups[0]["lr"] == pytest.approx(lr)
    assert model.hparams.optim == {"lr": lr, "momentum": 0.9}
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)["hyper_parameters"]
    assert saved["optim"] == {"lr": lr, "momentum": 0.9}
    t = trainer(tmp_path, [finder := LRFinder(**FAST)], max_steps=1)
    t.fit(model := CachedNestedLRNet(where, {"lr": 0.5}), make_loader())
    assert finder.applied_lr is not None and t.optimizers[0].param_groups[0]["lr"] == pytest.approx(finder.applied_lr)
    assert model.hparams.optim == {"lr": 0.5}


def test_a_nested_lr_taken_beside_an_optimizer_built_once_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Taken on its value alone, a nested LR that merely equals the cached optimizer's (a teacher's) was overwritten
    # without a word: the log line said only "training with lr=...".
    import logging

    with caplog.at_level(logging.INFO):
        trainer(tmp_path, [finder := LRFinder(**FAST)], max_steps=1).fit(CachedNestedLRNet(), make_loader())
    assert finder.applied_lr is not None
    said = [r.getMessage() for r in caplog.records if "hparams.optim.lr held" in r.getMessage()]
    assert said == [
        "LRFinder: hparams.optim.lr held 1.00e-02, the LR configure_optimizers' optimizer (built once, not from it "
        "again) was built at, so it takes the found LR too. If it is not that optimizer's LR (another model's), pass "
        "attr_name=False to leave it and every other attribute as it is (the optimizers' LRs are then rescaled to the "
        "found LR)."
    ]


def test_attr_name_false_leaves_the_hparams_as_they_are(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The line above told users to pass attr_name= naming another attribute, but a module whose optimizer is built
    # once from a literal LR has none to name: there was no way to keep hparams.optim["lr"] from being overwritten.
    import logging

    finder = LRFinder(**FAST, attr_name=False)
    checkpoints = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    t = trainer(tmp_path, [finder, checkpoints], max_steps=1, enable_checkpointing=True)
    with caplog.at_level(logging.INFO):
        t.fit(model := CachedNestedLRNet(), make_loader())
    lr = finder.applied_lr
    assert lr is not None and lr != 0.01 and t.optimizers[0].param_groups[0]["lr"] == pytest.approx(lr)
    assert model.hparams.optim == {"lr": 0.01, "momentum": 0.9}
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)["hyper_parameters"]
    assert saved["optim"] == {"lr": 0.01, "momentum": 0.9}
    assert not [r for r in caplog.records if "hparams.optim.lr held" in r.getMessage()]
    # A top-level LR is left as it was too, and the optimizers are rescaled.
    t = trainer(tmp_path, [finder := LRFinder(**FAST, attr_name=False)], max_steps=1)
    t.fit(net := SavedNet(lr=0.02), make_loader())
    assert finder.applied_lr is not None and t.optimizers[0].param_groups[0]["lr"] == pytest.approx(finder.applied_lr)
    assert net.lr == 0.02 and net.hparams.lr == 0.02
    with pytest.raises(TypeError, match=r"attr_name to be a non-empty str, False \(set no attribute\) or None"):
        LRFinder(attr_name=True)  # type: ignore[arg-type]


class UnrelatedNestedLRNet(Net):
    """A nested ``lr`` that ``configure_optimizers`` does not read (a teacher's), beside an optimizer at its own LR."""

    def __init__(self) -> None:
        super().__init__(lr=None)
        self.save_hyperparameters({"teacher": {"lr": 0.5, "momentum": 0.99}})

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_a_nested_hparams_lr_that_drives_no_optimizer_is_left_alone(tmp_path: Path) -> None:
    # It was set to the found LR and kept (saved in the checkpoint) though no optimizer reads it.
    model = UnrelatedNestedLRNet()
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=1)
    t.fit(model, make_loader())
    lr = finder.applied_lr
    assert lr is not None and t.optimizers[0].param_groups[0]["lr"] == pytest.approx(lr)
    assert dict(model.hparams) == {"teacher": {"lr": 0.5, "momentum": 0.99}}


class TwoNestedLRsNet(Net):
    """Two param groups, each with its LR in a hyper-parameter of its own (``hparams.gen``, ``hparams.disc``)."""

    def __init__(self) -> None:
        super().__init__(lr=None)
        self.save_hyperparameters({"gen": {"lr": 0.01}, "disc": {"lr": 0.005}})

    def configure_optimizers(self) -> Any:
        first, second = list(self.parameters())[:2], list(self.parameters())[2:]
        return torch.optim.SGD(
            [{"params": first, "lr": self.hparams.gen["lr"]}, {"params": second, "lr": self.hparams.disc["lr"]}]
        )


def test_several_nested_hparams_lrs_are_named_not_guessed(tmp_path: Path) -> None:
    """Of several nested LRs none is picked: the optimizers are rescaled (ratios kept) and a warning names them."""
    model = TwoNestedLRsNet()
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=1)
    with pytest.warns(UserWarning, match=r"several LRs \(gen.lr, disc.lr\).*attr_name='gen.lr'"):
        t.fit(model, make_loader())
    lr = finder.applied_lr
    assert lr is not None and dict(model.hparams) == {"gen": {"lr": 0.01}, "disc": {"lr": 0.005}}
    assert [g["lr"] for g in t.optimizers[0].param_groups] == pytest.approx([lr, lr / 2])


class UnloggedHparamsNet(Net):
    """``save_hyperparameters(logger=False)``: the hyper-parameters go to checkpoints, not to the loggers."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr=lr)
        self.save_hyperparameters(logger=False)


class UnloggedHparamsDataModule(DataModule):
    """``batch_size`` a hyper-parameter the datamodule keeps from the loggers."""

    def __init__(self, batch_size: int = 32) -> None:
        super().__init__(batch_size=batch_size)
        del self.batch_size
        self.save_hyperparameters(logger=False)

    def train_dataloader(self) -> DataLoader:
        return make_loader(n=self.n, batch_size=self.hparams.batch_size)


def test_hyperparameters_kept_from_the_loggers_stay_out_of_them(tmp_path: Path) -> None:
    """save_hyperparameters(logger=False): Lightning logs none of them, and LRFinder logged lr and batch_size alone.

    The loggers (hparams.yaml, TensorBoard's, MLflow's params) got the found LR as the run's only hyper-parameter;
    the checkpoint still carries it, as without the callback.
    """
    logger = MemoryLogger()
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    finder = LRFinder(target_batch_size=64, **FAST)
    t = trainer(tmp_path, [finder, ckpt], max_steps=2, logger=logger, enable_checkpointing=True)
    model = UnloggedHparamsNet()
    t.fit(model, datamodule=UnloggedHparamsDataModule(batch_size=32))
    lr = finder.applied_lr
    assert lr is not None and lr != 0.01 and model.hparams.lr == lr and t.datamodule.hparams.batch_size == 64
    assert logger.params == {}
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)
    assert saved["hyper_parameters"]["lr"] == lr and saved["datamodule_hyper_parameters"]["batch_size"] == 64

    # Kept from the loggers by the module only: the datamodule's logged batch_size is the one trained at.
    logger = MemoryLogger()
    t = trainer(tmp_path, [LRFinder(target_batch_size=64, **FAST)], max_steps=2, logger=logger)
    t.fit(UnloggedHparamsNet(), datamodule=HparamsDataModule(batch_size=32))
    assert logger.params == {"batch_size": 64}


def test_max_time_counts_training_only(tmp_path: Path) -> None:
    """Trainer(max_time=...): Lightning's Timer starts its clock after the test, as the README says."""
    import time

    class Timed(Net):
        def __init__(self) -> None:
            super().__init__()
            self._clock: list[tuple[str, float]] = []  # private: the test's restore puts back public attributes

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self._clock.append((self.phase, time.monotonic()))
            return super().training_step(batch, batch_idx)

    model = Timed()
    t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=2, max_time={"minutes": 5})
    t.fit(model, make_loader())
    timer = next(c for c in t.callbacks if isinstance(c, pl.callbacks.Timer))
    test_times = [at for phase, at in model._clock if phase == "test"]
    train_times = [at for phase, at in model._clock if phase == "train"]
    assert len(test_times) > 10 and len(train_times) == 2
    assert max(test_times) < timer.start_time("train") < min(train_times)


def test_limits_smaller_than_the_test_warn(tmp_path: Path) -> None:
    """Issue 10, 3e: max_steps / limit_train_batches below the test's size are said, with what was done."""
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=3, limit_train_batches=4)
    with pytest.warns(UserWarning) as record:
        t.fit(Net(), make_loader())
    messages = [str(w.message) for w in record]
    assert any("max_steps=3 is smaller than num_steps=80" in m and "still runs" in m for m in messages)
    assert any("limit_train_batches=4" in m and "whole train" in m for m in messages)
    assert finder.result is not None and finder.result.num_steps > 10


def test_lightning_lookups_for_the_distribution_under_test(tmp_path: Path) -> None:
    from lrfinder import _lightning

    model, dm, t = Net(), DataModule(), trainer(tmp_path)
    assert _lightning.package_of(model) is pl and _lightning.package_of(t) is pl
    assert _lightning.is_lightning_module(model) and not _lightning.is_lightning_module(torch.nn.Linear(1, 1))
    assert _lightning.is_lightning_module_class(Net) and not _lightning.is_lightning_module_class(model)
    assert _lightning.is_datamodule(dm) and not _lightning.is_datamodule(model)
    assert _lightning.trainer_class(None, model) is pl.Trainer and _lightning.trainer_class(dm) is pl.Trainer
    with pytest.raises(TypeError, match="lightning.pytorch or pytorch_lightning"):
        _lightning.package_of(torch.nn.Linear(1, 1))


def test_logger_refusing_a_changed_hyperparameter_warns_and_training_goes_on(tmp_path: Path) -> None:
    model = SavedNet()
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=2, logger=MemoryLogger(strict=True))
    with pytest.warns(UserWarning, match="MemoryLogger keeps the logged lr"):
        t.fit(model, make_loader())
    assert finder.applied_lr is not None and model.hparams.lr == finder.applied_lr and t.global_step == 2


class WarmPlateauNet(Net):
    """configure_optimizers with lrfinder's plateau schedule and a warm-up, at a hard-coded LR."""

    def configure_optimizers(self) -> Any:
        from lrfinder import create_scheduler, lightning_scheduler_config

        opt = torch.optim.SGD(self.parameters(), lr=5.0, momentum=0.9)
        sched = create_scheduler("plateau", opt, warmup_steps=4, monitor="train_loss", patience=100)
        return {"optimizer": opt, "lr_scheduler": lightning_scheduler_config(sched, interval="step")}


def test_hard_coded_lr_moves_the_plateau_warmups_target_with_it(tmp_path: Path) -> None:
    # The warm-up climbed to the hard-coded 5.0 (its own copy of the LR), not to the found LR.
    finder = LRFinder(**FAST)
    seen = StepLRs()
    t = trainer(tmp_path, [finder, seen], max_steps=6)
    t.fit(WarmPlateauNet(lr=None), make_loader())
    lr = finder.applied_lr
    assert lr is not None and lr < 5.0
    lrs = [v[0] for v in seen.lrs]
    assert lrs == pytest.approx([0.0, lr / 4, lr / 2, 3 * lr / 4, lr, lr], rel=1e-9)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"scheduler": "multistep", "scheduler_settings": {"milestones": [2, 30]}}, ValueError,
         r"milestone \[30\] would never.*over the fit's 6 optimizer steps"),
        ({"scheduler": "cyclic"}, ValueError, r"step_size_up=2000 \(the default\)"),
        ({"optimizer": "adagrad", "scheduler": "onecycle", "scheduler_settings": {"cycle_momentum": True}},
         ValueError, "cycle_momentum=True"),
    ],
)
def test_scheduler_settings_fail_before_the_range_test(
    tmp_path: Path, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    # They failed when the schedule was built for training: after the whole range test.
    finder = LRFinder(**{"optimizer": "sgd", **kwargs}, **FAST)
    t = trainer(tmp_path, [finder], max_steps=6)
    with pytest.raises(error, match=match):
        t.fit(Net(), make_loader())
    assert finder.result is None


def test_scheduler_check_before_the_test_leaves_the_suggestions_band_to_the_curve(tmp_path: Path) -> None:
    # cyclic's max_lr and onecycle's band come from the suggestion after the test: not refused before it, nor at
    # construction (settings judged against the fit's length, its optimizer or its curve pass there too).
    from lrfinder.schedulers import schedule_refusal

    for scheduler, settings in (("cyclic", {"step_size_up": 2}), ("onecycle", {}), ("cyclic", {"base_lr": 1e-4,
                                                                                             "step_size_up": 2})):
        assert schedule_refusal(scheduler, settings) is None
        finder = LRFinder(optimizer="momentum", scheduler=scheduler, scheduler_settings=settings, **FAST)
        t = trainer(tmp_path, [finder], max_steps=6)
        t.fit(Net(), make_loader())
        assert finder.result is not None and finder.applied_lr is not None


def test_the_reports_plateau_plan_reads_the_metric_per_epoch(tmp_path: Path) -> None:
    # 2 epochs of 8 steps, patience 0, a metric that never improves: one metric at the end of epoch 1 (the
    # best so far), none after it in the fit. The plan decayed at every step after the third.
    finder = LRFinder(
        optimizer="momentum", scheduler="plateau", scheduler_settings={"patience": 0, "monitor": "train_loss"},
        report=tmp_path / "r.png", **FAST,
    )
    t = trainer(tmp_path, [finder], max_epochs=2, max_steps=-1)
    t.fit(Net(), make_loader())
    plan = finder._schedule_preview
    assert plan is not None and len(plan) == 16
    assert plan == pytest.approx([finder.applied_lr] * 16)


class ValNet(Net):
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", F.cross_entropy(self.head(self.body(x)), y))


def test_plateau_on_a_val_metric_without_validation_fails_before_the_test(tmp_path: Path) -> None:
    # Lightning said "conditioned on metric val_loss which is not available" at the end of the first epoch,
    # after the whole range test.
    finder = LRFinder(optimizer="sgd", scheduler="plateau", **FAST)
    t = trainer(tmp_path, [finder], max_epochs=1, max_steps=-1)
    with pytest.raises(ValueError, match=r"steps on monitor='val_loss', but the module has no validation_step"):
        t.fit(Net(), make_loader())
    assert finder.result is None
    finder = LRFinder(optimizer="sgd", scheduler="plateau", scheduler_settings={"monitor": "val_acc"}, **FAST)
    t = trainer(tmp_path, [finder], max_epochs=1, max_steps=-1)
    with pytest.raises(ValueError, match="this fit runs no validation loop.*'monitor': 'train_loss'"):
        t.fit(ValNet(), make_loader())  # a validation_step, but no val loader
    # With validation, it trains.
    finder = LRFinder(optimizer="sgd", scheduler="plateau", **FAST)
    t = trainer(tmp_path, [finder], max_epochs=1, max_steps=-1)
    t.fit(ValNet(), make_loader(), make_loader(64))
    assert finder.result is not None


def test_a_scheduler_name_in_another_case_is_kept_as_the_registry_name(tmp_path: Path) -> None:
    # "Plateau" was refused ("did you mean 'plateau'?"), where optimizer="SGD" is taken; taken, the fit's checks
    # compare the stored name, so it is kept as the registry's: the plateau's missing validation is still caught.
    finder = LRFinder(optimizer="sgd", scheduler="Plateau", **FAST)
    assert finder.scheduler == "plateau"
    t = trainer(tmp_path, [finder], max_epochs=1, max_steps=-1)
    with pytest.raises(ValueError, match=r"steps on monitor='val_loss', but the module has no validation_step"):
        t.fit(Net(), make_loader())


class LogsLoss(pl.LightningModule):
    """A classifier whose training_step logs its loss as ``key`` and no other hook logs anything."""

    def __init__(self, key: str = "loss", **log_kwargs: Any) -> None:
        super().__init__()
        self.key, self.log_kwargs = key, log_kwargs
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log(self.key, loss, **self.log_kwargs)
        return loss

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.01)


class LogsLossAtEpochEnd(LogsLoss):
    def on_train_epoch_end(self) -> None:
        self.log("train_loss", torch.tensor(1.0))


class LogsAtTheEpochsLastBatch(LogsLoss):
    """Logs ``train_loss`` on the epoch's last batch only, which the range test's steps never are."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        if self.trainer.is_last_batch:
            self.log("train_loss", loss)
        return loss


def test_plateau_on_a_training_metric_never_logged_is_warned_of_after_the_test(tmp_path: Path) -> None:
    # Lightning said "ReduceLROnPlateau conditioned on metric train_loss which is not available" at the end of the
    # first epoch, after the test and a whole epoch of training, without a word before. A warning, not an error
    # (bf2fdaf refused it): a training_step that logs it on batches the test never draws is a fit that works.
    def fit(module: pl.LightningModule, monitor: str, **kwargs: Any) -> pl.Trainer:
        finder = LRFinder(optimizer="sgd", scheduler="plateau", scheduler_settings={"monitor": monitor}, **FAST)
        t = trainer(tmp_path, [finder], max_epochs=1, max_steps=-1, **kwargs)
        t.fit(module, make_loader())
        return t

    said = (
        r"^LRFinder\(scheduler='plateau'\) steps on monitor='train_loss', but training_step did not log it in any of "
        r"the range test's \d+ steps \(it logged 'loss'\), and no validation loop or other hook of this fit logs "
        r"metrics: unless training_step logs it on later batches, the fit stops at the end of its first epoch, where "
        r"Lightning reads it\. Log it in "
        r"training_step, self\.log\('train_loss', loss\), or pass scheduler_settings=\{'monitor': 'loss'\}\.$"
    )
    # At the end of the epoch, where Lightning stopped the fit with "conditioned on metric train_loss which is not
    # available", LRFinder's own error names the option and the metrics logged.
    not_available = r"steps on monitor='train_loss' at the end of epoch 0, but nothing in this fit logged it"
    with pytest.warns(UserWarning, match=said), pytest.raises(Exception, match=not_available):
        fit(LogsLoss("loss"), "train_loss")
    with (
        pytest.warns(
            UserWarning,
            match=r"\(it logged nothing\).*scheduler_settings=\{'monitor': 'train_loss'\} with "
            r"self\.log\('train_loss', loss\)\.$",
        ),
        pytest.raises(Exception, match=not_available),
    ):
        fit(_NoLog(), "train_loss")
    # What training_step logs (its epoch form too), or a hook logs at the epoch's end, trains the epoch, unwarned.
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*steps on monitor=")
        assert fit(LogsLoss("loss"), "loss").global_step == 8
        assert fit(LogsLoss("train_loss", on_step=True, on_epoch=True), "train_loss_epoch").global_step == 8
        assert fit(LogsLossAtEpochEnd("loss"), "train_loss").global_step == 8
    # Logged on the epoch's last batch only: warned of (the test never saw it), and the epoch trains and steps.
    with pytest.warns(UserWarning, match=r"steps on monitor='train_loss'"):
        assert fit(LogsAtTheEpochsLastBatch("loss"), "train_loss").global_step == 8


class LogsValLoss(LogsLoss):
    """Logs ``loss`` in training_step and ``val_loss`` in validation_step; no epoch-end hook of its own."""

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", F.cross_entropy(self.net(x), y))


def test_plateau_monitor_nothing_logs_is_refused_at_the_epochs_end_naming_what_is_logged(tmp_path: Path) -> None:
    """A monitor nothing logs, in a fit that validates, is refused where Lightning reads it, with LRFinder's words.

    Lightning's "ReduceLROnPlateau conditioned on metric val_los which is not available. Available metrics are:
    ['lr_finder/num_steps', ...]. Condition can be set using `monitor` key in lr scheduler dict" listed LRFinder's own
    values first and pointed at a scheduler dict the user never wrote. It cannot be refused before the first
    validation: a metric of validation_step's is logged only then.
    """

    def fit(module: pl.LightningModule, monitor: str) -> pl.Trainer:
        finder = LRFinder(optimizer="sgd", scheduler="plateau", scheduler_settings={"monitor": monitor}, **FAST)
        t = trainer(tmp_path, [finder], max_epochs=2, max_steps=-1, limit_val_batches=2)
        t.fit(module, make_loader(), make_loader(shuffle=False))
        return t

    said = (
        r"^LRFinder\(scheduler='plateau'\) steps on monitor='val_los' at the end of epoch 0, but nothing in this fit "
        r"logged it; it logged 'loss', 'val_loss'\. Pass one of those, e.g\. scheduler_settings=\{'monitor': "
        r"'val_loss'\}, or log 'val_los' with self\.log in validation_step or training_step\.$"
    )
    with pytest.raises(ValueError, match=said):
        fit(LogsValLoss(), "val_los")
    with pytest.raises(ValueError, match=r"monitor='nope'.*e\.g\. scheduler_settings=\{'monitor': 'val_loss'\}"):
        fit(LogsValLoss(), "nope")
    # Logged in validation_step, or by the module's own on_train_epoch_end (after this check), it trains.
    assert fit(LogsValLoss(), "val_loss").global_step == 16
    assert fit(type("EpochEnd", (LogsValLoss, LogsLossAtEpochEnd), {})(), "train_loss").global_step == 16


def test_plateau_monitor_not_yet_logged_in_an_epoch_cut_short_by_max_steps_is_left_to_lightning(tmp_path: Path) -> None:
    # max_steps reached before the epoch's validation: Lightning steps no plateau schedule there (the epoch's batches
    # were not all run) and the fit ends as it should, but the check refused val_loss as logged by nothing.
    finder = LRFinder(optimizer="sgd", scheduler="plateau", scheduler_settings={"monitor": "val_loss"}, **FAST)
    t = trainer(tmp_path, [finder], max_epochs=2, max_steps=3, limit_val_batches=2)
    t.fit(LogsValLoss(), make_loader(), make_loader(shuffle=False))
    assert t.global_step == 3 and "val_loss" not in t.callback_metrics


class _NoLog(LogsLoss):
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(self.net(x), y)


def test_the_isolation_finds_metrics_without_asking_the_metric_abc_about_every_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # torchmetrics' Metric is an ABC: isinstance(module, Metric) walked every metric class for each module class
    # missing from the ABC's cache (0.5-1.3 ms a test). The states are still saved and put back.
    import torchmetrics
    from torch import nn

    from lrfinder._lightning import _MetricStates

    asked: list[type] = []

    def hook(cls: type, subclass: type) -> Any:
        asked.append(subclass)
        return NotImplemented

    monkeypatch.setattr(torchmetrics.Metric, "__subclasshook__", classmethod(hook))

    class Fresh(nn.Module):  # a class the ABC's cache has never seen
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Linear(2, 2)
            self.mean = torchmetrics.MeanMetric()

    model = Fresh()
    model.mean.update(torch.tensor(3.0))
    states = _MetricStates(model)
    model.mean.update(torch.tensor(5.0))
    states.restore()
    assert float(model.mean.compute()) == 3.0
    assert Fresh not in asked


@pytest.mark.parametrize("given", [np.float32(0.01), np.int64(1)], ids=["float32", "int64"])
def test_an_lr_attribute_held_as_a_numpy_number_takes_the_found_lr(tmp_path: Path, given: Any) -> None:
    # An LR computed with numpy (np.float32 from a config, np.int64 of a sweep) was no LR attribute: the optimizers got
    # the found LR and self.lr / hparams.lr kept the old value, which the checkpoint rebuilt the module with.
    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=2)
    t.fit(model := SavedNet(lr=given), make_loader())
    assert finder.applied_lr is not None and finder.applied_lr != float(given)
    assert model.lr == model.hparams.lr == finder.applied_lr and type(model.lr) is float
    assert t.optimizers[0].param_groups[0]["lr"] == finder.applied_lr


def test_an_lr_attribute_read_from_a_config_as_text_is_said_to_keep_its_value(tmp_path: Path) -> None:
    # PyYAML reads `lr: 1e-2` (no dot) as the string '1e-2', which configure_optimizers turns into a float. It was
    # passed over without a word: the optimizers were rescaled, and self.lr / hparams.lr kept '1e-2', which the
    # checkpoint rebuilt the module with; attr_name="lr" said the module "has no such attribute".
    class TextLR(SavedNet):
        def configure_optimizers(self) -> Any:
            self.hard_lr = float(self.lr)
            return super().configure_optimizers()

    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=2)
    said = r"LRFinder: lr holds '1e-2' \(a str\), not a number, so it cannot take the found LR: the optimizers' LRs"
    with pytest.warns(UserWarning, match=said):
        t.fit(model := TextLR(lr="1e-2"), make_loader())  # type: ignore[arg-type]
    assert finder.applied_lr is not None and finder.applied_lr != 0.01
    assert t.optimizers[0].param_groups[0]["lr"] == pytest.approx(finder.applied_lr)
    assert model.lr == model.hparams.lr == "1e-2"
    t = trainer(tmp_path, [LRFinder(attr_name="lr", **FAST)], max_steps=1)
    with pytest.raises(TypeError, match=r"LRFinder\(attr_name='lr'\): it holds '1e-2' \(a str\), not a number, so"):
        t.fit(model := TextLR(lr="1e-2"), make_loader())  # type: ignore[arg-type]
    assert model.steps == []  # before the test


def test_a_training_step_that_stops_the_fit_on_a_diverged_loss_stops_the_fit_only_on_its_own(tmp_path: Path) -> None:
    # A divergence guard in training_step (self.trainer.should_stop = True) saw the test's losses, which diverge on
    # purpose: the flag stayed set and the fit ended before its first training step, with the found LR applied.
    class Guarded(Net):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = super().training_step(batch, batch_idx)
            if not loss.detach() < 3.0:
                self.trainer.should_stop = True
            return loss

    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=3)
    t.fit(model := Guarded(), make_loader())
    assert any(phase == "test" and not loss < 3.0 for phase, _, loss, _ in model.steps)  # the guard fired in the test
    assert finder.applied_lr is not None
    assert t.global_step == 3 and [phase for phase, *_ in model.steps].count("train") == 3


def test_what_training_step_counts_in_the_hparams_counts_the_fits_batches_only(tmp_path: Path) -> None:
    # The hparams are the module's private _hparams, which the put-back of its public attributes left out: a count
    # kept there (self.hparams.seen += 1) held the test's steps too, and the checkpoint saved it so.
    class Counting(SavedNet):
        def __init__(self) -> None:
            super().__init__()
            self.hparams.seen = 0

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self.hparams.seen += 1
            return super().training_step(batch, batch_idx)

    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=3)
    t.fit(model := Counting(), make_loader())
    assert [phase for phase, *_ in model.steps].count("test") > 3  # the test's steps ran training_step
    assert finder.applied_lr is not None and model.hparams.lr == finder.applied_lr  # set after the put-back
    assert model.hparams.seen == 3


class StructConfig(MutableMapping[str, Any]):
    """A config mapping that takes new values for its keys but refuses new keys and deletions, as a struct-mode
    ``DictConfig`` (Hydra's default) does: a module's ``hparams`` when the module saves it."""

    def __init__(self, entries: dict[str, Any]) -> None:
        self.__dict__["_entries"] = dict(entries)

    def __getitem__(self, key: str) -> Any:
        return self._entries[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self._entries:
            raise KeyError(f"Key {key!r} is not in struct")
        self._entries[key] = value

    def __delitem__(self, key: str) -> None:
        raise TypeError("the config is in struct mode: it does not support deletion")

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._entries:
            raise AttributeError(name)
        return self._entries[name]

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


def test_hparams_saved_as_a_config_that_refuses_deletion_are_put_back_without_deleting(tmp_path: Path) -> None:
    # The put-back of the hparams cleared the mapping and filled it again: a config that refuses deletion (a
    # struct-mode DictConfig saved with save_hyperparameters(cfg)) failed the fit at the end of the test.
    class Configured(Net):
        def __init__(self) -> None:
            super().__init__(lr=0.01)
            self.save_hyperparameters(StructConfig({"lr": 0.01, "depth": 3}))

    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=3)
    t.fit(model := Configured(), make_loader())
    assert type(model.hparams) is StructConfig and finder.applied_lr is not None
    assert dict(model.hparams) == {"lr": finder.applied_lr, "depth": 3}


def test_a_method_named_like_an_lr_attribute_is_no_lr_held_as_text(tmp_path: Path) -> None:
    # A helper method learning_rate() (the optimizer's current LR, for logging) was warned about as an LR attribute
    # holding "<bound method ...> (a method), not a number": it holds no LR, and the optimizers' LRs are rescaled.
    class Reporting(Net):
        def learning_rate(self) -> float:
            return float(self.trainer.optimizers[0].param_groups[0]["lr"])

    finder = LRFinder(**FAST)
    t = trainer(tmp_path, [finder], max_steps=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t.fit(model := Reporting(lr=None, hard_lr=0.01), make_loader())  # no lr attribute: the LR is configured
    assert not [w for w in caught if "not a number" in str(w.message)], [str(w.message)[:120] for w in caught]
    assert finder.applied_lr is not None and model.learning_rate() == pytest.approx(finder.applied_lr)


class LRWritingNet(Net):
    """A training_step that writes the optimizer's LR itself (a hand-made warm-up in the wrong place)."""

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        for group in self.trainer.optimizers[0].param_groups:
            group["lr"] = 0.05
        return super().training_step(batch, batch_idx)


def test_an_lr_training_step_writes_is_refused_before_the_optimizer_steps(tmp_path: Path) -> None:
    """training_step writing optimizer.param_groups[...]['lr'] made every step of the test step at that LR while the
    curve recorded the swept ones, silently (range_test refuses it). Refused at the first step, the module left as it
    was; a scheduler Lightning steps (the module's own, scheduler='plateau' with its warm-up hook moving the LR after
    the step) and accumulation still sweep."""
    model = LRWritingNet()
    before = [p.detach().clone() for p in model.parameters()]
    t = trainer(tmp_path, [LRFinder(**FAST)], max_steps=2)
    with pytest.raises(ModelError) as info:
        t.fit(model, make_loader())
    assert str(info.value).startswith(
        "The LR of param group 0 of RecordingSGD was changed during step 0 of LRFinder's range test, from the swept "
        "1.00e-03 to 5.00e-02, before the optimizer stepped: training_step steps an LR scheduler or writes "
        "optimizer.param_groups[...]['lr']"
    )
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))
    plateau = {"optimizer": "sgd", "scheduler": "plateau", "scheduler_settings": {"monitor": "train_loss",
               "warmup_steps": 3}}  # fmt: skip
    for settings, fit in ((plateau, {}), ({}, {"accumulate_grad_batches": 2})):
        finder = LRFinder(**FAST, **settings)
        trainer(tmp_path, [finder], max_steps=6, **fit).fit(Net(), make_loader())
        assert finder.applied_lr is not None


class ManualLRWritingGAN(GAN):
    """Manual optimization writing the second optimizer's LR in training_step, before its opt.step()."""

    def training_step(self, batch: Any, batch_idx: int) -> None:
        for group in self.optimizers()[1].param_groups:
            group["lr"] = 0.05
        return super().training_step(batch, batch_idx)


class HookLRWritingNet(Net):
    """A warm-up written in on_before_optimizer_step (run inside the optimizer's step, after the callbacks' hooks)."""

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        for group in optimizer.param_groups:
            group["lr"] = 0.05


@pytest.mark.parametrize(
    ("make", "settings", "said"),
    [
        (
            ManualLRWritingGAN,
            {"monitor": "g_loss"},
            "The LR of param group 0 of RecordingSGD was changed during step 0 of LRFinder's range test, from the "
            "swept 5.00e-04 to 5.00e-02, before the optimizer stepped: training_step, before opt.step(), steps an LR "
            "scheduler",
        ),
        (
            HookLRWritingNet,
            {},
            "The LR of param group 0 of RecordingSGD was changed during step 0 of LRFinder's range test, from the "
            "swept 1.00e-03 to 5.00e-02, before the optimizer stepped: on_before_optimizer_step steps an LR scheduler",
        ),
    ],
)
def test_an_lr_written_under_manual_optimization_or_in_on_before_optimizer_step_is_refused(
    tmp_path: Path, make: Any, settings: dict[str, Any], said: str
) -> None:
    """Only an LR automatic optimization's training_step writes was refused: under manual optimization (the second
    optimizer's here), or in the module's on_before_optimizer_step (Lightning runs it inside the optimizer's step,
    after the callbacks' hooks), every step of the test trained at the written LR while the curve recorded the swept
    ones. Refused at the first step, the module left as it was."""
    model = make()
    before = [p.detach().clone() for p in model.parameters()]
    t = trainer(tmp_path, [LRFinder(**FAST, **settings)], max_steps=2)
    with pytest.raises(ModelError) as info:
        t.fit(model, make_loader())
    assert str(info.value).startswith(said)
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))
    assert "on_before_optimizer_step" not in vars(model)  # the hook the test wraps is the class's again


def test_a_manual_scheduler_stepped_after_opt_step_still_sweeps(tmp_path: Path) -> None:
    """The LR a manual training_step's scheduler moves after opt.step() is not refused (it does not step in the test),
    nor a hook of on_before_optimizer_step that leaves the LR alone."""

    class Scheduled(GAN):
        def training_step(self, batch: Any, batch_idx: int) -> None:
            super().training_step(batch, batch_idx)
            for scheduler in self.lr_schedulers() or ():
                scheduler.step()

        def configure_optimizers(self) -> Any:
            optimizers = super().configure_optimizers()
            return optimizers, [torch.optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.5) for o in optimizers]

        def on_before_optimizer_step(self, optimizer: Any) -> None:
            self.seen = True

    finder = LRFinder(monitor="g_loss", **FAST)
    trainer(tmp_path, [finder], max_steps=2).fit(Scheduled(), make_loader())
    assert finder.applied_lr is not None and finder.result is not None
    assert len(finder.result.lrs) >= 10


class _StepsBySelfLR(torch.optim.Optimizer):
    """A user's SGD that steps by the LR it was built with (self.lr), never reading its groups' lr."""

    def __init__(self, params: Any, lr: float) -> None:
        super().__init__(params, {"lr": lr})
        self.lr = lr

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None if closure is None else closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-self.lr)
        return loss


class _SelfLRNet(Net):
    def configure_optimizers(self) -> Any:
        return _StepsBySelfLR(self.parameters(), lr=self.lr)


def test_an_optimizer_whose_step_never_reads_its_groups_lr_is_refused_by_the_callback(tmp_path: Path) -> None:
    """As range_test refuses it (511481b): every step of the callback's test ran at the built LR while the curve
    recorded the swept ones, and a suggestion was applied. Refused at the first step, the module left as it was."""
    model = _SelfLRNet(lr=0.05)
    before = weights(model)
    with pytest.raises(ModelError, match=r"never read group\['lr'\]"):
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=2).fit(model, make_loader())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


class _SelfLRManualNet(ManualNet):
    def configure_optimizers(self) -> Any:
        return _StepsBySelfLR(self.parameters(), lr=self.lr)


def test_an_optimizer_whose_step_never_reads_its_groups_lr_is_refused_under_manual_optimization(
    tmp_path: Path,
) -> None:
    """The same optimizer stepped by a manual training_step's opt.step(): the test ran and a suggestion from a
    one-LR curve was applied. Refused at its first step as under automatic optimization, the module left as it was."""
    model = _SelfLRManualNet(lr=0.05)
    before = weights(model)
    with pytest.raises(ModelError, match=r"_StepsBySelfLR.step\(\) never read group\['lr'\]"):
        trainer(tmp_path, [LRFinder(**FAST)], max_steps=2).fit(model, make_loader())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_attr_name_false_with_a_warm_up_reading_its_attribute_is_told_as_chosen(tmp_path: Path) -> None:
    """attr_name=False leaves self.lr as it was, which the warm-up then trains at: the warning said "no attribute
    holds ...'s LR" and to name one with attr_name=, though the module has one and the user chose to leave it."""
    model = WarmingUpNet(warm_to=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer(tmp_path, [LRFinder(attr_name=False, **FAST)], max_steps=3).fit(model, make_loader())
    said = [str(w.message) for w in caught if "set them to others before the first training step" in str(w.message)]
    assert len(said) == 1
    assert said[0].startswith("LRFinder: attr_name=False sets no attribute, so the found LR was applied")
    assert "drop attr_name=False" in said[0] and "no attribute holds" not in said[0]
