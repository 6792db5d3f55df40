"""Plain PyTorch: run the LR range test on a model and read the suggestion.

    python examples/plain_range_test.py

What to look at: the suggested ``lr`` (for a constant LR), the one-cycle bounds
``min_lr``/``max_lr``, the divergence point, the confidence and its notes. The model, the
optimizer and the data order are restored afterwards, so training starts from the same state
as it would have without the test.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lrfinder


def make_data(n: int = 2048, features: int = 20, classes: int = 4, seed: int = 0) -> TensorDataset:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=gen)
    w = torch.randn(features, classes, generator=gen)
    y = (x @ w + 0.5 * torch.randn(n, classes, generator=gen)).argmax(dim=1)
    return TensorDataset(x, y)


def main() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = DataLoader(make_data(), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(1))
    before = [p.detach().clone() for p in model.parameters()]

    result = lrfinder.range_test(model, loader, optimizer=optimizer, loss_fn=F.cross_entropy)

    # In the words of lrfind's summary: "stopped: diverged at lr=...", or what "completed" means for the stop rule.
    print(f"steps run: {result.num_steps}/{result.settings.num_steps} ({result.stop_words})")
    s = result.suggestion
    if s is None:
        print(f"inconclusive: {result.error}")
        return
    print(f"suggested lr ({s.rule}): {s.lr:.2e}")
    print(f"  steepest descent at     {s.steepest_lr:.2e}")
    print(f"  minimum of the loss at  {s.min_loss_lr:.2e}")
    print(f"  diverges from           {s.divergence_lr:.2e}" if s.divergence_lr else "  no divergence seen")
    print(f"one-cycle: max_lr={s.max_lr:.2e}, min_lr={s.min_lr:.2e}")
    print(f"confidence: {s.confidence:.2f}" + (f" ({'; '.join(s.notes)})" if s.notes else ""))
    restored = all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    print(f"model restored after the test: {restored}; optimizer lr still {optimizer.param_groups[0]['lr']:.2e}")

    # Train with it: set the LR on the optimizer and go.
    for group in optimizer.param_groups:
        group["lr"] = s.lr
    model.train()
    for epoch in range(3):
        total = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
        print(f"epoch {epoch}: train loss {total / len(loader.dataset):.4f}")


if __name__ == "__main__":
    main()
