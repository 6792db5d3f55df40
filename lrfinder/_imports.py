"""The one resolver of import strings, ``package.module:Name``.

Every place that turns text into a Python object goes through :func:`import_string`: the
command line's ``--model-class`` and ``--data package.module:function``, and the optimizer
registry's ``"package.module:Class"`` names. One syntax, one set of error messages.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from .exceptions import LRFinderError

__all__ = ["ImportStringError", "import_string", "is_import_string"]


class ImportStringError(LRFinderError, ValueError):
    """An import string that is malformed, or whose module or name does not import.

    A :class:`ValueError` too, since the string is an argument: callers that catch either keep
    working.
    """


def is_import_string(text: str) -> bool:
    """Whether ``text`` has the form ``package.module:Name`` (dotted identifiers on both sides).

    Example:
        >>> is_import_string("mypkg.nets:Net"), is_import_string("data/train.npz")
        (True, False)

    """
    module, sep, name = text.partition(":")
    return (
        bool(sep) and bool(module) and bool(name) and all(p.isidentifier() for p in module.split(".") + name.split("."))
    )


def import_string(spec: str, *, what: str = "object", search_cwd: bool = False) -> Any:
    """Import ``package.module:Name`` and return the object (``Name`` may be dotted: ``Outer.Inner``).

    Args:
        spec: The import string.
        what: What the object is, for messages (``"--model-class"``, ``"optimizer"``).
        search_cwd: Put the current directory first on ``sys.path``, as ``python -m`` does, so a
            project's own modules import from where the command runs.

    Returns:
        The object.

    Raises:
        ImportStringError: A malformed string, a module that fails to import (any exception
            while importing user code), or a missing attribute.

    Example:
        >>> import_string("collections:OrderedDict").__name__
        'OrderedDict'

    """
    module_name, sep, attr = str(spec).partition(":")
    if not sep or not module_name or not attr:
        raise ImportStringError(
            f"Expected {what} as 'package.module:Name', but got {spec!r}. Write the module path, a colon, and the name."
        )
    if search_cwd:
        cwd = os.getcwd()
        if cwd not in sys.path:
            sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any error while importing user code is the user's to fix
        raise ImportStringError(
            f"Cannot import {what} {spec!r}: {type(exc).__name__}: {exc}. Check the module path and run from "
            "the project directory."
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImportStringError(
                f"Cannot import {what} {spec!r}: module {module_name!r} has no attribute {attr!r}. Check the "
                "name after the colon."
            ) from None
    return obj
