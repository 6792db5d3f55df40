"""Words of messages that need no numpy: counts in singular or plural, and the values a list repeats.

Kept apart from :mod:`lrfinder._checks` (which imports numpy) so that ``lrfind``'s options and output import
them without numpy at start-up.
"""

from __future__ import annotations

import re
from collections import Counter
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


#: The verbs an inconclusive curve's message starts its advice with (its "what to do" sentence).
_ADVICE = re.compile(r"(Check|Increase|Raise|Lower|Rescale|Analyse|Steady|Run|Drop|Average|Use|Pass|Try|Set)\b")


def _without_asides(text: str) -> str:
    """``text`` without its bracketed asides, but for those naming a setting (``min_lr=...``, ``--min-lr ...``)."""
    kept: list[str] = []
    depth, start = 0, 0
    for i, char in enumerate(text):
        if char == "(":
            if depth == 0:
                kept.append(text[start:i])
                start = i
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            if depth == 0:
                aside = text[start : i + 1]
                kept.append(aside if re.search(r"=|(^|[ (])--\w", aside) else "")
                start = i + 1
    kept.append(text[start:])
    return re.sub(r"\s+([,.;:])", r"\1", re.sub(r"\s{2,}", " ", "".join(kept))).strip()


def _up_to_remark(sentence: str) -> str:
    """An advice sentence without its asides (but for the settings), up to a remark after a semicolon.

    A remark (``"; more num_steps alone sweeps the same LRs"``) is cut, not a condition (``"; if one step at so small an
    LR cannot move ..."``), which says when the advice holds.
    """
    return re.split(r"; (?!if )", _without_asides(sentence), maxsplit=1)[0]


#: A setting given a value (``min_lr=1.00e-06``, or in ``lrfind``'s words ``--min-lr 1.00e-06``, as its report's
#: message is): what marks the sentence naming the sweep to run again.
_RESWEEP = re.compile(r"\b(min_lr|max_lr|num_steps)=\d|--(min-lr|max-lr|num-steps) \d")


def _resweep_advice(sentence: str, limit: int) -> str:
    """The sentence naming a sweep to run again, without its asides (but for the settings), up to a remark.

    Whole where it fits ``limit``, else from the clause that says to run again (after a colon), so that the
    settings are not the part cut off.
    """
    text = _up_to_remark(sentence).rstrip(".,;: ")
    if len(text) < limit:
        return text
    colon = text.rfind(": ", 0, text.find("run again"))
    clause = text[colon + 2 :] if colon >= 0 else text
    return clause[:1].upper() + clause[1:]


def inconclusive_gist(message: str, limit: int = 160) -> list[str]:
    """An inconclusive curve's message at a glance: what happened, the one thing to do, and the LR to stay below.

    The whole message runs to a dozen lines (why the curve reads no fall, what to check, where it
    blew up, a sweep to run again); the report's box and ``lrfind``'s summary lead with this gist and
    say where the rest is (``result.error``, the JSON's ``error``). Each line is the message's own
    words, cut short: the first sentence to its first clause; the sweep to run again, the first sentence
    naming settings (``min_lr=...``) and saying *run again* (:func:`_resweep_advice`), or where none does
    the first sentence of advice (one starting with a verb such as *Check* or *Increase*), either without
    its asides, but for those naming a setting, up to a remark after a semicolon; and the blow-up the message
    names (:data:`lrfinder.analysis.BLOWUP_NAMED`, imported on call, numpy with it) as
    ``Keep any LR below ...``. A line over ``limit`` characters is cut at a word, with an ellipsis.

    Example:
        >>> gist = inconclusive_gist("The loss is still falling at the largest LR tried (1.00e-02); the test never "
        ...     "reached the divergence region. Increase max_lr and run again, e.g. 3 decades higher (min_lr=1.00e-06, "
        ...     "max_lr=1.00e+01, num_steps=175, the same steps per decade); more num_steps alone sweeps the same LRs.")
        >>> gist[0]
        'The loss is still falling at the largest LR tried.'
        >>> gist[1].removesuffix(" (min_lr=1.00e-06, max_lr=1.00e+01, num_steps=175, the same steps per decade).")
        'Increase max_lr and run again, e.g. 3 decades higher'

    """
    from .analysis import BLOWUP_NAMED, DOUBTFUL_BLOWUP_NAMED

    def cut(line: str) -> str:
        line = line.rstrip(".,;: ") + "."
        return line if len(line) <= limit else line[: line.rfind(" ", 0, limit)].rstrip(",;:") + " …"

    # Sentences end at ". " before a capital: never inside a number (1.00e-02) or "e.g. 3".
    sentences = re.split(r"(?<=\.)\s+(?=[A-Z])", " ".join(message.split()))
    happened = re.split(r": | \(|; ", sentences[0], maxsplit=1)[0]
    lines = [cut(happened)]
    resweep = next((_resweep_advice(s, limit) for s in sentences[1:] if _RESWEEP.search(s) and "run again" in s), None)
    advice = next((s for s in sentences[1:] if _ADVICE.match(s)), None)
    if resweep is not None:
        lines.append(cut(resweep))
    elif advice is not None:
        lines.append(cut(_up_to_remark(advice)))
    for template, words in ((BLOWUP_NAMED, "the loss blew up there"), (DOUBTFUL_BLOWUP_NAMED, "a rise read as a "
                            "blow-up, maybe noise")):  # fmt: skip
        found = re.search(re.escape(template).replace(re.escape("{lr}"), r"([0-9.]+e[+-]\d+)"), message)
        if found:
            lines.append(cut(f"Keep any LR below {found.group(1)}: {words}"))
            break
    return lines


def unmeasured_noise(reason: str) -> str:
    """Why the critical batch was not measured, in a line: the gist of ``reason`` and where the whole of it is.

    The whole reason (a noise scale's can run to 8 lines, with what to do) is the result's ``noise_error``.

    Example:
        >>> unmeasured_noise("Cannot measure the gradient noise scale: B_simple is estimated at 0.5, below one "
        ...                  "example (batch sizes 32 and 128, 9 steps): the batches carry no sampling noise.")
        'not measured (B_simple is estimated at 0.5, below one example; noise_error says why)'

    """
    return f"not measured ({first_clause(reason)}; noise_error says why)"


def top_level_parts(text: str) -> list[str]:
    """``text`` split at the commas outside brackets: ``"adamw, betas=(0.9, 0.95)"`` is two parts."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def optimizers_words(optimizer_name: str | None) -> str | None:
    """A result's ``optimizer_name`` as a person reads it: several optimizers counted, each class once.

    The callback names the optimizers of a manual-optimization module by their classes, comma-separated
    (``"SGD, Adam"``, ``"SGD, SGD"``; older results said ``"SGD,Adam"``, and ``"SGD"`` for two SGDs), which
    :func:`lrfinder.scaling.optimizer_family` parses: said ``"2 optimizers: SGD, Adam"`` and
    ``"2 optimizers: SGD x2"``. One optimizer, or ``lrfind``'s label (``"adamw, weight_decay=1e-02"``: the
    settings after the name), is said as it stands.
    """
    if optimizer_name is None:
        return None
    parts = top_level_parts(optimizer_name)
    if len(parts) < 2 or any("=" in part for part in parts):
        return optimizer_name
    # A Counter keeps the order its keys first came in: each class is said where it first stands.
    named = ", ".join(name if count == 1 else f"{name} x{count}" for name, count in Counter(parts).items())
    return f"{len(parts)} optimizers: {named}"
