"""Loading models and data from files for the command line, and saving trained models back.

Models (:func:`load_model`):

* a TorchScript file (``torch.jit.save``): loads without the model's code;
* a Lightning checkpoint (``.ckpt``) with ``model_class="package.module:LightningModuleClass"``;
  the module's own ``training_step`` is then the loss;
* a ``state_dict`` file (``torch.save(model.state_dict())``) with ``model_class`` (a class or a
  factory function) and ``model_args`` (a JSON list of positional or object of keyword
  arguments);
* a whole pickled module (``torch.save(model)``) only with ``unsafe_pickle=True``: unpickling runs
  arbitrary code, so it is refused by default. Everything else is read with ``weights_only=True``.

Data (:func:`load_data`): ``.npz`` (arrays ``x``/``y`` or named keys), ``.pt`` (a dict or pair
of tensors, weights-only load), ``.csv`` (a header row; ``target`` names the label column), or
``package.module:function`` returning a Dataset, a DataLoader or a LightningDataModule.

Input files are only ever read. :func:`save_model` writes through a temporary file and a rename.

Why it lives in ``lrfinder/cli/``: its one user is the command line, and its contract is the
command line's. The formats are the ones ``lrfind`` accepts, and the error messages name
``lrfind``'s options (``--model-class``, ``--target``, ``--x-key``, ``--unsafe-pickle``) and say
which one to change. From Python a model is an ``nn.Module`` and data are a DataLoader already,
so the library API (:func:`lrfinder.range_test`, :func:`lrfinder.train`) needs none of this.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import inspect
import io
import json
import keyword
import logging
import math
import os
import pickle
import re
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, NoReturn, cast

import click
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from .._atomic import atomic_write
from .._checks import CHECKPOINT_STATE_KEYS, is_real
from .._imports import ImportStringError, import_string, is_import_string
from .._lightning import is_datamodule, is_lightning_module, is_lightning_module_class, package_of
from .._text import read_first_line, read_text
from .._wording import plural, word
from ..exceptions import DataError, LRFinderError, ModelError
from ..names import LOSSES, LossName
from .options import CSV_SUFFIXES, unknown_data_format

if TYPE_CHECKING:
    from ..training import TrainingResult

__all__ = [
    "ModelFormat",
    "LoadedModel",
    "LoadedData",
    "load_model",
    "model_writer",
    "saved_format",
    "save_model",
    "load_data",
    "make_loss",
    "check_model_fits",
    "all_targets",
]

logger = logging.getLogger(__name__)

#: The class name torch gives the module a saved ``torch.jit.script``-ed function is loaded as.
_SCRIPTED_FUNCTION = "PlaceholderModule"

ModelFormat = Literal["torchscript", "lightning", "state_dict", "pickle"]

_CLASS_LOSSES = ("cross_entropy", "nll")
#: The target ``F.cross_entropy`` and ``F.nll_loss`` skip by default (``ignore_index``).
_IGNORE_INDEX = -100


def reason(exc: BaseException) -> str:
    """The useful line of an exception's message, without a final period (so a caller can add one).

    TorchScript puts the Python error on the last line, after the interpreter's traceback ("The
    following operation failed in the TorchScript interpreter. ... RuntimeError: mat1 and mat2
    shapes cannot be multiplied"); other errors say it on the first line. An empty message
    gives the exception's type name.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    line = lines[0]
    if "TorchScript interpreter" in line and len(lines) > 1:
        # The last line repeats the Python error's type ("RuntimeError: ..."); the caller names it.
        line = re.sub(r"^[A-Za-z_.]*(Error|Exception): ", "", lines[-1])
    return line.rstrip(".").rstrip() or type(exc).__name__


def _check_not_empty(path: Path, what: str) -> None:
    if path.stat().st_size == 0:
        raise DataError(f"{what} {path} is empty (0 bytes). Check the path, or save the file again.")


def _not_a_zip(path: Path, kind: str, advice: str) -> str:
    """Why ``path`` (no readable zip) is no ``kind`` file, and what to do.

    A file that starts like a zip (``torch.save`` and ``numpy.savez`` both write one) but has no
    readable end was cut short, by a copy or download that stopped: save or copy it again. Any
    other file is of another kind: ``advice`` says what to pass.
    """
    with path.open("rb") as handle:
        head = handle.read(4)
    if head == b"PK\x03\x04":
        return (
            f"{path} starts like a {kind} archive but is truncated or damaged (an interrupted copy or download?). "
            "Save or copy it again."
        )
    return advice


def _is_pickle_or_torch_archive(path: Path) -> bool:
    """Whether ``path`` starts like ``torch.save``'s output: a zip archive, or a pickle (protocol 2+)."""
    if zipfile.is_zipfile(path):
        return True
    with path.open("rb") as handle:
        return handle.read(1) == b"\x80"


@dataclass(frozen=True)
class LoadedModel:
    """A model read from a file.

    Attributes:
        model: The module (a LightningModule for Lightning checkpoints).
        format: The file's format, used to save the trained model the same way.
        path: The file it came from.
        lightning: Whether ``model`` is a LightningModule whose ``training_step`` gives the loss.
        saved_dtypes: The float dtype of each state_dict entry the file saved in another dtype than the model built
            by ``--model-class`` holds it (float16 weights in a float32 model): the model computes in its own, and
            :func:`model_writer` saves those entries in the file's.

    """

    model: nn.Module
    format: ModelFormat
    path: Path
    lightning: bool = False
    saved_dtypes: Mapping[str, torch.dtype] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedData:
    """Training (and validation) data read from a file or a function.

    Attributes:
        train: The training DataLoader.
        val: The validation DataLoader, if any.
        dataset: The training Dataset when the loader was built here (so it can be rebuilt with
            another batch size), else ``None``.
        source: What it was read from, for messages.
        target_kind: ``"class"`` for integer targets, ``"float"`` for real-valued ones, ``None``
            when unknown (a function's data).
        keyed: Whether a data function (``--data`` or ``--val-data``) returned a dict of arrays, the
            one kind of a function's data that ``--x-key``/``--y-key`` name arrays of.

    """

    train: DataLoader[Any]
    val: DataLoader[Any] | None
    dataset: Dataset[Any] | None
    source: str
    target_kind: str | None = None
    keyed: bool = False

    def loader(self, batch_size: int, *, seed: int = 0) -> DataLoader[Any]:
        """Return a shuffled training loader over the same dataset with another batch size.

        Raises:
            DataError: The loader came from a user function and cannot be rebuilt.

        """
        if self.dataset is None:
            raise DataError(
                f"The data from {self.source} is a ready-made DataLoader; its batch size cannot be changed. "
                "Return a Dataset from the function instead, or drop --target-batch-size."
            )
        return _make_loader(self.dataset, batch_size, shuffle=True, seed=seed)


def _parse_model_args(model_args: str | Sequence[Any] | Mapping[str, Any] | None) -> tuple[list[Any], dict[str, Any]]:
    if model_args is None:
        return [], {}
    value: Any = model_args
    if isinstance(model_args, str):
        try:
            value = json.loads(model_args)
        except json.JSONDecodeError as exc:
            raise ModelError(
                f"--model-args is not valid JSON ({exc.msg} at column {exc.colno}): {model_args!r}. Write a "
                f"JSON list or object, e.g. '{{\"hidden\": 64}}'."
            ) from None
    if isinstance(value, Mapping):
        return [], dict(value)
    if isinstance(value, (list, tuple)):
        return list(value), {}
    raise ModelError(
        f"--model-args must be a JSON list (positional) or object (keyword arguments), but got {type(value).__name__}."
    )


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any("/code/" in n for n in names) and any(n.endswith("constants.pkl") for n in names)


_PICKLE_REFUSAL = (
    "{path} holds a pickled Python object (saved with torch.save(model)), and loading a pickle runs "
    "arbitrary code, so it is refused. Save the model as TorchScript "
    "(torch.jit.save(torch.jit.script(model), path)) or as a state_dict with --model-class, "
    "or pass --unsafe-pickle if you trust this file."
)


def _usage_error(message: str) -> click.UsageError:
    """A usage error (exit 2): the fix is on the command line, not in the model, the data or the run.

    An input that needs an option the command line lacks (a CSV without ``--target``, a pickle
    without ``--unsafe-pickle``), or an option whose value the input refuses (``--model-args`` that
    leave out or misname the class's arguments, a ``--data`` function that needs arguments). Told
    from a failed run (exit 1), an error found in the file's contents or while the model runs; the
    message names the option.
    """
    return click.UsageError(message, ctx=click.get_current_context(silent=True))


def _import_option(spec: str, option: str) -> Any:
    """Import ``package.module:Name`` given as ``option``; a failure is a usage error (exit 2).

    The fix is on the command line or in the environment (the name, the directory the command
    runs from, ``PYTHONPATH``), as for a malformed ``--model-class``, so it is told apart from a
    failed run. The message says what failed, the underlying error on one line (with where the
    module raised it), and what to do; never a traceback.

    Raises:
        click.UsageError: The module is not found, raises while it is imported, or lacks the name.

    """
    try:
        return import_string(spec, what=option, search_cwd=True)
    except ImportStringError as exc:
        raise _usage_error(_import_failure(spec, option, exc)) from None


def _import_failure(spec: str, option: str, exc: ImportStringError) -> str:
    """What :func:`_import_option` says of a failed import (see there)."""
    import traceback

    module_name, _, attr = spec.partition(":")
    cause = exc.__cause__
    if cause is None:  # the module imported, the name after the colon is not in it
        module = sys.modules.get(module_name)
        # Only what could be named there (a class or function): a module the file imports (`np` for `nope`,
        # `torch` for `torc`) was offered as the name meant.
        names = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n, None))]
        close = difflib.get_close_matches(attr, names, n=1)
        hint = f" (did you mean {module_name}:{close[0]}?)" if close else ""
        where = getattr(module, "__file__", None)
        found = f" (found at {where})" if where else ""
        return (
            f"{option} {spec}: module {module_name!r}{found} has no attribute {attr!r}{hint}. Check the name after "
            "the colon."
        )
    if isinstance(cause, ModuleNotFoundError) and cause.name is not None and (
        module_name == cause.name or module_name.startswith(cause.name + ".")
    ):
        return (
            f"{option} {spec}: no module named {cause.name!r} on the Python path (the current directory and "
            "PYTHONPATH). Check the module name, and run lrfind from the project directory or add the module's "
            "directory to PYTHONPATH."
        )
    # The module was found and raised while importing (a missing dependency, an error in its code):
    # where it raised, the last frame outside the import machinery.
    frames = [f for f in traceback.extract_tb(cause.__traceback__) if not f.filename.startswith("<frozen")]
    where = f" ({Path(frames[-1].filename).name}, line {frames[-1].lineno})" if frames else ""
    return (
        f"{option} {spec}: importing module {module_name!r} failed: {type(cause).__name__}: {reason(cause)}{where}. "
        "Fix the error in the module (or install what it imports), and check that PYTHONPATH and the current "
        "directory give the module you meant."
    )


def _is_npz(path: Path) -> bool:
    """Whether ``path`` is a numpy ``.npz`` archive (a zip of ``.npy`` arrays), whatever its name."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return bool(names) and all(n.endswith(".npy") for n in names)


def _other_zip(path: Path) -> str | None:
    """What a zip archive ``torch.save``/``torch.jit.save`` did not write holds; ``None`` for theirs, or for no zip.

    Their archives keep a ``data.pkl`` record under one folder. torch read any other zip (a zipped model, a
    ``zip model.zip model.pt``) as a damaged one: "[enforce fail at inline_container.cc:180] . file in archive
    is not in a subdirectory: model.pt", which named no way on.
    """
    if not zipfile.is_zipfile(path):
        return None
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
    if any(n.rpartition("/")[2] == "data.pkl" for n in names):
        return None
    inner = [n for n in names if Path(n).suffix.lower() in (".pt", ".pth", ".ckpt", ".npz", ".csv", ".tsv")]
    if inner:
        return f"a zip archive of files ({', '.join(inner[:3])}{', ...' if len(inner) > 3 else ''}): unzip it and pass "
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "") if names else "nothing"
    return f"a zip archive, but not one torch.save wrote (it holds {shown}): pass "


def _other_kind_advice(path: Path) -> str:
    """What to pass instead when MODEL is a file of data (``.npy``, ``.csv``, ``.tsv``) or a result (``.json``).

    The arguments swapped (``lrfind run train.csv --data model.pt``) or a result given to ``run`` were said only
    not to be PyTorch files; ``""`` for a file of no kind known here.
    """
    with path.open("rb") as handle:
        head = handle.read(6)
    suffix = path.suffix.lower()
    if head == b"\x93NUMPY":
        return " It is a numpy .npy array, i.e. data: pass the model file as MODEL and the data with --data."
    if suffix in (".csv", ".tsv"):
        return f" It is a {suffix[1:].upper()} file, i.e. data: pass the model file as MODEL and the data with --data."
    if suffix == ".json":
        return " A result written by lrfind run --json is drawn again with lrfind report FILE."
    if suffix == ".py":
        # Was "not a PyTorch file" alone: the class in it goes to --model-class, with the saved weights as MODEL.
        return (
            " It is Python source: save the model and pass that file as MODEL (torch.jit.save(torch.jit.script("
            f"model), 'model.pt')), or save its state_dict and pass --model-class {path.stem}:YourClass."
        )
    return ""


def _is_pt2_archive(path: Path) -> bool:
    """Whether ``path`` is a PT2 archive: ``torch.export.save``'s (or an AOTInductor package), whatever its name.

    Such an archive names its format in an ``archive_format`` entry (torch 2.6+) or holds a
    ``serialized_exported_program.json`` (earlier releases); ``torch.save`` and ``torch.jit.save``
    archives hold neither.
    """
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(n.rpartition("/")[2] in ("archive_format", "serialized_exported_program.json") for n in names)


def _is_safetensors(path: Path) -> bool:
    """Whether ``path`` starts as a safetensors file does: an 8-byte little-endian header length, then a JSON object."""
    with path.open("rb") as handle:
        head = handle.read(9)
    if len(head) < 9 or head[8:9] != b"{":
        return False
    return 2 <= int.from_bytes(head[:8], "little") <= path.stat().st_size - 8


#: How torch.save's legacy (non-zip, ``_use_new_zipfile_serialization=False``) files start, after the pickle's protocol
#: opcode (and protocol 4's frame): its magic number, pickled as a LONG1.
_TORCH_LEGACY_MAGIC = b"\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19"


def _is_plain_pickle(path: Path) -> bool:
    """Whether ``path`` is a pickle (protocol 2+) that ``torch.save`` did not write: no zip, no legacy magic number.

    The legacy format's magic number is looked for under any ``pickle_protocol`` torch.save took: ``0x80 N``
    opens the pickle, and from protocol 4 a frame (``0x95`` and 8 bytes of length) comes before it.
    """
    if zipfile.is_zipfile(path):
        return False
    with path.open("rb") as handle:
        head = handle.read(2 + 9 + len(_TORCH_LEGACY_MAGIC))
    if head[:1] != b"\x80":
        return False
    body = head[11:] if head[2:3] == b"\x95" else head[2:]
    return not body.startswith(_TORCH_LEGACY_MAGIC)


#: What to save in place of a MODEL file lrfind does not read: the formats it does.
_SAVE_A_MODEL = (
    "Save the model as TorchScript (torch.jit.save(torch.jit.script(model), path)), or its state_dict "
    "(torch.save(model.state_dict(), path)) and pass --model-class; a Lightning .ckpt loads with --model-class too"
)


def _foreign_model_kind(path: Path) -> str:
    """What model format of another framework ``path`` holds (" It is ..."), by its content or its name; ``""`` if none.

    An HDF5 file (a Keras ``model.save("m.h5")``) and an ``.onnx`` file were "not a PyTorch file" alone.
    """
    with path.open("rb") as handle:
        head = handle.read(8)
    if head == b"\x89HDF\r\n\x1a\n":
        return " It is an HDF5 file (as Keras's model.save writes .h5), a format lrfind does not read."
    if path.suffix.lower() == ".onnx":
        return " It is named as an ONNX model, a graph for inference that lrfind does not read."
    return ""


def _torch_load_weights(path: Path) -> Any:
    """``torch.load`` of the MODEL file ``path`` (weights only), after refusing the files torch cannot read.

    A file of a kind lrfind does not read as a model (a torch.export program, safetensors, a zip torch did not
    write, a pickle, data, any other file) is a usage error (exit 2), as the same kind of file given as ``--data``
    is; a torch.save file torch fails to read (truncated, damaged) is a failed run (exit 1).

    Raises:
        click.UsageError: ``path`` is not a model file lrfind reads.
        ModelError: ``path`` is truncated or damaged.
        pickle.UnpicklingError: ``path`` holds a pickled object (``weights_only`` refused it).

    """
    if _is_npz(path):
        # Data where the model goes (the arguments swapped): the fix is on the command line, a usage error.
        raise _usage_error(
            f"{path} is a numpy .npz archive (arrays, i.e. data), not a model. Pass the model file as MODEL and "
            "the arrays with --data."
        )
    if _is_pt2_archive(path):
        # torch.load read it as a damaged torch.save file: "failed locating file data.pkl ... there is a high
        # likelihood that your checkpoint file is corrupted". Not a file lrfind reads as a model: exit 2, was 1.
        raise _usage_error(
            f"{path} is a torch.export program (torch.export.save), which lrfind does not load: an ExportedProgram "
            "is a graph for inference and deployment, not a module to train. Save the model itself as TorchScript "
            "(torch.jit.save(torch.jit.script(model), path)) or its state_dict (torch.save(model.state_dict(), "
            "path), with --model-class), and export the trained one."
        )
    if _is_safetensors(path):
        from .options import HF_SAVED_ADVICE

        raise _usage_error(f"{path} is a safetensors file (as save_pretrained writes), which lrfind does not read. "
                         f"{HF_SAVED_ADVICE}")  # fmt: skip
    other_zip = _other_zip(path)
    if other_zip is not None:
        raise _usage_error(
            f"{path} is {other_zip}the model file itself (a TorchScript, Lightning checkpoint or state_dict file, as "
            "torch.jit.save or torch.save wrote it)."
        )
    if not _is_pickle_or_torch_archive(path):
        # Data, a result or source as MODEL: what to pass instead; any other file: what to save the model as.
        advice = _other_kind_advice(path) or f"{_foreign_model_kind(path)} {_SAVE_A_MODEL}."
        said = f"{path} is not a PyTorch file (neither a torch.save archive nor a pickle).{advice}"
        message = _not_a_zip(path, "torch.save", said)
        if message == said:  # a file of another kind as MODEL: exit 2, as for --data (any other kind was exit 1)
            raise _usage_error(message)
        raise ModelError(message)  # a torch.save archive cut short: the file is damaged, a failed run
    if _is_plain_pickle(path):
        # torch.load reads torch.save's files only: a plain pickle failed, with --unsafe-pickle, with torch's bare
        # "Invalid magic number; corrupt file?" (and without it, was said to be saved with torch.save(model)).
        # A file of a kind lrfind does not read, a usage error (exit 2) as the same file given as --data is.
        raise _usage_error(
            f"{path} is a plain Python pickle (pickle.dump or joblib.dump), not a torch.save file, and torch.load "
            "cannot read it (--unsafe-pickle or not). Save the model again with "
            "torch.jit.save(torch.jit.script(model), path), or save torch.save(model.state_dict(), path) and pass "
            "--model-class."
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelError(
            f"Cannot read {path} as a PyTorch file ({type(exc).__name__}: {reason(exc)}). Expected "
            "a TorchScript, checkpoint or state_dict file."
        ) from exc


def _not_a_model(obj: Any) -> str:
    """What MODEL's file held that is no model (``"a list, not a model. ..."``), with what to pass or save instead.

    A tensor, a list or an ``(x, y)`` pair of data as MODEL was "holds a tuple, not a model" (exit 1), naming neither
    ``--data`` nor how to save a model.
    """
    if isinstance(obj, tuple) and len(obj) == 2 and all(isinstance(item, torch.Tensor) for item in obj):
        return "an (x, y) pair of tensors, i.e. data, not a model. Pass the model file as MODEL and this with --data."
    return f"a {type(obj).__name__}, not a model. {_SAVE_A_MODEL}."


def _state_dict_of(obj: Any) -> Mapping[str, torch.Tensor] | None:
    if isinstance(obj, Mapping):
        for key in CHECKPOINT_STATE_KEYS:
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                return inner
        if obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
            return obj
    return None


def _unbound_required(
    factory: Any, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
) -> tuple[inspect.BoundArguments, list[inspect.Parameter]] | None:
    """The arguments ``factory(*args, **kwargs)`` binds, and the required parameters it leaves without a value.

    Required: no default, and not ``*args``/``**kwargs``; a positional-only parameter is required too
    (``def build(hidden, /)``), though it cannot be given by name. Shared by the checks of
    ``--model-args`` (:func:`_check_model_args_bind`) and of a ``--data`` function called bare
    (:func:`_check_called_bare`), so both name the same parameters.

    Returns:
        The bound arguments and the missing parameters in signature order, or ``None`` when Python
        cannot read ``factory``'s signature (the call then decides).

    Raises:
        TypeError: ``args``/``kwargs`` do not fit the signature (a key it has no parameter for, too
            many values), with Python's words.

    """
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a signature Python cannot read: let the call decide
        return None
    bound = signature.bind_partial(*args, **(kwargs or {}))
    missing = [
        p
        for name, p in signature.parameters.items()
        if name not in bound.arguments
        and p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    return bound, missing


def _call_template(
    name: str, missing: Sequence[inspect.Parameter], bound: inspect.BoundArguments | None = None
) -> str:
    """A call of ``name`` giving each of ``missing`` (``...`` to fill in), by name where it can: ``f(..., b=...)``.

    With ``bound``, the values it holds come too, in the signature's order and as Python writes them
    (``f(16, classes=...)``): the call built from ``--model-args '[16]'`` dropped the 16 the user had given.
    """
    kind = inspect.Parameter
    absent = {p.name for p in missing}
    given = bound.arguments if bound is not None else {}
    params = list(bound.signature.parameters.values()) if bound is not None else list(missing)
    spread = any(p.kind is kind.VAR_POSITIONAL and given.get(p.name) for p in params)  # values for *args
    values: list[str] = []
    for p in params:
        if p.kind is kind.VAR_POSITIONAL:
            values += [repr(v) for v in given.get(p.name, ())]
        elif p.kind is kind.VAR_KEYWORD:
            values += [
                f"{k}={v!r}" if k.isidentifier() and not keyword.iskeyword(k) else f"**{{{k!r}: {v!r}}}"
                for k, v in given.get(p.name, {}).items()
            ]
        elif p.name in given or p.name in absent:
            value = repr(given[p.name]) if p.name in given else "..."
            in_place = p.kind is kind.POSITIONAL_ONLY or (p.kind is kind.POSITIONAL_OR_KEYWORD and spread)
            values.append(value if in_place else f"{p.name}={value}")
    return f"{name}({', '.join(values)})"


def _model_args_template(
    bound: inspect.BoundArguments, missing: Sequence[inspect.Parameter], as_list: bool
) -> str | None:
    """``--model-args`` that give ``bound`` and each of ``missing`` (a ``...`` to fill in), or ``None`` if none can.

    A JSON object names its values, so it cannot give a positional-only parameter (nor values for
    ``*args``); a JSON list cannot give a keyword-only one (nor keys for ``**kwargs``). The list is
    preferred when ``as_list`` (the user wrote one).
    """
    kind = inspect.Parameter
    params = bound.signature.parameters
    named: dict[str, Any] = {}  # values given to a parameter, or by a key of **kwargs
    extra: list[Any] = []  # values given to *args
    keys = False  # whether a key of **kwargs is given
    for name, value in bound.arguments.items():
        if params[name].kind is kind.VAR_KEYWORD:
            named.update(value)
            keys = keys or bool(value)
        elif params[name].kind is kind.VAR_POSITIONAL:
            extra.extend(value)
        else:
            named[name] = value
    needed = [*(n for n in named if n in params), *(p.name for p in missing)]
    kinds = {params[n].kind for n in needed}
    by_name = not extra and kind.POSITIONAL_ONLY not in kinds
    in_order = not keys and kind.KEYWORD_ONLY not in kinds
    if in_order and (as_list or not by_name):
        positional = [p for p in params.values() if p.kind in (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD)]
        last = max((i for i, p in enumerate(positional) if p.name in needed), default=-1)
        values = []
        for p in positional[: last + 1]:
            if p.name in named:
                values.append(json.dumps(named[p.name], default=str))
            elif p.default is inspect.Parameter.empty:
                values.append("...")
            else:  # an optional one before a needed one: its default, to keep the places
                values.append(json.dumps(p.default, default=str))
        values += [json.dumps(v, default=str) for v in extra]
        return "[" + ", ".join(values) + "]"
    if by_name:
        pairs = [f"{json.dumps(str(k))}: {json.dumps(v, default=str)}" for k, v in named.items()]
        pairs += [f'"{p.name}": ...' for p in missing]
        return "{" + ", ".join(pairs) + "}"
    return None


def _close_key(factory: Any, kwargs: Mapping[str, Any]) -> str:
    """`` (did you mean 'hidden'?)`` for the first ``--model-args`` key ``factory`` has no parameter for, else ``""``.

    Python's "got an unexpected keyword argument 'hiden'" named the misspelt key only, where a
    LightningModule's checkpoint (:func:`_check_init_args`) named the close one.
    """
    signature = inspect.signature(factory)  # read by _unbound_required already
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = [n for n, p in signature.parameters.items() if p.kind in kinds]
    unknown = [str(k) for k in kwargs if k not in names]
    close = difflib.get_close_matches(unknown[0], names, n=1) if unknown else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_model_args_bind(
    factory: Any, args: Sequence[Any], kwargs: Mapping[str, Any], model_class: str, typed: str
) -> None:
    """Refuse ``--model-args`` that ``--model-class`` cannot take, before it is called: a usage error (exit 2).

    Python's "missing 3 required positional arguments: 'd_in', 'hidden', and 'd_out'" came with
    "Check --model-args" only, also when none were given; the message now shows the option to write,
    a JSON list for positional-only parameters (which an object cannot name). An unknown key or too
    many values is named as Python names it. Both were a failed run (exit 1), though the fix is on
    the command line; an error the class raises once called still is.

    ``typed`` is ``--model-args`` as the user wrote it (:func:`_typed_model_args`), shown in the messages.

    Raises:
        click.UsageError: A required parameter of ``factory`` gets no value, or a value has no parameter.

    """
    try:
        found = _unbound_required(factory, args, kwargs)
    except TypeError as exc:
        raise _usage_error(
            f"Cannot build {model_class} with --model-args {typed}: {reason(exc)}{_close_key(factory, kwargs)}. "
            "Check --model-args."
        ) from None
    if found is None or not found[1]:
        return
    bound, missing = found
    if args or kwargs:
        given = f"--model-args {typed} leaves out"
    else:
        given = "--model-args does not give"
    needs = f"{model_class} needs {_names([p.name for p in missing], 8)}, which {given}."
    # A template, not JSON: each "..." is a value to fill in.
    example = _model_args_template(bound, missing, as_list=bool(args) and not kwargs)
    if example is None:
        module, _, name = model_class.partition(":")
        raise _usage_error(
            f"{needs} It takes positional-only and keyword-only arguments, which --model-args (a JSON list or an "
            "object, not both) cannot give together. Add a function without parameters to your module that builds "
            f"the model, e.g. `def saved_model(): return {_call_template(name, missing, bound)}`, and pass "
            f"--model-class {module}:saved_model."
        )
    raise _usage_error(
        f"{needs} Pass the values the saved model was built with: --model-args '{example}', each ... replaced by "
        "its value."
    )


def _typed_model_args(model_args: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """``--model-args`` for a message: the JSON as the user typed it, else (a Python caller's list or dict) as JSON.

    The messages showed Python's repr of the parsed value (``{'hidden': 16}``, ``True``), not what was typed.
    """
    if isinstance(model_args, str):
        return model_args
    return json.dumps(list(args) if args else dict(kwargs), default=str)


def _instantiate(model_class: str, model_args: Any) -> nn.Module:
    factory = _import_option(model_class, "--model-class")
    if not callable(factory):
        raise _usage_error(f"--model-class {model_class!r} is not a class or a function.")
    args, kwargs = _parse_model_args(model_args)
    typed = _typed_model_args(model_args, args, kwargs)
    _check_model_args_bind(factory, args, kwargs, model_class, typed)
    try:
        model = factory(*args, **kwargs)
    except Exception as exc:
        raise ModelError(
            f"Cannot build {model_class} with --model-args {typed}: {type(exc).__name__}: "
            f"{reason(exc)}. Check --model-args."
        ) from exc
    if not isinstance(model, nn.Module):
        raise ModelError(f"--model-class {model_class!r} returned a {type(model).__name__}, not a torch.nn.Module.")
    return model


def _jit_source(file: Path) -> Any:
    r"""What ``torch.jit.load`` reads ``file`` from: its path, or its bytes where the path is no UTF-8 text.

    A name with a byte that is not UTF-8 (``m\xe9.pt`` from a Latin-1 system, which Python holds as ``'m\udce9.pt'``)
    failed in torch's C++ code with "import_ir_module(): incompatible function arguments".
    """
    try:
        str(file).encode("utf-8")
    except UnicodeEncodeError:
        return io.BytesIO(file.read_bytes())
    return str(file)


def load_model(
    path: str | os.PathLike[str],
    *,
    model_class: str | None = None,
    model_args: str | Sequence[Any] | Mapping[str, Any] | None = None,
    unsafe_pickle: bool = False,
) -> LoadedModel:
    """Load a model saved in one of the supported formats (see the module docstring).

    Args:
        path: The model file. It is only read.
        model_class: ``package.module:Name`` of the model class (or factory), needed for
            Lightning checkpoints and state_dict files.
        model_args: Arguments for ``model_class``: a JSON string, a list or a dict.
        unsafe_pickle: Allow a whole pickled module. Loading a pickle runs arbitrary code.

    Returns:
        A :class:`LoadedModel`, on the CPU.

    Raises:
        click.UsageError: A pickle without ``unsafe_pickle``, a checkpoint or state_dict without
            ``model_class``, a ``model_class`` that does not import or is no class (no LightningModule for a
            checkpoint), or ``model_args`` it cannot take: the fix is an option (exit 2); a file of data
            (``.npz``, ``.npy``, ``.csv``, ``.tsv``) or a result (``.json``) as the model: the fix is the
            arguments' order (exit 2); a plain pickle (``pickle.dump``), which torch cannot read: save the model
            again (exit 2).
        ModelError: An unreadable file, a wrong ``model_class``, or a state_dict that does not fit
            the class.

    """
    file = Path(path)
    if not file.is_file():
        raise ModelError(f"Model file {file} does not exist or is not a file.")
    if file.stat().st_size == 0:
        raise ModelError(f"Model file {file} is empty (0 bytes). Check the path, or save the model again.")
    if _is_torchscript(file):
        try:
            model = torch.jit.load(_jit_source(file), map_location="cpu")
        except Exception as exc:
            raise ModelError(f"Cannot load TorchScript file {file}: {reason(exc)}.") from exc
        if model.original_name == _SCRIPTED_FUNCTION and next(model.parameters(), None) is None:
            # A module class of the user's own that happens to be named so has its weights: it is trained.
            # Was "The model (PlaceholderModule) has no parameters at all", a name the user never wrote.
            raise _usage_error(
                f"{file} holds a scripted function (torch.jit.script of a def), not a module: it has no weights to "
                "train. Save the network itself: torch.jit.save(torch.jit.script(model), path), with model your "
                "torch.nn.Module."
            )
        return LoadedModel(model, "torchscript", file)

    try:
        obj = _torch_load_weights(file)
    except pickle.UnpicklingError as exc:
        if re.search(r"GLOBAL torch\.nn\.parameter\.Uninitialized(Parameter|Buffer)\b", str(exc)):
            # A state_dict saved before the first forward pass: told it was torch.save(model), to pass --unsafe-pickle,
            # and then that it "unpickled to a OrderedDict, not a torch.nn.Module".
            raise ModelError(
                f"{file} holds uninitialized parameters of torch.nn.Lazy* modules (torch.nn.parameter."
                "UninitializedParameter): it was saved before the model's first forward pass gave them their shapes, "
                "so it has no weights to load. Run one batch through the model (model(x)), then save it again."
            ) from exc
        if not unsafe_pickle:
            raise _usage_error(_PICKLE_REFUSAL.format(path=file)) from exc
        logger.warning("Loading %s with weights_only=False (--unsafe-pickle): this runs code from the file.", file)
        cwd = os.getcwd()
        if cwd not in sys.path:  # the pickle names the model's module: import it from the project
            sys.path.insert(0, cwd)
        try:
            obj = torch.load(file, map_location="cpu", weights_only=False)
        except (ImportError, AttributeError) as err:
            in_script = re.search(r"Can't get attribute '([\w.]+)' on <module '(?:[\w.]+\.)?__main__'", str(err))
            if in_script:
                # torch.save(model) in a script that defines the class pickles it as __main__.Net, which
                # only that script, run as the program, provides; "importable from the current directory"
                # could not be met.
                name = in_script.group(1)
                raise ModelError(
                    f"Cannot unpickle {file}: its model class {name} was defined in the script that saved it (the "
                    f"pickle names it __main__.{name}), and a pickle finds such a class only in the script run as "
                    f"the program, here lrfind. Move the class into a module file (e.g. nets.py), import it from "
                    f"there in your script and save the model again; or save model.state_dict() and pass "
                    f"--model-class nets:{name}."
                ) from err
            raise ModelError(
                f"Cannot unpickle {file}: {reason(err)}. The model's code must be importable from the current "
                "directory."
            ) from err
        if not isinstance(obj, nn.Module):
            raise _usage_error(f"{file} unpickled to {_not_a_model(obj)}") from None
        return LoadedModel(obj, "pickle", file, lightning=is_lightning_module(obj))

    is_ckpt = isinstance(obj, Mapping) and (
        "pytorch-lightning_version" in obj or (file.suffix == ".ckpt" and "state_dict" in obj)
    )
    if is_ckpt:
        if model_class is None:
            raise _usage_error(
                f"{file} is a Lightning checkpoint; pass --model-class package.module:YourLightningModule to load it."
            )
        cls = _import_option(model_class, "--model-class")
        if not is_lightning_module_class(cls):
            raise _usage_error(
                f"--model-class {model_class!r} must be a LightningModule subclass to load the checkpoint {file}."
            )
        args, kwargs = _parse_model_args(model_args)
        if args:
            raise _usage_error(
                f"--model-args for the Lightning checkpoint {file} must be a JSON object (keyword arguments of "
                f"load_from_checkpoint, e.g. '{{\"hidden\": 64}}'), but got a list: {model_args!r}."
            )
        _check_init_args(cls, kwargs, model_class)
        if "state_dict" not in obj:
            # load_from_checkpoint failed with "KeyError: 'state_dict'", naming neither what the file holds nor a fix.
            keys = _names(sorted(map(str, obj)), limit=8)
            raise ModelError(
                f"The checkpoint {file} holds no 'state_dict' (its keys: {keys}), so it has no weights to load into "
                f"{model_class}. Pass a checkpoint written by trainer.save_checkpoint or ModelCheckpoint, or save the "
                "weights as torch.save({'state_dict': model.state_dict(), ...}, path)."
            )
        try:
            module = cls.load_from_checkpoint(file, map_location="cpu", weights_only=True, **kwargs)
        except Exception as exc:
            mismatch = _checkpoint_mismatch(exc, file, cls, kwargs, obj.get("state_dict"))
            if mismatch is not None:
                raise ModelError(f"The checkpoint {file} does not fit {model_class}: {mismatch}") from exc
            raise ModelError(
                f"Cannot load checkpoint {file} into {model_class}: {type(exc).__name__}: {reason(exc)}."
                f"{_init_args_hint(exc, obj.get('hyper_parameters'))}"
            ) from exc
        saved = _other_dtypes(obj.get("state_dict") or {}, module)
        return LoadedModel(module, "lightning", file, lightning=True, saved_dtypes=saved)

    state = _state_dict_of(obj)
    if state is None:
        raise _usage_error(f"{file} holds {_not_a_model(obj)}")
    if model_class is None:
        raise _usage_error(
            f"{file} is a state_dict (weights only); pass --model-class package.module:Class (and --model-args) "
            "to build the model."
        )
    meta = [name for name, tensor in state.items() if tensor.is_meta]
    if meta:
        # load_state_dict failed on them in torch, and the message said only "torch refused the weights".
        raise ModelError(
            f"The state_dict in {file} has {plural(len(meta), 'tensor')} on the meta device (first: {meta[0]}): shapes "
            "without values, saved from a model built under torch.device('meta') or init_empty_weights before its "
            "weights were loaded. Save the state_dict of the model once its weights hold values."
        )
    model = _instantiate(model_class, model_args)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(
            f"The state_dict in {file} does not fit {model_class}: {_state_dict_mismatch(state, model)}"
        ) from exc
    return LoadedModel(
        model, "state_dict", file, lightning=is_lightning_module(model), saved_dtypes=_other_dtypes(state, model)
    )


def _other_dtypes(saved: Mapping[str, Any], model: nn.Module) -> dict[str, torch.dtype]:
    """The float dtype of each entry of the state_dict ``saved`` that ``model`` holds in another.

    ``load_state_dict`` copies into the model's own tensors, so float16 weights in a class that builds float32 ones
    were trained, and saved by ``fit``, as float32.
    """
    held = model.state_dict()
    return {
        key: value.dtype
        for key, value in saved.items()
        if isinstance(value, torch.Tensor)
        and value.is_floating_point()
        and key in held
        and held[key].is_floating_point()
        and held[key].dtype != value.dtype
    }


def _check_init_args(cls: Any, kwargs: Mapping[str, Any], model_class: str) -> None:
    """Refuse ``--model-args`` keys the LightningModule's ``__init__`` does not take.

    ``load_from_checkpoint`` drops them without a word (it passes on only the names ``__init__``
    takes, unless it takes ``**kwargs``), so a misspelt ``{"hiden": 64}`` ran the checkpoint's own
    sizes; a state_dict's class refuses it (Python's "unexpected keyword argument").

    Raises:
        click.UsageError: A key ``__init__`` does not take, with the names it takes (exit 2: the fix is
            on the command line).

    """
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):  # a signature Python cannot read: let Lightning decide
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = [n for n, p in list(params.items())[1:] if p.kind in kinds]  # past self
    unknown = [str(k) for k in kwargs if k not in names]
    if not unknown:
        return
    close = difflib.get_close_matches(unknown[0], names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    takes = f"it takes {_names(names, 8)}" if names else "it takes no arguments"
    raise _usage_error(
        f"--model-args {_names(unknown)} {'is' if len(unknown) == 1 else 'are'} not an argument of "
        f"{model_class}.__init__ ({takes}){hint}; load_from_checkpoint would drop it without a word. Check "
        "--model-args."
    )


def _init_args_hint(exc: BaseException, hparams: Any) -> str:
    """What to do when the class's ``__init__`` refused the arguments ``load_from_checkpoint`` gave it.

    Lightning builds the module from the checkpoint's ``hyper_parameters`` (what
    ``save_hyperparameters()`` recorded) and ``--model-args`` over them; a module that never called
    it saved none, and Python's "missing 2 required positional arguments" did not say where they come from.
    """
    if not (isinstance(exc, TypeError) and "__init__()" in str(exc)):
        return ""
    saved = sorted(str(k) for k in hparams) if isinstance(hparams, Mapping) else []
    held = f"holds the hyper-parameters {_names(saved, 6)}" if saved else "holds no hyper-parameters"
    return (
        f" The checkpoint {held} (what save_hyperparameters() recorded), and the module is built from them with "
        "--model-args over them: pass the missing arguments with --model-args (a JSON object, e.g. "
        "'{\"hidden\": 64}'), or call self.save_hyperparameters() in __init__ before training."
    )


_SIZE_MISMATCH = re.compile(
    r"size mismatch for (\S+): copying a param with shape torch\.Size\(\[([0-9, ]*)\]\) from checkpoint, "
    r"the shape in current model is torch\.Size\(\[([0-9, ]*)\]\)"
)


def _shape(dims: str) -> tuple[int, ...]:
    return tuple(int(d) for d in dims.split(",") if d.strip())


def _checkpoint_mismatch(exc: BaseException, file: Path, cls: Any, kwargs: Mapping[str, Any], saved: Any) -> str | None:
    """What differs between a checkpoint's weights and ``cls``'s, when ``load_from_checkpoint`` refused them.

    torch's ``load_state_dict`` message puts every missing, unexpected or resized key on lines
    after its first ("Error(s) in loading state_dict for LitNet:"), which was all the CLI showed.
    Other sizes are read from torch's message (no model of the class can hold the weights); other
    names are found by loading again with ``strict=False`` and comparing names as for a
    state_dict (:func:`_state_dict_mismatch`, which also spots a wrapper's prefix). ``None`` when
    the failure is something else (the class's ``__init__`` refused the hyper-parameters, ...).
    """
    text = str(exc)
    if not isinstance(exc, RuntimeError) or "Error(s) in loading state_dict" not in text:
        return None
    sizes = _SIZE_MISMATCH.findall(text)
    if sizes:
        key, saved_dims, model_dims = sizes[0]
        return (
            f"{plural(len(sizes), 'tensor')} {word(len(sizes), 'has', 'have')} other shapes (first {key!r}: saved "
            f"{_shape(saved_dims)}, the model "
            f"{_shape(model_dims)}). Check --model-args: the module is built from the checkpoint's hyper-parameters "
            "(those save_hyperparameters() recorded, else the class's defaults) with --model-args over them, and "
            "the saved one had other sizes."
        )
    if not isinstance(saved, Mapping):
        return None
    try:
        with warnings.catch_warnings():
            # Lightning warns of each missing/unexpected key under strict=False: the message says them.
            warnings.simplefilter("ignore")
            module = cls.load_from_checkpoint(file, map_location="cpu", weights_only=True, strict=False, **kwargs)
    except Exception:
        return None
    return _state_dict_mismatch(saved, module)


def _names(keys: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(repr(k) for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _wrapper_prefix(outer: Sequence[str], inner: Sequence[str]) -> str | None:
    """The dotted prefix (``"module."``) that every name of ``outer`` adds to a name of ``inner``, if any."""
    if not outer or not inner:
        return None
    parts = outer[0].split(".")
    for n in range(1, len(parts)):
        prefix = ".".join(parts[:n]) + "."
        if all(k.startswith(prefix) for k in outer) and sorted(k[len(prefix) :] for k in outer) == sorted(inner):
            return prefix
    return None


def _state_dict_mismatch(saved: Mapping[str, torch.Tensor], model: nn.Module) -> str:
    """What differs between a saved state_dict and the model built to hold it, and what to check.

    torch's own message lists every key, on lines that run to pages for a large model, and the
    fix differs with the cause: other layer sizes point at ``--model-args``, other names at
    ``--model-class``, and names that differ by one prefix at a wrapper (``module.`` of
    ``DataParallel``/``DistributedDataParallel``, or the attribute a LightningModule keeps the
    network in), or an ``AveragedModel``'s ``module.`` and ``n_averaged``.
    """
    wanted = model.state_dict()
    saved_keys, model_keys = list(saved), list(wanted)
    missing = [k for k in model_keys if k not in saved]
    unexpected = [k for k in saved_keys if k not in wanted]
    if not missing and not unexpected:
        sizes = [k for k in model_keys if tuple(saved[k].shape) != tuple(wanted[k].shape)]
        if sizes:
            k = sizes[0]
            return (
                f"{plural(len(sizes), 'tensor')} {word(len(sizes), 'has', 'have')} other shapes (first {k!r}: saved "
                f"{tuple(saved[k].shape)}, the model "
                f"{tuple(wanted[k].shape)}). Check --model-args: the saved model was built with other sizes."
            )
        return "torch refused the weights. Check --model-class and --model-args."
    if "n_averaged" in saved and _wrapper_prefix([k for k in saved_keys if k != "n_averaged"], model_keys) == "module.":
        # torch.optim.swa_utils.AveragedModel: the averaged copy under 'module.' and its count of updates beside it,
        # which the plain prefix check missed (not every name is under 'module.'): it said "other layers".
        return (
            "the saved names are the model's under 'module.' and 'n_averaged': the weights are of a "
            "torch.optim.swa_utils.AveragedModel (an SWA or EMA of the model, held as 'module'). Save the averaged "
            "model's own state_dict (swa_model.module.state_dict()) and pass that file."
        )
    for outer, inner, wrapped in ((saved_keys, model_keys, "saved"), (model_keys, saved_keys, "model")):
        prefix = _wrapper_prefix(outer, inner)
        if prefix:
            if wrapped == "model":
                return (
                    f"every name of the model starts with {prefix!r}, which the saved names lack: "
                    f"{type(model).__name__} holds the saved model inside it. Pass the inner model's class as "
                    "--model-class, or save the wrapper's state_dict."
                )
            if prefix == "_orig_mod.":
                # torch.compile's OptimizedModule: no class to pass as --model-class; a factory compiles.
                return (
                    "every saved name starts with '_orig_mod.', which the model's names lack: the weights are of a "
                    "torch.compile'd model (it holds the model as '_orig_mod'). Save the model's own state_dict "
                    "(compiled._orig_mod.state_dict()), or pass as --model-class a function that returns "
                    "torch.compile(YourModel(...))."
                )
            wrapper = (
                "DataParallel or DistributedDataParallel"
                if prefix == "module."
                else f"a module that holds it as {prefix[:-1]!r}"
            )
            return (
                f"every saved name starts with {prefix!r}, which the model's names lack: the weights are of a model "
                f"wrapped in another ({wrapper}). Save the inner model's state_dict "
                f"(wrapper.{prefix[:-1]}.state_dict()), or pass the wrapping class as --model-class."
            )
    return (
        f"the saved weights name other layers than the model's ({len(missing)} of the model's missing: "
        f"{_names(missing) or 'none'}; {len(unexpected)} saved not in the model: {_names(unexpected) or 'none'}). "
        "Check --model-class (and --model-args)."
    )


#: Where a LightningModule keeps its LR (Lightning's tuner's names): a hyper-parameter, or the
#: attribute of the same name for a pickled module.
LR_NAMES = ("lr", "learning_rate")

#: Where a LightningModule keeps its weight decay, likewise.
WEIGHT_DECAY_NAMES = ("weight_decay", "wd")


def trained_lr(training: TrainingResult | None) -> float | None:
    """The LR a training ran at: its peak (the constant LR, a decay's start, a cycle's top), as the callback sets it.

    ``None`` without a training or without a step.
    """
    if training is None or not training.lrs:
        return None
    return max(training.lrs)


def _trained_values(lr: float | None, weight_decay: float | None) -> dict[str, float]:
    """The hyper-parameter names to overwrite and their values: the LR's and, when given, the weight decay's."""
    values = dict.fromkeys(LR_NAMES, lr) if lr is not None else {}
    if weight_decay is not None:
        values.update(dict.fromkeys(WEIGHT_DECAY_NAMES, weight_decay))
    return values


def with_lr(hparams: Mapping[str, Any], lr: float | None, weight_decay: float | None = None) -> dict[str, Any]:
    """A copy of ``hparams`` whose numeric LR entries (:data:`LR_NAMES`) are ``lr``; others are kept.

    With ``weight_decay``, its numeric entries (:data:`WEIGHT_DECAY_NAMES`) become that value too.
    ``None`` leaves the entries of that kind as they are.
    """
    out = dict(hparams)
    for name, value in _trained_values(lr, weight_decay).items():
        if is_real(out.get(name)):
            out[name] = value
    return out


def _record_lr(module: nn.Module, lr: float | None, weight_decay: float | None = None) -> None:
    """Set a pickled LightningModule's numeric LR (and weight-decay) attributes and hyper-parameters (saved whole)."""
    hparams = getattr(module, "hparams", None)
    if isinstance(hparams, MutableMapping):
        hparams.update(with_lr(hparams, lr, weight_decay))
    for name, value in _trained_values(lr, weight_decay).items():
        if is_real(getattr(module, name, None)):
            with contextlib.suppress(AttributeError):  # a read-only property: its hparams entry carries it
                setattr(module, name, value)


#: How :func:`saved_format` names a loaded model in its refusal.
_FORMAT_WORDS = {
    "torchscript": "a TorchScript model",
    "state_dict": "a state_dict",
    "pickle": "a pickled module",
    "lightning": "a Lightning checkpoint",
}


def saved_format(loaded: LoadedModel, path: str | os.PathLike[str]) -> ModelFormat:
    """The format ``lrfind fit`` saves ``loaded`` in at ``path``: MODEL's, unless the extension says otherwise.

    ``.ckpt`` is a Lightning checkpoint's extension (Lightning's ``ModelCheckpoint`` writes it,
    ``load_from_checkpoint`` reads it, and :func:`load_model` takes a ``.ckpt`` with a
    ``state_dict`` key for one): a LightningModule (from a state_dict with a LightningModule
    ``--model-class``, or pickled) is saved as a checkpoint there. Any other extension (``.pt``,
    ``.pth``, ``.bin``, none) names no format, since torch writes every one of them with
    ``torch.save`` or ``torch.jit.save``: MODEL's format is kept.

    Raises:
        click.BadParameter: ``.ckpt`` for a model that is not a LightningModule (TorchScript, a plain
            ``nn.Module``): no Lightning checkpoint can hold it (a usage error, exit 2; checked
            after loading, before the range test).

    """
    if Path(path).suffix.lower() != ".ckpt" or loaded.format == "lightning":
        return loaded.format
    if loaded.format != "torchscript" and is_lightning_module(loaded.model):
        return "lightning"
    name = getattr(loaded.model, "original_name", None) or type(loaded.model).__name__
    kind = "" if loaded.format == "torchscript" else ", a plain torch.nn.Module"
    keep = {"torchscript": "TorchScript", "state_dict": "a state_dict", "pickle": "a pickled module"}[loaded.format]
    other = " (or pass a LightningModule as --model-class)" if loaded.format == "state_dict" else ""
    raise click.BadParameter(
        f"{os.fspath(path)!r} ends in .ckpt, a Lightning checkpoint, but MODEL {loaded.path.name} is "
        f"{_FORMAT_WORDS[loaded.format]} of {name}{kind}, not a LightningModule, so no checkpoint can hold it. Name "
        f"the output .pt to save it as {keep}, as MODEL is{other}.",
        param_hint="--output",
    )


def model_writer(
    loaded: LoadedModel,
    *,
    training: TrainingResult | None = None,
    weight_decay: float | None = None,
    format: ModelFormat | None = None,
) -> Callable[[str], object]:
    """Return ``write(path)``, which saves the (trained) model in ``format`` (default: the one it was loaded from).

    TorchScript is saved with ``torch.jit.save``; a Lightning module as a checkpoint of the module
    (state_dict, hyper-parameters, and ``training``'s epoch and step when given); a state_dict
    model as its ``state_dict``; a pickled module with ``torch.save``. The state is taken now, so
    the writer saves the model as it is at this call. The same model makes the same bytes, whatever
    the path (:func:`_through_handle`).

    After ``training``, a LightningModule's LR hyper-parameter (``lr`` or ``learning_rate``,
    when it has one) records the LR it was trained with (:func:`trained_lr`), as the
    :class:`~lrfinder.LRFinder` callback sets it: ``load_from_checkpoint`` then rebuilds the
    module with it. ``weight_decay`` (the value a weight-decay sweep chose and training used)
    goes into its ``weight_decay`` or ``wd`` hyper-parameter the same way. The loaded file's own
    hyper-parameters are only read.

    ``format="lightning"`` saves a LightningModule loaded from another format (a state_dict with
    a LightningModule class, a pickled one) as such a checkpoint (:func:`saved_format` picks it
    for a ``.ckpt`` output).
    """
    model = loaded.model
    format = format or loaded.format
    lightning = is_lightning_module(model) and training is not None
    lr = trained_lr(training) if lightning else None
    wd = weight_decay if lightning else None
    if format == "torchscript":
        return _through_handle(lambda handle: torch.jit.save(model, handle))  # type: ignore[arg-type, unused-ignore]
    if format == "lightning":
        # A plain checkpoint of the module alone (no trainer state): it loads with
        # ``YourModule.load_from_checkpoint(path, weights_only=True)``.
        hparams = dict(getattr(model, "hparams", {}) or {})
        checkpoint = {
            "pytorch-lightning_version": package_of(model).__version__,
            "epoch": training.current_epoch if training is not None else 0,
            "global_step": training.global_step if training is not None else 0,
            "state_dict": _in_saved_dtypes(model.state_dict(), loaded.saved_dtypes),
            "hyper_parameters": with_lr(hparams, lr, wd),
        }
        return _through_handle(lambda handle: torch.save(checkpoint, handle))
    if format == "state_dict":
        state = _in_saved_dtypes(model.state_dict(), loaded.saved_dtypes)
        return _through_handle(lambda handle: torch.save(state, handle))
    if lr is not None or wd is not None:
        _record_lr(model, lr, wd)
    return _through_handle(lambda handle: torch.save(model, handle))


def _in_saved_dtypes(state: MutableMapping[str, Any], dtypes: Mapping[str, torch.dtype]) -> MutableMapping[str, Any]:
    """``state`` (a fresh ``model.state_dict()``) with each entry ``dtypes`` names cast back to MODEL's file's dtype.

    Set in place, so the state_dict keeps its ``_metadata`` (the modules' versions ``load_state_dict`` reads).
    """
    for key, dtype in dtypes.items():
        if key in state:
            state[key] = state[key].to(dtype)
    return state


def _through_handle(save: Callable[[BinaryIO], object]) -> Callable[[str], None]:
    """``write(path)``: ``save(handle)`` on ``path`` opened for writing.

    torch names a zip archive's records after the file it is given by name: saved to the atomic
    write's temporary file, a model held its hidden name (``.trained.pt.cgi9cdlr/data/0``), so two
    identical ``fit`` runs wrote different bytes. Given a handle, torch names them ``archive/``.
    """

    def write(path: str) -> None:
        with open(path, "wb") as handle:
            save(handle)

    return write


def save_model(loaded: LoadedModel, path: str | os.PathLike[str], *, training: TrainingResult | None = None) -> Path:
    """Save a (trained) model to ``path`` atomically, in :func:`saved_format`'s format (:func:`model_writer`).

    Raises:
        ValueError: ``path`` is the input file (inputs are never overwritten).
        click.BadParameter: ``path`` ends in ``.ckpt`` and the model is no LightningModule.

    """
    target = Path(path)
    if target.resolve() == loaded.path.resolve():
        raise ValueError(f"Refusing to overwrite the input model {loaded.path}; choose another --output path.")
    return atomic_write(target, model_writer(loaded, training=training, format=saved_format(loaded, target)))


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def _make_loader(dataset: Dataset[Any], batch_size: int, *, shuffle: bool, seed: int) -> DataLoader[Any]:
    # A DataLoader refuses to shuffle an IterableDataset: its order is its own.
    shuffle = shuffle and not isinstance(dataset, IterableDataset)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    # Past sys.maxsize (--batch-size 1e23's digits) the batch sampler's islice failed in iteration ("Stop argument
    # for islice() must be ... <= sys.maxsize"), after loading; any size above the data's makes one batch of it all.
    batch_size = min(batch_size, sys.maxsize)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


def _native(array: Any) -> np.ndarray[Any, Any]:
    """``array`` as a numpy array in this machine's byte order.

    torch reads native byte order only: big-endian arrays (``'>f4'``, as MATLAB, FITS or a big-endian machine write
    them) were said to be "not numeric: given numpy array has byte order different from the native byte order".
    """
    values = np.asarray(array)
    return values if values.dtype.isnative else values.astype(values.dtype.newbyteorder("="))


#: The float dtypes models compute in; the others (float8 kinds) are for storage and scaled matmuls only.
_COMPUTED_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _check_finite(name: str, tensor: torch.Tensor, source: str) -> None:
    if tensor.is_floating_point():
        bad = ~torch.isfinite(tensor)
        if bool(bad.any()):
            count = int(bad.sum())
            row = int(bad.reshape(bad.shape[0], -1).any(dim=1).nonzero()[0, 0]) if bad.dim() else 0
            raise DataError(
                f"The {name} in {source} contain {plural(count, 'NaN/inf value')} (first in row {row}). Remove or "
                "impute them first."
            )


def _is_sparse(array: Any) -> bool:
    """Whether ``array`` is a sparse matrix: a torch tensor of a sparse layout, or scipy's (``tocsr`` and ``nnz``)."""
    if isinstance(array, torch.Tensor):
        return array.layout != torch.strided
    return hasattr(array, "tocsr") and hasattr(array, "nnz")


def _to_tensors(
    x: Any, y: Any, source: str, float_dtype: torch.dtype = torch.float32, keys: tuple[str, str] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` and ``y`` as tensors of the dtypes a model takes, refusing arrays no model can train on.

    ``keys`` are the names ``x`` and ``y`` were read under (in a ``.npz``, a dict), said in the refusals.
    """
    for name, array in (("inputs", x), ("targets", y)):
        if _is_sparse(array):
            # torch failed with "Could not run 'aten::ne.Scalar' with arguments from the 'SparseCPU' backend", and
            # scipy's matrix read as one object: "can't convert np.ndarray of type numpy.object_".
            raise DataError(
                f"The {name} in {source} are a sparse matrix ({type(array).__module__}.{type(array).__name__}), "
                f"which lrfind does not read. Store them dense: x.to_dense() for a torch tensor, x.toarray() for a "
                "scipy matrix."
            )
    try:
        xt = torch.as_tensor(_native(x)) if not isinstance(x, torch.Tensor) else x
        yt = torch.as_tensor(_native(y)) if not isinstance(y, torch.Tensor) else y
    except (TypeError, ValueError) as exc:
        raise DataError(f"The arrays in {source} are not numeric: {reason(exc)}. Store numbers only.") from exc
    if xt.is_meta or yt.is_meta:
        # Reading them failed in torch, "Tensor.item() cannot be called on meta tensors", naming no file.
        raise DataError(
            f"The {'inputs' if xt.is_meta else 'targets'} in {source} are on the meta device: a shape without "
            "values. Save tensors that hold the data (on the CPU or a GPU)."
        )
    for name, tensor in (("inputs", xt), ("targets", yt)):
        if tensor.is_floating_point() and tensor.dtype not in _COMPUTED_FLOATS:
            # A float8 tensor failed in torch, '"isfinite" not implemented for 'Float8_e4m3fn'', naming no file.
            raise DataError(
                f"The {name} in {source} are {str(tensor.dtype).removeprefix('torch.')}, a storage type no model layer "
                "computes with. Store them as float32 (x.float())."
            )
    if xt.dim() == 0 or yt.dim() == 0:
        raise DataError(f"The inputs and targets in {source} must have a first (sample) dimension.")
    if xt.shape[0] != yt.shape[0]:
        # It said the two counts alone, not which arrays they were or what to do.
        xn, yn = (f" ({key!r})" if key else "" for key in keys or ("", ""))
        raise DataError(
            f"The inputs{xn} and targets{yn} in {source} have different numbers of rows ({xt.shape[0]} and "
            f"{yt.shape[0]}): each sample is one row of both. Save them with the same length, one target row per "
            "input row."
        )
    if xt.shape[0] == 0:
        raise DataError(f"{source} holds no samples (0 rows). Check that the file holds the data you meant.")
    for name, key, tensor in zip(("inputs", "targets"), keys or ("", ""), (xt, yt)):
        if 0 in tensor.shape[1:]:
            # Such inputs reached the model and failed in the loss, "The model's output (shape (32, 0, 2)) does
            # not fit the targets", naming neither the file nor the array.
            named = f" ({key!r})" if key else ""
            raise DataError(
                f"The {name}{named} in {source} have shape {tuple(tensor.shape)}: a dimension of size 0, so each "
                "sample holds no values. Check how the array was built (a slice or reshape that kept nothing?)."
            )
    # float64 arrays (numpy's default) are read as float32, the dtype of a float32 model's weights; a float64
    # model keeps them float64 (float_dtype), where the cast made every batch fail on the dtype.
    if xt.dtype == torch.float64:
        xt = xt.to(float_dtype)
    if yt.dtype == torch.float64:
        yt = yt.to(float_dtype)
    if yt.dtype == torch.uint64 and yt.numel() and int(yt.cpu().numpy().max()) > torch.iinfo(torch.int64).max:
        # Past int64's range the cast to class labels below wrapped them to negative numbers, never written: they
        # stay real numbers, as a CSV column's do.
        yt = torch.from_numpy(yt.cpu().numpy().astype(np.float64)).to(float_dtype)
    if yt.dtype == torch.bool or (not yt.is_floating_point() and not yt.is_complex() and yt.dtype != torch.int64):
        # True/False labels (y = x > 0) are the classes 1/0: no loss takes a bool target; integer
        # labels saved narrower (int32, uint8) are class indices, which torch's class losses take as int64.
        yt = yt.long()
    _check_finite("inputs", xt, source)
    _check_finite("targets", yt, source)
    return xt, yt


def dataset_failure_message(exc: BaseException, data: LoadedData, data_spec: str, val_spec: str | None) -> str | None:
    """Which Dataset of ``--data``/``--val-data`` raised ``exc`` on which example, and what to do; else ``None``.

    A data function's Dataset that failed on an example came out as Python's bare error ("KeyError: 40"),
    naming neither the Dataset, nor where it came from, nor the example; from a DataLoader worker, as the
    worker's whole traceback. The engine's own message (a :class:`DataError` raised from that error, naming
    ``train_data``) is said here in the option's words.

    Args:
        exc: The error the range test or the training raised.
        data: The data loaded from ``data_spec`` (and ``val_spec``).
        data_spec: ``--data`` as given.
        val_spec: ``--val-data`` as given, if any.

    Returns:
        The message, or ``None`` when ``exc`` was not raised in a Dataset's ``__getitem__`` (or is lrfinder's own).

    """
    from ..batches import datasets_of, example_failure

    if isinstance(exc, DataError) and exc.__cause__ is not None:
        exc = exc.__cause__  # the engine's "The Dataset Records in train_data failed on example 40: ..."
    failure = example_failure(exc, data.train)
    if failure is None and data.val is not None:
        failure = example_failure(exc, data.val)
    if failure is None:
        return None
    option = "--data", data_spec
    if val_spec is not None and data.val is not None and any(d is failure.dataset for d in datasets_of(data.val)):
        option = "--val-data", val_spec
    return failure.message(f" from {option[0]} {option[1]}", " (run with --debug for the traceback).")


def _check_has_samples(obj: Any, what: str) -> None:
    """Refuse a Dataset or DataLoader that knows it is empty (one without ``len`` is trusted)."""
    try:
        size = len(obj)
    except TypeError:
        return
    if size == 0:
        kind = "batches" if isinstance(obj, DataLoader) else "samples"
        raise DataError(f"{what} is empty (0 {kind}). Return the training data from the function.")


#: The input and target array names read from ``.npz``/``.pt`` data and a data function's dict without
#: ``--x-key``/``--y-key``, the first present of each.
_X_NAMES = ("x", "X", "inputs", "features")
_Y_NAMES = ("y", "Y", "targets", "labels")
#: scikit-learn's names: a ``load_digits()`` Bunch holds its inputs as ``data``, its targets as ``target``.
_SKLEARN_NAMES = {"--x-key": "data", "--y-key": "target"}


_Pick = tuple[str | None, Sequence[str], str, str]


def _picks(x_key: str | None, y_key: str | None) -> tuple[_Pick, _Pick]:
    """:func:`_pick`'s arguments (before ``source``) for the inputs and for the targets."""
    return (x_key, _X_NAMES, "input", "--x-key"), (y_key, _Y_NAMES, "target", "--y-key")


def _pick(
    arrays: Mapping[str, Any], key: str | None, defaults: Sequence[str], role: str, option: str, source: str
) -> tuple[str, Any]:
    """The name and the array of ``arrays`` that ``key`` (else the first of ``defaults`` present) names."""
    names = [key] if key else list(defaults)
    for name in names:
        if name in arrays:
            return name, arrays[name]
    fix = f"Pass {option} NAME."
    sklearn = _SKLEARN_NAMES.get(option)
    if not key and sklearn in arrays:
        # "Pass --x-key NAME" for a Bunch, and then "Pass --y-key NAME": the names to pass are known.
        fix = f"Pass {option} {sklearn}"
        if option == "--x-key" and "target" in arrays and not any(name in arrays for name in _Y_NAMES):
            fix += " --y-key target"
        fix += " (scikit-learn's names: a Bunch holds its inputs as 'data' and its targets as 'target')."
    elif not key and option == "--y-key" and len(arrays) == 1:
        # An autoencoder's file holds its inputs alone, and they are its targets too: the one way to say so.
        only = next(iter(arrays))
        fix = f"Pass --y-key {only} to use the inputs as the targets too (an autoencoder), or save the targets."
    # A usage error (exit 2), as a CSV without --target is: the data is fine, the option names another array, or
    # the data needs one to name its arrays.
    raise _usage_error(
        f"{source} has no {role} array named {' or '.join(map(repr, names))}; it holds {sorted(arrays)}. {fix}"
    )


def _numeric_text(text: str) -> bool:
    """Whether a CSV cell reads as a number (``"0.5"``, ``"-3"``, ``"1e-4"``)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _comma_number(text: str) -> bool:
    """Whether a CSV cell is a number written with a comma: a decimal comma (``"0,126"``), thousands (``"1,234.5"``)."""
    if "," not in text:
        return False
    return _numeric_text(text.replace(",", "")) or (text.count(",") == 1 and _numeric_text(text.replace(",", ".")))


#: The field separator of a ``.tsv`` file, whatever its header holds (a column name may have a comma in it).
_TSV_DELIMITER = "\t"


def _csv_delimiter(header_line: str) -> str:
    """The field separator of a CSV file, read from its header line.

    A comma, unless the header has none and holds semicolons (a spreadsheet's export in a locale with
    a decimal comma) or tabs, so such a file's columns are found instead of one column named
    ``'a;b;label'``.
    """
    if "," in header_line:
        return ","
    for sep in (";", "\t"):
        if sep in header_line:
            return sep
    return ","


def _comment(row: Sequence[str]) -> bool:
    """Whether a CSV row is a ``#`` comment line (no number starts with ``#``)."""
    return bool(row) and row[0].lstrip().startswith("#")


def _csv_rows(path: Path, delimiter: str | None = None) -> tuple[str, list[tuple[int, list[str]]]]:
    """The delimiter and the numbered rows of a CSV file, header first; ``#`` comment lines and blank ones left out.

    Comment lines before the header (a tool's notes) and among the rows are skipped: the header was
    the first comment and "--target 'label' is not a column; the columns are ['# exported by ...']". When
    every line before the data is a comment, the last is the header without its ``#`` (as
    ``numpy.savetxt(path, data, delimiter=",", header="a,b,label")`` writes it). ``delimiter``: the file's
    (a tab for ``.tsv``), else read from the header (:func:`_csv_delimiter`).
    """
    # A spreadsheet's byte-order mark would otherwise stick to the first column's name; Excel's
    # "Unicode text" is UTF-16 (with one), separated by tabs.
    with io.StringIO(read_text(path), newline="") as handle:
        lines = [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
        handle.seek(0)
        delimiter = delimiter or _csv_delimiter(lines[0] if lines else "")
        reader = csv.reader(handle, delimiter=delimiter)
        # Blank lines (a file ending in an extra newline or two) hold no row: csv.reader yields [] for them.
        numbered = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    leading = 0
    while leading < len(numbered) and _comment(numbered[leading][1]):
        leading += 1
    rows = [(n, row) for n, row in numbered[leading:] if not _comment(row)]
    if leading and rows and all(_numeric_text(cell.strip()) for cell in rows[0][1]):
        n, header = numbered[leading - 1]
        rows.insert(0, (n, [header[0].lstrip().lstrip("#").lstrip(), *header[1:]]))
    return delimiter, rows


def _csv_features(path: Path, target: str | None) -> list[str]:
    """The input columns of a CSV file, in the file's order: its header's names but the ``target``."""
    delimiter = _TSV_DELIMITER if path.suffix.lower() == ".tsv" else None
    first = read_first_line(path)  # the header alone: the file was read whole, twice for --val-data
    if first.strip() and not first.lstrip().startswith("#"):
        header = next(csv.reader([first], delimiter=delimiter or _csv_delimiter(first)), [])
    else:  # comment lines (or a blank one) before it: found as the file is read
        rows = _csv_rows(path, delimiter)[1]
        header = rows[0][1] if rows else []
    return [name.strip() for name in header if name.strip() != target]


def _align_csv_columns(train_spec: str, val_data: LoadedData, target: str | None) -> LoadedData:
    """Put a validation CSV's input columns in the training CSV's order, matched by name.

    The inputs are every column but ``target``, in each file's own order: a validation file that
    lists the same columns in another order was read with its inputs swapped, silently.

    Raises:
        DataError: The two files' input columns are not the same names.

    """
    train_path, val_path = Path(train_spec), Path(val_data.source)
    if not (
        train_path.suffix.lower() in CSV_SUFFIXES
        and val_path.suffix.lower() in CSV_SUFFIXES
        and isinstance(val_data.dataset, TensorDataset)
    ):
        return val_data
    if not (train_path.is_file() and val_path.is_file()):
        return val_data
    train_cols, val_cols = _csv_features(train_path, target), _csv_features(val_path, target)
    if train_cols == val_cols:
        return val_data
    if sorted(train_cols) != sorted(val_cols) or len(set(train_cols)) != len(train_cols):
        missing = [c for c in train_cols if c not in val_cols]
        extra = [c for c in val_cols if c not in train_cols]
        detail = "; ".join(
            part
            for part in (f"it lacks {missing}" if missing else "", f"it has {extra} besides" if extra else "")
            if part
        )
        raise DataError(
            f"--val-data {val_path} does not have the input columns of --data {train_path}"
            f"{': ' + detail if detail else ''}. The columns are {train_cols} there and {val_cols} here; give "
            "both files the same columns."
        )
    x, y = val_data.dataset.tensors
    order = [val_cols.index(name) for name in train_cols]
    return LoadedData(val_data.train, None, TensorDataset(x[:, order], y), val_data.source, val_data.target_kind)


def _read_csv(path: Path, target: str | None) -> tuple[torch.Tensor, torch.Tensor]:
    if not target:
        raise DataError(f"Reading {path} needs the label column: pass --target COLUMN.")
    delimiter, numbered = _csv_rows(path, _TSV_DELIMITER if path.suffix.lower() == ".tsv" else None)
    rows = [row for _, row in numbered]
    if len(rows) < 2:
        raise DataError(f"{path} has no data rows under its header.")
    header = [h.strip() for h in rows[0]]
    if target not in header:
        if header and all(_numeric_text(h) for h in header):
            # A CSV written without a header (numpy.savetxt, pandas' header=False): its first row is data.
            raise DataError(
                f"{path} has no header row: its first line holds numbers ({', '.join(header[:3])}"
                f"{', ...' if len(header) > 3 else ''}), not column names. Add a first line naming the columns, "
                "and pass the label column's name as --target."
            )
        close = [h for h in header if h.lower() == target.lower()] or difflib.get_close_matches(target, header, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise _usage_error(f"--target {target!r} is not a column of {path}; the columns are {header}.{hint}")
    if header.count(target) > 1:
        # The first was taken, an input column read as the labels, and the run failed on the loss or ran on it.
        columns = ", ".join(str(c + 1) for c, name in enumerate(header) if name == target)
        raise DataError(
            f"{path} has {header.count(target)} columns named {target!r} (columns {columns}), so --target cannot tell "
            "the label column. Give the columns distinct names."
        )
    ti = header.index(target)
    values = np.empty((len(rows) - 1, len(header)), dtype=np.float64)
    for i, (r, row) in enumerate(numbered[1:], start=2):
        if len(row) != len(header):
            raise DataError(f"{path} line {r} has {len(row)} fields, but the header has {len(header)}.")
        for c, cell in enumerate(row):
            text = cell.strip()
            try:
                values[i - 2, c] = float(text) if text else math.nan
            except ValueError:
                if _comma_number(text):
                    # A spreadsheet's export in a decimal-comma locale ('0,126'), or a thousands separator: "Encode
                    # categories as numbers first" was the advice, for a number. In a comma-separated file the
                    # comma of a (quoted) number is a thousands separator.
                    read = "thousands=','" if delimiter == "," else f"sep={delimiter!r}, decimal=','"
                    raise DataError(
                        f"{path} line {r}, column {header[c]!r}: {cell!r} is not a number as lrfind reads one: it has "
                        "a comma in it (a decimal comma or a thousands separator). Write numbers with a decimal "
                        "point and no separators (0.126, 1234.5): export the file with '.' as the decimal separator, "
                        f"or convert it with pandas.read_csv(path, {read}).to_csv(new_path, index=False)."
                    ) from None
                raise DataError(
                    f"{path} line {r}, column {header[c]!r}: {cell!r} is not a number. Encode categories as "
                    "numbers first."
                ) from None
    if len(header) == 1:
        # The model got inputs of shape (N, 0) and failed with "mat1 and mat2 shapes cannot be multiplied".
        raise DataError(
            f"{path} has the label column {target!r} alone: no input columns for the model. Add the input columns "
            "to the file (separated by commas, semicolons or tabs)."
        )
    for c, name in enumerate(header):
        if c != ti and np.isnan(values[:, c]).all() and not any(row[c].strip() for _, row in numbered[1:]):
            # Every cell blank: read as NaN, it was "The inputs contain 640 NaN/inf value(s) (first in row 0)".
            if not name and c == len(header) - 1:
                raise DataError(
                    f"{path}: column {c + 1} has no name and is empty in every row: each line ends in a delimiter. "
                    "Remove the trailing delimiters."
                )
            if not name:  # two delimiters in a row on every line: a column of nothing between its neighbours
                raise DataError(
                    f"{path}: column {c + 1} has no name and is empty in every row (two delimiters in a row on each "
                    "line). Remove the column."
                )
            raise DataError(
                f"{path}: column {name!r} is empty in every row. Fill it in or remove the column: an empty column "
                "gives the model no input."
            )
    index = values[:, 0]
    if (
        ti != 0
        and header[0] in ("", "Unnamed: 0")
        and np.all(index == np.round(index))
        and len(np.unique(index)) == len(index)
    ):
        # pandas' df.to_csv(path) writes the row index as a first column without a name: it was read as an input (the
        # model failed on one input too many, or trained on the row numbers).
        shown = ", ".join(f"{v:g}" for v in index[:3])
        raise DataError(
            f"{path}: column 1 has no name and holds a distinct whole number in each row ({shown}, ...): the row "
            "index pandas writes with df.to_csv(path), not an input. Write the file with df.to_csv(path, "
            "index=False), or remove the column."
        )
    # float64 here: _to_tensors casts the floats to the model's dtype (float32 unless the model is float64).
    features = np.delete(values, ti, axis=1)
    labels = values[:, ti]
    # Whole numbers past int64's range (1e30) wrapped to -2**63 in the cast: the targets read as a number never
    # written. They stay real numbers.
    if np.isfinite(labels).all() and np.all(labels == np.round(labels)) and np.all(np.abs(labels) < 2.0**63):
        return torch.from_numpy(features), torch.from_numpy(labels.astype(np.int64))
    return torch.from_numpy(features), torch.from_numpy(np.ascontiguousarray(labels))


def _array_pair(
    obj: Any, *, x_key: str | None, y_key: str | None, source: str, float_dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The inputs and targets of a dict with ``x``/``y`` arrays or of an ``(x, y)`` pair; None for anything else."""
    if isinstance(obj, Mapping):
        (xk, x), (yk, y) = (_pick(obj, *pick, source) for pick in _picks(x_key, y_key))
        return _to_tensors(x, y, source, float_dtype, keys=(xk, yk))
    if isinstance(obj, (tuple, list)) and len(obj) == 2:
        return _to_tensors(obj[0], obj[1], source, float_dtype)
    return None


def _holds_arrays(obj: Any) -> bool:
    """Whether a data function's result is an ``(x, y)`` tuple or a dict, of anything but loaders and Datasets."""
    if isinstance(obj, tuple) and len(obj) == 2:
        items: Sequence[Any] = obj
    elif isinstance(obj, Mapping):
        items = list(obj.values())
    else:
        return False
    return not any(isinstance(item, (DataLoader, Dataset)) or is_datamodule(item) for item in items)


def _read_npz(
    path: Path, *, x_key: str | None, y_key: str | None, float_dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """The inputs and targets of the numpy ``.npz`` archive ``path``, whatever its extension; no pickles are loaded.

    Raises:
        DataError: Object arrays (they would unpickle), an unreadable archive, no arrays, or no array of the names.

    """
    source = str(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(
                f"{path} holds object arrays, which are not loaded (loading them runs pickled code). Store "
                "numeric arrays: numpy.savez(path, x=x.astype('float32'), y=y)."
            ) from exc
        raise DataError(f"Cannot read {path} as a .npz archive: {reason(exc)}.") from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"Cannot read {path} as a .npz archive: {reason(exc)}.") from exc
    if not arrays:
        raise DataError(f"{path} holds no arrays. Save the inputs and targets: numpy.savez(path, x=..., y=...).")
    (xk, x), (yk, y) = (_pick(arrays, *pick, source) for pick in _picks(x_key, y_key))
    return _to_tensors(x, y, source, float_dtype, keys=(xk, yk))


def _refuse_data_kind(path: Path, kind: str, said: str) -> NoReturn:
    """Refuse ``path``, no ``kind`` file: a file of another kind is a usage error (exit 2), as it is as MODEL.

    ``said``: why, and what to save instead. A ``kind`` archive cut short (:func:`_not_a_zip`) is damaged data, a
    failed run (exit 1).
    """
    message = _not_a_zip(path, kind, said)
    if message == said:
        raise _usage_error(message)
    raise DataError(message)


def _load_tensor_file(
    path: Path,
    *,
    x_key: str | None,
    y_key: str | None,
    target: str | None,
    float_dtype: torch.dtype = torch.float32,
    option: str = "--data",
) -> tuple[torch.Tensor, torch.Tensor]:
    suffix = path.suffix.lower()
    source = str(path)
    _check_not_empty(path, "Data file")
    if suffix == ".npz":
        if not zipfile.is_zipfile(path):
            _refuse_data_kind(
                path,
                ".npz",
                f"{path} is not a .npz archive (not a zip file). Save the arrays with numpy.savez(path, x=..., y=...).",
            )
        return _read_npz(path, x_key=x_key, y_key=y_key, float_dtype=float_dtype)
    if suffix in (".pt", ".pth"):
        if _is_torchscript(path):
            # The model as --data (the arguments swapped): the fix is on the command line, a usage error.
            raise _usage_error(
                f"{path} is a TorchScript model, not data. Pass it as MODEL, and as {option} a dict of tensors: "
                "torch.save({'x': x, 'y': y}, path)."
            )
        if not _is_pickle_or_torch_archive(path):
            # torch.load reads any other bytes as a legacy pickle and fails on them with a bare KeyError.
            _refuse_data_kind(
                path,
                "torch.save",
                f"{path} is not a PyTorch file (neither a torch.save archive nor a pickle). Save a dict of tensors: "
                "torch.save({'x': x, 'y': y}, path), or pass a .npz or .csv file.",
            )
        if _is_npz(path):
            # numpy.savez's archive under a torch name (its members are all .npy arrays, torch.save's never are): read
            # as the .npz it is, as safely (no pickles). It was refused with "Rename it to ....npz", a step the
            # contents already told.
            return _read_npz(path, x_key=x_key, y_key=y_key, float_dtype=float_dtype)
        other_zip = _other_zip(path)
        if other_zip is not None:  # a file of a kind lrfind does not read as data: exit 2, as for MODEL
            raise _usage_error(
                f"{path} is {other_zip}the data file itself: a dict of tensors, torch.save({{'x': x, 'y': y}}, path), "
                "or a .npz or .csv file."
            )
        # Files of a kind lrfind does not read as data (a pickle, a Lightning checkpoint) are usage errors (exit 2), as
        # a lone .npy (refused by --data's type) and a TorchScript model as --data are: the data in them is not at
        # fault, the file given is; a pickled Dataset was a failed run (exit 1).
        if _is_plain_pickle(path):
            # torch.load warned "Detected pickle protocol 4 ... please file an issue" before refusing it.
            raise _usage_error(
                f"{path} is a plain Python pickle (pickle.dump or joblib.dump), not a torch.save file. Save a dict of "
                "tensors: torch.save({'x': x, 'y': y}, path), or the arrays: numpy.savez(path, x=x, y=y)."
            )
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            # torch names the first global it refused ("Unsupported global: GLOBAL torch...TensorDataset"): a
            # Dataset saved whole, which --unsafe-pickle (MODEL's) does not open and a data function can give, or
            # numpy arrays, which torch.save pickles unless they are tensors.
            found = re.search(r"GLOBAL ([\w.]+)", str(exc))
            name = found.group(1) if found else ""
            tensors = "Save a dict of tensors: torch.save({'x': x, 'y': y}, path)"
            if name.startswith("numpy"):
                what, fix = " (numpy arrays)", (
                    "Save tensors, torch.save({'x': torch.from_numpy(x), 'y': torch.from_numpy(y)}, path), or the "
                    "arrays as they are: numpy.savez(path, x=x, y=y)."
                )
            elif name.startswith("torch.utils.data") or name.endswith("Dataset"):
                what = f" (a {name.rsplit('.', 1)[-1]}, {name})"
                fix = f"{tensors}, or pass a function that returns the Dataset: {option} package.module:function."
            else:
                what, fix = (f" ({name})" if name else ""), f"{tensors}."
            raise _usage_error(
                f"{path} holds pickled Python objects{what}, which are not loaded (loading a pickle runs code; "
                f"--unsafe-pickle is for MODEL only). {fix}"
            ) from exc
        except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as exc:
            raise DataError(
                f"Cannot read {path} as a PyTorch tensor file ({type(exc).__name__}: {reason(exc)}). Save a dict "
                "of tensors: torch.save({'x': x, 'y': y}, path)."
            ) from exc
        if isinstance(obj, Mapping) and "pytorch-lightning_version" in obj:
            raise _usage_error(
                f"{path} is a Lightning checkpoint, not data. Pass it as MODEL (with --model-class), and as {option} "
                "a dict of tensors: torch.save({'x': x, 'y': y}, path)."
            )
        pair = _array_pair(obj, x_key=x_key, y_key=y_key, source=source, float_dtype=float_dtype)
        if pair is not None:
            return pair
        raise DataError(
            f"{path} holds a {type(obj).__name__}; expected a dict with 'x' and 'y' tensors or an (x, y) pair."
        )
    if suffix in CSV_SUFFIXES:
        try:
            return _to_tensors(*_read_csv(path, target), source, float_dtype)
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{path} is not UTF-8 text (byte {exc.start}): a {suffix} file must be text with a header row."
            ) from None
    # A file of another format is refused by --data's type already (exit 2); this is for Python callers.
    raise DataError(cast(str, unknown_data_format(path)))


def _check_called_bare(factory: Callable[..., Any], text: str, option: str) -> None:
    """Refuse a data function that cannot be called with no arguments, as lrfind calls it.

    Python's own "missing 1 required positional argument: 'path'" said what failed but not that
    there is no option to pass arguments, nor what to do instead.

    Raises:
        click.UsageError: ``factory`` has required parameters; the message names them and shows a
            wrapper (exit 2: the option names a function lrfind cannot call, as one that does not import).

    """
    found = _unbound_required(factory)
    if found is None or not found[1]:
        return
    required = found[1]
    module, _, name = text.partition(":")
    # Named for what it gives: the validation set of --val-data, the training set of --data.
    wrapper = "validation_data" if option == "--val-data" else "train_data"
    needs = "the argument" if len(required) == 1 else "the arguments"
    raise _usage_error(
        f"The data function {text} needs {needs} {_names([p.name for p in required])}, but {option} calls it "
        "with no arguments (there is no option to pass them). Add a function without parameters to your module "
        f"that calls it, e.g. `def {wrapper}(): return {_call_template(name, required)}`, and pass {option} "
        f"{module}:{wrapper}."
    )


def _batches_refusal(text: str, obj: object) -> str:
    """Why a data function's list (or generator) of batches is refused, and what to return instead.

    ``range_test`` takes an iterable of batches, but ``lrfind`` passes over its data again (``--refine``'s trials
    and held-out batches, ``fit``'s epochs), which a generator cannot, and batches a Dataset or arrays with
    ``--batch-size``, shuffled by ``--seed``. It was refused as "returned a list; expected a Dataset, ...".
    A list of two arrays is an ``(x, y)`` pair given as a list: told to return it as a tuple.
    """
    if isinstance(obj, list) and len(obj) == 2 and all(hasattr(item, "shape") for item in obj):
        # [x, y]: told "a list of batches ... return an (x, y) pair of arrays", which it was, as a list.
        names = ", ".join(type(item).__name__ for item in obj)
        return (
            f"The data function {text} returned a list of 2 arrays ({names}): an (x, y) pair is read as a tuple, "
            "return x, y (not [x, y]). A list of batches is for range_test(model, batches) in Python."
        )
    what = "a generator" if isinstance(obj, Iterator) else f"a {type(obj).__name__}"
    return (
        f"The data function {text} returned {what} of batches; lrfind needs data it can pass over again (--refine, "
        "fit's epochs) and batch with --batch-size. Return a Dataset (TensorDataset(x, y)), a DataLoader or an "
        "(x, y) pair of arrays; a list or generator of batches is for range_test(model, batches) in Python."
    )


def load_data(
    spec: str | os.PathLike[str],
    *,
    batch_size: int = 32,
    x_key: str | None = None,
    y_key: str | None = None,
    target: str | None = None,
    val_spec: str | os.PathLike[str] | None = None,
    seed: int = 0,
    option: str = "--data",
    float_dtype: torch.dtype = torch.float32,
) -> LoadedData:
    """Load training (and validation) data as DataLoaders.

    Args:
        spec: A ``.npz``/``.pt``/``.csv`` file, or ``package.module:function`` returning a
            Dataset, a DataLoader, a LightningDataModule (its train and val loaders), an ``(x, y)``
            pair of arrays or tensors, or a dict of them (``x_key``/``y_key``).
        batch_size: Batch size of the loaders built here (ignored for a ready-made DataLoader).
        x_key: Name of the input array in ``.npz``/``.pt`` files (default ``x``).
        y_key: Name of the target array (default ``y``).
        target: The label column of a ``.csv`` file; every other column is an input feature.
        val_spec: Validation data in the same forms (overrides a DataModule's val loader).
        seed: Seed of the shuffling order.
        option: The option ``spec`` was given as, for messages (``--val-data`` for ``val_spec``).
        float_dtype: The dtype float64 arrays of a file or a data function's ``(x, y)``/dict are read as:
            float32 (the default) for a float32 model, ``torch.float64`` for a float64 one (its weights' dtype).

    Returns:
        A :class:`LoadedData`. Integer targets stay int64 (class labels); real-valued arrays stored as float64
        (a CSV's columns included) are ``float_dtype``.

    Raises:
        DataError: A missing or unreadable file, an unknown format, non-numeric values, NaN/inf,
            or a function returning something else.
        click.UsageError: A ``package.module:function`` that does not import, or that needs
            arguments; arrays not named as ``x_key``/``y_key`` (or the defaults) say, a ``target``
            that is not a column, a TorchScript model as the data (exit 2).

    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Expected batch_size >= 1, but got batch_size={batch_size!r}")
    text = os.fspath(spec)
    path = Path(text)
    val: DataLoader[Any] | None = None
    if not path.exists() and is_import_string(text):
        factory = _import_option(text, option)
        if callable(factory):
            _check_called_bare(factory, text, option)
        try:
            obj = factory() if callable(factory) else factory
        except Exception as exc:
            raise DataError(f"The data function {text} failed: {type(exc).__name__}: {reason(exc)}.") from exc
        if is_datamodule(obj):
            try:
                obj.prepare_data()
                obj.setup("fit")
                train = obj.train_dataloader()
            except Exception as exc:
                raise DataError(
                    f"The LightningDataModule from {text} failed to give its train_dataloader: "
                    f"{type(exc).__name__}: {reason(exc)}."
                ) from exc
            try:
                val = obj.val_dataloader()
            except Exception:  # a DataModule without validation data raises here
                val = None
            _check_has_samples(train, f"The train_dataloader of the DataModule from {text}")
            data = LoadedData(train, val if isinstance(val, DataLoader) else None, None, text)
        elif isinstance(obj, DataLoader):
            _check_has_samples(obj, f"The DataLoader returned by {text}")
            data = LoadedData(obj, None, None, text)
        elif isinstance(obj, Dataset):
            _check_has_samples(obj, f"The Dataset returned by {text}")
            data = LoadedData(_make_loader(obj, batch_size, shuffle=True, seed=seed), None, obj, text)
        elif _holds_arrays(obj):
            # An (x, y) pair of arrays or tensors (sklearn's return_X_y=True), or a dict of them, as a .pt file holds.
            pair = cast(
                "tuple[torch.Tensor, torch.Tensor]",
                _array_pair(obj, x_key=x_key, y_key=y_key, source=text, float_dtype=float_dtype),
            )
            dataset = TensorDataset(*pair)
            kind = "float" if pair[1].is_floating_point() else "class"
            data = LoadedData(
                _make_loader(dataset, batch_size, shuffle=True, seed=seed),
                None,
                dataset,
                text,
                kind,
                keyed=isinstance(obj, Mapping),
            )
        elif isinstance(obj, (list, Iterator)):
            raise DataError(_batches_refusal(text, obj))
        else:
            raise DataError(
                f"The data function {text} returned a {type(obj).__name__}; expected a Dataset, a DataLoader, "
                "a LightningDataModule, an (x, y) pair of arrays or a dict with 'x' and 'y' arrays."
            )
    else:
        if not path.is_file():
            raise DataError(f"Data file {path} does not exist (and is not a package.module:function).")
        x, y = _load_tensor_file(
            path, x_key=x_key, y_key=y_key, target=target, float_dtype=float_dtype, option=option
        )
        dataset = TensorDataset(x, y)
        kind = "float" if y.is_floating_point() else "class"
        data = LoadedData(_make_loader(dataset, batch_size, shuffle=True, seed=seed), None, dataset, text, kind)
    if val_spec is not None:
        val_data = load_data(
            val_spec,
            batch_size=batch_size,
            x_key=x_key,
            y_key=y_key,
            target=target,
            seed=seed,
            option="--val-data",
            float_dtype=float_dtype,
        )
        val_data = _align_csv_columns(text, val_data, target)
        val_loader = (
            val_data.train
            if val_data.dataset is None
            else _make_loader(val_data.dataset, batch_size, shuffle=False, seed=seed)
        )
        data = LoadedData(
            data.train, val_loader, data.dataset, data.source, data.target_kind, keyed=data.keyed or val_data.keyed
        )
    return data


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------


def _multi_label_hint(name: str, output: Any, target: Any) -> str:
    """What to do when the loss refused the targets; ``--loss bce_with_logits`` for 0/1 integers of the output's shape.

    Multi-label targets (one yes/no per output, ``(N, K)`` against ``(N, K)`` scores) stored as
    integers get the default ``cross_entropy``, which takes them for class indices of the wrong
    shape; torch's "Expected floating point type for target with class probabilities, got Long"
    did not say which loss they need. Class labels stored as a column, ``(N, 1)`` (pandas'
    ``df[["label"]].values``), got torch's "0D or 1D target tensor expected, multi-target not
    supported": they are told to be stored flat.
    """
    if (
        name in _CLASS_LOSSES
        and isinstance(output, torch.Tensor)
        and isinstance(target, torch.Tensor)
        and not target.is_floating_point()
        and output.dim() == 2
        and output.shape[1] > 1
        and target.dim() == 2
        and target.shape[1] == 1
    ):
        return (
            f"The class labels are stored as a column, shape ({target.shape[0]}, 1): store them flat, one label per "
            "sample, shape (N,): y.ravel() in numpy, y.squeeze(1) in torch."
        )
    if (
        name in _CLASS_LOSSES
        and isinstance(output, torch.Tensor)
        and isinstance(target, torch.Tensor)
        and not target.is_floating_point()
        and target.shape == output.shape
        and bool(((target == 0) | (target == 1)).all())
    ):
        return (
            f"The targets hold 0/1 for each of the {output.shape[-1]} outputs (multi-label, not one class per "
            "sample): pass --loss bce_with_logits."
        )
    return "Check --loss, or the model's last layer."


def _classes_last(output: torch.Tensor, target: torch.Tensor) -> bool:
    """Whether ``output`` holds its class scores last, ``(N, T, C)`` against ``(N, T)`` labels.

    A sequence model's layout (a language model's next-token scores). torch's class losses take
    the classes in dim 1 (``(N, C, d1, ...)``, an image segmenter's); only when that layout cannot
    fit the labels and the classes-last one does is the output read as classes last.
    """
    return _last_fits(output, target) and output.shape[2:] != target.shape[1:]


def _last_fits(output: torch.Tensor, target: torch.Tensor) -> bool:
    """Whether ``output``'s dims but the last are ``target``'s: its class scores could be last."""
    return output.dim() >= 3 and output.dim() == target.dim() + 1 and output.shape[:-1] == target.shape


def _classes_either_way(output: torch.Tensor, target: torch.Tensor) -> bool:
    """Whether ``output`` fits ``target``'s labels with its classes in dim 1 and last alike.

    ``(N, T, T)`` scores against ``(N, T)`` labels: a sequence model's ``(N, T, C)`` and torch's
    ``(N, C, T)`` when the sequence is as long as the classes are many (and so on for more dims).
    :func:`_classes_last` keeps torch's layout then.
    """
    return _last_fits(output, target) and output.shape[2:] == target.shape[1:]


def _warn_classes_either_way(loss_name: str, output: Any, targets: torch.Tensor) -> None:
    """Warn that ``loss_name`` reads class scores that fit either layout (:func:`_classes_either_way`) in dim 1.

    A language model with 24 tokens of vocabulary, trained on sequences of 24, was scored with its
    positions as the classes: the loss never fell, and nothing said why.
    """
    if loss_name not in _CLASS_LOSSES or not isinstance(output, torch.Tensor):
        return
    if not _classes_either_way(output, targets):
        return
    # The batch dim as N: one warning however many batch sizes the checks run at.
    scores, labels = (", ".join(["N", *map(str, t.shape[1:])]) for t in (output, targets))
    warnings.warn(
        f"The model's output of shape ({scores}) fits the targets of shape ({labels}) with its {output.shape[1]} "
        f"class scores in dim 1 (torch's layout, a segmenter's) or last (a sequence model's "
        f"(N, T, C)) alike; --loss {loss_name} reads them in dim 1. If the model gives them last (a language "
        "model's next-token scores), that scores the wrong numbers and it will not learn: make the sequences one "
        "token longer or shorter than the classes are many, or use a LightningModule whose training_step computes "
        "the loss.",
        stacklevel=2,
    )


class _Loss:
    """A named loss that adapts common target shapes/dtypes (picklable, so it checkpoints)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.name in _CLASS_LOSSES:
            if target.is_floating_point() and target.dim() == output.dim() - 1:
                target = target.long()
            elif not target.is_floating_point() and target.dtype != torch.int64:
                # Class indices in a narrower type (numpy int32 labels, uint8): torch's class losses
                # take int64 only (cross_entropy also uint8), and the labels are the same numbers.
                target = target.long()
            if _classes_last(output, target):
                output = output.movedim(-1, 1)
            if self.name == "cross_entropy":
                return F.cross_entropy(output, target)
            return F.nll_loss(output, target)
        if not target.is_floating_point():
            target = target.float()
        # A (N, 1) output against (N,) targets would broadcast to (N, N) silently: align them.
        if output.dim() == target.dim() + 1 and output.shape[-1] == 1:
            output = output.squeeze(-1)
        if output.shape != target.shape:
            hint = "Check --loss, or the model's last layer."
            if output.dim() == target.dim() + 1 and bool(torch.all(target == target.round())):
                hint = (
                    f"The targets are whole numbers: if they are class labels for the {output.shape[-1]} outputs, "
                    "pass --loss cross_entropy; else check the model's last layer."
                )
            raise ModelError(
                f"The model's output of shape {tuple(output.shape)} does not fit the targets of shape "
                f"{tuple(target.shape)} for --loss {self.name}. {hint}"
            )
        regression: dict[str, Callable[..., torch.Tensor]] = {
            "mse": F.mse_loss,
            "l1": F.l1_loss,
            "smooth_l1": F.smooth_l1_loss,
            "huber": F.huber_loss,
            "bce_with_logits": F.binary_cross_entropy_with_logits,
        }
        return regression[self.name](output, target)

    def __repr__(self) -> str:
        return f"loss({self.name})"


def make_loss(
    name: LossName | str | None, target_kind: str | None = None
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Return the loss function for a ``--loss`` name.

    Args:
        name: One of :data:`LOSSES`, or ``None`` to pick from the targets: ``cross_entropy`` for
            integer class labels, ``mse`` for real values.
        target_kind: ``"class"`` or ``"float"`` (see :class:`LoadedData`), used when ``name`` is
            ``None``.

    Raises:
        ValueError: An unknown name (the message lists the valid ones).

    """
    if name is None:
        name = "mse" if target_kind == "float" else "cross_entropy"
    if name not in LOSSES:
        raise ValueError(f"Unknown loss {name!r}; expected one of {', '.join(LOSSES)}")
    return _Loss(name)


#: What a dict batch a model scores itself needs, said where it lacks it (the CLI has no ``step_fn``).
_OWN_LOSS_FIX = (
    "Give every batch the keys the model computes its loss from (a Hugging Face model: 'labels'), or pass --loss "
    "to score the model's output tensor with one of lrfind's losses."
)


def computes_own_loss(model: nn.Module, batch: Any) -> bool:
    """Whether ``model(**batch)`` returns a loss of its own for a dict ``batch`` (a Hugging Face model given labels).

    Such a model is trained on that loss when ``--loss`` is not given, as :func:`lrfinder.range_test` and
    :func:`lrfinder.train` take it without ``loss_fn``: scoring its output with a loss of lrfind's failed, since
    the output is a ``ModelOutput`` and not a tensor, and fed the model the batch's input key alone (no
    ``attention_mask``). One forward pass without gradients, under a forked RNG (dropout draws from it); the
    buffers it changes (batch norm statistics) are put back.

    Args:
        model: The plain model (not a LightningModule), on the batch's device.
        batch: The first batch of the training data.

    Returns:
        ``True`` when the batch is a dict that ``model.forward`` takes as keywords and the output holds a loss
        (``out["loss"]``, ``out.loss``, the first item of a ``(loss, logits)`` tuple or a scalar tensor);
        ``False`` otherwise, also when the forward pass fails (the checks that follow say why).

    """
    from ..batches import _check_takes_keywords, _output_loss

    if not isinstance(batch, Mapping) or not batch:
        return False
    try:
        _check_takes_keywords(model, batch, "")
    except DataError:
        return False
    buffers = {k: v.detach().clone() for k, v in model.named_buffers()}
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            out = model(**batch)
    except Exception:  # noqa: BLE001 - not a model that scores itself; check_model_fits then says what fails
        return False
    finally:
        with torch.no_grad():
            for name, value in model.named_buffers():
                if name in buffers:
                    value.copy_(buffers[name])
    return _output_loss(out) is not None


def all_targets(loader: DataLoader[Any] | None) -> torch.Tensor | None:
    """Every target of a loader over a :class:`~torch.utils.data.TensorDataset` (file data), else ``None``."""
    dataset = getattr(loader, "dataset", None)
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2:
        return dataset.tensors[1]
    return None


def _check_class_labels(loss_name: str, output: Any, batch_targets: torch.Tensor, targets: torch.Tensor | None) -> None:
    """Refuse class labels outside ``0 .. C-1`` for the ``C`` class scores the model outputs.

    Checked on every target when they are known (``targets``), else on the batch's: a label
    out of range fails only on the batch that holds it, deep in the range test, and on a GPU
    as a device-side assert that says nothing of the data.
    """
    if loss_name not in _CLASS_LOSSES or not isinstance(output, torch.Tensor):
        return
    labels = targets if targets is not None else batch_targets
    if output.dim() != batch_targets.dim() + 1 or output.dim() < 2:
        return
    classes = output.shape[-1] if _classes_last(output, batch_targets) else output.shape[1]
    if labels.is_floating_point() and labels.numel() and bool(torch.all(labels == labels.round())):
        # Whole numbers stored as floats (sklearn's load_diabetes target): the loss takes them as class labels.
        labels = labels.long()
    if labels.is_floating_point():
        # Real values (a regression target): the loss would cut each to a class index (0.7 to 0) and train on that.
        fractional = labels[torch.isfinite(labels) & (labels != labels.round())]
        if fractional.numel():
            value = float(fractional[0])
            raise ModelError(
                f"The targets are real numbers ({value:g} among them), not class labels: --loss {loss_name} takes "
                f"whole-number class labels, 0 up to the model's outputs ({classes}) less one, and would cut "
                f"{value:g} to {int(value)}. For real-valued targets pass --loss mse (and a model with one output per "
                "target); for classes, store the labels as integers."
            )
    if labels.is_floating_point() or labels.dtype == torch.bool or labels.numel() == 0:
        return
    # -100 is the losses' ignore_index (padding in token targets): torch skips it, so does the check.
    labels = labels[labels != _IGNORE_INDEX]
    if labels.numel() == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if 0 <= low and high < classes:
        return
    if classes == 1:
        raise ModelError(
            f"The targets hold class labels from {low} to {high}, but the model outputs one score per sample, "
            f"which --loss {loss_name} cannot score against class labels. For a real-valued target pass --loss "
            "mse; for 0/1 labels, --loss bce_with_logits; for classes, give the model's last layer one output "
            "per class."
        )
    if low < 0:
        # More outputs cannot fix a negative label: it is no class index at all.
        advice = (
            f"Number the labels from 0 to {classes - 1} (a negative label is no class index; only "
            f"{_IGNORE_INDEX}, the losses' ignore_index, is skipped)"
        )
    else:
        advice = f"Number the labels from 0 to {classes - 1}, or give the model's last layer {high + 1} outputs"
    raise ModelError(
        f"The targets hold class labels from {low} to {high}, but the model outputs {classes} class "
        f"scores per sample, so --loss {loss_name} needs labels 0 to {classes - 1}. "
        f"{advice}."
    )


def _check_probability_targets(
    loss_name: str, output: Any, batch_targets: torch.Tensor, targets: torch.Tensor | None
) -> None:
    """Refuse ``--loss bce_with_logits`` targets outside ``[0, 1]``, of a shape the loss takes.

    torch's ``binary_cross_entropy_with_logits`` takes any target and, past 1, has no lower bound:
    regression targets from 25 to 346 gave a curve that fell and a suggested LR, without a word.
    Checked on every target when they are known (``targets``), else on the batch's. Targets of
    another shape than the output are left to the loss, whose message names both shapes.
    """
    if loss_name != "bce_with_logits" or not isinstance(output, torch.Tensor):
        return
    one_score = output.dim() == batch_targets.dim() + 1 and output.shape[-1] == 1
    if output.shape != batch_targets.shape and not one_score:
        return
    labels = targets if targets is not None else batch_targets
    if labels.numel() == 0 or labels.dtype == torch.bool:
        return
    low, high = float(labels.min()), float(labels.max())
    if 0.0 <= low and high <= 1.0:
        return
    raise ModelError(
        f"--loss bce_with_logits takes targets in [0, 1] (0/1 labels, or probabilities), but the targets range from "
        f"{low:g} to {high:g}. For real-valued targets pass --loss mse (or l1, smooth_l1, huber); for class labels "
        "0 to C-1, --loss cross_entropy."
    )


def _dtype_hint(model: nn.Module, x: Any, exc: BaseException) -> str:
    """`` The inputs are int64 and the model's weights float32: ...`` for a dtype failure, else ``""``.

    Integer inputs are left alone on purpose (token ids for an embedding are integers): this
    only explains a failure that names a dtype.
    """
    text = str(exc).lower()
    if "dtype" not in text and "scalar type" not in text:
        return ""
    if "'indices'" in text and isinstance(x, torch.Tensor) and x.is_floating_point():
        # An nn.Embedding (an LSTM or Transformer text model) fed token ids read as floats: a CSV's input
        # columns are float32 whatever they hold, and the weights' dtype, the advice below, is no index type.
        have = str(x.dtype).replace("torch.", "")
        return (
            f" The model takes integer indices (token ids, as an nn.Embedding does) and the inputs are {have}: "
            "store them as int64 in a .npz or .pt file (numpy.savez(path, x=x.astype('int64'), y=y)); a .csv "
            "file's input columns are read as float32."
        )
    weight = next((p for p in model.parameters() if p.is_floating_point()), None)
    if weight is None or not isinstance(x, torch.Tensor) or x.dtype == weight.dtype:
        return ""
    have, want = str(x.dtype).replace("torch.", ""), str(weight.dtype).replace("torch.", "")
    return f" The inputs are {have} and the model's weights {want}: store the inputs as {want} (x.astype('{want}'))."


def _swapped_hint(x: Any, y: Any, exc: BaseException) -> str:
    """`` ... they look swapped ...`` when the inputs are one value per sample and the targets a row each, else ``""``.

    Arrays saved under each other's names (``numpy.savez(path, x=labels, y=features)``, or
    ``--x-key y --y-key x``) reach the model as a flat label vector. torch then fails on a dtype or a
    shape, and the dtype hint alone ("store the inputs as float32") would lead to the next failure.
    Float inputs whose first ``Linear`` takes another width than the targets' rows are not called swapped:
    where it takes one feature, they are told to be a column (a scalar feature, multi-output targets).
    """
    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
        return ""
    # Only a failure on the inputs' dtype or shape: token ids one per sample that an nn.Embedding rejects for
    # their range ("index out of range in self") are inputs all the same.
    if not any(word in str(exc).lower() for word in ("dtype", "scalar type", "shape", "size", "mat1")):
        return ""
    if x.dim() != 1 or y.dim() < 2 or y.shape[0] != x.shape[0] or y[0].numel() < 2:
        return ""
    have = str(x.dtype).replace("torch.", "")
    got = str(y.dtype).replace("torch.", "")
    # A float input of one feature per sample is no label: a first Linear taking one feature wants it as a column,
    # and one taking another width than the targets' rows would not take the targets either.
    found = re.search(r"mat1 and mat2 shapes cannot be multiplied \(\d+x\d+ and (\d+)x\d+\)", str(exc))
    if found is not None and x.is_floating_point() and int(found.group(1)) != y[0].numel():
        if int(found.group(1)) != 1:
            return ""
        return (
            f" The inputs hold one value per sample (shape {tuple(x.shape)}) and the model's first layer takes one "
            "feature: store the inputs as a column, shape (samples, 1) (numpy: x[:, None])."
        )
    return (
        f" The inputs hold one value per sample (shape {tuple(x.shape)}, {have}) and the targets a row of "
        f"{y[0].numel()} (shape {tuple(y.shape)}, {got}): they look swapped. Save the inputs as x and the targets as "
        "y, or name them with --x-key (the inputs) and --y-key (the targets)."
    )


def _channel_hint(x: Any, exc: BaseException) -> str:
    """`` The inputs lack the channel dimension ...`` when a convolution read a batch as one sample, else ``""``.

    Images stored without their channel dimension (sklearn's ``load_digits().images``, ``(N, 8, 8)``)
    are unbatched to a ``Conv2d``: it reads the batch of ``N`` images as one image of ``N`` channels
    and fails with "expected input[1, 32, 8, 8] to have 1 channels, but got 32 channels instead".
    """
    found = re.search(r"expected input\[1, (\d+)((?:, \d+)*)\] to have (\d+) channels", str(exc))
    if found is None or not isinstance(x, torch.Tensor) or x.dim() < 2 or x.shape[0] != int(found.group(1)):
        return ""
    channels = int(found.group(3))
    rest = tuple(x.shape[1:])
    shape = ", ".join(str(n) for n in (channels, *rest))
    add = " (numpy: x[:, None])" if channels == 1 else ""
    return (
        f" The inputs lack the channel dimension: the model's first convolution takes {plural(channels, 'channel')} "
        "and read "
        f"the batch of {x.shape[0]} samples as one sample of {x.shape[0]} channels. Store the inputs as (samples, "
        f"{shape}){add}."
    )


def _kind(obj: Any) -> str:
    """``a tuple of length 3``, ``a dict with keys ['a', 'b']``: what a batch or an output is, for messages."""
    if isinstance(obj, Mapping):
        return f"a {type(obj).__name__} with keys {[str(k) for k in obj][:8]}"
    if isinstance(obj, (tuple, list)):
        if obj and all(isinstance(t, torch.Tensor) for t in obj):
            shapes = ", ".join(str(tuple(t.shape)) for t in obj)
            return f"a {type(obj).__name__} of {len(obj)} tensors of shapes {shapes}"
        return f"a {type(obj).__name__} of length {len(obj)}"
    return f"a {type(obj).__name__}"


def _inputs_and_targets(batch: Any) -> tuple[Any, Any]:
    """The inputs and targets of a batch the CLI's losses can use: an ``(x, y)`` pair or a dict with both keys.

    Raises:
        DataError: Any other batch (the range test would fail on it at its first step).

    """
    from ..batches import _INPUT_KEYS, _TARGET_KEYS

    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    if isinstance(batch, Mapping):
        x_key = next((k for k in _INPUT_KEYS if k in batch), None)
        y_key = next((k for k in _TARGET_KEYS if k in batch), None)
        if x_key is not None and y_key is not None:
            return batch[x_key], batch[y_key]
    keys = f"an input key ({'/'.join(_INPUT_KEYS)}) and a target key ({'/'.join(_TARGET_KEYS)})"
    raise DataError(
        f"The data gives batches of {_kind(batch)}; lrfind needs (inputs, targets) pairs or dicts with {keys}. "
        "Return such samples from the Dataset, or use a LightningModule, whose training_step takes the batch as "
        "it is."
    )


def _more_inputs_hint(batch: Any, x: Any, exc: BaseException) -> str:
    """Say what goes into the model when its forward wants more inputs than the one lrfind gives.

    A dict batch (``{"x": ..., "extra": ..., "y": ...}``, a DataModule's) goes in as ``model(batch["x"])``:
    a ``forward(x, extra)`` fails with Python's "missing 1 required positional argument: 'extra'", and
    "check that the data matches the model" could not help, since the batch does hold it.
    """
    if not (isinstance(exc, TypeError) and "required positional argument" in str(exc)):
        return ""
    from ..batches import _INPUT_KEYS, _TARGET_KEYS

    if isinstance(batch, Mapping):
        x_key = next((k for k in _INPUT_KEYS if k in batch), "x")
        others = [str(k) for k in batch if k != x_key and k not in _TARGET_KEYS]
        passed = f"the batch's {x_key!r} alone, as model(batch[{x_key!r}])"
        rest = f" (its other keys, {_names(others)}, are not passed)" if others else ""
    else:
        passed, rest = "the batch's inputs alone, as model(x)", ""
    return (
        f" lrfind calls the model with {passed}{rest}. For a forward that takes several inputs, use a "
        "LightningModule as --model-class whose training_step takes the batch as it is and returns the loss."
    )


def check_model_fits(
    model: nn.Module,
    batch: Any,
    loss_fn: Callable[..., torch.Tensor] | None,
    step_fn: Callable[[nn.Module, Any], torch.Tensor] | None = None,
    *,
    targets: torch.Tensor | None = None,
) -> None:
    """Run one forward pass and the loss on one batch, turning shape/dtype errors into one clear message.

    The model's parameters are not changed (no backward, no step); the batch norm statistics
    of one batch are restored afterwards. With a class loss, the class labels (every one of
    ``targets`` when given, else the batch's) must be in ``0 .. C-1`` for the model's ``C``
    outputs.

    Raises:
        ModelError: The model's output does not fit the targets/loss, a class label is out of
            range, or the forward pass fails.

    """
    from ..diagnostics import raise_if_compile_failed

    buffers = {
        k: v.detach().clone()
        for k, v in model.state_dict().items()
        if not any(k == n for n, _ in model.named_parameters())
    }
    try:
        with torch.no_grad():
            if step_fn is None and loss_fn is None:
                # A model that scores itself (computes_own_loss): its own loss, as the range test takes it.
                from ..batches import _output_loss

                if not isinstance(batch, Mapping):
                    raise DataError(
                        "The model computes its own loss from the training data's dict batches, but this data gives "
                        f"batches of {_kind(batch)}. Give it dict batches of the same keys."
                    )
                try:
                    out = model(**batch)
                except Exception as exc:
                    raise_if_compile_failed(exc)
                    raise ModelError(
                        f"The model fails on a batch with keys {sorted(map(str, batch))}, passed as model(**batch): "
                        f"{type(exc).__name__}: {reason(exc)}. Check that the data matches the model."
                    ) from exc
                own = _output_loss(out)
                if own is None:
                    raise DataError(
                        "The model computes its own loss from the training data's dict batches, but given a batch "
                        f"with keys {sorted(map(str, batch))} it returned {_kind(out)} and no loss. {_OWN_LOSS_FIX}"
                    )
                if own.numel() == 1 and not math.isfinite(float(own)):
                    raise ModelError(
                        f"The model's own loss of the first batch is {float(own)} before any training step. Check "
                        "the data and the model's initialisation."
                    )
                return
            if step_fn is not None:
                try:
                    step_fn(model, batch)
                except LRFinderError:
                    raise
                except Exception as exc:
                    raise_if_compile_failed(exc)
                    raise ModelError(
                        f"{type(model).__name__}.training_step fails on the first batch ({_kind(batch)}): "
                        f"{type(exc).__name__}: {reason(exc)}. Check that the data is what training_step expects."
                    ) from exc
                return
            x, y = _inputs_and_targets(batch)
            try:
                out = model(x)
            except Exception as exc:
                raise_if_compile_failed(exc)
                # Swapped arrays first: casting the labels to float (the dtype hint) would not make them inputs.
                hint = _swapped_hint(x, y, exc) or _dtype_hint(model, x, exc)
                raise ModelError(
                    f"The model fails on a batch of inputs of shape {tuple(getattr(x, 'shape', ()))}: "
                    f"{type(exc).__name__}: {reason(exc)}. Check that the data "
                    f"matches the model.{hint}{_more_inputs_hint(batch, x, exc)}"
                    f"{_channel_hint(x, exc)}"
                ) from exc
            if loss_fn is None:
                return
            if not isinstance(out, torch.Tensor):
                name = getattr(loss_fn, "name", "the loss")
                if computes_own_loss(model, batch):
                    raise ModelError(
                        f"The model returns {_kind(out)}, not a tensor, so --loss {name} cannot score it; given the "
                        f"whole batch as model(**batch), it computes a loss of its own. Drop --loss {name} to train "
                        "on that loss."
                    )
                raise ModelError(
                    f"The model returns {_kind(out)}, not a tensor, so --loss {name} cannot score it. Make forward "
                    "return the output tensor (the class scores or predictions), or use a LightningModule whose "
                    "training_step computes the loss."
                )
            if isinstance(y, torch.Tensor):
                _check_class_labels(getattr(loss_fn, "name", ""), out, y, targets)
                _warn_classes_either_way(getattr(loss_fn, "name", ""), out, y)
                _check_probability_targets(getattr(loss_fn, "name", ""), out, y, targets)
            try:
                loss = loss_fn(out, y)
            except ModelError:
                raise
            except Exception as exc:
                name = getattr(loss_fn, "name", getattr(loss_fn, "__name__", "the loss"))
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ModelError(
                    f"The model's output (shape {shape}) does not fit the targets (shape {tuple(y.shape)}, "
                    f"{str(y.dtype).replace('torch.', '')}) with --loss {name}: {reason(exc)}. "
                    f"{_multi_label_hint(name, out, y)}"
                ) from exc
            if isinstance(loss, torch.Tensor) and loss.numel() == 1 and not math.isfinite(float(loss)):
                raise ModelError(
                    f"The loss of the first batch is {float(loss)} before any training step. Check the data and "
                    "the model's initialisation."
                )
    finally:
        if buffers:
            with torch.no_grad():
                state = model.state_dict()
                for k, v in buffers.items():
                    state[k].copy_(v)
