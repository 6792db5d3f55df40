"""The command line of a results page computed from the benchmark cache alone (nothing trained).

``notes.py`` and ``confidence.py`` read every cached curve, compute counts or scores, and write
``results/<name>.json`` and ``results/<name>.md``; :func:`cache_page` is their shared ``main``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def cache_page(
    argv: Sequence[str] | None,
    *,
    description: str,
    name: str,
    compute: Callable[[Path], Any],
    render: Callable[[Any], str],
    to_json: Callable[[Any], Any] = lambda result: result,
) -> Any:
    """Parse ``--cache-dir``/``--out``, compute from the cache, write ``<name>.json``/``.md``, print the page.

    ``to_json`` picks what of ``compute``'s result goes into the JSON; the result is returned.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--cache-dir", type=Path, default=HERE / "cache")
    parser.add_argument("--out", type=Path, default=HERE / "results", help=f"where {name}.md/.json go")
    args = parser.parse_args(argv)
    result = compute(args.cache_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(to_json(result), indent=1) + "\n")
    text = render(result)
    (args.out / f"{name}.md").write_text(text)
    print(text)
    return result
