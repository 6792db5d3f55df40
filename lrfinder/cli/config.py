"""``--config FILE``: option values from a TOML file, as click defaults (the command line wins).

Keys are the option names, with dashes or underscores (``num-steps``, ``weight_decay``,
``json``, ``opt``). Top-level keys are shared: a key that *some* command accepts belongs at the
top level, and each command takes the top-level keys it has and ignores the others (so
``output`` or ``val-data``, which only ``fit`` takes, can sit beside ``data``). A ``[run]``,
``[fit]`` or ``[demo]`` table applies to that command only and must hold only its options; every
command checks every table (keys, TOML types, number ranges and choices, and its options together: the band,
the scheduler's settings), so ``lrfind run`` refuses a ``[fit]`` value that ``lrfind fit`` would refuse, though it
does not apply the table.
Anything else fails with a usage error (exit 2) naming the key: an unknown key or table
(``[rnu]``), or a value of the wrong TOML type (``data = 123``, ``json = true``,
``num-steps = 20.7``). Values are never coerced: an integer option needs a TOML integer.

Some options also take TOML's structured values: ``model-args`` a table or an array (the JSON
object or list it stands for, e.g. ``model-args = {hidden = 64}``), ``opt`` /
``scheduler-opt`` a table of settings (``opt = {betas = [0.9, 0.99]}``) or an array of
``"KEY=VALUE"`` strings, ``betas`` an array of two numbers (``betas = [0.9, 0.99]``, or the
string ``"0.9,0.99"``), and ``weight-decay`` a number or an array of numbers.

Example::

    data = "train.npz"
    num-steps = 200
    output = "trained.pt"          # used by fit, ignored by run
    model-args = {hidden = 64}

    [run]
    json = "result.json"

    [fit]
    epochs = 5
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import click

from .._text import read_text
from .formatting import Command

__all__ = [
    "CONFIG_META",
    "CONFIG_TABLE_META",
    "ConfigCommand",
    "ConfigPath",
    "read_toml",
    "load_config",
    "config_option",
    "option_key",
]

#: The key of ``ctx.meta`` that holds the ``--config`` file's path once it is read.
CONFIG_META = "lrfind.config"
#: The key of ``ctx.meta`` that holds the parameter names set in the command's own table
#: (``[run]``, ...): set for this command alone, they count as chosen for it, as typed options
#: do; a top-level key is shared by every command and may not apply to this one.
CONFIG_TABLE_META = "lrfind.config.table"

#: Options whose TOML value may be a table or an array, written back as the JSON the option takes.
_JSON_KEYS = ("model_args",)
#: Repeatable ``KEY=VALUE`` options: a TOML table or an array of strings.
_SETTING_KEYS = ("opt_settings", "scheduler_opt")


def read_toml(path: str) -> dict[str, Any]:
    """Read a TOML file.

    Raises:
        click.BadParameter: The file cannot be read, is not UTF-8 or is not valid TOML (a usage
            error, exit 2).

    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        table: dict[str, Any] = tomllib.loads(read_text(Path(path)))  # tomli (Python 3.10) may be untyped
        return table
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint="--config") from None
    except UnicodeDecodeError as exc:
        raise click.BadParameter(
            f"{path} is not UTF-8 text (byte {exc.start}); save the TOML file as UTF-8", param_hint="--config"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's words end "(at line 3, column 8)"; said plainly, with what a value looks like in TOML.
        why = re.sub(r"\s*\((at line \d+, column \d+)\)$", r" \1", str(exc))
        raise click.BadParameter(
            f"{path} is not valid TOML ({why}). Fix that line: a value is a quoted string, a number, true/false, "
            'or a [list], e.g. data = "train.npz" or num-steps = 100',
            param_hint="--config",
        ) from None


def option_key(param: click.Parameter) -> str:
    """The name a config file uses for ``param``: its long option name without dashes (``json``)."""
    for opt in param.opts:
        if opt.startswith("--"):
            return opt[2:]
    return (param.name or "").replace("_", "-")


def _keys_of(command: click.Command) -> dict[str, click.Parameter]:
    """The config keys of one command (dashes and underscores both), to its parameters."""
    keys: dict[str, click.Parameter] = {}
    for param in command.params:
        if param.name in (None, "config", "help"):
            continue
        keys[option_key(param).replace("-", "_")] = param
    return keys


def _configurable(ctx: click.Context) -> dict[str, click.Command]:
    """Every command of this ``lrfind`` that reads ``--config``, by name (at least the running one)."""
    commands: dict[str, click.Command] = {}
    root = ctx.find_root().command
    if isinstance(root, click.Group):
        for name, cmd in root.commands.items():
            if any(p.name == "config" for p in cmd.params):
                commands[name] = cmd
    commands[ctx.command.name or ""] = ctx.command
    return commands


def _unknown_key(key: str, keys: Mapping[str, click.Parameter], where: str, path: str) -> click.BadParameter:
    import difflib  # only on this error path: start-up stays light

    names = sorted({k.replace("_", "-") for k in keys})
    # A parameter's internal name (csv_path, opt_settings) points to its option name (csv, opt).
    internal = [option_key(p) for p in keys.values() if p.name == key.replace("-", "_")]
    # A peer's name (end_lr, torch-lr-finder's) is answered with lrfinder's, as range_test answers it: difflib's
    # guess by spelling was 'min-lr'.
    peer = _peer_name(key, names)
    close = internal or ([peer] if peer else difflib.get_close_matches(key.replace("_", "-"), names, n=1))
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return click.BadParameter(
        f"unknown key {key!r}{where or ' in'} {path}{hint}; valid keys: {', '.join(names)}", param_hint="--config"
    )


def _unknown_table(key: str, commands: Iterable[str], path: str) -> click.BadParameter:
    import difflib

    names = sorted(commands)
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean [{close[0]}]?)" if close else ""
    return click.BadParameter(
        f"unknown table [{key}] in {path}{hint}; valid tables: {', '.join(f'[{n}]' for n in names)}",
        param_hint="--config",
    )


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _toml(value: Any) -> str:
    """A value as TOML writes it (``true``, ``"x"``, ``[1, 2]``), for messages."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _typed(param: click.Parameter, key: str, value: Any, path: str, table: str | None = None) -> Any:
    """Check a TOML value against what ``param`` takes; return it as click's default.

    Args:
        param: The option the key sets.
        key: The key as the file spells it.
        value: Its TOML value.
        path: The file.
        table: The command whose table (``[fit]``) holds the key; ``None`` for a top-level key.

    Raises:
        click.BadParameter: A value of the wrong TOML type, naming the key and the expected type.

    """
    name = param.name or ""
    where = f"in [{table}] of" if table else "in"

    def wrong(expected: str) -> click.BadParameter:
        return click.BadParameter(
            f"key {key!r} {where} {path} expects {expected}, but got {_toml_type(value)} ({_toml(value)})",
            param_hint="--config",
        )

    if name in _JSON_KEYS:
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        if isinstance(value, str):
            return value
        raise wrong("a table, an array or a JSON string")
    if name in _SETTING_KEYS:
        if isinstance(value, dict):
            return [f"{k}={json.dumps(v)}" for k, v in value.items()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        if isinstance(value, str):
            return [value]
        raise wrong('a table (e.g. {betas = [0.9, 0.99]}) or an array of "KEY=VALUE" strings')
    if name == "weight_decay":
        if _is_number(value):
            return [value]
        if isinstance(value, list) and value and all(_is_number(v) for v in value):
            return value
        if isinstance(value, str):
            return value
        raise wrong("a number or an array of numbers")
    if name == "betas":
        if isinstance(value, str):
            return value  # "0.9,0.999", checked as --betas is
        pair_ok = isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)
        if pair_ok and all(0 <= v < 1 for v in value):  # nan fails too
            return ",".join(str(v) for v in value)
        raise wrong('two numbers in [0, 1), as an array [0.9, 0.999] or a string "0.9,0.999"')
    if name == "stop_factor":
        if _is_number(value) or isinstance(value, str):
            return value
        raise wrong('a number or "none"')
    ptype = param.type
    if isinstance(param, click.Option) and param.is_flag or isinstance(ptype, click.types.BoolParamType):
        if isinstance(value, bool):
            return value
        raise wrong("true or false")
    if isinstance(ptype, click.types.IntParamType):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise wrong("an integer")
    if isinstance(ptype, click.types.FloatParamType):
        if _is_number(value):
            return value
        raise wrong("a number")
    if isinstance(value, str):
        return value
    raise wrong("a string")


def load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Turn a TOML file into click defaults for the running command (a click callback).

    Raises:
        click.BadParameter: An unknown key or table, a key of another command inside this
            command's table, or a value of the wrong type (all usage errors, exit 2).

    """
    if value is None:
        return None
    data = read_toml(value)
    command = ctx.command.name or ""
    commands = _configurable(ctx)
    mine = _keys_of(ctx.command)
    shared: dict[str, click.Parameter] = {}
    for cmd in commands.values():
        for key, p in _keys_of(cmd).items():
            shared.setdefault(key, p)

    chosen: dict[str, tuple[str, Any]] = {}
    for key, item in data.items():
        norm = key.replace("-", "_")
        if isinstance(item, dict) and key in commands:
            continue  # a command's table, read below
        if norm not in shared:
            if isinstance(item, dict):
                raise _unknown_table(key, commands, value)
            raise _unknown_key(key, shared, "", value)
        # Checked even when this command ignores it: the file means the same for every command.
        _typed(shared[norm], key, item, value)
        if norm in mine:
            chosen[norm] = (key, item)
    # Another command's table is checked as that command checks it (and then passed over): a file that `lrfind fit`
    # refuses (`[fit] epochs = "ten"`) is refused by `lrfind run` too, before its test, as a top-level key is.
    for name in sorted(set(commands) - {command}):
        table = data.get(name)
        if isinstance(table, dict):
            for norm, (key, item) in _table_keys(name, table, commands, value).items():
                _check_as_command(_keys_of(commands[name])[norm], key, item, value, name, ctx)
            _check_across(commands[name], name, data, value)
    section = data.get(command, {})
    in_table: set[str] = set()
    if isinstance(section, dict):
        for norm, key_item in _table_keys(command, section, commands, value).items():
            chosen[norm] = key_item
            in_table.add(norm)

    defaults: dict[str, Any] = {}
    for norm, (key, item) in chosen.items():
        p = mine[norm]
        defaults[p.name or norm] = _typed(p, key, item, value, command if norm in in_table else None)
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    table = section if isinstance(section, dict) else {}
    ctx.meta[CONFIG_TABLE_META] = frozenset(mine[k.replace("-", "_")].name for k in table)
    # An input of the command: no output may be written over it (see Options.inputs).
    ctx.meta[CONFIG_META] = value
    return value


def _table_keys(
    command: str, table: Mapping[str, Any], commands: Mapping[str, click.Command], path: str
) -> dict[str, tuple[str, Any]]:
    """The keys of ``command``'s table (``[fit]``), checked: each an option of that command, of the right type.

    Returns:
        Each key's parameter name, to the key as spelled and its value.

    Raises:
        click.BadParameter: A key of another command, an unknown key, or a value of the wrong type.

    """
    keys = _keys_of(commands[command])
    found: dict[str, tuple[str, Any]] = {}
    for key, item in table.items():
        norm = key.replace("-", "_")
        if norm not in keys:
            others = [name for name, cmd in commands.items() if norm in _keys_of(cmd)]
            if others:
                takes = "takes" if len(others) == 1 else "take"
                raise click.BadParameter(
                    f"key {key!r} in [{command}] of {path} is not an option of lrfind {command} (only "
                    f"{' and '.join(others)} {takes} it); move it to the top level or to [{others[0]}]",
                    param_hint="--config",
                )
            raise _unknown_key(key, keys, f" in [{command}] of", path)
        _typed(keys[norm], key, item, path, command)
        found[norm] = (key, item)
    return found


def _check_as_command(param: click.Parameter, key: str, value: Any, path: str, table: str, ctx: click.Context) -> None:
    """Refuse a value of ``table``'s command (``[fit]``) as that command refuses it when it parses its options.

    The value goes through click's own processing of ``param`` (its type, then its callback), as the command that
    reads the table processes it: a number out of range, a name not among the choices, and what the options' own
    checks refuse (``scheduler = "cosin"``, an ``output`` named ``.npz``) are refused by every command, with the
    message that command gives (``Invalid value for '--epochs' (set in [fit] of lrfind.toml): -3 is not in the
    range x>=1``). The checks across options are :func:`_check_across`'s; those that need the data are left to
    the command.

    Raises:
        click.BadParameter: The value is refused, naming the option and the table and file that set it.

    """
    typed = _typed(param, key, value, path, table)
    try:
        param.process_value(ctx, typed)
    except click.BadParameter as exc:
        if _lacking_here(param, typed):
            return  # the file or the device may be where that command runs: it checks them there
        # click's own hint ('--output' / '-o'), as the command gives it, then where the value was set.
        hint = f"{param.get_error_hint(ctx)} (set in [{table}] of {path})"
        raise click.BadParameter(exc.message, param_hint=hint) from None


def _check_across(command: click.Command, name: str, data: Mapping[str, Any], path: str) -> None:
    """Refuse another command's table (``[fit]``) whose options disagree, as that command refuses them.

    :func:`_check_as_command` checks each value alone; the checks across options (an inverted band
    ``min-lr = 1``, ``max-lr = 0.1``; ``scheduler-opt`` settings the ``scheduler`` does not take) ran only in the
    command that reads the table, so ``lrfind fit`` refused a file ``lrfind run`` took. The table's values go
    over the top-level ones the command takes. Checked when the table sets one of the options concerned and the
    file sets all of them (the table, or the top level): a default may be replaced on that command's line, so a
    ``[fit] min-lr = 20`` for ``lrfind fit --max-lr 100`` is no error, while ``min-lr = 20`` with ``max-lr = 10``
    is one whatever the command line adds. The top-level ones alone are the running command's to check.

    Raises:
        click.BadParameter: The options disagree; the message names the table and the file.

    """
    from ..schedulers import check_scheduler_settings
    from .options import key_values  # options imports this module

    keys = _keys_of(command)
    values: dict[str, Any] = {}  # what the file sets for the command, the table's over the top level's
    table = data.get(name, {})
    for key, item in [*((k, v) for k, v in data.items() if not isinstance(v, dict)), *table.items()]:
        norm = key.replace("-", "_")
        if norm in keys:
            values[norm] = _typed(keys[norm], key, item, path, name)
    mine = {key.replace("-", "_") for key in table}

    def concerned(*options: str) -> bool:
        """Whether the table sets one of ``options`` and the file sets all of them."""
        return bool(mine.intersection(options)) and all(option in values for option in options)

    where = f"(set in [{name}] of {path})"
    low, high = values.get("min_lr"), values.get("max_lr")
    inverted = _is_number(low) and _is_number(high) and not cast(float, high) > cast(float, low)
    if concerned("min_lr", "max_lr") and inverted:
        raise click.BadParameter(
            f"expected --max-lr > --min-lr, but got --min-lr {low:g} --max-lr {high:g}",
            param_hint=f"--max-lr {where}",
        )
    scheduler, settings = values.get("scheduler"), values.get("scheduler_opt")
    if concerned("scheduler", "scheduler_opt") and isinstance(scheduler, str) and settings:
        # warmup_start_factor is the commands' too (create_scheduler's own, for the warm-up): lrfind fit trained
        # with it, and lrfind run refused the [fit] table as "Scheduler 'cosine' does not take" it.
        given = {k: v for k, v in key_values(settings, "--scheduler-opt").items() if k != "warmup_start_factor"}
        try:
            check_scheduler_settings(scheduler, given, keywords=("warmup_start_factor",))
        except (TypeError, ValueError) as exc:
            raise click.BadParameter(f"--scheduler {scheduler}: {exc}", param_hint=f"--scheduler-opt {where}") from None


def _lacking_here(param: click.Parameter, value: Any) -> bool:
    """Whether ``param`` refused ``value`` for what this machine lacks, not for the value itself.

    A data file that is not here (``[fit] val-data = "/data/val.npz"``) or a device this machine has not
    (``[fit] device = "cuda"`` on a laptop) may be where the table's command runs, with the same file: that
    command refuses them when it parses its options, before any work. A data file of another format, a NUL byte
    in a path or a name that is no torch device (``"cdua"``) is refused everywhere.
    """
    from .options import DataSpec, expand_home  # options imports this module

    if isinstance(param.type, DataSpec) and isinstance(value, str) and "\0" not in value:
        return not os.path.lexists(expand_home(value))
    if param.name == "device" and isinstance(value, str):
        import torch

        try:
            torch.device(value)
        except (RuntimeError, TypeError):
            return False
        return True
    return False


class ConfigPath(click.Path):
    """An existing file, a leading ``~`` made the home directory first (as the other path options do).

    A shell leaves the ``~`` of ``--config=~/lrfind.toml`` as it is, and ``click.Path(exists=True)``
    then found no file named ``~/lrfind.toml`` under the current directory. A missing file is a
    usage error naming the path as given and the path it stands for.
    """

    def __init__(self) -> None:
        super().__init__(exists=True, dir_okay=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Expand a leading ``~``, then check the file as :class:`click.Path` does."""
        from .options import expand_home  # options imports this module

        given = os.fspath(value)
        text = expand_home(given)
        if text != given and not os.path.exists(text):
            self.fail(f"{given!r} ({text}) does not exist.", param, ctx)
        return super().convert(text, param, ctx)


def _typed_on_the_command_line(param: click.Parameter, args: Sequence[str]) -> bool:
    """Whether one of ``param``'s option names is among the raw ``args`` (``--data x``, ``--data=x``, ``-ox``)."""
    names = [*param.opts, *param.secondary_opts]
    for arg in args:
        if arg == "--":
            break
        for name in names:
            if arg == name or (name.startswith("--") and arg.startswith(name + "=")):
                return True
            if not name.startswith("--") and len(name) == 2 and arg.startswith(name):
                return True
    return False


#: lrfinder's Python names whose option is spelt otherwise (``loss_fn=`` is ``--loss``).
_OPTION_OF = {"loss_fn": "loss"}


def _peer_name(typed: str, names: Collection[str]) -> str | None:
    """The name in ``names`` (``max-lr``) a peer's name for it stands for (``end-lr``, ``--end_lr``), or ``None``.

    The peers' names are :data:`lrfinder.names.PEER_OPTION_NAMES` (torch-lr-finder's ``end_lr``, Lightning's
    ``num_training``), the ones ``range_test`` answers with its own.
    """
    from ..names import PEER_OPTION_NAMES

    target = PEER_OPTION_NAMES.get(typed.lstrip("-").replace("-", "_"))
    name = None if target is None else _OPTION_OF.get(target, target).replace("_", "-")
    return name if name in names else None


def _peer_option(typed: str, command: click.Command) -> str | None:
    """The option of ``command`` a peer's name stands for (``--end-lr`` -> ``--max-lr``), or ``None``."""
    options = [opt for param in command.params for opt in param.opts if opt.startswith("--")]
    name = _peer_name(typed, [opt[2:] for opt in options])
    return None if name is None else f"--{name}"


#: What each file option of ``run``, ``demo`` and ``report`` writes, for a user who typed ``fit``'s ``-o``/``--output``.
_WRITES = {"--report": "the report image", "--json": "the result as JSON", "--csv": "the curve as CSV"}


def _files_written(typed: str, command: click.Command) -> str | None:
    """``fit``'s ``-o``/``--output`` typed to a command that writes its files under other options: those options.

    click's own guess for ``lrfind run --output x.png`` was ``--opt`` (the optimizer's keyword arguments), and for
    ``-o`` or ``lrfind report --output`` nothing at all. ``None`` for any other option, or where ``-o`` exists.
    """
    options = {opt for param in command.params for opt in param.opts}
    if typed not in ("-o", "--output", "--out") or typed in options:
        return None
    writes = [f"{option} PATH ({what})" for option, what in _WRITES.items() if option in options]
    if not writes:
        return None
    listed = writes[0] if len(writes) == 1 else ", ".join(writes[:-1]) + " and " + writes[-1]
    return (
        f"No such option '{typed}': lrfind {command.name} writes {listed}; -o/--output is lrfind fit's, for the "
        "trained model."
    )


class ConfigCommand(Command):
    """A command with ``--config``: a value the file set that click refuses is said to come from the file.

    ``data = "train.npz"`` in a config file used from another directory was refused as "Invalid
    value for '--data': file 'train.npz' does not exist", an option the user never typed, with
    nothing saying that the value came from the file, and that its paths are read from the
    current directory. The refusal now names the file: ``Invalid value for '--data' (set in
    conf/lrfind.toml)``.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse as click does; a refused value from the ``--config`` file names the file.

        ``fit``'s ``-o``/``--output`` typed to ``run``, ``demo`` or ``report`` is answered with the options that
        command writes its files with (``--report``, ``--json``, ``--csv``). An unknown option that is a peer's
        name for one of the command's (``--end-lr``, torch-lr-finder's
        ``end_lr``) is answered with it (``--max-lr``), as ``range_test`` answers ``end_lr=``: click's own guess
        by spelling offered ``--max-lr``, ``--strict`` and ``--target`` for ``--start-lr``, and ``--training-steps``
        (refinement's budget) for Lightning's ``--num-training``.
        """
        given = list(args)
        hint = self._extra_argument_hint(ctx, given)
        if hint is not None:
            raise click.UsageError(hint, ctx)
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            meant = _peer_option(exc.option_name, self)
            if meant is not None:
                exc.possibilities = [meant]
            written = _files_written(exc.option_name, self)
            if written is not None:
                raise click.NoSuchOption(exc.option_name, written, ctx=ctx) from None
            raise
        except click.BadParameter as exc:
            path = ctx.meta.get(CONFIG_META)
            param = exc.param
            if (
                path
                and exc.param_hint is None
                and param is not None
                and param.name in (ctx.default_map or {})
                and not _typed_on_the_command_line(param, given)
            ):
                exc.param_hint = f"{param.get_error_hint(ctx)} (set in {path})"
            raise


    def _extra_argument_hint(self, ctx: click.Context, given: list[str]) -> str | None:
        """What an argument past the command's own, or a MODEL that is no file, meant, where it can be told.

        ``lrfind run model.pt train.npz`` was told "Missing option '--data'", and ``--betas 0.9 0.999`` "Got
        unexpected extra argument (0.999)": the data file and the second beta are named, with the form to type. A
        value typed one too many for an option (``--num-steps 12 0.01 model.pt``) was taken for MODEL and told "File
        '0.01' does not exist": the option is named. A MODEL file that exists is never questioned. Other extra
        arguments are left to click's own message (``None``).
        """
        try:
            opts, extras, _ = self.make_parser(ctx).parse_args(args=list(given))
        except click.UsageError:
            return None  # click says what is wrong in its own parse
        listed = {name for p in self.params if "," in _metavar(p, ctx) for name in p.opts}
        from ..names import OPTIMIZER_ALIASES, OPTIMIZER_SUMMARIES, SCHEDULER_ALIASES, SCHEDULER_SUMMARIES

        # The free-text options that take a registry name get its names as choices: --optimizer adam adamw is one
        # value too many, as --mode exp linear is.
        registry = {
            "--optimizer": (*OPTIMIZER_SUMMARIES, *OPTIMIZER_ALIASES),
            "--scheduler": (*SCHEDULER_SUMMARIES, *SCHEDULER_ALIASES),
        }
        single = {
            name: tuple(getattr(p.type, "choices", ())) or registry.get(name, ())
            for p in self.params
            if isinstance(p, click.Option) and not p.is_flag and p.nargs == 1
            for name in p.opts
            if name not in listed
        }
        if extras:
            hint = _apart_hint(given, extras[0], listed, single, f"Got unexpected extra argument ({extras[0]})")
            if hint is not None:
                return hint
        model = opts.get("model")
        if isinstance(model, str) and not os.path.exists(os.path.expanduser(model)):
            said = f"Invalid value for 'MODEL': File {model!r} does not exist"
            hint = _apart_hint(given, model, listed, single, said)
            if hint is not None:
                return hint
        if not extras:
            return None
        extra = extras[0]
        data = any(p.name == "data" for p in self.params) and not any(a == "--data" or a.startswith("--data=")
                                                                       for a in given)  # fmt: skip
        if data and (Path(extra).suffix.lower() in (".npz", ".pt", ".pth", ".csv", ".tsv") or ":" in extra):
            return (
                f"Got unexpected extra argument ({extra}): {ctx.info_name} takes one MODEL; pass the data as "
                f"--data {extra}"
            )
        return None


def _metavar(param: click.Parameter, ctx: click.Context) -> str:
    """The metavar ``param`` shows in its usage (``FLOAT,FLOAT``): click 8.2 asks for the context, 8.1 for none."""
    try:
        return param.make_metavar(ctx)
    except TypeError:  # click < 8.2: make_metavar() takes no context
        return cast(str, param.make_metavar())  # type: ignore[call-arg]


def _apart_hint(
    given: Sequence[str], value: str, listed: Collection[str], single: Mapping[str, Collection[str]], said: str
) -> str | None:
    """``said``, then the option ``value`` (an extra argument, or MODEL) was typed apart from; ``None`` if none.

    Args:
        given: The arguments as typed.
        value: The argument click could not place (an extra) or placed as MODEL.
        listed: The names of the options that take comma-separated values (``--weight-decay``).
        single: The names of the other options that take one value, each with its choices (empty if any text).
        said: What click would have said, which the hint follows.

    """
    # The value's own place: the first equal argument may be the option's value (--betas 0.9 0.9).
    places = ((i, _option_apart(given, i, listed, single)) for i, a in enumerate(given) if a == value)
    apart = next(((i, o) for i, o in places if o is not None), None)
    if apart is None:
        return None
    at, option = apart
    name, _, joined = given[option].partition("=")
    if name in single:
        typed = joined or given[option + 1]
        return f"{said}: {name} takes one value ({name} {typed}); {value} after it is one too many"
    # Every value typed apart (--weight-decay 0.1 0.01 0.001), not the first two: the hint is the form to type.
    end = at + 1
    while end < len(given) and _is_value(given[end]):
        end += 1
    if at > option + 2 and not _is_value(value):
        end = at  # MODEL after the values, one of which click took for MODEL: the values alone
    values = ",".join(typed.strip(",") for typed in given[option + 1 : end])
    return f"{said}: {given[option]} takes its values as one argument, separated by commas: {given[option]} {values}"


def _option_apart(
    given: Sequence[str], at: int, listed: Collection[str], single: Mapping[str, Collection[str]]
) -> int | None:
    """The place of the option ``given[at]`` is one value too many for; else ``None``.

    A comma-separated option's values run on (:func:`_values_apart`); an option of one value is right before its
    value (``--num-steps 12 0.01``) or holds it (``--num-steps=12 0.01``), and the argument after is one too many
    where it is a number or one of the option's choices (``--mode exp linear``).
    """
    option = _values_apart(given, at, listed)
    if option is not None:
        return option
    for option in (at - 2, at - 1):
        if option < 0:
            continue
        name, eq, typed = given[option].partition("=")
        typed = typed if eq else given[option + 1]
        if (
            name in single
            and bool(eq) == (option == at - 1)
            # An option where the value belongs (--report --num-steps 12) is said of elsewhere.
            and not (typed.startswith("-") and not _is_value(typed))
            and (_is_value(given[at]) or given[at] in single[name])
        ):
            return option
    return None


def _is_value(arg: str) -> bool:
    """Whether a command-line argument reads as one value of a comma-separated number option (``0.01``, ``0.1,``)."""
    try:
        float(arg.strip(","))
    except ValueError:
        return False
    return True


def _values_apart(given: Sequence[str], at: int, listed: Collection[str]) -> int | None:
    """The place of the comma-separated option whose values run on, typed apart, to ``given[at]``; else ``None``.

    ``--betas 0.9 0.999`` has its option two places before the extra; ``--weight-decay 0.1 0.01 0.001 model.pt``
    further back, over the values between (click took ``0.01`` for MODEL, and ``0.001`` is the extra). An extra
    that is no number right after the option's one value (``model.pt --weight-decay 0.1 train.npz``) is none of its
    values: the hint was ``--weight-decay 0.1,train.npz``.
    """
    option = at - 2
    while option >= 0 and given[option] not in listed:
        if not _is_value(given[option + 1]):
            return None
        option -= 1
    if option < 0 or (option == at - 2 and not _is_value(given[at])):
        return None
    return option


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--config FILE`` option: eager, so its values become defaults of the other options."""
    return click.option(
        "--config",
        type=ConfigPath(),
        is_eager=True,
        expose_value=False,
        callback=load_config,
        help="TOML file with option values (same names as the options; the command line wins).",
    )(func)
