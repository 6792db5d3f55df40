"""``lrfind report``: re-render saved results (``--json`` files) as a report; several overlay."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .errors import clean_errors, debug_flag
from .options import CONTEXT, common_options, report_option
from .output import setup_logging
from .pipeline import check_outputs_not_inputs

if TYPE_CHECKING:
    from ..range_test import RangeTestResult

__all__ = ["command", "load_results"]


def load_results(paths: tuple[str, ...]) -> tuple[list[RangeTestResult], int | None]:
    """Read result files (single results or weight-decay sweeps); return them and the highlight.

    Raises:
        click.ClickException: A file that is not a range-test result (exit 1).

    """
    from ..range_test import RangeTestResult

    loaded: list[RangeTestResult] = []
    highlight = None
    for path in paths:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"{path} is not a JSON result file: {exc}") from None
        if isinstance(doc, dict) and doc.get("kind") == "weight_decay_sweep":
            try:
                parts = [RangeTestResult.from_dict(d) for d in doc["results"]]
            except (KeyError, TypeError) as exc:
                raise click.ClickException(f"{path} is a malformed sweep file: {exc!r}") from None
            if len(paths) == 1:
                highlight = doc.get("recommended_index")
            loaded.extend(parts)
        elif isinstance(doc, dict):
            try:
                loaded.append(RangeTestResult.from_dict(doc))
            except ValueError as exc:
                raise click.ClickException(f"{path}: {exc}") from None
        else:
            raise click.ClickException(f"{path} is not a range-test result (expected a JSON object).")
    if len(loaded) > 1 and len(loaded) == len(paths):
        loaded = [r if r.label else replace(r, label=Path(p).stem) for r, p in zip(loaded, paths)]
    return loaded, highlight


@click.command(
    "report",
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  lrfind report result.json
  lrfind report result.json --report curve.svg --title "ResNet-18, batch 256"
  lrfind report sgd.json adam.json --report compare.png""",
)
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@report_option
@click.option("--title", help="Replace the report's title.")
@common_options
@click.pass_context
def command(
    ctx: click.Context, results: tuple[str, ...], report: str, title: str | None, quiet: bool, debug: bool
) -> None:
    """Re-render saved RESULTS (JSON from --json) as a report; several files overlay."""
    debug = debug_flag(ctx, debug)
    setup_logging(quiet, debug)
    check_outputs_not_inputs(list(results), [report])
    with clean_errors(debug):
        loaded, highlight = load_results(results)
        from ..report import save_report

        save_report(loaded if len(loaded) > 1 else loaded[0], report, title=title, highlight=highlight)
        click.echo(f"wrote {report}")
