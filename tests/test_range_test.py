from __future__ import annotations

import codecs
import collections
import copy
import dataclasses
import functools
import inspect
import json
import math
import os
import pickle
import random
import re
import sys
import textwrap
import threading
import time
import types
import warnings
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _models import run_script
from conftest import (
    SAM,
    WORKER_DIED,
    FillsNaN,
    MissingRecords,
    NoCompilerForBackward,
    SAMAfterBackward,
    WorkerCrashes,
    make_classification,
    make_mlp,
)
from torch import nn
from torch.utils.data import DataLoader, StackDataset, TensorDataset

import lrfinder
from lrfinder import (
    DataError,
    DivergenceMonitor,
    InconclusiveCurveError,
    LRFinderError,
    ModelError,
    RangeTestResult,
    RangeTestSettings,
    Refine,
    StateSnapshot,
    analyze,
    create_optimizer,
    lr_schedule,
    range_test,
)
from lrfinder.refine import Refinement, Trial
from lrfinder.settings import traced_in_eval_mode


def snapshot_of(model: nn.Module, opt: torch.optim.Optimizer) -> dict[str, Any]:
    return {
        "params": [p.detach().clone() for p in model.parameters()],
        "buffers": [b.detach().clone() for b in model.buffers()],
        "opt": {
            i: {k: (v.clone() if torch.is_tensor(v) else v) for k, v in s.items()}
            for i, s in opt.state_dict()["state"].items()
        },
        "groups": [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups],
        "torch_rng": torch.get_rng_state(),
        "np_rng": np.random.get_state()[1].copy(),
        "py_rng": random.getstate(),
    }


def assert_same_state(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert all(torch.equal(x, y) for x, y in zip(a["params"], b["params"], strict=True))
    assert all(torch.equal(x, y) for x, y in zip(a["buffers"], b["buffers"], strict=True))
    assert a["opt"].keys() == b["opt"].keys()
    for key in a["opt"]:
        for name, value in a["opt"][key].items():
            other = b["opt"][key][name]
            assert torch.equal(value, other) if torch.is_tensor(value) else value == other
    assert a["groups"] == b["groups"]
    assert torch.equal(a["torch_rng"], b["torch_rng"])
    assert np.array_equal(a["np_rng"], b["np_rng"])
    assert a["py_rng"] == b["py_rng"]


def warmed_up(model: nn.Module, loader: DataLoader) -> torch.optim.Optimizer:
    """An Adam optimizer with real state, after two steps."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for i, (x, y) in enumerate(loader):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if i == 1:
            break
    return opt


def train(model: nn.Module, opt: torch.optim.Optimizer, loader: DataLoader, epochs: int = 2) -> list[float]:
    losses = []
    for _ in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(F.dropout(model(x), 0.1), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


# ------------------------------------------------------------------------------------ schedule


def test_infer_batch_size_descends_tuples_lists_and_dicts() -> None:
    """A dict of several loaders' ``(x, y)`` batches gave None (the dict's first value is a list)."""
    from lrfinder.range_test import infer_batch_size

    x, y = torch.zeros(6, 2), torch.zeros(6)
    assert infer_batch_size(None, (x, y)) == 6
    assert infer_batch_size(None, {"x": x, "y": y}) == 6
    assert infer_batch_size(None, {"a": [x, y], "b": [x[:3], y[:3]]}) == 6
    assert infer_batch_size(None, [{"x": x}]) == 6
    assert infer_batch_size(None, {}) is None and infer_batch_size(None, ()) is None


def test_the_batch_size_of_single_examples_is_one_not_their_features() -> None:
    """``DataLoader(batch_size=None)`` over a Dataset of examples gives ``(x, y)`` with ``x`` of ``(F,)`` and a 0-dim
    ``y``: ``result.batch_size`` was ``F``, the features, which the report printed and ``scale()`` scaled from."""
    from lrfinder.range_test import infer_batch_size

    x, y = torch.zeros(8), torch.tensor(2)
    assert infer_batch_size(None, (x, y)) == 1
    assert infer_batch_size(None, [torch.zeros(3, 4), torch.tensor(0.5)]) == 1
    data = TensorDataset(torch.randn(64, 8), torch.randint(0, 3, (64,)))
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    result = lrfinder.range_test(net, DataLoader(data, batch_size=None), loss_fn=F.cross_entropy, num_steps=12)
    assert result.batch_size == 1


def test_the_batch_size_of_single_regression_examples_is_one_not_their_features() -> None:
    """An example of ``(F,)`` features and ``(K,)`` regression targets (``DataLoader(batch_size=None)`` over a
    ``TensorDataset`` of ``y`` of shape ``(N, K)``, or a list of examples) was taken for a batch of ``F``."""
    from lrfinder.range_test import infer_batch_size

    assert infer_batch_size(None, (torch.zeros(8), torch.zeros(2))) == 1
    assert infer_batch_size(None, (torch.zeros(8), torch.zeros(8))) == 8  # N scalar inputs and targets: a batch
    data = TensorDataset(torch.randn(64, 8), torch.randn(64, 1))
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    result = lrfinder.range_test(net, DataLoader(data, batch_size=None), loss_fn=F.mse_loss, num_steps=12)
    assert result.batch_size == 1


def test_infer_batch_size_of_sequence_first_batches_is_the_batch_not_the_time() -> None:
    """``(x, y)`` with ``x`` of ``(T, N, F)`` (``batch_first=False``) recorded ``T`` as the batch size.

    Plain lists of batches (and ``batch_size=None`` loaders) read the size from the batch; with
    an LSTM's default layout ``result.batch_size`` was the sequence length, which ``scale()`` and
    the noise scale then used as the batch.
    """
    from lrfinder.range_test import infer_batch_size

    x, y = torch.zeros(12, 5, 3), torch.zeros(5, dtype=torch.long)
    assert infer_batch_size(None, (x, y)) == 5
    assert infer_batch_size(None, [x, y, torch.zeros(5, 2)]) == 5
    # Batch-first and per-step targets keep the leading dim; so does an ambiguous layout.
    assert infer_batch_size(None, (x.transpose(0, 1), y)) == 5
    assert infer_batch_size(None, (x, torch.zeros(12, 5))) == 12
    assert infer_batch_size(None, (torch.zeros(12, 4), torch.zeros(5))) == 12

    class SeqFirst(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(3, 8)
            self.head = nn.Linear(8, 2)

        def forward(self, seq: torch.Tensor) -> torch.Tensor:
            return self.head(self.rnn(seq)[0][-1])

    torch.manual_seed(0)
    batches = [(torch.randn(12, 5, 3), torch.randint(0, 2, (5,))) for _ in range(4)]
    model = SeqFirst()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    result = lrfinder.range_test(model, batches, optimizer=optimizer, loss_fn=F.cross_entropy, num_steps=12)
    assert result.batch_size == 5


def test_batch_size_of_packed_sequences_is_the_sequences_not_their_steps() -> None:
    """An RNN's ``(PackedSequence, y)`` batches were sized by ``data``'s leading dim, the total steps.

    ``result.batch_size`` of a list of them was the first batch's total sequence length (82 for 16
    sequences here), which ``scale()`` then scaled from; the noise scale's micro-batches, whose
    totals differ, were all skipped as "micro-batches of different sizes".
    """
    from torch.nn.utils.rnn import pack_sequence

    from lrfinder.range_test import infer_batch_size

    class Packed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.GRU(3, 8)
            self.head = nn.Linear(8, 2)

        def forward(self, seqs: Any) -> torch.Tensor:
            return self.head(self.rnn(seqs)[1][-1])

    torch.manual_seed(0)
    batches = [
        (
            pack_sequence([torch.randn(int(n), 3) for n in torch.randint(2, 10, (16,))], enforce_sorted=False),
            torch.randint(0, 2, (16,)),
        )
        for _ in range(4)
    ]
    assert infer_batch_size(None, batches[0]) == 16
    assert infer_batch_size(None, {"x": batches[0][0], "y": batches[0][1]}) == 16
    model = Packed()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    result = lrfinder.range_test(
        model, batches, optimizer=optimizer, loss_fn=F.cross_entropy, num_steps=12, accumulate_steps=2, noise_scale=True
    )
    assert result.batch_size == 32
    assert result.noise_scale is not None and result.noise_scale.small_batch_size == 16


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors is in prototype stage")
def test_a_batch_of_nested_tensors_is_sized_by_its_examples() -> None:
    """Inputs as a ``torch.nested`` tensor (strided, the default layout) failed the test's first step.

    It failed with torch's "Internal error: NestedTensorImpl doesn't support sizes. Please file an
    issue.", raised from the batch's size (``.shape``) and from its description in the test's messages.
    """

    class Pooled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(3, 2)

        def forward(self, examples: torch.Tensor) -> torch.Tensor:
            return torch.stack([self.head(t).mean(0) for t in examples.unbind()])

    torch.manual_seed(0)
    batches = [
        (
            torch.nested.nested_tensor([torch.randn(int(n), 3) for n in torch.randint(2, 6, (8,))]),
            torch.randint(0, 2, (8,)),
        )
        for _ in range(4)
    ]
    model = Pooled()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    result = lrfinder.range_test(model, batches, optimizer=optimizer, loss_fn=F.cross_entropy, num_steps=12)
    assert result.batch_size == 8 and len(result.losses) == 12


@dataclasses.dataclass(frozen=True)
class _Batch:
    x: torch.Tensor
    y: torch.Tensor
    ids: list[str] = dataclasses.field(default_factory=list)


class _GraphBatch:
    """A batch class with its own ``to`` (as PyTorch Geometric's ``Data``)."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def to(self, device: torch.device) -> _GraphBatch:
        return _GraphBatch(self.x.to(device))


def test_dataclass_and_to_batches_are_moved_to_the_device_and_sized(mlp: nn.Module, dataset: TensorDataset) -> None:
    """A dataclass batch (or one with its own .to) stayed on the CPU with device='cuda', so step_fn got the model's
    device error, and its batch size was unknown (result.scale() asked for from_batch_size)."""
    from lrfinder.batches import to_device
    from lrfinder.range_test import infer_batch_size

    meta = torch.device("meta")
    batch = _Batch(torch.zeros(4, 2), torch.zeros(4), ["a"])
    moved = to_device(batch, meta)
    assert isinstance(moved, _Batch) and moved.x.is_meta and moved.y.is_meta and moved.ids == ["a"]
    assert batch.x.device.type == "cpu"  # the batch itself is not changed
    assert to_device(_GraphBatch(torch.zeros(3)), meta).x.is_meta
    assert to_device([{"g": _GraphBatch(torch.zeros(3))}], meta)[0]["g"].x.is_meta
    assert infer_batch_size(None, batch) == 4
    # A PackedSequence (an RNN's input) moves by its own .to(): rebuilt field by field, its batch_sizes went along
    # and torch refused it ("batch_sizes should always be on CPU"), said as a batch the model fails on.
    packed = nn.utils.rnn.pack_padded_sequence(torch.zeros(3, 4, 2), torch.tensor([4, 3, 2]), batch_first=True)
    moved_packed = to_device((packed, torch.zeros(3)), meta)[0]
    assert moved_packed.data.is_meta and moved_packed.batch_sizes.device.type == "cpu"
    batches = [_Batch(x, y) for x, y in DataLoader(dataset, batch_size=32)]
    result = range_test(
        mlp, batches, step_fn=lambda m, b: F.cross_entropy(m(b.x), b.y), num_steps=10, max_lr=1e-2, device="cpu"
    )
    assert result.batch_size == 32


def test_exp_schedule_is_even_in_log_with_exact_ends() -> None:
    lrs = lr_schedule(1e-7, 10.0, 100, "exp")
    assert lrs[0] == 1e-7 and lrs[-1] == 10.0
    np.testing.assert_allclose(np.diff(np.log10(lrs)), 8 / 99, rtol=1e-9)
    expected = [1e-7 * (10.0 / 1e-7) ** (t / 99) for t in range(100)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)


def test_linear_schedule() -> None:
    lrs = lr_schedule(0.01, 1.0, 12, "linear")
    assert lrs[0] == 0.01 and lrs[-1] == 1.0
    np.testing.assert_allclose(np.diff(lrs), 0.09, rtol=1e-9)


def test_schedule_takes_any_length_from_two() -> None:
    # Short schedules are valid (the docstring's example has 4 steps); only range_test needs 10.
    assert lr_schedule(1e-3, 1.0, 2).tolist() == [1e-3, 1.0]
    assert lr_schedule(0.25, 1.0, 4, "linear").tolist() == [0.25, 0.5, 0.75, 1.0]
    with pytest.raises(ValueError, match=r"num_steps >= 2, but got num_steps=1"):
        lr_schedule(1e-3, 1.0, 1)
    with pytest.raises(ValueError, match=r"max_lr > min_lr"):
        lr_schedule(1.0, 1e-3, 4)
    with pytest.raises(ValueError, match=r"mode to be 'exp' or 'linear', but got mode='cos'"):
        lr_schedule(1e-3, 1.0, 4, "cos")
    # Lightning's name for the exponential sweep is answered with lrfinder's.
    with pytest.raises(ValueError, match=r"but got mode='exponential'\. Did you mean 'exp'\?"):
        lr_schedule(1e-3, 1.0, 4, "exponential")


def test_a_range_too_narrow_for_distinct_lrs_is_refused_before_the_sweep() -> None:
    """min_lr=1e-3, max_lr=1e-3 * (1 + 1e-15) passed max_lr > min_lr, but its 100 LRs repeat in float64: the
    whole sweep ran, then analyze refused the curve with "Expected lrs strictly increasing, as recorded by a
    range test", as if the test had recorded them wrong."""
    from lrfinder import LRFinder, RangeTestSettings

    low, high = 1e-3, 1e-3 * (1 + 1e-15)
    assert high > low
    refused = r"max_lr far enough above min_lr for 100 distinct LRs, but got min_lr=0\.001, max_lr=0\.00100000"
    with pytest.raises(ValueError, match=refused + r".*exp sweep.*Widen the range"):
        lr_schedule(low, high, 100)
    with pytest.raises(ValueError, match=refused + r".*linear sweep"):
        lr_schedule(low, high, 100, "linear")
    with pytest.raises(ValueError, match=refused):
        RangeTestSettings(min_lr=low, max_lr=high, num_steps=100)
    with pytest.raises(ValueError, match=refused):
        LRFinder(min_lr=low, max_lr=high)
    model = make_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=refused):
        range_test(model, [(torch.randn(4, 10), torch.tensor([0, 1, 2, 0]))], loss_fn=F.cross_entropy, min_lr=low,
                   max_lr=high, num_steps=100)  # fmt: skip
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    # Two steps split even so narrow a range; a range of a few ulps still splits into as many steps as it holds.
    assert lr_schedule(low, high, 2).tolist() == [low, high]
    assert np.all(np.diff(lr_schedule(1.0, 1.0 + 1e-9, 1000, "linear")) > 0)


def test_a_sweep_of_more_steps_than_memory_holds_is_refused_before_allocating() -> None:
    """num_steps=1e9 allocated an 8 GB plan (lr_schedule, range_test, RangeTestSettings) before any check."""
    from lrfinder import RangeTestSettings
    from lrfinder.range_test import MAX_SWEEP_STEPS

    assert lr_schedule(1e-3, 1.0, MAX_SWEEP_STEPS).size == MAX_SWEEP_STEPS
    with pytest.raises(ValueError, match=r"num_steps <= 1,000,000, but got num_steps=1,000,000,000: a range test"):
        lr_schedule(1e-3, 1.0, 10**9)
    with pytest.raises(ValueError, match=r"num_steps <= 1,000,000"):
        RangeTestSettings(num_steps=MAX_SWEEP_STEPS + 1)
    with pytest.raises(ValueError, match=r"num_steps <= 1,000,000"):
        range_test(make_mlp(), [], num_steps=10**9)


# ------------------------------------------------------------------------------------ restore


def test_exact_restore_of_model_optimizer_and_rngs(loader: DataLoader) -> None:
    model = make_mlp()
    opt = warmed_up(model, loader)
    random.seed(3)
    np.random.seed(3)
    before = snapshot_of(model, opt)
    result = range_test(model, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=30, max_lr=1.0)
    assert result.num_steps > 10
    assert_same_state(before, snapshot_of(model, opt))
    assert model.training


def test_training_after_a_test_is_bit_identical(dataset: TensorDataset) -> None:
    def run(with_test: bool) -> tuple[list[float], list[torch.Tensor]]:
        torch.manual_seed(0)
        model = make_mlp()
        # One loader with its own generator, shuffled order from the global RNG for the other.
        loader = DataLoader(dataset, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(5))
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        if with_test:
            range_test(
                model,
                loader,
                optimizer=opt,
                loss_fn=lambda out, y: F.cross_entropy(F.dropout(out, 0.2), y),
                num_steps=25,
            )
        losses = train(model, opt, loader)
        global_order = DataLoader(dataset, batch_size=64, shuffle=True)
        losses += train(model, opt, global_order, epochs=1)
        return losses, [p.detach().clone() for p in model.parameters()]

    plain_losses, plain_params = run(False)
    tested_losses, tested_params = run(True)
    assert plain_losses == tested_losses
    assert all(torch.equal(a, b) for a, b in zip(plain_params, tested_params, strict=True))


def test_restore_false_leaves_the_swept_model(loader: DataLoader) -> None:
    model = make_mlp()
    before = [p.detach().clone() for p in model.parameters()]
    range_test(model, loader, loss_fn=F.cross_entropy, num_steps=15, max_lr=0.1, restore=False)
    assert not all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def failing_at(call: int, exc: BaseException) -> Any:
    """A cross-entropy step_fn that raises ``exc`` on its ``call``-th call."""
    calls = {"n": 0}

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == call:
            raise exc
        return F.cross_entropy(m(batch[0]), batch[1])

    return step_fn


def test_restore_when_the_step_raises(loader: DataLoader) -> None:
    model = make_mlp()
    opt = warmed_up(model, loader)
    before = snapshot_of(model, opt)
    # torch's (or the step_fn's) error came out bare: it is said now as the test's, at its step and LR, and chained.
    lr = lr_schedule(1e-7, 10.0, 20)[6]
    said = (
        rf"^range_test: step_fn raised RuntimeError during the LR range test, at step 6 \(lr={lr:.2e}\): boom\. It ran "
        r"on batch 6 of the pass: call step_fn\(model, batch\) on that batch outside the test"
    )
    with pytest.raises(ModelError, match=said) as info:
        range_test(model, loader, optimizer=opt, step_fn=failing_at(7, RuntimeError("boom")), num_steps=20)
    assert isinstance(info.value.__cause__, RuntimeError) and str(info.value.__cause__) == "boom"
    assert_same_state(before, snapshot_of(model, opt))
    # Any error of its own, not only torch's kinds (a key the batch lacks).
    with pytest.raises(ModelError, match=r"^range_test: step_fn raised KeyError during the LR range test, at step 2 "):
        range_test(model, loader, optimizer=opt, step_fn=failing_at(3, KeyError("image")), num_steps=20)
    assert_same_state(before, snapshot_of(model, opt))


def test_ctrl_c_stops_restores_and_keeps_the_curve(loader: DataLoader) -> None:
    model = make_mlp()
    opt = warmed_up(model, loader)
    before = snapshot_of(model, opt)
    result = range_test(model, loader, optimizer=opt, step_fn=failing_at(12, KeyboardInterrupt()), num_steps=30)
    assert result.stop_reason == "interrupted"
    assert result.num_steps == 11
    assert_same_state(before, snapshot_of(model, opt))


def test_snapshot_names_arguments_it_cannot_take(mlp: nn.Module, loader: DataLoader) -> None:
    """StateSnapshot("m") was "'str' object has no attribute 'modules'", an optimizer not in a list "'SGD' object
    is not iterable", and a bare loader as data was read through by list(): an epoch drawn, the batches kept."""
    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"model to be a torch.nn.Module, but got str"):
        StateSnapshot("m")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"one SGD: pass it in a list, StateSnapshot\(model, \[optimizer\]\)"):
        StateSnapshot(mlp, opt)  # type: ignore[arg-type]
    state = torch.get_rng_state()
    with pytest.raises(TypeError, match=r"data to be a list of the loaders to snapshot, but got one DataLoader"):
        StateSnapshot(mlp, [opt], loader)
    assert torch.equal(torch.get_rng_state(), state)  # nothing was drawn
    StateSnapshot(mlp, (opt,), (loader,)).restore()


def test_snapshot_reports_its_size(mlp: nn.Module, loader: DataLoader) -> None:
    opt = warmed_up(mlp, loader)
    opt.zero_grad(set_to_none=True)
    snap = StateSnapshot(mlp, [opt], [loader])
    params = sum(p.numel() * 4 for p in mlp.parameters())
    buffers = sum(b.numel() * b.element_size() for b in mlp.buffers())
    # params + Adam's exp_avg and exp_avg_sq (+ step counters) + buffers
    assert 3 * params + buffers <= snap.nbytes() <= 3 * params + buffers + 64 * len(list(mlp.parameters()))


def test_snapshot_size_counts_the_module_attributes_and_param_groups_it_copies(mlp: nn.Module) -> None:
    """nbytes() counted the optimizer's extra attributes, not the module attributes it restores."""
    opt = torch.optim.SGD(mlp.parameters(), lr=torch.tensor(0.1))  # a tensor LR: copied with the param groups
    plain = StateSnapshot(mlp, [opt]).nbytes()
    with_attrs = StateSnapshot(mlp, [opt], module_attributes=True).nbytes()
    assert with_attrs == plain  # nothing to copy yet
    mlp[0].cache = torch.zeros(1000)  # float32: 4000 bytes
    mlp[0].history = [torch.zeros(10, dtype=torch.float64), 3]  # 80 bytes
    assert StateSnapshot(mlp, [opt]).nbytes() == plain
    assert StateSnapshot(mlp, [opt], module_attributes=True).nbytes() == plain + 4080
    params = sum(p.numel() * 4 for p in mlp.parameters())
    buffers = sum(b.numel() * b.element_size() for b in mlp.buffers())
    assert plain == params + buffers + 2 * 4  # the LR tensor, copied with the param group and with opt.defaults


def test_snapshot_leaves_tensors_whose_storage_fsdp_freed_alone(tmp_path: Path) -> None:
    """Classic FSDP keeps a wrapped layer's weight as a plain attribute, a view of its flat parameter whose
    storage it frees between forwards: cloning it, or writing into it after it was freed, segfaulted."""
    run_script(
        tmp_path,
        textwrap.dedent(
            """
            import torch
            from torch import nn
            from lrfinder.range_test import StateSnapshot

            net = nn.Linear(3, 2)
            flat = torch.randn(8)
            net.view = flat[:6].view(2, 3)
            flat.untyped_storage().resize_(0)  # resharded: freed at the snapshot
            StateSnapshot(net, [], module_attributes=True).restore()
            flat.untyped_storage().resize_(32)  # gathered at the snapshot, freed at the restore
            snapshot = StateSnapshot(net, [], module_attributes=True)
            flat.untyped_storage().resize_(0)
            snapshot.restore()
            flat.untyped_storage().resize_(32)
            assert net.view.untyped_storage().data_ptr() == flat.untyped_storage().data_ptr()
            """
        ),
    )


# ------------------------------------------------------------------------------------ stopping


def test_stops_at_once_on_nan(loader: DataLoader, mlp: nn.Module) -> None:
    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        loss = F.cross_entropy(m(batch[0]), batch[1])
        lr = opt.param_groups[0]["lr"]
        return loss * float("nan") if lr > 1e-3 else loss

    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    result = range_test(mlp, loader, optimizer=opt, step_fn=step_fn, min_lr=1e-6, max_lr=1.0, num_steps=60)
    assert result.stop_reason == "non_finite"
    assert math.isnan(result.losses[-1])
    assert all(math.isfinite(v) for v in result.losses[:-1])
    assert result.lrs[-1] > 1e-3 >= result.lrs[-2]
    assert result.suggestion is not None or result.error is not None
    assert all(torch.isfinite(p).all() for p in mlp.parameters())


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled:UserWarning")
@pytest.mark.parametrize("check_nan", [True, False])
def test_anomaly_detection_left_on_does_not_stop_the_test_at_its_divergence(
    loader: DataLoader, mlp: nn.Module, check_nan: bool
) -> None:
    """With torch.autograd.set_detect_anomaly(True) left on (debugging in a notebook), the NaN gradient of the test's
    divergence came out as autograd's "Function 'MulBackward0' returned nan values in its 0th output." instead of
    ending the sweep, as the callback's test does under Trainer(detect_anomaly=True); fuzz round 20."""

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        seen.append(torch.is_anomaly_enabled())
        loss = F.cross_entropy(m(batch[0]), batch[1])
        return loss * float("nan") if opt.param_groups[0]["lr"] > 1e-3 else loss

    seen: list[bool] = []
    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    before = copy.deepcopy(mlp.state_dict())
    with torch.autograd.set_detect_anomaly(True, check_nan=check_nan):
        result = range_test(mlp, loader, optimizer=opt, step_fn=step_fn, min_lr=1e-6, max_lr=1.0, num_steps=60)
        assert torch.is_anomaly_enabled() and torch.is_anomaly_check_nan_enabled() == check_nan  # back on after
    assert result.stop_reason == "non_finite" and math.isnan(result.losses[-1])
    assert result.lrs[-1] > 1e-3 >= result.lrs[-2]
    assert set(seen) == {False}  # off for every step: it also slowed each backward
    assert all(torch.equal(v, before[k]) for k, v in mlp.state_dict().items())


def test_stops_on_divergence(loader: DataLoader, mlp: nn.Module) -> None:
    result = range_test(mlp, loader, loss_fn=F.cross_entropy, min_lr=1e-4, max_lr=1e3, num_steps=100)
    assert result.stop_reason in ("diverged", "non_finite")
    assert result.num_steps < 100
    assert result.suggestion is not None
    assert result.suggestion.lr < result.lrs[-1]


def test_stop_factor_none_runs_every_step(loader: DataLoader) -> None:
    model = make_mlp()
    result = range_test(model, loader, loss_fn=F.cross_entropy, min_lr=1e-4, max_lr=5.0, num_steps=40, stop_factor=None)
    assert result.num_steps == 40 or result.stop_reason == "non_finite"
    assert result.stop_reason in ("completed", "non_finite")


def test_a_stop_factor_near_one_that_ends_the_test_early_is_named(loader: DataLoader) -> None:
    # stop_factor=1.01 stopped on batch noise a few steps in, at lr ~1e-7; the error only said to lower the LRs
    # or add steps, as if the loss had blown up, never that the factor was what to change.
    result = range_test(make_mlp(), loader, loss_fn=F.cross_entropy, min_lr=1e-7, max_lr=10.0, stop_factor=1.01)
    assert result.stop_reason == "diverged" and result.num_steps < 10 and result.suggestion is None
    assert result.error is not None
    assert "a stop_factor of 1.01" in result.error and "raise stop_factor (the default is 4)" in result.error


@pytest.mark.parametrize("seed", range(4))
def test_a_sweep_whose_loss_rises_from_its_first_steps_says_where_and_how_low_to_start(seed: int) -> None:
    # min_lr far too high: SGD on a small regression MLP rises from its first steps, and the divergence rule stops it
    # at step 7 (it settles over 6). It said "Only 7 finite loss values were recorded ... Lower min_lr or max_lr, or
    # increase num_steps", then that the rule may have stopped on noise: never that the loss blew up, nor the LR to
    # stay below, which README promises; a lower max_lr alone cannot help (judgesim38).
    torch.manual_seed(seed)
    x = torch.randn(512, 10)
    y = x @ torch.randn(10, 1)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
    data = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 512, 32)]
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    result = range_test(model, data, optimizer=opt, loss_fn=F.mse_loss, min_lr=0.3, max_lr=10.0)
    assert result.stop_reason == "diverged" and result.num_steps < 10 and result.error is not None
    error = result.error
    assert error.startswith("The loss blew up "), error
    assert f"The divergence rule (stop_factor=4) stopped the test at step {result.num_steps} (lr=" in error
    assert "Lower min_lr or max_lr" not in error and "stopped on noise" not in error
    low = int(np.argmin(result.losses))
    assert f"The loss did blow up, from lr={result.lrs[low]:.2e}: keep any LR you train at below it" in error
    assert "run again from about 4 decades lower (min_lr=1.00e-05, max_lr=1.00e+01, num_steps=100)." in error


def test_a_short_curve_that_did_not_stop_on_the_rule_does_not_name_stop_factor(loader: DataLoader) -> None:
    result = range_test(make_mlp(), loader, loss_fn=F.cross_entropy, num_steps=10, max_lr=1e-5)
    assert result.stop_reason == "completed" and result.error is not None and "stop_factor" not in result.error


def test_negative_losses_stop_on_divergence_not_at_once(loader: DataLoader) -> None:
    model = make_mlp()
    result = range_test(
        model, loader, loss_fn=lambda out, y: F.cross_entropy(out, y) - 10.0, min_lr=1e-4, max_lr=1e3, num_steps=100
    )
    assert result.num_steps > 40
    assert result.stop_reason in ("diverged", "non_finite")
    assert min(result.losses) < -9.0
    assert result.suggestion is not None


def test_already_trained_model_does_not_stop_on_noise(dataset: TensorDataset) -> None:
    torch.manual_seed(0)
    model = make_mlp()
    loader = DataLoader(dataset, batch_size=32, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(40):
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    result = range_test(model, loader, loss_fn=F.cross_entropy, min_lr=1e-7, max_lr=10.0, num_steps=80)
    # Tiny LRs cannot change a trained model: the test must get well into the sweep.
    assert result.lrs[-1] > 1e-3
    assert result.stop_reason in ("diverged", "non_finite", "completed")


def test_divergence_monitor_rules() -> None:
    mon = DivergenceMonitor(4.0)
    assert not any(mon.update(v) for v in [2.0, 1.5, 1.0, 0.8, 0.6, 0.5])
    fired = [mon.update(v) for v in [1.0, 3.0, 10.0, 50.0]]
    assert fired[-1] and not fired[0]
    neg = DivergenceMonitor(4.0)
    # Negative losses past step 6, where the best is taken (DivergenceMonitor.settle), then a blow-up.
    assert not any(neg.update(v) for v in [-5.0, -5.5, -6.0, -6.2, -6.3, -6.4, -6.5, -6.5])
    assert [neg.update(v) for v in [0.0, 20.0, 40.0, 80.0, 160.0]].index(True) == 3
    off = DivergenceMonitor(None)
    assert not any(off.update(v) for v in [1.0, 1e9, 1e12])
    with pytest.raises(ValueError, match="beta"):
        DivergenceMonitor(4.0, beta=1.0)



def test_divergence_monitor_does_not_stop_when_the_first_loss_is_the_lowest() -> None:
    # The first losses of a range test on a trained digits classifier (lrfind fit on a checkpoint
    # it had written): the first batch scored 0.012, the second 0.317. The noise at the best
    # (step 1) was taken as 0, so the rule stopped at step 2, at min_lr, and the test read 2 points.
    losses = [0.012, 0.317, 0.088, 0.069, 0.086, 0.136, 0.113, 0.024, 0.044, 0.057, 0.07, 0.179, 0.024]
    mon = DivergenceMonitor(4.0)
    assert [mon.update(v) for v in losses] == [False] * len(losses)
    # The best is taken from step 6 (settle) on, where the EMA averages 6 losses, not from the first loss alone.
    assert mon.best == pytest.approx(0.0834, abs=1e-4)
    # A loss that blows up from the first step still stops, two steps after the best is taken (it stopped
    # at step 4 when the best was the first loss; a sweep diverged from min_lr reads nothing either way).
    blowing = DivergenceMonitor(4.0)
    fired = [blowing.update(2.3 * 10**k) for k in range(12)]
    assert fired.index(True) == DivergenceMonitor.settle + 1


def test_divergence_monitor_does_not_take_its_best_from_two_lucky_first_losses() -> None:
    # Batch-1 losses (seeded lognormal around 2.5, as a neural ODE's per-sample losses scattered 0.2-5) after
    # two low first ones, 0.70 and 0.75: the best was their average and its noise their one difference (0.05),
    # so the threshold (2.9) sat below the loss's own average and the test stopped at step 25, at min_lr,
    # then said the loss had blown up there.
    losses = [0.7, 0.75, 0.29, 1.56, 1.07, 0.82, 1.53, 0.63, 0.93, 0.23, 5.0, 6.3, 0.48, 0.31, 2.23, 3.34, 0.96, 0.5,
              9.47, 0.76, 2.19, 2.02, 2.07, 5.38, 6.02, 0.35, 1.34, 4.52, 1.8, 0.79]
    mon = DivergenceMonitor(4.0)
    assert [mon.update(v) for v in losses] == [False] * len(losses)
    # A real blow-up after it (the loss doubling each step) still stops within a few steps of the rise.
    rise = [0.79 * 2**j for j in range(1, 12)]
    assert [mon.update(v) for v in rise].index(True) == 4


def test_divergence_monitor_rides_out_a_spike_and_stops_soon_after_a_blow_up() -> None:
    # A noise-free fall from 1.0 to 0.5: best 0.632 (the EMA lags the fall), threshold 0.632 + 3 * 0.632 = 2.53.
    fall = [1.0 - 0.5 * i / 29 for i in range(30)]
    for spike in ([5.0], [5.0] * 4):  # 10x the loss for 1 or 4 steps, then back: no blow-up, no stop
        mon = DivergenceMonitor(4.0)
        assert not any(mon.update(v) for v in fall + spike + [0.5] * 10)
        assert mon.best == pytest.approx(0.6323, abs=1e-4)
    # The loss doubling from 0.5 every step crosses the threshold at 4.0 (the rise's 3rd step); the EMA stops the
    # test 2 steps later, at 16.0 (benchmarks/results/stop_rule.md: a stop rule that cut sooner changed readings).
    rise = [0.5 * 2**j for j in range(1, 12)]
    fired = [mon.update(v) for v in rise]
    assert fired.index(True) == 4 and rise[4] == 16.0


# ------------------------------------------------------------------------------------ data and optimizers


def test_accumulation_records_the_mean_of_micro_batches(dataset: TensorDataset, mlp: nn.Module) -> None:
    micro: list[float] = []
    steps = {"n": 0}

    class CountingSGD(torch.optim.SGD):
        def step(self, closure: Any = None) -> Any:  # type: ignore[override]
            steps["n"] += 1
            return super().step(closure)

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        loss = F.cross_entropy(m(batch[0]), batch[1])
        micro.append(loss.item())
        return loss

    loader = DataLoader(dataset, batch_size=16, shuffle=False)
    opt = CountingSGD(mlp.parameters(), lr=0.1)
    result = range_test(mlp, loader, optimizer=opt, step_fn=step_fn, num_steps=12, max_lr=1e-2, accumulate_steps=4)
    assert steps["n"] == 12 and len(micro) == 48
    expected = np.asarray(micro).reshape(12, 4).mean(axis=1)
    np.testing.assert_allclose(result.losses, expected, rtol=1e-6)
    assert result.batch_size == 64
    assert result.settings.accumulate_steps == 4


def test_short_data_is_cycled(mlp: nn.Module, caplog: pytest.LogCaptureFixture) -> None:
    loader = DataLoader(make_classification(n=64), batch_size=32)  # 2 batches
    with caplog.at_level("INFO", logger="lrfinder"):
        result = range_test(mlp, loader, loss_fn=F.cross_entropy, num_steps=20, max_lr=1e-2)
    assert result.num_steps == 20 and result.stop_reason == "completed"
    # It cycled in silence; said once (lrfind --debug shows it), not at every pass.
    said = [r.getMessage() for r in caplog.records if "ran out" in r.getMessage()]
    assert said == [
        "The training data ran out after 2 batches; starting it again (its batches are used again from here on)."
    ]


def test_a_distributed_sampler_draws_a_new_order_at_each_pass_and_its_epoch_is_put_back(mlp: nn.Module) -> None:
    # A DistributedSampler shuffles by seed and epoch only: started again at the same epoch, the second pass drew
    # the first's batches in the first's order (the curve repeated with the pass's period under DDP), where a
    # shuffling DataLoader on one process draws a new order. The test counts the epoch up as training does.
    from torch.utils.data.distributed import DistributedSampler

    dataset = make_classification(n=128)
    sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=0)
    drawn: list[torch.Tensor] = []

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        drawn.append(batch[1].clone())
        return F.cross_entropy(m(batch[0]), batch[1])

    loader = DataLoader(dataset, batch_size=32, sampler=sampler)  # 4 batches a pass
    range_test(mlp, loader, step_fn=step_fn, num_steps=12, max_lr=1e-2)
    passes = [torch.cat(drawn[i : i + 4]) for i in (0, 4, 8)]
    assert not torch.equal(passes[0], passes[1]) and not torch.equal(passes[1], passes[2])
    assert sampler.epoch == 0  # put back: the training after the test draws what it would have drawn


def test_param_group_ratios_are_kept(mlp: nn.Module, loader: DataLoader) -> None:
    first, rest = list(mlp[0].parameters()), [p for m in list(mlp)[1:] for p in m.parameters()]
    opt = torch.optim.SGD([{"params": first, "lr": 0.01}, {"params": rest, "lr": 0.1}], lr=0.1, momentum=0.9)
    seen: list[tuple[float, float]] = []

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[1]["lr"]))
        return F.cross_entropy(m(batch[0]), batch[1])

    result = range_test(mlp, loader, optimizer=opt, step_fn=step_fn, min_lr=1e-5, max_lr=1e-2, num_steps=15)
    low, high = zip(*seen)
    np.testing.assert_allclose(high, result.lrs, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(low) / np.asarray(high), 0.1, rtol=1e-12)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]



@pytest.mark.parametrize("idle", ["empty", "frozen"])
def test_a_swept_group_that_trains_nothing_is_warned_about(mlp: nn.Module, loader: DataLoader, idle: str) -> None:
    # An empty param group (a filter that matched nothing) or one of frozen parameters, with the largest LR, was the
    # group swept and recorded: the curve's LRs and the suggestion were 10x those the parameters trained at, unsaid.
    params = list(mlp.parameters())
    idle_params: list[nn.Parameter] = []
    if idle == "frozen":
        idle_params = list(mlp[0].parameters())
        for p in idle_params:
            p.requires_grad_(False)
        params = [p for p in params if p.requires_grad]
    opt = torch.optim.SGD([{"params": params, "lr": 0.01}, {"params": idle_params, "lr": 0.1}], lr=0.01)
    seen: list[float] = []

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        seen.append(opt.param_groups[0]["lr"])
        return F.cross_entropy(m(batch[0]), batch[1])

    what = "holds no parameters" if idle == "empty" else "holds only frozen parameters"
    with pytest.warns(UserWarning) as caught:
        result = range_test(mlp, loader, optimizer=opt, step_fn=step_fn, min_lr=1e-5, max_lr=1e-2, num_steps=15)
    messages = [str(w.message) for w in caught if "Param group" in str(w.message)]
    assert messages == [
        f"Param group 1 {what}, yet has the largest LR: the range test records its LR, so the curve's LRs and the "
        "suggestion are 10x those of group 0, the largest that trains. Remove the group from the optimizer (or give "
        "it an LR no larger than the others'), or take the result's LRs as that group's (create_optimizer(..., "
        "lr=result.lr, lr_group='largest') sets them so)."
    ]
    np.testing.assert_allclose(np.asarray(result.lrs) / np.asarray(seen), 10.0, rtol=1e-12)  # what it says
    # A group that trains with the largest LR, or an idle group with a smaller one, is not warned about; nor an idle
    # group first at the LR of one that trains (a frozen backbone's group beside the head's): the LRs are the same.
    for groups in ([{"params": params, "lr": 0.1}, {"params": idle_params, "lr": 0.01}],
                   [{"params": params[:1], "lr": 0.01}, {"params": params[1:], "lr": 0.1}],
                   [{"params": idle_params, "lr": 0.1}, {"params": params, "lr": 0.1}]):  # fmt: skip
        with warnings.catch_warnings(record=True) as quiet:
            warnings.simplefilter("always")
            range_test(mlp, loader, optimizer=torch.optim.SGD(groups, lr=0.01), loss_fn=F.cross_entropy,
                       min_lr=1e-5, max_lr=1e-2, num_steps=15)  # fmt: skip
        assert not [w for w in quiet if "Param group" in str(w.message)]

def test_a_warm_up_from_zero_keeps_the_groups_configured_ratios(mlp: nn.Module, loader: DataLoader) -> None:
    # A warm-up scheduler built on the optimizer (LambdaLR from 0, as GPT-style recipes start) set
    # every group's lr to 0 before the test: the groups were then swept at one LR (ratio 1 instead of
    # 0.1) without a word, where the callback sweeps from the configured LRs.
    first, rest = list(mlp[0].parameters()), [p for m in list(mlp)[1:] for p in m.parameters()]
    opt = torch.optim.AdamW([{"params": first, "lr": 1e-4}, {"params": rest, "lr": 1e-3}])
    torch.optim.lr_scheduler.LambdaLR(opt, lambda step: step / 100)
    assert [g["lr"] for g in opt.param_groups] == [0.0, 0.0]
    seen: list[tuple[float, float]] = []

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[1]["lr"]))
        return F.cross_entropy(m(batch[0]), batch[1])

    result = range_test(mlp, loader, optimizer=opt, step_fn=step_fn, min_lr=1e-5, max_lr=1e-2, num_steps=15)
    low, high = zip(*seen)
    np.testing.assert_allclose(high, result.lrs, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(low) / np.asarray(high), 0.1, rtol=1e-12)
    assert [g["lr"] for g in opt.param_groups] == [0.0, 0.0]  # the warm-up's state, put back
    assert [g["initial_lr"] for g in opt.param_groups] == [1e-4, 1e-3]


class _OwnStepSize(torch.optim.Optimizer):
    """An optimizer that sets its own step size: lr=None (HF Adafactor's relative_step=True), or an 'eta' instead."""

    def __init__(self, params: Any, **defaults: Any) -> None:
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-(group.get("lr") or group.get("eta") or 1e-3))


@pytest.mark.parametrize(
    ("defaults", "match"),
    [
        ({"lr": None}, r"group 0 of _OwnStepSize has lr=None \(an optimizer that sets its own step size.*relative"),
        ({"eta": 0.1}, r"every param group to have an 'lr' to sweep, but group 0 of _OwnStepSize has none.*eta"),
        ({"lr": float("nan")}, r"LR of every param group to be a finite number >= 0.*lr=nan"),
    ],
)
def test_a_param_group_without_an_lr_to_sweep_is_named_before_the_sweep(
    defaults: dict[str, Any], match: str, mlp: nn.Module, loader: DataLoader
) -> None:
    """float(None) and KeyError('lr') came out of the sweeper, with the model already snapshotted."""
    opt = _OwnStepSize(mlp.parameters(), **defaults)
    before = snapshot_of(mlp, opt)
    with pytest.raises(ValueError, match=match):
        range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)
    assert_same_state(before, snapshot_of(mlp, opt))


def test_dict_batches(mlp: nn.Module, dataset: TensorDataset) -> None:
    batches = [{"x": x, "y": y} for x, y in DataLoader(dataset, batch_size=32)]
    result = range_test(mlp, batches, loss_fn=F.cross_entropy, num_steps=12, max_lr=1e-2)
    assert result.num_steps == 12 and result.batch_size == 32

    class WithLoss(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = make_mlp()

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"loss": F.cross_entropy(self.net(x), y)}

    result = range_test(WithLoss(), batches, num_steps=12, max_lr=1e-2)
    assert result.num_steps == 12


@pytest.mark.parametrize("key", ["image", "images", "pixel_values"])
def test_dict_batches_with_an_image_key(mlp: nn.Module, dataset: TensorDataset, key: str) -> None:
    # {"image": x, "label": y} (torchvision-style dict datasets) was "Cannot compute a loss from a dict batch".
    batches = [{key: x, "label": y} for x, y in DataLoader(dataset, batch_size=32)]
    plain = range_test(mlp, [(b[key], b["label"]) for b in batches], loss_fn=F.cross_entropy, num_steps=12)
    result = range_test(mlp, batches, loss_fn=F.cross_entropy, num_steps=12)
    assert result.losses == plain.losses


@pytest.mark.parametrize("key", ["input_ids", "input_values", "input_features"])
def test_dict_batches_with_a_hugging_face_input_key(key: str) -> None:
    # {"input_ids": ..., "labels": ...} with loss_fn was "Cannot compute a loss from a dict batch", pointing at
    # dropping loss_fn; the mask beside it is named as not read.
    torch.manual_seed(0)
    tokens = torch.randint(0, 50, (64, 6))
    model = nn.Sequential(nn.Embedding(50, 8), nn.Flatten(), nn.Linear(48, 3))
    batches = [
        {key: t, "attention_mask": torch.ones_like(t), "labels": t[:, 0] % 3} for t in tokens.split(16)
    ]
    plain = range_test(model, [(b[key], b["labels"]) for b in batches], loss_fn=F.cross_entropy, num_steps=12)
    unused = rf"batch\['{key}'\]\), batch\['labels'\]\); their other keys \('attention_mask'\)"
    with pytest.warns(UserWarning, match=unused):
        result = range_test(model, batches, loss_fn=F.cross_entropy, num_steps=12)
    assert result.losses == plain.losses


def test_dict_batch_keys_loss_fn_does_not_read_are_named(mlp: nn.Module, dataset: TensorDataset) -> None:
    # A mask or sample weights next to x/y were dropped without a word.
    batches = [{"x": x, "y": y, "weight": torch.ones(len(y))} for x, y in DataLoader(dataset, batch_size=32)]
    unused = r"loss_fn\(model\(batch\['x'\]\), batch\['y'\]\); their other keys \('weight'\)"
    with pytest.warns(UserWarning, match=unused):
        range_test(mlp, batches, loss_fn=F.cross_entropy, num_steps=12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        range_test(mlp, [{"x": b["x"], "y": b["y"]} for b in batches], loss_fn=F.cross_entropy, num_steps=12)


def test_the_range_tests_warnings_point_at_its_caller(mlp: nn.Module, dataset: TensorDataset) -> None:
    # The unused-keys warning pointed at a line of lrfinder's range_test (its stacklevel counted one frame short).
    pairs = list(DataLoader(dataset, batch_size=32))
    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    hook = opt.register_step_post_hook(lambda *args: None)
    traced = torch.jit.trace(make_mlp().eval(), pairs[0][0])
    slow = torch.optim.SGD(mlp.parameters(), lr=0.1)
    slow.slow = types.SimpleNamespace(weights=[p.detach().clone() for p in mlp.parameters()])  # type: ignore
    dicts = [{"x": x, "y": y, "w": y} for x, y in pairs]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        range_test(mlp, dicts, loss_fn=F.cross_entropy, num_steps=10)
        range_test(mlp, pairs, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)
        range_test(mlp, iter(pairs * 2), loss_fn=F.cross_entropy, num_steps=10)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            range_test(mlp, pairs, loss_fn=F.cross_entropy, num_steps=10)
        range_test(traced, pairs, loss_fn=F.cross_entropy, num_steps=10)
        range_test(mlp, pairs, optimizer=slow, loss_fn=F.cross_entropy, num_steps=10)  # the snapshot's warning
        # Through lrfinder's own weight_decay_sweep too: at the line that called it.
        lrfinder.weight_decay_sweep(
            mlp, dicts, [0.0], make_optimizer=lambda m, wd: torch.optim.SGD(m.parameters(), lr=0.1, weight_decay=wd),
            loss_fn=F.cross_entropy, num_steps=10,
        )
    hook.remove()
    said = [str(w.message) for w in caught]
    for words in ("their other keys ('w')", "step hooks", "one-shot iterator", "inside torch.autocast", "traced"):
        assert any(words in text for text in said), (words, said)
    assert any("cannot restore: SGD.slow" in text for text in said)
    assert sum("their other keys ('w')" in text for text in said) == 2
    assert [(w.filename, str(w.message)[:50]) for w in caught if w.filename != __file__] == []


def test_fastais_suggest_funcs_and_stop_div_are_told_the_form_lrfinders_options_take(
    mlp: nn.Module, loader: DataLoader
) -> None:
    # fastai's lr_find(suggest_funcs=(minimum, steep), stop_div=False) moved to range_test was told only "Did you mean
    # 'rule'?" (which takes one name, not a tuple of functions) and "Did you mean 'stop_factor'?" (a number, where
    # False is None); analyze() alone said what suggest_funcs is here.
    suggest = (
        r"got an unexpected keyword argument 'suggest_funcs'\. Did you mean 'rule'\? fastai's suggest_funcs is rule= "
        r"here, one rule per reading: .*result\.analyze\(rule=\.\.\.\) reads the same curve by another rule\.$"
    )
    stop = (
        r"got an unexpected keyword argument 'stop_div'\. Did you mean 'stop_factor'\? fastai's stop_div=False is "
        r"stop_factor=None here \(never stop early\); stop_div=True is the default stop_factor=4\.0\.$"
    )
    with pytest.raises(TypeError, match=r"^range_test\(\) " + suggest):
        range_test(mlp, loader, suggest_funcs=("minimum", "steep"))  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"^range_test\(\) " + stop):
        range_test(mlp, loader, stop_div=False)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"^LRFinder\.__init__\(\) " + suggest):
        lrfinder.LRFinder(suggest_funcs=("valley",))  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"Did you mean 'stop_factor'\? fastai's stop_div=False is stop_factor=None"):
        lrfinder.find_lr(None, stop_div=False)  # type: ignore[call-arg, arg-type]
    # The rules given as fastai's tuple are told that a reading takes one.
    one = r"rule=\('min_div10', 'steepest'\)\. rule= takes one rule; read the same curve by each of several with "
    with pytest.raises(ValueError, match=one + r"result\.analyze\(rule=\.\.\.\)\.$"):
        range_test(mlp, loader, rule=("min_div10", "steepest"))  # type: ignore[arg-type]


def test_peer_option_names_are_answered_with_lrfinders(mlp: nn.Module, loader: DataLoader) -> None:
    # torch-lr-finder's end_lr/num_iter got Python's bare "unexpected keyword argument", as find_lr's do not.
    with pytest.raises(TypeError) as caught:
        range_test(mlp, loader, loss_fn=F.cross_entropy, end_lr=10, num_iter=100)  # type: ignore[call-arg]
    assert str(caught.value) == (
        "range_test() got unexpected keyword arguments 'end_lr', 'num_iter'. For 'end_lr': did you mean 'max_lr'? "
        "For 'num_iter': did you mean 'num_steps'?"
    )
    start = r"^range_test\(\) got an unexpected keyword argument 'start_lr'\. Did you mean 'min_lr'\?$"
    with pytest.raises(TypeError, match=start):
        range_test(mlp, loader, start_lr=1e-7)  # type: ignore[call-arg]
    # A peer option without a counterpart was as bare ("got an unexpected keyword argument 'smooth_f'."), which reads
    # as a typo: it says what to do instead, as docs/migrating.md's mapping table does.
    with pytest.raises(TypeError) as caught:
        range_test(mlp, loader, val_loader=loader, smooth_f=0.05)  # type: ignore[call-arg]
    said = str(caught.value)
    assert said.startswith("range_test() got unexpected keyword arguments 'val_loader', 'smooth_f'. torch-lr-finder's ")
    assert "torch-lr-finder's val_loader is range_test(..., val_data=val_loader, curve='val') here" in said
    assert said.endswith("smooth_f has no equivalent: result.losses are the raw losses, and the stop rule smooths them "
                         "itself (DivergenceMonitor).")
    with pytest.raises(TypeError, match=r"memory_cache has no equivalent: .* never written to disk\.$"):
        range_test(mlp, loader, memory_cache=False)  # type: ignore[call-arg]
    # torch-lr-finder's mixed precision (docs/migrating.md's table: precision=) and its non_blocking_transfer, and
    # fastai's show_plot, got the bare "unexpected keyword argument" too.
    with pytest.raises(TypeError) as caught:
        range_test(mlp, loader, amp_backend="torch", amp_config={"dtype": torch.bfloat16})  # type: ignore[call-arg]
    assert str(caught.value) == (
        "range_test() got unexpected keyword arguments 'amp_backend', 'amp_config'. For 'amp_backend': did you mean "
        "'precision'? For 'amp_config': did you mean 'precision'?"
    )
    with pytest.raises(TypeError, match=r"non_blocking_transfer has no equivalent: .*non_blocking=True already; drop"):
        range_test(mlp, loader, non_blocking_transfer=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"show_plot has no equivalent: the test draws nothing; .*plot_range_test"):
        range_test(mlp, loader, show_plot=False)  # type: ignore[call-arg]
    # The signature is range_test's own (LightningCLI and help() read it), the function underneath it.
    params = inspect.signature(range_test).parameters
    assert list(params)[:3] == ["model", "train_data", "optimizer"] and "max_lr" in params and "kwargs" not in params
    assert inspect.signature(range_test) == inspect.signature(range_test.__wrapped__)  # type: ignore[attr-defined]
    assert range_test.__doc__ == range_test.__wrapped__.__doc__  # type: ignore[attr-defined]


def test_curve_val_records_the_loss_over_val_data_after_each_step(dataset: TensorDataset) -> None:
    """torch-lr-finder's range_test(train_loader, val_loader=val_loader) records the validation loss after every step;
    range_test had no equivalent: val_data without refine was refused, and val_loader= was told there was none."""
    x, y = dataset.tensors
    train = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 256, 32)]
    val = [(x[256:306], y[256:306]), (x[306:320], y[306:320])]  # 50 and 14 examples: the mean is over examples
    model = make_mlp()  # BatchNorm: evaluated in eval mode, its running statistics as the steps left them
    by_hand = copy.deepcopy(model)
    result = range_test(
        model, train, val_data=val, curve="val", loss_fn=F.cross_entropy, num_steps=12, max_lr=1.0, stop_factor=None
    )
    opt = torch.optim.SGD(by_hand.parameters(), lr=1e-7, momentum=0.9)  # range_test's default optimizer
    expected = []
    for i, lr in enumerate(result.lrs):
        by_hand.train()
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad()
        xb, yb = train[i % len(train)]
        F.cross_entropy(by_hand(xb), yb).backward()
        opt.step()
        by_hand.eval()
        with torch.no_grad():
            expected.append(sum(F.cross_entropy(by_hand(xv), yv).item() * len(yv) for xv, yv in val) / 64)
    assert len(result.losses) == 12 and result.losses == pytest.approx(expected, rel=1e-5)
    assert result.settings.curve == "val" and RangeTestResult.from_dict(result.to_dict()).settings.curve == "val"
    assert all(m.training for m in model.modules())  # back in train mode
    trained = range_test(model, train, loss_fn=F.cross_entropy, num_steps=12, max_lr=1.0, stop_factor=None)
    assert trained.settings.curve == "train" and trained.losses != result.losses
    older = trained.to_dict()  # a file written before the curve was recorded
    del older["settings"]["curve"]
    assert RangeTestResult.from_dict(older).settings.curve == "train"


def test_curve_val_passes_leave_the_training_run_as_curve_train_runs_it(dataset: TensorDataset) -> None:
    """A validation pass only looks: with a ``step_fn`` that draws noise (mixup) and updates an EMA teacher in its
    closure, and loaders drawing from the global RNG, ``curve="val"`` trains exactly what ``curve="train"`` trains.
    Each pass called the step_fn (moving the teacher once per val batch) and drew from the global RNG (the val
    loader's seed, the step_fn's noise), so the steps after it trained another run than the one measured."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    x, y = dataset.tensors

    def run(curve: str) -> list[torch.Tensor]:
        torch.manual_seed(3)
        model = nn.Sequential(nn.Linear(x.shape[1], 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
        teacher = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.5))

        def step_fn(net: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            xb, yb = batch
            mix = torch.rand(())  # global RNG, as mixup draws
            teacher.update_parameters(net)
            with torch.no_grad():
                soft = teacher(xb).softmax(-1)
            out = net(mix * xb + (1 - mix) * xb.flip(0))
            return F.cross_entropy(out, yb) + F.mse_loss(out.softmax(-1), soft)

        train = DataLoader(TensorDataset(x[:256], y[:256]), batch_size=32, shuffle=True)  # the global RNG's order
        val = DataLoader(TensorDataset(x[256:320], y[256:320]), batch_size=16)  # iter() draws a seed from it
        range_test(model, train, val_data=val if curve == "val" else None, curve=curve, step_fn=step_fn,
                   num_steps=12, max_lr=1e-2, stop_factor=None, restore=False)
        return [t.detach().clone() for t in (*model.parameters(), *teacher.parameters(), teacher.n_averaged)]

    measured, trained = run("val"), run("train")
    assert all(torch.equal(a, b) for a, b in zip(measured, trained, strict=True))
    assert int(measured[-1]) == 12  # the teacher took one update per training step, none in the val passes


class _MeanPool(nn.Module):
    """A deep-sets model over point sets of their own sizes: a list of (points, 2) tensors, one per example."""

    def __init__(self) -> None:
        super().__init__()
        self.phi = nn.Linear(2, 8)
        self.rho = nn.Linear(8, 1)

    def forward(self, sets: list[torch.Tensor]) -> torch.Tensor:
        return self.rho(torch.stack([torch.tanh(self.phi(points)).mean(0) for points in sets]))


def test_a_batch_of_variable_size_sets_is_sized_and_weighted_by_its_examples() -> None:
    """Inputs as a list of per-example tensors (a collate_fn keeping point sets of their own sizes): the batch size
    was the first set's length, so result.batch_size said 3 for batches of 8, and curve="val" weighted each val
    batch by the points of its first set, not by its examples."""
    from lrfinder.range_test import infer_batch_size

    gen = torch.Generator().manual_seed(0)

    def batch(sizes: list[int]) -> tuple[list[torch.Tensor], torch.Tensor]:
        return [torch.randn(k, 2, generator=gen) * k for k in sizes], torch.randn(len(sizes), 1, generator=gen)

    train = [batch([3, 9, 4, 7, 5, 2, 8, 6]) for _ in range(4)]
    val = [batch([2, 5, 3, 7, 4, 6]), batch([20, 11])]  # 6 examples then 2; first sets of 2 and 20 points
    assert infer_batch_size(None, train[0]) == 8 and infer_batch_size(None, val[1]) == 2
    assert infer_batch_size(None, ((torch.zeros(5, 3), torch.zeros(5, 2)), torch.zeros(5))) == 5  # two inputs
    torch.manual_seed(0)
    model = _MeanPool()
    with torch.no_grad():
        losses = [F.mse_loss(model(sets), y).item() for sets, y in val]
    by_examples = (6 * losses[0] + 2 * losses[1]) / 8
    assert abs(by_examples - (2 * losses[0] + 20 * losses[1]) / 22) > 0.01  # the two weightings differ
    result = range_test(model, train, val_data=val, curve="val", loss_fn=F.mse_loss, num_steps=10, min_lr=1e-12,
                        max_lr=1e-11, stop_factor=None)
    assert result.batch_size == 8
    assert result.losses[0] == pytest.approx(by_examples, rel=1e-6)


def test_curve_val_puts_the_val_loaders_order_back_and_is_drawn_as_a_validation_loss(
    dataset: TensorDataset, loader: DataLoader
) -> None:
    import matplotlib.pyplot as plt

    order = torch.Generator().manual_seed(3)
    val = DataLoader(TensorDataset(*dataset[400:]), batch_size=40, shuffle=True, generator=order)
    state = order.get_state()
    result = range_test(make_mlp(), loader, val_data=val, curve="val", loss_fn=F.cross_entropy, num_steps=10)
    assert torch.equal(order.get_state(), state)  # 10 passes over val drew from its generator
    fig, ax = plt.subplots()
    lrfinder.plot_range_test(result, ax=ax)
    assert ax.get_ylabel() == "validation loss"
    plt.close(fig)


def test_curve_val_blames_a_val_batch_holding_nan_not_the_lr(dataset: TensorDataset, loader: DataLoader) -> None:
    # A NaN in val_data made every step's val loss NaN: the sweep stopped at step 0 as 'non_finite', a one-point curve,
    # where NaN in a training batch is a DataError naming the batch.
    x, y = (t.clone() for t in dataset[400:])
    x[45, 3] = float("nan")  # the second batch of 40
    model = make_mlp()
    before = copy.deepcopy(model.state_dict())
    said = r"^Batch 1 of val_data holds NaN or inf in inputs \(inputs float32 \(40, 10\), targets int64 \(40,\)\), "
    with pytest.raises(DataError, match=said + r"and the loss of step 0 \(lr=1.00e-07\) is nan"):
        range_test(model, loader, val_data=DataLoader(TensorDataset(x, y), batch_size=40), curve="val",
                   loss_fn=F.cross_entropy, num_steps=10)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # restored

    class Masking(nn.Module):
        """Fills NaN inputs itself: a NaN loss is then the LR's, read as a divergence."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = make_mlp()

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            return self.inner(torch.nan_to_num(inputs))

    result = range_test(Masking(), loader, val_data=DataLoader(TensorDataset(x, y), batch_size=40), curve="val",
                        loss_fn=F.cross_entropy, num_steps=30, min_lr=1.0, max_lr=1e12, stop_factor=None)
    assert result.stop_reason == "non_finite" and len(result.losses) > 1


def test_curve_val_tells_an_undefined_first_val_loss_from_the_untouched_models(
    dataset: TensorDataset, loader: DataLoader
) -> None:
    # Every val target ignore_index: a clean batch whose mean loss is NaN stops the sweep at step 0, and the error
    # called it "the untouched model's loss", where a validation loss is measured after the first step.
    x, _ = dataset[400:]
    ignored = DataLoader(TensorDataset(x, torch.full((x.shape[0],), -100)), batch_size=40)
    result = range_test(make_mlp(), loader, val_data=ignored, curve="val", loss_fn=F.cross_entropy, num_steps=10)
    assert result.stop_reason == "non_finite" and result.suggestion is None and result.error is not None
    assert result.error.startswith("The first loss is already nan (at lr=1.00e-07): on a validation curve")
    assert "after one step at the smallest LR" in result.error and "ignore_index" in result.error
    assert "untouched" not in result.error
    assert "untouched" not in str(pytest.raises(InconclusiveCurveError, result.analyze).value)  # its own curve kind
    train = dataclasses.replace(result, settings=dataclasses.replace(result.settings, curve="train"))
    assert "the untouched model's loss" in str(pytest.raises(InconclusiveCurveError, train.analyze).value)


class _Stream(torch.utils.data.IterableDataset):
    """``batches`` seeded batches of 8 MLP examples, without a length (a validation stream)."""

    def __init__(self, batches: int) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        gen = torch.Generator().manual_seed(3)
        for _ in range(self.batches):
            yield torch.randn(8, 10, generator=gen), torch.randint(0, 3, (8,), generator=gen)


def test_curve_val_peeks_at_val_data_without_a_length_leaving_the_test_as_it_was(mlp: nn.Module) -> None:
    # The peek for a first batch (the empty check) iterates the val loader before the sweep: under the saved RNG
    # state, so a shuffled train loader draws the order it draws with the same stream given a length (no peek).
    class Sized(_Stream):
        def __len__(self) -> int:
            return self.batches

    data = TensorDataset(torch.randn(64, 10), torch.randint(0, 3, (64,)))
    curves = []
    for val in (DataLoader(_Stream(2), batch_size=None), DataLoader(Sized(2), batch_size=None)):
        model = copy.deepcopy(mlp)
        torch.manual_seed(0)
        result = range_test(model, DataLoader(data, batch_size=8, shuffle=True), loss_fn=F.cross_entropy,
                            num_steps=12, val_data=val, curve="val")  # fmt: skip
        curves.append((result.losses, torch.rand(1)))
    assert curves[0][0] == curves[1][0]
    assert curves[0][1] == curves[1][1]  # the RNG after the test, too


def test_the_peek_leaves_no_workers_in_a_persistent_workers_val_loader(mlp: nn.Module) -> None:
    # The peek's iter() was the loader's first: it kept it, and the caller's next epoch resumed the peek's worker
    # (its augmentation RNG moved, no base seed drawn) instead of starting one as it would without the test.
    class Noisy(_Stream):
        def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            for x, y in super().__iter__():
                yield x + torch.randn(x.shape), y

    def epoch_after(with_test: bool) -> tuple[list[float], float]:
        val = DataLoader(Noisy(2), batch_size=None, num_workers=1, persistent_workers=True)
        torch.manual_seed(0)
        if with_test:
            range_test(copy.deepcopy(mlp), DataLoader(TensorDataset(torch.randn(64, 10), torch.randint(0, 3, (64,))),
                       batch_size=8), loss_fn=F.cross_entropy, num_steps=10, val_data=val, curve="val")  # fmt: skip
            assert val._iterator is None
            torch.manual_seed(0)
        return [float(x.sum()) for x, _ in val], float(torch.rand(1))

    assert epoch_after(with_test=True) == epoch_after(with_test=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"curve": "val"}, ValueError, r"^curve='val' records the loss over val_data after every step, but got "
                                       r"val_data=None: pass val_data=val_loader"),
        ({"curve": "validation", "val_data": "loader"}, ValueError,
         r"^Expected curve to be 'train' or 'val', but got curve='validation'.*Did you mean 'val'\?$"),
        ({"curve": "val", "val_data": "iterator"}, DataError, r"val_data is a one-shot iterator .* its second pass "
                                                               r"would be empty"),
        # Empty: found at the first step's pass, "curve='val' got val_data without a batch", nothing else to do.
        # Without a length (an IterableDataset yielding nothing) it still was, after one training step: now peeked at.
        *[
            ({"curve": "val", "val_data": empty}, DataError, r"^val_data is empty: it yields no batch, and curve='val' "
                                                            r"records .* or leave curve='train' \(and val_data out\)")
            for empty in ("no batches", "empty loader", "empty stream")
        ],
        # Its examples dropped with the only, short batch: "pass a loader over a non-empty dataset" was no fix.
        ({"curve": "val", "val_data": "dropped"}, DataError, r"^val_data yields no batch, and curve='val' records the "
                                                             r"mean loss over it: DataLoader\(batch_size=16, "
                                                             r"drop_last=True\) over 10 examples drops its only, short "
                                                             r"batch\. Lower batch_size to at most 10, or set "
                                                             r"drop_last=False\.$"),
    ],
)
def test_curve_val_refuses_what_it_cannot_read(
    mlp: nn.Module, loader: DataLoader, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    nothing = TensorDataset(torch.randn(0, 10), torch.zeros(0, dtype=torch.long))
    ten = TensorDataset(torch.randn(10, 10), torch.zeros(10, dtype=torch.long))
    given = {"loader": loader, "iterator": iter(loader), "no batches": [], "empty loader": DataLoader(nothing),
             "empty stream": DataLoader(_Stream(0)),
             "dropped": DataLoader(ten, batch_size=16, drop_last=True)}  # fmt: skip
    kwargs = {k: given.get(v, v) if k == "val_data" else v for k, v in kwargs.items()}
    calls: list[int] = []
    with pytest.raises(error, match=match):
        range_test(mlp, loader, loss_fn=F.cross_entropy, on_step=lambda i, lr, loss: calls.append(i), **kwargs)
    assert calls == []  # refused before the sweep


def test_torch_lr_finders_call_shape_is_told_where_the_model_and_optimizer_go(
    mlp: nn.Module, loader: DataLoader
) -> None:
    # lr_finder.range_test(train_loader, ...) moved as it stands got Python's "missing 1 required positional argument:
    # 'train_data'", naming the data that was given as missing; the loader had gone into model.
    with pytest.raises(TypeError) as caught:
        range_test(loader, end_lr=10)  # type: ignore[call-arg]
    said = str(caught.value)
    assert said.startswith(
        "range_test() takes the model first, then its data: range_test(model, train_loader, optimizer=optimizer, "
        "loss_fn=criterion), but got one positional argument, a DataLoader, and no model."
    )
    # range_test(model, optimizer, ...), LRFinder(model, optimizer, criterion)'s order: was "but got SGD" alone.
    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"but got SGD, an optimizer: pass it by name \(optimizer=\.\.\.\) and the "
                                        r"batches second$"):  # fmt: skip
        range_test(mlp, opt, loss_fn=F.cross_entropy)  # type: ignore[arg-type]
    # A model alone is still Python's own "missing ... 'train_data'": that one is missing.
    with pytest.raises(TypeError, match=r"missing 1 required positional argument: 'train_data'"):
        range_test(mlp)  # type: ignore[call-arg]


def test_settings_passed_positionally_are_answered_with_their_keywords(mlp: nn.Module, loader: DataLoader) -> None:
    """range_test(model, loader, criterion) (torch-lr-finder's order) and LRFinder(1e-6, 1.0) (Lightning's
    LearningRateFinder(min_lr, max_lr)) got Python's bare "takes 2 positional arguments but 3 were given"."""
    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    with pytest.raises(TypeError) as caught:
        range_test(mlp, loader, opt, F.cross_entropy)  # type: ignore[misc]
    assert str(caught.value) == (
        "range_test() takes model and train_data positionally, but got 4 positional arguments: pass the others by "
        "name (optimizer=..., loss_fn=..., step_fn=..., ...). Did you mean range_test(model, train_data, "
        "optimizer=<SGD>, loss_fn=cross_entropy)?"
    )
    with pytest.raises(TypeError, match=r"loss_fn=<CrossEntropyLoss>\)\?$"):
        range_test(mlp, loader, nn.CrossEntropyLoss())  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"pass the others by name \(optimizer=\.\.\., loss_fn=\.\.\., step_fn=\.\.\., "
                       r"\.\.\.\)\.$"):  # fmt: skip
        range_test(mlp, loader, loader)  # type: ignore[misc]  # no guess for a loader
    with pytest.raises(TypeError) as caught:
        lrfinder.LRFinder(1e-6, 1.0, 50)  # type: ignore[misc]
    assert str(caught.value) == (
        "LRFinder() takes no argument positionally, but got 3 positional arguments: pass them by name (min_lr=..., "
        "max_lr=..., num_steps=..., ...). Did you mean LRFinder(min_lr=1e-06, max_lr=1.0, num_steps=50)?"
    )


@pytest.mark.parametrize("call", ["positional", "keywords"])
def test_lrfinder_built_as_torch_lr_finders_is_told_to_call_range_test(mlp: nn.Module, call: str) -> None:
    # torch-lr-finder's LRFinder(model, optimizer, criterion) was told "pass them by name (min_lr=..., max_lr=...,
    # num_steps=..., ...)", and LRFinder(model=..., criterion=...) "For 'model': did you mean 'mode'?".
    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    with pytest.raises(TypeError) as caught:
        if call == "positional":
            lrfinder.LRFinder(mlp, opt, nn.CrossEntropyLoss(), device="cpu")  # type: ignore[misc]
        else:
            lrfinder.LRFinder(model=mlp, optimizer=opt, criterion=nn.CrossEntropyLoss())  # type: ignore[call-arg]
    assert str(caught.value) == (
        "LRFinder is lrfinder's Lightning callback, Trainer(callbacks=[LRFinder()]), not torch-lr-finder's "
        "LRFinder(model, optimizer, criterion): it is given no model, no built optimizer and no loss. For a plain "
        "PyTorch model, call lrfinder.range_test(model, train_loader, optimizer=optimizer, loss_fn=criterion): it puts "
        "the model and optimizer back itself (no reset()), and result.suggestion.lr is the LR. For a LightningModule, "
        "lrfinder.find_lr(module, train_loader)."
    )
    with pytest.raises(TypeError, match=r"^LRFinder.__init__\(\) got an unexpected keyword argument 'model'\. Did "
                       r"you mean 'mode'\?$"):  # fmt: skip
        lrfinder.LRFinder(model="exp")  # type: ignore[call-arg]  # no module: a misspelt mode, as before


@pytest.mark.parametrize("cls", [torch.optim.SGD, SAM])
def test_lrfinder_given_a_built_optimizer_is_told_to_pass_its_class(mlp: nn.Module, cls: type) -> None:
    # The message was the optimizer's repr cut at 60 characters: "SGD (\nParameter Group 0\n    dampening: 0 ...".
    opt = cls(mlp.parameters(), lr=0.1)
    path = "torch.optim.SGD" if cls is torch.optim.SGD else "conftest.SAM"
    with pytest.raises(TypeError) as caught:
        lrfinder.LRFinder(optimizer=opt)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "Expected optimizer to be a registry name such as 'adamw', a torch.optim.Optimizer class or None, but got "
        f"{cls.__name__}(...), an optimizer already built: LRFinder builds it over the module's parameters when the "
        f"fit starts. Pass its class, optimizer={path}, with its settings in optimizer_settings={{...}} (no lr: the LR "
        "is the one the test finds), or leave optimizer=None to test the one the module's configure_optimizers returns."
    )


def test_step_fn_for_other_batch_formats(mlp: nn.Module, dataset: TensorDataset) -> None:
    triples = [(x, y, torch.ones(len(y))) for x, y in DataLoader(dataset, batch_size=32)]

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        x, y, w = batch
        return (F.cross_entropy(m(x), y, reduction="none") * w).mean()

    assert range_test(mlp, triples, step_fn=step_fn, num_steps=10, max_lr=1e-2).num_steps == 10


def test_step_fn_with_a_loss_fn_too_warns_that_the_loss_fn_is_not_used(mlp: nn.Module, loader: DataLoader) -> None:
    # step_fn took precedence without a word: a loss_fn given beside it (a weighted loss, say) was silently dropped.
    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(m(x), y)

    with pytest.warns(UserWarning, match=r"both step_fn and loss_fn: step_fn computes each batch's loss") as record:
        range_test(mlp, loader, loss_fn=F.nll_loss, step_fn=step_fn, num_steps=10, max_lr=1e-2)
    said = [w for w in record if "both step_fn and loss_fn" in str(w.message)]
    assert len(said) == 1 and said[0].filename == __file__


def test_default_optimizer_is_sgd_momentum(mlp: nn.Module, loader: DataLoader) -> None:
    result = range_test(mlp, loader, loss_fn=F.cross_entropy, num_steps=10, max_lr=1e-2)
    assert result.optimizer_name == "SGD"
    assert result.model_name == "Sequential"
    assert result.num_parameters == sum(p.numel() for p in mlp.parameters())


def test_a_nesterov_optimizer_is_named_nesterov_in_the_result_and_report(mlp: nn.Module, loader: DataLoader) -> None:
    # The result and its report said "SGD" (the class) where lrfind --optimizer nesterov says Nesterov.
    from lrfinder.report import _header_lines
    from lrfinder.scaling import optimizer_family

    opt = torch.optim.SGD(mlp.parameters(), lr=1e-3, momentum=0.9, nesterov=True)
    result = range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10, max_lr=1e-2)
    assert result.optimizer_name == "SGD (Nesterov)"
    assert optimizer_family(result.optimizer_name) == "sgd"  # still read as SGD by scale(rule="auto")
    assert "optimizer SGD (Nesterov)" in _header_lines([result])[1][0]
    heavy_ball = torch.optim.SGD(mlp.parameters(), lr=1e-3, momentum=0.9)
    plain = range_test(mlp, loader, optimizer=heavy_ball, loss_fn=F.cross_entropy, num_steps=10, max_lr=1e-2)
    assert plain.optimizer_name == "SGD"


@pytest.mark.parametrize(("name", "expected"), [("amsgrad", "Adam (AMSGrad)"), ("adam", "Adam")])
def test_an_amsgrad_optimizer_is_named_amsgrad_in_the_result_and_report(
    mlp: nn.Module, loader: DataLoader, name: str, expected: str
) -> None:
    # create_optimizer("amsgrad") is the class Adam: the result and its report said "Adam" for it.
    from lrfinder.report import _header_lines
    from lrfinder.scaling import optimizer_family

    opt = create_optimizer(name, mlp.parameters(), lr=1e-3)
    result = range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10, max_lr=1e-2)
    assert result.optimizer_name == expected
    assert optimizer_family(result.optimizer_name) == "adaptive"
    assert f"optimizer {expected}  |" in _header_lines([result])[1][0]
    decoupled = torch.optim.AdamW(mlp.parameters(), lr=1e-3, amsgrad=True)
    adamw = range_test(mlp, loader, optimizer=decoupled, loss_fn=F.cross_entropy, num_steps=10, max_lr=1e-2)
    assert adamw.optimizer_name == "AdamW (AMSGrad)"


def test_a_registry_optimizer_the_class_does_not_name_is_named_in_the_result_and_report(
    mlp: nn.Module, loader: DataLoader
) -> None:
    # create_optimizer("momentum") is the class SGD: the result and its report said "SGD", as for plain SGD, where
    # lrfind --optimizer momentum says momentum.
    from lrfinder.report import _header_lines
    from lrfinder.scaling import optimizer_family

    results = {}
    for name in ("momentum", "sgd", "adamw", "nesterov"):
        opt = create_optimizer(name, mlp, lr=1e-3)
        results[name] = range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10, max_lr=1e-2)
    names = {name: result.optimizer_name for name, result in results.items()}
    assert names == {"momentum": "SGD (momentum)", "sgd": "SGD", "adamw": "AdamW", "nesterov": "SGD (Nesterov)"}
    momentum = results["momentum"]
    assert RangeTestResult.from_json(momentum.to_json()).optimizer_name == "SGD (momentum)"
    assert optimizer_family(momentum.optimizer_name) == "sgd"  # still read as SGD by scale(rule="auto")
    assert "optimizer SGD (momentum)  |" in _header_lines([momentum])[1][0]


def test_an_averaged_model_submodule_is_not_trained_nor_counted_but_restored(loader: DataLoader) -> None:
    # An EMA kept as a submodule (AveragedModel's copies require grad): they were in the default optimizer and
    # doubled num_parameters. The test updates the EMA at each step; the snapshot must still put it back.
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    class WithEma(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = make_mlp()
            self.ema = AveragedModel(self.net, multi_avg_fn=get_ema_multi_avg_fn(0.9))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

    model = WithEma()
    model.ema.update_parameters(model.net)
    before = [t.detach().clone() for t in (*model.ema.parameters(), *model.ema.buffers())]
    updates: list[int] = []

    def on_step(i: int, lr: float, loss: float) -> None:
        model.ema.update_parameters(model.net)
        updates.append(i)

    result = range_test(model, loader, loss_fn=F.cross_entropy, num_steps=12, max_lr=1.0, on_step=on_step)
    assert len(updates) == 12
    assert result.num_parameters == sum(p.numel() for p in model.net.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, (*model.ema.parameters(), *model.ema.buffers()), strict=True))
    assert int(model.ema.n_averaged) == 1
    assert all(p.grad is None for p in model.ema.parameters())  # no gradient reaches them


# ------------------------------------------------------------------------------------ result


def test_a_peers_result_names_say_what_to_use() -> None:
    # result.plot(), result.history and result.reset() (torch-lr-finder's habits) got Python's bare AttributeError.
    result = RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 0.9), stop_reason="completed")
    with pytest.raises(AttributeError) as caught:
        result.plot()  # type: ignore[attr-defined]
    assert str(caught.value) == (
        "'RangeTestResult' object has no attribute 'plot': draw the curve with lrfinder.plot_range_test(result) (a "
        "matplotlib Figure, the suggestion marked), or write the report with lrfinder.save_report(result, 'lr.png')."
    )
    with pytest.raises(AttributeError, match=r"'history': the curve is result.lrs and result.losses \(the raw"):
        result.history  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError, match=r"'results': the curve is result.lrs and result.losses \(the raw"):
        result.results  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError, match=r"'reset': nothing to reset: range_test put the model, the optimizer"):
        result.reset()  # type: ignore[attr-defined]
    # Any other missing name is Python's own error, its close-name hint included; copies and pickles are unchanged.
    with pytest.raises(AttributeError, match=r"^'RangeTestResult' object has no attribute 'suggestin'$") as caught:
        result.suggestin  # type: ignore[attr-defined]  # noqa: B018
    assert caught.value.name == "suggestin" and caught.value.obj is result
    assert not hasattr(result, "plot") and copy.deepcopy(result) == result == pickle.loads(pickle.dumps(result))


def test_a_suggestion_is_data_to_code_that_calls_what_is_callable(loader: DataLoader, mlp: nn.Module) -> None:
    # A Suggestion with a __call__ (one that only raised, to answer Lightning's result.suggestion() habit) was
    # callable(): Lightning's WandbLogger.log_hyperparams calls each callable hyper-parameter and, when that raises,
    # records its __name__: {"suggestion": result.suggestion} was logged as None, where it was the Suggestion's repr.
    from lightning.fabric.utilities.logger import _convert_params, _sanitize_callable_params

    lrs = np.geomspace(1e-4, 1.0, 80)
    losses = 2.0 - np.tanh(np.log10(lrs) + 2.5) + np.where(lrs > 0.1, 40 * (lrs - 0.1), 0.0)
    result = RangeTestResult(lrs=tuple(lrs), losses=tuple(losses), stop_reason="completed").analyze()
    assert result.suggestion is not None and not callable(result.suggestion)
    assert _sanitize_callable_params(_convert_params({"suggestion": result.suggestion})) == {
        "suggestion": result.suggestion
    }
    # An argument given it is refused by name.
    with pytest.raises(TypeError, match=r"^Expected on_step to be callable \(on_step\(index, lr, loss\)\), but got"):
        range_test(mlp, loader, loss_fn=F.cross_entropy, on_step=result.suggestion)  # type: ignore[arg-type]


def test_a_suggestion_kept_on_the_model_is_put_back_as_a_helper_object() -> None:
    # The snapshot's attribute rules read callable(): a Suggestion kept as a module attribute is a plain helper
    # object whose fields are put back, not an opaque callable.
    from lrfinder.snapshot import StateSnapshot

    lrs = np.geomspace(1e-4, 1.0, 80)
    losses = 2.0 - np.tanh(np.log10(lrs) + 2.5) + np.where(lrs > 0.1, 40 * (lrs - 0.1), 0.0)
    suggestion = lrfinder.analyze(lrs, losses)
    model = nn.Linear(4, 2)
    model.found = suggestion  # type: ignore[assignment]
    snap = StateSnapshot(model, [torch.optim.SGD(model.parameters(), lr=0.1)], [], module_attributes=True)
    object.__setattr__(suggestion, "notes", ("changed during the test",))
    object.__setattr__(suggestion, "extra", 1)
    snap.restore()
    assert model.found is suggestion and suggestion.notes == lrfinder.analyze(lrs, losses).notes
    assert not hasattr(suggestion, "extra")


def test_json_round_trip_is_exact(tmp_path: Any, loader: DataLoader, mlp: nn.Module) -> None:
    result = range_test(mlp, loader, loss_fn=F.cross_entropy, min_lr=1e-4, max_lr=1e3, num_steps=60)
    result = result.scale(128, rule="sqrt")
    path = tmp_path / "result.json"
    text = result.to_json(path)
    assert "NaN" not in text and "Infinity" not in text
    again = RangeTestResult.from_json(path)
    assert again.to_dict() == result.to_dict()
    assert again.suggestion == result.suggestion or math.isnan(result.losses[-1])
    assert again.scaled == result.scaled
    assert RangeTestResult.from_json(text).to_dict() == result.to_dict()


def test_the_scale_methods_warnings_point_at_the_callers_line(loader: DataLoader, mlp: nn.Module) -> None:
    """result.scale()'s warnings (past the divergence LR, an unknown optimizer) named range_test.py as their line.

    scaling.py's fixed stacklevels counted from scale_lr, so through RangeTestResult.scale they stopped one
    frame short of the caller, in lrfinder's own file.
    """
    result = range_test(mlp, loader, loss_fn=F.cross_entropy, min_lr=1e-4, max_lr=1e3, num_steps=60)
    assert result.suggestion is not None and result.suggestion.divergence_lr is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result.scale(10**7, optimizer="mystery_opt")
    said = [(w.filename, str(w.message)) for w in caught]
    assert any("past the divergence" in m for _, m in said) and any("does not know" in m for _, m in said)
    assert [f for f, _ in said] == [__file__] * len(said)


def test_to_json_refuses_an_empty_path(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """to_json('') said "Cannot write '.': it is a directory", a path the caller never gave."""
    monkeypatch.chdir(tmp_path)
    result = RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 2.0), stop_reason="completed")
    with pytest.raises(ValueError, match=r"such as 'result.json', but got an empty path ''; pass no path for the JSON"):
        result.to_json("")
    assert list(tmp_path.iterdir()) == []
    assert RangeTestResult.from_json(result.to_json()) == result  # no path: the text alone, as before


def test_to_json_refuses_a_path_of_another_kind_of_file(tmp_path: Any) -> None:
    """to_json('model.pt') replaced the model file with the JSON text; to_json(3) got pathlib's bare TypeError."""
    result = RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 2.0), stop_reason="completed")
    model = tmp_path / "model.pt"
    torch.save(nn.Linear(2, 1).state_dict(), model)
    before = model.read_bytes()
    with pytest.raises(ValueError, match=r"but '.*model\.pt' ends in \.pt, the extension of a model: the JSON would "
                       r"replace that file\. Name it \.json\."):  # fmt: skip
        result.to_json(model)
    assert model.read_bytes() == before
    for name, kind in (("train.NPZ", "data"), ("curve.png", "a report image"), ("ckpt/last.ckpt", "a model")):
        with pytest.raises(ValueError, match=f"the extension of {kind}: "):
            result.to_json(str(tmp_path / name))
    with pytest.raises(TypeError, match=r"a file path such as 'result.json' or None, but got path=3"):
        result.to_json(3)  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]
    result.to_json(tmp_path / "result.txt")  # any other name is the caller's choice
    assert RangeTestResult.from_json(tmp_path / "result.txt") == result


def test_json_with_nan_and_inconclusive(tmp_path: Any) -> None:
    result = RangeTestResult(
        lrs=(1e-3, 1e-2, 1e-1), losses=(1.0, float("inf"), float("nan")), stop_reason="non_finite", error="short"
    )
    again = RangeTestResult.from_json(result.to_json())
    assert again.losses[0] == 1.0 and again.losses[1] == math.inf and math.isnan(again.losses[2])
    assert again.error == "short" and again.suggestion is None


def test_json_of_a_hand_built_short_plan_reads_back(tmp_path: Any) -> None:
    """RangeTestSettings(num_steps=5) is valid and to_json wrote it, but from_json asked for range_test's 10."""
    settings = RangeTestSettings(min_lr=1e-3, max_lr=1.0, num_steps=5)
    result = RangeTestResult(
        lrs=tuple(lr_schedule(1e-3, 1.0, 5)), losses=(2.0, 1.5, 1.0, 1.2, 4.0), stop_reason="completed",
        settings=settings,
    )
    again = RangeTestResult.from_json(result.to_json())
    assert again.settings == settings and again.losses == result.losses
    data = result.to_dict()
    data["settings"]["num_steps"] = 1  # what the settings themselves refuse is still refused, by name
    with pytest.raises(ValueError, match=r"Malformed range-test result.*num_steps >= 2"):
        RangeTestResult.from_dict(data)


@pytest.mark.parametrize(
    ("version", "said"),
    [
        # A newer lrfinder's file was "Unsupported result schema_version=2; this lrfinder reads version 1": no way out.
        (2, "schema_version 2 is newer than the version 1 this lrfinder reads: a newer lrfinder wrote it. Upgrade "
            "lrfinder (pip install --upgrade lrfinder)"),
        # A hand edit to the string "1" was told "schema_version='1'; this lrfinder reads version 1".
        ("1", "schema_version '1' is not a version (lrfinder writes whole numbers from 1; this one reads version 1)"),
        (0, "schema_version 0 is not a version"),
        (None, "there is no schema_version"),
    ],
)  # fmt: skip
def test_json_schema_version_is_checked(tmp_path: Path, version: object, said: str) -> None:
    data = RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 2.0), stop_reason="completed").to_dict()
    if version is None:
        del data["schema_version"]
    else:
        data["schema_version"] = version
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError) as info:
        RangeTestResult.from_json(path)
    assert str(info.value).startswith(f"{str(path)!r}: Unsupported range-test result: {said}")
    assert str(info.value).endswith(("Write the result again with result.to_json(path).", "(result.to_json(path))."))


def test_from_json_and_from_dict_given_each_others_input_name_the_other(tmp_path: Path) -> None:
    # from_json(json.load(f)) was "but got dict {...}", from_dict(path) "but got str": neither named the other reader.
    result = RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 2.0), stop_reason="completed")
    with pytest.raises(TypeError, match=r"but got dict: read a dict .* with RangeTestResult\.from_dict\(data\)$"):
        RangeTestResult.from_json(result.to_dict())  # type: ignore[arg-type]
    path = tmp_path / "r.json"
    for given in (result.to_json(path), str(path), path):
        with pytest.raises(TypeError, match=r": read a JSON file \(or its text\) with RangeTestResult\.from_json"):
            RangeTestResult.from_dict(given)  # type: ignore[arg-type]
    assert RangeTestResult.from_dict(json.loads(path.read_text())) == RangeTestResult.from_json(path) == result


@pytest.mark.parametrize(
    ("key", "value", "pattern"),
    [("stop_reason", "exploded", "stop_reason='exploded'"), ("mode", "log", "settings.mode='log'")],
)
def test_json_literal_fields_are_checked(key: str, value: str, pattern: str) -> None:
    data = RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 2.0), stop_reason="completed").to_dict()
    if key == "mode":
        data["settings"]["mode"] = value
    else:
        data[key] = value
    with pytest.raises(ValueError, match=pattern):
        RangeTestResult.from_dict(data)


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda d: d.update(losses=d["losses"][:1]), r"'lrs' and 'losses'.*2 and 1"),
        (lambda d: d.update(lrs=["a", "b"]), r"Malformed range-test result: lrs\[0\]='a' is text, not a number"),
        (lambda d: d["settings"].update(min_lr="x"), "Malformed range-test result.*min_lr"),
        (lambda d: d["settings"].update(num_steps=1.5), "Malformed range-test result.*num_steps"),
        (lambda d: d.update(suggestion="x"), "Malformed range-test result"),
    ],
)
def test_json_malformed_fields_are_named(edit: Any, pattern: str) -> None:
    data = RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 2.0), stop_reason="completed").to_dict()
    edit(data)
    with pytest.raises(ValueError, match=pattern):
        RangeTestResult.from_dict(data)


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (lambda d: d["lrs"].__setitem__(0, "1e-4"),
         "lrs[0]='1e-4' is text, not a number; a result's lrs are JSON numbers"),
        (lambda d: d["losses"].__setitem__(2, True), "losses[2]=True is a bool, not a number"),
        (lambda d: d["losses"].__setitem__(1, "0.5"), "losses[1]='0.5' is text, not a number"),
        (lambda d: d["suggestion"]["smoothed_losses"].__setitem__(0, False),
         "suggestion.smoothed_losses[0]=False is a bool, not a number"),
        # One rule for the curve and a suggestion's fields: "Infinity" was read in the one and refused in the other.
        (lambda d: d["losses"].__setitem__(1, "Infinity"), "losses[1]='Infinity' is text, not a number"),
        (lambda d: d["suggestion"].__setitem__("min_loss_lr", "Infinity"),
         "Expected suggestion.min_loss_lr to be a number, but got min_loss_lr='Infinity', text"),
    ],
)
def test_from_json_refuses_numbers_written_as_text_or_bools_naming_the_file_and_field(
    tmp_path: Path, edit: Any, said: str
) -> None:
    """float() read "1e-3" and true as numbers: a hand-edited file drew a curve of values nobody recorded."""
    lrs = tuple(np.geomspace(1e-4, 1.0, 40).tolist())
    losses = tuple((2.0 - np.sin(np.linspace(0.0, 2.5, 40))).tolist())
    data = RangeTestResult(lrs=lrs, losses=losses, stop_reason="completed").analyze().to_dict()
    assert data["suggestion"] is not None
    edit(data)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError) as info:
        RangeTestResult.from_json(path)
    assert str(info.value).startswith(f"{str(path)!r}: Malformed range-test result: {said}"), str(info.value)
    # The words to_dict writes for what JSON cannot hold still read as numbers.
    data = RangeTestResult(lrs=lrs, losses=(float("nan"), float("inf"), *losses[2:]), stop_reason="completed").to_dict()
    assert data["losses"][:2] == ["nan", "inf"]
    path.write_text(json.dumps(data))
    assert RangeTestResult.from_json(path).losses[1] == float("inf")


def test_reanalysis_moves_the_scaled_lr_along(mlp: nn.Module, loader: DataLoader) -> None:
    result = range_test(mlp, loader, loss_fn=F.cross_entropy, min_lr=1e-4, max_lr=1e3, num_steps=60)
    assert result.suggestion is not None
    scaled = result.scale(128, rule="sqrt")
    again = scaled.analyze(rule="min_div10")
    assert again.suggestion is not None and again.scaled is not None
    assert again.suggestion.lr != result.suggestion.lr  # the two rules pick different points here
    # Same target, rule and factor; the LR follows the new suggestion.
    assert again.scaled.to_batch_size == 128 and again.scaled.rule == "sqrt" and again.scaled.factor == 2.0
    assert again.scaled.base_lr == again.suggestion.lr
    assert again.lr == pytest.approx(2.0 * again.suggestion.lr)
    assert again.training_suggestion is not None and again.training_suggestion.lr == again.lr


def test_inconclusive_curve_keeps_the_result(mlp: nn.Module, loader: DataLoader) -> None:
    result = range_test(mlp, loader, loss_fn=F.cross_entropy, min_lr=1e-9, max_lr=1e-8, num_steps=20)
    assert result.suggestion is None
    assert result.error is not None and "never clearly falls" in result.error
    assert result.num_steps == 20
    assert result.lr is None


def test_an_adadelta_sweep_that_never_moved_up_to_10_says_why_for_adadelta() -> None:
    # torch.optim.Adadelta at its own scale: a linear regression barely moves by lr=10 (a step of about 1e-3 * lr per
    # weight at first). The error said the loss "likely does not depend on the weights' scale", wrong for a plain
    # linear model; the result knows the optimizer, and its error (and result.analyze()'s) says why for Adadelta.
    torch.manual_seed(0)
    x = torch.randn(512, 8)
    y = x @ torch.randn(8)
    data = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = nn.Linear(8, 1)
    result = range_test(
        model, data, optimizer=torch.optim.Adadelta(model.parameters()), loss_fn=lambda o, t: F.mse_loss(o[:, 0], t)
    )
    assert result.optimizer_name == "Adadelta" and result.suggestion is None and result.error is not None
    assert "The loss never blew up either, up to lr=1.00e+01. With Adadelta that is expected" in result.error
    assert "scaling every weight by 10" not in result.error
    with pytest.raises(InconclusiveCurveError) as again:
        result.analyze()
    assert "With Adadelta that is expected" in str(again.value)


def test_an_inconclusive_curve_is_said_once_as_a_log_line_not_also_as_a_warning(
    mlp: nn.Module, loader: DataLoader, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 11: an inconclusive curve is reported once, not as both a log line and a warning.
    with warnings.catch_warnings(record=True) as seen, caplog.at_level("INFO", logger="lrfinder"):
        warnings.simplefilter("always")
        result = range_test(mlp, loader, loss_fn=F.cross_entropy, min_lr=1e-9, max_lr=1e-8, num_steps=20)
    assert result.error is not None and "never clearly falls" in result.error
    said = [r.getMessage() for r in caplog.records if "never clearly falls" in r.getMessage()]
    assert said == [f"Range test inconclusive: {result.error}"]
    assert [str(w.message) for w in seen if "never clearly falls" in str(w.message)] == []


def test_scaling_an_inconclusive_result_quotes_its_error_as_a_sentence() -> None:
    # The error (sentences ending in a full stop) once went inside parentheses: "... these LRs).). Run".
    error = "The loss never clearly falls. Lower min_lr (the model may already be trained)."
    result = RangeTestResult(lrs=(1e-3,), losses=(1.0,), stop_reason="completed", batch_size=32, error=error)
    with pytest.raises(LRFinderError, match=r"inconclusive: The loss never clearly falls\. .*trained\)\. Run") as info:
        result.scale(64)
    assert ".)." not in str(info.value)


# ------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("kwargs", "exc", "pattern"),
    [
        ({"min_lr": 0.0}, ValueError, r"min_lr > 0, but got min_lr=0.0"),
        ({"min_lr": -1e-3}, ValueError, r"min_lr > 0"),
        ({"min_lr": 1.0, "max_lr": 0.1}, ValueError, r"max_lr > min_lr, but got min_lr=1.0, max_lr=0.1"),
        ({"num_steps": 5}, ValueError, r"num_steps >= 10, but got num_steps=5"),
        ({"num_steps": 20.5}, TypeError, r"num_steps to be an int"),
        ({"mode": "log"}, ValueError, r"mode to be 'exp' or 'linear'"),
        ({"stop_factor": 1.0}, ValueError, r"stop_factor > 1"),
        ({"accumulate_steps": 0}, ValueError, r"accumulate_steps"),
        ({"min_lr": float("nan")}, ValueError, r"min_lr to be finite"),
        # The ratio overflowed: the sweep ran at lr=inf, then analyze said "every lr finite and > 0, got 1e-300".
        ({"min_lr": 1e-300, "max_lr": 1e10}, ValueError, r"max_lr / min_lr to be a finite number for mode='exp'"),
        ({"min_lr": 5e-324, "max_lr": 1e-3}, ValueError, r"ratio overflows"),
    ],
)
def test_bad_settings(
    kwargs: dict[str, Any], exc: type[Exception], pattern: str, mlp: nn.Module, loader: DataLoader
) -> None:
    with pytest.raises(exc, match=pattern):
        range_test(mlp, loader, loss_fn=F.cross_entropy, **kwargs)


def test_empty_data(mlp: nn.Module) -> None:
    with pytest.raises(DataError, match="empty"):
        range_test(mlp, [], loss_fn=F.cross_entropy)


def test_a_used_up_iterator_is_named_as_one(mlp: nn.Module, loader: DataLoader) -> None:
    # iter(loader) looped over before was "empty: it yielded no batch. Pass a non-empty DataLoader/iterable", though
    # the DataLoader's data is not empty.
    used = iter(loader)
    for _ in used:
        pass
    with pytest.warns(UserWarning, match="one-shot iterator"), pytest.raises(DataError) as info:
        range_test(mlp, used, loss_fn=F.cross_entropy)
    assert str(info.value).startswith(
        "The training data is empty: it is an iterator (_SingleProcessDataLoaderIter) that yields no batch, read to "
        "its end before it was passed"
    )
    assert str(info.value).endswith("Pass the DataLoader (or list of batches) itself, which can be started again.")
    with pytest.raises(DataError, match=r"^The training data is empty: it yielded no batch\. Pass a non-empty"):
        range_test(mlp, [], loss_fn=F.cross_entropy)  # a list is no iterator: the plain words


def test_a_batch_of_no_examples_is_named(mlp: nn.Module, dataset: TensorDataset) -> None:
    """Its NaN loss read as 'the first loss is already nan ... check the model' (a later one stopped the test)."""
    x, y = dataset.tensors
    before = [p.detach().clone() for p in mlp.parameters()]
    with pytest.raises(DataError, match=r"Batch 1 of the pass has no examples \(inputs float32 \(0, 10\), targets"):
        range_test(mlp, [(x[:32], y[:32]), (x[:0], y[:0])], loss_fn=F.cross_entropy, num_steps=10)
    assert all(torch.equal(a, b) for a, b in zip(before, mlp.parameters()))


@pytest.mark.parametrize("row", [5, 100])
def test_nan_in_the_data_is_named_not_read_as_a_divergence(mlp: nn.Module, dataset: TensorDataset, row: int) -> None:
    """A NaN in batch 3 made the loss NaN at lr=1.75e-07: "only 3 finite values ... lower min_lr or max_lr"."""
    x, y = dataset.tensors
    x = x.clone()
    x[row, 3] = float("nan")
    before = [p.detach().clone() for p in mlp.parameters()]
    batch = row // 32
    with pytest.raises(DataError, match=rf"Batch {batch} of the pass holds NaN or inf in inputs \(inputs float32 "
                       rf"\(32, 10\).*loss of step {batch} \(lr=.*\) is nan: the data made it non-finite"):  # fmt: skip
        range_test(mlp, DataLoader(TensorDataset(x, y), batch_size=32), loss_fn=F.cross_entropy, num_steps=20)
    assert all(torch.equal(a, b) for a, b in zip(before, mlp.parameters()))
    # A loss made non-finite by the LR (clean data) still ends the sweep as before.
    result = range_test(mlp, [(dataset.tensors[0][:32], y[:32])], step_fn=lambda m, b: m(b[0]).sum() * float("inf"),
                        num_steps=20)  # fmt: skip
    assert result.stop_reason == "non_finite"


def test_a_model_that_fills_nan_inputs_itself_diverges_as_any_other(dataset: TensorDataset) -> None:
    """Missing values as NaN, filled by the model: the LR's NaN at the end of the sweep was blamed on the data."""
    x, y = dataset.tensors
    x = x.clone()
    x[::7, 2] = float("nan")  # in every batch

    torch.manual_seed(0)
    model = FillsNaN(nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3)))
    loader = DataLoader(TensorDataset(x, y), batch_size=32)
    # No stop rule: the loss runs on until the LR makes it non-finite.
    result = range_test(model, loader, loss_fn=F.cross_entropy, min_lr=1e-4, max_lr=1e12, num_steps=60,
                        stop_factor=None)  # fmt: skip
    assert result.stop_reason == "non_finite"


def test_one_shot_iterator_that_runs_out_is_named(mlp: nn.Module, loader: DataLoader) -> None:
    """Issue 10, 3h: a generator of 4 batches and num_steps=10 says what happened and what to pass."""
    batches = (batch for _, batch in zip(range(4), loader))
    with pytest.raises(DataError, match=r"ran out after 4 batches and cannot be restarted.*Pass a DataLoader"):
        range_test(mlp, batches, loss_fn=F.cross_entropy, num_steps=10)


def test_no_trainable_parameters(loader: DataLoader) -> None:
    model = make_mlp()
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ModelError, match=r"no trainable parameters \(none requires grad\)"):
        range_test(model, loader, loss_fn=F.cross_entropy)


def test_a_model_whose_only_trainable_parameters_an_averaged_model_holds_is_told_so(loader: DataLoader) -> None:
    # A frozen network beside its EMA: the EMA's copies require grad, but no optimizer trains them; "none requires
    # grad" was not true.
    from torch.optim.swa_utils import AveragedModel

    net = make_mlp().requires_grad_(False)
    model = nn.ModuleDict({"net": net, "ema": AveragedModel(make_mlp())})
    model.forward = lambda x: model["net"](x)  # type: ignore[method-assign]
    with pytest.raises(ModelError, match=r"the only ones that require grad \(ema\.module\.0\.weight and 5 more\) "
                       r"are the copies an AveragedModel holds.*Unfreeze the network it averages"):
        range_test(model, loader, loss_fn=F.cross_entropy)


def test_a_model_made_under_inference_mode_is_refused_by_name(loader: DataLoader) -> None:
    # Built (or loaded) inside torch.inference_mode(), its parameters are inference tensors, which
    # torch cannot update in place outside it: the test failed with torch's "Inplace update to
    # inference tensor outside InferenceMode is not allowed", raised from the restore.
    with torch.inference_mode():
        model = make_mlp()
    with pytest.raises(ModelError, match=r"first: 0\.weight.*made under torch\.inference_mode\(\).*outside"):
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)


def test_a_frozen_submodule_made_under_inference_mode_is_left_alone(loader: DataLoader) -> None:
    # A distillation model whose frozen teacher was built under torch.inference_mode(): the restore
    # wrote the teacher's inference tensors back and failed with torch's "Inplace update to inference
    # tensor outside InferenceMode is not allowed" (held outside the model's tree it was left alone).
    class Distill(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.student = make_mlp()
            with torch.inference_mode():
                self.teacher = make_mlp(seed=1).requires_grad_(False).eval()  # its batch norm frozen too

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.student(x) + 0.0 * self.teacher(x)

    model = Distill()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    assert len(result.lrs) > 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_optimizer_of_another_model(mlp: nn.Module, loader: DataLoader) -> None:
    other = torch.optim.SGD(make_mlp(seed=1).parameters(), lr=0.1)
    with pytest.raises(ModelError, match="not the model's"):
        range_test(mlp, loader, optimizer=other, loss_fn=F.cross_entropy)


def test_an_optimizer_listing_a_tensor_twice_is_refused(mlp: nn.Module, loader: DataLoader) -> None:
    # It ran without a word (torch warns only when the optimizer is built) and stepped the tensor once per listing:
    # that weight swept at twice the LRs the curve recorded.
    params = [*mlp.parameters(), next(mlp.parameters())]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own "duplicate parameters" warning
        optimizer = torch.optim.SGD(params, lr=0.1)
    before = {k: v.clone() for k, v in mlp.state_dict().items()}
    said = r"optimizer's param group 0 lists 1 tensor more than once.*list\(dict\.fromkeys\(params\)\)"
    with pytest.raises(ModelError, match=said):
        range_test(mlp, loader, optimizer=optimizer, loss_fn=F.cross_entropy)
    assert all(torch.equal(before[k], v) for k, v in mlp.state_dict().items())


def test_an_averaged_model_with_its_networks_optimizer_is_named(mlp: nn.Module, loader: DataLoader) -> None:
    # The SWA copy as the model, the live network's optimizer: only "not the model's" was said, which it is not,
    # as AveragedModel deep-copies the network. Nothing of either is changed.
    from torch.optim.swa_utils import AveragedModel

    swa = AveragedModel(mlp)
    optimizer = torch.optim.SGD(mlp.parameters(), lr=0.1)
    before = {k: v.clone() for k, v in swa.state_dict().items()}
    with pytest.raises(ModelError, match=r"not the model's.*holds a torch\.optim\.swa_utils\.AveragedModel .*Pass "
                       r"that network, the one the optimizer was built over, as the model"):
        range_test(swa, loader, optimizer=optimizer, loss_fn=F.cross_entropy)
    assert all(torch.equal(before[k], v) for k, v in swa.state_dict().items())


class _TemperedCE(nn.Module):
    """Cross-entropy with a learnable temperature: a loss with a parameter of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.log_t = nn.Parameter(torch.zeros(()))

    def forward(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out / self.log_t.exp(), y)


def test_a_loss_modules_own_parameters_train_with_the_model_and_are_restored(
    mlp: nn.Module, loader: DataLoader
) -> None:
    """Refused as 'parameters that are not the model's', though lrfinder.train takes them."""
    loss = _TemperedCE()
    opt = torch.optim.Adam([*mlp.parameters(), *loss.parameters()], lr=1e-3)
    before = snapshot_of(mlp, opt)
    seen: list[float] = []
    result = range_test(
        mlp, loader, optimizer=opt, loss_fn=loss, num_steps=10, max_lr=1e-1,
        on_step=lambda i, lr, value: seen.append(float(loss.log_t)),
    )  # fmt: skip
    assert result.num_steps == 10 and seen[-1] != 0.0  # it trained
    assert float(loss.log_t) == 0.0 and loss.log_t.grad is None
    assert_same_state(before, snapshot_of(mlp, opt))
    # refine's trials train it too, each from the state the test began in, and leave it there.
    refined = range_test(
        mlp, loader, optimizer=opt, loss_fn=loss, num_steps=30, min_lr=1e-4, max_lr=10.0,
        refine=Refine(training_steps=100, budget=0.3, candidates=2, extend=0, val_batches=2, max_resweeps=0),
    )  # fmt: skip
    assert refined.refinement is not None and refined.refinement.trials
    assert float(loss.log_t) == 0.0 and loss.log_t.grad is None
    assert_same_state(before, snapshot_of(mlp, opt))
    with pytest.raises(ModelError, match=r"not the model's.*pass that loss module itself as loss_fn"):
        range_test(mlp, loader, optimizer=opt, loss_fn=lambda out, y: loss(out, y), num_steps=10)


def test_a_clip_algorithm_without_a_clip_value_is_said_to_clip_nothing(mlp: nn.Module, loader: DataLoader) -> None:
    """gradient_clip_algorithm="value" without gradient_clip_val swept unclipped in silence (lrfind said so)."""
    with pytest.warns(UserWarning, match=r"^gradient_clip_algorithm='value' is ignored: it says how gradient_clip_val "
                      r"clips, and gradient_clip_val is None") as caught:  # fmt: skip
        range_test(mlp, loader, loss_fn=F.cross_entropy, num_steps=10, gradient_clip_algorithm="value")
    assert [w.filename for w in caught if "gradient_clip_algorithm" in str(w.message)] == [__file__]


class _RunningCE:
    """A loss object (not a module) keeping a running mean and a call count, with state_dict/load_state_dict."""

    def __init__(self) -> None:
        self.calls, self.mean = 0, torch.zeros(())

    def __call__(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(out, y)
        self.calls += 1
        self.mean += (loss.detach() - self.mean) / self.calls  # in place: the saved state must be a copy
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "mean": self.mean}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.calls, self.mean = state["calls"], state["mean"].clone()


class _CountingCE(nn.Module):
    """A loss module without parameters or buffers, counting its calls in a plain attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return F.cross_entropy(out, y)


def test_a_loss_objects_own_state_is_restored(mlp: nn.Module, loader: DataLoader) -> None:
    """A loss with a running mean or a call count kept the state the sweep (and refine's trials) left it in: one
    with state_dict()/load_state_dict() is put back through them, a loss module's plain attributes as the model's."""
    refine = Refine(training_steps=100, budget=0.3, candidates=2, extend=0, val_batches=2, max_resweeps=0)
    for loss in (_RunningCE(), _CountingCE()):
        loss(mlp(next(iter(loader))[0]), next(iter(loader))[1])  # a state of its own before the test
        mean = getattr(loss, "mean", torch.zeros(())).clone()
        range_test(mlp, loader, loss_fn=loss, num_steps=10, max_lr=1e-1)
        assert loss.calls == 1 and torch.equal(getattr(loss, "mean", torch.zeros(())), mean), type(loss).__name__
        range_test(mlp, loader, loss_fn=loss, num_steps=30, min_lr=1e-4, max_lr=10.0, refine=refine)
        assert loss.calls == 1 and torch.equal(getattr(loss, "mean", torch.zeros(())), mean), type(loss).__name__


class _AnnealedCE:
    """A loss object with neither state_dict nor nn.Module: a call count annealing its weight, a list of the losses
    seen, a running mean made at its first call, and a loss module it wraps (kept as it is)."""

    def __init__(self) -> None:
        self._calls, self.seen, self.base = 0, [0.5], nn.CrossEntropyLoss()

    def __call__(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = self.base(out, y)
        self._calls += 1
        self.seen.append(float(loss.detach()))
        if not hasattr(self, "mean"):
            self.mean = torch.zeros(())
        self.mean += (loss.detach() - self.mean) / self._calls
        return loss * min(1.0, 0.5 + self._calls / 1000)

    def kl(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # the same loss, as a bound method
        return self(out, y)


@pytest.mark.parametrize("bound", [False, True], ids=["object", "bound-method"])
def test_a_plain_loss_objects_attributes_are_restored(mlp: nn.Module, loader: DataLoader, bound: bool) -> None:
    """Without state_dict, a loss object kept the sweep's (and refine's trials') call count, losses and running mean:
    training after the test started with its weight annealed by the test's calls."""
    refine = Refine(training_steps=100, budget=0.3, candidates=2, extend=0, val_batches=2, max_resweeps=0)
    loss = _AnnealedCE()
    seen, base = loss.seen, loss.base
    loss_fn = loss.kl if bound else loss
    range_test(mlp, loader, loss_fn=loss_fn, num_steps=10, max_lr=1e-1)
    assert vars(loss) == {"_calls": 0, "seen": [0.5], "base": base} and loss.seen is seen
    range_test(mlp, loader, loss_fn=loss_fn, num_steps=30, min_lr=1e-4, max_lr=10.0, refine=refine)
    assert vars(loss) == {"_calls": 0, "seen": [0.5], "base": base} and loss.seen is seen


class _Experiment:
    """An object whose bound methods are both the loss and the progress hooks, which record into it."""

    def __init__(self) -> None:
        self.curve: list[tuple[float, float]] = []
        self.trials: list[tuple[int, float]] = []

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y)

    def record(self, step: int, lr: float, loss: float) -> None:
        self.curve.append((lr, loss))

    def trial(self, index: int, lr: float, steps: int, held: float) -> None:
        self.trials.append((index, steps))


@pytest.mark.parametrize("hook", ["on_step", "on_trial"])
def test_what_a_hook_records_on_the_loss_methods_object_is_kept(
    mlp: nn.Module, loader: DataLoader, hook: str
) -> None:
    """loss_fn=exp.loss, on_step=exp.record: the restore of the loss's object put back exp.curve = [] after the
    test, losing every point on_step recorded there (and on_trial's trials)."""
    exp = _Experiment()
    if hook == "on_step":
        range_test(mlp, loader, loss_fn=exp.loss, num_steps=10, max_lr=1e-1, on_step=exp.record)
        assert len(exp.curve) == 10 and exp.trials == []
    else:
        refine = Refine(training_steps=100, budget=0.3, candidates=2, extend=0, val_batches=2, max_resweeps=0)
        range_test(mlp, loader, loss_fn=exp.loss, num_steps=30, min_lr=1e-4, max_lr=10.0, refine=refine,
                   on_trial=exp.trial)  # fmt: skip
        assert exp.curve == [] and len(exp.trials) >= 4 and exp.trials[0] == (0, 0)


def test_an_optimizer_over_frozen_parameters_only_is_refused_before_the_sweep(
    mlp: nn.Module, loader: DataLoader
) -> None:
    """It stepped nothing: the sweep recorded a flat curve and advised raising max_lr."""
    for p in mlp[0].parameters():
        p.requires_grad_(False)
    before = [p.detach().clone() for p in mlp.parameters()]
    opt = torch.optim.SGD(mlp[0].parameters(), lr=0.1)
    with pytest.raises(ModelError, match=r"None of the optimizer's 2 parameters requires grad.*p.requires_grad"):
        range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)
    assert all(torch.equal(a, b) for a, b in zip(before, mlp.parameters()))
    # Some frozen among trainable ones is a usual fine-tuning optimizer: it runs.
    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    assert range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10, max_lr=1e-2).num_steps == 10


class _WithSpare(nn.Module):
    """A model with a submodule its forward never uses (a head kept for another task)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = make_mlp()
        self.spare = nn.Linear(10, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def test_an_optimizer_the_loss_never_reaches_is_refused_at_the_first_step(loader: DataLoader) -> None:
    """An optimizer over an unused submodule stepped nothing: a flat curve read as 'never falls, raise max_lr'."""
    model = _WithSpare()
    opt = torch.optim.Adam(model.spare.parameters(), lr=1e-3)
    before = snapshot_of(model, opt)
    with pytest.raises(ModelError, match=r"None of the optimizer's parameters got a gradient from the first step's"):
        range_test(model, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)
    assert_same_state(before, snapshot_of(model, opt))


def test_a_hook_stepping_in_backward_without_zeroing_is_refused_not_trained_at_two_lrs(loader: DataLoader) -> None:
    """A post-accumulate-grad hook stepping its own optimizer without zeroing the gradient: the test's optimizer then
    stepped each weight again, at the swept LR, so every step trained at both LRs, unwarned. Refused at the first step
    with the model put back; a hook that only reads the gradient (as DDP's and FSDP's reduce it) is no false alarm."""
    model = make_mlp()
    in_backward = {p: torch.optim.SGD([p], lr=1e-3) for p in model.parameters()}
    handles = [p.register_post_accumulate_grad_hook(lambda p: in_backward[p].step()) for p in model.parameters()]
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ModelError, match=r"changed during the first step's backward.*first: 0\.weight.*twice a step"):
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    for handle in handles:
        handle.remove()
    norms: list[float] = []
    for p in model.parameters():
        p.register_post_accumulate_grad_hook(lambda p: norms.append(float(p.grad.norm())))
    result = range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    assert len(result.lrs) == 10 and norms


def test_a_hook_clamping_weights_in_backward_is_told_as_a_constraint_not_a_step(loader: DataLoader) -> None:
    """A post-accumulate-grad hook clamping its weight (p.clamp_) is refused, as any hook changing the weights in
    backward is, but was told in an optimizer step's words ("a hook stepping its own optimizer there ... trains each
    weight twice a step"): the weights it left at the bounds say it constrained them, and the words say so, with
    where a constraint belongs (after the step: register_step_post_hook). A hook stepping an SGD is told as before
    (test_a_hook_stepping_in_backward_without_zeroing_is_refused_not_trained_at_two_lrs)."""
    model = make_mlp()

    def clamp(p: torch.Tensor) -> None:
        with torch.no_grad():
            p.clamp_(-0.1, 0.1)

    for p in model.parameters():
        p.register_post_accumulate_grad_hook(clamp)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ModelError, match=r"changed during the first step's backward.*first: 0\.weight.*at (its|their) "
                       r"bounds.*clamp.*register_step_post_hook") as caught:
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    assert "twice a step" not in str(caught.value)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_a_hook_stepping_in_backward_and_zeroing_in_place_is_told_the_test_steps_zeros(loader: DataLoader) -> None:
    """A hook stepping its own optimizer and zeroing the gradient in place (zero_grad(set_to_none=False)) left zeros
    for the test's optimizer: the curve was the hook's LR's alone. Before 4bd673a it ran unwarned; 4bd673a refused it
    saying the hook had not zeroed the gradient and each weight trained twice a step, which it had not."""
    model = make_mlp()
    in_backward = {p: torch.optim.SGD([p], lr=1e-3) for p in model.parameters()}

    def step_and_zero(p: torch.Tensor) -> None:
        in_backward[p].step()
        in_backward[p].zero_grad(set_to_none=False)

    for p in model.parameters():
        p.register_post_accumulate_grad_hook(step_and_zero)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ModelError, match=r"kept a gradient of zeros.*set_to_none=False.*steps zeros") as caught:
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    assert "twice a step" not in str(caught.value)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_an_optimizer_stepped_in_backward_is_named_not_told_the_loss_misses_it(loader: DataLoader) -> None:
    """torch's "optimizer in backward": hooks step each parameter and zero its gradient during backward.

    The loss reaches every parameter, but none holds a gradient when the test's optimizer would step:
    the error said the loss does not depend on them and to build the optimizer over model.parameters(),
    which it was. The hooks are named, with how to run the test; the model and the hooks' optimizers
    are put back.
    """
    model = make_mlp()
    in_backward = {p: torch.optim.Adam([p], lr=1e-3) for p in model.parameters()}

    def step_in_backward(param: torch.Tensor) -> None:
        in_backward[param].step()
        in_backward[param].zero_grad()

    for param in model.parameters():
        param.register_post_accumulate_grad_hook(step_in_backward)
    before = [p.detach().clone() for p in model.parameters()]
    hooks = r"post-accumulate-grad hook \(register_post_accumulate_grad_hook, first: 0\.weight\)"
    with pytest.raises(ModelError, match=hooks) as info:
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    assert "handle.remove()" in str(info.value)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(not opt.state for opt in in_backward.values())


@pytest.mark.parametrize("retain_graph", [False, True])
@pytest.mark.parametrize("zero", ["kept", "in place", "to none"])
def test_hooks_stepping_in_a_step_fns_own_backward_are_named(loader: DataLoader, zero: str, retain_graph: bool) -> None:
    """A step_fn running its own backward fired the post-accumulate-grad hooks before the test took their versions.

    Hooks that step their own optimizers and set the gradients to None (torch's "optimizer in backward") then gave
    torch's bare "Trying to backward through the graph a second time" (or, with retain_graph=True, "modified by an
    inplace operation") from the test's backward; hooks that left a gradient were told only that step_fn must not call
    backward, and removing the backward then met the hooks' refusal. The hooks are named at the step_fn's first call,
    with the model put back; a step_fn that constrains a hooked weight in place before its forward is no false alarm.
    """
    model = make_mlp()
    in_backward = {p: torch.optim.SGD([p], lr=1e-3) for p in model.parameters()}

    def step_in_backward(param: torch.Tensor) -> None:
        in_backward[param].step()
        if zero != "kept":
            in_backward[param].zero_grad(set_to_none=zero == "to none")

    handles = [p.register_post_accumulate_grad_hook(step_in_backward) for p in model.parameters()]

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        loss = F.cross_entropy(m(batch[0]), batch[1])
        loss.backward(retain_graph=retain_graph)
        return loss

    before = [p.detach().clone() for p in model.parameters()]
    words = {
        "kept": "twice a step", "in place": "kept a gradient of zeros", "to none": "an optimizer stepped in backward"
    }
    with pytest.raises(ModelError, match=r"post-accumulate-grad hook.*first: 0\.weight") as caught:
        range_test(model, loader, step_fn=step_fn, num_steps=10)
    assert words[zero] in str(caught.value) and "handle.remove()" in str(caught.value)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    for handle in handles:
        handle.remove()
    for p in model.parameters():
        p.register_post_accumulate_grad_hook(lambda p: None)

    def constrained(m: nn.Module, batch: Any) -> torch.Tensor:
        with torch.no_grad():
            m[0].weight.clamp_(-10.0, 10.0)  # changes its version, with no backward yet
        return F.cross_entropy(m(batch[0]), batch[1])

    assert len(range_test(model, loader, step_fn=constrained, num_steps=10).lrs) == 10


def test_non_scalar_loss_leaves_model_untouched(mlp: nn.Module, loader: DataLoader) -> None:
    before = [p.detach().clone() for p in mlp.parameters()]
    with pytest.raises(ModelError, match=r"scalar.*shape \(32,\).*loss.mean\(\)"):
        range_test(mlp, loader, loss_fn=lambda out, y: F.cross_entropy(out, y, reduction="none"))
    assert all(torch.equal(a, b) for a, b in zip(before, mlp.parameters()))


def test_loss_not_connected_to_the_model(mlp: nn.Module, loader: DataLoader) -> None:
    with pytest.raises(ModelError, match="does not require grad"):
        range_test(mlp, loader, loss_fn=lambda out, y: torch.tensor(1.0))


def test_batch_format_needs_step_fn(mlp: nn.Module, dataset: TensorDataset) -> None:
    triples = [(x, y, y) for x, y in DataLoader(dataset, batch_size=32)]
    with pytest.raises(DataError, match=r"tuple of 3 tensors .*but expected \(inputs, targets\) pairs.*pass step_fn="):
        range_test(mlp, triples, loss_fn=F.cross_entropy)
    with pytest.raises(DataError, match="no loss_fn"):
        range_test(mlp, DataLoader(dataset, batch_size=32))
    with pytest.raises(DataError, match="dict batch"):
        range_test(mlp, [{"a": torch.zeros(2, 10)}], loss_fn=F.cross_entropy)


class _Logits(nn.Module):
    """A Hugging Face-style model that returns its loss only when given labels (``return_dict`` as asked)."""

    def __init__(self, return_dict: bool = True) -> None:
        super().__init__()
        self.net = make_mlp()
        self.return_dict = return_dict

    def forward(self, input_ids: torch.Tensor, attention_mask: Any = None) -> Any:
        logits = self.net(input_ids)
        return {"logits": logits} if self.return_dict else (logits,)


def test_a_dict_batch_without_loss_fn_says_what_model_of_the_batch_did(mlp: nn.Module, dataset: TensorDataset) -> None:
    """Passed as model(**batch): a forward(x) was described as a shape/dtype problem, a loss-less output not at all."""
    batches = [{"x": x, "y": y} for x, y in DataLoader(dataset, batch_size=32)]
    with pytest.raises(
        DataError, match=r"No loss_fn was given.*model\(\*\*batch\).*Sequential.forward does not take it.*"
        r"missing a required argument: 'input'.*loss_fn\(model\(batch\['x'\]\), batch\['y'\]\)"
    ):
        range_test(mlp, batches, num_steps=10)
    hf = [{"input_ids": x} for x, _ in DataLoader(dataset, batch_size=32)]
    with pytest.raises(DataError, match=r"returned a dict with keys \['logits'\] and no 'loss'.*only when the batch"):
        range_test(_Logits(), hf, num_steps=10)
    pattern = (
        r"returned a tuple of length 1, not an output with a 'loss' \(its first item is float32 \(32, 3\), not a "
        r"scalar loss; a Hugging Face model computes it only when"
    )
    with pytest.raises(DataError, match=pattern):
        range_test(_Logits(return_dict=False), hf, num_steps=10)


class _LossParts(nn.Module):
    """A model computing its own loss in parts, returned beside the logits without a 'loss'."""

    def __init__(self, parts: tuple[str, ...]) -> None:
        super().__init__()
        self.net = make_mlp()
        self.parts = parts

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.net(input_ids)
        losses = {"ce": F.cross_entropy(logits, labels), "l2": logits.pow(2).mean()}
        accuracy = (logits.argmax(1) == labels).float().mean()  # a scalar without a gradient: not a part
        return {**{k: losses[k] for k in self.parts}, "logits": logits, "accuracy": accuracy}


def test_a_model_returning_its_loss_in_parts_is_told_to_return_their_sum(dataset: TensorDataset) -> None:
    """``{"ce": ..., "l2": ..., "logits": ...}`` was told to pass cross_entropy as loss_fn, which drops the l2 term."""
    batches = [{"input_ids": x, "labels": y} for x, y in DataLoader(dataset, batch_size=32)]
    pattern = r"scalar tensors 'ce' and 'l2' look like the parts of a loss: .* also return 'loss': ce \+ l2\)"
    with pytest.raises(DataError, match=pattern):
        range_test(_LossParts(("ce", "l2")), batches, num_steps=10)
    with pytest.raises(DataError, match=r"if its scalar tensor 'ce' is the loss, have forward return it as 'loss'"):
        range_test(_LossParts(("ce",)), batches, num_steps=10)


class _OwnLoss(nn.Module):
    """A Hugging Face-style model that computes its loss from ``labels`` and returns it as ``output``."""

    def __init__(self, output: str) -> None:
        super().__init__()
        self.net = make_mlp()
        self.output = output

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> Any:
        logits = self.net(input_ids)
        loss = F.cross_entropy(logits, labels)
        return {"dict": {"loss": loss, "logits": logits}, "tuple": (loss, logits), "loss": loss}[self.output]


def test_a_models_own_loss_is_taken_as_hugging_faces_trainer_takes_it(dataset: TensorDataset) -> None:
    """A return_dict=False tuple (loss, logits) and a bare loss were refused as "not an output with a 'loss'"."""
    batches = [{"input_ids": x, "labels": y} for x, y in DataLoader(dataset, batch_size=32)]
    curves = [range_test(_OwnLoss(output), batches, num_steps=10).losses for output in ("dict", "tuple", "loss")]
    assert curves[0] == curves[1] == curves[2]
    # With loss_fn, model(batch["input_ids"]) misses the labels its forward takes: dropping loss_fn is the fix.
    own = (
        r"read as loss_fn\(model\(batch\['input_ids'\]\), batch\['labels'\]\), but _OwnLoss.forward takes the "
        r"batch's keys as arguments \(.*'labels'\).*Drop loss_fn to pass the batch as model\(\*\*batch\)"
    )
    with pytest.raises(DataError, match=own):
        range_test(_OwnLoss("dict"), batches, loss_fn=F.cross_entropy, num_steps=10)


def test_wrong_types(mlp: nn.Module, loader: DataLoader) -> None:
    with pytest.raises(TypeError, match="torch.nn.Module"):
        range_test("model", loader)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        range_test(mlp, loader, optimizer="adam")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"the class Adam\. Pass an instance: optimizer=Adam\(model.parameters\(\)"):
        range_test(mlp, loader, optimizer=torch.optim.Adam)  # type: ignore[arg-type]


def test_callables_and_data_are_checked_before_the_sweep(mlp: nn.Module, loader: DataLoader) -> None:
    before = [p.detach().clone() for p in mlp.parameters()]
    with pytest.raises(TypeError, match=r"loss_fn to be callable.*cross_entropy.*got loss_fn='cross_entropy'"):
        range_test(mlp, loader, loss_fn="cross_entropy")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="step_fn to be callable"):
        range_test(mlp, loader, step_fn=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="on_step to be callable"):
        range_test(mlp, loader, loss_fn=F.cross_entropy, on_step="print")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"train_data to be an iterable of batches.*DataLoader.*NoneType"):
        range_test(mlp, None, loss_fn=F.cross_entropy)  # type: ignore[arg-type]
    # A numpy scalar or 0-d tensor failed later: "'numpy.float64' object is not iterable" or
    # "iteration over a 0-d tensor".
    for number in (np.float64(0.5), np.array(3), torch.tensor(0.5)):
        with pytest.raises(TypeError, match=r"train_data to be an iterable of batches.*, a single number"):
            range_test(mlp, number, loss_fn=F.cross_entropy)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"device.*'gpu'"):
        range_test(mlp, loader, loss_fn=F.cross_entropy, device="gpu")
    assert all(torch.equal(a, b) for a, b in zip(before, mlp.parameters()))


def test_numpy_scalars_are_accepted_as_settings(mlp: nn.Module, loader: DataLoader) -> None:
    result = range_test(mlp, loader, loss_fn=F.cross_entropy, min_lr=np.float32(1e-4), max_lr=np.float64(1.0),
                        num_steps=np.int64(12), accumulate_steps=np.int32(1), stop_factor=np.float32(4))  # fmt: skip
    assert result.settings.num_steps == 12 and type(result.settings.num_steps) is int
    assert result.settings.min_lr == pytest.approx(1e-4) and type(result.settings.min_lr) is float
    with pytest.raises(TypeError, match="num_steps to be an int"):
        range_test(mlp, loader, loss_fn=F.cross_entropy, num_steps=np.float64(12))


def test_batch_size_is_at_most_the_data(mlp: nn.Module, dataset: TensorDataset) -> None:
    """A DataLoader's batch_size larger than its data: every batch holds the whole data set."""
    few = TensorDataset(*dataset[:20])
    result = range_test(mlp, DataLoader(few, batch_size=64), loss_fn=F.cross_entropy, num_steps=12)
    assert result.batch_size == 20


class _OneLargeBatchFirst(torch.utils.data.Sampler[list[int]]):
    """A batch sampler of batches of 8 indices, but for a first of 32 (a bucketing sampler's sizes vary)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self) -> Iterator[list[int]]:
        yield list(range(32))
        yield from (list(range(i, min(i + 8, self.n))) for i in range(32, self.n, 8))

    def __len__(self) -> int:
        return 1 + (self.n - 32 + 7) // 8


@pytest.mark.parametrize("accumulate", [1, 2])
def test_batch_size_of_batches_of_varying_size_is_their_median(
    mlp: nn.Module, dataset: TensorDataset, accumulate: int
) -> None:
    """Without a DataLoader batch_size (a batch_sampler), the first batch's size was the test's: 32 for batches of 8."""
    loader = DataLoader(dataset, batch_sampler=_OneLargeBatchFirst(len(dataset)))
    with pytest.warns(UserWarning, match=r"sizes varied \(8 to 32 examples\).*median, 8") as said:
        result = range_test(mlp, loader, loss_fn=F.cross_entropy, num_steps=12, accumulate_steps=accumulate)
    assert result.batch_size == 8 * accumulate
    # Once per test, not once per batch of another size.
    assert sum("sizes varied" in str(w.message) for w in said) == 1


@pytest.mark.parametrize("accumulate", [1, 2])
def test_varying_sizes_under_ddp_are_said_per_rank_with_the_tests_global_batch(accumulate: int) -> None:
    """Under DDP the warning runs on each rank's own sizes: rank 0 named its median, 8, as result.batch_size, which is
    the ranks' sum (24 over 2 ranks of 8 and 16)."""
    from lrfinder.range_test import _warn_varying_sizes

    with pytest.warns(UserWarning, match="sizes varied") as said:
        _warn_varying_sizes([32, 8, 8, 8], None, 8, accumulate, world=2, total=24)
    text = str(said[0].message)
    per_step = " x accumulate_steps=2 = 48 per step" if accumulate == 2 else ""
    assert "this rank's batch is their median, 8 per rank, and the test's is the sum over the 2 ranks" in text
    assert f"the sum over the 2 ranks, 24{per_step}, which result.batch_size" in text
    assert "test's batch is their median" not in text
    with pytest.warns(UserWarning, match="sizes varied") as said:
        _warn_varying_sizes([32, 8, 8, 8], None, 8, accumulate, world=2, total=None)
    assert "8 per rank, and the test's is unknown: the batches of another of the 2 ranks give no size" in str(
        said[0].message
    )
    assert "result.batch_size" not in str(said[0].message)


def test_a_short_last_batch_of_a_pass_is_no_varying_size(mlp: nn.Module, dataset: TensorDataset) -> None:
    """Batches of 32 but for each pass's short last one (a list of batches, no DataLoader batch_size): their size is
    32, said without a warning that the sizes varied."""
    x, y = dataset.tensors
    batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 100, 32)]  # 32, 32, 32, 4
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        result = range_test(mlp, batches, loss_fn=F.cross_entropy, num_steps=12)
    assert result.batch_size == 32
    assert not [w for w in said if "sizes varied" in str(w.message)]


def test_training_suggestion_moves_the_band_with_the_scaling(mlp: nn.Module, loader: DataLoader) -> None:
    result = range_test(mlp, loader, loss_fn=F.cross_entropy, min_lr=1e-4, max_lr=1e3, num_steps=60)
    assert result.suggestion is not None
    assert result.training_suggestion == result.suggestion
    scaled = result.scale(32 * 9, rule="sqrt")
    moved = scaled.training_suggestion
    assert moved is not None and scaled.scaled is not None
    assert moved.lr == scaled.scaled.lr
    assert moved.max_lr == pytest.approx(result.suggestion.max_lr * 3)
    assert moved.min_lr == pytest.approx(result.suggestion.min_lr * 3)


def test_adam_linear_sweep_from_a_tiny_min_lr_is_read(mlp: nn.Module, loader: DataLoader) -> None:
    # The second LR (0.0101) is already large for Adam: the loss falls within the first few
    # steps, then turns unstable. It used to read "never clearly falls".
    opt = torch.optim.Adam(mlp.parameters())
    with pytest.warns(UserWarning, match="A linear sweep"):
        result = range_test(
            mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, min_lr=1e-8, max_lr=1.0, mode="linear"
        )
    assert result.losses[0] > 1.0 and min(result.losses) < 0.3
    assert result.suggestion is not None, result.error
    s = result.suggestion
    assert s.lr < s.min_loss_lr < 0.5
    assert s.divergence_lr is not None and s.divergence_lr > s.min_loss_lr


def test_a_linear_sweep_over_many_decades_is_warned_about(loader: DataLoader) -> None:
    # mode="linear" from 1e-8 to 1: the second step is already 2.04e-02, so 8 decades were asked for and the top
    # one and a half swept, without a word.
    with pytest.warns(UserWarning, match=r"8 decades\), 45 of the 50 steps lie in the top decade.*2\.04e-02"):
        range_test(make_mlp(), loader, loss_fn=F.cross_entropy, min_lr=1e-8, max_lr=1.0, num_steps=50, mode="linear")
    with pytest.warns(UserWarning, match="A linear sweep"):
        lrfinder.LRFinder(mode="linear", min_lr=1e-7, max_lr=1.0)


def test_a_linear_sweep_over_a_decade_or_two_is_not_warned_about(loader: DataLoader) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="A linear sweep")
        range_test(make_mlp(), loader, loss_fn=F.cross_entropy, min_lr=1e-3, max_lr=0.5, num_steps=20, mode="linear")


# ------------------------------------------------------------- user setups (engine audit)


class _DictOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = make_mlp()

    def forward(self, x: torch.Tensor) -> Any:
        return {"logits": self.net(x)}


def test_a_loss_module_class_is_refused_naming_the_instance(mlp: nn.Module, loader: DataLoader) -> None:
    # nn.CrossEntropyLoss(out, y) builds a module and torch says "Boolean value of Tensor ... ambiguous".
    with pytest.raises(TypeError, match=r"the class CrossEntropyLoss\. Pass an instance: loss_fn=CrossEntropyLoss\(\)"):
        range_test(mlp, loader, loss_fn=nn.CrossEntropyLoss)  # type: ignore[arg-type]
    assert range_test(mlp, loader, loss_fn=nn.CrossEntropyLoss(), num_steps=10).num_steps == 10


@pytest.mark.parametrize(
    ("wrap", "pick"),
    [
        (lambda out: {"logits": out}, r"dict with keys \['logits'\].*y: cross_entropy\(out\['logits'\], y\)"),
        (lambda out: (out, out.sum()), r"a tuple of length 2.*cross_entropy\(out\[0\], y\)"),
        (lambda out: type("Output", (), {"logits": out})(), r"type Output \(with \.logits\).*\(out\.logits, y\)"),
    ],
)
def test_a_model_output_that_is_not_a_tensor_is_explained(wrap: Any, pick: str, loader: DataLoader) -> None:
    """Dict, tuple and HF-style outputs with loss_fn: a ModelError with the step_fn to write, not torch's TypeError."""
    net = make_mlp()

    class Wrapped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> Any:
            return wrap(self.net(x))

    before = [p.detach().clone() for p in net.parameters()]
    with pytest.raises(ModelError, match=r"loss_fn\(model\(inputs\), targets\) failed.*" + pick) as info:
        range_test(Wrapped(), loader, loss_fn=F.cross_entropy)
    assert isinstance(info.value.__cause__, TypeError)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_a_dict_output_with_dict_batches_and_a_loss_module(dataset: TensorDataset) -> None:
    batches = [{"x": x, "y": y} for x, y in DataLoader(dataset, batch_size=32)]
    with pytest.raises(ModelError, match=r"CrossEntropyLoss\(\)\(out\['logits'\], y\)"):
        range_test(_DictOutput(), batches, loss_fn=nn.CrossEntropyLoss())
    # A partial has no __name__: it was written as "partial()(out['logits'], y)".
    with pytest.raises(ModelError, match=r"your_loss\(out\['logits'\], y\)"):
        range_test(_DictOutput(), batches, loss_fn=functools.partial(F.cross_entropy, label_smoothing=0.1))


def test_a_loss_that_takes_the_dict_output_still_runs(dataset: TensorDataset) -> None:
    result = range_test(_DictOutput(), DataLoader(dataset, batch_size=32), num_steps=10,
                        loss_fn=lambda out, y: F.cross_entropy(out["logits"], y))  # fmt: skip
    assert result.num_steps == 10


class _FailingStep(torch.optim.SGD):
    """Fails in its step number ``fail_at`` (from 1), as Adam(capturable=True) does at once on the CPU."""

    def __init__(self, params: Any, fail_at: int) -> None:
        super().__init__(params, lr=0.1)
        self.fail_at, self.calls = fail_at, 0

    def step(self, closure: Any = None) -> Any:
        self.calls += 1
        if self.calls == self.fail_at:
            raise AssertionError("If capturable=True, params and state_steps must be on supported devices")
        return super().step(closure)


def test_an_optimizer_whose_first_step_fails_is_named_not_the_sweep(mlp: nn.Module, loader: DataLoader) -> None:
    """Adam(capturable=True) on the CPU raised torch's bare AssertionError from inside adam.py."""
    opt = _FailingStep(mlp.parameters(), fail_at=1)
    before = snapshot_of(mlp, opt)
    match = r"_FailingStep.step\(\) failed on the range test's first step \(AssertionError: If capturable"
    with pytest.raises(ModelError, match=match) as info:
        range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)
    assert isinstance(info.value.__cause__, AssertionError)
    assert_same_state(before, snapshot_of(mlp, opt))
    # A step that fails later, at a swept LR, is the optimizer's own error.
    with pytest.raises(AssertionError, match="capturable"):
        range_test(mlp, loader, optimizer=_FailingStep(mlp.parameters(), fail_at=3), loss_fn=F.cross_entropy)



def test_an_optimizer_whose_state_predates_a_cast_of_the_model_is_told_to_be_built_after_it(
    mlp: nn.Module, loader: DataLoader
) -> None:
    # Adam stepped in float32, then model.double(): its first step failed with torch's "expected dtype float for
    # `end` but got dtype double", told to "check the optimizer's settings ... (capturable=True or fused=True ...)".
    opt = torch.optim.Adam(mlp.parameters(), lr=1e-3)
    x, y = next(iter(loader))
    F.cross_entropy(mlp(x), y).backward()
    opt.step()
    opt.zero_grad()
    mlp.double()
    doubled = DataLoader(TensorDataset(*(t.double() if t.is_floating_point() else t for t in loader.dataset.tensors)),
                         batch_size=32)  # fmt: skip
    before = snapshot_of(mlp, opt)
    with pytest.raises(ModelError) as info:
        range_test(mlp, doubled, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)
    message = str(info.value)
    assert message.startswith("Adam.step() failed on the range test's first step (RuntimeError: ")
    n = sum(1 for _ in mlp.parameters())
    assert message.endswith(
        "It fails before any swept LR matters, so it would fail in training too: its state was made for parameters "
        f"of another dtype or device: 'exp_avg' is float32 on cpu, its parameter float64 on cpu ({n} parameters "
        "so). The model was cast or moved (model.to(...), .double(), .cuda()) after the optimizer had stepped or "
        "loaded its state_dict. Cast or move the model first, then build the optimizer over it (and load its "
        "state_dict, which torch then casts to the parameters)."
    )
    assert_same_state(before, snapshot_of(mlp, opt))
    # As told: the state loaded into an optimizer built over the cast model, the test runs.
    rebuilt = torch.optim.Adam(mlp.parameters(), lr=1e-3)
    rebuilt.load_state_dict(opt.state_dict())
    assert range_test(mlp, doubled, optimizer=rebuilt, loss_fn=F.cross_entropy, num_steps=10).num_steps == 10

@pytest.mark.parametrize("cls", [torch.optim.Adam, torch.optim.SGD])
def test_a_differentiable_optimizer_is_named_as_what_fails(cls: type, mlp: nn.Module, loader: DataLoader) -> None:
    """differentiable=True failed on the first step with advice about capturable/fused and the device."""
    opt = cls(mlp.parameters(), lr=0.1, differentiable=True)
    before = snapshot_of(mlp, opt)
    with pytest.raises(ModelError, match=r"first step.*built with differentiable=True.*leaves requiring grad") as info:
        range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)
    message = str(info.value)
    assert f"Build the {cls.__name__} without it (differentiable=False, the default)" in message
    assert "capturable" not in message and "fused" not in message
    assert_same_state(before, snapshot_of(mlp, opt))


class _EtaRecordingASGD(torch.optim.ASGD):
    """ASGD that records the step size (``eta``) each of its steps takes for its first parameter."""

    def step(self, closure: Any = None) -> Any:
        first = self.param_groups[0]["params"][0]
        state = self.state.get(first)
        self.etas.append(float(state["eta"]) if state else float(self.param_groups[0]["lr"]))
        return super().step(closure)


def test_asgd_steps_at_the_swept_lr(mlp: nn.Module, loader: DataLoader) -> None:
    """ASGD steps by the eta it computed after its last step: the sweep ran one LR late, its first step at 0.5."""
    opt = _EtaRecordingASGD(mlp.parameters(), lr=0.5)
    x, y = next(iter(loader))
    F.cross_entropy(mlp(x), y).backward()
    opt.etas = []
    opt.step()  # a resumed optimizer: its state holds eta for lr=0.5
    opt.zero_grad()
    opt.etas = []
    result = range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, min_lr=1e-5, max_lr=1.0, num_steps=12)
    assert len(opt.etas) == result.num_steps > 5
    # ASGD's eta at the swept LR after t steps (one before the test): lr / (1 + lambd * lr * t) ** alpha.
    expected = [lr / (1 + 1e-4 * lr * (1 + i)) ** 0.75 for i, lr in enumerate(result.lrs)]
    np.testing.assert_allclose(opt.etas, expected, rtol=1e-6)
    assert float(opt.state[opt.param_groups[0]["params"][0]]["eta"]) == pytest.approx(0.5, rel=1e-3)  # restored


def test_an_accumulation_that_cycles_the_data_over_and_over_is_refused(mlp: nn.Module) -> None:
    """accumulate_steps=10**9 (a typo) over a 4-batch loader ran its first step without end."""
    x, y = make_classification(128).tensors
    batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 128, 32)]
    calls = [0]

    def loss_fn(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        if calls[0] > 2000:
            raise RuntimeError("the first step ran without end")
        return F.cross_entropy(out, target)

    before = {k: v.clone() for k, v in mlp.state_dict().items()}
    match = r"Expected accumulate_steps <= 10 x the 4 batches.*got accumulate_steps=1,000,000,000.*is 4 micro-batches"
    with pytest.raises(ValueError, match=match):
        range_test(mlp, batches, loss_fn=loss_fn, accumulate_steps=10**9)
    assert calls[0] == 0
    assert all(torch.equal(v, mlp.state_dict()[k]) for k, v in before.items())
    # A short loader that a step cycles a few times still runs: 3 passes per step.
    result = range_test(mlp, batches, loss_fn=loss_fn, accumulate_steps=12, num_steps=10)
    assert result.num_steps == 10 and calls[0] == 120
    assert result.batch_size == 32 * 12


def test_data_whose_len_refuses_is_not_checked_for_passes_per_step(mlp: nn.Module) -> None:
    """A loader whose ``len`` raises NotImplementedError (a sampler without a length) ran before that check came."""
    x, y = make_classification(128).tensors

    class Unsized(torch.utils.data.IterableDataset):
        def __iter__(self) -> Any:
            return iter([(x[i : i + 32], y[i : i + 32]) for i in range(0, 128, 32)])

        def __len__(self) -> int:
            raise NotImplementedError

    result = range_test(mlp, DataLoader(Unsized(), batch_size=None), loss_fn=F.cross_entropy, accumulate_steps=12,
                        num_steps=10)  # fmt: skip
    assert result.num_steps == 10 and result.batch_size == 32 * 12


def test_data_without_a_length_is_judged_by_its_first_pass(mlp: nn.Module) -> None:
    """accumulate_steps over 10 passes of data without a length was not judged: 10**9 micro-batches per step over a
    4-batch stream ran without end. Its first pass, counted as the test draws it, is judged by the sized data's rule,
    within the first step; the model is put back. Up to 10 passes per step still run."""
    x, y = make_classification(128).tensors
    drawn = [0]

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self) -> Any:
            for i in range(0, 128, 32):
                drawn[0] += 1
                yield x[i : i + 32], y[i : i + 32]

    with pytest.raises(ValueError, match="got accumulate_steps=41: each of the test's 10 optimizer steps"):
        range_test(mlp, DataLoader(Stream(), batch_size=None), loss_fn=F.cross_entropy, accumulate_steps=41,
                   num_steps=10)  # fmt: skip
    drawn[0] = 0
    before = {k: v.clone() for k, v in mlp.state_dict().items()}
    buffers = [b.clone() for b in mlp.buffers()]
    with pytest.raises(ValueError) as caught:
        range_test(mlp, DataLoader(Stream(), batch_size=None), loss_fn=F.cross_entropy, accumulate_steps=10**9)
    assert str(caught.value) == (
        "Expected accumulate_steps <= 10 x the 4 batches train_data yielded in its first pass (it has no length: they "
        "were counted as the test drew them) (40), but got accumulate_steps=1,000,000,000: each of the test's 100 "
        "optimizer steps would cycle through the data 250,000,000 times, drawing the same batches again and again. "
        "Pass the accumulation training uses; one pass over the data is 4 micro-batches."
    )
    assert drawn[0] == 5  # the first pass and the next one's first batch
    assert all(torch.equal(v, mlp.state_dict()[k]) for k, v in before.items())
    assert all(torch.equal(a, b) for a, b in zip(buffers, mlp.buffers()))
    result = range_test(mlp, DataLoader(Stream(), batch_size=None), loss_fn=F.cross_entropy, accumulate_steps=40,
                        num_steps=10)  # fmt: skip
    assert result.num_steps == 10 and result.batch_size == 32 * 40



def test_an_accumulation_no_loss_divides_by_is_refused_over_data_without_a_length(mlp: nn.Module) -> None:
    """accumulate_steps=10**30 over an IterableDataset (not judged by its passes) failed with a bare
    "OverflowError: int too big to convert" at the first micro-batch's loss division."""
    x, y = make_classification(128).tensors

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self) -> Any:
            return iter([(x[i : i + 32], y[i : i + 32]) for i in range(0, 128, 32)])

    before = {k: v.clone() for k, v in mlp.state_dict().items()}
    with pytest.raises(ValueError) as caught:
        range_test(mlp, DataLoader(Stream(), batch_size=None), loss_fn=F.cross_entropy, accumulate_steps=10**30)
    assert str(caught.value) == (
        "Expected accumulate_steps <= 9,223,372,036,854,775,807 over data without a length, but got "
        f"accumulate_steps={10**30:,}: train_data has no length (an IterableDataset or a generator), so its passes "
        "are not counted, and each micro-batch's loss is divided by accumulate_steps, which torch cannot do past "
        "that. Pass the accumulation training uses."
    )
    assert all(torch.equal(v, mlp.state_dict()[k]) for k, v in before.items())

def test_an_optimizer_that_needs_a_closure_is_refused_before_the_sweep(mlp: nn.Module, loader: DataLoader) -> None:
    opt = torch.optim.LBFGS(mlp.parameters(), lr=1)
    before = snapshot_of(mlp, opt)
    with pytest.raises(ValueError, match=r"LBFGS.step\(closure\) needs one.*SGD or Adam"):
        range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy)
    assert_same_state(before, snapshot_of(mlp, opt))


class _OwnLrSGD(torch.optim.Optimizer):
    """A hand-written SGD whose step takes its LR from an attribute set in __init__, not from its groups."""

    def __init__(self, params: Any, lr: float = 0.01) -> None:
        super().__init__(params, {"lr": lr})
        self.lr = lr

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-self.lr)


class _GroupLrSGD(_OwnLrSGD):
    """The same SGD reading each group's LR, by get, as torch's optimizers do by key."""

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-group.get("lr"))
                    group["seen"] = True


def test_an_optimizer_whose_step_never_reads_its_groups_lr_is_refused(mlp: nn.Module, loader: DataLoader) -> None:
    """A user's optimizer taking its LR from self.lr stepped at one LR while the sweep set the groups': the curve
    read as a sweep and got a suggestion. It is refused at the first step with the model put back; one reading
    group.get('lr') sweeps, keeping what its step writes in its groups."""
    opt = _OwnLrSGD(mlp.parameters())
    before = snapshot_of(mlp, opt)
    with pytest.raises(ModelError, match=r"_OwnLrSGD.step\(\) never read group\['lr'\].*self\.lr"):
        range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)
    assert_same_state(before, snapshot_of(mlp, opt))
    reads = _GroupLrSGD(mlp.parameters())
    groups = reads.param_groups
    result = range_test(mlp, loader, optimizer=reads, loss_fn=F.cross_entropy, num_steps=10)
    assert len(result.lrs) == 10 and reads.param_groups is groups
    assert type(groups[0]) is dict and groups[0]["lr"] == 0.01


class _CachedGroupSGD(torch.optim.Optimizer):
    """A hand-written SGD stepping by the LR of a group it keeps from __init__, counting its steps there."""

    def __init__(self, params: Any, lr: float = 0.01) -> None:
        super().__init__(params, {"lr": lr})
        self.group = self.param_groups[0]
        self.groups = {"all": self.param_groups[0]}

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        for p in self.group["params"]:
            if p.grad is not None:
                p.add_(p.grad, alpha=-self.group["lr"])
        self.groups["all"]["steps"] = self.groups["all"].get("steps", 0) + 1


def test_an_optimizer_reading_the_lr_of_a_group_it_keeps_sweeps(mlp: nn.Module, loader: DataLoader) -> None:
    """A step reading self.group['lr'] from a group kept in __init__ reads the swept LR: it was refused as never
    reading it (the check's copy stood in param_groups only) and its first step's write was overwritten."""
    opt = _CachedGroupSGD(mlp.parameters())
    seen: list[float] = []
    result = range_test(
        mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10, restore=False,
        on_step=lambda i, lr, loss: seen.append(opt.group["lr"]),
    )  # fmt: skip
    assert len(result.lrs) == 10 and opt.group is opt.param_groups[0] and opt.groups["all"] is opt.group
    assert type(opt.group) is dict and opt.group["steps"] == 10
    np.testing.assert_allclose(seen, result.lrs)


@dataclasses.dataclass(frozen=True)
class _FieldsBatch:
    x: torch.Tensor
    y: torch.Tensor
    weight: torch.Tensor


def test_dataclass_batches_are_read_as_dicts_of_their_fields(mlp: nn.Module, loader: DataLoader) -> None:
    """A dataclass batch (Batch(x=..., y=...), as a collate_fn builds it) was refused, "use step_fn": it is read as the
    dict of its fields, x and y found by name (the curve of the same pairs), its other fields warned as unused."""
    data = [_FieldsBatch(x, y, torch.ones(len(y))) for x, y in loader]
    with pytest.warns(UserWarning, match=r"other keys \('weight'\) are not used"):
        result = range_test(mlp, data, loss_fn=F.cross_entropy, num_steps=10)
    pairs = range_test(mlp, [(b.x, b.y) for b in data], loss_fn=F.cross_entropy, num_steps=10)
    np.testing.assert_array_equal(result.losses, pairs.losses)
    assert result.batch_size == pairs.batch_size == len(data[0].y)


_Weighted = collections.namedtuple("_Weighted", "x y weight")
_TargetFirst = collections.namedtuple("_TargetFirst", "y x")
_Unnamed = collections.namedtuple("_Unnamed", "img lbl w")


def test_named_tuple_batches_are_read_by_their_field_names(mlp: nn.Module, loader: DataLoader) -> None:
    """A named tuple batch of 3 fields, Batch(x, y, weight), was refused ("expected (inputs, targets) pairs") while a
    dict or a dataclass of the same fields is read by name: it is read so, its other fields warned as unused, and a
    2-field one by name too (Batch(y, x) was read by position, its targets as the inputs). One whose names hold no
    input and target name is refused naming its fields and what to rename them to."""
    data = [(x, y) for x, y in loader]
    pairs = range_test(mlp, data, loss_fn=F.cross_entropy, num_steps=10)
    with pytest.warns(UserWarning, match=r"other keys \('weight'\) are not used"):
        weighted = range_test(mlp, [_Weighted(x, y, torch.ones(len(y))) for x, y in data], loss_fn=F.cross_entropy,
                              num_steps=10)  # fmt: skip
    np.testing.assert_array_equal(weighted.losses, pairs.losses)
    swapped = range_test(mlp, [_TargetFirst(y, x) for x, y in data], loss_fn=F.cross_entropy, num_steps=10)
    np.testing.assert_array_equal(swapped.losses, pairs.losses)
    with pytest.raises(DataError, match=r"A named tuple is read by its field names.*_Unnamed's are img, lbl, w: "):
        range_test(mlp, [_Unnamed(x, y, y) for x, y in loader], loss_fn=F.cross_entropy, num_steps=10)


def test_rprop_is_refused_before_the_sweep(mlp: nn.Module, loader: DataLoader) -> None:
    """Rprop reads lr only as each weight's first step size: the sweep's LRs were never used.

    Its own step sizes grew from min_lr by etas, and the curve read "still falling at the largest LR
    tried (1.00e+01): increase max_lr", advice that could never help.
    """
    opt = torch.optim.Rprop(mlp.parameters(), lr=0.01)
    before = snapshot_of(mlp, opt)
    with pytest.raises(ValueError, match=r"Rprop reads lr once, as each weight's first step size.*SGD or Adam"):
        range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)
    assert_same_state(before, snapshot_of(mlp, opt))
    with pytest.raises(ValueError, match=r"Rprop reads lr once"):
        lrfinder.LRSweeper([torch.optim.SGD(mlp.parameters(), lr=0.1), opt])


def _sam_step(opt: SAM, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """One SAM step as its users write it (both passes on the batch); returns the loss at the weights before it."""

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    if isinstance(opt, SAMAfterBackward):  # davda54/sam: the first backward is the caller's
        loss = closure()
        opt.step(closure)
        return float(loss.detach())
    return float(opt.step(closure).detach())


@pytest.mark.parametrize("sam", [SAM, SAMAfterBackward])
def test_a_sam_optimizer_sweeps_as_its_own_loop_and_is_restored_exactly(
    dataset: TensorDataset, sam: type[SAM]
) -> None:
    """SAM's step(closure) was refused as LBFGS is (or failed on its assert): its second pass needs the closure."""
    batches = list(DataLoader(dataset, batch_size=32))
    torch.manual_seed(0)
    model = make_mlp()
    opt = sam(model.parameters(), lr=0.05, momentum=0.9)
    for x, y in batches[:2]:
        _sam_step(opt, model, x, y)  # real state: the base SGD's momentum, SAM's old_p
    before, before_base = snapshot_of(model, opt), snapshot_of(model, opt.base_optimizer)
    result = range_test(model, batches, optimizer=opt, loss_fn=F.cross_entropy, num_steps=12, min_lr=1e-3,
                        max_lr=1.0, stop_factor=None)  # fmt: skip
    assert result.num_steps == 12
    assert_same_state(before, snapshot_of(model, opt))
    assert_same_state(before_base, snapshot_of(model, opt.base_optimizer))
    # The curve is the loss of SAM's own loop at each swept LR, both passes on each batch, from the
    # state the test started from (restored exactly, as checked above).
    losses = []
    for lr, (x, y) in zip(result.lrs, batches, strict=False):
        for group in opt.param_groups:
            group["lr"] = lr
        losses.append(_sam_step(opt, model, x, y))
    assert losses == list(result.losses)


def test_sam_under_float16_is_refused_naming_the_precisions_that_run_it(mlp: nn.Module, loader: DataLoader) -> None:
    """torch's GradScaler steps without a closure: SAM failed inside the sweep on its missing argument."""
    if not hasattr(torch.amp, "GradScaler"):
        pytest.skip("torch < 2.3: no CPU GradScaler")
    opt = SAM(mlp.parameters(), lr=0.05)
    with pytest.raises(ValueError, match=r"cannot pass SAM.step the closure.*precision='bf16-mixed' or '32'"):
        range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, precision="16-mixed")


def test_sam_with_accumulation_and_clipping_runs_both_passes_on_the_steps_micro_batches(
    dataset: TensorDataset,
) -> None:
    batches = list(DataLoader(dataset, batch_size=16))
    model = make_mlp()
    opt = SAM(model.parameters(), lr=0.05)
    forwards = []
    model.register_forward_hook(lambda module, args, out: forwards.append(args[0][0, 0].item()))
    result = range_test(model, batches, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10, accumulate_steps=2,
                        gradient_clip_val=0.5, stop_factor=None)  # fmt: skip
    assert result.num_steps == 10
    # Per step: micro-batches 2k and 2k+1 (cycling through the 32), then again for SAM's second pass.
    firsts = [float(b[0][0, 0]) for b in batches]
    assert forwards == [v for k in range(10) for v in (*firsts[2 * k : 2 * k + 2],) * 2]


def test_lazy_modules_are_asked_for_a_forward_pass_first(loader: DataLoader) -> None:
    model = nn.Sequential(nn.LazyLinear(16), nn.ReLU(), nn.Linear(16, 3))
    with pytest.raises(ModelError, match=r"2 uninitialized parameters.*first: 0.weight.*Run one forward pass"):
        range_test(model, loader, loss_fn=F.cross_entropy)
    model(next(iter(loader))[0])
    assert range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10).num_steps == 10


def test_lazy_buffers_are_asked_for_a_forward_pass_first(loader: DataLoader) -> None:
    """A LazyBatchNorm1d(affine=False) has lazy running statistics only: the snapshot failed on them in torch."""
    model = nn.Sequential(nn.Linear(10, 16), nn.LazyBatchNorm1d(affine=False), nn.Linear(16, 3))
    with pytest.raises(ModelError, match=r"2 uninitialized buffers.*first: 1.running_mean.*Run one forward pass"):
        range_test(model, loader, loss_fn=F.cross_entropy)
    model(next(iter(loader))[0])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = snapshot_of(model, opt)
    range_test(model, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)
    assert_same_state(before, snapshot_of(model, opt))


@pytest.mark.parametrize("restore", [True, False])
@pytest.mark.parametrize("part", ["all", "layer", "buffers"])
def test_a_model_on_the_meta_device_is_refused_by_name(loader: DataLoader, part: str, restore: bool) -> None:
    """torch failed with "unknown device type for autocast", or the first batch was blamed for the meta device."""
    model = make_mlp()
    if part == "all":
        model.to_empty(device="meta")
    elif part == "layer":
        model[3] = nn.Linear(32, 3, device="meta")
    else:
        model[1] = nn.BatchNorm1d(32, affine=False, device="meta")
    with pytest.raises(ModelError, match=r"on the meta device \(first: \d\.(weight|running_mean)\).*model.to_empty"):
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10, restore=restore)


def test_a_persistent_workers_loader_keeps_its_order(dataset: TensorDataset) -> None:
    """The test's worker iterator is shut down: the first epochs after it are those without it."""

    def epochs(with_test: bool) -> list[list[int]]:
        loader = DataLoader(dataset, batch_size=128, shuffle=True, num_workers=1, persistent_workers=True)
        model = make_mlp()  # seeds torch itself
        torch.manual_seed(3)
        if with_test:
            range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
            assert loader._iterator is None
        return [[int(v) for _, y in loader for v in y[:3]] for _ in range(2)]

    assert epochs(with_test=True) == epochs(with_test=False)


class _Augmented(torch.utils.data.Dataset):
    """Noise drawn in ``__getitem__``: a random augmentation, run in the loader's worker."""

    def __init__(self, dataset: TensorDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.dataset[i]
        return x + 0.1 * torch.randn(x.shape), y


@pytest.mark.parametrize("refine", [None, Refine(training_steps=200, budget=0.3)])
def test_persistent_workers_already_running_are_left_alone(dataset: TensorDataset, refine: Refine | None) -> None:
    # An epoch before the test left the loader's worker iterator in place; the test's iter() reset it and drew
    # its batches from those workers, whose RNGs moved: the epoch after the test got other augmentations.
    def epochs(with_test: bool) -> list[float]:
        model = make_mlp()  # seeds torch itself
        torch.manual_seed(3)
        loader = DataLoader(_Augmented(dataset), batch_size=128, shuffle=True, num_workers=1, persistent_workers=True)
        sums = [float(x.sum()) for x, _ in loader]
        running = loader._iterator
        if with_test:
            range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10, refine=refine)
            assert loader._iterator is running
        return sums + [float(x.sum()) for x, _ in loader]

    assert epochs(with_test=True) == epochs(with_test=False)


class _ShardedStream(torch.utils.data.IterableDataset):
    """A stream with no ``__len__``: each ``__iter__`` opens it anew, each worker its shard, noise drawn there."""

    def __init__(self, dataset: TensorDataset) -> None:
        self.dataset = dataset

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        for i in range(worker, len(self.dataset), workers):
            x, y = self.dataset[i]
            yield x + 0.1 * torch.randn(x.shape), y


@pytest.mark.slow
@pytest.mark.parametrize("warm", [False, True])
def test_a_stream_without_len_under_two_persistent_workers_trains_on_the_same_batches(
    dataset: TensorDataset, warm: bool
) -> None:
    """An IterableDataset with no __len__ (the test cycles it, reopening it per pass) read by two persistent
    workers: the first 5 batches after the test are those without it, bit for bit, whether the loader's workers
    were started by the test or by an epoch before it (left running, untouched)."""

    def first_batches(with_test: bool) -> list[torch.Tensor]:
        model = make_mlp()  # seeds torch itself
        torch.manual_seed(3)
        loader = DataLoader(_ShardedStream(dataset), batch_size=32, num_workers=2, persistent_workers=True)
        before = [x for x, _ in loader] if warm else []
        if with_test:
            range_test(model, loader, loss_fn=F.cross_entropy, num_steps=20)
        return before + [x for _, (x, _) in zip(range(5), loader)]

    with_test, without = first_batches(with_test=True), first_batches(with_test=False)
    assert len(with_test) == len(without) and all(torch.equal(a, b) for a, b in zip(with_test, without))


def test_a_generator_given_as_data_is_restored(mlp: nn.Module) -> None:
    """The callback's refine trials pass the loaders' generators themselves."""
    gen = torch.Generator().manual_seed(7)
    snapshot = StateSnapshot(mlp, [], [gen])
    expected = torch.randn(3, generator=gen)
    snapshot.restore()
    assert torch.equal(torch.randn(3, generator=gen), expected)


@pytest.mark.parametrize(
    ("key", "value", "pattern"),
    [
        ("batch_size", "32", r"batch_size='32' is not an integer >= 1"),
        ("batch_size", 0, r"batch_size=0 is not an integer >= 1"),
        ("batch_size", 2**53 + 1, r"batch_size=9007199254740993 is past 9,007,199,254,740,992 \(2\*\*53\)"),
        ("num_parameters", 1.5, r"num_parameters=1.5 is not an integer >= 0"),
        ("optimizer_name", 3, r"optimizer_name=3 is not a string"),
        ("label", ["a"], r"label=\['a'\] is not a string"),
        ("lrs", [0.1, 0.01], r"'lrs' must be finite, > 0 and strictly increasing"),
        ("lrs", [-1.0, 0.01], r"'lrs' must be finite, > 0"),
    ],
)
def test_json_optional_fields_are_checked(key: str, value: Any, pattern: str) -> None:
    data = RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 0.9), stop_reason="completed", batch_size=32).to_dict()
    data[key] = value
    with pytest.raises(ValueError, match="Malformed range-test result: " + pattern):
        RangeTestResult.from_dict(data)


class _NoCompiler(nn.Module):
    """A compiled model on a machine without a C++ compiler: inductor fails on the first forward."""

    def __init__(self) -> None:
        super().__init__()
        self.net = make_mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torch._inductor.exc import InductorError

        error = RuntimeError("InvalidCxxCompiler: No working C++ compiler found in torch._inductor.config.cpp.cxx")
        raise InductorError(error, None)


def test_a_compile_failure_is_not_blamed_on_the_batch(loader: DataLoader) -> None:
    """It was a DataError: "The first batch does not go through the model ... Check that the inputs have the shape"."""
    pattern = (
        r"^torch.compile could not compile the model \(InductorError: RuntimeError: InvalidCxxCompiler: No working "
        r"C\+\+ compiler.*not the batch.*install one.*backend='aot_eager'"
    )
    with pytest.raises(ModelError, match=pattern):
        range_test(_NoCompiler(), loader, loss_fn=F.cross_entropy, num_steps=10)



class _NoCompilerInBackward(nn.Module):
    """``torch.compile(nn.Linear(...))`` without a C++ compiler: its forward is a library kernel (addmm), compiled
    without one; the gradient's reductions are generated kernels, compiled at the first backward."""

    def __init__(self) -> None:
        super().__init__()
        self.net = make_mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return NoCompilerForBackward.apply(self.net(x))


def test_a_compile_failure_in_the_backward_is_said_as_in_the_forward(loader: DataLoader) -> None:
    # It came out as torch's bare InductorError, some 50 frames deep, from the test's backward.
    model = _NoCompilerInBackward()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ModelError, match=r"^torch.compile could not compile the model \(InductorError: RuntimeError: "
                       r"InvalidCxxCompiler: No working C\+\+ compiler found\): its compiler failed, not the batch.*"
                       r"install one.*backend='aot_eager'"):  # fmt: skip
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())

def test_a_compiled_models_batch_mismatch_quotes_the_operations_error(loader: DataLoader) -> None:
    """torch.compile's tracer says "RuntimeError when making fake tensor call" first; the operation's error is below."""
    model = torch.compile(make_mlp(features=12), backend="eager")
    with pytest.raises(DataError, match=r"first batch does not go through the model.*TorchRuntimeError") as caught:
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    assert "fake tensor call" not in str(caught.value) and "[32, 10]" in str(caught.value)


@pytest.mark.filterwarnings("ignore:`torch.jit.*is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:.*might cause the trace to be incorrect")
def test_a_model_traced_in_eval_mode_is_warned_about(loader: DataLoader) -> None:
    """Its batch norm ran on running statistics (never updated) whatever mode the test set, without a word."""
    example = next(iter(loader))[0]

    def traced(train: bool) -> torch.jit.ScriptModule:
        net = make_mlp()
        return torch.jit.trace(net.train(train), example)

    with pytest.warns(UserWarning, match=r"^The model was traced in eval mode.*batch norm is frozen.*model.train\(\) "
                      r"before torch.jit.trace"):  # fmt: skip
        range_test(traced(False), loader, loss_fn=F.cross_entropy, num_steps=10)
    inside = nn.Sequential(traced(False), nn.ReLU())
    with pytest.warns(UserWarning, match=r"^The model's submodule 0 was traced in eval mode"):
        range_test(inside, loader, loss_fn=F.cross_entropy, num_steps=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        range_test(traced(True), loader, loss_fn=F.cross_entropy, num_steps=10)
        range_test(torch.jit.script(make_mlp().eval()), loader, loss_fn=F.cross_entropy, num_steps=10)


@pytest.mark.filterwarnings("ignore:`torch.jit.*is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:.*might cause the trace to be incorrect")
def test_an_eval_trace_that_runs_as_in_training_is_not_warned_about(loader: DataLoader) -> None:
    """A dropout of p=0 and a frozen traced feature extractor run the same in either mode: no false alarm."""
    example = next(iter(loader))[0]
    # Dropout(0.0), as modern transformers set it: eval mode changes nothing, but its flag is a constant False.
    no_dropout = nn.Sequential(nn.Linear(10, 16), nn.Dropout(0.0), nn.ReLU(), nn.Linear(16, 3)).eval()
    assert traced_in_eval_mode(torch.jit.trace(no_dropout, example)) == []
    # A frozen backbone, traced in eval mode on purpose (its batch norm keeps its running statistics), under a head.
    backbone = make_mlp(features=10, classes=16).eval().requires_grad_(False)
    model = nn.Sequential(torch.jit.trace(backbone, example), nn.ReLU(), nn.Linear(16, 3))
    assert traced_in_eval_mode(model) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    # A dropout that does something is still found, and so is the same backbone when it trains.
    dropout = nn.Sequential(nn.Linear(10, 16), nn.Dropout(0.3), nn.ReLU(), nn.Linear(16, 3)).eval()
    assert traced_in_eval_mode(torch.jit.trace(dropout, example)) == [""]
    assert traced_in_eval_mode(torch.jit.trace(backbone.requires_grad_(True), example)) == [""]


def test_a_compiled_model_is_named_by_its_class(mlp: nn.Module, loader: DataLoader) -> None:
    class Compiled(nn.Module):  # what torch.compile returns, without compiling: the module under _orig_mod
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self._orig_mod = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self._orig_mod(x)

    assert range_test(Compiled(mlp), loader, loss_fn=F.cross_entropy, num_steps=10).model_name == "Sequential"


class _RunningMean(nn.Module):
    """Keeps a running mean by reassigning its buffer (a new tensor each step) and counts its calls
    in a buffer it registers on the first forward, as user code often does."""

    def __init__(self) -> None:
        super().__init__()
        self.net = make_mlp()
        self.register_buffer("ema", torch.zeros(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        self.ema = 0.9 * self.ema + 0.1 * out.detach().mean(0)
        if not hasattr(self, "calls"):
            self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.calls += 1
        return out


def test_reassigned_and_new_buffers_are_put_back(loader: DataLoader) -> None:
    model = _RunningMean()
    ema = model.ema
    range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    assert model.ema is ema and torch.equal(ema, torch.zeros(3))
    assert "calls" not in dict(model.named_buffers())


def test_a_step_fn_that_runs_backward_itself_is_told_to_return_the_loss(mlp: nn.Module, loader: DataLoader) -> None:
    """A training step pasted as step_fn failed with torch's 'backward through the graph a second time'."""

    def own_backward(model: nn.Module, batch: Any) -> torch.Tensor:
        loss = F.cross_entropy(model(batch[0]), batch[1])
        loss.backward()
        return loss

    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    before = snapshot_of(mlp, opt)
    with pytest.raises(ModelError, match=r"without calling loss.backward\(\) or optimizer.step\(\)") as info:
        range_test(mlp, loader, optimizer=opt, step_fn=own_backward)
    # A training step pasted whole clips too: left in step_fn, with the backward taken out, it would clip nothing.
    assert str(info.value).endswith(
        "Clip with range_test(gradient_clip_val=...), not clip_grad_norm_ inside step_fn: there it would run before "
        "the backward and clip nothing."
    )
    assert isinstance(info.value.__cause__, RuntimeError)
    assert_same_state(before, snapshot_of(mlp, opt))
    with pytest.raises(ModelError, match=r"does not require grad.*not loss.detach\(\)"):
        range_test(mlp, loader, step_fn=lambda model, batch: own_backward(model, batch).detach())



@pytest.mark.parametrize("accumulate_steps", [1, 4])
def test_a_step_fn_whose_backward_the_test_runs_again_is_refused(
    mlp: nn.Module, loader: DataLoader, accumulate_steps: int
) -> None:
    """loss.backward(retain_graph=True) in step_fn let the test's own backward succeed: every step took twice the
    gradient (a doubled effective LR), silently. Refused at the first step, before the optimizer's."""

    def twice(model: nn.Module, batch: Any) -> torch.Tensor:
        loss = F.cross_entropy(model(batch[0]), batch[1])
        loss.backward(retain_graph=True)
        return loss

    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    before = snapshot_of(mlp, opt)
    with pytest.raises(ModelError) as info:
        range_test(mlp, loader, optimizer=opt, step_fn=twice, accumulate_steps=accumulate_steps)
    factor = 1 + accumulate_steps  # the test adds 1/accumulate_steps of what step_fn's backward left
    assert str(info.value) == (
        "step_fn(model, batch) left gradients in the model that are those of the loss it returns (it ran "
        "loss.backward(retain_graph=True), or the backward of a loss with the same gradient), and the range test "
        f"runs the returned loss's backward itself: each step would take their sum, {factor}x the gradient, as at "
        f"{factor}x the swept LR. Return the loss without calling loss.backward() or optimizer.step(): the range test "
        "runs them itself, at the swept LR (after another backward in step_fn, a GAN critic's, clear the model's "
        "gradients with model.zero_grad(), or detach what of the model reaches it)."
    )
    assert_same_state(before, snapshot_of(mlp, opt))


def test_a_step_fn_whose_own_backward_is_of_another_loss_runs_as_before(loader: DataLoader) -> None:
    """Gradients step_fn leaves that are not the returned loss's are summed in, as before: an auxiliary loss's
    backward run early, a GAN critic's loss reaching the generator (its fakes not detached)."""

    def auxiliary(model: nn.Module, batch: Any) -> torch.Tensor:
        out = model(batch[0])
        (1e-3 * out.pow(2).mean()).backward(retain_graph=True)
        return F.cross_entropy(out, batch[1])

    result = range_test(make_mlp(), loader, step_fn=auxiliary, num_steps=20, max_lr=1.0)
    assert len(result.losses) == 20
    torch.manual_seed(0)
    gen, critic = nn.Linear(4, 4), nn.Linear(4, 1)
    c_opt = torch.optim.SGD(critic.parameters(), lr=1e-3)

    def gan(m: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        fake = m(batch)
        c_opt.zero_grad()
        (critic(fake).mean() - critic(batch).mean()).backward(retain_graph=True)  # into gen too: fake not detached
        c_opt.step()
        return -critic(fake).mean()

    batches = [torch.randn(16, 4) for _ in range(4)]
    assert len(range_test(gen, batches, step_fn=gan, num_steps=12, max_lr=1e-2, stop_factor=None).losses) == 12


class _Scale(nn.Module):
    """y = w x: one trained number (a temperature or a scale)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w * x


def test_a_step_fn_of_a_one_number_model_with_another_losss_backward_runs() -> None:
    """Gradients of one number are parallel whatever their losses: a prior's backward in step_fn, on a model of one
    scalar parameter, was refused as step_fn's backward of the loss it returns."""

    def with_prior(model: nn.Module, batch: Any) -> torch.Tensor:
        (0.01 * (model.w - 3).pow(2)).backward()  # a prior on w, its own backward
        return F.mse_loss(model(batch[0]), batch[1])

    gen = torch.Generator().manual_seed(0)
    xs = [torch.randn(16, 1, generator=gen) for _ in range(4)]
    batches = [(x, 2 * x) for x in xs]
    result = range_test(_Scale(), batches, step_fn=with_prior, num_steps=12, max_lr=1e-2, stop_factor=None)
    assert len(result.losses) == 12

def test_whole_data_that_iterates_to_no_batches_is_named(mlp: nn.Module, dataset: TensorDataset) -> None:
    """Numpy's (x, y) said 'Cannot use batches of type a ndarray', a dict of arrays 'of type a str' (its keys)."""
    x, y = dataset.tensors
    xn, yn = x.numpy(), y.numpy()
    for data, pattern in (
        ((xn, yn), r"train_data is a tuple of two arrays, float32 \(512, 10\) numpy array and int64 \(512,\) numpy "
                   r"array.*torch.as_tensor\(x, dtype=torch.float32\)"),
        (xn, r"train_data is a single float32 \(512, 10\) numpy array: iterated, it gives its rows"),
        (x, r"train_data is a single float32 \(512, 10\): iterated, it gives its rows"),
        ({"x": x, "y": y}, r"train_data is a dict \(keys 'x', 'y'\): iterated, it gives its keys.*\[batch\]"),
        ("train.npz", r"train_data is a str, 'train.npz': iterated, it gives its characters"),
        ([0.1, 0.2], r"train_data\[0\] is a float, not a batch.*step_fn"),
    ):
        with pytest.raises(DataError, match=pattern):
            range_test(mlp, data, loss_fn=F.cross_entropy)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"val_data is a list of two arrays"):
        range_test(mlp, DataLoader(dataset, batch_size=32), loss_fn=F.cross_entropy, val_data=[xn, yn], refine=True)


def test_a_first_batch_failure_says_how_to_fix_numpy_inputs_and_batchnorm_batches_of_one() -> None:
    """torch's 'must be Tensor, not numpy.ndarray' and BatchNorm's 'more than 1 value per channel' came with the
    shape-and-dtype advice only."""
    x, y = torch.randn(64, 10), torch.randint(0, 3, (64,))
    batches = [(x[i : i + 8].numpy(), y[i : i + 8].numpy()) for i in range(0, 64, 8)]
    with pytest.raises(DataError, match=r"The inputs are a numpy array.*DataLoader\(batches, batch_size=None\)"):
        range_test(make_mlp(), batches, loss_fn=F.cross_entropy)
    assert range_test(make_mlp(), DataLoader(batches, batch_size=None), loss_fn=F.cross_entropy, num_steps=10).lrs
    with pytest.raises(DataError, match=r"The inputs are a Python list.*torch.tensor\(x, dtype=torch.float32\)"):
        range_test(make_mlp(), [(x[:8].tolist(), y[:8].tolist())], loss_fn=F.cross_entropy)
    bn = nn.Sequential(nn.Linear(10, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    with pytest.raises(DataError, match=r"BatchNorm layer in training mode needs more than one value per channel"):
        range_test(bn, DataLoader(TensorDataset(x, y), batch_size=1), loss_fn=F.cross_entropy)


def test_inputs_a_list_of_tensors_are_not_told_to_convert_with_torch_tensor() -> None:
    """StackDataset(TensorDataset(x), TensorDataset(y)) collates each input 1-tuple into [x]: a list of one tensor.

    The model's "must be Tensor, not list" was answered "convert them with torch.tensor(x, ...)", which of a list
    of tensors fails or copies them into a new dimension. A list of one tensor is said to be a collated 1-tuple
    with how to build the dataset; a list of several, a model's several inputs, gets the step_fn unpacking them.
    """
    x, y = torch.randn(64, 10), torch.randint(0, 3, (64,))
    stacked = DataLoader(StackDataset(TensorDataset(x), TensorDataset(y)), batch_size=8)
    with pytest.raises(DataError, match=r"The inputs are a list holding one tensor.*StackDataset\(x, y\)") as info:
        range_test(make_mlp(), stacked, loss_fn=F.cross_entropy)
    assert "torch.tensor(x" not in str(info.value)
    with pytest.raises(DataError, match=r"The inputs are a list of 2 tensors.*model\(\*batch\[0\]\)") as info:
        range_test(make_mlp(), [([x[:8], x[:8]], y[:8])], loss_fn=F.cross_entropy)
    assert "torch.tensor(x" not in str(info.value)


def test_integer_targets_of_a_float_target_loss_are_told_to_convert() -> None:
    """Multi-label 0/1 targets as int64: BCEWithLogitsLoss failed with "result type Float can't be cast to the
    desired output type Long" and the shape-and-dtype advice only; huber_loss failed inside the backward pass
    with a bare RuntimeError "Found dtype Long but expected Float" raised from torch's autograd."""
    gen = torch.Generator().manual_seed(0)
    x, labels = torch.randn(64, 10, generator=gen), (torch.rand(64, 5, generator=gen) > 0.5).long()
    loader = DataLoader(TensorDataset(x, labels), batch_size=16)
    convert = r"The targets are int64 and loss_fn computes with float targets.*convert them with y\.float\(\)"
    for loss_fn, said in ((nn.BCEWithLogitsLoss(), "result type Float can't be cast to the desired output type Long"),
                          (F.huber_loss, "Found dtype Long but expected Float")):  # fmt: skip
        model = nn.Linear(10, 5)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        with pytest.raises(DataError, match=rf"The first batch does not go through the model and loss_fn "
                           rf"\(RuntimeError: {said}\).*{convert}"):  # fmt: skip
            range_test(model, loader, loss_fn=loss_fn, num_steps=10)
        assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
        # As told, it runs.
        floats = DataLoader(TensorDataset(x, labels.float()), batch_size=16)
        assert range_test(model, floats, loss_fn=loss_fn, num_steps=10).num_steps == 10
    # Class indices for cross_entropy are not told to become floats.
    with pytest.raises(DataError) as caught:
        range_test(nn.Linear(10, 3), DataLoader(TensorDataset(x, labels), batch_size=16), loss_fn=F.cross_entropy)
    assert "y.float()" not in str(caught.value)


def test_class_labels_of_another_dtype_than_int64_are_told_to_convert() -> None:
    """int32 labels (torch.from_numpy of an int32 array) and float labels for cross_entropy got "expected target dtype
    to be Long or Byte, but got Int" and the general shape-and-dtype advice only."""
    gen = torch.Generator().manual_seed(0)
    x, labels = torch.randn(64, 10, generator=gen), torch.randint(0, 3, (64,), generator=gen)
    told = {
        torch.int32: r"The targets are int32, and cross_entropy and nll_loss take class indices as int64: convert them "
                     r"with y\.long\(\) \(in the Dataset or a collate_fn; torch\.from_numpy keeps an int32 "
                     r"array's dtype\)\.",
        torch.float32: r"The targets are float32, and cross_entropy and nll_loss take class indices as int64: if they "
                       r"are class labels, convert them with y\.long\(\) \(in the Dataset or a collate_fn\); class "
                       r"probabilities take the output's shape\.",
    }
    for dtype, said in told.items():
        model = nn.Linear(10, 3)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        loader = DataLoader(TensorDataset(x, labels.to(dtype)), batch_size=16)
        with pytest.raises(DataError, match=r"expected target dtype to be Long or Byte, but got .*" + said):
            range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
        assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


class _TwoInputs(nn.Module):
    """A model whose forward takes its two inputs as separate arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.head = nn.Linear(5, 8), nn.Linear(5, 8), nn.Linear(16, 3)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.a(x1), self.b(x2)], dim=-1).relu())


def test_several_inputs_for_a_forward_that_takes_them_apart_are_told_how_the_model_is_called() -> None:
    # ((x1, x2), y) batches failed with "forward() missing 1 required positional argument: 'x2'" and the advice to
    # check the inputs' shape and dtype: the model is called as model(inputs), with the pair as one argument.
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 10, generator=gen), torch.randint(0, 3, (64,), generator=gen)
    pairs = [((x[i : i + 16, :5], x[i : i + 16, 5:]), y[i : i + 16]) for i in range(0, 64, 16)]
    with pytest.raises(DataError, match=r"missing 1 required positional argument: 'x2'\).*The inputs are a tuple "
                       r"of 2, which the model is called with as one argument, model\(inputs\).*"
                       r"def forward\(self, inputs\): x1, x2 = inputs"):  # fmt: skip
        range_test(_TwoInputs(), pairs, loss_fn=F.cross_entropy, num_steps=10)
    # As told, it runs.
    result = range_test(_TwoInputs(), pairs, step_fn=lambda m, b: F.cross_entropy(m(*b[0]), b[1]), num_steps=10)
    assert result.num_steps == 10
    # A model that takes one input and fails otherwise is not told so.
    with pytest.raises(DataError) as caught:
        range_test(nn.Linear(5, 3), pairs, loss_fn=F.cross_entropy, num_steps=10)
    assert "model(inputs)" not in str(caught.value)



class _TokenClassifier(nn.Module):
    """A text classifier taking a tokenizer's output by name, as a Hugging Face model does."""

    def __init__(self) -> None:
        super().__init__()
        self.embed, self.head = nn.Embedding(50, 8), nn.Linear(8, 3)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        return self.head((self.embed(input_ids) * mask.unsqueeze(-1)).mean(1))


def test_a_tokenizers_dict_of_inputs_for_a_forward_that_takes_them_by_name_is_told_to_unpack_it() -> None:
    # ({"input_ids", "attention_mask"}, label) batches went in as model(inputs) and failed deep in the model with
    # "embedding(): argument 'indices' (position 2) must be Tensor, not dict" and the shape-and-dtype advice only.
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 50, (64, 6), generator=gen)
    labels = ids[:, 0] % 3
    mask = torch.ones(16, 6, dtype=torch.long)
    batches = [({"input_ids": ids[i : i + 16], "attention_mask": mask}, labels[i : i + 16]) for i in range(0, 64, 16)]
    with pytest.raises(DataError, match=r"must be Tensor, not dict\).*The inputs are a dict \('input_ids', "
                       r"'attention_mask'\), which the model is called with as one argument, model\(inputs\), while "
                       r"_TokenClassifier\.forward takes them by name: call model\(\*\*inputs\) yourself"):  # fmt: skip
        range_test(_TokenClassifier(), batches, loss_fn=F.cross_entropy, num_steps=10)
    # As told, it runs.
    unpacked = lambda m, b: F.cross_entropy(m(**b[0]), b[1])  # noqa: E731
    result = range_test(_TokenClassifier(), batches, step_fn=unpacked, num_steps=10)
    assert result.num_steps == 10
    # Keys the forward does not take are not told to go in by name.
    other = [({"tokens": b[0]["input_ids"]}, b[1]) for b in batches]
    with pytest.raises(DataError) as caught:
        range_test(_TokenClassifier(), other, loss_fn=F.cross_entropy, num_steps=10)
    assert "model(**inputs)" not in str(caught.value)


def test_a_dict_batch_key_the_forward_requires_beyond_its_input_is_said_to_be_left_unread() -> None:
    # A graph network's {"x", "adj", "y"} batches failed with "forward() missing 1 required positional argument:
    # 'adj'" and the shape-and-dtype advice, with no word that the batch holds 'adj' and only batch['x'] goes in.
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 10, generator=gen), torch.randint(0, 3, (64,), generator=gen)
    batches = [{"x": x[i : i + 16, :5], "adj": x[i : i + 16, 5:], "y": y[i : i + 16]} for i in range(0, 64, 16)]
    with pytest.raises(DataError, match=r"missing 1 required positional argument: 'x2'\)") as caught:
        range_test(_TwoInputs(), [{"x": b["x"], "x2": b["adj"], "y": b["y"]} for b in batches],
                   loss_fn=F.cross_entropy, num_steps=10)
    assert ("The batch's 'x2' is not passed to the model: a dict batch goes in as loss_fn(model(batch['x']), "
            "batch['y']), its other keys unread, and _TwoInputs.forward requires 'x2' too.") in str(caught.value)
    assert str(caught.value).endswith("or pass step_fn(model, batch) -> loss for another batch format.")
    # A key the forward does not name ('adj' for x2) is not said to be required.
    with pytest.raises(DataError) as other:
        range_test(_TwoInputs(), batches, loss_fn=F.cross_entropy, num_steps=10)
    assert "not passed to the model" not in str(other.value)


def test_an_optimizer_that_maximizes_is_refused_and_the_negated_objective_sweeps_the_same_steps() -> None:
    """maximize=True climbed the loss it was given: the curve rose as the model learned, its rise was read as a
    blow-up and the result said "the loss never clearly falls ... blew up from lr=2.29e-01"."""
    data = make_classification(256)
    loader = DataLoader(data, batch_size=32)
    model = make_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    groups = [{"params": model[0].parameters()}, {"params": model[3].parameters(), "maximize": True}]
    maximizing = torch.optim.SGD(groups, lr=0.01)
    with pytest.raises(ValueError, match=r"param group 1 of SGD has maximize=True.*Return the negated objective as "
                       r"the loss \(loss = -objective, in loss_fn or step_fn\)"):  # fmt: skip
        range_test(model, loader, optimizer=maximizing, loss_fn=lambda out, y: -F.cross_entropy(out, y))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    # torch reads maximize by its truth: maximize=1 climbs too, and was let through by an `is True` check.
    with pytest.raises(ValueError, match=r"param group 0 of SGD has maximize=1:"):
        range_test(model, loader, optimizer=torch.optim.SGD(model.parameters(), lr=0.01, maximize=1),
                   loss_fn=F.cross_entropy)  # fmt: skip
    # As told: minimizing the negated objective takes the same steps as maximizing it.
    objective = lambda out, y: -F.cross_entropy(out, y)  # noqa: E731
    model_b = make_mlp()
    model_b.load_state_dict(model.state_dict())
    ascent = torch.optim.SGD(model_b.parameters(), lr=0.1, maximize=True)
    descent = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        for opt, loss in ((descent, -objective(model(x), y)), (ascent, objective(model_b(x), y))):
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), model_b.parameters()))
    result = range_test(model, loader, optimizer=torch.optim.SGD(model.parameters(), lr=0.01), num_steps=10,
                        loss_fn=lambda out, y: -objective(out, y))  # fmt: skip
    assert result.num_steps == 10


def test_a_loss_returned_with_its_parts_is_told_which_item_to_return(mlp: nn.Module, loader: DataLoader) -> None:
    """A loss_fn returning {"loss": total, "mse": ...} or (total, parts) was answered "got dict" only."""

    def parts(out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        ce = F.cross_entropy(out, y)
        return ce + 0.0, {"ce": ce.detach()}

    cases: list[tuple[Any, str]] = [
        (parts, r"got tuple\. Its first item is a scalar tensor, the loss beside its parts: return that item alone "
                r"\(my_loss\(\.\.\.\)\[0\]\)"),
        (lambda out, y: {"loss": parts(out, y)[0], **parts(out, y)[1]},
         r"got dict\. Its 'loss' entry is a tensor.*\(my_loss\(\.\.\.\)\['loss'\]\)"),
    ]  # fmt: skip
    for loss_fn, pattern in cases:
        with pytest.raises(ModelError, match=pattern):
            range_test(mlp, loader, loss_fn=loss_fn, num_steps=10)
        with pytest.raises(ModelError, match=pattern):
            range_test(mlp, loader, step_fn=lambda m, b, f=loss_fn: f(m(b[0]), b[1]), num_steps=10)
    # A tuple whose first item is no loss is not told to return it.
    with pytest.raises(ModelError) as caught:
        range_test(mlp, loader, loss_fn=lambda out, y: (out, y), num_steps=10)
    assert "first item" not in str(caught.value)


def test_a_dataset_given_as_batches_is_refused(mlp: nn.Module, dataset: TensorDataset) -> None:
    """A TensorDataset ran the test one example at a time and reported the 10 features as the batch size."""
    with pytest.raises(DataError, match=r"train_data is a TensorDataset, a Dataset: its items are single examples.*"
                                        r"DataLoader\(train_data, batch_size=64"):  # fmt: skip
        range_test(mlp, dataset, loss_fn=F.cross_entropy)
    with pytest.raises(DataError, match="val_data is a TensorDataset"):
        range_test(mlp, DataLoader(dataset, batch_size=32), loss_fn=F.cross_entropy, val_data=dataset, refine=True)
    whole = DataLoader(dataset, batch_size=None, sampler=torch.utils.data.BatchSampler(
        torch.utils.data.SequentialSampler(dataset), batch_size=32, drop_last=False))  # fmt: skip
    assert range_test(mlp, whole, loss_fn=F.cross_entropy, num_steps=10).batch_size == 32


def test_the_whole_data_as_a_pair_of_tensors_is_refused(mlp: nn.Module, dataset: TensorDataset) -> None:
    """range_test(model, (x, y)) iterated x and y as two batches: 'Cannot use batches of type a Tensor'."""
    x, y = dataset.tensors
    for data in ((x, y), [x, y]):
        with pytest.raises(DataError, match=r"train_data is a (tuple|list) of two tensors, float32 \(512, 10\) and "
                                            r"int64 \(512,\).*DataLoader\(TensorDataset\(x, y\)"):  # fmt: skip
            range_test(mlp, data, loss_fn=F.cross_entropy)
    with pytest.raises(DataError, match="val_data is a tuple of two tensors"):
        range_test(mlp, DataLoader(dataset, batch_size=32), loss_fn=F.cross_entropy, val_data=(x, y), refine=True)
    # Two single-tensor batches are a step_fn's to read.
    two = [x[:32], x[32:64]]
    result = range_test(mlp, two, step_fn=lambda m, b: m(b).logsumexp(1).mean(), num_steps=10, max_lr=1e-3)
    assert result.num_steps == 10


@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode])
def test_a_test_called_without_grad_runs_and_leaves_a_trainable_optimizer(
    mode: Any, mlp: nn.Module, loader: DataLoader
) -> None:
    """Inside no_grad/inference_mode (an evaluation script) the loss did not require grad; under
    inference_mode the restored optimizer state were inference tensors, which Adam's next step refused."""
    opt = warmed_up(mlp, loader)
    before = snapshot_of(mlp, opt)
    with mode():
        result = range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)
    assert result.num_steps == 10
    assert_same_state(before, snapshot_of(mlp, opt))
    x, y = next(iter(loader))
    F.cross_entropy(mlp(x), y).backward()
    opt.step()


class _Buckets(torch.utils.data.Sampler[list[int]]):
    """A bucketing batch sampler with its own Python RNG, as NLP pipelines often have."""

    def __init__(self, n: int, size: int, seed: int) -> None:
        self.n, self.size, self.rng = n, size, random.Random(seed)

    def __iter__(self) -> Any:
        batches = [list(range(i, min(i + self.size, self.n))) for i in range(0, self.n, self.size)]
        self.rng.shuffle(batches)
        return iter(batches)

    def __len__(self) -> int:
        return math.ceil(self.n / self.size)


class _Jittered(torch.utils.data.Dataset[Any]):
    """A dataset that augments with its own numpy Generator."""

    def __init__(self, base: TensorDataset) -> None:
        self.base, self.rng = base, np.random.default_rng(0)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> Any:
        x, y = self.base[i]
        return x + float(self.rng.normal(0.0, 0.1)), y


class _Unfreezing(nn.Module):
    """Unfreezes its first layer after three forward passes (a warm-up schedule kept in the model)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = make_mlp()
        self.net[0].requires_grad_(False)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if int(self.calls) > 3:
            self.net[0].requires_grad_(True)
        return self.net(x)


def test_sampler_and_dataset_rngs_and_requires_grad_are_restored(dataset: TensorDataset) -> None:
    def first_epoch(with_test: bool) -> list[torch.Tensor]:
        loader = DataLoader(_Jittered(dataset), batch_sampler=_Buckets(len(dataset), 64, seed=1))
        if with_test:
            model = _Unfreezing()
            range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
            assert [p.requires_grad for p in model.net[0].parameters()] == [False, False]
        return [x for x, _ in loader]

    assert all(torch.equal(a, b) for a, b in zip(first_epoch(True), first_epoch(False), strict=True))


class _EpochSeeded(torch.utils.data.Sampler[int]):
    """Reseeds its shuffle from seed + epoch, counting the epoch up at each iter() (no set_epoch needed)."""

    def __init__(self, n: int) -> None:
        self.n, self.epoch = n, 0

    def __iter__(self) -> Any:
        gen = torch.Generator().manual_seed(100 + self.epoch)
        self.epoch += 1
        return iter(torch.randperm(self.n, generator=gen).tolist())

    def __len__(self) -> int:
        return self.n


class _OwnGenerator(torch.utils.data.Sampler[int]):
    """Shuffles with a torch.Generator kept under a name of its own (not ``generator``)."""

    def __init__(self, n: int) -> None:
        self.n, self.rng = n, torch.Generator().manual_seed(5)

    def __iter__(self) -> Any:
        return iter(torch.randperm(self.n, generator=self.rng).tolist())

    def __len__(self) -> int:
        return self.n


class _Noise:
    """A transform with its own torch.Generator (augmentation reproducible apart from the global seed)."""

    def __init__(self) -> None:
        self.gen = torch.Generator().manual_seed(7)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.1 * torch.randn(x.shape, generator=self.gen)


class _InPlaceOrders(torch.utils.data.Sampler[int]):
    """Keeps its order between epochs: a list and an integer tensor permuted in place, and a queue of pending indices.

    ``iter()`` shuffles ``order`` (buckets of indices, each shuffled in place) and ``perm`` in place, and takes the
    epoch from ``pending``, refilled from both when it runs dry: every ``iter()`` starts from where the last ended.
    """

    def __init__(self, n: int) -> None:
        self.n, self.rng, self.gen = n, random.Random(3), torch.Generator().manual_seed(3)
        self.order = [list(range(i, min(i + 16, n))) for i in range(0, n, 16)]
        self.perm = torch.arange(n)
        self.pending: collections.deque[int] = collections.deque()

    def __iter__(self) -> Any:
        for _ in range(self.n):
            if not self.pending:
                for bucket in self.order:
                    self.rng.shuffle(bucket)
                self.perm.copy_(self.perm[torch.randperm(self.n, generator=self.gen)])
                buckets = [self.order[i] for i in self.perm[: len(self.order)].remainder(len(self.order)).tolist()]
                self.pending.extend(i for bucket in buckets for i in bucket)
                self.pending.rotate(int(self.perm[0]))
            yield self.pending.popleft()

    def __len__(self) -> int:
        return self.n


class _ClassPools(torch.utils.data.Sampler[int]):
    """Class-balanced: shuffles each class's indices in place (a dict of lists) and takes them in turn."""

    def __init__(self, labels: torch.Tensor) -> None:
        self.rng = random.Random(4)
        self.pools: dict[int, list[int]] = {}
        for i, label in enumerate(labels.tolist()):
            self.pools.setdefault(label, []).append(i)

    def __iter__(self) -> Any:
        for pool in self.pools.values():
            self.rng.shuffle(pool)
        return iter([i for group in zip(*self.pools.values(), strict=False) for i in group])

    def __len__(self) -> int:
        return len(self.pools) * min(len(p) for p in self.pools.values())


class _Transformed(torch.utils.data.Dataset[Any]):
    def __init__(self, base: TensorDataset) -> None:
        self.base, self.transform = base, _Noise()

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> Any:
        x, y = self.base[i]
        return self.transform(x), y


@pytest.mark.parametrize(
    "make",
    [
        lambda ds: DataLoader(ds, batch_size=64, sampler=_EpochSeeded(len(ds))),
        lambda ds: DataLoader(ds, batch_size=64, sampler=_OwnGenerator(len(ds))),
        lambda ds: DataLoader(torch.utils.data.Subset(_Transformed(ds), range(300)), batch_size=64),
        lambda ds: DataLoader(torch.utils.data.ConcatDataset([ds, _Transformed(ds)]), batch_size=64, shuffle=True),
        lambda ds: DataLoader(ds, batch_size=64, sampler=_InPlaceOrders(len(ds))),
        lambda ds: DataLoader(ds, batch_size=16, sampler=_ClassPools(ds.tensors[1])),
    ],
    ids=["epoch-counting-sampler", "sampler-generator-by-another-name", "subset-of-a-transform-with-a-generator",
         "concat-dataset-with-a-generator", "sampler-order-kept-in-place", "class-pools-shuffled-in-place"],
)  # fmt: skip
def test_every_draw_state_below_the_loader_is_restored(make: Any, dataset: TensorDataset) -> None:
    """Only a ``generator`` attribute (and Python/numpy RNGs one level down) were restored: these orders and
    augmentations moved on with the test's passes, so training did not start with the batches it would have.
    A sampler's order kept in place (a list shuffled in place, an integer tensor permuted in place, a queue of
    pending indices, a dict of each class's indices) was not restored either, only its RNGs: the next epoch
    shuffled an order already shuffled."""

    def first_epoch(with_test: bool) -> list[torch.Tensor]:
        model = make_mlp()
        torch.manual_seed(0)
        loader = make(dataset)
        if with_test:
            range_test(model, loader, loss_fn=F.cross_entropy, num_steps=12, max_lr=1e-2)
        return [x for x, _ in loader]

    assert all(torch.equal(a, b) for a, b in zip(first_epoch(True), first_epoch(False), strict=True))


def test_drop_last_with_a_batch_larger_than_the_data_is_named(mlp: nn.Module, dataset: TensorDataset) -> None:
    """It said 'the training data is empty ... pass a non-empty DataLoader' of 20 examples."""
    few = DataLoader(TensorDataset(*dataset[:20]), batch_size=32, drop_last=True)
    with pytest.raises(DataError, match=r"batch_size=32, drop_last=True\) over 20 examples.*at most 20"):
        range_test(mlp, few, loss_fn=F.cross_entropy)


def test_a_weight_decay_sweep_file_is_named_as_such() -> None:
    """lrfind run --weight-decay writes several results in one file; reading it said KeyError('stop_reason')."""
    one = RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 0.9), stop_reason="completed").to_dict()
    doc = {"schema_version": 1, "kind": "weight_decay_sweep", "weight_decays": [0, 1e-4], "results": [one, one]}
    with pytest.raises(ValueError, match=r"weight-decay sweep of 2 range tests.*from_dict\(doc\['results'\]\[i\]\)"):
        RangeTestResult.from_dict(doc)
    assert RangeTestResult.from_dict(doc["results"][1]).lrs == (1e-3, 1e-2)


# ------------------------------------------------------------------------------------ gradient clipping


def _steep_regression() -> tuple[nn.Module, DataLoader]:
    torch.manual_seed(0)
    model = nn.Linear(4, 1).double()  # float64: the update is read as a difference of weights
    x = torch.randn(64, 4, dtype=torch.float64)
    return model, DataLoader(TensorDataset(x, 100.0 * x.sum(1, keepdim=True)), batch_size=16)  # gradients >> 1


def _updates(accumulate_steps: int = 1, **kwargs: Any) -> list[tuple[float, torch.Tensor]]:
    """(lr, change of the flattened weights) of every step of plain SGD on a steep regression."""
    model, data = _steep_regression()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    updates: list[tuple[float, torch.Tensor]] = []
    previous = [torch.cat([p.detach().flatten() for p in model.parameters()])]

    def on_step(index: int, lr: float, loss: float) -> None:
        now = torch.cat([p.detach().flatten() for p in model.parameters()])
        updates.append((lr, now - previous[0]))
        previous[0] = now

    range_test(model, data, optimizer=opt, loss_fn=F.mse_loss, min_lr=1e-4, max_lr=1e-2, num_steps=10,
               stop_factor=None, accumulate_steps=accumulate_steps, on_step=on_step, **kwargs)  # fmt: skip
    return updates


def _update_sizes(accumulate_steps: int = 1, **kwargs: Any) -> list[tuple[float, float, float]]:
    """(lr, update L2 norm, largest update element) of every step (see :func:`_updates`)."""
    return [(lr, float(d.norm()), float(d.abs().max())) for lr, d in _updates(accumulate_steps, **kwargs)]


def test_clipping_with_accumulation_clips_the_accumulated_gradient_once() -> None:
    """The first update is -lr x clip(mean gradient of the 3 micro-batches), not a clip of each part or running sum."""
    model, data = _steep_regression()
    batches = list(data)[:3]
    sum(F.mse_loss(model(x), y) / 3 for x, y in batches).backward()  # type: ignore[union-attr]
    grad = torch.cat([p.grad.flatten() for p in model.parameters()])  # type: ignore[union-attr]
    expected = -1e-4 * grad * (0.5 / grad.norm())
    lr, first = _updates(3, gradient_clip_val=0.5)[0]
    assert lr == 1e-4
    torch.testing.assert_close(first, expected, rtol=1e-6, atol=0.0)


@pytest.mark.parametrize("accumulate_steps", [1, 3])
def test_gradient_clip_val_bounds_every_update(accumulate_steps: int) -> None:
    """Clipped once per optimizer step, after accumulation: the SGD update is lr x the clip norm, exactly."""
    unclipped = _update_sizes(accumulate_steps)
    assert all(size > 10 * lr for lr, size, _ in unclipped)  # the gradients are far above the threshold
    clipped = _update_sizes(accumulate_steps, gradient_clip_val=0.5)
    assert len(clipped) == 10
    # Per micro-batch (clipping the running sum) the last micro-batches' gradients would add up past it.
    assert all(size == pytest.approx(0.5 * lr, rel=1e-4) for lr, size, _ in clipped)


def test_gradient_clip_algorithm_value_clamps_each_element() -> None:
    clipped = _update_sizes(2, gradient_clip_val=0.01, gradient_clip_algorithm="value")
    assert all(largest == pytest.approx(0.01 * lr, rel=1e-4) for lr, _, largest in clipped)


def test_gradient_clipping_sees_unscaled_gradients_under_16_mixed() -> None:
    """The GradScaler's scale is taken off before clipping (else the update would be ~65536x smaller)."""
    try:
        torch.amp.GradScaler("cpu")
        with torch.autocast("cpu", dtype=torch.float16):
            pass
    except (AttributeError, RuntimeError):
        pytest.skip("no float16 autocast/GradScaler on CPU in this torch")
    clipped = _update_sizes(1, gradient_clip_val=0.5, precision="16-mixed")
    stepped = [(lr, size) for lr, size, _ in clipped if size > 0]  # the scaler may skip its first steps
    assert len(stepped) >= 5 and all(size == pytest.approx(0.5 * lr, rel=1e-3) for lr, size in stepped)


def test_gradient_clipping_is_saved_in_the_settings_and_json() -> None:
    model, data = nn.Linear(4, 2), DataLoader(TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,))), 8)
    result = range_test(model, data, loss_fn=F.cross_entropy, num_steps=10, gradient_clip_val=1.0,
                        gradient_clip_algorithm="value")  # fmt: skip
    assert (result.settings.gradient_clip_val, result.settings.gradient_clip_algorithm) == (1.0, "value")
    assert RangeTestResult.from_json(result.to_json()).settings == result.settings
    old = result.to_dict()  # a file written before clipping was recorded
    for key in ("gradient_clip_val", "gradient_clip_algorithm"):
        del old["settings"][key]
    assert RangeTestResult.from_dict(old).settings.gradient_clip_val is None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"gradient_clip_val": 0.0}, ValueError, r"gradient_clip_val > 0 and finite.*gradient_clip_val=0.0"),
        ({"gradient_clip_val": math.inf}, ValueError, r"gradient_clip_val=inf"),
        ({"gradient_clip_val": -1}, ValueError, r"gradient_clip_val=-1"),
        ({"gradient_clip_val": "1"}, TypeError, r"gradient_clip_val to be a number or None"),
        ({"gradient_clip_val": 1.0, "gradient_clip_algorithm": "l2"}, ValueError, r"'norm' or 'value'.*'l2'"),
    ],
)
def test_bad_gradient_clipping_is_refused_by_name(kwargs: dict[str, Any], error: type, match: str) -> None:
    model, data = nn.Linear(4, 2), [(torch.randn(8, 4), torch.randint(0, 2, (8,)))]
    with pytest.raises(error, match=match):
        range_test(model, data, loss_fn=F.cross_entropy, num_steps=10, **kwargs)


def test_refine_trials_clip_as_the_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from lrfinder import Refine

    engine = importlib.import_module("lrfinder.range_test")  # the module: lrfinder.range_test is the function

    calls: list[float | None] = []
    real = engine.clip_gradients

    def spy(optimizer: torch.optim.Optimizer, gradient_clip_val: float | None, gradient_clip_algorithm: str) -> None:
        calls.append(gradient_clip_val)
        real(optimizer, gradient_clip_val, gradient_clip_algorithm)

    monkeypatch.setattr(engine, "clip_gradients", spy)
    torch.manual_seed(0)
    data = DataLoader(make_classification(256), batch_size=32, shuffle=True)
    model = make_mlp()
    refine = Refine(training_steps=100, trial_steps=12, candidates=2, val_batches=2, budget=1.0, extend=0,
                    max_resweeps=0)  # fmt: skip
    result = range_test(model, data, loss_fn=F.cross_entropy, num_steps=20, refine=refine, gradient_clip_val=2.0)
    trial_steps = sum(len(t.train_losses) for t in result.refinement.trials) if result.refinement else 0
    assert trial_steps > 0
    assert calls.count(2.0) == result.num_steps + trial_steps


# ------------------------------------------------------------------------------------ optimizer wrappers


class _Lookahead(torch.optim.Optimizer):
    """A hand-written Lookahead (Zhang et al. 2019): slow weights and a step counter as attributes.

    Neither is in ``state_dict()``, and the inner optimizer's state is not in the wrapper's ``state``.
    """

    def __init__(self, inner: torch.optim.Optimizer, k: int = 3, alpha: float = 0.5) -> None:
        super().__init__(inner.param_groups, inner.defaults)
        self.inner, self.k, self.alpha, self.counter = inner, k, alpha, 0
        self.param_groups = inner.param_groups
        self.slow = [p.detach().clone() for g in self.param_groups for p in g["params"]]

    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        self.inner.step()
        self.counter += 1
        if self.counter % self.k == 0:
            with torch.no_grad():
                for slow, p in zip(self.slow, (p for g in self.param_groups for p in g["params"]), strict=True):
                    slow.add_(p - slow, alpha=self.alpha)
                    p.copy_(slow)


def _steps(model: nn.Module, opt: torch.optim.Optimizer, batches: list[Any], n: int) -> list[torch.Tensor]:
    for x, y in batches[:n]:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


def test_a_hand_written_lookahead_is_restored_exactly(dataset: TensorDataset) -> None:
    """Its slow weights, counter and inner Adam state were left as the sweep made them: training then differed."""
    batches = list(DataLoader(dataset, batch_size=32))

    def run(with_test: bool) -> list[torch.Tensor]:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(dataset.tensors[0].shape[1], 16), nn.ReLU(), nn.Linear(16, 3))
        opt = _Lookahead(torch.optim.Adam(model.parameters(), lr=1e-2))
        _steps(model, opt, batches, 4)  # slow weights, counter and Adam moments with real values
        if with_test:
            slow, counter = opt.slow[0], opt.counter
            range_test(model, batches, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)
            assert opt.counter == counter and opt.slow[0] is slow  # put back into the same tensor
        return _steps(model, opt, batches[4:], 5)

    assert all(torch.equal(a, b) for a, b in zip(run(True), run(False), strict=True))


class _NoisySGD(torch.optim.SGD):
    """SGD with Langevin noise from its own generator (an ``rng`` of the ``kind`` given)."""

    def __init__(self, params: Any, kind: str) -> None:
        super().__init__(params, lr=1e-2)
        self.rng: Any = torch.Generator().manual_seed(0) if kind == "torch" else np.random.default_rng(0)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        super().step(closure)
        for p in (p for g in self.param_groups for p in g["params"]):
            if isinstance(self.rng, torch.Generator):
                p.add_(1e-3 * torch.randn(p.shape, generator=self.rng))
            else:
                p.add_(1e-3 * torch.from_numpy(self.rng.standard_normal(tuple(p.shape))).float())


class _NoiseLayer(nn.Module):
    """Adds noise from a generator the module keeps as an attribute (not a buffer)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = make_mlp()
        self.gen = torch.Generator().manual_seed(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x + 0.1 * torch.randn(x.shape, generator=self.gen))


@pytest.mark.parametrize("kind", ["torch", "numpy"])
def test_an_optimizers_and_a_modules_own_rngs_are_restored(kind: str, dataset: TensorDataset) -> None:
    """A generator kept as an attribute was neither restored nor named (it has no tensors to see): the noise of the
    steps after the test was the noise the test had not drawn."""
    batches = list(DataLoader(dataset, batch_size=32))

    def run(with_test: bool) -> list[torch.Tensor]:
        model = _NoiseLayer()
        opt = _NoisySGD(model.parameters(), kind)
        if with_test:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # nothing to warn about: it is restored
                range_test(model, batches, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10, max_lr=1e-2)
        return _steps(model, opt, batches, 3)

    assert all(torch.equal(a, b) for a, b in zip(run(True), run(False), strict=True))


def test_a_scheduler_still_warns_when_stepped_before_the_optimizer(mlp: nn.Module, loader: DataLoader) -> None:
    """The sweep left optimizer._opt_called set: "lr_scheduler.step() before optimizer.step()" went quiet."""
    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
    keys = set(vars(opt))
    range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)
    assert set(vars(opt)) == keys
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\)` before `optimizer.step\(\)"):
        scheduler.step()


@pytest.mark.parametrize("changer", ["scheduler", "assignment", "tensor"])
def test_an_lr_changed_inside_the_step_is_refused_not_recorded_as_swept(changer: str, loader: DataLoader) -> None:
    """A step_fn stepping a scheduler (or writing the groups' LR) overrode every swept LR: the curve recorded LRs
    that were never used, with a suggestion read off them, and no word."""
    model = make_mlp()
    lr = torch.tensor(0.1) if changer == "tensor" else 0.1
    cls = torch.optim.Adam if changer == "tensor" else torch.optim.SGD
    opt = cls(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        if changer == "assignment":
            opt.param_groups[0]["lr"] = 0.01
        else:
            scheduler.step()
        return F.cross_entropy(m(batch[0]), batch[1])

    params = [p.detach().clone() for p in model.parameters()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "lr_scheduler.step() before optimizer.step()"
        with pytest.raises(ModelError, match=r"LR of param group 0 of (SGD|Adam) was changed during step 0.*"
                           r"from the swept 1\.00e-07 to (5\.00e-08|1\.00e-02).*step your scheduler in your "
                           r"training loop.*not put back"):
            range_test(model, loader, optimizer=opt, step_fn=step_fn, num_steps=20)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), params, strict=True))
    assert float(opt.param_groups[0]["lr"]) == float(lr)
    # An LR the step leaves alone, a scheduler stepped outside the test: sweeps as before.
    result = range_test(model, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=20, max_lr=1.0)
    assert len(result.losses) == 20


def test_a_step_fn_that_steps_the_swept_optimizer_itself_is_refused(loader: DataLoader) -> None:
    """A step_fn running its own backward and optimizer.step() (then zero_grad) took two steps per swept LR without a
    word: the curve was not training's, and a suggestion was read off it."""
    model = make_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        F.cross_entropy(m(batch[0]), batch[1]).backward()
        opt.step()
        opt.zero_grad()
        return F.cross_entropy(m(batch[0]), batch[1])

    params = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ModelError, match=r"step_fn called SGD\.step\(\) on the optimizer the range test sweeps.*two "
                       r"steps.*leave backward\(\) and optimizer\.step\(\) to the range test"):
        range_test(model, loader, optimizer=opt, step_fn=step_fn, num_steps=20)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), params, strict=True))
    assert not opt.state and not opt._optimizer_step_pre_hooks  # restored, and the test's counting hook removed


def test_an_lr_written_back_unchanged_inside_the_step_is_not_refused(loader: DataLoader) -> None:
    """A step_fn that writes a float32 tensor LR back as a Python float (the same LR, at float32's precision) was
    refused, "from the swept 1.00e-07 to 1.00e-07": the float was held to a float64's precision."""
    model = make_mlp()
    opt = torch.optim.Adam(model.parameters(), lr=torch.tensor(0.1))

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        for group in opt.param_groups:
            group["lr"] = float(group["lr"])
        return F.cross_entropy(m(batch[0]), batch[1])

    result = range_test(model, loader, optimizer=opt, step_fn=step_fn, num_steps=20, max_lr=1.0)
    assert len(result.losses) == 20


def test_optimizer_state_that_cannot_be_restored_is_named(mlp: nn.Module, loader: DataLoader) -> None:
    class Slow:
        def __init__(self, params: Any) -> None:
            self.weights = [p.detach().clone() for p in params]

    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    opt.slow = Slow(mlp.parameters())  # type: ignore[attr-defined]
    with pytest.warns(UserWarning, match=r"cannot restore: SGD.slow \(a Slow\)\. Keep such state in optimizer.state"):
        range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)


# ------------------------------------------------------------------------------------ bad first batches


@pytest.mark.parametrize(
    ("batch", "match"),
    [
        # targets as floats for cross_entropy: "expected target dtype to be Long or Byte" from deep in torch
        # ("expected scalar type Long but found Float" before torch 2.12, seen on 2.11 with CUDA)
        (
            (torch.randn(16, 10), torch.randn(16)),
            r"RuntimeError: expected (target dtype|scalar type Long).*targets float32 \(16,\)",
        ),
        # one target short: torch's ValueError from F.cross_entropy
        ((torch.randn(16, 10), torch.randint(0, 3, (15,))), r"ValueError: Expected input batch_size.*int64 \(15,\)"),
        # inputs of the wrong width: "mat1 and mat2 shapes cannot be multiplied" from F.linear
        ((torch.randn(16, 5), torch.randint(0, 3, (16,))), r"mat1 and mat2.*inputs float32 \(16, 5\)"),
        # targets on a device nothing can be copied from
        ((torch.randn(16, 10), torch.zeros(16, dtype=torch.long, device="meta")), r"targets int64 \(16,\) on meta"),
    ],
    ids=["float-targets", "short-targets", "wide-inputs", "meta-targets"],
)
def test_a_first_batch_the_model_or_loss_fails_on_is_described(mlp: nn.Module, batch: Any, match: str) -> None:
    """These were torch's raw errors from inside F.linear / F.cross_entropy, with nothing about the batch."""
    before = [p.detach().clone() for p in mlp.parameters()]
    with pytest.raises(DataError, match=r"first batch does not go through the model and loss_fn") as caught:
        range_test(mlp, [batch], loss_fn=F.cross_entropy, num_steps=10)
    message = str(caught.value)
    assert re.search(match, message), message
    assert "model's parameters are float32 on cpu" in message and "class indices as int64" in message
    assert caught.value.__cause__ is not None  # torch's own error stays chained
    assert all(torch.equal(a, b) for a, b in zip(before, mlp.parameters(), strict=True))


def test_a_step_fn_passed_as_loss_fn_is_told_to_pass_it_as_step_fn(mlp: nn.Module) -> None:
    """A mixup or two-view SSL step function given as loss_fn failed inside on ``x, y = batch`` with "too many values
    to unpack", and the message said to check the inputs' shape and dtype and the targets' format."""

    def mixup_step(model: nn.Module, batch: Any) -> torch.Tensor:
        x, y = batch
        lam = 0.7
        perm = torch.randperm(x.shape[0])
        out = model(lam * x + (1 - lam) * x[perm])
        return lam * F.cross_entropy(out, y) + (1 - lam) * F.cross_entropy(out, y[perm])

    batches = [(torch.randn(16, 10), torch.randint(0, 3, (16,)))]
    before = [p.detach().clone() for p in mlp.parameters()]
    with pytest.raises(DataError) as caught:
        range_test(mlp, batches, loss_fn=mixup_step, num_steps=10)
    assert str(caught.value) == (
        "The first batch does not go through the model and loss_fn (ValueError: too many values to unpack (expected "
        "2)): loss_fn is mixup_step(model, batch), the form of a step_fn, which takes the model and the batch, but a "
        "loss_fn is called as loss_fn(model(inputs), targets). Pass it as step_fn=mixup_step."
    )
    assert all(torch.equal(a, b) for a, b in zip(before, mlp.parameters(), strict=True))
    # Passed as step_fn, it runs.
    assert len(range_test(mlp, batches, step_fn=mixup_step, num_steps=10).losses) == 10
    # A loss of another form that fails is described as before, with the batch.
    with pytest.raises(DataError, match=r"The batch: inputs float32 \(16, 10\)") as other:
        range_test(mlp, batches, loss_fn=lambda model_out, y: model_out[None].unbind(0)[0] @ y, num_steps=10)
    assert "step_fn=" not in str(other.value).split("or pass step_fn")[0]


@pytest.mark.parametrize("dtype", [torch.complex64, torch.int64])
def test_a_loss_that_is_not_real_floating_point_is_refused(mlp: nn.Module, dtype: torch.dtype) -> None:
    """A complex loss failed in backward ("grad can be implicitly created only for real scalar outputs")."""

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(out, y)
        return loss * (1 + 1j) if dtype.is_complex else loss.long()

    with pytest.raises(ModelError, match=rf"real floating-point tensor, but got dtype {dtype}"):
        range_test(mlp, [(torch.randn(16, 10), torch.randint(0, 3, (16,)))], loss_fn=loss_fn, num_steps=10)


def test_a_one_shot_iterator_warns_that_its_batches_are_used_up(mlp: nn.Module, loader: DataLoader) -> None:
    batches = (batch for _, batch in zip(range(100), iter(lambda: next(iter(loader)), None)))
    with pytest.warns(UserWarning, match=r"one-shot iterator \(generator\).*cannot put them back"):
        range_test(mlp, batches, loss_fn=F.cross_entropy, num_steps=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        range_test(mlp, list(loader), loss_fn=F.cross_entropy, num_steps=10)


class _Annealed(nn.Module):
    """A model whose forward reads and updates plain attributes: a Python step counter and a tensor (not a buffer)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(10, 3)
        self.calls = 0
        self.stats = [torch.zeros(3)]  # a running mean kept in a list attribute

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x) * (1.0 + 0.1 * min(self.calls, 10))
        if self.training:
            self.calls += 1
            self.stats[0].mul_(0.9).add_(0.1 * out.detach().mean(0))
        return out - self.stats[0]


def test_plain_module_attributes_a_forward_changes_are_restored(dataset: TensorDataset) -> None:
    """The counter and the running mean were left as the sweep made them: training then differed."""
    batches = list(DataLoader(dataset, batch_size=32))

    def run(with_test: bool) -> list[torch.Tensor]:
        torch.manual_seed(0)
        model = _Annealed()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        _steps(model, opt, batches, 2)
        if with_test:
            stats = model.stats[0]
            range_test(model, batches, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)
            assert model.calls == 2 and model.stats[0] is stats
        return [*_steps(model, opt, batches[2:], 4), model.stats[0].clone()]

    assert all(torch.equal(a, b) for a, b in zip(run(True), run(False), strict=True))


class _Tallied(nn.Module):
    """A model whose forward keeps plain values in its own list and dict: each batch's mean output, as floats."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(10, 3)
        self.means: list[float] = []
        self.tally: dict[str, list[float]] = {"max": []}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        self.means.append(out.detach().mean().item())
        self.tally["max"].append(float(out.detach().max()))
        return out


def test_a_models_lists_of_plain_values_are_restored(dataset: TensorDataset) -> None:
    """Lists and dicts of floats a forward appends to were left with the sweep's values (as an optimizer's log is)."""
    model = _Tallied()
    batches = list(DataLoader(dataset, batch_size=32))
    model(batches[0][0])
    means, tally, before = model.means, model.tally, (list(model.means), {"max": list(model.tally["max"])})
    range_test(model, batches, loss_fn=F.cross_entropy, num_steps=10)
    assert model.means is means and model.tally is tally and (model.means, model.tally) == before


class _Meter:
    """A plain helper object: a running sum and count of floats."""

    def __init__(self) -> None:
        self.total, self.count = 0.0, 0


class _Metered(_Tallied):
    """``_Tallied`` with its means in a helper object and a deque of the last three as well."""

    def __init__(self) -> None:
        super().__init__()
        self.meter = _Meter()
        self.meters = {"mean": _Meter()}  # in a dict, as classic training scripts keep one per metric
        self.last = collections.deque([0.0], maxlen=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        self.meter.total += self.means[-1]
        self.meter.count += 1
        self.meter.seen = True  # a field set in the forward: removed again
        self.meters["mean"].total += self.means[-1]
        self.last.append(self.means[-1])
        return out


def test_a_models_helper_object_and_deque_are_restored(dataset: TensorDataset) -> None:
    """A plain object's fields and a deque a forward updates were left as the sweep made them."""
    model = _Metered()
    batches = list(DataLoader(dataset, batch_size=32))
    meter, last, in_dict = model.meter, model.last, model.meters["mean"]
    range_test(model, batches, loss_fn=F.cross_entropy, num_steps=10)
    assert model.meter is meter and vars(meter) == {"total": 0.0, "count": 0}
    assert model.meters["mean"] is in_dict and vars(in_dict) == {"total": 0.0, "count": 0}
    assert model.last is last and list(last) == [0.0] and last.maxlen == 3


def test_a_dataset_or_a_large_helper_object_on_the_model_is_not_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    """A TensorDataset kept as ``self.train_set`` (a LightningModule's setup()) passed for a helper object.

    The snapshot copied its tensors whole, whatever their size and on their device (the data doubled in
    memory for the test); a helper object over ATTRIBUTE_COPY_LIMIT is left as it is, as a tensor attribute is.
    """
    from lrfinder.snapshot import StateSnapshot

    monkeypatch.setattr(sys.modules["lrfinder.snapshot"], "ATTRIBUTE_COPY_LIMIT", 4096)
    model = nn.Linear(4, 2)
    model.train_set = TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,)))  # type: ignore[assignment]
    model.big = _Meter()  # type: ignore[assignment]
    model.big.values = torch.zeros(2048)  # 8 KiB, over the limit
    model.meter = _Meter()  # type: ignore[assignment]
    snap = StateSnapshot(model, [torch.optim.SGD(model.parameters(), lr=0.1)], [], module_attributes=True)
    assert snap.nbytes() < 1024  # the parameters, not the 1.3 KiB of data nor the 8 KiB object
    model.meter.total = 5.0
    snap.restore()
    assert model.meter.total == 0.0  # a small helper object is still put back


def test_a_functional_model_over_outside_tensors_is_told_to_register_them(dataset: TensorDataset) -> None:
    """torch.func.functional_call over a dict of tensors kept outside the module: "no parameters at all" only."""
    base = nn.Linear(10, 3)
    params = {k: v.detach().clone().requires_grad_() for k, v in base.named_parameters()}

    class Functional(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(base, params, (x,))

    optimizer = torch.optim.SGD(list(params.values()), lr=0.1)
    with pytest.raises(ModelError, match=r"no parameters at all.*functional_call.*register them on it as nn.Parameter"):
        range_test(Functional(), DataLoader(dataset, batch_size=32), optimizer=optimizer, loss_fn=F.cross_entropy)


@pytest.mark.parametrize("loss_fn", [nn.MarginRankingLoss(), nn.CosineEmbeddingLoss(), nn.TripletMarginLoss()])
def test_a_pair_or_triplet_loss_over_three_item_batches_is_told_how_to_call_it(loss_fn: Any) -> None:
    """(x1, x2, y) with MarginRankingLoss got "expected (inputs, targets) pairs" and a generic step_fn only."""
    x1, x2 = torch.randn(64, 10), torch.randn(64, 10)
    y = torch.where(torch.rand(64) > 0.5, 1.0, -1.0)
    loader = DataLoader(TensorDataset(x1, x2, y), batch_size=16)
    pattern = r"loss_fn takes 3 arguments \(a pair or triplet loss.*loss_fn\(model\(batch\[0\]\), model\(batch\[1\]\)"
    with pytest.raises(DataError, match=pattern):
        range_test(make_mlp(), loader, loss_fn=loss_fn, num_steps=10)


def test_a_plain_three_argument_loss_function_is_told_to_go_in_step_fn() -> None:
    """def loss(a, b, y) was refused with "Expected loss_fn to take 2 positional arguments" alone."""

    def ranking(a: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.margin_ranking_loss(a.squeeze(-1), b.squeeze(-1), y)

    x1, x2 = torch.randn(64, 10), torch.randn(64, 10)
    loader = DataLoader(TensorDataset(x1, x2, torch.where(torch.rand(64) > 0.5, 1.0, -1.0)), batch_size=16)
    model = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 1))
    with pytest.raises(TypeError) as info:
        range_test(model, loader, loss_fn=ranking, num_steps=10)
    assert str(info.value).endswith(
        "A loss_fn of 3 or more arguments compares the model's outputs for several inputs (a pair or triplet loss), "
        "which loss_fn(model(x), y) cannot give it. Compute it in step_fn instead (loss_fn left out), "
        "step_fn=lambda model, batch: loss_fn(model(batch[0]), model(batch[1]), batch[2]) for (x1, x2, y) batches, "
        "loss_fn(*(model(x) for x in batch)) for (anchor, positive, negative) ones."
    )
    # As told, it runs.
    result = range_test(model, loader, step_fn=lambda m, b: ranking(m(b[0]), m(b[1]), b[2]), num_steps=10)
    assert result.num_steps == 10


def test_a_loss_function_taking_too_few_arguments_gets_no_pair_loss_hint() -> None:
    with pytest.raises(TypeError, match=r"signature is \(a\), which takes only 1\.$"):
        range_test(make_mlp(), [(torch.randn(8, 10), torch.randint(0, 3, (8,)))], loss_fn=lambda a: a.sum())


def test_three_item_batches_with_a_two_argument_loss_get_no_pair_loss_hint() -> None:
    data = TensorDataset(torch.randn(64, 10), torch.randn(64, 2), torch.randint(0, 3, (64,)))  # (x, x_extra, y)
    loader = DataLoader(data, batch_size=16)
    with pytest.raises(DataError, match=r"expected \(inputs, targets\) pairs") as info:
        range_test(make_mlp(), loader, loss_fn=F.cross_entropy, num_steps=10)
    assert "pair or triplet" not in str(info.value)


def test_an_unreadable_batch_is_described_by_its_items() -> None:
    """It read "Cannot use batches of type a list of length 3", naming none of the items."""
    data = TensorDataset(torch.randn(64, 10), torch.randn(64, 2), torch.randint(0, 3, (64,)))
    with pytest.raises(DataError) as info:
        range_test(make_mlp(), DataLoader(data, batch_size=16), loss_fn=F.cross_entropy, num_steps=10)
    assert str(info.value) == (
        "Cannot compute a loss from these batches: each is a list of 3 tensors (float32 (16, 10), float32 (16, 2), "
        "int64 (16,)), but expected (inputs, targets) pairs or dicts with input/target keys. For other formats, "
        "pass step_fn=lambda model, batch: <loss tensor> to range_test."
    )


def test_class_labels_counted_from_one_are_named_with_their_range() -> None:
    """cross_entropy's "Target 3 is out of bounds." named one label, not that the labels run 1..3 for 3 scores."""
    data = TensorDataset(torch.randn(64, 10), torch.randint(1, 4, (64,)))
    pattern = r"Target \d is out of bounds.*targets of this batch run from 1 to 3.*labels counted from 1 need y - 1"
    with pytest.raises(DataError, match=pattern):
        range_test(make_mlp(), DataLoader(data, batch_size=32), loss_fn=F.cross_entropy, num_steps=10)


@pytest.mark.parametrize(
    ("low", "high", "said"),
    [(0, 5, r"labels 0 \.\. 4 need an output of at least 5 scores"), (-1, 3, r"needs ignore_index=-1 in loss_fn")],
    ids=["too-few-scores", "padding"],
)
def test_class_labels_from_zero_or_padded_are_not_told_to_subtract_one(low: int, high: int, said: str) -> None:
    """Labels 0..4 against 3 scores (or a -1 padding label) were told 'labels counted from 1 need y - 1' first: the
    hint now follows the batch's lowest label."""
    data = TensorDataset(torch.randn(64, 10), torch.arange(64) % (high - low) + low)
    with pytest.raises(DataError, match=rf"run from {low} to {high - 1}.*{said}") as info:
        range_test(make_mlp(), DataLoader(data, batch_size=32), loss_fn=F.cross_entropy, num_steps=10)
    assert "y - 1" not in str(info.value)


def test_a_dataloader_worker_that_dies_is_named_with_what_to_do() -> None:
    """torch's bare "DataLoader worker (pid(s) 123) exited unexpectedly" (or a ConnectionResetError, when the worker
    died after queuing a batch) came out of the range test, and the dead worker's SIGCHLD handler raised again while
    the error was being reported (a second traceback under lrfind); fuzz round 9."""
    model = make_mlp()
    before = copy.deepcopy(model.state_dict())
    loader = DataLoader(WorkerCrashes(), batch_size=8, num_workers=1)
    pattern = (
        r"^A DataLoader worker process exited while batch 0 of the pass was drawn \(pid \d+: exit code 3; "
        r"RuntimeError: DataLoader worker .*\): the Dataset's code in the worker crashed or was killed .* Draw the "
        r"batches with num_workers=0 to see the error in this process\.$"
    )
    with pytest.raises(DataError, match=pattern):
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    # Its workers were shut down: torch's SIGCHLD handler, which runs this check, no longer raises for the dead one.
    torch._C._error_if_any_worker_fails()


@pytest.mark.parametrize("after", [0.0, 0.2], ids=["drawn", "during-loss"])
def test_a_val_data_worker_that_dies_is_named_with_what_to_do(loader: DataLoader, after: float) -> None:
    """curve="val": a worker of val_data's loader that died came out as torch's bare "DataLoader worker (pid(s) 123)
    exited unexpectedly", while a pass drew a batch or (torch's SIGCHLD handler) computed the batch before's loss."""
    model = make_mlp()
    before = copy.deepcopy(model.state_dict())
    val = DataLoader(WorkerCrashes(at=16, after=after), batch_size=8, num_workers=1, prefetch_factor=1)

    def slow_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        time.sleep(after * 2)
        return F.cross_entropy(out, target)

    with pytest.raises(DataError, match=r"^val_data: " + WORKER_DIED + r"$"):
        range_test(model, loader, val_data=val, curve="val", loss_fn=slow_loss, num_steps=10)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    torch._C._error_if_any_worker_fails()  # its workers were shut down


class _WorkerDiesAt(torch.utils.data.Dataset):
    """A Dataset whose DataLoader worker dies (os._exit, as a crash in native code) on example ``index``."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __len__(self) -> int:
        return 64

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if i == self.index and torch.utils.data.get_worker_info() is not None:
            os._exit(3)
        return torch.randn(10), torch.tensor(i % 3)


#: How long a step of the worker-death test waits for the worker to die: a signal ends the wait at once, and a worker
#: slow to start on a loaded machine (0.5 s was too short beside a second test suite) still dies within it.
_WORKER_DEATH_WAIT = 2.0


class _SlowSGD(torch.optim.SGD):
    """SGD whose step takes long enough for a worker's death to be signalled during it."""

    def step(self, closure: Any = None) -> Any:
        time.sleep(_WORKER_DEATH_WAIT)
        return super().step(closure)


@pytest.mark.parametrize(
    ("slow", "example"), [("loss", 8), ("loss", 16), ("optimizer-step", 16)], ids=["first-loss", "loss", "step"]
)
def test_a_dataloader_worker_that_dies_during_a_step_is_named_with_what_to_do(slow: str, example: int) -> None:
    """A worker that died while the test stepped on the batch before (torch's SIGCHLD handler raising in the
    loss_fn or the optimizer's step, not in the draw) came out as torch's bare "DataLoader worker (pid 123) exited
    unexpectedly", or, during the first batch's loss, as that batch not going through the model; fuzz round 20.
    With one worker and a prefetch of one, the worker draws batch k + 1 while the test steps on batch k."""
    model = make_mlp()
    before = copy.deepcopy(model.state_dict())
    optimizer = _SlowSGD(model.parameters(), lr=0.01) if slow == "optimizer-step" else None

    def slow_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        time.sleep(_WORKER_DEATH_WAIT)
        return F.cross_entropy(out, target)

    loader = DataLoader(_WorkerDiesAt(example), batch_size=8, num_workers=1, prefetch_factor=1)
    # Where the death is noticed depends on the machine's load: in the step (the worker drew batch k + 1 while the
    # test stepped on batch k, this case) or, with a worker slower than the wait, in the next draw (batch k + 1 named).
    pattern = (
        r"^A DataLoader worker process exited while (a batch|batch \d+ of the pass) was drawn \(pid \d+: exit code 3; "
        r"RuntimeError: "
        r"DataLoader worker .*\): the Dataset's code in the worker crashed or was killed .* Draw the batches with "
        r"num_workers=0 to see the error in this process\.$"
    )
    with pytest.raises(DataError, match=pattern):
        range_test(
            model, loader, optimizer=optimizer, loss_fn=slow_loss if slow == "loss" else F.cross_entropy, num_steps=10
        )
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    torch._C._error_if_any_worker_fails()  # its workers were shut down



@pytest.mark.parametrize("workers", [0, 2])
def test_a_datasets_example_that_fails_is_named_with_the_dataset_and_what_to_do(workers: int) -> None:
    """Python's bare "KeyError: 20" came out of the range test (from a DataLoader worker, the worker's whole
    traceback as text), naming neither the Dataset nor the example; the CLI named both (32a7242)."""
    model = make_mlp()
    before = copy.deepcopy(model.state_dict())
    loader = DataLoader(MissingRecords(64, missing={20}), batch_size=8, num_workers=workers)
    which = "example 20" if not workers else (
        r"an example in DataLoader worker process \d, which does not say which example"
    )
    pattern = (
        rf"^The Dataset MissingRecords in train_data failed on {which}: KeyError: 20\. Fix its __getitem__ for that "
        rf"example, or leave the example out{'; with num_workers=0 the error names the example' if workers else ''}\.$"
    )
    with pytest.raises(DataError, match=pattern) as info:
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    assert isinstance(info.value.__cause__, KeyError)  # the Dataset's own error, chained
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    # In a Subset, the Dataset that failed is named, with its own index.
    subset = torch.utils.data.Subset(MissingRecords(64, missing={20}), range(10, 40))
    with pytest.raises(DataError, match=r"^The Dataset MissingRecords in train_data failed on example 20: "):
        range_test(model, DataLoader(subset, batch_size=8), loss_fn=F.cross_entropy, num_steps=10)


def test_an_example_that_fails_in_a_worker_shuts_the_workers_down_with_the_error() -> None:
    """The DataError's traceback kept the loader's iterator, its worker processes alive: the garbage collector shut
    them down later, torch waiting 5 s on each (10 s of a later test's time)."""
    import multiprocessing

    before = set(multiprocessing.active_children())
    loader = DataLoader(MissingRecords(64, missing={20}), batch_size=8, num_workers=2)
    with pytest.raises(DataError, match="DataLoader worker process") as info:
        range_test(make_mlp(), loader, loss_fn=F.cross_entropy, num_steps=10)
    assert info.value.__cause__ is not None  # the traceback is kept, and with it the iterator
    assert set(multiprocessing.active_children()) <= before  # every worker has exited already


class _PlainWrapper:
    """A DataLoader's data that is no torch Dataset (``__getitem__`` and ``__len__`` alone), wrapping one."""

    def __init__(self, dataset: torch.utils.data.Dataset) -> None:
        self.records = dataset

    @property
    def dataset(self) -> torch.utils.data.Dataset:
        return self.records

    def __len__(self) -> int:
        return len(self.records)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> Any:
        return self.records[i]


def test_a_datasets_example_that_fails_in_a_worker_is_named_through_a_wrapper_that_is_no_dataset() -> None:
    """The Dataset inside a plain wrapper: found in this process (its frame), but from a worker the wrappers were
    searched only up to the first one that is no torch Dataset, and the worker's whole traceback came out bare."""
    model = make_mlp()
    loader = DataLoader(_PlainWrapper(MissingRecords(64, missing={20})), batch_size=8, num_workers=2)  # type: ignore[arg-type]
    pattern = r"^The Dataset MissingRecords in train_data failed on an example in DataLoader worker process \d, "
    with pytest.raises(DataError, match=pattern):
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)


class _RaisingDatasetProperty(MissingRecords):
    """A Dataset whose own ``.dataset`` property raises (its wrapped data not loaded in this process)."""

    @property
    def dataset(self) -> Any:
        raise RuntimeError("records are opened lazily in each worker")


class _LazyWrapper(_PlainWrapper):
    """A DataLoader's data that is no torch Dataset, whose ``.dataset`` property raises."""

    dataset = _RaisingDatasetProperty.dataset  # type: ignore[assignment]


def test_a_datasets_example_that_fails_in_a_worker_is_named_when_its_dataset_property_raises() -> None:
    """Searching the loader's ``.dataset`` chain for the Dataset a worker's error came from read the Dataset's own
    ``.dataset`` property, and what that raised ("records are opened lazily ...") came out instead of the
    example's KeyError. The chain ends there now, and the Dataset found is named."""
    model = make_mlp()
    loader = DataLoader(_RaisingDatasetProperty(64, missing={20}), batch_size=8, num_workers=2)
    pattern = (
        r"^The Dataset _RaisingDatasetProperty in train_data failed on an example in DataLoader worker process \d, "
        r"which does not say which example: KeyError: 20\."
    )
    with pytest.raises(DataError, match=pattern) as info:
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    assert "lazily" not in str(info.value)
    # Behind a wrapper that is no Dataset and whose .dataset raises, no Dataset is found: the worker's own error
    # comes out, not the property's RuntimeError.
    loader = DataLoader(_LazyWrapper(MissingRecords(64, missing={20})), batch_size=8, num_workers=2)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process"):
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)


class _ExplainedRecord(torch.utils.data.Dataset):
    """Example 12 fails with an error of two lines, its reason on the first."""

    def __len__(self) -> int:
        return 32

    def __getitem__(self, i: int) -> Any:
        if i == 12:
            raise ValueError("record 12 is truncated.\nIt was written by an older exporter")
        return torch.randn(10), i % 3


def test_a_datasets_example_that_fails_in_a_worker_is_named_inside_a_concat_dataset() -> None:
    """From a worker, the Dataset that failed was looked for along the ``.dataset`` chain only: inside a
    ConcatDataset the message named "The Dataset ConcatDataset", not the member whose ``__getitem__`` raised."""
    model = make_mlp()
    data = torch.utils.data.ConcatDataset([MissingRecords(32, missing=()), MissingRecords(64, missing={20})])
    pattern = r"^The Dataset MissingRecords in train_data failed on an example in DataLoader worker process \d, "
    with pytest.raises(DataError, match=pattern):
        range_test(model, DataLoader(data, batch_size=8, num_workers=2), loss_fn=F.cross_entropy, num_steps=10)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_datasets_error_of_several_lines_is_named_by_its_first(workers: int) -> None:
    """From a DataLoader worker the error was read from the last line of the quoted traceback: a message of two
    lines said "failed on an example ...: It was written by an older exporter", without the error or its reason."""
    which = r"an example in DataLoader worker process \d, which does not say which example" if workers else (
        "example 12"
    )
    loader = DataLoader(_ExplainedRecord(), batch_size=8, num_workers=workers)
    with pytest.raises(DataError, match=rf"failed on {which}: ValueError: record 12 is truncated\. Fix its "):
        range_test(make_mlp(), loader, loss_fn=F.cross_entropy, num_steps=10)


class _TooLong(torch.utils.data.Dataset):
    """Ten examples in a list, but a __len__ of 100."""

    def __init__(self) -> None:
        self.items = [(torch.randn(10), i % 3) for i in range(10)]

    def __len__(self) -> int:
        return 100

    def __getitem__(self, i: int) -> Any:
        return self.items[i]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_dataset_whose_len_says_more_than_it_holds_is_said_to_have_a_wrong_len(workers: int) -> None:
    """A Dataset whose __len__ says 100 and holds 10 failed on example 10 as if that one example were bad ("Fix its
    __getitem__ for that example, or leave the example out")."""
    model = make_mlp()
    fix = (
        r"Its __len__ says 100, and example 99, the last by that count, fails too: check __len__, which must count "
        r"only the examples __getitem__ can give, as the sampler asks for every index below it"
    )
    which = r"an example in DataLoader worker process \d, which does not say which example" if workers else (
        "example 10"
    )
    for dataset, error in ((_TooLong(), "IndexError: list index out of range"),
                           (MissingRecords(100, missing=range(10, 100)), "KeyError: 10")):  # fmt: skip
        loader = DataLoader(dataset, batch_size=8, num_workers=workers)
        with pytest.raises(DataError, match=rf"in train_data failed on {which}: {error}\. {fix}"):
            range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    # One example it cannot read, its last one fine: that example is named, not the length.
    with pytest.raises(DataError, match=r"failed on example 20: KeyError: 20\. Fix its __getitem__ for that example"):
        range_test(model, DataLoader(MissingRecords(100, missing={20}), batch_size=8), loss_fn=F.cross_entropy,
                   num_steps=10)  # fmt: skip


class _OddExample(torch.utils.data.Dataset):
    """Examples (x, label) of 10 features, but example 12: None (a record it cannot read) or 11 features."""

    def __init__(self, odd: str) -> None:
        self.odd = odd

    def __len__(self) -> int:
        return 64

    def __getitem__(self, i: int) -> Any:
        if i == 12 and self.odd == "none":
            return None
        return torch.randn(11 if i == 12 else 10), i % 3


@pytest.mark.parametrize(
    ("odd", "workers", "said"),
    [
        ("none", 0, r"TypeError: object of type 'NoneType' has no len\(\)\): an example is None \(a Dataset that "
                    r"returns None for a record it cannot read\)\. Drop such examples in the Dataset, or in a "
                    r"collate_fn: lambda items: default_collate\(\[i for i in items if i is not None\]\)\.$"),
        ("none", 1, r"TypeError: object of type 'NoneType' has no len\(\)\): an example is None"),
        ("shape", 0, r"RuntimeError: stack expects each tensor to be equal size, but got \[10\] at entry 0 and \[11\] "
                     r"at entry 4\): its examples have different shapes .* Pad them to one shape in a collate_fn"),
    ],
    ids=["none", "none-in-a-worker", "shape"],
)
def test_examples_the_default_collate_cannot_batch_are_named(odd: str, workers: int, said: str) -> None:
    """torch's default_collate failed with a bare "object of type 'NoneType' has no len()" or "stack expects each
    tensor to be equal size", naming neither the batch nor a fix (fuzz round 9)."""
    model = make_mlp()
    before = copy.deepcopy(model.state_dict())
    loader = DataLoader(_OddExample(odd), batch_size=8, num_workers=workers)
    head = "The DataLoader's default collate_fn could not put the examples of batch 1 of the pass into one batch"
    pattern = rf"^{head} \({said}"
    with pytest.raises(DataError, match=pattern):
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


class _Record:
    """An example as an object of the user's: default_collate batches no such class."""

    def __init__(self, i: int) -> None:
        self.x, self.label = torch.randn(10), i % 3


def test_examples_of_a_class_the_default_collate_does_not_batch_are_named_so() -> None:
    """Examples all alike, of a class of the user's, were said to "differ in type or structure"."""
    loader = DataLoader([_Record(i) for i in range(64)], batch_size=8)
    pattern = (
        r"^The DataLoader's default collate_fn could not put the examples of batch 0 of the pass into one batch "
        r"\(TypeError: default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found "
        r"<class '.*_Record'>\): its examples are of a type it does not batch\. Return tensors, numpy arrays, "
        r"numbers, or dicts, lists and tuples of them from the Dataset, or pass a collate_fn that batches your "
        r"examples\.$"
    )
    with pytest.raises(DataError, match=pattern):
        range_test(make_mlp(), loader, loss_fn=F.cross_entropy, num_steps=10)


def _rare_class_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of labels 0..2 for 3 scores; batch 3 holds a label 9 the output has no score for."""
    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(8, 10, generator=gen), torch.arange(8) % 3) for _ in range(6)]
    batches[3][1][5] = 9
    return batches


def test_a_later_batch_with_a_class_label_out_of_range_is_named() -> None:
    """A rare class met after the first batch (same shapes and dtypes) failed with torch's bare "Target 9 is out of
    bounds." from deep in cross_entropy (fuzz round 9); the model is put back."""
    model = make_mlp()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(DataError) as info:
        range_test(model, _rare_class_batches(), loss_fn=F.cross_entropy, num_steps=10)
    assert str(info.value) == (
        "Batch 3 of the pass does not go through the model and loss_fn (IndexError: Target 9 is out of bounds.), "
        "although the first batch did. The batch: inputs float32 (8, 10), targets int64 (8,); the model's parameters "
        "are float32 on cpu. The targets of this batch run from 0 to 9, and cross_entropy (and nll_loss) take class "
        "indices 0 .. C-1 for an output of C scores: labels up to 9 need an output of at least 10 scores (a larger "
        "output layer); labels counted from 1 need y - 1. Every batch's labels must fit the output: check the largest "
        "and smallest label of the whole data set, not of one batch."
    )
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_flat_binary_targets_against_a_one_column_output_are_told_to_match_shapes() -> None:
    """BCE's "Target size ([32]) must be the same as input size ([32, 1])" got the general advice only."""
    data = TensorDataset(torch.randn(64, 10), torch.randint(0, 2, (64,)).float())
    pattern = r"targets are \(32,\) and the output \(32, 1\): give the targets the output's shape, y.unsqueeze\(1\)"
    with pytest.raises(DataError, match=pattern):
        range_test(make_mlp(classes=1), DataLoader(data, batch_size=32), loss_fn=F.binary_cross_entropy_with_logits)


class _HookStats:
    """What a forward pre-hook and a full backward hook (bound methods) count: calls and output-gradient norms."""

    def __init__(self) -> None:
        self.calls = 0
        self.grad_norms: list[float] = []

    def forward_pre(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self.calls += 1

    def backward(self, module: nn.Module, grad_in: Any, grad_out: tuple[torch.Tensor, ...]) -> None:
        self.grad_norms.append(float(grad_out[0].norm()))


class _CallCounter:
    """A forward hook that is a callable object counting its calls."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
        self.n += 1


def _activation_recorder() -> tuple[dict[str, torch.Tensor], Any]:
    """The usual ``activations`` dict, filled by a forward hook made in a function (a closure over it)."""
    activations: dict[str, torch.Tensor] = {}

    def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
        activations["hidden"] = output.detach()

    return activations, hook


#: The module-level dict of the tutorials' ``get_activation(name)`` forward hooks.
_ACTIVATION: dict[str, torch.Tensor] = {}


def _get_activation(name: str) -> Any:
    def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
        _ACTIVATION[name] = output.detach()

    return hook


def _nonlocal_counter() -> tuple[Any, Any]:
    """A forward pre-hook counting its calls in a variable of the function that made it, and a reader of it."""
    calls = 0

    def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
        nonlocal calls
        calls += 1

    return hook, lambda: calls


def test_a_module_level_dict_a_hook_writes_keeps_what_other_code_wrote_during_the_test(dataset: TensorDataset) -> None:
    """Putting back the globals a hook's code names wiped what the user's own code put there during the test."""
    model = make_mlp()
    list(model.children())[-1].register_forward_hook(_get_activation("out"))
    x, y = dataset.tensors
    model(x[:8])
    _ACTIVATION.pop("lr", None)

    def on_step(index: int, lr: float, loss: float) -> None:
        _ACTIVATION["lr"] = torch.tensor(lr)

    data = DataLoader(dataset, batch_size=32)
    result = range_test(model, data, loss_fn=F.cross_entropy, num_steps=10, on_step=on_step)
    assert float(_ACTIVATION["lr"]) == pytest.approx(result.lrs[-1])


def _count_into(counts: dict[str, int], module: nn.Module, args: tuple[Any, ...]) -> None:
    counts["n"] += 1


def test_state_kept_by_module_hooks_is_restored(dataset: TensorDataset) -> None:
    """Forward hooks' counters and activations (in a bound method's object, a callable object, a closure's dict)
    were left as the sweep's forwards made them; logs of plain numbers stay as the test leaves them."""
    model = make_mlp()
    stats, counter, counts = _HookStats(), _CallCounter(), {"n": 0}
    activations, record = _activation_recorder()
    first, last = model[0], list(model.children())[-1]
    first.register_forward_pre_hook(stats.forward_pre)
    first.register_forward_pre_hook(functools.partial(_count_into, counts))
    last.register_full_backward_hook(stats.backward)
    last.register_forward_hook(counter)
    first.register_forward_hook(record)
    last.register_forward_hook(_get_activation("out"))
    count_calls, calls = _nonlocal_counter()
    first.register_forward_pre_hook(count_calls)
    x, y = dataset.tensors
    F.cross_entropy(model(x[:8]), y[:8]).backward()
    model.zero_grad(set_to_none=True)
    hidden, out = activations["hidden"].clone(), _ACTIVATION["out"].clone()
    range_test(model, DataLoader(dataset, batch_size=32), loss_fn=F.cross_entropy, num_steps=10)
    assert (stats.calls, counter.n, calls()) == (1, 1, 1)
    assert torch.equal(activations["hidden"], hidden)
    # A module-level dict the hook's code names is left as the test leaves it: other code writes it too.
    assert _ACTIVATION["out"].shape == (32, out.shape[1]) != out.shape  # the sweep's last batch of 32
    # Lists and dicts of plain numbers are logs, left as the test leaves them (a hook may watch the test).
    assert (len(stats.grad_norms), counts) == (11, {"n": 11})


def test_one_hook_on_many_modules_judges_what_it_names_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hook registered on 200 modules whose code named a global list of 2M numbers walked it 200 times at
    capture (130 s before the sweep): each object a hook holds is judged once, however many modules share it."""
    from lrfinder import snapshot

    judged: collections.Counter[int] = collections.Counter()
    judge = snapshot._hook_holder

    def counting(value: object) -> bool:
        judged[id(value)] += 1
        return judge(value)

    monkeypatch.setattr(snapshot, "_hook_holder", counting)
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(20)])
    activations, record = _activation_recorder()
    for layer in model:
        layer.register_forward_hook(record)
    assert [h is activations for h in snapshot._module_hook_state(model.modules())] == [True]
    assert set(judged.values()) == {1}


class _Observed(nn.Module):
    """An MLP whose input range is observed into buffers that start empty, (0,), and are resized in place at the
    first forward, as torch.ao.quantization's MinMaxObserver (min_val/max_val) and FakeQuantize (scale) keep it."""

    def __init__(self) -> None:
        super().__init__()
        self.net = make_mlp()
        self.register_buffer("min_val", torch.tensor([]))
        self.register_buffer("max_val", torch.tensor([]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            low, high = x.detach().amin(0), x.detach().amax(0)
            if self.min_val.numel() == 0:
                self.min_val.resize_(low.shape).copy_(low)
                self.max_val.resize_(high.shape).copy_(high)
            else:
                torch.minimum(self.min_val, low, out=self.min_val)
                torch.maximum(self.max_val, high, out=self.max_val)
        return self.net(x.clamp(self.min_val, self.max_val))


@pytest.mark.parametrize("observed_before", [False, True])
def test_buffers_resized_in_place_by_a_forward_are_restored(dataset: TensorDataset, observed_before: bool) -> None:
    """A QAT model's observers (min_val (0,) resized to (10,) at the first forward) failed the restore with "The size
    of tensor a (10) must match the size of tensor b (0)", left the sweep's ranges in place and raised that bare
    RuntimeError after a finished sweep."""
    batches = list(DataLoader(dataset, batch_size=32))

    def run(with_test: bool) -> list[torch.Tensor]:
        torch.manual_seed(0)
        model = _Observed()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        _steps(model, opt, batches, 2 if observed_before else 0)
        if with_test:
            before = [b.clone() for b in model.buffers()]
            range_test(model, batches, optimizer=opt, loss_fn=F.cross_entropy, num_steps=10)
            assert all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(before, model.buffers(), strict=True))
        return [*_steps(model, opt, batches[2:], 4), model.min_val.clone(), model.max_val.clone()]

    assert all(torch.equal(a, b) for a, b in zip(run(True), run(False), strict=True))


def test_an_unknown_rule_is_refused_before_the_sweep(mlp: nn.Module, loader: DataLoader) -> None:
    """analyze() refused it, but only after the whole sweep had run."""
    steps: list[int] = []
    with pytest.raises(ValueError, match=r"Expected rule to be one of divergence_div10.*rule='bogus'"):
        range_test(mlp, loader, loss_fn=F.cross_entropy, num_steps=10, rule="bogus",
                   on_step=lambda i, lr, loss: steps.append(i))  # fmt: skip
    assert steps == []


def test_a_short_last_batch_the_model_fails_on_is_named(dataset: TensorDataset) -> None:
    """A model made for batches of 32 failed on the pass's last batch of 16 with torch's raw error."""

    class FixedBatch(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(32 * 10, 32 * 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x.reshape(1, -1)).view(32, 3)

    loader = DataLoader(TensorDataset(*dataset[:80]), batch_size=32)  # 32, 32, 16
    with pytest.raises(DataError, match=r"Batch 2 of the pass does not go through.*inputs float32 \(16, 10\).*"
                       r"the first: inputs float32 \(32, 10\).*drop_last=True") as caught:  # fmt: skip
        range_test(FixedBatch(), loader, loss_fn=F.cross_entropy, num_steps=10)
    assert isinstance(caught.value.__cause__, RuntimeError)
    result = range_test(FixedBatch(), DataLoader(TensorDataset(*dataset[:80]), batch_size=32, drop_last=True),
                        loss_fn=F.cross_entropy, num_steps=10)  # fmt: skip
    assert result.num_steps == 10


def test_a_later_error_like_the_first_batch_stays_torchs(mlp: nn.Module, loader: DataLoader) -> None:
    """Only a batch unlike the first is explained; an error on a batch like it is the model's own."""
    calls = [0]

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        if calls[0] == 3:
            raise RuntimeError("the model's own failure")
        return F.cross_entropy(out, y)

    with pytest.raises(RuntimeError, match="the model's own failure"):
        range_test(mlp, loader, loss_fn=loss_fn, num_steps=10)


def test_sparse_adam_over_dense_gradients_is_refused_by_name() -> None:
    """torch's "SparseAdam does not support dense gradients" came from inside its step()."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4, sparse=True), nn.Flatten(), nn.Linear(8, 3))
    batches = [(torch.randint(0, 10, (16, 2)), torch.randint(0, 3, (16,)))]
    before = [p.detach().clone() for p in model.parameters()]
    everything = torch.optim.SparseAdam(list(model.parameters()), lr=1e-3)
    with pytest.raises(ModelError, match=r"SparseAdam steps sparse gradients only.*2 of its parameters got dense "
                       r"ones \(first: 2.weight\).*only the sparse embeddings' parameters"):  # fmt: skip
        range_test(model, batches, optimizer=everything, loss_fn=F.cross_entropy, num_steps=10)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    embeddings = torch.optim.SparseAdam(list(model[0].parameters()), lr=1e-3)
    result = range_test(model, batches, optimizer=embeddings, loss_fn=F.cross_entropy, num_steps=10)
    assert result.num_steps == 10 and embeddings.state == {}
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_sparse_gradients_to_a_dense_optimizer_say_where_they_come_from() -> None:
    """Adam's "does not support sparse gradients" was followed by advice on the parameters' device and dtype."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4, sparse=True), nn.Flatten(), nn.Linear(8, 3))
    batches = [(torch.randint(0, 10, (16, 2)), torch.randint(0, 3, (16,)))]
    with pytest.raises(ModelError, match=r"Adam.step\(\) failed on the range test's first step.*sparse gradients "
                       r"\(nn.Embedding\(sparse=True\).*sparse=False.*SparseAdam") as caught:  # fmt: skip
        range_test(model, batches, optimizer=torch.optim.Adam(model.parameters()), loss_fn=F.cross_entropy)
    assert "capturable" not in str(caught.value)


def test_a_forward_checkpointed_whole_with_reentrant_checkpoint_is_named() -> None:
    """use_reentrant=True over inputs without grad gives a loss that does not require grad, blamed on loss_fn alone."""
    from torch.utils.checkpoint import checkpoint

    class Checkpointed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = make_mlp()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return checkpoint(self.net, x, use_reentrant=True)

    batches = [(torch.randn(16, 10), torch.randint(0, 3, (16,)))]
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):  # torch's own
        with pytest.raises(ModelError, match=r"does not require grad.*use_reentrant=True.*pass use_reentrant=False"):
            range_test(Checkpointed(), batches, loss_fn=F.cross_entropy)


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_clipping_sparse_gradients_is_refused_by_name(algorithm: str) -> None:
    """torch cannot clip sparse gradients; its NotImplementedError was blamed on the optimizer's step."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4, sparse=True), nn.Flatten(), nn.Linear(8, 3))
    batches = [(torch.randint(0, 10, (16, 2)), torch.randint(0, 3, (16,)))]
    before = [p.detach().clone() for p in model.parameters()]
    embeddings = torch.optim.SparseAdam(list(model[0].parameters()), lr=1e-3)
    with pytest.raises(ModelError, match=rf"gradient_clip_val cannot clip sparse gradients.*clip_grad_{algorithm}_.*"
                       r"Drop gradient_clip_val, or make the embeddings dense"):  # fmt: skip
        range_test(model, batches, optimizer=embeddings, loss_fn=F.cross_entropy, num_steps=10,
                   gradient_clip_val=1.0, gradient_clip_algorithm=algorithm)  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_a_torchscript_failure_on_a_later_batch_names_its_cause() -> None:
    # The interpreter's error starts with its banner; the cause (here BatchNorm on one sample) is on its last
    # line, and the message showed only the banner.
    torch.manual_seed(0)
    model = torch.jit.script(nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3)))
    x = torch.randn(33, 10, generator=torch.Generator().manual_seed(0))
    loader = DataLoader(TensorDataset(x, x[:, :3].argmax(1)), batch_size=32)
    with pytest.raises(DataError, match=r"Batch 1 of the pass .*Expected more than 1 value per channel"):
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)


def _scaled_result_dict() -> dict[str, Any]:
    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    curve = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0)
    from lrfinder.range_test import finish_result

    result = finish_result(lrs, curve, "completed", batch_size=32, optimizer_name="SGD")
    return result.scale(64, rule="linear").to_dict()


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda d: d["scaled"].update(lr="abc"), r"scaled\.lr to be a finite number > 0.*'abc'"),
        (lambda d: d["scaled"].update(lr=-1.0), r"scaled\.lr to be a finite number > 0"),
        (lambda d: d["scaled"].update(to_batch_size=10.5), r"scaled\.to_batch_size to be an integer >= 1"),
        (lambda d: d["scaled"].update(rule="auto"), r"scaled\.rule to be one of"),
        (lambda d: d["scaled"].update(capped="yes"), r"scaled\.capped to be true or false"),
        (lambda d: d["suggestion"].update(confidence=5), r"suggestion\.confidence in \[0, 1\]"),
        (lambda d: d["suggestion"].update(max_lr=-0.1), r"suggestion\.max_lr to be a finite LR > 0"),
        (lambda d: d["suggestion"].update(notes="abc"), "notes to be a list of strings"),
        (lambda d: d["suggestion"].update(smoothed_losses=[1.0] * 5), "smoothed_losses has 5 values for 141 losses"),
    ],
)
def test_json_scaling_and_suggestion_fields_are_checked(edit: Any, pattern: str) -> None:
    # These were read as they came: `lrfind report` then failed with "Unknown format code 'e' for object of
    # type 'str'", "math domain error" or a matplotlib shape error; notes="abc" became the notes a, b, c.
    data = _scaled_result_dict()
    assert RangeTestResult.from_dict(data).to_dict() == data
    edit(data)
    with pytest.raises(ValueError, match="Malformed range-test result.*" + pattern):
        RangeTestResult.from_dict(data)


def test_a_hand_edited_suggestion_is_refused_or_warned_at_load_naming_the_field_and_file(tmp_path: Path) -> None:
    # An inverted band (min_lr > max_lr) was read without a word and refused only by create_scheduler, naming
    # neither the file nor its field; an LR past the divergence LR was read and trained at silently.
    data = _scaled_result_dict()
    s = data["suggestion"]
    assert s["min_lr"] < s["max_lr"] <= s["divergence_lr"] and s["lr"] <= s["divergence_lr"]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a result as the test wrote it reads back without a word
        assert RangeTestResult.from_json(path).to_dict() == data

    inverted = copy.deepcopy(data)
    inverted["suggestion"]["min_lr"] = s["max_lr"] * 3
    path.write_text(json.dumps(inverted))
    band = rf"suggestion\.min_lr={s['max_lr'] * 3:.2e} is above suggestion\.max_lr={s['max_lr']:.2e}, an inverted"
    with pytest.raises(ValueError, match=rf"^'{re.escape(str(path))}': Malformed range-test result: {band}"):
        RangeTestResult.from_json(path)
    with pytest.raises(ValueError, match=rf"^Malformed range-test result: {band}"):
        RangeTestResult.from_dict(inverted)
    # Refused at load before (not finite, not > 0), now with the file's name.
    for key, value in (("min_lr", -0.01), ("lr", 0.0), ("max_lr", "nan")):
        edited = copy.deepcopy(data)
        edited["suggestion"][key] = value
        path.write_text(json.dumps(edited))
        with pytest.raises(ValueError, match=rf"^'{re.escape(str(path))}': .*suggestion\.{key} to be a finite LR > 0"):
            RangeTestResult.from_json(path)

    past = copy.deepcopy(data)
    past["suggestion"]["lr"] = s["divergence_lr"] * 4
    path.write_text(json.dumps(past))
    with pytest.warns(UserWarning) as record:
        loaded = RangeTestResult.from_json(path)
    (message,) = [str(w.message) for w in record]
    assert message.startswith(
        f"'{path}': The result's suggestion.lr={s['divergence_lr'] * 4:.2e} is past its own "
        f"divergence_lr={s['divergence_lr']:.2e}"
    )
    assert record[0].filename == __file__  # said at the caller's line
    assert loaded.suggestion is not None and loaded.suggestion.lr == s["divergence_lr"] * 4  # read as written
    past["suggestion"]["max_lr"] = s["divergence_lr"] * 2
    with pytest.warns(UserWarning, match=r"suggestion\.lr=.* and suggestion\.max_lr=.* are past its own"):
        RangeTestResult.from_dict(past)


def test_an_interrupted_curve_says_it_was_interrupted() -> None:
    # Ctrl-C after 5 steps: the error advised "Lower min_lr or max_lr, or increase num_steps, so the test
    # records more points before the loss blows up"; the loss never blew up, the user stopped the test.
    from lrfinder.range_test import finish_result

    lrs = lr_schedule(1e-6, 10.0, 100)[:5]
    result = finish_result(lrs, [2.3, 2.3, 2.29, 2.3, 2.31], "interrupted")
    assert result.suggestion is None and result.error is not None
    assert result.error.startswith(f"The test was interrupted after 5 steps, at lr={lrs[-1]:.2e}, before the end")
    assert "run it to the end" in result.error
    assert finish_result(lrs, [2.3, 2.3, 2.29, 2.3, 2.31], "completed").error.startswith("Only 5 finite")  # type: ignore[union-attr]


def test_a_plateau_warmup_on_the_optimizer_is_left_as_it_was(mlp: nn.Module, loader: DataLoader) -> None:
    # PlateauWithWarmup warms up on the optimizer's steps: the test's 20 steps used up its 10-step warm-up,
    # and the LR stayed at the warm-up's start (0) for the whole training after it.
    from lrfinder import create_scheduler

    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    sched = create_scheduler("plateau", opt, warmup_steps=10)
    range_test(mlp, loader, loss_fn=F.cross_entropy, optimizer=opt, num_steps=20)
    assert sched.warmup_calls == 0 and opt.param_groups[0]["lr"] == 0.0
    lrs = []
    for _ in range(11):
        opt.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([0.01 * t for t in range(1, 11)] + [0.1])


def test_a_tensor_lr_is_swept_and_restored_in_place(mlp: nn.Module, loader: DataLoader) -> None:
    # torch 2 takes a tensor LR (for a compiled or CUDA-graph-captured step, which reads that tensor): the
    # sweep replaced it with floats and the restore with a copy, so the tensor the caller held no longer
    # steered the optimizer.
    opt = torch.optim.Adam(mlp.parameters(), lr=torch.tensor(1e-3))
    held = opt.param_groups[0]["lr"]
    seen: list[tuple[bool, float]] = []

    def on_step(index: int, lr: float, loss: float) -> None:
        group_lr = opt.param_groups[0]["lr"]
        seen.append((group_lr is held, float(held)))

    result = range_test(mlp, loader, loss_fn=F.cross_entropy, optimizer=opt, num_steps=20, on_step=on_step)
    assert opt.param_groups[0]["lr"] is held and float(held) == pytest.approx(1e-3)
    assert all(same for same, _ in seen)
    assert [lr for _, lr in seen] == pytest.approx(result.lrs[: len(seen)])


def test_a_step_hook_whose_effects_restore_cannot_reach_is_warned_about(mlp: nn.Module, loader: DataLoader) -> None:
    # An EMA of the weights updated by an optimizer step hook averaged in every step of the test, at every
    # swept LR; it lives outside the model and the optimizer, so it stayed changed without a word.
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    from lrfinder import create_scheduler

    ema = AveragedModel(mlp, multi_avg_fn=get_ema_multi_avg_fn(0.99))
    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    create_scheduler("plateau", opt, warmup_steps=10)  # lrfinder's own hook: put back, not named
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        range_test(mlp, loader, loss_fn=F.cross_entropy, optimizer=opt, num_steps=20)
    assert not [w for w in caught if "step hooks" in str(w.message)]

    def update_ema(*_: Any) -> None:
        ema.update_parameters(mlp)

    handle = opt.register_step_post_hook(update_ema)
    with pytest.warns(UserWarning, match=r"The optimizer has step hooks \(.*update_ema\): .*an EMA or SWA copy of the "
                      r"weights.*is not put back\. Remove them for the test"):  # fmt: skip
        range_test(mlp, loader, loss_fn=F.cross_entropy, optimizer=opt, num_steps=20)
    handle.remove()


@pytest.mark.parametrize(
    ("available", "count", "device", "message"),
    [
        (False, 0, "cuda", "Cannot use device='cuda': CUDA is not available on this machine"),
        (True, 1, "cuda:1", r"Cannot use device='cuda:1': this machine has 1 CUDA device \(cuda:0\)"),
        (True, 2, torch.device("cuda", 5), r"has 2 CUDA devices \(cuda:0 to cuda:1\)"),
    ],
)
def test_a_device_the_machine_lacks_is_refused_by_name(
    mlp: nn.Module, loader: DataLoader, monkeypatch: pytest.MonkeyPatch, available: bool, count: int,
    device: Any, message: str,
) -> None:
    """``device='cuda:1'`` on a one-GPU machine reached torch as 'CUDA error: invalid device ordinal'."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    before = {k: v.clone() for k, v in mlp.state_dict().items()}
    with pytest.raises(ValueError, match=message):
        range_test(mlp, loader, loss_fn=F.cross_entropy, num_steps=10, device=device)
    assert all(torch.equal(before[k], v) for k, v in mlp.state_dict().items())


def test_an_int_device_is_the_gpu_of_that_index_as_torch_reads_it(
    mlp: nn.Module, loader: DataLoader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``device=0`` (torch's ``cuda:0``) was refused as not a torch device; without a GPU torch's own error for it
    was "Cannot access accelerator device when none is available"."""
    from lrfinder.settings import check_device

    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda check_available=False: None)
    before = {k: v.clone() for k, v in mlp.state_dict().items()}
    with pytest.raises(ValueError, match=r"Cannot use device=0: torch reads an int as the index of a GPU \(cuda:0\), "
                       r"and this machine has none \(CUDA is not available\)\. Pick a device it has, e\.g\. "
                       r"device='cpu'"):  # fmt: skip
        range_test(mlp, loader, loss_fn=F.cross_entropy, num_steps=10, device=0)
    assert all(torch.equal(before[k], v) for k, v in mlp.state_dict().items())
    with pytest.raises(ValueError, match=r"a GPU index \(0 for cuda:0\), but got device=-1"):
        check_device("device", -1)
    with pytest.raises(ValueError, match=r"but got device=True"):
        check_device("device", True)

    # On a machine with two GPUs: an int (numpy's too) is that GPU, one past them is refused by name.
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda check_available=False: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert check_device("device", 0) == torch.device("cuda", 0)
    assert check_device("device", np.int64(1)) == torch.device("cuda", 1)
    with pytest.raises(ValueError, match=r"Cannot use device='cuda:2': this machine has 2 CUDA devices"):
        range_test(mlp, loader, loss_fn=F.cross_entropy, num_steps=10, device=2)


# ------------------------------------------------------------------- bad arguments to the engine pieces


@pytest.mark.parametrize(
    ("stop_factor", "error", "pattern"),
    [
        (0.5, ValueError, r"stop_factor > 1.*stop_factor=0.5"),  # stopped at the second step
        (-1, ValueError, r"stop_factor > 1"),
        (math.nan, ValueError, r"stop_factor > 1.*nan"),  # never stopped
        ("4", TypeError, r"stop_factor to be a number or None.*'4'"),  # failed at the first update
        (True, TypeError, r"stop_factor to be a number"),
    ],
)
def test_divergence_monitor_refuses_a_bad_stop_factor(stop_factor: Any, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        DivergenceMonitor(stop_factor)


def test_divergence_monitor_takes_numpy_numbers_and_refuses_a_text_beta() -> None:
    mon = DivergenceMonitor(np.float32(4.0), beta=np.float64(0.9))
    fired = [mon.update(v) for v in [1.0, 0.9, 0.8, 0.75, 0.7, 0.7, 5.0, 50.0]]
    assert type(mon.stop_factor) is float and fired[-1] and not any(fired[:6])
    with pytest.raises(TypeError, match=r"beta to be a number.*'0.9'"):  # was "'<' not supported between ..."
        DivergenceMonitor(4.0, beta="0.9")


def test_a_single_number_where_a_sequence_is_expected_is_named(mlp: nn.Module) -> None:
    """A 0-d tensor is iterable by its type: it failed with torch's "iteration over a 0-d tensor"."""
    from lrfinder import LRSweeper, RangeTestResult, StateSnapshot

    zero_d = torch.tensor(1.0)
    with pytest.raises(TypeError, match=r"^Expected optimizers to be a sequence of torch optimizers, but got "
                       r"optimizers=tensor\(1\.\), a single number$"):  # fmt: skip
        LRSweeper(zero_d)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^Expected optimizers to be a sequence of optimizers, .*, a single number$"):
        StateSnapshot(mlp, zero_d)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^Expected data to be a list of data loaders .*, a single number$"):
        StateSnapshot(mlp, (), zero_d)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^Expected lrs to be a sequence of numbers, but got lrs=tensor\(1\.\), a "
                       r"single number$"):  # fmt: skip
        RangeTestResult(lrs=zero_d, losses=(1.0,), stop_reason="completed")  # type: ignore[arg-type]


def test_lr_sweeper_refuses_what_is_not_a_list_of_optimizers(mlp: nn.Module) -> None:
    from lrfinder import LRSweeper

    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    # Was "'SGD' object is not iterable".
    with pytest.raises(TypeError, match=r"pass it in a list, LRSweeper\(\[optimizer\]\)"):
        LRSweeper(opt)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"optimizers\[0\] is Sequential"):  # was an AttributeError from torch
        LRSweeper([mlp])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"optimizers\[0\] is the class SGD"):
        LRSweeper([torch.optim.SGD])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least one optimizer"):  # swept nothing, silently
        LRSweeper([])
    sweeper = LRSweeper((opt,))
    sweeper.set(0.5)
    assert opt.param_groups[0]["lr"] == 0.5


def test_a_lightning_optimizer_is_swept_through_the_optimizer_it_wraps(loader: DataLoader) -> None:
    """self.optimizers() of a LightningModule, passed outside a fit: its step needs the Trainer's strategy, and the
    test's first step failed with a bare AssertionError, said as "check the optimizer's settings"."""
    from _models import pl

    model = make_mlp()
    raw = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    wrapped = pl.core.optimizer.LightningOptimizer(raw)
    assert isinstance(wrapped, torch.optim.SGD)
    before = snapshot_of(model, raw)
    result = range_test(model, loader, optimizer=wrapped, loss_fn=F.cross_entropy, num_steps=20, max_lr=1.0)
    assert result.num_steps >= 10 and result.optimizer_name == "SGD"
    assert_same_state(before, snapshot_of(model, raw))
    assert wrapped.param_groups[0]["lr"] == 0.1 and wrapped.param_groups is raw.param_groups


def test_lr_sweeper_set_refuses_an_lr_torch_would_step_with_silently(mlp: nn.Module) -> None:
    from lrfinder import LRSweeper

    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    sweeper = LRSweeper([opt])
    for bad in (math.nan, -1.0, math.inf):  # were set, and SGD stepped with them
        with pytest.raises(ValueError, match="lr to be finite and >= 0"):
            sweeper.set(bad)
    with pytest.raises(TypeError, match="lr to be a number, but got lr='0.1'"):  # was "can't multiply sequence"
        sweeper.set("0.1")  # type: ignore[arg-type]
    sweeper.set(torch.tensor(0.25))  # type: ignore[arg-type]
    sweeper.set(np.float32(0.5))
    assert opt.param_groups[0]["lr"] == 0.5 and type(opt.param_groups[0]["lr"]) is float


def test_an_lr_past_the_parameters_dtype_is_refused_by_name_not_deep_in_torch(loader: DataLoader) -> None:
    """A sweep that reached an LR above float32's largest number (a linear sweep to 1e300, or an exponential one
    to 1e39 on a loss that never blew up) failed inside SGD's step: "value cannot be converted to type float
    without overflow", naming neither the LR nor max_lr."""
    from lrfinder import LRSweeper

    refused = r"Expected an LR the parameters' dtype can hold, but got lr=1\.00e\+39 for param group 0 of SGD, whose"
    model = make_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    bounded = lambda m, b: torch.tanh(m(b[0])).mean()  # noqa: E731  # never blows up: the sweep reaches max_lr
    with pytest.raises(ValueError, match=refused + r" float32 parameters .* more than 3\.40e\+38.*Lower max_lr"):
        range_test(model, loader, step_fn=bounded, min_lr=1e-3, max_lr=1e39, num_steps=20)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    with pytest.raises(ValueError, match=r"lr=5\.26e\+306 for param group 0 of SGD, whose float32"):
        # The linear sweep's warning counted the decades of a ratio that overflowed: "(inf decades)".
        with pytest.warns(UserWarning, match=r"to max_lr 1\.00e\+308 \(311 decades\)"):
            range_test(model, loader, loss_fn=F.cross_entropy, min_lr=1e-3, max_lr=1e308, num_steps=20, mode="linear")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    # Each group by its own dtype and its share of the LR: a float16 group at a tenth of the swept LR.
    wide, half = nn.Linear(2, 2), nn.Linear(2, 2).half()
    opt = torch.optim.SGD([{"params": wide.parameters(), "lr": 1.0}, {"params": half.parameters(), "lr": 0.1}])
    sweeper = LRSweeper([opt])
    sweeper.set(6e5)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([6e5, 6e4])
    with pytest.raises(ValueError, match=r"lr=7\.00e\+04 for param group 1 of SGD, whose float16 .* 6\.55e\+04"):
        sweeper.set(7e5)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([6e5, 6e4])  # neither group was set


def test_run_sweep_checks_its_arguments(mlp: nn.Module) -> None:
    from lrfinder import LRSweeper, run_sweep

    def step(lr: float) -> float:
        return 1.0

    with pytest.raises(TypeError, match="sweeper to be an lrfinder.LRSweeper.*got SGD"):  # was AttributeError 'set'
        run_sweep(step, [1e-3, 1e-2], sweeper=torch.optim.SGD(mlp.parameters(), lr=0.1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one LR"):  # returned ([], [], "completed")
        run_sweep(step, [])
    with pytest.raises(ValueError, match=r"finite and > 0.*lrs\[1\]=nan"):
        run_sweep(step, [1e-3, math.nan])
    with pytest.raises(TypeError, match=r"lrs to hold numbers.*lrs\[0\]='0.1'"):
        run_sweep(step, ["0.1"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="1-D sequence of learning rates"):  # was "iteration over a 0-d tensor"
        run_sweep(step, torch.tensor(0.1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="step to be callable"):
        run_sweep(0.1, [1e-3])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stop_factor > 1"):
        run_sweep(step, [1e-3, 1e-2], stop_factor=0)
    opt = torch.optim.SGD(mlp.parameters(), lr=0.1)
    lrs, losses, reason = run_sweep(step, torch.tensor([1e-3, 1e-2]), sweeper=LRSweeper([opt]))
    assert lrs == pytest.approx([1e-3, 1e-2]) and losses == [1.0, 1.0] and reason == "completed"


@pytest.mark.parametrize(
    ("settings", "error", "pattern"),
    [
        ({"min_lr": "1e-5"}, TypeError, r"min_lr to be a number.*'1e-5'"),
        ({"min_lr": 0.0}, ValueError, r"min_lr > 0"),
        ({"max_lr": 1e-8}, ValueError, r"max_lr > min_lr"),
        ({"num_steps": 1}, ValueError, r"num_steps >= 2"),
        ({"num_steps": 10.5}, TypeError, r"num_steps to be an int"),
        ({"mode": "lin"}, ValueError, r"mode to be 'exp' or 'linear'.*'lin'"),
        ({"stop_factor": 1.0}, ValueError, r"stop_factor > 1"),
        ({"accumulate_steps": 0}, ValueError, r"accumulate_steps to be an int >= 1"),
        ({"precision": 32}, TypeError, r"precision to be a precision name"),
        ({"gradient_clip_val": -1.0}, ValueError, r"gradient_clip_val > 0"),
        # The norm's order (l2, as torch's clip_grad_norm_'s norm_type=2) was told only the two names.
        ({"gradient_clip_algorithm": "L2"}, ValueError,
         r"gradient_clip_algorithm to be 'norm' or 'value'.*'L2'\. Did you mean 'norm'\?$"),
    ],
)
def test_range_test_settings_check_their_values(settings: dict[str, Any], error: type, pattern: str) -> None:
    from lrfinder import RangeTestSettings

    with pytest.raises(error, match=pattern):
        RangeTestSettings(**settings)


def test_a_result_of_text_or_bool_values_is_refused() -> None:
    """float() read lrs=("1e-3", "1e-2") and losses=(True, False) as a curve."""
    with pytest.raises(TypeError, match=r"Expected lrs to hold numbers, but got lrs\[1\]='1e-2', text"):
        RangeTestResult(lrs=(1e-3, "1e-2"), losses=(1.0, 0.5), stop_reason="completed")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Expected losses to hold numbers, but got losses\[0\]=True, a bool"):
        RangeTestResult(lrs=(1e-3, 1e-2), losses=(True, False), stop_reason="completed")  # type: ignore[arg-type]


def test_range_test_settings_and_result_store_numpy_numbers_as_python_ones() -> None:
    from lrfinder import RangeTestSettings

    settings = RangeTestSettings(min_lr=np.float32(1e-5), max_lr=np.float64(1.0), num_steps=np.int64(20))
    assert (type(settings.min_lr), type(settings.num_steps)) == (float, int)
    result = RangeTestResult(
        lrs=np.array([1e-3, 1e-2], dtype=np.float32), losses=[torch.tensor(1.0), 0.5], stop_reason="completed",
        settings=settings,
    )  # fmt: skip
    assert type(result.lrs) is tuple and all(type(v) is float for v in (*result.lrs, *result.losses))
    assert RangeTestResult.from_json(result.to_json()) == result  # to_json failed on np.float32


@pytest.mark.parametrize(
    ("fields", "error", "pattern"),
    [
        ({"losses": (1.0,)}, ValueError, r"same length.*2 lrs and 1 losses"),
        ({"stop_reason": "diverge"}, ValueError, r"stop_reason to be one of .*'diverge'"),
        ({"lrs": "abc"}, TypeError, r"lrs to be a sequence of numbers"),
        ({"losses": ["x", 1.0]}, TypeError, r"losses to hold numbers, but got losses\[0\]='x', text"),
        ({"settings": {"min_lr": 1e-5}}, TypeError, r"settings to be a lrfinder.RangeTestSettings"),
    ],
)
def test_range_test_result_checks_its_curve(fields: dict[str, Any], error: type, pattern: str) -> None:
    base: dict[str, Any] = {"lrs": (1e-3, 1e-2), "losses": (1.0, 0.5), "stop_reason": "completed"}
    with pytest.raises(error, match=pattern):
        RangeTestResult(**{**base, **fields})


def test_from_json_reads_bytes_and_names_a_source_it_cannot_read(tmp_path: Any) -> None:
    result = RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 0.5), stop_reason="completed")
    path = tmp_path / "r.json"
    result.to_json(path)
    assert RangeTestResult.from_json(path.read_bytes()) == result  # was "argument should be a str ..., not bytes"
    with pytest.raises(ValueError, match="Not a range-test result: expected a JSON object"):
        RangeTestResult.from_json("[1, 2]")  # was read as a path: "No such file or directory: '[1, 2]'"
    with pytest.raises(ValueError, match="JSON file path or JSON text, but got an empty string"):
        RangeTestResult.from_json("")  # was "IsADirectoryError: ... '.'"
    with pytest.raises(TypeError, match="source to be a JSON file path or JSON text, but got dict"):
        RangeTestResult.from_json(result.to_dict())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="data to be a mapping"):
        RangeTestResult.from_dict(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("returned", "pattern"),
    [
        (None, r"step\(lr\)'s return value to be the loss as a number.*got NoneType"),  # float()'s NoneType error
        (torch.ones(4), r"got Tensor of shape \(4,\).*reduce a per-example loss with .mean\(\)"),  # "only one element"
        ("1.0", r"got str"),  # was read as 1.0
    ],
)
def test_run_sweep_names_a_step_that_returns_no_loss(returned: Any, pattern: str) -> None:
    from lrfinder import run_sweep

    with pytest.raises(TypeError, match=pattern):
        run_sweep(lambda lr: returned, [1e-3, 1e-2])


def test_run_sweep_and_the_monitor_read_a_one_element_tensor_or_numpy_loss() -> None:
    from lrfinder import run_sweep

    losses = iter([torch.tensor([1.0], requires_grad=True), np.float32(0.5)])
    lrs, recorded, reason = run_sweep(lambda lr: next(losses), [1e-3, 1e-2])
    assert recorded == [1.0, 0.5] and all(type(v) is float for v in recorded) and reason == "completed"
    assert DivergenceMonitor().update(torch.tensor(1.0)) is False  # returned a tensor(False)
    with pytest.raises(TypeError, match="loss to be the loss as a number"):
        DivergenceMonitor().update("1.0")  # type: ignore[arg-type]


class _ModeRecorder(nn.Module):
    """An MLP with BatchNorm and dropout that records their modes at every training forward."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(10, 32)
        self.bn = nn.BatchNorm1d(32)
        self.drop = nn.Dropout(0.1)
        self.out = nn.Linear(32, 3)
        self.seen: set[tuple[bool, bool, bool]] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            self.seen.add((self.training, self.bn.training, self.drop.training))
        return self.out(self.drop(self.bn(self.fc(x)).relu()))


def test_a_frozen_batchnorm_stays_frozen_and_an_eval_model_trains(loader: DataLoader) -> None:
    """model.train() unfroze a BatchNorm a fine-tuner had put in eval mode: the curve was not its training's."""
    refine = Refine(training_steps=100, budget=0.3, candidates=2, extend=0, val_batches=2, max_resweeps=0)
    model = _ModeRecorder()
    model.train()
    model.bn.eval()  # frozen statistics, as for fine-tuning
    stats = model.bn.running_mean.clone()
    result = range_test(model, loader, loss_fn=F.cross_entropy, num_steps=30, min_lr=1e-4, max_lr=10.0, refine=refine)
    assert result.refinement is not None and result.refinement.trials  # the trials trained too
    assert model.seen == {(True, False, True)}  # sweep and trials: BatchNorm frozen, dropout on
    assert torch.equal(model.bn.running_mean, stats)
    assert (model.training, model.bn.training, model.drop.training) == (True, False, True)
    # A model left in eval mode (after an evaluation) trains in train mode, and is put back in eval mode.
    model = _ModeRecorder().eval()
    range_test(model, loader, loss_fn=F.cross_entropy, num_steps=30, min_lr=1e-4, max_lr=10.0, refine=refine)
    assert model.seen == {(True, True, True)}
    assert not any(m.training for m in model.modules())


class KeepsData(nn.Module):
    """A model keeping its data as a plain tensor attribute (not a buffer), and a small step counter."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 1)
        self.data = torch.randn(512, 4)  # 8 KiB
        self.seen = torch.zeros(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen += 1
        return self.fc(x)


def test_a_large_tensor_attribute_is_not_copied_and_put_back_when_rebound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every public tensor attribute was cloned: a dataset kept on the module (on a GPU) doubled in memory."""
    monkeypatch.setattr(sys.modules["lrfinder.snapshot"], "ATTRIBUTE_COPY_LIMIT", 4096)
    model = KeepsData()
    data, before = model.data, model.data.clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    snapshot = StateSnapshot(model, [opt], [], module_attributes=True)
    small = snapshot.nbytes()
    assert small < 4096  # the 8 KiB attribute is not copied; the counter and the weights are
    model.data = torch.zeros(3)  # rebound by a forward: the old object is put back
    model.seen += 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        snapshot.restore()
    assert model.data is data and torch.equal(model.data, before)
    assert torch.equal(model.seen, torch.zeros(1))


def test_a_large_tensor_attribute_changed_in_place_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules["lrfinder.snapshot"], "ATTRIBUTE_COPY_LIMIT", 4096)
    model = KeepsData()
    snapshot = StateSnapshot(model, [torch.optim.SGD(model.parameters(), lr=0.1)], [], module_attributes=True)
    model.data.mul_(2.0)
    with pytest.warns(UserWarning, match=r"KeepsData\.data \(a tensor of 8.0 KiB\) was changed in place.*not put "
                      r"back.*register_buffer"):  # fmt: skip
        snapshot.restore()


class _HiddenEMA(nn.Module):
    """An EMA of the weights kept out of parameters() and the checkpoint, updated by every training forward."""

    def __init__(self, holder: str) -> None:
        super().__init__()
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        self.net = make_mlp()
        ema = AveragedModel(self.net, multi_avg_fn=get_ema_multi_avg_fn(0.9))
        if holder == "attribute":
            object.__setattr__(self, "ema", ema)  # not registered: no submodule, no state_dict entries
        else:
            self.emas = [ema]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ema = vars(self)["ema"] if "ema" in vars(self) else self.emas[0]
        ema.update_parameters(self.net)
        return self.net(x)


@pytest.mark.parametrize("holder", ["attribute", "list"])
def test_a_module_held_outside_the_models_tree_is_restored(loader: DataLoader, holder: str) -> None:
    """Its EMA kept averaging the test's weights (n_averaged counted the test's steps), without a word."""
    model = _HiddenEMA(holder)
    model(next(iter(loader))[0])  # one update before the test: its state is not the fresh copy's
    ema = vars(model)["ema"] if holder == "attribute" else model.emas[0]
    before = [t.clone() for t in (*ema.parameters(), *ema.buffers())]
    range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    after = list((*ema.parameters(), *ema.buffers()))
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True)) and int(ema.n_averaged) == 1


def test_a_large_module_held_outside_the_models_tree_is_named_if_changed(
    loader: DataLoader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules["lrfinder.snapshot"], "ATTRIBUTE_COPY_LIMIT", 1024)  # the EMA has 2.3 KiB
    model = _HiddenEMA("attribute")
    pattern = (
        r"_HiddenEMA\.ema \(a module held as a plain attribute, outside the model's submodules\) was changed during "
        r"the test and is not put back.*Register it as a submodule"
    )
    with pytest.warns(UserWarning, match=pattern):
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)


def test_a_metric_kept_outside_the_models_tree_is_restored(loader: DataLoader) -> None:
    """A torchmetrics metric in a plain dict (not registered) counted the test's batches; its states are attributes."""
    import torchmetrics

    class Scored(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = make_mlp()
            self.scores = {"acc": torchmetrics.Accuracy(task="multiclass", num_classes=3)}

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.net(x)
            self.scores["acc"].update(out, out.argmax(1))
            return out

    model = Scored()
    model(next(iter(loader))[0])
    before = {k: v.clone() for k, v in model.scores["acc"].metric_state.items()}
    range_test(model, loader, loss_fn=F.cross_entropy, num_steps=10)
    after = model.scores["acc"].metric_state
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("limit", [None, 16])
def test_a_teacher_made_under_inference_mode_and_held_outside_the_tree_is_left_alone(
    loader: DataLoader, monkeypatch: pytest.MonkeyPatch, limit: int | None
) -> None:
    """A frozen teacher built or loaded under torch.inference_mode, kept in a list (out of the optimizer): the
    snapshot's copy was written back into its inference tensors ("Inplace update to inference tensor outside
    InferenceMode"), after the whole sweep; over the copy limit, its version counter was read (it has none)."""
    if limit is not None:
        monkeypatch.setattr(sys.modules["lrfinder.snapshot"], "ATTRIBUTE_COPY_LIMIT", limit)
    with torch.inference_mode():
        teacher = make_mlp().eval()
        big = torch.zeros(8, 8)

    class Student(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = make_mlp()
            self.teachers = [teacher]
            self.table = big  # a large tensor attribute made under inference mode too

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                self.teachers[0](x)
            return self.net(x)

    before = [t.clone() for t in teacher.state_dict().values()]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        range_test(Student(), loader, loss_fn=F.cross_entropy, num_steps=10)
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.state_dict().values(), strict=True))


def test_a_back_reference_to_the_models_owner_is_not_named(loader: DataLoader, monkeypatch: pytest.MonkeyPatch) -> None:
    """The owner holds the model's own weights, which the test changes and restores: no warning about them."""
    monkeypatch.setattr(sys.modules["lrfinder.snapshot"], "ATTRIBUTE_COPY_LIMIT", 1024)
    owner = nn.Module()
    owner.net = make_mlp()
    object.__setattr__(owner.net[0], "owner", owner)  # the model's first layer points back to what holds it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        range_test(owner.net, loader, loss_fn=F.cross_entropy, num_steps=10)


# --------------------------------------------------------------------------------------------
# Per-step overhead: work the step did not need, removed without changing the sweep
# --------------------------------------------------------------------------------------------


def _step_calls(monkeypatch: pytest.MonkeyPatch, cls: type[torch.optim.Optimizer]) -> list[tuple[Any, ...]]:
    """Record the positional arguments of every ``cls.step`` call (the original still steps)."""
    calls: list[tuple[Any, ...]] = []
    original = cls.step

    @functools.wraps(original)  # the same signature: a step that takes a closure
    def spy(self: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
        calls.append(args + tuple(kwargs.values()))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "step", spy)
    return calls


@pytest.mark.parametrize("with_scheduler", [False, True])
def test_a_torch_optimizer_steps_without_a_closure_it_would_only_hand_back(
    monkeypatch: pytest.MonkeyPatch, mlp: nn.Module, loader: DataLoader, with_scheduler: bool
) -> None:
    # Adam calls its closure once, first, and returns it: building a StepClosure each step was pure overhead.
    calls = _step_calls(monkeypatch, torch.optim.Adam)
    opt = torch.optim.Adam(mlp.parameters(), lr=1e-3)
    if with_scheduler:  # torch's scheduler wraps opt.step on the instance; the wrapper only marks the call
        torch.optim.lr_scheduler.StepLR(opt, step_size=5)
        calls.clear()
    result = range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=12, max_lr=1e-2)
    assert len(calls) == result.num_steps
    assert all(args == () for args in calls)


def test_an_optimizer_whose_step_could_tell_still_gets_the_closure(
    monkeypatch: pytest.MonkeyPatch, mlp: nn.Module, loader: DataLoader
) -> None:
    from lrfinder.stepping import StepClosure

    class MyAdam(torch.optim.Adam):
        pass

    calls = _step_calls(monkeypatch, MyAdam)
    range_test(mlp, loader, optimizer=MyAdam(mlp.parameters(), lr=1e-3), loss_fn=F.cross_entropy, num_steps=12)
    assert calls and all(len(args) == 1 and isinstance(args[0], StepClosure) for args in calls)

    seen: list[tuple[Any, ...]] = []
    opt = torch.optim.SGD(mlp.parameters(), lr=1e-3)
    opt.register_step_pre_hook(lambda o, args, kwargs: seen.append(args))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the step hook's warning
        range_test(mlp, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=12)
    assert seen and all(isinstance(args[-1], StepClosure) for args in seen)  # (optimizer, closure)


def test_a_closure_skipped_leaves_the_curve_and_the_state_bit_for_bit(
    monkeypatch: pytest.MonkeyPatch, dataset: TensorDataset
) -> None:
    import importlib

    engine = importlib.import_module("lrfinder.range_test")  # the module, not the function lrfinder exports

    def run() -> tuple[tuple[float, ...], dict[str, Any]]:
        model = make_mlp()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        data = DataLoader(dataset, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(3))
        result = range_test(model, data, optimizer=opt, loss_fn=F.cross_entropy, num_steps=30, max_lr=1.0,
                            restore=False)
        return result.losses, snapshot_of(model, opt)

    fast_losses, fast_state = run()
    monkeypatch.setattr(engine, "steps_alike_without_closure", lambda optimizer: False)
    slow_losses, slow_state = run()
    assert fast_losses == slow_losses
    assert_same_state(fast_state, slow_state)


def test_a_scalar_loss_is_not_reshaped_and_a_one_element_one_is() -> None:
    from lrfinder.batches import _check_loss

    w = torch.ones(3, requires_grad=True)
    loss = (w * 2).sum()
    assert _check_loss(loss) is loss  # no view added to each step's graph
    one = (w * 2).sum().reshape(1)
    assert _check_loss(one).shape == ()


@pytest.mark.parametrize(
    ("tensor", "finite"),
    [
        (torch.randn(8, 4), True),
        (torch.empty(0, 4), True),
        (torch.full((64, 64), 60000.0, dtype=torch.float16), True),  # the sum overflows; every element is finite
        (torch.full((4,), 3e38), True),
        (torch.tensor([1.0, float("nan")]), False),
        (torch.tensor([1.0, float("inf")]), False),
        (torch.tensor([float("inf"), float("-inf")]), False),
        (torch.tensor([1.0 + 0j, complex(float("nan"), 0)]), False),
        (torch.tensor([1.0 + 2j]), True),
    ],
)
def test_the_data_check_reads_finite_elements_from_the_sum_only_when_it_can(tensor: torch.Tensor, finite: bool) -> None:
    from lrfinder.diagnostics import _all_finite

    assert _all_finite(tensor) is finite
    assert finite == bool(torch.isfinite(tensor).all())


class _FaultyIsfinite(torch.Tensor):
    """A tensor whose ``isfinite`` fails as a CUDA fault would."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if func is torch.isfinite:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return super().__torch_function__(func, types, args, kwargs or {})


def test_the_data_check_reads_other_layouts_and_raises_other_errors() -> None:
    # Any RuntimeError of isfinite was taken as 'finite' (meant for layouts with no kernel), hiding a CUDA
    # fault or an out-of-memory; a nested tensor failed on the sum ("NestedTensorCPU" backend).
    from lrfinder.diagnostics import _all_finite

    nan = float("nan")
    with pytest.raises(RuntimeError, match="illegal memory access"):
        _all_finite(torch.randn(3).as_subclass(_FaultyIsfinite))
    assert _all_finite(torch.nested.nested_tensor([torch.randn(2, 3), torch.randn(4, 3)])) is True
    assert _all_finite(torch.nested.nested_tensor([torch.randn(2, 3), torch.full((4, 3), nan)])) is False
    if torch.backends.mkldnn.is_available():
        assert _all_finite(torch.randn(3, 4).to_mkldnn()) is True
        assert _all_finite(torch.tensor([[1.0, nan]]).to_mkldnn()) is False
    assert _all_finite(torch.tensor([[0.0, nan]]).to_sparse()) is False
    assert _all_finite(torch.tensor([[0.0, 1.0]]).to_sparse_csr()) is True


# --------------------------------------------------------------------------------------------
# Bad input, round 3: a loss that broadcasts, a forward without a return
# --------------------------------------------------------------------------------------------


class _OneOutput(nn.Module):
    """A regression head of shape (N, 1), as most are."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(10, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)


@pytest.mark.parametrize("loss_fn", [F.mse_loss, nn.L1Loss(), nn.SmoothL1Loss(), nn.HuberLoss()])
def test_a_loss_broadcasting_its_targets_against_the_output_is_refused_and_restores(loss_fn: Any) -> None:
    # An (N, 1) output against (N,) targets: torch only warned, and the test swept the mean of an (N, N)
    # difference, every output against every target, and suggested an LR for that loss.
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 10, generator=gen), torch.randn(64, generator=gen)
    model = _OneOutput()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(DataError) as info:
        range_test(model, DataLoader(TensorDataset(x, y), batch_size=16), loss_fn=loss_fn, num_steps=12)
    message = str(info.value)
    assert "targets have shape (16,) and the model's output (16, 1)" in message
    assert "y.view(-1, 1)" in message and "out.squeeze(-1)" in message
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_target_of_one_column_for_several_outputs_is_refused() -> None:
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 10, generator=gen), torch.randn(64, 1, generator=gen)
    pattern = r"targets have shape \(16, 1\) and the model's output \(16, 3\).*number of outputs"
    with pytest.raises(DataError, match=pattern):
        range_test(make_mlp(), DataLoader(TensorDataset(x, y), batch_size=16), loss_fn=F.mse_loss, num_steps=12)


def test_matching_regression_shapes_and_a_step_fn_still_run() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 10, generator=gen)
    y = torch.randn(64, 1, generator=gen)
    data = DataLoader(TensorDataset(x, y), batch_size=16)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # and no warning left behind as an error
        assert range_test(_OneOutput(), data, loss_fn=F.mse_loss, num_steps=12).num_steps > 0
    # step_fn computes its own loss: lrfinder does not know which tensor is the output, and leaves torch's warning.
    flat = DataLoader(TensorDataset(x, y.view(-1)), batch_size=16)
    with pytest.warns(UserWarning, match="Using a target size"):
        range_test(_OneOutput(), flat, step_fn=lambda m, b: F.mse_loss(m(b[0]), b[1]), num_steps=12)


class _OwnBroadcastLoss(nn.Module):
    """A model computing its own loss from a dict batch, broadcasting as it was written to."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(10, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": F.mse_loss(self.head(x), y)}


def test_a_models_own_loss_is_not_refused_as_loss_fn_broadcasting() -> None:
    # Without loss_fn the loss is the model's, the one training uses: it was refused as "loss_fn broadcasts them",
    # naming a loss_fn that was not given. Torch's warning stays.
    gen = torch.Generator().manual_seed(0)
    batches = [{"x": torch.randn(16, 10, generator=gen), "y": torch.randn(16, generator=gen)} for _ in range(4)]
    with pytest.warns(UserWarning, match="Using a target size"):
        assert range_test(_OwnBroadcastLoss(), batches, num_steps=12).num_steps > 0


def test_a_target_without_the_batch_dimension_broadcast_on_purpose_still_runs() -> None:
    # A penalty pulling every output towards one value, F.mse_loss(out, torch.zeros(1)): torch warns of the
    # sizes, but each output is counted once. It was refused as targets "of shape (1,)" paired with outputs
    # not theirs. The check records the first batch's warnings: the loss's own are all shown still.
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 10, generator=gen), torch.randn(64, 1, generator=gen)

    calls: list[int] = []

    def loss_fn(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        calls.append(len(calls) + 1)
        warnings.warn(f"a note of the loss, call {len(calls)}", UserWarning, stacklevel=1)
        return F.mse_loss(out, target) + 1e-3 * F.mse_loss(out, torch.zeros(1))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = range_test(_OneOutput(), DataLoader(TensorDataset(x, y), batch_size=16), loss_fn=loss_fn, num_steps=12)
    assert result.num_steps > 0
    said = [str(w.message) for w in caught]
    assert any(m.startswith("Using a target size (torch.Size([1]))") for m in said)
    assert [m for m in said if m.startswith("a note of the loss")] == [f"a note of the loss, call {i}" for i in calls]


class _WarnsInForward(nn.Module):
    """A model whose forward warns at every call, as a library's deprecation inside a model does."""

    def __init__(self, note: str) -> None:
        super().__init__()
        self.head = nn.Linear(10, 3)
        self.note = note

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        warnings.warn(self.note, UserWarning, stacklevel=1)
        return self.head(x)


@pytest.mark.parametrize("action", ["default", "module", "once"])
def test_a_warning_of_the_models_forward_is_shown_once_per_test_as_its_filter_says(action: str) -> None:
    # The first batch's warnings are caught for the target-size check and shown again after it: they were shown
    # past the module's "shown once" registry, which leaving catch_warnings resets, so the second batch showed
    # the same warning again (twice per test in a notebook, whose filter is "default"). Under "once" it is shown
    # once still, not taken by the check.
    data = DataLoader(make_classification(64), batch_size=16)
    note = f"a note of the forward, under {action!r}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter(action)
        result = range_test(_WarnsInForward(note), data, loss_fn=F.cross_entropy, num_steps=12)
    assert result.num_steps == 12
    assert [(str(w.message), w.lineno) for w in caught if str(w.message) == note] == [
        (note, _WarnsInForward.forward.__code__.co_firstlineno + 1)
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        range_test(_WarnsInForward(note), data, loss_fn=F.cross_entropy, num_steps=12)
    assert sum(str(w.message) == note for w in caught) == 12  # one forward per step: "always" shows each


def test_a_forward_without_a_return_is_named() -> None:
    class NoReturn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(10, 3)

        def forward(self, x: torch.Tensor) -> None:
            self.head(x)  # the `return` forgotten

    data = DataLoader(make_classification(64), batch_size=16)
    with pytest.raises(ModelError) as info:
        range_test(NoReturn(), data, loss_fn=F.cross_entropy, num_steps=12)
    message = str(info.value)
    assert "The model returned None" in message and "no `return` line" in message
    assert "<the output tensor>" not in message  # the advice for an output to pick a part of



@pytest.mark.parametrize(
    ("loss_fn", "targets", "why"),
    [
        (F.cross_entropy, None, "IndexError: Dimension out of range (expected to be in range of [-1, 0], but got 1)"),
        (F.binary_cross_entropy_with_logits, (16, 1), "ValueError: Target size (torch.Size([16, 1])) must be the same "
                                                      "as input size (torch.Size([]))"),
    ],
)  # fmt: skip
def test_a_forward_that_reduces_the_batch_to_one_number_is_named(loss_fn: Any, targets: Any, why: str) -> None:
    # cross_entropy's "Dimension out of range" came with "Check that the inputs have the shape and dtype the model
    # takes": nothing said the model's output was a single number.
    class Summed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(10, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(x).mean()  # a reduction left at the end of forward

    x, y = make_classification(64).tensors
    if targets is not None:
        y = y.float().view(-1, 1)
    data = DataLoader(TensorDataset(x, y), batch_size=16)
    model = Summed()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ModelError) as info:
        range_test(model, data, loss_fn=loss_fn, num_steps=12)
    shape = (16, 1) if targets is not None else (16,)
    assert str(info.value) == (
        "loss_fn(model(inputs), targets) failed because the model returned a single number (a 0-d tensor), not an "
        f"output per example, against targets of shape {shape} ({why}). Check the end of the model's forward: a "
        ".sum() or .mean() over the batch leaves one number. Return the outputs the loss takes, one row per example."
    )
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # A loss_fn that fails on a per-example output is left to the batch's message.
    with pytest.raises(DataError, match="^The first batch does not go through the model and loss_fn"):
        range_test(nn.Linear(10, 3), data, loss_fn=lambda out, t: F.cross_entropy(out.sum(), t), num_steps=12)

def test_from_json_names_a_file_that_holds_no_result(tmp_path: Path) -> None:
    result = RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 0.5), stop_reason="completed")
    what = r"Pass the path of a JSON file written by result\.to_json\(path\)"
    # Python's "[Errno 21] Is a directory", "'utf-8' codec can't decode byte 0x80", "Expecting value: line 1
    # column 1 (char 0)" with no file named, and "No such file or directory: 'null'" (JSON text read as a path).
    with pytest.raises(IsADirectoryError, match=rf"from '{re.escape(str(tmp_path))}': it is a directory\. {what}"):
        RangeTestResult.from_json(tmp_path)
    (tmp_path / "model.pt").write_bytes(b"PK\x03\x04\x80\xff" + bytes(100))
    with pytest.raises(ValueError, match=rf"model\.pt' is not a JSON range-test result: it is not UTF-8 text.*{what}"):
        RangeTestResult.from_json(tmp_path / "model.pt")
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(ValueError, match=r"empty\.json': Not a JSON range-test result: the file is empty\. Write"):
        RangeTestResult.from_json(tmp_path / "empty.json")
    text = result.to_json()
    (tmp_path / "cut.json").write_text(text[: text.index('"lrs": [') + len('"lrs": [\n    ')])  # cut inside lrs
    # Python's "Expecting value: line 5 column 5 (char 53)" as the reason: which file, where, what to do.
    with pytest.raises(ValueError) as info:
        RangeTestResult.from_json(tmp_path / "cut.json")
    assert str(info.value) == (
        f"{str(tmp_path / 'cut.json')!r} is not valid JSON (Expecting value at line 5, column 5), so not a "
        "range-test result. Pass a file written by result.to_json(path) (or lrfind run --json), or its text; a file "
        "cut short or edited by hand can be written again from the result."
    )
    with pytest.raises(ValueError, match=r"^The JSON text given is not valid JSON \(Expecting value at line 1, col"):
        RangeTestResult.from_json('{"lrs": ')
    with pytest.raises(FileNotFoundError, match=rf"No range-test result file at 'null': no such file.*{what}"):
        RangeTestResult.from_json("null")
    # Bytes read from a binary file were decoded with Python's bare "'utf-8' codec can't decode byte 0x80 ...".
    said = r"^Expected source bytes to be JSON text, but they are not UTF-8 \(byte 4 is 0x80\).* Pass the bytes"
    with pytest.raises(ValueError, match=said + r" of a JSON file written by result\.to_json\(path\), or the file"):
        RangeTestResult.from_json((tmp_path / "model.pt").read_bytes())
    assert RangeTestResult.from_json(codecs.BOM_UTF8 + result.to_json().encode()) == result  # as a file's are read
    # Python's bare "maximum recursion depth exceeded while decoding a JSON array" (a RecursionError) and "Exceeds
    # the limit (4300 digits) for integer string conversion ... sys.set_int_max_str_digits()", naming no file.
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match=r"deep\.json' is not a range-test result: its arrays or objects are nested "
                       r"too deeply to read, which no result holds\. Pass a file written by result\.to_json"):
        RangeTestResult.from_json(tmp_path / "deep.json")
    with pytest.raises(ValueError, match=r"^The JSON text given is not a range-test result: it holds a number of "
                       r"more than 4,300 digits"):
        RangeTestResult.from_json('{"schema_version": ' + "9" * 5000 + "}")


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("batch_size", True, "Expected batch_size to be an integer >= 1 or None, but got batch_size=True"),
        ("batch_size", "32", "Expected batch_size to be an integer >= 1 or None, but got batch_size='32'"),
        ("num_parameters", -1, "Expected num_parameters to be an integer >= 0 or None, but got num_parameters=-1"),
        ("label", 3, "Expected label to be a string or None, but got label=3"),
        ("suggestion", 0.01, "Expected suggestion to be a lrfinder.Suggestion or None, but got float 0.01"),
        ("noise_scale", 64.0, "Expected noise_scale to be a lrfinder.noise.NoiseScale or None, but got float 64.0"),
    ],
)
def test_a_hand_built_result_checks_its_other_fields(field: str, value: Any, said: str) -> None:
    # Taken as given, batch_size=True failed later in scale() as "from_batch_size=True", an argument never passed,
    # and suggestion=0.01 at result.lr with "'float' object has no attribute 'lr'".
    with pytest.raises((TypeError, ValueError)) as info:
        RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 0.5), stop_reason="completed", **{field: value})
    assert str(info.value) == said
    result = RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 0.5), stop_reason="completed", batch_size=np.int64(32))
    assert type(result.batch_size) is int and result.batch_size == 32


@pytest.mark.parametrize(
    ("lrs", "smoothed", "said"),
    [
        ((1e-2, 1e-3, 1e-1), 3, r"but lrs\[0\]=0\.01 then lrs\[1\]=0\.001$"),
        ((1e-3, 1e-3, 1e-1), 3, r"but lrs\[0\]=0\.001 then lrs\[1\]=0\.001$"),
        ((-1e-3, 1e-2, 1e-1), 3, r"but lrs\[0\]=-0\.001$"),
        ((1e-3, float("nan"), 1e-1), 3, r"but lrs\[1\]=nan$"),  # to_json failed in json's encoder: "Out of range"
        ((1e-3, 1e-2, 1e-1), 2, r": suggestion\.smoothed_losses has 2 values for 3 losses$"),
    ],
)
def test_a_hand_built_result_is_a_curve_from_json_reads_back(lrs: tuple[float, ...], smoothed: int, said: str) -> None:
    # Taken as given: to_json wrote a file that from_json refused as malformed, and analyze, the report and
    # result.analyze() refused the curve later, each in its own words.
    from lrfinder import Suggestion

    s = Suggestion(lr=1e-2, steepest_lr=1e-2, min_loss_lr=1e-2, divergence_lr=None, non_finite_lr=None, min_lr=1e-3,
                   max_lr=1e-2, confidence=0.5, rule="divergence_div10", notes=(), smoothed_losses=(1.0,) * smoothed,
                   window=3)  # fmt: skip
    rule = r"^Expected the curve a range test records: 'lrs' must be finite, > 0 and strictly increasing, as a sweep"
    with pytest.raises(ValueError, match=(rule if "lrs" in said else "^Expected the curve") + ".*" + said):
        RangeTestResult(lrs=lrs, losses=(2.0, 1.0, 3.0), stop_reason="completed", suggestion=s)
    result = RangeTestResult(lrs=(1e-3, 1e-2, 1e-1), losses=(2.0, 1.0, 3.0), stop_reason="completed",
                             suggestion=dataclasses.replace(s, smoothed_losses=(1.0, 1.0, 1.0)))  # fmt: skip
    assert RangeTestResult.from_json(result.to_json()) == result
    empty = RangeTestResult(lrs=(), losses=(), stop_reason="interrupted")  # an interrupted test's: nothing recorded
    assert RangeTestResult.from_json(empty.to_json()) == empty


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (lambda d: d["settings"].update(zzz=1), "unknown key 'zzz' in settings"),  # was TypeError("RangeTestSettings...
        (lambda d: d.update(suggestion={}), "missing key 'smoothed_losses'"),  # was KeyError('smoothed_losses')
        (lambda d: d.pop("lrs"), "missing key 'lrs'"),
        (lambda d: d["settings"].update(min_lr="x"), "Expected min_lr to be a number, but got min_lr='x'"),
    ],
)
def test_a_malformed_field_is_said_in_words_not_as_an_exception_repr(edit: Any, said: str) -> None:
    data = RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 2.0), stop_reason="completed").to_dict()
    edit(data)
    with pytest.raises(ValueError) as info:
        RangeTestResult.from_dict(data)
    assert str(info.value) == f"Malformed range-test result: {said}"


class _OnceSampler(torch.utils.data.Sampler[int]):
    """A sampler that keeps its iterator: the second pass finds it used up."""

    def __init__(self, n: int) -> None:
        self._it = iter(range(n))
        self.n = n

    def __iter__(self) -> Iterator[int]:
        return self._it

    def __len__(self) -> int:
        return self.n


class _OnceStream(torch.utils.data.IterableDataset):
    def __init__(self, data: TensorDataset) -> None:
        self._it = iter(data)

    def __iter__(self) -> Iterator[Any]:
        return self._it


@pytest.mark.parametrize("kind", ["sampler", "stream"])
def test_a_dataloader_that_gives_its_items_once_is_not_called_a_one_shot_iterator(kind: str) -> None:
    # It was told "it is a one-shot iterator (e.g. a generator) ... Pass a DataLoader": it is one.
    data = make_classification(64)
    if kind == "sampler":
        loader = DataLoader(data, batch_size=16, sampler=_OnceSampler(64))
        source = r"its sampler \(or batch_sampler\)"
    else:
        loader = DataLoader(_OnceStream(data), batch_size=16)
        source = r"its IterableDataset \(_OnceStream\)"
    model = make_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(DataError) as info:
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=12)
    message = str(info.value)
    assert re.search(rf"DataLoader ran out after 4 batches and gave none when started again: {source} yields", message)
    assert "start over each time" in message and "plan at most 4 batches" in message
    assert "one-shot" not in message and "Pass a DataLoader" not in message
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


class _KeptStream(torch.utils.data.IterableDataset):
    """An endless stream made once: every ``__iter__`` hands out the same generator."""

    def __init__(self, seed: int) -> None:
        def stream() -> Iterator[tuple[torch.Tensor, int]]:
            gen = torch.Generator().manual_seed(seed)
            while True:
                x = torch.randn(10, generator=gen)
                yield x, int(x[:3].argmax())

        self.stream = stream()

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int]]:
        return self.stream


class _FreshStream(_KeptStream):
    """The same stream started anew at each ``__iter__``, from the dataset's own generator."""

    def __init__(self, seed: int) -> None:
        self.gen = torch.Generator().manual_seed(seed)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int]]:
        while True:
            x = torch.randn(10, generator=self.gen)
            yield x, int(x[:3].argmax())


class _ResumableStream(_KeptStream):
    """A stream made anew at each ``__iter__``, kept on the dataset (to resume or checkpoint it)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.stream = iter(())

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int]]:
        super().__init__(self.seed)
        return self.stream


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("stream", [_KeptStream, _FreshStream, _ResumableStream])
def test_a_stream_that_keeps_its_iterator_is_warned_to_be_used_up(stream: type[_KeptStream], workers: int) -> None:
    # The test drew its 20 batches from the dataset's one generator and said nothing: the training after it started
    # 20 batches into the stream. A bare generator as train_data was warned about; this loader over one was not.
    def first_batch(with_test: bool) -> torch.Tensor:
        loader = DataLoader(stream(seed=5), batch_size=8, num_workers=workers)
        if with_test:
            range_test(make_mlp(), loader, loss_fn=F.cross_entropy, num_steps=20)
        return next(iter(loader))[0]

    kept = stream is _KeptStream and not workers  # workers read copies: the caller's stream stays where it was
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        after = first_batch(with_test=True)
    messages = [str(w.message) for w in said if "hands out an iterator it keeps" in str(w.message)]
    assert torch.equal(after, first_batch(with_test=False)) is not kept
    assert messages == ([
        "train_data's IterableDataset (_KeptStream) hands out an iterator it keeps (a generator made once, returned "
        "by every __iter__): the batches the range test drew from it are used up, and restore cannot put them back, "
        "so training would start where the test stopped. Make __iter__ start the stream anew at each call (write it "
        "as a generator function, with yield), or build the dataset again after the test."
    ] if kept else [])  # fmt: skip
    assert all(w.filename == __file__ for w in said if "hands out" in str(w.message))


class _FileStream(torch.utils.data.IterableDataset):
    """A stream of batches read line by line from a file the dataset opened in ``__init__`` (and keeps open)."""

    def __init__(self, path: Path, mode: str) -> None:
        self.file = open(path, mode)  # noqa: SIM115 (kept open on purpose: the position is the stream's state)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for line in self.file:
            seed = int(line)
            x = torch.randn(8, 10, generator=torch.Generator().manual_seed(seed))
            yield x, x[:, :3].argmax(1)


@pytest.mark.parametrize("mode", ["r", "rb"])
def test_a_file_a_stream_reads_is_put_back_where_it_was(tmp_path: Path, mode: str) -> None:
    # The test read 20 lines of the file the dataset holds open and left it there: the training after it started at
    # line 20, without a word. Its read position is put back now, as a sampler's RNG is.
    path = tmp_path / "seeds.txt"
    path.write_text("".join(f"{i}\n" for i in range(100)))
    dataset = _FileStream(path, mode)
    loader = DataLoader(dataset, batch_size=None)
    try:
        range_test(make_mlp(), loader, loss_fn=F.cross_entropy, num_steps=20)
        assert sum(1 for _ in loader) == 100
    finally:
        dataset.file.close()


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"on_step": lambda lr: None}, r"on_step to take 3 positional arguments \(on_step\(index, lr, loss\)\).*lr"),
        # inspect's "(too many positional arguments)" read as if the hook had too many: it has too few.
        ({"on_step": lambda i, lr: None}, r"but its signature is \(i, lr\), which takes only 2\.$"),
        ({"on_step": lambda i, lr, loss, *, tag: None}, r"which also requires the keyword-only argument 'tag'\.$"),
        ({"loss_fn": lambda out: out.sum()}, r"loss_fn to take 2 positional arguments.*\(out\)"),
        ({"loss_fn": None, "step_fn": lambda batch: batch}, r"step_fn to take 2 positional arguments.*\(batch\)"),
    ],
)
def test_a_hook_of_the_wrong_arity_is_refused_before_the_sweep(kwargs: dict[str, Any], pattern: str) -> None:
    # on_step=lambda lr: ... ran the first step, then failed with "<lambda>() takes 1 positional argument but 3
    # were given", naming neither the argument nor what it is called with.
    kwargs.setdefault("loss_fn", F.cross_entropy)
    calls: list[int] = []
    model = make_mlp()
    model.register_forward_hook(lambda *_: calls.append(1))
    with pytest.raises(TypeError, match=pattern):
        range_test(model, DataLoader(make_classification(64), batch_size=16), num_steps=12, **kwargs)
    assert calls == []  # refused before the first forward


def test_hooks_that_take_their_arguments_any_way_pass_the_arity_check() -> None:
    data = DataLoader(make_classification(64), batch_size=16)
    seen: list[tuple[Any, ...]] = []
    result = range_test(make_mlp(), data, loss_fn=nn.CrossEntropyLoss(), num_steps=12,
                        on_step=lambda *args: seen.append(args))  # fmt: skip
    assert len(seen) == result.num_steps
    range_test(make_mlp(), data, loss_fn=functools.partial(F.cross_entropy, label_smoothing=0.1), num_steps=12)


@pytest.mark.parametrize(
    ("dtype", "fix"),
    [
        (torch.float64, r"inputs are float64 and the model's parameters float32: convert the inputs with "
                        r"x\.to\(torch\.float32\).*or the model with model\.to\(torch\.float64\)\."),
        (torch.int64, r"inputs are int64 and the model's parameters float32: features for Linear or Conv layers "
                      r"are floats, so convert them with x\.to\(torch\.float32\)\."),
    ],
)  # fmt: skip
def test_inputs_of_another_dtype_than_the_model_are_told_how_to_convert(dtype: torch.dtype, fix: str) -> None:
    # torch's "mat1 and mat2 must have the same dtype, but got Double and Float" (numpy's float64 through
    # torch.from_numpy) came with "Check that the inputs have the ... dtype the model takes" and no way to.
    data = make_classification(64)
    x = data.tensors[0].to(dtype) if dtype.is_floating_point else (data.tensors[0] * 10).to(dtype)
    loader = DataLoader(TensorDataset(x, data.tensors[1]), batch_size=16)
    with pytest.raises(DataError, match=fix):
        range_test(make_mlp(), loader, loss_fn=F.cross_entropy, num_steps=12)



def test_a_model_of_mixed_parameter_dtypes_is_told_so_and_how_to_cast_it() -> None:
    # A layer loaded apart, nn.Parameter(torch.from_numpy(array)) (numpy's float64), failed with torch's "mat1 and
    # mat2 must have the same dtype" and "the model's parameters are float32": the first parameter's dtype only,
    # nothing pointing at the float64 layer.
    model = make_mlp()
    model[3].weight = nn.Parameter(torch.from_numpy(model[3].weight.detach().numpy().astype("float64")))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loader = DataLoader(make_classification(64), batch_size=16)
    with pytest.raises(DataError) as caught:
        range_test(model, loader, loss_fn=F.cross_entropy, num_steps=12)
    message = str(caught.value)
    assert "; the model's parameters are float32 (first: 0.weight) and float64 (first: 3.weight) on cpu. The model " \
        "mixes parameter dtypes, so one layer gets another's output in a dtype it cannot take: a layer cast or " \
        "loaded apart (model[1].double(), nn.Parameter(torch.from_numpy(array)), which keeps numpy's float64). Cast " \
        "the whole model to one dtype, e.g. model.to(torch.float32), and the inputs to it. Check that" in message
    assert "convert the inputs" not in message  # the inputs are the float32 most of the model takes
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # As told, it runs.
    assert range_test(model.to(torch.float32), loader, loss_fn=F.cross_entropy, num_steps=12).num_steps == 12

class _SequenceTagger(nn.Module):
    """Token ids ``(N, T)`` to class scores ``(N, T, C)``, last, as a sequence model gives them."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(ids))


def test_sequence_scores_against_token_labels_are_told_to_move_the_class_dim() -> None:
    # torch's "Expected target size [16, 3], got [16, 5]" of (N, T, C) scores against (N, T) labels came with
    # "check ... the targets the format loss_fn expects": the targets were right, the scores' class dim was not.
    gen = torch.Generator().manual_seed(0)
    ids, labels = torch.randint(0, 10, (64, 5), generator=gen), torch.randint(0, 3, (64, 5), generator=gen)
    loader = DataLoader(TensorDataset(ids, labels), batch_size=16)
    with pytest.raises(DataError, match=r"Expected target size \[16, 3\], got \[16, 5\]\).*cross_entropy \(and "
                       r"nll_loss\) take the class scores in dim 1.*loss_fn=lambda out, y: "
                       r"F\.cross_entropy\(out\.transpose\(1, 2\), y\)\. Check that"):  # fmt: skip
        range_test(_SequenceTagger(), loader, loss_fn=F.cross_entropy, num_steps=12)
    # As told, it runs.
    result = range_test(_SequenceTagger(), loader, loss_fn=lambda out, y: F.cross_entropy(out.transpose(1, 2), y),
                        num_steps=12, max_lr=1e-2)  # fmt: skip
    assert result.num_steps == 12
    # A segmenter's masks of the wrong size are not told to move dims.
    masks = DataLoader(TensorDataset(torch.randn(8, 1, 4, 4), torch.zeros(8, 3, 3, dtype=torch.long)), batch_size=4)
    with pytest.raises(DataError) as caught:
        range_test(nn.Conv2d(1, 2, 1), masks, loss_fn=F.cross_entropy, num_steps=12)
    assert "transpose" not in str(caught.value)


class _Tokens(nn.Module):
    """Token ids (int64) through an embedding to three classes."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(ids).mean(1))


@pytest.mark.parametrize("target_dtype", [torch.int32, torch.float32])
def test_a_target_dtype_failure_does_not_tell_to_convert_token_ids(target_dtype: torch.dtype) -> None:
    # torch's "expected target dtype to be Long or Byte, but got Int" was answered "The inputs are int64 and the
    # model's parameters float32: ... convert them with x.to(torch.float32)", token ids that must stay integers.
    gen = torch.Generator().manual_seed(0)
    ids, labels = torch.randint(0, 10, (64, 5), generator=gen), torch.randint(0, 3, (64,), generator=gen)
    loader = DataLoader(TensorDataset(ids, labels.to(target_dtype)), batch_size=16)
    with pytest.raises(DataError, match="target dtype") as info:
        range_test(_Tokens(), loader, loss_fn=F.cross_entropy, num_steps=12)
    assert "x.to(torch.float32)" not in str(info.value)
    assert "The inputs are int64" not in str(info.value)


class _NoSuperInit(nn.Module):
    def __init__(self) -> None:  # super().__init__() forgotten; nothing assigned, so torch did not object
        self.scale = 2.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def test_a_module_that_never_called_super_init_is_named() -> None:
    # torch's "'_NoSuperInit' object has no attribute '_parameters'" from model.parameters().
    pattern = r"model to be an initialised torch\.nn\.Module, but _NoSuperInit\.__init__ never called super\(\)"
    data = DataLoader(make_classification(32), batch_size=16)
    with pytest.raises(TypeError, match=pattern + r".*Call super\(\)\.__init__\(\) first in _NoSuperInit\.__init__"):
        range_test(_NoSuperInit(), data, loss_fn=F.cross_entropy, num_steps=12)
    with pytest.raises(TypeError, match=pattern):
        StateSnapshot(_NoSuperInit(), [])
    from lrfinder import create_optimizer, param_groups

    with pytest.raises(TypeError, match=r"never called super\(\)\.__init__\(\)"):
        create_optimizer("sgd", _NoSuperInit(), lr=0.1)
    with pytest.raises(TypeError, match=r"never called super\(\)\.__init__\(\)"):
        param_groups(_NoSuperInit(), lr=0.1)
    traced = torch.jit.trace(nn.Linear(10, 3), torch.randn(2, 10))  # no _parameters in its __dict__: not refused
    assert range_test(traced, data, loss_fn=F.cross_entropy, num_steps=12).num_steps > 0


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_sparse_inputs_are_checked_for_nan_by_their_values(layout: str) -> None:
    # The data's NaN check ran torch.isfinite on the batch, which has no sparse kernel: "Could not run
    # 'aten::ne.Scalar' with arguments from the 'SparseCPU' backend", raised out of range_test.
    data = make_classification(64)
    x, y = data.tensors

    def sparse(t: torch.Tensor) -> torch.Tensor:
        return t.to_sparse() if layout == "coo" else t.to_sparse_csr()

    batches = [(sparse(x[i : i + 16]), y[i : i + 16]) for i in range(0, 64, 16)]
    assert range_test(make_mlp(), batches, loss_fn=F.cross_entropy, num_steps=12).num_steps == 12
    poisoned = x[:16].clone()
    poisoned[3, 2] = float("nan")
    with pytest.raises(DataError, match="Batch 0 of the pass holds NaN or inf in inputs"):
        range_test(make_mlp(), [(sparse(poisoned), y[:16])] * 4, loss_fn=F.cross_entropy, num_steps=12)


@pytest.mark.parametrize("dtype", ["float8_e4m3fn", "float8_e5m2"])
def test_float8_inputs_are_checked_for_nan(dtype: str) -> None:
    # Inputs stored as float8 (cast up in forward): the data's NaN check summed the batch, which float8 has no
    # kernel for ("sum_cpu" not implemented for 'Float8_e4m3fn'), raised out of range_test at the first step.
    data = make_classification(64)
    x, y = data.tensors
    low = getattr(torch, dtype)

    class UpCast(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mlp = make_mlp()

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            return self.mlp(inputs.float())

    net = UpCast()
    batches = [(x[i : i + 16].to(low), y[i : i + 16]) for i in range(0, 64, 16)]
    assert range_test(net, batches, loss_fn=F.cross_entropy, num_steps=12).num_steps == 12
    poisoned = x[:16].clone()
    poisoned[3, 2] = float("nan")
    with pytest.raises(DataError, match="Batch 0 of the pass holds NaN or inf in inputs"):
        range_test(net, [(poisoned.to(low), y[:16])] * 4, loss_fn=F.cross_entropy, num_steps=12)


@pytest.mark.parametrize("inside", [True, False], ids=["critic-in-model", "critic-outside"])
def test_an_optimizer_the_step_fn_steps_itself_is_restored(inside: bool, dataset: TensorDataset) -> None:
    # A GAN's step_fn steps the critic's optimizer and returns the generator's loss: the swept optimizer was
    # restored, the critic's Adam state (its step count and moments) was left 100 steps on, without a word,
    # and a critic outside the model kept the weights the test trained.
    torch.manual_seed(0)
    gen = nn.Linear(4, 4)
    critic = nn.Linear(4, 1)
    model = nn.ModuleDict({"gen": gen, "critic": critic}) if inside else gen
    g_opt = torch.optim.Adam(gen.parameters(), lr=1e-3)
    c_opt = torch.optim.Adam(critic.parameters(), lr=1e-3)
    batches = [torch.randn(16, 4) for _ in range(4)]

    def step_fn(m: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        fake = gen(torch.randn_like(batch))
        c_opt.zero_grad()
        (critic(fake.detach()).mean() - critic(batch).mean()).backward()
        c_opt.step()
        return -critic(fake).mean()

    for batch in batches[:2]:  # both optimizers with real state
        g_opt.zero_grad()
        step_fn(model, batch).backward()
        g_opt.step()
    c_opt.zero_grad()
    before = [copy_of(c_opt.state_dict()), [p.detach().clone() for p in critic.parameters()]]
    g_before = copy_of(g_opt.state_dict())
    range_test(model, batches, optimizer=g_opt, step_fn=step_fn, num_steps=20, max_lr=1.0)
    assert same(copy_of(c_opt.state_dict()), before[0])
    assert all(torch.equal(p, q) for p, q in zip(critic.parameters(), before[1], strict=True))
    assert all(p.grad is None for p in critic.parameters())
    assert same(copy_of(g_opt.state_dict()), g_before)
    # Only during the test: the global step hook that captured it is gone.
    from torch.optim import optimizer as optimizer_module

    assert not optimizer_module._global_optimizer_pre_hooks


def test_refine_with_a_step_fn_that_runs_its_own_backward_says_so(dataset: TensorDataset) -> None:
    # The held-out loss is taken under no_grad, where a critic step inside step_fn fails: the error was a
    # DataError telling to "Pass val_data in the same format as the training batches", which would not help.
    torch.manual_seed(0)
    gen, critic = nn.Linear(4, 4), nn.Linear(4, 1)
    c_opt = torch.optim.SGD(critic.parameters(), lr=1e-3)
    batches = [torch.randn(16, 4) for _ in range(10)]

    def step_fn(m: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        fake = m(torch.randn_like(batch))
        c_opt.zero_grad()
        (critic(fake.detach()).mean() - critic(batch).mean()).backward()
        c_opt.step()
        return -critic(fake).mean()

    with pytest.raises(ModelError, match=r"refine cannot compute a held-out loss on the held-out training batches: "
                       r"step_fn runs a backward of its own \(RuntimeError: element 0 of tensors does not require "
                       r"grad.*under torch\.no_grad\(\).*run the range test without refine\.$"):  # fmt: skip
        range_test(gen, batches, step_fn=step_fn, num_steps=12, max_lr=1e-2, refine=Refine(training_steps=100))


def _second_task_labelled_in_4_batches() -> tuple[nn.Module, list[Any], Callable[[nn.Module, Any], torch.Tensor]]:
    """A multi-task loss whose second task is labelled in the first 4 of 16 batches only (``ignore_index`` after)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=gen)
    ya = (x[:, 0] > 0).long()
    yb = torch.full((64,), -100)
    yb[:16] = (x[:16, 1] > 0).long()  # labelled in the first 4 batches only
    batches = [(x[i : i + 4], ya[i : i + 4], yb[i : i + 4]) for i in range(0, 64, 4)]

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        xs, a, b = batch
        out = m(xs)
        return F.cross_entropy(out[:, :2], a) + F.cross_entropy(out[:, 2:], b)

    with torch.random.fork_rng():  # seeded: on 8 of 30 other seeds the divergence sweep below completes
        torch.manual_seed(0)
        model = nn.Linear(4, 4)
    return model, batches, step_fn


def test_a_loss_undefined_on_a_clean_batch_is_told_from_a_divergence() -> None:
    # A multi-task loss whose second task is labelled on few examples: a batch where every label of it is
    # ignore_index makes cross_entropy a mean over nothing, NaN, at lr=3e-07. The curve read it as the blow-up
    # and said "Lower min_lr or max_lr ... before the loss blows up", which cannot help.
    model, batches, step_fn = _second_task_labelled_in_4_batches()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = snapshot_of(model, opt)
    with pytest.raises(DataError, match=r"^Batch 4 of the pass gives a non-finite loss \(nan\) at step 4 "
                       r"\(lr=[0-9.e+-]+\) and at the weights the test started from too: .*not the learning rate.*"
                       r"holds no NaN or inf.*ignore_index.*run the test again\.$"):  # fmt: skip
        range_test(model, batches, optimizer=opt, step_fn=step_fn, num_steps=20)
    assert_same_state(before, snapshot_of(model, opt))
    # A divergence (a clean batch whose loss is finite at the starting weights) still ends the sweep as one.
    result = range_test(model, batches[:4] * 4, optimizer=opt, step_fn=step_fn, num_steps=60, min_lr=1e-3,
                        max_lr=1e12)  # fmt: skip
    assert result.stop_reason in {"non_finite", "diverged"}
    assert_same_state(before, snapshot_of(model, opt))


class _MovedBatch:
    """A batch with its own ``to``, as a PyTorch Geometric ``Data``: ``to`` makes a copy, as a move to a GPU does."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, moved: list[Any] | None = None) -> None:
        self.x, self.y = x, y
        self.moved = moved if moved is not None else []

    def to(self, device: torch.device) -> _MovedBatch:
        copy = _MovedBatch(self.x.clone(), self.y.clone())
        self.moved.append([weakref.ref(copy), weakref.ref(copy.x), weakref.ref(copy.y)])
        return copy


@pytest.mark.parametrize("optimizer", ["sgd", "sam"])
def test_accumulated_micro_batches_are_freed_on_the_device_as_they_go(optimizer: str) -> None:
    # With accumulate_steps=k the step's k micro-batches were held on the device until its loss was read (to
    # tell NaN in the data from a divergence, and for the closure): 64 image batches on the GPU at once, where
    # training frees each one after its backward.
    x, y = make_classification(256).tensors
    moved: list[Any] = []
    batches = [_MovedBatch(x[i : i + 16], y[i : i + 16], moved) for i in range(0, 256, 16)]
    alive_at_forward: list[int] = []

    def step_fn(model: nn.Module, batch: _MovedBatch) -> torch.Tensor:
        # The device copies of the micro-batches before this one that are still alive (tensors included).
        alive_at_forward.append(sum(ref() is not None for refs in moved[:-1] for ref in refs))
        return F.cross_entropy(model(batch.x), batch.y)

    model = make_mlp()
    opt = SAM(model.parameters(), lr=0.1) if optimizer == "sam" else torch.optim.SGD(model.parameters(), lr=0.1)
    result = range_test(model, batches, optimizer=opt, step_fn=step_fn, num_steps=10, max_lr=1e-2, accumulate_steps=8)
    assert result.num_steps == 10 and all(math.isfinite(v) for v in result.losses)
    assert len(alive_at_forward) >= 80
    assert alive_at_forward == [0] * len(alive_at_forward)
    # The same curve as batches of tensors (no copies made) give.
    plain = [(b.x, b.y) for b in batches]
    opt2 = SAM(model.parameters(), lr=0.1) if optimizer == "sam" else torch.optim.SGD(model.parameters(), lr=0.1)
    again = range_test(model, plain, optimizer=opt2, step_fn=lambda m, b: F.cross_entropy(m(b[0]), b[1]), num_steps=10,
                       max_lr=1e-2, accumulate_steps=8)  # fmt: skip
    assert again.losses == result.losses


def test_nan_in_an_accumulated_micro_batch_is_named(mlp: nn.Module, dataset: TensorDataset) -> None:
    """The NaN check reads the micro-batches' sums with the step's loss; the batch named is the same as before."""
    x, y = dataset.tensors
    x = x.clone()
    x[6 * 32 + 3, 2] = float("inf")
    before = [p.detach().clone() for p in mlp.parameters()]
    match = (
        r"^Batch 6 of the pass holds NaN or inf in inputs \(inputs float32 \(32, 10\), targets int64 \(32,\)\), "
        r"and the loss of step 1 \(lr=.*\) is nan: the data made it"
    )
    with pytest.raises(DataError, match=match):
        range_test(mlp, DataLoader(TensorDataset(x, y), batch_size=32), loss_fn=F.cross_entropy, num_steps=20,
                   accumulate_steps=4)  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(before, mlp.parameters()))


def test_a_model_that_copes_with_nan_in_an_accumulated_micro_batch_is_not_stopped(dataset: TensorDataset) -> None:
    """A finite loss over a micro-batch holding NaN: the model copes (it fills NaN), as without accumulation."""

    x, y = dataset.tensors
    x = x.clone()
    x[2 * 32, 0] = float("nan")
    result = range_test(FillsNaN(), DataLoader(TensorDataset(x, y), batch_size=32), loss_fn=F.cross_entropy,
                        num_steps=12, accumulate_steps=3, max_lr=1e-2)  # fmt: skip
    assert result.num_steps == 12 and all(math.isfinite(v) for v in result.losses)


def test_a_loss_undefined_on_an_accumulated_clean_batch_is_told_from_a_divergence() -> None:
    """The step's batches are looked at again at the starting weights after the sweep: kept as the data gave them."""
    model, batches, step_fn = _second_task_labelled_in_4_batches()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = snapshot_of(model, opt)
    with pytest.raises(DataError, match=r"^Batch 4 of the pass gives a non-finite loss \(nan\) at step 2 "):
        range_test(model, batches, optimizer=opt, step_fn=step_fn, num_steps=20, accumulate_steps=2)
    assert_same_state(before, snapshot_of(model, opt))


def test_first_non_finite_loss_with_every_runs_each_batch_and_answers_the_same() -> None:
    """Under DDP each rank must run as many forward passes (a forward may hold a collective): ``every=True``."""
    from lrfinder.diagnostics import first_non_finite_loss

    values = {0: 1.0, 1: math.nan, 2: 2.0, 3: math.inf}

    def loss_of(batch: int) -> torch.Tensor:
        seen.append(batch)
        if batch == 5:
            raise RuntimeError("not judged")
        return torch.tensor(values.get(batch, 0.0))

    cases = [([0, 1, 2, 3], 1), ([0, 2], None), ([0, 5, 1], None), ([3, 5], 3), ([2, 4], None)]
    for batches, expected in cases:
        drawn = [(b, 10 + i) for i, b in enumerate(batches)]
        answers = []
        for every in (False, True):
            seen: list[int] = []
            found = first_non_finite_loss(drawn, loss_of, every=every)
            answers.append(None if found is None else drawn[[d[1] for d in drawn].index(found)][0])
            if every:
                assert seen == batches  # every batch, after the answer and after a failure too
        assert answers == [expected, expected], batches


def test_an_optimizer_stepped_in_another_thread_is_left_alone(dataset: TensorDataset) -> None:
    # torch's step pre-hook is global: an optimizer of the user's own training, stepped in another thread while
    # the test ran, was captured and then rolled back (its weights and state) when the test restored.
    other = nn.Linear(3, 1)
    other_opt = torch.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    go, done = threading.Event(), threading.Event()

    def train_alongside() -> None:
        go.wait(10)
        other(torch.ones(2, 3)).sum().backward()
        other_opt.step()
        done.set()

    def on_step(index: int, lr: float, loss: float) -> None:
        if index == 2:  # one step of the other thread's, in the middle of the test
            go.set()
            done.wait(10)

    worker = threading.Thread(target=train_alongside)
    worker.start()
    before = other.weight.detach().clone()
    range_test(make_mlp(), DataLoader(dataset, batch_size=16), loss_fn=F.cross_entropy, num_steps=12, on_step=on_step)
    worker.join(10)
    assert done.is_set()
    assert not torch.equal(other.weight, before)  # the other thread's step stands
    assert other_opt.state[other.weight]["momentum_buffer"] is not None
    assert other.weight.grad is not None


@pytest.mark.parametrize("wrap", [True, False], ids=["TensorDataset(x)", "DataLoader(x)"])
def test_batches_of_inputs_alone_are_told_how_to_give_targets(wrap: bool) -> None:
    # An autoencoder's data, TensorDataset(x): "expected (inputs, targets) pairs" and a generic step_fn hint.
    x = torch.randn(32, 4)
    loader = DataLoader(TensorDataset(x) if wrap else x, batch_size=8)  # type: ignore[arg-type]
    model = nn.Sequential(nn.Linear(4, 2), nn.Linear(2, 4))
    with pytest.raises(DataError, match=r"These batches hold inputs alone, no targets: for a model that reconstructs "
                       r"its inputs \(an autoencoder\), give the inputs as their targets too, "
                       r"DataLoader\(TensorDataset\(x, x\)\), and loss_fn=F\.mse_loss\. For other formats, pass "
                       r"step_fn"):  # fmt: skip
        range_test(model, loader, loss_fn=F.mse_loss, num_steps=12)
    # As told, it runs.
    result = range_test(model, DataLoader(TensorDataset(x, x), batch_size=8), loss_fn=F.mse_loss, num_steps=12)
    assert result.num_steps == 12


def copy_of(value: Any) -> Any:
    """A deep copy of a state dict, tensors cloned."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {k: copy_of(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(copy_of(v) for v in value)
    return value


def same(a: Any, b: Any) -> bool:
    """Whether two state dicts hold equal values, tensors bit for bit."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def test_the_result_records_the_param_groups_whose_lr_it_swept() -> None:
    """With param groups of different LRs, lrs are the group with the largest LR's (the others keep their ratio
    to it): the result did not say which, nor the others' ratios, so a report could not say whose LR it plots."""
    from torch.utils.data import DataLoader

    model = make_mlp()
    opt = torch.optim.SGD(
        [
            {"params": model[0].parameters(), "lr": 0.01, "name": "body"},
            {"params": model[1].parameters(), "lr": 0.01},
            {"params": model[3].parameters(), "lr": 0.1, "name": "head"},
        ]
    )
    loader = DataLoader(make_classification(), batch_size=32)
    result = range_test(model, loader, optimizer=opt, loss_fn=F.cross_entropy, num_steps=20, min_lr=1e-4, max_lr=1.0)
    assert result.lr_ratios == pytest.approx((0.1, 0.1, 1.0)) and result.lr_group == 2
    assert result.group_names == ("body", None, "head")
    again = RangeTestResult.from_json(result.to_json())
    assert (again.lr_ratios, again.group_names) == (result.lr_ratios, result.group_names)
    # The JSON of an older lrfinder has neither key: read as not recorded.
    old = result.to_dict()
    del old["lr_ratios"], old["group_names"]
    legacy = RangeTestResult.from_dict(old)
    assert (legacy.lr_ratios, legacy.group_names, legacy.lr_group) == ((), (), None)
    with pytest.raises(ValueError, match=r"lr_ratios='x' is not a list of numbers"):
        RangeTestResult.from_dict({**old, "lr_ratios": "x"})
    with pytest.raises(ValueError, match=r"lr_ratios in \[0, 1\], the swept group's 1.0 among them"):
        dataclasses.replace(result, lr_ratios=(0.5, 2.0, 1.0))
    with pytest.raises(ValueError, match=r"group_names to hold one string or None per lr_ratio \(3\), but got"):
        dataclasses.replace(result, group_names=("body",))


def _soft_targets() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(512, 10, generator=gen)
    return x, torch.softmax(x @ (2 * torch.randn(10, 4, generator=gen)), dim=-1)


@pytest.mark.parametrize(
    "loss_fn",
    [nn.KLDivLoss(reduction="batchmean"), functools.partial(F.kl_div, reduction="batchmean")],
    ids=["KLDivLoss", "partial(F.kl_div)"],
)
def test_a_kl_divergence_fed_raw_logits_is_told_to_take_log_softmax(loss_fn: Any) -> None:
    """KLDivLoss over raw logits fell from -1 to -6e17 and read "still falling: increase max_lr", nothing else."""
    x, soft = _soft_targets()
    torch.manual_seed(0)
    loader = DataLoader(TensorDataset(x, soft), batch_size=32, shuffle=True)
    with pytest.warns(UserWarning) as record:
        result = range_test(nn.Linear(10, 4), loader, loss_fn=loss_fn, num_steps=40)
    said = [str(w.message) for w in record if "KL divergence" in str(w.message)]
    assert len(said) == 1
    assert re.fullmatch(
        r"The loss went negative \(down to -\S+\), which a KL divergence never is: KLDivLoss/kl_div expects its input "
        r"as log-probabilities .* Take log_softmax of the output in loss_fn: loss_fn=lambda out, y: "
        r"F\.kl_div\(F\.log_softmax\(out, dim=-1\), y, reduction='batchmean'\)\.",
        said[0],
    )
    assert min(result.losses) < 0


def test_a_kl_divergence_over_log_probabilities_is_not_warned_of_even_at_zero() -> None:
    # The model's own weights give the targets: the KL is 0 up to rounding (about 1e-6 here), never a warning.
    x, soft = _soft_targets()
    gen = torch.Generator().manual_seed(0)
    torch.randn(512, 10, generator=gen)
    exact = nn.Linear(10, 4)
    with torch.no_grad():
        exact.weight.copy_(2 * torch.randn(10, 4, generator=gen).T)
        exact.bias.zero_()
    model = nn.Sequential(exact, nn.LogSoftmax(dim=-1))
    loader = DataLoader(TensorDataset(x, soft), batch_size=512)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*KL divergence")
        result = range_test(model, loader, loss_fn=nn.KLDivLoss(reduction="sum"), min_lr=1e-9, max_lr=1e-7,
                            num_steps=20)  # fmt: skip
    assert max(abs(v) for v in result.losses) < 1e-4


@pytest.mark.parametrize(
    "loss_fn", [nn.NLLLoss(), F.nll_loss, functools.partial(F.nll_loss, reduction="mean")],
    ids=["NLLLoss", "F.nll_loss", "partial(F.nll_loss)"],
)
def test_an_nll_loss_fed_raw_logits_is_told_to_take_log_softmax(loss_fn: Any) -> None:
    """NLLLoss over raw logits (minus the target's logit) only fell and read "still falling: increase max_lr"."""
    x, soft = _soft_targets()
    torch.manual_seed(0)
    loader = DataLoader(TensorDataset(x, soft.argmax(dim=-1)), batch_size=32, shuffle=True)
    with pytest.warns(UserWarning) as record:
        result = range_test(nn.Linear(10, 4), loader, loss_fn=loss_fn, num_steps=40)
    said = [str(w.message) for w in record if "negative log-likelihood" in str(w.message)]
    assert len(said) == 1
    assert re.fullmatch(
        r"The loss went negative \(down to -\S+\), which a negative log-likelihood never is: NLLLoss/nll_loss expects "
        r"its input as log-probabilities .* Use cross_entropy, which takes raw logits "
        r"\(lrfind: --loss cross_entropy\), or take log_softmax of the output: "
        r"loss_fn=lambda out, y: F\.nll_loss\(F\.log_softmax\(out, dim=1\), y\)\.",
        said[0],
    )
    assert min(result.losses) < 0


def test_an_nll_loss_over_log_probabilities_is_not_warned_of() -> None:
    x, soft = _soft_targets()
    torch.manual_seed(0)
    loader = DataLoader(TensorDataset(x, soft.argmax(dim=-1)), batch_size=32, shuffle=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*negative log-likelihood")
        result = range_test(nn.Sequential(nn.Linear(10, 4), nn.LogSoftmax(dim=1)), loader, loss_fn=nn.NLLLoss(),
                            num_steps=40)  # fmt: skip
    assert min(result.losses) >= 0


@pytest.mark.parametrize(
    "targets", ["float", "zeros"], ids=["float (N, 1) targets", "class 0 labels"],
)
def test_a_cross_entropy_over_one_score_per_example_is_told_it_is_always_zero(targets: str) -> None:
    """A binary classifier's single logit with CrossEntropyLoss: softmax over one class is 1, the loss 0 at every
    step, and the result read "no step changed the loss ... raise max_lr" with nothing said of the loss."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(256, 10, generator=gen)
    y = (x[:, :1] > 0).float() if targets == "float" else torch.zeros(256, dtype=torch.long)
    torch.manual_seed(0)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    with pytest.warns(UserWarning) as record:
        result = range_test(nn.Linear(10, 1), loader, loss_fn=nn.CrossEntropyLoss(), num_steps=20)
    said = [str(w.message) for w in record if "cross_entropy gave exactly 0" in str(w.message)]
    assert said == [
        "cross_entropy gave exactly 0 at all 20 recorded steps: over an output of one score per example (shape (N, 1), "
        "a binary classifier's single logit) the softmax is 1 and the loss 0 whatever the model, so nothing trains "
        "and the curve reads nothing. For binary targets with one output use BCEWithLogitsLoss (loss_fn=lambda out, "
        "y: F.binary_cross_entropy_with_logits(out, y.float().view_as(out)); lrfind: --loss bce_with_logits); for C "
        "classes give the last layer C outputs."
    ]
    assert set(result.losses) == {0.0} and result.suggestion is None
    with warnings.catch_warnings():  # two scores: a cross-entropy that trains is never told
        warnings.filterwarnings("error", message="cross_entropy gave exactly 0")
        range_test(nn.Linear(10, 2), DataLoader(TensorDataset(x, (x[:, 0] > 0).long()), batch_size=32),
                   loss_fn=nn.CrossEntropyLoss(), num_steps=20)  # fmt: skip


def test_an_optimizer_given_by_name_or_as_a_function_is_told_to_be_built() -> None:
    # train takes a function model -> optimizer, range_test the optimizer: given the function (or a registry name)
    # range_test said only "Expected optimizer to be a torch.optim.Optimizer, but got function".
    loader = [(torch.randn(8, 4), torch.randint(0, 2, (8,)))]
    model = nn.Linear(4, 2)
    said = r"but got a function: range_test takes the optimizer built over the model it tests \(train takes a function"
    with pytest.raises(TypeError, match=said + r" that builds one\)\. Pass optimizer=torch\.optim\.SGD"):
        range_test(model, loader, loss_fn=F.cross_entropy, optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1))
    with pytest.raises(TypeError, match=r"but got the name 'adamw'\. Build it: optimizer=lrfinder\.create_optimizer\("
                       r"'adamw', model, lr=\.\.\.\)$"):  # fmt: skip
        range_test(model, loader, loss_fn=F.cross_entropy, optimizer="adamw")  # type: ignore[arg-type]


def test_several_optimizers_are_told_to_be_swept_one_at_a_time() -> None:
    # A list of optimizers (a GAN's two) was refused with "Expected optimizer to be a torch.optim.Optimizer, but got
    # list" and nothing to do: it says to run one test per optimizer, or the callback under manual optimization.
    loader = [(torch.randn(8, 4), torch.randint(0, 2, (8,)))]
    model = nn.Linear(4, 2)
    both = [torch.optim.SGD([model.weight], lr=0.1), torch.optim.Adam([model.bias], lr=0.1)]
    for given in (both, tuple(both)):
        with pytest.raises(TypeError, match=r"but got a (list|tuple) of 2: range_test sweeps one optimizer\. Run it "
                           r"once per optimizer .*the LRFinder callback: .*under manual optimization\.$"):  # fmt: skip
            range_test(model, loader, loss_fn=F.cross_entropy, optimizer=given)  # type: ignore[arg-type]
    # A list of one (as configure_optimizers returns it) is told to pass the optimizer, not to run once per optimizer.
    with pytest.raises(TypeError, match=r"a list of one: pass the optimizer itself \(optimizer=optimizers\[0\]\)\.$"):
        range_test(model, loader, loss_fn=F.cross_entropy, optimizer=both[:1])  # type: ignore[arg-type]


def test_a_loader_that_yields_none_for_a_batch_is_named_with_its_index() -> None:
    # A collate_fn returning None for a batch it cannot build: "Cannot compute a loss from these batches: each is a
    # NoneType", though the batch before it was fine, and nothing said where it came from.
    x, y = torch.randn(64, 10), torch.randint(0, 3, (64,))

    def collate(items: list[tuple[torch.Tensor, torch.Tensor]]) -> Any:
        xs, ys = torch.stack([i[0] for i in items]), torch.stack([i[1] for i in items])
        return None if float(xs[0, 0]) == float(x[16, 0]) else (xs, ys)

    model = nn.Linear(10, 3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(DataError) as info:
        range_test(model, DataLoader(TensorDataset(x, y), batch_size=16, collate_fn=collate), loss_fn=F.cross_entropy,
                   num_steps=20)  # fmt: skip
    assert str(info.value) == (
        "Batch 1 of the pass is None, not a batch (the first was inputs float32 (16, 10), targets int64 (16,)): a "
        "collate_fn or a dataset that returns None for a batch or an example it cannot build gives one. Drop such "
        "examples in the data pipeline (in collate_fn, return a batch of the others), so that every batch has examples."
    )
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_a_step_fn_that_draws_its_own_data_takes_none_batches_as_before() -> None:
    # A step_fn that samples its data itself (a GAN's noise, a synthetic task) over a loader of Nones ran; the None
    # batch check refused it, though only a loss_fn needs the batch.
    gen = torch.Generator().manual_seed(0)
    seen: list[Any] = []

    def step_fn(model: nn.Module, batch: Any) -> torch.Tensor:
        seen.append(batch)
        x = torch.randn(32, 4, generator=gen)
        return F.cross_entropy(model(x), (x[:, 0] > 0).long())

    result = range_test(nn.Linear(4, 2), [None] * 8, step_fn=step_fn, num_steps=12, max_lr=1e-2)
    assert result.num_steps == 12 and seen == [None] * 12 and result.batch_size is None


def test_a_perfectly_fitted_model_is_not_told_it_has_one_score_per_example() -> None:
    """Two classes whose logits lie 200 apart: the cross-entropy rounds to exactly 0 at every step, as over one
    score per example, and the result was told to use BCEWithLogitsLoss or give the last layer C outputs."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(256, 10, generator=gen)
    x[:, 0] += torch.where(x[:, 0] >= 0, 1.0, -1.0)  # every example at least 1 from the boundary
    y = (x[:, 0] > 0).long()
    model = nn.Linear(10, 2)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
        model.weight[:, 0] = torch.tensor([-100.0, 100.0])
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="cross_entropy gave exactly 0")
        result = range_test(model, DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True),
                            loss_fn=nn.CrossEntropyLoss(), num_steps=20)  # fmt: skip
    assert set(result.losses) == {0.0} and result.suggestion is None


def test_a_plain_loss_object_holding_more_than_the_copy_limit_is_left_as_it_is(
    mlp: nn.Module, loader: DataLoader, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its tensors are not copied (data kept on the loss object would double in memory): left, as before.
    import lrfinder.snapshot as snapshot_module

    monkeypatch.setattr(snapshot_module, "ATTRIBUTE_COPY_LIMIT", 1024)
    loss = _AnnealedCE()
    loss.table = torch.zeros(1024)  # 4 KiB of plain values: over the limit
    range_test(mlp, loader, loss_fn=loss, num_steps=10, max_lr=1e-1)
    assert loss._calls == 10 and len(loss.seen) == 11


def test_the_repr_of_a_long_result_shows_the_curve_in_brief_and_every_other_field() -> None:
    # print(result) (a notebook cell's last line) wrote all 2,000 LRs and losses in full, some 80,000
    # characters of digits, before the suggestion.
    lrs = [float(v) for v in lrfinder.lr_schedule(1e-6, 10.0, 2000)]
    x = np.log10(lrs)
    losses = [float(v) for v in 2.3 - 1.8 / (1 + np.exp(-(x + 2.0) * 3)) + np.where(x > -0.8, (x + 0.8) ** 2 * 4, 0)]
    from lrfinder.range_test import finish_result

    result = finish_result(lrs, losses, "completed", settings=RangeTestSettings(1e-6, 10.0, 2000), batch_size=32)
    assert result.suggestion is not None
    text = repr(result)
    assert len(text) < 1200, len(text)
    assert str(result) == text
    assert text.startswith(
        f"RangeTestResult(lrs=<2000 values 1.00e-06 .. 1.00e+01>, losses=<2000 values: first {losses[0]:.3g}, "
        f"lowest {min(losses):.3g}, last {losses[-1]:.3g}>, stop_reason='completed', settings=RangeTestSettings("
    )
    # Every other field as the dataclass writes it.
    assert repr(result.suggestion) in text and "batch_size=32" in text and text.endswith("group_names=())")
    for f in dataclasses.fields(result):
        assert f"{f.name}=" in text
    # A curve with no finite loss, and an empty one, are said as such.
    nan = RangeTestResult(lrs=(1e-3,), losses=(math.nan,), stop_reason="non_finite")
    assert "lrs=<1 value 1.00e-03 .. 1.00e-03>, losses=<1 value: first nan, none finite, last nan>" in repr(nan)
    assert repr(RangeTestResult(lrs=(), losses=(), stop_reason="interrupted")).startswith(
        "RangeTestResult(lrs=(), losses=(), stop_reason='interrupted'"
    )
    # A refined result's trials write their losses in brief too: a trial of a long training's budget runs thousands.
    trial = Trial(lr=0.1, schedule="constant", steps=2000, train_losses=tuple(losses), held_out_loss=0.5,
                  held_out_losses=(0.4, 0.6), diverged=False)  # fmt: skip
    refined = dataclasses.replace(result, refinement=Refinement(
        trials=(trial,) * 5, lr=0.1, max_lr=0.1, curve_lr=0.1, schedule="constant", training_steps=100_000, budget=0.1,
        judged_on="val_data"))  # fmt: skip
    assert len(repr(refined)) < 3000, len(repr(refined))
    assert repr(trial) == (
        f"Trial(lr=0.1, schedule='constant', steps=2000, train_losses=<2000 values: first {losses[0]:.3g}, lowest "
        f"{min(losses):.3g}, last {losses[-1]:.3g}>, held_out_loss=0.5, held_out_losses=<2 values: first 0.4, lowest "
        "0.4, last 0.6>, diverged=False)"
    )


def test_a_second_ctrl_c_while_the_state_is_put_back_waits_until_all_of_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C that arrived while the restore ran (a second one, after the first stopped the sweep) stopped it
    half-way: here the loader's generator (the data order) was left where the test had drawn it to; a Ctrl-C
    among the weights' copies left some of the weights at the test's. The interrupt now comes after the restore."""
    import signal

    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = DataLoader(make_classification(), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(1))
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    order = loader.generator.get_state()
    rng = torch.get_rng_state()
    set_state = np.random.set_state

    def interrupted_set_state(state: Any) -> None:  # the restore puts numpy's RNG back between torch's and the data's
        os.kill(os.getpid(), signal.SIGINT)
        set_state(state)

    monkeypatch.setattr(np.random, "set_state", interrupted_set_state)
    # Python's own SIGINT handler, as in a user's process, whatever an earlier test of this process left there: the
    # whole suite in a fresh virtualenv once saw no KeyboardInterrupt here (passing alone and in CI).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            lrfinder.range_test(model, loader, optimizer=optimizer, loss_fn=F.cross_entropy, num_steps=20)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    assert torch.equal(loader.generator.get_state(), order) and torch.equal(torch.get_rng_state(), rng)
    assert optimizer.state_dict()["state"] == {}


def test_param_groups_a_step_fn_adds_or_extends_are_put_back(loader: DataLoader) -> None:
    # A step_fn unfreezing layers as it goes (add_param_group, or appending to a group's params) left the optimizer
    # with the test's groups: the training after it stepped the last layer too, from momentum the test built.
    model = make_mlp()
    opt = torch.optim.SGD(model[0].parameters(), lr=0.01, momentum=0.9)
    train(model, opt, loader, epochs=1)
    params = opt.param_groups[0]["params"]
    before = copy.deepcopy(opt.state_dict())

    def unfreezing(m: nn.Module, batch: Any) -> torch.Tensor:
        if len(opt.param_groups) == 1:
            opt.add_param_group({"params": list(m[3].parameters())})
            params.extend(m[1].parameters())
        return F.cross_entropy(m(batch[0]), batch[1])

    range_test(model, loader, optimizer=opt, step_fn=unfreezing, num_steps=12)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"] and opt.param_groups[0]["params"] is params
    assert after["state"].keys() == before["state"].keys()
    for key, saved in before["state"].items():
        assert torch.equal(after["state"][key]["momentum_buffer"], saved["momentum_buffer"])


class _WithEma:
    """A training setup object whose ``step`` (passed as ``step_fn``) updates an EMA copy of the model it keeps."""

    def __init__(self, model: nn.Module) -> None:
        self.ema = torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.9)
        )

    def step(self, m: nn.Module, batch: Any) -> torch.Tensor:
        loss = F.cross_entropy(m(batch[0]), batch[1])
        self.ema.update_parameters(m)
        return loss


@pytest.mark.parametrize("held", ["closure", "method"])
def test_an_ema_copy_a_step_fn_updates_is_restored(held: str, loader: DataLoader) -> None:
    # An EMA copy held by the step_fn (in its closure, or by the object it is a method of) took in every step of
    # the test, at every swept LR (up to the blow-up): n_averaged counted the test's steps and the averaged weights
    # were the test's, without a word, and the training after it averaged on from there.
    model = make_mlp()
    setup = _WithEma(model)
    ema = setup.ema

    def closure_step(m: nn.Module, batch: Any) -> torch.Tensor:
        loss = F.cross_entropy(m(batch[0]), batch[1])
        ema.update_parameters(m)
        return loss

    ema.update_parameters(model)
    before = {k: v.clone() for k, v in ema.state_dict().items()}
    step_fn = closure_step if held == "closure" else setup.step
    range_test(model, loader, step_fn=step_fn, num_steps=12, max_lr=1.0)
    after = ema.state_dict()
    assert int(after["n_averaged"]) == 1
    assert all(torch.equal(after[k], v) for k, v in before.items())


def test_a_large_module_a_step_fn_updates_is_named_if_changed(
    loader: DataLoader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules["lrfinder.snapshot"], "ATTRIBUTE_COPY_LIMIT", 1024)  # the EMA has over 2 KiB
    model = make_mlp()
    setup = _WithEma(model)
    pattern = r"_WithEma\.ema \(a module outside the model\) was changed during the test and is not put back"
    with pytest.warns(UserWarning, match=pattern):
        range_test(model, loader, step_fn=setup.step, num_steps=12, max_lr=1.0)


def test_counts_of_one_are_written_in_the_singular() -> None:
    # "interrupted after 1 steps", "exactly 0 at all 1 recorded steps", "for each of the 1 lr_ratios".
    from lrfinder.diagnostics import zero_cross_entropy_message
    from lrfinder.range_test import finish_result

    lrs = lr_schedule(1e-6, 10.0, 100)[:1]
    error = finish_result(lrs, [2.3], "interrupted").error
    assert error is not None and error.startswith(f"The test was interrupted after 1 step, at lr={lrs[0]:.2e}, before")
    said = zero_cross_entropy_message(torch.nn.functional.cross_entropy, [0.0], (32, 1))
    assert said is not None and said.startswith("cross_entropy gave exactly 0 at its one recorded step: over an ")
    said = zero_cross_entropy_message(torch.nn.functional.cross_entropy, [0.0, 0.0], (32, 1))
    assert said is not None and said.startswith("cross_entropy gave exactly 0 at all 2 recorded steps: over an ")
    result = finish_result(lr_schedule(1e-6, 10.0, 100), [2.0] * 100, "completed", lr_ratios=(1.0,))
    with pytest.raises(ValueError, match=r"group_names to hold one string or None per lr_ratio \(1\), but got "):
        dataclasses.replace(result, group_names=("body", "head"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sgd_swept_from_an_lr_where_it_already_diverges_is_not_only_told_the_model_may_be_trained(seed: int) -> None:
    # min_lr=3 on a small ReLU MLP under plain SGD: the loss climbs from its first steps, wobbles and blows up 0.3-0.4
    # decades above min_lr. It was told to "lower min_lr (the model may already be trained at these LRs)" for an
    # untrained model at its loss at chance; now both reasons a blow-up that close to min_lr can have are said.
    torch.manual_seed(seed)
    x, y = torch.randn(256, 20), torch.randint(0, 10, (256,))
    data = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 256, 32)]
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10))
    result = range_test(
        model, data, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), loss_fn=F.cross_entropy, min_lr=3.0,
        max_lr=1e3, num_steps=100,
    )
    assert result.suggestion is None and result.error is not None
    assert re.search(
        r"lower min_lr \(the loss blew up only 0\.\d decades above min_lr: the model may already be trained at these "
        r"LRs, or the swept range starts just below where it diverges\)",
        result.error,
    ), result.error


def test_a_curve_recorded_elsewhere_becomes_a_result_with_its_own_settings(tmp_path: Path) -> None:
    # A peer's curve (torch-lr-finder's history, fastai's recorder) read into a result: the settings are the
    # curve's, the suggestion analyze's, and the result round-trips through JSON like one range_test returned.
    lrs = np.logspace(-5.0, 0.0, 70)
    x = np.log10(lrs)
    loss = 1.0 + np.tanh(-(x + 3.0)) + np.where(x > -1.0, 30.0 * (x + 1.0) ** 2, 0.0)
    loss = loss + np.random.default_rng(1).normal(0.0, 0.01, x.size)
    result = RangeTestResult.from_curve(lrs, loss, optimizer_name="SGD", batch_size=64)
    s = result.settings
    assert (s.mode, s.num_steps, s.stop_factor, s.curve) == ("exp", 70, None, "train")
    assert math.isclose(s.min_lr, 1e-5) and math.isclose(s.max_lr, 1.0)
    assert result.suggestion is not None and result.suggestion.lr == analyze(lrs, loss).lr
    assert (result.stop_reason, result.optimizer_name, result.batch_size) == ("completed", "SGD", 64)
    assert RangeTestResult.from_json(result.to_json(tmp_path / "peer.json")) == result
    linear = RangeTestResult.from_curve(torch.linspace(1e-4, 1e-1, 30).tolist(), loss[:30], curve="val")
    assert (linear.settings.mode, linear.settings.curve) == ("linear", "val")
    blown = RangeTestResult.from_curve(lrs[:40], [*loss[:39], float("nan")])  # the stop is the last loss's
    assert (blown.stop_reason, blown.stop_words) == ("non_finite", f"stopped: non-finite loss at lr={lrs[39]:.2e}")
    assert result.stop_words == "completed: no stop rule, stop_factor=None"
    flat = RangeTestResult.from_curve(lrs, np.ones_like(lrs), stop_reason="interrupted")
    assert flat.suggestion is None and flat.error is not None and flat.error.startswith("The test was interrupted")


@pytest.mark.parametrize(
    ("lrs", "losses", "kwargs", "match"),
    [
        ([1e-3], [1.0], {}, "at least 2 points"),
        ([1e-3, 1e-2], [1.0], {}, "the same length"),
        ([1e-2, 1e-3], [1.0, 1.0], {}, "strictly increasing"),
        ([1e-3, 1e-2], [1.0, 1.0], {"stop_reason": "done"}, "stop_reason"),
        ([1e-3, 1e-2], [1.0, 1.0], {"curve": "valid"}, "Did you mean 'val'"),
        ([1e-3, 1e-2], [1.0, 1.0], {"settings": RangeTestSettings()}, "reads the settings off the curve"),
    ],
)
def test_a_curve_no_sweep_records_is_refused_by_from_curve(lrs, losses, kwargs, match) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        RangeTestResult.from_curve(lrs, losses, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"batchsize": 32}, r"'batchsize'\. Did you mean 'batch_size'\? It takes stop_reason=, rule=, curve= and "
                            r"batch_size=, model_name=, .*group_names=$"),
        ({"window": 11}, r"'window': it reads the curve with analyze's default window; drop window=, and call "
                         r"\.analyze\(window=\.\.\.\) on the result it returns"),
        ({"optimizer": "adam"}, r"'optimizer': pass the optimizer's name as optimizer_name="),
        ({"suggestion": None}, r"'suggestion': it computes suggestion from the curve; drop suggestion=$"),
    ],
)
def test_from_curve_names_the_keywords_it_takes(kwargs: dict[str, Any], fix: str) -> None:
    # They reached the dataclass: "RangeTestResult.__init__() got an unexpected keyword argument 'window'" (no
    # from_curve, no spelling it takes), or "got multiple values for keyword argument 'suggestion'".
    lrs = np.logspace(-5, 0, 20)
    with pytest.raises(TypeError, match=r"^RangeTestResult\.from_curve\(\) got an unexpected keyword argument " + fix):
        RangeTestResult.from_curve(lrs, np.ones(20), **kwargs)


def test_stop_words_say_what_completed_means() -> None:
    # "completed" alone read against the analysis's "the loss did blow up" (the stop rule waits for stop_factor x the
    # best loss): the words say what the stop rule judged. The example and lrfind's summary print them.
    lrs, losses = (1e-3, 1e-2, 1e-1), (2.0, 1.0, 3.0)
    done = RangeTestResult(lrs=lrs, losses=losses, stop_reason="completed", settings=RangeTestSettings(stop_factor=4))
    assert done.stop_words == "completed: the loss never passed the stop rule's 4x its best"
    assert dataclasses.replace(done, stop_reason="diverged").stop_words == (
        "stopped: diverged at lr=1.00e-01, where the loss passed 4x its best"
    )
    off = dataclasses.replace(done, settings=RangeTestSettings(stop_factor=None))
    assert off.stop_words == "completed: no stop rule, stop_factor=None"


def test_a_sweep_stopped_early_says_the_lr_it_stopped_at() -> None:
    # "steps 88/100 (stopped: diverged)" sat above the divergence row's 3.85e-01 (the analysis's reading of the
    # smoothed curve), which read as where the sweep stopped; it stopped at 2.48e+00. "stopped: non_finite" was the
    # code's name. Each says why and where; the stop_lr is the first non-finite loss's LR, else the last LR.
    lrs, losses = (1e-3, 1e-2, 1e-1, 1.0), (2.0, 1.0, float("nan"), 3.0)
    settings = RangeTestSettings(min_lr=1e-3, max_lr=1.0, num_steps=4, stop_factor=4)
    nan = RangeTestResult(lrs=lrs, losses=losses, stop_reason="non_finite", settings=settings)
    assert (nan.stop_lr, nan.stop_words) == (1e-1, "stopped: non-finite loss at lr=1.00e-01")
    cut = dataclasses.replace(nan, stop_reason="interrupted")
    assert (cut.stop_lr, cut.stop_words) == (1.0, "stopped: interrupted at lr=1.00e+00")
    unruled = dataclasses.replace(nan, stop_reason="diverged", settings=dataclasses.replace(settings, stop_factor=None))
    assert unruled.stop_words == "stopped: diverged at lr=1.00e+00"
    assert dataclasses.replace(nan, stop_reason="completed").stop_lr is None
    never = RangeTestResult(lrs=(), losses=(), stop_reason="interrupted", settings=settings)
    assert (never.stop_lr, never.stop_words) == (None, "stopped: interrupted")


_DATA = Path(__file__).parent / "data"


def _saved(name: str = "refined_noise_result.json") -> dict[str, Any]:
    with open(_DATA / name, encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.parametrize("key", ["min_lr", "max_lr", "num_steps", "mode", "stop_factor", "accumulate_steps"])
def test_a_result_file_without_a_setting_every_lrfinder_writes_is_refused_naming_it(key: str) -> None:
    # Filled with RangeTestSettings' defaults without a word: a file without min_lr/max_lr/num_steps read as a sweep
    # of 1e-07 .. 1e+01 in 100 steps, which its report's header claimed.
    data = _saved()
    del data["settings"][key]
    with pytest.raises(ValueError, match=rf"Malformed range-test result: settings has no '{key}' \(.+\); every "
                                         r"lrfinder writes it \(was the file edited\?\)\. Add it as the run that "
                                         r"recorded the curve had it$"):  # fmt: skip
        RangeTestResult.from_dict(data)


@pytest.mark.parametrize("name", sorted(p.name for p in _DATA.glob("*.json")))
def test_the_files_of_earlier_versions_still_load_without_the_settings_added_later(name: str) -> None:
    data = _saved(name)
    assert RangeTestResult.from_dict(data).settings is not None
    for key in ("precision", "gradient_clip_val", "gradient_clip_algorithm", "world_size", "curve"):
        data["settings"].pop(key, None)
    settings = RangeTestResult.from_dict(data).settings
    assert (settings.precision, settings.gradient_clip_val, settings.world_size, settings.curve) == ("32", None, 1,
                                                                                                     "train")


def test_a_stored_suggestion_over_no_finite_loss_is_refused() -> None:
    # It was kept: the report drew the suggested LR over an empty loss panel, lrfind report printed it as read.
    data = _saved()
    data["losses"] = [None] * len(data["losses"])
    with pytest.raises(ValueError, match=r"holds a suggestion \(lr=4.53e-02\) but no finite loss \(95 losses, every "
                                         r"one null, NaN or infinite\).*Restore the losses, or set \"suggestion\" "
                                         r"to null$"):  # fmt: skip
        RangeTestResult.from_dict(data)
    data["suggestion"] = None  # what the message says: read, not analysed
    result = RangeTestResult.from_dict(data)
    assert result.suggestion is None and not any(math.isfinite(v) for v in result.losses)


def test_whole_number_floats_in_a_result_files_integer_fields_are_read_as_ints() -> None:
    # "batch_size": 32.0 (a JSON writer of numpy floats, a spreadsheet) was refused: "is not an integer >= 1".
    data = _saved()
    want = RangeTestResult.from_dict(data)
    edited = copy.deepcopy(data)
    edited["batch_size"] = 32.0
    edited["settings"]["num_steps"] = float(data["settings"]["num_steps"])
    edited["settings"]["accumulate_steps"] = 1.0
    edited["suggestion"]["window"] = float(data["suggestion"]["window"])
    edited["scaled"]["to_batch_size"] = float(data["scaled"]["to_batch_size"])
    edited["noise_scale"]["steps"] = [float(v) for v in data["noise_scale"]["steps"]]
    edited["noise_scale"]["n_estimates"] = float(data["noise_scale"]["n_estimates"])
    before = copy.deepcopy(edited)
    got = RangeTestResult.from_dict(edited)
    assert got == want and type(got.batch_size) is int and type(got.settings.num_steps) is int
    assert got.to_dict() == want.to_dict()
    assert edited == before  # the caller's mapping is left as it is
    for key, value in (("batch_size", 32.5), ("batch_size", True), ("num_parameters", 1e400)):
        with pytest.raises(ValueError, match=rf"{key}=.* is not an integer"):
            RangeTestResult.from_dict({**data, key: value})
