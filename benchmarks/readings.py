"""Every recorded curve of the benchmark cache, read by :func:`lrfinder.analysis.read_curve`.

A change to the curve analysis is checked against the curves already recorded: this script reads
every finding's curve in ``benchmarks/cache/*.json`` (lrfinder's own, its Lightning callback's,
Lightning's and torch-lr-finder's, every seed) and the curves under ``tests/data``, and writes
one line per curve: the smoothed minimum ``i_min``, the cut ``end``, the divergence index, the
suggestion (default rule), its one-cycle band and confidence, its notes, or the error. Save the
readings of one version, change the analysis, and compare::

    python -m benchmarks.readings --save /tmp/before.json      # before the change
    python -m benchmarks.readings --against /tmp/before.json   # after it: what changed, and counts

Nothing is trained; it takes seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE_DIR = HERE / "cache"
TEST_DATA = HERE.parent / "tests" / "data"


def cached_curves(
    cache_dir: Path = CACHE_DIR, test_data: Path = TEST_DATA
) -> Iterator[tuple[str, list[float], list[float]]]:
    """``(key, lrs, losses)`` of every recorded curve; ``key`` is ``task|finder|seed|version``."""
    for path in sorted(cache_dir.glob("*.json")):
        data = json.loads(path.read_text())
        for key, finding in sorted(data.get("findings", {}).items()):
            if finding.get("lrs"):
                yield f"{path.stem}|{key}", finding["lrs"], [float(v) for v in finding["losses"]]
    for path in sorted(test_data.glob("*.json")):
        data = json.loads(path.read_text())
        if data.get("lrs"):
            yield f"tests/data/{path.stem}", data["lrs"], [float(v) for v in data["losses"]]


def reading(lrs: Sequence[float], losses: Sequence[float]) -> dict[str, Any]:
    """What lrfinder reads off one curve: indices, the suggestion, or the error."""
    from lrfinder import InconclusiveCurveError, analyze
    from lrfinder.analysis import read_curve

    try:
        r = read_curve(lrs, losses)
        s = analyze(lrs, losses)
    except InconclusiveCurveError as exc:
        return {"error": str(exc)}
    return {
        "n": int(r.lrs.size),
        "i_min": r.i_min,
        "end": r.end,
        "divergence": r.divergence,
        "lr": s.lr,
        "min_lr": s.min_lr,
        "max_lr": s.max_lr,
        "confidence": round(s.confidence, 12),
        "notes": list(s.notes),
    }


def read_all(cache_dir: Path = CACHE_DIR, test_data: Path = TEST_DATA) -> dict[str, dict[str, Any]]:
    """:func:`reading` of every curve of :func:`cached_curves`, by key."""
    return {key: reading(lrs, losses) for key, lrs, losses in cached_curves(cache_dir, test_data)}


def _short(r: dict[str, Any]) -> str:
    if "error" in r:
        return "error: " + r["error"][:70]
    div = "-" if r["divergence"] is None else r["divergence"]
    return (f"i_min={r['i_min']} end={r['end']}/{r['n']} div={div} lr={r['lr']:.2e} "
            f"band={r['min_lr']:.2e}..{r['max_lr']:.2e} conf={r['confidence']:.2f}")


def _curve(key: str) -> str:
    """``task|finder|seed`` of a cache curve's key: the finder's version is left out of the comparison."""
    parts = key.split("|")
    return "|".join(parts[:3]) if len(parts) == 4 else key


def compare(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    """One line per curve whose reading differs (notes included), and a count per finder.

    Curves are matched by task, finder and seed: a finding whose cache key moved to a new version
    of the finder's code (``quality.finder_version``) is compared with the one it replaced.
    """
    shown = {_curve(k): k for side in (before, after) for k in side}  # the key as the current cache has it
    before, after = ({_curve(k): v for k, v in side.items()} for side in (before, after))
    lines = []
    changed: dict[str, int] = {}
    total: dict[str, int] = {}
    for key in sorted(set(before) | set(after)):
        finder = key.split("|")[1] if "|" in key else "tests/data"
        total[finder] = total.get(finder, 0) + 1
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        changed[finder] = changed.get(finder, 0) + 1
        was, now = _short(old) if old else "absent", _short(new) if new else "absent"
        lines.append(f"{shown[key]}\n    before: {was}\n    after:  {now}")
        if old and new and "error" not in old and "error" not in new and old["notes"] != new["notes"]:
            lines.append(f"    notes before: {old['notes']}\n    notes after:  {new['notes']}")
    for finder in sorted(total):
        lines.append(f"{finder}: {changed.get(finder, 0)} of {total[finder]} curves changed")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Read every cached curve; save the readings, or compare them with saved ones."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path, help="write the readings to this JSON file")
    parser.add_argument("--against", type=Path, help="compare with readings saved by --save")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    args = parser.parse_args(argv)
    now = read_all(args.cache_dir)
    if args.save:
        args.save.write_text(json.dumps(now, indent=1, allow_nan=True))
    if args.against:
        print("\n".join(compare(json.loads(args.against.read_text()), now)))
    if not (args.save or args.against):
        for key, r in now.items():
            print(f"{key}: {_short(r)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
