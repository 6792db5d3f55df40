"""The benchmark tasks: small models on bundled or seeded data, and the training loop they share.

Every task is cheap enough to train in well under a second or two on one CPU thread, so a
grid-search oracle (many LRs x seeds x schedules) is affordable. Data comes from scikit-learn's
bundled datasets (``load_*``, no downloads) or is generated with a fixed seed.

A task fixes everything except the learning rate: data, split, model, optimizer family and its
other hyper-parameters, batch size and the training budget (a number of optimizer steps). The
same :func:`train` loop is used for the oracle and for every finder's suggestion, so only the
learning rate differs between them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

Split = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def _standardize(train: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = train.mean(axis=0)
    std = train.std(axis=0) + 1e-8
    return (train - mean) / std, (val - mean) / std


def _split(
    x: np.ndarray, y: np.ndarray, *, regression: bool, tokens: bool = False, val_fraction: float = 0.25
) -> Split:
    """A fixed (seed 0) train/validation split; features (and regression targets) standardized."""
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    n_val = int(round(val_fraction * len(x)))
    val, tr = order[:n_val], order[n_val:]
    x_tr, x_val = x[tr], x[val]
    if x.ndim == 2 and not tokens:
        x_tr, x_val = _standardize(x_tr, x_val)
    y_tr, y_val = y[tr], y[val]
    if regression:
        y_tr, y_val = _standardize(y_tr.reshape(-1, 1), y_val.reshape(-1, 1))
        return (torch.tensor(x_tr, dtype=torch.float32), torch.tensor(y_tr, dtype=torch.float32),
                torch.tensor(x_val, dtype=torch.float32), torch.tensor(y_val, dtype=torch.float32))
    return (torch.tensor(x_tr, dtype=torch.float32), torch.tensor(y_tr, dtype=torch.long),
            torch.tensor(x_val, dtype=torch.float32), torch.tensor(y_val, dtype=torch.long))


#: Datasets defined outside this module (``benchmarks/probe.py``'s): name -> builder of the split.
EXTRA_DATA: dict[str, Callable[[], Split]] = {}


@cache
def load_data(name: str) -> Split:
    """Return ``(x_train, y_train, x_val, y_val)`` for a dataset name (or one of :data:`EXTRA_DATA`)."""
    from sklearn import datasets

    if name in EXTRA_DATA:
        return EXTRA_DATA[name]()

    if name == "digits":
        d = datasets.load_digits()
        return _split(d.data.astype(np.float32), d.target, regression=False)
    if name == "digits_img":
        d = datasets.load_digits()
        x = (d.images.astype(np.float32) / 16.0 - 0.5)[:, None, :, :]
        return _split(x, d.target, regression=False)
    if name == "wine":
        # Four of the 13 features (alcohol, malic acid, ash, alcalinity): with all of them the
        # classes separate perfectly and the validation loss goes to zero at any large LR.
        d = datasets.load_wine()
        return _split(d.data[:, :4].astype(np.float32), d.target, regression=False)
    if name == "breast_cancer":
        d = datasets.load_breast_cancer()
        return _split(d.data.astype(np.float32), d.target, regression=False)
    if name == "diabetes":
        d = datasets.load_diabetes()
        return _split(d.data.astype(np.float32), d.target.astype(np.float32), regression=True)
    if name == "friedman":
        x, y = datasets.make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
        return _split(x.astype(np.float32), y.astype(np.float32), regression=True)
    if name == "synth_classes":
        # Batch-scaling check data: enough rows (6,000 for training) that batch 512 still gives
        # 11 steps per epoch; 5% flipped labels keep the gradient noisy at the optimum.
        x, y = datasets.make_classification(
            n_samples=8000, n_features=20, n_informative=10, n_redundant=4, n_classes=4,
            n_clusters_per_class=2, flip_y=0.05, class_sep=1.0, random_state=3,
        )
        return _split(x.astype(np.float32), y, regression=False)
    if name == "friedman_big":
        # The Friedman #1 regression with 8,000 rows (batch-scaling check data).
        x, y = datasets.make_friedman1(n_samples=8000, n_features=10, noise=1.0, random_state=1)
        return _split(x.astype(np.float32), y.astype(np.float32), regression=True)
    if name == "adding":
        return _split(*_adding_problem(2400, 20), regression=True)
    if name == "majority":
        return _split(*_majority_tokens(2400, 16, 8), regression=False, tokens=True)
    if name == "digits_small":
        # Over-fitting on purpose: 120 training rows, the usual validation split.
        x_tr, y_tr, x_val, y_val = load_data("digits")
        return x_tr[:120], y_tr[:120], x_val, y_val
    if name == "pystdlib_chars":
        return _char_windows(CHAR_CONTEXT)
    # Tasks whose default range test reads inconclusive (benchmarks/inconclusive.py), three classes.
    if name == "skipgram":
        # (a) still falling at max_lr: centre word -> context word, 40 topics of 5 words.
        return _split(*_skipgram_pairs(4000, 40, 5), regression=False, tokens=True)
    if name == "digits_small_inputs":
        # (a) still falling at max_lr: the digits' standardized features at 1/50 of unit scale.
        x_tr, y_tr, x_val, y_val = load_data("digits")
        return x_tr * 0.02, y_tr, x_val * 0.02, y_val
    if name == "diabetes_16":
        # (b) tiny data: 16 training rows of the diabetes regression, the usual validation split.
        x_tr, y_tr, x_val, y_val = load_data("diabetes")
        return x_tr[:16], y_tr[:16], x_val, y_val
    if name == "noisy_regression_20":
        # (b) tiny, noisy data: 20 training rows (60 validation rows) of a seeded linear regression
        # whose noise is about as large as its signal.
        x, y = datasets.make_regression(n_samples=80, n_features=8, n_informative=4, noise=40.0, random_state=4)
        return _split(x.astype(np.float32), y.astype(np.float32), regression=True, val_fraction=0.75)
    raise ValueError(f"Unknown dataset {name!r}")


#: The offline text corpus of the character-level LM: these modules of Python's own standard
#: library, read from this interpreter's installation (the text, and so the task's numbers,
#: follow the Python version; 3.11 here). Nothing is downloaded.
CHAR_CORPUS = ("textwrap.py", "string.py", "calendar.py", "heapq.py", "fractions.py")
CHAR_CONTEXT = 16
CHAR_VOCAB = 128


def char_corpus() -> str:
    """The concatenated sources of :data:`CHAR_CORPUS` (ASCII; other characters become ``?``)."""
    import sysconfig
    from pathlib import Path

    root = Path(sysconfig.get_paths()["stdlib"])
    text = "\n".join((root / name).read_text(encoding="utf-8") for name in CHAR_CORPUS)
    return "".join(c if ord(c) < CHAR_VOCAB else "?" for c in text)


def _char_windows(context: int) -> Split:
    """Next-character prediction: ``context`` characters in, the next one out.

    The first 85% of the corpus gives the training windows, the rest the validation windows (a
    split by position, so no validation text overlaps a training window); every 4th window of
    the validation part is kept, to keep evaluation cheap.
    """
    codes = torch.tensor([ord(c) for c in char_corpus()], dtype=torch.long)
    cut = int(0.85 * codes.numel())

    def windows(seq: torch.Tensor, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
        starts = torch.arange(0, seq.numel() - context, stride)
        idx = starts[:, None] + torch.arange(context)[None, :]
        return seq[idx].float(), seq[starts + context]

    x_tr, y_tr = windows(codes[:cut], 1)
    x_val, y_val = windows(codes[cut:], 4)
    return x_tr, y_tr, x_val, y_val


def _skipgram_pairs(n: int, topics: int, per_topic: int) -> tuple[np.ndarray, np.ndarray]:
    """Skip-gram pairs: a centre word, and a context word from its topic (80%) or any word (20%)."""
    rng = np.random.default_rng(5)
    vocab = topics * per_topic
    centre = rng.integers(0, vocab, n)
    same = rng.random(n) < 0.8
    in_topic = (centre // per_topic) * per_topic + rng.integers(0, per_topic, n)
    context = np.where(same, in_topic, rng.integers(0, vocab, n))
    return centre[:, None].astype(np.float32), context


def _adding_problem(n: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Hochreiter's adding problem: sum of the two values whose marker is 1."""
    rng = np.random.default_rng(1)
    values = rng.uniform(0, 1, size=(n, length))
    markers = np.zeros((n, length))
    for i in range(n):
        a, b = rng.choice(length, size=2, replace=False)
        markers[i, [a, b]] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values * markers).sum(axis=1).astype(np.float32)
    return x, y


def _majority_tokens(n: int, length: int, vocab: int) -> tuple[np.ndarray, np.ndarray]:
    """Token sequences; the label is which of tokens 0, 1, 2 occurs most (ties to the lowest)."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, vocab, size=(n, length))
    counts = np.stack([(x == k).sum(axis=1) for k in range(3)], axis=1)
    y = counts.argmax(axis=1)
    return x.astype(np.float32), y


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


def mlp(sizes: list[int], *, act: type[nn.Module] = nn.ReLU) -> nn.Module:
    """Linear layers with an activation between them; no normalization."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def deep_plain(depth: int = 10, width: int = 64) -> nn.Module:
    """A deep ReLU MLP without any normalization, He-initialised (so it trains at all).

    Fragile: it trains over a narrow range of LRs and blows up about a decade above its best.
    """
    model = mlp([64] + [width] * depth + [10])
    for layer in model.children():
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return model


class SmallCNN(nn.Module):
    """Two 3x3 convolutions with batch norm on 8x8 digit images."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).flatten(1))


class GRURegressor(nn.Module):
    """A one-layer GRU reading the sequence; a linear head on the last hidden state."""

    def __init__(self, features: int = 2, hidden: int = 32) -> None:
        super().__init__()
        self.rnn = nn.GRU(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self.rnn(x)
        return self.head(h[-1])


class TinyTransformer(nn.Module):
    """Token embedding + learned positions, one pre-norm encoder layer, mean pooling."""

    def __init__(self, vocab: int = 8, length: int = 16, dim: int = 32, classes: int = 3) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(length, dim) * 0.02)
        self.encoder = nn.TransformerEncoderLayer(dim, 2, 64, dropout=0.0, batch_first=True, norm_first=True)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x.long()) + self.pos
        return self.head(self.encoder(h).mean(dim=1))


class CharMLP(nn.Module):
    """Bengio-style neural character LM: embed the context characters, concatenate, one hidden layer."""

    def __init__(self, vocab: int = 128, context: int = 16, dim: int = 8, hidden: int = 128) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.body = nn.Sequential(nn.Linear(context * dim, hidden), nn.ReLU(), nn.Linear(hidden, vocab))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.embed(x.long()).flatten(1))


class SkipGram(nn.Module):
    """word2vec's skip-gram with a full softmax: a word's embedding, a linear layer to every word."""

    def __init__(self, vocab: int = 200, dim: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.out = nn.Linear(dim, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.embed(x.long()[:, 0]))


class CosineClassifier(nn.Module):
    """A scale-free normalised classifier (NormFace / CosFace style): a linear projection, L2-normalised, against
    L2-normalised class weights; the logits are the cosines times ``scale``. No output depends on the weights'
    norms, which ``gain`` multiplies at initialisation (a large norm: small angular steps at a given LR)."""

    def __init__(self, features: int = 64, dim: int = 32, classes: int = 10, scale: float = 16.0,
                 gain: float = 1.0) -> None:
        super().__init__()
        self.scale, self.gain = scale, gain
        self.proj = nn.Linear(features, dim, bias=False)
        self.weight = nn.Parameter(torch.randn(classes, dim))
        with torch.no_grad():
            self.proj.weight.mul_(gain)
            self.weight.mul_(gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * F.normalize(self.proj(x), dim=1) @ F.normalize(self.weight, dim=1).t()

    def extra_repr(self) -> str:
        return f"scale={self.scale}, gain={self.gain}"


# --------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------


def _sgd(momentum: float = 0.0, nesterov: bool = False) -> Callable[..., torch.optim.Optimizer]:
    def make(params: object, lr: float) -> torch.optim.Optimizer:
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov)  # type: ignore[arg-type]

    make.__name__ = f"SGD(momentum={momentum}{', nesterov' if nesterov else ''})"
    return make


def _adam(weight_decay: float = 0.0, decoupled: bool = False) -> Callable[..., torch.optim.Optimizer]:
    def make(params: object, lr: float) -> torch.optim.Optimizer:
        cls = torch.optim.AdamW if decoupled else torch.optim.Adam
        return cls(params, lr=lr, weight_decay=weight_decay)  # type: ignore[arg-type]

    make.__name__ = f"{'AdamW' if decoupled else 'Adam'}(wd={weight_decay})"
    return make


@dataclass(frozen=True)
class Task:
    """One benchmark problem; everything but the learning rate is fixed.

    Attributes:
        name: Short identifier.
        data: Dataset name for :func:`load_data`.
        model: Builds the model (called after seeding torch).
        optimizer: ``optimizer(params, lr)``.
        loss: ``"ce"`` (cross-entropy), ``"mse"``, or ``"cosface:M"``: cross-entropy with the target's logit
            lowered by ``M`` (CosFace's additive margin times the scale, for :class:`CosineClassifier`).
        batch_size: Training (and range-test) batch size.
        steps: Training budget in optimizer steps.
        grid: ``(log10 low, log10 high)`` of the oracle's LR grid.
        split: ``"tune"`` (used to choose the rule) or ``"check"`` (held out).
        note: What the task stands for.
    """

    name: str
    data: str
    model: Callable[[], nn.Module]
    optimizer: Callable[..., torch.optim.Optimizer]
    loss: str
    batch_size: int
    steps: int
    grid: tuple[float, float]
    split: str
    note: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def optimizer_name(self) -> str:
        return self.optimizer.__name__

    def loss_fn(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.loss.startswith("cosface:"):
            margin = float(self.loss.removeprefix("cosface:"))
            return F.cross_entropy(out - margin * F.one_hot(y, out.shape[1]), y)
        return F.cross_entropy(out, y) if self.loss == "ce" else F.mse_loss(out, y)

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return self.model()

    def fingerprint(self) -> str:
        """Changes whenever something that affects the training result changes."""
        desc = {
            "data": self.data, "model": _describe(self.model), "opt": self.optimizer_name,
            "loss": self.loss, "bs": self.batch_size, "steps": self.steps, "v": 1,
        }
        return hashlib.sha1(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:10]

    def lr_grid(self, per_decade: int = 4) -> list[float]:
        lo, hi = self.grid
        n = int(round((hi - lo) * per_decade)) + 1
        return [float(10.0**v) for v in np.linspace(lo, hi, n)]

    def loader(self, seed: int, batch_size: int | None = None) -> DataLoader:
        """A shuffling DataLoader over the training split, its order fixed by ``seed``."""
        x, y, _, _ = load_data(self.data)
        return DataLoader(
            TensorDataset(x, y), batch_size=batch_size or self.batch_size, shuffle=True, drop_last=True,
            generator=torch.Generator().manual_seed(10_000 + seed),
        )


def _describe(fn: Callable[[], nn.Module]) -> str:
    torch.manual_seed(0)
    return repr(fn())


TASKS: list[Task] = [
    Task("digits_mlp_sgd", "digits", lambda: mlp([64, 128, 10]), _sgd(0.9), "ce", 32, 300, (-4.0, 1.0), "tune",
         "MLP, SGD with momentum, batch 32"),
    Task("digits_mlp_sgd_b256", "digits", lambda: mlp([64, 128, 10]), _sgd(0.9), "ce", 256, 300, (-4.0, 1.5),
         "check", "the same task at batch 256 (larger-batch variant)"),
    Task("digits_cnn_adam", "digits_img", SmallCNN, _adam(), "ce", 32, 200, (-5.0, 0.0), "tune",
         "small CNN with batch norm on 8x8 images, Adam"),
    Task("digits_deep_plain_sgd", "digits", deep_plain, _sgd(0.9), "ce", 32, 300, (-4.5, 0.5), "check",
         "fragile: 11 linear layers, ReLU, no normalization, SGD with momentum"),
    Task("breast_cancer_mlp_nesterov", "breast_cancer", lambda: mlp([30, 32, 2]), _sgd(0.9, nesterov=True), "ce",
         16, 200, (-4.0, 1.0), "tune", "MLP, SGD with Nesterov momentum, batch 16"),
    Task("wine_mlp_adamw", "wine", lambda: mlp([4, 32, 3]), _adam(1e-2, decoupled=True), "ce", 16, 150,
         (-5.0, 0.5), "check", "tiny dataset (134 rows, 4 of 13 features), AdamW"),
    Task("friedman_mlp_sgd", "friedman", lambda: mlp([10, 64, 64, 1]), _sgd(0.9), "mse", 32, 300, (-4.5, 0.5),
         "tune", "regression (seeded Friedman #1), SGD with momentum"),
    Task("diabetes_mlp_adam", "diabetes", lambda: mlp([10, 64, 1]), _adam(), "mse", 16, 200, (-5.0, 0.5),
         "check", "regression on a small noisy dataset, Adam"),
    Task("adding_gru_adam", "adding", lambda: GRURegressor(), _adam(), "mse", 32, 200, (-5.0, 0.5), "tune",
         "recurrent: GRU on the adding problem, Adam"),
    Task("majority_transformer_adamw", "majority", lambda: TinyTransformer(), _adam(1e-2, decoupled=True), "ce",
         32, 200, (-5.0, 0.5), "check", "attention: one pre-norm encoder layer, AdamW"),
    Task("digits_small_overfit_adam", "digits_small", lambda: mlp([64, 512, 10]), _adam(), "ce", 16, 600,
         (-4.5, -1.0), "tune", "over-fitting: 120 training rows, a wide MLP, 80 epochs; the best LR is far "
         "below the curve's reading"),
    Task("chars_mlp_adam", "pystdlib_chars", lambda: CharMLP(), _adam(), "ce", 64, 2000, (-3.5, -0.5), "check",
         "character-level LM on Python standard-library sources (offline), 2,000 steps"),
    # Tasks whose default range test reads inconclusive on most seeds (benchmarks/inconclusive.py), their class
    # in ``extra["inconclusive"]`` (INCONCLUSIVE_CLASSES).
    Task("skipgram_sgd", "skipgram", lambda: SkipGram(), _sgd(), "ce", 32, 300, (-2.0, 2.5), "tune",
         "inconclusive (a), still falling at max_lr: a skip-gram embedding, plain SGD; best LR above 1",
         {"inconclusive": "a"}),
    Task("digits_small_inputs_sgd", "digits_small_inputs", lambda: mlp([64, 10]), _sgd(), "ce", 32, 300,
         (-1.0, 3.0), "check", "inconclusive (a), an SGD model whose best LR lies past 10: softmax regression on "
         "inputs at 1/50 of unit scale, plain SGD; its curve barely falls before a noisy stop near 5",
         {"inconclusive": "a"}),
    Task("diabetes_16_mlp_sgd", "diabetes_16", lambda: mlp([10, 32, 1]), _sgd(0.9), "mse", 2, 150, (-5.0, 0.0),
         "tune", "inconclusive (b), tiny data: 16 training rows at batch 2, SGD with momentum", {"inconclusive": "b"}),
    Task("noisy_regression_20_mlp_sgd", "noisy_regression_20", lambda: mlp([8, 32, 1]), _sgd(0.9), "mse", 4, 150,
         (-4.5, 0.5), "check", "inconclusive (b), tiny noisy data: 20 training rows at batch 4, SGD with momentum",
         {"inconclusive": "b"}),
    Task("digits_cosface_s16_adam", "digits", lambda: CosineClassifier(scale=16.0, gain=100.0), _adam(),
         "cosface:3.2", 32, 300, (-3.0, 3.0), "tune", "inconclusive (c), a scale-free normalised classifier: cosine "
         "logits (scale 16, CosFace margin 0.2), weights initialised at 100x their usual norm, Adam",
         {"inconclusive": "c"}),
    Task("digits_cosface_s30_adam", "digits", lambda: CosineClassifier(scale=30.0, gain=300.0), _adam(),
         "cosface:10.5", 32, 300, (-2.5, 3.5), "check", "inconclusive (c), a scale-free normalised classifier: cosine "
         "logits (scale 30, CosFace margin 0.35), weights initialised at 300x their usual norm, Adam",
         {"inconclusive": "c"}),
]

TASKS_BY_NAME = {t.name: t for t in TASKS}

#: The classes of inconclusive curve the tasks marked ``extra["inconclusive"]`` stand for.
INCONCLUSIVE_CLASSES = {
    "a": "still falling at max_lr (an SGD model whose best LR lies near or past 10)",
    "b": "tiny or noisy data",
    "c": "a scale-free normalised classifier whose curve flattens without turning up",
}


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate(task: Task, model: nn.Module) -> float:
    """Validation loss of ``model`` on the task's validation split (eval mode)."""
    _, _, x_val, y_val = load_data(task.data)
    model.eval()
    value = float(task.loss_fn(model(x_val), y_val))
    model.train()
    return value


def train(
    task: Task,
    lr: float,
    seed: int,
    schedule: str = "constant",
    *,
    steps: int | None = None,
    on_step: Callable[[nn.Module, int], None] | None = None,
) -> float:
    """Train from seed ``seed`` with learning rate ``lr``; return the validation loss.

    ``schedule`` is ``"constant"`` or ``"onecycle"`` (``torch.optim.lr_scheduler.OneCycleLR``
    with ``max_lr=lr`` and its defaults). A run whose loss turns non-finite, or ends worse than
    the untrained model, scores the untrained model's validation loss: it learned nothing usable.
    ``on_step(model, k)`` (for measurements along the way; it must not change the model or the
    global RNG) is called before step ``k`` and once more after the last, with ``k = steps``.
    """
    x, y, _, _ = load_data(task.data)
    model = task.build(seed)
    baseline = evaluate(task, model)
    opt = task.optimizer(model.parameters(), lr)
    total = steps or task.steps
    sched = None
    if schedule == "onecycle":
        cycle = opt.defaults.get("momentum", 0) > 0 or "betas" in opt.defaults
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, cycle_momentum=cycle)
    elif schedule != "constant":
        raise ValueError(f"Unknown schedule {schedule!r}")
    gen = torch.Generator().manual_seed(10_000 + seed)
    n = len(x)
    per_epoch = n // task.batch_size
    perm = torch.randperm(n, generator=gen)
    k = 0
    model.train()
    for step in range(total):
        if on_step is not None:
            on_step(model, step)
        if k >= per_epoch:
            perm = torch.randperm(n, generator=gen)
            k = 0
        idx = perm[k * task.batch_size:(k + 1) * task.batch_size]
        k += 1
        loss = task.loss_fn(model(x[idx]), y[idx])
        if not torch.isfinite(loss):
            return baseline
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    if on_step is not None:
        on_step(model, total)
    value = evaluate(task, model)
    if not math.isfinite(value) or value > baseline:
        return baseline
    return value
