"""Refinement quality: lrfinder's later rounds (``range_test(..., refine=...)``) against the oracle.

For each task (``benchmarks/tasks.py``), seed, schedule (constant, one-cycle) and judge (held-out
training batches, or the task's validation split as ``val_data``):

1. **Explore.** Run ``range_test`` with ``refine`` whose candidates are a wide ladder of LRs,
   ``LADDER`` rungs of 0.25 decades around the curve's reading (``Suggestion.lr`` for constant,
   ``Suggestion.max_lr`` for one-cycle), for each trial length in ``--trial-fractions`` (a
   fraction of the task's training budget per trial). Every trial is recorded (held-out loss
   per batch). Cached in ``benchmarks/cache/refine/<task>.json``.
2. **Simulate the settings.** A setting of :class:`lrfinder.Refine` (how many candidates, the
   tie rule, the tie tolerance, the trial length) picks one LR from the recorded trials exactly
   as :func:`lrfinder.refine.choose` does inside the library (the candidates of the default
   ladder are a subset of the explored ladder: same rungs, same shift below the divergence
   point).
3. **Score.** Train with each pick (the task's ``train`` loop, same seed and budget) and compare
   with the grid-search oracle of ``benchmarks/quality.py`` (its cache is read, never
   retrained): regret, good band, failures; cost in steps against the training budget and
   against the oracle's grid search. The settings are chosen on the ``tune`` tasks and checked
   on the ``check`` tasks.
4. **Library default.** The shipped defaults (``Refine(training_steps=..., schedule=...)``) are
   run end to end through ``range_test`` on every task and seed, and scored the same way.

Usage::

    python -m benchmarks.refine                      # everything (resumes from the caches)
    python -m benchmarks.refine --tasks wine_mlp_adamw --seeds 1 --explore-only  # one task, seconds
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from .quality import CACHE_DIR, FALLBACK_LR, PER_DECADE, RESULTS_DIR, code_key, score_lrs
from .tasks import TASKS, TASKS_BY_NAME, Task, load_data, train

SCHEDULES = ("constant", "onecycle")
JUDGES = ("train", "val")
#: Explored rungs, in units of SPACING decades around the curve's reading.
LADDER = tuple(range(-4, 3))
SPACING = 0.25
TRIAL_FRACTIONS = (0.125, 0.25)
REFINE_CACHE = CACHE_DIR / "refine"
HERE_RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"


@functools.cache
def code_version() -> str:
    """Part of every cache key: the code that decides a refined pick (read once per process).

    :func:`benchmarks.quality.code_key` of ``range_test.py``, ``analysis.py`` and ``refine.py``, as the quality
    findings are keyed: an edit to their comments or docstrings keeps the records.
    """
    import lrfinder

    root = Path(lrfinder.__file__).parent
    return code_key([root / name for name in ("range_test.py", "analysis.py", "refine.py")])


def _now() -> str:
    """When a record is made (UTC, ISO 8601): :func:`_record_key` reuses the newest of the older ones."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def newest_key(explored: Mapping[str, Any], prefix: str) -> str | None:
    """The key of the record starting with ``prefix`` to read: this code version's, else the newest by its time.

    A record's ``recorded`` is when it was made (for those made before records said so, the time of the commit
    that first held it); the key breaks a tie. ``None`` when no key starts with ``prefix``.
    """
    key = prefix + code_version()
    if key in explored:
        return key
    older = [k for k in explored if k.startswith(prefix)]
    return max(older, key=lambda k: (str(explored[k].get("recorded", "")), k)) if older else None


class Store:
    """One task's oracle (read from ``quality.py``'s cache) plus this script's own runs."""

    def __init__(self, task: Task, directory: Path = REFINE_CACHE) -> None:
        self.task = task
        self.path = directory / f"{task.name}.json"
        self.fingerprint = task.fingerprint()
        oracle_path = CACHE_DIR / f"{task.name}.json"
        self.oracle_runs: dict[str, float] = {}
        if oracle_path.exists():
            data = json.loads(oracle_path.read_text())
            if data.get("fingerprint") == self.fingerprint:
                self.oracle_runs = {k: float(v) for k, v in data["runs"].items()}
        self.runs: dict[str, float] = {}
        self.explored: dict[str, Any] = {}
        if self.path.exists():
            data = json.loads(self.path.read_text())
            if data.get("fingerprint") == self.fingerprint:
                self.runs = data["runs"]
                self.explored = data["explored"]
        self._dirty = False

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"task": self.task.name, "fingerprint": self.fingerprint, "runs": self.runs,
                                   "explored": self.explored}, separators=(",", ":"), sort_keys=True))
        os.replace(tmp, self.path)
        self._dirty = False

    def val_loss(self, schedule: str, lr: float, seed: int) -> float:
        key = f"{schedule}|{lr:.6e}|{seed}"
        if key in self.oracle_runs:
            return self.oracle_runs[key]
        if key not in self.runs:
            self.runs[key] = train(self.task, float(f"{lr:.6e}"), seed, schedule)
            self._dirty = True
        return float(self.runs[key])

    def oracle(self, schedule: str, seeds: Sequence[int]) -> tuple[list[float], list[float]]:
        grid = self.task.lr_grid(PER_DECADE)
        return grid, [float(np.mean([self.val_loss(schedule, lr, s) for s in seeds])) for lr in grid]


def val_loader(task: Task) -> DataLoader:
    _, _, x_val, y_val = load_data(task.data)
    return DataLoader(TensorDataset(x_val, y_val), batch_size=task.batch_size, shuffle=False)


def _run(task: Task, seed: int, refine: Any, judge: str) -> Any:
    from lrfinder import range_test

    model = task.build(seed)
    opt = task.optimizer(model.parameters(), 1e-3)
    return range_test(model, task.loader(seed), optimizer=opt, loss_fn=task.loss_fn,
                      val_data=val_loader(task) if judge == "val" else None, refine=refine)


def _record_key(store: Store, prefix: str, fresh: bool) -> str:
    """The cache key of a record: this code version's, else (unless ``fresh``) the newest older one.

    A record made by an earlier version of the code is reused (its version is in the key and in
    the output): other modules change under a long run, and exploration only chooses settings.
    ``--fresh`` measures again.
    """
    current = prefix + code_version()
    return current if fresh else newest_key(store.explored, prefix) or current


def explore(store: Store, seed: int, schedule: str, judge: str, fraction: float, *, fresh: bool = False
            ) -> dict[str, Any]:
    """Record the trials of the whole ladder for one run (cached)."""
    from lrfinder import Refine

    steps = max(10, int(round(fraction * store.task.steps)))
    key = _record_key(store, f"{schedule}|{judge}|{steps}|{seed}|", fresh)
    if key not in store.explored:
        t0 = time.perf_counter()
        ref = Refine(training_steps=store.task.steps, schedule=schedule, trial_steps=steps, budget=10.0,
                     candidates=tuple(10.0 ** (SPACING * k) for k in LADDER))
        r = _run(store.task, seed, ref, judge)
        s, f = r.suggestion, r.refinement
        store.explored[key] = {
            "seconds": time.perf_counter() - t0,
            "recorded": _now(),
            "suggestion": None if s is None else {"lr": s.lr, "max_lr": s.max_lr, "divergence_lr": s.divergence_lr,
                                                   "non_finite_lr": s.non_finite_lr},
            "error": r.error,
            "sweep_steps": r.num_steps,
            "rounds": [x.to_dict() for x in f.rounds],
            "round_steps": sum(x.steps_run for x in f.rounds),
            "centre": f.curve_lr,
            "trials": [{"lr": t.lr, "held": t.held_out_loss, "per_batch": t.held_out_losses, "diverged": t.diverged}
                       for t in f.trials],
        }
        store._dirty = True
    return dict(store.explored[key])


def baseline_pick(rec: dict[str, Any], schedule: str) -> float | None:
    s = rec["suggestion"]
    if s is None:
        return None
    return s["lr"] if schedule == "constant" else s["max_lr"]


def pick_from_ladder(rec: dict[str, Any], n: int, tie: str, tie_z: float, extend: int = 0) -> float | None:
    """The LR that ``Refine(candidates=n, extend=extend, tie=tie, tie_z=tie_z)`` picks from a record.

    The record holds trials at every rung of ``LADDER``; the library's ladder (``n`` rungs around
    the reading, shifted below the divergence point, then walked ``extend`` rungs towards the
    best while the best sits at an end) is a subset of it, so its choice is replayed exactly,
    as long as the walk stays on the explored rungs.
    """
    from lrfinder.refine import Refine, Trial, choose

    s = rec["suggestion"]
    if s is None or not rec["trials"]:
        return None
    centre = rec["centre"]
    offsets = SPACING * (np.arange(n) - (n - 1) / 2.0)
    ceiling = s["divergence_lr"] or s["non_finite_lr"]
    if ceiling is not None:
        top = max(math.log10(ceiling / centre) - SPACING / 2.0, 0.0)
        if offsets[-1] > top + 1e-9:
            offsets = offsets - SPACING * math.ceil((offsets[-1] - top) / SPACING - 1e-9)
    by_rung = {}
    for k, t in zip(LADDER, rec["trials"]):
        by_rung[k] = Trial(t["lr"], "x", 0, (), float(t["held"]), tuple(float(v) for v in t["per_batch"]),
                           bool(t["diverged"]))
    rungs = sorted({int(round(o / SPACING)) for o in offsets} & set(by_rung))
    if not rungs:
        return None
    for _ in range(extend):
        ok = [k for k in rungs if not by_rung[k].diverged and math.isfinite(by_rung[k].held_out_loss)]
        nxt: int | None
        if not ok:
            nxt = rungs[0] - 1
        else:
            best = min(ok, key=lambda k: by_rung[k].held_out_loss)
            nxt = rungs[0] - 1 if best == rungs[0] else rungs[-1] + 1 if best == rungs[-1] else None
        if nxt is None or nxt not in by_rung:
            break
        rungs = sorted(rungs + [nxt])
    trials = [by_rung[k] for k in rungs]
    ref = Refine(tie=tie, tie_z=tie_z)  # type: ignore[arg-type]
    pick, _, _ = choose(trials, ref)
    return None if pick is None else pick.lr


def score(store: Store, schedule: str, lrs: Sequence[float | None], seeds: Sequence[int]) -> dict[str, Any]:
    """:func:`benchmarks.quality.score_lrs` on this store's oracle for ``schedule``."""
    grid, oracle = store.oracle(schedule, seeds)
    return score_lrs(lrs, seeds, functools.partial(store.val_loss, schedule), grid, oracle, PER_DECADE)


def aggregate(rows: list[tuple[str, dict[str, Any]]], split: str | None) -> dict[str, Any]:
    chosen = [r for s, r in rows if split is None or s == split]
    if not chosen:
        return {}
    return {
        "tasks": len(chosen),
        "tasks_in_band": sum(bool(r["in_band"]) for r in chosen),
        "runs_in_band": sum(r["band_hits"] for r in chosen),
        "runs": sum(len(r["lrs"]) for r in chosen),
        "geo_regret": float(np.exp(np.mean([math.log(r["regret"]) for r in chosen]))),
        "worst_regret": float(max(r["regret"] for r in chosen)),
        "failures": sum(r["failures"] for r in chosen),
    }


def final_run(store: Store, seed: int, schedule: str, judge: str, fresh: bool = False) -> dict[str, Any]:
    """The shipped defaults end to end: ``range_test(..., refine=Refine(training_steps, schedule))``."""
    from lrfinder import Refine, range_test

    key = _record_key(store, f"final|{schedule}|{judge}|{seed}|", fresh)
    if key not in store.explored:
        task = store.task
        t0 = time.perf_counter()
        model = task.build(seed)
        opt = task.optimizer(model.parameters(), 1e-3)
        plain = range_test(model, task.loader(seed), optimizer=opt, loss_fn=task.loss_fn)
        t1 = time.perf_counter()
        r = _run(task, seed, Refine(training_steps=task.steps, schedule=schedule), judge)
        f = r.refinement
        ps = plain.suggestion
        store.explored[key] = {
            "curve_lr": None if ps is None else (ps.lr if schedule == "constant" else ps.max_lr),
            "curve_error": plain.error,
            "sweep_steps": plain.num_steps,
            "sweep_seconds": t1 - t0,
            "refine_seconds": time.perf_counter() - t1,
            "lr": None if f is None else f.lr,
            "cost_steps": 0 if f is None else f.cost_steps,
            "round_steps": 0 if f is None else sum(x.steps_run for x in f.rounds),
            "rounds": [] if f is None else [x.reason for x in f.rounds],
            "trial_lrs": [] if f is None else [t.lr for t in f.trials],
            "trial_steps": 0 if f is None or not f.trials else f.trials[0].steps,
            "diverged_trials": 0 if f is None else sum(t.diverged for t in f.trials),
            "error": r.error,
            "notes": [] if f is None else list(f.notes),
            "code_version": code_version(),
            "recorded": _now(),
        }
        store._dirty = True
    return dict(store.explored[key])


def untrained_loss(task: Task, seed: int) -> float:
    from .tasks import evaluate

    return evaluate(task, task.build(seed))


#: Fewer seeds where one training is slow on the 2-core benchmark machine (2,000 steps, ~20 s).
SEED_CAP = {"chars_mlp_adam": 2}


def run_final(names: Sequence[str], all_seeds: Sequence[int], judges: Sequence[str], fresh: bool = False,
              directory: Path = REFINE_CACHE) -> dict[str, Any]:
    """Score the shipped defaults (and the plain curve reading) on every task; JSON-able.

    ``directory``: where the records are kept (a variant of the defaults keeps its own, :func:`resweep_steps_study`).
    """
    rows: list[dict[str, Any]] = []
    for name in names:
        task = TASKS_BY_NAME[name]
        seeds = list(all_seeds)[: SEED_CAP.get(name, len(all_seeds))]
        store = Store(task, directory)
        t0 = time.perf_counter()
        grid_size = len(task.lr_grid(PER_DECADE))
        untrained = [untrained_loss(task, s) for s in seeds]
        for schedule in SCHEDULES:
            for judge in judges:
                recs = [final_run(store, s, schedule, judge, fresh) for s in seeds]
                store.save()
                for method, lrs in (("curve", [r["curve_lr"] for r in recs]), ("refined", [r["lr"] for r in recs])):
                    sc = score(store, schedule, lrs, seeds)
                    vals = [store.val_loss(schedule, lr if lr is not None else FALLBACK_LR, s)
                            for s, lr in zip(seeds, lrs)]
                    sc["diverged_trainings"] = sum(v == u for v, u in zip(vals, untrained))
                    total = [r["sweep_steps"] + (r["cost_steps"] if method == "refined" else 0) for r in recs]
                    sc["cost_fraction"] = [t / task.steps for t in total]
                    sc["cost_vs_grid"] = [t / (grid_size * task.steps) for t in total]
                    sc["refine_fraction"] = [r["cost_steps"] / task.steps for r in recs] if method == "refined" else []
                    rows.append({"task": name, "split": task.split, "steps": task.steps, "schedule": schedule,
                                 "seeds": len(seeds),
                                 "judge": judge, "method": method, "records": recs if method == "refined" else [],
                                 **sc})
        store.save()
        print(f"[{name}] final in {time.perf_counter() - t0:.0f}s", flush=True)
    return {"rows": rows, "summary": summarize(rows)}


def explored_records(store: Store, prefixes: Sequence[str]) -> list[dict[str, Any] | None]:
    """The record of each key prefix (:func:`newest_key`: this code's, else the newest), ``None`` where none is."""
    keys = [newest_key(store.explored, p) for p in prefixes]
    return [None if k is None else store.explored[k] for k in keys]


TIE_CONFIGS = tuple((tie, z) for tie in ("best", "smaller", "larger") for z in (1.0, 2.0))


def tie_study(names: Sequence[str], seeds: Sequence[int], fraction: float = 0.125) -> list[dict[str, Any]]:
    """The tie rule measured on the explored ladders (``candidates=3, extend=2``), tune tasks only.

    Replays each rule on the trials recorded by :func:`explore` (no new training but the picks);
    tasks without explored records for every seed are skipped.
    """
    out: list[dict[str, Any]] = []
    tune = [n for n in names if TASKS_BY_NAME[n].split == "tune"]
    for schedule in SCHEDULES:
        for judge in JUDGES:
            per: dict[str, list[float]] = {}
            used: list[str] = []
            for name in tune:
                store = Store(TASKS_BY_NAME[name])
                steps = max(10, int(round(fraction * store.task.steps)))
                found = explored_records(store, [f"{schedule}|{judge}|{steps}|{s}|" for s in seeds])
                recs = [r for r in found if r is not None and r["suggestion"] is not None]
                if len(recs) < len(found):
                    continue
                used.append(name)
                per.setdefault("curve", []).append(
                    score(store, schedule, [baseline_pick(r, schedule) for r in recs], seeds)["regret"])
                for tie, z in TIE_CONFIGS:
                    lrs = [pick_from_ladder(r, 3, tie, z, 2) for r in recs]
                    per.setdefault(f"{tie}, z={z:g}", []).append(score(store, schedule, lrs, seeds)["regret"])
                store.save()
            for label, regrets in per.items():
                out.append({"schedule": schedule, "judge": judge, "rule": label, "tasks": used,
                            "geo_regret": float(np.exp(np.mean(np.log(regrets)))), "worst": float(max(regrets))})
    return out


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    keys = sorted({(r["schedule"], r["judge"], r["method"]) for r in rows})
    for schedule, judge, method in keys:
        for split in ("tune", "check", "all"):
            chosen = [r for r in rows if (r["schedule"], r["judge"], r["method"]) == (schedule, judge, method)
                      and (split == "all" or r["split"] == split)]
            if not chosen:
                continue
            runs = sum(len(r["lrs"]) for r in chosen)
            long_tasks = [r for r in chosen if r["steps"] >= 2000]
            out[f"{schedule}|{judge}|{method}|{split}"] = {
                "tasks": len(chosen),
                "tasks_in_band": sum(bool(r["in_band"]) for r in chosen),
                "geo_regret": float(np.exp(np.mean([math.log(r["regret"]) for r in chosen]))),
                # The oracle's best is the best *grid* LR: an off-grid pick can beat it (regret < 1),
                # which would hide misses elsewhere in a geometric mean; floored at 1 it cannot.
                "geo_regret_floor1": float(np.exp(np.mean([math.log(max(1.0, r["regret"])) for r in chosen]))),
                "worst_regret": float(max(r["regret"] for r in chosen)),
                "worst_task": max(chosen, key=lambda r: r["regret"])["task"],
                "runs": runs,
                "failures": sum(r["failures"] for r in chosen),
                "diverged_trainings": sum(r["diverged_trainings"] for r in chosen),
                "mean_cost_fraction": float(np.mean([c for r in chosen for c in r["cost_fraction"]])),
                "max_refine_fraction_long": (float(max(c for r in long_tasks for c in r["refine_fraction"]))
                                             if long_tasks and method == "refined" else None),
                "mean_cost_vs_grid": float(np.mean([c for r in chosen for c in r["cost_vs_grid"]])),
            }
    return out


def render_final(payload: dict[str, Any]) -> str:
    rows, summary, cfg = payload["rows"], payload["summary"], payload["config"]
    lines = ["# Refinement (issue 12): the refined LR against the grid-search oracle", "",
             "Generated by `python -m benchmarks.refine --final`; do not edit by hand.", "",
             f"Shipped defaults: `Refine(training_steps=<task budget>, schedule=...)` = {cfg['defaults']}. "
             f"Seeds: {cfg['seeds']} per task ({', '.join(f'{k}: {v}' for k, v in SEED_CAP.items())}: one "
             "training takes about 20 s on the 2-core machine). Oracle: `benchmarks/quality.py`'s grid (4 LRs per "
             "decade), its cache reused, missing runs trained here. `curve` = the plain `range_test` reading "
             "(constant: `Suggestion.lr`, one-cycle: `Suggestion.max_lr`); `refined` = `result.lr` after "
             "`refine`. Judge `train` = "
             "held-out training batches, `val` = the task's validation split as `val_data` (the first "
             "`val_batches` batches). Regret = mean validation loss of the training at the pick / the oracle's "
             "best grid LR; in band = the pick's nearest grid LR within 10% of the best on most seeds; a "
             "failure (no LR) trains at 1e-3 and is never in band. Cost = optimizer steps of the sweep plus "
             "refinement (re-sweeps and trials) over the task's training steps, and over the oracle's grid "
             "search for one schedule and seed (grid LRs x training steps).", ""]
    lines += ["## Summary", "",
              "| schedule | judge | method | split | tasks in band | geo regret | geo regret (each >= 1) | "
              "worst (task) | failures/runs | diverged trainings | mean cost / training | mean cost / grid search | "
              "max refine / training (tasks >= 2000 steps) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for key, a in summary.items():
        schedule, judge, method, split = key.split("|")
        long = "—" if a["max_refine_fraction_long"] is None else f"{a['max_refine_fraction_long']:.3f}"
        lines.append(f"| {schedule} | {judge} | {method} | {split} | {a['tasks_in_band']}/{a['tasks']} | "
                     f"{a['geo_regret']:.3f} | {a['geo_regret_floor1']:.3f} | "
                     f"{a['worst_regret']:.2f} ({a['worst_task']}) | "
                     f"{a['failures']}/{a['runs']} | {a['diverged_trainings']} | {a['mean_cost_fraction']:.2f} | "
                     f"{a['mean_cost_vs_grid']:.3f} | {long} |")
    study = payload.get("tie_study") or []
    if study:
        lines += ["", "## Tie rule (tune tasks, trials of 1/8 of the training, replayed)", "",
                  "Trials at every rung of a wide ladder were recorded once per tune task, seed, schedule and "
                  "judge (`benchmarks/refine.py` without `--final`); each rule below is replayed on them exactly as "
                  "`lrfinder.refine.choose` picks (3 candidates, the walk of up to 2 more), then trained with. "
                  f"Tasks: {', '.join(study[0]['tasks'])}. `curve` = the plain reading. The shipped rule is "
                  "`smaller, z=1` (the seed's \"slightly smaller for safety\").", "",
                  "| schedule | judge | rule | geo regret | worst |", "|---|---|---|---|---|"]
        for x in study:
            lines.append(f"| {x['schedule']} | {x['judge']} | {x['rule']} | {x['geo_regret']:.3f} | {x['worst']:.3f} |")
    lines += ["", "## Per task", "",
              "| task | split | steps | schedule | judge | curve: regret, off | refined: regret, off, in band | "
              "refined LRs | re-sweeps | trial steps | refine cost / training |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    by = {(r["task"], r["schedule"], r["judge"], r["method"]): r for r in rows}
    for r in rows:
        if r["method"] != "refined":
            continue
        c = by[(r["task"], r["schedule"], r["judge"], "curve")]
        off = "—" if r["decades_off"] is None else f"{r['decades_off']:+.2f}"
        coff = "—" if c["decades_off"] is None else f"{c['decades_off']:+.2f}"
        lrs = ", ".join("—" if v is None else f"{v:.2e}" for v in r["lrs"])
        rounds = sum(len(x["rounds"]) for x in r["records"])
        tsteps = sorted({x["trial_steps"] for x in r["records"]})
        lines.append(f"| {r['task']} | {r['split']} | {r['steps']} | {r['schedule']} | {r['judge']} | "
                     f"{c['regret']:.3f}, {coff} | {r['regret']:.3f}, {off}, {r['band_hits']}/{len(r['lrs'])} | "
                     f"{lrs} | {rounds} | {tsteps} | {np.mean(r['refine_fraction']):.2f} |")
    lines.append("")
    return "\n".join(lines)


RESWEEP_STEPS_DIR = REFINE_CACHE / "never_falls"


def resweep_steps_study(names: Sequence[str], seeds: Sequence[int], judges: Sequence[str], factors: Sequence[int],
                        fresh: bool = False) -> dict[str, Any]:
    """The shipped defaults end to end, the re-sweep of a curve that never fell but blew up at other steps.

    For each factor ``F``, :data:`lrfinder.analysis.RESWEEP_STEPS` (the steps of that re-sweep, in multiples of
    the sweep's) is set to ``F`` and :func:`run_final` runs; each factor keeps its records in
    ``cache/refine/never_falls/x<F>/``. Only the curves that take that branch of
    :func:`lrfinder.refine.next_sweep` change with it.
    """
    from lrfinder import analysis

    shipped = analysis.RESWEEP_STEPS
    out: dict[str, Any] = {"shipped": shipped, "factors": {}}
    try:
        for factor in factors:
            analysis.RESWEEP_STEPS = factor
            out["factors"][str(factor)] = run_final(names, seeds, judges, fresh, RESWEEP_STEPS_DIR / f"x{factor}")
    finally:
        analysis.RESWEEP_STEPS = shipped
    return out


RESWEEP_START_DIR = RESWEEP_STEPS_DIR / "from_blowup"


def _next_sweep_from_blowup(result: Any, reason: str, shipped: Any) -> tuple[float, float, int]:
    """:func:`lrfinder.refine.next_sweep`, its re-sweep of a never-fell, blown-up curve anchored as the advice is.

    The shipped re-sweep spans the decades below the LR where the sweep stopped (its last LR, above the smoothed
    blow-up), at :data:`lrfinder.analysis.RESWEEP_STEPS` times the planned steps; an inconclusive curve's message
    names the same span below the smoothed blow-up (:func:`lrfinder.refine.blowup_lr`). This variant takes the
    smoothed blow-up where there is one (the steps as shipped); every other case is ``shipped``'s.
    """
    from lrfinder import analysis, refine

    blowup = refine.blowup_lr(result) if reason == "never_falls" and result.lrs else None
    if blowup is None:
        return shipped(result, reason)  # type: ignore[no-any-return]
    st = result.settings
    low = max(blowup / analysis.RESWEEP_BELOW, st.min_lr)
    return low, blowup * analysis.RESWEEP_ABOVE, analysis.RESWEEP_STEPS * st.num_steps


def resweep_start_study(names: Sequence[str], seeds: Sequence[int], judges: Sequence[str],
                        fresh: bool = False) -> dict[str, Any]:
    """The shipped defaults end to end, against the re-sweep of a never-fell curve started from its smoothed blow-up.

    ``"stop"`` is the shipped re-sweep (records shared with :func:`resweep_steps_study`'s factor 2,
    ``cache/refine/never_falls/x2/``); ``"blowup"`` replaces :func:`lrfinder.refine.next_sweep` by
    :func:`_next_sweep_from_blowup` (records in ``cache/refine/never_falls/from_blowup/``).
    """
    from lrfinder import analysis, refine

    shipped = refine.next_sweep
    out: dict[str, Any] = {"shipped": analysis.RESWEEP_STEPS, "factors": {}}
    out["factors"]["stop"] = run_final(names, seeds, judges, fresh, RESWEEP_STEPS_DIR / f"x{analysis.RESWEEP_STEPS}")
    try:
        refine.next_sweep = functools.partial(_next_sweep_from_blowup, shipped=shipped)
        out["factors"]["blowup"] = run_final(names, seeds, judges, fresh, RESWEEP_START_DIR)
    finally:
        refine.next_sweep = shipped
    return out


def render_resweep_steps(payload: dict[str, Any], *, start: bool = False) -> str:
    """The Markdown page of :func:`resweep_steps_study` (with ``start``, of :func:`resweep_start_study`)."""
    if start:
        head = ["# Refinement: where the re-sweep of a curve that never fell but blew up starts", "",
                "Generated by `python -m benchmarks.refine --final --resweep-start --tasks ...`; do not edit by hand. "
                "The shipped defaults end to end, scored as `results/refine.md` scores them, with "
                "`refine.next_sweep`'s re-sweep of a curve that never fell but blew up spanning the decades below "
                "the LR where the sweep stopped (`stop`, shipped; records of `refine_never_falls.md`'s factor "
                f"{payload['shipped']}) or below the smoothed blow-up its message names (`blowup`), at "
                f"{payload['shipped']} times the sweep's planned steps either way. Re-sweeps and their steps run are "
                "per seed; cost = sweep + re-sweeps + trials over the training's steps, the mean over seeds."]
        label = "re-sweep from"
    else:
        head = ["# Refinement: the steps of the re-sweep of a curve that never fell but blew up", "",
                "Generated by `python -m benchmarks.refine --final --resweep-steps ...`; do not edit by hand. The "
                "shipped defaults end to end, scored as `results/refine.md` scores them, with "
                "`lrfinder.analysis.RESWEEP_STEPS` (the steps of `refine.next_sweep`'s re-sweep of a curve that "
                "never fell but blew up, in multiples of the sweep's) set to each factor; shipped: "
                f"{payload['shipped']}. Only the tasks whose curves take that re-sweep are run (the others read the "
                "same at any factor). Re-sweeps and their steps run are per seed; cost = sweep + re-sweeps + trials "
                "over the training's steps, the mean over seeds."]
        label = "steps factor"
    lines = [*head, "",
             "## Summary", "",
             f"| {label} | split | schedule | judge | tasks in band | runs in band | geo regret | worst (task) | "
             "failures/runs | mean cost / training |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    rows = []
    for factor, run in payload["factors"].items():
        for key, a in run["summary"].items():
            schedule, judge, method, split = key.split("|")
            if method != "refined" or split == "all":
                continue
            hits = sum(r["band_hits"] for r in run["rows"] if r["method"] == "refined" and r["schedule"] == schedule
                       and r["judge"] == judge and r["split"] == split)
            rows.append((split != "tune", factor, schedule, judge,
                         f"| {factor} | {split} | {schedule} | {judge} | {a['tasks_in_band']}/{a['tasks']} | "
                         f"{hits}/{a['runs']} | {a['geo_regret']:.3f} | {a['worst_regret']:.2f} ({a['worst_task']}) | "
                         f"{a['failures']}/{a['runs']} | {a['mean_cost_fraction']:.2f} |"))
    lines += [row[-1] for row in sorted(rows, key=lambda r: r[:4])]
    lines += ["", "## Per task", "",
              f"| {label} | task | split | schedule | judge | refined: regret, in band | refined LRs | "
              "re-sweeps | re-sweep steps run | cost / training |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for factor, run in payload["factors"].items():
        for r in run["rows"]:
            if r["method"] != "refined":
                continue
            recs = r["records"]
            lrs = ", ".join("—" if v is None else f"{v:.2e}" for v in r["lrs"])
            lines.append(f"| {factor} | {r['task']} | {r['split']} | {r['schedule']} | {r['judge']} | "
                         f"{r['regret']:.3f}, {r['band_hits']}/{len(r['lrs'])} | {lrs} | "
                         f"{', '.join(str(len(x['rounds'])) for x in recs)} | "
                         f"{', '.join(str(x['round_steps']) for x in recs)} | {np.mean(r['cost_fraction']):.2f} |")
    lines.append("")
    return "\n".join(lines)


#: What a record says of its run's time, not of its result: kept out of the result files (``*_timings.json``).
TIMING_FIELDS = ("sweep_seconds", "refine_seconds", "recorded")


def split_timings(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Take :data:`TIMING_FIELDS` out of the records of ``payload`` (a :func:`run_final` result, or one per factor).

    Returns them one entry per record (factor, task, schedule, judge, seed), so a re-run on unchanged code leaves
    the result file as it was and moves only the timings file. Each record's fields are put in sorted order, as the
    cache stores them: a record read back from the cache and one just made are written alike.
    """
    runs = payload["factors"].items() if "factors" in payload else [(None, payload)]
    out: list[dict[str, Any]] = []
    for factor, run in runs:
        for row in run["rows"]:
            for seed, rec in enumerate(row["records"]):
                where = {"factor": factor} if factor is not None else {}
                out.append({**where, "task": row["task"], "schedule": row["schedule"], "judge": row["judge"],
                            "seed": seed, **{f: rec.pop(f) for f in TIMING_FIELDS if f in rec}})
            row["records"] = [dict(sorted(rec.items())) for rec in row["records"]]
    return out


def write_result(out: Path, name: str, payload: dict[str, Any], page: str) -> None:
    """``name.json`` (results only), ``name_timings.json`` (one line per record) and ``name.md`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    timings = split_timings(payload)
    (out / f"{name}.json").write_text(json.dumps(payload, indent=1))
    (out / f"{name}_timings.json").write_text("[\n" + ",\n".join(json.dumps(t) for t in timings) + "\n]\n")
    (out / f"{name}.md").write_text(page)


MARK_BEGIN = "<!-- refine:begin (benchmarks/refine.py --final) -->"
MARK_END = "<!-- refine:end -->"


def results_section(payload: dict[str, Any]) -> str:
    """``render_final`` as a section of ``RESULTS.md`` (headings one level down), between markers."""
    body = render_final(payload).replace("\n## ", "\n### ").replace("# Refinement", "## Refinement", 1)
    return f"{MARK_BEGIN}\n{body}\n{MARK_END}\n"


def update_results_md(payload: dict[str, Any], path: Path = HERE_RESULTS_MD) -> None:
    """Replace (or append) the refinement section of ``RESULTS.md``; the rest is left as generated."""
    text = path.read_text() if path.exists() else ""
    section = results_section(payload)
    if MARK_BEGIN in text and MARK_END in text:
        head, rest = text.split(MARK_BEGIN, 1)
        tail = rest.split(MARK_END, 1)[1].lstrip("\n")
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="*", default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trial-fractions", type=float, nargs="*", default=list(TRIAL_FRACTIONS))
    parser.add_argument("--judges", nargs="*", default=list(JUDGES))
    parser.add_argument("--explore-only", action="store_true")
    parser.add_argument("--final", action="store_true", help="score the shipped defaults end to end")
    parser.add_argument("--fresh", action="store_true", help="with --final: rerun instead of reusing older records")
    parser.add_argument("--resweep-steps", type=int, nargs="*", default=None,
                        help="with --final: compare these steps factors of the re-sweep of a curve that never fell "
                        "but blew up (writes results/refine_never_falls.md)")
    parser.add_argument("--resweep-start", action="store_true",
                        help="with --final: the re-sweep of a curve that never fell but blew up started from where "
                        "the sweep stopped (shipped) against from its smoothed blow-up, as the advice names it "
                        "(writes results/refine_resweep_start.md)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    names = args.tasks or [t.name for t in TASKS]
    seeds = list(range(args.seeds))
    if args.final and args.resweep_start:
        payload = resweep_start_study(names, seeds, args.judges, args.fresh)
        page = render_resweep_steps(payload, start=True)
        write_result(args.out, "refine_resweep_start", payload, page)
        print(page)
        return payload
    if args.final and args.resweep_steps:
        payload = resweep_steps_study(names, seeds, args.judges, args.resweep_steps, args.fresh)
        page = render_resweep_steps(payload)
        write_result(args.out, "refine_never_falls", payload, page)
        print(page)
        return payload
    if args.final:
        from lrfinder import Refine

        payload = run_final(names, seeds, args.judges, args.fresh)
        payload["tie_study"] = tie_study(names, seeds)
        d = Refine()
        versions = sorted({x.get("code_version", "?") for r in payload["rows"] for x in r["records"]})
        payload["config"] = {"seeds": len(seeds), "code_versions": versions,
                             "defaults": f"candidates={d.candidates}, extend={d.extend}, "
                             f"spacing={d.spacing}, tie={d.tie!r}, tie_z={d.tie_z}, val_batches={d.val_batches}, "
                             "budget=default_budget(training_steps)"}
        name = "refine" if args.tasks is None else "refine_partial"
        write_result(args.out, name, payload, render_final(payload))
        if args.tasks is None:
            update_results_md(payload)
        print(render_final(payload))
        return payload
    records: dict[tuple[str, str, str, float], list[dict[str, Any]]] = {}
    stores = {n: Store(TASKS_BY_NAME[n]) for n in names}
    for name in names:
        store = stores[name]
        t0 = time.perf_counter()
        for schedule in SCHEDULES:
            for judge in args.judges:
                for frac in args.trial_fractions:
                    records[(name, schedule, judge, frac)] = [explore(store, s, schedule, judge, frac) for s in seeds]
                    store.save()
        print(f"[{name}] explored in {time.perf_counter() - t0:.0f}s", flush=True)
    if args.explore_only:
        return {}
    out: dict[str, Any] = {"configs": {}}
    configs = [("curve", 0, 0, "", 0.0)] + [(f"n{n}+{e}-{tie}-z{z:g}", n, e, tie, z) for n, e in ((3, 2), (5, 0))
                                            for tie in ("best", "smaller", "larger") for z in (1.0, 2.0)]
    for schedule in SCHEDULES:
        for judge in args.judges:
            for frac in args.trial_fractions:
                for label, n, e, tie, z in configs:
                    rows = []
                    for name in names:
                        recs = records[(name, schedule, judge, frac)]
                        if label == "curve":
                            lrs = [baseline_pick(r, schedule) for r in recs]
                        else:
                            lrs = [pick_from_ladder(r, n, tie, z, e) for r in recs]
                        rows.append((TASKS_BY_NAME[name].split, score(stores[name], schedule, lrs, seeds)))
                    key = f"{schedule}|{judge}|{frac}|{label}"
                    out["configs"][key] = {sp or "all": aggregate(rows, sp) for sp in (None, "tune", "check")}
        for store in stores.values():
            store.save()
    for key, v in out["configs"].items():
        t, c = v.get("tune", {}), v.get("check", {})
        print(key, "tune", t.get("tasks_in_band"), f"{t.get('geo_regret', float('nan')):.3f}",
              f"{t.get('worst_regret', float('nan')):.2f}", "| check", c.get("tasks_in_band"),
              f"{c.get('geo_regret', float('nan')):.3f}", f"{c.get('worst_regret', float('nan')):.2f}")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
