"""Search spaces: the index <-> choices <-> string bijection, encodings and input checks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nasgym.spaces import NB201_OPS, NB201Space, SearchSpace, get_space

NATS_FORM = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"


@pytest.fixture(scope="module")
def space() -> NB201Space:
    return NB201Space()


@pytest.fixture(scope="module")
def all_choices(space) -> np.ndarray:
    return space.enumerate()


def uneven_space() -> SearchSpace:
    """A generic space whose decisions have different numbers of choices (radices 2, 3, 4)."""
    return SearchSpace("toy", ["a", "b", "c"], [("x", "y"), ("p", "q", "r"), ("0", "1", "2", "3")])


# --- NB201 --------------------------------------------------------------------------------------
def test_nb201_size_and_shape(space):
    assert space.size == 15625 == 5**6
    assert space.n_decisions == 6
    assert space.n_choices.tolist() == [5] * 6
    assert get_space("nb201").size == 15625


def test_get_space_unknown_names_accepted():
    with pytest.raises(ValueError, match=r"space 'nope'.*nb201"):
        get_space("nope")


def test_enumerate_is_lexicographic_first_edge_most_significant(space, all_choices):
    # row i of enumerate() must be the i-th vector of the lexicographic product order
    expected = np.array(list(itertools.product(range(5), repeat=6)), dtype=np.int64)
    assert all_choices.dtype == np.int64
    np.testing.assert_array_equal(all_choices, expected)
    assert space.index_of(np.array([1, 0, 0, 0, 0, 0])) == 5**5
    assert space.index_of(np.array([0, 0, 0, 0, 0, 1])) == 1


def test_index_choices_round_trip_all(space, all_choices):
    indices = np.arange(space.size)
    np.testing.assert_array_equal(space.index_of(all_choices), indices)
    np.testing.assert_array_equal(space.choices_of(indices), all_choices)


def test_vectorised_over_leading_dimensions(space):
    indices = np.arange(24).reshape(2, 3, 4) * 601
    choices = space.choices_of(indices)
    assert choices.shape == (2, 3, 4, 6)
    np.testing.assert_array_equal(space.index_of(choices), indices)
    assert space.choices_of(7).shape == (6,)


def test_string_round_trip_all(space, all_choices):
    strings = [space.arch_string(i) for i in range(space.size)]
    assert strings == [space.to_string(c) for c in all_choices]
    np.testing.assert_array_equal(np.stack([space.from_string(s) for s in strings]), all_choices)
    assert len(set(strings)) == space.size


def test_string_format_matches_nats(space):
    choices = np.array([3, 3, 4, 1, 3, 1])
    text = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    assert space.to_string(choices) == text
    assert space.op_string(choices) == "334131"
    assert list(NB201_OPS) == ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


@pytest.mark.parametrize(
    "text",
    [
        "|none~0|+|none~0|none~1|",  # two groups
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|",  # four groups
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~1|",  # wrong source index
        "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",  # wrong source index on the first edge
        "|none~0|+|none~0|conv~1|+|none~0|none~1|none~2|",  # unknown op
        "|none~0|+|none~0|+|none~0|none~1|none~2|",  # too few edges into node 2
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2",  # missing closing pipe
        "|none|+|none~0|none~1|+|none~0|none~1|none~2|",  # no '~j'
        "",
        123,
        None,
        ["|none~0|"],
    ],
)
def test_malformed_string_shows_expected_form(space, text):
    with pytest.raises(ValueError) as info:
        space.from_string(text)
    assert NATS_FORM in str(info.value)


def test_one_hot_and_features(space, all_choices):
    encoded = space.one_hot(all_choices[123])
    assert encoded.shape == (6, 5) and encoded.dtype == np.float32
    assert encoded.sum() == 6
    np.testing.assert_array_equal(encoded.sum(axis=1), np.ones(6))
    np.testing.assert_array_equal(encoded.argmax(axis=1), all_choices[123])

    batch = space.one_hot(all_choices)
    assert batch.shape == (space.size, 6, 5)
    np.testing.assert_array_equal(batch.argmax(axis=-1), all_choices)
    # each op appears on every edge in exactly a fifth of the space
    np.testing.assert_array_equal(batch.sum(axis=0), np.full((6, 5), space.size // 5))

    features = space.features(all_choices)
    assert features.shape == (space.size, 30)
    np.testing.assert_array_equal(features, batch.reshape(space.size, 30))
    assert space.features(all_choices[0]).shape == (30,)


def test_op_counts(space):
    choices = np.array([3, 3, 4, 1, 3, 1])
    assert space.op_counts(choices).tolist() == [0, 2, 0, 3, 1]
    assert space.op_counts(space.enumerate()).sum(axis=1).tolist() == [6] * space.size


@pytest.mark.parametrize(
    "bad, why",
    [
        (np.zeros(5, dtype=np.int64), "last dimension of 6"),
        (np.zeros((2, 7), dtype=np.int64), "last dimension of 6"),
        (np.zeros(6, dtype=np.float32), "integer"),
        (np.array([0, 0, 0, 0, 0, 5]), "out of range"),
        (np.array([-1, 0, 0, 0, 0, 0]), "out of range"),
    ],
)
def test_check_choices_names_argument(space, bad, why):
    with pytest.raises(ValueError, match=why) as info:
        space.check_choices(bad, "action")
    assert str(info.value).startswith("action")
    with pytest.raises(ValueError, match="^choices"):  # the default argument name
        space.index_of(bad)


@pytest.mark.parametrize("bad, why", [(15625, "0..15624"), (-1, "0..15624"), (np.array([1, 20000]), "0..15624"),
                                      (1.0, "integer"), ("3", "integer")])  # fmt: skip
def test_check_index_names_argument(space, bad, why):
    with pytest.raises(ValueError, match=why) as info:
        space.check_index(bad, "indices")
    assert str(info.value).startswith("indices")
    with pytest.raises(ValueError, match="^index"):
        space.choices_of(bad)


# --- a generic space with uneven radices --------------------------------------------------------
def test_uneven_space_round_trip():
    toy = uneven_space()
    assert toy.size == 24 and toy.max_choices == 4
    expected = np.array(list(itertools.product(range(2), range(3), range(4))))
    np.testing.assert_array_equal(toy.enumerate(), expected)
    np.testing.assert_array_equal(toy.index_of(expected), np.arange(24))
    strings = set()
    for index, choices in enumerate(expected):
        text = toy.to_string(choices)
        assert text == toy.arch_string(index)
        np.testing.assert_array_equal(toy.from_string(text), choices)
        strings.add(text)
    assert len(strings) == 24
    assert toy.arch_string(23) == "a=y,b=r,c=3"


def test_uneven_space_one_hot_pads_with_zeros():
    toy = uneven_space()
    encoded = toy.one_hot(np.array([1, 2, 3]))
    assert encoded.shape == (3, 4)
    np.testing.assert_array_equal(encoded, [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    with pytest.raises(ValueError, match="out of range"):
        toy.check_choices(np.array([2, 0, 0]))  # decision a has only 2 choices
    with pytest.raises(ValueError, match="out of range"):
        toy.check_choices(np.array([0, 3, 0]))


@pytest.mark.parametrize("text", ["a=x,b=p", "a=x,b=p,c=4", "a=x,c=p,b=0", "a=z,b=p,c=0", "a=x;b=p;c=0", 7])
def test_uneven_space_malformed_string(text):
    with pytest.raises(ValueError, match="expected the form 'a=x,b=p,c=0'"):
        uneven_space().from_string(text)


def test_space_constructor_checks():
    with pytest.raises(ValueError, match="one tuple of choices per decision"):
        SearchSpace("bad", ["a", "b"], [("x",)])
    with pytest.raises(ValueError, match="at least one choice"):
        SearchSpace("bad", ["a"], [()])


# --- the public API agents rely on ----------------------------------------------------------------
def test_radix_weights_public_and_read_only(space):
    assert space.radix_weights.tolist() == [5**5, 5**4, 5**3, 5**2, 5, 1]
    with pytest.raises(ValueError):
        space.radix_weights[0] = 1
    choices = np.array([[1, 2, 3, 4, 0, 1], [4, 4, 4, 4, 4, 4]])
    np.testing.assert_array_equal(choices @ space.radix_weights, space.index_of(choices))
    assert type(space.size) is int and space.enumerable and space.is_product


def test_sample_is_the_draws_of_integers_per_architecture(space):
    one = space.sample(np.random.default_rng(3))
    assert one.shape == (6,)
    np.testing.assert_array_equal(one, np.random.default_rng(3).integers(0, space.n_choices))
    rng = np.random.default_rng(4)
    expected = np.stack([rng.integers(0, space.n_choices) for _ in range(5)])
    np.testing.assert_array_equal(space.sample(np.random.default_rng(4), 5), expected)
    with pytest.raises(ValueError, match="n must be"):
        space.sample(np.random.default_rng(0), -1)


def test_sample_of_a_non_product_space_is_uniform_and_canonical():
    convnet = get_space("convnet")
    drawn = convnet.sample(np.random.default_rng(0), 20_000)
    np.testing.assert_array_equal(drawn, convnet.canonical(drawn))
    depth_counts = np.bincount(drawn[:, 0], minlength=5) / len(drawn)
    expected = 4.0 ** np.arange(1, 6) / convnet.size  # uniform over networks, not over choice vectors
    np.testing.assert_allclose(depth_counts, expected, atol=0.01)


def test_neighbours_of_a_product_space(space):
    centre = np.array([1, 2, 3, 4, 0, 1])
    rows = space.neighbours(centre)
    assert rows.shape == (24, 6)
    assert ((rows != centre).sum(axis=1) == 1).all()
    assert len(set(space.index_of(rows).tolist())) == 24
    assert rows[0].tolist() == [0, 2, 3, 4, 0, 1] and rows[-1].tolist() == [1, 2, 3, 4, 0, 4]


def test_neighbours_of_a_non_product_space_are_canonical_and_distinct():
    convnet = get_space("convnet")
    one_layer = convnet.choices_of(0)  # k3c32
    rows = convnet.neighbours(one_layer)
    # depth 2..5 (new layers at choice 0), kernel 1, channels 1: the padded decisions change nothing
    assert [convnet.to_string(r) for r in rows] == [
        "k3c32-k3c32", "k3c32-k3c32-k3c32", "k3c32-k3c32-k3c32-k3c32", "k3c32-k3c32-k3c32-k3c32-k3c32",
        "k5c32", "k3c64",
    ]  # fmt: skip
    np.testing.assert_array_equal(rows, convnet.canonical(rows))


def test_large_space_never_enumerates_and_indices_stay_exact():
    big = SearchSpace("big", [f"d{i}" for i in range(20)], [tuple("abcdefgh")] * 20)
    assert big.size == 8**20 and type(big.size) is int and not big.enumerable
    with pytest.raises(ValueError, match="enumerate"):
        big.enumerate()
    last = np.full(20, 7)
    assert int(big.index_of(last)) == big.size - 1
    np.testing.assert_array_equal(big.choices_of(big.size - 1), last)
    with pytest.raises(ValueError, match="index"):
        big.choices_of(big.size)


def test_space_too_large_for_int64_is_refused():
    with pytest.raises(ValueError, match="int64"):
        SearchSpace("huge", [f"d{i}" for i in range(64)], [("0", "1")] * 64)


def test_env_hooks_of_a_product_space():
    """The defaults the Continuous/Sequential envs use: argmax per decision (padding never wins),
    vertex = 2 * one-hot - 1, one token per decision."""
    toy = uneven_space()  # radices 2, 3, 4: max_choices 4
    assert toy.relaxation_shape == (3, 4) and toy.feature_size == 12
    assert (toy.sequence_length, toy.sequence_width) == (3, 4)
    scores = np.array([[0.1, 0.2, 0.9, 0.9], [0.5, 0.1, 0.3, 0.8], [0.0, 0.0, 0.0, 0.1]])
    assert toy.decode_relaxation(scores) == int(toy.index_of(np.array([1, 0, 3])))  # columns 2-3 / 3 are padding
    np.testing.assert_allclose(
        toy.uniform_features(), [1 / 2, 1 / 2, 0, 0, 1 / 3, 1 / 3, 1 / 3, 0, 1 / 4, 1 / 4, 1 / 4, 1 / 4]
    )
    for index in range(toy.size):
        choices = toy.choices_of(index)
        assert toy.decode_relaxation(toy.vertex(choices).reshape(3, 4)) == index
        tokens = toy.sequence_of(choices)
        assert tokens == choices.tolist() and toy.sequence_index(tokens) == index
    assert toy.sequence_mask([1]).tolist() == [True, True, True, False]
    assert not toy.sequence_valid([], 2) and toy.sequence_valid([1, 2], 3)
