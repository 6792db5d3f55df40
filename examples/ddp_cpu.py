"""LRFinder under DDP on CPU: two processes (gloo), one ``fit`` call.

    python examples/ddp_cpu.py

Lightning re-launches this script once per extra process (``strategy="ddp"``), so everything
runs under ``if __name__ == "__main__"``. Each rank trains on its own shard of the data.

What to look at:

* every rank prints the same ``suggested lr`` and the same number of steps: the loss of each
  test step is the mean over the ranks (all-reduced), so they all stop at the same step;
* ``rank 0 loss`` / ``rank 1 loss`` at the first steps, and the recorded (mean) loss between
  them;
* the effective batch size 32 per device x 2 devices = 64 in the result;
* the critical batch (gradient noise scale), measured for free: each rank's own gradient of its
  32 examples against the all-reduced gradient of 64, on every step up to the loss minimum
  (``source ranks``); every rank gets the same value;
* ``ddp_report.png`` is written once, by rank zero.
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from lrfinder import LRFinder


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-3) -> None:
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 4))
        self.phase = "test"
        # This rank's own losses during the range test. The leading underscore keeps the callback's
        # restore from putting the list back to [] after the test, as it does a public attribute.
        self._test_losses: list[float] = []

    def on_train_batch_start(self, batch: object, batch_idx: int) -> None:
        self.phase = "train"

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        if self.phase == "test":
            self._test_losses.append(float(loss.detach()))
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


def main() -> None:
    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4096, 20, generator=gen)
    y = (x @ torch.randn(20, 4, generator=gen)).argmax(dim=1)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)

    finder = LRFinder(min_lr=1e-4, max_lr=10.0, num_steps=80, report="ddp_report.png", noise_scale=True)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_epochs=1,
        callbacks=[finder],
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,
    )
    model = Classifier()
    trainer.fit(model, loader)

    result = finder.result
    assert result is not None
    rank = trainer.global_rank
    # Gather each rank's own first losses to show the mean that the test recorded.
    mine = torch.tensor(model._test_losses[:3], dtype=torch.float64)
    both = [torch.zeros_like(mine) for _ in range(trainer.world_size)]
    dist.all_gather(both, mine)
    lr = f"{result.suggestion.lr:.3e}" if result.suggestion is not None else "none (inconclusive)"
    print(
        f"[rank {rank}] steps run {result.num_steps} ({result.stop_reason}), effective batch {result.batch_size}, "
        f"suggested lr {lr}, training lr {model.lr:.3e}",
        flush=True,
    )
    noise = result.noise_scale.summary() if result.noise_scale is not None else f"not measured: {result.noise_error}"
    print(f"[rank {rank}] {noise}", flush=True)
    if trainer.is_global_zero:
        for i in range(len(mine)):
            per_rank = ", ".join(f"rank {r} loss {both[r][i].item():.4f}" for r in range(len(both)))
            print(f"step {i}: {per_rank} -> recorded (mean) {result.losses[i]:.4f}")
        print(f"report written by rank zero: {Path('ddp_report.png').resolve()}")
    # Leave together and close the process group: a rank that exits while the other still works
    # can make gloo abort the other at interpreter exit.
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
