"""How often each note and warning of :func:`lrfinder.analyze` fires on the benchmark's curves.

Every curve recorded in ``benchmarks/cache/*.json`` is re-analysed with the default rule (no
training: seconds). The curves of lrfinder's engine and callback are what a user of lrfinder
gets; the curves recorded by the peers (Lightning, torch-lr-finder; other ranges, Lightning's
own smoothing) are counted apart, as a harder set. A note is meant to be an exception: one that
fires on most curves says nothing.

Usage::

    python -m benchmarks.notes                 # writes benchmarks/results/notes.md and notes.json
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OURS = ("lrfinder", "lrfinder_cb")


def note_kind(note: str) -> str:
    """A note with its numbers replaced by ``#``, so notes of one kind count together."""
    return re.sub(r"[-+]?\d*\.?\d+(?:e[-+]?\d+)?", "#", note)


def count(cache_dir: Path) -> dict[str, Any]:
    """Counts per finder group (``lrfinder`` for ours, ``peers``): curves, verdicts, notes."""
    from lrfinder import InconclusiveCurveError, analyze
    from lrfinder.analysis import LOW_CONFIDENCE

    groups: dict[str, dict[str, Any]] = {}
    for path in sorted(cache_dir.glob("*.json")):
        data = json.loads(path.read_text())
        # The batch-scaling caches hold training runs, not finders' curves: no "findings".
        for key, finding in sorted(data.get("findings", {}).items()):
            group = "lrfinder" if key.split("|")[0] in OURS else "peers"
            g = groups.setdefault(group, {"curves": 0, "conclusive": 0, "kinds": Counter()})
            lrs = [float(v) for v in finding["lrs"]]
            losses = [float(v) for v in finding["losses"]]
            if len(lrs) < 2:
                continue
            g["curves"] += 1
            try:
                s = analyze(lrs, losses)
            except InconclusiveCurveError as exc:
                g["kinds"]["inconclusive: " + str(exc).split(":")[0].split(";")[0]] += 1
                continue
            g["conclusive"] += 1
            kinds = {note_kind(n) for n in s.notes}
            if s.confidence < LOW_CONFIDENCE:
                kinds.add(f"(report) low confidence, below {LOW_CONFIDENCE}")
            if kinds:
                kinds.add("(any note or warning)")
            g["kinds"].update(kinds)
    order = sorted(groups, key=lambda name: name != "lrfinder")
    return {name: {**groups[name], "kinds": dict(groups[name]["kinds"].most_common())} for name in order}


#: Measured with the notes as they were before calibration (same curves, same analysis).
BEFORE = """\
| note (before) | lrfinder curves (87 conclusive) |
|---|---|
| (any note or warning) | 87 (100%) |
| ignored the curve after the loss blew up at lr=# | 87 (100%) |
| narrow falling region (# decades of LR), once "0.00 decades" | 61 (70%) |
| (report) low confidence, below 0.5 | 18 (21%) |
| shallow fall: the loss drops only #x its noise level | 15 (17%) |
| the rules disagree by # decades of LR | 10 (11%) |

None of them told a good suggestion from a bad one: of the 25 suggestions in the oracle's good
band and the 62 outside it, "narrow" fired on 84% and 65%, "low confidence" on 24% and 19%,
"rules disagree" on 12% and 11%, "shallow" on 12% and 19%.
"""


def render(counts: dict[str, Any]) -> str:
    """The Markdown table of :func:`count`'s result."""
    lines = ["## How often the analysis notes fire\n",
             "Every curve recorded in `benchmarks/cache/` re-analysed with the default rule "
             "(`python -m benchmarks.notes`). Percentages are of the conclusive curves; inconclusive "
             "verdicts are of all curves.\n"]
    for name, g in counts.items():
        title = "lrfinder (engine and callback)" if name == "lrfinder" else "peers' curves (Lightning, torch-lr-finder)"
        lines.append(f"### {title}: {g['curves']} curves, {g['conclusive']} conclusive\n")
        lines.append("| note | curves | share |")
        lines.append("|---|---|---|")
        for kind, n in g["kinds"].items():
            base = g["curves"] if kind.startswith("inconclusive") else max(g["conclusive"], 1)
            lines.append(f"| {kind} | {n} | {100.0 * n / base:.0f}% |")
        lines.append("")
    lines.append("### Before calibration\n")
    lines.append(BEFORE)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Count the notes on every cached curve; write ``notes.md`` and ``notes.json``."""
    from .pages import cache_page

    counts: dict[str, Any] = cache_page(
        argv, description=__doc__.split("\n\n")[0], name="notes", compute=count, render=render
    )
    return counts


if __name__ == "__main__":
    main(sys.argv[1:])
