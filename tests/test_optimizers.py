from __future__ import annotations

import re
import warnings
from fractions import Fraction

import numpy as np
import pytest
import torch
from conftest import make_classification, make_mlp
from torch import nn

from lrfinder import OPTIMIZERS, Yogi, create_optimizer, list_optimizers, param_groups
from lrfinder.optimizers import get_optimizer_spec

# LRs that suit each family on the toy problem; a new registry entry falls back to DEFAULT_LR.
TRAIN_LR = {"sgd": 0.2, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.1, "adadelta": 1.0, "radam": 0.03}
DEFAULT_LR = 0.01


@pytest.fixture
def one_thread():
    # Tiny matrices: one thread avoids thread-pool contention on a shared, busy machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _full_loss(model, data):
    model.eval()
    with torch.no_grad():
        loss = nn.functional.cross_entropy(model(data.tensors[0]), data.tensors[1]).item()
    model.train()
    return loss


def test_registry_names():
    assert list_optimizers() == (
        "sgd",
        "momentum",
        "nesterov",
        "adagrad",
        "rmsprop",
        "adadelta",
        "adam",
        "amsgrad",
        "adamw",
        "nadam",
        "radam",
        "yogi",
    )


@pytest.mark.parametrize("name", list_optimizers())
def test_every_optimizer_trains_a_tiny_model(name, one_thread):
    data = make_classification(n=256)
    model = make_mlp()
    opt = create_optimizer(name, model, lr=TRAIN_LR.get(name, DEFAULT_LR), weight_decay=1e-4)
    assert isinstance(opt, OPTIMIZERS[name].cls)
    before = _full_loss(model, data)
    gen = torch.Generator().manual_seed(0)
    for _ in range(4):
        for idx in torch.randperm(256, generator=gen).split(32):
            opt.zero_grad()
            nn.functional.cross_entropy(model(data.tensors[0][idx]), data.tensors[1][idx]).backward()
            opt.step()
    after = _full_loss(model, data)
    assert after < 0.8 * before, f"{name}: loss {before:.3f} -> {after:.3f}"


@pytest.mark.parametrize("name", list_optimizers())
def test_every_registry_entry_builds_from_params_and_round_trips(name):
    w = nn.Parameter(torch.ones(3))
    opt = create_optimizer(name, [w], lr=0.1)
    w.grad = torch.ones(3)
    opt.step()
    clone = create_optimizer(name, [nn.Parameter(torch.ones(3))], lr=0.1)
    clone.load_state_dict(opt.state_dict())
    assert clone.param_groups[0]["lr"] == 0.1
    for key, value in OPTIMIZERS[name].fixed.items():
        assert opt.defaults[key] == value


def test_names_mean_what_they_say():
    w = [nn.Parameter(torch.ones(1))]
    assert create_optimizer("sgd", w, lr=0.1).defaults["momentum"] == 0
    mom = create_optimizer("momentum", w, lr=0.1)
    assert mom.defaults["momentum"] == 0.9 and mom.defaults["nesterov"] is False
    nest = create_optimizer("nesterov", w, lr=0.1, momentum=0.8)
    assert nest.defaults["momentum"] == 0.8 and nest.defaults["nesterov"] is True
    assert create_optimizer("amsgrad", w, lr=0.1).defaults["amsgrad"] is True
    assert create_optimizer("adam", w, lr=0.1).defaults["amsgrad"] is False
    assert isinstance(create_optimizer("yogi", w, lr=0.1), Yogi)
    assert create_optimizer("yogi", w, lr=0.1).defaults["eps"] == 1e-3
    assert OPTIMIZERS["adamw"].weight_decay == "decoupled"
    assert {s.weight_decay for n, s in OPTIMIZERS.items() if n != "adamw"} == {"l2"}


def test_adamw_decay_is_decoupled_and_adam_decay_is_l2():
    # Zero gradient: AdamW shrinks w by lr * wd; Adam sees the L2 gradient wd * w and takes a unit step.
    w1, w2 = nn.Parameter(torch.ones(1, dtype=torch.float64)), nn.Parameter(torch.ones(1, dtype=torch.float64))
    adamw = create_optimizer("adamw", [w1], lr=0.1, weight_decay=0.5)
    adam = create_optimizer("adam", [w2], lr=0.1, weight_decay=0.5)
    for w, opt in ((w1, adamw), (w2, adam)):
        w.grad = torch.zeros_like(w)
        opt.step()
    assert w1.item() == pytest.approx(1.0 - 0.1 * 0.5, rel=1e-12)
    assert w2.item() == pytest.approx(1.0 - 0.1, rel=1e-6)


def test_torch_class_names_paths_and_classes():
    w = [nn.Parameter(torch.ones(1))]
    assert type(create_optimizer("Adamax", w, lr=0.1)) is torch.optim.Adamax
    assert type(create_optimizer("adamax", w, lr=0.1)) is torch.optim.Adamax
    assert type(create_optimizer("ASGD", w, lr=0.1, lambd=1e-3)) is torch.optim.ASGD
    assert type(create_optimizer("torch.optim:Rprop", w, lr=0.1)) is torch.optim.Rprop
    assert type(create_optimizer("lrfinder.yogi:Yogi", w, lr=0.1)) is Yogi
    assert type(create_optimizer(torch.optim.RMSprop, w, lr=0.1, alpha=0.9)) is torch.optim.RMSprop
    # torch's own SGD by class name keeps torch's defaults, and our nesterov check still applies.
    assert create_optimizer("SGD", w, lr=0.1).defaults["momentum"] == 0
    with pytest.raises(ValueError, match="momentum"):
        create_optimizer("SGD", w, lr=0.1, nesterov=True)


@pytest.mark.parametrize("name, spec", [("Yogi", "yogi"), ("AMSGrad", "amsgrad"), ("Momentum", "momentum"),
                                        ("NESTEROV", "nesterov")])
def test_registry_names_in_another_case(name: str, spec: str) -> None:
    # torch's class names were case-insensitive ("adamw", "ADAMW") but the registry's were not: "Yogi" failed.
    w = [nn.Parameter(torch.ones(1))]
    opt = create_optimizer(name, w, lr=0.1)
    assert type(opt) is OPTIMIZERS[spec].cls
    if spec in ("momentum", "nesterov"):
        assert opt.defaults["momentum"] == 0.9 and opt.defaults["nesterov"] is (spec == "nesterov")
    if spec == "amsgrad":
        assert opt.defaults["amsgrad"] is True


@pytest.mark.parametrize("name, close", [("adamm", "'adam'"), ("adam_w", "'adamw'"), ("rms_prop", "'rmsprop'"),
                                         ("nag", "'nesterov'"), ("adamx", "'Adamax'")])
def test_unknown_optimizer_names_the_close_ones(name: str, close: str) -> None:
    with pytest.raises(ValueError, match=rf"Unknown optimizer name='{name}'; expected one of .*Did you mean .*{close}"):
        create_optimizer(name, [nn.Parameter(torch.ones(1))], lr=0.1)


def test_the_close_names_are_not_cut_inside_a_tie() -> None:
    # 'adamw', 'radam' and 'nadam' are equally close to 'adamm' (after 'adam'): the cut at three names left 'adamw'
    # out, the name most often meant. Past the names as close as the third, none ('Adamax' is further).
    from lrfinder.names import did_you_mean

    with pytest.raises(ValueError, match=r"Did you mean 'adam' or 'radam' or 'nadam' or 'adamw'\?$"):
        create_optimizer("adamm", [nn.Parameter(torch.ones(1))], lr=0.1)
    assert did_you_mean("abcd", ["abc", "abcef", "abcfg", "abcgh", "abcxy"]) == (
        " Did you mean 'abc' or 'abcxy' or 'abcgh' or 'abcfg' or 'abcef'?"  # four tied with the second
    )
    # A fourth less close than the third is still left out.
    assert did_you_mean("abcd", ["abce", "abcf", "abcg", "abcxy"]) == " Did you mean 'abcg' or 'abcf' or 'abce'?"


@pytest.mark.parametrize(
    "name, hint",
    [
        ("torch.optim.AdamW", "Did you mean 'AdamW' (or 'torch.optim:AdamW')? A class path takes a colon"),
        ("torch.optim.Adamw", "Did you mean 'AdamW' (or 'torch.optim:AdamW')?"),
        ("mypkg.optim.Lion", "Did you mean 'mypkg.optim:Lion'? A class path takes a colon"),
    ],
)
def test_a_dotted_class_path_is_told_the_colon_it_needs(name: str, hint: str) -> None:
    # LightningCLI's class_path and Python's reprs write "torch.optim.AdamW": the message listed every name and the
    # 'package.module:Class' form, with nothing of the one character that was wrong.
    with pytest.raises(ValueError, match=rf"Unknown optimizer name='{name}'; .*{re.escape(hint)}"):
        create_optimizer(name, [nn.Parameter(torch.ones(1))], lr=0.1)
    with pytest.raises(ValueError, match=r"Did you mean 'adamw'\?$"):  # a lower-case last part is no class
        create_optimizer("adam.w", [nn.Parameter(torch.ones(1))], lr=0.1)


def _model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 8),  # 0
        nn.BatchNorm1d(8),  # 1
        nn.ReLU(),  # 2
        nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8)),  # 3
        nn.Linear(8, 2),  # 4
    )


def _lookup(groups):
    """param id -> (lr, weight_decay or None)."""
    return {id(p): (g["lr"], g.get("weight_decay")) for g in groups for p in g["params"]}


def test_no_decay_on_bias_and_norm_by_default():
    model = _model()
    opt = create_optimizer("adamw", model, lr=0.01, weight_decay=0.05)
    info = _lookup(opt.param_groups)
    for name, p in model.named_parameters():
        decayed = name in {"0.weight", "3.0.weight", "4.weight"}
        assert info[id(p)][1] == (0.05 if decayed else 0.0), name
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    assert {g["name"] for g in opt.param_groups} == {"decay", "no_decay"}


def test_decay_norm_and_bias_true_decays_everything():
    model = _model()
    groups = param_groups(model, lr=0.01, weight_decay=0.05, decay_norm_and_bias=True)
    assert len(groups) == 1 and groups[0]["weight_decay"] == 0.05
    assert len(groups[0]["params"]) == len(list(model.parameters()))


def test_class_default_weight_decay_only_on_the_decay_group():
    model = _model()
    opt = create_optimizer("adamw", model, lr=0.01)  # AdamW's own default: 0.01
    by_name = {g["name"]: g for g in opt.param_groups}
    assert by_name["decay"]["weight_decay"] == pytest.approx(0.01)
    assert by_name["no_decay"]["weight_decay"] == 0.0


def test_user_defined_norm_layer_is_detected():
    class SimpleRMSNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(4))

    model = nn.Sequential(nn.Linear(4, 4, bias=False), SimpleRMSNorm())
    info = _lookup(param_groups(model, lr=0.1, weight_decay=0.1))
    assert info[id(model[1].scale)][1] == 0.0
    assert info[id(model[0].weight)][1] == 0.1


@pytest.mark.parametrize(
    ("name", "is_norm"),
    [
        ("RMSNorm", True), ("LayerNorm2d", True), ("BatchNormAct2d", True), ("QKNorm", True),
        ("LayerNormalization", True), ("L2Norm", True),
        # "norm" inside another word: these are models and layers, and their weights are decayed.
        ("NormalizingFlow", False), ("Normalizer", False), ("AbnormalityHead", False), ("Enormous", False),
        ("NormedLinear", False),
    ],
)
def test_a_norm_layer_is_told_by_the_word_norm_in_its_class_name(name: str, is_norm: bool) -> None:
    # "norm" anywhere in the name took a NormalizingFlow's own weights out of weight decay.
    def init(self: nn.Module) -> None:
        nn.Module.__init__(self)
        self.scale = nn.Parameter(torch.ones(4, 4))  # 2-D: only the name can take it out of weight decay

    layer = type(name, (nn.Module,), {"__init__": init})()
    model = nn.Sequential(nn.Linear(4, 4, bias=False), layer)
    info = _lookup(param_groups(model, lr=0.1, weight_decay=0.1))
    assert info[id(layer.scale)][1] == (0.0 if is_norm else 0.1)


def test_gains_and_scalars_get_no_weight_decay():
    # A LayerScale gamma, a PReLU slope and a temperature were decayed towards 0 like a weight matrix.
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(4, 4)
            self.gamma = nn.Parameter(torch.full((4,), 1e-4))
            self.temperature = nn.Parameter(torch.tensor(1.0))
            self.act = nn.PReLU(4)

    model = Block()
    info = _lookup(param_groups(model, lr=0.1, weight_decay=0.1))
    for p in (model.gamma, model.temperature, model.act.weight, model.proj.bias):
        assert info[id(p)][1] == 0.0
    assert info[id(model.proj.weight)][1] == 0.1
    every = _lookup(param_groups(model, lr=0.1, weight_decay=0.1, decay_norm_and_bias=True))
    assert all(every[id(p)][1] == 0.1 for p in model.parameters())


def test_a_weight_norms_magnitude_is_a_gain_and_gets_no_weight_decay() -> None:
    # weight_norm's g (parametrizations' original0, the old weight_g) is shaped (out, 1): the 1-D rule missed it, and
    # it was decayed towards 0 like a weight matrix, shrinking the layer's output. Its direction v is decayed.
    from torch.nn.utils.parametrizations import weight_norm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.nn.utils.weight_norm is deprecated
        old = torch.nn.utils.weight_norm(nn.Linear(4, 4))
    model = nn.Sequential(weight_norm(nn.Linear(4, 4)), old, nn.Linear(4, 2))
    info = _lookup(param_groups(model, lr=0.1, weight_decay=0.1))
    new_wn = model[0].parametrizations.weight
    assert new_wn.original0.shape == (4, 1) and old.weight_g.shape == (4, 1)
    assert info[id(new_wn.original0)][1] == info[id(old.weight_g)][1] == 0.0
    assert info[id(new_wn.original1)][1] == info[id(old.weight_v)][1] == info[id(model[2].weight)][1] == 0.1
    every = _lookup(param_groups(model, lr=0.1, weight_decay=0.1, decay_norm_and_bias=True))
    assert every[id(new_wn.original0)][1] == every[id(old.weight_g)][1] == 0.1


class _Tied(nn.Module):
    """An embedding whose weight is also the output layer's (a language model's tied weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.body = nn.Linear(4, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight


def test_a_tied_weight_takes_its_first_names_settings_and_a_conflict_is_said() -> None:
    # lr_factors={"head": 10} gave the tied weight the embedding's factor 1 without a word.
    model = _Tied()
    with pytest.warns(UserWarning, match=r"'embed.weight' \(lr factor 1, decayed\) and 'head.weight' \(lr factor 10"):
        groups = param_groups(model, lr=0.1, lr_factors={"head": 10.0})
    info = _lookup(groups)
    assert info[id(model.embed.weight)][0] == pytest.approx(0.1)
    assert sum(len(g["params"]) for g in groups) == 3  # listed once
    # Both names under one factor: no conflict, no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = _lookup(param_groups(model, lr=0.1, lr_factors={"head": 10.0, "embed": 10.0}))
    assert info[id(model.embed.weight)][0] == pytest.approx(1.0)
    # A pattern matching only a shared module's second name is used, not refused as matching no module.
    shared = nn.Linear(4, 4)
    twice = nn.ModuleDict({"a": shared, "b": shared, "c": nn.Linear(4, 2)})
    with pytest.warns(UserWarning, match="'a.weight'.*'b.weight'"):
        param_groups(twice, lr=0.1, lr_factors={"b": 0.5})


def test_a_tied_embedding_under_layer_lr_decay_is_not_warned_about() -> None:
    # Every language model with a tied embedding and output head got the tied-parameter warning under
    # layer_lr_decay (embedding and head sit at different depths), and its advice (one lr_factors factor
    # for both) did not silence it: the layer factors still differed. The embedding's depth is kept.
    model = _Tied()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = _lookup(param_groups(model, lr=0.1, layer_lr_decay=0.5))
        _lookup(param_groups(model, lr=0.1, layer_lr_decay=0.5, lr_factors={"head": 2.0, "embed": 2.0}))
    # The head owns no parameter of its own, so it is no layer: embed is the deeper of 2 layers, body the top.
    assert info[id(model.embed.weight)][0] == pytest.approx(0.1 * 0.5)
    assert info[id(model.head.weight)][0] == pytest.approx(0.1 * 0.5)  # the same tensor
    assert info[id(model.body.weight)][0] == pytest.approx(0.1)
    # lr_factors that set the two names apart are still said, with the layer factors in the numbers.
    said = r"'embed.weight' \(lr factor 0.5, decayed\) and 'head.weight' \(lr factor 10, decayed"
    with pytest.warns(UserWarning, match=said):
        param_groups(model, lr=0.1, layer_lr_decay=0.5, lr_factors={"head": 10.0})


class _TiedLM(nn.Module):
    """A small transformer language model whose output head is its token embedding (GPT-2's tie)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(32, 16)
        self.blocks = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, batch_first=True), num_layers=2
        )
        self.norm = nn.LayerNorm(16)
        self.head = nn.Linear(16, 32, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.blocks(self.embed(tokens))))


def test_a_tied_language_model_under_layer_lr_decay_keeps_a_group_at_lr() -> None:
    # The tied head counted as the top layer but its one weight took the embedding's depth: no group was left
    # at factor 1, so create_optimizer(lr=result.lr) (lr_group="base") trained every group below the tested LR.
    model = _TiedLM()
    model(torch.randint(0, 32, (2, 5))).sum().backward()  # a real forward through the tie
    opt = create_optimizer("adamw", model, lr=1e-3, layer_lr_decay=0.8)
    info = _lookup(opt.param_groups)
    assert max(g["lr"] for g in opt.param_groups) == pytest.approx(1e-3)
    assert info[id(model.norm.weight)][0] == pytest.approx(1e-3)  # the top layer with parameters of its own
    assert info[id(model.blocks.layers[0].linear1.weight)][0] == pytest.approx(1e-3 * 0.8)
    assert info[id(model.embed.weight)][0] == pytest.approx(1e-3 * 0.8**2)  # the embedding keeps the lowest depth
    largest = create_optimizer("adamw", model, lr=1e-3, layer_lr_decay=0.8, lr_group="largest")
    assert [g["lr"] for g in largest.param_groups] == pytest.approx([g["lr"] for g in opt.param_groups])


def test_bias_lr_factor():
    model = _model()
    info = _lookup(param_groups(model, lr=0.01, bias_lr_factor=2.0))
    for name, p in model.named_parameters():
        assert info[id(p)][0] == pytest.approx(0.02 if name.endswith("bias") else 0.01), name


def test_an_rnns_biases_are_biases() -> None:
    # torch's recurrent layers name their biases bias_ih_l0 / bias_hh_l0 (and MultiheadAttention's extra key and
    # value biases bias_k / bias_v): bias_lr_factor passed them over, as only names ending in "bias" counted.
    model = nn.ModuleDict(
        {"rnn": nn.LSTM(3, 4, bidirectional=True), "attn": nn.MultiheadAttention(4, 2, add_bias_kv=True)}
    )
    info = _lookup(param_groups(model, lr=0.01, weight_decay=1e-4, bias_lr_factor=2.0))
    for name, p in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        is_bias = leaf.startswith("bias_") or leaf.endswith("bias")
        assert info[id(p)] == ((0.02, 0.0) if is_bias else (0.01, 1e-4)), name
    assert any(n.endswith("bias_ih_l0_reverse") for n, _ in model.named_parameters())


def test_layer_lr_decay_from_the_head_down():
    model = _model()  # children with params: 0, 1, 3, 4 (ReLU has none)
    info = _lookup(param_groups(model, lr=1.0, layer_lr_decay=0.5))
    expected = {"0": 0.125, "1": 0.25, "3": 0.5, "4": 1.0}
    for name, p in model.named_parameters():
        assert info[id(p)][0] == pytest.approx(expected[name.split(".")[0]]), name


def test_an_averaged_models_copies_are_left_out_of_the_param_groups():
    # An AveragedModel registered as a submodule (an EMA of the weights) put its copies, which require grad but
    # never get one, into the groups; as the last child it was the "head" of layer_lr_decay.
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    model = _model()
    holder = nn.Module()
    holder.net = model
    holder.ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.99))
    groups = param_groups(holder, lr=1.0)
    held = [p for g in groups for p in g["params"]]
    assert len(held) == len(list(model.parameters())) and {id(p) for p in held} == {id(p) for p in model.parameters()}
    info = _lookup(create_optimizer("adamw", holder, lr=1.0, layer_lr_decay=0.5).param_groups)
    assert info[id(model[4].weight)][0] == pytest.approx(1.0)  # the net is the one layer: it trains at lr
    # The AveragedModel itself as the model is the model to train.
    alone = AveragedModel(model)
    assert len([p for g in param_groups(alone, lr=1.0) for p in g["params"]]) == len(list(model.parameters()))


@pytest.mark.parametrize("wrap", [lambda m: torch.compile(m, backend="eager"), nn.DataParallel])
def test_names_are_read_inside_a_compile_or_data_parallel_wrapper(wrap):
    # The wrappers prefix every name (_orig_mod., module.) and are the only top-level child: lr_factors={"3": ...}
    # matched no module, and layer_lr_decay put the whole model in one layer without a word.
    model = _model()
    wrapped = wrap(model)
    info = _lookup(create_optimizer("adamw", wrapped, lr=1.0, layer_lr_decay=0.5).param_groups)
    expected = {"0": 0.125, "1": 0.25, "3": 0.5, "4": 1.0}
    for name, p in model.named_parameters():
        assert info[id(p)][0] == pytest.approx(expected[name.split(".")[0]]), name
    info = _lookup(param_groups(wrapped, lr=1.0, lr_factors={"3": 0.1}))
    assert info[id(model[3][0].weight)][0] == pytest.approx(0.1)
    assert info[id(model[0].weight)][0] == pytest.approx(1.0)


def test_a_lazy_models_weights_are_decayed_before_its_first_forward():
    # torch's documented order: the optimizer first, then the dry run that materializes the weights in place.
    # An uninitialized weight is a 1-D placeholder, so LazyLinear's matrices went to the no-decay group.
    model = nn.Sequential(nn.LazyLinear(8), nn.LazyBatchNorm1d(), nn.ReLU(), nn.LazyLinear(3))
    opt = create_optimizer("adamw", model, lr=0.1, weight_decay=0.05)
    decay = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    model(torch.randn(4, 5))
    assert decay[id(model[0].weight)] == decay[id(model[3].weight)] == 0.05
    assert decay[id(model[0].bias)] == decay[id(model[1].weight)] == decay[id(model[1].bias)] == 0.0
    assert opt.param_groups[0]["params"][0] is model[0].weight and model[0].weight.shape == (8, 5)


def test_lr_factor_patterns_first_match_wins_and_combine():
    model = _model()
    groups = param_groups(model, lr=1.0, lr_factors={"3.*": 0.1, "3": 0.5, "0": 0.01}, bias_lr_factor=2.0)
    info = _lookup(groups)
    assert info[id(model[3][0].weight)][0] == pytest.approx(0.1)
    assert info[id(model[3][1].bias)][0] == pytest.approx(0.2)
    assert info[id(model[0].weight)][0] == pytest.approx(0.01)
    assert info[id(model[4].weight)][0] == pytest.approx(1.0)
    names = [g["name"] for g in groups]
    assert len(names) == len(set(names))


def test_frozen_parameters_are_kept_and_skipped():
    model = _model()
    for p in model[0].parameters():
        p.requires_grad_(False)
    opt = create_optimizer("adam", model, lr=0.1)
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    before = model[0].weight.detach().clone()
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    torch.testing.assert_close(model[0].weight, before, rtol=0, atol=0)


@pytest.mark.parametrize(
    "name, kwargs, exc, match",
    [
        ("adamm", {}, ValueError, r"adamm.*sgd, momentum, nesterov.*yogi"),
        ("sgd", {"momentum": 0.9}, ValueError, "momentum"),
        ("nesterov", {"momentum": 0.0}, ValueError, "momentum > 0"),
        ("nesterov", {"nesterov": False}, ValueError, "nesterov"),
        ("nesterov", {"dampening": 0.1}, ValueError, "dampening"),
        ("momentum", {"momentum": 0.0}, ValueError, "momentum > 0"),
        ("amsgrad", {"amsgrad": False}, ValueError, "amsgrad"),
        ("adam", {"momentum": 0.9}, TypeError, r"momentum.*accepts: lr, betas"),
        ("adam", {"weight_decy": 0.1}, TypeError, r"weight_decy.*Did you mean 'weight_decay' or"),
        ("adamw", {"wieght_decay": 0.1, "bettas": (0.9, 0.99)}, TypeError,
         r"For 'wieght_decay': did you mean 'weight_decay'\? For 'bettas': did you mean 'betas'\?$"),
        ("adam", {"lr": 0.0}, ValueError, "lr"),
        ("adam", {"lr": -1.0}, ValueError, "lr"),
        ("adam", {"weight_decay": -0.1}, ValueError, "weight_decay"),
        ("adam", {"bias_lr_factor": 0.0}, ValueError, "bias_lr_factor"),
        ("adam", {"layer_lr_decay": 1.5}, ValueError, "layer_lr_decay"),
        ("adam", {"layer_lr_decay": 0.0}, ValueError, "layer_lr_decay"),
        ("adam", {"lr_factors": {"nope*": 0.1}}, ValueError, r"nope\*.*match no module"),
        ("adam", {"lr_factors": {"0": -1.0}}, ValueError, "lr_factors"),
        ("adam", {"decay_norm_and_bias": "yes"}, TypeError, "decay_norm_and_bias"),
        ("adam", {"lr": "0.1"}, TypeError, "Expected lr to be a number, but got lr='0.1'"),
        ("momentum", {"momentum": "abc"}, TypeError, "Expected momentum to be a number, but got momentum='abc'"),
        ("rmsprop", {"momentum": "0.9"}, TypeError, "Expected momentum to be a number"),
        # torch's "Invalid beta parameter at index 0: 1.0" named the value, not the range
        ("adam", {"betas": (2.0, 0.9)}, ValueError, r"^Expected betas each in \[0, 1\), but got betas=\(2.0, 0.9\); "
                                                    r"the usual values are \(0.9, 0.999\)$"),
        ("adam", {"betas": (1.0, 0.999)}, ValueError, r"^Expected betas each in \[0, 1\), but got betas=\(1.0, 0.99"),
        ("adamw", {"betas": (0.9, -0.1)}, ValueError, r"^Expected betas each in \[0, 1\)"),
        ("nadam", {"betas": (0.9, float("nan"))}, ValueError, r"^Expected betas each in \[0, 1\)"),
        # torch's own IndexError, and a string flag that torch read as on
        ("adamw", {"betas": (0.9,)}, TypeError, r"betas to be a pair of numbers \(beta1, beta2\), but got betas=\(0.9"),
        ("nadam", {"betas": "0.9,0.99"}, TypeError, "betas to be a pair"),
        ("sgd", {"maximize": "no"}, TypeError, "Expected maximize to be True or False, but got maximize='no'"),
        ("adam", {"foreach": None, "differentiable": 1}, TypeError, "differentiable to be True or False"),
        ("adam", {"foreach": "no"}, TypeError, "Expected foreach to be True or False, but got foreach='no'"),
        ("adamw", {"fused": 0}, TypeError, "Expected fused to be True or False, but got fused=0"),
        ("torch.optim:Nope", {}, ValueError, "Nope"),
        ("no_such_pkg.mod:Opt", {}, ValueError, "no_such_pkg"),
        ("torch.nn:Linear", {}, TypeError, "Optimizer subclass"),
        ("torch.optim", {}, ValueError, "Unknown optimizer"),
        # decay rates torch leaves unchecked: the velocity grows geometrically, RMSprop's average turns negative
        ("momentum", {"momentum": 1.5}, ValueError, r"Expected 0 <= momentum < 1, but got momentum=1.5"),
        ("nesterov", {"momentum": 1.0}, ValueError, r"0 <= momentum < 1"),
        ("rmsprop", {"alpha": 2.0}, ValueError, r"Expected 0 <= alpha < 1, but got alpha=2.0"),
        ("rmsprop", {"momentum": 1.0}, ValueError, r"0 <= momentum < 1"),
        ("momentum", {"dampening": -1}, ValueError, "dampening >= 0"),
        ("momentum", {"dampening": 2}, ValueError, r"0 <= dampening <= 1"),
        # a setting whose class default is a number: torch compared it first ("'<=' not supported between
        # instances of 'float' and 'str'"), and took inf (Adadelta's eps=inf wrote NaN into the weights)
        ("adam", {"eps": "abc"}, TypeError, r"Expected eps to be a number, but got eps='abc' .*eps=1e-08"),
        ("adagrad", {"lr_decay": None}, TypeError, "Expected lr_decay to be a number, but got lr_decay=None"),
        ("adadelta", {"rho": [0.9]}, TypeError, r"Expected rho to be a number, but got rho=\[0.9\]"),
        ("adadelta", {"eps": float("inf")}, ValueError, "Expected eps to be finite, but got eps=inf"),
        ("adagrad", {"lr_decay": float("inf")}, ValueError, "Expected lr_decay to be finite"),
        ("nadam", {"momentum_decay": float("nan")}, ValueError, "Expected momentum_decay to be finite"),
        # lr_factors: a mapping; a model without submodules is said to have none
        ("adam", {"lr_factors": "head"}, TypeError, r"lr_factors to be a mapping .*\{'head': 10.0\}"),
    ],
)
def test_bad_input(name, kwargs, exc, match):
    kwargs = {"lr": 0.1, **kwargs}
    with pytest.raises(exc, match=match):
        create_optimizer(name, _model(), **kwargs)


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("adam", {"eps": Fraction(1, 10**8)}),  # torch's step: "add_(): argument 'other' must be Tensor, not Fraction"
        ("adadelta", {"rho": Fraction(9, 10)}),
        ("rmsprop", {"eps": 10**30}),  # past int64: "int too big to convert" at the first step
        ("adagrad", {"initial_accumulator_value": 10**30}),  # ... and when Adagrad built its state
    ],
)
def test_a_real_number_setting_steps_as_its_float(name: str, settings: dict) -> None:
    model = _model()
    opt = create_optimizer(name, model, lr=1e-3, **settings)
    (key, value), = settings.items()
    assert opt.defaults[key] == float(value) and type(opt.defaults[key]) is float
    model(torch.ones(4, 4)).sum().backward()
    opt.step()
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_an_int_setting_of_a_class_of_ones_own_stays_an_int():
    class Counting(torch.optim.SGD):
        def __init__(self, params, lr=0.1, every=1):
            super().__init__(params, lr=lr)
            self.every = every

    opt = create_optimizer(Counting, _model(), lr=0.1, every=3)
    assert opt.every == 3 and type(opt.every) is int


def test_numpy_scalars_are_numbers():
    opt = create_optimizer("momentum", _model(), lr=np.float32(0.5), momentum=np.float64(0.8), weight_decay=np.int64(0))
    assert opt.param_groups[0]["lr"] == 0.5 and isinstance(opt.param_groups[0]["lr"], float)
    assert opt.defaults["momentum"] == pytest.approx(0.8)


def test_a_class_without_weight_decay_gets_one_group():
    # LBFGS refused the decay / no-decay split ("doesn't support per-parameter options"), which means
    # nothing without weight decay.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1))
    opt = create_optimizer("LBFGS", model, lr=0.5)
    assert [(g["name"], len(g["params"])) for g in opt.param_groups] == [("all", 6)]
    x, y = torch.randn(8, 3), torch.randn(8, 1)

    def closure():
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    first = float(closure())
    opt.step(closure)
    assert float(closure()) < first
    halved = create_optimizer("LBFGS", model, lr=0.5, lr_factors={"*": 0.5}).param_groups
    assert [(g["lr"], g["lr_factor"]) for g in halved] == [(0.25, 0.5)]


def test_group_settings_need_a_module():
    with pytest.raises(TypeError, match="bias_lr_factor.*nn.Module"):
        create_optimizer("adam", _model().parameters(), lr=0.1, bias_lr_factor=2.0)
    with pytest.raises(TypeError, match="model"):
        param_groups([nn.Parameter(torch.ones(1))], lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name"):
        get_optimizer_spec(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no parameters"):
        param_groups(nn.ReLU(), lr=0.1)


def test_lr_group_largest_puts_lr_on_the_largest_group() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    base = create_optimizer("momentum", model, lr=0.4, lr_factors={"2": 10.0})
    largest = create_optimizer("momentum", model, lr=0.4, lr_factors={"2": 10.0}, lr_group="largest")
    assert max(g["lr"] for g in base.param_groups) == pytest.approx(4.0)
    assert max(g["lr"] for g in largest.param_groups) == pytest.approx(0.4)
    assert sorted(g["lr"] for g in largest.param_groups) == pytest.approx([0.04, 0.04, 0.4, 0.4])
    assert largest.defaults["lr"] == pytest.approx(0.04)  # the factor-1 groups' LR, as schedulers read it
    # Factors at or below 1: the groups at factor 1 are the largest, nothing moves.
    low = create_optimizer("momentum", model, lr=0.4, layer_lr_decay=0.5, lr_group="largest")
    assert [g["lr"] for g in low.param_groups] == [g["lr"] for g in create_optimizer(
        "momentum", model, lr=0.4, layer_lr_decay=0.5).param_groups]


def test_lr_group_largest_with_param_dicts() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    given = [{"params": model[0].parameters(), "lr": 1.0}, {"params": model[2].parameters()}]
    opt = create_optimizer("adam", given, lr=0.1, lr_group="largest")
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.1, 0.01])
    plain = create_optimizer("adam", model.parameters(), lr=0.1, lr_group="largest")
    assert [g["lr"] for g in plain.param_groups] == [0.1]
    # No parameters: said so, not max()'s "empty sequence".
    with pytest.raises(ValueError, match="model_or_params holds no parameters"):
        create_optimizer("adam", [], lr=0.1, lr_group="largest")


def test_a_used_up_parameter_generator_is_said_so() -> None:
    # torch's "optimizer got an empty parameter list": model.parameters() passed to a second optimizer.
    model = nn.Linear(4, 2)
    params = model.parameters()
    create_optimizer("sgd", params, lr=0.1)
    with pytest.raises(ValueError, match=r"'adam' \(Adam\): model_or_params holds no parameters \(a "
                                         r"model\.parameters\(\) generator is used up .*pass the model itself"):
        create_optimizer("adam", params, lr=0.1)


def test_lr_group_must_be_known() -> None:
    with pytest.raises(ValueError, match="lr_group to be 'base' or 'largest'"):
        create_optimizer("adam", nn.Linear(2, 1), lr=0.1, lr_group="smallest")  # type: ignore[arg-type]


def test_a_param_group_without_params_is_named() -> None:
    # torch raised a bare KeyError: 'params'.
    w = nn.Parameter(torch.ones(1))
    with pytest.raises(ValueError, match=r"group 1 has the keys \['lr', 'param'\]; pass \{'params'"):
        create_optimizer("adamw", [{"params": [w]}, {"param": [w], "lr": 0.1}], lr=0.1)
    # A generator of groups still works (it is read once).
    opt = create_optimizer("adamw", ({"params": [p]} for p in [w]), lr=0.1, lr_group="largest")
    assert opt.param_groups[0]["params"] == [w]


def test_lr_factors_on_a_model_without_submodules_says_so() -> None:
    # The message ended "module names are: " and nothing.
    with pytest.raises(ValueError, match=r"\['head'\] match no module; the model \(Linear\) has no submodules"):
        create_optimizer("adam", nn.Linear(2, 2), lr=0.1, lr_factors={"head": 10.0})


def test_adams_decoupled_weight_decay_flag_is_labelled_decoupled():
    """torch's Adam/NAdam/RAdam(decoupled_weight_decay=True) decay as AdamW does: the label says so."""
    for name in ("adam", "nadam", "radam", "amsgrad"):
        spec = OPTIMIZERS[name]
        assert spec.weight_decay == spec.decay_for() == spec.decay_for({"decoupled_weight_decay": False}) == "l2"
        assert spec.decay_for({"decoupled_weight_decay": True, "weight_decay": 0.1}) == "decoupled"
    assert OPTIMIZERS["adamw"].decay_for() == "decoupled"
    assert OPTIMIZERS["sgd"].decay_for({"weight_decay": 0.1}) == "l2"

    class DecoupledAdam(torch.optim.Adam):
        def __init__(self, params, lr=1e-3, weight_decay=0.0, decoupled_weight_decay=True):
            super().__init__(params, lr=lr, weight_decay=weight_decay, decoupled_weight_decay=decoupled_weight_decay)

    spec = get_optimizer_spec(DecoupledAdam)
    assert spec.weight_decay == "decoupled" and spec.decay_for({"decoupled_weight_decay": False}) == "l2"
    # The label matches what torch does: a zero gradient, AdamW's shrink lr * wd.
    w = nn.Parameter(torch.ones(1, dtype=torch.float64))
    opt = create_optimizer("adam", [w], lr=0.1, weight_decay=0.5, decoupled_weight_decay=True)
    w.grad = torch.zeros_like(w)
    opt.step()
    assert w.item() == pytest.approx(1.0 - 0.1 * 0.5, rel=1e-12)


def test_create_optimizer_names_model_or_params_that_is_neither() -> None:
    # Were "Cannot build optimizer 'adamw' (AdamW): 'NoneType' object is not iterable" (and 'int').
    for bad, what in ((None, "NoneType"), (3, "int"), ("model", "str")):
        with pytest.raises(TypeError, match=f"model_or_params to be an nn.Module.*but got {what}"):
            create_optimizer("adamw", bad, lr=1e-3)  # type: ignore[arg-type]


def test_lr_none_from_an_inconclusive_result_says_where_it_came_from() -> None:
    """create_optimizer/param_groups/scale_lr(lr=result.lr) after an inconclusive test said only 'got lr=None'."""
    from lrfinder import RangeTestResult, param_groups, scale_lr

    result = RangeTestResult(lrs=(1e-3, 1e-2, 1e-1), losses=(1.0, 1.0, 1.0), stop_reason="completed", error="flat")
    assert result.lr is None
    model = nn.Linear(2, 2)
    hint = r"got lr=None \(lr=None is what result.lr holds when the range test found no LR, and result.error says why"
    for call in (
        lambda: create_optimizer("adamw", model, lr=result.lr),  # type: ignore[arg-type]
        lambda: param_groups(model, lr=result.lr),  # type: ignore[arg-type]
        lambda: scale_lr(result.lr, from_batch_size=32, to_batch_size=64),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError, match=hint):
            call()
    with pytest.raises(TypeError, match=r"got bias_lr_factor=None$"):  # only an LR gets the hint
        param_groups(model, lr=0.1, bias_lr_factor=None)  # type: ignore[arg-type]


def test_decoupled_weight_decay_given_to_adamw_says_adamw_always_decouples() -> None:
    # Adam takes decoupled_weight_decay=True (AdamW's update); AdamW refused the flag with "Did you mean
    # 'weight_decay'?", which read as if the flag were misspelt.
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError) as info:
        create_optimizer("adamw", model, lr=0.1, weight_decay=0.01, decoupled_weight_decay=True)
    assert "AdamW always decouples its weight decay" in str(info.value) and "drop decoupled_weight_decay" in str(
        info.value
    )
    assert "Did you mean" not in str(info.value)
    assert create_optimizer("adam", model, lr=0.1, weight_decay=0.01, decoupled_weight_decay=True) is not None


def test_param_groups_that_share_parameters_are_named() -> None:
    # torch's "some parameters appear in more than one parameter group" said neither which groups nor what to do.
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    groups = [{"params": list(model.parameters())}, {"params": list(model[1].parameters()), "lr": 1e-2}]
    with pytest.raises(ValueError, match=r"\(groups 0 and 1 share 2 tensors\)\. Each parameter may be in one"):
        create_optimizer("sgd", groups, lr=0.1)


def test_a_param_group_listing_a_tensor_twice_is_refused() -> None:
    # torch only warned ("in future, this will cause an error") and stepped the tensor once per listing: plain SGD
    # moved it by twice lr * grad.
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    params = [*model.parameters(), model[1].weight]
    said = r"param group 0 lists 1 tensor more than once.*list\(dict\.fromkeys\(params\)\) to drop the repeats"
    with pytest.raises(ValueError, match=said):
        create_optimizer("sgd", params, lr=0.1)
    with pytest.raises(ValueError, match=r"param group 1 lists 2 tensors more than once"):
        create_optimizer("adamw", [{"params": [model[0].weight]}, {"params": [*model[1].parameters()] * 2}], lr=0.1)
    optimizer = create_optimizer("sgd", list(dict.fromkeys(params)), lr=0.1)  # the advice works
    assert len(optimizer.param_groups[0]["params"]) == 4


def test_momentum_given_to_an_adam_family_optimizer_points_to_betas() -> None:
    """create_optimizer('adam', momentum=0.9) listed what Adam accepts, without saying betas[0] is its momentum."""
    model = nn.Linear(2, 2)
    for name in ("adam", "adamw", "nadam"):
        with pytest.raises(TypeError, match=r"momentum is the first of its betas: set betas \(e\.g\. 0\.9, 0\.999\)"):
            create_optimizer(name, model, lr=0.1, momentum=0.9)
    with pytest.raises(TypeError) as info:  # an optimizer without betas gets no such hint
        create_optimizer("adagrad", model, lr=0.1, momentum=0.9)
    assert "betas" not in str(info.value)


@pytest.mark.parametrize(
    ("setting", "error", "pattern"),
    [
        ({"lr": "1e-4"}, TypeError, r"param group 1's lr to be a number, but got lr='1e-4' \(a string: a YAML config"),
        ({"lr": -1e-3}, ValueError, r"param group 1's lr >= 0 and finite, but got lr=-0\.001"),
        ({"lr": float("nan")}, ValueError, r"param group 1's lr >= 0 and finite, but got lr=nan"),
        ({"lr": None}, TypeError, r"param group 1's lr to be a number, but got lr=None \(lr=None is what result\.lr"),
        ({"weight_decay": "0.1"}, TypeError, r"param group 1's weight_decay to be a number.*e\.g\. weight_decay=0\.01"),
        ({"eps": "1e-8"}, TypeError, r"param group 1's eps to be a number, but got eps='1e-8' \(a string"),
        ({"eps": float("inf")}, ValueError, r"param group 1's eps to be finite, but got eps=inf"),
    ],
)
def test_a_param_groups_own_settings_are_checked(setting: dict, error: type, pattern: str) -> None:
    # torch checks the settings given to the class only: a group's lr='1e-4' (text, as a YAML config reads 1e-4)
    # was taken and the first step failed inside torch ("bad operand type for unary -: 'str'"); lr=-1e-3 trained
    # uphill without a word.
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    groups = [{"params": model[0].parameters()}, {"params": model[1].parameters(), **setting}]
    with pytest.raises(error, match=pattern):
        create_optimizer("adamw", groups, lr=1e-3)


@pytest.mark.parametrize(
    ("name", "setting", "error", "pattern"),
    [
        ("adam", {"betas": (1.5, 0.999)}, ValueError, r"param group 1's betas each in \[0, 1\), but got betas=\(1\.5,"),
        ("adamw", {"betas": [0.9, float("nan")]}, ValueError, r"param group 1's betas each in \[0, 1\)"),
        ("adam", {"betas": (0.9,)}, TypeError, r"param group 1's betas to be a pair of numbers .*betas=\(0\.9,\)"),
        ("momentum", {"momentum": 2}, ValueError, r"param group 1's momentum in \[0, 1\), but got momentum=2"),
        ("rmsprop", {"momentum": -0.5}, ValueError, r"param group 1's momentum in \[0, 1\), but got momentum=-0\.5"),
    ],
)
def test_a_param_groups_decay_rates_are_checked_as_the_classs_are(
    name: str, setting: dict, error: type, pattern: str
) -> None:
    # torch checks momentum and betas given to the class, not a group's own: {"momentum": 2} or
    # {"betas": (1.5, 0.999)} was taken, the velocity grew geometrically and the weights went NaN without a word.
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    groups = [{"params": model[0].parameters()}, {"params": model[1].parameters(), **setting}]
    with pytest.raises(error, match=pattern):
        create_optimizer(name, groups, lr=1e-3)
    valid = {"betas": (0.0, 0.5)} if "betas" in setting else {"momentum": 0.0}  # the edge torch takes
    groups = [{"params": model[0].parameters()}, {"params": model[1].parameters(), **valid}]
    assert create_optimizer(name, groups, lr=1e-3).param_groups[1][next(iter(valid))] == next(iter(valid.values()))


def test_a_param_groups_own_numbers_are_taken() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    groups = [{"params": model[0].parameters(), "lr": 0.0}, {"params": model[1].parameters(), "lr": torch.tensor(0.1),
              "weight_decay": np.float32(0.01), "eps": 1e-6, "name": "head"}]  # fmt: skip
    opt = create_optimizer("adamw", groups, lr=1e-3)
    assert [float(g["lr"]) for g in opt.param_groups] == [0.0, pytest.approx(0.1)]
    assert opt.param_groups[1]["name"] == "head"


def test_muon_over_a_model_with_biases_says_how_muon_is_used() -> None:
    # torch refused the first bias with "Muon only supports 2D parameters whereas we found a parameter with size:
    # torch.Size([8])", naming neither the parameter nor how Muon is built.
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2, bias=False))
    if not hasattr(torch.optim, "Muon"):  # torch < 2.9 (constraints-cpu.txt pins one with it): an unknown name
        with pytest.raises(ValueError, match=r"Unknown optimizer name='muon'"):
            create_optimizer("muon", model, lr=0.02)
        return
    with pytest.raises(ValueError, match=r"^Optimizer 'Muon' \(Muon\) steps 2-D weight matrices only, but the model "
                       r"has 3 parameters of other shapes \(first: 0\.bias, shape \(8,\)\).*create_optimizer"
                       r"\('Muon', \[p for p in model\.parameters\(\) if p\.ndim == 2\], lr=\.\.\.\)"):  # fmt: skip
        create_optimizer("muon", model, lr=0.02)
    matrices = [p for p in model.parameters() if p.ndim == 2]
    assert type(create_optimizer("muon", matrices, lr=0.02)).__name__ == "Muon"
    assert type(create_optimizer("muon", nn.Linear(4, 2, bias=False), lr=0.02)).__name__ == "Muon"


def _curve_result():
    from lrfinder import RangeTestResult, analyze

    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    losses = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0)
    return RangeTestResult(
        lrs=tuple(lrs), losses=tuple(losses), stop_reason="completed", batch_size=32, suggestion=analyze(lrs, losses)
    )


def test_a_result_or_suggestion_given_as_lr_says_what_to_pass() -> None:
    # create_optimizer("adamw", model, lr=result) printed the whole result (every swept LR and loss, over 2,000
    # characters) and said nothing of what to pass, where scale_lr already named result.lr.
    result = _curve_result()
    model = nn.Linear(4, 2)
    with pytest.raises(TypeError) as info:
        create_optimizer("adamw", model, lr=result)  # type: ignore[arg-type]
    assert str(info.value) == "Expected lr to be a number, but got a RangeTestResult: pass its LR, lr=result.lr"
    with pytest.raises(TypeError) as info:
        create_optimizer("adamw", model, lr=result.suggestion)  # type: ignore[arg-type]
    assert str(info.value) == "Expected lr to be a number, but got a Suggestion: pass its LR, lr=suggestion.lr"
    assert create_optimizer("adamw", model, lr=result.lr).param_groups[0]["lr"] == result.lr


def test_an_optimizer_instance_or_the_model_given_as_name_says_what_to_pass() -> None:
    # create_optimizer(torch.optim.Adam(...), model, lr=...) printed the optimizer's repr (a dozen lines of its
    # group settings); create_optimizer(model, "adamw", lr=...) the model's, and neither said what to pass.
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    built = torch.optim.Adam(model.parameters(), lr=1e-3)
    with pytest.raises(TypeError) as info:
        create_optimizer(built, model, lr=1e-3)  # type: ignore[arg-type]
    assert str(info.value) == (
        "Expected name to be a str or an Optimizer class, but got an optimizer already built (Adam). Pass its class "
        "or name, create_optimizer('Adam', model, lr=...), or use the optimizer itself as it is "
        "(range_test(model, data, optimizer=optimizer))"
    )
    with pytest.raises(TypeError) as info:
        create_optimizer(model, "adamw", lr=1e-3)  # type: ignore[arg-type]
    assert str(info.value) == (
        "Expected name to be a str or an Optimizer class, but got the model (Sequential): the optimizer's name "
        "comes first, create_optimizer('adamw', model, lr=...)"
    )
    assert type(create_optimizer("Adam", model, lr=1e-3)) is torch.optim.Adam  # the name the message gives
