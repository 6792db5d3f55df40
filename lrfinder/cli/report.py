"""``lrfind report``: re-render saved results (``--json`` files) as a report; several overlay.

A single file's saved schedule (``"schedule"``, written when the run's report drew one) is drawn
again in the schedule panel.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._text import parse_json, read_text
from .config import ConfigCommand
from .errors import clean_errors, debug_flag
from .options import CONTEXT, FilePath, common_options, one_line, report_option
from .output import check_writable, in_cli_words, setup_logging, write_error
from .pipeline import check_outputs_not_inputs

if TYPE_CHECKING:
    from ..range_test import RangeTestResult

__all__ = ["BadResultFile", "command", "load_results"]


class BadResultFile(click.UsageError):
    """A RESULTS file that ``lrfind report`` cannot read as a result: a usage error (exit 2).

    Like a bad option value, it is caught before any work, and the fix is on the command line:
    pass a file written by ``lrfind run --json``. The message names the file and says so.
    """


def _result_of(path: str, doc: Any, where: str = "") -> RangeTestResult:
    """One range-test result from its JSON object, or a clear error naming the file.

    Raises:
        BadResultFile: Not an ``lrfind`` result, another schema version, or a malformed one.

    """
    from ..range_test import RangeTestResult, schema_version_problem

    if not isinstance(doc, dict):
        raise BadResultFile(
            f"{path}{where} is not a range-test result (a JSON {_json_type(doc)}, expected an object). Pass a "
            "file written by lrfind run --json."
        )
    if "schema_version" not in doc:
        raise BadResultFile(
            f"{path}{where} is not an lrfind result (no schema_version key). Pass a file written by lrfind run --json."
        )
    problem = schema_version_problem(doc["schema_version"], again="lrfind run --json")
    if problem is not None:
        raise BadResultFile(f"{path}{where} cannot be read: {problem}")
    lrs, losses = doc.get("lrs"), doc.get("losses")
    if not (isinstance(lrs, list) and isinstance(losses, list) and lrs and len(lrs) == len(losses)):
        raise BadResultFile(
            f"{path}{where} is a malformed lrfind result: 'lrs' and 'losses' must be non-empty lists of the same "
            "length. Re-run lrfind run --json."
        )
    try:
        return RangeTestResult.from_dict(doc)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        # from_dict's own words ("unknown key 'zzz' in settings"); its cause was Python's ("RangeTestSettings.
        # __init__() got an unexpected keyword argument 'zzz'").
        text = f"missing key {exc.args[0]!r}" if isinstance(exc, KeyError) else one_line(exc)
        text = text.removeprefix("Malformed range-test result: ").rstrip(".")
        raise BadResultFile(
            f"{path}{where} is a malformed lrfind result ({text}). Re-run lrfind run --json."
        ) from None


def _json_type(doc: Any) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return names.get(type(doc), type(doc).__name__)


def _schedule_of(path: str, doc: Any) -> tuple[list[float], str | None, str] | None:
    """The schedule a run saved with its result (``"schedule"``: name, kind and LRs), ``None`` without one.

    Files written before the schedule was saved have no ``"schedule"`` key: they load as before.
    The kind is ``"planned"`` (``lrfind run``) or ``"applied"`` (``lrfind fit``); a schedule
    saved before it was recorded has none and reads as planned, as its report titled it.

    Raises:
        BadResultFile: A ``"schedule"`` that is not ``{"name": str or null, "kind": "planned" or
            "applied" (optional), "lrs": [LRs >= 0]}``.

    """
    saved = doc.get("schedule") if isinstance(doc, dict) else None
    if saved is None:
        return None
    lrs = saved.get("lrs") if isinstance(saved, dict) else None
    name = saved.get("name") if isinstance(saved, dict) else None
    kind = saved.get("kind", "planned") if isinstance(saved, dict) else None
    numbers = isinstance(lrs, list) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0 for v in lrs
    )
    if not (numbers and lrs and (name is None or isinstance(name, str)) and kind in ("planned", "applied")):
        raise BadResultFile(
            f"{path} is a malformed lrfind result ('schedule' must be an object with 'name' (a string or null), "
            "'kind' ('planned' or 'applied', optional) and 'lrs' (a non-empty list of LRs >= 0)). Re-run lrfind run "
            "--json."
        )
    return [float(v) for v in lrs], name, str(kind)


def load_results(
    paths: tuple[str, ...],
) -> tuple[list[RangeTestResult], int | None, tuple[list[float], str | None, str] | None]:
    """Read result files (single results or weight-decay sweeps); return them, the highlight and the schedule.

    The schedule (its LRs, name and kind) is the one a single file saved with its result (the
    report drew it: ``lrfind run --scheduler``'s plan, kind ``"planned"``, or the LRs ``lrfind
    fit`` trained with, kind ``"applied"``); ``None`` for several files, or a file without one.

    Raises:
        BadResultFile: A file that is not valid JSON, not an ``lrfind`` result, or a malformed
            one (a usage error, exit 2); the message names the file and what to do.

    """
    loaded: list[RangeTestResult] = []
    sources: list[tuple[str, bool]] = []  # each curve's file, and whether it is part of a sweep
    highlight = None
    schedule = None
    for path in paths:
        try:
            doc = parse_json(read_text(Path(path)))
        except OSError as exc:
            raise BadResultFile(
                f"cannot read {path}: {exc.strerror or one_line(exc)}. Pass a readable file written by lrfind run "
                "--json."
            ) from None
        except UnicodeDecodeError as exc:
            raise BadResultFile(
                f"{path} is not UTF-8 text (byte {exc.start}), so not a JSON result file. Pass a file written "
                "by lrfind run --json."
            ) from None
        except json.JSONDecodeError as exc:
            raise BadResultFile(
                f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}). Pass a file "
                "written by lrfind run --json."
            ) from None
        except ValueError as exc:  # nested too deep, a number too long: parse_json says which
            raise BadResultFile(
                f"{path} is not an lrfind result: {exc}, which no result holds. Pass a file written by lrfind run "
                "--json."
            ) from None
        if isinstance(doc, dict) and doc.get("kind") == "weight_decay_sweep":
            parts = doc.get("results")
            if not (isinstance(parts, list) and parts):
                raise BadResultFile(
                    f"{path} is a malformed weight-decay sweep ('results' must be a non-empty list). Re-run lrfind "
                    "run --json."
                )
            loaded.extend(_result_of(path, d, f" (results[{i}])") for i, d in enumerate(parts))
            sources.extend((path, True) for _ in parts)
            index = doc.get("recommended_index")
            if len(paths) == 1 and isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(parts):
                highlight = index
        else:
            loaded.append(_result_of(path, doc))
            sources.append((path, False))
        found = _schedule_of(path, doc)
        if len(paths) == 1:
            schedule = found
    if len(loaded) > 1:
        names = _file_names(paths)
        loaded = [_labelled(r, names[path], swept and len(paths) > 1) for r, (path, swept) in zip(loaded, sources)]
    return loaded, highlight, schedule


def _file_names(paths: tuple[str, ...]) -> dict[str, str]:
    """Each file's name in an overlay's legend: its stem, after as many of its folders as tell it apart.

    Results of separate runs are often all called ``result.json``, in folders of their own
    (``run1/result.json run2/result.json``): named by the stem alone, every curve was ``result``.
    A stem that another file shares gets the folders that tell the two apart, read from the
    absolute path (``run1/result``, ``run2/result``); the same file passed twice keeps its stem.
    """
    full = {path: Path(os.path.abspath(path)) for path in paths}
    keys = {path: (*f.parent.parts, f.stem) for path, f in full.items()}
    names: dict[str, str] = {}
    for path, key in keys.items():
        others = [k for p, k in keys.items() if full[p] != full[path] and k[-1] == key[-1]]
        depth = 1
        while depth < len(key) and any(k[-depth:] == key[-depth:] for k in others):
            depth += 1
        names[path] = "/".join(key[-depth:])
    return names


def _labelled(result: RangeTestResult, name: str, name_the_file: bool) -> RangeTestResult:
    """``result`` with a legend label that tells it from the other curves of the overlay.

    An unlabelled result is named by its file (:func:`_file_names`: the stem, with folders when
    another file has the same stem). A sweep's curves are labelled by their weight decay
    (``wd=0``), which two sweeps overlaid share: then the file's name goes first (``adam, wd=0``).
    """
    if not result.label:
        return replace(result, label=name)
    return replace(result, label=f"{name}, {result.label}") if name_the_file else result


@click.command(
    "report",
    cls=ConfigCommand,  # no --config here: for its answer to fit's -o/--output (--report)
    short_help="Re-render saved results (JSON) as a report; several overlay.",
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  lrfind report result.json
  lrfind report result.json --report curve.svg --title "ResNet-18, batch 256"
  lrfind report sgd.json adam.json --report compare.png""",
)
@click.argument("results", nargs=-1, required=True, type=FilePath(exists=True, dir_okay=False))
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
    check_writable({"--report": report})
    with clean_errors(debug):
        loaded, highlight, schedule = load_results(results)
        from ..report import command_line_words, save_report

        worded = [in_cli_words(r) for r in loaded]
        lrs, name, kind = schedule if schedule is not None else (None, None, "planned")
        try:
            # The whole reason: the JSON's "error", not result.error, nor a summary's row: re-rendering prints none.
            with command_line_words(summary=False):
                save_report(
                    worded if len(worded) > 1 else worded[0],
                    report,
                    title=title,
                    highlight=highlight,
                    schedule=lrs,
                    schedule_name=name,
                    schedule_kind=kind,
                )
        except OSError as exc:
            # The atomic write says it of the report's path (not its temporary file): run's words for it.
            if exc.filename is None or Path(exc.filename) != Path(report):
                raise
            raise write_error(report, exc) from None
        click.echo(f"wrote {report}")
