"""The public API as a user's type checker and ``help()`` see it: docstrings and annotations."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator

import lrfinder

#: Names of lrfinder's submodules that the README and examples/ use, beyond ``lrfinder.__all__``.
SUBMODULE_NAMES = [
    "lrfinder.analysis.pick_spread",
    "lrfinder.refine.default_budget",
    "lrfinder.refine.next_sweep",
    "lrfinder.schedulers.advised_warmup",
    "lrfinder.sweeps.format_weight_decay",
]


def _public_callables() -> Iterator[tuple[str, object]]:
    """Every public function and class, and the public methods and properties of the classes."""
    named = [(name, getattr(lrfinder, name)) for name in lrfinder.__all__]
    for dotted in SUBMODULE_NAMES:
        module, _, name = dotted.rpartition(".")
        named.append((dotted, getattr(importlib.import_module(module), name)))
    for name, obj in named:
        if inspect.isclass(obj):
            yield name, obj
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                if isinstance(member, (classmethod, staticmethod)):
                    member = member.__func__
                if isinstance(member, property) or inspect.isfunction(member):
                    yield f"{name}.{attr}", member
        elif inspect.isfunction(obj):
            yield name, obj


def _missing(label: str, obj: object) -> list[str]:
    """What ``obj`` lacks: a docstring with a summary line, an annotation of a parameter or of the return."""
    problems = []
    doc = inspect.getdoc(obj) if not isinstance(obj, property) else obj.__doc__
    summary = (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""
    if not label.endswith(".__init__") and len(summary.split()) < 3:
        problems.append(f"{label}: no docstring saying what it is for (got {summary!r})")
    function = obj.fget if isinstance(obj, property) else obj
    if inspect.isclass(function) or not callable(function):
        return problems
    annotations = getattr(function, "__annotations__", {})
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name not in ("self", "cls") and parameter.name not in annotations:
            problems.append(f"{label}: parameter {parameter.name!r} is not annotated")
    if "return" not in annotations:
        problems.append(f"{label}: the return type is not annotated")
    return problems


def test_every_public_name_has_a_docstring_and_full_annotations() -> None:
    # The brief: every public function and class has a short docstring, type hints throughout. help() shows the
    # summary line first; a user's type checker reads the annotations (lrfinder ships py.typed).
    checked = list(_public_callables())
    problems = [problem for label, obj in checked for problem in _missing(label, obj)]
    assert problems == [], "\n".join(problems)
    assert len(checked) > 90  # the walk reached the classes' methods and the submodules' names


def test_the_surface_check_fails_on_a_missing_docstring_or_annotation() -> None:
    def documented(x: int, y: int = 0) -> int:
        """Add two numbers together."""
        return x + y

    def undocumented(x: int) -> int:
        return x

    def unannotated(x, y: int = 0) -> int:  # type: ignore[no-untyped-def]  # noqa: ANN001
        """Add two numbers together."""
        return int(x) + y

    def no_return(x: int):  # type: ignore[no-untyped-def]  # noqa: ANN202
        """Return the number as it is."""
        return x

    class Thing:
        @property
        def size(self) -> int:
            return 1

    assert _missing("documented", documented) == []
    assert _missing("undocumented", undocumented) == ["undocumented: no docstring saying what it is for (got '')"]
    assert _missing("unannotated", unannotated) == ["unannotated: parameter 'x' is not annotated"]
    assert _missing("no_return", no_return) == ["no_return: the return type is not annotated"]
    assert _missing("Thing.size", vars(Thing)["size"]) == ["Thing.size: no docstring saying what it is for (got '')"]
