"""The built-in demo problem of ``lrfind demo``: a small MLP on a generated classification task.

Nothing is downloaded: the data are drawn with a fixed seed from a random "teacher" network,
so the demo is the same on every machine and runs in a few seconds on a laptop CPU.

* :func:`make_demo_data`: ``(x, y)`` tensors, ``x`` of shape ``(n, 20)``, ``y`` in ``0..3``
  (the argmax of a random two-layer teacher network plus a little label noise);
* :func:`make_demo_model`: ``Linear(20, 64) - ReLU - Linear(64, 64) - ReLU - Linear(64, 4)``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DEMO_FEATURES", "DEMO_CLASSES", "DemoMLP", "make_demo_data", "make_demo_model"]

#: Input features of the demo problem.
DEMO_FEATURES = 20
#: Classes of the demo problem.
DEMO_CLASSES = 4


def make_demo_data(n: int = 4096, *, seed: int = 0, label_noise: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate the demo classification data.

    Args:
        n: Number of samples.
        seed: Seed of the generator (the same seed always gives the same data).
        label_noise: Fraction of labels replaced by random classes, so the loss cannot reach 0.

    Returns:
        ``(x, y)``: float32 inputs of shape ``(n, 20)`` and int64 labels of shape ``(n,)``.

    Raises:
        ValueError: ``n < 1`` or ``label_noise`` outside ``[0, 1]``.

    """
    if n < 1:
        raise ValueError(f"Expected n >= 1, but got n={n}")
    if not 0.0 <= label_noise <= 1.0:
        raise ValueError(f"Expected 0 <= label_noise <= 1, but got label_noise={label_noise}")
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, DEMO_FEATURES, generator=gen)
    w1 = torch.randn(DEMO_FEATURES, 32, generator=gen) / DEMO_FEATURES**0.5
    w2 = torch.randn(32, DEMO_CLASSES, generator=gen) / 32**0.5
    y = (torch.tanh(x @ w1) @ w2).argmax(dim=1)
    flip = torch.rand(n, generator=gen) < label_noise
    y[flip] = torch.randint(0, DEMO_CLASSES, (int(flip.sum()),), generator=gen)
    return x, y


class DemoMLP(nn.Sequential):
    """The demo model: a three-layer perceptron for :func:`make_demo_data`."""

    def __init__(self, features: int = DEMO_FEATURES, classes: int = DEMO_CLASSES, hidden: int = 64) -> None:
        super().__init__(
            nn.Linear(features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, classes),
        )


def make_demo_model(*, seed: int = 0) -> DemoMLP:
    """Build the demo model with weights initialised from ``seed``.

    Returns:
        A :class:`DemoMLP` (5,764 trainable parameters).

    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return DemoMLP()
