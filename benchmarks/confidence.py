"""Does ``Suggestion.confidence`` tell a good suggestion from a bad one? Measured on the cached runs.

Every lrfinder curve recorded in ``benchmarks/cache/*.json`` (engine and callback, every seed) is
re-analysed with the default rule (no training: seconds), and its pick is scored against the
quality benchmark's oracle for a constant LR, from the same cache: the decades between the pick
and the oracle's best grid LR, the regret (that seed's validation loss at the pick, trained by
``benchmarks/quality.py``, else at the nearest grid LR, over the oracle's best mean), and whether
the pick is in the good band. Two questions:

* across tasks: does a higher confidence go with a pick closer to the best LR?
* within a task: does a lower confidence flag the seeds whose pick strays from the task's usual one
  (the scatter a noisier curve should cause)?

The same questions are asked of :func:`lrfinder.analysis.pick_spread`, which ``analyze`` does not
compute: the spread (standard deviation of ``log10(lr)``) of the picks on residual-bootstrap copies
of the curve (the smoothed curve plus residuals drawn with replacement), how much the curve's own
noise moves the pick.

Usage::

    python -m benchmarks.confidence            # writes benchmarks/results/confidence.md and .json
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
OURS = ("lrfinder", "lrfinder_cb")
#: Confidence bins of the table: the report's warning threshold first.
EDGES = (0.35, 0.6, 0.8)
def picks(cache_dir: Path) -> list[dict[str, Any]]:
    """One row per conclusive lrfinder curve of a task whose oracle is complete in the cache."""
    from lrfinder import InconclusiveCurveError, analyze
    from lrfinder.analysis import pick_spread

    from .quality import PER_DECADE, _in_band, cached_tasks

    rows = []
    for task, data, (grid, means, best_i, band) in cached_tasks(cache_dir):
        runs = data["runs"]
        for key, finding in sorted(data.get("findings", {}).items()):
            finder, seed_text, _ = key.split("|")
            if finder not in OURS or len(finding.get("lrs", [])) < 2:
                continue
            lrs, losses = [float(v) for v in finding["lrs"]], [float(v) for v in finding["losses"]]
            try:
                s = analyze(lrs, losses)
            except InconclusiveCurveError:
                continue
            seed = int(seed_text)
            nearest = grid[int(np.argmin([abs(math.log10(s.lr / g)) for g in grid]))]
            trained = runs.get(f"constant|{s.lr:.6e}|{seed}")
            val = trained if trained is not None else runs[f"constant|{nearest:.6e}|{seed}"]
            rows.append({
                "task": task.name, "split": task.split, "finder": finder, "seed": seed,
                "confidence": s.confidence, "lr": s.lr,
                "off": abs(math.log10(s.lr / grid[best_i])),
                "regret": val / means[best_i], "trained": trained is not None,
                "in_band": _in_band(s.lr, grid, band, PER_DECADE),
                "spread": pick_spread(lrs, losses),
            })
    # Within a task: how far each seed's pick strays from the median pick of its task and finder.
    for row in rows:
        same = [r["lr"] for r in rows if r["task"] == row["task"] and r["finder"] == row["finder"]]
        row["stray"] = abs(math.log10(row["lr"]) - float(np.median(np.log10(same))))
    return rows


def _rank_corr(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    from scipy.stats import spearmanr

    if len(a) < 3:
        return float("nan"), float("nan")
    result = spearmanr(a, b)
    return float(result.statistic), float(result.pvalue)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Rank correlations of the confidence (and the bootstrap spread) with each error; the table by confidence bin."""
    errors = ("off", "regret", "stray")
    conf = [r["confidence"] for r in rows]
    corr = {what: _rank_corr(conf, [r[what] for r in rows]) for what in errors}
    spread = [r["spread"] for r in rows]
    spread_corr = {what: _rank_corr(spread, [r[what] for r in rows]) for what in errors}
    bins = []
    edges = (0.0, *EDGES, 1.0 + 1e-9)
    for lo, hi in zip(edges[:-1], edges[1:]):
        part = [r for r in rows if lo <= r["confidence"] < hi]
        bins.append({
            "from": lo, "to": min(hi, 1.0), "n": len(part),
            "in_band": float(np.mean([r["in_band"] for r in part])) if part else None,
            "off": float(np.median([r["off"] for r in part])) if part else None,
            "stray": float(np.median([r["stray"] for r in part])) if part else None,
            "regret": float(np.median([r["regret"] for r in part])) if part else None,
        })
    return {
        "n": len(rows), "trained": sum(r["trained"] for r in rows), "correlation": corr,
        "spread_correlation": spread_corr, "bins": bins,
    }


def _cell(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def render(summary: dict[str, Any]) -> str:
    """The Markdown page of :func:`summarize`'s result."""
    from lrfinder.analysis import SPREAD_COPIES

    c = summary["correlation"]
    lines = [
        "## Does the confidence predict the quality of the suggestion?\n",
        f"{summary['n']} conclusive lrfinder curves (engine and callback, every seed) of the quality "
        "benchmark's cache, re-read with the default rule and scored against its constant-LR oracle "
        f"(`python -m benchmarks.confidence`; the regret is at the trained pick for {summary['trained']} of them, "
        "else at the nearest grid LR). *off*: decades from the oracle's best grid LR; *stray*: decades from "
        "the median pick of the same task and finder (the seed-to-seed scatter).\n",
        "| confidence | curves | in band | median off | median stray | median regret |",
        "|---|---|---|---|---|---|",
    ]
    for b in summary["bins"]:
        lines.append(
            f"| {b['from']:.2f}-{b['to']:.2f} | {b['n']} | {_cell(b['in_band'], '.0%')} | {_cell(b['off'], '.2f')} | "
            f"{_cell(b['stray'], '.2f')} | {_cell(b['regret'], '.3f')} |"
        )
    lines += [
        "",
        "Spearman rank correlation of the confidence with each error (negative: a higher confidence goes "
        "with a smaller error):\n",
        "| error | rho | p-value |",
        "|---|---|---|",
    ]
    labels = (("off", "decades off the best LR"), ("regret", "regret"), ("stray", "stray from the task's pick"))
    for what, label in labels:
        rho, p = c[what]
        lines.append(f"| {label} | {rho:+.2f} | {p:.2g} |")
    lines += [
        "",
        f"`lrfinder.analysis.pick_spread`: the spread of the pick over {SPREAD_COPIES} residual-bootstrap copies "
        "of each curve (positive: a larger spread goes with a larger error).\n",
        "| error | rho | p-value |",
        "|---|---|---|",
    ]
    for what, label in labels:
        rho, p = summary["spread_correlation"][what]
        lines.append(f"| {label} | {rho:+.2f} | {p:.2g} |")
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Score the cached picks by confidence; write ``confidence.md`` and ``confidence.json``."""
    from .pages import cache_page

    rows, summary = cache_page(
        argv,
        description=__doc__.split("\n\n")[0],
        name="confidence",
        compute=lambda cache_dir: (rows := picks(cache_dir), summarize(rows)),
        render=lambda result: render(result[1]),
        to_json=lambda result: {"summary": result[1], "rows": result[0]},
    )
    return dict(summary)


if __name__ == "__main__":
    main(sys.argv[1:])
