"""Mixed precision in the plain engine (issue 10, item 3i): autocast and a GradScaler, restored."""

from __future__ import annotations

import copy
import json
import math
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lrfinder import RangeTestResult, range_test


class Recording(nn.Module):
    """A small MLP that records, at each forward, whether autocast was on and its output dtype."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 3))
        self._seen: list[tuple[bool, torch.dtype]] = []  # private: the test puts back public attributes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        self._seen.append((torch.is_autocast_enabled("cpu"), out.dtype))
        return out


def _data() -> DataLoader:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(512, 10, generator=gen)
    y = (x @ torch.randn(10, 3, generator=gen)).argmax(1)
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(1))


def _model() -> Recording:
    torch.manual_seed(0)
    return Recording()


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_bf16_autocast_on_cpu_and_everything_restored() -> None:
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=1e-7, momentum=0.9)
    before, rng = _state(model), torch.get_rng_state()
    result = range_test(model, _data(), optimizer=opt, loss_fn=nn.functional.cross_entropy, precision="bf16-mixed")
    assert model._seen and all(on and dtype == torch.bfloat16 for on, dtype in model._seen)
    assert result.settings.precision == "bf16-mixed" and result.suggestion is not None, result.error
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state()) and opt.state == {}
    assert RangeTestResult.from_json(result.to_json()).settings.precision == "bf16-mixed"
    # Full precision: no autocast.
    plain = _model()
    range_test(plain, _data(), loss_fn=nn.functional.cross_entropy, num_steps=20)
    assert all(not on and dtype == torch.float32 for on, dtype in plain._seen)


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_mixed_precision_on_a_float64_model_warns_that_it_runs_in_float64(precision: str) -> None:
    """A float64 model (built after torch.set_default_dtype(torch.float64), or model.double()) ran every step in
    float64 under precision='bf16-mixed', autocast leaving float64 alone, and the result said 'bf16-mixed' without a
    word; fuzz round 20."""
    model = _model().double()
    data = [(x.double(), y) for x, y in _data()]
    with pytest.warns(UserWarning, match=rf"^precision='{precision}' has no effect on a float64 model: .*model\.float"):
        range_test(model, data, loss_fn=nn.functional.cross_entropy, num_steps=10, precision=precision)
    assert {dtype for _, dtype in model._seen} == {torch.float64}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        range_test(_model(), _data(), loss_fn=nn.functional.cross_entropy, num_steps=10, precision=precision)
    assert not [w for w in seen if "float64" in str(w.message)]  # a float32 model is not warned about


def test_bf16_finds_a_comparable_lr() -> None:
    full = range_test(_model(), _data(), loss_fn=nn.functional.cross_entropy)
    bf16 = range_test(_model(), _data(), loss_fn=nn.functional.cross_entropy, precision="bf16-mixed")
    assert full.suggestion is not None and bf16.suggestion is not None
    assert 1 / 3 < bf16.suggestion.lr / full.suggestion.lr < 3


def test_fp16_grad_scaler_state_is_restored() -> None:
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**20, growth_interval=3)
    # A scaler that has already stepped (as in a training run resumed before the test).
    warm = _model()
    warm_opt = torch.optim.SGD(warm.parameters(), lr=1e-3)
    for x, y in list(_data())[:2]:
        with torch.autocast("cpu", dtype=torch.float16):
            loss = nn.functional.cross_entropy(warm(x), y)
        scaler.scale(loss).backward()
        scaler.step(warm_opt)
        scaler.update()
    saved = scaler.state_dict()
    model = _model()
    before = _state(model)
    result = range_test(
        model, _data(), loss_fn=nn.functional.cross_entropy, precision="16-mixed", grad_scaler=scaler, max_lr=100.0
    )
    assert model._seen and all(on and dtype == torch.float16 for on, dtype in model._seen)
    assert result.num_steps >= 10
    assert scaler.state_dict() == saved
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_fp16_scaler_that_never_stepped_stays_fresh() -> None:
    scaler = torch.amp.GradScaler("cpu")
    fresh = scaler.state_dict()
    range_test(_model(), _data(), loss_fn=nn.functional.cross_entropy, precision="16-mixed", grad_scaler=scaler)
    assert scaler.state_dict() == fresh
    assert scaler._scale is None  # never initialised, as before the test


@pytest.mark.parametrize("accumulate_steps", [1, 2])
def test_fp16_noise_scale_is_measured_on_unscaled_gradients(accumulate_steps: int) -> None:
    common = {"loss_fn": nn.functional.cross_entropy, "noise_scale": True, "accumulate_steps": accumulate_steps}
    result = range_test(_model(), _data(), precision="16-mixed", **common)  # type: ignore[arg-type]
    full = range_test(_model(), _data(), **common)  # type: ignore[arg-type]
    assert result.noise_scale is not None and full.noise_scale is not None
    source = "steps" if accumulate_steps == 1 else "accumulation"
    assert result.noise_scale.source == full.noise_scale.source == source
    # The loss scale (65536 at first) would inflate |G|^2 by 4e9 if it were left in.
    assert result.noise_scale.grad_sq == pytest.approx(full.noise_scale.grad_sq, rel=0.2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"precision": "64"}, r"precision to be one of '32', 'bf16-mixed', '16-mixed', but got precision='64'$"),
        # Lightning's Trainer(precision=32) spelling: refused as "one of 32, ..., but got precision=32".
        ({"precision": 32}, r"one of '32', 'bf16-mixed', '16-mixed', but got precision=32: pass precision='32'"),
        ({"precision": "bf16"}, r"but got precision='bf16': pass precision='bf16-mixed'$"),
        # A true half precision is another mode than the mixed one offered: the hint says so.
        ({"precision": "bf16-true"}, r"pass precision='bf16-mixed', the nearest the test runs: it autocasts the "
         r"forward pass to half precision and keeps the float32 weights, where 'bf16-true' casts the weights"),
        ({"precision": "32-true"}, r"but got precision='32-true': pass precision='32'$"),
        ({"grad_scaler": torch.amp.GradScaler("cpu")}, r"precision='16-mixed' with a grad_scaler, but got "
         r"precision='32': a GradScaler scales float16 losses, so pass precision='16-mixed' with it, or drop "
         r"grad_scaler for precision='32' \(it needs none\)$"),
    ],
)
def test_bad_precision_settings(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        range_test(_model(), _data(), loss_fn=nn.functional.cross_entropy, **kwargs)  # type: ignore[arg-type]


def test_fp16_skipped_steps_are_recorded_and_do_not_stop_the_test() -> None:
    # A loss scale of 2**40 overflows float16 gradients: the scaler skips steps (halving the scale)
    # until about 2**15. Each skipped step still records its loss, and the monitor goes on.
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**40)
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=1e-7, momentum=0.9)
    taken: list[int] = []
    opt.register_step_post_hook(lambda *_: taken.append(1))
    result = range_test(
        model, _data(), optimizer=opt, loss_fn=nn.functional.cross_entropy, precision="16-mixed", grad_scaler=scaler
    )
    full = range_test(_model(), _data(), loss_fn=nn.functional.cross_entropy)
    skipped = result.num_steps - len(taken)
    assert skipped >= 20
    assert len(result.losses) == result.num_steps and all(map(math.isfinite, result.losses))
    assert result.stop_reason == full.stop_reason == "diverged"
    assert result.num_steps > skipped + 30  # not stopped by the skips: it ran on to the divergence
    assert result.suggestion is not None and full.suggestion is not None
    assert 1 / 3 < result.suggestion.lr / full.suggestion.lr < 3
    assert scaler.get_scale() == 2.0**40  # put back


def test_fp16_adam_state_restored_exactly() -> None:
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = next(iter(_data()))
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()  # Adam now has moments and a step count
    before, opt_before = _state(model), copy.deepcopy(opt.state_dict())
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=2)
    range_test(
        model,
        _data(),
        optimizer=opt,
        loss_fn=nn.functional.cross_entropy,
        precision="16-mixed",
        grad_scaler=scaler,
        num_steps=20,
        max_lr=1.0,
    )
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    after = opt.state_dict()
    assert after["param_groups"] == opt_before["param_groups"]
    for key, state in opt_before["state"].items():
        assert all(torch.equal(v, after["state"][key][name]) for name, v in state.items())
    assert scaler.get_scale() == 1024.0 and scaler._growth_tracker is None


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_autocast_the_device_lacks_is_an_error(precision: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # torch only warns and runs in full precision when a device lacks the dtype; we refuse.
    monkeypatch.setattr(torch, "is_autocast_enabled", lambda *_: False)
    with pytest.raises(ValueError, match=rf"precision='{precision}' is not supported on device cpu .*Use precision="):
        range_test(_model(), _data(), loss_fn=nn.functional.cross_entropy, precision=precision)


def test_autocast_error_of_the_device_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise RuntimeError("Current CUDA Device does not support bfloat16. Please switch dtype to float16.")

    monkeypatch.setattr(torch, "autocast", refuse)
    with pytest.raises(ValueError, match=r"precision='bf16-mixed' .*does not support bfloat16.*'16-mixed'"):
        range_test(_model(), _data(), loss_fn=nn.functional.cross_entropy, precision="bf16-mixed")


def test_grad_scaler_of_another_device_or_type_is_rejected() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "CUDA is not available. Disabling." on a CPU-only machine
        cuda_scaler = torch.amp.GradScaler("cuda")
    with pytest.raises(ValueError, match=r"grad_scaler for device 'cpu'.*GradScaler\('cpu'\)"):
        range_test(
            _model(), _data(), loss_fn=nn.functional.cross_entropy, precision="16-mixed", grad_scaler=cuda_scaler
        )
    with pytest.raises(TypeError, match="grad_scaler to be a torch.amp.GradScaler, but got dict"):
        range_test(_model(), _data(), loss_fn=nn.functional.cross_entropy, precision="16-mixed", grad_scaler={})  # type: ignore[arg-type]


def test_json_without_precision_loads_as_full_precision(tmp_path: Path) -> None:
    result = range_test(_model(), _data(), loss_fn=nn.functional.cross_entropy, num_steps=20, stop_factor=None)
    data = json.loads(result.to_json())
    del data["settings"]["precision"]  # a file written before the setting existed
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    assert RangeTestResult.from_json(old).settings.precision == "32"
    for bad in (8, None, ""):
        data["settings"]["precision"] = bad
        old.write_text(json.dumps(data))
        with pytest.raises(ValueError, match=r"settings.precision=.* is not a precision name"):
            RangeTestResult.from_json(old)


def test_json_with_a_precision_a_newer_lightning_added_is_read_with_a_warning(tmp_path: Path) -> None:
    """The callback records the Trainer's precision name as is: a file it wrote must read back."""
    result = range_test(_model(), _data(), loss_fn=nn.functional.cross_entropy, num_steps=20, stop_factor=None)
    data = json.loads(result.to_json())
    data["settings"]["precision"] = "fp8-mixed"
    path = tmp_path / "new.json"
    path.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match=r"precision='fp8-mixed' is not one this lrfinder knows.*read as recorded"):
        back = RangeTestResult.from_json(path)
    assert back.settings.precision == "fp8-mixed" and back.losses == result.losses


@pytest.mark.parametrize("precision", ["32", "bf16-mixed"])
def test_inside_a_callers_autocast_the_test_runs_at_its_own_precision(precision: str) -> None:
    # Under the caller's torch.autocast, autocast's weight cache lived until that autocast exited:
    # every forward read the weights of the first step, and the curve stayed flat to max_lr.
    def run() -> RangeTestResult:
        model = _model()
        opt = torch.optim.SGD(model.parameters(), lr=1e-7, momentum=0.9)
        return range_test(model, _data(), optimizer=opt, loss_fn=nn.functional.cross_entropy, precision=precision)

    alone = run()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            inside = run()
    assert inside.losses == alone.losses and inside.suggestion is not None, inside.error
    warned = [str(w.message) for w in caught if "inside torch.autocast" in str(w.message)]
    assert len(warned) == (precision == "32"), warned
    assert not warned or "precision='bf16-mixed'" in warned[0]
