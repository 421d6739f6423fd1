"""Import an official NATS-Bench topology directory (``NATS-tss-v1_0-3ffb9-simple``).

The directory holds ``meta.pickle.pbz2`` (every arch string, in official index order) and one
``<index>.pickle.pbz2`` per architecture with its full records for hp=12 and hp=200. All of them
are read with the restricted unpickler. Validation and test come from the runs NATS-Bench itself
uses: cifar10 validation is ``x-valid`` of the ``cifar10-valid`` run and its test is ``ori-test``
of the ``cifar10`` run (trained on train+valid); cifar100 and ImageNet16-120 use ``x-valid`` and
``x-test`` of their own run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nasgym.spaces.nb201 import NB201Space
from nasgym.tables.importers.result import ImportResult
from nasgym.tables.importers.safe_pickle import load_pickle
from nasgym.tables.metrics import pack_seeds

META_FILE = "meta.pickle.pbz2"
# our dataset -> (run used for validation, its eval name, run used for test, its eval name)
_RUNS = {
    "cifar10": ("cifar10-valid", "x-valid", "cifar10", "ori-test"),
    "cifar100": ("cifar100", "x-valid", "cifar100", "x-test"),
    "ImageNet16-120": ("ImageNet16-120", "x-valid", "ImageNet16-120", "x-test"),
}
_SUFFIX = {"200": "", "12": "_12"}


def is_natsbench_dir(path: Path) -> bool:
    return path.is_dir() and (path / META_FILE).is_file()


def _record_file(folder: Path, official_index: int) -> Path | None:
    for name in (f"{official_index:06d}.pickle.pbz2", f"{official_index}.pickle.pbz2"):
        if (folder / name).is_file():
            return folder / name
    return None


def _final_accuracy(run: dict, eval_name: str) -> float:
    return float(run["eval_acc1es"][f"{eval_name}@{run['epochs'] - 1}"])


def import_natsbench(folder: Path) -> ImportResult:
    """Read the meta file (official index of every arch) and every per-arch record present."""
    space = NB201Space()
    meta = load_pickle(folder / META_FILE)
    archs = meta.get("meta_archs") if isinstance(meta, dict) else None
    if not isinstance(archs, list) or len(archs) != space.size:
        found = len(archs) if isinstance(archs, list) else "no"
        raise ValueError(
            f"{folder / META_FILE}: expected the topology search space's {space.size} arch strings in "
            f"'meta_archs', found {found} (only NATS-tss directories are supported)"
        )
    canonical = space.index_of(np.stack([space.from_string(a) for a in archs]))
    result = ImportResult(source=f"nats-{folder.name}", inputs=[folder / META_FILE])
    for dataset in _RUNS:
        result.column(dataset, "official_index", space.size)[canonical, 0] = np.arange(space.size)

    n_records = 0
    for official_index, index in enumerate(canonical.tolist()):
        path = _record_file(folder, official_index)
        if path is None:
            continue
        record = load_pickle(path)
        result.inputs.append(path)
        n_records += 1
        for hp, suffix in _SUFFIX.items():
            if hp in record:
                _add_record(result, record[hp], index, suffix, space.size, path)
    for per_dataset in result.arrays.values():
        for metric, values in per_dataset.items():
            per_dataset[metric] = pack_seeds(values)
    result.notes.append(f"official index of all {space.size} architectures; full records of {n_records}")
    return result


def _add_record(result: ImportResult, info: dict, index: int, suffix: str, n_archs: int, path: Path) -> None:
    runs, seeds = info["all_results"], info["dataset_seed"]
    for dataset, (valid_run, valid_eval, test_run, test_eval) in _RUNS.items():
        for slot, seed in enumerate(seeds.get(valid_run, [])):
            run = runs.get((valid_run, seed))
            if run is None:
                continue
            if run["arch_config"]["arch_str"] != info["arch_str"]:
                raise ValueError(f"{path}: run {valid_run}/{seed} is of another architecture")
            n_seeds = len(seeds[valid_run])
            result.column(dataset, f"valid_acc{suffix}", n_archs, n_seeds)[index, slot] = _final_accuracy(
                run, valid_eval
            )
            result.column(dataset, f"train_time{suffix}", n_archs, n_seeds)[index, slot] = sum(
                run["train_times"].values()
            )
            if suffix == "":
                result.column(dataset, "params", n_archs)[index, 0] = float(run["params"])
                result.column(dataset, "flops", n_archs)[index, 0] = float(run["flop"])
                result.column(dataset, "latency", n_archs)[index, 0] = float(np.mean(run["latency"]))
        for slot, seed in enumerate(seeds.get(test_run, [])):
            run = runs.get((test_run, seed))
            if run is not None:
                n_seeds = len(seeds[test_run])
                result.column(dataset, f"test_acc{suffix}", n_archs, n_seeds)[index, slot] = _final_accuracy(
                    run, test_eval
                )
