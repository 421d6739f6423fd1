"""NAS-Bench-Graph: the space covers the benchmark's records one-to-one, the tables equal its files."""

from __future__ import annotations

import itertools
import math

import gymnasium as gym
import numpy as np
import pytest
from test_envs import query

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.spaces import NASBenchGraphProteinsSpace, NASBenchGraphSpace, get_space
from nasgym.spaces.graph import GRAPH_OPS, PROTEINS_OPS
from nasgym.tables import graph as graph_tables
from nasgym.tables import load_table
from nasgym.tables.importers.safe_pickle import load_pickle

pytest.importorskip("nas_bench_graph", reason="NAS-Bench-Graph's data comes with pip install 'nasgym[graph]'")
from nas_bench_graph.architecture import Arch  # noqa: E402  (the benchmark's own hashing, to check ours)

#: per dataset: the best validation architecture, its validation and test performance (%), record hash
BEST = {
    "cora": ("link=0-1-2-3,op0=fc,op1=gat,op2=fc,op3=gin", 81.93333333333334, 82.63333333333334, 87072),
    "citeseer": ("link=0-0-1-2,op0=gcn,op1=gcn,op2=sage,op3=sage", 72.80000000000001, 71.03333333333333, 31144),
    "pubmed": ("link=0-0-1-2,op0=gat,op1=gin,op2=gin,op3=sage", 81.13333333333334, 75.6, 30224),
    "cs": ("link=0-0-1-1,op0=graph,op1=arma,op2=gat,op3=cheb", 92.13333333333334, 90.58560351855012, 26503),
    "physics": ("link=0-1-1-2,op0=gat,op1=fc,op2=gcn,op3=fc", 94.0, 91.34518977114544, 60717),
    "photo": ("link=0-0-1-2,op0=gat,op1=fc,op2=sage,op3=cheb", 94.06666666666666, 92.08409764357273, 30743),
    "computers": ("link=0-1-2-2,op0=cheb,op1=gat,op2=cheb,op3=cheb", 91.89999999999999, 82.03296845483011, 73033),
    "arxiv": ("link=0-1-2-3,op0=cheb,op1=arma,op2=cheb,op3=cheb", 73.66666666666667, 71.95372027789779, 83533),
    "proteins": ("link=0-1-2-2,op0=sage,op1=arma,op2=fc,op3=skip", 85.33333333333334, 76.11243070764532, 74578),
}
IDS = [f"NAS-Bench-Graph-{flavour}-v0" for flavour in ("Continuous", "Sequential", "Global")]


def space_of(dataset: str) -> NASBenchGraphSpace:
    return NASBenchGraphProteinsSpace() if dataset == "proteins" else NASBenchGraphSpace()


def raw_records(dataset: str) -> dict:
    return load_pickle(graph_tables._bench_file(dataset))


def test_spaces():
    space, proteins = get_space("nasbench-graph"), get_space("nasbench-graph-proteins")
    assert space.size == 9 * 8 * 9**3 == 52488 and proteins.size == 9 * 4 * 5**3 == 4500
    assert space.choices[1] == tuple(op for op in GRAPH_OPS if op != "skip")
    assert proteins.choices[1] == ("gcn", "sage", "arma", "fc") and proteins.choices[4] == PROTEINS_OPS
    text = "link=0-1-2-3,op0=gcn,op1=gin,op2=fc,op3=cheb"
    choices = space.from_string(text)
    assert space.to_string(choices) == text
    assert space.benchmark_arch(choices) == ([0, 1, 2, 3], ["gcn", "gin", "fc", "cheb"])
    with pytest.raises(ValueError, match="op0"):
        space.from_string("link=0-1-2-3,op0=skip,op1=gin,op2=fc,op3=cheb")  # no first skip node
    with pytest.raises(ValueError, match="link"):
        space.from_string("link=0-1-0-3,op0=gcn,op1=gin,op2=fc,op3=cheb")  # not a canonical link


@pytest.mark.parametrize("dataset", ["cora", "proteins"])
def test_every_choice_vector_has_a_record_and_every_record_is_reached(dataset):
    space = space_of(dataset)
    keys = graph_tables.record_keys(space.name)
    records = raw_records(dataset)
    assert set(keys.tolist()) == set(records)
    assert len(records) == (2021 if dataset == "proteins" else 26206)
    # the all-skip network, the one the benchmark did not train, is not in the space
    assert Arch([0, 0, 0, 0], ["skip"] * 4).valid_hash() not in records
    # the benchmark's hash of a few vectors, recomputed here from its own class
    rng = np.random.default_rng(0)
    for index in rng.integers(0, space.size, 50).tolist():
        links, ops = space.benchmark_arch(space.choices_of(index))
        assert keys[index] == Arch(links, ops).valid_hash()


def test_isomorphic_vectors_share_one_record():
    space = space_of("cora")
    table = load_table("nasbench-graph", "cora")
    official = table.values("official_index")[:, 0]
    # four nodes all fed by the input: any order of the same ops is the same network
    orders = {
        int(space.index_of(space.from_string(f"link=0-0-0-0,op0={a},op1={b},op2={c},op3={d}")))
        for a, b, c, d in itertools.permutations(["gcn", "gat", "sage", "fc"])
    }
    assert len(orders) == 24 and len({official[i] for i in orders}) == 1
    assert len({table.values("valid_acc")[i, 0] for i in orders}) == 1
    # a first node that is a skip connection: that network is in the space in another form
    skip_first = Arch([0, 1, 2, 3], ["skip", "gcn", "gin", "fc"]).valid_hash()
    assert (official == skip_first).any()


@pytest.mark.parametrize("dataset", list(BEST))
def test_tables_equal_the_benchmark_files_and_the_best_architecture(dataset):
    space, records = space_of(dataset), raw_records(dataset)
    table = load_table(space.name, dataset)
    assert table.n_archs == space.size
    official = table.values("official_index")[:, 0].astype(np.int64)
    rng = np.random.default_rng(1)
    for index in rng.integers(0, space.size, 20).tolist():
        record = records[int(official[index])]
        assert table.values("valid_acc")[index].tolist() == [record["valid_perf"] * 100]
        assert table.values("test_acc")[index].tolist() == [record["perf"] * 100]
        assert table.values("latency")[index].tolist() == [record["latency"]]
        assert table.values("params")[index].tolist() == [float(record["para"])]
    assert np.isnan(table.values("flops")).all() and "train_time" not in table
    arch, valid, test, key = BEST[dataset]
    index, best_valid = table.best("valid_acc")
    assert (space.arch_string(index), best_valid, table.mean("test_acc")[index]) == (arch, valid, test)
    assert official[index] == key and max(r["valid_perf"] for r in records.values()) * 100 == valid


@pytest.mark.parametrize("env_id", IDS)
def test_env_queries_cora_by_default(env_id):
    env = gym.make(env_id, budget=2).unwrapped
    assert env.dataset == "cora"
    env.reset(seed=0)
    arch, valid, test, _ = BEST["cora"]
    choices = env.search_space.from_string(arch)
    _, reward, _, _, info = query(env, choices)
    assert (info["arch"], info["valid_acc"], info["test_acc"]) == (arch, valid, test)
    assert reward == valid / 100 and info["params"] > 0 and info["latency"] > 0
    assert math.isnan(info["flops"]) and math.isnan(info["cost"])


def test_seed_and_mean_noise_agree_one_value_per_architecture():
    rewards = {}
    for noise in ("seed", "mean"):
        env = gym.make("NAS-Bench-Graph-Global-v0", dataset="citeseer", noise=noise, budget=30).unwrapped
        env.reset(seed=3)
        rng = np.random.default_rng(3)
        rewards[noise] = [env.step(rng.integers(0, env.search_space.n_choices))[1] for _ in range(30)]
    assert rewards["seed"] == rewards["mean"]


def test_datasets_and_their_spaces():
    with pytest.raises(ValueError, match=r"dataset 'proteins' is unknown.*'cora'.*'arxiv'"):
        gym.make("NAS-Bench-Graph-Global-v0", dataset="proteins")
    with pytest.raises(ValueError, match=r"dataset 'cora' is unknown.*\['proteins'\]"):
        gym.make("NAS-Bench-Graph-Proteins-Global-v0", dataset="cora")
    env = gym.make("NAS-Bench-Graph-Proteins-Global-v0").unwrapped
    assert env.dataset == "proteins" and env.action_space.nvec.tolist() == [9, 4, 5, 5, 5]


def test_sequential_tokens_wrap_at_the_first_op_and_masks_keep_the_canonical_ones():
    env = gym.make("NAS-Bench-Graph-Proteins-Sequential-v0", budget=2).unwrapped
    env.reset(seed=0)
    assert env.action_space.n == 9 and env.action_masks().all()  # link: 9 choices
    # link 3, op0 token 6 -> 6 mod 4 = arma, op1 4 = skip, op2 token 8 -> 8 mod 5 = fc, op3 1 = sage
    for token, n_choices in zip((3, 6, 4, 8, 1), (9, 4, 5, 5, 5), strict=True):
        np.testing.assert_array_equal(env.action_masks(), np.arange(9) < n_choices)
        _, _, _, _, info = env.step(token)
    assert info["arch"] == "link=0-0-1-2,op0=arma,op1=skip,op2=fc,op3=sage"
    with pytest.raises(ValueError, match="action"):
        env.step(9)  # outside Discrete(9)
