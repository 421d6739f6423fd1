"""Resource constraints on every registered env id backed by a table: the feasible flag and the
resources in info agree with the table and with the env's query-free ``is_feasible`` /
``resources``; a limit no architecture meets and bad constraint arguments fail at gym.make with
clear errors; the penalty rewards follow their formulas; the env's ``best_*`` keys and every agent's
selection count feasible architectures only."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.agents import make_agent
from nasgym.constraints import resource_values
from nasgym.envs_registry import ENV_TABLE
from nasgym.evaluators import TabularEvaluator
from nasgym.rewards import AbsReward, MnasNetReward
from nasgym.selection import Incumbent
from nasgym.spaces import get_space
from nasgym.tables.metrics import IDENTITY_METRICS
from nasgym.tables.repository import check_space_dataset

#: registered ids whose default evaluator is a benchmark table
TABLE_ROWS = [row for row in ENV_TABLE if row.kwargs.get("evaluator", "tabular") == "tabular"]
table_ids = pytest.mark.parametrize("env_id", [row.id for row in TABLE_ROWS])
#: the metric constrained here: every table holds parameter counts
METRIC = "params"


def make(env_id: str, **kwargs) -> gym.Env:
    """``gym.make`` of a table-backed id, skipped with the reason where its benchmark data is absent
    (the ids whose data a user imports)."""
    spec = gym.spec(env_id).kwargs
    try:
        check_space_dataset(spec["space"], spec.get("dataset", "cifar10"))
        return gym.make(env_id, **kwargs)
    except (FileNotFoundError, ValueError) as exc:
        if "table yet" not in str(exc) and not isinstance(exc, FileNotFoundError):
            raise
        pytest.skip(f"{env_id}: its benchmark data is absent ({exc})")


def resource_column(env_id: str, metric: str = METRIC) -> np.ndarray:
    """``metric`` of every architecture of the id's table (its mean over seeds)."""
    return resource_values(make(env_id, budget=1).unwrapped.evaluator)[metric]


def median_limit(column: np.ndarray) -> float:
    """A limit that about half of the architectures meet."""
    return float(np.nanmedian(column))


def query(env: gym.Env, action_space_seed: int) -> dict:
    """Step ``env`` with sampled actions until it makes one query; that step's info."""
    env.action_space.seed(action_space_seed)
    while True:
        _, _, _, _, info = env.step(env.action_space.sample())
        if "arch" in info:
            return info


@table_ids
def test_feasible_flag_and_resources_agree_with_the_table_and_cost_no_query(env_id):
    column = resource_column(env_id)
    limit = median_limit(column)
    env = make(env_id, budget=40, constraint={METRIC: limit})
    unwrapped = env.unwrapped
    env.reset(seed=0)
    seen = set()
    for step in range(30):
        info = query(env, step)
        index = info["index"]
        expected = bool(column[index] <= limit)
        seen.add(expected)
        assert info["feasible"] is expected
        assert info["resource"] == {METRIC: column[index]}
        n_queries, sim_time = info["n_queries"], info["sim_time"]
        assert unwrapped.is_feasible(index) is expected
        assert unwrapped.is_feasible(info["arch"]) is expected
        assert unwrapped.resources(index) == {METRIC: column[index]}
        assert (unwrapped.history.n_queries, unwrapped.history.sim_time) == (n_queries, sim_time)
    assert seen == {True, False}  # the median limit splits the space
    mask = unwrapped.constraint.feasible_mask
    assert mask.sum() == np.count_nonzero(column <= limit)


@table_ids
def test_quality_measured_on_validation_or_test_data_is_no_resource(env_id):
    evaluator = make(env_id, budget=1).unwrapped.evaluator
    known = {m for m in evaluator.table.arrays if np.isfinite(evaluator.table.mean(m)).any()}  # NaN-only: left out
    resources = set(resource_values(evaluator))
    assert METRIC in resources
    assert resources == {m for m in known if not m.startswith(("valid_", "test_")) and m not in IDENTITY_METRICS}
    assert not resources & {"cell", "cell_hash", "official_index"}  # NAS-Bench-101's cell names a row


@table_ids
def test_a_limit_no_architecture_meets_is_an_error_at_gym_make(env_id):
    smallest = float(np.nanmin(resource_column(env_id)))
    make(env_id, budget=1, constraint={METRIC: smallest})  # the smallest meets its own value
    with pytest.raises(ValueError, match=r"constraint .* is met by no architecture .* smallest values are params"):
        make(env_id, budget=1, constraint={METRIC: smallest * 0.999})


@table_ids
@pytest.mark.parametrize(
    "constraint, error, words",
    [
        ({"bogus": 1.0}, ValueError, ["constraint metric(s) ['bogus'] unknown", "accepted metrics", "'params'"]),
        ({"valid_acc": 50.0}, ValueError, ["constraint metric(s) ['valid_acc'] unknown"]),
        ({METRIC: math.nan}, ValueError, ["constraint 'params' must have a finite real upper limit", "nan"]),
        ({METRIC: "1.0"}, ValueError, ["constraint 'params' must have a finite real upper limit", "'1.0'"]),
        ({METRIC: True}, ValueError, ["constraint 'params' must have a finite real upper limit"]),
        ({}, ValueError, ["constraint must be None or a non-empty dict"]),
        ([("params", 1.0)], TypeError, ["constraint must be None or a non-empty dict"]),
        ({1: 1.0}, TypeError, ["constraint keys must be metric names"]),
    ],
)
def test_bad_constraints_raise_clear_errors(env_id, constraint, error, words):
    with pytest.raises(error) as exc:
        make(env_id, budget=1, constraint=constraint)
    for word in words:
        assert word in str(exc.value)


@table_ids
@pytest.mark.parametrize("reward, beta", [("abs", -2.0), ("abs", -0.1), ("mnasnet", -0.07), ("mnasnet", 1.5)])
def test_penalty_rewards_follow_their_formulas(env_id, reward, beta):
    limit = median_limit(resource_column(env_id))
    if reward == "mnasnet" and not get_space(gym.spec(env_id).kwargs["space"]).valid_acc_is_accuracy:
        with pytest.raises(ValueError, match=r"reward 'mnasnet' .* needs a quality Q >= 0.* negated loss"):
            make(env_id, budget=1, constraint={METRIC: limit}, reward=reward, reward_beta=beta)
        return
    env = make(env_id, budget=20, constraint={METRIC: limit}, reward=reward, reward_beta=beta)
    env.reset(seed=1)
    env.action_space.seed(1)
    truncated = False
    while not truncated:
        _, got, _, truncated, info = env.step(env.action_space.sample())
        if "arch" not in info:
            continue
        quality, ratio = info["valid_acc"] / 100.0, info["params"] / limit
        expected = quality + beta * abs(ratio - 1.0) if reward == "abs" else quality * ratio**beta
        assert got == pytest.approx(expected, rel=1e-12)


def test_penalty_reward_classes_by_hand():
    metrics = {"valid_acc": 70.0, "flops": 60.0}
    assert AbsReward("flops", 50.0, -2.0)(metrics) == pytest.approx(0.7 - 2.0 * 0.2)
    assert MnasNetReward("flops", 50.0, -0.07)(metrics) == pytest.approx(0.7 * 1.2**-0.07)
    assert AbsReward("flops", 50.0, -2.0)({"valid_acc": 70.0, "flops": 40.0}) == pytest.approx(0.7 - 2.0 * 0.2)
    with pytest.raises(ValueError, match="limit must be a positive target resource"):
        AbsReward("flops", 0.0, -1.0)


def test_mnasnet_reward_refuses_a_negative_quality():
    """Q * (T / T0) ** beta with Q < 0 would reward exceeding the limit: an error, never that reward."""
    reward = MnasNetReward("params", 0.01, -1.0)
    assert reward({"valid_acc": 0.0, "params": 0.02}) == 0.0
    with pytest.raises(
        ValueError, match=r"reward 'mnasnet' needs a quality valid_acc >= 0 .* -25\.0; use reward='abs'"
    ):
        reward({"valid_acc": -25.0, "params": 0.02})


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"reward": "abs", "constraint": {"flops": 50.0}}, ["reward 'abs' needs reward_beta"]),
        ({"reward": "mnasnet", "reward_beta": "x", "constraint": {"flops": 50.0}}, ["needs reward_beta", "'x'"]),
        ({"reward": "abs", "reward_beta": -1.0}, ["needs constraint with exactly one metric", "constraint=None"]),
        (
            {"reward": "abs", "reward_beta": -1.0, "constraint": {"flops": 50.0, "params": 1.0}},
            ["needs constraint with exactly one metric"],
        ),
        ({"reward_beta": -1.0}, ["reward_beta is for the penalty rewards", "reward='valid_acc'"]),
    ],
)
def test_bad_penalty_reward_arguments_raise_clear_errors(kwargs, words):
    with pytest.raises(ValueError) as exc:
        gym.make("NAS-Bench-201-Global-v0", budget=1, **kwargs)
    for word in words:
        assert word in str(exc.value)


@table_ids
def test_best_keys_and_agent_selection_count_feasible_architectures_only(env_id):
    if not env_id.endswith("-Global-v0"):
        pytest.skip("the Global flavour names whole architectures; the others reach the same _query")
    evaluator = make(env_id, budget=1).unwrapped.evaluator
    column = resource_values(evaluator)[METRIC]
    means = evaluator.table.mean("valid_acc") if isinstance(evaluator, TabularEvaluator) else None
    best = int(np.nanargmax(means))
    limit = float(np.nanmax(column[column < column[best]]))  # the best architecture is infeasible
    env = make(env_id, budget=30, constraint={METRIC: limit})
    space = env.unwrapped.search_space
    env.reset(seed=0)
    _, _, _, _, info = env.step(space.choices_of(best))  # the best of the space first: infeasible
    assert info["feasible"] is False and "best_arch" not in info
    result = make_agent("random").run(env, seed=3)
    incumbent = Incumbent()
    for q in result.queries:
        if q["feasible"]:
            incumbent.observe(q["index"], q["valid_acc"])
    summary = result.summary()
    if incumbent.index < 0:
        assert summary["best_arch"] is None and summary["best_resource"] is None
    else:
        assert summary["best_arch"] == space.arch_string(incumbent.index)
        assert summary["best_resource"][METRIC] <= limit
        assert env.unwrapped.history.best_index == incumbent.index
    assert summary["n_feasible_queries"] == sum(q["feasible"] for q in result.queries)


def test_several_metrics_at_once():
    env = gym.make("NAS-Bench-201-Global-v0", budget=5, constraint={"flops": 60.0, "latency_pixel3": 0.02})
    unwrapped = env.unwrapped
    values = resource_values(unwrapped.evaluator)
    expected = (values["flops"] <= 60.0) & (values["latency_pixel3"] <= 0.02)
    assert np.array_equal(unwrapped.constraint.feasible_mask, expected)
    assert 0 < expected.sum() < expected.size
    env.reset(seed=0)
    _, _, _, _, info = env.step(env.action_space.sample())
    assert set(info["resource"]) == {"flops", "latency_pixel3"}


def test_space_formulas_equal_the_table():
    """A live or API evaluator reads the space's formulas: they equal NAS-Bench-201's table."""
    space = get_space("nb201")
    for dataset in ("cifar10", "cifar100", "ImageNet16-120"):
        table = TabularEvaluator("nb201", dataset).table
        formulas = space.resources(space.enumerate(), dataset)
        for metric in ("flops", "params"):
            np.testing.assert_allclose(formulas[metric], table.mean(metric), rtol=1e-5)
    assert space.resources(space.enumerate(), "digits") == {}


def test_constraint_needs_a_resource_the_evaluator_knows():
    with pytest.raises(ValueError, match=r"accepted metrics: none \(this evaluator knows no resource"):
        gym.make("NAS-Bench-201-Global-v0", budget=1, evaluator="live", dataset="digits", constraint={"flops": 50.0})


def test_unconstrained_env_is_feasible_everywhere_and_has_no_resources():
    env = gym.make("NAS-Bench-201-Global-v0", budget=2).unwrapped
    assert env.is_feasible(0) is True and env.constraint is None
    assert env.is_feasible(np.zeros((3, 6), dtype=np.int64)).all()
    with pytest.raises(ValueError, match="make the env with constraint"):
        env.resources(0)


def test_is_feasible_takes_a_batch_of_choice_vectors():
    env = gym.make("NAS-Bench-201-Global-v0", budget=2, dataset="cifar100", constraint={"flops": 47.2}).unwrapped
    choices = env.search_space.enumerate()[::97]
    expected = [env.is_feasible(row) for row in choices]
    assert env.is_feasible(choices).tolist() == expected
    with pytest.raises(ValueError, match="arch must have a last dimension of 6"):
        env.is_feasible([1, 2])


def test_the_native_vector_env_refuses_a_constraint():
    with pytest.raises(ValueError, match="native vector env does not take a constraint.*vectorization_mode='sync'"):
        gym.make_vec("NAS-Bench-201-Global-v0", num_envs=2, constraint={"flops": 50.0})
    envs = gym.make_vec("NAS-Bench-201-Global-v0", num_envs=2, vectorization_mode="sync", constraint={"flops": 50.0})
    envs.reset(seed=0)
    _, _, _, _, infos = envs.step(envs.action_space.sample())
    assert infos["feasible"].dtype == bool


@pytest.mark.parametrize("dataset, shape, classes", [("digits", (1, 8, 8), 10), ("cifar100", (3, 32, 32), 100)])
def test_convnet_formulas_equal_the_counts_of_the_built_network(dataset, shape, classes):
    """The ConvNet envs train every query: their constraint reads these formulas, checked against
    the counters the live evaluator applies to the trained network."""
    from nasgym.models.convnet_net import build
    from nasgym.models.profile import count_flops, count_params

    space = get_space("convnet")
    choices = space.enumerate()[::61]
    formulas = space.resources(choices, dataset)
    for row, arch in enumerate(choices):
        network = build(arch, classes, shape[0])
        assert formulas["params"][row] == pytest.approx(count_params(network), rel=1e-12)
        assert formulas["flops"][row] == pytest.approx(count_flops(network, (1, *shape)), rel=1e-12)


def test_a_live_convnet_env_takes_a_constraint_without_training():
    env = gym.make("ConvNet-Global-v0", budget=1, constraint={"params": 0.02}).unwrapped
    params = get_space("convnet").resources(env.search_space.enumerate(), "digits")["params"]
    assert np.array_equal(env.constraint.feasible_mask, params <= 0.02)
    assert env.evaluator.n_trained == 0 and env.history.n_queries == 0
