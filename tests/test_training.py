from __future__ import annotations

import copy
import dataclasses
import importlib
import math
import multiprocessing
import os
import re
import signal
import time
import warnings
from fractions import Fraction
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from conftest import (
    SAM,
    WORKER_DIED,
    FillsNaN,
    MissingRecords,
    NoCompilerForBackward,
    WorkerCrashes,
    make_classification,
    make_mlp,
)
from torch import nn
from torch.utils.data import DataLoader

from lrfinder.exceptions import DataError, ModelError
from lrfinder.training import EpochSummary, TrainingDivergedError, TrainingResult, train

pytestmark = pytest.mark.filterwarnings("ignore:.*treespec.*", "ignore::UserWarning")


def loader(n: int = 256, batch_size: int = 32) -> DataLoader:
    return DataLoader(
        make_classification(n), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )


def sgd(lr: float):
    return lambda model: torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)


class LitNet(pl.LightningModule):
    """A LightningModule with its own loss, validation, logging and configure_optimizers."""

    def __init__(self) -> None:
        super().__init__()
        self.net = make_mlp()
        self.epoch_ends = 0

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("my_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self.net(x).argmax(1) == y).float().mean())

    def on_train_epoch_end(self) -> None:
        self.epoch_ends += 1

    def configure_optimizers(self):
        raise AssertionError("train() replaces configure_optimizers")


def test_plain_model_trains_and_reports_every_epoch():
    torch.manual_seed(0)
    model = make_mlp()
    seen: list[EpochSummary] = []
    result = train(model, loader(), optimizer=sgd(0.05), loss_fn=F.cross_entropy, val_data=loader(64), epochs=3,
                   on_epoch_end=seen.append)  # fmt: skip
    assert isinstance(result, TrainingResult)
    assert [s.epoch for s in result.epochs] == [1, 2, 3] and seen == list(result.epochs)
    assert result.epochs[-1].train_loss < result.epochs[0].train_loss
    assert "val_loss" in result.epochs[0].metrics
    assert len(result.lrs) == 3 * 8 == result.global_step  # 256 samples / 32 per batch, per epoch
    assert all(lr == pytest.approx(0.05) for lr in result.lrs)  # no scheduler: constant
    assert next(model.parameters()).device.type == "cpu"


def test_training_quiets_lightning_only_while_it_runs(monkeypatch: pytest.MonkeyPatch):
    """Lightning's loggers are at WARNING during ``train`` and back at their levels after it.

    They stayed at WARNING: every later Trainer of the caller's process lost its INFO lines
    (and a callback test that read one failed after this module ran).
    """
    import logging

    from lrfinder.names import LIGHTNING_LOGGERS

    for name in LIGHTNING_LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "level", logging.INFO)
    during: list[int] = []
    train(make_mlp(), loader(), optimizer=sgd(0.05), loss_fn=F.cross_entropy, epochs=1,
          on_epoch_end=lambda _: during.append(logging.getLogger("lightning.pytorch").level))  # fmt: skip
    assert during == [logging.WARNING]
    assert all(logging.getLogger(name).level == logging.INFO for name in LIGHTNING_LOGGERS)


def test_scheduler_and_warmup_shape_the_lr():
    result = train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, epochs=2, scheduler="cosine",
                   scheduler_settings={"eta_min": 0.0}, warmup_steps=4)  # fmt: skip
    lrs = result.lrs
    assert len(lrs) == 16
    assert lrs[0] < lrs[3] < lrs[4]  # linear warm-up
    assert max(lrs) == pytest.approx(0.1)
    assert lrs[-1] < 0.1 / 5  # annealed towards eta_min
    # Each epoch reports the LR its last step trained with, not the next step's (a cosine's 0 after the last).
    assert [s.lr for s in result.epochs] == [lrs[7], lrs[15]] and result.epochs[-1].lr > 0


def test_the_repr_writes_the_lrs_and_a_long_runs_epochs_in_brief():
    """A notebook cell ending in ``train(...)`` shows the result's repr: it wrote every step's LR.

    A few epochs of a real loader printed thousands of characters of LRs (tens of thousands for a
    longer run); the repr now gives their count, first, highest and last, and the first and last
    of more than two epochs.
    """
    result = train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, epochs=3, scheduler="onecycle")
    text = repr(result)
    peak = max(result.lrs)
    assert f"lrs=<24 values: first {result.lrs[0]:.2e}, highest {peak:.2e}, last {result.lrs[-1]:.2e}>" in text
    assert f"epochs=<3 epochs: first {result.epochs[0]!r}, last {result.epochs[2]!r}>" in text
    assert text.endswith(f"global_step=24, current_epoch={result.current_epoch})")
    assert repr(result.epochs[1]) not in text and len(text) < 600
    two = dataclasses.replace(result, epochs=result.epochs[:2])
    assert f"epochs={result.epochs[:2]!r}" in repr(two)  # up to two epochs, written in full


def test_a_warning_of_the_models_forward_is_shown_once_as_the_default_filter_says():
    # train checks the first batch's loss as the range test does: the warnings it caught there were shown again
    # past the module's registry, and the second batch showed the forward's warning a second time.
    class Warns(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = make_mlp()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            warnings.warn("a note of the forward in training", UserWarning, stacklevel=1)
            return self.net(x)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        result = train(Warns(), loader(), optimizer=sgd(0.05), loss_fn=F.cross_entropy, epochs=2)
    assert result.global_step == 16
    assert sum(str(w.message) == "a note of the forward in training" for w in caught) == 1


def test_accumulation_counts_optimizer_steps():
    result = train(make_mlp(), loader(), optimizer=sgd(0.05), loss_fn=F.cross_entropy, accumulate_grad_batches=4)
    assert len(result.lrs) == 2 and result.global_step == 2


def test_accumulation_over_more_batches_than_an_epoch_has_is_warned_about():
    # 8 batches per step over a loader of 4: Lightning stepped at each epoch's end with the 4 losses divided by 8,
    # a step half the size the LR was found for, without a word.
    def update(accumulate: int) -> torch.Tensor:
        model = make_mlp()
        before = model[0].weight.detach().clone()
        train(model, loader(128), optimizer=sgd(0.1), loss_fn=F.cross_entropy, accumulate_grad_batches=accumulate)
        return model[0].weight.detach() - before

    with pytest.warns(UserWarning, match=r"accumulate_grad_batches=8 is more than the 4 batches.*x0\.5.*"
                      r"<= 4: no step can take more than an epoch's data \(larger batches make fewer"):  # fmt: skip
        half = update(8)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="accumulate_grad_batches")
        full = update(4)
    torch.testing.assert_close(half, full / 2)  # what the warning says


@pytest.mark.parametrize("accumulate", [41, 10**30])
def test_accumulation_over_ten_epochs_per_step_is_refused_as_the_callback_refuses_it(accumulate: int) -> None:
    """train(accumulate_grad_batches=10**30) failed in Lightning's loss division: "OverflowError: int too big"."""
    model = make_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError) as caught:
        train(model, loader(128), optimizer=sgd(0.1), loss_fn=F.cross_entropy, accumulate_grad_batches=accumulate)
    assert str(caught.value) == (
        f"Expected accumulate_grad_batches <= 10 x the 4 batches of an epoch of train_data (40), but got "
        f"accumulate_grad_batches={accumulate:,}: Lightning would step the optimizer once an epoch, after 4 batches, "
        "each loss divided by it. Use accumulate_grad_batches <= 4: no step can take more than an epoch's data."
    )
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # refused before training



def _stream(batches: int = 4) -> DataLoader:
    """Data without a length: an IterableDataset of ``batches`` batches of 32."""
    from torch.utils.data import IterableDataset

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(DataLoader(make_classification(32 * batches), batch_size=32))

    return DataLoader(Stream(), batch_size=None)


@pytest.mark.parametrize("accumulate", [41, 10**30])
def test_accumulation_over_ten_epochs_per_step_is_refused_over_data_without_a_length(accumulate: int) -> None:
    """Over an IterableDataset (no length to judge before training) 10**30 failed in Lightning's loss division with
    "OverflowError: int too big to convert", and 41 over 4 batches trained with a 4/41 step without a word: the
    sized case's rule and message, judged at the first epoch's end, before its step changes a weight."""
    model = make_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError) as caught:
        train(model, _stream(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, accumulate_grad_batches=accumulate)
    if accumulate == 41:
        assert str(caught.value) == (
            "Expected accumulate_grad_batches <= 10 x the 4 batches of an epoch of train_data (40), but got "
            "accumulate_grad_batches=41: Lightning would step the optimizer once an epoch, after 4 batches, each "
            "loss divided by it. Use accumulate_grad_batches <= 4: no step can take more than an epoch's data."
        )
    else:
        assert str(caught.value) == (
            "Expected accumulate_grad_batches <= 10 x the batches of an epoch of train_data, but got "
            f"accumulate_grad_batches={accumulate:,}: train_data has no length (an IterableDataset or a generator), "
            "so its epoch is counted as the first one runs, and Lightning cannot even divide a loss by a number past "
            "9,223,372,036,854,775,807 (no epoch holds a tenth of that many batches). Use accumulate_grad_batches <= "
            "the batches of an epoch: no step can take more than an epoch's data."
        )
    # No step taken, the BatchNorm statistics of the counted epoch put back.
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_accumulation_over_a_one_batch_epoch_says_batch_in_the_singular() -> None:
    # "is more than the 1 batches of an epoch ... after 1 batches ... over a batch of 1 batches".
    said = r"accumulate_grad_batches=2 is more than the 1 batch of an epoch: Lightning steps the optimizer at the end "
    with pytest.warns(UserWarning, match=said + r"of every epoch, after 1 batch whose ") as seen:
        train(make_mlp(), loader(32, 32), optimizer=sgd(0.1), loss_fn=F.cross_entropy, accumulate_grad_batches=2)
    said = next(str(w.message) for w in seen if "accumulate_grad_batches=2" in str(w.message))
    assert "over a batch of 1 batch, not 2" in said and " 1 batches" not in said


def test_accumulation_over_an_epoch_without_a_length_is_warned_about_at_the_callers_line() -> None:
    """The sized case's warning, once the first epoch's end has counted its batches; none within an epoch."""
    with pytest.warns(UserWarning, match=r"accumulate_grad_batches=8 is more than the 4 batches.*x0\.5") as caught:
        result = train(make_mlp(), _stream(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, accumulate_grad_batches=8,
                       epochs=2)  # fmt: skip
    assert result.global_step == 2
    assert [w.filename for w in caught if "accumulate_grad_batches" in str(w.message)] == [__file__]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="accumulate_grad_batches")
        assert train(make_mlp(), _stream(6), optimizer=sgd(0.1), loss_fn=F.cross_entropy,
                     accumulate_grad_batches=4).global_step == 2  # fmt: skip

def _a_suggestion(lr: float):
    import numpy as np

    from lrfinder import analyze

    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    s = analyze(lrs, 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0))
    return dataclasses.replace(s, lr=lr)


def test_a_suggestion_without_a_scheduler_that_is_not_the_optimizers_lr_is_warned_about():
    # Only a schedule reads the suggestion: train(suggestion=s) without one trained at the optimizer's 1e-5, not
    # at s.lr (1e-2), in silence.
    s = _a_suggestion(1e-2)
    with pytest.warns(UserWarning, match=r"runs at the optimizer's LR 1\.00e-05, not the suggestion's 1\.00e-02"):
        result = train(make_mlp(), loader(), optimizer=sgd(1e-5), loss_fn=F.cross_entropy, suggestion=s)
    assert result.lrs[0] == pytest.approx(1e-5)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="suggestion is read by a schedule only")
        train(make_mlp(), loader(), optimizer=sgd(1e-2), loss_fn=F.cross_entropy, suggestion=_a_suggestion(1e-2))
        train(make_mlp(), loader(), optimizer=sgd(1e-5), loss_fn=F.cross_entropy, suggestion=_a_suggestion(1e-2),
              scheduler="constant")  # fmt: skip


def test_an_inconclusive_results_suggestion_none_with_a_scheduler_is_warned_about_as_create_scheduler_does():
    # train(scheduler="cosine", suggestion=result.suggestion) of an inconclusive test passed None, train's default:
    # the schedule started from the optimizer's LR without a word, where create_scheduler warns of that None.
    import lrfinder

    result = lrfinder.RangeTestResult(lrs=(1e-3,), losses=(1.0,), stop_reason="completed", error="too few points")
    assert result.suggestion is None
    said = r"^suggestion=None: schedule 'cosine' takes its starting LR from the optimizer's LR, as without a "
    with pytest.warns(UserWarning, match=said + r"suggestion\. If it is result\.suggestion") as caught:
        trained = train(make_mlp(), loader(), optimizer=sgd(1e-3), loss_fn=F.cross_entropy, scheduler="cosine",
                        suggestion=result.suggestion)  # fmt: skip
    assert [w.filename for w in caught if str(w.message).startswith("suggestion=None")] == [__file__]
    assert trained.lrs[0] == pytest.approx(1e-3)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="suggestion=None")
        # Left out: a schedule at the optimizer's LR, meant; without a scheduler nothing reads it.
        train(make_mlp(), loader(), optimizer=sgd(1e-3), loss_fn=F.cross_entropy, scheduler="cosine")
        train(make_mlp(), loader(), optimizer=sgd(1e-3), loss_fn=F.cross_entropy, suggestion=None)


def test_a_range_test_result_without_a_scheduler_that_is_not_the_optimizers_lr_is_warned_about():
    # train(suggestion=result) read the result's training_suggestion only with a scheduler: without one it was dropped
    # before the optimizer's LR was compared with it, so the warning a Suggestion gets never came for the result.
    import numpy as np

    import lrfinder

    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    losses = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0)
    result = lrfinder.RangeTestResult(lrs=tuple(lrs), losses=tuple(losses), stop_reason="completed").analyze()
    assert result.training_suggestion is not None
    lr = result.training_suggestion.lr
    with pytest.warns(UserWarning, match=rf"runs at the optimizer's LR 1\.00e-05, not the suggestion's {lr:.2e}"):
        train(make_mlp(), loader(), optimizer=sgd(1e-5), loss_fn=F.cross_entropy, suggestion=result)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="suggestion is read by a schedule only")
        train(make_mlp(), loader(), optimizer=sgd(lr), loss_fn=F.cross_entropy, suggestion=result)


def test_lightning_module_trains_as_itself_and_keeps_its_class():
    module = LitNet()
    before = module.net[0].weight.detach().clone()
    result = train(module, loader(), optimizer=sgd(0.05), val_data=loader(64), epochs=2)
    assert type(module) is LitNet  # no class swap
    assert "configure_optimizers" not in vars(module)  # the override is gone
    with pytest.raises(AssertionError, match="replaces"):
        module.configure_optimizers()
    assert module.epoch_ends == 2  # its own hooks ran
    assert "val_acc" in result.epochs[0].metrics  # its own validation_step and self.log
    assert not torch.equal(before, module.net[0].weight)


def test_non_finite_loss_raises_and_names_the_epoch():
    torch.manual_seed(0)
    with pytest.raises(TrainingDivergedError, match=r"epoch 1/5.*loss became (nan|inf).*LR too high") as info:
        train(make_mlp(), loader(), optimizer=sgd(1e6), loss_fn=F.cross_entropy, epochs=5)
    assert info.value.epoch == 1
    assert len(info.value.result.epochs) == 1  # stopped at once, not after 5 epochs


def test_nan_in_the_data_is_named_not_blamed_on_the_lr():
    """NaN inputs in batch 3 raised "Training diverged ... The likely cause is an LR too high for training"."""
    data = make_classification(256)
    x, y = data.tensors
    x = x.clone()
    x[100, 3] = math.nan
    batches = DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)
    with pytest.raises(DataError, match=r"loss became nan at step 4 \(LR 1.00e-02\), and batch 3 of epoch 1 holds NaN "
                       r"or inf in inputs \(inputs float32 \(32, 10\).*not the learning rate"):  # fmt: skip
        train(make_mlp(), batches, optimizer=sgd(0.01), loss_fn=F.cross_entropy)


def test_a_model_that_fills_nan_inputs_itself_diverges_as_any_other():
    """Missing values as NaN, filled by the model: a loss the LR made NaN was blamed on the data."""
    data = make_classification(256)
    x, y = data.tensors
    x = x.clone()
    x[::7, 3] = math.nan  # in every batch
    batches = DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)

    torch.manual_seed(0)
    with pytest.raises(TrainingDivergedError, match=r"loss became (nan|inf).*LR too high"):
        train(FillsNaN(), batches, optimizer=sgd(1e6), loss_fn=F.cross_entropy, epochs=5)


@pytest.mark.parametrize("where", ["train_data", "val_data"])
def test_batches_the_model_cannot_take_are_described(where: str):
    """A shape or dtype mismatch came out of Lightning's loop as torch's bare RuntimeError ("mat1 and mat2 ...")."""
    wrong = [(torch.randn(8, 5), torch.zeros(8, dtype=torch.long))]
    data = {"train_data": loader(), "val_data": None, where: wrong}
    prefix = "val_data: " if where == "val_data" else ""
    with pytest.raises(DataError, match=rf"^{prefix}The first batch does not go through the model and loss_fn "
                       r"\(RuntimeError: mat1 and mat2 shapes.*The batch: inputs float32 \(8, 5\)"):  # fmt: skip
        train(make_mlp(), data["train_data"], val_data=data["val_data"], optimizer=sgd(0.01), loss_fn=F.cross_entropy)
    with pytest.raises(DataError, match=r"float64 on cpu"):
        train(make_mlp().double(), loader(), optimizer=sgd(0.01), loss_fn=F.cross_entropy)


def test_empty_val_data_is_refused():
    """val_data=[] trained with no validation at all, and no val_loss in the epoch lines, without a word."""
    with pytest.raises(DataError, match=r"val_data is empty: it yielded no batch"):
        train(make_mlp(), loader(), val_data=[], optimizer=sgd(0.01), loss_fn=F.cross_entropy)


def test_a_val_batch_the_model_cannot_take_fails_before_training():
    """A malformed val_data failed at the first epoch's validation, after the whole epoch had trained the model.

    Its first batch runs before training (eval mode, no gradients: the model is left as it was); a generator is
    peeked and put back, so validation still sees all of its batches.
    """
    def wrong():
        for _ in range(3):
            yield torch.randn(8, 5), torch.zeros(8, dtype=torch.long)

    model = make_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trained: list[tuple[int, int]] = []
    for val_data in (wrong(), list(wrong())):
        with pytest.raises(DataError, match=r"^val_data: The first batch does not go through the model and loss_fn "
                           r"\(RuntimeError: mat1 and mat2 shapes.*The batch: inputs float32 \(8, 5\)"):  # fmt: skip
            train(model, loader(), val_data=val_data, optimizer=sgd(0.01), loss_fn=F.cross_entropy,
                  on_batch_end=lambda epoch, batch: trained.append((epoch, batch)))  # fmt: skip
    assert trained == [] and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert model.training and all(m.training for m in model.modules())

    seen: list[int] = []

    class Counted(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = make_mlp()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not self.training:
                seen.append(len(x))
            return self.net(x)

    def good():
        for n in (8, 9, 10):
            yield torch.randn(n, 10), torch.zeros(n, dtype=torch.long)

    result = train(Counted(), loader(), val_data=good(), optimizer=sgd(0.01), loss_fn=F.cross_entropy)
    # The peeked batch ran once before training and went back in front: the validation saw all three.
    assert seen == [8, 8, 9, 10] and "val_loss" in result.epochs[0].metrics
    with pytest.raises(DataError, match=r"val_data is empty: it yielded no batch"):
        train(make_mlp(), loader(), val_data=iter([]), optimizer=sgd(0.01), loss_fn=F.cross_entropy)


def test_a_one_shot_val_data_over_several_epochs_is_refused():
    """A generator as val_data was used up by the first epoch's validation: epoch 2's val_loss repeated epoch 1's."""
    batches = [(torch.randn(8, 10), torch.zeros(8, dtype=torch.long))]
    with pytest.raises(DataError, match=r"val_data is a one-shot iterator \(e.g. a generator\): it is used up by the "
                       r"first of 2 epochs' validation.*Pass a DataLoader or a list of batches"):  # fmt: skip
        train(make_mlp(), loader(), val_data=iter(batches), optimizer=sgd(0.01), loss_fn=F.cross_entropy, epochs=2)
    result = train(make_mlp(), loader(), val_data=batches, optimizer=sgd(0.01), loss_fn=F.cross_entropy, epochs=2)
    assert [e.epoch for e in result.epochs] == [1, 2]


def test_settings_passed_positionally_are_answered_with_the_keywords():
    """train(model, loader, optimizer_fn) got Python's bare "train() takes 2 positional arguments but 3 were given"."""
    with pytest.raises(TypeError) as caught:
        train(make_mlp(), loader(), sgd(0.01))  # type: ignore[misc]
    assert str(caught.value) == (
        "train() takes model and train_data positionally, but got 3 positional arguments: pass the others by name "
        "(optimizer=..., loss_fn=..., val_data=..., ...)."
    )


def test_trains_warnings_point_at_the_callers_line():
    """Past the wrapper that answers positional arguments: at the train(...) line, not inside lrfinder."""
    with pytest.warns(UserWarning, match="accumulate_grad_batches=8 is more than the 1 batch of an epoch") as caught:
        train(make_mlp(), loader(n=32), optimizer=sgd(0.01), loss_fn=F.cross_entropy, accumulate_grad_batches=8)
    assert {w.filename for w in caught if "accumulate_grad_batches" in str(w.message)} == {__file__}


def test_a_clip_algorithm_without_a_clip_value_is_said_to_clip_nothing():
    """gradient_clip_algorithm="value" without gradient_clip_val trained unclipped in silence (lrfind said so)."""
    said = r"^gradient_clip_algorithm='value' is ignored: it says how gradient_clip_val clips, and gradient_clip_val "
    with pytest.warns(UserWarning, match=said + r"is None \(no clipping\)\. Pass gradient_clip_val=") as caught:
        train(make_mlp(), loader(), optimizer=sgd(0.01), loss_fn=F.cross_entropy, gradient_clip_algorithm="value")
    assert [w.filename for w in caught if "gradient_clip_algorithm" in str(w.message)] == [__file__]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*gradient_clip_algorithm")
        train(make_mlp(), loader(), optimizer=sgd(0.01), loss_fn=F.cross_entropy, gradient_clip_algorithm="norm")
        train(make_mlp(), loader(), optimizer=sgd(0.01), loss_fn=F.cross_entropy, gradient_clip_val=1.0,
              gradient_clip_algorithm="value")  # fmt: skip


def test_a_schedules_warning_points_at_the_train_call():
    """The schedule train builds (in configure_optimizers, run by Lightning) warned at lrfinder/training.py.

    The schedulers' fixed stacklevels counted from create_scheduler called by the user; through train they
    stopped in lrfinder's own configure_optimizers.
    """
    with pytest.warns(UserWarning, match="gamma=1000 > 1 multiplies the LR") as caught:
        train(make_mlp(), loader(), optimizer=sgd(0.01), loss_fn=F.cross_entropy, scheduler="step",
              scheduler_settings={"step_size": 2, "gamma": 1000})  # fmt: skip
    assert [w.filename for w in caught if "gamma=1000" in str(w.message)] == [__file__]


class NaNAfter(nn.Module):
    """A model whose weights turn NaN in its second epoch while its loss stays finite."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(10, 3)
        self.unused = nn.Parameter(torch.zeros(2))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls == 10:
            with torch.no_grad():
                self.unused.fill_(math.nan)
        return self.lin(x)


def test_nan_weights_raise_even_with_a_finite_loss():
    with pytest.raises(TrainingDivergedError, match=r"epoch 2/3.*weight tensor.*NaN/inf.*unused"):
        train(NaNAfter(), loader(), optimizer=sgd(0.01), loss_fn=F.cross_entropy, epochs=3)


class Interrupting(pl.Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == 3:
            raise KeyboardInterrupt


def test_ctrl_c_raises_keyboard_interrupt_and_restores_the_handler():
    handler = signal.getsignal(signal.SIGINT)
    module = LitNet()
    with pytest.raises(KeyboardInterrupt):
        train(module, loader(), optimizer=sgd(0.05), epochs=3, callbacks=[Interrupting()])
    assert signal.getsignal(signal.SIGINT) == handler  # Lightning ignores SIGINT during its shutdown
    assert "configure_optimizers" not in vars(module)


def test_bad_arguments():
    with pytest.raises(DataError, match=r"pairs but no loss_fn was given.*Pass loss_fn.*LightningModule"):
        train(make_mlp(), loader(), optimizer=sgd(0.1))
    with pytest.raises(ValueError, match="epochs to be an int >= 1"):
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, epochs=0)
    # 1.5 >= 1: "Expected epochs >= 1, but got epochs=1.5" did not say what was wrong.
    with pytest.raises(ValueError, match=r"epochs to be an int >= 1, but got epochs=1.5"):
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, epochs=1.5)
    with pytest.raises(TypeError, match=r"optimizer to be a function model -> optimizer, but got SGD\(\.\.\.\), an"):
        model = make_mlp()
        train(model, loader(), optimizer=torch.optim.SGD(model.parameters(), lr=0.1), loss_fn=F.cross_entropy)
    with pytest.raises(TypeError, match="loss_fn to be callable"):
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn="cross_entropy")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="torch.nn.Module"):
        train("model", loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"device.*'gpu'"):
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, device="gpu")


def test_device_takes_what_torch_device_takes(monkeypatch: pytest.MonkeyPatch):
    """``device=torch.device('cpu')`` and ``device=0`` (torch's ``cuda:0``) were refused as not 'cpu', 'cuda', ..."""
    model = make_mlp()
    result = train(model, loader(64), optimizer=sgd(0.05), loss_fn=F.cross_entropy, device=torch.device("cpu"))
    assert result.global_step == 2 and next(model.parameters()).device.type == "cpu"
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda check_available=False: None)
    with pytest.raises(ValueError, match=r"Cannot use device=0: torch reads an int as the index of a GPU \(cuda:0\)"):
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, device=0)


#: Every spelling of one device train takes, and the Trainer's (accelerator, devices) for it.
DEVICE_SPELLINGS = [
    (("cpu", 1), ["cpu", "cpu:0", torch.device("cpu"), torch.device("cpu", 0)]),
    (("gpu", 1), ["cuda", torch.device("cuda")]),
    (("gpu", [0]), ["cuda:0", 0, torch.device("cuda:0"), torch.device("cuda", 0)]),
    (("gpu", [1]), ["cuda:1", 1, torch.device("cuda:1"), torch.device("cuda", 1)]),
    (("mps", 1), ["mps", "mps:0", torch.device("mps"), torch.device("mps:0")]),
]


class _TrainerBuilt(Exception):
    """Raised by a stand-in Trainer: what train asked of Lightning, before anything trains."""


@pytest.mark.parametrize(("expected", "spellings"), DEVICE_SPELLINGS, ids=[str(e) for e, _ in DEVICE_SPELLINGS])
def test_every_spelling_of_a_device_gets_the_same_trainer(
    monkeypatch: pytest.MonkeyPatch, expected: tuple, spellings: list
):
    """``device="mps:0"`` and ``torch.device("mps:0")``, ``"cuda:1"`` and ``1``: one accelerator and device each.

    The machine is told to have two GPUs and MPS (no Mac or GPU here: the mapping is tested, not a run); the Trainer
    train builds is a stand-in that records its arguments.
    """
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda check_available=False: torch.device("cuda"))
    built: list[tuple[str, Any]] = []

    def trainer(**kwargs: Any) -> None:
        built.append((kwargs["accelerator"], kwargs["devices"]))
        raise _TrainerBuilt

    for package in ("lightning.pytorch", "pytorch_lightning"):
        monkeypatch.setattr(importlib.import_module(package), "Trainer", trainer)
    for device in spellings:
        model = make_mlp()
        with pytest.raises(_TrainerBuilt):
            train(model, loader(64), optimizer=sgd(0.05), loss_fn=F.cross_entropy, device=device)
        assert built.pop() == expected, device


@pytest.mark.parametrize("device", ["meta", "xpu", torch.device("hpu")])
def test_a_device_lightning_is_not_given_is_refused(device: object):
    """``device="meta"`` or ``"xpu"`` trained on the CPU without a word (Lightning's CPU accelerator was taken)."""
    model = make_mlp()
    before = copy.deepcopy(model.state_dict())
    message = rf"Expected device to be 'cpu', 'cuda', 'cuda:N' or 'mps', but got device={re.escape(repr(device))} \("
    with pytest.raises(ValueError, match=message):
        train(model, loader(64), optimizer=sgd(0.05), loss_fn=F.cross_entropy, device=device)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_gpu_the_machine_lacks_is_refused_before_training(monkeypatch: pytest.MonkeyPatch):
    """``device='cuda:1'`` with one GPU failed inside ``model.to`` with 'invalid device ordinal'."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"device='cuda:1': this machine has 1 CUDA device \(cuda:0\)"):
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, device="cuda:1")


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"optimizer": None}, TypeError, r"optimizer to be a function model -> optimizer.*got optimizer=None"),
        ({"epochs": "3"}, ValueError, r"epochs to be an int >= 1.*'3'"),
        ({"scheduler": "cosine", "scheduler_settings": "eta_min=0"}, TypeError, r"scheduler_settings to be a mapping"),
        ({"scheduler_settings": {"eta_min": 1e-5}}, ValueError, r"scheduler to be set when scheduler_settings"),
        ({"warmup_steps": 10}, ValueError, r"scheduler to be set when warmup_steps.*scheduler='constant'"),
        ({"scheduler": "cosine", "warmup_steps": -1}, ValueError, r"warmup_steps >= 0.*-1"),
        ({"scheduler": "cosine", "warmup_steps": "5"}, TypeError, r"warmup_steps to be an int >= 0.*'5'"),
        ({"scheduler": "onecycle", "suggestion": 0.01}, TypeError, r"suggestion to be a lrfinder.Suggestion"),
        ({"callbacks": None}, TypeError, r"callbacks to be a list of Lightning callbacks"),
        ({"callbacks": ["early_stop"]}, TypeError, r"callbacks\[0\] is 'early_stop'"),
        ({"on_epoch_end": "print"}, TypeError, r"on_epoch_end to be callable"),
        ({"on_batch_end": 1}, TypeError, r"on_batch_end to be callable"),
        ({"val_data": 5}, TypeError, r"val_data to be an iterable of batches"),
        ({"val_data": torch.tensor(0.5)}, TypeError, r"val_data to be an iterable of batches.*a single number"),
        # train's own arguments: Python's "create_scheduler() got multiple values for keyword argument"
        ({"scheduler": "cosine", "scheduler_settings": {"total_steps": 5}}, ValueError,
         r"scheduler_settings without 'total_steps': train sets it"),
        # torch's name for the length was "does not take the setting T_max; it accepts: eta_min", no more.
        ({"scheduler": "cosine", "scheduler_settings": {"T_max": 5}}, ValueError,
         r"scheduler_settings without 'T_max' \(T_max is another name for total_steps, the schedule's length\): "
         r"train sets it"),
        ({"scheduler": "onecycle", "scheduler_settings": {"steps_per_epoch": 5}}, ValueError,
         r"scheduler_settings without 'steps_per_epoch' \(steps_per_epoch is part of torch's OneCycleLR's other way "
         r"to give the length, total_steps = epochs \* steps_per_epoch\): train sets it"),
        ({"scheduler": "cosine", "scheduler_settings": {"suggestion": None}}, ValueError,
         r"scheduler_settings without 'suggestion'"),
        ({"scheduler": "cosine", "scheduler_settings": {"warmup_steps": 2}, "warmup_steps": 3}, ValueError,
         r"warmup_steps=3 and scheduler_settings\['warmup_steps'\]=2"),
        ({"scheduler": "cosine", "scheduler_settings": {"warmup_steps": -1}}, ValueError, r"warmup_steps >= 0.*-1"),
        ({"scheduler_settings": {"warmup_steps": 2}}, ValueError, r"scheduler to be set when warmup_steps"),
    ],
)
def test_bad_settings_fail_naming_the_argument_before_lightning_starts(kwargs, error, pattern):
    # Were "'NoneType' object is not callable", "dictionary update sequence element #0 ...", Lightning's
    # "'str' object has no attribute 'on_exception'", "An invalid dataloader was passed", or (a warm-up or
    # settings without a scheduler) silently ignored.
    base = {"optimizer": sgd(0.1), "loss_fn": F.cross_entropy}
    with pytest.raises(error, match=pattern):
        train(make_mlp(), loader(64), **{**base, **kwargs})


def test_a_warmup_in_the_scheduler_settings_is_the_warmup() -> None:
    # LRFinder(scheduler_settings={"warmup_steps": 4}) takes it there; train failed when the fit started with
    # "create_scheduler() got multiple values for keyword argument 'warmup_steps'".
    runs = [
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, scheduler="cosine", **kwargs).lrs
        for kwargs in ({"scheduler_settings": {"warmup_steps": 2}}, {"warmup_steps": 2})
    ]
    assert runs[0] == runs[1] and runs[0][0] == 0.0 and max(runs[0]) == pytest.approx(0.1)


def test_numpy_epochs_and_warmup_are_accepted():
    import numpy as np

    result = train(make_mlp(), loader(64), optimizer=sgd(0.01), loss_fn=F.cross_entropy, epochs=np.int64(1),
                   scheduler="constant", warmup_steps=np.int64(1))  # fmt: skip
    assert len(result.epochs) == 1


def test_a_used_up_iterator_is_refused_and_a_fresh_one_trains_every_batch():
    # iter(loader) looped over before trained no step and returned train_loss=nan, without a word.
    used = iter(loader(64))
    for _ in used:
        pass
    with pytest.raises(DataError, match=r"^The training data is empty: it is an iterator \(_SingleProcess"):
        train(make_mlp(), used, optimizer=sgd(0.1), loss_fn=F.cross_entropy)
    # The first batch drawn to look is put back: all 2 batches train.
    fresh = train(make_mlp(), iter(loader(64)), optimizer=sgd(0.1), loss_fn=F.cross_entropy)
    assert fresh.global_step == 2 and math.isfinite(fresh.epochs[0].train_loss)


def test_bad_model_and_data_fail_before_lightning_starts():
    from lrfinder.exceptions import DataError, ModelError

    with pytest.raises(DataError, match="empty"):
        train(make_mlp(), [], optimizer=sgd(0.1), loss_fn=F.cross_entropy)
    with pytest.raises(TypeError, match="train_data to be an iterable"):
        train(make_mlp(), None, optimizer=sgd(0.1), loss_fn=F.cross_entropy)  # type: ignore[arg-type]
    frozen = make_mlp().requires_grad_(False)
    with pytest.raises(ModelError, match="no trainable parameters"):
        train(frozen, loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy)
    # Lightning's "Cannot copy out of meta tensor; no data!" from moving it to the device.
    with pytest.raises(ModelError, match=r"on the meta device \(first: 0.weight\).*model.to_empty"):
        train(make_mlp().to_empty(device="meta"), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy)

    class NoCompiler(torch.nn.Module):  # a compiled model without a C++ compiler: inductor fails on the first forward
        def __init__(self) -> None:
            super().__init__()
            self.net = make_mlp()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            from torch._inductor.exc import InductorError

            raise InductorError(RuntimeError("InvalidCxxCompiler: No working C++ compiler found"), None)

    with pytest.raises(ModelError, match=r"^torch.compile could not compile the model.*not the batch"):
        train(NoCompiler(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy)

    class NoCompilerInBackward(torch.nn.Module):  # torch.compile(nn.Linear(...)): a library kernel forward
        def __init__(self) -> None:
            super().__init__()
            self.net = make_mlp()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return NoCompilerForBackward.apply(self.net(x))

    # It came out of Lightning's backward as torch's bare InductorError, some 70 frames deep.
    with pytest.raises(ModelError, match=r"^torch.compile could not compile the model.*not the batch"):
        train(NoCompilerInBackward(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy)
    with pytest.raises(ValueError, match=r"plateau.*val_loss.*val_data"):
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, scheduler="plateau")
    with pytest.raises(ValueError, match=r"plateau.*val_loss.*val_data"):  # any case, as optimizer names
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, scheduler="PLATEAU")


def test_a_lightning_pytorch_module_trains_with_its_own_distribution():
    L = pytest.importorskip("lightning.pytorch")

    class Net(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = make_mlp()

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

    result = train(Net(), loader(), optimizer=sgd(0.05), epochs=1)
    assert result.global_step == 8 and math.isfinite(result.epochs[0].train_loss)


@pytest.mark.parametrize(("precision", "dtype"), [("32", torch.float32), ("bf16-mixed", torch.bfloat16)])
def test_precision_trains_under_lightning_autocast(precision: str, dtype: torch.dtype):
    seen: set[torch.dtype] = set()
    model = make_mlp()
    model[0].register_forward_hook(lambda module, args, out: seen.add(out.dtype))
    result = train(model, loader(), optimizer=sgd(0.05), loss_fn=F.cross_entropy, epochs=1, precision=precision)
    assert seen == {dtype} and math.isfinite(result.epochs[-1].train_loss)
    assert model[0].weight.dtype == torch.float32  # mixed precision: the weights stay float32
    with pytest.raises(ValueError, match="precision to be one of '32', 'bf16-mixed', '16-mixed'"):
        train(model, loader(), optimizer=sgd(0.05), loss_fn=F.cross_entropy, precision="64")


def test_a_sam_optimizer_trains_as_its_own_loop():
    """SAM's step(closure) runs both passes on each batch under Lightning's closure, as a plain loop does."""
    batches = list(DataLoader(make_classification(128), batch_size=32))
    model, twin = make_mlp(), make_mlp()
    result = train(model, batches, optimizer=lambda m: SAM(m.parameters(), lr=0.05, momentum=0.9),
                   loss_fn=F.cross_entropy, epochs=2)  # fmt: skip
    opt = SAM(twin.parameters(), lr=0.05, momentum=0.9)
    twin.train()
    for _ in range(2):
        for x, y in batches:

            def closure(x: torch.Tensor = x, y: torch.Tensor = y) -> torch.Tensor:
                opt.zero_grad()
                loss = F.cross_entropy(twin(x), y)
                loss.backward()
                return loss

            opt.step(closure)
    assert result.global_step == 8
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters(), strict=True))


def test_float16_on_the_cpu_is_refused_naming_bf16_mixed():
    """Lightning trained it in bfloat16 (with a warning) while `lrfind fit` refused it with exit 2."""
    model = make_mlp()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"precision='16-mixed', device='cpu'. Use precision='bf16-mixed' on the CPU"):
        train(model, loader(), optimizer=sgd(0.05), loss_fn=F.cross_entropy, precision="16-mixed")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # refused before any step


# ------------------------------------------------------------- user setups (engine audit)


def test_dict_batches_and_a_list_of_batches_train_as_the_range_test_reads_them():
    """Dict batches failed with "linear(): argument 'input' must be Tensor, not str"; a list was read
    by Lightning as a list of dataloaders ("too many values to unpack")."""
    pairs = list(DataLoader(make_classification(128), batch_size=32))
    dicts = [{"input": x, "target": y} for x, y in pairs]
    losses = []
    for data in (pairs, dicts):
        torch.manual_seed(0)
        model = make_mlp()
        result = train(model, data, optimizer=sgd(0.05), loss_fn=F.cross_entropy, val_data=data[:1], epochs=2)
        assert result.global_step == 8
        losses.append([e.train_loss for e in result.epochs] + [e.metrics["val_loss"] for e in result.epochs])
    assert losses[0] == losses[1]


class OwnLoss(nn.Module):
    """A Hugging Face-style model: its loss from ``labels``, returned as a ``ModelOutput``-like dict or a tuple."""

    def __init__(self, output: str) -> None:
        super().__init__()
        self.net = make_mlp()
        self.output = output

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor):
        logits = self.net(input_ids)
        loss = F.cross_entropy(logits, labels)
        return {"loss": loss, "logits": logits} if self.output == "dict" else (loss, logits)


def test_a_model_that_computes_its_own_loss_trains_without_loss_fn():
    """It was refused: "Expected loss_fn for a plain nn.Module" (the range test took its loss)."""
    pairs = list(DataLoader(make_classification(128), batch_size=32))
    hf = [{"input_ids": x, "labels": y} for x, y in pairs]
    weights = []
    for output in ("dict", "tuple", None):
        torch.manual_seed(0)
        model = OwnLoss(output) if output else make_mlp()
        result = train(model, hf if output else pairs, optimizer=sgd(0.05), loss_fn=None if output else F.cross_entropy)
        assert result.global_step == 4
        weights.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) and torch.equal(a, c) for a, b, c in zip(*weights, strict=True))


def test_unreadable_batches_say_what_train_reads():
    from lrfinder.exceptions import DataError

    triples = [(x, y, y) for x, y in DataLoader(make_classification(64), batch_size=32)]
    with pytest.raises(DataError, match=r"tuple of 3 tensors.*but expected \(inputs, targets\) pairs.*LightningModule"):
        train(make_mlp(), triples, optimizer=sgd(0.1), loss_fn=F.cross_entropy)


def test_data_without_a_length():
    """An IterableDataset trains (len() raised TypeError); a schedule that needs the length is refused
    before Lightning starts; a generator cannot feed several epochs (they trained on nothing)."""
    from torch.utils.data import IterableDataset

    from lrfinder.exceptions import DataError

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(DataLoader(make_classification(128), batch_size=32))

    stream = DataLoader(Stream(), batch_size=None)
    assert train(make_mlp(), stream, optimizer=sgd(0.1), loss_fn=F.cross_entropy, epochs=2).global_step == 8
    with pytest.raises(DataError, match=r"'cosine' schedule needs the number of training steps.*no length.*step"):
        train(make_mlp(), stream, optimizer=sgd(0.1), loss_fn=F.cross_entropy, scheduler="cosine")
    batches = (b for b in DataLoader(make_classification(64), batch_size=32))
    with pytest.raises(DataError, match="one-shot iterator.*first of 2 epochs"):
        train(make_mlp(), batches, optimizer=sgd(0.1), loss_fn=F.cross_entropy, epochs=2)


def test_settings_a_plain_loop_would_misread():
    with pytest.raises(ValueError, match=r"accumulate_grad_batches to be an int >= 1.*=1.5"):
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, accumulate_grad_batches=1.5)
    with pytest.raises(TypeError, match=r"Pass an instance: loss_fn=CrossEntropyLoss\(\)"):
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=nn.CrossEntropyLoss)  # type: ignore[arg-type]


def test_what_the_optimizer_factory_gives_is_checked():
    """An optimizer class, a factory returning None (IndexError in the watcher) or an optimizer of other
    weights (trained nothing, silently), and a loss_fn returning a tuple (Lightning's "training_step must
    return a Tensor") are named."""
    from lrfinder.exceptions import ModelError

    with pytest.raises(TypeError, match=r"the optimizer class Adam\. Pass a function.*optimizer=lambda m: Adam"):
        train(make_mlp(), loader(), optimizer=torch.optim.Adam, loss_fn=F.cross_entropy)
    with pytest.raises(TypeError, match="optimizer\\(model\\) to return a torch.optim.Optimizer, but it returned None"):
        train(make_mlp(), loader(), optimizer=lambda m: None, loss_fn=F.cross_entropy)
    other = make_mlp(seed=1)
    with pytest.raises(ModelError, match="6 parameters that are not the model's"):
        train(make_mlp(), loader(), optimizer=lambda m: torch.optim.SGD(other.parameters(), lr=0.1),
              loss_fn=F.cross_entropy)  # fmt: skip
    with pytest.raises(ModelError, match="must be a torch.Tensor, but got tuple"):
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=lambda out, y: (F.cross_entropy(out, y), {}))


@pytest.mark.parametrize(
    ("lr", "pattern"),
    [
        ("1e-4", r"group 1 of SGD has lr='1e-4' \(a string: a YAML config reads 1e-4 without a dot as text"),
        (-1e-3, r"finite number >= 0, but group 1 of SGD has lr=-0\.001$"),
        (None, r"group 1 of SGD has lr=None \(.*has no LR to train with"),
    ],
)
def test_an_optimizer_group_lr_that_is_no_lr_is_named(lr: object, pattern: str) -> None:
    """A group's lr='1e-4' (text from a YAML config) failed inside torch's step ("bad operand type for unary -:
    'str'"), lr=None with float()'s TypeError, and lr=-1e-3 trained uphill without a word."""
    def optimizer(model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.SGD([{"params": model[0].parameters()}, {"params": model[3].parameters(), "lr": lr}], lr=0.1)

    with pytest.raises(ValueError, match=pattern):
        train(make_mlp(), loader(), optimizer=optimizer, loss_fn=F.cross_entropy)


def test_a_dataset_given_as_batches_is_refused():
    """train() on a TensorDataset trained one example per step (256 steps of batch 1), silently."""
    from lrfinder.exceptions import DataError

    with pytest.raises(DataError, match=r"train_data is a TensorDataset, a Dataset: its items are single examples"):
        train(make_mlp(), make_classification(64), optimizer=sgd(0.1), loss_fn=F.cross_entropy)


def test_drop_last_with_a_batch_larger_than_the_data_is_named():
    from lrfinder.exceptions import DataError

    few = DataLoader(make_classification(20), batch_size=32, drop_last=True)
    with pytest.raises(DataError, match=r"drop_last=True\) over 20 examples drops its only, short batch"):
        train(make_mlp(), few, optimizer=sgd(0.1), loss_fn=F.cross_entropy)


def test_a_loss_with_parameters_trains_with_the_model():
    """The optimizer factory's check took a loss module's own parameters for another model's."""

    class ScaledLoss(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.log_scale = nn.Parameter(torch.zeros(()))

        def forward(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(out * self.log_scale.exp(), y)

    model, loss = make_mlp(), ScaledLoss()
    train(model, loader(), optimizer=lambda m: torch.optim.SGD([*m.parameters(), *loss.parameters()], lr=0.1),
          loss_fn=loss)  # fmt: skip
    assert float(loss.log_scale) != 0.0


@pytest.mark.parametrize("clip", [0.5, Fraction(1, 2)], ids=["float", "fraction"])
def test_gradient_clipping_bounds_every_update(clip: float) -> None:
    """train(gradient_clip_val=...) clips as range_test(gradient_clip_val=...) does (Lightning's option).

    A Fraction is a real number the check takes, and Lightning's Trainer refused it: "`gradient_clip_val` should be
    an int or a float. Got 1/2."; it trains as its float.
    """
    torch.manual_seed(0)
    model = nn.Linear(4, 1).double()
    x = torch.randn(64, 4, dtype=torch.float64)
    data = DataLoader(torch.utils.data.TensorDataset(x, 100.0 * x.sum(1, keepdim=True)), batch_size=16)
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    result = train(model, data, optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=1e-3), loss_fn=F.mse_loss,
                   gradient_clip_val=clip)  # fmt: skip
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert result.global_step == 4
    assert float((after - before).norm()) <= 4 * 0.5 * 1e-3 * (1 + 1e-6)  # unclipped, a step moves > 1e-2
    with pytest.raises(ValueError, match=r"gradient_clip_val > 0 and finite"):
        train(make_mlp(), loader(), optimizer=sgd(0.05), loss_fn=F.cross_entropy, gradient_clip_val=-1.0)


def test_plateau_warmup_counts_optimizer_steps_as_warmup_steps_says() -> None:
    # plateau is stepped per epoch: warmup_steps=6 warmed up over 6 *epochs*, so a 4-epoch fit of
    # 4 steps each never reached its LR (lrfind fit --scheduler plateau --warmup-steps 6).
    seen: list[float] = []
    built: list[torch.optim.Optimizer] = []

    def make(m: nn.Module) -> torch.optim.Optimizer:
        built.append(torch.optim.SGD(m.parameters(), lr=0.1))
        return built[-1]

    train(
        make_mlp(),
        loader(n=128),
        optimizer=make,
        loss_fn=F.cross_entropy,
        val_data=loader(n=64),
        epochs=2,
        scheduler="plateau",
        warmup_steps=6,
        on_batch_end=lambda epoch, i: seen.append(built[-1].param_groups[0]["lr"]),
    )
    # The LR after each optimizer step: the warm-up ends at the 6th, mid-way through epoch 2.
    assert seen == pytest.approx([0.1 * t / 6 for t in range(1, 7)] + [0.1, 0.1])


def test_a_plain_model_without_val_data_gets_no_validation_step_warning():
    # The wrapper defined a validation_step whether or not val_data was given, and Lightning warned
    # "You defined a `validation_step` but have no `val_dataloader`" about a step the caller never wrote.
    torch.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(make_mlp(), loader(), optimizer=sgd(0.05), loss_fn=F.cross_entropy, epochs=1)
    assert not [w for w in caught if "validation_step" in str(w.message)], [str(w.message) for w in caught]


def test_train_loss_is_the_batches_loss_with_gradient_accumulation():
    # Lightning passes on the loss divided by accumulate_grad_batches; the epoch's train_loss was 1/4 of it.
    def mean_loss(accumulate: int) -> float:
        torch.manual_seed(0)
        result = train(make_mlp(), loader(), optimizer=sgd(0.0), loss_fn=F.cross_entropy,
                       accumulate_grad_batches=accumulate)  # fmt: skip
        return result.epochs[0].train_loss

    assert mean_loss(4) == pytest.approx(mean_loss(1), rel=1e-5)


def test_plateau_on_a_metric_the_lightning_module_never_logs_says_what_to_pass():
    # Lightning's "ReduceLROnPlateau conditioned on metric val_loss which is not available ... `monitor` key in
    # lr scheduler dict" pointed at a dict train() builds.
    with pytest.raises(ValueError, match=r"logged no 'val_loss' in epoch 1 \(it logged: my_loss, val_acc\)") as info:
        train(LitNet(), loader(), optimizer=sgd(0.05), val_data=loader(64), scheduler="plateau", epochs=2)
    assert "scheduler_settings={'monitor': NAME}" in str(info.value) and "val_data" in str(info.value)
    result = train(LitNet(), loader(), optimizer=sgd(0.05), val_data=loader(64), scheduler="plateau", epochs=2,
                   scheduler_settings={"monitor": "val_acc", "mode": "max"})  # fmt: skip
    assert len(result.epochs) == 2


def test_plateau_on_val_metrics_without_a_validation_loop_is_refused_before_training():
    # As LRFinder(scheduler='plateau') refuses it; Lightning said so only after the first epoch.
    module = LitNet()
    with pytest.raises(ValueError, match=r"there is no validation data \(val_data=None"):
        train(module, loader(), optimizer=sgd(0.05), scheduler="plateau")
    assert module.epoch_ends == 0

    class NoValidation(LitNet):
        validation_step = pl.LightningModule.validation_step

    with pytest.raises(ValueError, match=r"NoValidation has no validation_step"):
        train(NoValidation(), loader(), optimizer=sgd(0.05), val_data=loader(64), scheduler="plateau")
    # A metric training_step logs is not refused.
    result = train(LitNet(), loader(), optimizer=sgd(0.05), scheduler="plateau",
                   scheduler_settings={"monitor": "my_loss"})  # fmt: skip
    assert len(result.epochs) == 1


def test_a_gradient_accumulation_scheduler_sets_the_schedules_length_and_the_recorded_steps():
    # 8 batches an epoch: 8 steps, then 2 (4 batches each); the onecycle was planned over 16 and stopped half-way.
    result = train(LitNet(), loader(), optimizer=sgd(0.05), val_data=loader(64), epochs=2, scheduler="onecycle",
                   callbacks=[pl.callbacks.GradientAccumulationScheduler({0: 1, 1: 4})])  # fmt: skip
    assert result.global_step == 10 and len(result.lrs) == 10  # an LR per optimizer step, not per batch
    assert result.lrs[-1] == pytest.approx(0.05 / 25 / 1e4)  # annealed to the end


def test_a_first_batch_that_does_not_fit_advises_what_train_takes() -> None:
    # It advised "pass step_fn(model, batch) -> loss", a range_test argument train() does not have.
    x, y = torch.randn(32, 5), torch.zeros(32, dtype=torch.long)
    with pytest.raises(DataError) as info:
        train(make_mlp(), [(x, y)], optimizer=sgd(0.1), loss_fn=F.cross_entropy)
    message = str(info.value)
    assert "The first batch does not go through the model" in message and "step_fn" not in message
    assert message.endswith("for another batch format train a LightningModule whose training_step returns the loss.")


def test_integer_targets_a_loss_refuses_in_its_backward_are_said_of_the_batch() -> None:
    # huber_loss takes int64 targets forward and fails in Lightning's backward with torch's bare
    # "Found dtype Long but expected Float", raised from inside autograd.
    x, labels = torch.randn(32, 10), (torch.rand(32, 5) > 0.5).long()
    for loss_fn in (F.huber_loss, nn.BCEWithLogitsLoss()):
        with pytest.raises(DataError, match=r"The first batch does not go through the model and loss_fn.*"
                           r"The targets are int64 .*y\.float\(\).*train a LightningModule"):  # fmt: skip
            train(nn.Linear(10, 5), DataLoader(list(zip(x, labels)), batch_size=8), optimizer=sgd(0.1),
                  loss_fn=loss_fn)  # fmt: skip
    result = train(nn.Linear(10, 5), DataLoader(list(zip(x, labels.float())), batch_size=8), optimizer=sgd(0.1),
                   loss_fn=F.huber_loss)  # fmt: skip
    assert result.global_step == 4


def test_a_sparse_adam_over_dense_gradients_is_refused_by_name_before_its_first_step() -> None:
    # torch failed inside the step with "SparseAdam does not support dense gradients, please consider Adam instead"
    # (a bare RuntimeError), where range_test names the parameter; Adam would refuse the embedding's gradients.
    class Bag(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed, self.head = nn.Embedding(20, 4, sparse=True), nn.Linear(4, 3)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.head(self.embed(ids).mean(1))

    torch.manual_seed(0)
    ids, labels = torch.randint(0, 20, (32, 5)), torch.randint(0, 3, (32,))
    model = Bag()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = DataLoader(list(zip(ids, labels)), batch_size=8)
    with pytest.raises(ModelError, match=r"SparseAdam steps sparse gradients only .* 2 of its parameters got dense "
                       r"ones \(first: head.weight\)\. Build the model's embeddings with sparse=False"):  # fmt: skip
        train(model, data, optimizer=lambda m: torch.optim.SparseAdam(m.parameters()), loss_fn=F.cross_entropy)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # refused before any step
    # Over the embedding alone it trains.
    result = train(model, data, optimizer=lambda m: torch.optim.SparseAdam(m.embed.parameters()),
                   loss_fn=F.cross_entropy)  # fmt: skip
    assert result.global_step == 4 and not torch.equal(before["embed.weight"], model.embed.weight)


def test_a_range_test_result_is_read_as_create_scheduler_reads_it() -> None:
    # create_scheduler(suggestion=result) reads result.training_suggestion; train(suggestion=result) was a TypeError
    # whose advice, "a range test's result.suggestion", pointed at the raw curve's band, not the scaled and refined one.
    import lrfinder

    result = lrfinder.range_test(make_mlp(), loader(), loss_fn=F.cross_entropy, num_steps=40, max_lr=10.0)
    scaled = result.scale(64)
    assert scaled.training_suggestion is not None and scaled.training_suggestion != scaled.suggestion
    runs = [
        train(make_mlp(), loader(), optimizer=sgd(0.01), loss_fn=F.cross_entropy, scheduler="onecycle", suggestion=s)
        for s in (scaled, scaled.training_suggestion)
    ]
    assert runs[0].lrs == runs[1].lrs and runs[0].lrs[0] == pytest.approx(scaled.training_suggestion.min_lr)
    # A result with no suggestion is refused before training, saying why; without a scheduler it is not read.
    flat = lrfinder.RangeTestResult(lrs=tuple(lrfinder.lr_schedule(1e-3, 1.0, 20)), losses=(1.0,) * 20,
                                    stop_reason="completed")  # fmt: skip
    model = make_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"The range test result holds no suggestion to build the schedule from"):
        train(model, loader(), optimizer=sgd(0.01), loss_fn=F.cross_entropy, scheduler="cosine", suggestion=flat)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert train(model, loader(), optimizer=sgd(0.01), loss_fn=F.cross_entropy, suggestion=flat).lrs[0] == 0.01
    with pytest.raises(TypeError, match=r"a lrfinder\.Suggestion \(a range test's result\.training_suggestion\), a "
                       r"RangeTestResult or None, but got suggestion=0\.1"):  # fmt: skip
        train(model, loader(), optimizer=sgd(0.01), loss_fn=F.cross_entropy, scheduler="cosine", suggestion=0.1)


def test_the_whole_data_as_one_tensor_pair_is_named() -> None:
    # train(model, (x, y)) failed on x taken as a batch of its own: "Cannot use batches of type a Tensor".
    data = make_classification(64)
    pair = (data.tensors[0], data.tensors[1])
    with pytest.raises(DataError, match=r"train_data is a tuple of two tensors.*DataLoader\(TensorDataset\(x, y\)"):
        train(make_mlp(), pair, optimizer=sgd(0.1), loss_fn=F.cross_entropy)
    with pytest.raises(DataError, match=r"val_data is a tuple of two tensors"):
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, val_data=pair)


def test_val_data_that_iterates_to_no_batches_is_refused_before_training() -> None:
    # Read first after a whole epoch: the model was trained, then train() failed with "Cannot use batches of type".
    model = make_mlp()
    before = [p.detach().clone() for p in model.parameters()]
    data = make_classification(64)
    x, y = data.tensors
    for val, pattern in (
        ("val.npz", r"val_data is a str"),
        ({"x": x, "y": y}, r"val_data is a dict \(keys 'x', 'y'\)"),
        (x, r"val_data is a single float32 \(64, 10\)"),
        ((x.numpy(), y.numpy()), r"val_data is a tuple of two arrays"),
        ([0.5, 0.7], r"val_data\[0\] is a float, not a batch.*train a LightningModule"),
    ):
        with pytest.raises(DataError, match=pattern):
            train(model, loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, val_data=val)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_a_loss_broadcasting_its_targets_is_refused_before_training() -> None:
    torch.manual_seed(0)
    model = nn.Linear(10, 1)  # an (N, 1) output against (N,) targets
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = [(torch.randn(16, 10), torch.randn(16)) for _ in range(4)]
    with pytest.raises(DataError, match=r"targets have shape \(16,\) and the model's output \(16, 1\)"):
        train(model, data, optimizer=sgd(0.1), loss_fn=F.mse_loss)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_callback_of_the_wrong_arity_is_refused_before_training() -> None:
    with pytest.raises(TypeError, match=r"on_batch_end to take 2 positional arguments.*\(batch_index\)"):
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy,
              on_batch_end=lambda batch_index: None)  # fmt: skip
    with pytest.raises(TypeError, match=r"optimizer to take 1 positional argument \(a function model -> optimizer"):
        train(make_mlp(), loader(), optimizer=lambda: None, loss_fn=F.cross_entropy)  # type: ignore[arg-type]


def test_val_data_for_a_lightning_module_without_validation_step_is_said_to_be_ignored():
    class NoValidation(LitNet):
        validation_step = pl.LightningModule.validation_step

    with pytest.warns(UserWarning, match=r"val_data is ignored: NoValidation has no validation_step"):
        result = train(NoValidation(), loader(), optimizer=sgd(0.05), val_data=loader(64))
    assert result.epochs[0].metrics == {}
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="val_data is ignored")
        train(LitNet(), loader(), optimizer=sgd(0.05), val_data=loader(64))


def test_an_optimizer_given_back_by_a_second_call_is_said_to_start_where_the_first_left_it():
    model = make_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="optimizer.model. returned the optimizer")
        train(model, loader(), optimizer=lambda m: opt, loss_fn=F.cross_entropy, scheduler="cosine")
    # The cosine left it at 0: the second call trained at LR 0 without a word.
    left = r"its LR is where that training left it, 0.00e\+00 \(it came with 1.00e-01\)"
    with pytest.warns(UserWarning, match=left) as said:
        result = train(model, loader(), optimizer=lambda m: opt, loss_fn=F.cross_entropy, scheduler="cosine")
    assert max(result.lrs) == 0.0
    # At the train() line: stacklevel=2 pointed at lrfinder's configure_optimizers, which Lightning calls.
    assert [w.filename for w in said if "earlier train() call" in str(w.message)] == [__file__]
    # Its LR set again, as the warning advises: the caller's choice, not where the training left it (it was said).
    for group in opt.param_groups:
        group["lr"] = 0.05
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="optimizer.model. returned the optimizer")
        train(model, loader(), optimizer=lambda m: opt, loss_fn=F.cross_entropy)


def _bn_regression(examples: int) -> torch.utils.data.TensorDataset:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(examples, 4, generator=gen)
    return torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))


def test_a_pass_ending_on_one_example_a_batchnorm_cannot_take_is_refused_before_training() -> None:
    """33 examples in batches of 8: the last batch of one failed in BatchNorm1d after the epoch's other 4 batches
    had trained the model ("Batch 4 of the pass does not go through the model ... Expected more than 1 value per
    channel when training")."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    before = {k: v.clone() for k, v in model.named_parameters()}
    steps: list[tuple[int, int]] = []
    with pytest.raises(DataError, match=r"^train_data ends each pass on a batch of one example \(33 examples in "
                       r"batches of 8\), and the BatchNorm layer '1' takes one value per channel per example \(its "
                       r"input is \(8, 8\) on the first batch\).*Set drop_last=True on the DataLoader"):  # fmt: skip
        train(model, DataLoader(_bn_regression(33), batch_size=8), loss_fn=F.mse_loss, epochs=2,
              optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
              on_batch_end=lambda e, b: steps.append((e, b)))  # fmt: skip
    assert steps == []  # before any batch was trained on
    assert all(torch.equal(v, before[k]) for k, v in model.named_parameters())
    # A list of batches ending on one example, and a LightningModule's own BatchNorm, alike.
    batches = [(x[i : i + 8], y[i : i + 8]) for x, y in [_bn_regression(17).tensors] for i in range(0, 17, 8)]
    with pytest.raises(DataError, match=r"\(a list of 3 batches of 8\), and the BatchNorm layer '1'"):
        train(model, batches, loss_fn=F.mse_loss, optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1))

    class BNModule(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
            return F.mse_loss(self.net(batch[0]), batch[1])

    with pytest.raises(DataError, match=r"the BatchNorm layer 'net.1' takes one value per channel"):
        train(BNModule(), DataLoader(_bn_regression(33), batch_size=8),
              optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1))  # fmt: skip


def test_a_batch_of_one_a_batchnorm_can_take_trains() -> None:
    """No false refusal: BatchNorm2d over 2x2 maps takes a batch of one; drop_last leaves no batch of one."""
    torch.manual_seed(0)
    conv = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 1))
    x = torch.randn(9, 1, 2, 2)
    data = torch.utils.data.TensorDataset(x, x.flatten(1).sum(dim=1, keepdim=True))
    result = train(conv, DataLoader(data, batch_size=4), loss_fn=F.mse_loss,
                   optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.01))  # fmt: skip
    assert result.global_step == 3
    mlp = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    result = train(mlp, DataLoader(_bn_regression(33), batch_size=8, drop_last=True), loss_fn=F.mse_loss,
                   optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.01))  # fmt: skip
    assert result.global_step == 4


def test_a_batchnorm_over_positions_folded_into_the_batch_takes_a_last_batch_of_one() -> None:
    """No false refusal: a sequence model folding its 3 positions into BatchNorm1d's batch, (N * 3, C), gets 3 values
    per channel from a batch of one example and trains; its (24, 8) input on the first batch of 8 read as one value
    per example, and train refused 33 examples in batches of 8."""

    class Folded(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj, self.bn, self.head = nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (N, 3, 4)
            h = self.proj(x)
            h = self.bn(h.reshape(-1, 8)).reshape(h.shape)
            return self.head(h).mean(dim=1)

    torch.manual_seed(0)
    x = torch.randn(33, 3, 4)
    data = torch.utils.data.TensorDataset(x, x.sum(dim=(1, 2)).unsqueeze(1))
    result = train(Folded(), DataLoader(data, batch_size=8), loss_fn=F.mse_loss,
                   optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.01))  # fmt: skip
    assert result.global_step == 5


def test_a_pair_loss_over_three_item_batches_is_not_told_of_a_step_fn_train_lacks() -> None:
    """The pair-loss hint named range_test's step_fn, which train does not take."""
    x1, x2 = torch.randn(64, 10), torch.randn(64, 10)
    loader = DataLoader(torch.utils.data.TensorDataset(x1, x2, torch.sign(torch.randn(64))), batch_size=16)
    with pytest.raises(DataError, match=r"Such a loss is loss_fn\(model\(batch\[0\]\).*LightningModule") as info:
        train(make_mlp(), loader, optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
              loss_fn=nn.MarginRankingLoss())  # fmt: skip
    assert "step_fn" not in str(info.value)


def test_a_plain_three_argument_loss_function_is_told_to_go_in_a_training_step() -> None:
    """def loss(a, b, y) was refused with "Expected loss_fn to take 2 positional arguments" alone."""

    def ranking(a: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.margin_ranking_loss(a.squeeze(-1), b.squeeze(-1), y)

    x1, x2 = torch.randn(64, 10), torch.randn(64, 10)
    loader = DataLoader(torch.utils.data.TensorDataset(x1, x2, torch.sign(torch.randn(64))), batch_size=16)
    with pytest.raises(TypeError) as info:
        train(make_mlp(), loader, optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1), loss_fn=ranking)
    assert str(info.value).endswith(
        "which loss_fn(model(x), y) cannot give it. Compute it in the training_step of a LightningModule (which "
        "train takes too) as loss_fn(self(batch[0]), self(batch[1]), batch[2]) for (x1, x2, y) batches, "
        "loss_fn(*(self(x) for x in batch)) for (anchor, positive, negative) ones."
    )
    assert "step_fn" not in str(info.value)


def test_a_range_test_of_another_model_given_as_suggestion_is_warned_about():
    # A result from another model (the wrong notebook cell or file) trained this one at its LR without a word.
    import lrfinder

    data = loader()
    small = make_mlp(hidden=8)
    result = lrfinder.range_test(small, data, loss_fn=F.cross_entropy, num_steps=40, max_lr=100.0)
    assert result.suggestion is not None
    assert result.num_parameters == sum(p.numel() for p in small.parameters())
    pattern = (
        r"suggestion is the range test of a model with 131 trainable parameters \(Sequential\), but this model has "
        r"515: an LR found on another model, or with other layers frozen, does not carry over"
    )
    with pytest.warns(UserWarning, match=pattern):
        train(make_mlp(hidden=32), data, optimizer=sgd(0.01), loss_fn=F.cross_entropy, suggestion=result)
    frozen = make_mlp(hidden=8)
    frozen[0].requires_grad_(False)
    with pytest.warns(UserWarning, match=r"131 trainable parameters \(Sequential\), but this model has 43: "):
        train(frozen, data, optimizer=sgd(0.01), loss_fn=F.cross_entropy, suggestion=result)
    with warnings.catch_warnings():  # the same architecture, a fresh instance: the count matches
        warnings.filterwarnings("error", message="suggestion is the range test of a model")
        train(make_mlp(hidden=8, seed=1), data, optimizer=sgd(0.01), loss_fn=F.cross_entropy, suggestion=result,
              scheduler="constant")  # fmt: skip


def test_callbacks_train_cannot_run_are_named_and_a_checkpoint_with_a_directory_is_kept(tmp_path):
    """Lightning refused them in words of Trainer settings train sets: "Cannot use `LearningRateMonitor` callback
    with `Trainer` that has no logger", "Trainer was configured with `enable_checkpointing=False` but found
    `ModelCheckpoint`": no checkpoint could be kept at all."""
    import importlib

    from lrfinder._lightning import installed_packages

    pl = importlib.import_module(installed_packages()[0])  # the one train gives a plain model
    with pytest.raises(ValueError, match=r"callbacks\[0\] is a LearningRateMonitor, which needs a logger.*"
                       r"TrainingResult\.lrs .* Drop it from callbacks\."):  # fmt: skip
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy,
              callbacks=[pl.callbacks.LearningRateMonitor()])  # fmt: skip
    with pytest.raises(ValueError, match=r"callbacks\[1\] is a ModelCheckpoint without a dirpath: train runs Lightning "
                       r"in a temporary directory.*ModelCheckpoint\(dirpath='checkpoints', \.\.\.\)"):  # fmt: skip
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy,
              callbacks=[pl.callbacks.Timer(), pl.callbacks.ModelCheckpoint()])  # fmt: skip
    with pytest.raises(TypeError, match=r"is <class .*; pass an instance, LearningRateMonitor\(\.\.\.\)"):
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy,
              callbacks=[pl.callbacks.LearningRateMonitor])  # fmt: skip
    kept = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="val_loss", save_top_k=1)
    result = train(make_mlp(), loader(), val_data=loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, epochs=2,
                   callbacks=[kept])  # fmt: skip
    assert len(result.epochs) == 2
    (saved,) = (tmp_path / "ckpt").iterdir()
    assert saved.suffix == ".ckpt" and kept.best_model_path == str(saved)


def test_a_lazy_model_given_a_range_test_as_suggestion_trains():
    # The parameter-count check called numel() on its uninitialised parameters: torch's ValueError, nothing trained.
    import lrfinder

    data = loader()
    result = lrfinder.range_test(make_mlp(hidden=8), data, loss_fn=F.cross_entropy, num_steps=40, max_lr=100.0)
    assert result.suggestion is not None
    lazy = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.Linear(8, 3))
    with warnings.catch_warnings():  # no count before the first batch: nothing to compare, nothing said
        warnings.filterwarnings("error", message="suggestion is the range test of a model")
        train(lazy, data, optimizer=sgd(0.01), loss_fn=F.cross_entropy, suggestion=result, scheduler="constant")
    assert lazy[0].weight.shape == (8, 10)


class _BackboneNet(pl.LightningModule):
    """A backbone and a head, as BackboneFinetuning wants them."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Sequential(nn.Linear(10, 32), nn.ReLU())
        self.head = nn.Linear(32, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return F.cross_entropy(self(batch[0]), batch[1])


def test_a_head_only_range_test_given_to_a_fine_tuning_train_is_not_warned_about():
    """A test of the head alone (the backbone frozen, as BackboneFinetuning trains at first) read as 'a model with
    99 trainable parameters, but this model has 451': the count before training says nothing there."""
    import lrfinder

    data = loader()
    model = _BackboneNet()
    model.backbone.requires_grad_(False)
    result = lrfinder.range_test(model, data, loss_fn=F.cross_entropy, num_steps=40, max_lr=100.0)
    assert result.suggestion is not None and result.num_parameters == 99
    model.backbone.requires_grad_(True)  # BackboneFinetuning freezes it again as training starts
    finetuning = pl.callbacks.BackboneFinetuning(unfreeze_backbone_at_epoch=1)
    trainable = lambda m: torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.01)  # noqa: E731
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="suggestion is the range test of a model")
        out = train(model, data, optimizer=trainable, suggestion=result, epochs=2, callbacks=[finetuning])
    assert len(out.epochs) == 2
    with pytest.warns(UserWarning, match=r"99 trainable parameters \(_BackboneNet\), but this model has 451"):
        train(model, data, optimizer=trainable, suggestion=result)  # no fine-tuning: warned



@pytest.mark.parametrize("package", ["pytorch_lightning", "lightning.pytorch"])
def test_a_plain_model_trains_under_its_callbacks_lightning(package: str):
    """``import pytorch_lightning as pl`` with a plain model: pl.callbacks.ModelCheckpoint was refused as no
    lightning.pytorch callback, the distribution train picked without being asked."""
    pl_ = importlib.import_module(package)

    class Spy(pl_.Callback):
        def __init__(self) -> None:
            self.trainers: list[str] = []

        def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
            self.trainers.append(type(trainer).__module__)

    spy = Spy()
    result = train(make_mlp(), loader(), optimizer=sgd(0.05), loss_fn=F.cross_entropy, callbacks=[spy])
    assert result.global_step == 8 and spy.trainers == [f"{package}.trainer.trainer"]


def test_a_callback_monitoring_a_metric_train_never_logs_is_named_before_training():
    """EarlyStopping(monitor='val_acc') on a plain model failed after the first epoch had trained, with Lightning's
    "Early stopping conditioned on metric `val_acc` which is not available ... any of the following: ``"."""
    import importlib

    from lrfinder._lightning import installed_packages

    pl = importlib.import_module(installed_packages()[0])  # the one train gives a plain model
    model = make_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"^callbacks\[0\] \(EarlyStopping\) monitors 'val_acc', but train logs one "
                       r"metric for a plain model, 'val_loss', and only with val_data: use monitor='val_loss', or "
                       r"train a LightningModule whose steps log 'val_acc'\.$"):  # fmt: skip
        train(model, loader(), val_data=loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy,
              callbacks=[pl.callbacks.EarlyStopping(monitor="val_acc")])  # fmt: skip
    with pytest.raises(ValueError, match=r"monitors 'val_loss', .*, which was not given: pass val_data "):
        train(model, loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy,
              callbacks=[pl.callbacks.EarlyStopping(monitor="val_loss")])  # fmt: skip
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # nothing trained
    stop = pl.callbacks.EarlyStopping(monitor="val_loss", patience=0, min_delta=10.0)
    result = train(model, loader(), val_data=loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, epochs=5,
                   callbacks=[stop])  # fmt: skip
    assert len(result.epochs) < 5 and stop.stopped_epoch > 0


def test_a_model_checkpoint_keeping_the_latest_by_step_trains(tmp_path):
    """ModelCheckpoint(monitor='step', mode='max') keeps the latest checkpoints (Lightning adds 'step' and 'epoch' to
    the metrics it reads): it was refused as a metric train never logs."""
    from lrfinder._lightning import installed_packages

    pl_ = importlib.import_module(installed_packages()[0])  # the one train gives a plain model
    latest = pl_.callbacks.ModelCheckpoint(dirpath=tmp_path, monitor="step", mode="max", save_top_k=2)
    train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy, epochs=3, callbacks=[latest])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch=1-step=16.ckpt", "epoch=2-step=24.ckpt"]
    with pytest.raises(ValueError, match=r"\(EarlyStopping\) monitors 'step'"):  # EarlyStopping reads no 'step'
        train(make_mlp(), loader(), optimizer=sgd(0.1), loss_fn=F.cross_entropy,
              callbacks=[pl_.callbacks.EarlyStopping(monitor="step")])  # fmt: skip


def test_a_huge_number_of_epochs_starts_training_at_once():
    # The schedule's length was summed epoch by epoch before anything else: train(epochs=10**9) sat silent for
    # minutes (10**12 for hours) before its first batch. The accumulation is counted per change, not per epoch.
    import time

    class Stop(Exception):
        pass

    def stop(epoch: int, batch_index: int) -> None:
        raise Stop

    start = time.monotonic()
    with pytest.raises(Stop):
        train(make_mlp(), loader(n=64), optimizer=sgd(0.01), loss_fn=F.cross_entropy, epochs=10**9,
              scheduler="cosine", on_batch_end=stop)  # fmt: skip
    assert time.monotonic() - start < 60


def test_an_optimizer_given_built_or_by_name_is_told_to_be_a_function():
    # A built optimizer's message was its repr (a dozen lines of param-group settings); a name was 'sgd' alone.
    model = make_mlp()
    built = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError) as info:
        train(model, loader(n=64), optimizer=built, loss_fn=F.cross_entropy)  # type: ignore[arg-type]
    assert str(info.value) == (
        "Expected optimizer to be a function model -> optimizer, but got SGD(...), an optimizer already built: train "
        "builds the optimizer over the model it trains, when Lightning asks for it. Pass optimizer=lambda m: "
        "SGD(m.parameters(), lr=...) (or lambda m: lrfinder.create_optimizer('adamw', m, lr=...))."
    )
    with pytest.raises(TypeError, match=r"^Expected optimizer to be a function model -> optimizer, but got the name "
                       r"'sgd'\. Pass optimizer=lambda m: lrfinder\.create_optimizer\('sgd', m, lr=\.\.\.\)\.$"):
        train(model, loader(n=64), optimizer="sgd", loss_fn=F.cross_entropy)  # type: ignore[arg-type]


def _ranks_worker(rank: int, init: str, out: str) -> None:
    """Two gloo ranks, as torchrun starts them: train() on a plain model, then on the same model wrapped in DDP."""
    import json
    from pathlib import Path

    from _spawn import join_gloo, ranked_regression

    join_gloo(rank, init, 2)
    record: dict[str, Any] = {}
    for wrapped in (False, True):
        torch.manual_seed(0)
        net = nn.Linear(10, 1)
        model = nn.parallel.DistributedDataParallel(net) if wrapped else net
        _, data = ranked_regression(rank, 2, noise=3.0)  # each rank its own shard (DistributedSampler)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train(model, data, optimizer=sgd(0.05), loss_fn=F.mse_loss)
        record["ddp" if wrapped else "plain"] = {
            "said": [str(w.message) for w in caught if "process group" in str(w.message)],
            "where": [w.filename for w in caught if "process group" in str(w.message)],
            "weight": net.weight.detach().flatten().tolist(),
        }
    Path(out, f"rank{rank}.json").write_text(json.dumps(record))
    torch.distributed.barrier()  # every rank's record is written (see _spawn.spawn_ranks)
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_ranks_training_a_plain_model_each_on_its_own_are_warned_once(tmp_path) -> None:
    """Under torchrun, train() on a plain model trained each rank's own copy on its own data without a word (the
    ranks ended as different models); a DistributedDataParallel model trains as one, and is not warned about."""
    from _spawn import spawn_ranks

    ranks = spawn_ranks(_ranks_worker, tmp_path, 2, 180)
    assert ranks[0]["plain"]["said"] == [
        "train() runs on this process alone, in a process group of 2 ranks, and Linear is not wrapped in "
        "DistributedDataParallel or FSDP: nothing is averaged between the ranks, so where the other ranks call "
        "train() too, each trains its own copy on its own data, and they end as 2 different models. To train one "
        "model over the ranks, wrap the model, train(DistributedDataParallel(model), ...), whose backward averages "
        "the gradients over the ranks (as range_test takes it); to train on one rank, call train() there alone."
    ]
    assert ranks[0]["plain"]["where"] == [__file__]
    assert ranks[1]["plain"]["said"] == []  # rank zero's alone
    assert ranks[0]["plain"]["weight"] != ranks[1]["plain"]["weight"]  # what the warning says
    assert ranks[0]["ddp"]["said"] == ranks[1]["ddp"]["said"] == []
    assert ranks[0]["ddp"]["weight"] == ranks[1]["ddp"]["weight"]


@pytest.mark.parametrize("where", ["train_data", "val_data"])
def test_a_later_batch_with_a_class_label_out_of_range_is_named(where: str) -> None:
    """A rare class met after the first batch (same shapes and dtypes) failed with torch's bare "Target 9 is out of
    bounds." from inside Lightning's loop (fuzz round 9)."""
    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(8, 10, generator=gen), torch.arange(8) % 3) for _ in range(4)]
    bad = [(x, y.clone()) for x, y in batches]
    bad[2][1][5] = 9
    train_data, val_data = (bad, batches) if where == "train_data" else (batches, bad)
    prefix = "" if where == "train_data" else "val_data: "
    pattern = (
        rf"^{prefix}Batch 2 of the pass does not go through the model and loss_fn \(IndexError: Target 9 is out of "
        r"bounds\.\), although the first batch did\..* The targets of this batch run from 0 to 9, .*labels up to 9 "
        r"need an output of at least 10 scores"
    )
    with pytest.raises(DataError, match=pattern):
        train(make_mlp(), train_data, val_data=val_data, optimizer=sgd(0.01), loss_fn=F.cross_entropy)


class _RecordsWithNone(torch.utils.data.Dataset):
    """Examples (x, label), but example 12 is None: a record the Dataset cannot read."""

    def __len__(self) -> int:
        return 64

    def __getitem__(self, i: int) -> Any:
        return None if i == 12 else (torch.randn(10), i % 3)


@pytest.mark.parametrize("where", ["train_data", "val_data"])
def test_an_example_the_default_collate_cannot_batch_is_named(where: str) -> None:
    """torch's bare "object of type 'NoneType' has no len()" came out of Lightning's loop (fuzz round 9)."""
    bad = DataLoader(_RecordsWithNone(), batch_size=8)
    train_data, val_data = (bad, loader(n=64)) if where == "train_data" else (loader(n=64), bad)
    pattern = (
        rf"^{where}: The DataLoader's default collate_fn could not put the examples of a batch into one batch "
        r"\(TypeError: object of type 'NoneType' has no len\(\)\): an example is None \(a Dataset that returns None "
        r"for a record it cannot read\)\. Drop such examples"
    )
    with pytest.raises(DataError, match=pattern):
        train(make_mlp(), train_data, val_data=val_data, optimizer=sgd(0.01), loss_fn=F.cross_entropy)


@pytest.mark.parametrize("where", ["train_data", "val_data"])
def test_a_dataloader_worker_that_dies_is_named_with_what_to_do(where: str) -> None:
    """torch's bare "DataLoader worker (pid(s) 123) exited unexpectedly" came out of Lightning's loop; range_test
    said which batch and what to do (45d8bd2)."""
    bad = DataLoader(WorkerCrashes(), batch_size=8, num_workers=1)
    train_data, val_data = (bad, loader(n=64)) if where == "train_data" else (loader(n=64), bad)
    model = make_mlp()
    before = copy.deepcopy(model.state_dict())
    pattern = (
        rf"^{where}: A DataLoader worker process exited while (a batch|batch 0 of the pass) was drawn \(pid \d+: "
        r"exit code 3; RuntimeError: DataLoader worker .*\): the Dataset's code in the worker crashed or was killed "
        r".* Draw the batches with num_workers=0 to see the error in this process\.$"
    )
    with pytest.raises(DataError, match=pattern):
        train(model, train_data, val_data=val_data, optimizer=sgd(0.01), loss_fn=F.cross_entropy)
    if where == "train_data":
        assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # the first batch never came
    # Its workers were shut down: torch's SIGCHLD handler, which runs this check, no longer raises for the dead one.
    torch._C._error_if_any_worker_fails()


def test_a_dataloader_worker_that_dies_during_a_step_is_named_with_what_to_do() -> None:
    """A worker that died while Lightning's loop stepped on the batch before (torch's SIGCHLD handler raising in
    the loss, not in the draw, the iterator nowhere in the traceback) came out as torch's bare "DataLoader worker
    (pid 123) exited unexpectedly with exit code 3": the worker is read from torch's words. With one worker and a
    prefetch of one, the worker draws batch k + 1 while the loop steps on batch k."""
    bad = DataLoader(WorkerCrashes(at=16, after=0.2), batch_size=8, num_workers=1, prefetch_factor=1)

    def slow_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        time.sleep(0.5)
        return F.cross_entropy(out, target)

    with pytest.raises(DataError, match=r"^train_data: " + WORKER_DIED + r"$"):
        train(make_mlp(), bad, val_data=loader(n=64), optimizer=sgd(0.01), loss_fn=slow_loss)



@pytest.mark.parametrize(("where", "workers"), [("train_data", 0), ("train_data", 2), ("val_data", 0)])
def test_a_datasets_example_that_fails_is_named_with_the_dataset_and_what_to_do(where: str, workers: int) -> None:
    """Python's bare "KeyError: 20" came out of Lightning's loop (from a worker, its whole traceback as text), and
    of train's check of val_data's first batch; range_test names the Dataset and the example."""
    bad = DataLoader(MissingRecords(64, missing={5 if where == "val_data" else 20}), batch_size=8, num_workers=workers)
    train_data, val_data = (bad, loader(n=64)) if where == "train_data" else (loader(n=64), bad)
    which = "an example in DataLoader worker process \\d, which does not say which example" if workers else "example"
    pattern = (
        rf"^The Dataset MissingRecords in {where} failed on {which}( \d+)?: KeyError: (5|20)\. Fix its __getitem__ "
        r"for that example, or leave the example out"
    )
    before = set(multiprocessing.active_children())
    with pytest.raises(DataError, match=pattern) as info:
        train(make_mlp(), train_data, val_data=val_data, optimizer=sgd(0.01), loss_fn=F.cross_entropy)
    assert isinstance(info.value.__cause__, KeyError)
    if not workers:
        assert f"failed on example {5 if where == 'val_data' else 20}: KeyError" in str(info.value)
    # The error keeps the loader's iterator (in its cause's traceback): its workers lived on until the garbage
    # collector took it, torch's shutdown then waiting 5 s on each. They have exited already.
    assert set(multiprocessing.active_children()) <= before


def test_val_datas_first_batch_the_default_collate_cannot_batch_is_named() -> None:
    """train's check of val_data's first batch, before the fit, drew it itself: torch's bare error came out there."""
    bad = DataLoader(_RecordsWithNone(), batch_size=16)  # example 12 is in the first batch
    pattern = (
        r"^val_data: The DataLoader's default collate_fn could not put the examples of batch 0 of the pass into one "
        r"batch \(TypeError: object of type 'NoneType' has no len\(\)\): an example is None"
    )
    with pytest.raises(DataError, match=pattern):
        train(make_mlp(), loader(n=64), val_data=bad, optimizer=sgd(0.01), loss_fn=F.cross_entropy)


@pytest.mark.parametrize("loss_fn", [F.nll_loss, torch.nn.NLLLoss()])
def test_an_nll_loss_fed_raw_logits_in_training_is_warned_of(loss_fn: Any) -> None:
    """range_test warned of NLLLoss over raw logits (minus the target's logit, falling without bound); train trained
    on it without a word, its loss falling below 0 epoch after epoch."""
    with pytest.warns(UserWarning) as record:
        result = train(make_mlp(), loader(), epochs=2, optimizer=sgd(0.1), loss_fn=loss_fn)
    said = [str(w.message) for w in record if "negative log-likelihood" in str(w.message)]
    assert len(said) == 1, said
    assert re.fullmatch(
        r"The loss went negative \(down to -\S+\), which a negative log-likelihood never is: NLLLoss/nll_loss expects "
        r"its input as log-probabilities .* has no lower bound and only falls, so training drove it down without "
        r"fitting the targets' probabilities\. Use cross_entropy, which takes raw logits \(lrfind: --loss "
        r"cross_entropy\), or take log_softmax of the output: .*",
        said[0],
    )
    assert result.epochs[-1].train_loss < 0
    # Over log-probabilities, as the message says: no warning.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(make_mlp(), loader(), epochs=2, optimizer=sgd(0.1),
              loss_fn=lambda out, y: F.nll_loss(F.log_softmax(out, dim=1), y))  # fmt: skip
    assert not [w for w in caught if "negative log-likelihood" in str(w.message)]


class _GaussianNLLNet(pl.LightningModule):
    """A LightningModule whose own loss, a Gaussian negative log-likelihood, goes below 0 as it fits."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(4, 2)

    def training_step(self, batch, batch_idx):
        x, y = batch
        out = self.net(x)
        return F.gaussian_nll_loss(out[:, 0], y, out[:, 1].exp())


def test_a_lightning_modules_own_negative_loss_is_not_blamed_on_an_unused_nll_loss_fn() -> None:
    """train ignores loss_fn for a LightningModule (its training_step is the loss), yet warned that loss_fn=F.nll_loss
    was fed raw logits when the module's own Gaussian NLL (a density, legitimately below 0) went negative."""
    x = torch.randn(256, 4)
    data = DataLoader(torch.utils.data.TensorDataset(x, 0.1 * x[:, 0] + 0.01 * torch.randn(256)), batch_size=32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(_GaussianNLLNet(), data, epochs=3, optimizer=lambda m: torch.optim.Adam(m.parameters(), lr=0.02),
                       loss_fn=F.nll_loss)  # fmt: skip
    assert result.epochs[-1].train_loss < 0
    assert not [w for w in caught if "negative log-likelihood" in str(w.message)]


HANGUP_TRAINER = """
import os, signal, sys
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from lrfinder.training import train

data = DataLoader(TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,))), batch_size=8)
hang_up = lambda epoch, batch: batch == 2 and os.kill(os.getpid(), signal.SIGHUP)
train(torch.nn.Linear(4, 2), data, optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
      loss_fn=F.cross_entropy, on_batch_end=hang_up)
"""


@pytest.mark.slow
def test_a_hangup_during_training_leaves_no_temporary_directory(tmp_path):
    """The Trainer's root directory (a temporary one) outlived a SIGHUP: the process ended at once, without cleanup."""
    import subprocess
    import sys

    from _signals import default_signals

    temp = tmp_path / "temp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    proc = subprocess.run(
        [sys.executable, "-c", HANGUP_TRAINER], env=env, capture_output=True, timeout=300, preexec_fn=default_signals
    )
    assert proc.returncode == -signal.SIGHUP, proc.stderr.decode()[-2000:]  # still ends as the hangup would
    assert list(temp.iterdir()) == []
