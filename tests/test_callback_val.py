"""``LRFinder(curve="val")``: the loss on the fit's validation batches after every step of the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from _models import FAST, GAN, TINY_FIT_WARNINGS, Callback, Net, make_data, make_loader, pl, trainer, weights
from torch.utils.data import DataLoader, Sampler, TensorDataset

from lrfinder import DataError, ModelError, find_lr
from lrfinder._publishing import _describe
from lrfinder.callback import LRFinder
from lrfinder.report import _loss_label

pytestmark = [
    pytest.mark.usefixtures("seeded_one_thread"),
    pytest.mark.filterwarnings(*TINY_FIT_WARNINGS),
    pytest.mark.filterwarnings("ignore:.*sampler has shuffling enabled.*"),
    pytest.mark.filterwarnings("ignore:.*validation_step.*:UserWarning"),
    pytest.mark.filterwarnings("ignore:.*Encountered `nan` values.*"),
]


class ValNet(Net):
    """``Net`` with a validation step; every ``training_step`` call says how it ran and on which inputs."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Private: the test's restore puts back the module's public attributes.
        self._calls: list[tuple[str, bool, bool, bool, bool, torch.Tensor, float]] = []
        self._validated: list[torch.Tensor] = []  # the inputs validation_step got, in order

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        t = self.trainer
        self._calls.append(
            (self.phase, torch.is_grad_enabled(), self.training, t.validating, t.sanity_checking, batch[0].clone(),
             float(loss.detach()))
        )  # fmt: skip
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        self._validated.append(x.clone())
        loss = F.cross_entropy(self.head(self.body(x)), y)
        self.log("val_loss", loss)
        return loss


class Hooks(Callback):
    """Counts the validation hooks the fit runs."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self.seen.append("start")

    def on_validation_batch_end(self, trainer: Any, pl_module: Any, *args: Any, **kwargs: Any) -> None:
        self.seen.append("batch")


class Reshuffled(Sampler[int]):
    """A new order every pass, from a generator of its own: the order is part of what the test must put back."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.rng = torch.Generator().manual_seed(1)

    def __iter__(self) -> Iterator[int]:
        return iter(torch.randperm(self.n, generator=self.rng).tolist())

    def __len__(self) -> int:
        return self.n


def val_loader(n: int = 96) -> Any:
    return DataLoader(make_data(n), batch_size=32, sampler=Reshuffled(n))


def test_each_point_is_the_mean_training_step_loss_on_the_first_val_batches(tmp_path: Path) -> None:
    finder = LRFinder(**FAST, curve="val", val_batches=2)
    model = ValNet(lr=0.01)
    pl.seed_everything(3, verbose=False)
    trainer(tmp_path, [finder], max_steps=2).fit(model, make_loader(), make_loader(96, shuffle=False))
    result = finder.result
    assert result is not None and result.suggestion is not None
    assert result.settings.curve == "val" and result.to_dict()["settings"]["curve"] == "val"
    evals = [c for c in model._calls if c[0] == "test" and not c[1]]
    steps = [c for c in model._calls if c[0] == "test" and c[1]]
    n = len(result.losses)
    assert len(steps) == n and len(evals) == 2 * n  # two val batches after every step, no more
    first_two = make_loader(96, shuffle=False).dataset.tensors[0][:64]
    for i in range(n):
        pair = evals[2 * i : 2 * i + 2]
        assert torch.equal(torch.cat([pair[0][5], pair[1][5]]), first_two)  # the same first batches every step
        assert not pair[0][2] and not pair[1][2]  # eval mode
        assert result.losses[i] == pytest.approx((pair[0][6] + pair[1][6]) / 2, rel=1e-12)
    # The training loss is not what was recorded.
    assert [s[6] for s in steps] != pytest.approx(list(result.losses))
    # Neither flag of a validation loop is raised: the passes are the test's, not a validation.
    assert not any(c[3] or c[4] for c in model._calls if c[0] == "test")
    # The first training step runs in training mode, with gradients.
    assert [c[1:3] for c in model._calls if c[0] == "train"][0] == (True, True)
    assert _loss_label([result]) == "validation loss" and "on the validation loss" in _describe(result)


def _fit(root: Path, lr: float, finder: LRFinder | None) -> tuple[ValNet, Any, list[Any]]:
    pl.seed_everything(5, verbose=False)
    model = ValNet(lr=lr)
    hooks = Hooks()
    stop = pl.callbacks.EarlyStopping(monitor="val_loss", patience=1)
    ckpt = pl.callbacks.ModelCheckpoint(dirpath=root / "ckpt", monitor="val_loss")
    callbacks = [c for c in (finder, hooks, stop, ckpt) if c is not None]
    t = trainer(
        root, callbacks, max_steps=12, val_check_interval=4, check_val_every_n_epoch=None,
        enable_checkpointing=True, num_sanity_val_steps=1,
    )  # fmt: skip
    t.fit(model, make_loader(), val_loader())
    return model, t, [hooks.seen, stop.wait_count, float(stop.best_score), float(ckpt.best_model_score)]


def test_the_fit_after_the_val_curve_is_the_fit_with_its_lr_set_by_hand(tmp_path: Path) -> None:
    """Weights, val loader order, validation hooks, logged val_loss, EarlyStopping/ModelCheckpoint: as without it."""
    finder = LRFinder(**FAST, curve="val")
    model_a, t_a, seen_a = _fit(tmp_path / "a", 0.01, finder)
    assert finder.result is not None and finder.result.settings.curve == "val" and finder.applied_lr is not None
    # The loader's 3 batches (fewer than val_batches=8) after every step.
    assert sum(1 for c in model_a._calls if c[0] == "test" and not c[1]) == 3 * len(finder.result.losses)
    model_b, t_b, seen_b = _fit(tmp_path / "b", finder.applied_lr, None)
    wa, wb = weights(model_a), weights(model_b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa), "the fit after curve='val' differs from the fit without it"
    assert len(model_a._validated) == len(model_b._validated) > 0
    assert all(torch.equal(a, b) for a, b in zip(model_a._validated, model_b._validated))  # the val loader's order
    assert seen_a == seen_b and seen_a[0].count("start") >= 2  # the sanity check and the fit's, none of the test's
    assert t_a.callback_metrics["val_loss"].item() == t_b.callback_metrics["val_loss"].item()
    assert "val_loss" in t_a.logged_metrics
    assert t_a.should_stop == t_b.should_stop


class ValData(pl.LightningDataModule):
    """Validation data made by ``val_dataloader()``: from the global RNG, or shuffled by the loader's generator."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.order = torch.Generator().manual_seed(7)  # DataLoader(shuffle=True, generator=...): its order

    def train_dataloader(self) -> DataLoader:
        return make_loader(64, batch_size=16)

    def val_dataloader(self) -> DataLoader:
        x, y = make_data(64).tensors  # the training examples: the loss falls on them as the test trains
        if self.kind == "global_rng":  # noised by the global RNG
            return DataLoader(TensorDataset(x + 0.3 * torch.randn_like(x), y), batch_size=16)
        return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=self.order)


@pytest.mark.parametrize("kind", ["global_rng", "shuffled"])
@pytest.mark.parametrize(
    "validation",
    [
        {"num_sanity_val_steps": 0},
        {"num_sanity_val_steps": 2},
        {"val_check_interval": 0.5},
        {"check_val_every_n_epoch": 2},
    ],
    ids=["no-sanity-check", "sanity-check", "twice-an-epoch", "every-2-epochs"],
)
def test_the_fits_validation_is_that_of_the_fit_without_the_test(
    tmp_path: Path, kind: str, validation: dict[str, Any]
) -> None:
    """The same training losses and validation batches, in the same order, as the fit without LRFinder at its LR.

    With ``check_val_every_n_epoch=2`` and no sanity check, Lightning loads no validation loader before the first
    training batch; the test loaded it for good there, so ``val_dataloader()``'s draw from the global RNG moved the
    fit's training batches and its validation data. A loader's own generator (``shuffle=True, generator=g``) is put
    back by the test: the fit's first validation sees the order it would see without it.
    """

    def fit(lr: float, finder: LRFinder | None) -> tuple[ValNet, ValData]:
        pl.seed_everything(5, verbose=False)
        model, data = ValNet(lr=lr), ValData(kind)
        trainer(tmp_path, [finder] if finder else [], max_epochs=2, max_steps=-1, **validation).fit(
            model, datamodule=data
        )
        return model, data

    finder = LRFinder(num_steps=30, min_lr=1e-4, max_lr=10.0, curve="val", val_batches=2)
    with_test, data_a = fit(0.01, finder)
    assert finder.applied_lr is not None and with_test.lr == finder.applied_lr
    without, data_b = fit(with_test.lr, None)
    assert [s for s in with_test.steps if s[0] == "train"] == without.steps
    assert len(with_test._validated) == len(without._validated) >= 3
    assert all(torch.equal(a, b) for a, b in zip(with_test._validated, without._validated))
    assert torch.equal(data_a.order.get_state(), data_b.order.get_state())


class StageData(ValData):
    """Records the Trainer's stage each time ``val_dataloader()`` runs (a DataModule may build its loader by it)."""

    def __init__(self) -> None:
        super().__init__("shuffled")
        self.stages: list[tuple[bool, str | None]] = []

    def val_dataloader(self) -> DataLoader:
        stage = self.trainer.state.stage
        self.stages.append((self.trainer.validating, None if stage is None else stage.value))
        return super().val_dataloader()


def test_val_dataloader_loaded_for_the_test_runs_in_the_validating_stage(tmp_path: Path) -> None:
    """Loaded early for the test (no sanity check, the first epoch not validating), as Lightning loads it.

    ``val_dataloader()`` saw ``trainer.validating`` False and the stage "train" there, while every load of
    Lightning's own sees "validate": a DataModule that picks its split by the stage gave the test another loader.
    """
    data, model = StageData(), ValNet()
    finder = LRFinder(curve="val", val_batches=2, **FAST)
    t = trainer(tmp_path, [finder], max_epochs=2, max_steps=-1, check_val_every_n_epoch=2)
    t.fit(model, datamodule=data)
    assert finder.result is not None
    assert data.stages == [(True, "validate")] * 2  # the test's load, then the fit's own at its first validation
    # Training went on in the training stage: every training_step of the fit's saw trainer.validating False.
    assert [c[3] for c in model._calls if c[0] == "train"] == [False] * t.global_step


def test_a_fit_without_a_val_loader_is_refused_before_the_test(tmp_path: Path) -> None:
    model = ValNet(lr=0.01)
    before = weights(model)
    with pytest.raises(DataError, match=r"^LRFinder\(curve='val'\) records the loss on the fit's validation "
                       r"batches after every step, but this fit has no validation loader\. Provide one .*"
                       r"val_dataloaders=\.\.\..*or leave curve='train'\.$"):  # fmt: skip
        trainer(tmp_path, [LRFinder(**FAST, curve="val")]).fit(model, make_loader())
    after = weights(model)
    assert all(torch.equal(before[k], after[k]) for k in before) and not model._calls
    with pytest.raises(DataError, match=r"no validation loader \(limit_val_batches=0 turns it off\)"):
        trainer(tmp_path, [LRFinder(**FAST, curve="val")], limit_val_batches=0).fit(
            ValNet(lr=0.01), make_loader(), val_loader()
        )


def test_a_module_without_validation_step_is_told_why_its_val_loader_is_not_read(tmp_path: Path) -> None:
    # Lightning skips the loader passed in; "this fit has no validation loader" alone contradicted the call.
    match = (
        r"has no validation loader \(the module defines no validation_step, so Lightning skips any it is given\)\. "
        r"Define a validation_step and provide the loader"
    )
    with pytest.raises(DataError, match=match):
        trainer(tmp_path, [LRFinder(**FAST, curve="val")]).fit(Net(lr=0.01), make_loader(), val_loader())


def test_manual_optimization_is_refused_with_the_reason(tmp_path: Path) -> None:
    gan = GAN()
    with pytest.raises(ModelError, match=r"under manual optimization training_step runs its own backward and "
                       r"optimizer steps, so that loss cannot be read without training on those batches"):  # fmt: skip
        trainer(tmp_path, [LRFinder(**FAST, curve="val", monitor="g_loss")]).fit(gan, make_loader(), val_loader())
    assert not gan.events


def test_a_val_batch_holding_nan_is_a_data_error(tmp_path: Path) -> None:
    bad = make_loader(64, shuffle=False)
    bad.dataset.tensors[0][3, 2] = float("nan")
    with pytest.raises(DataError, match=r"^LRFinder\(curve='val'\): batch 0 of the fit's validation loader holds "):
        trainer(tmp_path, [LRFinder(**FAST, curve="val")]).fit(ValNet(lr=0.01), make_loader(), bad)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"curve": "validation"}, ValueError, r"Expected curve to be 'train' or 'val'.*Did you mean 'val'\?"),
        ({"val_batches": 4}, ValueError, r"^Expected curve='val' with val_batches=4, but got curve='train'"),
        ({"curve": "val", "val_batches": 0}, ValueError, r"^Expected val_batches to be an int >= 1, but got "),
        ({"curve": "val", "val_batches": True}, ValueError, r"val_batches=True"),
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        LRFinder(**kwargs)


def test_find_lr_takes_no_val_batches() -> None:
    # Its 'curve' is in test_callback.py's table of options the callback takes and find_lr does not.
    with pytest.raises(TypeError, match=r"^find_lr\(\) takes no 'val_batches': its fit validates nothing .*"
                       r"LRFinder\(curve='val'\)"):  # fmt: skip
        find_lr(Net(), make_loader(), val_batches=2)
