"""Regenerate ``benchmarks/RESULTS.md``: the quality benchmark, the cost benchmark, the machine.

Usage::

    python -m benchmarks.run_all                 # everything (resumes from benchmarks/cache/)
    python -m benchmarks.run_all --workers 2     # the quality runs in two processes
    python -m benchmarks.run_all --skip-cost     # rerun quality, reuse results/cost.json
    python -m benchmarks.run_all --render-only   # rebuild RESULTS.md from benchmarks/results/*.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import cost, quality
from .machine import machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
COMMAND = "python -m benchmarks.run_all --workers 2"


def _headline(q: dict[str, Any]) -> list[str]:
    """The sentences of the summary, every number read from the quality payload."""
    lines = []
    agg = q["summary"]["aggregate"]
    for schedule, what in (("constant", "a constant LR"), ("onecycle", "one-cycle")):
        a = agg[schedule]["all"]
        parts = []
        for m in q["finders"]:
            if m in a:
                x = a[m]
                spread = quality._fmt(x["mean_spread"])
                parts.append(
                    f"{quality.LABELS.get(m, m)} {x['tasks_in_band']}/{x['tasks']} tasks in band "
                    f"(geo-mean regret {x['geo_regret']:.3f}, spread {spread} decades, "
                    f"{x['failures']} failures)"
                )
        lines.append(f"- With {what}: " + "; ".join(parts) + ".")
    return lines


def _row(agg: dict[str, Any], name: str) -> str:
    a = agg.get(name)
    if a is None:
        return "— | — | —"
    return f"{a['tasks_in_band']}/{a['tasks']} | {a['runs_in_band']}/{a['runs']} | {a['geo_regret']:.3f}"


def _rules(q: dict[str, Any]) -> list[str]:
    """The rule choice, argued from the payload's numbers (tune split chooses, check split checks)."""
    agg = q["summary"]["aggregate"]
    ch = q["summary"]["choice"]
    default = f"cand:{ch['default_rule']}"
    out = ["## Rule choice\n"]
    per_split = len(q["results"]) // 2
    out.append(
        "The shipped defaults (`Suggestion.lr` by `lrfinder.DEFAULT_RULE`, `Suggestion.max_lr`) were chosen "
        f"by {quality.CRITERION}, on the tune split, then checked on the check split: with about "
        f"{per_split} tasks a split and good bands often one grid point wide, the count of tasks in band moves "
        "by one on noise, while the regret measures every run (`results/quality.md`'s Choice ranks the same "
        "way). Both rankings are shown.\n"
    )
    for schedule, current in (("constant", default), ("onecycle", "cand:max_lr")):
        by_regret = f"cand:{ch[f'best_candidate_{schedule}']}"
        best = f"cand:{ch[f'most_in_band_{schedule}']}"
        what = "`Suggestion.lr` (constant LR)" if schedule == "constant" else "`Suggestion.max_lr` (one-cycle)"
        out.append(f"**{what}**\n")
        out.append("| rule | tune: tasks | tune: runs | tune: regret | check: tasks | check: runs | check: regret |")
        out.append("|---|---|---|---|---|---|---|")
        rows = [(current, "current"), (best, "most tasks in band on tune")]
        if by_regret not in (current, best):
            rows.append((by_regret, "lowest regret on tune"))
        for name, role in rows:
            label = name.removeprefix("cand:")
            tune, check = _row(agg[schedule]["tune"], name), _row(agg[schedule]["check"], name)
            out.append(f"| `{label}` ({role}) | {tune} | {check} |")
        out.append("")
        tune_cur = agg[schedule]["tune"].get(current)
        tune_reg = agg[schedule]["tune"][by_regret]
        if by_regret == current:
            verdict = f"`{current.removeprefix('cand:')}` (shipped) has the lowest tune regret."
        else:
            gap = tune_cur["geo_regret"] / tune_reg["geo_regret"] - 1 if tune_cur else float("nan")
            verdict = (
                f"`{by_regret.removeprefix('cand:')}` has the lowest tune regret, {gap:.1%} below the shipped "
                f"`{current.removeprefix('cand:')}` (the same rule before snapping to a swept LR where the names "
                "differ only by that)."
            )
        t_cur, t_best = agg[schedule]["check"].get(current), agg[schedule]["check"].get(best)
        if best != current and t_best is not None and t_cur is not None:
            holds = t_best["tasks_in_band"] >= t_cur["tasks_in_band"] and t_best["geo_regret"] <= t_cur["geo_regret"]
            verdict += (
                f" Ranked by tasks in band instead, `{best.removeprefix('cand:')}` would be chosen; on the check "
                f"split it {'holds up' if holds else 'does not hold up'} (tasks in band "
                f"{t_best['tasks_in_band']} vs {t_cur['tasks_in_band']}, regret {t_best['geo_regret']:.3f} vs "
                f"{t_cur['geo_regret']:.3f})."
            )
        out.append(verdict + "\n")
    return out


def _target(q: dict[str, Any]) -> list[str]:
    """The issue's target (more tasks in band than every peer, smaller spread), checked per schedule."""
    agg = q["summary"]["aggregate"]
    peers = [m for m in q["finders"] if not m.startswith("lrfinder")]
    out = [
        "## Against the target\n",
        "Target: lrfinder in the good band on more tasks than every peer, with a smaller seed spread.\n",
    ]
    for schedule in ("constant", "onecycle"):
        a = agg[schedule]["all"]
        best = f"cand:{q['summary']['choice'][f'best_candidate_{schedule}']}"
        versions = (
            ("lrfinder", "lrfinder (engine, current rule)"),
            (best, f"lrfinder read with `{best.removeprefix('cand:')}` (lowest tune regret)"),
        )
        for m, label in versions:
            if m not in a:
                continue
            mine = a[m]
            beats = all(mine["tasks_in_band"] > a[p]["tasks_in_band"] for p in peers if p in a)
            tighter = all(
                mine["mean_spread"] is not None
                and a[p]["mean_spread"] is not None
                and mine["mean_spread"] < a[p]["mean_spread"]
                for p in peers
                if p in a
            )
            best_peer = max((p for p in peers if p in a), key=lambda p: a[p]["tasks_in_band"])
            peer = a[best_peer]
            spread = quality._fmt(mine["mean_spread"])
            out.append(
                f"- {schedule}, {label}: {mine['tasks_in_band']}/{mine['tasks']} tasks in band vs "
                f"{quality.LABELS.get(best_peer, best_peer)} {peer['tasks_in_band']}/{peer['tasks']}"
                f" -> band target **{'met' if beats else 'not met'}**; spread {spread} "
                f"decades -> spread target **{'met' if tighter else 'not met'}**."
            )
    out.append("")
    out.append("Tasks where lrfinder (engine) is not in the band with a constant LR, and why:\n")
    for r in q["results"]:
        x = r["scores"]["constant"]["lrfinder"]
        if x["in_band"]:
            continue
        if x["failures"] * 2 > len(x["lrs"]):
            why = (
                f"inconclusive curve on {x['failures']}/{len(x['lrs'])} seeds "
                f"({'; '.join(e.split(':')[0][:80] for e in r['finder_errors'].get('lrfinder', [])[:1])})"
            )
        else:
            why = (
                f"median {quality._fmt(x['decades_off'], '+.2f')} decades off the oracle best, "
                f"seed spread {quality._fmt(x['spread'])}"
            )
        out.append(f"- {r['task']}: {why}.")
    out.append("")
    out.append(
        "A seed with no suggestion is trained at the fallback LR 1e-3 for its regret (what a user keeps "
        "when a finder gives nothing) and never counts as in band. The mean seed spread is taken over the tasks "
        "where a finder gave at least two suggestions, so a finder that fails on a task is not charged a spread "
        "there.\n"
    )
    return out


def render(q: dict[str, Any] | None, c: dict[str, Any] | None, info: dict[str, str]) -> str:
    out = ["# lrfinder benchmarks\n"]
    out.append("Generated by `benchmarks/run_all.py`; do not edit by hand. Regenerate with:\n")
    out.append(f"```\n{COMMAND}\n```\n")
    out.append(
        "(`pip install torch-lr-finder --no-deps` first, for the peer column; the oracle and the findings are "
        "cached in `benchmarks/cache/` and reused, so a rerun only trains what is missing.)\n"
    )
    out.append("## Machine and versions\n")
    out.append(
        "Where this page was rendered. Each section below says the machine its numbers were measured on, which "
        "may be another (a model's costs remeasured alone keep the others' recorded timings).\n"
    )
    out.append("| | |\n|---|---|")
    for k, v in info.items():
        out.append(f"| {k} | {v} |")
    out.append("")
    if q is not None:
        out.append("## Summary\n")
        out.extend(_headline(q))
        out.append("")
        out.extend(_target(q))
        out.extend(_rules(q))
        out.append(quality.render_markdown(q))
    if c is not None:
        out.append(cost.render_markdown(c))
    out.extend(refine_section())
    return "\n".join(out) + "\n"


def refine_section() -> list[str]:
    """The refinement results (``benchmarks/refine.py --final``), when they exist."""
    from . import refine

    path = quality.RESULTS_DIR / "refine.json"
    if not path.exists():
        return []
    return [refine.results_section(json.loads(path.read_text()))]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cost-rounds", type=int, default=7, help="rounds of the cost benchmark (x4 small model)")
    parser.add_argument("--skip-quality", action="store_true", help="reuse results/quality.json")
    parser.add_argument("--skip-cost", action="store_true", help="reuse results/cost.json")
    parser.add_argument("--render-only", action="store_true", help="reuse both")
    args = parser.parse_args(argv)
    qp, cp = quality.RESULTS_DIR / "quality.json", quality.RESULTS_DIR / "cost.json"
    q = json.loads(qp.read_text()) if qp.exists() else None
    c = json.loads(cp.read_text()) if cp.exists() else None
    if not args.render_only:
        if not args.skip_quality:
            q = quality.main(["--workers", str(args.workers)])
        if not args.skip_cost:
            c = cost.main(["--rounds", str(args.cost_rounds)])
    RESULTS.write_text(render(q, c, machine()))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main(sys.argv[1:])
