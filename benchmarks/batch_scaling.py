"""Batch-size scaling: predicted best LR at other batch sizes against a grid-search oracle.

Tasks come in two splits, as in :mod:`benchmarks.quality`: rules and thresholds are chosen on
the *tune* split only (an SGD-with-momentum and an Adam MLP on scikit-learn's bundled digits)
and checked on the *check* split (SGD with momentum and Adam on two generated data sets of 6,000
training rows: 4-class classification with flipped labels, and Friedman #1 regression). For
each task:

1. **Oracle.** At each batch size (4 of them, spanning 64x) train for the *same number of
   epochs* at every LR of a grid (4 per decade) and every seed (3); the best LR is the grid LR
   of the lowest mean validation loss; its *good band* every grid LR within 10% of it.
2. **Range test** at the smallest batch size, once per seed, with ``noise_scale=True``:
   the suggestion (``Suggestion.lr``) and the measured gradient noise scale ``B_simple``.
3. **Predictions** for every larger batch: ``linear``, ``sqrt``, ``auto`` (what
   ``result.scale(B)`` does: the noise rule when a noise scale was measured) and ``noise``
   (:func:`lrfinder.scale_lr` with ``rule="noise"``), plus the adaptive shapes the noise rule
   could use (``noise:surge``, ``noise:sqrt``, ``noise:sgd``) to justify the choice. Each rule is
   applied to two base LRs: the range test's suggestion (``anchor=test``, what a user gets) and
   the oracle's best LR at the smallest batch (``anchor=oracle``: the scaling rule alone).
4. **Score.** Train at each predicted LR (same seed, same epochs); *regret* = mean validation
   loss / the oracle's best; *in band* = the nearest grid LR is in the good band.
5. **Cross-check.** ``B_noise`` fitted to the oracle's best LRs (the form of the task's
   optimizer family, least squares in log LR) against the measured ``B_simple``.
6. **Summary** per split (``tune``, ``check``, ``all``) and anchor: median / geometric-mean /
   worst regret and in-band counts per rule, the same over the adaptive-optimizer tasks alone
   (the choice of the adaptive shape), and the issue's two targets.
7. **Cost.** The default range test of several quality-benchmark tasks (``COST_TASKS``) with and
   without ``noise_scale=True``, interleaved rounds: median ratio and added milliseconds, and a
   profile of where the added time goes (per-step probe work against the post-sweep estimate and
   its bootstrap). Also the earlier 100-step test of the scaling tasks at batch 8.

The cache (``benchmarks/cache/batch_scaling_<task>.json``: every validation loss and range-test
finding) is committed, so ``--render-only`` and a re-run reproduce the tables without training.

Usage::

    python -m benchmarks.batch_scaling          # full run (resumes from benchmarks/cache/)
    python -m benchmarks.batch_scaling --smoke  # one task, two batch sizes, seconds (writes to
                                                # benchmarks/cache/smoke/, not results/)
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lrfinder import range_test, scale_lr
from lrfinder.noise import NoiseScale, lr_shape, noise_lr_factor
from lrfinder.scaling import optimizer_family

from .tasks import Task, _adam, _sgd, load_data, mlp, train

HERE = Path(__file__).resolve().parent
CACHE_DIR = HERE / "cache"
RESULTS_DIR = HERE / "results"
BAND = 0.10
PER_DECADE = 4
SEEDS = 3
RULES = ("linear", "sqrt", "auto", "noise")
SHAPES = ("sgd", "surge", "sqrt")


@dataclass(frozen=True)
class ScalingTask:
    """A task trained at several batch sizes for the same number of epochs."""

    task: Task
    batches: tuple[int, ...]
    epochs: int

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def split(self) -> str:
        """``"tune"`` (rules and thresholds are chosen on it) or ``"check"`` (held out)."""
        return self.task.split

    def at(self, batch: int) -> Task:
        """The task at ``batch``, its step budget set to ``epochs`` epochs (drop-last)."""
        n = len(load_data(self.task.data)[0])
        return replace(self.task, batch_size=batch, steps=self.epochs * (n // batch))


TASKS = [
    ScalingTask(
        Task("digits_mlp_momentum", "digits", lambda: mlp([64, 128, 10]), _sgd(0.9), "ce", 8, 0, (-3.5, 1.0), "tune",
             "MLP on digits, SGD with momentum 0.9"),
        (8, 32, 128, 512), 10,
    ),
    ScalingTask(
        Task("digits_mlp_adam", "digits", lambda: mlp([64, 128, 10]), _adam(), "ce", 8, 0, (-4.5, 0.0), "tune",
             "MLP on digits, Adam"),
        (8, 32, 128, 512), 10,
    ),
    # Held out (split "check"): other data, other losses; never looked at while choosing a rule.
    ScalingTask(
        Task("synth_mlp_momentum", "synth_classes", lambda: mlp([20, 128, 4]), _sgd(0.9), "ce", 8, 0, (-4.0, 0.5),
             "check", "MLP on generated 4-class data (6,000 rows, 5% flipped labels), SGD with momentum 0.9"),
        (8, 32, 128, 512), 4,
    ),
    ScalingTask(
        Task("synth_mlp_adam", "synth_classes", lambda: mlp([20, 128, 4]), _adam(), "ce", 8, 0, (-4.5, 0.0),
             "check", "MLP on generated 4-class data (6,000 rows, 5% flipped labels), Adam"),
        (8, 32, 128, 512), 4,
    ),
    ScalingTask(
        Task("friedman_mlp_momentum", "friedman_big", lambda: mlp([10, 64, 64, 1]), _sgd(0.9), "mse", 8, 0,
             (-4.0, 0.5), "check", "regression MLP on Friedman #1 (6,000 rows), SGD with momentum 0.9"),
        (8, 32, 128, 512), 4,
    ),
    ScalingTask(
        Task("friedman_mlp_adam", "friedman_big", lambda: mlp([10, 64, 64, 1]), _adam(), "mse", 8, 0, (-4.5, 0.0),
             "check", "regression MLP on Friedman #1 (6,000 rows), Adam"),
        (8, 32, 128, 512), 4,
    ),
]
SPLITS = ("tune", "check", "all")


def _grid(task: Task) -> list[float]:
    return task.lr_grid(PER_DECADE)


class Cache:
    """Validation losses keyed by ``batch|lr|seed``, and range-test findings by seed."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict[str, Any] = {"runs": {}, "tests": {}}
        if path is not None and path.exists():
            self.data = json.loads(path.read_text())

    def save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.data))

    def val(self, st: ScalingTask, batch: int, lr: float, seed: int) -> float:
        key = f"{batch}|{lr:.6e}|{seed}"
        if key not in self.data["runs"]:
            self.data["runs"][key] = train(st.at(batch), lr, seed)
        return float(self.data["runs"][key])


def run_range_test(st: ScalingTask, seed: int) -> dict[str, Any]:
    """The range test at the smallest batch, with the noise scale measured."""
    task = st.at(st.batches[0])
    model = task.build(seed)
    opt = task.optimizer(model.parameters(), 1e-7)
    result = range_test(model, task.loader(seed), optimizer=opt, loss_fn=task.loss_fn, noise_scale=True)
    ns = result.noise_scale
    return {
        "lr": result.suggestion.lr if result.suggestion is not None else None,
        "divergence_lr": result.suggestion.divergence_lr if result.suggestion is not None else None,
        "noise_scale": ns.to_dict() if ns is not None else None,
        "noise_error": result.noise_error,
        "optimizer": result.optimizer_name,
    }


def predict(
    base: float, b_from: int, b_to: int, rule: str, optimizer: str, noise: NoiseScale | None
) -> float | None:
    """The LR a rule predicts at ``b_to`` (``None`` when the rule needs a noise scale and has none).

    ``auto`` and ``noise`` get the measured :class:`NoiseScale` itself, as ``result.scale`` passes
    it (``auto`` falls back to the family's fixed rule when it is inconclusive); the
    ``noise:<shape>`` columns use its ``b_simple`` whatever its spread.
    """
    if rule.startswith("noise:"):
        return None if noise is None else base * noise_lr_factor(b_from, b_to, noise.b_simple, rule.split(":")[1])
    if rule == "noise" and noise is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # past-the-critical-batch and uncertain-noise warnings are expected here
        return scale_lr(base, from_batch_size=b_from, to_batch_size=b_to, rule=rule, optimizer=optimizer,
                        noise_scale=noise if rule in ("noise", "auto") else None).lr


def _nearest_in_band(lr: float, grid: list[float], band: list[bool]) -> bool:
    logs = np.log10(grid)
    i = int(np.argmin(np.abs(logs - math.log10(lr))))
    return bool(band[i] and abs(logs[i] - math.log10(lr)) <= 0.5 / PER_DECADE + 1e-9)


def fit_noise_scale(batches: Sequence[int], best: Sequence[float], shape: str) -> float:
    """``B_noise`` whose shape (times the best-fitting ``eps_max``) fits the oracle's best LRs.

    Least squares in log10 LR over a log grid of ``B_noise`` (0.1 .. 1e6), ``eps_max`` fitted in
    closed form (the mean log residual).
    """
    b = np.asarray(batches, dtype=float)
    y = np.log10(np.asarray(best, dtype=float))
    candidates = np.logspace(-1, 6, 701)
    errors = []
    for n in candidates:
        f = np.log10(lr_shape(b, n, shape))
        resid = y - f
        errors.append(float(np.sum((resid - resid.mean()) ** 2)))
    return float(candidates[int(np.argmin(errors))])


def run_task(st: ScalingTask, *, seeds: int, cache: Cache, log: Callable[[str], None]) -> dict[str, Any]:
    task = st.task
    grid = _grid(task)
    oracle: dict[int, list[float]] = {}
    for batch in st.batches:
        t0 = time.perf_counter()
        oracle[batch] = [float(np.mean([cache.val(st, batch, lr, s) for s in range(seeds)])) for lr in grid]
        cache.save()
        log(f"  {st.name}: oracle at batch {batch} ({time.perf_counter() - t0:.0f}s)")
    best_lr = {b: grid[int(np.argmin(v))] for b, v in oracle.items()}
    best_val = {b: min(v) for b, v in oracle.items()}
    band = {b: [v <= (1 + BAND) * best_val[b] for v in oracle[b]] for b in st.batches}
    tests = []
    for s in range(seeds):
        key = str(s)
        if key not in cache.data["tests"]:
            cache.data["tests"][key] = run_range_test(st, s)
            cache.save()
        tests.append(cache.data["tests"][key])
    family = optimizer_family(tests[0]["optimizer"])
    rules = [*RULES, *(f"noise:{sh}" for sh in SHAPES)]
    b0 = st.batches[0]
    scores: dict[str, dict[str, dict[str, Any]]] = {}
    for anchor in ("test", "oracle"):
        scores[anchor] = {}
        for rule in rules:
            rows = {}
            for batch in st.batches[1:]:
                vals, lrs, hits = [], [], []
                for s, test in enumerate(tests):
                    base = test["lr"] if anchor == "test" else best_lr[b0]
                    noise = NoiseScale.from_dict(test["noise_scale"]) if test["noise_scale"] is not None else None
                    lr = None if base is None else predict(base, b0, batch, rule, test["optimizer"], noise)
                    if lr is None:
                        # No suggestion / no noise scale: the user keeps the smallest batch's LR scaled
                        # by the optimizer family's fixed rule (what result.scale's auto would do).
                        fallback = base if base is not None else best_lr[b0]
                        lr = predict(fallback, b0, batch, "auto", test["optimizer"], None)
                    assert lr is not None
                    lrs.append(lr)
                    vals.append(cache.val(st, batch, lr, s))
                    hits.append(_nearest_in_band(lr, grid, band[batch]))
                cache.save()
                rows[str(batch)] = {
                    "lrs": lrs,
                    "regret": float(np.mean(vals)) / best_val[batch],
                    "in_band": sum(hits) * 2 > len(hits),
                    "band_hits": int(sum(hits)),
                }
            scores[anchor][rule] = rows
    measured = [t["noise_scale"]["b_simple"] for t in tests if t["noise_scale"] is not None]
    shape = "sgd" if family == "sgd" else "surge"
    return {
        "task": st.name,
        "split": st.split,
        "note": task.note,
        "optimizer": task.optimizer_name,
        "family": family,
        "epochs": st.epochs,
        "batches": list(st.batches),
        "grid": grid,
        "oracle": {str(b): v for b, v in oracle.items()},
        "best_lr": {str(b): v for b, v in best_lr.items()},
        "band": {str(b): [g for g, ok in zip(grid, band[b]) if ok] for b in st.batches},
        "tests": tests,
        "b_simple_median": float(np.median(measured)) if measured else None,
        "fitted_noise": {sh: fit_noise_scale(st.batches, [best_lr[b] for b in st.batches], sh) for sh in SHAPES},
        "fitted_shape": shape,
        "scores": scores,
    }


def _aggregate(results: list[dict[str, Any]], anchor: str) -> dict[str, Any]:
    """Per rule: median / geometric-mean / worst regret and in-band count over every (task, batch)."""
    agg = {}
    for rule in results[0]["scores"][anchor]:
        regrets = [row["regret"] for r in results for row in r["scores"][anchor][rule].values()]
        in_band = [row["in_band"] for r in results for row in r["scores"][anchor][rule].values()]
        agg[rule] = {
            "median_regret": float(np.median(regrets)),
            "geo_regret": float(np.exp(np.mean(np.log(regrets)))),
            "worst_regret": float(max(regrets)),
            "in_band": int(sum(in_band)),
            "points": len(in_band),
        }
    return agg


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per split (``tune``, ``check``, ``all``) and anchor: the rules' aggregates and the targets.

    ``adaptive`` holds the same aggregates over the adaptive-optimizer tasks alone, which is what
    the choice of :data:`lrfinder.noise.ADAPTIVE_SHAPE` (``noise:sgd`` / ``noise:surge`` /
    ``noise:sqrt``) rests on. A split without tasks is left out.
    """
    out: dict[str, Any] = {}
    for split in SPLITS:
        chosen = [r for r in results if split == "all" or r.get("split", "tune") == split]
        if not chosen:
            continue
        out[split] = {"tasks": [r["task"] for r in chosen]}
        for anchor in ("test", "oracle"):
            agg = _aggregate(chosen, anchor)
            worst_vs_fixed, worst_at = 0.0, ""
            for r in chosen:
                for batch, row in r["scores"][anchor]["noise"].items():
                    fixed = min(r["scores"][anchor][f][batch]["regret"] for f in ("linear", "sqrt"))
                    if row["regret"] / fixed > worst_vs_fixed:
                        worst_vs_fixed, worst_at = row["regret"] / fixed, f"{r['task']} batch {batch}"
            main_rules = [rule for rule in RULES if rule != "auto"]
            lowest = min(agg[rule]["median_regret"] for rule in main_rules)
            adaptive = [r for r in chosen if r["family"] == "adaptive"]
            out[split][anchor] = {
                "rules": agg,
                "adaptive": _aggregate(adaptive, anchor) if adaptive else None,
                "noise_lowest_median": agg["noise"]["median_regret"] <= lowest + 1e-12,
                "noise_worst_vs_best_fixed": worst_vs_fixed,
                "noise_worst_at": worst_at,
                "noise_within_10pct": worst_vs_fixed <= 1.10,
            }
    return out


# --------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------


def _interleaved(rounds: int, run: Callable[[bool], float]) -> dict[str, list[float]]:
    """``run(noise_on) -> seconds`` off and on, ``rounds`` rounds in alternating order after a warm-up round."""
    times: dict[str, list[float]] = {"off": [], "on": []}
    order = ["off", "on"]
    for r in range(rounds + 1):
        for mode in order if r % 2 == 0 else order[::-1]:
            elapsed = run(mode == "on")
            if r > 0:  # round 0 warms up
                times[mode].append(elapsed)
    return times


def measure_cost(st: ScalingTask, rounds: int) -> dict[str, Any]:
    """Median wall time of a 100-step range test with and without the noise measurement."""
    task = st.at(st.batches[0])

    def run(on: bool) -> float:
        model = task.build(0)
        opt = task.optimizer(model.parameters(), 1e-7)
        loader = task.loader(0)
        t0 = time.perf_counter()
        range_test(model, loader, optimizer=opt, loss_fn=task.loss_fn, max_lr=1e-3, stop_factor=None, noise_scale=on)
        return time.perf_counter() - t0

    times = _interleaved(rounds, run)
    ratios = [on / off for on, off in zip(times["on"], times["off"])]
    return {
        "task": st.name,
        "batch": st.batches[0],
        "rounds": rounds,
        "median_off_s": statistics.median(times["off"]),
        "median_on_s": statistics.median(times["on"]),
        "min_off_s": min(times["off"]),
        "min_on_s": min(times["on"]),
        "median_ratio": statistics.median(ratios),
        "ratio_of_mins": min(times["on"]) / min(times["off"]),
    }


#: Quality-benchmark tasks (benchmarks/tasks.py) whose default range test is timed with and
#: without the noise measurement: an MLP, a CNN with batch norm, a GRU, a transformer layer and
#: a character-level LM, 1.4k to 38k parameters.
COST_TASKS = ("digits_mlp_sgd", "digits_cnn_adam", "adding_gru_adam", "majority_transformer_adamw", "chars_mlp_adam")


class _Timers:
    """Wall time spent inside the noise measurement's pieces, by monkeypatching them for one run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {"per_step": 0.0, "post_sweep": 0.0, "bootstrap": 0.0}
        self.calls = 0

    def __enter__(self) -> _Timers:
        # ``lrfinder.range_test`` the attribute is the function; the module is in sys.modules.
        noise_mod: Any = sys.modules["lrfinder.noise"]
        rt_mod: Any = sys.modules["lrfinder.range_test"]

        self._saved = (noise_mod.NoiseProbe.end_step, rt_mod.noise_after_sweep, noise_mod._bootstrap_interval)
        end_step, after, boot = self._saved

        def timed(key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.seconds[key] += time.perf_counter() - t0
                    self.calls += key == "per_step"

            return wrapper

        noise_mod.NoiseProbe.end_step = timed("per_step", end_step)
        rt_mod.noise_after_sweep = timed("post_sweep", after)
        noise_mod._bootstrap_interval = timed("bootstrap", boot)
        return self

    def __exit__(self, *exc: object) -> None:
        # ``lrfinder.range_test`` the attribute is the function; the module is in sys.modules.
        noise_mod: Any = sys.modules["lrfinder.noise"]
        rt_mod: Any = sys.modules["lrfinder.range_test"]

        noise_mod.NoiseProbe.end_step, rt_mod.noise_after_sweep, noise_mod._bootstrap_interval = self._saved


def measure_range_cost(name: str, rounds: int, profile_rounds: int = 3) -> dict[str, Any]:
    """The default range test (``range_test``'s defaults) of a quality task, with and without noise.

    ``rounds`` interleaved rounds (the order alternates) after a warm-up round; then
    ``profile_rounds`` untimed runs with the measurement's pieces timed: the per-step work
    (:meth:`lrfinder.noise.NoiseProbe.end_step`: gradient norms and the block sum) and the fixed
    post-sweep work (:func:`lrfinder.noise.noise_after_sweep`, of which the bootstrap interval).
    """
    from .tasks import TASKS_BY_NAME

    task = TASKS_BY_NAME[name]

    def once(on: bool) -> tuple[float, Any]:
        model = task.build(0)
        opt = task.optimizer(model.parameters(), 1e-7)
        loader = task.loader(0)
        t0 = time.perf_counter()
        result = range_test(model, loader, optimizer=opt, loss_fn=task.loss_fn, noise_scale=on)
        return time.perf_counter() - t0, result

    steps = [0]

    def run(on: bool) -> float:
        elapsed, result = once(on)
        steps[0] = len(result.lrs)
        return elapsed

    times = _interleaved(rounds, run)
    parts: dict[str, list[float]] = {"per_step": [], "post_sweep": [], "bootstrap": []}
    blocks = 0
    for _ in range(profile_rounds):
        with _Timers() as timers:
            _, result = once(True)
        for key in parts:
            parts[key].append(timers.seconds[key])
        blocks = result.noise_scale.n_estimates if result.noise_scale is not None else 0
    ratios = [on / off for on, off in zip(times["on"], times["off"])]
    model = task.build(0)
    return {
        "task": name,
        "note": task.note,
        "params": sum(p.numel() for p in model.parameters()),
        "batch": task.batch_size,
        "steps": steps[0],
        "noise_estimates": blocks,
        "rounds": rounds,
        "median_off_s": statistics.median(times["off"]),
        "median_on_s": statistics.median(times["on"]),
        "median_ratio": statistics.median(ratios),
        "added_ms": 1000 * (statistics.median(times["on"]) - statistics.median(times["off"])),
        "median_added_ms": 1000 * statistics.median([on - off for on, off in zip(times["on"], times["off"])]),
        "per_step_ms": 1000 * statistics.median(parts["per_step"]),
        "post_sweep_ms": 1000 * statistics.median(parts["post_sweep"]),
        "bootstrap_ms": 1000 * statistics.median(parts["bootstrap"]),
    }


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def render(payload: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    add("## Batch-size scaling\n")
    add(f"Same number of epochs at every batch size; oracle = best of a {PER_DECADE}-per-decade LR grid by mean "
        f"validation loss over {payload['seeds']} seeds; good band = within {int(BAND * 100)}% of the best; "
        "regret = mean validation loss at the predicted LR / the oracle's best. Predictions start from the range "
        "test at the smallest batch (`anchor=test`, what a user gets) or from the oracle's best LR at the "
        "smallest batch (`anchor=oracle`, the scaling rule alone). `auto` is what `result.scale(B)` does: the "
        "noise rule when the measured noise scale is conclusive (`NoiseScale.inconclusive` is None: at least 5 "
        "estimates and a 90% interval within 4x), else the optimizer family's fixed rule (linear for SGD, sqrt "
        "for Adam); `noise` always uses the measurement. `noise:<shape>` are the shapes the noise rule could use "
        "for adaptive optimizers (`noise` uses `lrfinder.noise.ADAPTIVE_SHAPE` for Adam, `sgd` for SGD).\n")
    for r in payload["results"]:
        add(f"### {r['task']} ({r.get('split', 'tune')}): {r['note']} ({r['optimizer']}, {r['epochs']} epochs)\n")
        add("| batch | oracle best LR | good band |")
        add("|---|---|---|")
        for b in r["batches"]:
            band = r["band"][str(b)]
            add(f"| {b} | {r['best_lr'][str(b)]:.2e} | {min(band):.1e}–{max(band):.1e} |")
        add("")
        for t_i, t in enumerate(r["tests"]):
            ns = t["noise_scale"]
            lr = "none (every rule falls back to the oracle's LR)" if t["lr"] is None else f"{t['lr']:.2e}"
            if ns is not None:
                low, high = ns["interval"]
                add(f"- seed {t_i}: suggestion {lr}; B_simple = {ns['b_simple']:.1f} "
                    f"(90% {float(low):.1f}–{float(high):.1f}; B_s={ns['small_batch_size']}, "
                    f"B_b={ns['big_batch_size']}, {ns['n_estimates']} blocks, source {ns['source']})")
            else:
                add(f"- seed {t_i}: suggestion {lr}; noise scale unmeasurable: {t['noise_error']}")
        fitted = {k: f"{v:.3g}" if v < 1e6 else "> 1e6 (no saturation in range)" for k, v in r["fitted_noise"].items()}
        measured = "unmeasured" if r["b_simple_median"] is None else f"{r['b_simple_median']:.3g}"
        add(f"- cross-check: measured B_simple (median over seeds) = {measured}; B_noise fitted to the oracle's best "
            f"LRs (least squares in log LR): sgd form {fitted['sgd']}, surge form {fitted['surge']}, sqrt form "
            f"{fitted['sqrt']}\n")
        for anchor in ("test", "oracle"):
            rules = list(r["scores"][anchor])
            add(f"anchor={anchor}: regret (in band: seeds in band / seeds)\n")
            add("| batch | " + " | ".join(rules) + " |")
            add("|---|" + "---|" * len(rules))
            for b in r["batches"][1:]:
                cells = []
                for rule in rules:
                    row = r["scores"][anchor][rule][str(b)]
                    mark = "**" if row["in_band"] else ""
                    cells.append(f"{mark}{row['regret']:.3f}{mark} ({row['band_hits']}/{len(row['lrs'])})")
                add(f"| {b} | " + " | ".join(cells) + " |")
            add("")
    add("### Cross-check: measured B_simple against the B_noise fitted to the oracle\n")
    add("B_simple: median over seeds of the range test's measurement at the smallest batch. Fitted: the B_noise "
        "whose shape best fits the oracle's best LRs (least squares in log LR over a grid 0.1 .. 1e6; the grid's "
        "end means the best LR never saturates in the batch range).\n")
    add("| task | split | optimizer | measured B_simple | fitted, sgd form | fitted, surge form | fitted, sqrt form |")
    add("|---|---|---|---|---|---|---|")
    for r in payload["results"]:
        cells = [f"{v:.3g}" if v < 1e6 else "> 1e6" for v in (r["fitted_noise"][k] for k in SHAPES)]
        measured = "unmeasured" if r["b_simple_median"] is None else f"{r['b_simple_median']:.3g}"
        add(f"| {r['task']} | {r.get('split', 'tune')} | {r['optimizer']} | {measured} | " + " | ".join(cells) + " |")
    add("")
    for split, summary in payload["summary"].items():
        add(f"### Summary, split {split}: {len(summary['tasks'])} task(s), every (task, batch)\n")
        add("Tasks: " + ", ".join(f"`{t}`" for t in summary["tasks"]) + ".\n")
        for anchor in ("test", "oracle"):
            s = summary[anchor]
            add(f"anchor={anchor}\n")
            add("| rule | median regret | geo-mean regret | worst regret | in band |")
            add("|---|---|---|---|---|")
            for rule, a in s["rules"].items():
                add(f"| {rule} | {a['median_regret']:.3f} | {a['geo_regret']:.3f} | {a['worst_regret']:.3f} | "
                    f"{a['in_band']}/{a['points']} |")
            add("")
            if s["adaptive"] is not None:
                add("adaptive-optimizer tasks only, the shapes the noise rule could use: "
                    + "; ".join(f"`noise:{sh}` median {s['adaptive'][f'noise:{sh}']['median_regret']:.3f}, geo-mean "
                                f"{s['adaptive'][f'noise:{sh}']['geo_regret']:.3f}, in band "
                                f"{s['adaptive'][f'noise:{sh}']['in_band']}/{s['adaptive'][f'noise:{sh}']['points']}"
                                for sh in SHAPES) + "\n")
            add(f"- noise rule has the lowest median regret of linear/sqrt/noise: "
                f"**{'met' if s['noise_lowest_median'] else 'not met'}**")
            add(f"- noise rule never more than 10% worse than the better fixed rule at a point: worst ratio "
                f"{s['noise_worst_vs_best_fixed']:.3f} ({s.get('noise_worst_at', '')}): "
                f"**{'met' if s['noise_within_10pct'] else 'not met'}**\n")
    add("### Cost of the measurement\n")
    if payload.get("cost") and "params" in payload["cost"][0]:
        add("The default range test (`range_test`'s defaults: 1e-7 .. 10, 100 steps, stop rule on) of "
            "quality-benchmark tasks (`benchmarks/tasks.py`), with and without `noise_scale=True`, interleaved "
            "rounds (the order alternates) after a warm-up round, one torch thread; the machine's 2 cores were "
            "shared with other jobs. "
            "*added* = the median over rounds of (on - off); *profiled / off* = (per-step work + post-sweep) / median "
            "off, the added time without the timing noise of a shared machine. "
            "The profile (3 more runs with the pieces timed) splits the added "
            "time into the per-step work (`NoiseProbe.end_step`: per-tensor gradient norms and the running block "
            "sum, for the first 16 blocks of 4 steps at most) and the fixed post-sweep work (`noise_after_sweep`, of "
            "which the bootstrap interval).\n")
        add("| task | params | batch | steps | rounds | median off (s) | median on (s) | median ratio | added (ms) | "
            "per-step work (ms) | post-sweep (ms) | of which bootstrap (ms) | profiled / off |")
        add("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for c in payload["cost"]:
            add(f"| {c['task']} | {c['params']:,} | {c['batch']} | {c['steps']} | {c['rounds']} | "
                f"{c['median_off_s']:.3f} | {c['median_on_s']:.3f} | {c['median_ratio']:.3f} | "
                f"{c['median_added_ms']:.1f} | {c['per_step_ms']:.1f} | {c['post_sweep_ms']:.2f} | "
                f"{c['bootstrap_ms']:.2f} | "
                f"{(c['per_step_ms'] + c['post_sweep_ms']) / (10 * c['median_off_s']):.1f}% |")
        add("")
    tiny = payload.get("cost_tiny", payload.get("cost", []))
    if tiny and "params" not in tiny[0]:
        add("For comparison, the earlier measurement: a 100-step range test (1e-7 .. 1e-3, stop rule off) of the "
            "scaling tasks at batch 8, where the fixed per-test overhead dominates a 0.15 s test.\n")
        add("| task | rounds | median off (s) | median on (s) | median ratio | ratio of mins |")
        add("|---|---|---|---|---|---|")
        for c in tiny:
            add(f"| {c['task']} | {c['rounds']} | {c['median_off_s']:.3f} | {c['median_on_s']:.3f} | "
                f"{c['median_ratio']:.3f} | {c['ratio_of_mins']:.3f} |")
        add("")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one task, two batch sizes, one seed")
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--rounds", type=int, default=15, help="cost rounds, 100-step test of the scaling tasks")
    parser.add_argument("--cost-rounds", type=int, default=30, help="cost rounds, default range test of COST_TASKS")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default benchmarks/results; with --smoke, <cache-dir>/smoke)")
    parser.add_argument("--render-only", action="store_true", help="rebuild the .md from the .json")
    parser.add_argument("--cost-only", action="store_true", help="measure the cost again into the .json")
    parser.add_argument("--scores-only", action="store_true",
                        help="score the rules again from the cache (training only LRs not in it); keep the cost")
    args = parser.parse_args(argv)
    out: Path = args.out or (args.cache_dir / "smoke" if args.smoke else RESULTS_DIR)
    torch.set_num_threads(1)
    logging.getLogger("lrfinder").setLevel(logging.ERROR)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    def measure_costs(
        tasks: Sequence[ScalingTask], rounds: int, names: Sequence[str], cost_rounds: int
    ) -> dict[str, Any]:
        costs = []
        for name in names:
            log(f"cost: {name}")
            costs.append(measure_range_cost(name, cost_rounds))
        return {"cost": costs, "cost_tiny": [measure_cost(st, rounds) for st in tasks]}

    if args.render_only or args.cost_only:
        payload = json.loads((out / "batch_scaling.json").read_text())
        if args.cost_only:
            payload.update(measure_costs(TASKS, args.rounds, COST_TASKS, args.cost_rounds))
            (out / "batch_scaling.json").write_text(json.dumps(payload, indent=1))
        (out / "batch_scaling.md").write_text(render(payload))
        return dict(payload)
    tasks = TASKS
    seeds = args.seeds
    rounds, cost_rounds = args.rounds, args.cost_rounds
    cost_tasks: tuple[str, ...] = COST_TASKS
    if args.smoke:
        st = TASKS[0]
        tasks = [ScalingTask(replace(st.task, grid=(-2.0, 0.0)), (8, 32), 1)]
        seeds, rounds, cost_rounds, cost_tasks = 1, 1, 1, COST_TASKS[:1]

    results = []
    for st in tasks:
        cache = Cache(args.cache_dir / f"batch_scaling_{st.name}{'_smoke' if args.smoke else ''}.json")
        log(f"{st.name} ({st.split})")
        results.append(run_task(st, seeds=seeds, cache=cache, log=log))
    payload = {"seeds": seeds, "results": results, "summary": summarize(results)}
    if args.scores_only:
        previous = json.loads((out / "batch_scaling.json").read_text())
        payload.update({key: previous[key] for key in ("cost", "cost_tiny") if key in previous})
    else:
        payload.update(measure_costs(tasks, rounds, cost_tasks, cost_rounds))
    out.mkdir(parents=True, exist_ok=True)
    (out / "batch_scaling.json").write_text(json.dumps(payload, indent=1))
    (out / "batch_scaling.md").write_text(render(payload))
    return payload


if __name__ == "__main__":
    main()
