"""range_test on a model, optimizer and loader set up by Lightning Fabric (``fabric.setup``), on CPU.

Under both copies of Fabric: ``lightning.fabric`` (``pip install lightning``) and the standalone
``lightning_fabric`` that ``pytorch_lightning`` installs. The DDP test runs 2 gloo processes
through Fabric's own ``ddp_spawn`` launcher; each rank writes what it saw to a JSON file.
"""

from __future__ import annotations

import importlib
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrfinder
from lrfinder.exceptions import ModelError

FABRICS = ["lightning.fabric", "lightning_fabric"]


def _fabric(package: str, **kwargs: Any) -> Any:
    return importlib.import_module(package).Fabric(accelerator="cpu", **kwargs)


def _data() -> TensorDataset:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(256, 10, generator=gen)
    return TensorDataset(x, (x @ torch.randn(10, 3, generator=gen)).argmax(dim=1))


def _setup(fabric: Any, shuffle: bool = True) -> tuple[Any, Any, Any]:
    """The user's Fabric loop's objects: a model with dropout, SGD with momentum, a shuffled loader."""
    fabric.seed_everything(0, verbose=False)
    net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 3))
    model, optimizer = fabric.setup(net, torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9))
    loader = fabric.setup_dataloaders(DataLoader(_data(), batch_size=32, shuffle=shuffle))
    return model, optimizer, loader


def _train(fabric: Any, model: Any, optimizer: Any, loader: Any, lr: float) -> tuple[list[float], list[torch.Tensor]]:
    """One epoch of the Fabric loop at ``lr``: the losses and the trained weights."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    losses = []
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        fabric.backward(loss)
        optimizer.step()
        losses.append(loss.item())
    return losses, [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("package", FABRICS)
def test_fabric_wrapped_objects_are_tested_and_put_back(package: str) -> None:
    """The README's Fabric example: the test, then the Fabric loop at its LR, as a loop at that LR alone."""
    fabric = _fabric(package, devices=1)
    model, optimizer, loader = _setup(fabric)
    result = lrfinder.range_test(model, loader, optimizer=optimizer, loss_fn=F.cross_entropy, num_steps=40)
    assert result.lr is not None and result.stop_reason in ("completed", "diverged")
    assert result.model_name == "Sequential" and result.batch_size == 32  # the user's class, not Fabric's wrapper
    assert optimizer.param_groups[0]["lr"] == 0.01 and not optimizer.state  # the LR and momentum put back
    losses, weights = _train(fabric, model, optimizer, loader, result.lr)

    fabric = _fabric(package, devices=1)
    alone_losses, alone_weights = _train(fabric, *_setup(fabric), result.lr)
    assert losses == alone_losses  # the same shuffled batches and dropout masks
    assert all(torch.equal(a, b) for a, b in zip(weights, alone_weights))


@pytest.mark.parametrize("package", FABRICS)
def test_a_fabric_tests_optimizer_is_named_as_the_users(package: str) -> None:
    """The report's header and the result said "optimizer FabricSGD" (the class fabric.setup's wrapper takes)."""
    import matplotlib.pyplot as plt

    fabric = _fabric(package, devices=1)
    model, optimizer, loader = _setup(fabric)
    assert type(optimizer).__name__ == "FabricSGD"
    result = lrfinder.range_test(model, loader, optimizer=optimizer, loss_fn=F.cross_entropy, num_steps=40)
    assert result.optimizer_name == "SGD" and result.model_name == "Sequential"
    assert lrfinder.RangeTestResult.from_json(result.to_json()).optimizer_name == "SGD"
    fig = lrfinder.plot_range_test(result)
    texts = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text") and callable(a.get_text)))
    plt.close(fig)
    assert "optimizer SGD " in " ".join(texts.split()) and "Fabric" not in texts


@pytest.mark.parametrize("package", FABRICS)
@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("maximize", "but param group 0 of SGD has maximize=True"),
        ("lr as text", "but group 0 of SGD has lr='1e-3'"),
        ("lbfgs", "but LBFGS.step(closure) needs one"),
        ("rprop", "but Rprop reads lr once"),
        ("sparse", "AdamW.step() failed on the range test's first step"),
        ("cycle momentum", "but Adagrad has neither"),
    ],
)
def test_messages_on_a_fabric_optimizer_name_the_users_class(package: str, case: str, says: str) -> None:
    """They named the class Fabric's wrapper takes (FabricSGD, FabricLBFGS, ...), which the user never wrote."""
    fabric = _fabric(package, devices=1)
    fabric.seed_everything(0, verbose=False)
    net: nn.Module = nn.Embedding(10, 3, sparse=True) if case == "sparse" else nn.Linear(10, 3)
    build = {
        "maximize": lambda: torch.optim.SGD(net.parameters(), lr=0.01, maximize=True),
        "lr as text": lambda: torch.optim.SGD([{"params": net.parameters(), "lr": "1e-3"}], lr=0.01),
        "lbfgs": lambda: torch.optim.LBFGS(net.parameters()),
        "rprop": lambda: torch.optim.Rprop(net.parameters()),
        "sparse": lambda: torch.optim.AdamW(net.parameters(), lr=0.01),
        "cycle momentum": lambda: torch.optim.Adagrad(net.parameters(), lr=0.01),
    }[case]
    model, optimizer = fabric.setup(net, build())
    assert type(optimizer).__name__.startswith("Fabric")
    with pytest.raises((ValueError, ModelError)) as info:
        if case == "cycle momentum":
            lrfinder.create_scheduler("onecycle", optimizer, max_lr=0.1, total_steps=10, cycle_momentum=True)
        else:
            x = torch.randint(0, 10, (64,)) if case == "sparse" else torch.randn(64, 10)
            loader = fabric.setup_dataloaders(DataLoader(TensorDataset(x, torch.randint(0, 3, (64,))), batch_size=16))
            lrfinder.range_test(model, loader, optimizer=optimizer, loss_fn=F.cross_entropy, num_steps=10)
    assert says in str(info.value) and "Fabric" not in str(info.value)


@pytest.mark.parametrize("package", FABRICS)
def test_fabric_mixed_precision_that_refuses_our_backward_says_what_to_pass(package: str) -> None:
    """Fabric's "bf16-mixed" takes fabric.backward(loss) only: a ModelError saying what to pass, not a bare error."""
    fabric = _fabric(package, devices=1, precision="bf16-mixed")
    model, optimizer, loader = _setup(fabric)
    before = [p.detach().clone() for p in model.parameters()]
    refused = r"precision='bf16-mixed' a model from fabric\.setup\(\) takes fabric\.backward.*model\.module"
    with pytest.raises(ModelError, match=refused):
        lrfinder.range_test(model, loader, optimizer=optimizer, loss_fn=F.cross_entropy, num_steps=40)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters())) and not optimizer.state

    # What the message says to pass runs, and the Fabric loop after it trains as without it.
    result = lrfinder.range_test(
        model.module, loader, optimizer=optimizer.optimizer, loss_fn=F.cross_entropy, num_steps=40,
        precision="bf16-mixed",
    )
    assert result.lr is not None
    losses, weights = _train(fabric, model, optimizer, loader, result.lr)
    fabric = _fabric(package, devices=1, precision="bf16-mixed")
    alone_losses, alone_weights = _train(fabric, *_setup(fabric), result.lr)
    assert losses == alone_losses and all(torch.equal(a, b) for a, b in zip(weights, alone_weights))


@pytest.mark.parametrize("package", FABRICS)
def test_a_step_fn_calling_fabric_backward_is_told_to_leave_it_out(package: str) -> None:
    """A Fabric loop's step_fn runs fabric.backward(loss): the step_fn error names it, not loss.backward() alone."""
    fabric = _fabric(package, devices=1)
    model, optimizer, loader = _setup(fabric)

    def step_fn(model: Any, batch: Any) -> torch.Tensor:
        loss = F.cross_entropy(model(batch[0]), batch[1])
        fabric.backward(loss)
        return loss

    with pytest.raises(ModelError, match=r"leave fabric\.backward\(loss\) out of step_fn too"):
        lrfinder.range_test(model, loader, optimizer=optimizer, step_fn=step_fn, num_steps=40)
    assert not optimizer.state and all(p.grad is None for p in model.parameters())


class _StepCounter:
    """A Fabric callback that Fabric's optimizer calls after each step (an EMA of the weights would sit here)."""

    def __init__(self) -> None:
        self.steps = 0

    def on_after_optimizer_step(self, strategy: Any, optimizer: Any) -> None:
        self.steps += 1


@pytest.mark.parametrize("package", FABRICS)
def test_a_fabric_callback_stepped_by_the_test_is_named_in_a_warning(package: str) -> None:
    """Fabric calls its callbacks' on_after_optimizer_step at each of the test's steps: not put back, and said so."""
    counter = _StepCounter()
    fabric = _fabric(package, devices=1, callbacks=[counter])
    model, optimizer, loader = _setup(fabric)
    with pytest.warns(UserWarning, match=r"Lightning Fabric calls _StepCounter\.on_after_optimizer_step after every"):
        result = lrfinder.range_test(model, loader, optimizer=optimizer, loss_fn=F.cross_entropy, num_steps=40)
    assert counter.steps == len(result.lrs)  # what the warning says: every step of the test reached it


def _ddp_worker(fabric: Any, out: str) -> None:
    """One rank of Fabric's ddp_spawn: the test on fabric.setup's objects, one step per batch and two."""
    torch.set_num_threads(1)
    model, optimizer, loader = _setup(fabric, shuffle=False)  # Fabric's DistributedSampler: each rank its half
    before = {k: v.clone() for k, v in model.state_dict().items()}
    record: dict[str, Any] = {}
    for accumulate in (1, 2):
        result = lrfinder.range_test(
            model, loader, optimizer=optimizer, loss_fn=F.cross_entropy, num_steps=30, accumulate_steps=accumulate
        )
        record[f"losses{accumulate}"] = list(result.losses)
        record[f"batch{accumulate}"] = result.batch_size
        record[f"lr{accumulate}"] = result.lr
    x, y = next(iter(loader))
    with torch.no_grad():
        record["own_first_loss"] = F.cross_entropy(model(x), y).item()
    record["restored"] = all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    record["optimizer_state"] = len(optimizer.state)
    fabric.barrier()
    Path(out, f"rank{fabric.global_rank}.json").write_text(json.dumps(record))


@pytest.mark.slow
@pytest.mark.parametrize("package", FABRICS)
def test_fabric_ddp_averages_the_loss_over_the_ranks(package: str, tmp_path: Path) -> None:
    """Under Fabric's DDP every rank records the mean of the ranks' losses: the same curve, stop and LR.

    The DDP module sits inside Fabric's wrapper (its ``_forward_module``); each rank's own loss was
    recorded before, so the ranks read different curves and could stop at different steps (one then
    waits in DDP's gradient all-reduce), and the batch was one rank's.
    """
    fabric = _fabric(package, devices=2, strategy="ddp_spawn")
    fabric.launch(_ddp_worker, str(tmp_path))
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert ranks[0]["own_first_loss"] != ranks[1]["own_first_loss"]  # the ranks' halves differ
    mean = (ranks[0]["own_first_loss"] + ranks[1]["own_first_loss"]) / 2
    for accumulate in (1, 2):
        assert ranks[0][f"losses{accumulate}"] == ranks[1][f"losses{accumulate}"]
        assert ranks[0][f"lr{accumulate}"] == ranks[1][f"lr{accumulate}"]
        assert ranks[0][f"batch{accumulate}"] == 32 * 2 * accumulate  # the global batch
    assert ranks[0]["losses1"][0] == pytest.approx(mean, rel=1e-6)  # the step-0 loss at min_lr: the ranks' mean
    assert all(r["restored"] and r["optimizer_state"] == 0 for r in ranks)


def _varying_worker(fabric: Any, out: str) -> None:
    """One rank of Fabric's ddp_spawn: range_test over lists of batches, one rank's of varying sizes, the other's not.

    The sizes (of a bucketing batch sampler's kind: no DataLoader batch_size) vary on rank 1 alone, then on rank 0
    alone: each rank records the warnings it said and the result's batch.
    """
    torch.set_num_threads(1)
    fabric.seed_everything(0, verbose=False)
    net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
    model, optimizer = fabric.setup(net, torch.optim.SGD(net.parameters(), lr=0.01))
    x, y = _data().tensors
    record: dict[str, Any] = {}
    for varying in (1, 0):
        sizes = [8, 24, 8, 16] if fabric.global_rank == varying else [16] * 4
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        batches = [(x[s : s + n], y[s : s + n]) for s, n in zip(starts, sizes)]
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            result = lrfinder.range_test(model, batches, optimizer=optimizer, loss_fn=F.cross_entropy, num_steps=20)
        record[f"warnings{varying}"] = [str(w.message) for w in said if "sizes varied" in str(w.message)]
        record[f"batch{varying}"] = result.batch_size
    fabric.barrier()
    Path(out, f"rank{fabric.global_rank}.json").write_text(json.dumps(record))


@pytest.mark.slow
@pytest.mark.parametrize("package", FABRICS)
def test_batches_of_varying_sizes_on_one_rank_are_said_by_that_rank(package: str, tmp_path: Path) -> None:
    """Under Fabric's DDP (2 gloo processes) batches whose sizes vary on one rank are said there, per rank, with the
    test's batch: the ranks' sum of their medians (8 on the varying rank, 16 on the other), result.batch_size on both.

    The warning was said by rank zero alone (a warning about the arguments or the curve is the same on every rank):
    sizes varying on rank 1 alone were said by no rank.
    """
    fabric = _fabric(package, devices=2, strategy="ddp_spawn")
    fabric.launch(_varying_worker, str(tmp_path))
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for varying in (1, 0):
        assert [r[f"batch{varying}"] for r in ranks] == [24, 24]
        said = ranks[varying][f"warnings{varying}"]
        assert len(said) == 1, ranks
        assert said[0].startswith("The batches' sizes varied (8 to 24 examples) and the data gives no DataLoader ")
        per_rank = "this rank's batch is their median, 8 per rank, and the test's is the sum over the 2 ranks, 24,"
        assert per_rank in said[0]
        assert ranks[1 - varying][f"warnings{varying}"] == []
