"""NAS-Bench-Macro tables: the CIFAR-10 results nasgym ships, split into a reward seed and test seeds.

NAS-Bench-Macro publishes, per network, the CIFAR-10 *test* accuracy of 3 independent trainings
and no validation accuracy. A search rewarded and scored on the same numbers would be scored on
what it was selected by, so the three seeds are split:

* ``valid_acc`` (the reward) is seed 0's accuracy, the first of the file's three ``test_acc``
  values. It is the only "validation" seed, so ``noise="seed"`` has nothing to draw and gives the
  same value as ``noise="mean"``: the reward is deterministic in both modes.
* ``test_acc`` (reported, never rewarded) is the mean of seeds 1 and 2.

So the network a search returns is judged on two trainings it never saw. Both are trainings of
the same network on the same test images: seed 0 is a noisy stand-in for a validation score, and
no split of the images exists. The file gives parameters and FLOPs (stored in millions here); it
has no latency and no training time (NaN, so ``cost`` and ``sim_time`` are NaN too).

The 6,561 keys hold 3,969 distinct networks: an identity layer after the first layer of a stage
can sit anywhere among that stage's other layers without changing the network, and the file
repeats one record for all such keys (so the optimum has two indices).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nasgym.spaces.macro import NASBenchMacroSpace
from nasgym.tables.store import file_sha256

DATASETS: tuple[str, ...] = ("cifar10",)
#: the compact arrays made by scripts/package_macro.py (with the license and provenance beside it)
DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "nasbench_macro" / "nasbench_macro.npz"
#: the seed (column of the file's ``test_acc``) whose accuracy is the reward
REWARD_SEED = 0


def check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"dataset {dataset!r} is unknown for NAS-Bench-Macro; accepted: {list(DATASETS)}")
    return dataset


def base_fingerprint(dataset: str) -> str:
    """What the table is built from: the shipped file's checksum and this split of the seeds."""
    check_dataset(dataset)
    return f"{file_sha256(DATA_FILE)};reward-seed-{REWARD_SEED};v1"


def build_base(dataset: str) -> dict[str, np.ndarray]:
    """Dense (6,561 x seeds) arrays: the reward seed, the other seeds as test, params, FLOPs."""
    check_dataset(dataset)
    size = NASBenchMacroSpace().size
    with np.load(DATA_FILE) as data:
        accs = data["test_acc"].astype(np.float64)
        params, flops = data["params"].astype(np.float64), data["flops"].astype(np.float64)
    if accs.shape != (size, 3) or params.shape != (size,) or flops.shape != (size,):
        raise ValueError(f"{DATA_FILE}: expected 3 accuracies, params and FLOPs for {size} networks")
    test_seeds = [seed for seed in range(accs.shape[1]) if seed != REWARD_SEED]
    return {
        "valid_acc": accs[:, [REWARD_SEED]],
        "test_acc": accs[:, test_seeds],
        "params": params[:, None] / 1e6,
        "flops": flops[:, None] / 1e6,
        "latency": np.full((size, 1), np.nan),
    }
