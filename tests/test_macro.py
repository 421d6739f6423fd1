"""NAS-Bench-Macro: the shipped arrays against the benchmark's file, the seed split, the envs."""

from __future__ import annotations

import importlib.util
import itertools
import json
import math

import gymnasium as gym
import numpy as np
import pytest
from conftest import REPO_ROOT
from test_envs import query

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.spaces import NASBenchMacroSpace, get_space
from nasgym.tables import load_table
from nasgym.tables import macro as macro_tables

RAW_FILE = "nasbench-macro/nas-bench-macro_cifar10.json"
IDS = [f"NAS-Bench-Macro-{flavour}-v0" for flavour in ("Continuous", "Sequential", "Global")]
#: the best seed-0 accuracy (the reward), held by two keys whose networks are the same
BEST_KEYS = ("22212202", "22212220")


def _package_script():
    spec = importlib.util.spec_from_file_location("package_macro", REPO_ROOT / "scripts" / "package_macro.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def raw(shared_data) -> dict:
    return json.loads((shared_data / RAW_FILE).read_text())


@pytest.fixture(scope="module")
def table():
    return load_table("nasbench-macro", "cifar10")


def test_space_index_is_the_benchmark_key_in_base_3():
    space = get_space("nasbench-macro")
    assert isinstance(space, NASBenchMacroSpace) and space.size == 3**8 == 6561
    for key in ("00000000", "02012100", "22212220", "22222222"):
        choices = space.from_string(key)
        assert int(space.index_of(choices)) == int(key, 3)
        assert space.arch_string(int(key, 3)) == space.to_string(choices) == key
    for bad in ("0201210", "020121003", "02012103", "0201210x", 2012100):
        with pytest.raises(ValueError, match="8 digits in 0..2"):
            space.from_string(bad)


def test_shipped_arrays_equal_the_benchmark_file(raw):
    with np.load(macro_tables.DATA_FILE) as data:
        accs, params, flops = data["test_acc"], data["params"], data["flops"]
    assert accs.shape == (6561, 3) and accs.dtype == np.float32
    for key, record in raw.items():
        index = int(key, 3)
        assert accs[index].astype(np.float64).tolist() == record["test_acc"], key
        assert (int(params[index]), int(flops[index])) == (record["params"], record["flops"]), key


def test_package_script_reproduces_the_arrays_and_refuses_bad_records(raw):
    script = _package_script()
    packed = script.check_and_pack(raw)
    with np.load(macro_tables.DATA_FILE) as data:
        for name, values in packed.items():
            np.testing.assert_array_equal(values, data[name])
    key = "02012100"
    for field, value, message in [
        ("test_acc", [89.0, 88.0], "3 accuracies"),
        ("test_acc", [189.0, 88.0, 88.5], r"\(0, 100\]"),
        ("test_acc", [89.1, 88.9, 89.2], "float32"),
        ("mean_acc", 80.0, "mean_acc/std"),
        ("params", -5, "params must be a positive integer"),
        ("flops", 1.5, "flops must be a positive integer"),
    ]:
        broken = {**raw, key: {**raw[key], field: value}}
        with pytest.raises(ValueError, match=message):
            script.check_and_pack(broken)
    missing = dict(raw)
    del missing[key]
    with pytest.raises(ValueError, match="6561"):
        script.check_and_pack(missing)
    renamed = {("0201210x" if k == key else k): v for k, v in raw.items()}
    with pytest.raises(ValueError, match="8 digits"):
        script.check_and_pack(renamed)


def test_reward_seed_and_test_seeds(table, raw):
    # seed 0 is the validation stand-in, the mean of seeds 1 and 2 the test accuracy
    for key in ("02012100", "11111221", "00011110", *BEST_KEYS):
        index, accs = int(key, 3), raw[key]["test_acc"]
        assert table.values("valid_acc")[index].tolist() == [accs[0]]
        assert table.mean("test_acc")[index] == pytest.approx((accs[1] + accs[2]) / 2, abs=1e-12)
        assert table.mean("params")[index] == raw[key]["params"] / 1e6
        assert table.mean("flops")[index] == raw[key]["flops"] / 1e6
    assert np.isnan(table.values("latency")).all() and "train_time" not in table
    index, value = table.best("valid_acc")
    assert get_space("nasbench-macro").arch_string(index) == BEST_KEYS[0]
    assert value == pytest.approx(93.28, abs=1e-5)
    assert table.mean("test_acc")[index] == pytest.approx((93.33 + 92.77) / 2, abs=1e-5)


def test_repeated_records_are_the_same_network(table):
    """The file repeats one record for the keys of one network: identity layers after a stage's
    first layer (stages of 2, 3 and 3 layers) can sit anywhere among that stage's other layers."""

    def network(key: str) -> str:
        parts = []
        for start, end in ((0, 2), (2, 5), (5, 8)):
            blocks = [c for c in key[start + 1 : end] if c != "0"]
            parts.append(key[start] + "".join(blocks).ljust(end - start - 1, "0"))
        return "".join(parts)

    records = np.column_stack([table.values("valid_acc"), table.values("test_acc"), table.mean("params")])
    groups: dict[str, set] = {}
    for index, key in enumerate("".join(k) for k in itertools.product("012", repeat=8)):
        groups.setdefault(network(key), set()).add(tuple(records[index].tolist()))
    assert len(groups) == 3969
    assert all(len(values) == 1 for values in groups.values())
    assert len({next(iter(values)) for values in groups.values()}) == 3969


@pytest.mark.parametrize("env_id", IDS)
def test_env_rewards_seed_0_whatever_the_noise_mode(env_id, raw):
    space = get_space("nasbench-macro")
    key = "11111221"
    choices = space.from_string(key)
    rewards = []
    for noise, seed in itertools.product(("seed", "mean"), (0, 1, 2)):
        env = gym.make(env_id, noise=noise, budget=3).unwrapped
        env.reset(seed=seed)
        _, reward, _, _, info = query(env, choices)
        assert info["arch"] == key and info["valid_acc"] == raw[key]["test_acc"][0]
        assert info["test_acc"] == pytest.approx(sum(raw[key]["test_acc"][1:]) / 2, abs=1e-12)
        assert info["params"] == raw[key]["params"] / 1e6 and info["flops"] == raw[key]["flops"] / 1e6
        assert math.isnan(info["latency"]) and math.isnan(info["cost"]) and math.isnan(info["sim_time"])
        rewards.append(reward)
    assert rewards == [raw[key]["test_acc"][0] / 100] * 6


def test_unknown_dataset_names_the_accepted_one():
    with pytest.raises(ValueError, match=r"dataset 'cifar100'.*\['cifar10'\]"):
        gym.make("NAS-Bench-Macro-Global-v0", dataset="cifar100")
