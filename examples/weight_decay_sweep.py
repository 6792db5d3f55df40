"""Smith's weight-decay test: one range test per weight decay, curves overlaid, one recommended.

    python examples/weight_decay_sweep.py

Smith (2018, "A disciplined approach to neural network hyper-parameters") runs the LR range test
for a few weight decays (0, 1e-3, 1e-2 and 1e-1 here) and compares the curves: the value whose curve
reaches the lowest loss, or stays stable up to the largest LR, is the one to train with.
:func:`lrfinder.sweeps.weight_decay_sweep` runs the tests, each from the same initial model,
optimizer, RNG and data-order state; :func:`lrfinder.sweeps.recommend_weight_decay` applies the
rule documented there (lowest minimum; ties within 5% of the fall go to the widest stable range,
then to the larger weight decay). The same test from the shell::

    lrfind run model.pt --data train.npz --optimizer momentum --weight-decay 0,1e-3,1e-2,1e-1

What to look at: the table (suggested LR, minimum of the smoothed loss and the LR where it is
reached, the LR each curve stays stable to), the recommendation and its reason, and
``weight_decay_sweep.png``, where the curves overlay with a legend and the recommended one has a
halo and its suggested LR written on the plot.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lrfinder
from lrfinder.sweeps import format_weight_decay, recommend_weight_decay, weight_decay_sweep

WEIGHT_DECAYS = (0.0, 1e-3, 1e-2, 1e-1)


def main() -> None:
    # A small problem with a known answer (labels from a random linear teacher) and a wide model.
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1024, 20, generator=gen)
    y = (x @ torch.randn(20, 4, generator=gen)).argmax(dim=1)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(1))

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 4))

    results = weight_decay_sweep(
        model,
        loader,
        WEIGHT_DECAYS,
        make_optimizer=lambda m, wd: lrfinder.create_optimizer("momentum", m, lr=1e-7, weight_decay=wd),
        loss_fn=F.cross_entropy,
        min_lr=1e-5,
        max_lr=10.0,
        num_steps=100,
    )
    choice = recommend_weight_decay(results, WEIGHT_DECAYS)

    print(f"{'weight decay':<14}{'suggested lr':<14}{'min loss':<10}{'at lr':<11}{'stable to':<11}")
    for i, (wd, r) in enumerate(zip(WEIGHT_DECAYS, results)):
        s = r.suggestion
        if s is None:
            print(f"{format_weight_decay(wd):<14}inconclusive: {r.error}")
            continue
        min_loss = min(v for v in s.smoothed_losses if v == v)
        stable = s.divergence_lr if s.divergence_lr is not None else r.lrs[-1]
        mark = "  <- recommended" if i == choice.index else ""
        print(f"{format_weight_decay(wd):<14}{s.lr:<14.2e}{min_loss:<10.4f}{s.min_loss_lr:<11.2e}{stable:<11.2e}{mark}")
    print(f"recommended weight decay: {format_weight_decay(choice.weight_decay)} ({choice.reason})")
    best = results[choice.index].suggestion
    if best is not None:
        print(f"train with lr {best.lr:.2e}, weight_decay {format_weight_decay(choice.weight_decay)}")

    path = lrfinder.save_report(results, "weight_decay_sweep.png", highlight=choice.index)
    print(f"look at {path}")


if __name__ == "__main__":
    main()
