"""The README's Python examples run as written, on a small model and generated data."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def _namespace() -> dict[str, object]:
    """What the examples take as given: a model, its loaders, a loss, an optimizer."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(768, 10, generator=gen)
    y = (x @ torch.randn(10, 3, generator=gen)).argmax(1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
    train_loader = DataLoader(TensorDataset(x[:640], y[:640]), batch_size=32, shuffle=True,
                              generator=torch.Generator().manual_seed(1))
    return {
        "model": model,
        "train_loader": train_loader,
        "loader": train_loader,
        "val_loader": DataLoader(TensorDataset(x[640:], y[640:]), batch_size=32),
        "loss_fn": F.cross_entropy,
        "opt": torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9),
        "epochs": 3,
    }


def test_the_python_examples_run_in_order() -> None:
    blocks = _python_blocks()
    # The Lightning example elides its network and training_step (``...``); test_callback*.py run
    # real LightningModules through the same callback options.
    runnable = [b for b in blocks if "L.LightningModule" not in b]
    assert len(blocks) - len(runnable) == 1 and len(runnable) >= 4
    ns = _namespace()
    for block in runnable:
        # The refinement example plans 5,000 training steps: its trials would be 10% of them.
        code = block.replace("training_steps=5000", "training_steps=600")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(code, str(README), "exec"), ns)  # noqa: S102 - our own README
    assert ns["result"].suggestion is not None  # type: ignore[attr-defined]
    assert 0 < ns["scaled"].lr  # type: ignore[attr-defined]
    assert callable(ns["configure_optimizers"])
    assert ns["sched"].get_last_lr()  # type: ignore[attr-defined]
    # lrfinder.train, the loop behind lrfind fit, as the README shows it from Python.
    assert len(ns["history"].epochs) == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("block", range(len(_python_blocks())))
def test_each_example_is_valid_python(block: int) -> None:
    compile(_python_blocks()[block], str(README), "exec")


def test_tables_are_not_broken_across_lines() -> None:
    """A Markdown table ends at the first line that is not a row: a cell wrapped onto a new line
    leaves the rest of the table unrendered (it happened to range_test's argument table)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    in_code = False
    for number, (line, following) in enumerate(zip(lines, lines[1:]), start=1):
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("|"):
            continue
        assert following.startswith("|") or not following.strip(), (
            f"README.md:{number + 1} continues the table row above it on a new line; keep each row on one line"
        )
