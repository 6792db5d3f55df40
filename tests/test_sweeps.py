from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lrfinder.exceptions import InconclusiveCurveError
from lrfinder.optimizers import create_optimizer
from lrfinder.range_test import finish_result, lr_schedule
from lrfinder.sweeps import format_weight_decay, recommend_weight_decay, weight_decay_sweep


def curve(floor: float = 0.5, blowup: float = 0.0, seed: int = 0):
    """Loss falls from 2.3 to ``floor`` around lr=1e-2 and explodes past 10**(blowup - 0.8)."""
    rng = np.random.default_rng(seed)
    lrs = lr_schedule(1e-6, 10.0, 100)
    x = np.log10(lrs)
    loss = (
        floor + (2.3 - floor) / (1 + np.exp((x + 2) * 3)) + np.where(x > blowup - 0.8, (x - blowup + 0.8) ** 2 * 6, 0)
    )
    loss = loss + rng.normal(0, 0.005, x.size)
    stop = np.flatnonzero(loss > 6)
    end = stop[0] + 1 if stop.size else x.size
    return finish_result(lrs[:end], loss[:end], "diverged")


def test_lowest_minimum_wins():
    results = [curve(floor=0.8), curve(floor=0.4), curve(floor=0.6)]
    choice = recommend_weight_decay(results, [0, 1e-4, 1e-3])
    assert choice.index == 1 and choice.weight_decay == 1e-4 and "lowest minimum" in choice.reason


def test_tied_minima_go_to_the_widest_stable_range():
    results = [
        curve(floor=0.5, blowup=0.2),
        curve(floor=0.5, blowup=1.0, seed=1),
        curve(floor=0.5, blowup=0.5, seed=2),
    ]
    assert results[1].suggestion.divergence_lr > results[0].suggestion.divergence_lr
    choice = recommend_weight_decay(results, [0, 1e-4, 1e-3])
    assert choice.index == 1 and "largest LR" in choice.reason


def test_full_tie_goes_to_the_larger_weight_decay():
    results = [curve(seed=0), curve(seed=0), curve(seed=0)]
    choice = recommend_weight_decay(results, [1e-4, 1e-3, 0])
    assert choice.index == 1 and choice.weight_decay == 1e-3


def test_inconclusive_curves_do_not_compete():
    flat = finish_result(lr_schedule(1e-6, 10.0, 60), np.ones(60), "completed")
    assert flat.suggestion is None
    choice = recommend_weight_decay([flat, curve()], [0, 1e-3])
    assert choice.index == 1 and "only conclusive" in choice.reason
    with pytest.raises(InconclusiveCurveError, match="Every curve"):
        recommend_weight_decay([flat, flat], [0, 1e-3])
    with pytest.raises(ValueError, match="one weight decay per result"):
        recommend_weight_decay([flat], [0, 1])


def test_sweep_runs_each_value_from_the_same_state(mlp, loader):
    before = {k: v.clone() for k, v in mlp.state_dict().items()}
    results = weight_decay_sweep(
        mlp,
        loader,
        [0.0, 1e-2],
        make_optimizer=lambda m, wd: create_optimizer("momentum", m, lr=1e-7, weight_decay=wd),
        loss_fn=F.cross_entropy,
        num_steps=20,
    )
    assert [r.label for r in results] == ["wd=0", "wd=1e-02"]
    assert results[0].losses[0] == results[1].losses[0]  # same model, same first batch
    assert all(torch.equal(before[k], v) for k, v in mlp.state_dict().items())
    with pytest.raises(ValueError, match="weight_decay=-1.0"):
        weight_decay_sweep(mlp, loader, [-1.0], make_optimizer=lambda m, wd: None)


def test_a_repeated_weight_decay_runs_once_with_a_warning(mlp, loader):
    built: list[float] = []

    def make(m, wd):
        built.append(wd)
        return create_optimizer("momentum", m, lr=1e-7, weight_decay=wd)

    with pytest.warns(UserWarning, match=r"repeats 1e-02: each value runs once \(2 tests, not 4\)"):
        results = weight_decay_sweep(mlp, loader, [1e-2, 0.0, 0.01, 1e-2], make_optimizer=make,
                                     loss_fn=F.cross_entropy, num_steps=12)
    assert built == [1e-2, 0.0]
    assert [r.label for r in results] == ["wd=1e-02", "wd=0"]
    # [0, 0] is one test, said in the singular ("1 tests" read as a slip).
    with pytest.warns(UserWarning, match=r"repeats 0: each value runs once \(1 test, not 2\)\.$"):
        results = weight_decay_sweep(mlp, loader, [0, 0], make_optimizer=make, loss_fn=F.cross_entropy, num_steps=12)
    assert [r.label for r in results] == ["wd=0"]


def test_sweep_refuses_a_factory_that_ignores_the_weight_decay(mlp, loader):
    # Each test ran the same optimizer, labelled with a different weight decay: a meaningless comparison.
    started = []
    cases = {
        "torch's default 0": lambda m, wd: torch.optim.SGD(m.parameters(), lr=1e-7, momentum=0.9),
        "hard-coded": lambda m, wd: create_optimizer("adamw", m, lr=1e-7, weight_decay=1e-4),
        "class default": lambda m, wd: torch.optim.AdamW(m.parameters(), lr=1e-7),
        "no weight_decay key": lambda m, wd: torch.optim.Rprop(m.parameters(), lr=1e-7),
    }
    for name, factory in cases.items():
        with pytest.raises(ValueError, match=r"does not use the weight decay it is given") as info:
            weight_decay_sweep(
                mlp, loader, [0.0, 1e-4, 1e-3], make_optimizer=factory, loss_fn=F.cross_entropy, num_steps=20,
                on_start=lambda i, wd: started.append(wd),
            )  # fmt: skip
        assert "create_optimizer(" in str(info.value), name
        assert "make_optimizer(model, 0) and make_optimizer(model, 1e-04)" in str(info.value), name
    assert started == []  # refused before any test ran


def test_check_uses_weight_decay_allows_no_decay_groups_and_scaled_decay(mlp):
    from lrfinder.sweeps import check_uses_weight_decay

    def sgd(groups):
        return torch.optim.SGD(groups, lr=0.1)

    weights = [p for n, p in mlp.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in mlp.named_parameters() if n.endswith("bias")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # create_optimizer's decay / no-decay split (biases and BatchNorm at 0), and hand-written groups.
        made = [create_optimizer("momentum", mlp, lr=0.1, weight_decay=wd) for wd in (0.0, 1e-3)]
        check_uses_weight_decay(made, [0.0, 1e-3])
        groups = [{"params": weights, "weight_decay": 5e-4}, {"params": biases, "weight_decay": 0.0}, {"params": []}]
        check_uses_weight_decay([sgd(groups)], [5e-4])
        check_uses_weight_decay([torch.optim.Rprop(mlp.parameters(), lr=0.1)], [1e-4])  # no key: nothing to read
        check_uses_weight_decay([object(), object()], [0.0, 1e-4])  # not optimizers: range_test says so
    # A factory that scales the value on purpose (layer-wise decay) differs per value: a warning, not an error.
    scaled = [sgd([{"params": weights, "weight_decay": 0.5 * wd}, {"params": biases, "weight_decay": 0.0}])
              for wd in (1e-4, 1e-3)]  # fmt: skip
    with pytest.warns(UserWarning) as seen:
        check_uses_weight_decay(scaled, [1e-4, 1e-3])
    assert [str(w.message).split(":")[0] for w in seen] == [
        "make_optimizer(model, 1e-04) built SGD whose param groups have weight_decay 5e-05, 0, none at 1e-04",
        "make_optimizer(model, 1e-03) built SGD whose param groups have weight_decay 5e-04, 0, none at 1e-03",
    ]
    with pytest.warns(UserWarning, match=r"weight_decay 1e-04, 0, not all at 0"):
        check_uses_weight_decay([create_optimizer("adamw", mlp, lr=0.1, weight_decay=1e-4)], [0.0])


def test_format_weight_decay():
    assert [format_weight_decay(v) for v in (0, 1e-4, 5e-4, 0.00025, 0.1)] == [
        "0",
        "1e-04",
        "5e-04",
        "0.00025",
        "1e-01",
    ]


def test_sweep_calls_on_start_and_stops_on_ctrl_c(mlp, loader):
    started = []
    steps = []

    def on_start(index, wd):
        started.append((index, wd))

        def on_step(i, lr, loss):
            steps.append((index, i))
            if index == 1 and i == 5:
                raise KeyboardInterrupt

        return on_step

    results = weight_decay_sweep(
        mlp, loader, [0.0, 1e-4, 1e-3],
        make_optimizer=lambda m, wd: create_optimizer("adamw", m, lr=1e-6, weight_decay=wd),
        on_start=on_start, loss_fn=F.cross_entropy, num_steps=20,
    )  # fmt: skip
    assert started == [(0, 0.0), (1, 1e-4)]  # the third value never ran
    assert [r.stop_reason for r in results] == ["completed", "interrupted"]
    assert {i for i, _ in steps} == {0, 1} and len([s for s in steps if s[0] == 0]) == 20


def _adamw(m, wd):
    return torch.optim.AdamW(m.parameters(), lr=1e-7, weight_decay=wd)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        # 'float' object is not iterable / could not convert string to float / float() argument ... 'NoneType'
        ({"weight_decays": 1e-3}, r"sequence of numbers.*weight_decays=0.001; for one value pass \[0.001\]"),
        ({"weight_decays": ["1e-3"]}, r"every weight decay to be a number, but got '1e-3'"),
        ({"weight_decays": [0, None]}, r"every weight decay to be a number, but got None"),
        # 'NoneType' object is not callable / optimizer can only optimize Tensors (from inside torch)
        ({"make_optimizer": None}, r"make_optimizer to be a function \(model, weight_decay\) -> optimizer.*None"),
        ({"make_optimizer": torch.optim.AdamW}, r"function \(model, weight_decay\) -> optimizer, but got AdamW"),
        # range_test() got multiple values for keyword argument 'optimizer'
        ({"optimizer": "given"}, r"one optimizer per weight decay with make_optimizer, so optimizer= cannot be passed"),
        # ran torch's default SGD, without any weight decay, under both labels
        ({"make_optimizer": lambda m, wd: None}, r"make_optimizer\(model, 0\) to return a torch.optim.Optimizer.*None"),
        # <lambda>() takes 1 positional argument but 2 were given
        ({"make_optimizer": lambda m: None}, r"make_optimizer to take \(model, weight_decay\), but <lambda>\(m\)"),
        # 'int' object is not callable / <lambda>() takes 0 positional arguments but 2 were given / named on_step
        ({"on_start": 5}, r"on_start to be callable \(on_start\(index, weight_decay\) -> an on_step hook or None\)"),
        ({"on_start": lambda: None}, r"on_start to take \(index, weight_decay\), but <lambda>\(\) does not"),
        ({"on_start": lambda i, wd: 5}, r"on_start\(index, weight_decay\) to return an on_step hook .* but it"),
    ],
    ids=["one-float", "string", "none-value", "none-factory", "class", "optimizer-kwarg", "factory-returns-none",
         "factory-one-argument", "on-start-not-callable", "on-start-no-arguments", "on-start-returns-a-number"],
)
def test_bad_weight_decay_sweep_arguments_are_named(mlp, loader, kwargs, match):
    args = {"weight_decays": [0.0, 1e-3], "make_optimizer": _adamw}
    args.update(kwargs)
    if args.get("optimizer") == "given":
        args["optimizer"] = torch.optim.SGD(mlp.parameters(), lr=0.1)
    wds = args.pop("weight_decays")
    with pytest.raises(TypeError, match=match):
        weight_decay_sweep(mlp, loader, wds, loss_fn=F.cross_entropy, num_steps=10, **args)


def test_a_model_that_is_no_module_is_named_before_make_optimizer_runs(loader):
    # make_optimizer(None, wd) ran first: "'NoneType' object has no attribute 'parameters'" from the caller's lambda.
    for model in (None, "model.pt"):
        with pytest.raises(TypeError, match=r"Expected model to be a torch.nn.Module, but got (NoneType|str)"):
            weight_decay_sweep(model, loader, [0.0, 1e-3], make_optimizer=_adamw, loss_fn=F.cross_entropy)


def test_a_single_weight_decay_as_a_0d_tensor_is_named(mlp, loader):
    # Was torch's "iteration over a 0-d tensor", naming no parameter.
    with pytest.raises(TypeError, match=r"weight_decays to be a sequence of numbers.*; for one value pass \[0.001\]"):
        weight_decay_sweep(mlp, loader, torch.tensor(1e-3), make_optimizer=_adamw, loss_fn=F.cross_entropy)


def test_weight_decays_as_an_array_or_tensor_still_run(mlp, loader):
    for wds in (np.array([0.0, 0.25]), torch.tensor([0.0, 0.25])):
        results = weight_decay_sweep(mlp, loader, wds, make_optimizer=_adamw, loss_fn=F.cross_entropy, num_steps=10)
        assert [r.label for r in results] == ["wd=0", f"wd={format_weight_decay(0.25)}"]


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        # max() arg is an empty sequence: a NaN band tied nothing
        ({"tie": float("nan")}, ValueError, r"tie to be a finite number >= 0.*nan"),
        # '<' not supported between instances of 'str' and 'int'
        ({"tie": "0.05"}, TypeError, r"tie to be a number such as 0.05.*'0.05'"),
        # object of type 'list_iterator' has no len()
        ({"results": "iter"}, TypeError, r"results to be a sequence.*list\(results\)"),
        # 'int' object has no attribute 'suggestion'
        ({"results": [1, 2]}, TypeError, r"results to be RangeTestResults.*int"),
        # could not convert string to float (only once the pick is made)
        ({"weight_decays": [0, "1e-4"]}, TypeError, r"every weight decay to be a number.*'1e-4'"),
        # Recommended as WeightDecayChoice(weight_decay=nan) / (weight_decay=-0.01), which the sweep itself refuses
        ({"weight_decays": [float("nan"), 1e-4]}, ValueError, r"^Expected every weight decay to be finite and >= 0, "
         r"but got weight_decay=nan$"),
        ({"weight_decays": [0, -0.01]}, ValueError, r"finite and >= 0, but got weight_decay=-0\.01$"),
        # Taken silently: two curves under one label, one of them picked as a value it was not run with.
        ({"weight_decays": [1e-4, np.float32(1e-4)]}, ValueError, r"^Expected distinct weight decays, one per "
         r"result, but got 1e-04 more than once in weight_decays=\[0\.0001, 0\.0001\]: pass the value each"),
    ],
)
def test_bad_recommend_arguments_are_named(args, error, match):
    kwargs = {"results": [curve(floor=0.8), curve(floor=0.4)], "weight_decays": [0, 1e-4], **args}
    if kwargs["results"] == "iter":
        kwargs["results"] = iter([curve(floor=0.8), curve(floor=0.4)])
    with pytest.raises(error, match=match):
        recommend_weight_decay(kwargs.pop("results"), kwargs.pop("weight_decays"), **kwargs)


def test_recommend_takes_the_weight_decays_as_an_array():
    choice = recommend_weight_decay([curve(floor=0.8), curve(floor=0.4)], np.array([0.0, 1e-4]))
    assert choice.index == 1 and choice.weight_decay == 1e-4


def test_a_misspelt_range_test_setting_is_named_with_the_close_one_before_any_optimizer_is_built():
    built = []

    def make(model, wd):
        built.append(wd)
        return torch.optim.SGD(model.parameters(), lr=1e-3, weight_decay=wd)

    data = [(torch.randn(8, 4), torch.randint(0, 2, (8,)))]
    with pytest.raises(TypeError, match=r"unknown range_test setting num_step;.*Did you mean 'num_steps'"):
        weight_decay_sweep(torch.nn.Linear(4, 2), data, [0.0, 1e-4], make_optimizer=make, loss_fn=F.cross_entropy,
                           num_step=10)  # fmt: skip
    assert built == []  # range_test's "unexpected keyword argument" came after every optimizer was built


def test_the_sweep_table_prints_the_minimum_the_recommendation_compares(capsys):
    # The "min loss" column printed the lowest point of the whole smoothed curve, which can lie past the blow-up (a
    # recovery the analysis ignores), beside the LR of the minimum before it; the recommendation compares the latter.
    from lrfinder.cli.output import echo_sweep
    from lrfinder.sweeps import minimum_loss

    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    fall = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3))
    blow = 10.0 * np.exp(-(((x + 1.0) / 0.25) ** 2))
    recovery = np.where(x > -1.0, -0.4 * np.clip((x + 1.0) / 0.5, 0, 1), 0.0)
    results = [finish_result(lrs, fall + blow + recovery, "completed"), finish_result(lrs, fall + blow, "completed")]
    choice = recommend_weight_decay(results, [0.0, 1e-4])
    echo_sweep(results, [0.0, 1e-4], choice, err=False)
    rows = capsys.readouterr().out.splitlines()
    s = results[0].suggestion
    assert s is not None
    assert minimum_loss(results[0]) > float(np.nanmin(s.smoothed_losses)) + 0.3  # the trap
    assert rows[1].split()[:4] == ["0", f"{s.lr:.2e}", f"{minimum_loss(results[0]):.4g}", f"{s.min_loss_lr:.2e}"]


def test_recommend_weight_decay_refuses_a_single_number_by_name():
    """A 0-d tensor has __len__ and __getitem__: it failed with torch's "iteration over a 0-d tensor"."""
    result = finish_result(lr_schedule(1e-4, 1.0, 40), np.linspace(2.0, 1.0, 40), "completed")
    with pytest.raises(TypeError, match=r"^Expected weight_decays to be a sequence \(a list or tuple\), but got Tensor "
                       r"tensor\(0.0010\), a single number$"):  # fmt: skip
        recommend_weight_decay([result], torch.tensor(1e-3))
    with pytest.raises(TypeError, match=r"^Expected results to be a sequence .*, a single number$"):
        recommend_weight_decay(np.float64(1.0), [1e-3])


def undershooting_curve(seed: int = 0):
    """A cross-entropy-like curve: a fall to about 0.002, a floor, then a sharp blow-up, before which the smoothed
    curve undershoots below zero (the analysis's minimum sits in the undershoot)."""
    rng = np.random.default_rng(seed)
    lrs = lr_schedule(1e-6, 10.0, 100)
    x = np.log10(lrs)
    loss = 1.1 * np.exp(-np.clip(x + 3.5, 0, None) * 6) + 0.002 + np.where(x > -0.8, (x + 0.8) ** 2 * 20, 0)
    loss = np.abs(loss * (1 + rng.normal(0, 0.05, 100)))
    stop = int(np.flatnonzero(loss > 4 * loss[0])[0])
    return finish_result(lrs[: stop + 1], loss[: stop + 1], "diverged")


def test_the_sweep_table_never_writes_a_negative_minimum_of_a_loss_that_cannot_be_negative(capsys):
    # The table's "min loss" of a cross-entropy read -0.01869: the smoothed curve's undershoot before the blow-up. It
    # writes the loss recorded at the minimum's LR; the recommendation still compares the smoothed minimum.
    from lrfinder.cli.output import echo_sweep
    from lrfinder.sweeps import minimum_loss, shown_minimum_loss

    results = [undershooting_curve(seed) for seed in (0, 1)]
    for r in results:
        s = r.suggestion
        assert s is not None and minimum_loss(r) < 0.0  # the trap
        at = int(np.argmin(np.abs(np.asarray(r.lrs) - s.min_loss_lr)))
        assert shown_minimum_loss(r) == r.losses[at] >= 0.0
    echo_sweep(results, [0.0, 1e-4], recommend_weight_decay(results, [0.0, 1e-4]), err=False)
    rows = capsys.readouterr().out.splitlines()
    for row, r in zip(rows[1:3], results):
        assert row.split()[2] == f"{shown_minimum_loss(r):.4g}" and not row.split()[2].startswith("-")
    # A curve whose smoothed minimum is not below zero is written as before.
    plain = curve()
    assert shown_minimum_loss(plain) == minimum_loss(plain)
