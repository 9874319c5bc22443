"""A deterministic corpus of realistic PyTorch training scripts, for benchmarks.

``generate(seed=0)`` returns a list of ``CorpusFile`` (name, source, kind) in
memory; ``python benchmarks/corpus.py OUTDIR`` writes the same files to disk so
they can be read, diffed or fed to the CLI.

What the files look like, on purpose:

* about 80% are training scripts (MNIST MLPs) that use torch: imports in
  several styles, ``nn.Sequential`` of ``Linear``/``ReLU`` of random widths,
  tensor creation calls, ``CrossEntropyLoss``, ``SGD``, torchvision
  ``MNIST``/``Compose``/``ToTensor``/``Normalize`` behind a ``DataLoader``,
  training loops (zero_grad/backward/step/``loss.item()``/``X.view``),
  evaluation loops, argparse blocks, some constructs the translator reports
  rather than translates (``torch.no_grad``, ``torch.manual_seed``,
  ``nn.Module`` subclasses), comments and docstrings. Both "flat" tutorial
  scripts and scripts organised in functions with a ``main()``;
* roughly a third of the lines of those scripts are plain Python that has
  nothing to do with torch (logging, dataclasses, string formatting, timers,
  JSON/CSV helpers), as in real code;
* about 20% of the files do not use torch at all. Some of them never contain
  the word ``torch`` (the translator's text fast path skips them); the others
  mention torch only in a docstring or comment (they are parsed, then found
  to have no torch import).

Everything comes from one seeded ``random.Random``, so the corpus is the same
on every run and every machine (for the same ``seed`` and ``n_files``).
"""

from __future__ import annotations

import ast
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Tuple

__all__ = ["CorpusFile", "generate", "write", "KIND_TORCH", "KIND_PLAIN", "KIND_MENTIONS"]

KIND_TORCH = "torch"  # imports and uses torch
KIND_PLAIN = "plain"  # no torch, and the word "torch" never appears
KIND_MENTIONS = "mentions-torch"  # no torch import, but "torch" in a comment/docstring


@dataclass(frozen=True)
class CorpusFile:
    name: str
    source: str
    kind: str
    plain_lines: int = 0  # non-blank lines of plain (non-torch) Python, a lower bound

    @property
    def lines(self) -> int:
        return len(self.source.splitlines())


# ---------------------------------------------------------------------------
# Import styles. Each style gives the import block and how the script spells
# every torch name it uses.
# ---------------------------------------------------------------------------

STYLES: Dict[str, Dict[str, object]] = {
    # import torch / torchvision and spell everything out
    "qualified": dict(
        imports=["import torch", "import torchvision"],
        Linear="torch.nn.Linear",
        ReLU="torch.nn.ReLU",
        Sequential="torch.nn.Sequential",
        CrossEntropyLoss="torch.nn.CrossEntropyLoss",
        SGD="torch.optim.SGD",
        DataLoader="torch.utils.data.DataLoader",
        MNIST="torchvision.datasets.MNIST",
        T="torchvision.transforms",
        Module="torch.nn.Module",
    ),
    # the tutorial style
    "nn_alias": dict(
        imports=[
            "import torch",
            "import torch.nn as nn",
            "import torch.optim as optim",
            "from torchvision import datasets, transforms",
        ],
        Linear="nn.Linear",
        ReLU="nn.ReLU",
        Sequential="nn.Sequential",
        CrossEntropyLoss="nn.CrossEntropyLoss",
        SGD="optim.SGD",
        DataLoader="torch.utils.data.DataLoader",
        MNIST="datasets.MNIST",
        T="transforms",
        Module="nn.Module",
    ),
    "from_torch": dict(
        imports=[
            "import torch",
            "from torch import nn, optim",
            "from torch.utils.data import DataLoader",
            "import torchvision.transforms as T",
            "from torchvision.datasets import MNIST",
        ],
        Linear="nn.Linear",
        ReLU="nn.ReLU",
        Sequential="nn.Sequential",
        CrossEntropyLoss="nn.CrossEntropyLoss",
        SGD="optim.SGD",
        DataLoader="DataLoader",
        MNIST="MNIST",
        T="T",
        Module="nn.Module",
    ),
    "names": dict(
        imports=[
            "import torch",
            "from torch.nn import Linear as L, ReLU, Sequential, CrossEntropyLoss",
            "from torch.optim import SGD",
            "from torch.utils.data import DataLoader",
            "import torchvision",
            "import torchvision.transforms as T",
        ],
        Linear="L",
        ReLU="ReLU",
        Sequential="Sequential",
        CrossEntropyLoss="CrossEntropyLoss",
        SGD="SGD",
        DataLoader="DataLoader",
        MNIST="torchvision.datasets.MNIST",
        T="T",
        Module="torch.nn.Module",
    ),
    "mixed": dict(
        imports=[
            "import torch",
            "import torch.nn as nn",
            "from torch import optim",
            "import torchvision.transforms as T",
            "from torchvision import datasets",
        ],
        Linear="nn.Linear",
        ReLU="nn.ReLU",
        Sequential="nn.Sequential",
        CrossEntropyLoss="nn.CrossEntropyLoss",
        SGD="optim.SGD",
        DataLoader="torch.utils.data.DataLoader",
        MNIST="datasets.MNIST",
        T="T",
        Module="nn.Module",
    ),
}

STDLIB_IMPORTS = [
    "import argparse",
    "import json",
    "import logging",
    "import os",
    "import time",
    "import csv",
    "import math",
    "import random",
    "import sys",
    "from dataclasses import dataclass, field, asdict",
    "from pathlib import Path",
    "from typing import Dict, List, Optional",
    "import contextlib",
]


def _indent(lines: List[str], n: int = 1) -> List[str]:
    pad = "    " * n
    return [pad + line if line else line for line in lines]


# ---------------------------------------------------------------------------
# Plain Python: helpers that real training scripts carry around.
# ---------------------------------------------------------------------------


def u_average_meter(r: random.Random) -> List[str]:
    name = r.choice(["AverageMeter", "RunningAverage", "MeanTracker"])
    return [
        f"class {name}:",
        '    """Keeps the running mean of a scalar, e.g. the loss or accuracy."""',
        "",
        "    def __init__(self, name: str, fmt: str = \":.4f\") -> None:",
        "        self.name = name",
        "        self.fmt = fmt",
        "        self.reset()",
        "",
        "    def reset(self) -> None:",
        "        self.val = 0.0",
        "        self.sum = 0.0",
        "        self.count = 0",
        "",
        "    def update(self, val: float, n: int = 1) -> None:",
        "        self.val = val",
        "        self.sum += val * n",
        "        self.count += n",
        "",
        "    @property",
        "    def avg(self) -> float:",
        "        return self.sum / max(1, self.count)",
        "",
        "    def __str__(self) -> str:",
        "        template = \"{name} {val\" + self.fmt + \"} ({avg\" + self.fmt + \"})\"",
        "        return template.format(name=self.name, val=self.val, avg=self.avg)",
    ]


def u_format_duration(r: random.Random) -> List[str]:
    return [
        "def format_duration(seconds: float) -> str:",
        '    """1h 02m 03s style durations for the log."""',
        "    seconds = int(round(seconds))",
        "    hours, rest = divmod(seconds, 3600)",
        "    minutes, secs = divmod(rest, 60)",
        "    if hours:",
        '        return f"{hours}h {minutes:02d}m {secs:02d}s"',
        "    if minutes:",
        '        return f"{minutes}m {secs:02d}s"',
        '    return f"{secs}s"',
    ]


def u_setup_logging(r: random.Random) -> List[str]:
    level = r.choice(["INFO", "DEBUG", "WARNING"])
    fmt = r.choice(
        [
            "%(asctime)s %(levelname)s %(name)s: %(message)s",
            "[%(levelname)s] %(message)s",
            "%(asctime)s | %(message)s",
        ]
    )
    return [
        f'def setup_logging(log_file=None, level="{level}"):',
        '    """Log to stderr, and to a file too when one is given."""',
        "    handlers = [logging.StreamHandler(sys.stderr)]",
        "    if log_file is not None:",
        "        os.makedirs(os.path.dirname(log_file) or \".\", exist_ok=True)",
        "        handlers.append(logging.FileHandler(log_file, mode=\"a\"))",
        "    logging.basicConfig(",
        "        level=getattr(logging, level.upper(), logging.INFO),",
        f'        format="{fmt}",',
        "        handlers=handlers,",
        "    )",
        "    # quieten chatty third-party loggers",
        '    for noisy in ("urllib3", "PIL", "matplotlib"):',
        "        logging.getLogger(noisy).setLevel(logging.WARNING)",
        "    return logging.getLogger(__name__)",
    ]


def u_config_dataclass(r: random.Random) -> List[str]:
    name = r.choice(["TrainConfig", "Config", "RunConfig", "Hyperparams"])
    epochs = r.choice([2, 5, 10, 20])
    bs = r.choice([32, 64, 100, 128, 256])
    lr = r.choice(["0.1", "0.05", "0.01", "1e-3"])
    return [
        "@dataclass",
        f"class {name}:",
        '    """Everything that defines a run; saved next to the checkpoints."""',
        "",
        f"    epochs: int = {epochs}",
        f"    batch_size: int = {bs}",
        f"    lr: float = {lr}",
        f"    momentum: float = {r.choice(['0.0', '0.9', '0.95'])}",
        f"    weight_decay: float = {r.choice(['0.0', '1e-4', '5e-4'])}",
        '    data_dir: str = "./data"',
        f'    out_dir: str = "./runs/{r.choice(["mnist", "mlp", "baseline", "exp"])}"',
        "    seed: int = 0",
        "    tags: List[str] = field(default_factory=list)",
        "",
        "    @classmethod",
        f"    def from_dict(cls, values: Dict[str, object]) -> \"{name}\":",
        "        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}",
        "        unknown = sorted(set(values) - set(known))",
        "        if unknown:",
        '            logging.getLogger(__name__).warning("ignoring unknown keys: %s", ", ".join(unknown))',
        "        return cls(**known)",
        "",
        "    def to_json(self) -> str:",
        "        return json.dumps(asdict(self), indent=2, sort_keys=True)",
        "",
        "    def run_name(self) -> str:",
        '        return f"bs{self.batch_size}_lr{self.lr:g}_e{self.epochs}"',
    ]


def u_timer(r: random.Random) -> List[str]:
    return [
        "class Timer:",
        '    """Context manager that measures wall time: ``with Timer() as t: ...``."""',
        "",
        "    def __init__(self, label: str = \"\", log=None) -> None:",
        "        self.label = label",
        "        self.log = log",
        "        self.elapsed = 0.0",
        "",
        "    def __enter__(self):",
        "        self._start = time.perf_counter()",
        "        return self",
        "",
        "    def __exit__(self, *exc):",
        "        self.elapsed = time.perf_counter() - self._start",
        "        if self.log is not None:",
        '            self.log.info("%s took %.3fs", self.label or "block", self.elapsed)',
        "        return False",
    ]


def u_json_io(r: random.Random) -> List[str]:
    return [
        "def save_json(obj, path: str) -> None:",
        "    tmp = path + \".tmp\"",
        "    with open(tmp, \"w\", encoding=\"utf-8\") as f:",
        "        json.dump(obj, f, indent=2, sort_keys=True)",
        "        f.write(\"\\n\")",
        "    os.replace(tmp, path)  # atomic on POSIX",
        "",
        "",
        "def load_json(path: str, default=None):",
        "    if not os.path.exists(path):",
        "        return default",
        "    with open(path, encoding=\"utf-8\") as f:",
        "        return json.load(f)",
    ]


def u_run_name(r: random.Random) -> List[str]:
    return [
        "def make_run_name(prefix: str, **params) -> str:",
        '    """``mlp-bs64-lr0.1``: readable, sortable, safe as a directory name."""',
        "    parts = [prefix]",
        "    for key in sorted(params):",
        "        value = params[key]",
        "        if isinstance(value, float):",
        '            value = f"{value:g}"',
        '        parts.append(f"{key}{value}")',
        '    name = "-".join(str(p) for p in parts)',
        '    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)',
    ]


def u_parse_list(r: random.Random) -> List[str]:
    return [
        "def parse_int_list(text: str) -> List[int]:",
        '    """"128,64, 32" -> [128, 64, 32]; an empty string gives []."""',
        "    items = [t.strip() for t in text.split(\",\")]",
        "    try:",
        "        return [int(t) for t in items if t]",
        "    except ValueError as e:",
        '        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from e',
    ]


def u_early_stopping(r: random.Random) -> List[str]:
    patience = r.choice([2, 3, 5, 10])
    return [
        "class EarlyStopping:",
        '    """Stop when the monitored value has not improved for `patience` epochs."""',
        "",
        f"    def __init__(self, patience: int = {patience}, min_delta: float = 0.0, mode: str = \"min\"):",
        "        if mode not in (\"min\", \"max\"):",
        '            raise ValueError(f"mode must be min or max, not {mode!r}")',
        "        self.patience = patience",
        "        self.min_delta = min_delta",
        "        self.mode = mode",
        "        self.best = None",
        "        self.bad_epochs = 0",
        "",
        "    def _improved(self, value: float) -> bool:",
        "        if self.best is None:",
        "            return True",
        "        if self.mode == \"min\":",
        "            return value < self.best - self.min_delta",
        "        return value > self.best + self.min_delta",
        "",
        "    def step(self, value: float) -> bool:",
        '        """Returns True when training should stop."""',
        "        if self._improved(value):",
        "            self.best = value",
        "            self.bad_epochs = 0",
        "        else:",
        "            self.bad_epochs += 1",
        "        return self.bad_epochs >= self.patience",
    ]


def u_csv_writer(r: random.Random) -> List[str]:
    cols = r.choice(
        [
            '("epoch", "train_loss", "val_acc", "seconds")',
            '("epoch", "loss", "accuracy")',
            '("step", "loss", "lr", "elapsed")',
        ]
    )
    return [
        f"METRIC_COLUMNS = {cols}",
        "",
        "",
        "def append_metrics(path: str, row: Dict[str, object]) -> None:",
        "    new_file = not os.path.exists(path)",
        "    with open(path, \"a\", newline=\"\") as f:",
        "        writer = csv.DictWriter(f, fieldnames=METRIC_COLUMNS, extrasaction=\"ignore\")",
        "        if new_file:",
        "            writer.writeheader()",
        "        writer.writerow(row)",
    ]


def u_human_bytes(r: random.Random) -> List[str]:
    return [
        "def human_bytes(n: float) -> str:",
        '    for unit in ("B", "KiB", "MiB", "GiB"):',
        "        if abs(n) < 1024.0:",
        '            return f"{n:3.1f} {unit}"',
        "        n /= 1024.0",
        '    return f"{n:.1f} TiB"',
    ]


def u_seed_python(r: random.Random) -> List[str]:
    return [
        "def seed_python(seed: int) -> None:",
        "    # numpy and the framework are seeded separately",
        "    random.seed(seed)",
        '    os.environ["PYTHONHASHSEED"] = str(seed)',
    ]


def u_summary_table(r: random.Random) -> List[str]:
    return [
        "def format_table(rows: List[Dict[str, object]], columns: List[str]) -> str:",
        '    """A plain-text table with right-aligned numbers, for the end-of-run summary."""',
        "    cells = [[str(c) for c in columns]]",
        "    for row in rows:",
        "        line = []",
        "        for c in columns:",
        "            v = row.get(c, \"\")",
        '            line.append(f"{v:.4f}" if isinstance(v, float) else str(v))',
        "        cells.append(line)",
        "    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]",
        "    out = []",
        "    for r in cells:",
        '        out.append("  ".join(s.rjust(w) for s, w in zip(r, widths)))',
        "    out.insert(1, \"  \".join(\"-\" * w for w in widths))",
        '    return "\\n".join(out)',
    ]


def u_learning_rate_schedule(r: random.Random) -> List[str]:
    return [
        "def step_schedule(base_lr: float, epoch: int, milestones=(10, 20), gamma: float = 0.1) -> float:",
        '    """The learning rate a step schedule gives at ``epoch`` (computed, not applied)."""',
        "    lr = base_lr",
        "    for m in milestones:",
        "        if epoch >= m:",
        "            lr *= gamma",
        "    return lr",
    ]


UTILITIES: List[Callable[[random.Random], List[str]]] = [
    u_average_meter,
    u_format_duration,
    u_setup_logging,
    u_config_dataclass,
    u_timer,
    u_json_io,
    u_run_name,
    u_parse_list,
    u_early_stopping,
    u_csv_writer,
    u_human_bytes,
    u_seed_python,
    u_summary_table,
    u_learning_rate_schedule,
]


# ---------------------------------------------------------------------------
# Torch parts.
# ---------------------------------------------------------------------------


def _widths(r: random.Random) -> List[int]:
    depth = r.choice([1, 2, 2, 3, 3, 4])
    widths = [784]
    for _ in range(depth):
        widths.append(r.choice([32, 64, 100, 128, 200, 256, 300, 512, 1024]))
    widths.append(10)
    return widths


def t_sequential(r: random.Random, s: Dict[str, object], target: str, indent_level: int = 0) -> List[str]:
    widths = _widths(r)
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        if r.random() < 0.15:
            layers.append(f"{s['Linear']}(in_features={a}, out_features={b})")
        else:
            layers.append(f"{s['Linear']}({a}, {b})")
        if i < len(widths) - 2:
            layers.append(f"{s['ReLU']}()")
    if r.random() < 0.3 and len(layers) <= 3:
        body = [f"{target} = {s['Sequential']}({', '.join(layers)})"]
    else:
        body = [f"{target} = {s['Sequential']}("]
        for j, layer in enumerate(layers):
            comment = ""
            if r.random() < 0.15:
                comment = r.choice(["  # hidden layer", "  # logits", "  # TODO: try dropout here", "  # no softmax: the loss does it"])
            body.append(f"    {layer},{comment}")
        body.append(")")
    return _indent(body, indent_level)


def t_tensor_smoke(r: random.Random, s: Dict[str, object]) -> List[str]:
    bs = r.choice([2, 4, 8, 16])
    lines = [
        "def smoke_test(model):",
        '    """Run one fake batch through the model before training starts."""',
        f"    x = torch.randn({bs}, 784)",
        "    out = model(x)",
        f"    assert tuple(out.shape) == ({bs}, 10), out.shape",
    ]
    extra = [
        f"    ones = torch.ones({r.randint(2, 9)}, {r.randint(2, 9)})",
        f"    zeros = torch.zeros(({r.randint(2, 9)}, {r.randint(2, 9)}))",
        f"    labels = torch.tensor([{', '.join(str(r.randint(0, 9)) for _ in range(bs))}])",
        f"    idx = torch.arange({r.choice([10, 16, 32, 784])})",
        f"    scale = torch.tensor([{r.choice(['0.5', '1.0', '2.0'])}, {r.choice(['0.25', '3.0'])}])",
        f"    noise = torch.randn({bs}, 784) * {r.choice(['0.01', '0.1', '0.05'])}",
        f"    w = torch.zeros({r.choice([10, 64, 128])}, dtype=torch.float64)",
    ]
    r.shuffle(extra)
    lines += extra[: r.randint(2, 5)]
    lines += [
        '    logger.debug("smoke test ok: output %s", tuple(out.shape))',
        "    return out",
    ]
    return lines


def t_flat_tensors(r: random.Random, s: Dict[str, object]) -> List[str]:
    return [
        "# A few tensors to check the installation",
        f"x = torch.ones({r.randint(2, 6)}, {r.randint(2, 6)})",
        "y = x + 1",
        "print(y)",
        f"z = torch.zeros(({r.randint(2, 6)}, {r.randint(2, 6)}))",
        f"r = torch.arange({r.randint(5, 20)})",
        f"t = torch.tensor([{r.randint(0, 9)}, {r.randint(0, 9)}, {r.randint(0, 9)}])",
        f"n = torch.randn({r.randint(2, 6)}, {r.randint(2, 6)})",
        'print(f"shapes: {tuple(z.shape)} {tuple(r.shape)} {tuple(n.shape)}")',
    ]


def t_transform(r: random.Random, s: Dict[str, object]) -> str:
    T = s["T"]
    mean, std = r.choice([("0.1307,", "0.3081,"), ("0.13,", "0.31,"), ("0.5,", "0.5,")])
    return f"{T}.Compose([{T}.ToTensor(), {T}.Normalize(({mean}), ({std}))])"


def t_loaders_fn(r: random.Random, s: Dict[str, object], cfg: str) -> List[str]:
    workers = r.choice([0, 1, 2, 4])
    return [
        f"def get_loaders({cfg}):",
        '    """Train and test loaders over MNIST (downloaded on first use)."""',
        f"    transform = {t_transform(r, s)}",
        f"    train_set = {s['MNIST']}({cfg}.data_dir, train=True, download=True, transform=transform)",
        f"    test_set = {s['MNIST']}({cfg}.data_dir, train=False, transform=transform)",
        f"    train_loader = {s['DataLoader']}(",
        f"        train_set, batch_size={cfg}.batch_size, shuffle=True, num_workers={workers}",
        "    )",
        f"    test_loader = {s['DataLoader']}(test_set, batch_size={r.choice([256, 500, 1000])}, shuffle=False)",
        '    logger.info("train: %d samples, test: %d samples", len(train_set), len(test_set))',
        "    return train_loader, test_loader",
    ]


def t_loaders_flat(r: random.Random, s: Dict[str, object]) -> List[str]:
    bs = r.choice([64, 100, 128, 256])
    return [
        f"batch_size = {bs}",
        f"train_data = {s['DataLoader']}(",
        f"    {s['MNIST']}('data', train=True, download=True, transform={t_transform(r, s)}),",
        "    batch_size=batch_size, shuffle=True, num_workers=2)",
        f"test_data = {s['DataLoader']}(",
        f"    {s['MNIST']}('data', train=False, transform={t_transform(r, s)}),",
        f"    batch_size={r.choice([500, 1000])}, shuffle=False)",
    ]


def t_optimizer(r: random.Random, s: Dict[str, object], model: str, target: str, lr: str, indent_level: int = 0) -> List[str]:
    kw = [f"lr={lr}"]
    if r.random() < 0.6:
        kw.append(f"momentum={r.choice(['0.9', '0.5', '0.95'])}")
    if r.random() < 0.4:
        kw.append(f"weight_decay={r.choice(['1e-4', '5e-4', '0.0001'])}")
    if r.random() < 0.1:
        kw.append("nesterov=True")
    return _indent([f"{target} = {s['SGD']}({model}.parameters(), {', '.join(kw)})"], indent_level)


def t_train_fn(r: random.Random, s: Dict[str, object], names: Dict[str, str]) -> List[str]:
    m, opt, crit = names["model"], names["opt"], names["loss"]
    x, y = r.choice([("X", "y"), ("data", "target"), ("images", "labels"), ("inputs", "targets")])
    zero_first = r.random() < 0.6
    body = [
        f"def train_epoch({m}, loader, {opt}, {crit}, epoch, log_every={r.choice([50, 100, 200])}):",
        '    """One pass over the training set; returns the mean loss."""',
        *([f"    {m}.train()"] if r.random() < 0.3 else []),
        "    total_loss = 0.0",
        "    n_batches = 0",
        "    start = time.time()",
        f"    for batch_idx, ({x}, {y}) in enumerate(loader):",
        f"        {x} = {x}.view(-1, {r.choice(['784', '28 * 28'])})",
    ]
    if zero_first:
        body.append(f"        {opt}.zero_grad()")
    body += [
        f"        output = {m}({x})",
        "        # forward pass and loss",
        f"        loss = {crit}(output, {y})",
    ]
    if not zero_first:
        body.append(f"        {opt}.zero_grad()")
    body += [
        "        loss.backward()",
        f"        {opt}.step()",
        "        total_loss += loss.item()",
        "        n_batches += 1",
        "        if batch_idx % log_every == 0:",
    ]
    if r.random() < 0.5:
        body += [
            "            logger.info(",
            '                "epoch %d [%d/%d] loss %.4f (%.1fs)",',
            "                epoch,",
            f"                batch_idx * len({x}),",
            "                len(loader.dataset),",
            "                loss.item(),",
            "                time.time() - start,",
            "            )",
        ]
    else:
        body.append('            logger.info("epoch %d batch %d: loss %.4f", epoch, batch_idx, loss.item())')
    body.append("    return total_loss / max(1, n_batches)")
    return body


def t_train_flat(r: random.Random, s: Dict[str, object], names: Dict[str, str], epochs: int) -> List[str]:
    m, opt, crit = names["model"], names["opt"], names["loss"]
    return [
        f"for epoch in range({epochs}):",
        "    total_loss = 0.0",
        "    for X, y in train_data:",
        "        X = X.view(-1, 784)",
        f"        {opt}.zero_grad()",
        f"        loss = {crit}({m}(X), y)",
        "        loss.backward()",
        f"        {opt}.step()",
        "        total_loss += loss.item()",
        '    print(f"epoch {epoch}: loss {total_loss / len(train_data):.4f}")',
    ]


def t_eval_fn(r: random.Random, s: Dict[str, object], names: Dict[str, str]) -> List[str]:
    m = names["model"]
    no_grad = r.random() < 0.5
    inner = [
        "for X, y in loader:",
        "    X = X.view(-1, 784)",
        f"    output = {m}(X)",
        "    pred = output.argmax(dim=1)",
        "    correct += int((pred == y).sum())",
        "    total += len(y)",
    ]
    lines = [
        f"def evaluate({m}, loader):",
        '    """Accuracy on a data set, in [0, 1]."""',
        *([f"    {m}.eval()"] if r.random() < 0.3 else []),
        "    correct = 0",
        "    total = 0",
    ]
    if no_grad:
        lines.append("    with torch.no_grad():")
        lines += _indent(inner, 2)
    else:
        lines += _indent(inner, 1)
    lines += [
        "    acc = correct / max(1, total)",
        '    logger.info("accuracy %.2f%% (%d/%d)", 100.0 * acc, correct, total)',
        "    return acc",
    ]
    return lines


def t_eval_flat(r: random.Random, s: Dict[str, object], names: Dict[str, str]) -> List[str]:
    m = names["model"]
    return [
        "correct, total = 0, 0",
        "for X, y in test_data:",
        f"    pred = {m}(X.view(-1, 784)).argmax(dim=1)",
        "    correct += int((pred == y).sum())",
        "    total += len(y)",
        'print("test accuracy: {:.2%}".format(correct / total))',
    ]


def t_argparse(r: random.Random) -> List[str]:
    epochs = r.choice([2, 5, 10])
    lines = [
        "def parse_args(argv=None):",
        "    parser = argparse.ArgumentParser(description=__doc__)",
        f'    parser.add_argument("--epochs", type=int, default={epochs}, help="passes over the training set")',
        f'    parser.add_argument("--batch-size", type=int, default={r.choice([64, 128])})',
        f'    parser.add_argument("--lr", type=float, default={r.choice(["0.1", "0.01", "0.05"])}, help="learning rate")',
        '    parser.add_argument("--data-dir", default="./data")',
        '    parser.add_argument("--out-dir", default="./runs")',
    ]
    extra = [
        '    parser.add_argument("--seed", type=int, default=0)',
        '    parser.add_argument("--log-file", default=None)',
        '    parser.add_argument("--dry-run", action="store_true", help="build everything, train nothing")',
        '    parser.add_argument("--momentum", type=float, default=0.9)',
    ]
    lines += extra[: r.randint(1, len(extra))]
    lines += [
        "    args = parser.parse_args(argv)",
        "    if args.epochs <= 0:",
        '        parser.error("--epochs must be positive")',
        "    return args",
    ]
    return lines


def t_module_subclass(r: random.Random, s: Dict[str, object]) -> List[str]:
    h = r.choice([64, 128, 256])
    return [
        f"class MLP({s['Module']}):",
        '    """The same network as a Module subclass, kept for old checkpoints."""',
        "",
        f"    def __init__(self, hidden={h}):",
        "        super().__init__()",
        f"        self.fc1 = {s['Linear']}(784, hidden)",
        f"        self.act = {s['ReLU']}()",
        f"        self.fc2 = {s['Linear']}(hidden, 10)",
        "",
        "    def forward(self, x):",
        "        return self.fc2(self.act(self.fc1(x.view(-1, 784))))",
    ]


def _docstring(r: random.Random, torch_file: bool) -> List[str]:
    topic = r.choice(["MNIST", "handwritten digits", "the MNIST digits"])
    if torch_file:
        first = r.choice(
            [
                f"Train a small multilayer perceptron on {topic}.",
                f"Baseline MLP for {topic}, trained with plain SGD.",
                f"Fully connected classifier for {topic}.",
            ]
        )
        rest = r.choice(
            [
                [],
                ["", "Usage:", "    python train.py --epochs 10 --lr 0.1"],
                ["", "Logs the loss every few batches and the test accuracy after every", "epoch; metrics also go to a CSV file in the run directory."],
            ]
        )
    else:
        first = r.choice(
            [
                "Small helpers shared by the experiment scripts.",
                "Run bookkeeping: configs, metrics files, timing.",
                "Utilities for reading and summarising experiment logs.",
            ]
        )
        rest = ["", "Nothing here depends on a deep learning framework."]
    if not rest:
        return ['"""' + first + '"""']
    return ['"""' + first, *rest, '"""']


Part = Tuple[bool, List[str]]  # (plain Python, lines)


def _join(parts: List[Part]) -> Tuple[str, int]:
    lines: List[str] = []
    plain = 0
    for is_plain, chunk in parts:
        lines += chunk
        if is_plain:
            plain += sum(1 for line in chunk if line.strip())
    return "\n".join(lines) + "\n", plain


def _stdlib_imports(r: random.Random, required: List[str]) -> List[str]:
    std = set(r.sample(STDLIB_IMPORTS, r.randint(2, 5))) | set(required)
    return sorted(std, key=lambda t: (t.startswith("from"), t))


def torch_script(r: random.Random) -> Tuple[str, int]:
    """A training script; returns (source, non-blank lines of plain Python)."""
    s = STYLES[r.choice(list(STYLES))]
    flat = r.random() < 0.55
    names = {
        "model": r.choice(["model", "net", "mlp"]),
        "opt": r.choice(["optimizer", "opt", "trainer"]),
        "loss": r.choice(["criterion", "loss_fn", "loss_function"]),
    }
    m, opt, crit = names["model"], names["opt"], names["loss"]
    parts: List[Part] = []
    header: List[str] = []
    if r.random() < 0.3:
        header.append("#!/usr/bin/env python")
    if r.random() < 0.7:
        header += _docstring(r, torch_file=True)
    if r.random() < 0.3:
        header += ["from __future__ import annotations", ""]
    if flat:
        header += _stdlib_imports(r, ["import os", "import time"])
    else:
        header += _stdlib_imports(r, ["import argparse", "import json", "import logging", "import os", "import sys", "import time"])
    header.append("")
    parts.append((True, header))
    imports = list(s["imports"])  # type: ignore[call-overload]
    if r.random() < 0.3:  # some scripts sort torch in with everything else
        r.shuffle(imports)
    parts.append((False, imports + [""]))

    if flat:
        if r.random() < 0.5:
            parts.append((True, ["", *r.choice(UTILITIES)(r), "", ""]))
        parts.append((False, ["# ---- data ----", *t_loaders_flat(r, s), "", "# ---- model ----"]))
        parts.append((False, t_sequential(r, s, m)))
        parts.append((False, [f"{crit} = {s['CrossEntropyLoss']}()"]))
        parts.append((False, t_optimizer(r, s, m, opt, r.choice(["0.1", "0.05", "0.01"])) + [""]))
        if r.random() < 0.5:
            parts.append((False, t_flat_tensors(r, s) + [""]))
        if r.random() < 0.3:
            parts.append((False, ["torch.manual_seed(0)", ""]))
        parts.append((False, ["start = time.time()"]))
        parts.append((False, t_train_flat(r, s, names, r.choice([2, 3, 5, 10]))))
        parts.append((True, ['print("training took %.1f s" % (time.time() - start))', ""]))
        parts.append((False, t_eval_flat(r, s, names)))
        if r.random() < 0.3:
            parts.append((False, ["", f'torch.save({m}.state_dict(), os.path.join("runs", "mlp.pt"))']))
        return _join(parts)

    parts.append((True, ["logger = logging.getLogger(__name__)", ""]))
    utils = r.sample(UTILITIES, r.randint(1, 2))
    for u in utils:
        parts.append((True, ["", *u(r), "", ""]))
    if r.random() < 0.15:
        parts.append((False, ["", *t_module_subclass(r, s), "", ""]))
    parts.append((False, [
        "def build_model():",
        '    """784 -> hidden layers -> 10 logits."""',
        *t_sequential(r, s, m, 1),
        f"    return {m}",
        "",
        "",
    ]))
    smoke = r.random() < 0.4
    if smoke:
        parts.append((False, [*t_tensor_smoke(r, s), "", ""]))
    parts.append((False, [*t_loaders_fn(r, s, "args"), "", ""]))
    parts.append((False, [*t_train_fn(r, s, names), "", ""]))
    parts.append((False, [*t_eval_fn(r, s, names), "", ""]))
    parts.append((True, [*t_argparse(r), "", ""]))
    main = [
        "def main(argv=None):",
        "    args = parse_args(argv)",
        "    logging.basicConfig(level=logging.INFO, format=\"%(asctime)s %(message)s\")",
    ]
    if r.random() < 0.3:
        main.append("    torch.manual_seed(0)")
    main += [
        "    os.makedirs(args.out_dir, exist_ok=True)",
        "    train_loader, test_loader = get_loaders(args)",
        f"    {m} = build_model()",
    ]
    if smoke:
        main.append(f"    smoke_test({m})")
    main += [
        f"    {crit} = {s['CrossEntropyLoss']}()",
        *t_optimizer(r, s, m, opt, "args.lr", 1),
        "    history = []",
        "    for epoch in range(1, args.epochs + 1):",
        "        t0 = time.time()",
        f"        train_loss = train_epoch({m}, train_loader, {opt}, {crit}, epoch)",
        f"        acc = evaluate({m}, test_loader)",
        '        history.append({"epoch": epoch, "loss": train_loss, "acc": acc, "seconds": time.time() - t0})',
        '        logger.info("epoch %d: loss %.4f, accuracy %.2f%%", epoch, train_loss, 100.0 * acc)',
        '    with open(os.path.join(args.out_dir, "history.json"), "w") as f:',
        "        json.dump(history, f, indent=2)",
    ]
    if r.random() < 0.3:
        main.append(f'    torch.save({m}.state_dict(), os.path.join(args.out_dir, "model.pt"))')
    main += ["    return 0", "", "", 'if __name__ == "__main__":', "    sys.exit(main())"]
    parts.append((False, main))
    return _join(parts)


def plain_script(r: random.Random, mention_torch: bool) -> Tuple[str, int]:
    out: List[str] = []
    out += _docstring(r, torch_file=False)
    if mention_torch:
        out.append("")
        out.append(r.choice(
            [
                "# Used by the torch training scripts; keep this module framework-free.",
                "# NOTE: imported by both the torch and the gluon versions of train.py",
                "# (no torch import here on purpose: this runs in the log-parsing job)",
            ]
        ))
    out += [""]
    out += sorted(set(STDLIB_IMPORTS), key=lambda t: (t.startswith("from"), t))
    out += ["", "logger = logging.getLogger(__name__)", ""]
    for u in r.sample(UTILITIES, r.randint(2, 4)):
        out += ["", *u(r), ""]
    out += [
        "",
        "def main(argv=None):",
        '    parser = argparse.ArgumentParser(description="summarise metrics files")',
        '    parser.add_argument("paths", nargs="+")',
        '    parser.add_argument("--column", default="val_acc")',
        "    args = parser.parse_args(argv)",
        "    rows = []",
        "    for path in args.paths:",
        "        with open(path, newline=\"\") as f:",
        "            for row in csv.DictReader(f):",
        "                row[\"file\"] = os.path.basename(path)",
        "                rows.append(row)",
        "    if not rows:",
        '        print("no rows", file=sys.stderr)',
        "        return 1",
        "    best = max(rows, key=lambda row: float(row.get(args.column, 0) or 0))",
        '    print(f"best {args.column}: {best[args.column]} in {best[\'file\']}")',
        "    return 0",
        "",
        "",
        'if __name__ == "__main__":',
        "    sys.exit(main())",
    ]
    return _join([(True, out)])


def generate(seed: int = 0, n_files: int = 50) -> List[CorpusFile]:
    """The corpus: ``n_files`` files, about 20% without torch."""
    r = random.Random(seed)
    files: List[CorpusFile] = []
    n_plain = max(1, round(n_files * 0.2))
    plain_at = set(r.sample(range(n_files), n_plain))
    plain_seen = 0
    for i in range(n_files):
        if i in plain_at:
            mention = plain_seen % 2 == 1  # every other one mentions "torch"
            plain_seen += 1
            src, plain = plain_script(r, mention)
            kind = KIND_MENTIONS if mention else KIND_PLAIN
            name = f"util_{i:02d}.py"
        else:
            src, plain = torch_script(r)
            kind = KIND_TORCH
            name = f"train_{i:02d}.py"
        ast.parse(src, filename=name)  # the generator must produce valid Python
        assert (kind == KIND_PLAIN) == ("torch" not in src), name
        files.append(CorpusFile(name, src, kind, plain))
    return files


def write(directory: Path, files: List[CorpusFile]) -> List[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in files:
        p = directory / f.name
        p.write_text(f.source, encoding="utf-8")
        paths.append(p)
    return paths


def describe(files: List[CorpusFile]) -> str:
    """Files and lines per kind, and the share of plain Python in the torch files."""
    out = []
    by_kind: Dict[str, List[CorpusFile]] = {}
    for f in files:
        by_kind.setdefault(f.kind, []).append(f)
    for kind in (KIND_TORCH, KIND_PLAIN, KIND_MENTIONS):
        group = by_kind.get(kind, [])
        out.append(f"{kind:15s} {len(group):3d} files {sum(f.lines for f in group):6d} lines")
    out.append(f"{'total':15s} {len(files):3d} files {sum(f.lines for f in files):6d} lines")
    torch_files = by_kind.get(KIND_TORCH, [])
    code = sum(1 for f in torch_files for line in f.source.splitlines() if line.strip())
    plain = sum(f.plain_lines for f in torch_files)
    if code:
        out.append(f"plain Python in the torch files: at least {plain}/{code} non-blank lines ({plain / code:.0%})")
    return "\n".join(out)


def main(argv: List[str]) -> int:
    if len(argv) != 1:
        print("usage: python benchmarks/corpus.py OUTDIR", file=sys.stderr)
        return 2
    files = generate()
    write(Path(argv[0]), files)
    print(describe(files))
    print(f"-> {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
