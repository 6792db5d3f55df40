from __future__ import annotations

import io
import math
import pickle
import re
import warnings
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from _models import pl  # the distribution under test (LRFINDER_TEST_LIGHTNING)
from torch import nn
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

import lrfinder.schedulers
from lrfinder import (
    SCHEDULERS,
    Suggestion,
    create_optimizer,
    create_scheduler,
    list_optimizers,
    list_schedulers,
    preview_schedule,
)
from lrfinder.schedulers import REQUIRED, PlateauWithWarmup, lightning_scheduler_config

# --------------------------------------------------------------------------------------------
# Closed forms (REFERENCE.md section 5), written independently of the implementation.
# Each takes (t, T, eta0, settings) for the main schedule, t in [0, T).
# --------------------------------------------------------------------------------------------


def _constant(t, T, eta0, s):
    return eta0


def _step(t, T, eta0, s):
    return eta0 * s.get("gamma", 0.1) ** (t // s["step_size"])


def _multistep(t, T, eta0, s):
    return eta0 * s.get("gamma", 0.1) ** sum(m <= t for m in s["milestones"])


def _exponential(t, T, eta0, s):
    return eta0 * s["gamma"] ** t


def _inverse(t, T, eta0, s):
    return eta0 * (1 + s["gamma"] * t) ** -s.get("power", 0.5)


def _polynomial(t, T, eta0, s):
    return eta0 * (1 - t / T) ** s.get("power", 1.0)


def _factor(t, T, eta0, s):
    return max(s.get("eta_min", 0.0), eta0 * s["factor"] ** (t // s.get("step_size", 1)))


def _cosine(t, T, eta0, s):
    eta_min = s.get("eta_min", 0.0)
    return eta_min + (eta0 - eta_min) * (1 + math.cos(math.pi * t / T)) / 2


def _anneal(start, end, pct, how):
    if how == "cos":
        return end + (start - end) * (1 + math.cos(math.pi * pct)) / 2
    return start + (end - start) * pct


def _onecycle(t, T, eta0, s):
    max_lr = s.get("max_lr", eta0)
    start = max_lr / s.get("div_factor", 25.0)
    low = start / s.get("final_div_factor", 1e4)
    pct = s.get("pct_start", 0.3)
    how = s.get("anneal_strategy", "cos")
    if s.get("three_phase", False):
        knots = [(0.0, start), (pct * T - 1, max_lr), (2 * pct * T - 2, start), (T - 1, low)]
    else:
        knots = [(0.0, start), (pct * T - 1, max_lr), (T - 1, low)]
    for (t0, lr0), (t1, lr1) in zip(knots, knots[1:]):
        if t <= t1 or t1 == T - 1:
            return _anneal(lr0, lr1, (t - t0) / (t1 - t0), how)
    raise AssertionError


def _cyclic(t, T, eta0, s):
    # Smith 2017, section 3.1 (symmetric cycle of 2 * step_size steps).
    step = s["step_size_up"]
    cycle = math.floor(1 + t / (2 * step))
    x = abs(t / step - 2 * cycle + 1)
    mode = s.get("mode", "triangular")
    scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1), "exp_range": s.get("gamma", 1.0) ** t}[mode]
    return s["base_lr"] + (s["max_lr"] - s["base_lr"]) * max(0.0, 1 - x) * scale


def _plateau(t, T, eta0, s):
    # A metric that never improves: the first step sets the best value, then every patience + 1
    # steps without improvement multiply the LR by factor, down to min_lr (default eta0 / 1024).
    if t == 0:
        return eta0
    floor = s.get("min_lr", eta0 / 1024)
    return max(floor, eta0 * s.get("factor", 0.5) ** ((t - 1) // (s.get("patience", 10) + 1)))


FORMULAS = {
    "constant": (_constant, [{}]),
    "step": (_step, [dict(step_size=3, gamma=0.5), dict(step_size=7)]),
    "multistep": (_multistep, [dict(milestones=[2, 5, 9], gamma=0.3), dict(milestones=[4])]),
    "exponential": (_exponential, [dict(gamma=0.9), dict(gamma=0.5)]),
    "inverse": (_inverse, [dict(gamma=0.5, power=1.0), dict(gamma=1e-2)]),
    "polynomial": (_polynomial, [dict(power=2.0), {}]),
    "factor": (_factor, [dict(factor=0.5, eta_min=0.01), dict(factor=0.8, step_size=3)]),
    "cosine": (_cosine, [dict(eta_min=0.01), {}]),
    "onecycle": (
        _onecycle,
        [
            {},
            dict(max_lr=2.0, pct_start=0.25, div_factor=10.0, final_div_factor=100.0, anneal_strategy="linear"),
            dict(three_phase=True, pct_start=0.4),
        ],
    ),
    "cyclic": (
        _cyclic,
        [
            dict(base_lr=0.1, max_lr=1.0, step_size_up=4),
            dict(base_lr=0.1, max_lr=1.0, step_size_up=3, mode="triangular2"),
            dict(base_lr=0.1, max_lr=1.0, step_size_up=5, mode="exp_range", gamma=0.95),
        ],
    ),
    "plateau": (_plateau, [dict(patience=1), dict(patience=3, factor=0.2, min_lr=0.01)]),
}
ETA0 = 0.5
T = 30
WARMUPS = [(0, 0.0), (5, 0.0), (8, 0.25)]


def expected_lrs(name, settings, total, eta0=ETA0, warmup=0, start=0.0):
    formula = FORMULAS[name][0]
    main = total - warmup
    out = []
    for t in range(total):
        if t < warmup:
            out.append(formula(0, main, eta0, settings) * (start + (1 - start) * t / warmup))
        else:
            out.append(formula(t - warmup, main, eta0, settings))
    return np.array(out)


def test_every_registry_entry_has_a_closed_form_here():
    assert set(list_schedulers()) == set(FORMULAS)
    assert list_schedulers() == (
        "constant",
        "step",
        "multistep",
        "exponential",
        "inverse",
        "polynomial",
        "factor",
        "cosine",
        "onecycle",
        "cyclic",
        "plateau",
    )


CLOSED_FORM_CASES = [
    pytest.param(name, i, w, sf, id=f"{name}-{i}-warmup{w}")
    for name in list_schedulers()
    for i in range(len(FORMULAS.get(name, (None, [{}]))[1]))
    for w, sf in WARMUPS
]


@pytest.mark.parametrize("name, case, warmup, start", CLOSED_FORM_CASES)
def test_schedule_matches_closed_form(name, case, warmup, start):
    settings = FORMULAS[name][1][case]
    got = preview_schedule(name, total_steps=T, lr=ETA0, warmup_steps=warmup, warmup_start_factor=start, **settings)
    want = expected_lrs(name, settings, T, warmup=warmup, start=start)
    assert got.shape == (T,)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def _optimizer(kind="momentum", lr=ETA0):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    # Two groups with LR ratio 1/2 (layer decay): every schedule must keep the ratio.
    return model, create_optimizer(kind, model, lr=lr, layer_lr_decay=0.5, decay_norm_and_bias=True)


def _train_step(model, opt):
    opt.zero_grad()
    model(torch.randn(8, 3)).pow(2).mean().backward()
    opt.step()


def _step(sched, t):
    if isinstance(sched, ReduceLROnPlateau):
        sched.step(1.0)
    else:
        sched.step()


@pytest.mark.parametrize("warmup", [0, 4])
@pytest.mark.parametrize("name", list_schedulers())
def test_real_loop_keeps_group_ratios_and_returns_torch_types(name, warmup):
    settings = FORMULAS[name][1][0]
    model, opt = _optimizer()
    assert [g["lr"] for g in opt.param_groups] == [ETA0 / 2, ETA0]
    sched = create_scheduler(name, opt, total_steps=T, warmup_steps=warmup, **settings)
    assert isinstance(sched, (LRScheduler, ReduceLROnPlateau))
    got = []
    for t in range(T):
        got.append([g["lr"] for g in opt.param_groups])
        _train_step(model, opt)
        _step(sched, t)
    got = np.array(got)
    # The second group is at ratio 1: the formula. The first is the formula at eta0 / 2, with
    # LR-valued settings (max_lr, base_lr, min_lr) halved too; eta_min stays absolute, as in torch.
    np.testing.assert_allclose(got[:, 1], expected_lrs(name, settings, T, warmup=warmup), rtol=1e-12, atol=1e-15)
    half = dict(settings)
    for key in ("max_lr", "base_lr", "min_lr"):
        if key in half:
            half[key] = half[key] / 2
    np.testing.assert_allclose(
        got[:, 0], expected_lrs(name, half, T, eta0=ETA0 / 2, warmup=warmup), rtol=1e-12, atol=1e-15
    )


@pytest.mark.parametrize("warmup", [0, 4])
@pytest.mark.parametrize("name", list_schedulers())
def test_pickle_and_state_dict_round_trip_mid_run(name, warmup):
    settings = FORMULAS[name][1][0]
    model, opt = _optimizer()
    sched = create_scheduler(name, opt, total_steps=T, warmup_steps=warmup, **settings)
    for t in range(7):
        _train_step(model, opt)
        _step(sched, t)

    # pickle: the clone carries its own copy of the optimizer
    clone = pickle.loads(pickle.dumps(sched))
    assert type(clone) is type(sched)
    assert clone.optimizer is not opt
    for sub in getattr(clone, "_schedulers", []):
        assert sub.optimizer is clone.optimizer

    # state_dict through a real checkpoint file (weights_only, as Lightning and torch.load default)
    model2, opt2 = _optimizer()
    sched2 = create_scheduler(name, opt2, total_steps=T, warmup_steps=warmup, **settings)
    buf = io.BytesIO()
    torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])

    runs = {"original": [], "pickled": [], "restored": []}
    for t in range(7, T):
        for key, s in (("original", sched), ("pickled", clone), ("restored", sched2)):
            runs[key].append([g["lr"] for g in s.optimizer.param_groups])
            s.optimizer.step()
            _step(s, t)
    np.testing.assert_array_equal(runs["pickled"], runs["original"])
    np.testing.assert_array_equal(runs["restored"], runs["original"])
    # and the continued run is still the closed form (group 1 is at ratio 1)
    want = expected_lrs(name, settings, T, warmup=warmup)[7:]
    np.testing.assert_allclose(np.array(runs["original"])[:, 1], want, rtol=1e-12, atol=1e-15)


def _suggestion(lr=0.02, min_lr=0.005, max_lr=0.08):
    return Suggestion(
        lr=lr,
        steepest_lr=lr,
        min_loss_lr=max_lr * 2,
        divergence_lr=max_lr * 5,
        non_finite_lr=None,
        min_lr=min_lr,
        max_lr=max_lr,
        confidence=0.9,
        rule="valley",
        notes=(),
        smoothed_losses=(1.0, 0.5),
        window=5,
    )


@pytest.mark.parametrize(
    ("name", "settings", "last"),
    [
        # step_size=2 meant in epochs, over 3 epochs of 16 steps: 1e-23 by the end; lrfind fit trained on at 2e-24.
        ("step", {"step_size": 2}, "1.0e-23"),
        ("exponential", {"gamma": 0.5}, "7.1e-15"),  # a per-epoch gamma applied per step
        ("multistep", {"milestones": list(range(1, 8))}, "1.0e-07"),
        ("inverse", {"gamma": 1e4, "power": 2}, "4.5e-12"),
        ("factor", {"factor": 0.1, "step_size": 5}, "1.0e-09"),
    ],
)
def test_a_decay_to_in_effect_zero_is_warned_about(name, settings, last):
    opt = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
    with pytest.warns(UserWarning, match=rf"Schedule '{name}' with .* over its 48 steps ends at {last} times its"):
        create_scheduler(name, opt, total_steps=48, **settings)


def test_a_decay_that_keeps_the_lr_alive_is_not_warned_about():
    opt = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*in effect zero")
        create_scheduler("step", opt, total_steps=48, step_size=16)  # 1e-2 at the end
        create_scheduler("multistep", opt, total_steps=48, milestones=[10, 20, 30, 40])  # 1e-4
        create_scheduler("exponential", opt, total_steps=48, gamma=0.9)  # 7e-3
        create_scheduler("factor", opt, total_steps=48, factor=0.1, step_size=5, eta_min=1e-4)  # held up by its floor
        create_scheduler("exponential", opt, gamma=0.5)  # no run length to judge


@pytest.mark.parametrize("name", ["onecycle", "cyclic"])
def test_an_explicit_peak_past_the_divergence_point_is_warned_about(name):
    # Divergence at 0.4: a peak of 5 (typed for another run) trained 12x past it without a word; lrfind fit's
    # onecycle climbed there and its train_loss was 25 times the constant LR's.
    s = _suggestion()
    extra = {"step_size_up": 5} if name == "cyclic" else {}
    opt = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
    with pytest.warns(UserWarning, match=r"max_lr=5\.00e\+00 climbs past the range test's divergence point 4\.00e-01"):
        create_scheduler(name, opt, total_steps=T, suggestion=s, max_lr=5.0, **extra)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*divergence point")
        create_scheduler(name, opt, total_steps=T, suggestion=s, max_lr=0.3, **extra)  # below it
        create_scheduler(name, opt, total_steps=T, suggestion=s, **extra)  # the suggestion's own peak
        create_scheduler(name, opt, total_steps=T, max_lr=5.0, **extra)  # no range test to compare with
    # Per group: the group the test recorded (the largest LR) is compared.
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    groups = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.01}, {"params": model[1].parameters()}], lr=0.1)
    with pytest.warns(UserWarning, match=r"max_lr=1\.00e\+00 climbs past"):
        create_scheduler(name, groups, total_steps=T, suggestion=s, max_lr=[0.1, 1.0], **extra)


@pytest.mark.parametrize("name", list_schedulers())
def test_suggestion_fills_the_documented_lrs(name):
    s = _suggestion()
    settings = {k: v for k, v in FORMULAS[name][1][0].items() if k not in ("max_lr", "base_lr")}
    got = preview_schedule(name, total_steps=T, lr=1.0, suggestion=s, **settings)
    rule = SCHEDULERS[name].from_suggestion
    if rule == "base":
        want = preview_schedule(name, total_steps=T, lr=s.lr, **settings)
        assert got[0] == pytest.approx(s.lr)
    elif rule == "onecycle":
        div = s.max_lr / s.min_lr
        want = preview_schedule(name, total_steps=T, lr=1.0, max_lr=s.max_lr, div_factor=div, **settings)
        assert got[0] == pytest.approx(s.min_lr)
        assert got.max() == pytest.approx(s.max_lr, rel=1e-2)
        assert got[-1] == pytest.approx(s.min_lr / 1e4)
    else:
        want = preview_schedule(name, total_steps=T, lr=1.0, base_lr=s.min_lr, max_lr=s.max_lr, **settings)
        assert got.min() == pytest.approx(s.min_lr)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_suggestion_keeps_group_ratios_and_explicit_settings_win():
    s = _suggestion()
    _, opt = _optimizer()
    create_scheduler("cosine", opt, total_steps=T, suggestion=s)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([s.lr / 2, s.lr])
    _, opt = _optimizer()
    create_scheduler("onecycle", opt, total_steps=T, suggestion=s, max_lr=0.04)
    assert [g["max_lr"] for g in opt.param_groups] == pytest.approx([0.02, 0.04])
    assert [g["initial_lr"] for g in opt.param_groups] == pytest.approx([s.min_lr / 2, s.min_lr])
    _, opt = _optimizer()
    sched = create_scheduler("cyclic", opt, suggestion=SimpleNamespace(suggestion=s), step_size_up=5)
    assert sched.base_lrs == pytest.approx([s.min_lr / 2, s.min_lr])
    assert sched.max_lrs == pytest.approx([s.max_lr / 2, s.max_lr])


@pytest.mark.parametrize("name", list_schedulers())
def test_create_scheduler_returns_one_type(name):
    # No flag changes the return type: always a torch scheduler (issue 9, item 5).
    _, opt = _optimizer()
    sched = create_scheduler(name, opt, total_steps=T, **FORMULAS[name][1][0])
    assert isinstance(sched, (LRScheduler, ReduceLROnPlateau))
    _, opt = _optimizer()
    with pytest.raises(TypeError, match=r"always returns the torch scheduler.*lrfinder\.lightning_scheduler_config\("):
        create_scheduler("cosine", opt, total_steps=T, lightning=True)


def test_lightning_scheduler_config():
    _, opt = _optimizer()
    sched = create_scheduler("cosine", opt, total_steps=T)
    cfg = lightning_scheduler_config(sched)
    assert cfg == {"scheduler": sched, "interval": "step", "frequency": 1}
    cfg = lightning_scheduler_config(create_scheduler("step", opt, step_size=1), interval="epoch", frequency=2)
    assert (cfg["interval"], cfg["frequency"]) == ("epoch", 2)
    plateau = create_scheduler("plateau", opt, monitor="val_acc", mode="max")
    cfg = lightning_scheduler_config(plateau)
    assert cfg["interval"] == "epoch" and cfg["monitor"] == "val_acc" and cfg["scheduler"] is plateau
    assert lightning_scheduler_config(plateau, monitor="val_f1")["monitor"] == "val_f1"
    torch_plateau = ReduceLROnPlateau(opt)
    assert lightning_scheduler_config(torch_plateau)["monitor"] == "val_loss"


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"interval": "batch"}, ValueError, "interval"),
        ({"frequency": 0}, ValueError, "frequency"),
        ({"monitor": "val_loss"}, TypeError, "monitor"),
    ],
)
def test_lightning_scheduler_config_bad_input(kwargs, exc, match):
    _, opt = _optimizer()
    with pytest.raises(exc, match=match):
        lightning_scheduler_config(create_scheduler("cosine", opt, total_steps=T), **kwargs)
    with pytest.raises(TypeError, match="scheduler"):
        lightning_scheduler_config(opt)  # type: ignore[arg-type]


def test_onecycle_and_cyclic_cycle_momentum_where_there_is_one():
    _, opt = _optimizer("momentum")
    sched = create_scheduler("onecycle", opt, total_steps=10)
    moms = []
    for _ in range(9):
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    assert moms[0] == pytest.approx(0.95) and min(moms) == pytest.approx(0.85, abs=0.02)
    _, opt = _optimizer("adam")
    create_scheduler("cyclic", opt, max_lr=1.0, step_size_up=3)
    assert opt.param_groups[0]["betas"][0] == pytest.approx(0.9)  # CyclicLR's max_momentum
    _, opt = _optimizer("sgd")  # plain SGD: no momentum to cycle, and none is introduced
    create_scheduler("onecycle", opt, total_steps=10)
    assert opt.param_groups[0]["momentum"] == 0
    _, opt = _optimizer("adagrad")
    create_scheduler("onecycle", opt, total_steps=10)
    with pytest.raises(ValueError, match="cycle_momentum"):
        create_scheduler("onecycle", opt, total_steps=10, cycle_momentum=True)


def test_cyclic_exp_range_refuses_a_gamma_that_grows_the_cycle_past_max_lr():
    # CyclicLR scales the cycle's height by gamma ** t: gamma=2 built a schedule at 1e29 x max_lr by step 100.
    _, opt = _optimizer("momentum")
    with pytest.raises(ValueError, match=r"Expected gamma <= 1 with mode='exp_range', but got gamma=2: .*past max_lr"):
        create_scheduler("cyclic", opt, base_lr=0.01, max_lr=0.1, step_size_up=2, mode="exp_range", gamma=2.0)
    sched = create_scheduler("cyclic", opt, base_lr=0.01, max_lr=0.1, step_size_up=2, mode="exp_range", gamma=0.9)
    for _ in range(20):
        opt.step()
        sched.step()
        assert opt.param_groups[0]["lr"] <= 0.1 + 1e-12


def test_cyclic_says_a_gamma_its_mode_ignores():
    # gamma=0.99 under the default mode='triangular' was dropped by CyclicLR without a word: the cycles never shrank.
    _, opt = _optimizer("momentum")
    with pytest.warns(UserWarning, match=r"'cyclic' ignores gamma=0.99 in mode='triangular': only mode='exp_range'"):
        create_scheduler("cyclic", opt, base_lr=0.01, max_lr=0.1, step_size_up=2, gamma=0.99)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_scheduler("cyclic", opt, base_lr=0.01, max_lr=0.1, step_size_up=2, gamma=1.0)
        create_scheduler("cyclic", opt, base_lr=0.01, max_lr=0.1, step_size_up=2, mode="exp_range", gamma=0.99)


@pytest.mark.parametrize(
    "name, settings", [("onecycle", {"total_steps": 10}), ("cyclic", {"max_lr": 1.0, "step_size_up": 3})]
)
def test_a_momentum_pair_the_wrong_way_round_is_said(name: str, settings: dict) -> None:
    # base_momentum=0.95, max_momentum=0.85 (a swapped pair) cycled the largest momentum onto the largest LR silently.
    _, opt = _optimizer("momentum")
    with pytest.warns(UserWarning, match=rf"'{name}' with base_momentum=0.95 > max_momentum=0.85 cycles the momentum "
                      r"the wrong way round.*Swap them \(base_momentum=0.85, max_momentum=0.95\)"):
        create_scheduler(name, opt, base_momentum=0.95, max_momentum=0.85, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_scheduler(name, opt, base_momentum=0.85, max_momentum=0.95, **settings)
        create_scheduler(name, opt, base_momentum=0.95, max_momentum=0.85, cycle_momentum=False, **settings)


def test_plateau_with_improving_metric_keeps_the_lr():
    lrs = preview_schedule("plateau", total_steps=20, lr=0.1, patience=0, metrics=np.linspace(1.0, 0.5, 19))
    np.testing.assert_array_equal(lrs, np.full(20, 0.1))
    _, opt = _optimizer()
    sched = create_scheduler("plateau", opt, warmup_steps=3)
    assert isinstance(sched, PlateauWithWarmup)
    assert [g["lr"] for g in opt.param_groups] == [0.0, 0.0]


@pytest.mark.parametrize("min_lr", [0.1, 1.0, [0.2, 1e-4]])
def test_plateau_whose_floor_is_at_or_above_the_lr_says_it_never_lowers_it(min_lr: Any) -> None:
    # torch sets max(lr * factor, min_lr) only when that is lower: min_lr=1.0 over lr 0.1 left the LR where it was
    # through every plateau, without a word.
    opt = torch.optim.SGD([{"params": [nn.Parameter(torch.zeros(1))]}, {"params": [nn.Parameter(torch.zeros(1))]}],
                          lr=0.1)  # fmt: skip
    stuck = "group [0] " if isinstance(min_lr, list) else "groups [0, 1] "
    with pytest.warns(UserWarning, match=rf"'plateau' with min_lr=.* floor of param {re.escape(stuck)}.*at or above "
                      r".*never lowers"):  # fmt: skip
        sched = create_scheduler("plateau", opt, min_lr=min_lr, patience=0)
    for metric in (1.0, 2.0, 3.0):
        sched.step(metric)
    assert opt.param_groups[0]["lr"] == 0.1  # what the warning says
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_scheduler("plateau", opt, min_lr=0.01)  # below the LR: a working floor
        create_scheduler("plateau", opt)  # the default, the LR / 1024


@pytest.mark.parametrize("metric", [None, "abc", [0.5, 0.4], torch.tensor([0.5, 0.4])])
def test_plateau_stepped_without_a_number_names_its_metric(metric: Any) -> None:
    # torch's float(metrics) failed with "float() argument must be a string or a real number, not 'NoneType'" for
    # a metric never logged (logs.get("val_loss")), naming neither the scheduler nor the metric.
    _, opt = _optimizer()
    sched = create_scheduler("plateau", opt, monitor="val_acc", mode="max")
    with pytest.raises(TypeError, match=r"plateau's step\(metrics\) to get the value of the monitored metric "
                       r"'val_acc', a number, but got .*scheduler\.step\(val_loss\)"):  # fmt: skip
        sched.step(metric)
    for number in (0.5, torch.tensor(0.6), np.float32(0.7), "0.8"):  # what torch reads as a number
        sched.step(number)
    assert sched.best == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("total_steps", "fix"),
    [(1000 / 2, r"total_steps=500\.0: pass it as an int, total_steps=500 \(/ gives a float"),
     (1000 / 3, r"total_steps=333\.3+: pass a whole number, rounded with round\(\) or math\.ceil\(\)")],
)
def test_a_step_count_computed_with_a_division_is_told_to_be_an_int(total_steps: float, fix: str) -> None:
    # epochs * len(loader) / accumulate is a float: the refusal said only "to be an integer, but got 500.0".
    _, opt = _optimizer()
    with pytest.raises(TypeError, match=rf"Expected total_steps to be an integer, but got {fix}"):
        create_scheduler("cosine", opt, total_steps=total_steps)  # type: ignore[arg-type]


def test_plateau_stepped_with_no_argument_says_to_pass_its_metric() -> None:
    # A loop written for the other schedules (scheduler.step()) got Python's "PlateauWithWarmup.step() missing 1
    # required positional argument: 'metrics'", naming neither the metric nor how to pass it.
    _, opt = _optimizer()
    sched = create_scheduler("plateau", opt)
    with pytest.raises(TypeError, match=r"monitored metric 'val_loss', a number, but got no argument \(as the other "
                       r"schedules are stepped\): pass the metric each epoch, e\.g\. scheduler\.step\(val_loss\)"):
        sched.step()


def test_required_markers_are_documented_in_the_registry():
    assert SCHEDULERS["step"].settings["step_size"] is REQUIRED
    assert SCHEDULERS["plateau"].settings["monitor"] == "val_loss"
    assert {n for n, s in SCHEDULERS.items() if s.needs_total_steps} == {"polynomial", "cosine", "onecycle"}


@pytest.mark.parametrize(
    "name, kwargs, exc, match",
    [
        ("cosinus", {}, ValueError, r"cosinus.*constant, step, multistep.*plateau"),
        ("cosine", {}, TypeError, "total_steps"),
        ("polynomial", {}, TypeError, "total_steps"),
        ("onecycle", {}, TypeError, "total_steps"),
        ("cosine", {"total_steps": 0}, ValueError, "total_steps"),
        ("step", {"total_steps": -5, "step_size": 1}, ValueError, "total_steps"),
        ("cosine", {"total_steps": 10.5}, TypeError, "total_steps"),
        ("multistep", {"milestones": [5, 3]}, ValueError, "milestones"),
        ("multistep", {"milestones": [3, 3]}, ValueError, "milestones"),
        ("multistep", {"milestones": []}, TypeError, "milestones"),
        ("multistep", {"milestones": [0, 2]}, ValueError, r"milestones\[0\]"),
        ("cosine", {"total_steps": 10, "warmup_steps": 10}, ValueError, "warmup_steps"),
        ("cosine", {"total_steps": 10, "warmup_steps": -1}, ValueError, "warmup_steps"),
        ("constant", {"warmup_steps": 2, "warmup_start_factor": 1.0}, ValueError, "warmup_start_factor"),
        ("step", {"step_size": 2, "eta_min": 0.1}, TypeError, r"eta_min.*accepts: step_size, gamma"),
        ("step", {"step_size": 2, "gama": 0.5}, TypeError, r"gama; it accepts: step_size, gamma. Did you mean 'gamma'"),
        ("cosine", {"total_steps": 10, "gamma": 0.1}, TypeError, "gamma"),
        ("constant", {"monitor": "val_loss"}, TypeError, "monitor"),
        ("step", {}, TypeError, "step_size"),
        ("exponential", {}, TypeError, "gamma"),
        ("cyclic", {}, TypeError, "max_lr"),
        ("step", {"step_size": 0}, ValueError, "step_size"),
        ("step", {"step_size": 2, "gamma": 0.0}, ValueError, "gamma"),
        ("factor", {"factor": 1.5}, ValueError, "factor"),
        ("inverse", {"gamma": 0.1, "power": -1.0}, ValueError, "power"),
        ("onecycle", {"total_steps": 10, "pct_start": 1.5}, ValueError, "pct_start"),
        # below 1 the cycle started above max_lr and fell to it (torch took it)
        ("onecycle", {"total_steps": 10, "div_factor": 0.5}, ValueError, r"Expected 1 <= div_factor, but got .*=0.5"),
        ("onecycle", {"total_steps": 10, "anneal_strategy": "exp"}, ValueError, "anneal_strategy"),
        # Three phases need room to rise and fall back (torch divided by zero at pct_start * steps == 1).
        ("onecycle", {"total_steps": 10, "pct_start": 0.1, "three_phase": True}, ValueError, r"pct_start \* steps > 1"),
        ("onecycle", {"total_steps": 12, "warmup_steps": 2, "pct_start": 0.1, "three_phase": True}, ValueError,
         "steps=10"),
        ("onecycle", {"total_steps": 10, "pct_start": 0.55, "three_phase": True}, ValueError, "three_phase"),
        ("onecycle", {"total_steps": 10, "three_phase": "no"}, TypeError, "three_phase to be True or False"),
        ("cyclic", {"max_lr": 0.1, "base_lr": 1.0}, ValueError, "max_lr > base_lr"),
        ("cyclic", {"max_lr": 1.0, "mode": "triangle"}, ValueError, "mode"),
        ("cyclic", {"max_lr": [1.0]}, ValueError, "max_lr"),
        ("plateau", {"factor": 1.0}, ValueError, "factor"),
        ("plateau", {"mode": "lowest"}, ValueError, "mode"),
        ("plateau", {"monitor": ""}, TypeError, "monitor"),
        ("plateau", {"patience": -1}, ValueError, "patience"),
        ("step", {"step_size": 1, "interval": "epoch"}, TypeError, "interval"),
        ("constant", {"suggestion": 0.01}, TypeError, "suggestion"),
    ],
)
def test_bad_input(name, kwargs, exc, match):
    _, opt = _optimizer()
    with pytest.raises(exc, match=match):
        create_scheduler(name, opt, **kwargs)


def test_bad_input_outside_the_settings():
    with pytest.raises(TypeError, match="optimizer"):
        create_scheduler("constant", object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"the class SGD\. Pass an instance: optimizer=SGD\(model.parameters\(\)"):
        create_scheduler("constant", torch.optim.SGD)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="metrics"):
        preview_schedule("cosine", total_steps=5, metrics=[1.0] * 4)
    with pytest.raises(ValueError, match="metrics"):
        preview_schedule("plateau", total_steps=5, metrics=[1.0])
    with pytest.raises(ValueError, match="lr"):
        preview_schedule("constant", total_steps=5, lr=0.0)
    with pytest.raises(ValueError, match="total_steps"):
        preview_schedule("constant", total_steps=0)


def _settings_for(name):
    return {
        "step": {"step_size": 3}, "multistep": {"milestones": [2, 5]}, "exponential": {"gamma": 0.9},
        "inverse": {"gamma": 0.1}, "factor": {"factor": 0.5, "eta_min": 1e-4},
        "cyclic": {"max_lr": 0.5, "step_size_up": 4},
    }.get(name, {})  # fmt: skip


@pytest.mark.parametrize("name", list_schedulers())
@pytest.mark.parametrize("group_lrs", [[0.1, 0.0], [0.0, 0.0]])
def test_a_param_group_at_lr_zero_stays_at_zero(name, group_lrs):
    # A group frozen by lr=0: factor divided eta_min by it, and every group at 0 divided the ratios by 0.
    params = [nn.Parameter(torch.zeros(1)) for _ in group_lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, group_lrs)], lr=0.1, momentum=0.9)
    if name == "cyclic":  # a group at ratio 0 has no cycle: said with the per-group LRs (it said base_lr=None)
        with pytest.raises(ValueError, match=r"every param group, but got base_lr=\[.*0.00e\+00\] \(the optimizer"):
            create_scheduler(name, opt, total_steps=20, **_settings_for(name))
        return
    sched = create_scheduler(name, opt, total_steps=20, **_settings_for(name))
    for _ in range(5):
        opt.step()
        sched.step(1.0) if isinstance(sched, ReduceLROnPlateau) else sched.step()
    lrs = [g["lr"] for g in opt.param_groups]
    assert all(math.isfinite(lr) for lr in lrs)
    assert [lr == 0.0 for lr in lrs] == [lr == 0.0 for lr in group_lrs]


def test_an_optimizer_at_lr_zero_can_cycle():
    # Every LR 0 (the optimizer's too): the group ratios divided by zero.
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.0, momentum=0.9)
    create_scheduler("cyclic", opt, max_lr=0.5, step_size_up=2)
    opt.step()
    assert opt.param_groups[0]["lr"] == 0.0


def test_numpy_settings_are_numbers():
    # np.float32 was "Expected gamma to be a finite number"; a numpy array of milestones "a sequence of integers".
    _, opt = _optimizer()
    create_scheduler("step", opt, step_size=np.int64(2), gamma=np.float32(0.5))
    _, opt = _optimizer()
    create_scheduler("multistep", opt, milestones=np.array([2, 4]), gamma=np.float32(0.1))
    assert preview_schedule("constant", total_steps=2, lr=np.float32(0.5)).tolist() == [0.5, 0.5]
    _, opt = _optimizer()
    with pytest.raises(TypeError, match="gamma to be a finite number"):
        create_scheduler("step", opt, step_size=2, gamma=np.bool_(True))


@pytest.mark.parametrize(("total_steps", "pct_start"), [(4, 0.3), (10, 0.11), (101, 0.3), (7, 0.9)])
def test_the_shortest_onecycle_still_rises_from_its_start_to_near_max_lr(total_steps, pct_start):
    lrs = preview_schedule("onecycle", total_steps=total_steps, lr=0.5, pct_start=pct_start)
    assert lrs[0] == pytest.approx(0.5 / 25.0)
    peak = int(np.argmax(lrs))
    assert peak >= 1 and lrs[peak] > 0.4 and np.all(np.diff(lrs[: peak + 1]) > 0)
    assert np.all(np.diff(lrs[peak:]) < 0)


@pytest.mark.parametrize(
    ("total_steps", "warmup_steps", "pct_start"), [(10, 0, 0.1), (3, 0, 0.3), (1, 0, 0.3), (20, 17, 0.3), (20, 19, 0.3)]
)
def test_a_onecycle_too_short_to_rise_starts_at_max_lr_and_anneals(total_steps, warmup_steps, pct_start):
    # torch divided by zero at pct_start * steps == 1 and started part way down below it; a smoke test's
    # few steps, or the callback's advised warm-up filling all but one step of a short fit, were refused.
    with pytest.warns(UserWarning, match="no room to rise"):
        lrs = preview_schedule(
            "onecycle", total_steps=total_steps, lr=0.5, pct_start=pct_start, warmup_steps=warmup_steps
        )
    main = lrs[warmup_steps:]
    if len(main) > 1:
        assert main[0] == pytest.approx(0.5) and np.all(np.diff(main) < 0)
    else:  # one step: torch's, at the final LR
        assert main[0] == pytest.approx(0.5 / 25.0 / 1e4)


def test_every_setting_in_the_registry_is_accepted():
    # The registry is the documentation: each listed setting must really be taken, with its default.
    for name, spec in SCHEDULERS.items():
        settings = {k: v for k, v in spec.settings.items() if v is not REQUIRED}
        required = {k: FORMULAS[name][1][0][k] for k, v in spec.settings.items() if v is REQUIRED}
        if name == "cyclic":
            required["max_lr"] = 2.0
        # cyclic's default half cycle (2000 steps) must fit in the run.
        total = settings["step_size_up"] + 1 if name == "cyclic" else 12
        lrs = preview_schedule(name, total_steps=total, lr=1.0, **settings, **required)
        assert np.all(np.isfinite(lrs)) and np.all(lrs >= 0), name


# --------------------------------------------------------------------------------------------
# A real Lightning Trainer.fit
# --------------------------------------------------------------------------------------------


class TinyModule(pl.LightningModule):
    def __init__(self, scheduler_name, interval=None, **scheduler_kwargs):
        super().__init__()
        self.interval = interval
        torch.manual_seed(0)
        self.net = nn.Linear(4, 1)
        self.scheduler_name = scheduler_name
        self.scheduler_kwargs = scheduler_kwargs
        self.lrs = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        # A metric that never improves, so the plateau reductions are known in advance.
        self.log("val_loss", torch.tensor(1.0))

    def on_train_batch_start(self, batch, batch_idx):
        self.lrs.append(self.trainer.optimizers[0].param_groups[0]["lr"])

    def configure_optimizers(self):
        opt = create_optimizer("momentum", self, lr=0.1)
        sched = create_scheduler(self.scheduler_name, opt, **self.scheduler_kwargs)
        return {"optimizer": opt, "lr_scheduler": lightning_scheduler_config(sched, interval=self.interval)}


def _fit(module, tmp_path, epochs):
    gen = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(16, 4, generator=gen), torch.randn(16, 1, generator=gen))
    loader = torch.utils.data.DataLoader(data, batch_size=4)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
        num_sanity_val_steps=0,
        limit_val_batches=1,
    )
    trainer.fit(module, loader, loader)
    return np.array(module.lrs)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_lightning_fit_per_step_schedule(tmp_path):
    module = TinyModule("cosine", total_steps=12, warmup_steps=3, eta_min=0.001)
    lrs = _fit(module, tmp_path, epochs=3)
    want = preview_schedule("cosine", total_steps=12, lr=0.1, warmup_steps=3, eta_min=0.001)
    np.testing.assert_allclose(lrs, want, rtol=1e-12)
    np.testing.assert_allclose(want, expected_lrs("cosine", {"eta_min": 0.001}, 12, eta0=0.1, warmup=3), rtol=1e-12)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_lightning_fit_per_epoch_schedule(tmp_path):
    module = TinyModule("step", step_size=1, gamma=0.5, interval="epoch")
    lrs = _fit(module, tmp_path, epochs=3)
    np.testing.assert_allclose(lrs, np.repeat([0.1, 0.05, 0.025], 4), rtol=1e-12)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_lightning_fit_plateau_monitors_the_logged_metric(tmp_path):
    module = TinyModule("plateau", patience=0, factor=0.5)
    lrs = _fit(module, tmp_path, epochs=4)
    per_epoch = preview_schedule("plateau", total_steps=4, lr=0.1, patience=0, factor=0.5)
    np.testing.assert_allclose(per_epoch, [0.1, 0.1, 0.05, 0.025], rtol=1e-12)
    np.testing.assert_allclose(lrs, np.repeat(per_epoch, 4), rtol=1e-12)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_lightning_rejects_plateau_on_a_metric_never_logged(tmp_path):
    module = TinyModule("plateau", monitor="val_accuracy")
    with pytest.raises(Exception, match="val_accuracy"):
        _fit(module, tmp_path, epochs=1)


def test_cyclic_starts_at_base_lr_on_an_optimizer_that_had_a_scheduler():
    """torch's CyclicLR took its first LR from the initial_lr an earlier scheduler left."""
    _, opt = _optimizer()
    torch.optim.lr_scheduler.StepLR(opt, step_size=10)
    sched = create_scheduler("cyclic", opt, base_lr=0.01, max_lr=0.1, step_size_up=4)
    assert sched.get_last_lr() == pytest.approx([0.005, 0.01])  # the groups keep their 1/2 ratio
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.005, 0.01])


def test_cyclic_with_one_end_given_is_judged_against_the_bands_other_end():
    # The end left out is the band's: base_lr=0.1 above its peak 0.08 was said as "max_lr=[8.00e-02] (given 0.08)",
    # a max_lr nobody gave, with no word of the band or of what to pass.
    _, opt = _optimizer()
    with pytest.raises(ValueError) as high:
        create_scheduler("cyclic", opt, suggestion=_suggestion(), base_lr=0.1, step_size_up=4)
    assert str(high.value) == (
        "Expected base_lr below the one-cycle band's peak, which cyclic takes as max_lr (suggestion.max_lr=8.00e-02), "
        "but got base_lr=0.1: pass max_lr=... too, or leave base_lr out for the band's low end"
    )
    with pytest.raises(ValueError) as low:
        create_scheduler("cyclic", opt, suggestion=_suggestion(), max_lr=0.004, step_size_up=4)
    assert str(low.value) == (
        "Expected max_lr above the one-cycle band's low end, which cyclic takes as base_lr (suggestion.min_lr="
        "5.00e-03), but got max_lr=0.004: pass base_lr=... too, or leave max_lr out for the band's peak"
    )
    # Within the band, or both ends given, as before: the given end and the band's; the schedule's own check.
    sched = create_scheduler("cyclic", opt, suggestion=_suggestion(), base_lr=0.01, step_size_up=4)
    assert sched.get_last_lr() == pytest.approx([0.005, 0.01])
    with pytest.raises(ValueError, match=r"Expected max_lr > base_lr in every param group"):
        create_scheduler("cyclic", opt, suggestion=_suggestion(), base_lr=0.1, max_lr=0.05, step_size_up=4)


@pytest.mark.usefixtures("seeded_one_thread")
@pytest.mark.parametrize("optimizer", list_optimizers())
def test_every_schedule_runs_every_optimizer_and_resumes(optimizer):
    # Momentum or beta1 cycling (onecycle, cyclic) meets every optimizer family; a checkpoint mid-run resumes exactly.
    torch.manual_seed(0)
    x, y = torch.randn(16, 3), torch.randn(16, 1)

    def build(name):
        torch.manual_seed(1)
        model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1))
        opt = create_optimizer(optimizer, model, lr=0.01, weight_decay=1e-4)
        settings = {**_settings_for(name), **({"max_lr": 0.05} if name == "cyclic" else {})}
        return model, opt, create_scheduler(name, opt, total_steps=20, warmup_steps=3, **settings)

    def step(model, opt, sched):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step(loss.item()) if isinstance(sched, ReduceLROnPlateau) else sched.step()

    for name in list_schedulers():
        model, opt, sched = build(name)
        lrs = []
        for t in range(19):
            step(model, opt, sched)
            lrs.append([g["lr"] for g in opt.param_groups])
            if t == 9:
                buf = io.BytesIO()
                torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buf)
        assert np.all(np.isfinite(lrs)) and np.all(np.array(lrs) > 0), (optimizer, name)
        model2, opt2, sched2 = build(name)
        buf.seek(0)
        ckpt = torch.load(buf, weights_only=True)
        model2.load_state_dict(ckpt["model"])
        opt2.load_state_dict(ckpt["opt"])
        sched2.load_state_dict(ckpt["sched"])
        resumed = []
        for _ in range(10, 19):
            step(model2, opt2, sched2)
            resumed.append([g["lr"] for g in opt2.param_groups])
        assert resumed == lrs[10:], (optimizer, name)


@pytest.mark.parametrize("name", ["constant", "cosine", "onecycle", "cyclic"])
def test_suggestion_goes_to_the_largest_group_as_the_range_test_recorded_it(name: str) -> None:
    # A range test records the LR of the largest group (the head at 10x here): the suggestion's LRs
    # land there, the body keeps its tenth (before: the body got them, the head 10x past the test).
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = create_optimizer("momentum", model, lr=1e-3, lr_factors={"2": 10.0})
    s = _suggestion(lr=0.05, min_lr=0.02, max_lr=0.1)
    extra = {"step_size_up": 5} if name == "cyclic" else {}
    sched = create_scheduler(name, opt, total_steps=20, suggestion=s, **extra)
    lrs = []
    for _ in range(20):
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    head = [max(v) for v in lrs]
    body = [min(v) for v in lrs]
    assert body == pytest.approx([h / 10 for h in head], rel=1e-9)
    if name in ("constant", "cosine"):
        assert head[0] == pytest.approx(0.05)
    else:
        assert head[0] == pytest.approx(0.02, rel=1e-6) and max(head) == pytest.approx(0.1, rel=1e-6)


@pytest.mark.parametrize("warmup", [0, 3])
def test_cosine_stays_at_eta_min_past_total_steps(warmup: int) -> None:
    # torch's CosineAnnealingLR is periodic: stepped past T (a longer fit, a resume with more epochs) the
    # LR climbed back to eta0 by 2T.
    model, opt = _optimizer()
    sched = create_scheduler("cosine", opt, total_steps=10, warmup_steps=warmup, eta_min=0.01)
    got = []
    for t in range(30):
        got.append([g["lr"] for g in opt.param_groups])
        _train_step(model, opt)
        _step(sched, t)
    got = np.array(got)
    np.testing.assert_allclose(got[:10, 1], expected_lrs("cosine", {"eta_min": 0.01}, 10, warmup=warmup), rtol=1e-12)
    np.testing.assert_allclose(got[10:], 0.01, rtol=1e-12)  # eta_min is absolute, as in torch
    # Resumed past the end from a checkpoint, it stays there too.
    model2, opt2 = _optimizer()
    sched2 = create_scheduler("cosine", opt2, total_steps=10, warmup_steps=warmup, eta_min=0.01)
    sched2.load_state_dict(sched.state_dict())
    opt2.step()
    sched2.step()
    assert [g["lr"] for g in opt2.param_groups] == pytest.approx([0.01, 0.01])


def test_plateau_warms_up_over_optimizer_steps_not_epochs() -> None:
    # Stepped once per epoch, plateau warmed up over warmup_steps *epochs*: lrfind fit
    # --warmup-steps 6 on 4 batches per epoch never reached the LR in a 4-epoch fit.
    model, opt = _optimizer("sgd")
    sched = create_scheduler("plateau", opt, total_steps=20, warmup_steps=6, patience=0)
    got = []
    for _epoch in range(5):
        for _ in range(4):
            got.append(opt.param_groups[1]["lr"])
            _train_step(model, opt)
        sched.step(1.0)  # a metric that never improves, once per epoch
    # Epochs 0 and 1 hold warm-up steps: their metrics are ignored; epoch 2's is the first
    # (the best), epoch 3's does not improve on it (patience 0): epoch 4 runs at half the LR.
    want = [ETA0 * t / 6 for t in range(6)] + [ETA0] * 10 + [ETA0 / 2] * 4
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # The other group keeps its ratio all along.
    assert opt.param_groups[0]["lr"] == pytest.approx(opt.param_groups[1]["lr"] / 2)


def test_plateau_warmup_resumes_mid_warmup_from_state_dict_and_pickle() -> None:
    model, opt = _optimizer("sgd")
    sched = create_scheduler("plateau", opt, total_steps=16, warmup_steps=6)
    for _ in range(3):
        _train_step(model, opt)
    state = sched.state_dict()
    buf = io.BytesIO()
    torch.save({"optimizer": opt.state_dict(), "scheduler": state}, buf)  # weights_only-loadable
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    model2, opt2 = _optimizer("sgd")
    sched2 = create_scheduler("plateau", opt2, total_steps=16, warmup_steps=6)
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    clone = pickle.loads(pickle.dumps(sched))
    runs: dict[str, list[float]] = {"original": [], "restored": [], "pickled": []}
    for _ in range(5):
        for key, s in (("original", sched), ("restored", sched2), ("pickled", clone)):
            runs[key].append(s.optimizer.param_groups[1]["lr"])
            s.optimizer.step()
    assert runs["original"] == pytest.approx([ETA0 * t / 6 for t in range(3, 6)] + [ETA0, ETA0])
    assert runs["restored"] == runs["original"]
    assert runs["pickled"] == runs["original"]


def test_plateau_warmup_ends_without_failing_the_optimizers_other_step_hooks() -> None:
    # The warm-up's hook removed itself at the first step after the warm-up, while torch ran the step's
    # hooks: a hook registered after it (an EMA update, a logger) failed the step with
    # "OrderedDict mutated during iteration".
    model, opt = _optimizer("sgd")
    create_scheduler("plateau", opt, total_steps=16, warmup_steps=2)
    calls: list[int] = []
    opt.register_step_post_hook(lambda *_: calls.append(1))
    got = []
    for _ in range(5):
        got.append(opt.param_groups[1]["lr"])
        _train_step(model, opt)
    assert len(calls) == 5
    assert got == pytest.approx([0.0, ETA0 / 2, ETA0, ETA0, ETA0])


@pytest.mark.parametrize("name, close", [("exp", "exponential"), ("inv", "inverse"), ("poly", "polynomial"),
                                         ("fixed", "constant"), ("1cycle", "onecycle"), ("Cos", "cosine"),
                                         ("reduce-on-plateau", "plateau"), ("CosineAnnealingLR", "cosine")])
def test_unknown_scheduler_names_the_close_one(name: str, close: str) -> None:
    # REFERENCE's names (Caffe's exp, inv, poly, fixed) and torch's class names are answered with ours.
    opt = torch.optim.SGD([nn.Parameter(torch.ones(1))], lr=0.1)
    match = rf"Unknown scheduler name='{name}'; expected one of .*Did you mean '{close}'\?$"
    with pytest.raises(ValueError, match=match):
        create_scheduler(name, opt, total_steps=10)


@pytest.mark.parametrize("given, name", [("Cosine", "cosine"), ("COSINE", "cosine"), ("one-cycle", "onecycle"),
                                         ("OneCycle", "onecycle"), ("Multi_Step", "multistep"), ("Plateau", "plateau")])
def test_scheduler_names_are_read_in_any_case_as_optimizer_names_are(given: str, name: str) -> None:
    # "Cosine" was refused with "did you mean 'cosine'?", where create_optimizer("AdamW", ...) is taken.
    settings = {"multistep": {"milestones": [3]}}.get(name, {})
    assert np.array_equal(preview_schedule(given, total_steps=8, lr=1.0, **settings),
                          preview_schedule(name, total_steps=8, lr=1.0, **settings))
    # Messages name the registry name.
    with pytest.raises(TypeError, match=rf"^Scheduler '{name}' does not take the setting gama"):
        create_scheduler(given, torch.optim.SGD([nn.Parameter(torch.ones(1))], lr=0.1), total_steps=8, gama=0.5)


@pytest.mark.parametrize(
    "name, settings, last, match",
    [
        ("multistep", dict(milestones=[3, 10]), 10, r"milestones\[-1\] < 10.*milestone \[10\] would never change"),
        ("multistep", dict(milestones=[30, 60]), 60, r"milestones \[30, 60\]"),
        ("step", dict(step_size=10), 10, r"step_size < 10.*never change.*'constant'"),
        ("factor", dict(factor=0.5, step_size=25), 25, r"step_size < 10.*never change"),
        ("cyclic", dict(max_lr=2.0), 2000, r"step_size_up=2000 \(the default\): the LR would never reach max_lr.*"
                                           r"step_size_up=2 for two cycles"),
        ("cyclic", dict(max_lr=2.0, step_size_up=10), 10, r"step_size_up < 10.*step_size_up=10: "),
    ],
)
def test_step_counts_past_the_run_are_refused(name: str, settings: dict, last: int, match: str) -> None:
    # The LR of a 10-step run is read at t = 0..9: a milestone, step size or half cycle of 10 or more
    # never takes effect (milestones given in epochs, cyclic's default 2000 on a short fit).
    with pytest.raises(ValueError, match=match):
        preview_schedule(name, total_steps=10, **settings)
    # Counted from the end of the warm-up.
    preview_schedule(name, total_steps=5 + last + 1, warmup_steps=5, **settings)
    with pytest.raises(ValueError, match=r"total_steps - warmup_steps"):
        preview_schedule(name, total_steps=5 + last, warmup_steps=5, **settings)


@pytest.mark.parametrize(
    "name, settings", [("multistep", dict(milestones=[9])), ("step", dict(step_size=9)),
                       ("factor", dict(factor=0.5, step_size=9)), ("cyclic", dict(max_lr=2.0, step_size_up=9))]
)
def test_a_step_count_on_the_last_step_takes_effect(name: str, settings: dict) -> None:
    lrs = preview_schedule(name, total_steps=10, **settings)
    assert lrs[-1] != lrs[0] and (lrs[:-1] == lrs[0]).all() if name != "cyclic" else lrs[-1] == pytest.approx(2.0)
    # Without total_steps there is no run to check against (a schedule stepped open-ended).
    opt = torch.optim.SGD([nn.Parameter(torch.ones(1))], lr=1.0)
    create_scheduler(name, opt, **{**settings, **({"step_size_up": 5000} if name == "cyclic" else {})})


def test_plateau_preview_reads_its_metric_once_per_epoch() -> None:
    # Previewed over a fit's optimizer steps, plateau read a metric after every step: lrfind fit's plan and
    # the callback's report showed it decaying every patience + 1 *steps*.
    got = preview_schedule("plateau", total_steps=12, lr=1.0, steps_per_epoch=4, patience=0)
    np.testing.assert_array_equal(got, [1.0] * 8 + [0.5] * 4)
    got = preview_schedule("plateau", total_steps=12, lr=1.0, steps_per_epoch=4, patience=0, metrics=[3.0, 2.0])
    np.testing.assert_array_equal(got, [1.0] * 12)  # improving
    # The warm-up counts optimizer steps; the first epoch's metric (warm-up LRs) is ignored.
    got = preview_schedule("plateau", total_steps=16, lr=1.0, steps_per_epoch=4, patience=0, warmup_steps=2)
    np.testing.assert_array_equal(got, [0.0, 0.5] + [1.0] * 10 + [0.5] * 4)
    with pytest.raises(ValueError, match=r"\(total_steps - 1\) // steps_per_epoch = 2 metrics, but got 1"):
        preview_schedule("plateau", total_steps=12, steps_per_epoch=4, metrics=[1.0])
    with pytest.raises(ValueError, match="steps_per_epoch >= 1"):
        preview_schedule("plateau", total_steps=12, steps_per_epoch=0)
    # The other schedules step per optimizer step whatever the epoch.
    np.testing.assert_array_equal(
        preview_schedule("step", total_steps=6, step_size=2, gamma=0.5, steps_per_epoch=4),
        preview_schedule("step", total_steps=6, step_size=2, gamma=0.5),
    )


def test_suggestion_is_typed_to_take_a_range_test_result() -> None:
    # The README and the docstrings pass suggestion=result; the annotation said Suggestion | None, so a
    # type-checked user's create_scheduler(..., suggestion=result) failed mypy (py.typed is shipped).
    import typing

    from lrfinder import RangeTestResult, Suggestion

    for function in (create_scheduler, preview_schedule):
        hints = typing.get_type_hints(function)  # as LightningCLI and pydantic read it
        # and the default's own type: none given, told apart from an explicit None (an inconclusive result's).
        assert set(typing.get_args(hints["suggestion"])) == {
            Suggestion, RangeTestResult, type(None), lrfinder.schedulers._NoSuggestion
        }


@pytest.mark.parametrize(
    ("name", "settings", "said"),
    [
        ("onecycle", {}, "schedule 'onecycle' takes max_lr from the optimizer's LR"),
        ("onecycle", {"max_lr": None}, "schedule 'onecycle' takes max_lr from the optimizer's LR"),
        ("cosine", {}, "schedule 'cosine' takes its starting LR from the optimizer's LR"),
        ("cyclic", {"max_lr": 0.5, "step_size_up": 5}, "schedule 'cyclic' takes base_lr from the optimizer's LR"),
    ],
)
def test_an_inconclusive_results_suggestion_none_is_said(name: str, settings: dict[str, Any], said: str) -> None:
    # create_scheduler(..., suggestion=result.suggestion) of an inconclusive test passed None, the default: the
    # schedule was built at the optimizer's LR without a word, where suggestion=result is refused with its error.
    from lrfinder import RangeTestResult

    result = RangeTestResult(lrs=(1e-3,), losses=(1.0,), stop_reason="completed", error="too few points")
    with pytest.warns(UserWarning, match=rf"^suggestion=None: {said}, as without a suggestion\. If it is "
                                         r"result\.suggestion of a range test, that test was inconclusive .*pass "
                                         r"suggestion=result to be told so"):
        warned = preview_schedule(name, total_steps=T, lr=0.1, suggestion=result.suggestion, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # left out, or with the LRs it would fill: a schedule of one's own
        np.testing.assert_array_equal(warned, preview_schedule(name, total_steps=T, lr=0.1, **settings))
        preview_schedule("onecycle", total_steps=T, lr=0.1, suggestion=None, max_lr=0.5)
        preview_schedule("cyclic", total_steps=T, suggestion=None, base_lr=0.1, max_lr=0.5, step_size_up=5)
        opt = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
        create_scheduler(name, opt, total_steps=T, **settings)
    with pytest.raises(TypeError, match=r"needs the setting max_lr \(suggestion=None: If it is result\."):
        create_scheduler("cyclic", opt, suggestion=result.suggestion, step_size_up=5)


@pytest.mark.parametrize("name", ["cosine", "onecycle", "cyclic"])
def test_a_result_as_suggestion_gives_its_training_suggestion(name: str) -> None:
    # create_scheduler(suggestion=result) took result.suggestion: the band at the test's batch size, not the
    # scaled (or refined) one the callback and lrfind fit build from, and the docs point to.
    from lrfinder import RangeTestResult, analyze

    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    losses = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0)
    raw = RangeTestResult(
        lrs=tuple(lrs), losses=tuple(losses), stop_reason="completed", batch_size=32, suggestion=analyze(lrs, losses)
    )
    result = raw.scale(64, rule="linear")  # x2: the peak stays below the divergence point
    settings = {"step_size_up": 5} if name == "cyclic" else {}
    got = preview_schedule(name, total_steps=T, lr=1.0, suggestion=result, **settings)
    want = preview_schedule(name, total_steps=T, lr=1.0, suggestion=result.training_suggestion, **settings)
    np.testing.assert_array_equal(got, want)
    assert result.training_suggestion != raw.suggestion
    unscaled = preview_schedule(name, total_steps=T, lr=1.0, suggestion=raw.suggestion, **settings)
    assert got.max() == pytest.approx(2 * unscaled.max())
    # An inconclusive result says so, with its error.
    empty = RangeTestResult(lrs=(1e-3,), losses=(1.0,), stop_reason="completed", error="too few points")
    with pytest.raises(ValueError, match=r"holds no suggestion .*: too few points\. Pass suggestion=None"):
        preview_schedule(name, total_steps=T, suggestion=empty, **settings)
    # A real error is sentences ending in a full stop: quoted whole, without "(....);" around it.
    empty = replace(empty, error="The loss never clearly falls. Increase num_steps (or max_lr).")
    want = r"from: The loss never clearly falls\. Increase num_steps \(or max_lr\)\. Pass"
    with pytest.raises(ValueError, match=want) as info:
        preview_schedule(name, total_steps=T, suggestion=empty, **settings)
    assert ".)" not in str(info.value) and ".." not in str(info.value)


@pytest.mark.parametrize(
    ("name", "settings", "per"),
    [
        ("step", {"step_size": 10, "gamma": 10}, "by 10 every 10 steps"),
        ("multistep", {"milestones": [10, 20], "gamma": 2}, "by 2 at every milestone"),
        ("exponential", {"gamma": 1.01}, "by 1.01 at every step"),
    ],
)
def test_a_decay_schedule_whose_gamma_raises_the_lr_is_said(name: str, settings: dict, per: str) -> None:
    # gamma=10 for 0.1 built a schedule that multiplied the LR tenfold every step_size steps, without a word.
    opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.warns(UserWarning, match=rf"Schedule '{name}' with gamma=.* > 1 multiplies the LR {per}: the LR grows"):
        create_scheduler(name, opt, total_steps=100, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # 0.9, not 0.5: exponential at 0.5 per step ends 30 decades down over 100 steps, itself warned about.
        create_scheduler(name, opt, total_steps=100, **{**settings, "gamma": 0.9})


@pytest.mark.parametrize(
    ("name", "settings", "per"),
    [
        ("step", {"step_size": 10, "gamma": 1}, "every 10 steps"),
        ("multistep", {"milestones": [10, 20], "gamma": 1.0}, "at every milestone"),
        ("exponential", {"gamma": 1.0}, "at every step"),
    ],
)
def test_a_decay_schedule_whose_gamma_is_one_is_said(name: str, settings: dict, per: str) -> None:
    # gamma=1 built a decay schedule that never moved the LR, without a word (a step_size past the run, which would
    # never change it either, is refused).
    opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.warns(UserWarning, match=rf"Schedule '{name}' with gamma=1 multiplies the LR by 1 {per}: the LR never "
                      r"changes, as under 'constant'"):
        create_scheduler(name, opt, total_steps=100, **settings)


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("step", {"step_size": 1, "gamma": 2.0}),
        ("multistep", {"milestones": list(range(1, 1100)), "gamma": 2.0}),
        ("exponential", {"gamma": 2.0}),
        ("exponential", {"gamma": 10**30}),
    ],
)
def test_a_growing_gamma_over_a_long_run_is_said_not_an_overflow(name: str, settings: dict) -> None:
    # The collapse check took gamma ** steps: 2.0 ** 1999 failed with "(34, 'Numerical result out of range')", an
    # error of the check itself, where a growing gamma is only warned about.
    opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.warns(UserWarning, match=rf"Schedule '{name}' with gamma=.* > 1 multiplies the LR"):
        create_scheduler(name, opt, total_steps=2000, **settings)


@pytest.mark.parametrize("warmup", [0, 3])
@pytest.mark.parametrize("name", list_schedulers())
def test_a_schedule_starts_from_the_lr_the_groups_have_not_an_earlier_schedulers(name: str, warmup: int) -> None:
    # An optimizer an earlier scheduler ran on (a first phase, or a state_dict loaded from a checkpoint) keeps
    # that scheduler's initial_lr in its groups. Set to a new LR (the one a range test found), the schedule
    # jumped back to the old one: constant, inverse and factor at once, the others at the end of a warm-up,
    # onecycle's and cyclic's default max_lr / base_lr were the old LR.
    settings = _settings_for(name)  # cyclic's base_lr: the groups' LRs

    def lrs(opt):
        sched = create_scheduler(name, opt, total_steps=12, warmup_steps=warmup, **settings)
        out = []
        for t in range(12):
            out.append([g["lr"] for g in opt.param_groups])
            opt.step()
            _step(sched, t)
        return out

    def two_groups(lr):
        a, b = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))
        return torch.optim.SGD([{"params": [a], "lr": lr / 2}, {"params": [b]}], lr=lr, momentum=0.9)

    used = two_groups(0.4)
    earlier = torch.optim.lr_scheduler.StepLR(used, step_size=1, gamma=0.5)
    for _ in range(2):
        used.step()
        earlier.step()
    for group, lr in zip(used.param_groups, [0.05, 0.1]):  # the new LR, at the groups' 1/2 ratio
        group["lr"] = lr
    used.defaults["lr"] = 0.1
    np.testing.assert_allclose(lrs(used), lrs(two_groups(0.1)), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["cosine", "factor"])
def test_an_eta_min_above_a_groups_lr_is_said(name: str) -> None:
    # eta_min is an absolute LR: above a group's LR (a suggestion below the floor the user set, a backbone at a
    # small lr factor) cosine rose to it over the run and factor jumped to it at step 0, without a word.
    settings = {"factor": 0.5} if name == "factor" else {}
    _, opt = _optimizer()  # groups at 0.25 and 0.5
    with pytest.warns(UserWarning, match=rf"Schedule '{name}' with eta_min=3.00e-01 is above the LR of param "
                      r"group \[0\] \(\[2.50e-01\]\): it raises their LR to eta_min instead of decaying"):
        sched = create_scheduler(name, opt, total_steps=10, eta_min=0.3, **settings)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] > 0.25  # what the warning says
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_scheduler(name, _optimizer()[1], total_steps=10, eta_min=0.2, **settings)


def test_preview_schedule_refuses_more_steps_than_it_can_draw() -> None:
    """total_steps=1e9 allocated 8 GB and stepped a scheduler for hours before saying anything."""
    from lrfinder.schedulers import MAX_PREVIEW_STEPS

    with pytest.raises(ValueError, match=r"total_steps <= 1,000,000 for preview_schedule.*total_steps=1,000,000,000"):
        preview_schedule("cosine", total_steps=10**9, lr=0.1)
    opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    create_scheduler("cosine", opt, total_steps=10**9)  # the scheduler itself has no bound
    assert MAX_PREVIEW_STEPS == 1_000_000


@pytest.mark.parametrize(
    ("metrics", "match"),
    [
        ("abc", r"metrics to be a sequence of numbers .*metrics='abc'"),
        (5, r"metrics to be a sequence of numbers .*metrics=5"),
        ([1.0, None], r"metrics to hold numbers, but got metrics\[1\]=None"),
        ([1.0, "x"], r"metrics\[1\]='x'"),
        ([[1.0]], r"metrics\[0\]=\[1.0\]"),
    ],
)
def test_preview_metrics_that_are_no_numbers_are_named(metrics: object, match: str) -> None:
    # Were Python's "could not convert string to float: 'a'", "'int' object is not iterable", ...
    with pytest.raises(TypeError, match=match):
        preview_schedule("plateau", total_steps=3, metrics=metrics)


def test_preview_metrics_take_numpy_and_tensors() -> None:
    got = preview_schedule("plateau", total_steps=4, lr=1.0, patience=0, metrics=np.array([1.0, 2.0, 3.0]))
    assert got.tolist() == [1.0, 1.0, 0.5, 0.25]
    got = preview_schedule("plateau", total_steps=4, lr=1.0, patience=0, metrics=[torch.tensor(1.0)] * 3)
    assert got.tolist() == [1.0, 1.0, 0.5, 0.25]


def test_a_nan_metric_is_an_epoch_without_improvement_in_the_preview_as_in_training() -> None:
    """A diverged epoch's NaN loss: accepted, and counted as torch counts it (documented; refusing it would make the
    preview disagree with the training create_scheduler's ReduceLROnPlateau runs)."""
    nan = math.nan
    for mode, better in (("min", 0.5), ("max", 2.0)):
        got = preview_schedule("plateau", total_steps=4, lr=1.0, patience=0, mode=mode, metrics=[1.0, nan, better])
        assert got.tolist() == [1.0, 1.0, 0.5, 0.5]  # cut after the NaN epoch; the improvement after it keeps the LR
        opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = create_scheduler("plateau", opt, patience=0, mode=mode)
        seen = [opt.param_groups[0]["lr"]]
        for metric in (1.0, nan, better):
            sched.step(metric)
            seen.append(opt.param_groups[0]["lr"])
        assert seen == got.tolist()
    assert preview_schedule("plateau", total_steps=3, lr=1.0, patience=0, metrics=[nan, nan]).tolist() == [1, 0.5, 0.25]
    assert "NaN" in (preview_schedule.__doc__ or "") and "NaN" in (lrfinder.schedulers.__doc__ or "")


def test_the_plateau_warmup_moves_a_tensor_lr_in_place() -> None:
    # It replaced the tensor by a float (torch's schedulers, ReduceLROnPlateau's decay included, fill it in place):
    # a compiled or captured step holding the tensor never saw the warm-up.
    lr = torch.tensor(0.1)
    opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=lr)
    sched = create_scheduler("plateau", opt, warmup_steps=4, patience=0)
    seen = []
    for _ in range(5):
        seen.append(float(lr))
        assert opt.param_groups[0]["lr"] is lr
        opt.step()
    assert seen == pytest.approx([0.0, 0.025, 0.05, 0.075, 0.1])
    assert sched.get_last_lr() == pytest.approx([0.1])
    sched.step(1.0)  # measured during the warm-up: ignored
    sched.step(2.0)  # the first best
    sched.step(3.0)  # worse: torch's decay, in place too
    assert opt.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(0.05)


def test_a_suggestion_moves_a_tensor_lr_in_place() -> None:
    lr = torch.tensor(0.1)
    opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=lr)
    create_scheduler("constant", opt, suggestion=_suggestion(lr=0.02))
    assert opt.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(0.02)


@pytest.mark.parametrize("warmup", [0, 3])
@pytest.mark.parametrize("name", list_schedulers())
def test_the_same_schedule_created_again_before_a_step_starts_from_the_same_lrs(name: str, warmup: int) -> None:
    # A notebook cell run twice builds the schedule again on the same optimizer. Building one already set
    # the groups' LRs to its first value (0 at a warm-up's start, max_lr / div_factor for onecycle): read
    # as the new eta0, the second schedule ran from that (a whole run at LR 0 after a warm-up).
    settings = _settings_for(name)

    def lrs(opt, times):
        for _ in range(times):
            sched = create_scheduler(name, opt, total_steps=12, warmup_steps=warmup, **settings)
        out = []
        for t in range(12):
            out.append([float(g["lr"]) for g in opt.param_groups])
            opt.step()
            _step(sched, t)
        return out

    def two_groups():
        a, b = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))
        return torch.optim.SGD([{"params": [a], "lr": 0.05}, {"params": [b]}], lr=0.1, momentum=0.9)

    np.testing.assert_allclose(lrs(two_groups(), 2), lrs(two_groups(), 1), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lrs(two_groups(), 3), lrs(two_groups(), 1), rtol=1e-12, atol=1e-15)


def test_a_new_lr_set_after_a_schedule_was_built_is_the_next_schedules_eta0() -> None:
    # Built, then the LR set by hand (the one a range test found) before any step: the next schedule starts
    # from the new LR, not from the first schedule's.
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    create_scheduler("cosine", opt, total_steps=10, warmup_steps=2)
    opt.param_groups[0]["lr"] = 0.02
    sched = create_scheduler("cosine", opt, total_steps=10)
    assert sched.get_last_lr() == [pytest.approx(0.02)]


def test_advised_warmup_checks_its_arguments():
    # Unchecked: steps=None or a string LR failed in a bare comparison, a NaN LR gave a warm-up from 0.
    from lrfinder.schedulers import advised_warmup

    assert advised_warmup("cosine", np.int64(40), np.float32(0.01), torch.tensor(0.04)) == {
        "warmup_steps": 40,
        "warmup_start_factor": 0.25,
    }
    assert advised_warmup("cosine", 0, 0.01, 0.04) == {}
    for args, error, match in (
        ((None, 0.01, 0.04), TypeError, "Expected steps to be an integer, but got steps=None"),
        ((-1, 0.01, 0.04), ValueError, "Expected steps >= 0"),
        ((2.5, 0.01, 0.04), TypeError, "steps to be an integer"),
        ((40, float("nan"), 0.04), TypeError, "Expected base_lr to be a finite number"),
        ((40, 0.01, "0.04"), TypeError, "Expected lr to be a finite number"),
        ((40, 0.01, 0.0), ValueError, "0.0 < lr"),
    ):
        with pytest.raises(error, match=match):
            advised_warmup("cosine", *args)


@pytest.mark.parametrize(
    ("lr", "pattern"),
    [("1e-4", r"group 1 of SGD has lr='1e-4' \(a string: a YAML"), (None, r"lr=None .*has no LR to schedule")],
)
def test_an_optimizer_group_lr_that_is_no_lr_is_named(lr: object, pattern: str) -> None:
    # torch's schedulers took lr='1e-4' (text from a YAML config) and failed at the first step; None with float()'s
    # "argument must be a string or a real number, not 'NoneType'".
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    opt = torch.optim.SGD([{"params": model[0].parameters()}, {"params": model[1].parameters(), "lr": lr}], lr=0.1)
    with pytest.raises(ValueError, match=pattern):
        create_scheduler("cosine", opt, total_steps=10)


@pytest.mark.parametrize(
    ("peak", "error", "said"),
    [
        # Against the suggestion's band it read "Expected max_lr >= suggestion.min_lr", and lrfind's check before the
        # range test (a stand-in band) said "at least the one-cycle band's low end ..., 1.00e-30".
        (-1.0, ValueError, r"^Expected 0 < max_lr, but got max_lr=-1.0$"),
        (0.0, ValueError, r"^Expected 0 < max_lr, but got max_lr=0.0$"),
        # With a suggestion, float(max_lr) ran before any check: "could not convert string to float: 'abc'", "float()
        # argument must be a string or a real number, not 'set'". Without one, the check said it.
        ("abc", TypeError, r"^Expected max_lr to be a finite number, but got max_lr="),
        ({1.0, 2.0}, TypeError, r"^Expected max_lr to be a finite number, but got max_lr="),
        (object(), TypeError, r"^Expected max_lr to be a finite number, but got max_lr="),
    ],
)
def test_a_max_lr_that_is_no_lr_is_refused_as_such_beside_a_suggestion(
    peak: object, error: type[Exception], said: str
) -> None:
    opt = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
    for suggestion in (_suggestion(lr=1e-2, min_lr=2e-3, max_lr=0.2), None):
        with pytest.raises(error, match=said):
            create_scheduler("onecycle", opt, total_steps=20, suggestion=suggestion, max_lr=peak)


def test_max_lr_none_beside_a_suggestion_is_the_suggestions() -> None:
    # None is max_lr's default (the optimizer's LR without a suggestion); beside one, float(None) failed.
    s = _suggestion(lr=1e-2, min_lr=2e-3, max_lr=0.2)
    opt = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
    given = create_scheduler("onecycle", opt, total_steps=20, suggestion=s, max_lr=None)
    assert given.optimizer.param_groups[0]["max_lr"] == pytest.approx(0.2)
    assert given.optimizer.param_groups[0]["initial_lr"] == pytest.approx(2e-3)


@pytest.mark.parametrize(
    ("name", "setting", "given", "expected"),
    [
        ("onecycle", "max_lr", "suggestion", "e.g. max_lr=suggestion.max_lr"),
        ("onecycle", "max_lr", "result", "e.g. max_lr=result.training_suggestion.max_lr"),
        ("cyclic", "base_lr", "suggestion", "e.g. base_lr=suggestion.min_lr"),
        ("cosine", "eta_min", "result", ""),  # no LR of the curve's is an eta_min
    ],
)
def test_a_result_or_suggestion_given_as_an_lr_setting_says_what_to_pass(name, setting, given, expected) -> None:
    # create_scheduler("onecycle", opt, max_lr=result.suggestion) printed the whole object (a result's every swept
    # LR and loss) as "Expected max_lr to be a finite number, but got max_lr=RangeTestResult(...)".
    from lrfinder import RangeTestResult, analyze

    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    losses = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0)
    result = RangeTestResult(
        lrs=tuple(lrs), losses=tuple(losses), stop_reason="completed", batch_size=32, suggestion=analyze(lrs, losses)
    )
    value = result if given == "result" else result.suggestion
    kind = type(value).__name__
    cyclic = {"max_lr": 1.0, "step_size_up": 10} if name == "cyclic" else {}
    settings = {setting: value, **cyclic}
    opt = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
    with pytest.raises(TypeError) as info:
        create_scheduler(name, opt, total_steps=100, **settings)
    assert str(info.value) == (
        f"Expected {setting} to be a number, but got a {kind}. Pass it as suggestion={given}, from which the "
        "schedule reads its start LR (and one-cycle's and cyclic's band, min_lr to max_lr), or pass a number"
        + (f", {expected}" if expected else "")
    )
    # preview_schedule's lr too; the suggestion itself is what the message says to pass
    with pytest.raises(TypeError, match=rf"^Expected lr to be a number, but got a {kind}\. Pass it as "
                       rf"suggestion={given}, .* or pass a number, e\.g\. lr={given}\.lr$"):  # fmt: skip
        preview_schedule(name, total_steps=100, lr=value, **cyclic)
    cyclic.pop("max_lr", None)  # the suggestion gives it
    assert len(create_scheduler(name, opt, total_steps=100, suggestion=value, **cyclic).get_last_lr()) == 1


@pytest.mark.parametrize(
    ("name", "settings", "expected"),
    [
        # total_steps misspelt, or under torch's names (CosineAnnealingLR's T_max, PolynomialLR's total_iters) or the
        # sweep's: the message said "needs total_steps" alone, the setting given unnamed.
        ("cosine", {"total_step": 1000}, "needs total_steps (the number of scheduler steps of the run); it got "
                                         "total_step=1000: did you mean total_steps?"),
        *(
            (name, {key: 1000}, f"takes the schedule's length as total_steps (the number of scheduler steps of the "
                                f"run), but got {key}=1000: {key} is another name for total_steps, the schedule's "
                                "length. Pass total_steps=1000 instead.")
            for name, key in (("cosine", "T_max"), ("polynomial", "total_iters"), ("onecycle", "num_steps"))
        ),
        # Given with total_steps, each was "does not take the setting T_max; it accepts: eta_min".
        *(
            (name, {"total_steps": 100, key: 1000}, f"got its length twice, total_steps=100 and {key}=1000: {key} is "
                                                    "another name for total_steps, the schedule's length. Drop "
                                                    f"{key}.")
            for name, key in (("cosine", "T_max"), ("polynomial", "total_iters"), ("onecycle", "num_steps"))
        ),
        ("step", {"step_size": 10, "total_steps": 100, "T_max": 1000},
         "got its length twice, total_steps=100 and T_max=1000: T_max is another name for total_steps, the schedule's "
         "length. Drop T_max."),
        # torch's OneCycleLR(epochs=..., steps_per_epoch=...) were refused as settings onecycle does not take.
        ("onecycle", {"epochs": 3, "steps_per_epoch": 10}, "but got epochs=3, steps_per_epoch=10: epochs and "
                                                           "steps_per_epoch are torch's OneCycleLR's other way to give "
                                                           "the length, total_steps = epochs * steps_per_epoch. Pass "
                                                           "total_steps=30 instead."),
        ("onecycle", {"epochs": 3}, "but got epochs=3: epochs is part of torch's OneCycleLR's other way to give the "
                                    "length, total_steps = epochs * steps_per_epoch. Pass total_steps=N instead."),
        ("onecycle", {"total_steps": 30, "epochs": 3, "steps_per_epoch": 10},
         "got its length twice, total_steps=30 and epochs=3, steps_per_epoch=10: epochs and steps_per_epoch are "
         "torch's OneCycleLR's other way to give the length, total_steps = epochs * steps_per_epoch. Drop epochs, "
         "steps_per_epoch."),
        # create_scheduler's own keywords misspelt: "it accepts: eta_min" and nothing close.
        ("cosine", {"total_steps": 1000, "warmup_step": 100}, "does not take the setting warmup_step; it accepts: "
                                                              "eta_min. Did you mean 'warmup_steps'?"),
        ("step", {"step_size": 10, "total_step": 1000}, "does not take the setting total_step; it accepts: "
                                                        "step_size, gamma. Did you mean 'total_steps'?"),
    ],
)  # fmt: skip
def test_a_misspelt_keyword_of_create_scheduler_is_named_with_the_right_one(name, settings, expected) -> None:
    opt = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
    with pytest.raises(TypeError) as info:
        create_scheduler(name, opt, **settings)
    assert str(info.value).endswith(expected)
    # As told, it builds.
    fixed = {{"total_step": "total_steps", "warmup_step": "warmup_steps"}.get(k, k): v for k, v in settings.items()
             if lrfinder.schedulers.length_alias(k) == k}  # T_max, epochs: dropped, or given as total_steps
    told = re.search(r"Pass total_steps=(\d+|N) instead\.$", expected)
    if told:
        fixed["total_steps"] = 30 if told[1] == "N" else int(told[1])
    assert create_scheduler(name, opt, **fixed).get_last_lr()
    # No setting close to total_steps: how to count them (it said what total_steps is, not how to count it).
    with pytest.raises(TypeError) as info:
        create_scheduler("cosine", opt)
    assert str(info.value) == (
        "Scheduler 'cosine' needs total_steps (the number of scheduler steps of the run): for a scheduler stepped "
        "after every optimizer step, epochs * len(train_loader), divided by the batches per optimizer step under "
        "gradient accumulation (rounded up); for one stepped once per epoch, the epochs; in Lightning, "
        "total_steps=self.trainer.estimated_stepping_batches"
    )


@pytest.mark.parametrize("name", ["cosine", "plateau"])
def test_a_warmup_start_without_warmup_steps_is_warned_about(name: str) -> None:
    """``warmup_start_factor=0.1`` without ``warmup_steps`` meant a warm-up, and was dropped without a word."""
    opt = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
    with pytest.warns(UserWarning) as caught:
        create_scheduler(name, opt, total_steps=20, warmup_start_factor=0.1)
    assert [str(w.message) for w in caught] == [
        f"warmup_start_factor=0.1 is ignored: there is no warm-up (warmup_steps=0), so {name} starts at its own first "
        "LR. Pass warmup_steps=N for a warm-up of N steps from 0.1x the LR, or leave warmup_start_factor out."
    ]
    assert caught[0].filename == __file__  # said at the user's call
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)  # as said: no warm-up, the schedule's own start
    # With a warm-up, or without a start (the default the callback, lrfind and refine pass on), nothing is said.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_scheduler(name, opt, total_steps=20, warmup_steps=4, warmup_start_factor=0.1)
        create_scheduler(name, opt, total_steps=20, warmup_start_factor=0.0)
        create_scheduler(name, opt, total_steps=20)


def test_a_collapse_at_one_milestone_says_milestone_in_the_singular() -> None:
    # "with gamma=1e-09 at 1 milestones".
    opt = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
    with pytest.warns(UserWarning, match=r"^Schedule 'multistep' with gamma=1e-09 at 1 milestone over its 10 steps "):
        create_scheduler("multistep", opt, total_steps=10, milestones=[5], gamma=1e-9)


def test_per_group_values_of_another_count_name_the_optimizers_groups():
    # lr_factors={"1": 0.1} makes 4 groups (each factor's parameters with and without weight decay): the message said
    # "one value per param group (4)", leaving a user who counted 2 factors to guess which 4. Judged against the real
    # optimizer only: before it, any length passes.
    from lrfinder.optimizers import create_optimizer
    from lrfinder.schedulers import schedule_refusal

    assert schedule_refusal("onecycle", {"max_lr": [0.1, 0.01, 0.001]}) is None
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2))
    named = create_optimizer("momentum", model, lr=0.1, lr_factors={"1": 0.1})
    said = (
        r"Expected max_lr to be a number or one value per param group \(4: 'decay_x1', 'no_decay_x1', 'decay_x0.1', "
        r"'no_decay_x0.1'\), but got 3 values"
    )
    with pytest.raises(ValueError, match=said):
        create_scheduler("onecycle", named, total_steps=20, max_lr=[0.1, 0.01, 0.001])
    plain = torch.optim.SGD([{"params": [p]} for p in model.parameters()][:2], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"one value per param group \(2\), but got 3 values"):
        create_scheduler("onecycle", plain, total_steps=20, max_lr=[0.1, 0.01, 0.001])


@pytest.mark.parametrize(
    ("name", "settings", "key"),
    [
        ("cosine", {"warmup_steps": 10**13}, "warmup_steps"),
        ("constant", {"warmup_steps": 10**12}, "warmup_steps"),
        ("multistep", {"milestones": [10, 10**13]}, "milestones"),
        ("step", {"step_size": 10**13}, "step_size"),
        ("cyclic", {"step_size_up": 10**13}, "step_size_up"),
    ],
)
def test_a_step_count_past_any_run_is_refused_before_the_fit_without_the_stand_ins_numbers(
    name: str, settings: dict[str, Any], key: str
) -> None:
    # The check before a fit builds the schedule over a stand-in run of 10**12 steps, and its refusal read
    # "Expected warmup_steps < total_steps, but got warmup_steps=10000000000000, total_steps=1000000000000".
    from lrfinder.callback import LRFinder
    from lrfinder.schedulers import schedule_refusal

    refusal = schedule_refusal(name, settings)
    assert isinstance(refusal, ValueError)
    said = str(refusal)
    assert said.startswith(f"Expected {key} within the run's total_steps, but got {key}={settings[key]!r}: more "
                           "scheduler steps than any real run takes.")  # fmt: skip
    assert "1000000000000" not in said.replace(str(settings[key]), "") and "1,000" not in said
    with pytest.raises(ValueError, match=rf"^LRFinder\(scheduler='{name}', scheduler_settings=\.\.\.\): Expected {key} "
                                         "within the run's total_steps"):  # fmt: skip
        LRFinder(optimizer="momentum", scheduler=name, scheduler_settings=settings)
    # Another setting refused over any run is named as before, not the long count.
    other = schedule_refusal("step", {"warmup_steps": 10**13, "step_size": "10"})
    assert str(other) == "Expected step_size to be an integer, but got step_size='10'"
    # Just inside the stand-in run: judged against the real run at fit start, as before.
    assert schedule_refusal("cosine", {"warmup_steps": 10**12 - 1}) is None


def _sgd_at_lr_0() -> tuple[nn.Module, torch.optim.Optimizer]:
    """Two groups at lr 0 (create_optimizer refuses lr 0; torch's SGD takes it)."""
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    return model, torch.optim.SGD([{"params": model[0].parameters()}, {"params": model[2].parameters()}], lr=0.0)


@pytest.mark.parametrize("name", list_schedulers())
def test_a_schedule_on_an_optimizer_at_lr_0_is_warned_where_all_its_lrs_are_0(name: str) -> None:
    # Built on an optimizer at lr 0, every schedule scaling the optimizer's LR was 0 throughout, without a word.
    settings = dict(FORMULAS[name][1][0])
    if name == "onecycle":
        settings.pop("max_lr", None)  # its peak from the optimizer, as by default
    model, opt = _sgd_at_lr_0()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        sched = create_scheduler(name, opt, total_steps=T, **settings)
    said = [str(w.message) for w in seen if "at lr 0" in str(w.message)]
    lrs = []
    for t in range(T):
        lrs.extend(g["lr"] for g in opt.param_groups)
        _train_step(model, opt)
        _step(sched, t)
    if name in ("cyclic", "cosine"):  # max_lr is its own (required): it cycles from 0; cosine rises to eta_min=0.01
        assert said == [] and max(lrs) > 0
        return
    assert max(lrs) == 0
    assert said == [
        f"Schedule {name!r} is built on an optimizer at lr 0 in each of its 2 param groups: it scales the "
        "optimizer's LR, so every LR it gives is 0 and nothing trains. Set the optimizer's lr (e.g. SGD(params, "
        "lr=1e-3)), pass suggestion=result.suggestion" + (" or max_lr=..." if name == "onecycle" else "")
        + ", then build the schedule."
    ]


@pytest.mark.parametrize("name", ["cosine", "onecycle"])
def test_a_frozen_group_at_lr_0_or_a_onecycle_peak_given_is_not_warned(name: str) -> None:
    model, opt = _sgd_at_lr_0()
    settings: dict[str, Any] = {"max_lr": 0.1} if name == "onecycle" else {}
    if name == "cosine":
        opt.param_groups[1]["lr"] = 0.1  # the other group frozen at 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_scheduler(name, opt, total_steps=T, **settings)
