from __future__ import annotations

import math

import numpy as np
import pytest

from lrfinder import InconclusiveCurveError, Suggestion, analyze, loss_slope, smooth_losses
from lrfinder.analysis import RULES

LRS = np.logspace(-6, 1, 141)  # 0.05 decade per point
X = np.log10(LRS)
STEP = 0.05


def sigmoid_fall(
    x: np.ndarray, center: float = -3.0, width: float = 0.3, top: float = 2.0, bottom: float = 0.5
) -> np.ndarray:
    """Falls from ``top`` to ``bottom``; steepest exactly at ``center``."""
    return bottom + (top - bottom) / (1.0 + np.exp((x - center) / width))


def explosion(x: np.ndarray, start: float = -1.0, rate: float = 4.0) -> np.ndarray:
    return np.where(x > start, np.expm1(rate * np.clip(x - start, 0, None)), 0.0)


def textbook_curve() -> np.ndarray:
    return sigmoid_fall(X) + explosion(X)


def decades(a: float, b: float) -> float:
    return abs(math.log10(a) - math.log10(b))


def test_steepest_minimum_and_divergence_on_a_known_curve() -> None:
    s = analyze(LRS, textbook_curve())
    assert decades(s.steepest_lr, 1e-3) <= STEP + 1e-9
    # Minimum: the fall has flattened (sigmoid tail) and the explosion starts at 1e-1.
    assert 10**-1.6 <= s.min_loss_lr <= 10**-0.9
    assert s.divergence_lr is not None and s.min_loss_lr < s.divergence_lr < 10**-0.5
    assert s.non_finite_lr is None
    assert s.min_lr < s.lr <= s.max_lr <= s.min_loss_lr
    assert s.max_lr / s.min_lr >= 3 - 1e-9 and s.max_lr / s.min_lr <= 10 + 1e-9
    assert s.confidence > 0.8
    assert len(s.smoothed_losses) == LRS.size
    # Every reported LR is a swept LR.
    for lr in (s.lr, s.steepest_lr, s.min_loss_lr, s.divergence_lr, s.max_lr, s.min_lr):
        assert np.isclose(LRS, lr, rtol=1e-12).any()


def test_rules_pick_their_points() -> None:
    curve = textbook_curve()
    by_rule = {rule: analyze(LRS, curve, rule=rule) for rule in RULES}
    assert by_rule["steepest"].lr == by_rule["steepest"].steepest_lr
    s = by_rule["min_div10"]
    assert decades(s.lr, s.min_loss_lr / 10) <= STEP / 2 + 1e-9
    v = by_rule["valley"]
    # The falling region of a symmetric sigmoid is centred on its steepest point.
    assert decades(v.lr, 1e-3) <= 2 * STEP + 1e-9
    for rule, sug in by_rule.items():
        assert sug.rule == rule


def test_unknown_rule_is_rejected() -> None:
    with pytest.raises(ValueError, match="Unknown rule 'magic'.*steepest"):
        analyze(LRS, textbook_curve(), rule="magic")


def test_smoothing_has_no_phase_lag() -> None:
    curve = sigmoid_fall(X, center=-2.0)
    smoothed = smooth_losses(LRS, curve)
    slope = loss_slope(LRS, smoothed)
    # A causal EMA would move the steepest point to larger LRs; a centred filter does not.
    assert X[int(np.argmin(slope))] == pytest.approx(-2.0, abs=STEP)
    assert np.max(np.abs(smoothed - curve)) < 0.02


def test_slope_is_against_log_lr() -> None:
    line = 3.0 - 0.5 * X
    np.testing.assert_allclose(loss_slope(LRS, line), -0.5, atol=1e-9)


def test_divergence_then_recovery_trap() -> None:
    # Falls around 1e-3, blows up to ~10 around 1e-1, then "recovers" with a slope far steeper
    # than the real fall, to a value below the real minimum.
    curve = sigmoid_fall(X)
    blow = 10.0 * np.exp(-(((X + 1.0) / 0.25) ** 2))
    recovery = np.where(X > -1.0, -0.4 * np.clip((X + 1.0) / 0.5, 0, 1), 0.0)
    s = analyze(LRS, curve + blow + recovery)
    assert decades(s.steepest_lr, 1e-3) <= STEP + 1e-9
    assert s.min_loss_lr < 10**-1.0
    assert s.lr < 10**-1.5
    assert any("blew up" in note for note in s.notes)


def test_non_finite_tail_is_the_divergence() -> None:
    curve = sigmoid_fall(X)
    cut = int(np.searchsorted(X, -1.0))
    curve = curve.copy()
    curve[cut] = np.nan
    s = analyze(LRS[: cut + 1], curve[: cut + 1])
    assert s.non_finite_lr == pytest.approx(LRS[cut])
    assert s.divergence_lr == pytest.approx(LRS[cut])
    assert math.isnan(s.smoothed_losses[-1])
    assert decades(s.steepest_lr, 1e-3) <= STEP + 1e-9


@pytest.mark.parametrize("seed", range(5))
def test_noisy_curves_keep_the_pick_close(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lrs = np.logspace(-6, 1, 100)
    x = np.log10(lrs)
    curve = sigmoid_fall(x) + explosion(x) + rng.normal(0, 0.06, size=x.size)
    s = analyze(lrs, curve, rule="steepest")
    assert decades(s.steepest_lr, 1e-3) <= 0.35
    assert 0.2 < s.confidence <= 1.0


def test_negative_losses() -> None:
    s = analyze(LRS, textbook_curve() - 5.0)
    assert decades(s.steepest_lr, 1e-3) <= STEP + 1e-9
    assert s.divergence_lr is not None


@pytest.mark.parametrize("shift", [-1000.0, -10.0, 0.0, 1000.0])
def test_a_constant_shift_changes_nothing(shift: float) -> None:
    rng = np.random.default_rng(3)
    base = textbook_curve() + rng.normal(0, 0.03, X.size)
    plain = analyze(LRS, base)
    shifted = analyze(LRS, base + shift)
    assert shifted.lr == plain.lr and shifted.divergence_lr == plain.divergence_lr
    assert shifted.min_lr == plain.min_lr and shifted.max_lr == plain.max_lr


@pytest.mark.parametrize("shift", [-1000.0, 0.0, 1000.0])
def test_flat_then_explode_is_inconclusive_at_any_level(shift: float) -> None:
    rng = np.random.default_rng(4)
    with pytest.raises(InconclusiveCurveError, match="never clearly falls"):
        analyze(LRS, shift + 0.1 + explosion(X, start=-2.0) + rng.normal(0, 0.01, X.size))


def test_linear_sweep_is_resampled_in_log() -> None:
    # A zoomed linear sweep: dense in LR, so uneven in log LR.
    lrs = np.linspace(0.01, 1.0, 200)
    x = np.log10(lrs)
    s = analyze(lrs, sigmoid_fall(x, center=-1.0, width=0.15) + explosion(x, start=-0.3, rate=8.0))
    assert decades(s.steepest_lr, 0.1) < 0.05


def test_inconclusive_too_few_points() -> None:
    curve = textbook_curve()[:40]
    curve[5] = np.inf
    with pytest.raises(InconclusiveCurveError, match=r"Only 5 finite.*increase num_steps"):
        analyze(LRS[:40], curve)


def test_inconclusive_flat() -> None:
    with pytest.raises(InconclusiveCurveError, match="never clearly falls"):
        analyze(LRS, np.full(LRS.size, 1.3))


def test_inconclusive_flat_noise() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InconclusiveCurveError, match="never clearly falls.*Check that the loss"):
        analyze(LRS, 1.3 + rng.normal(0, 0.1, LRS.size))


def test_inconclusive_never_falls_then_diverges() -> None:
    # An already-trained model: flat, then explodes.
    with pytest.raises(InconclusiveCurveError, match="lower min_lr"):
        analyze(LRS, 0.1 + explosion(X, start=-2.0))


def test_inconclusive_still_falling_at_max_lr() -> None:
    with pytest.raises(InconclusiveCurveError, match="still falling.*Increase max_lr"):
        analyze(LRS, sigmoid_fall(X, center=0.5, width=0.5))


def test_bad_arrays() -> None:
    with pytest.raises(ValueError, match="same length"):
        analyze(LRS, textbook_curve()[:-1])
    with pytest.raises(ValueError, match="strictly increasing"):
        analyze(LRS[::-1], textbook_curve())
    with pytest.raises(ValueError, match="> 0"):
        analyze(np.linspace(0, 1, 20), np.ones(20))


def test_suggestion_dict_round_trip() -> None:
    s = analyze(LRS, textbook_curve())
    again = Suggestion.from_dict(s.to_dict())
    assert again == s


def test_heavy_noise_widens_the_window_and_keeps_picks_close() -> None:
    lrs = np.logspace(-5, 0.5, 100)
    x = np.log10(lrs)
    errors = []
    windows = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        curve = sigmoid_fall(x, center=-2.0, width=0.2, bottom=1.0) + explosion(x, start=-0.5, rate=6.0)
        s = analyze(lrs, curve + rng.normal(0, 0.15, x.size), rule="steepest")
        errors.append(decades(s.steepest_lr, 1e-2))
        windows.append(s.window)
    assert np.quantile(errors, 0.9) < 0.5
    clean = analyze(lrs, sigmoid_fall(x, center=-2.0, width=0.2, bottom=1.0) + explosion(x, start=-0.5, rate=6.0))
    assert min(windows) > clean.window
