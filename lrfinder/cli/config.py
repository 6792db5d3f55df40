"""``--config FILE``: option values from a TOML file, as click defaults (the command line wins).

Top-level keys apply to every command; a ``[run]``, ``[fit]`` or ``[demo]`` table applies to
that command only. Keys are the option names, with dashes or underscores (``num-steps``,
``weight_decay``, ``json``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

__all__ = ["read_toml", "load_config", "config_option"]


def read_toml(path: str) -> dict[str, Any]:
    """Read a TOML file.

    Raises:
        click.BadParameter: The file cannot be read or is not valid TOML (a usage error, exit 2).

    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint="--config") from None
    except tomllib.TOMLDecodeError as exc:
        raise click.BadParameter(f"{path} is not valid TOML: {exc}", param_hint="--config") from None


def load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Turn a TOML file into click defaults for the running command (a click callback).

    Raises:
        click.BadParameter: An unknown key, or a list for an option that takes one value.

    """
    if value is None:
        return None
    data = read_toml(value)
    command = ctx.command.name or ""
    flat = {k: v for k, v in data.items() if not isinstance(v, dict)}
    section = data.get(command, {})
    if isinstance(section, dict):
        flat.update(section)
    known = {p.name: p for p in ctx.command.params if p.name and p.name not in ("config", "help")}
    # A key is an option's long name (``json``, ``weight-decay``) or its parameter name.
    aliases: dict[str, str] = {}
    for p in ctx.command.params:
        if p.name in known:
            aliases[p.name] = p.name
            for opt in p.opts:
                if opt.startswith("--"):
                    aliases[opt[2:].replace("-", "_")] = p.name
    defaults: dict[str, Any] = {}
    for key, item in flat.items():
        name = aliases.get(key.replace("-", "_"), "")
        if name not in known:
            valid = ", ".join(
                sorted(k.replace("_", "-") for k, v in aliases.items() if k == v or not k.endswith("_path"))
            )
            raise click.BadParameter(f"unknown key {key!r} in {value}; valid keys: {valid}", param_hint="--config")
        if isinstance(item, list) and not known[name].multiple and name != "weight_decay":
            raise click.BadParameter(f"key {key!r} in {value} takes one value, not a list", param_hint="--config")
        if name == "weight_decay" and isinstance(item, (int, float)):
            item = [item]
        defaults[name] = item
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--config FILE`` option: eager, so its values become defaults of the other options."""
    return click.option(
        "--config",
        type=click.Path(exists=True, dir_okay=False),
        is_eager=True,
        expose_value=False,
        callback=load_config,
        help="TOML file with option values (same names as the options; the command line wins).",
    )(func)
