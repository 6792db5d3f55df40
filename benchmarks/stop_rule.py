"""Where the range test stops, against where its loss blew up: is any sweep spent past the blow-up?

For every benchmark task and seed the default range test (1e-7 .. 10, 100 steps) is run once with
``stop_factor=None``, so the whole sweep is recorded; the stop rules are then replayed on that raw curve
(the sweep is deterministic, so a stopped test records a prefix of it):

* ``stop``: where :class:`lrfinder.DivergenceMonitor` (``stop_factor=4``, the default) stops it;
* ``raw 4x`` / ``raw 2x``: the first step whose raw loss exceeds 4x (2x) the raw running minimum and stays
  above it for ``k`` steps (a curve that ends on a non-finite loss counts as above to its end);
* ``div``: the step at the analysis' divergence point (:func:`lrfinder.analysis.read_curve` of the curve
  cut where the sweep stopped), and ``past div``: the steps the sweep ran after it;
* the peers' rules replayed on the same raw curve: torch-lr-finder's (an EMA with weight 0.05, not
  debiased, against 5x its best) and Lightning's (a debiased EMA with beta 0.98 against 4x its best,
  read as ``Tuner.lr_find`` reads it); and the peers' own runs from the quality cache (``cache/*.json``,
  their own LR ranges: Lightning sweeps 1e-8 .. 1), as the steps they recorded and the LR they stopped at.

Steps count from 1: a test that stops at step ``n`` recorded ``n`` losses. The decision the numbers feed
(``results/stop_rule.md``) reads the *tune* tasks only; the *check* tasks are reported beside them.
Unstopped curves are cached under ``cache/stop_rule/`` (committed; a rerun trains nothing). About two minutes of
one core cold::

    python -m benchmarks.stop_rule --seeds 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .machine import measured_on
from .quality import finder_version
from .tasks import TASKS as ALL_TASKS
from .tasks import TASKS_BY_NAME, Task

HERE = Path(__file__).resolve().parent
CACHE_DIR = HERE / "cache" / "stop_rule"
OUT = HERE / "results" / "stop_rule"
SWEEP = {"min_lr": 1e-7, "max_lr": 10.0, "num_steps": 100}
PEERS = ("torch_lr_finder", "lightning")
#: Every quality task, those added for inconclusive curves (``extra["inconclusive"]``) included.
TASKS = list(ALL_TASKS)


# --------------------------------------------------------------------------------------------
# The unstopped sweep, cached
# --------------------------------------------------------------------------------------------


def full_sweep(task: Task, seed: int, cache_dir: Path = CACHE_DIR) -> tuple[list[float], list[float]]:
    """``(lrs, losses)`` of the default range test run to its end (``stop_factor=None``), from the cache."""
    from lrfinder import range_test

    path = cache_dir / f"{task.name}.json"
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    key = f"{task.fingerprint()}|{seed}|{SWEEP['min_lr']:g}|{SWEEP['max_lr']:g}|{SWEEP['num_steps']}"
    curves = data.setdefault("curves", {})
    if key not in curves:
        torch.set_num_threads(1)
        model = task.build(seed)
        opt = task.optimizer(model.parameters(), 1e-3)
        result = range_test(model, task.loader(seed), optimizer=opt, loss_fn=task.loss_fn, stop_factor=None,
                            **SWEEP)  # type: ignore[arg-type]
        curves[key] = {"lrs": list(result.lrs), "losses": [v if math.isfinite(v) else str(v) for v in result.losses]}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, separators=(",", ":"), sort_keys=True))
    curve = curves[key]
    return [float(v) for v in curve["lrs"]], [float(v) for v in curve["losses"]]


# --------------------------------------------------------------------------------------------
# The rules, replayed on a raw curve
# --------------------------------------------------------------------------------------------


def lrfinder_stop(losses: Sequence[float], stop_factor: float = 4.0, beta: float = 0.9) -> int:
    """The step at which :func:`lrfinder.range_test` stops on ``losses`` (its length when it never does).

    A ``beta`` other than the default's 0.9 is the candidate rule with a faster (smaller) or slower EMA.
    """
    from lrfinder import DivergenceMonitor

    monitor = DivergenceMonitor(stop_factor, beta=beta)
    for i, loss in enumerate(losses):
        if not math.isfinite(loss) or monitor.update(loss):
            return i + 1
    return len(losses)


def torch_lr_finder_stop(losses: Sequence[float], diverge_th: float = 5.0, smooth_f: float = 0.05) -> int:
    """The step at which torch-lr-finder's ``range_test`` (its defaults) stops on ``losses``."""
    best = smoothed = math.nan
    for i, loss in enumerate(losses):
        if i == 0:
            best = smoothed = loss
        else:
            smoothed = smooth_f * loss + (1 - smooth_f) * smoothed
            best = min(best, smoothed)
        if not smoothed <= diverge_th * best:  # NaN stops too: its plot would read nothing after it
            return i + 1
    return len(losses)


def lightning_stop(losses: Sequence[float], threshold: float = 4.0, beta: float = 0.98) -> int:
    """The step at which Lightning's ``Tuner.lr_find`` (its defaults) stops on ``losses``.

    Its callback reads ``global_step`` after the optimizer step (1 at the first batch) as the step: the
    debiasing uses ``beta ** (step + 1)``, the best is reset at step 1 and the stop is checked from step 2.
    """
    avg, best = 0.0, math.inf
    for i, loss in enumerate(losses):
        step = i + 1
        avg = beta * avg + (1 - beta) * loss
        smoothed = avg / (1 - beta ** (step + 1))
        if step > 1 and smoothed > threshold * best:
            return i + 1
        if smoothed < best or step == 1:
            best = smoothed
    return len(losses)


def blowup_step(losses: Sequence[float], factor: float, k: int) -> int | None:
    """First step whose raw loss exceeds ``factor`` x the running minimum and stays above for ``k`` steps.

    The running minimum is over the finite losses up to that step. A non-finite loss counts as above, and
    a curve that ends on one counts as above to its end; ``None`` when it never blows up.
    """
    finite = _finite(losses)
    return _first_run_above(losses, np.minimum.accumulate(finite), factor, k)


def robust_blowup_step(losses: Sequence[float], factor: float, k: int, window: int = 5) -> int | None:
    """:func:`blowup_step` against the running minimum of the trailing ``window``-step median.

    A single lucky batch (a loss of 1e-6 on a classifier's easy batch) sets the raw running minimum far
    below the curve, and every ordinary batch after it reads as 4x above it; the median of the last
    ``window`` losses does not follow one batch.
    """
    finite = _finite(losses)
    medians = np.array([np.median(finite[max(0, i - window + 1):i + 1]) for i in range(finite.size)])
    return _first_run_above(losses, np.minimum.accumulate(medians), factor, k)


def _finite(losses: Sequence[float]) -> np.ndarray:
    values = np.asarray(losses, dtype=float)
    return np.where(np.isfinite(values), values, np.inf)


def _first_run_above(losses: Sequence[float], baseline: np.ndarray, factor: float, k: int) -> int | None:
    """First step from which ``k`` losses running exceed ``factor`` x ``baseline`` (see :func:`blowup_step`)."""
    values = np.asarray(losses, dtype=float)
    above = ~np.isfinite(values) | (values > factor * baseline)
    ends_non_finite = values.size > 0 and not np.isfinite(values[-1])
    for i in range(values.size):
        run = above[i:i + k]
        if run.all() and (run.size == k or ends_non_finite):
            return i + 1
    return None


def raw_run_stop(losses: Sequence[float], m: int, stop_factor: float = 4.0) -> int:
    """A candidate: the default rule, or else the raw loss above the monitor's own threshold ``m`` steps running."""
    from lrfinder import DivergenceMonitor

    monitor = DivergenceMonitor(stop_factor)
    run = 0
    for i, loss in enumerate(losses):
        if not math.isfinite(loss) or monitor.update(loss):
            return i + 1
        # The threshold the monitor has just compared its smoothed loss with (its docstring's formula).
        threshold = monitor.best + (stop_factor - 1) * max(abs(monitor.best), 3.0 * monitor._best_dev)
        run = run + 1 if i > 0 and loss > threshold else 0
        if run >= m:
            return i + 1
    return len(losses)


#: The candidate stop rules replayed on each raw curve: name -> the step it stops at.
CANDIDATES: dict[str, Any] = {
    "raw above threshold 2 steps": lambda losses: raw_run_stop(losses, 2),
    "raw above threshold 3 steps": lambda losses: raw_run_stop(losses, 3),
    "EMA beta 0.8": lambda losses: lrfinder_stop(losses, beta=0.8),
    "EMA beta 0.7": lambda losses: lrfinder_stop(losses, beta=0.7),
}


def reading_key(lrs: Sequence[float], losses: Sequence[float]) -> tuple[Any, ...]:
    """What a cut changes in the reading: the pick, the band, the confidence and the divergence, or the error."""
    from .readings import reading

    r = reading(lrs, losses)
    if "error" in r:
        return ("error", r["error"])
    return (r["lr"], r["min_lr"], r["max_lr"], round(r["confidence"], 9), r["divergence"])


def settled_step(lrs: Sequence[float], losses: Sequence[float], stop: int) -> int:
    """The earliest cut from which every longer curve, up to the stop, reads as the stopped curve does."""
    final = reading_key(lrs[:stop], losses[:stop])
    n = stop
    while n > 1 and reading_key(lrs[:n - 1], losses[:n - 1]) == final:
        n -= 1
    return n


def divergence_step(lrs: Sequence[float], losses: Sequence[float]) -> int | None:
    """The step of the analysis' divergence point on the curve as recorded (``None``: none, or no reading)."""
    from lrfinder import InconclusiveCurveError
    from lrfinder.analysis import read_curve

    try:
        reading = read_curve(lrs, losses)
    except InconclusiveCurveError:
        return None
    return None if reading.divergence is None else reading.divergence + 1


def _peer_runs(task: Task, seed: int, quality_cache: Path) -> dict[str, dict[str, float | int] | None]:
    """The peers' own recorded runs (quality cache): the steps they recorded and their last LR."""
    path = quality_cache / f"{task.name}.json"
    findings = json.loads(path.read_text()).get("findings", {}) if path.exists() else {}
    out: dict[str, dict[str, float | int] | None] = {}
    for peer in PEERS:
        try:
            key = f"{peer}|{seed}|{finder_version(peer)}"
        except ImportError:
            key = ""
        found = findings.get(key)
        out[peer] = {"steps": len(found["lrs"]), "stop_lr": float(found["lrs"][-1])} if found and found["lrs"] else None
    return out


def _peak_over_min(losses: Sequence[float]) -> float | None:
    """The highest finite loss over the lowest (``None`` when the lowest is not positive)."""
    finite = [v for v in losses if math.isfinite(v)]
    return max(finite) / min(finite) if finite and min(finite) > 0 else None


def measure(task: Task, seed: int, *, k: int, cache_dir: Path, quality_cache: Path) -> dict[str, Any]:
    """Every number of one task and seed (see the module docstring)."""
    lrs, losses = full_sweep(task, seed, cache_dir)
    stop = lrfinder_stop(losses)
    div = divergence_step(lrs[:stop], losses[:stop])
    b4, b2 = blowup_step(losses, 4.0, k), blowup_step(losses, 2.0, k)
    r4 = robust_blowup_step(losses, 4.0, k)
    settled = settled_step(lrs, losses, stop)
    final = reading_key(lrs[:stop], losses[:stop])
    candidates = {}
    for name, rule in CANDIDATES.items():
        at = rule(losses)
        candidates[name] = {"stop": at, "saved": stop - at,
                            "same_reading": reading_key(lrs[:at], losses[:at]) == final}
    return {
        "task": task.name, "split": task.split, "seed": seed, "steps": len(losses),
        "stop": stop, "stop_lr": lrs[stop - 1], "stopped": stop < len(losses) or not math.isfinite(losses[-1]),
        "raw4": b4, "raw2": b2, "past_raw4": None if b4 is None else stop - b4,
        "past_raw2": None if b2 is None else stop - b2,
        "robust4": r4, "past_robust4": None if r4 is None else stop - r4,
        "settled": settled, "slack": stop - settled,
        "div": div, "past_div": None if div is None else stop - div,
        "candidates": candidates,
        "replayed": {"torch_lr_finder": torch_lr_finder_stop(losses), "lightning": lightning_stop(losses)},
        "own": _peer_runs(task, seed, quality_cache),
        "peak_over_min": _peak_over_min(losses[:stop]),
    }


# --------------------------------------------------------------------------------------------
# Summary and page
# --------------------------------------------------------------------------------------------


def _median(values: Sequence[float | int | None]) -> float | None:
    kept = [float(v) for v in values if v is not None]
    return float(np.median(kept)) if kept else None


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per split: medians and maxima of the steps past each mark, and how many tests stopped."""
    out: dict[str, dict[str, Any]] = {}
    for split in ("tune", "check"):
        part = [r for r in rows if r["split"] == split]
        if not part:
            continue
        # A sweep that ran to its end without stopping has no stop a rule could move earlier: its slack is not
        # "none to spare", so the slack counts only the tests that stopped.
        stopped = [r for r in part if r["stopped"]]
        out[split] = {
            "tests": len(part),
            "stopped": sum(r["stopped"] for r in part),
            "blew_up_4x": sum(r["raw4"] is not None for r in part),
            "median_past_raw4": _median([r["past_raw4"] for r in part]),
            "max_past_raw4": max((r["past_raw4"] for r in part if r["past_raw4"] is not None), default=None),
            "median_past_raw2": _median([r["past_raw2"] for r in part]),
            "median_past_div": _median([r["past_div"] for r in part]),
            "max_past_div": max((r["past_div"] for r in part if r["past_div"] is not None), default=None),
            "median_past_robust4": _median([r["past_robust4"] for r in part]),
            "max_past_robust4": max((r["past_robust4"] for r in part if r["past_robust4"] is not None), default=None),
            "median_slack": _median([r["slack"] for r in stopped]),
            "max_slack": max((r["slack"] for r in stopped), default=None),
            "no_slack": sum(r["slack"] == 0 for r in stopped),
            "median_stop": _median([r["stop"] for r in part]),
            "median_stop_torch_lr_finder": _median([r["replayed"]["torch_lr_finder"] for r in part]),
            "median_stop_lightning": _median([r["replayed"]["lightning"] for r in part]),
            "candidates": {
                name: {
                    "steps_saved": sum(r["candidates"][name]["saved"] for r in part),
                    "later": sum(r["candidates"][name]["saved"] < 0 for r in part),
                    "readings_changed": sum(not r["candidates"][name]["same_reading"] for r in part),
                }
                for name in CANDIDATES
            },
        }
    return out


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}" if not v.is_integer() else f"{int(v)}"
    return str(v)


def render(payload: dict[str, Any]) -> str:
    """The Markdown page of one run."""
    cfg, rows, summary = payload["config"], payload["rows"], payload["summary"]
    k = cfg["k"]
    lines = [
        "# Where the range test stops, against where its loss blew up",
        "",
        f"Written by `python -m benchmarks.stop_rule` ({len(rows)} range tests: {len(cfg['tasks'])} tasks x "
        f"{cfg['seeds']} seeds; the default sweep 1e-7 .. 10 in 100 steps, run to its end once and the stop rules "
        f"replayed on it). {measured_on_text(payload)}",
        "",
        "Steps count from 1. *stop*: where lrfinder's `DivergenceMonitor` (stop_factor 4) stops. *raw 4x* / "
        f"*raw 2x*: the first step whose raw loss exceeds 4x / 2x the raw running minimum and stays above for {k} "
        "steps; *robust 4x*: the same against the running minimum of the last 5 losses' median (one lucky batch "
        "does not set it). *settled*: the earliest cut from which every longer cut, up to the stop, reads as the "
        "stopped curve does (pick, band, confidence, divergence point, or the same error); *slack* = stop - "
        "settled, the most steps any stop rule could have saved without changing what the test reports. *div*: "
        "the analysis' divergence point on the stopped curve. *past*: stop minus that step. *tlf* / *lit*: "
        "torch-lr-finder's and Lightning's stop rules replayed on the same raw curve; *own*: the steps of the "
        "peer's own run in the quality cache (its own LR range: Lightning's ends at 1, so 100 there mostly means "
        "it never stopped). *peak*: the highest raw loss the stopped test recorded over its lowest.",
        "",
        "## Summary (medians over tests; decisions read the tune split only)",
        "",
        "| split | tests | stopped | stop | past raw 4x (median / max) | past raw 2x | past robust 4x (median / max) | "
        "slack, of the tests that stopped (median / max / with 0) | past div (median / max) | tlf stop | lit stop |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for split, s in summary.items():
        lines.append(
            f"| {split} | {s['tests']} | {s['stopped']} | {_cell(s['median_stop'])} | "
            f"{_cell(s['median_past_raw4'])} / {_cell(s['max_past_raw4'])} | {_cell(s['median_past_raw2'])} | "
            f"{_cell(s['median_past_robust4'])} / {_cell(s['max_past_robust4'])} | "
            f"{_cell(s['median_slack'])} / {_cell(s['max_slack'])} / {s['no_slack']} | "
            f"{_cell(s['median_past_div'])} / {_cell(s['max_past_div'])} | "
            f"{_cell(s['median_stop_torch_lr_finder'])} | {_cell(s['median_stop_lightning'])} |"
        )
    for split, s in summary.items():
        lines.append(
            f"\n{split.capitalize()} split: the sweep ran a median {_cell(s['median_slack'])} steps (at most "
            f"{_cell(s['max_slack'])}) after its reading had settled; {s['no_slack']} of the {s['stopped']} tests "
            "that stopped had none to spare (one step less reads them differently)."
        )
    lines += [
        "",
        "## Candidate stop rules, replayed",
        "",
        "*raw above threshold m steps*: the default rule, or else the raw loss above the monitor's own threshold "
        "m steps running; *EMA beta b*: the default rule with a faster EMA. Steps saved: summed over the split's "
        "tests (negative: it ran longer); readings changed: tests whose stopped curve reads differently from the "
        "default's (pick, band, confidence, divergence point or error).",
        "",
        "| split | rule | steps saved | tests stopped later | readings changed |",
        "|---|---|---|---|---|",
    ]
    for split, s in summary.items():
        for name, c in s["candidates"].items():
            lines.append(f"| {split} | {name} | {c['steps_saved']} | {c['later']} | {c['readings_changed']} |")
    lines += [
        "",
        "## Every test",
        "",
        "| task | split | seed | steps | stop | stop LR | raw 4x | past | raw 2x | past | robust 4x | past | settled "
        "| div | past | peak | tlf | lit | tlf own | lit own (LR) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tlf, lit = r["own"].get("torch_lr_finder"), r["own"].get("lightning")
        lit_own = f"{lit['steps']} ({lit['stop_lr']:.2g})" if lit else "-"
        lines.append(
            f"| {r['task']} | {r['split']} | {r['seed']} | {r['steps']} | {r['stop']} | {r['stop_lr']:.2g} | "
            f"{_cell(r['raw4'])} | {_cell(r['past_raw4'])} | {_cell(r['raw2'])} | {_cell(r['past_raw2'])} | "
            f"{_cell(r['robust4'])} | {_cell(r['past_robust4'])} | {r['settled']} | "
            f"{_cell(r['div'])} | {_cell(r['past_div'])} | {_cell(r['peak_over_min'])} | "
            f"{r['replayed']['torch_lr_finder']} | {r['replayed']['lightning']} | "
            f"{tlf['steps'] if tlf else '-'} | {lit_own} |"
        )
    lines.append("")
    return "\n".join(lines)


def measured_on_text(payload: dict[str, Any]) -> str:
    """The machine sentence of the page (the numbers are steps, not times: the machine changes none)."""
    from .machine import describe

    return describe(payload.get("machine")).strip()


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Measure (or read from the cache) every test, print the summary, write the page and its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", nargs="*", default=[t.name for t in TASKS])
    parser.add_argument("--k", type=int, default=3, help="steps the raw loss must stay above a mark")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--quality-cache", type=Path, default=HERE / "cache")
    parser.add_argument("--out", type=Path, default=OUT, help="path without suffix: writes .md and .json")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.k < 1:
        parser.error(f"--seeds and --k must be at least 1, but got --seeds {args.seeds} --k {args.k}")
    unknown = sorted(set(args.tasks) - set(TASKS_BY_NAME))
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; the tasks are {', '.join(TASKS_BY_NAME)}")
    os.environ.setdefault("PL_DISABLE_FORK", "1")
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows = []
    for name in args.tasks:
        task = TASKS_BY_NAME[name]
        for seed in range(args.seeds):
            rows.append(measure(task, seed, k=args.k, cache_dir=args.cache_dir, quality_cache=args.quality_cache))
    payload = {
        "config": {"seeds": args.seeds, "tasks": list(args.tasks), "k": args.k, "sweep": SWEEP},
        "machine": measured_on(), "seconds": round(time.perf_counter() - start, 1),
        "summary": summarise(rows), "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=1))
    args.out.with_suffix(".md").write_text(render(payload))
    print(json.dumps(payload["summary"], indent=1))
    return payload


if __name__ == "__main__":
    main()
    sys.exit(0)
