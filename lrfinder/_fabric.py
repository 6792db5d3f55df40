"""Lightning Fabric's wrappers, recognised without importing Fabric.

``fabric.setup(model, optimizer)`` returns a ``_FabricModule`` and a ``_FabricOptimizer``; both
``lightning.fabric`` (``pip install lightning``) and the standalone ``lightning_fabric`` (which
``pytorch_lightning`` installs) ship a copy of each class. They are looked up in ``sys.modules``
only: an object Fabric wrapped has imported one of them, and ``import lrfinder`` imports neither.
"""

from __future__ import annotations

import sys

_WRAPPERS = ("lightning.fabric.wrappers", "lightning_fabric.wrappers")


def _is_fabric(obj: object, class_name: str) -> bool:
    """Whether ``obj`` is an instance of ``class_name`` of either copy of Fabric's ``wrappers`` module."""
    for name in _WRAPPERS:
        cls = getattr(sys.modules.get(name), class_name, None)
        if isinstance(cls, type) and isinstance(obj, cls):
            return True
    return False


def is_fabric_module(model: object) -> bool:
    """Whether ``model`` is the wrapper ``fabric.setup(model)`` returns (``_FabricModule``)."""
    return _is_fabric(model, "_FabricModule")


def optimizer_class_name(optimizer: object) -> str:
    """The class name of the user's optimizer: the one ``fabric.setup`` wrapped, not its wrapper's ``FabricSGD``.

    Fabric's ``_FabricOptimizer`` takes the class ``"Fabric" + name`` (a subclass of both, for ``isinstance``):
    a Fabric range test's report and summary said ``optimizer FabricSGD``.
    """
    if _is_fabric(optimizer, "_FabricOptimizer"):
        optimizer = getattr(optimizer, "optimizer", optimizer)
    return type(optimizer).__name__


#: The attribute :func:`lrfinder.create_optimizer` sets on what it builds: the registry name it was given
#: (``"momentum"``), which the class (``SGD``) does not say.
REGISTRY_NAME = "_lrfinder_registry_name"


def optimizer_result_name(optimizer: object) -> str:
    """The optimizer as a result names it: :func:`optimizer_class_name`, with the form its class does not name.

    ``" (Nesterov)"`` for SGD's Nesterov form, ``" (AMSGrad)"`` for an optimizer with ``amsgrad=True`` among its
    defaults (Adam, AdamW). ``SGD(nesterov=True)`` is the class ``SGD`` and ``Adam(amsgrad=True)`` the class
    ``Adam``: the Python API's report and result said ``optimizer SGD`` / ``optimizer Adam`` for what
    ``lrfind --optimizer nesterov`` / ``amsgrad`` names. The words keep the class name first, so the result's
    optimizer family (:func:`lrfinder.scaling.optimizer_family`) still reads it as the class's.

    Built by :func:`lrfinder.create_optimizer` from a registry name that neither the class nor those forms say, the
    name in their place: ``"SGD (momentum)"``.
    """
    import torch

    name = optimizer_class_name(optimizer)
    if _is_fabric(optimizer, "_FabricOptimizer"):
        optimizer = getattr(optimizer, "optimizer", optimizer)
    defaults = getattr(optimizer, "defaults", {})
    if isinstance(optimizer, torch.optim.SGD) and defaults.get("nesterov"):
        return f"{name} (Nesterov)"
    if defaults.get("amsgrad") is True:
        return f"{name} (AMSGrad)"
    registry = getattr(optimizer, REGISTRY_NAME, None)
    if isinstance(registry, str) and registry.lower() != name.lower():
        # create_optimizer("momentum", model) said "SGD", the class, where lrfind --optimizer momentum says momentum.
        return f"{name} ({registry})"
    return name


def fabric_step_callbacks(optimizer: object) -> list[str]:
    """The Fabric callbacks a ``fabric.setup`` optimizer calls after every step, as ``"EMA.on_after_optimizer_step"``.

    ``_FabricOptimizer.step`` calls ``on_after_optimizer_step`` of every callback given to
    ``Fabric(callbacks=...)`` that has one, so the range test's steps reach them, as they reach an
    optimizer's step hooks; what they keep (an EMA of the weights, a counter) is theirs, not the
    model's or the optimizer's.
    """
    if not _is_fabric(optimizer, "_FabricOptimizer"):
        return []
    callbacks = getattr(optimizer, "_callbacks", None) or ()
    return [
        f"{type(callback).__qualname__}.on_after_optimizer_step"
        for callback in callbacks
        if callable(getattr(callback, "on_after_optimizer_step", None))
    ]
