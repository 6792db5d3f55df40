"""What to tell a user whose curve reads inconclusive: "if you must pick" rules, scored on the cache.

Every curve recorded in ``benchmarks/cache/*.json`` that :func:`lrfinder.analyze` reads as
inconclusive (:class:`lrfinder.InconclusiveCurveError`) is placed against its task's grid oracle
for a constant LR (the quality benchmark's, from the same cache): where the good band lies next to
what the curve still shows (the smoothed blow-up, :func:`lrfinder.analysis.find_blowup_lr`; the LR
of the smoothed minimum before it; the LR where the fall to that minimum flattens, the first point
within ``FLAT_SHARE`` of the fall above the minimum; the largest LR swept). Each fallback rule
(:data:`RULES`) is then scored as ``benchmarks/quality.py`` scores a pick: that seed's validation
loss at the grid LR nearest the rule's LR over the oracle's best mean (the regret), and whether that
LR is in the good band. A rule that reads nothing off a curve (no blow-up to divide) keeps the
benchmark's fallback, ``FALLBACK_LR`` (torch's default 1e-3, what a user keeps).

lrfinder's own curves (engine and callback) are what a user gets; the peers' curves (Lightning's
tuner, torch-lr-finder: other ranges and smoothing) are counted apart. The rule is judged on the
*tune* split and checked on the *check* split (``benchmarks/README.md``); nothing here is tuned on
the held-out tasks of the session notes. Nothing is trained: seconds.

Usage::

    python -m benchmarks.inconclusive       # writes benchmarks/results/inconclusive.md and .json
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

OURS = ("lrfinder", "lrfinder_cb")
#: A rule "wins" on a split when it beats keeping 1e-3 there and its regret is within this factor of the best rule's.
NEAR_BEST = 1.1
#: The fall "flattens" at the first point whose smoothed loss lies within this share of the fall above the minimum.
FLAT_SHARE = 0.1

#: Fallback rules: name -> (description, LR from the curve's facts or ``None`` when it reads nothing).
RULES: dict[str, tuple[str, Callable[[dict[str, Any]], float | None]]] = {
    "default_1e-3": ("torch's default 1e-3 (what the benchmark scores a missing LR at)", lambda f: None),
    "blowup_div10": ("the smoothed blow-up LR / 10", lambda f: f["blowup_lr"] / 10 if f["blowup_lr"] else None),
    "blowup_div3": ("the smoothed blow-up LR / 3", lambda f: f["blowup_lr"] / 3 if f["blowup_lr"] else None),
    "min_div10": ("the smoothed minimum's LR / 10", lambda f: f["min_lr"] / 10 if f["min_lr"] else None),
    "min_div3": ("the smoothed minimum's LR / 3", lambda f: f["min_lr"] / 3 if f["min_lr"] else None),
    "min_loss": ("the smoothed minimum's LR", lambda f: f["min_lr"]),
    "flat": ("where the fall to the minimum flattens", lambda f: f["flat_lr"]),
    "flat_div3": ("where the fall flattens / 3", lambda f: f["flat_lr"] / 3 if f["flat_lr"] else None),
    "top_div10": ("the largest swept LR / 10", lambda f: f["top_lr"] / 10),
}


#: The kind of inconclusive reading, by the words of its error (first match wins).
KINDS = (
    ("never goes below where it starts", "never fell"),
    ("recorded losses around its minimum", "raw losses do not confirm the fall"),
    ("a fall needs to stand out", "fall within the noise"),
    ("still falling at the largest LR", "still falling at max_lr"),
)


def kind(error: str) -> str:
    """A short name for why a curve read inconclusive (:data:`KINDS`), ``"other"`` if none matches."""
    return next((name for words, name in KINDS if words in error), "other")


def curve_facts(lrs: Sequence[float], losses: Sequence[float]) -> dict[str, Any]:
    """What an inconclusive curve still shows: blow-up, minimum, flattening, largest swept LR."""
    from lrfinder.analysis import find_blowup_lr, finite_prefix, smooth_losses

    lr_arr, loss_arr = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    n = finite_prefix(loss_arr)
    facts: dict[str, Any] = {
        "points": int(n), "first_lr": float(lr_arr[0]), "top_lr": float(lr_arr[max(n - 1, 0)]),
        "blowup_lr": None, "min_lr": None, "flat_lr": None, "fell": False, "min_at_start": False,
    }
    if n < 10:
        return facts
    blowup = find_blowup_lr(lr_arr, loss_arr)
    facts["blowup_lr"] = blowup
    smoothed = smooth_losses(lr_arr, loss_arr)[:n]
    end = n if blowup is None else int(np.searchsorted(lr_arr[:n], blowup))
    end = max(end, 1)
    i_min = int(np.argmin(smoothed[:end]))
    facts["min_lr"] = float(lr_arr[i_min])
    facts["min_at_start"] = i_min == 0
    start = float(np.max(smoothed[: i_min + 1]))
    fall = start - float(smoothed[i_min])
    facts["fell"] = bool(fall > 0 and smoothed[i_min] < smoothed[0])
    if fall > 0:
        i_flat = int(np.argmax(smoothed[: i_min + 1] - smoothed[i_min] <= FLAT_SHARE * fall))
        facts["flat_lr"] = float(lr_arr[i_flat])
    return facts


def rows(cache_dir: Path) -> list[dict[str, Any]]:
    """One row per inconclusive curve of a task whose constant-LR oracle is complete in the cache."""
    from lrfinder import InconclusiveCurveError, analyze

    from .quality import FALLBACK_LR, PER_DECADE, _in_band, cached_tasks

    out = []
    for task, data, (grid, means, best_i, band) in cached_tasks(cache_dir):
        runs = data["runs"]
        in_band = [lr for lr, ok in zip(grid, band) if ok]
        for key, finding in sorted(data.get("findings", {}).items()):
            finder, seed_text, _ = key.split("|")
            lrs, losses = [float(v) for v in finding.get("lrs", [])], [float(v) for v in finding.get("losses", [])]
            if len(lrs) < 2:
                continue
            try:
                analyze(lrs, losses)
                continue
            except InconclusiveCurveError as exc:
                error = str(exc)
            seed = int(seed_text)
            facts = curve_facts(lrs, losses)
            scores = {}
            for rule, (_, fn) in RULES.items():
                lr = fn(facts)
                used = lr if lr is not None else FALLBACK_LR
                nearest = grid[int(np.argmin([abs(math.log10(used / g)) for g in grid]))]
                scores[rule] = {
                    "lr": lr, "regret": runs[f"constant|{nearest:.6e}|{seed}"] / means[best_i],
                    "in_band": _in_band(used, grid, band, PER_DECADE),
                    "off": math.log10(used / grid[best_i]),
                }
            out.append({
                "task": task.name, "split": task.split, "class": str(task.extra.get("inconclusive", "-")),
                "optimizer": task.optimizer_name, "finder": finder,
                "seed": seed, "kind": kind(error), "error": error[:160], "best_lr": grid[best_i],
                "band": [min(in_band), max(in_band)], "grid": [grid[0], grid[-1]], **facts, "scores": scores,
                # Decades from the oracle's best LR up to what the curve shows (positive: the best lies below it).
                "best_below": {
                    what: (math.log10(facts[what] / grid[best_i]) if facts[what] else None)
                    for what in ("blowup_lr", "min_lr", "flat_lr", "top_lr")
                },
            })
    return out


def summarize(table: list[dict[str, Any]]) -> dict[str, Any]:
    """Per split and finder group: curves, tasks, and each rule's geometric-mean regret and band hits."""
    out: dict[str, Any] = {}
    for split in ("tune", "check"):
        for group, finders in (("lrfinder", OURS), ("peers", ("lightning", "torch_lr_finder"))):
            part = [r for r in table if r["split"] == split and r["finder"] in finders]
            cell: dict[str, Any] = {"curves": len(part), "tasks": sorted({r["task"] for r in part}), "rules": {}}
            for rule in RULES:
                if not part:
                    continue
                regrets = [r["scores"][rule]["regret"] for r in part]
                cell["rules"][rule] = {
                    "geo_regret": float(np.exp(np.mean(np.log(regrets)))),
                    "worst_regret": float(max(regrets)),
                    "in_band": sum(bool(r["scores"][rule]["in_band"]) for r in part),
                    "reads": sum(RULES[rule][1](r) is not None for r in part),
                }
            out[f"{split}/{group}"] = cell
    out["verdict"] = verdict(out)
    return out


def by_class(table: list[dict[str, Any]]) -> dict[str, Any]:
    """:func:`summarize` of the curves of each class of task (``benchmarks.tasks.INCONCLUSIVE_CLASSES``; ``-``: the
    tasks not added for inconclusive curves), each with its own verdict."""
    return {cls: summarize([r for r in table if r["class"] == cls]) for cls in sorted({r["class"] for r in table})}


def verdict(summary: dict[str, Any]) -> dict[str, Any]:
    """The rules that beat keeping 1e-3 on lrfinder's curves of both splits: a smaller geometric-mean
    regret and no fewer curves in band on each (``winners``), and the best rule per split alone."""
    base = "default_1e-3"
    cells = {split: summary.get(f"{split}/lrfinder", {}).get("rules", {}) for split in ("tune", "check")}
    best = {split: min(c, key=lambda r: c[r]["geo_regret"]) if c else None for split, c in cells.items()}
    winners = []
    for rule in RULES:
        if rule == base or not all(rule in c for c in cells.values()):
            continue
        if all(
            c[rule]["geo_regret"] < c[base]["geo_regret"] and c[rule]["in_band"] >= c[base]["in_band"]
            and c[rule]["geo_regret"] <= NEAR_BEST * c[str(best[split])]["geo_regret"]
            for split, c in cells.items()
        ):
            winners.append(rule)
    return {"winners": winners, "best_per_split": best}


def _lr(v: float | None) -> str:
    return "-" if v is None else f"{v:.2e}"


def render(result: tuple[list[dict[str, Any]], dict[str, Any]]) -> str:
    """The Markdown page: the curves against their bands, then the rules per split and finder group."""
    table, summary = result
    lines = [
        "## Inconclusive curves: where the good band lies, and what a fallback LR would score\n",
        "`python -m benchmarks.inconclusive`: every cached curve `analyze` reads as inconclusive, on a task whose "
        "constant-LR grid oracle is complete (4 LRs per decade, 5 seeds, good band within 10% of the best). "
        "Scored as the quality benchmark scores a pick: that seed's validation loss at the grid LR nearest the rule's "
        "LR over the best mean (regret); a rule that reads nothing off a curve keeps 1e-3. Nothing trained.\n",
        "### The curves\n",
        "Decades in brackets: from the oracle's best LR up to that LR (positive: the best lies below it). "
        "*why*: why it read inconclusive, from the error's words.\n",
        "| split | task | finder | seed | why | good band | blow-up | minimum | flattens | largest swept |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def at(r: dict[str, Any], what: str) -> str:
        d = r["best_below"][what]
        return _lr(r[what]) + ("" if d is None else f" ({d:+.1f})")

    for r in table:
        lines.append(
            f"| {r['split']} | {r['task']} | {r['finder']} | {r['seed']} | {r['kind']} | "
            f"{_lr(r['band'][0])}..{_lr(r['band'][1])} | "
            f"{at(r, 'blowup_lr')} | {at(r, 'min_lr')} | {at(r, 'flat_lr')} | {at(r, 'top_lr')} |"
        )
    lines += ["", "### The rules\n", "Geometric-mean regret over the curves (in band / curves; curves the rule reads)."]
    lines.append("")
    cols = [c for c in summary if c not in ("verdict", "by_class")]
    lines.append("| rule | " + " | ".join(cols) + " |")
    lines.append("|---|" + "---|" * len(cols))
    for rule, (words, _) in RULES.items():
        cells = []
        for col in cols:
            s = summary[col]["rules"].get(rule)
            cells.append("-" if s is None else
                         f"{s['geo_regret']:.3f} ({s['in_band']}/{summary[col]['curves']}; reads {s['reads']})")
        lines.append(f"| `{rule}`: {words} | " + " | ".join(cells) + " |")
    lines.append("")
    for col in cols:
        lines.append(f"- {col}: {summary[col]['curves']} curves, tasks: {', '.join(summary[col]['tasks']) or 'none'}")
    v = summary["verdict"]
    best = ", ".join(f"{split} `{rule}`" for split, rule in v["best_per_split"].items())
    lines += [
        "",
        "### Verdict (computed)\n",
    ]
    winners = ", ".join(f"`{w}`" for w in v["winners"]) or "**none**"
    lines.append(
        "Rules the evidence supports on lrfinder's curves of both splits (on each: a smaller geometric-mean regret "
        f"than keeping 1e-3, no fewer curves in band, and within {NEAR_BEST}x the best rule's regret): {winners}. "
        f"Smallest regret per split alone: {best}.\n"
    )
    for col in cols:
        part = [r for r in table if f"{r['split']}/" + ("lrfinder" if r["finder"] in OURS else "peers") == col]
        low = sum(r["min_at_start"] for r in part)
        if part:
            lines.append(f"- {col}: the smoothed minimum is the curve's first point on {low} of {len(part)} curves "
                         "(a moving average started low, or a loss that only rose: nothing to read a rule off).")
    lines += ["", "### Per class of task\n", "The same verdict on the curves of each class of task alone "
              "(`benchmarks/tasks.py`, `extra[\"inconclusive\"]`): geometric-mean regret on lrfinder's curves, "
              "tune / check (curves). A class has one or two tasks per split: what a class shows is a lead for "
              "new tasks, not a rule to ship.\n"]
    from .tasks import INCONCLUSIVE_CLASSES

    classes = summary.get("by_class", {})
    lines.append("| rule | " + " | ".join(f"{c}" for c in classes) + " |")
    lines.append("|---|" + "---|" * len(classes))
    for rule in RULES:
        cells = []
        for part in classes.values():
            tune, check = (part[f"{split}/lrfinder"] for split in ("tune", "check"))
            cells.append(" / ".join(
                f"{cell['rules'][rule]['geo_regret']:.3f} ({cell['curves']})" if rule in cell["rules"] else "-"
                for cell in (tune, check)
            ))
        lines.append(f"| `{rule}` | " + " | ".join(cells) + " |")
    lines.append("")
    for cls, part in classes.items():
        tasks = sorted({t for split in ("tune", "check") for t in part[f"{split}/lrfinder"]["tasks"]})
        won = ", ".join(f"`{w}`" for w in part["verdict"]["winners"]) or "none"
        lines.append(f"- class {cls} ({INCONCLUSIVE_CLASSES.get(cls, 'tasks not added for inconclusive curves')}): "
                     f"lrfinder's curves on {', '.join(tasks) or 'no task'}; supported on both splits: {won}.")
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Read the inconclusive cached curves; write ``inconclusive.md`` and ``inconclusive.json``."""
    from .pages import cache_page

    table, summary = cache_page(
        argv,
        description=__doc__.split("\n\n")[0],
        name="inconclusive",
        compute=lambda cache_dir: (t := rows(cache_dir), {**summarize(t), "by_class": by_class(t)}),
        render=render,
        to_json=lambda result: {"summary": result[1], "rows": result[0]},
    )
    return dict(summary)


if __name__ == "__main__":
    main(sys.argv[1:])
