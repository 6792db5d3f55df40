"""Words of messages that need no numpy: counts in singular or plural, and the values a list repeats.

Kept apart from :mod:`lrfinder._checks` (which imports numpy) so that ``lrfind``'s options and output import
them without numpy at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``count`` and ``noun``, plural (``nouns``, else ``noun`` and an s) but for one: ``1 epoch``, ``4 epochs``.

    For the counts the summary and the report write (a refine note's ``1 other trial of 2``, ``2 training
    batches``), which read ``1 other trial(s)`` with the plural left to the reader.
    """
    return f"{count} {word(count, noun, nouns)}"


def word(count: int, noun: str, nouns: str | None = None) -> str:
    """``noun`` for a count of one, else its plural (``nouns``, else ``noun`` and an s), without the count.

    For a noun before the names it counts (``the setting eps``, ``the settings eps, lr``) and a verb that
    agrees with a count (``word(n, "is", "are")``), where messages wrote ``setting(s)``.
    """
    return noun if count == 1 else nouns or noun + "s"


def repeated(values: Sequence[Any]) -> list[Any]:
    """The values that occur more than once in ``values``, each once, sorted: what a refusal of repeats names."""
    return sorted({v for v in values if values.count(v) > 1})


def first_clause(message: str, limit: int = 70) -> str:
    """The gist of an error message, for a report's header or a summary's row.

    After its ``"Cannot ...: "`` lead, up to the first bracket, semicolon or sentence end, e.g.
    ``"B_simple is estimated at 0.00028, below one example"``; at most ``limit`` characters.
    """
    gist = message.split(": ", 1)[1] if message.startswith("Cannot ") and ": " in message else message
    gist = re.split(r" \(|; |\. ", gist, maxsplit=1)[0].rstrip(".")
    return gist if len(gist) <= limit else gist[: limit - 1].rstrip() + "…"


def unmeasured_noise(reason: str) -> str:
    """Why the critical batch was not measured, in a line: the gist of ``reason`` and where the whole of it is.

    The whole reason (a noise scale's can run to 8 lines, with what to do) is the result's ``noise_error``.

    Example:
        >>> unmeasured_noise("Cannot measure the gradient noise scale: B_simple is estimated at 0.5, below one "
        ...                  "example (batch sizes 32 and 128, 9 steps): the batches carry no sampling noise.")
        'not measured (B_simple is estimated at 0.5, below one example; noise_error says why)'

    """
    return f"not measured ({first_clause(reason)}; noise_error says why)"
