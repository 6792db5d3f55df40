"""``python -m lrfinder.cli ...``: the ``lrfind`` command line (kept for older scripts)."""

from __future__ import annotations

from . import main

if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    main(prog_name="lrfind")
