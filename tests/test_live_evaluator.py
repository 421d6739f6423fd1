"""The live evaluator behind the evaluator protocol: envs, caching, process pool, Ray, table builds."""

from __future__ import annotations

import io
import math

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import nasgym  # noqa: E402, F401  (registers the env ids)
from nasgym.cli import main as cli_main  # noqa: E402
from nasgym.envs import ConvNetGlobalEnv  # noqa: E402
from nasgym.evaluators import RESULT_KEYS, Evaluator, LiveEvaluator, ResultStore, TabularEvaluator  # noqa: E402
from nasgym.evaluators.live import EXTRA_KEYS  # noqa: E402
from nasgym.training import TrainConfig  # noqa: E402
from nasgym.training.trainer import resolve_device  # noqa: E402

QUICK = {"epochs": 1, "batch_size": 128, "num_threads": 1, "progress": False}
#: cheap networks: depth 1 and 2
CHEAP = np.array([0, 3, 5, 9, 17])
#: where device="auto" trains: cuda on a GPU machine, else cpu
AUTO_DEVICE = str(resolve_device("auto"))


@pytest.fixture
def store(tmp_path) -> ResultStore:
    return ResultStore(tmp_path / "live.sqlite")


def test_evaluates_then_serves_from_the_store(store):
    evaluator = LiveEvaluator("convnet", "digits", store=store, workers=1, **QUICK)
    assert isinstance(evaluator, Evaluator) and math.isnan(evaluator.best_valid_acc)
    indices = np.array([[3, 0], [3, 5]])
    first = evaluator.evaluate(indices, np.random.default_rng(0))
    assert set(first) == set(RESULT_KEYS + EXTRA_KEYS)
    assert all(values.shape == (2, 2) for values in first.values())
    assert (evaluator.n_trained, evaluator.n_cached) == (3, 0)  # the repeat is trained once
    assert first["valid_acc"][0, 0] == first["valid_acc"][1, 0] and not first["cached"].any()
    np.testing.assert_array_equal(first["cost"], first["wall_time"])  # trained now: cost = time it took
    assert (first["params"] > 0).all() and (first["flops"] > 0).all() and set(first["device"].ravel()) == {AUTO_DEVICE}
    again = evaluator.evaluate(indices)
    assert (evaluator.n_trained, evaluator.n_cached) == (3, 3) and again["cached"].all()
    for key in ("valid_acc", "test_acc", "flops", "params", "latency", "cost", "train_time", "train_loss"):
        np.testing.assert_array_equal(again[key], first[key])
    assert (again["wall_time"] < 0.05).all()
    one = evaluator.evaluate_one(5, np.random.default_rng(1))
    assert one["cached"] is True and one["valid_acc"] == first["valid_acc"][1, 1] and one["device"] == AUTO_DEVICE
    assert store.count("convnet", "digits", evaluator.config_hash) == 3
    # another training configuration is another experiment: nothing is served across
    other = LiveEvaluator("convnet", "digits", store=store, workers=1, **{**QUICK, "seed": 1})
    assert other.config_hash != evaluator.config_hash
    assert other.evaluate_one(0)["cached"] is False
    # execution details are not part of the experiment
    assert TrainConfig(epochs=1, device="cpu", num_threads=3, progress=False).config_hash("digits") == TrainConfig(
        epochs=1
    ).config_hash("digits")
    assert TrainConfig(batch_size=128).config_hash("digits") == TrainConfig(batch_size=128, lr=0.05).config_hash(
        "digits"
    )


def test_gym_make_with_the_live_evaluator(tmp_path):
    env = gym.make("NAS-Bench-201-Continuous-v0", evaluator="live", dataset="digits", budget=2, cache_dir=tmp_path,
                   workers=1, **QUICK)  # fmt: skip
    env.reset(seed=0)
    action = np.full(30, -1.0, np.float32).reshape(6, 5)
    action[:, 2] = 1.0  # every edge a 1x1 conv: a cheap network
    _, reward, _, truncated, info = env.step(action.reshape(-1))
    assert (
        info["arch"]
        == "|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|"
    )
    assert reward == pytest.approx(info["valid_acc"] / 100) and not truncated
    assert info["device"] == AUTO_DEVICE and info["cached"] is False and info["wall_time"] > 0
    # the digits network has a one-channel stem: 2 x 16 x 9 parameters fewer than the official count
    assert info["params"] == pytest.approx(0.073306 + 6 * 0.028 - 2 * 16 * 9 / 1e6)
    assert info["sim_time"] == info["cost"] > 0
    _, _, _, truncated, info = env.step(action.reshape(-1))
    assert info["cached"] is True and truncated and info["sim_time"] == pytest.approx(2 * info["cost"])
    env.close()
    assert (tmp_path / "live-results.sqlite").is_file()


def test_live_arguments_are_checked():
    with pytest.raises(ValueError, match="reward 'normalized' needs the best validation accuracy"):
        gym.make("NAS-Bench-201-Global-v0", evaluator="live", dataset="digits", reward="normalized")
    with pytest.raises(TypeError, match=r"\['epochs'\]: only evaluator='live' and 'supernet' take more"):
        gym.make("NAS-Bench-201-Global-v0", epochs=3)
    with pytest.raises(
        TypeError, match=r"unexpected keyword argument\(s\) \['epoch'\]; accepted: .*'data_dir'.*'epochs'"
    ):
        LiveEvaluator("nb201", "digits", epoch=3)
    with pytest.raises(ValueError, match="dataset 'mnist' is unknown for live evaluation"):
        LiveEvaluator("nb201", "mnist")
    with pytest.raises(ValueError, match="executor 'dask' is unknown; accepted"):
        LiveEvaluator("nb201", "digits", executor="dask")
    with pytest.raises(FileNotFoundError, match="data_batch_1 is missing"):
        LiveEvaluator("convnet", "cifar10", data_dir="/nonexistent", workers=1, **QUICK).evaluate_one(0)


def test_process_pool_matches_in_process_training(store):
    serial = LiveEvaluator("convnet", "digits", store=ResultStore(store.path.with_name("serial.sqlite")),
                           workers=1, **QUICK)  # fmt: skip
    pooled = LiveEvaluator("convnet", "digits", store=store, workers=2, **{**QUICK, "progress": True})
    try:
        expected, got = serial.evaluate(CHEAP[:4]), pooled.evaluate(CHEAP[:4])
    finally:
        pooled.close()
    for key in ("valid_acc", "test_acc", "train_loss", "flops", "params"):
        np.testing.assert_array_equal(got[key], expected[key])
    assert pooled.n_trained == 4 and store.count() == 4


def test_ray_executor_with_two_local_workers(store):
    ray = pytest.importorskip("ray", reason="Ray is optional (pip install 'nasgym[ray]')")
    assert not ray.is_initialized()
    evaluator = LiveEvaluator("convnet", "digits", store=store, executor="ray", workers=2, **QUICK)
    try:
        got = evaluator.evaluate(CHEAP[:3])
        assert ray.is_initialized() and ray.cluster_resources()["CPU"] == 2
    finally:
        evaluator.close()
    assert not ray.is_initialized()
    serial = LiveEvaluator("convnet", "digits", store=ResultStore(store.path.with_name("serial.sqlite")),
                           workers=1, **QUICK)  # fmt: skip
    np.testing.assert_array_equal(got["valid_acc"], serial.evaluate(CHEAP[:3])["valid_acc"])
    assert store.count() == 3


def test_data_build_trains_what_is_missing_and_writes_a_table(tmp_path, monkeypatch):
    monkeypatch.setenv("NASGYM_CACHE_DIR", str(tmp_path))
    config = TrainConfig(epochs=1, batch_size=128)
    config_hash = config.config_hash("digits")
    # a build interrupted after all but two networks: their (made-up) results are in the store
    store = ResultStore(tmp_path / "live-results.sqlite")
    space = ConvNetGlobalEnv(evaluator="synthetic").search_space
    missing = {0, 4}
    for index in set(range(space.size)) - missing:
        metrics = {
            "valid_acc": 50 + index / 100,
            "test_acc": 40.0,
            "flops": 1.0,
            "params": 0.5,
            "latency": 1e-3,
            "train_time": 2.0,
            "train_loss": 1.0,
            "train_acc": 60.0,
            "wall_time": 3.0,
            "device": "cuda:0",
        }
        store.put("convnet", space.arch_string(index), "digits", config_hash, config.experiment("digits"), metrics)
    out = io.StringIO()
    argv = ["data", "build", "convnet", "--dataset", "digits", "--epochs", "1", "--batch-size", "128", "--workers", "1"]
    assert cli_main([*argv, "--quiet"], stdout=out) == 0
    assert "(1364 archs: 2 trained, 1362 from the result store" in out.getvalue()
    table = TabularEvaluator("convnet", "digits", noise="mean")
    assert table.best_valid_acc == pytest.approx(50 + 1363 / 100)
    for index in missing:
        trained = store.get("convnet", space.arch_string(index), "digits", config_hash)
        assert table.evaluate_one(index, np.random.default_rng(0))["valid_acc"] == trained["valid_acc"]
    assert table.evaluate_one(7, np.random.default_rng(0)) == {
        "valid_acc": 50.07, "test_acc": 40.0, "flops": 1.0, "params": 0.5, "latency": 1e-3, "cost": 2.0
    }  # fmt: skip
    # the ConvNet envs search the built table, normalized reward included (its optimum is known)
    env = ConvNetGlobalEnv(evaluator="tabular", dataset="digits", reward="normalized", noise="mean", budget=1)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(space.choices_of(1363))
    assert info["arch"] == "k5c64-k5c64-k5c64-k5c64-k5c64" and reward == pytest.approx(0.0)
    # `data info` lists the built table after the embedded ones
    info = io.StringIO()
    assert cli_main(["data", "info"], stdout=info) == 0
    rows = [line.split()[:4] for line in info.getvalue().splitlines()[1:]]
    assert ["convnet", "digits", "valid_acc", "1364"] in rows and rows[0][0] == "nb201" and rows[-1][0] == "convnet"
    # a second build trains nothing; the official tables are never overlaid
    assert cli_main([*argv, "--quiet"], stdout=out) == 0
    assert "0 trained, 1364 from the result store" in out.getvalue()
    with pytest.raises(SystemExit):
        cli_main(["data", "build", "nb201", "--dataset", "cifar10"], stdout=out)
