"""Yogi: Adam with an additive, sign-controlled second-moment update (torch has none).

For each parameter, with gradient ``g`` (plus ``weight_decay * w``: L2, coupled, as in
``torch.optim.Adam``):

.. code-block:: text

    m_t = beta1 * m_{t-1} + (1 - beta1) * g
    v_t = v_{t-1} - (1 - beta2) * sign(v_{t-1} - g^2) * g^2
    m^  = m_t / (1 - beta1^t)                (bias correction, as in Adam)
    v^  = v_t / (1 - beta2^t)
    w  <- w - lr * m^ / (sqrt(v^) + eps)

Adam's ``v`` moves towards ``g^2`` by a fraction ``(1 - beta2)`` of the *difference*
``v - g^2``; Yogi's moves by ``(1 - beta2) * g^2`` in the direction of the difference, so the
effective LR ``lr / sqrt(v)`` changes slowly and cannot collapse when a few large gradients
arrive. ``v_0`` is ``initial_accumulator`` (1e-6 in the paper's experiments), ``m_0 = 0``.

References:
    Zaheer, Reddi, Sachan, Kale & Kumar, "Adaptive Methods for Nonconvex Optimization",
    NeurIPS 2018.

"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch.optim import Optimizer

from ._checks import is_number_tensor, is_real, plain

__all__ = ["Yogi"]

logger = logging.getLogger(__name__)


def _checked_params(params: Any) -> list[Any]:
    """``params`` as a list, refused by name when it cannot be an optimizer's parameters.

    torch's own errors named neither the argument nor the fix: ``None`` gave "'NoneType' object is
    not iterable", a used-up ``model.parameters()`` generator "optimizer got an empty parameter
    list", a group without ``"params"`` a bare ``KeyError: 'params'``, and a dict (one group not
    in a list) "optimizer can only optimize Tensors, but one of the params is str" (its keys).

    Raises:
        TypeError: Not an iterable of tensors, ``(name, tensor)`` pairs or param-group dicts.
        ValueError: No parameter at all, or a group dict without ``"params"``.

    """
    if isinstance(params, (torch.Tensor, str, bytes, Mapping)) or not isinstance(params, Iterable):
        what = "a single tensor" if isinstance(params, torch.Tensor) else type(params).__name__
        hint = ": pass one group in a list, [{'params': ..., 'lr': ...}]" if isinstance(params, Mapping) else ""
        raise TypeError(
            "Expected params to be an iterable of parameters (model.parameters()) or a list of param-group dicts, "
            f"but got {what}{hint}"
        )
    items: list[Any] = list(params)  # torch lists them too; a generator is read once, here
    if not items:
        raise ValueError(
            "Expected params to hold at least one parameter, but got none (a model.parameters() generator is used up "
            "by the first optimizer built from it: pass list(model.parameters()) to reuse it)"
        )
    for i, item in enumerate(items):
        if isinstance(item, Mapping):
            if "params" not in item:
                raise ValueError(
                    f"Expected every param group to hold its parameters under 'params', but group {i} has the keys "
                    f"{sorted(map(str, item))}; pass {{'params': [...], 'lr': ...}}"
                )
        elif not isinstance(item, torch.Tensor) and not (
            isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], torch.Tensor)
        ):  # a tensor, or a (name, tensor) pair of model.named_parameters()
            raise TypeError(
                "Expected params to hold tensors (model.parameters()) or param-group dicts, but item "
                f"{i} is {type(item).__name__} {item!r:.40}"
            )
    return items


def _check(name: str, value: Any, rule: str) -> float:
    """A real number (numpy's, a 0-d array, or a one-element tensor, as torch takes for ``lr``) obeying ``rule``.

    Returns the number as a float, which the step computes with: a Python int too large for int64
    (``eps=10**30``) passed the check and failed in the first step with torch's "int too big to convert".
    """
    if is_number_tensor(value):
        number = float(value)
    elif is_real(plain(value)):
        number = float(plain(value))
    else:
        raise TypeError(f"Expected {name} to be a number, but got {name}={value!r}")
    ok = {"> 0": number > 0, ">= 0": number >= 0, "in [0, 1)": 0 <= number < 1}[rule]
    if not (ok and math.isfinite(number)):
        raise ValueError(f"Expected {name} {rule}, but got {name}={value!r}")
    return number


class Yogi(Optimizer):
    """The Yogi optimizer (Zaheer et al. 2018).

    Args:
        params: Parameters or parameter groups (dicts), as for any ``torch.optim`` optimizer.
        lr: Learning rate ``lr > 0``.
        betas: ``(beta1, beta2)``, each in ``[0, 1)``: decay of the first moment and step of the
            second-moment update.
        eps: Added to ``sqrt(v^)``; Yogi's default ``1e-3`` is far larger than Adam's because
            ``v`` can shrink towards zero additively.
        initial_accumulator: Starting value of ``v`` (``>= 0``).
        weight_decay: L2 penalty added to the gradient (coupled, like ``torch.optim.Adam``,
            not decoupled like ``AdamW``).
        bias_correction: Divide the moments by ``1 - beta^t`` as Adam does.

    A complex parameter is stepped as its real and imaginary parts, two real parameters, as
    torch's Adam steps it (``torch.view_as_real``).

    Raises:
        ValueError: A setting out of its range (named in the message); ``params`` with no
            parameter (a used-up ``model.parameters()`` generator) or a group without ``"params"``.
        TypeError: A setting that is not a number (``betas`` not a pair of numbers,
            ``bias_correction`` not a bool); ``params`` that is not an iterable of tensors,
            ``(name, tensor)`` pairs or param-group dicts (``None``, a single tensor, a dict).

    Example:
        >>> model = torch.nn.Linear(2, 1)
        >>> opt = Yogi(model.parameters(), lr=1e-2)
        >>> model(torch.ones(1, 2)).sum().backward(); opt.step()

    References:
        Zaheer et al., "Adaptive Methods for Nonconvex Optimization", NeurIPS 2018.

    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-3,
        initial_accumulator: float = 1e-6,
        weight_decay: float = 0.0,
        bias_correction: bool = True,
    ) -> None:
        params = _checked_params(params)
        _check("lr", lr, "> 0")
        if isinstance(lr, np.ndarray):  # a 0-d array: the group holds the number (a tensor LR is torch's to keep)
            lr = float(lr)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise TypeError(f"Expected betas to be a pair (beta1, beta2), but got betas={betas!r}")
        betas = (_check("betas[0]", betas[0], "in [0, 1)"), _check("betas[1]", betas[1], "in [0, 1)"))
        eps = _check("eps", eps, "> 0")
        initial_accumulator = _check("initial_accumulator", initial_accumulator, ">= 0")
        weight_decay = _check("weight_decay", weight_decay, ">= 0")
        if not isinstance(bias_correction, bool):
            raise TypeError(
                f"Expected bias_correction to be True or False, but got bias_correction={bias_correction!r}"
            )
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "initial_accumulator": initial_accumulator,
            "weight_decay": weight_decay,
            "bias_correction": bias_correction,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Perform one optimization step.

        Args:
            closure: Re-evaluates the model and returns the loss (optional).

        Returns:
            The loss returned by ``closure``, or ``None``.

        Raises:
            RuntimeError: A sparse gradient (Yogi keeps dense moments).

        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr = float(group["lr"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if grad.is_sparse:
                    raise RuntimeError("Yogi does not support sparse gradients; use torch.optim.SparseAdam")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    # A complex parameter's real and imaginary parts each start from the accumulator.
                    start = group["initial_accumulator"]
                    state["exp_avg_sq"] = torch.full_like(
                        p, complex(start, start) if p.is_complex() else start, memory_format=torch.preserve_format
                    )
                state["step"] += 1
                t = state["step"]
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                param = p
                if p.is_complex():
                    # As torch's Adam: the real and imaginary parts are two real parameters (sign() and the
                    # elementwise square of a complex number are not the moments of either).
                    param, grad = torch.view_as_real(p), torch.view_as_real(grad)
                    exp_avg, exp_avg_sq = torch.view_as_real(exp_avg), torch.view_as_real(exp_avg_sq)
                grad_sq = grad * grad
                exp_avg.mul_(beta1).add_(grad, alpha=1.0 - beta1)
                # v <- v - (1 - beta2) * sign(v - g^2) * g^2: the additive Yogi step.
                exp_avg_sq.addcmul_(torch.sign(exp_avg_sq - grad_sq), grad_sq, value=-(1.0 - beta2))
                if group["bias_correction"]:
                    bc1 = 1.0 - beta1**t
                    bc2 = 1.0 - beta2**t
                else:
                    bc1 = bc2 = 1.0
                denom = (exp_avg_sq / bc2).sqrt_().add_(group["eps"])
                param.addcdiv_(exp_avg, denom, value=-lr / bc1)
        return loss
