"""Lightning: find the learning rate at the start of ``fit`` and train with it, in one call.

    python examples/lightning_callback.py

What to look at:

* the "Finding LR" bar, then ``LRFinder: training with lr=...`` before the first epoch;
* the printed suggestion, its confidence, the one-cycle bounds and the batch-size scaling
  (the test runs with ``test_batch_size=32`` x 2 accumulation steps = an effective batch of 64,
  and the LR is moved to the training one, 64 x 2 = 128);
* the OneCycleLR schedule built in ``configure_optimizers`` from ``self.lr``: the callback sets
  ``self.lr`` to the cycle's peak, the suggestion's ``max_lr`` (the divergence LR / 5, scaled),
  and re-runs ``configure_optimizers``; ``training with lr=...`` prints that peak;
* ``import lightning as L`` works the same: ``LRFinder`` is a Callback of both packages;
* ``lr_report.png`` (the curve) and ``lightning_logs/.../lr_finder_curve.csv`` + ``metrics.csv``
  (``lr_finder/suggested_lr`` etc.) written next to where you run it;
* the validation accuracy at the end, against the module's default LR.
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import LearningRateMonitor
from pytorch_lightning.loggers import CSVLogger
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from lrfinder import LRFinder


class Data(pl.LightningDataModule):
    def __init__(self, batch_size: int = 64) -> None:
        super().__init__()
        self.batch_size = batch_size
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(4096, 20, generator=gen)
        w = torch.randn(20, 4, generator=gen)
        y = (x @ w + 0.5 * torch.randn(4096, 4, generator=gen)).argmax(dim=1)
        self.train_set = TensorDataset(x[:3584], y[:3584])
        self.val_set = TensorDataset(x[3584:], y[3584:])

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=256)


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-3, epochs: int = 3) -> None:
        super().__init__()
        self.lr = lr  # the callback finds this attribute and sets it
        self.epochs = epochs
        self.net = nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 4))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.log("val_acc", (self.net(x).argmax(dim=1) == y).float().mean())

    def configure_optimizers(self) -> dict:
        opt = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9, nesterov=True)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=self.lr, total_steps=int(self.trainer.estimated_stepping_batches)
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def fit(with_finder: bool) -> tuple[float, LRFinder | None]:
    pl.seed_everything(0, verbose=False)
    finder = LRFinder(min_lr=1e-4, max_lr=10.0, num_steps=100, test_batch_size=32, report="lr_report.png")
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=3,
        accumulate_grad_batches=2,
        callbacks=([finder] if with_finder else []) + [LearningRateMonitor("step")],
        logger=CSVLogger(".", name="lightning_logs"),
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=with_finder,
    )
    model = Classifier()
    trainer.fit(model, datamodule=Data())
    return float(trainer.callback_metrics["val_acc"]), finder if with_finder else None


def main() -> None:
    torch.set_num_threads(1)  # a tiny model: one thread is fastest
    accuracy, finder = fit(with_finder=True)
    assert finder is not None and finder.result is not None
    result = finder.result
    print()
    print(f"steps run: {result.num_steps} of {result.settings.num_steps} ({result.stop_reason})")
    if result.suggestion is None:
        print(f"inconclusive: {result.error}; the module kept its own LR")
    else:
        s = result.suggestion
        print(f"suggested lr: {s.lr:.2e} (rule {s.rule}, confidence {s.confidence:.2f})")
        div = f"{s.divergence_lr:.2e}" if s.divergence_lr is not None else "not reached"
        print(f"one-cycle bounds: min_lr={s.min_lr:.2e}, max_lr={s.max_lr:.2e}; divergence at {div}")
        for note in s.notes:
            print(f"  note: {note}")
    if result.scaled is not None:
        sc = result.scaled
        print(
            f"scaled {sc.rule} x{sc.factor:.2f} from batch {sc.from_batch_size} to {sc.to_batch_size}: "
            f"training lr {sc.lr:.2e}" + (f" ({sc.warning})" if sc.warning else "")
        )
    if finder.applied_lr is not None:
        print(f"applied: self.lr = {finder.applied_lr:.2e} (the OneCycleLR peak: the suggestion's max_lr, scaled)")
    print(f"val accuracy with the found LR: {accuracy:.3f}")
    baseline, _ = fit(with_finder=False)
    print(f"val accuracy with the default lr=1e-3: {baseline:.3f}")
    print(f"report: {Path('lr_report.png').resolve()}")
    curves = sorted(Path("lightning_logs").rglob("lr_finder_curve.csv"))
    if curves:
        print(f"curve table: {curves[0].resolve()}")


if __name__ == "__main__":
    main()
