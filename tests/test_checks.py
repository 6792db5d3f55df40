"""The shared argument checks (``lrfinder._checks``), and number settings given as 0-d tensors or numpy scalars."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

import lrfinder
from lrfinder._checks import has_class_named, non_finite_to_text, number_from_json, plain

T = torch.tensor


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (T(1e-3), 0.001),  # float32: the decimal written, not 0.0010000000474974513
        (T(1e-3, dtype=torch.float64), 0.001),
        (T(0.1, dtype=torch.float16), 0.1),
        (T(100), 100),
        (np.float32(1e-3), 0.001),
        (np.float64(0.1), 0.1),
        (np.int64(100), 100),
        (np.array(0.5), 0.5),
        (np.array(3), 3),
        (T(1.5, requires_grad=True), 1.5),
        (T(True), True),
        (np.bool_(False), False),
    ],
)
def test_plain_reads_0d_tensors_and_numpy_scalars_as_python_numbers(given: Any, expected: Any) -> None:
    out = plain(given)
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize("given", [T([1.0]), T(1j), "1e-3", None, 2, 0.5, [1.0]])
def test_plain_leaves_what_is_not_a_0d_number(given: Any) -> None:
    assert plain(given) is given


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 3))


def _loader() -> DataLoader:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(128, 8, generator=gen)
    return DataLoader(list(zip(x, (x @ torch.randn(8, 3, generator=gen)).argmax(1))), batch_size=16)


def _sgd() -> torch.optim.SGD:
    return torch.optim.SGD(_model().parameters(), lr=0.1)


#: Each public entry point with its number settings as 0-d tensors; returns what must hold plain numbers.
CASES: dict[str, Callable[[], Any]] = {
    "range_test": lambda: lrfinder.range_test(
        _model(), _loader(), loss_fn=F.cross_entropy, min_lr=T(1e-5), max_lr=T(1.0), num_steps=T(12),
        stop_factor=T(4.0), accumulate_steps=T(1), gradient_clip_val=T(1.0),
    ).to_dict()["settings"],
    "RangeTestSettings": lambda: vars(lrfinder.RangeTestSettings(min_lr=T(1e-5), max_lr=T(1.0), num_steps=T(20))),
    "lr_schedule": lambda: lrfinder.lr_schedule(T(1e-3), T(1.0), T(4)).tolist(),
    "DivergenceMonitor": lambda: vars(lrfinder.DivergenceMonitor(T(4.0), beta=T(0.9))),
    "run_sweep": lambda: lrfinder.run_sweep(lambda lr: 1.0, [1e-3, 1e-2], stop_factor=T(4.0)),
    "analyze": lambda: lrfinder.analyze(
        np.geomspace(1e-5, 1, 50), np.r_[np.linspace(2, 0.5, 40), np.linspace(0.6, 10, 10)], window=T(7)
    ).to_dict(),
    "smooth_losses": lambda: lrfinder.smooth_losses(
        np.geomspace(1e-5, 1, 50), np.linspace(2, 0.5, 50), window=T(7), polyorder=T(2)
    ).tolist(),
    "undo_ema": lambda: lrfinder.undo_ema(np.linspace(2, 0.5, 20), beta=T(0.98)).tolist(),
    "scale_lr": lambda: lrfinder.scale_lr(
        T(0.1), from_batch_size=T(32), to_batch_size=T(128), divergence_lr=T(1.0), noise_scale=T(100.0)
    ).to_dict(),
    "create_optimizer": lambda: [
        {k: v for k, v in g.items() if k != "params"}
        for g in lrfinder.create_optimizer(
            "momentum", _model(), lr=T(0.1), momentum=T(0.9), weight_decay=T(1e-4), bias_lr_factor=T(2.0)
        ).param_groups
    ],
    "param_groups": lambda: [
        {k: v for k, v in g.items() if k != "params"}
        for g in lrfinder.param_groups(_model(), lr=T(0.1), weight_decay=T(1e-4), lr_factors={"0": T(2.0)})
    ],
    "create_scheduler": lambda: [
        lrfinder.create_scheduler(
            "cosine", _sgd(), total_steps=T(100), warmup_steps=T(10), warmup_start_factor=T(0.1), eta_min=T(0.0)
        ).state_dict()["_milestones"]
    ],
    "preview_schedule": lambda: lrfinder.preview_schedule(
        "step", total_steps=T(4), lr=T(1.0), step_size=T(2), gamma=T(0.5)
    ).tolist(),
    "lightning_scheduler_config": lambda: lrfinder.lightning_scheduler_config(
        lrfinder.create_scheduler("constant", _sgd()), frequency=T(1)
    )["frequency"],
    "Refine": lambda: vars(lrfinder.Refine(
        training_steps=T(50), budget=T(2.0), candidates=(T(0.5), T(2.0)), spacing=T(0.25), extend=T(2),
        val_batches=T(4), max_resweeps=T(1), tie_z=T(1.0), tie_rel=T(0.0),
    )),
    "LRFinder": lambda: [
        vars(lrfinder.LRFinder(
            min_lr=T(1e-6), max_lr=T(1.0), num_steps=T(20), stop_factor=T(4.0), target_batch_size=T(64),
            test_batch_size=np.int64(32),
        ).settings),
    ],
    "weight_decay_sweep": lambda: _swept_weight_decays([T(1e-4), np.float32(0.0)]),
    "recommend_weight_decay": lambda: [lrfinder.recommend_weight_decay([_conclusive()], [T(1e-4)]).weight_decay],
}  # fmt: skip


def _swept_weight_decays(weight_decays: list[Any]) -> list[Any]:
    """The weight decays ``weight_decay_sweep`` gives ``make_optimizer``."""
    seen: list[Any] = []

    def make(model: nn.Module, wd: Any) -> torch.optim.Optimizer:
        seen.append(wd)
        return torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=wd)

    lrfinder.weight_decay_sweep(_model(), _loader(), weight_decays, make_optimizer=make, loss_fn=F.cross_entropy,
                                num_steps=12)  # fmt: skip
    return seen


def _conclusive() -> lrfinder.RangeTestResult:
    lrs = np.geomspace(1e-5, 1, 50)
    losses = np.r_[np.linspace(2, 0.5, 40), np.linspace(0.6, 10, 10)]
    return lrfinder.RangeTestResult(
        lrs=tuple(lrs), losses=tuple(losses), stop_reason="completed", suggestion=lrfinder.analyze(lrs, losses)
    )


def _numbers(value: Any) -> list[Any]:
    """Every number inside ``value`` (dicts, lists, tuples), tensors and numpy scalars included."""
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in _numbers(v)]
    if isinstance(value, (torch.Tensor, np.generic, np.ndarray, int, float)):
        return [value]
    return []


@pytest.mark.parametrize("name", list(CASES))
def test_number_settings_take_0d_tensors_and_store_python_numbers(name: str) -> None:
    """``min_lr=torch.tensor(1e-3)`` was refused as "not a number"; it is read as the number it holds."""
    out = CASES[name]()
    numbers = _numbers(out)
    assert numbers, out
    wrong = [n for n in numbers if type(n) not in (int, float, bool)]
    assert not wrong, f"{name} kept {wrong!r}"
    json.dumps(out, default=str)


def test_float32_settings_keep_the_decimal_given() -> None:
    """``np.float32(1e-3)`` and ``torch.tensor(1e-3)`` are stored as 0.001, not 0.0010000000474974513."""
    settings = lrfinder.RangeTestSettings(min_lr=np.float32(1e-3), max_lr=T(1.1))
    assert (settings.min_lr, settings.max_lr) == (0.001, 1.1)
    assert lrfinder.scale_lr(np.float32(0.1), from_batch_size=32, to_batch_size=64, rule="linear").lr == 0.2


@pytest.mark.parametrize("flag", [T(True), np.bool_(True), True])
def test_bools_are_still_refused_as_numbers(flag: Any) -> None:
    with pytest.raises(TypeError, match="num_steps to be an int"):
        lrfinder.lr_schedule(1e-3, 1.0, flag)
    with pytest.raises(TypeError, match="lr to be a number"):
        lrfinder.create_optimizer("sgd", _model(), lr=flag)
    with pytest.raises(TypeError, match="weight decay to be a number"):
        lrfinder.recommend_weight_decay([], [flag])


def test_a_tensor_of_several_values_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match=r"min_lr to be a number, but got min_lr=tensor\(\[0.0010, 0.0100\]\)"):
        lrfinder.lr_schedule(T([1e-3, 1e-2]), 1.0, 10)


@pytest.mark.parametrize("name", ["min_lr", "max_lr"])
def test_a_list_of_lrs_per_param_group_says_the_groups_keep_their_ratios(name: str) -> None:
    # torch-lr-finder's start_lr=[1e-6, 1e-5] (one per group), ported as min_lr=[...]: "Expected min_lr to be a
    # number, but got min_lr=[1e-06, 1e-05]" said nothing of the groups, whose own LRs set the ratios here.
    given = {"min_lr": 1e-6, "max_lr": 1.0, name: [1e-6, 1e-5]}
    with pytest.raises(TypeError) as info:
        lrfinder.range_test(_model(), _loader(), num_steps=10, **given)
    assert str(info.value) == (
        f"Expected {name} to be a number, but got {name}=[1e-06, 1e-05]: one LR for the sweep, the largest param "
        "group's; the other groups keep their LR ratio to it, so give each group its own lr in the optimizer "
        "(torch-lr-finder's per-group start_lr=[...] has no list here)"
    )


_NAMES = np.array(["exp", "linear"])  # an array where a name is expected: numpy compares it elementwise


def _demo_result() -> lrfinder.RangeTestResult:
    from pathlib import Path

    return lrfinder.RangeTestResult.from_json(Path(__file__).parent / "data" / "demo_result.json")


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda r, m: lrfinder.analyze(r.lrs, r.losses, rule=_NAMES), "rule"),
        (lambda r, m: lrfinder.undo_ema([1.0, 2.0], debias=_NAMES), "debias"),
        (lambda r, m: lrfinder.lr_schedule(1e-5, 1.0, 10, mode=_NAMES), "mode"),
        (lambda r, m: lrfinder.RangeTestSettings(gradient_clip_algorithm=_NAMES), "gradient_clip_algorithm"),
        (lambda r, m: lrfinder.scale_lr(1e-3, from_batch_size=8, to_batch_size=64, rule=_NAMES), "scaling rule"),
        (lambda r, m: lrfinder.create_optimizer("adamw", m, lr=1e-3, lr_group=_NAMES), "lr_group"),
        (lambda r, m: lrfinder.Refine(training_steps=100, tie=_NAMES), "tie"),
        (lambda r, m: lrfinder.plot_range_test(r, schedule_kind=_NAMES), "schedule_kind"),
        (lambda r, m: lrfinder.LRFinder(scaling=_NAMES), "scaling"),
        (lambda r, m: lrfinder.LRFinder(mode=_NAMES), "mode"),
        (lambda r, m: lrfinder.LRFinder(optimizer_settings=np.array([1, 2])), "optimizer_settings"),
        (lambda r, m: lrfinder.range_test(m, [], precision=_NAMES), "precision"),
        (lambda r, m: lrfinder.range_test(m, [], refine=np.array([True, False])), "refine"),
        (lambda r, m: r.scale(to_batch_size=64, rule=_NAMES), "scaling rule"),
        (lambda r, m: _noise_scale(source=_NAMES), "source"),
        (lambda r, m: lrfinder.RangeTestResult.from_dict({**r.to_dict(), "schema_version": np.array([1, 1])}),
         "schema_version"),
        (lambda r, m: lrfinder.RangeTestResult.from_dict({**r.to_dict(), "stop_reason": _NAMES}), "stop_reason"),
        (lambda r, m: lrfinder.RangeTestResult(lrs=r.lrs, losses=r.losses, stop_reason=_NAMES), "stop_reason"),
        (lambda r, m: lrfinder.StateSnapshot(m, module_attributes=np.array([True, False])), "module_attributes"),
        (lambda r, m: lrfinder.train(m, [(torch.ones(2, 4), torch.zeros(2, dtype=torch.long))],
                                     optimizer=lambda mm: torch.optim.SGD(mm.parameters(), lr=0.1),
                                     loss_fn=F.cross_entropy, scheduler=_NAMES), "scheduler"),
    ],
)
def test_an_array_where_a_name_is_expected_is_named(call: Callable[..., Any], name: str):
    # Each failed in its own check with numpy's "The truth value of an array with more than one element is ambiguous".
    with pytest.raises((ValueError, TypeError), match=name) as info:
        call(_demo_result(), nn.Linear(4, 3))
    assert "ambiguous" not in str(info.value)


def _noise_scale(**fields: Any) -> Any:
    """A valid NoiseScale with ``fields`` replaced."""
    from lrfinder.noise import NoiseScale

    given = dict(b_simple=100.0, grad_sq=1.0, trace_sigma=100.0, small_batch_size=16, big_batch_size=64,
                 n_estimates=10, interval=(50.0, 200.0))  # fmt: skip
    return NoiseScale(**{**given, **fields})


_META = T(1e-3, device="meta")  # a shape and no value: torch's "Tensor.item() cannot be called on meta tensors"
_COMPLEX = T(1e-3 + 0j)  # float() of its item failed with Python's "float() argument must be ... not 'complex'"


@pytest.mark.parametrize("value", [_META, _COMPLEX], ids=["meta", "complex"])
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda v, m: lrfinder.scale_lr(v, from_batch_size=8, to_batch_size=64), "lr"),
        (lambda v, m: lrfinder.scale_lr(1e-3, from_batch_size=8, to_batch_size=64, divergence_lr=v), "divergence_lr"),
        (lambda v, m: lrfinder.scale_lr(1e-3, from_batch_size=8, to_batch_size=64, noise_scale=v), "noise_scale"),
        (lambda v, m: lrfinder.create_optimizer("sgd", m, lr=1e-3, weight_decay=v), "weight_decay"),
        (lambda v, m: lrfinder.create_optimizer("sgd", m, lr=1e-3, momentum=v), "momentum"),
        (lambda v, m: lrfinder.Yogi(m.parameters(), lr=v), "lr"),
        (lambda v, m: lrfinder.Yogi(m.parameters(), eps=v), "eps"),
        (lambda v, m: _noise_scale(b_simple=v), "b_simple"),
        (lambda v, m: _noise_scale(trace_sigma=v), "trace_sigma"),
    ],
)
def test_a_tensor_without_a_readable_number_is_refused_by_name(value: Any, call: Callable[..., Any], name: str):
    # A one-element tensor is read as the number it holds (torch takes lr=torch.tensor(1e-3)); one on the meta device
    # holds none, and a complex one is no real number: each failed in torch or in float() instead of the check.
    with pytest.raises(TypeError, match=rf"Expected {name} to be a number"):
        call(value, nn.Linear(4, 3))


def test_a_schedule_or_curve_on_the_meta_device_is_refused_by_name() -> None:
    meta = T([1e-3, 1e-2], device="meta")
    with pytest.raises(TypeError, match=r"Expected schedule to be .* a tensor on the meta device, which holds no"):
        lrfinder.plot_range_test(_demo_result(), schedule=meta)
    data = _demo_result().to_dict()
    with pytest.raises(ValueError, match=r"^Malformed range-test result: .* a tensor on the meta device"):
        lrfinder.RangeTestResult.from_dict({**data, "losses": T(data["lrs"], device="meta")})


def _sgd() -> torch.optim.Optimizer:
    return torch.optim.SGD(_model().parameters(), lr=0.1)


@pytest.mark.parametrize(
    ("call", "said"),
    [
        (lambda: _noise_scale(steps=5), r"Expected NoiseScale.steps to be a sequence of step indices, but got steps=5"),
        (lambda: _noise_scale(steps=b"ab"), r"Expected NoiseScale.steps to be a sequence .* steps=b'ab'"),
        (lambda: _noise_scale(steps=T(3)), r"steps=tensor\(3\), a single number"),
        (lambda: lrfinder.Refine(training_steps=100, candidates=T(3.0, device="meta")),
         r"candidates=.*a single number"),
        (lambda: lrfinder.train(nn.Linear(4, 3), [(torch.ones(2, 4), torch.zeros(2, dtype=torch.long))],
                                optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1), loss_fn=F.cross_entropy,
                                callbacks=T(0.0)),
         r"Expected callbacks to be a list of Lightning callbacks, but got callbacks=tensor\(0.\), a single number"),
        (lambda: lrfinder.RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 0.5), stop_reason="completed", lr_ratios=0.5),
         r"^Expected lr_ratios to be a sequence of numbers, but got lr_ratios=0.5$"),
        (lambda: lrfinder.RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 0.5), stop_reason="completed",
                                          lr_ratios="abc"), r"^Expected lr_ratios to be a sequence of numbers"),
        (lambda: lrfinder.RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 0.5), stop_reason="completed",
                                          group_names=T(1.0)), r"^Expected group_names to be a sequence .*single"),
        (lambda: lrfinder.StateSnapshot(nn.Linear(4, 3), states=0), r"^Expected states to be a sequence of objects"),
        (lambda: lrfinder.StateSnapshot(nn.Linear(4, 3), objects=np.float32(1.0)),
         r"^Expected objects to be a sequence of Python objects with attributes, but got .*, a single number$"),
    ],
)
def test_a_number_where_a_sequence_is_expected_is_named(call: Callable[..., Any], said: str) -> None:
    # tuple() of a number failed with "'int' object is not iterable" (NoiseScale.steps) or torch's "iteration over a
    # 0-d tensor" (train's callbacks, Refine's candidates); bytes were read as the step indices 97, 98.
    with pytest.raises(TypeError, match=said):
        call()


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        # numpy 2 writes np.float32(3.0), numpy 1 (setup.cfg takes numpy>=1.24) 3.0.
        ("noise_scale", np.float32(3.0), r"noise_scale=(np\.float32\(3\.0\)|3\.0) is not a JSON object"),
        ("noise_scale", 0, "noise_scale=0 is not a JSON object"),
        ("refinement", T(1.0), r"refinement=tensor\(1.\) is not a JSON object"),
        ("scaled", 3, "scaled=3 is not a JSON object"),
        ("group_names", {"head": 1}, r"group_names=\{'head': 1\} is not a list of group names"),
        ("lr_ratios", T([1.0, 0.5]), r"lr_ratios=tensor\(\[1.0000, 0.5000\]\) is not a list of numbers"),
    ],
)
def test_a_result_field_of_the_wrong_kind_is_named(field: str, value: Any, said: str) -> None:
    # A number where an object belongs failed with "'int' object is not subscriptable", or an IndexError that escaped
    # the malformed-result message; a dict of group names was read as its keys; a tensor of ratios failed in `or`.
    with pytest.raises(ValueError, match=rf"^Malformed range-test result: {said}"):
        lrfinder.RangeTestResult.from_dict({**_demo_result().to_dict(), field: value})


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({"optimizers": [1]}, r"^Expected optimizers to hold torch optimizers, but optimizers\[0\] is int 1$"),
        ({"wrapper": "ddp"}, r"^Expected wrapper to be the torch.nn.Module wrapping the model .* but got str 'ddp'$"),
        ({"states": ["abc"]}, r"^Expected states to hold objects with state_dict\(\) and load_state_dict\(\), but "),
        ({"objects": [3]}, r"^Expected objects to hold Python objects with attributes, but objects\[0\] is int 3$"),
    ],
)
def test_a_snapshot_item_of_the_wrong_kind_is_named(arguments: dict[str, Any], said: str) -> None:
    # Each failed in the capture in Python's words: "vars() argument must have __dict__ attribute", "'str' object has
    # no attribute 'modules'", "'str' object has no attribute 'state_dict'".
    with pytest.raises(TypeError, match=said):
        lrfinder.StateSnapshot(nn.Linear(4, 3), **arguments)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda m: lrfinder.range_test(m, [(torch.zeros(4, 3), torch.zeros(4, 2))], loss_fn=F.mse_loss), "model"),
        (lambda m: lrfinder.create_optimizer("adamw", m, lr=1e-3), "model_or_params"),
        (lambda m: lrfinder.find_lr(m), "model"),
        (lambda m: lrfinder.weight_decay_sweep(m, [], [0.0], make_optimizer=lrfinder.create_optimizer), "model"),
        (lambda m: lrfinder.StateSnapshot(m), "model"),
    ],
)
def test_a_state_dict_passed_as_the_model_is_told_to_load_it_into_the_model(
    call: Callable[[Any], object], name: str
) -> None:
    # range_test(torch.load("weights.pt"), ...) said only "Expected model to be a torch.nn.Module, but got
    # OrderedDict": not that the file holds the weights without the network, nor how to use it.
    net = nn.Linear(3, 2)
    with pytest.raises(TypeError, match=rf"^Expected {name} to be .*got OrderedDict\. That is a state_dict .*"
                       r"model\.load_state_dict\(state\)\.$"):  # fmt: skip
        call(net.state_dict())
    checkpoint = {"epoch": 3, "model_state_dict": net.state_dict()}
    held = r"'model_state_dict', not a model: .*load_state_dict\(checkpoint\['model_state_dict'\]\)\.$"
    with pytest.raises(TypeError, match=r"got dict\. That is a checkpoint holding a state_dict under " + held):
        call(checkpoint)
    # Anything else keeps the plain refusal.
    with pytest.raises(TypeError, match=rf"^Expected {name} to be .*got dict\.?$"):
        call({"epoch": 3})


def test_word_agrees_with_its_count_as_plural_does():
    # Messages wrote "setting(s)", "tensor(s) have": word() gives the noun (or verb) a count takes, without the count.
    from lrfinder._wording import plural, word

    assert [word(n, "setting") for n in (0, 1, 2)] == ["settings", "setting", "settings"]
    assert [word(n, "has", "have") for n in (1, 3)] == ["has", "have"]
    assert [plural(n, "batch", "batches") for n in (1, 2)] == ["1 batch", "2 batches"]


@pytest.mark.parametrize("value", [0.5, -2.0, 0.0, float("inf"), -float("inf"), float("nan")])
def test_non_finite_text_round_trips_through_json(value: float) -> None:
    """The one encoder/decoder pair of every result's numbers: strict JSON, read back as the same float."""
    text = json.dumps(non_finite_to_text(value), allow_nan=False)
    back = number_from_json(json.loads(text))
    assert back == value or (math.isnan(back) and math.isnan(value))


@pytest.mark.parametrize("value", ["1_0", " 3 ", "infinity", "Infinity", "1e-3", b"nan", True])
def test_number_from_json_refuses_what_no_writer_produces(value: object) -> None:
    with pytest.raises(ValueError, match="not a number"):
        number_from_json(value)


def _sgd() -> torch.optim.Optimizer:
    return torch.optim.SGD(_model().parameters(), lr=0.1)


@pytest.mark.parametrize(
    ("call", "said"),
    [
        (lambda: lrfinder.lr_schedule(1e-3, 1.0, 200 / 2), r"num_steps=100\.0: pass it as an int, num_steps=100 \(/"),
        (lambda: lrfinder.lr_schedule(1e-3, 1.0, -4.0), r"num_steps=-4\.0$"),
        (lambda: lrfinder.lr_schedule(1e-3, 1.0, 1.0), r"num_steps=1\.0$"),
        (lambda: lrfinder.scale_lr(0.1, from_batch_size=32, to_batch_size=0.0), r"to_batch_size=0\.0$"),
        (lambda: lrfinder.scale_lr(0.1, from_batch_size=32, to_batch_size=0.5), r"=0\.5: pass a whole number, rounded"),
        (lambda: lrfinder.create_scheduler("cosine", _sgd(), total_steps=-4.0), r"total_steps=-4\.0$"),
        (lambda: lrfinder.create_scheduler("plateau", _sgd(), patience=0.0), r"pass it as an int, patience=0 "),
    ],
    ids=["num_steps=100.0", "num_steps=-4.0", "num_steps=1.0", "to_batch_size=0.0", "to_batch_size=0.5",
         "total_steps=-4.0", "patience=0.0"],
)
def test_a_float_count_is_told_its_int_only_where_that_int_is_taken(call: Callable[[], Any], said: str) -> None:
    # A count given as a float is told the int to pass (whole_number_hint); -4.0 was told "pass it as an int,
    # total_steps=-4", a value refused in turn ("Expected total_steps >= 1").
    with pytest.raises((TypeError, ValueError), match=said):
        call()


def test_has_class_named_reads_the_class_and_its_bases_by_name() -> None:
    class CSVLogger:
        pass

    class ProjectLogger(CSVLogger):  # a project's own subclass counts as its base
        pass

    class TensorBoardLogger:
        pass

    assert has_class_named(CSVLogger(), "CSVLogger")
    assert has_class_named(ProjectLogger(), "CSVLogger")
    assert has_class_named(ProjectLogger(), "DDPStrategy", "CSVLogger")  # any of several names
    assert not has_class_named(TensorBoardLogger(), "CSVLogger")
    assert not has_class_named(CSVLogger(), "csvlogger", "Logger")  # the whole name, case and all
    assert not has_class_named(CSVLogger)  # no names: nothing matches
    assert not has_class_named(CSVLogger, "CSVLogger")  # the class itself is a type, not a CSVLogger
