"""The SQLite result store: lookups, concurrent writers, and a search killed with SIGKILL mid-way."""

from __future__ import annotations

import math
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from nasgym.evaluators.store import ResultStore, default_store_path
from nasgym.tables import CACHE_ENV_VAR

METRICS = {"valid_acc": 91.5, "test_acc": math.nan, "flops": 1.0, "params": 0.1, "latency": 1e-3,
           "train_time": 2.0, "train_loss": 0.3, "train_acc": 95.0, "wall_time": 2.5, "device": "cpu"}  # fmt: skip


def created_times(path) -> dict[str, float]:
    with sqlite3.connect(path) as connection:
        return dict(connection.execute("SELECT arch, created FROM results"))


def test_put_get_and_first_result_wins(tmp_path):
    store = ResultStore(tmp_path / "sub" / "store.sqlite")
    assert store.get("convnet", "k3c32", "digits", "h1") is None
    assert store.put("convnet", "k3c32", "digits", "h1", {"epochs": 1}, METRICS) is True
    got = store.get("convnet", "k3c32", "digits", "h1")
    assert math.isnan(got.pop("test_acc")) and got == {k: v for k, v in METRICS.items() if k != "test_acc"}
    assert store.put("convnet", "k3c32", "digits", "h1", {"epochs": 1}, {**METRICS, "valid_acc": 1.0}) is False
    assert store.get("convnet", "k3c32", "digits", "h1")["valid_acc"] == 91.5
    # every part of the key counts
    for key in (("nb201", "k3c32", "digits", "h1"), ("convnet", "k3c64", "digits", "h1"),
                ("convnet", "k3c32", "cifar10", "h1"), ("convnet", "k3c32", "digits", "h2")):  # fmt: skip
        assert store.get(*key) is None
    store.put("convnet", "k3c64", "digits", "h1", {}, METRICS)
    assert set(store.get_many("convnet", ["k3c32", "k3c64", "k5c32"], "digits", "h1")) == {"k3c32", "k3c64"}
    assert store.count() == 2 and store.count("convnet", "digits", "h1") == 2 and store.count(config_hash="h2") == 0
    assert [arch for arch, _ in store.results("convnet", "digits", "h1")] == ["k3c32", "k3c64"]
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # a pickled store (as workers get it) opens its own connection to the same file
    clone = pickle.loads(pickle.dumps(store))
    assert clone.path == store.path and clone.get("convnet", "k3c64", "digits", "h1")["flops"] == 1.0


def test_default_location_is_under_the_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path))
    assert default_store_path() == tmp_path / "live-results.sqlite"
    assert ResultStore().path == tmp_path / "live-results.sqlite"


def test_cached_lookup_costs_well_under_a_millisecond(tmp_path):
    store = ResultStore(tmp_path / "store.sqlite")
    for i in range(2000):
        store.put("nb201", f"arch{i}", "digits", "h", {}, METRICS)
    rng = np.random.default_rng(0)
    keys = [f"arch{i}" for i in rng.integers(0, 2000, 2000)]
    start = time.perf_counter()
    for key in keys:
        assert store.get("nb201", key, "digits", "h") is not None
    per_lookup = (time.perf_counter() - start) / len(keys)
    assert per_lookup < 1e-3, per_lookup


WRITER = """
import sys
from nasgym.evaluators.store import ResultStore
store = ResultStore(sys.argv[1])
worker = int(sys.argv[2])
for i in range(60):
    store.put("convnet", f"w{worker}-{i}", "digits", "h", {"worker": worker}, {"valid_acc": float(i)})
    store.put("convnet", f"shared-{i % 10}", "digits", "h", {"worker": worker}, {"valid_acc": float(worker)})
"""


def test_several_processes_write_safely(tmp_path):
    path = tmp_path / "store.sqlite"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w)]) for w in range(4)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    store = ResultStore(path)
    assert store.count() == 4 * 60 + 10
    for w in range(4):
        assert store.get("convnet", f"w{w}-59", "digits", "h") == {"valid_acc": 59.0}
    assert len(store.get_many("convnet", [f"shared-{i}" for i in range(10)], "digits", "h")) == 10


SEARCH = """
import sys
import numpy as np
from nasgym.evaluators.live import LiveEvaluator
evaluator = LiveEvaluator("convnet", "digits", store=sys.argv[1], workers=1, epochs=1, batch_size=128,
                          num_threads=1, progress=False)
evaluator.evaluate(np.arange(12))
"""


def test_a_search_killed_mid_way_recomputes_nothing_that_had_finished(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from nasgym.evaluators.live import LiveEvaluator

    path = tmp_path / "store.sqlite"
    search = subprocess.Popen([sys.executable, "-c", SEARCH, str(path)])
    deadline = time.monotonic() + 180
    try:
        while not (path.exists() and ResultStore(path).count() >= 3):
            assert search.poll() is None, "the search ended before it could be killed"
            assert time.monotonic() < deadline, "the search stored nothing in time"
            time.sleep(0.05)
    finally:
        os.kill(search.pid, signal.SIGKILL)
        search.wait()
    assert search.returncode == -signal.SIGKILL
    finished = created_times(path)
    assert 3 <= len(finished) < 12
    # started again: the finished networks come from the store, only the rest is trained
    evaluator = LiveEvaluator("convnet", "digits", store=path, workers=1, epochs=1, batch_size=128,
                              num_threads=1, progress=False)  # fmt: skip
    metrics = evaluator.evaluate(np.arange(12))
    assert (evaluator.n_cached, evaluator.n_trained) == (len(finished), 12 - len(finished))
    assert metrics["cached"].sum() == len(finished)
    after = created_times(path)
    assert len(after) == 12 and all(after[arch] == t for arch, t in finished.items())
