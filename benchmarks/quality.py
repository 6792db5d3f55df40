"""Suggestion quality: every finder against a grid-search oracle, on every benchmark task.

For each task (``benchmarks/tasks.py``):

1. **Oracle.** Train at every LR of a grid (4 per decade by default) for every seed, with two
   schedules: constant LR, and one-cycle with ``max_lr`` = the grid LR. The *good band* of a
   schedule is every grid LR whose mean validation loss (over seeds) is within 10% of the best.
2. **Finders.** Run each finder (``benchmarks/finders.py``) once per seed, from the same initial
   weights and data order as that seed's training run, with the finder's defaults.
3. **Score.** Train with each suggestion (same budget, same seed) and compare with the oracle:
   decades off the oracle's best LR, whether the suggestion's nearest grid LR is in the good band,
   regret (mean validation loss at the suggestion / the oracle's best), failures (no suggestion:
   then the run uses the fallback LR 1e-3, torch's default, as a user would keep their own LR),
   and the seed spread (std of log10 LR).
4. **Rules.** The recorded lrfinder curves are re-analysed with every rule of
   :func:`lrfinder.analyze` and a few candidates; each is scored the same way. The rule is chosen
   on the ``tune`` tasks only and checked on the ``check`` tasks.

Everything trained or found is cached per task in ``benchmarks/cache/<task>.json`` (keyed by the
task's fingerprint), so an interrupted run resumes where it stopped and re-scoring is free.

Usage::

    python -m benchmarks.quality                  # full run (resumes from the cache)
    python -m benchmarks.quality --workers 2      # two processes (one thread each)
    python -m benchmarks.quality --smoke          # one tiny task, seconds
"""

from __future__ import annotations

import argparse
import ast
import functools
import hashlib
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .candidates import CANDIDATES, candidate_lrs
from .finders import Finding, available_finders, run_finder
from .machine import describe, measured_on
from .tasks import TASKS, TASKS_BY_NAME, Task, train

HERE = Path(__file__).resolve().parent
CACHE_DIR = HERE / "cache"
RESULTS_DIR = HERE / "results"
SCHEDULES = ("constant", "onecycle")
BAND = 0.10
FALLBACK_LR = 1e-3
PER_DECADE = 4
SEEDS = 5


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------


def code_key(paths: Sequence[Path]) -> str:
    """A hash of what the Python modules at ``paths`` do, not of how their text reads.

    Each module is parsed, its docstrings (module, class, function) dropped, and the tree written
    out node by node (:func:`_dump`), so comments, docstrings, blank lines and line wrapping leave
    the key as it was, any change to the code changes it, and so does no Python release: its
    ``ast.unparse`` text, the key before, differed between 3.10, 3.11 and 3.12 for the same files.
    """
    digest = hashlib.sha1()
    for path in paths:
        digest.update(_code_of(path.read_text(encoding="utf-8")).encode())
    return digest.hexdigest()[:8]


@functools.lru_cache(maxsize=16)
def _code_of(source: str) -> str:
    """``source`` without comments, docstrings or layout (:func:`code_key`; cached: a parse takes ~0.3 s)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return _dump(tree)


def _dump(node: object) -> str:
    """``node`` as its class and fields, leaving out those that are ``None`` or empty.

    A field a later Python added is empty where the code does not use it (3.12's ``type_params``),
    and ``ast.dump`` shows empty ones up to 3.12 only: this text is the same on every release.
    """
    if isinstance(node, ast.AST):
        fields = ((name, getattr(node, name, None)) for name in node._fields)
        return f"{type(node).__name__}(" + ", ".join(
            f"{name}={_dump(value)}" for name, value in fields if value is not None and value != []
        ) + ")"
    if isinstance(node, list):
        return "[" + ", ".join(_dump(item) for item in node) + "]"
    return repr(node)


def finder_version(finder: str) -> str:
    """Part of a finding's cache key: a finder is re-run when its code changes.

    For lrfinder it is :func:`code_key` of the modules that decide its suggestion (engine and
    analysis, and the callback for ``lrfinder_cb``), so a commit that only touches their comments
    or docstrings keeps every recorded finding; for the peers, their package version.
    """
    if finder.startswith("lrfinder"):
        import lrfinder

        root = Path(lrfinder.__file__).parent
        files = ["range_test.py", "analysis.py"] + (["callback.py"] if finder == "lrfinder_cb" else [])
        return code_key([root / name for name in files])
    from importlib.metadata import version

    return version({"lightning": "pytorch-lightning", "torch_lr_finder": "torch-lr-finder"}.get(finder, finder))


class TaskCache:
    """Training results and findings of one task, on disk, resumable."""

    def __init__(self, task: Task, directory: Path, *, steps: int | None = None) -> None:
        self.task = task
        self.steps = steps
        self.fingerprint = task.fingerprint() + (f"-steps{steps}" if steps else "")
        self.path = directory / f"{task.name}.json"
        self.runs: dict[str, float] = {}
        self.findings: dict[str, dict[str, Any]] = {}
        self._dirty = 0
        self._saved_at = time.monotonic()
        if self.path.exists():
            data = json.loads(self.path.read_text())
            if data.get("fingerprint") == self.fingerprint:
                self.runs = {k: float(v) for k, v in data["runs"].items()}
                # Findings of an older version of a finder are dropped: they would never be read.
                current: dict[str, str] = {}
                for key, value in data["findings"].items():
                    finder, _, version = key.split("|")
                    if finder not in current:
                        try:
                            current[finder] = finder_version(finder)
                        except (ImportError, OSError):
                            current[finder] = ""
                    if version == current[finder]:
                        self.findings[key] = value
                    else:
                        self._dirty += 1

    def save(self, force: bool = False) -> None:
        if not self._dirty or (not force and time.monotonic() - self._saved_at < 20):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        payload = {"task": self.task.name, "fingerprint": self.fingerprint, "runs": self.runs,
                   "findings": self.findings}
        tmp.write_text(json.dumps(payload, separators=(",", ":"), sort_keys=True))
        os.replace(tmp, self.path)
        self._dirty = 0
        self._saved_at = time.monotonic()

    def val_loss(self, schedule: str, lr: float, seed: int) -> float:
        key = f"{schedule}|{lr:.6e}|{seed}"
        if key not in self.runs:
            self.runs[key] = train(self.task, float(f"{lr:.6e}"), seed, schedule, steps=self.steps)
            self._dirty += 1
            self.save()
        return self.runs[key]

    def finding(self, finder: str, seed: int) -> Finding:
        key = f"{finder}|{seed}|{finder_version(finder)}"
        if key not in self.findings:
            self.findings[key] = run_finder(finder, self.task, seed).to_dict()
            self._dirty += 1
            self.save(force=True)
        return Finding.from_dict(self.findings[key])


# --------------------------------------------------------------------------------------------
# Candidates: other rules applied to lrfinder's recorded curves
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# One task
# --------------------------------------------------------------------------------------------


def run_task(name: str, *, seeds: int, finders: Sequence[str], per_decade: int, cache_dir: Path,
             steps: int | None = None, log: bool = True) -> dict[str, Any]:
    """Oracle, finders and scores for one task; returns a JSON-able summary."""
    torch.set_num_threads(1)
    task = TASKS_BY_NAME[name]
    cache = TaskCache(task, cache_dir, steps=steps)
    grid = task.lr_grid(per_decade)
    seed_list = list(range(seeds))
    start = time.perf_counter()

    oracle: dict[str, list[float]] = {}
    for schedule in SCHEDULES:
        oracle[schedule] = [float(np.mean([cache.val_loss(schedule, lr, s) for s in seed_list])) for lr in grid]
    if log:
        print(f"[{name}] oracle done in {time.perf_counter() - start:.0f}s", flush=True)

    findings = {f: [cache.finding(f, s) for s in seed_list] for f in finders}
    if log:
        print(f"[{name}] finders done in {time.perf_counter() - start:.0f}s", flush=True)

    # LR per method, schedule and seed (None: the method gave no suggestion).
    methods: dict[str, dict[str, list[float | None]]] = {}
    for f, found in findings.items():
        methods[f] = {
            "constant": [x.lr for x in found],
            # lrfinder has a one-cycle bound of its own; the peers give one LR for everything.
            "onecycle": [x.max_lr if x.max_lr is not None else x.lr for x in found],
        }
    if "lrfinder" in findings:
        per_seed = [candidate_lrs(x.lrs, x.losses) for x in findings["lrfinder"]]
        for cand in CANDIDATES:
            lrs = [c[cand] for c in per_seed]
            methods[f"cand:{cand}"] = {"constant": lrs, "onecycle": lrs}

    scores: dict[str, dict[str, dict[str, Any]]] = {}
    for schedule in SCHEDULES:
        scores[schedule] = {}
        for method, per_schedule in methods.items():
            scores[schedule][method] = score_lrs(
                per_schedule[schedule], seed_list, functools.partial(cache.val_loss, schedule), grid,
                oracle[schedule], per_decade,
            )
    cache.save(force=True)
    if log:
        print(f"[{name}] scored in {time.perf_counter() - start:.0f}s", flush=True)
    return {
        "task": name,
        "split": task.split,
        "note": task.note,
        "optimizer": task.optimizer_name,
        "batch_size": task.batch_size,
        "steps": steps or task.steps,
        "grid": grid,
        "oracle": oracle,
        "best_lr": {s: grid[int(np.argmin(oracle[s]))] for s in SCHEDULES},
        "best_val": {s: float(min(oracle[s])) for s in SCHEDULES},
        "band": {s: _band_range(grid, oracle[s]) for s in SCHEDULES},
        "best_at_edge": {s: int(np.argmin(oracle[s])) in (0, len(grid) - 1) for s in SCHEDULES},
        "scores": scores,
        "finder_seconds": {f: float(np.mean([x.seconds for x in found])) for f, found in findings.items()},
        "finder_errors": {f: sorted({x.error for x in found if x.error and x.lr is None}) for f, found in
                          findings.items()},
    }


def score_lrs(
    lrs: Sequence[float | None],
    seeds: Sequence[int],
    val_loss: Callable[[float, int], float],
    grid: list[float],
    oracle: list[float],
    per_decade: int,
) -> dict[str, Any]:
    """Score one method's picks (one per seed; ``None``: no LR) against the oracle's grid.

    A seed without an LR trains at ``FALLBACK_LR`` and is never in band. Regret is the mean
    validation loss over seeds over the oracle's best; *in band* needs most seeds in band.
    """
    best_i = int(np.argmin(oracle))
    best = oracle[best_i]
    band = [v <= (1 + BAND) * best for v in oracle]
    vals, hits, offs = [], [], []
    for seed, lr in zip(seeds, lrs):
        vals.append(val_loss(lr if lr is not None else FALLBACK_LR, seed))
        hits.append(lr is not None and _in_band(lr, grid, band, per_decade))
        if lr is not None:
            offs.append(math.log10(lr / grid[best_i]))
    ok = [math.log10(x) for x in lrs if x is not None]
    return {
        "lrs": list(lrs),
        "val": vals,
        "regret": float(np.mean(vals)) / best if best > 0 else float("nan"),
        "band_hits": int(sum(hits)),
        "in_band": sum(hits) * 2 > len(hits),
        "decades_off": float(np.median(offs)) if offs else None,
        "failures": sum(x is None for x in lrs),
        "spread": float(np.std(ok)) if len(ok) > 1 else None,
    }


#: A task's constant-LR oracle read from its cache: ``(grid, mean loss per grid LR, best index, good band)``.
Oracle = tuple[list[float], list[float], int, list[bool]]


def cached_oracle(task: Task, runs: dict[str, float]) -> Oracle | None:
    """The constant-LR oracle from a task's cached runs: ``(grid, mean loss per grid LR, best index, good band)``.

    ``None`` unless every grid LR has every seed's run (the pages computed from the cache alone use it).
    """
    grid = task.lr_grid(PER_DECADE)
    keys = [[f"constant|{lr:.6e}|{s}" for s in range(SEEDS)] for lr in grid]
    if not all(k in runs for row in keys for k in row):
        return None
    means = [float(np.mean([runs[k] for k in row])) for row in keys]
    best_i = int(np.argmin(means))
    return grid, means, best_i, [v <= (1 + BAND) * means[best_i] for v in means]


def cached_tasks(cache_dir: Path) -> Iterator[tuple[Task, dict[str, Any], Oracle]]:
    """``(task, cached data, cached_oracle)`` of every task file in ``cache_dir`` whose oracle is complete."""
    for path in sorted(cache_dir.glob("*.json")):
        task = TASKS_BY_NAME.get(path.stem)
        if task is None:
            continue
        data = json.loads(path.read_text())
        oracle = cached_oracle(task, data.get("runs", {}))
        if oracle is not None:
            yield task, data, oracle


def _in_band(lr: float, grid: list[float], band: list[bool], per_decade: int) -> bool:
    logs = np.log10(grid)
    i = int(np.argmin(np.abs(logs - math.log10(lr))))
    return bool(band[i] and abs(logs[i] - math.log10(lr)) <= 0.5 / per_decade + 1e-9)


def _band_range(grid: list[float], values: list[float]) -> list[float]:
    best = min(values)
    inside = [lr for lr, v in zip(grid, values) if v <= (1 + BAND) * best]
    return [min(inside), max(inside)]


# --------------------------------------------------------------------------------------------
# Aggregation and rule choice
# --------------------------------------------------------------------------------------------


def aggregate(results: list[dict[str, Any]], methods: Sequence[str], schedule: str,
              split: str | None = None) -> dict[str, dict[str, Any]]:
    """Totals over tasks (optionally one split) per method."""
    chosen = [r for r in results if split is None or r["split"] == split]
    out: dict[str, dict[str, Any]] = {}
    for m in methods:
        rows = [r["scores"][schedule][m] for r in chosen if m in r["scores"][schedule]]
        if not rows:
            continue
        spreads = [x["spread"] for x in rows if x["spread"] is not None]
        offs = [abs(x["decades_off"]) for x in rows if x["decades_off"] is not None]
        out[m] = {
            "tasks": len(rows),
            "tasks_in_band": sum(bool(x["in_band"]) for x in rows),
            "runs_in_band": sum(x["band_hits"] for x in rows),
            "runs": sum(len(x["lrs"]) for x in rows),
            "geo_regret": float(np.exp(np.mean([math.log(x["regret"]) for x in rows]))),
            "worst_regret": float(max(x["regret"] for x in rows)),
            "median_abs_decades_off": float(np.median(offs)) if offs else None,
            "failures": sum(x["failures"] for x in rows),
            "mean_spread": float(np.mean(spreads)) if spreads else None,
        }
    return out


#: How a rule is chosen (the shipped ``DEFAULT_RULE`` was, on the tune split), as the pages say it.
CRITERION = ("the smallest geometric-mean regret (validation loss at the pick over the oracle's best), ties going to "
             "the most tasks in band, then the most runs in band")
#: The other ranking the pages show beside it.
BAND_CRITERION = "the most tasks in band, then the most runs in band, then the smallest geometric-mean regret"


def choose(agg: dict[str, dict[str, Any]], names: Sequence[str]) -> str:
    """The best of ``names`` by :data:`CRITERION`: regret measures every run, while with about nine
    tasks a split and bands often one grid LR wide the count of tasks in band moves by one on noise."""
    pool = [n for n in names if n in agg]
    return min(pool, key=lambda n: (agg[n]["geo_regret"], -agg[n]["tasks_in_band"], -agg[n]["runs_in_band"]))


def most_in_band(agg: dict[str, dict[str, Any]], names: Sequence[str]) -> str:
    """The best of ``names`` by :data:`BAND_CRITERION` (shown beside :func:`choose`'s, not chosen by)."""
    pool = [n for n in names if n in agg]
    return min(pool, key=lambda n: (-agg[n]["tasks_in_band"], -agg[n]["runs_in_band"], agg[n]["geo_regret"]))


def analyse(results: list[dict[str, Any]], finders: Sequence[str]) -> dict[str, Any]:
    """Aggregates per schedule and split, and the rule choice (made on the tune split)."""
    from lrfinder import DEFAULT_RULE, RULES

    cands = [m for m in results[0]["scores"]["constant"] if m.startswith("cand:")]
    methods = list(finders) + cands
    summary: dict[str, Any] = {"aggregate": {}, "choice": {}}
    for schedule in SCHEDULES:
        summary["aggregate"][schedule] = {
            split or "all": aggregate(results, methods, schedule, split) for split in (None, "tune", "check")
        }
    # Choose on the tune split; a run without tune tasks (--tasks, --smoke) uses all of them.
    split = "tune" if summary["aggregate"]["constant"]["tune"] else "all"
    tune_c = summary["aggregate"]["constant"][split]
    tune_o = summary["aggregate"]["onecycle"][split]
    summary["choice"] = {
        "split": split,
        "default_rule": DEFAULT_RULE,
        "best_rule_constant": choose(tune_c, [f"cand:{r}" for r in RULES]).removeprefix("cand:"),
        "best_candidate_constant": choose(tune_c, cands).removeprefix("cand:"),
        "best_candidate_onecycle": choose(tune_o, cands).removeprefix("cand:"),
        "most_in_band_constant": most_in_band(tune_c, cands).removeprefix("cand:"),
        "most_in_band_onecycle": most_in_band(tune_o, cands).removeprefix("cand:"),
    }
    return summary


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------

LABELS = {
    "lrfinder": "lrfinder (engine)",
    "lrfinder_cb": "lrfinder (callback)",
    "lightning": "Lightning Tuner.lr_find",
    "torch_lr_finder": "torch-lr-finder",
}


def _fmt(v: float | None, spec: str = ".2f") -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _label(m: str) -> str:
    return LABELS.get(m, f"rule `{m.removeprefix('cand:')}`" if m.startswith("cand:") else m)


def render_markdown(payload: dict[str, Any]) -> str:
    results = payload["results"]
    finders = payload["finders"]
    summary = payload["summary"]
    cfg = payload["config"]
    lines: list[str] = []
    add = lines.append
    add("## Suggestion quality\n")
    add(f"{len(results)} tasks, {cfg['seeds']} seeds, oracle grid {cfg['per_decade']} LRs per decade, "
        f"good band = mean validation loss within {int(BAND * 100)}% of the best grid LR. "
        f"Tuned on: {', '.join(r['task'] for r in results if r['split'] == 'tune')}. "
        f"Checked on: {', '.join(r['task'] for r in results if r['split'] == 'check')}.\n")
    add(describe(payload.get("machine")))
    add("### Tasks and oracle\n")
    add("| task | split | optimizer | batch | steps | best LR const (band) | best LR one-cycle (band) |")
    add("|---|---|---|---|---|---|---|")
    for r in results:
        cells = []
        for s in SCHEDULES:
            edge = " (edge!)" if r["best_at_edge"][s] else ""
            cells.append(f"{r['best_lr'][s]:.2e}{edge} ({r['band'][s][0]:.1e}–{r['band'][s][1]:.1e})")
        add(f"| {r['task']} | {r['split']} | {r['optimizer']} | {r['batch_size']} | {r['steps']} | "
            f"{cells[0]} | {cells[1]} |")
    add("")
    for schedule in SCHEDULES:
        what = "constant LR = suggestion" if schedule == "constant" else (
            "one-cycle with max_lr = suggestion (lrfinder: `Suggestion.max_lr`)")
        add(f"### Aggregate, {what}\n")
        add("| method | split | tasks in band | runs in band | geo-mean regret | worst regret | "
            "median abs decades off | failures | mean seed spread (decades) |")
        add("|---|---|---|---|---|---|---|---|---|")
        for split in ("all", "tune", "check"):
            agg = summary["aggregate"][schedule][split]
            for m in list(finders):
                if m in agg:
                    a = agg[m]
                    add(f"| {_label(m)} | {split} | {a['tasks_in_band']}/{a['tasks']} | {a['runs_in_band']}/{a['runs']}"
                        f" | {a['geo_regret']:.3f} | {a['worst_regret']:.2f} | {_fmt(a['median_abs_decades_off'])} | "
                        f"{a['failures']} | {_fmt(a['mean_spread'])} |")
        add("")
        add(f"#### Per task ({schedule})\n")
        add("Each cell: in band (seeds in band / seeds), regret, median decades off the oracle best "
            "(+ = above), seed spread; `F` = failures.\n")
        add("| task | " + " | ".join(_label(m) for m in finders) + " |")
        add("|---|" + "---|" * len(finders))
        for r in results:
            cells = []
            for m in finders:
                x = r["scores"][schedule][m]
                mark = "**yes**" if x["in_band"] else "no"
                fail = f", F{x['failures']}" if x["failures"] else ""
                cells.append(f"{mark} ({x['band_hits']}/{len(x['lrs'])}), {x['regret']:.2f}, "
                             f"{_fmt(x['decades_off'], '+.2f')}, ±{_fmt(x['spread'])}{fail}")
            add(f"| {r['task']} | " + " | ".join(cells) + " |")
        add("")
    add("### Rules on lrfinder's recorded curves\n")
    add("The lrfinder curves above, re-read by each rule of `lrfinder.analyze` and by candidates "
        "(`max_lr` = `Suggestion.max_lr`; `min_loss` = LR of the smoothed minimum; `min_div3` = that / 3; "
        "`div_div10` = divergence LR / 10; `geo_steep_min` = geometric mean of the steepest and minimum LRs; "
        "`valley_div2` = valley / 2; `bigfall_*` = valley, steepest point and valley end of the falling stretch "
        "with the largest drop, see `benchmarks/candidates.py`). Each is trained with, like the finders.\n")
    cands = [m for m in results[0]["scores"]["constant"] if m.startswith("cand:")]
    for schedule in SCHEDULES:
        add(f"#### {schedule}\n")
        add("| rule | tune: tasks in band | tune: runs in band | tune: geo regret | check: tasks in band | "
            "check: runs in band | check: geo regret | all: failures | all: mean spread |")
        add("|---|---|---|---|---|---|---|---|---|")
        agg = summary["aggregate"][schedule]
        for m in cands:
            t, c, a = agg["tune"].get(m), agg["check"].get(m), agg["all"][m]
            tt = f"{t['tasks_in_band']}/{t['tasks']} | {t['runs_in_band']}/{t['runs']} | {t['geo_regret']:.3f}" if t \
                else "— | — | —"
            cc = f"{c['tasks_in_band']}/{c['tasks']} | {c['runs_in_band']}/{c['runs']} | {c['geo_regret']:.3f}" if c \
                else "— | — | —"
            add(f"| `{m.removeprefix('cand:')}` | {tt} | {cc} | {a['failures']} | {_fmt(a['mean_spread'])} |")
        add("")
    ch = summary["choice"]
    add(f"### Choice (made on the {ch['split']} split)\n")
    add(f"Criterion, the one the shipped rule was chosen by: {CRITERION}, on the {ch['split']} split; "
        "the check split checks it (`RESULTS.md`, Rule choice).\n")
    add(f"- Default rule in this lrfinder: `{ch['default_rule']}`.")
    add(f"- Best of `lrfinder.RULES` for a constant LR on the tune split: `{ch['best_rule_constant']}`.")
    add(f"- Best candidate for a constant LR on the tune split: `{ch['best_candidate_constant']}`.")
    add(f"- Best candidate for the one-cycle `max_lr` on the tune split: `{ch['best_candidate_onecycle']}`.")
    if "most_in_band_constant" in ch:
        add(f"- Ranked instead by {BAND_CRITERION}: `{ch['most_in_band_constant']}` (constant), "
            f"`{ch['most_in_band_onecycle']}` (one-cycle).")
    add("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def _worker(args: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    name, kwargs = args
    return run_task(name, **kwargs)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="*", default=None, help="task names (default: all)")
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--per-decade", type=int, default=PER_DECADE)
    parser.add_argument("--finders", nargs="*", default=None, help="default: every available finder")
    parser.add_argument("--workers", type=int, default=1, help="processes (one torch thread each)")
    parser.add_argument("--steps", type=int, default=None, help="override every task's training budget")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where quality.json/.md go")
    parser.add_argument("--smoke", action="store_true", help="one tiny task, 1 seed, coarse grid, short budget")
    args = parser.parse_args(argv)
    if args.smoke:
        args.tasks = args.tasks or ["wine_mlp_adamw"]
        args.seeds, args.per_decade, args.steps = 1, 1, args.steps or 20
        args.finders = args.finders or ["lrfinder"]
    names = args.tasks or [t.name for t in TASKS]
    unknown = [n for n in names if n not in TASKS_BY_NAME]
    if unknown:
        parser.error(f"unknown task(s) {unknown}; choose from {sorted(TASKS_BY_NAME)}")
    finders = args.finders or available_finders()
    kwargs = dict(seeds=args.seeds, finders=finders, per_decade=args.per_decade, cache_dir=args.cache_dir,
                  steps=args.steps)
    torch.set_num_threads(1)
    if args.workers > 1:
        with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
            results = pool.map(_worker, [(n, kwargs) for n in names], chunksize=1)
    else:
        results = [run_task(n, **kwargs) for n in names]
    payload = {
        "config": {"seeds": args.seeds, "per_decade": args.per_decade, "steps": args.steps, "band": BAND,
                   "fallback_lr": FALLBACK_LR},
        "finders": finders,
        "results": results,
        "summary": analyse(results, finders),
        "machine": measured_on(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quality.json").write_text(json.dumps(payload, indent=1))
    (args.out / "quality.md").write_text(render_markdown(payload))
    print(render_markdown(payload))
    return payload


if __name__ == "__main__":
    main(sys.argv[1:])
