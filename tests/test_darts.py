"""The DARTS cell space: size and index, genotype strings, DARTS's relaxation decoding, the ENAS
token order, and the NAS-Bench-301 envs' actions (written out from DARTS's own rules here)."""

from __future__ import annotations

import math
from itertools import combinations

import gymnasium as gym
import numpy as np
import pytest

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.spaces import DARTS_OPS, DartsSpace, get_space

#: the DARTS (second order) cell of Liu et al. as DARTS's genotypes.py lists it (strongest edge first)
DARTS_V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)
#: the same cell in nasgym's canonical form: in each node the lower-numbered input first
DARTS_V2_CANONICAL = DARTS_V2.replace(
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)",
    "('skip_connect', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('dil_conv_3x3', 2)",
).replace(
    "('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
    "('max_pool_3x3', 1)",
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), ('skip_connect', 2), ('max_pool_3x3', 1), "
    "('skip_connect', 2)",
)
NB301_OPS = [
    "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
]  # fmt: skip


@pytest.fixture(scope="module")
def space() -> DartsSpace:
    return get_space("darts")


def reference_genotype(weights: np.ndarray) -> str:
    """DARTS's ``genotype()._parse`` on relaxation weights (2 x 14 x 7), written from the DARTS
    code: per node the two edges with the largest op weight (Python's stable sort), the argmax op
    of each; printed as DARTS prints a Genotype."""
    cells = []
    for cell in weights:
        gene, start = [], 0
        for node in range(4):
            end = start + node + 2
            W = cell[start:end].tolist()
            edges = sorted(range(node + 2), key=lambda x: -max(W[x]))[:2]
            for j in edges:
                k_best = max(range(len(W[j])), key=lambda k: (W[j][k], -k))  # first of the largest
                gene.append((NB301_OPS[k_best], j))
            start = end
        cells.append(gene)
    return f"Genotype(normal={cells[0]}, normal_concat=[2, 3, 4, 5], reduce={cells[1]}, reduce_concat=[2, 3, 4, 5])"


# --- the space ------------------------------------------------------------------------------------
def test_size_index_and_never_enumerated(space):
    pairs = [math.comb(n, 2) for n in (2, 3, 4, 5)]
    assert pairs == [1, 3, 6, 10]
    assert space.size == (math.prod(pairs) * 7**8) ** 2 == 1_076_746_950_455_072_400 < 2**63
    assert type(space.size) is int and space.is_product and not space.enumerable
    with pytest.raises(ValueError, match="enumerate"):
        space.enumerate()
    assert space.n_choices.tolist() == [1, 7, 7, 3, 7, 7, 6, 7, 7, 10, 7, 7] * 2
    assert list(DARTS_OPS) == NB301_OPS  # NAS-Bench-301's configuration-space order
    last = space.n_choices - 1
    assert int(space.index_of(last)) == space.size - 1
    np.testing.assert_array_equal(space.choices_of(space.size - 1), last)
    with pytest.raises(ValueError, match="index"):
        space.choices_of(space.size)


def test_round_trips_of_sampled_architectures(space):
    choices = space.sample(np.random.default_rng(0), 500)
    indices = space.index_of(choices)
    assert indices.dtype == np.int64 and len(set(indices.tolist())) == 500
    np.testing.assert_array_equal(space.choices_of(indices), choices)
    for row, index in zip(choices[:100], indices[:100].tolist(), strict=True):
        text = space.arch_string(index)
        assert text == space.to_string(row)
        np.testing.assert_array_equal(space.from_string(text), row)


def test_sampling_is_uniform_over_architectures(space):
    drawn = space.sample(np.random.default_rng(1), 20_000)
    for decision, n in enumerate(space.n_choices.tolist()):
        frequencies = np.bincount(drawn[:, decision], minlength=n) / len(drawn)
        np.testing.assert_allclose(frequencies, 1 / n, atol=0.02)


def test_darts_genotype_string(space):
    choices = space.from_string(DARTS_V2)
    assert space.to_string(choices) == DARTS_V2_CANONICAL
    np.testing.assert_array_equal(space.from_string(DARTS_V2_CANONICAL), choices)
    # as DARTS's search prints it
    printed = DARTS_V2.replace("[2, 3, 4, 5]", "range(2, 6)")
    np.testing.assert_array_equal(space.from_string(printed), choices)
    cells = space.genotype(choices)
    assert cells["normal"][:2] == [("sep_conv_3x3", 0), ("sep_conv_3x3", 1)]
    assert cells["reduce"][-2:] == [("max_pool_3x3", 1), ("skip_connect", 2)]


@pytest.mark.parametrize(
    "bad, why",
    [
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 0)"), "input 0 twice"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"), "inputs 0..4, got 5"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('none', 2)"), "unknown operation 'none'"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)], normal", "], normal"), "needs 8 pairs"),
        (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3]"), "not of the form"),
        ("|nor_conv_3x3~0|+|", "not of the form"),
        (12, "not a string"),
    ],
)
def test_malformed_genotype_strings_are_refused(space, bad, why):
    with pytest.raises(ValueError, match=rf"genotype string.*{why}.*e\.g\."):
        space.from_string(bad)


def test_features_and_edge_ops(space):
    choices = space.from_string(DARTS_V2)
    encoded = space.features(choices).reshape(2, 14, 7)
    ops = space.edge_ops(choices).reshape(2, 14)
    # normal node 2: sep3 on both inputs; node 3: sep3 from 0 and 1; node 4: skip from 0, sep3 from 1;
    # node 5: skip from 0, dil3 from 2 (edges in DARTS's order: 0-1, 2-4, 5-8, 9-13)
    sep3, skip, dil3 = (NB301_OPS.index(op) for op in ("sep_conv_3x3", "skip_connect", "dil_conv_3x3"))
    assert ops[0].tolist() == [sep3, sep3, sep3, sep3, -1, skip, sep3, -1, -1, skip, -1, dil3, -1, -1]
    assert encoded.sum() == 16 and encoded.sum(axis=2).max() == 1
    for cell in range(2):
        active = np.flatnonzero(ops[cell] >= 0)
        np.testing.assert_array_equal(np.flatnonzero(encoded[cell].sum(axis=1)), active)
        np.testing.assert_array_equal(encoded[cell][active].argmax(axis=1), ops[cell][active])
    batch = space.sample(np.random.default_rng(2), 7)
    assert space.features(batch).shape == (7, 196)
    assert space.features(batch.reshape(7, 1, 24)).shape == (7, 1, 196)


def test_uniform_features_are_the_mean_encoding(space):
    mean = space.features(space.sample(np.random.default_rng(3), 40_000)).mean(axis=0)
    np.testing.assert_allclose(space.uniform_features(), mean, atol=0.01)


def test_neighbours_change_one_decision(space):
    centre = space.from_string(DARTS_V2)
    rows = space.neighbours(centre)
    assert rows.shape == (int((space.n_choices - 1).sum()), 24) == (128, 24)
    assert ((rows != centre).sum(axis=1) == 1).all()
    assert len(set(space.index_of(rows).tolist())) == 128


# --- the relaxation (Continuous flavour) ------------------------------------------------------------
def test_decoding_is_dartss_derivation(space):
    rng = np.random.default_rng(4)
    for trial in range(300):
        weights = rng.uniform(-1, 1, (2, 14, 7)).astype(np.float32)
        if trial % 3 == 0:  # ties: coarse values, so equal strengths and equal ops occur
            weights = np.round(weights * 2) / 2
        expected = int(space.index_of(space.from_string(reference_genotype(weights))))
        assert space.decode_relaxation(weights.reshape(28, 7)) == expected


def test_vertex_decodes_to_its_architecture(space):
    for choices in space.sample(np.random.default_rng(5), 200):
        vertex = space.vertex(choices)
        assert vertex.shape == (196,) and set(np.unique(vertex).tolist()) == {-1.0, 1.0}
        assert space.decode_relaxation(vertex.reshape(28, 7)) == int(space.index_of(choices))


# --- the token sequence (Sequential flavour) -----------------------------------------------------
def reference_tokens_to_genotype(tokens: list[int]) -> dict[str, list[tuple[str, int]]]:
    """The documented reading of ENAS-order tokens: per node n (2..5), first input t mod n, second
    the (t mod (n - 1))-th of the other predecessors, then the two ops."""
    cells = {"normal": [], "reduce": []}
    for slot in range(8):
        cell, n = ("normal", "reduce")[slot // 4], 2 + slot % 4
        first_token, second_token, first_op, second_op = tokens[4 * slot : 4 * slot + 4]
        first = first_token % n
        second = [x for x in range(n) if x != first][second_token % (n - 1)]
        cells[cell] += sorted([(NB301_OPS[first_op], first), (NB301_OPS[second_op], second)], key=lambda g: g[1])
    return cells


def test_every_token_sequence_is_a_valid_cell(space):
    rng = np.random.default_rng(6)
    assert (space.sequence_length, space.sequence_width) == (32, 7)
    for _ in range(300):
        tokens = rng.integers(0, 7, 32).tolist()
        assert all(space.sequence_valid(tokens[:k], t) for k, t in enumerate(tokens))
        index = space.sequence_index(tokens)
        assert space.genotype(space.choices_of(index)) == reference_tokens_to_genotype(tokens)
    assert not space.sequence_valid([], 7) and not space.sequence_valid([], -1)


def test_canonical_tokens_and_masks(space):
    for choices in space.sample(np.random.default_rng(7), 100):
        tokens = space.sequence_of(choices)
        assert space.sequence_index(tokens) == int(space.index_of(choices))
        assert all(space.sequence_mask(tokens[:k])[t] for k, t in enumerate(tokens))  # canonical tokens pass
    # node n: first input among n, second among the n - 1 others, ops among 7
    widths = [int(space.sequence_mask([0] * k).sum()) for k in range(32)]
    assert widths == [2, 1, 7, 7, 3, 2, 7, 7, 4, 3, 7, 7, 5, 4, 7, 7] * 2


# --- the NAS-Bench-301 envs ----------------------------------------------------------------------
def test_continuous_env_decodes_as_darts_and_exposes_the_vertex():
    env = gym.make("NAS-Bench-301-Continuous-v0", budget=20).unwrapped
    space = env.search_space
    env.reset(seed=0)
    rng = np.random.default_rng(8)
    for _ in range(5):
        action = rng.uniform(-1, 1, 196).astype(np.float32)
        info = env.step(action)[4]
        assert info["arch"] == space.to_string(space.from_string(reference_genotype(action.reshape(2, 14, 7))))
        assert info["index"] == env.decode(action)
    choices = space.from_string(DARTS_V2)
    index = int(space.index_of(choices))
    assert env.decode(env.vertex(index)) == index
    assert env.step(env.vertex(index))[4]["arch"] == DARTS_V2_CANONICAL


def test_sequential_env_in_enas_order_with_masks():
    env = gym.make("NAS-Bench-301-Sequential-v0", budget=3).unwrapped
    space = env.search_space
    env.reset(seed=0)
    assert env.max_query_steps == 32
    tokens = space.sequence_of(space.from_string(DARTS_V2))
    for token in tokens:
        mask = env.action_masks()
        assert mask.dtype == bool and mask.shape == (7,) and mask[token]
        with pytest.raises(ValueError, match=r"action 7 is out of range.*0\.\.6"):
            env.step(7)
        obs, reward, _, _, info = env.step(token)
    assert info["arch"] == DARTS_V2_CANONICAL and reward == pytest.approx(info["valid_acc"] / 100)
    # the second input can never repeat the first: token 0 then 0 at node 2 means inputs 0 and 1
    for token in [0, 0, 3, 3] + [6] * 28:
        info = env.step(token)[4]
    assert info["arch"].startswith("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ")


def test_global_env_takes_the_product_decisions():
    env = gym.make("NAS-Bench-301-Global-v0", budget=3).unwrapped
    env.reset(seed=0)
    choices = env.search_space.from_string(DARTS_V2)
    info = env.step(choices)[4]
    assert info["arch"] == DARTS_V2_CANONICAL and info["index"] == int(env.search_space.index_of(choices))
    too_far = choices.copy()
    too_far[9] = 10  # node 5 has 10 input pairs: 0..9
    with pytest.raises(ValueError, match="action out of range"):
        env.step(too_far)


def test_pairs_are_nb301s_levels():
    from nasgym.spaces.darts import PAIRS

    assert [[f"{a}_{b}" for a, b in pairs] for pairs in PAIRS] == [
        [f"{a}_{b}" for a, b in combinations(range(n), 2)] for n in (2, 3, 4, 5)
    ]
