"""Batch-size scaling: find the LR with a cheap small-batch test, train with a large batch.

    python examples/batch_size_scaling.py

The range test runs at batch 32 (cheap: 100 small steps); training runs at batch 512. The LR
found at 32 is carried to 512 with :func:`lrfinder.scale_lr` (``rule="auto"``: linear for
SGD-family optimizers, sqrt for adaptive ones; warm-up advised when scaling up a lot). The
script then trains the same number of epochs at batch 512 with the unscaled and with the scaled
LR.

What to look at: the scaled LR, the rule used and whether it was capped (the linear rule
saturates: a x16 batch rarely takes a x16 LR, and the test's divergence point bounds it), and
the validation loss after training with each LR.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lrfinder

SMALL, LARGE = 32, 512


def make_data(n: int, seed: int) -> TensorDataset:
    gen = torch.Generator().manual_seed(123)  # the same teacher for train and validation
    w = torch.randn(20, 4, generator=gen)
    data_gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 20, generator=data_gen)
    return TensorDataset(x, (x @ w).argmax(dim=1))


def build() -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 128), nn.ReLU(), nn.Linear(128, 4))
    return model, torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)


def loader(data: TensorDataset, batch_size: int) -> DataLoader:
    return DataLoader(data, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(1))


def train(data: TensorDataset, val: TensorDataset, lr: float, epochs: int, warmup_epochs: int = 0) -> float:
    model, opt = build()
    batches = loader(data, LARGE)
    total = epochs * len(batches)
    warmup = warmup_epochs * len(batches)
    # Linear warm-up (Goyal et al.) then constant.
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, (t + 1) / warmup) if warmup else 1.0)
    for g in opt.param_groups:
        g["lr"] = lr
        g["initial_lr"] = lr
    sched.base_lrs = [lr for _ in opt.param_groups]
    step = 0
    for _ in range(epochs):
        for x, y in batches:
            loss = F.cross_entropy(model(x), y)
            if not torch.isfinite(loss):
                return float("inf")
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
    assert step == total
    model.eval()
    with torch.no_grad():
        return float(F.cross_entropy(model(val.tensors[0]), val.tensors[1]))


def main() -> None:
    data, val = make_data(8192, seed=0), make_data(2048, seed=1)

    model, opt = build()
    small = lrfinder.range_test(model, loader(data, SMALL), optimizer=opt, loss_fn=F.cross_entropy)
    if small.suggestion is None:
        print(f"inconclusive at batch {SMALL}: {small.error}")
        return
    found = small.suggestion.lr
    print(f"range test at batch {SMALL}: lr={found:.2e} (confidence {small.suggestion.confidence:.2f})")

    # cap=True: the linear rule saturates at large batches, so never go past the divergence point
    # the test saw (without cap, a scaled LR past it comes with a warning instead).
    scaled = lrfinder.scale_lr(found, from_batch_size=SMALL, to_batch_size=LARGE, rule="auto", optimizer=opt,
                               divergence_lr=small.suggestion.divergence_lr, cap=True)
    print(f"scaled to batch {LARGE}: lr={scaled.lr:.2e} ({scaled.reason}, factor x{scaled.factor:.3g}"
          f"{', capped at the divergence point' if scaled.capped else ''}); "
          f"advised warm-up: {scaled.warmup_epochs} epoch(s)")

    # A short run, where the LR decides how far training gets. (The advised warm-up is meant for
    # a full-length run; this 2-epoch demo trains without one.)
    epochs = 2
    print(f"\ntraining {epochs} epochs at batch {LARGE}, validation loss:")
    results = {
        f"unscaled lr {found:.2e}": train(data, val, found, epochs),
        f"scaled lr {scaled.lr:.2e}": train(data, val, scaled.lr, epochs),
    }
    for name, value in results.items():
        print(f"  {name:<34s} {value:.4f}")


if __name__ == "__main__":
    main()
