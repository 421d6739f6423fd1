"""Pack NAS-Bench-Macro's JSON file into the compact arrays nasgym ships.

Reads ``nas-bench-macro_cifar10.json`` (github xiusu/NAS-Bench-Macro: ``{key: {test_acc: [3
floats], mean_acc, std, params, flops}}`` for the 6,561 networks, key = one digit 0..2 per layer),
checks every record, and writes ``nasgym/data/nasbench_macro/nasbench_macro.npz`` with rows in
canonical index order (the key read as a base-3 number):

* ``test_acc``: float32 (6561, 3), the three seeds' CIFAR-10 test accuracies (%) in file order
  (float32 holds the file's values exactly: they are float32 numbers printed in full);
* ``params``, ``flops``: int64 (6561,), parameters and FLOPs as counts.

``mean_acc`` and ``std`` are checked (mean and population standard deviation of ``test_acc``)
and dropped: they follow from ``test_acc``.

Usage: ``python scripts/package_macro.py PATH/TO/nas-bench-macro_cifar10.json``
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

N_LAYERS, N_CHOICES, N_SEEDS = 8, 3, 3
OUT = Path(__file__).resolve().parent.parent / "nasgym" / "data" / "nasbench_macro" / "nasbench_macro.npz"


def check_and_pack(records: dict) -> dict[str, np.ndarray]:
    """Arrays of :data:`OUT` from the parsed JSON, or a ``ValueError`` naming the first bad record."""
    size = N_CHOICES**N_LAYERS
    if not isinstance(records, dict) or len(records) != size:
        raise ValueError(f"expected a dict of {size} architectures, got {type(records).__name__} of {len(records)}")
    test_acc = np.full((size, N_SEEDS), np.nan)
    params = np.zeros(size, np.int64)
    flops = np.zeros(size, np.int64)
    for key, record in records.items():
        if len(key) != N_LAYERS or set(key) - set("012"):
            raise ValueError(f"key {key!r}: expected {N_LAYERS} digits in 0..2")
        index = int(key, N_CHOICES)
        if set(record) != {"test_acc", "mean_acc", "std", "params", "flops"}:
            raise ValueError(f"{key}: unexpected fields {sorted(record)}")
        accs = np.asarray(record["test_acc"], dtype=np.float64)
        if accs.shape != (N_SEEDS,) or not ((accs > 0) & (accs <= 100)).all():
            raise ValueError(f"{key}: test_acc must be {N_SEEDS} accuracies in (0, 100], got {record['test_acc']}")
        if not np.array_equal(accs.astype(np.float32).astype(np.float64), accs):
            raise ValueError(f"{key}: test_acc {accs.tolist()} is not exactly representable in float32")
        if abs(accs.mean() - record["mean_acc"]) > 1e-9 or abs(accs.std() - record["std"]) > 1e-9:
            raise ValueError(f"{key}: mean_acc/std {record['mean_acc']}/{record['std']} disagree with test_acc")
        for name, out in (("params", params), ("flops", flops)):
            value = record[name]
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{key}: {name} must be a positive integer, got {value!r}")
            out[index] = value
        test_acc[index] = accs
    # 6,561 distinct keys of the right form fill every row exactly once
    assert not np.isnan(test_acc).any() and (params > 0).all()
    return {"test_acc": test_acc.astype(np.float32), "params": params, "flops": flops}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="nas-bench-macro_cifar10.json")
    args = parser.parse_args()
    raw = args.source.read_bytes()
    arrays = check_and_pack(json.loads(raw))
    np.savez_compressed(OUT, **arrays)
    best = int(arrays["test_acc"].astype(np.float64).mean(axis=1).argmax())
    print(f"source sha256 {hashlib.sha256(raw).hexdigest()}")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes); best seed-mean index {best}")


if __name__ == "__main__":
    main()
