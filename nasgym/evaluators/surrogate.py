"""NAS-Bench-301 surrogate evaluator: the DARTS cell space on CIFAR-10, predicted by an ONNX model.

NAS-Bench-301 (Siems et al., 2020; Zela et al., ICLR 2022) trained about 60k DARTS architectures
on CIFAR-10 and fitted surrogate models to their learning curves. YAHPO Gym (Pfisterer et al.,
2022) packaged one as an ONNX network, which nasgym ships (``nasgym/data/nb301/``, Apache-2.0) and
runs with ``onnxruntime`` (``pip install 'nasgym[nb301]'``). Inputs, as YAHPO Gym's nb301 scenario
and its configuration space define them:

* ``x_cat`` int32 (batch, 34): the op of each of the 14 normal then 14 reduction candidate edges
  (DARTS's edge order), then the input pair of nodes 3, 4, 5 of the normal and then of the
  reduction cell (node 2 always takes inputs 0 and 1). Codes from YAHPO's ``encoding_v2.json``:
  0 = ``#na#`` (an edge the cell does not have), ops in alphabetical order 1..7, pairs ``"a_b"``
  in lexicographic order 1..C(n, 2);
* ``x_cont`` float32 (batch, 1): the epoch, 1..98.

Output (batch, 4); the first three columns are the codomain of YAHPO's parameter set, in its
order: validation accuracy (a fraction), validation cross-entropy, runtime (seconds of training up
to that epoch). The fourth column is not documented by YAHPO Gym and is not used.

What a query returns: ``valid_acc`` = predicted validation accuracy in percent, ``cost`` = the
predicted runtime at the fidelity. The surrogate predicts validation results only, so
``test_acc`` is NaN, as are ``flops``, ``params`` and ``latency``; ``best_valid_acc`` is NaN too
(the optimum of 1e18 architectures is unknown). The prediction is deterministic: both noise modes
give the same number and draw nothing from the caller's generator.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from nasgym.evaluators.tabular import NOISE_MODES
from nasgym.spaces.darts import CELLS, DARTS_OPS, NODES, DartsSpace
from nasgym.tables.store import default_cache_dir

#: epochs the surrogate was trained on (its fidelity range is 1..NB301_EPOCHS)
NB301_EPOCHS = 98
#: the surrogate's code of each op (YAHPO's encoding_v2.json: '#na#' = 0, then alphabetical)
OP_CODES: dict[str, int] = {op: code for code, op in enumerate(sorted(DARTS_OPS), start=1)}
#: names of the surrogate's output columns that nasgym reads, by column
OUTPUT_COLUMNS: tuple[str, ...] = ("val_accuracy", "val_cross_entropy", "runtime")
N_INPUTS = len(CELLS) * sum(NODES) + len(CELLS) * (len(NODES) - 1)  # 28 edges + 6 input pairs = 34
EXTRA = "nb301"
#: where ``nasgym data import model.onnx`` puts a replacement surrogate, under the cache directory
IMPORTED_MODEL = Path("nb301") / "model.onnx"
_BATCH = 8192  # rows per onnxruntime call: larger batches gain nothing and hold more memory
_REMEMBERED = 2**16  # answers evaluate_one keeps before it starts afresh (bounded memory)
_NAN_METRICS = ("test_acc", "flops", "params", "latency")
# x_cat code of each edge-op value of DartsSpace.edge_ops (-1: no edge -> '#na#' = 0)
_EDGE_CODES = np.array([0] + [OP_CODES[op] for op in DARTS_OPS], dtype=np.int32)
# choice-vector columns of the input pairs of nodes 3, 4, 5 of each cell (node 2 has one pair)
_PAIR_COLUMNS = [cell * 3 * len(NODES) + 3 * node for cell in range(len(CELLS)) for node in range(1, len(NODES))]


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"the NAS-Bench-301 surrogate runs on onnxruntime, which is not installed; "
            f"install it with: pip install 'nasgym[{EXTRA}]'"
        ) from None
    return onnxruntime


def packaged_model_path() -> Path:
    """The surrogate shipped inside the package."""
    return Path(str(resources.files("nasgym") / "data" / "nb301" / "model_v2.onnx"))


def imported_model_path(cache_dir: Path | str | None = None) -> Path:
    """Where an imported surrogate lives (it replaces the packaged one while it is there)."""
    return Path(cache_dir or default_cache_dir()) / IMPORTED_MODEL


def model_path(cache_dir: Path | str | None = None) -> Path:
    """The surrogate the evaluator loads: an imported one if there is one, else the packaged one."""
    imported = imported_model_path(cache_dir)
    return imported if imported.is_file() else packaged_model_path()


def _session(path: Path, threads: int) -> Any:
    onnxruntime = _onnxruntime()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def check_model(path: Path | str) -> None:
    """Raise a ``ValueError`` unless ``path`` is an ONNX model with the surrogate's signature
    (``x_cat`` int32 (batch, 34), ``x_cont`` float (batch, 1), one output of at least 3 columns)
    whose prediction for one architecture is a finite validation accuracy in [0, 1]."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"path {str(path)!r} is not a file")
    try:
        session = _session(Path(path), 1)
    except ModuleNotFoundError:
        raise
    except Exception as error:  # onnxruntime raises its own exception types for unreadable files
        raise ValueError(f"{str(path)!r} is not a readable ONNX model: {error}") from None
    inputs = {i.name: (i.type, i.shape[1:]) for i in session.get_inputs()}
    expected = {"x_cat": ("tensor(int32)", [N_INPUTS]), "x_cont": ("tensor(float)", [1])}
    outputs = session.get_outputs()
    columns = outputs[0].shape[1] if len(outputs) == 1 else None
    if inputs != expected or not (isinstance(columns, int) and columns >= 3):
        raise ValueError(
            f"{str(path)!r} does not have the NAS-Bench-301 surrogate's signature: inputs {expected} and one output "
            f"of (batch, >= 3) columns; it has inputs {inputs} and outputs {[(o.name, o.shape) for o in outputs]}"
        )
    space = DartsSpace()
    prediction = session.run(None, _inputs(space, np.zeros((1, space.n_decisions), np.int64), NB301_EPOCHS))[0]
    if not (np.isfinite(prediction).all() and 0.0 <= prediction[0, 0] <= 1.0):
        raise ValueError(f"{str(path)!r} predicts {prediction.tolist()}: not a validation accuracy in [0, 1] first")


def import_model(path: Path | str, cache_dir: Path | str | None = None) -> Path:
    """Check an ONNX surrogate (:func:`check_model`) and copy it to :func:`imported_model_path`,
    where it replaces the packaged surrogate for every NAS-Bench-301 env. Returns the new path."""
    source = Path(path).expanduser()
    check_model(source)
    target = imported_model_path(cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(handle)
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)  # whole or not at all
    return target


def _inputs(space: DartsSpace, choices: np.ndarray, epoch: int) -> dict[str, np.ndarray]:
    """The surrogate's ``x_cat`` and ``x_cont`` for a batch of choice vectors (n, 24)."""
    x_cat = np.empty((len(choices), N_INPUTS), dtype=np.int32)
    n_edges = len(CELLS) * sum(NODES)
    x_cat[:, :n_edges] = _EDGE_CODES[space.edge_ops(choices) + 1]
    x_cat[:, n_edges:] = choices[:, _PAIR_COLUMNS] + 1  # pairs are 1-based ('#na#' = 0)
    return {"x_cat": x_cat, "x_cont": np.full((len(choices), 1), epoch, dtype=np.float32)}


class NB301SurrogateEvaluator:
    """Answers DARTS-space queries with the NAS-Bench-301 surrogate (see the module docstring).

    :param space: search space name; only ``"darts"``.
    :param dataset: only ``"cifar10"`` (NAS-Bench-301 trained on CIFAR-10).
    :param noise: ``"seed"`` or ``"mean"``, accepted for the env contract; the surrogate is
        deterministic, so both give its one prediction.
    :param fidelity: training epochs 1..98 (default 98, the full NAS-Bench-301 schedule).
    :param cache_dir: cache directory where an imported surrogate is looked for.
    :param threads: onnxruntime threads (1 suits one env per core; more helps large batches).
    """

    def __init__(
        self,
        space: str = "darts",
        dataset: str = "cifar10",
        noise: str = "seed",
        fidelity: int = NB301_EPOCHS,
        cache_dir: Path | str | None = None,
        threads: int = 1,
    ) -> None:
        if space != "darts":
            raise ValueError(f"space {space!r} has no NAS-Bench-301 surrogate; accepted: ['darts']")
        if dataset != "cifar10":
            raise ValueError(f"dataset {dataset!r} is unknown to NAS-Bench-301; accepted: ['cifar10']")
        if noise not in NOISE_MODES:
            raise ValueError(f"noise {noise!r} is unknown; accepted: {list(NOISE_MODES)}")
        whole = isinstance(fidelity, (int, np.integer)) and not isinstance(fidelity, bool)
        if not (whole and 1 <= fidelity <= NB301_EPOCHS):
            raise ValueError(f"fidelity must be a number of epochs in 1..{NB301_EPOCHS}, got {fidelity!r}")
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        self.space = DartsSpace()
        self.dataset = dataset
        self.noise = noise
        self.fidelity = int(fidelity)
        self.threads = int(threads)
        self._cache_dir = cache_dir
        self.model_path = model_path(cache_dir)
        self._session = _session(self.model_path, self.threads)
        self._answers: dict[int, dict[str, float]] = {}  # deterministic: each architecture is predicted once

    def __getstate__(self) -> dict:
        # an onnxruntime session does not pickle: pickle the recipe
        return {"noise": self.noise, "fidelity": self.fidelity, "cache_dir": self._cache_dir, "threads": self.threads}

    def __setstate__(self, state: dict) -> None:
        self.__init__("darts", "cifar10", state["noise"], state["fidelity"], state["cache_dir"], state["threads"])

    def __repr__(self) -> str:
        return f"NB301SurrogateEvaluator(fidelity={self.fidelity}, model={str(self.model_path)!r})"

    @property
    def best_valid_acc(self) -> float:
        """NaN: the best architecture of the DARTS space is unknown."""
        return math.nan

    def predict(self, choices: np.ndarray) -> np.ndarray:
        """The surrogate's raw output (n, 4) for choice vectors (n, 24), in batches."""
        choices = self.space.check_choices(choices).reshape(-1, self.space.n_decisions)
        parts = [
            self._session.run(None, _inputs(self.space, choices[start : start + _BATCH], self.fidelity))[0]
            for start in range(0, len(choices), _BATCH)
        ]
        return np.concatenate(parts) if parts else np.empty((0, 4), np.float32)

    def evaluate(self, indices: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Metrics of many architectures (one onnxruntime call per 8,192)."""
        indices = self.space.check_index(indices, "indices")
        output = self.predict(self.space.choices_of(indices.reshape(-1))).astype(np.float64)
        shape = indices.shape
        out = {name: np.full(shape, np.nan) for name in _NAN_METRICS}
        out["valid_acc"] = (output[:, 0] * 100.0).reshape(shape)
        out["cost"] = output[:, 2].reshape(shape)
        return out

    def evaluate_one(self, index: int, rng: np.random.Generator) -> dict[str, float]:
        """Metrics of one architecture as plain floats (remembered: the surrogate is deterministic)."""
        answer = self._answers.get(index)
        if answer is None:
            if len(self._answers) >= _REMEMBERED:
                self._answers.clear()
            metrics = self.evaluate(np.array([index], dtype=np.int64), rng)
            answer = self._answers[index] = {key: float(values[0]) for key, values in metrics.items()}
        return dict(answer)
