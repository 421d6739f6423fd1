"""The FFN table nasgym ships: its own build of the ``ffn2`` space on PMLB's connect_4.

``nasgym/data/ffn/ffn2_connect_4.npz`` holds what ``nasgym data build ffn2 --dataset connect_4``
measured for all 400 networks (one training seed), packed by ``scripts/package_ffn.py``; the
command, training configuration and machine are in ``PROVENANCE.md`` beside it. It is a build like
any other: a user's own build of ``ffn2`` on connect_4 overlays it (the newest wins).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nasgym.spaces.ffn import FFNSpace
from nasgym.tables.store import file_sha256

DATASETS: tuple[str, ...] = ("connect_4",)
DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "ffn" / "ffn2_connect_4.npz"


def check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(
            f"dataset {dataset!r} has no shipped FFN table; accepted: {list(DATASETS)} (others: evaluator='live', "
            "or build a table with 'nasgym data build ffn2 --dataset NAME')"
        )
    return dataset


def base_fingerprint(dataset: str) -> str:
    """What the table is built from: the shipped file's checksum."""
    check_dataset(dataset)
    return f"{file_sha256(DATA_FILE)};v1"


def build_base(dataset: str) -> dict[str, np.ndarray]:
    """Dense (400 x 1) arrays: validation and test accuracy, validation loss, training time,
    parameters and FLOPs (M; for these networks the multiply-adds equal the parameters)."""
    check_dataset(dataset)
    size = FFNSpace(2).size
    with np.load(DATA_FILE, allow_pickle=False) as data:
        arrays = {name: data[name].astype(np.float64) for name in ("valid_acc", "test_acc", "valid_loss", "train_time")}
        params = data["params"].astype(np.float64) / 1e6
    if any(values.shape != (size,) for values in arrays.values()) or params.shape != (size,):
        raise ValueError(f"{DATA_FILE}: expected one value per network of the {size}")
    out = {name: values[:, None] for name, values in arrays.items()}
    out.update(params=params[:, None], flops=params[:, None].copy(), latency=np.full((size, 1), np.nan))
    return out
