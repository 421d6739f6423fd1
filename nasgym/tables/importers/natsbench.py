"""Import an official NATS-Bench directory: topology (``NATS-tss-v1_0-3ffb9-simple``) or size
(``NATS-sss-v1_0-50262-simple``).

The directory holds ``meta.pickle.pbz2`` (every arch string, in official index order; its length
tells the space) and one ``<index>.pickle.pbz2`` per architecture with its full records for each
hp (12 and 200 epochs on the topology space, 1, 12 and 90 on the size space, whose full schedule
is 90 epochs). All of them are read with the restricted unpickler. Validation and test come from
the runs NATS-Bench itself uses: cifar10 validation is ``x-valid`` of the ``cifar10-valid`` run
and its test is ``ori-test`` of the ``cifar10`` run (trained on train+valid); cifar100 and
ImageNet16-120 use ``x-valid`` and ``x-test`` of their own run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nasgym.spaces.base import SearchSpace
from nasgym.spaces.nats_sss import NATSSizeSpace
from nasgym.spaces.nb201 import NB201Space
from nasgym.tables.importers.checks import DataImportError, check_value
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
#: number of architectures in the meta file -> (space, hp -> metric suffix: "" is the full schedule)
_SPACES: dict[int, tuple[type[SearchSpace], dict[str, str]]] = {
    NB201Space().size: (NB201Space, {"200": "", "12": "_12"}),
    NATSSizeSpace().size: (NATSSizeSpace, {"90": "", "12": "_12", "01": "_01"}),
}


def is_natsbench_dir(path: Path) -> bool:
    return path.is_dir() and (path / META_FILE).is_file()


def _record_file(folder: Path, official_index: int) -> Path | None:
    for name in (f"{official_index:06d}.pickle.pbz2", f"{official_index}.pickle.pbz2"):
        if (folder / name).is_file():
            return folder / name
    return None


def _field(container: object, key: object, where: str) -> object:
    """``container[key]``, or a :class:`DataImportError` saying which part of the record lacks it."""
    if not isinstance(container, dict):
        raise DataImportError(f"{where} is a {type(container).__name__}; expected a dict of NATS-Bench results")
    if key not in container:
        raise DataImportError(f"{where} has no {key!r}; expected a NATS-Bench record")
    return container[key]


def _number(value: object, metric: str, where: str, n_archs: int) -> float:
    """``value`` as a float that passes the rule of ``metric``; a list (NATS latency) is averaged."""
    try:
        number = float(np.mean(value)) if isinstance(value, list | tuple) else float(value)
    except (TypeError, ValueError):
        raise DataImportError(f"{where}: {metric} is {value!r}; expected a number") from None
    return check_value(metric, number, n_archs, where)


def _meta_space(meta_path: Path) -> tuple[SearchSpace, dict[str, str], list]:
    """The space the meta file describes (by its number of arch strings), its hps and the strings."""
    meta = load_pickle(meta_path)
    archs = meta.get("meta_archs") if isinstance(meta, dict) else None
    if not isinstance(archs, list) or len(archs) not in _SPACES:
        found = len(archs) if isinstance(archs, list) else "no"
        raise DataImportError(
            f"{meta_path}: expected the arch strings of the topology ({NB201Space().size}) or size "
            f"({NATSSizeSpace().size}) search space in 'meta_archs', found {found}"
        )
    space_class, suffixes = _SPACES[len(archs)]
    return space_class(), suffixes, archs


def _meta_indices(meta_path: Path, space: SearchSpace, archs: list) -> np.ndarray:
    """Canonical index of each official index, from the meta file's arch strings."""
    canonical = np.empty(space.size, dtype=np.int64)
    first_at: dict[int, int] = {}
    for official, arch in enumerate(archs):
        try:
            canonical[official] = space.index_of(space.from_string(arch))
        except ValueError as exc:
            raise DataImportError(f"{meta_path}: meta_archs[{official}]: {exc}") from None
        if int(canonical[official]) in first_at:
            raise DataImportError(
                f"{meta_path}: meta_archs[{official}] {arch} repeats meta_archs[{first_at[int(canonical[official])]}]; "
                "expected every architecture once"
            )
        first_at[int(canonical[official])] = official
    return canonical


def import_natsbench(folder: Path) -> ImportResult:
    """Read the meta file (official index of every arch) and every per-arch record present.

    :raises DataImportError: the meta file or a record is unreadable, lacks a field NATS-Bench
        records have, describes another architecture, or holds a value out of its range.
    """
    space, suffixes, archs = _meta_space(folder / META_FILE)
    canonical = _meta_indices(folder / META_FILE, space, archs)
    result = ImportResult(source=f"nats-{folder.name}", inputs=[folder / META_FILE], space=space.name)
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
        expected_arch = space.arch_string(index)
        for hp, suffix in suffixes.items():
            if isinstance(record, dict) and hp in record:
                _add_record(result, record[hp], index, suffix, f"{path}: hp {hp}", expected_arch, space.size)
    for per_dataset in result.arrays.values():
        for metric, values in per_dataset.items():
            per_dataset[metric] = pack_seeds(values)
    result.notes.append(f"official index of all {space.size} architectures; full records of {n_records}")
    return result


def _dict_field(container: object, key: str, where: str) -> dict:
    value = _field(container, key, where)
    if not isinstance(value, dict):
        raise DataImportError(f"{where}: {key} is a {type(value).__name__}; expected a dict")
    return value


def _add_record(
    result: ImportResult, info: object, index: int, suffix: str, where: str, arch: str, n_archs: int
) -> None:
    runs, seeds = _dict_field(info, "all_results", where), _dict_field(info, "dataset_seed", where)
    if _field(info, "arch_str", where) != arch:
        raise DataImportError(f"{where}: arch_str is {info['arch_str']!r}; expected {arch!r} (the meta file's)")
    for dataset, (valid_run, valid_eval, test_run, test_eval) in _RUNS.items():
        for run_name, eval_name, kind in ((valid_run, valid_eval, "valid"), (test_run, test_eval, "test")):
            run_seeds = list(seeds.get(run_name, []))
            for slot, seed in enumerate(run_seeds):
                run = runs.get((run_name, seed))
                if run is None:
                    continue
                at = f"{where}: run {run_name}/{seed}"
                if _field(_field(run, "arch_config", at), "arch_str", f"{at}: arch_config") != arch:
                    raise DataImportError(f"{at} is of another architecture; expected {arch}")
                epochs = _field(run, "epochs", at)
                accuracies = _dict_field(run, "eval_acc1es", at)
                accuracy = _field(accuracies, f"{eval_name}@{epochs - 1}", f"{at}: eval_acc1es")
                metric = f"{kind}_acc{suffix}"
                result.column(dataset, metric, n_archs, len(run_seeds))[index, slot] = _number(
                    accuracy, metric, at, n_archs
                )
                if kind == "test":
                    continue
                times = [
                    _number(t, f"train_time{suffix}", at, n_archs) for t in _dict_field(run, "train_times", at).values()
                ]
                result.column(dataset, f"train_time{suffix}", n_archs, len(run_seeds))[index, slot] = sum(times)
                if suffix == "":
                    for metric, key in (("params", "params"), ("flops", "flop"), ("latency", "latency")):
                        result.column(dataset, metric, n_archs)[index, 0] = _number(
                            _field(run, key, at), metric, at, n_archs
                        )
