"""``lrfind list``: the names ``lrfind`` accepts, from :mod:`lrfinder.names` (no torch imported)."""

from __future__ import annotations

import click

from ..names import LOSSES, OPTIMIZER_SUMMARIES, RULE_DESCRIPTIONS, SCALING_SUMMARIES, SCHEDULER_SUMMARIES
from .options import CONTEXT

__all__ = ["command"]


@click.command("list", context_settings=CONTEXT, epilog="\b\nExamples:\n  lrfind list")
def command() -> None:
    """List the optimizers, schedulers, scaling rules, suggestion rules and losses."""
    click.echo("optimizers:")
    for name, summary in OPTIMIZER_SUMMARIES.items():
        click.echo(f"  {name:<12}{summary}")
    click.echo("  (also any torch.optim class name, or package.module:Class)")
    click.echo("schedulers:")
    for name, summary in SCHEDULER_SUMMARIES.items():
        click.echo(f"  {name:<12}{summary}")
    click.echo("scaling rules:")
    for name, summary in SCALING_SUMMARIES.items():
        click.echo(f"  {name:<12}{summary}")
    click.echo("suggestion rules:")
    for name, summary in RULE_DESCRIPTIONS.items():
        click.echo(f"  {name:<18}{summary}")
    click.echo("losses:")
    for name, summary in LOSSES.items():
        click.echo(f"  {name:<16}{summary}")
