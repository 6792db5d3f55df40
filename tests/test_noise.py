from __future__ import annotations

import copy
import json
import math
import re
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _models import linear_regression_truth, regression_data
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from lrfinder import range_test
from lrfinder.exceptions import NoiseScaleError
from lrfinder.noise import (
    NOISE_BLOCK,
    NoiseProbe,
    NoiseScale,
    noise_scale_from_norms,
    probe_steps,
    split_batch,
    squared_norm,
)


def expected_sq(grad_sq: float, trace: float, batch: int) -> float:
    """E|G_B|^2 = |G|^2 + tr(Sigma) / B."""
    return grad_sq + trace / batch


# --- the estimator, exact answers ---------------------------------------------------------------


def test_exact_expected_norms_give_exact_noise_scale() -> None:
    grad_sq, trace = 2.5, 400.0
    ns = noise_scale_from_norms(
        [expected_sq(grad_sq, trace, 8)], [expected_sq(grad_sq, trace, 128)], small_batch_size=8, big_batch_size=128
    )
    assert ns.grad_sq == pytest.approx(grad_sq, rel=1e-12)
    assert ns.trace_sigma == pytest.approx(trace, rel=1e-12)
    assert ns.b_simple == pytest.approx(160.0, rel=1e-12)
    assert (ns.small_batch_size, ns.big_batch_size, ns.n_estimates) == (8, 128, 1)
    assert all(math.isnan(v) for v in ns.interval)


def test_numerator_and_denominator_are_averaged_before_the_ratio() -> None:
    # Step 1: |G|^2 = 1, tr = 10; step 2: |G|^2 = 3, tr = 90. Ratio of means 100/4 = 25, mean of
    # ratios (10 + 30) / 2 = 20.
    s = [expected_sq(1, 10, 2), expected_sq(3, 90, 2)]
    b = [expected_sq(1, 10, 6), expected_sq(3, 90, 6)]
    ns = noise_scale_from_norms(s, b, small_batch_size=2, big_batch_size=6, steps=[3, 7])
    assert ns.b_simple == pytest.approx(25.0)
    assert ns.steps == (3, 7) and ns.n_estimates == 2
    low, high = ns.interval
    assert low == pytest.approx(10.0) and high == pytest.approx(30.0)
    assert low <= ns.b_simple <= high


def test_micro_batch_estimate_is_the_sample_variance_of_micro_gradients() -> None:
    # With k micro-batches of size B_s: B_s/(k-1) * sum |g_j - mean|^2 is the usual unbiased
    # estimate of tr(Sigma); the two-size formula must reduce to exactly that.
    rng = np.random.default_rng(3)
    g = rng.normal(size=(5, 7)) + 2.0
    small = float(np.mean(np.sum(g**2, axis=1)))
    big = float(np.sum(g.mean(axis=0) ** 2))
    ns = noise_scale_from_norms([small], [big], small_batch_size=4, big_batch_size=20)
    sample_var = np.sum((g - g.mean(axis=0)) ** 2) / (5 - 1)
    assert ns.trace_sigma == pytest.approx(4 * sample_var, rel=1e-12)
    assert ns.grad_sq == pytest.approx(big - sample_var / 5, rel=1e-12)


def probe_regression_step(probe: NoiseProbe, model: nn.Module, step: int, x: torch.Tensor, y: torch.Tensor) -> None:
    """One training step of a squared-error regression with the probe's sub-batch pass."""

    def loss_of(batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return 0.5 * (model(batch[0]).reshape(-1) - batch[1]).pow(2).mean()

    model.zero_grad()
    probe.sub_batch(model, (x, y), loss_of)
    loss = loss_of((x, y))
    loss.backward()
    probe.end_step(step, float(loss.detach()))


def test_linear_regression_matches_closed_form_covariance() -> None:
    d, sigma, b_b, steps = 6, 2.0, 64, 600
    gen = torch.Generator().manual_seed(0)
    w_star = torch.randn(d, generator=gen, dtype=torch.float64)
    model = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_((w_star + 0.5).reshape(1, d))
    r = (model.weight.detach().reshape(-1) - w_star).numpy()
    true_g2, true_trace = linear_regression_truth(d, r, sigma)
    probe = NoiseProbe(model.parameters())
    for step in range(steps):
        x = torch.randn(b_b, d, generator=gen, dtype=torch.float64)
        y = x @ w_star + sigma * torch.randn(b_b, generator=gen, dtype=torch.float64)
        probe_regression_step(probe, model, step, x, y)
    ns = probe.estimate()
    assert (ns.small_batch_size, ns.big_batch_size, ns.source) == (b_b // 4, b_b, "sub-batch")
    assert ns.n_estimates == steps
    assert ns.trace_sigma == pytest.approx(true_trace, rel=0.1)
    assert ns.grad_sq == pytest.approx(true_g2, rel=0.15)
    truth = true_trace / true_g2
    assert ns.b_simple == pytest.approx(truth, rel=0.2)
    assert ns.interval[0] <= truth <= ns.interval[1]
    assert ns.interval[1] - ns.interval[0] < truth


def test_accumulation_source_matches_closed_form() -> None:
    d, sigma, micro, k, steps = 5, 1.0, 4, 4, 500
    gen = torch.Generator().manual_seed(1)
    w_star = torch.randn(d, generator=gen, dtype=torch.float64)
    model = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_((w_star - 0.3).reshape(1, d))
    r = (model.weight.detach().reshape(-1) - w_star).numpy()
    true_g2, true_trace = linear_regression_truth(d, r, sigma)
    probe = NoiseProbe(model.parameters())
    hooks = probe.watch_backward()
    for step in range(steps):
        model.zero_grad(set_to_none=True)
        for _ in range(k):
            x = torch.randn(micro, d, generator=gen, dtype=torch.float64)
            y = x @ w_star + sigma * torch.randn(micro, generator=gen, dtype=torch.float64)
            probe.before_backward()
            (0.5 * (model(x).reshape(-1) - y).pow(2).mean() / k).backward()
            probe.after_backward()
        probe.end_backward_step(step, micro, k)
    for hook in hooks:
        hook.remove()
    ns = probe.estimate()
    assert (ns.small_batch_size, ns.big_batch_size, ns.source) == (micro, micro * k, "accumulation")
    assert ns.b_simple == pytest.approx(true_trace / true_g2, rel=0.2)


# --- unmeasurable ---------------------------------------------------------------------------------


def test_pure_noise_gradient_is_unmeasurable_with_the_reason() -> None:
    # |G| = 0: E|G_B|^2 = tr / B exactly, so |G|^2 is estimated at 0.
    with pytest.raises(NoiseScaleError, match=r"pure noise.*far above 32"):
        noise_scale_from_norms([100 / 8], [100 / 32], small_batch_size=8, big_batch_size=32)
    # Below 0 by sampling noise: the same.
    with pytest.raises(NoiseScaleError, match=r"\|G\|\^2 is estimated at -"):
        noise_scale_from_norms([13.0], [3.0], small_batch_size=8, big_batch_size=32)


def test_noiseless_gradient_is_unmeasurable() -> None:
    with pytest.raises(NoiseScaleError, match=r"tr\(Sigma\).*no noise"):
        noise_scale_from_norms([4.0, 4.0], [4.0, 4.0], small_batch_size=8, big_batch_size=32)


def test_below_one_example_is_unmeasurable() -> None:
    # tr(Sigma) at rounding level against |G|^2 = 4: no sampling noise, not a critical batch of 1e-8.
    with pytest.raises(NoiseScaleError, match=r"below one example.*whole dataset"):
        noise_scale_from_norms([4.0 + 1e-8], [4.0], small_batch_size=8, big_batch_size=32)
    # Half an example, gradients 1.2% apart at batches 32 and 128 (a language model's first steps): the
    # message said they were equal "to within rounding", and asked only whether every batch is the whole dataset.
    with pytest.raises(NoiseScaleError, match=r"0\.5, below one example.*only 1\.2% above.*points the same way"):
        noise_scale_from_norms([1 + 0.5 / 32], [1 + 0.5 / 128], small_batch_size=32, big_batch_size=128)
    # Just above one example is a measurement.
    assert noise_scale_from_norms([1 + 1.5 / 8], [1 + 1.5 / 32], small_batch_size=8, big_batch_size=32).b_simple == (
        pytest.approx(1.5)
    )


def test_micro_batches_of_unequal_sizes_are_named_as_the_reason_nothing_was_measured() -> None:
    # Every accumulated step mixes a batch of 8 and one of 7: no step pairs. The error advised
    # starting the sweep lower, which changes nothing.
    import torch.nn.functional as F

    from lrfinder import range_test

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    batches = [(torch.randn(n, 4), torch.randint(0, 3, (n,))) for n in [8, 7] * 40]
    result = range_test(model, batches, loss_fn=F.cross_entropy, accumulate_steps=2, num_steps=30, noise_scale=True)
    assert result.noise_scale is None and result.noise_error is not None
    assert "micro-batches of an accumulated step differ in size" in result.noise_error
    assert "drop_last=True" in result.noise_error


def test_batches_of_the_whole_dataset_leave_the_noise_scale_unmeasured() -> None:
    # 48 rows, batch 64: every step's gradient is the full-data gradient. The old estimator reported
    # a "critical batch" of about 1e-4 examples from rounding.
    from lrfinder import range_test

    data, _ = regression_data(48, 4, 0.5, seed=3)
    model = nn.Linear(4, 1).double()
    result = range_test(
        model, _loader(data, batch_size=64), loss_fn=_half_mse, max_lr=1.0, num_steps=60, noise_scale=True
    )
    assert result.noise_scale is None
    assert result.noise_error is not None
    assert "the data gives 1 batch per pass, too few to compare" in result.noise_error


@pytest.mark.parametrize(("rows", "batch_size", "accumulate_steps"), [(96, 128, 1), (96, 32, 1), (96, 32, 4)])
def test_data_of_fewer_batches_than_an_estimate_compares_leaves_the_noise_scale_unmeasured(
    rows: int, batch_size: int, accumulate_steps: int
) -> None:
    # lrfind run --batch-size 5000 over 1,400 rows: every step drew the whole set, and the steps' gradients,
    # apart only by dropout and the weights' move, gave a "critical batch ≈ 7.3 (90% 7.1-7.4)". Three batches
    # a pass repeat within a block of 4 steps; three micro-batches within a step of 4.
    from lrfinder import range_test

    gen = torch.Generator().manual_seed(0)
    inputs, targets = torch.randn(rows, 8, generator=gen), torch.randint(0, 3, (rows,), generator=gen)
    data = torch.utils.data.TensorDataset(inputs, targets)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3))
    result = range_test(
        model,
        _loader(data, batch_size),
        loss_fn=nn.functional.cross_entropy,
        num_steps=40,
        accumulate_steps=accumulate_steps,
        noise_scale=True,
    )
    assert result.noise_scale is None
    passes = -(-rows // batch_size)
    assert result.noise_error is not None
    assert f"the data gives {passes} {'batch' if passes == 1 else 'batches'} per pass" in result.noise_error
    assert ("micro-batches" in result.noise_error) == (accumulate_steps > 1)


def test_data_of_as_many_batches_as_an_estimate_compares_is_measured() -> None:
    from lrfinder import range_test

    gen = torch.Generator().manual_seed(0)
    inputs, targets = torch.randn(128, 8, generator=gen), torch.randint(0, 3, (128,), generator=gen)
    data = torch.utils.data.TensorDataset(inputs, targets)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    result = range_test(
        model, _loader(data, 128 // NOISE_BLOCK), loss_fn=nn.functional.cross_entropy, num_steps=40, noise_scale=True
    )
    assert result.noise_error is None or "per pass" not in result.noise_error


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_norms_are_unmeasurable(bad: float) -> None:
    with pytest.raises(NoiseScaleError, match="NaN or inf"):
        noise_scale_from_norms([1.0, bad], [0.5, 0.5], small_batch_size=8, big_batch_size=32)


def test_pure_noise_through_the_probe() -> None:
    # At the optimum of a noisy linear regression G = 0: whatever the sample says, the result is
    # either an error or a noise scale whose interval reaches past any batch measured.
    gen = torch.Generator().manual_seed(5)
    d = 4
    model = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.zero_()
    probe = NoiseProbe(model.parameters())
    for step in range(40):
        x = torch.randn(64, d, generator=gen, dtype=torch.float64)
        y = torch.randn(64, generator=gen, dtype=torch.float64)
        probe_regression_step(probe, model, step, x, y)
    try:
        ns = probe.estimate()
    except NoiseScaleError as exc:
        assert "pure noise" in str(exc)
    else:
        assert ns.interval[1] > 10 * 64


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"small_batch_size": 32, "big_batch_size": 32}, "big_batch_size > small_batch_size"),
        ({"small_batch_size": 0, "big_batch_size": 32}, "small_batch_size to be a positive integer"),
        ({"small_batch_size": 8.0, "big_batch_size": 32}, "small_batch_size to be a positive integer"),
    ],
)
def test_bad_batch_sizes(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        noise_scale_from_norms([2.0], [1.0], **kwargs)  # type: ignore[arg-type]


def test_bad_lengths() -> None:
    with pytest.raises(ValueError, match="same length"):
        noise_scale_from_norms([2.0, 1.0], [1.0], small_batch_size=8, big_batch_size=32)
    with pytest.raises(ValueError, match="at least one"):
        noise_scale_from_norms([], [], small_batch_size=8, big_batch_size=32)
    with pytest.raises(ValueError, match="one step index per pair"):
        noise_scale_from_norms([2.0], [1.0], small_batch_size=8, big_batch_size=32, steps=[1, 2])


def test_numpy_batch_sizes_accepted() -> None:
    ns = noise_scale_from_norms(
        np.array([expected_sq(1, 64, 8)]), [expected_sq(1, 64, 32)], small_batch_size=np.int64(8), big_batch_size=32
    )
    assert ns.b_simple == pytest.approx(64.0)
    assert type(ns.small_batch_size) is int


# --- the result ---------------------------------------------------------------------------------


def test_round_trip_through_json_with_an_unbounded_interval() -> None:
    ns = NoiseScale(
        b_simple=123.0,
        grad_sq=0.5,
        trace_sigma=61.5,
        small_batch_size=8,
        big_batch_size=32,
        n_estimates=5,
        interval=(40.0, math.inf),
        steps=(0, 10, 20, 30, 40),
        source="sub-batch",
    )
    back = NoiseScale.from_dict(json.loads(json.dumps(ns.to_dict(), allow_nan=False)))
    assert back == ns
    assert "critical batch ≈ 123" in ns.summary() and "∞" in ns.summary()
    # The source in words, not its JSON name.
    assert ns.summary().endswith("; 5 estimates from sub-batches)")
    assert replace(ns, source="steps", n_estimates=1).summary().endswith("; 1 estimate from blocks of steps)")


def test_interval_is_reproducible_and_leaves_global_rng_alone() -> None:
    rng = np.random.default_rng(0)
    s = 10 + rng.normal(size=30)
    b = 4 + 0.2 * rng.normal(size=30)
    state = np.random.get_state()
    a1 = noise_scale_from_norms(s, b, small_batch_size=4, big_batch_size=16)
    a2 = noise_scale_from_norms(s, b, small_batch_size=4, big_batch_size=16)
    assert a1 == a2
    assert np.array_equal(np.random.get_state()[1], state[1])


# --- the probe's side effects -------------------------------------------------------------------


def test_sub_batch_leaves_grads_buffers_and_rng_alone() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.Dropout(0.3), nn.Linear(8, 2))
    model.train()
    x, y = torch.randn(32, 5), torch.randint(0, 2, (32,))
    nn.functional.cross_entropy(model(x), y).backward()
    grads = [p.grad.clone() for p in model.parameters()]  # type: ignore[union-attr]
    buffers = [b.clone() for b in model.buffers()]
    rng = torch.get_rng_state()
    probe = NoiseProbe(model.parameters())
    probe.sub_batch(model, (x, y), lambda batch: nn.functional.cross_entropy(model(batch[0]), batch[1]))
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, model.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(buffers, model.buffers()))
    assert torch.equal(rng, torch.get_rng_state())
    probe.end_step(0, 1.0)
    assert probe.sizes == [(8, 32)] and probe.small_sq[0] > 0


def test_unsplittable_batch_is_skipped_with_a_reason() -> None:
    model = nn.Linear(2, 1)
    probe = NoiseProbe(model.parameters())
    probe.sub_batch(model, "not a batch", lambda batch: model(torch.zeros(1, 2)).sum())
    probe.end_step(0, 1.0)
    with pytest.raises(NoiseScaleError, match="cannot be split"):
        probe.estimate()


def test_estimate_keeps_only_steps_before_the_cut() -> None:
    probe = NoiseProbe([nn.Parameter(torch.zeros(1))])
    probe.small_sq, probe.big_sq = [9.0, 9.0, 1e6], [3.0, 3.0, 1.0]
    probe.sizes, probe.steps, probe.sources = [(8, 32)] * 3, [0, 5, 9], ["sub-batch"] * 3
    probe.moved = [0.0] * 3
    ns = probe.estimate(before_step=9)
    assert ns.steps == (0, 5)
    with pytest.raises(NoiseScaleError, match="no step before"):
        probe.estimate(before_step=0)


def test_split_batch_cuts_every_batch_tensor() -> None:
    batch = {"x": torch.zeros(8, 3), "y": torch.arange(8), "mask": torch.ones(3), "name": "a"}
    part, full = split_batch(batch, 2)
    assert full == 8 and part["x"].shape == (2, 3) and part["y"].tolist() == [0, 1]
    assert part["mask"].shape == (3,) and part["name"] == "a"
    with pytest.raises(ValueError, match="no tensor"):
        split_batch(["a", "b"], 1)


def test_squared_norm_and_probe_steps() -> None:
    assert squared_norm([torch.tensor([3.0]), None, torch.tensor([4.0])]) == 25.0
    steps = probe_steps(100, 12)
    assert len(steps) == 12 and min(steps) == 0 and max(steps) == 99
    assert probe_steps(5, 12) == frozenset(range(5))


# --- through the engine ---------------------------------------------------------------------------


def _bn_dropout_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))


def _loader(dataset: torch.utils.data.Dataset, batch_size: int = 32) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(1)
    )


@pytest.mark.parametrize("accumulate_steps", [1, 2])
def test_measuring_leaves_the_sweep_bit_identical(
    dataset: torch.utils.data.TensorDataset, accumulate_steps: int
) -> None:
    from lrfinder import range_test

    runs = []
    for noise in (True, False):
        model = _bn_dropout_model()
        torch.manual_seed(7)
        result = range_test(
            model,
            _loader(dataset),
            loss_fn=nn.functional.cross_entropy,
            num_steps=40,
            max_lr=1.0,
            accumulate_steps=accumulate_steps,
            restore=False,
            noise_scale=noise,
        )
        runs.append((result, [t.clone() for t in model.state_dict().values()], torch.get_rng_state()))
    (on, on_state, on_rng), (off, off_state, off_rng) = runs
    assert on.losses == off.losses
    assert all(torch.equal(a, b) for a, b in zip(on_state, off_state))
    assert torch.equal(on_rng, off_rng)
    assert off.noise_scale is None and off.noise_error is None
    assert on.noise_scale is not None, on.noise_error
    if accumulate_steps == 1:
        assert on.noise_scale.source == "steps"
        assert (on.noise_scale.small_batch_size, on.noise_scale.big_batch_size) == (32, 32 * NOISE_BLOCK)
    else:
        assert on.noise_scale.source == "accumulation"
        assert (on.noise_scale.small_batch_size, on.noise_scale.big_batch_size) == (32, 64)


def test_training_after_a_measured_test_is_bit_identical(dataset: torch.utils.data.TensorDataset) -> None:
    from lrfinder import range_test

    def train(with_test: bool) -> list[torch.Tensor]:
        model = _bn_dropout_model()
        loader = _loader(dataset)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        torch.manual_seed(3)
        if with_test:
            result = range_test(
                model, loader, optimizer=opt, loss_fn=nn.functional.cross_entropy, num_steps=30, noise_scale=True
            )
            assert result.noise_scale is not None
        for x, y in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        return [t.clone() for t in model.state_dict().values()]

    assert all(torch.equal(a, b) for a, b in zip(train(True), train(False)))


def _half_mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.5 * (out.reshape(-1) - y).pow(2).mean()


@pytest.mark.parametrize("accumulate_steps", [1, 4])
def test_engine_measures_the_closed_form_noise_scale(accumulate_steps: int) -> None:
    from lrfinder import range_test

    d, sigma = 8, 1.5
    data, w_star = regression_data(40000, d, sigma, seed=2)
    model = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_((w_star + 0.4).reshape(1, d))
    r = (model.weight.detach().reshape(-1) - w_star).numpy()
    g2, trace = linear_regression_truth(d, r, sigma)
    result = range_test(
        model,
        _loader(data, 128 // accumulate_steps),
        loss_fn=_half_mse,
        optimizer=torch.optim.SGD(model.parameters(), lr=1e-6),
        min_lr=1e-6,
        max_lr=10.0,
        num_steps=100,
        accumulate_steps=accumulate_steps,
        noise_scale=True,
    )
    ns = result.noise_scale
    assert ns is not None, result.noise_error
    assert ns.big_batch_size == (128 * NOISE_BLOCK if accumulate_steps == 1 else 128)
    assert ns.b_simple == pytest.approx(trace / g2, rel=0.35)
    assert max(ns.steps) < next(i for i, lr in enumerate(result.lrs) if lr > result.suggestion.min_loss_lr)  # type: ignore[union-attr]


def test_engine_records_why_a_pure_noise_gradient_is_unmeasurable() -> None:
    from lrfinder import range_test

    gen = torch.Generator().manual_seed(4)
    x = torch.randn(20000, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(20000, generator=gen, dtype=torch.float64)
    # The exact least-squares solution: the full-data gradient is 0 up to rounding; the gradient
    # of any batch is pure noise.
    w = torch.linalg.lstsq(x, y.unsqueeze(1)).solution.reshape(1, 4)
    model = nn.Linear(4, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(w)
    result = range_test(
        model,
        _loader(torch.utils.data.TensorDataset(x, y), 64),
        loss_fn=_half_mse,
        optimizer=torch.optim.SGD(model.parameters(), lr=1e-7),
        max_lr=1e-4,
        num_steps=30,
        stop_factor=None,
        noise_scale=True,
    )
    if result.noise_scale is None:
        assert result.noise_error is not None and "pure noise" in result.noise_error
    else:
        # Sampling put |G|^2 barely above 0: the interval then says the batch is not bounded.
        assert result.noise_scale.interval[1] > 100 * 64


def test_noise_scale_round_trips_through_json(dataset: torch.utils.data.TensorDataset) -> None:
    from lrfinder import RangeTestResult, range_test

    result = range_test(
        _bn_dropout_model(), _loader(dataset), loss_fn=nn.functional.cross_entropy, num_steps=30, noise_scale=True
    )
    assert result.noise_scale is not None
    back = RangeTestResult.from_json(result.to_json())
    assert back.noise_scale == result.noise_scale
    unmeasured = RangeTestResult.from_json(
        json.dumps({**json.loads(result.to_json()), "noise_scale": None, "noise_error": "why"})
    )
    assert unmeasured.noise_scale is None and unmeasured.noise_error == "why"


# --- scaling with the noise scale -----------------------------------------------------------------


def test_noise_rule_sgd_formula() -> None:
    from lrfinder import scale_lr

    with pytest.warns(UserWarning, match=r"batch 512 is well past the critical batch ≈ 128.*5\.0x the samples"):
        s = scale_lr(0.1, from_batch_size=32, to_batch_size=512, rule="noise", noise_scale=128.0, optimizer="sgd")
    assert s.factor == pytest.approx((1 + 128 / 32) / (1 + 128 / 512))
    assert s.lr == pytest.approx(0.1 * 5 / 1.25) and s.rule == "noise" and s.critical_batch == 128.0
    # Far below the critical batch it is the linear rule, far above it flat.
    low = scale_lr(0.1, from_batch_size=2, to_batch_size=4, rule="noise", noise_scale=1e6)
    assert low.factor == pytest.approx(2.0, rel=1e-5)
    with pytest.warns(UserWarning, match="well past the critical batch"):
        high = scale_lr(0.1, from_batch_size=10_000, to_batch_size=20_000, rule="noise", noise_scale=1.0)
    assert high.factor == pytest.approx(1.0, rel=1e-3)


def test_noise_rule_adaptive_uses_the_chosen_shape() -> None:
    from lrfinder import scale_lr
    from lrfinder.noise import ADAPTIVE_SHAPE, LR_SHAPE_WORDS, lr_shape

    s = scale_lr(1e-3, from_batch_size=16, to_batch_size=64, rule="noise", noise_scale=256, optimizer="adam")
    expected = lr_shape(64, 256, ADAPTIVE_SHAPE) / lr_shape(16, 256, ADAPTIVE_SHAPE)
    assert s.factor == pytest.approx(expected)
    # The reason says what the shape does, in words, not its name.
    assert LR_SHAPE_WORDS[ADAPTIVE_SHAPE] in s.reason and "form" not in s.reason
    # The shape chosen on the benchmark is the SGD form: (1 + B/16) / (1 + B/64).
    assert ADAPTIVE_SHAPE == "sgd" and s.factor == pytest.approx((1 + 256 / 16) / (1 + 256 / 64))


def test_surge_shape_peaks_at_the_noise_scale() -> None:
    from lrfinder.noise import lr_shape, noise_lr_factor

    def surge(b: float, n: float) -> float:
        return 1 / (0.5 * (math.sqrt(n / b) + math.sqrt(b / n)))

    assert noise_lr_factor(16, 64, 256.0, "surge") == pytest.approx(surge(64, 256) / surge(16, 256))
    # Well below the noise scale: the sqrt rule; the same for the saturating sqrt shape.
    assert noise_lr_factor(1, 4, 1e8, "surge") == pytest.approx(2.0, rel=1e-3)
    assert noise_lr_factor(1, 4, 1e8, "sqrt") == pytest.approx(2.0, rel=1e-3)
    assert lr_shape(256.0, 256.0, "surge") == pytest.approx(1.0)


def test_lr_shapes() -> None:
    from lrfinder.noise import lr_shape, noise_lr_factor

    assert lr_shape(100.0, 100.0, "sgd") == pytest.approx(0.5)
    assert lr_shape(100.0, 100.0, "surge") == pytest.approx(1.0)
    assert lr_shape(100.0, 100.0, "sqrt") == pytest.approx(math.sqrt(0.5))
    curve = lr_shape(np.array([25.0, 100.0, 400.0]), 100.0, "surge")
    assert curve[0] == pytest.approx(curve[2]) and curve[1] > curve[0]
    assert noise_lr_factor(100, 400, 100.0, "surge") < 1.0
    with pytest.raises(ValueError, match="Unknown LR shape"):
        lr_shape(1.0, 1.0, "cubic")


def test_auto_uses_noise_when_known() -> None:
    from lrfinder import scale_lr

    s = scale_lr(0.1, from_batch_size=32, to_batch_size=64, rule="auto", noise_scale=32.0)
    assert s.rule == "noise" and s.reason.startswith("auto: noise") and s.factor == pytest.approx(2 / 1.5)
    assert scale_lr(0.1, from_batch_size=32, to_batch_size=64).rule == "linear"
    # A known critical batch is reported whatever the rule.
    assert scale_lr(0.1, from_batch_size=32, to_batch_size=64, rule="linear", noise_scale=40).critical_batch == 40


def _measured(b: float, interval: tuple[float, float], n: int = 8) -> NoiseScale:
    return NoiseScale(b_simple=b, grad_sq=1.0, trace_sigma=b, small_batch_size=8, big_batch_size=32,
                      n_estimates=n, interval=interval, source="steps")  # fmt: skip


_GOOD = dict(b_simple=64.0, grad_sq=1.0, trace_sigma=64.0, small_batch_size=8, big_batch_size=32, n_estimates=10,
             interval=(50.0, 80.0))  # fmt: skip


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"b_simple": -5.0}, "Expected NoiseScale.b_simple finite and > 0, but got b_simple=-5.0"),
        ({"b_simple": math.nan}, "Expected NoiseScale.b_simple finite and > 0, but got b_simple=nan"),
        ({"trace_sigma": 0.0}, "Expected NoiseScale.trace_sigma finite and > 0, but got trace_sigma=0.0"),
        ({"small_batch_size": 32, "big_batch_size": 8}, "Expected NoiseScale.small_batch_size < big_batch_size"),
        ({"big_batch_size": 32.5}, "Expected NoiseScale.big_batch_size to be an integer >= 1"),
        ({"n_estimates": 0}, "Expected NoiseScale.n_estimates to be an integer >= 1, but got n_estimates=0"),
        ({"interval": (100.0, 200.0)}, "Expected NoiseScale.interval to hold b_simple, 0 <= low <= b_simple <= high"),
        ({"interval": (80.0, 50.0)}, "but got interval=(80.0, 50.0), b_simple=64.0"),
        ({"interval": (50.0,)}, "Expected NoiseScale.interval to be a (low, high) pair"),
        ({"steps": (0, -1)}, "Expected NoiseScale.steps to be step indices (integers >= 0)"),
        ({"source": "bogus"}, "Expected NoiseScale.source to be one of 'steps', 'sub-batch'"),
    ],
)
def test_a_hand_built_noise_scale_is_checked_before_it_scales_an_lr(change: dict[str, Any], said: str) -> None:
    # NoiseScale(...) went unchecked into scale_lr(rule="noise"): batch sizes in the wrong order or an interval that
    # does not hold the estimate scaled the LR without a word (0.1 -> 0.2 here); a negative b_simple was refused
    # only there, as a noise_scale=-5.0 the caller never wrote.
    from lrfinder import scale_lr

    with pytest.raises((ValueError, TypeError)) as info:
        measured = NoiseScale(**{**_GOOD, **change})
        scale_lr(0.1, from_batch_size=32, to_batch_size=128, rule="noise", noise_scale=measured)
    assert said in str(info.value) and str(info.value).endswith(
        "Build it with noise_scale_from_norms(...), or read it from range_test(..., noise_scale=True)."
    )


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("interval", "x", "Expected NoiseScale.interval to be a (low, high) pair, but got interval='x'"),
        ("interval", ["a", 80], "Expected interval to be a number, but got interval='a'"),
        ("b_simple", "64", "Expected b_simple to be a number, but got b_simple='64'"),
        ("small_batch_size", 8.5, "Expected NoiseScale.small_batch_size to be an integer >= 1"),
    ],
)
def test_a_malformed_noise_scale_in_json_is_named_by_its_field(key: str, value: Any, said: str) -> None:
    # float(...) and int(...) in from_dict said only "could not convert string to float: 'x'" (no field named).
    data = NoiseScale(**_GOOD).to_dict()
    assert NoiseScale.from_dict(data) == NoiseScale(**_GOOD)
    with pytest.raises((TypeError, ValueError)) as info:
        NoiseScale.from_dict({**data, key: value})
    assert said in str(info.value)


def test_a_noise_scale_stores_plain_numbers() -> None:
    ns = NoiseScale(**{**_GOOD, "b_simple": np.float32(64.0), "small_batch_size": np.int64(8),
                       "n_estimates": torch.tensor(10), "interval": (np.float64(50), 80)})  # fmt: skip
    assert ns == NoiseScale(**_GOOD)
    assert [type(v) for v in (ns.b_simple, ns.small_batch_size, ns.n_estimates, *ns.interval)] == [float, int, int,
                                                                                                    float, float]
    assert NoiseScale(**{**_GOOD, "interval": (math.nan, math.nan), "n_estimates": 1}).inconclusive is not None


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("b_simple", torch.tensor([64.0]), r"b_simple=tensor\(\[64\.\]\), a tensor of shape \(1,\): pass the number "
                                           r"it holds, b_simple=b_simple\.item\(\)$"),
        ("grad_sq", np.array([[0.5]]), r"an array of shape \(1, 1\): pass the number it holds, grad_sq=grad_sq\.item"),
        ("small_batch_size", torch.tensor([8]), r"small_batch_size=tensor\(\[8\]\), a tensor of shape \(1,\): pass "
                                                r"the number it holds, small_batch_size=small_batch_size\.item\(\)$"),
        ("n_estimates", torch.tensor([10, 2]), r"^Expected n_estimates to be a number, but got n_estimates=tensor"),
        ("trace_sigma", torch.tensor([6.4, 1.0]), r"^Expected trace_sigma to be a number, but got trace_sigma=tensor"),
    ],
)
def test_a_noise_scale_field_refuses_a_tensor_of_any_shape_as_the_api_does(key: str, value: Any, said: str) -> None:
    # A one-element tensor of any shape was read as its number (torch.tensor([64.0]) a b_simple of 64), and a longer
    # one refused as "got a tensor of shape (2,)": range_test, scale_lr and create_optimizer refuse both, the one
    # element with the .item() to pass.
    with pytest.raises(TypeError, match=said):
        NoiseScale(**{**_GOOD, key: value})
    steps = NoiseScale(**{**_GOOD, "steps": tuple(torch.tensor([3, 4]))}).steps  # 0-d tensors: plain numbers
    assert steps == (3, 4) and [type(i) for i in steps] == [int, int]


def test_a_measurement_is_conclusive_with_enough_estimates_and_a_4x_interval() -> None:
    assert _measured(50, (30, 120)).inconclusive is None  # 120 / 30 = 4: just conclusive
    assert _measured(50, (30, 121)).inconclusive == "its 90% interval 30–121 spans more than 4x"
    assert _measured(350, (133, math.inf)).inconclusive == "its 90% interval 133–∞ spans more than 4x"
    assert _measured(50, (45, 55), n=4).inconclusive == "only 4 estimates, fewer than 5"
    assert _measured(50, (math.nan, math.nan), n=1).inconclusive == "only 1 estimate, fewer than 5"


def test_auto_falls_back_to_the_fixed_rule_when_the_noise_scale_is_uncertain() -> None:
    from lrfinder import scale_lr

    wide = _measured(350, (133, math.inf))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "past the critical batch" warning from an uncertain one
        sgd = scale_lr(0.1, from_batch_size=8, to_batch_size=2048, optimizer="sgd", noise_scale=wide)
        adam = scale_lr(0.1, from_batch_size=8, to_batch_size=32, optimizer="adam", noise_scale=wide)
    assert (sgd.rule, sgd.factor, sgd.critical_batch) == ("linear", 256, None)
    assert sgd.reason == (
        "auto: linear for an SGD-family optimizer (the noise scale is too uncertain to use: its 90% interval "
        "133–∞ spans more than 4x)"
    )
    assert (adam.rule, adam.factor) == ("sqrt", 2.0)
    # Asked for by name, the noise rule still uses it, with a warning that says why to doubt it.
    with pytest.warns(UserWarning, match=r"noise scale is uncertain \(its 90% interval 133–∞"):
        noise = scale_lr(0.1, from_batch_size=8, to_batch_size=32, rule="noise", optimizer="sgd", noise_scale=wide)
    assert noise.rule == "noise" and noise.factor == pytest.approx((1 + 350 / 8) / (1 + 350 / 32))
    # A conclusive one is used.
    sure = scale_lr(0.1, from_batch_size=8, to_batch_size=32, optimizer="sgd", noise_scale=_measured(50, (40, 60)))
    assert sure.rule == "noise" and sure.critical_batch == 50


def test_noise_rule_without_a_noise_scale_says_how_to_measure_one() -> None:
    from lrfinder import scale_lr

    with pytest.raises(ValueError, match=r"range_test\(\.\.\., noise_scale=True\)"):
        scale_lr(0.1, from_batch_size=32, to_batch_size=64, rule="noise")


@pytest.mark.parametrize("bad", [0.0, -5.0, math.nan, math.inf])
def test_unmeasurable_noise_scale_is_refused(bad: float) -> None:
    from lrfinder import scale_lr

    with pytest.raises(ValueError, match="finite and > 0"):
        scale_lr(0.1, from_batch_size=32, to_batch_size=64, rule="noise", noise_scale=bad)


def test_numpy_and_tensor_numbers_accepted() -> None:
    from lrfinder import scale_lr

    s = scale_lr(
        np.float32(0.1),  # type: ignore[arg-type]
        from_batch_size=np.int64(32),  # type: ignore[arg-type]
        to_batch_size=torch.tensor(128),  # type: ignore[arg-type]
        rule="noise",
        noise_scale=torch.tensor(64.0),  # type: ignore[arg-type]
    )
    assert s.lr == pytest.approx(0.1 * 3 / 1.5, rel=1e-6)
    assert type(s.to_batch_size) is int and type(s.critical_batch) is float
    with pytest.raises(TypeError, match="noise_scale to be a number"):
        scale_lr(0.1, from_batch_size=32, to_batch_size=64, rule="noise", noise_scale="64")  # type: ignore[arg-type]


def test_result_scale_uses_the_measured_noise_scale(dataset: torch.utils.data.TensorDataset) -> None:
    from lrfinder import range_test
    from lrfinder.exceptions import LRFinderError

    result = range_test(
        _bn_dropout_model(), _loader(dataset), loss_fn=nn.functional.cross_entropy, num_steps=60, noise_scale=True
    )
    assert result.noise_scale is not None and result.suggestion is not None
    b = result.noise_scale.b_simple
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a critical batch below 32 warns; not what is tested here
        scaled = result.scale(64).scaled
    assert scaled is not None and scaled.rule == "noise" and scaled.critical_batch == b
    assert scaled.factor == pytest.approx((1 + b / 32) / (1 + b / 64))
    plain = replace(result, noise_scale=None, noise_error=None)
    with pytest.raises(LRFinderError, match=r"rule='noise'.*noise_scale=True"):
        plain.scale(64, rule="noise")
    assert plain.scale(64).scaled.rule == "linear"  # type: ignore[union-attr]


def test_steps_source_counts_only_blocks_before_the_weights_move() -> None:
    from lrfinder import range_test

    d = 4
    data, w_star = regression_data(8000, d, 1.0, seed=6)
    model = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_((w_star + 1.0).reshape(1, d))
    common = {"loss_fn": _half_mse, "num_steps": 40, "max_lr": 1.0, "noise_scale": True, "stop_factor": None}
    early = range_test(model, _loader(data, 32), min_lr=1e-7, **common)  # type: ignore[arg-type]
    assert early.noise_scale is not None and early.noise_scale.source == "steps"
    late = range_test(model, _loader(data, 32), min_lr=0.05, **common)  # type: ignore[arg-type]
    assert late.noise_scale is None and late.noise_error is not None
    assert "before the weights moved" in late.noise_error


class _MaxNormBag(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bag = nn.EmbeddingBag(200, 16, mode="sum", max_norm=1.0)  # rows drawn at norm ~4, renormalised when read
        self.head = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.bag(x)).squeeze(-1)


def test_weights_an_embeddings_max_norm_moves_at_the_lowest_lrs_are_named_as_the_cause() -> None:
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 200, (1024, 6), generator=g)
    y = (torch.randn(200, generator=g)[idx].sum(1) > 0).float()
    loader = DataLoader(TensorDataset(idx, y), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    model = _MaxNormBag()
    result = range_test(
        model, loader, loss_fn=F.binary_cross_entropy_with_logits, num_steps=40, max_lr=1.0, noise_scale=True
    )
    assert result.noise_scale is None and result.noise_error is not None
    # Not "start the sweep lower" alone, which cannot help: the move, the LRs it happened at, and the cause.
    moved = re.search(r"they moved by (\d+\.\d)% of their norm within the sweep's first 4 steps \(lr 1\.00e-07 to ",
                      result.noise_error)
    assert moved is not None and float(moved.group(1)) > 10, result.noise_error
    assert "max_norm renormalises the rows" in result.noise_error
    assert "rule='linear' or 'sqrt'" in result.noise_error


# --- the Lightning callback ---------------------------------------------------------------------


def _lightning_fit(
    tmp_path: Path, loader_batch: int = 32, fit: dict[str, Any] | None = None, **options: object
) -> tuple[object, dict[str, torch.Tensor]]:
    from _models import Net, make_loader, pl, trainer, weights

    from lrfinder.callback import LRFinder

    pl.seed_everything(3, verbose=False)
    finder = LRFinder(num_steps=60, min_lr=1e-6, max_lr=10.0, **options)  # type: ignore[arg-type]
    model = Net(lr=0.01, dropout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer(tmp_path, [finder], max_steps=4, **(fit or {})).fit(model, make_loader(n=512, batch_size=loader_batch))
    return finder, weights(model)


def test_callback_reads_the_gradients_before_clipping(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    free, _ = _lightning_fit(tmp_path / "free", noise_scale=True, scaling="none")
    # Clipping every gradient to norm 1e-3 would make every step's gradient the same length.
    clipped, _ = _lightning_fit(tmp_path / "clip", fit={"gradient_clip_val": 1e-3}, noise_scale=True, scaling="none")
    a, b = free.result.noise_scale, clipped.result.noise_scale  # type: ignore[attr-defined]
    assert a is not None and b is not None
    # Clipped steps move the weights less, so the flat start lasts a block longer; the norms
    # read are the unclipped ones (clipped, |G|^2 would be below 1e-6).
    assert a.steps == b.steps[: len(a.steps)]
    assert b.grad_sq == pytest.approx(a.grad_sq, rel=0.05) and b.b_simple == pytest.approx(a.b_simple, rel=0.15)


def test_callback_measures_without_changing_the_fit(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    on, w_on = _lightning_fit(tmp_path / "on", noise_scale=True, scaling="linear")
    off, w_off = _lightning_fit(tmp_path / "off", noise_scale=False, scaling="linear")
    r_on, r_off = on.result, off.result  # type: ignore[attr-defined]
    assert r_on.losses == r_off.losses and on.applied_lr == off.applied_lr  # type: ignore[attr-defined]
    assert all(torch.equal(w_on[k], w_off[k]) for k in w_on)
    assert r_off.noise_scale is None
    ns = r_on.noise_scale
    assert ns is not None, r_on.noise_error
    assert (ns.source, ns.small_batch_size, ns.big_batch_size) == ("steps", 32, 32 * NOISE_BLOCK)


def test_callback_noise_scaling(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    # The test runs at batch 32 (a rebuilt loader), training at the loader's 128.
    finder, _ = _lightning_fit(tmp_path, loader_batch=128, noise_scale=True, scaling="noise", test_batch_size=32)
    result = finder.result  # type: ignore[attr-defined]
    assert result.noise_scale is not None and result.scaled is not None
    assert result.scaled.rule == "noise" and result.scaled.critical_batch == result.noise_scale.b_simple
    b = result.noise_scale.b_simple
    assert result.scaled.factor == pytest.approx((1 + b / 32) / (1 + b / 128))


def test_callback_noise_rule_needs_the_measurement() -> None:
    from lrfinder.callback import LRFinder

    with pytest.raises(ValueError, match="noise_scale=True with scaling='noise'"):
        LRFinder(scaling="noise", noise_scale=False)


def test_callback_noise_rule_with_several_optimizers_is_refused_before_the_test(tmp_path: Path) -> None:
    """The noise scale is measured on one optimizer: scaling='noise' over two fails at once, saying what to do.

    It failed after the whole test, in RangeTestResult.scale, telling the user to run range_test(..., noise_scale=True).
    """
    from _models import GAN, make_loader, trainer

    from lrfinder.callback import LRFinder

    model = GAN()
    finder = LRFinder(num_steps=40, min_lr=1e-3, max_lr=100.0, monitor="g_loss", noise_scale=True, scaling="noise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"scaling='noise'.*module steps 2.*scaling='auto'"):
            trainer(tmp_path, [finder], max_steps=2).fit(model, make_loader())
    assert model.events == []  # refused before the test ran a step


def test_callback_says_once_when_the_noise_scale_is_not_measured(tmp_path: Path) -> None:
    """noise_scale=True that measured nothing was silent in the callback (the CLI prints it): one warning now."""
    from _models import GAN, make_loader, trainer

    from lrfinder.callback import LRFinder

    finder = LRFinder(num_steps=40, min_lr=1e-3, max_lr=100.0, monitor="g_loss", noise_scale=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer(tmp_path, [finder], max_steps=2).fit(GAN(), make_loader())
    said = [str(w.message) for w in caught if "noise scale was not measured" in str(w.message)]
    assert len(said) == 1 and "2 optimizers" in said[0] and "optimizer family's rule" in said[0]
    assert finder.result is not None and finder.result.noise_scale is None and finder.applied_lr is not None


def test_callback_noise_rule_without_a_measurement_is_a_callback_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep that measured no noise scale: LRFinder(scaling='noise') says so in its own terms.

    It raised RangeTestResult.scale's 'Run range_test(..., noise_scale=True)', which the user had done.
    """
    import lrfinder.callback as callback_module
    from lrfinder import LRFinderError

    monkeypatch.setattr(callback_module, "noise_after_sweep", lambda *a, **k: (None, "too few blocks"))
    expected = r"LRFinder\(scaling='noise'\).*too few blocks.*batch 32.*batch 128"
    with pytest.raises(LRFinderError, match=expected) as info:
        _lightning_fit(tmp_path, loader_batch=128, noise_scale=True, scaling="noise", test_batch_size=32)
    assert "range_test" not in str(info.value)
    # At the test's own batch every rule keeps the LR: trained with, with the warning.
    finder, _ = _lightning_fit(tmp_path, noise_scale=True, scaling="noise")
    assert finder.applied_lr == finder.result.suggestion.lr  # type: ignore[attr-defined]


# --- CLI and report -------------------------------------------------------------------------------


def test_cli_summary_has_the_critical_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from _cli import cli_runner

    from lrfinder import RangeTestResult
    from lrfinder.cli import main

    monkeypatch.chdir(tmp_path)
    result = cli_runner().invoke(main, ["demo", "--epochs", "0", "--json", "demo.json"])
    assert result.exit_code == 0, result.output
    saved = RangeTestResult.from_json(tmp_path / "demo.json")
    assert saved.noise_scale is not None, saved.noise_error
    n = saved.noise_scale.b_simple
    line = next(x for x in result.stdout.splitlines() if x.startswith("critical batch"))
    assert re.match(r"critical batch\s+≈ \S+ \(90% ", line) and f"≈ {n:,.0f} (" in line


def test_report_has_the_critical_batch_and_the_batch_panel(dataset: torch.utils.data.TensorDataset) -> None:
    from lrfinder import range_test
    from lrfinder.report import plot_range_test

    result = range_test(
        _bn_dropout_model(), _loader(dataset), loss_fn=nn.functional.cross_entropy, num_steps=60, noise_scale=True
    )
    assert result.noise_scale is not None and result.suggestion is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = result.scale(256)
    fig = plot_range_test(result)
    labels = [ax.get_label() for ax in fig.axes]
    assert "batch" in labels
    header = next(ax for ax in fig.axes if ax.get_label() == "header")
    assert any(t.get_text().startswith("critical batch ≈") for t in header.texts)
    panel = next(ax for ax in fig.axes if ax.get_label() == "batch")
    names = [line.get_label() for line in panel.get_lines()]
    assert {"linear", "sqrt", "test batch 32", "target batch 256"} <= set(names)
    # Said for a user: what the curve does, not the name of its formula ("noise (sgd form)" was jargon).
    assert "noise-scale rule (saturates near the critical batch)" in names
    assert not any("form" in name for name in names)
    assert "saturates near the critical batch (≈" in result.scaled.reason and "form" not in result.scaled.reason
    unmeasured = plot_range_test(replace(result, noise_scale=None, noise_error="why not"))
    assert "batch" not in [ax.get_label() for ax in unmeasured.axes]


def test_batch_scaling_benchmark_smoke(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks import batch_scaling

    payload = batch_scaling.main(["--smoke", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out")])
    assert (tmp_path / "out" / "batch_scaling.md").read_text().startswith("## Batch-size scaling")
    result = payload["results"][0]
    assert set(result["scores"]["test"]) >= {"linear", "sqrt", "auto", "noise", "noise:surge"}
    assert result["tests"][0]["noise_scale"] is not None
    assert payload["cost"][0]["median_ratio"] > 0


# --- local gradients: accumulation and data parallelism ---------------------------------------------


def _half_mse2(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.5 * (model(x) - y).pow(2).mean()


@pytest.mark.parametrize("loss_scale", [1.0, 1024.0])
def test_backward_hooks_pair_each_micro_batch_with_the_step_gradient(loss_scale: float) -> None:
    gen = torch.Generator().manual_seed(0)
    model = nn.Linear(3, 2).double()
    x, y = torch.randn(8, 3, generator=gen, dtype=torch.float64), torch.randn(8, 2, generator=gen, dtype=torch.float64)
    params = list(model.parameters())
    micro = [torch.autograd.grad(_half_mse2(model, x[k : k + 4], y[k : k + 4]), params) for k in (0, 4)]
    probe = NoiseProbe(params)
    hooks = probe.watch_backward()
    # A gradient taken outside a bracketed backward (a gradient penalty, say) is not recorded.
    torch.autograd.grad(_half_mse2(model, x, y), params)
    for k in (0, 4):
        probe.before_backward()
        (_half_mse2(model, x[k : k + 4], y[k : k + 4]) * loss_scale / 2).backward()
        probe.after_backward()
    probe.end_backward_step(0, 4, 2, grad_scale=loss_scale)
    for hook in hooks:
        hook.remove()
    small = float(np.mean([squared_norm(g) for g in micro]))
    big = squared_norm([(a + b) / 2 for a, b in zip(*micro)])
    assert probe.small_sq == [pytest.approx(small, rel=1e-12)] and probe.big_sq == [pytest.approx(big, rel=1e-12)]
    assert (probe.sizes, probe.sources, probe.steps) == ([(4, 8)], ["accumulation"], [0])
    # The hooks are gone: a later backward records nothing.
    probe.before_backward()
    _half_mse2(model, x, y).backward()
    probe.after_backward()
    assert probe._local == []


def test_ranks_pairs_wait_for_the_mean_over_ranks() -> None:
    model = nn.Linear(2, 1)
    probe = NoiseProbe(model.parameters())
    hooks = probe.watch_backward()
    for step in range(3):
        model.zero_grad()
        probe.before_backward()
        model(torch.ones(4, 2)).sum().backward()
        probe.after_backward()
        # Step 1 lost its batch size on this rank: the pair holds its place as NaN.
        probe.end_backward_step(step, None if step == 1 else 4, 1, world=2)
    for hook in hooks:
        hook.remove()
    assert probe.sources == ["ranks"] * 3 and probe.sizes[0] == (4, 8) and math.isnan(probe.small_sq[1])
    # Every rank's norms averaged to 0, 1, 2; the sizes (after them) alike on every rank.
    probe.reduce_local(lambda t: torch.cat([torch.arange(3, dtype=torch.float64), t[3:]]))
    assert probe.small_sq == [0.0, 2.0] and probe.steps == [0, 2]


def _rank_probes(sizes: list[list[int]]) -> list[NoiseProbe]:
    """Two ranks' probes after a sweep whose steps had micro-batches of ``sizes[rank][step]`` examples.

    Each rank's backward on its own batch, then ``.grad`` set to the ranks' mean, as DDP's all-reduce does.
    """
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(3, 1, generator=gen)
    models = [nn.Linear(3, 1, bias=False) for _ in sizes]
    probes = [NoiseProbe(m.parameters()) for m in models]
    hooks = [h for probe in probes for h in probe.watch_backward()]
    for step in range(len(sizes[0])):
        for model, probe, own in zip(models, probes, sizes):
            model.weight.data.zero_()
            model.zero_grad()
            x = torch.randn(own[step], 3, generator=gen)
            y = x @ w + torch.randn(own[step], 1, generator=gen)
            probe.before_backward()
            F.mse_loss(model(x), y).backward()
            probe.after_backward()
        mean = torch.stack([m.weight.grad for m in models]).mean(0)
        for model, probe, own in zip(models, probes, sizes):
            model.weight.grad = mean.clone()
            probe.end_backward_step(step, own[step], 1, world=2)
    for hook in hooks:
        hook.remove()
    return probes


def test_ranks_pairs_count_only_where_every_rank_had_the_same_batch_size() -> None:
    """Loaders of different lengths on the two ranks: each rank's short last batch falls on its own steps.

    Each rank kept the pairs of its own most common size (rank 0 the steps where rank 1's batch was short, and
    the other way round), so the ranks measured different noise scales (and scaled their LRs apart).
    """
    sizes = [[16] * 30, [16] * 30]
    sizes[0][4] = sizes[0][9] = 4  # rank 0's short batches
    sizes[1][2] = sizes[1][7] = sizes[1][11] = 12  # rank 1's
    probes = _rank_probes(sizes)
    sent: list[torch.Tensor] = []
    for probe in probes:  # what each rank hands to the all_reduce
        copy.deepcopy(probe).reduce_local(lambda t: sent.append(t.clone()) or t)
    mean = (sent[0] + sent[1]) / 2
    for probe in probes:
        probe.reduce_local(lambda t: mean)
    kept = [i for i in range(30) if sizes[0][i] == sizes[1][i]]
    assert probes[0].steps == probes[1].steps == kept
    assert probes[0].small_sq == probes[1].small_sq and probes[0].sizes == probes[1].sizes == [(16, 32)] * len(kept)
    assert probes[0].estimate() == probes[1].estimate()


def _regression_fit(tmp_path: Path, *, noise: bool, accumulate: int) -> tuple[object, torch.Tensor]:
    from _models import Regression, pl, trainer

    from lrfinder.callback import LRFinder

    data, w_star = regression_data(40000, 8, 1.5, seed=2)
    pl.seed_everything(0, verbose=False)
    finder = LRFinder(num_steps=100, min_lr=1e-6, max_lr=10.0, noise_scale=noise, scaling="none")
    loader = torch.utils.data.DataLoader(data, batch_size=128 // accumulate, shuffle=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer(tmp_path, [finder], max_steps=1, accumulate_grad_batches=accumulate).fit(Regression(w_star), loader)
    return finder.result, w_star


def test_callback_measures_from_accumulated_micro_batches(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    on, w_star = _regression_fit(tmp_path / "on", noise=True, accumulate=4)
    off, _ = _regression_fit(tmp_path / "off", noise=False, accumulate=4)
    assert on.losses == off.losses  # type: ignore[attr-defined]  # the hooks only read
    ns = on.noise_scale  # type: ignore[attr-defined]
    assert ns is not None, on.noise_error  # type: ignore[attr-defined]
    assert (ns.source, ns.small_batch_size, ns.big_batch_size) == ("accumulation", 32, 128)
    # Every step up to the loss minimum counts, not only a few blocks at the flat start.
    cut = next(i for i, lr in enumerate(on.lrs) if lr > on.suggestion.min_loss_lr)  # type: ignore[attr-defined]
    assert ns.n_estimates == cut and ns.steps == tuple(range(cut))
    _assert_regression_noise_scale(ns)


def _assert_regression_noise_scale(ns: NoiseScale) -> None:
    """The closed form, over a sweep whose weights move: tr(Sigma) = (d + 1)|G|^2 + d sigma^2 at every
    step, so also between the averages over steps; ``B_simple`` grows from its value at the start
    as the loss falls (|G|^2 = |w - w*|^2 shrinks)."""
    d, sigma = 8, 1.5
    assert ns.trace_sigma == pytest.approx((d + 1) * ns.grad_sq + d * sigma**2, rel=0.1)
    g2, trace = linear_regression_truth(d, np.full(d, 0.4), sigma)
    assert 0.9 * trace / g2 < ns.b_simple < 2 * trace / g2


DDP_NOISE_SCRIPT = """
import json
import sys
import warnings
from pathlib import Path

sys.path.insert(0, sys.argv[2])  # tests/: the shared models
import torch
from _models import Regression, pl, regression_data

from lrfinder.callback import LRFinder

warnings.simplefilter("ignore")
torch.set_num_threads(1)
out = Path(sys.argv[1])
data, w_star = regression_data(40000, 8, 1.5, seed=2)
for noise, accumulate in ((True, 1), (False, 1), (True, 2)):
    pl.seed_everything(0, verbose=False)
    finder = LRFinder(num_steps=100, min_lr=1e-6, max_lr=10.0, noise_scale=noise, scaling="none")
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", callbacks=[finder], max_steps=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=out,
        accumulate_grad_batches=accumulate,
    )
    loader = torch.utils.data.DataLoader(data, batch_size=64 // accumulate, shuffle=True)
    trainer.fit(Regression(w_star), loader)
    name = f"{noise}-{accumulate}-{trainer.global_rank}.json"
    Path(out, name).write_text(json.dumps(finder.result.to_dict()))
"""


@pytest.mark.slow
def test_callback_measures_per_rank_against_all_reduced_gradients_under_ddp(tmp_path: Path) -> None:
    from _models import TESTS, run_script

    from lrfinder import RangeTestResult

    run_script(tmp_path, DDP_NOISE_SCRIPT, str(tmp_path), str(TESTS))
    names = ("True-1-0", "True-1-1", "False-1-0", "True-2-0", "True-2-1")
    runs = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in names}
    assert runs["True-1-0"] == runs["True-1-1"]  # every rank measured the same noise scale (and curve)
    assert runs["True-2-0"] == runs["True-2-1"]
    assert runs["True-1-0"]["losses"] == runs["False-1-0"]["losses"]  # the hooks only read
    # Each rank's own micro-batch (64, or 32 with 2 accumulated) against the all-reduced step gradient
    # of 2 ranks x 64 examples.
    for name, micro in (("True-1-0", 64), ("True-2-0", 32)):
        on = RangeTestResult.from_dict(runs[name])
        ns = on.noise_scale
        assert ns is not None, on.noise_error
        assert (ns.source, ns.small_batch_size, ns.big_batch_size) == ("ranks", micro, 128)
        assert on.suggestion is not None
        cut = next(i for i, lr in enumerate(on.lrs) if lr > on.suggestion.min_loss_lr)
        assert ns.n_estimates == cut
        _assert_regression_noise_scale(ns)


def test_noise_scale_must_be_a_bool() -> None:
    from lrfinder import range_test
    from lrfinder.callback import LRFinder

    with pytest.raises(TypeError, match=r"Expected noise_scale to be True or False, but got noise_scale='yes'"):
        LRFinder(noise_scale="yes")  # type: ignore[arg-type]
    model = nn.Linear(2, 1)
    data = [(torch.randn(4, 2), torch.randn(4, 1))] * 10
    with pytest.raises(TypeError, match=r"Expected noise_scale to be True or False, but got noise_scale=1"):
        range_test(model, data, loss_fn=nn.functional.mse_loss, noise_scale=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Expected restore to be True or False, but got restore='no'"):
        range_test(model, data, loss_fn=nn.functional.mse_loss, restore="no")  # type: ignore[arg-type]


def test_the_local_source_needs_ddp_automatic_optimization_and_independent_ranks() -> None:
    from types import SimpleNamespace

    from _models import GAN, Net, pl

    from lrfinder._fit_facts import _local_gradients

    ddp, single = pl.strategies.DDPStrategy(), pl.strategies.SingleDeviceStrategy(torch.device("cpu"))

    def fit(world: int, strategy: object) -> Any:
        return SimpleNamespace(world_size=world, strategy=strategy)

    net = Net()
    assert _local_gradients(fit(2, ddp), net, 1)  # "ranks"
    assert _local_gradients(fit(1, single), net, 4)  # "accumulation"
    assert not _local_gradients(fit(1, single), net, 1)  # blocks of steps
    assert not _local_gradients(fit(2, object()), net, 1)  # FSDP, DeepSpeed, ...: blocks of steps
    assert not _local_gradients(fit(2, ddp), GAN(), 1)  # manual optimization
    # SyncBatchNorm normalises with the global batch: a rank's gradient is not its own batch's.
    synced = Net()
    synced.extra = nn.SyncBatchNorm(4)
    assert not _local_gradients(fit(2, ddp), synced, 1)


def test_steps_source_with_batches_of_changing_size_says_so() -> None:
    """Blocks of steps need one batch size; with every batch a different size, the error said only
    'start the sweep lower'."""
    from lrfinder import range_test

    x = torch.randn(256, 4, dtype=torch.float64)
    y = x.sum(1, keepdim=True)
    sizes = [32, 17, 5, 31, 9, 64, 30, 8]
    starts = np.cumsum([0, *sizes])
    batches = [(x[a:b], y[a:b]) for a, b in zip(starts, starts[1:])]
    model = nn.Linear(4, 1).double()
    result = range_test(model, batches, loss_fn=nn.functional.mse_loss, noise_scale=True, num_steps=20, max_lr=1e-2)
    assert result.noise_scale is None and result.noise_error is not None
    assert re.search(rf"a block of {NOISE_BLOCK} consecutive steps needs batches of one size.*drop_last=True",
                     result.noise_error), result.noise_error  # fmt: skip


class _Bag(nn.Module):
    """An embedding (sparse or dense gradients) and a linear head over the first feature's bucket."""

    def __init__(self, sparse: bool) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.emb = nn.Embedding(20, 4, sparse=sparse)
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.emb((x[:, 0].abs() * 5).long().clamp(max=19)))


@pytest.mark.parametrize("accumulate_steps", [1, 2])
def test_sparse_gradients_are_measured_like_their_dense_twin(accumulate_steps: int) -> None:
    """nn.Embedding(sparse=True) under noise_scale=True: torch's 'linalg_vector_norm ... SparseCPU' error before.

    The sparse gradients hold the same values as the dense twin's: the same noise scale.
    """
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1200, 10, generator=gen)
    y = (x[:, 0] > 0).long()
    found = []
    for sparse in (True, False):
        model = _Bag(sparse)
        before = copy.deepcopy(model.state_dict())
        order = torch.Generator().manual_seed(1)
        loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=order)
        result = range_test(
            model, loader, optimizer=torch.optim.SGD(model.parameters(), lr=1e-3), loss_fn=F.cross_entropy,
            num_steps=60, accumulate_steps=accumulate_steps, noise_scale=True,
        )  # fmt: skip
        assert result.noise_scale is not None, result.noise_error
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        found.append(result.noise_scale)
    assert found[0].b_simple == pytest.approx(found[1].b_simple, rel=1e-5)
    assert found[0].source == found[1].source == ("accumulation" if accumulate_steps > 1 else "steps")


def test_sub_batch_the_model_refuses_is_skipped_and_buffers_restored() -> None:
    """A batch of 7 splits into a sub-batch of 1, which BatchNorm refuses in training.

    The probe raised the model's ValueError out of the user's loop, with BatchNorm's
    num_batches_tracked already counted up; now the measurement is skipped, buffers restored.
    """
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Linear(5, 2)).train()
    before = copy.deepcopy(model.state_dict())
    probe = NoiseProbe(model.parameters())
    batch = (torch.randn(7, 4), torch.randint(0, 2, (7,)))
    probe.sub_batch(model, batch, lambda b: F.cross_entropy(model(b[0]), b[1]))
    assert probe.skipped is not None and "sub-batch of 1 example does not go through" in probe.skipped
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    # A batch of 8 (sub-batch of 2) is measured, the buffers restored too.
    probe.sub_batch(model, (torch.randn(8, 4), torch.randint(0, 2, (8,))), lambda b: F.cross_entropy(model(b[0]), b[1]))
    assert probe._pending is not None and probe._pending[1:] == (2, 8)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_zero_gradient_is_unmeasurable_and_said_so() -> None:
    # Said as "no noise these batch sizes can resolve. Measure on more steps or smaller batches": no
    # number of steps or batch size helps a gradient that is zero.
    with pytest.raises(NoiseScaleError, match="the gradient is zero at every step measured") as info:
        noise_scale_from_norms([0.0, 0.0], [0.0, 0.0], small_batch_size=8, big_batch_size=32)
    assert "smaller batches" not in str(info.value)
    from lrfinder import range_test

    model = nn.Linear(4, 3)
    x = torch.randn(256, 4, generator=torch.Generator().manual_seed(0))
    result = range_test(
        model,
        _loader(torch.utils.data.TensorDataset(x, x[:, :3]), 16),
        loss_fn=lambda out, y: (out * 0.0).sum(),  # depends on nothing: every gradient is 0
        num_steps=30,
        noise_scale=True,
    )
    assert result.noise_scale is None
    assert result.noise_error is not None and "the gradient is zero" in result.noise_error


def test_a_summed_loss_in_the_sub_batch_source_is_named() -> None:
    # The sub-batch pairs gradients of batches of different sizes: a summed loss made the small gradient far
    # smaller than the big one, read as "no noise these batch sizes can resolve. Measure on more steps".
    x = torch.randn(4096, 10, generator=torch.Generator().manual_seed(0))
    y = x[:, :3].argmax(1)
    errors = {}
    for reduction in ("mean", "sum"):
        torch.manual_seed(0)
        model = nn.Linear(10, 3)
        probe = NoiseProbe(model.parameters())
        gen = torch.Generator().manual_seed(0)

        def loss_of(batch: Any, model: nn.Module = model, reduction: str = reduction) -> torch.Tensor:
            return F.cross_entropy(model(batch[0]), batch[1], reduction=reduction)

        for step in range(40):
            idx = torch.randint(0, 4096, (64,), generator=gen)
            batch = (x[idx], y[idx])
            probe.sub_batch(model, batch, loss_of)
            model.zero_grad()
            loss_of(batch).backward()
            probe.end_step(step, 1.0, 64)
        try:
            probe.estimate()
        except NoiseScaleError as exc:
            errors[reduction] = str(exc)
    assert "mean" not in errors  # measured
    assert "reduction='sum'" in errors["sum"] and "more steps" not in errors["sum"]
    # Pairs of equal-size batches (the engine's sources) are not affected: the ratio of norms is >= 1 there.
    with pytest.raises(NoiseScaleError, match=r"tr\(Sigma\).*no noise"):
        noise_scale_from_norms([4.0, 4.0], [4.0, 4.0], small_batch_size=8, big_batch_size=32)


@pytest.mark.parametrize("mixed", [False, True])
def test_a_micro_batch_local_norm_is_the_sum_of_its_squared_parameter_norms_bit_for_bit(mixed: bool) -> None:
    # The hook keeps each parameter's norm and after_backward squares them in float64 together: the same values as
    # squaring each one in the hook (_sq), which cost two more ops per parameter per micro-batch.
    from lrfinder.noise import _sq

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    if mixed:
        model[2].double()
    probe = NoiseProbe(model.parameters())
    hooks = probe.watch_backward()
    seen: list[torch.Tensor] = []
    grads = [p.register_hook(lambda g: seen.append(g.detach().clone())) for p in model.parameters()]
    x = torch.randn(4, 5)
    probe.before_backward()
    out = model[2](model[1](model[0](x)).to(model[2].weight.dtype))
    out.pow(2).mean().backward()
    probe.after_backward()
    for h in hooks + grads:
        h.remove()
    expected = torch.stack([_sq(g) for g in seen]).sum()  # as the old hook did, in the hooks' order
    assert probe._local[-1].dtype == torch.float64
    assert torch.equal(probe._local[-1], expected)


def test_repr_writes_the_steps_measured_in_brief() -> None:
    # One index per estimate: a DDP test of 2,000 steps wrote ~10,000 characters of indices into print(result),
    # after RangeTestResult's repr had put its own curve in brief.
    ns = NoiseScale(
        b_simple=85.3, grad_sq=0.148, trace_sigma=12.6, small_batch_size=32, big_batch_size=64,
        n_estimates=1500, interval=(69.5, 107.4), steps=tuple(range(1500)), source="ranks",
    )  # fmt: skip
    text = repr(ns)
    assert len(text) < 300, text
    assert "steps=<1500 steps 0 .. 1499>" in text
    assert "b_simple=85.3" in text and "interval=(69.5, 107.4)" in text and "source='ranks'" in text
    assert ns.steps == tuple(range(1500))  # the field itself is whole
    one = replace(ns, n_estimates=1, steps=(7,), interval=(float("nan"), float("nan")))
    assert "steps=<1 step 7 .. 7>" in repr(one)
    assert "steps=()" in repr(replace(ns, steps=()))


def test_repr_writes_the_measures_to_four_figures() -> None:
    # A measured NoiseScale, shown in a notebook, read b_simple=412.3456789123, grad_sq=0.012345678912345,
    # interval=(123.45678912, 987.654321234): full precision, where the other results' reprs are short.
    ns = NoiseScale(
        b_simple=412.3456789123, grad_sq=0.012345678912345, trace_sigma=5.0987654321012, small_batch_size=32,
        big_batch_size=256, n_estimates=12, interval=(123.45678912, 987.654321234), steps=tuple(range(12)),
        source="steps",
    )  # fmt: skip
    assert repr(ns) == (
        "NoiseScale(b_simple=412.3, grad_sq=0.01235, trace_sigma=5.099, small_batch_size=32, big_batch_size=256, "
        "n_estimates=12, interval=(123.5, 987.7), steps=<12 steps 0 .. 11>, source='steps')"
    )
    assert ns.b_simple == 412.3456789123 and ns.interval == (123.45678912, 987.654321234)  # the fields are whole
    assert "interval=(nan, nan)" in repr(replace(ns, n_estimates=1, steps=(7,), interval=(float("nan"),) * 2))


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize("accumulate", [1, 4])
def test_the_callback_leaves_the_noise_scale_unmeasured_over_a_loader_of_too_few_batches(
    tmp_path: Path, accumulate: int
) -> None:
    # find_lr(noise_scale=True) over a loader of one batch (batch_size 2000 over 1,400 rows) reported a
    # "critical batch ≈ 7.1 (90% 7.0-7.3)" from the same examples step after step, as range_test did.
    from _models import FAST, Net, make_loader, trainer

    from lrfinder.callback import find_lr

    result = find_lr(
        Net(dropout=0.2),
        make_loader(96, batch_size=128 if accumulate == 1 else 32),
        trainer=trainer(tmp_path, accumulate_grad_batches=accumulate),
        noise_scale=True,
        **FAST,
    )
    assert result.noise_scale is None
    per_pass = "1 batch" if accumulate == 1 else "3 batches"
    assert result.noise_error is not None and f"the data gives {per_pass} per pass" in result.noise_error
