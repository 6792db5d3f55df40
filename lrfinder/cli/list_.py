"""``lrfind list``: the names ``lrfind`` accepts, from :mod:`lrfinder.names` (no torch imported)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from ..names import LOSSES, OPTIMIZER_SUMMARIES, RULE_DESCRIPTIONS, SCALING_SUMMARIES, SCHEDULER_SUMMARIES
from .formatting import Command
from .options import CONTEXT

__all__ = ["command"]


@click.command(
    "list",
    cls=Command,
    short_help="List the optimizers, schedulers, rules and losses lrfind takes.",
    context_settings=CONTEXT,
    epilog="\b\nExamples:\n  lrfind list",
)
def command() -> None:
    """List the optimizers, schedulers, scaling rules, suggestion rules and losses."""
    sections: dict[str, Mapping[Any, str]] = {
        "optimizers": OPTIMIZER_SUMMARIES,
        "schedulers": SCHEDULER_SUMMARIES,
        "scaling rules": SCALING_SUMMARIES,
        "suggestion rules": RULE_DESCRIPTIONS,
        "losses": LOSSES,
    }
    # One column for every section, two spaces past the longest name, so the descriptions line up.
    width = max(len(name) for table in sections.values() for name in table) + 2
    for title, table in sections.items():
        click.echo(f"{title}:")
        for name, summary in table.items():
            click.echo(f"  {name:<{width}}{summary}")
        if title == "optimizers":
            click.echo("  (also any torch.optim class name, or package.module:Class)")
