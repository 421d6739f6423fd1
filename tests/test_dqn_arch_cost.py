"""benchmarks/dqn_arch_cost.py: its step count, its timing of one architecture, its interpolation and
extrapolation, and a whole (tiny) run."""

from __future__ import annotations

import importlib.util
import json
import sys

import gymnasium as gym
import numpy as np
import pytest
from conftest import REPO_ROOT
from gymnasium.vector import SyncVectorEnv

from nasgym.spaces import get_space
from nasgym.training.dqn import DQNConfig

spec = importlib.util.spec_from_file_location("dqn_arch_cost", REPO_ROOT / "benchmarks" / "dqn_arch_cost.py")
cost = importlib.util.module_from_spec(spec)
sys.modules["dqn_arch_cost"] = cost
spec.loader.exec_module(cost)

SMALLEST, LARGEST = cost.DEFAULT_ARCHS[0], cost.DEFAULT_ARCHS[-1]


def test_vector_steps_are_counted_inside_the_block_only():
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    envs.reset(seed=0)
    with cost.counted_vector_steps() as count:
        for _ in range(3):
            envs.step(np.zeros(2, dtype=np.int64))
    envs.step(np.zeros(2, dtype=np.int64))
    envs.close()
    assert count == [3]
    assert SyncVectorEnv.step.__name__ == "step"  # restored


def test_one_architecture_is_timed_through_train_dqn():
    config = DQNConfig(steps=12, seeds=1, eval_episodes=1, learning_starts=4, train_freq=4, device="cpu")
    row = cost.time_architecture(SMALLEST, "CartPole-v1", config)
    assert row["params"] == 64 * 5 + 65 * 64 + 65 * 2  # CartPole: 4 inputs, 2 actions
    assert row["steps"] == 12 and row["eval_vector_steps"] >= 2
    assert row["train_s_per_step"] == pytest.approx(row["train_s"] / 12)
    assert row["eval_s_per_vector_step"] == pytest.approx(row["eval_s"] / row["eval_vector_steps"])


@pytest.fixture
def lunar_lander_shape(monkeypatch):
    """LunarLander-v3's observation and action sizes without building it: Box2D is an optional
    extra, absent from the test install."""
    monkeypatch.setattr(cost, "task_shape", lambda task: (8, 4))


def _row(arch: str, train_s_per_step: float, eval_s_per_vector_step: float) -> dict:
    params = int(get_space("dqn-arch").param_count(get_space("dqn-arch").from_string(arch), 8, 4))
    return {"arch": arch, "params": params, "train_s_per_step": train_s_per_step,
            "eval_s_per_vector_step": eval_s_per_vector_step}  # fmt: skip


def test_extrapolation_interpolates_linearly_in_parameters(lunar_lander_shape):
    rows = [_row(SMALLEST, 1.0, 0.5), _row(LARGEST, 3.0, 0.5)]
    build = cost.extrapolate(rows, "LunarLander-v3", build_steps=10)
    space = get_space("dqn-arch")
    params = space.param_count(space.enumerate(), 8, 4)
    share = (params - params.min()) / (params.max() - params.min())
    np.testing.assert_allclose(build["per_arch_train_s"], 10 * (1.0 + 2.0 * share))
    assert build["largest_network_train_s"] == pytest.approx(30.0)
    assert build["eval_bound_s"] == pytest.approx(100 * 0.5 * 2 * 1000)  # two sets of 1,000-step episodes


def test_equal_counts_are_averaged(lunar_lander_shape):
    sigmoid = SMALLEST.replace("relu", "sigmoid")
    rows = [_row(SMALLEST, 1.0, 0.0), _row(sigmoid, 3.0, 0.0), _row(LARGEST, 2.0, 0.0)]
    build = cost.extrapolate(rows, "LunarLander-v3", build_steps=1)
    assert min(build["per_arch_train_s"]) == pytest.approx(2.0)


def test_extrapolation_refuses_a_space_outside_the_measured_counts(lunar_lander_shape):
    with pytest.raises(ValueError, match="must lie inside"):
        cost.extrapolate([_row(SMALLEST, 1.0, 0.0), _row(cost.DEFAULT_ARCHS[2], 2.0, 0.0)], "LunarLander-v3", 10)


def test_interpolation_at_a_measured_count_is_the_measurement():
    rows = [_row(SMALLEST, 1.0, 0.0), _row(cost.DEFAULT_ARCHS[2], 2.0, 0.0), _row(LARGEST, 5.0, 0.0)]
    at = np.array([rows[1]["params"], (rows[1]["params"] + rows[2]["params"]) / 2])
    np.testing.assert_allclose(cost.interpolate(rows, at, "train_s_per_step"), [2.0, 3.5])


def test_a_tiny_run_writes_its_record_and_report(tmp_path):
    out = tmp_path / "cost.json"
    check = "width1=64,activation1=relu,width2=128,activation2=sigmoid"
    cost.main(["--task", "CartPole-v1", "--steps", "4", "--seeds", "1", "--archs", SMALLEST, LARGEST,
               "--check-archs", check, "--out", str(out)])  # fmt: skip
    record = json.loads(out.read_text())
    assert [row["arch"] for row in record["measured"]] == [SMALLEST, LARGEST]
    assert [row["arch"] for row in record["checked"]] == [check]
    assert record["config"]["steps"] == 4 and record["extrapolation"]["build_steps"] == 50_000  # CartPole's preset
    assert len(record["extrapolation"]["per_arch_train_s"]) == 100
    report = out.with_suffix(".md").read_text()
    assert f"| {check} |" in report and "interpolated / measured" in report


def test_bad_arguments_are_refused():
    with pytest.raises(SystemExit):
        cost.parse_args(["--steps", "0"])
