from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

from lrfinder import Yogi


def _numpy_yogi(w0, a, b, steps, *, lr, beta1, beta2, eps, v0, wd, bias_correction):
    """Zaheer et al. 2018, Algorithm 2 (with Adam's bias correction), on f(w) = sum(a w^2 / 2 + b w)."""
    w = np.array(w0, dtype=np.float64)
    m = np.zeros_like(w)
    v = np.full_like(w, v0)
    for t in range(1, steps + 1):
        g = a * w + b + wd * w
        m = beta1 * m + (1 - beta1) * g
        v = v - (1 - beta2) * np.sign(v - g**2) * g**2
        mhat = m / (1 - beta1**t) if bias_correction else m
        vhat = v / (1 - beta2**t) if bias_correction else v
        w = w - lr * mhat / (np.sqrt(vhat) + eps)
    return w, m, v


@pytest.mark.parametrize(
    "settings",
    [
        dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-3, v0=1e-6, wd=0.0, bias_correction=True),
        dict(lr=0.05, beta1=0.5, beta2=0.9, eps=1e-3, v0=2.0, wd=0.1, bias_correction=True),
        dict(lr=0.01, beta1=0.0, beta2=0.99, eps=1e-6, v0=0.0, wd=0.0, bias_correction=False),
    ],
)
def test_yogi_matches_numpy_reference(settings):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=7)
    a = rng.uniform(0.5, 3.0, size=7)
    b = rng.normal(size=7)
    w = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = Yogi(
        [w],
        lr=settings["lr"],
        betas=(settings["beta1"], settings["beta2"]),
        eps=settings["eps"],
        initial_accumulator=settings["v0"],
        weight_decay=settings["wd"],
        bias_correction=settings["bias_correction"],
    )
    at, bt = torch.tensor(a), torch.tensor(b)
    for _ in range(6):
        opt.zero_grad()
        (0.5 * at * w**2 + bt * w).sum().backward()
        opt.step()
    ref_w, ref_m, ref_v = _numpy_yogi(w0, a, b, 6, **settings)
    np.testing.assert_allclose(w.detach().numpy(), ref_w, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(opt.state[w]["exp_avg"].numpy(), ref_m, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(opt.state[w]["exp_avg_sq"].numpy(), ref_v, rtol=1e-12, atol=1e-14)
    assert opt.state[w]["step"] == 6


def test_yogi_second_moment_is_additive_not_multiplicative():
    # v > g^2: Yogi subtracts (1 - beta2) g^2, Adam would move by (1 - beta2) (v - g^2).
    w = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = Yogi([w], lr=0.1, betas=(0.9, 0.9), initial_accumulator=4.0)
    w.grad = torch.tensor([1.0], dtype=torch.float64)
    opt.step()
    assert opt.state[w]["exp_avg_sq"].item() == pytest.approx(4.0 - 0.1 * 1.0, rel=1e-15)
    w.grad = torch.tensor([3.0], dtype=torch.float64)  # v < g^2: grows by (1 - beta2) g^2
    opt.step()
    assert opt.state[w]["exp_avg_sq"].item() == pytest.approx(3.9 + 0.1 * 9.0, rel=1e-15)


def _run(opt, w, steps):
    for _ in range(steps):
        opt.zero_grad()
        ((w - 3.0) ** 2).sum().backward()
        opt.step()


def test_yogi_state_dict_round_trip_mid_run():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(5))
    opt = Yogi([w], lr=0.05, weight_decay=1e-3)
    _run(opt, w, 3)
    w2 = torch.nn.Parameter(w.detach().clone())
    opt2 = Yogi([w2], lr=0.05, weight_decay=1e-3)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    _run(opt, w, 4)
    _run(opt2, w2, 4)
    torch.testing.assert_close(w, w2, rtol=0, atol=0)
    assert opt2.state[w2]["step"] == 7


def test_yogi_pickles_and_uses_its_defaults():
    w = torch.nn.Parameter(torch.ones(2))
    opt = Yogi([w])
    assert opt.defaults["eps"] == 1e-3 and opt.defaults["betas"] == (0.9, 0.999)
    _run(opt, w, 2)
    clone = pickle.loads(pickle.dumps(opt))
    for key in ("lr", "betas", "eps", "initial_accumulator", "weight_decay", "bias_correction"):
        assert clone.defaults[key] == opt.defaults[key]
    (w2,) = clone.param_groups[0]["params"]
    torch.testing.assert_close(clone.state[w2]["exp_avg_sq"], opt.state[w]["exp_avg_sq"], rtol=0, atol=0)
    _run(opt, w, 2)
    _run(clone, w2, 2)
    torch.testing.assert_close(w, w2, rtol=0, atol=0)


def test_yogi_closure_returns_loss_and_lowers_it():
    w = torch.nn.Parameter(torch.zeros(3))
    opt = Yogi([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = ((w - 1.0) ** 2).sum()
        loss.backward()
        return loss

    first = opt.step(closure).item()
    for _ in range(50):
        last = opt.step(closure).item()
    assert last < 0.1 * first


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(lr=0.0), "lr"),
        (dict(lr=float("nan")), "lr"),
        (dict(betas=(1.0, 0.999)), "betas"),
        (dict(betas=(0.9, -0.1)), "betas"),
        (dict(eps=0.0), "eps"),
        (dict(initial_accumulator=-1.0), "initial_accumulator"),
        (dict(weight_decay=-1e-4), "weight_decay"),
    ],
)
def test_yogi_rejects_bad_settings(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Yogi([torch.nn.Parameter(torch.ones(1))], **kwargs)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(betas=0.9), TypeError, r"Expected betas to be a pair \(beta1, beta2\), but got betas=0.9"),
        (dict(betas=(0.9, 0.99, 0.999)), TypeError, "betas to be a pair"),
        (dict(betas=(0.9, "0.99")), TypeError, r"Expected betas\[1\] to be a number"),
        (dict(eps="1e-3"), TypeError, "Expected eps to be a number, but got eps='1e-3'"),
        (dict(eps=float("inf")), ValueError, "eps > 0"),
        (dict(weight_decay=float("nan")), ValueError, "weight_decay >= 0"),
        (dict(initial_accumulator=None), TypeError, "initial_accumulator to be a number"),
        (dict(bias_correction="no"), TypeError, "bias_correction to be True or False"),
    ],
)
def test_yogi_names_a_setting_of_the_wrong_type(kwargs, error, match):
    # Built directly (lrfinder.Yogi): len() of a float and '>' on a str were bare Python errors.
    with pytest.raises(error, match=match):
        Yogi([torch.nn.Parameter(torch.ones(1))], **kwargs)


@pytest.mark.parametrize("lr", [np.float32(0.01), torch.tensor(0.01)])
def test_yogi_takes_any_real_lr(lr):
    # np.float32 and a tensor (as torch's optimizers take) were refused as "Expected lr > 0".
    w = torch.nn.Parameter(torch.ones(2))
    opt = Yogi([w], lr=lr)
    w.grad = torch.ones(2)
    opt.step()
    assert w.detach().numpy() == pytest.approx(1.0 - 0.01 / (1 + 1e-3), rel=1e-4)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        # Were torch's "'NoneType' object is not iterable", "params argument given to the optimizer should be an
        # iterable of Tensors or dicts, but got torch.FloatTensor", "optimizer got an empty parameter list", a bare
        # KeyError: 'params' and "optimizer can only optimize Tensors, but one of the params is str/int".
        (None, TypeError, r"^Expected params to be an iterable of parameters \(model.parameters\(\)\) or a list of "
         r"param-group dicts, but got NoneType$"),
        (torch.tensor(1.0), TypeError, r"or a list of param-group dicts, but got a single tensor$"),
        (torch.zeros(3, requires_grad=True), TypeError, r"but got a single tensor$"),
        (iter([]), ValueError, r"^Expected params to hold at least one parameter, but got none \(a model.parameters"),
        ([{"lr": 0.1}], ValueError, r"group 0 has the keys \['lr'\]; pass \{'params': \[...\], 'lr': ...\}$"),
        ({"params": [torch.zeros(2)]}, TypeError, r"but got dict: pass one group in a list"),
        ([1, 2], TypeError, r"^Expected params to hold tensors \(model.parameters\(\)\) or param-group dicts, but "
         r"item 0 is int 1$"),
    ],
)
def test_yogi_refuses_bad_params_by_name(params, error, match):
    with pytest.raises(error, match=match):
        Yogi(params)


def test_yogi_takes_what_torch_optimizers_take():
    model = torch.nn.Linear(2, 1)
    for params in (model.parameters(), list(model.parameters()), model.named_parameters(),
                   [{"params": [model.weight]}, {"params": [model.bias], "lr": 0.1}]):  # fmt: skip
        opt = Yogi(params, lr=0.01)
        assert sum(len(g["params"]) for g in opt.param_groups) == 2


def test_yogi_rejects_sparse_gradients():
    emb = torch.nn.Embedding(4, 2, sparse=True)
    opt = Yogi(emb.parameters())
    emb(torch.tensor([1])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        opt.step()


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_yogi_steps_a_complex_parameter_as_its_real_and_imaginary_parts(weight_decay):
    """torch.sign refused complex numbers (NotImplementedError), so a complex model could not use Yogi."""
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(5, dtype=torch.complex64, generator=gen)
    target = torch.randn(5, dtype=torch.complex64, generator=gen)
    z = torch.nn.Parameter(start.clone())
    pair = torch.nn.Parameter(torch.view_as_real(start).clone())  # the same numbers as real pairs
    opts = [Yogi([z], lr=0.1, weight_decay=weight_decay), Yogi([pair], lr=0.1, weight_decay=weight_decay)]
    for _ in range(5):
        for opt in opts:
            opt.zero_grad()
        (z - target).abs().pow(2).sum().backward()
        (pair - torch.view_as_real(target)).pow(2).sum().backward()
        for opt in opts:
            opt.step()
    assert torch.allclose(torch.view_as_real(z.detach()), pair.detach(), atol=1e-6)
    assert not torch.equal(z.detach(), start)


@pytest.mark.parametrize("setting", ["eps", "initial_accumulator", "weight_decay"])
def test_yogi_steps_with_a_huge_int_setting(setting):
    # An int beyond int64 passed the check and failed in the first step: "int too big to convert" from torch.
    p = torch.nn.Parameter(torch.ones(2))
    opt = Yogi([p], **{setting: 10**30})
    assert opt.defaults[setting] == 1e30
    p.grad = torch.ones(2)
    opt.step()
    assert torch.isfinite(p).all()


def test_yogi_takes_0d_numpy_arrays_as_numbers():
    # np.float32(1e-3) and torch.tensor(1e-3) were taken, np.array(1e-3) refused as "not a number".
    params = [torch.nn.Parameter(torch.ones(1))]
    opt = Yogi(params, lr=np.array(0.01), eps=np.array(1e-3), betas=(np.float32(0.9), 0.99))
    assert opt.defaults["lr"] == 0.01 and type(opt.defaults["lr"]) is float
    assert opt.defaults["eps"] == 1e-3 and opt.defaults["betas"] == (0.9, 0.99)
