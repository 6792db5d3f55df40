from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from lrfinder import analyze, scale_lr
from lrfinder.range_test import RangeTestResult
from lrfinder.scaling import optimizer_family
from lrfinder.yogi import Yogi


def test_linear_rule() -> None:
    s = scale_lr(0.1, from_batch_size=32, to_batch_size=256, rule="linear")
    assert s.lr == pytest.approx(0.8) and s.factor == 8 and s.rule == "linear"
    assert s.base_lr == 0.1 and s.from_batch_size == 32 and s.to_batch_size == 256


def test_sqrt_rule() -> None:
    s = scale_lr(1e-3, from_batch_size=16, to_batch_size=256, rule="sqrt")
    assert s.lr == pytest.approx(4e-3) and s.factor == pytest.approx(4.0)


def test_none_rule_and_scaling_down() -> None:
    assert scale_lr(0.3, from_batch_size=64, to_batch_size=512, rule="none").lr == 0.3
    down = scale_lr(0.4, from_batch_size=128, to_batch_size=32, rule="linear")
    assert down.lr == pytest.approx(0.1) and down.warmup_epochs == 0


@pytest.mark.parametrize(
    ("optimizer", "rule"),
    [
        ("adam", "sqrt"),
        ("AdamW", "sqrt"),
        ("rmsprop", "sqrt"),
        ("adagrad", "sqrt"),
        ("adadelta", "sqrt"),
        ("yogi", "sqrt"),
        ("torch.optim:NAdam", "sqrt"),
        (torch.optim.Adam, "sqrt"),
        ("sgd", "linear"),
        ("momentum", "linear"),
        ("nesterov", "linear"),
        (torch.optim.SGD, "linear"),
        (None, "linear"),
    ],
)
def test_auto_picks_by_optimizer_family(optimizer: object, rule: str) -> None:
    s = scale_lr(0.01, from_batch_size=32, to_batch_size=128, rule="auto", optimizer=optimizer)  # type: ignore[arg-type]
    assert s.rule == rule
    assert s.factor == pytest.approx(4.0 if rule == "linear" else 2.0)
    assert s.reason.startswith("auto:")


def test_auto_with_optimizer_instances() -> None:
    params = [torch.nn.Parameter(torch.zeros(2))]
    assert optimizer_family(torch.optim.Adam(params)) == "adaptive"
    assert optimizer_family(torch.optim.RMSprop(params)) == "adaptive"
    assert optimizer_family(Yogi(params)) == "adaptive"
    assert optimizer_family(torch.optim.SGD(params, lr=0.1)) == "sgd"


def test_optimizer_family_of_lrfinds_labels_with_settings() -> None:
    # lrfind labels a result "adamw, weight_decay=1e-02": the setting was taken for a second, unknown optimizer,
    # so the label was scaled (and drawn in the report's panel) as SGD, with a warning about 'weight_decay=1e-02'.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert optimizer_family("adamw, weight_decay=1e-02") == "adaptive"
        assert optimizer_family("adamw, betas=(0.9, 0.95), weight_decay=0.1") == "adaptive"
        assert optimizer_family("momentum, momentum=0.95") == "sgd"
        assert optimizer_family("Adam,SGD") == "sgd"
        assert optimizer_family("Adam, AdamW") == "adaptive"


def test_optimizer_family_of_names_lrfinder_was_not_built_with() -> None:
    import warnings

    params = [torch.nn.Parameter(torch.zeros(2))]

    class BetasOptimizer(torch.optim.Optimizer):  # an Adam-like optimizer of the user's own
        def __init__(self, params: list[torch.nn.Parameter]) -> None:
            super().__init__(params, {"lr": 1e-3, "betas": (0.9, 0.99)})

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of these warns
        assert optimizer_family(BetasOptimizer(params)) == "adaptive"
        assert optimizer_family("FusedAdam") == "adaptive"
        assert optimizer_family("bitsandbytes.optim:AdamW8bit") == "adaptive"
        assert optimizer_family("Adam,Adam") == "adaptive"  # the callback's name for two optimizers
        assert optimizer_family("Adam,SGD") == "sgd"
        assert optimizer_family("LBFGS") == "sgd"
        assert optimizer_family("RecordingSGD") == "sgd"

        class Renamed(torch.optim.Adam):  # a subclass whose name says nothing: its base decides
            pass

        assert optimizer_family(Renamed) == "adaptive"
        assert optimizer_family(type("Plain", (torch.optim.SGD,), {})(params, lr=0.1)) == "sgd"
        assert optimizer_family("torch.optim.ASGD") == "sgd"
    with pytest.warns(UserWarning, match=r"does not know the optimizer 'Lion'.*SGD-like.*rule='sqrt'"):
        assert optimizer_family("mypkg.optim:Lion") == "sgd"
    with pytest.warns(UserWarning, match="does not know the optimizer 'Lion'"):
        scaled = scale_lr(0.01, from_batch_size=32, to_batch_size=128, optimizer="Lion")
    assert scaled.rule == "linear"


def test_cap_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match=r"Expected cap to be True or False, but got cap='no'"):
        scale_lr(0.1, from_batch_size=32, to_batch_size=128, cap="no")  # type: ignore[arg-type]
    scaled = scale_lr(0.1, from_batch_size=32, to_batch_size=128, rule="linear")
    with pytest.raises(TypeError, match="cap to be True or False"):
        scaled.rebase(0.01, cap=1)  # type: ignore[arg-type]


def test_warmup_suggested_when_scaling_up_more_than_twice() -> None:
    assert scale_lr(0.1, from_batch_size=32, to_batch_size=64, rule="linear").warmup_epochs == 0
    assert scale_lr(0.1, from_batch_size=32, to_batch_size=128, rule="linear").warmup_epochs == 2
    assert scale_lr(0.1, from_batch_size=256, to_batch_size=8192, rule="linear").warmup_epochs == 5
    # sqrt of 4 is 2: not more than 2x, no warm-up.
    assert scale_lr(0.1, from_batch_size=32, to_batch_size=128, rule="sqrt").warmup_epochs == 0


def test_warmup_counts_doublings_of_the_lr_applied() -> None:
    """The gate and the length read the same ratio: the LR's, not the batch's (sqrt at 5x was 0 -> 3 epochs)."""
    assert scale_lr(0.1, from_batch_size=32, to_batch_size=160, rule="sqrt").warmup_epochs == 2  # x2.24
    assert scale_lr(0.1, from_batch_size=32, to_batch_size=512, rule="sqrt").warmup_epochs == 2  # x4
    assert scale_lr(0.1, from_batch_size=32, to_batch_size=2048, rule="sqrt").warmup_epochs == 3  # x8
    # The noise rule barely moves the LR past the critical batch: no warm-up for a x1.9 step.
    flat = scale_lr(0.1, from_batch_size=32, to_batch_size=4096, rule="noise", optimizer="sgd", noise_scale=32)
    assert flat.factor < 2 and flat.warmup_epochs == 0


def test_a_capped_lr_gets_the_warm_up_of_the_jump_it_makes() -> None:
    """x8 linear capped at 3x the base: 2 warm-up epochs (the x3 jump), not the uncapped x8's 3."""
    with pytest.warns(UserWarning, match="capped"):
        capped = scale_lr(0.1, from_batch_size=32, to_batch_size=256, rule="linear", divergence_lr=0.3, cap=True)
    assert capped.factor == 8 and capped.lr == 0.3 and capped.warmup_epochs == 2
    with pytest.warns(UserWarning, match="capped"):
        low = scale_lr(0.1, from_batch_size=32, to_batch_size=256, rule="linear", divergence_lr=0.15, cap=True)
    assert low.warmup_epochs == 0  # x1.5
    with pytest.warns(UserWarning, match="past the divergence point"):
        uncapped = scale_lr(0.1, from_batch_size=32, to_batch_size=256, rule="linear", divergence_lr=0.3)
    assert uncapped.warmup_epochs == 3
    with pytest.warns(UserWarning, match="capped"):
        assert uncapped.rebase(0.1, divergence_lr=0.15, cap=True).warmup_epochs == 0
    assert capped.rebase(0.1, cap=False).warmup_epochs == 3  # no divergence LR given: x8 again


def test_warns_past_divergence_and_never_clamps_silently() -> None:
    with pytest.warns(UserWarning, match=r"past the divergence point 3.00e-01.*cap=True"):
        s = scale_lr(0.1, from_batch_size=32, to_batch_size=256, rule="linear", divergence_lr=0.3)
    assert s.lr == pytest.approx(0.8) and not s.capped and s.warning is not None
    with pytest.warns(UserWarning, match="capped to 3.00e-01"):
        c = scale_lr(0.1, from_batch_size=32, to_batch_size=256, rule="linear", divergence_lr=0.3, cap=True)
    assert c.lr == 0.3 and c.capped and c.factor == 8
    assert c.warning is not None and "cap=True" not in c.warning and "likely to diverge" not in c.warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ok = scale_lr(0.1, from_batch_size=32, to_batch_size=64, rule="linear", divergence_lr=0.3)
    assert ok.warning is None


def test_rebase_keeps_the_scaling_and_checks_divergence_again() -> None:
    s = scale_lr(0.1, from_batch_size=32, to_batch_size=128, rule="auto", optimizer="sgd")
    moved = s.rebase(0.01)
    assert moved.lr == pytest.approx(0.04) and moved.base_lr == 0.01
    assert (moved.factor, moved.rule, moved.reason, moved.to_batch_size, moved.warmup_epochs) == (
        s.factor,
        s.rule,
        s.reason,
        128,
        s.warmup_epochs,
    )
    with pytest.warns(UserWarning, match="past the divergence point 1.00e-01"):
        past = s.rebase(0.05, divergence_lr=0.1)
    assert past.lr == pytest.approx(0.2) and past.warning is not None and not past.capped
    with pytest.warns(UserWarning, match="capped"):
        capped = s.rebase(0.05, divergence_lr=0.1, cap=True)
    assert capped.lr == 0.1 and capped.capped
    with pytest.raises(ValueError, match="base_lr > 0"):
        s.rebase(0.0)


def test_round_trip() -> None:
    s = scale_lr(0.1, from_batch_size=32, to_batch_size=64, rule="auto", optimizer="adam")
    assert type(s).from_dict(s.to_dict()) == s


def test_from_dict_names_a_missing_or_unknown_key_as_the_result_does() -> None:
    """ScaledLR.from_dict({}) raised "ScaledLR.__init__() missing 8 required positional arguments" (a TypeError)."""
    s = scale_lr(0.1, from_batch_size=32, to_batch_size=64, rule="auto", optimizer="adam")
    cls = type(s)
    with pytest.raises(ValueError, match=r"^Malformed scaled LR: missing keys 'lr', 'base_lr', 'factor', 'rule', "):
        cls.from_dict({})
    data = s.to_dict()
    with pytest.raises(ValueError, match=r"^Malformed scaled LR: missing key 'factor'$"):
        cls.from_dict({k: v for k, v in data.items() if k != "factor"})
    with pytest.raises(ValueError, match=r"^Malformed scaled LR: unknown key 'zzz'$"):
        cls.from_dict({**data, "zzz": 1})
    with pytest.raises(TypeError, match="Expected data to be a mapping"):
        cls.from_dict(None)  # type: ignore[arg-type]
    # Inside a result, placed by the result's field, as a settings key is.
    result = RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 2.0), stop_reason="completed").to_dict()
    with pytest.raises(ValueError, match=r"^Malformed range-test result: missing key 'factor' in scaled$"):
        RangeTestResult.from_dict({**result, "scaled": {k: v for k, v in data.items() if k != "factor"}})
    with pytest.raises(ValueError, match=r"^Malformed range-test result: unknown key 'zzz' in scaled$"):
        RangeTestResult.from_dict({**result, "scaled": {**data, "zzz": 1}})


_HAND_BUILT = {
    "lr": 0.4,
    "base_lr": 0.1,
    "factor": 4.0,
    "rule": "linear",
    "reason": "by hand",
    "from_batch_size": 32,
    "to_batch_size": 128,
    "warmup_epochs": 2,
}


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("lr", "abc", "a finite number > 0"),
        ("lr", math.nan, "a finite number > 0"),
        ("base_lr", None, "a finite number > 0"),
        ("factor", -1.0, "a finite number > 0"),
        ("rule", "auto", "one of 'linear', 'sqrt', 'noise', 'none'"),
        ("reason", 3, "a string"),
        ("from_batch_size", 0, "an integer >= 1"),
        ("to_batch_size", True, "an integer >= 1"),
        ("warmup_epochs", 1.5, "an integer >= 0"),
        ("warning", 1, "a string or null"),
        ("capped", "yes", "true or false"),
        ("critical_batch", math.inf, "a finite number > 0 or null"),
    ],
)
def test_a_hand_built_scaled_lr_is_checked_as_from_dict_checks_a_file(key: str, value: object, rule: str) -> None:
    """ScaledLR(lr="abc", ...) was taken and failed only later (a format string, to_json); fuzz round 8's leftover."""
    cls = type(scale_lr(0.1, from_batch_size=32, to_batch_size=64, rule="linear"))
    with pytest.raises(ValueError, match=rf"^Expected scaled\.{key} to be {re.escape(rule)}, but got {key}="):
        cls(**{**_HAND_BUILT, key: value})
    with pytest.raises(ValueError, match=rf"^Expected scaled\.{key} to be {re.escape(rule)}, but got {key}="):
        cls.from_dict({**_HAND_BUILT, key: value})


def test_a_hand_built_scaled_lr_stores_numpy_numbers_and_0d_tensors_as_python_ones() -> None:
    cls = type(scale_lr(0.1, from_batch_size=32, to_batch_size=64, rule="linear"))
    s = cls(
        **{**_HAND_BUILT, "lr": np.float32(0.4), "base_lr": torch.tensor(0.1), "from_batch_size": np.int64(32)},
        capped=np.bool_(False),
        critical_batch=np.float64(500.0),
    )
    fields = (s.lr, s.base_lr, s.from_batch_size, s.capped, s.critical_batch)
    assert fields == (0.4, 0.1, 32, False, 500.0)
    assert [type(v) for v in fields] == [float, float, int, bool, float]
    assert cls.from_dict(s.to_dict()) == s


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"lr": 0.0}, "lr > 0"),
        ({"lr": math.inf}, "lr > 0"),
        ({"from_batch_size": 0}, "from_batch_size to be a positive integer"),
        ({"to_batch_size": 2.5}, r"to_batch_size to be a positive integer.*: pass a whole number, rounded with round"),
        # 256 / 2 is a float: the fix is named (it said only "a positive integer, but got to_batch_size=128.0").
        ({"to_batch_size": 256 / 2}, r"but got to_batch_size=128\.0: pass it as an int, to_batch_size=128 \(/ gives"),
        ({"rule": "cubic"}, "Unknown scaling rule 'cubic'.*linear, sqrt"),
        ({"divergence_lr": -1.0}, "divergence_lr > 0"),
    ],
)
def test_bad_input(kwargs: dict[str, object], pattern: str) -> None:
    args: dict[str, object] = {"lr": 0.1, "from_batch_size": 32, "to_batch_size": 64, **kwargs}
    lr = args.pop("lr")
    with pytest.raises(ValueError, match=pattern):
        scale_lr(lr, **args)  # type: ignore[arg-type]


def test_a_misspelt_scaling_rule_names_the_rule_meant() -> None:
    # LRFinder(scaling="lin") and scale_lr(rule="Sqrt") listed the five rules and left the user to match them, where a
    # misspelt rule= or mode= names the one meant.
    from lrfinder import LRFinder

    rules = "auto, linear, sqrt, noise, none"
    with pytest.raises(ValueError) as info:
        LRFinder(scaling="lin")  # type: ignore[arg-type]
    assert str(info.value) == f"Expected scaling to be one of {rules}, but got scaling='lin'. Did you mean 'linear'?"
    with pytest.raises(ValueError) as info:
        scale_lr(0.1, from_batch_size=32, to_batch_size=64, rule="Sqrt")  # type: ignore[arg-type]
    assert str(info.value) == f"Unknown scaling rule 'Sqrt'; expected one of {rules}. Did you mean 'sqrt'?"
    with pytest.raises(ValueError) as info:
        LRFinder(scaling="zzz")  # type: ignore[arg-type]
    assert str(info.value) == f"Expected scaling to be one of {rules}, but got scaling='zzz'."


@pytest.mark.parametrize("base", [np.float32(0.01), np.int64(1), torch.tensor(0.01)])
def test_rebase_takes_numbers_as_scale_lr_does(base: object) -> None:
    # np.float32 was refused with "Expected base_lr > 0 and finite, but got base_lr=0.0099999...".
    s = scale_lr(0.1, from_batch_size=32, to_batch_size=128, rule="linear")
    assert s.rebase(base).lr == pytest.approx(4.0 * float(base))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="base_lr to be a number"):
        s.rebase(True)


def test_result_scale_refuses_a_zero_from_batch_size() -> None:
    # from_batch_size=0 silently fell back to the test's batch size (`from_batch_size or ...`).
    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    losses = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0)
    result = RangeTestResult(
        lrs=tuple(lrs), losses=tuple(losses), stop_reason="completed", batch_size=32, suggestion=analyze(lrs, losses)
    )
    assert result.scale(128, rule="linear").scaled.factor == 4.0  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="from_batch_size to be a positive integer, but got from_batch_size=0"):
        result.scale(128, rule="linear", from_batch_size=0)


def test_seeded_scaling_properties() -> None:
    # Larger target batches never get a smaller LR (linear, sqrt, noise); cap never passes the divergence
    # point; the same batch size keeps the LR; numbers of every kind round-trip through to_dict.
    rng = np.random.default_rng(7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(200):
            lr = float(10.0 ** rng.uniform(-7, 0))
            source = int(rng.choice([1, 3, 32, 1000, 10**6]))
            rule = str(rng.choice(["linear", "sqrt", "noise", "auto", "none"]))
            optimizer = rng.choice([None, "sgd", "adam"])
            noise = float(10.0 ** rng.uniform(-1, 6)) if rule in ("noise", "auto") else None
            targets = sorted({int(v) for v in 10.0 ** rng.uniform(0, 6, size=6)} | {source})
            scaled = [
                scale_lr(lr, from_batch_size=source, to_batch_size=t, rule=rule, optimizer=optimizer, noise_scale=noise)
                for t in targets
            ]
            assert all(b.lr >= a.lr for a, b in zip(scaled, scaled[1:]))
            assert scaled[targets.index(source)].lr == pytest.approx(lr, rel=1e-12)
            divergence = lr * float(rng.uniform(0.5, 20.0))
            for t in targets:
                capped = scale_lr(lr, from_batch_size=source, to_batch_size=t, rule=rule, optimizer=optimizer,
                                  noise_scale=noise, divergence_lr=divergence, cap=True)  # fmt: skip
                assert capped.lr <= divergence and math.isfinite(capped.lr) and capped.lr > 0
                assert capped.capped == (capped.factor * lr > divergence)
                assert type(capped).from_dict(capped.to_dict()) == capped


def _textbook_result(batch_size: int = 64) -> RangeTestResult:
    from lrfinder.range_test import finish_result

    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    curve = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0)
    return finish_result(lrs, curve, "completed", batch_size=batch_size, optimizer_name="SGD")


@pytest.mark.parametrize("cap", [False, True])
def test_the_scaled_one_cycle_peak_never_passes_the_divergence_point_silently(cap: bool) -> None:
    # x8 linear: the LR (divergence / 10 x 8) stays below the divergence point, but the one-cycle peak
    # (divergence / 5 x 8) landed 1.6x past it, with no warning, in training_suggestion.max_lr: the peak
    # LRFinder and `lrfind fit` put a one-cycle schedule at. With cap=True and x64 the LR was capped at
    # the divergence LR and the peak still went 2x past it.
    result = _textbook_result()
    s = result.suggestion
    assert s is not None and s.divergence_lr is not None
    for target in (512, 4096) if cap else (512,):
        with pytest.warns(UserWarning, match="one-cycle peak .* is past the divergence point .* clamped to it"):
            scaled = result.scale(target, rule="linear", cap=cap)
        moved = scaled.training_suggestion
        assert moved is not None and scaled.scaled is not None and scaled.lr is not None
        assert scaled.lr <= s.divergence_lr
        assert moved.max_lr == s.divergence_lr and moved.min_lr == pytest.approx(s.min_lr * s.divergence_lr / s.max_lr)
        assert moved.lr == scaled.lr and moved.min_lr < moved.max_lr
        assert "one-cycle peak" in (scaled.scaled.warning or "")
        assert RangeTestResult.from_json(scaled.to_json()) == scaled
        # Read again with another rule, the scaling follows and says it again.
        with pytest.warns(UserWarning, match="one-cycle peak"):
            again = scaled.analyze(rule="divergence_div10")
        assert again.training_suggestion is not None and again.training_suggestion.max_lr == s.divergence_lr
    # A peak that stays below the divergence point moves with the factor, without a word.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mild = result.scale(256, rule="linear")
    assert mild.training_suggestion is not None and mild.training_suggestion.max_lr == pytest.approx(4 * s.max_lr)
    assert mild.scaled is not None and mild.scaled.warning is None


@pytest.mark.parametrize(
    ("source", "target", "rule"),
    [
        (1, 10**400, "linear"),
        (1, 10**400, "sqrt"),
        (10**400, 1, "linear"),
        (1, 10**300, "linear"),
        (1, 10**400, "noise"),
    ],
)
def test_batch_sizes_outside_float_arithmetic_are_refused(source: int, target: int, rule: str) -> None:
    # An OverflowError escaped from the division, or the ScaledLR said lr=0.0 or lr=inf.
    with pytest.raises(ValueError, match=r"keeps the LR finite and > 0, .*digit number"):
        scale_lr(1e10, from_batch_size=source, to_batch_size=target, rule=rule, noise_scale=10.0)
    assert scale_lr(0.1, from_batch_size=1, to_batch_size=10**12, rule="linear").lr == pytest.approx(1e11)


def test_cap_without_a_divergence_lr_says_it_caps_nothing() -> None:
    """``cap=True`` with no divergence LR (none given, or a curve that never diverged) left the LR uncapped silently."""
    with pytest.warns(UserWarning, match=r"cap=True has no divergence LR to cap at.*8.00e-01 is not capped"):
        s = scale_lr(0.1, from_batch_size=32, to_batch_size=256, rule="linear", cap=True)
    assert s.lr == pytest.approx(0.8) and not s.capped and s.warning is not None and "not capped" in s.warning
    lrs = np.geomspace(1e-5, 1.0, 60)
    losses = 1.0 + np.tanh(-np.log10(lrs / 1e-3))  # falls to a floor and never diverges
    suggestion = analyze(lrs, losses)
    assert suggestion.divergence_lr is None
    result = RangeTestResult(tuple(lrs), tuple(losses), "completed", batch_size=32, suggestion=suggestion)
    with pytest.warns(UserWarning, match="cap=True has no divergence LR"):
        scaled = result.scale(256, rule="linear", cap=True).scaled
    assert scaled is not None and not scaled.capped
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # without cap=True nothing is said
        scale_lr(0.1, from_batch_size=32, to_batch_size=256, rule="linear")


def test_a_result_or_suggestion_given_as_lr_says_what_to_pass() -> None:
    # scale_lr(result, ...) printed every LR and loss of the result and said nothing of what to pass.
    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    s = analyze(lrs, 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0))
    result = RangeTestResult(lrs=tuple(lrs), losses=(1.0,) * 141, stop_reason="completed", suggestion=s, batch_size=32)
    expected = (r"^Expected lr to be a number, but got a RangeTestResult: pass its LR, "
                r"lr=result\.lr, or scale the result itself with result\.scale\(to_batch_size=\.\.\.\)")
    with pytest.raises(TypeError, match=expected):
        scale_lr(result, from_batch_size=32, to_batch_size=64)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^Expected lr to be a number, but got a Suggestion: pass its LR, "
                       r"lr=suggestion\.lr$"):  # fmt: skip
        scale_lr(s, from_batch_size=32, to_batch_size=64)  # type: ignore[arg-type]
    assert result.scale(to_batch_size=64).scaled.lr == scale_lr(s.lr, from_batch_size=32, to_batch_size=64).lr


def test_batch_sizes_are_written_as_the_report_writes_them() -> None:
    # The warnings said "from batch 32 to 2048" and "Training batch 2048" where the report's header and the LR
    # label said "target 2,048" and "(batch 2,048)": one formatter, lrfinder.noise.format_batch, writes them all.
    from lrfinder.cli.output import summary_rows
    from lrfinder.noise import format_batch

    assert [format_batch(b) for b in (4, 32, 2048, 10**6)] == ["4", "32", "2,048", "1,000,000"]
    with pytest.warns(UserWarning) as record:
        scaled = scale_lr(
            0.1, from_batch_size=32, to_batch_size=2048, rule="linear", divergence_lr=0.5, noise_scale=100
        )
    said = " ".join(str(w.message) for w in record)
    assert "(linear x64 from batch 32 to 2,048) is past the divergence point" in said
    assert "Training batch 2,048 is well past the critical batch ≈ 100 " in said
    assert "2048" not in said and "2048" not in (scaled.warning or "")
    result = RangeTestResult.from_json(Path(__file__).parent / "data" / "demo_result.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = dict(summary_rows(result.scale(2048, rule="linear")))
    assert "linear x32, batch 64 -> 2,048)" in rows["scaled lr"]


@pytest.mark.parametrize("value", [torch.tensor([0.1]), torch.tensor([[0.1]]), np.array([0.1])])
def test_a_one_element_tensor_lr_is_refused_as_range_test_refuses_it(value: object) -> None:
    # scale_lr(lr=torch.tensor([0.1])) scaled it (to 0.20000000298023224, the float32's expansion) where
    # range_test(min_lr=...) and create_optimizer(lr=...) refused the same tensor: one check now serves all three.
    from lrfinder import RangeTestSettings, create_optimizer

    shape = tuple(np.shape(value))
    with pytest.raises(TypeError, match=re.escape(f"of shape {shape}: pass the number it holds, lr=lr.item()")):
        scale_lr(value, from_batch_size=32, to_batch_size=64, rule="linear")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape(f"of shape {shape}: pass the number it holds, min_lr=min_lr")):
        RangeTestSettings(min_lr=value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape(f"of shape {shape}: pass the number it holds, lr=lr.item()")):
        create_optimizer("sgd", [torch.nn.Parameter(torch.zeros(1))], lr=value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Expected divergence_lr to be a number"):
        scale_lr(0.1, from_batch_size=32, to_batch_size=64, rule="linear", divergence_lr=value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Expected to_batch_size to be a positive integer"):
        scale_lr(0.1, from_batch_size=32, to_batch_size=torch.tensor([64]), rule="linear")  # type: ignore[arg-type]
    # The 0-d tensor both take, as the number it holds.
    assert scale_lr(torch.tensor(0.1), from_batch_size=32, to_batch_size=64, rule="linear").lr == pytest.approx(0.2)
    assert RangeTestSettings(min_lr=torch.tensor(1e-6)).min_lr == 1e-6  # type: ignore[arg-type]


def test_the_callbacks_names_of_several_optimizers_are_read_old_and_new() -> None:
    # The callback joined the optimizers' classes with "," and each class once ("SGD,Adam", "SGD" for two SGDs); it
    # now names each (", "), which optimizer_family reads as it read the old names.
    from lrfinder._wording import optimizers_words

    assert optimizer_family("SGD, Adam") == optimizer_family("SGD,Adam") == "sgd"
    assert optimizer_family("Adam, AdamW (AMSGrad)") == "adaptive"
    assert optimizers_words("SGD, SGD") == "2 optimizers: SGD x2"
    assert optimizers_words("SGD,Adam") == "2 optimizers: SGD, Adam"
    assert optimizers_words("SGD (momentum)") == "SGD (momentum)"
    assert optimizers_words("adamw, betas=(0.9, 0.95)") == "adamw, betas=(0.9, 0.95)"
    assert optimizers_words(None) is None
