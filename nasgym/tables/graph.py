"""NAS-Bench-Graph tables, read from the files inside the ``nas-bench-graph`` wheel.

The wheel (PyPI ``nas-bench-graph``, Apache-2.0; ``pip install "nasgym[graph]"``) ships one
pickle per dataset, ``nas_bench_graph/light/<dataset>.bench``: a dict from the hash of an
architecture's canonical form to ``{valid_perf, perf, latency, para}``. nasgym reads them with its
restricted unpickler (plain containers and numpy scalars only), never with the package's own
loader, and maps every choice vector of :class:`~nasgym.spaces.graph.NASBenchGraphSpace` to its
record with the benchmark's canonicalisation (``Arch.valid_hash``, pure Python).

Metrics: ``valid_acc`` and ``test_acc`` are the benchmark's validation and test performance in
percent (its fractions x 100; accuracy on every dataset but proteins, ROC-AUC on proteins as the
benchmark reports it), ``latency`` its inference latency (s), ``params`` its parameter count
(millions). Its light files hold one value per architecture (the average over its 3 trainings),
so ``noise="seed"`` and ``noise="mean"`` give the same values; there are no FLOPs and no training
times (NaN, so ``cost`` and ``sim_time`` are NaN too).
"""

from __future__ import annotations

import functools
import importlib.metadata
import itertools
from pathlib import Path

import numpy as np

from nasgym.spaces.graph import NASBenchGraphProteinsSpace, NASBenchGraphSpace
from nasgym.tables.importers.safe_pickle import load_pickle
from nasgym.tables.store import file_sha256

#: the 8 datasets of the 9-operation space, in the benchmark's order
DATASETS: tuple[str, ...] = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv")
#: the dataset of the 5-operation space
PROTEINS_DATASETS: tuple[str, ...] = ("proteins",)
_PACKAGE = "nas-bench-graph"
_FIELDS = {"valid_perf", "perf", "latency", "para"}


def _space_of(dataset: str) -> NASBenchGraphSpace:
    if dataset in DATASETS:
        return NASBenchGraphSpace()
    if dataset in PROTEINS_DATASETS:
        return NASBenchGraphProteinsSpace()
    accepted = list(DATASETS + PROTEINS_DATASETS)
    raise ValueError(f"dataset {dataset!r} is unknown for NAS-Bench-Graph; accepted: {accepted}")


def _bench_file(dataset: str) -> Path:
    """The wheel's file of ``dataset``, or an ImportError that says how to install it."""
    _space_of(dataset)
    try:
        files = importlib.metadata.files(_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        files = None
    path = next((f for f in files or () if f.as_posix() == f"nas_bench_graph/light/{dataset}.bench"), None)
    if path is None:
        raise ImportError(
            f"NAS-Bench-Graph's data comes with the PyPI package {_PACKAGE!r}, which is not installed "
            f"(or lacks light/{dataset}.bench): pip install 'nasgym[graph]'"
        )
    return Path(path.locate())


def base_fingerprint(dataset: str) -> str:
    """What the table of ``dataset`` is built from: package version and data file checksum."""
    path = _bench_file(dataset)
    return f"{_PACKAGE}=={importlib.metadata.version(_PACKAGE)};{file_sha256(path)};v1"


@functools.cache
def record_keys(space_name: str) -> np.ndarray:
    """The benchmark's record key (``Arch.valid_hash``) of every choice vector, by canonical index."""
    from nas_bench_graph.architecture import Arch  # the benchmark's canonicalisation; no data access

    space = NASBenchGraphProteinsSpace() if space_name == NASBenchGraphProteinsSpace().name else NASBenchGraphSpace()
    keys = np.empty(space.size, dtype=np.int64)
    labels = [range(n) for n in space.n_choices.tolist()]
    for index, choices in enumerate(itertools.product(*labels)):  # lexicographic = canonical order
        links, ops = space.benchmark_arch(np.array(choices))
        keys[index] = Arch(links, ops).valid_hash()
    keys.flags.writeable = False
    return keys


def build_base(dataset: str) -> dict[str, np.ndarray]:
    """Dense (space size x 1) arrays of one dataset: every choice vector gets its record's values.

    :raises ValueError: the file is not the expected dict, a record lacks a field, a choice vector
        has no record, or a record is reached by no choice vector.
    """
    space = _space_of(dataset)
    path = _bench_file(dataset)
    raw = load_pickle(path)
    if not isinstance(raw, dict) or not all(isinstance(k, int) and isinstance(v, dict) for k, v in raw.items()):
        raise ValueError(f"{path}: expected a dict from integer architecture hashes to records")
    keys = record_keys(space.name)
    missing = sorted(set(keys.tolist()) - set(raw))
    unreached = sorted(set(raw) - set(keys.tolist()))
    if missing or unreached:
        raise ValueError(
            f"{path}: {len(missing)} choice vectors have no record (e.g. hash {missing[:3]}) and "
            f"{len(unreached)} records are reached by none (e.g. {unreached[:3]}); expected a one-to-one cover"
        )
    records = sorted(raw)
    columns = {"valid_perf": [], "perf": [], "latency": [], "para": []}
    for key in records:
        record = raw[key]
        if set(record) != _FIELDS:
            raise ValueError(f"{path}: record {key} has fields {sorted(record)}; expected {sorted(_FIELDS)}")
        for field, values in columns.items():
            values.append(float(record[field]))
    row_of = np.searchsorted(np.array(records), keys)
    per_record = {field: np.array(values)[row_of][:, None] for field, values in columns.items()}
    return {
        "valid_acc": per_record["valid_perf"] * 100,
        "test_acc": per_record["perf"] * 100,
        "latency": per_record["latency"],
        "params": per_record["para"],
        "flops": np.full((space.size, 1), np.nan),
        "official_index": keys[:, None].astype(np.float64),
    }
