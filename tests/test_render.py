"""render_mode="ansi" and "rgb_array" on every registered env id, and Gymnasium's checker with
its render checks (it makes the env again in each declared render mode and renders it)."""

from __future__ import annotations

import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import load_env_creator

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.envs.render import FRAME_SHAPE, RENDER_MODES
from nasgym.envs_registry import ENV_IDS, ENV_TABLE
from nasgym.spaces import get_space

ids = pytest.mark.parametrize("env_id", ENV_IDS)
TEST_KWARGS = {row.id: row.test_kwargs for row in ENV_TABLE}


def make(env_id: str, **kwargs) -> gym.Env:
    """``gym.make`` with the registry's test kwargs; skips, with the reason, where the id's
    benchmark data is absent."""
    try:
        return gym.make(env_id, **{**TEST_KWARGS[env_id], **kwargs})
    except FileNotFoundError as exc:
        pytest.skip(f"{env_id}: its benchmark data is absent ({exc})")


def run_queries(env: gym.Env, n_queries: int, seed: int = 0) -> list[dict]:
    """Step random actions until ``n_queries`` queries are made; the infos of the queries."""
    env.reset(seed=seed)
    env.action_space.seed(seed)
    infos = []
    while len(infos) < n_queries:
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        if "index" in info:
            infos.append(info)
        assert not terminated and not (truncated and len(infos) < n_queries)
    return infos


@ids
def test_gymnasium_env_checker_with_its_render_checks(env_id, nan_equal_env_checker):
    for render_mode in (None, *RENDER_MODES):
        nan_equal_env_checker.check_env(make(env_id, budget=20, render_mode=render_mode).unwrapped)


@ids
def test_metadata_declares_the_modes_and_fps(env_id):
    metadata = make(env_id).metadata
    assert metadata["render_modes"] == list(RENDER_MODES)
    assert metadata["render_fps"] > 0


@ids
@pytest.mark.parametrize("render_mode", ["human", "rgb", "", 3])
def test_unknown_render_mode_is_a_value_error_naming_the_accepted_ones(env_id, render_mode):
    # the env class itself (gym.make answers "human" with its HumanRendering wrapper over rgb_array)
    env_class = load_env_creator(gym.spec(env_id).entry_point)
    kwargs = {**gym.spec(env_id).kwargs, **TEST_KWARGS[env_id]}
    with pytest.raises(ValueError, match=r"render_mode .*accepted: None or one of \['ansi', 'rgb_array'\]"):
        env_class(render_mode=render_mode, **kwargs)


@ids
def test_without_a_render_mode_render_returns_none(env_id):
    env = make(env_id, budget=3).unwrapped
    run_queries(env, 2)
    with pytest.warns(UserWarning, match="without a render mode"):
        assert env.render() is None
    assert env.render_log == []  # nothing is recorded for rendering


@ids
def test_ansi_names_the_last_and_the_best_architecture_and_the_progress(env_id):
    env = make(env_id, budget=10, render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert "none yet" in text and "0 / 10" in text
    infos = run_queries(env, 4)
    text = env.render()
    last, best = infos[-1], infos[-1]
    assert f"last: {last['arch']}  valid {last['valid_acc']:.2f}" in text
    assert f"best: {best['best_arch']}  valid {best['best_valid_acc']:.2f}" in text
    assert "4 / 10" in text


@ids
def test_rgb_array_draws_a_frame_that_changes_with_the_search(env_id, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # drawn with numpy alone
    env = make(env_id, budget=10, render_mode="rgb_array")
    env.reset(seed=0)
    empty = env.render()
    assert empty.shape == (*FRAME_SHAPE, 3) and empty.dtype == np.uint8
    infos = run_queries(env, 6)
    frame = env.render()
    assert frame.shape == (*FRAME_SHAPE, 3) and frame.dtype == np.uint8
    assert (frame != empty).any(axis=2).mean() > 0.01  # the architecture and the curve are drawn
    # the curve is the best validation accuracy after each query, as the infos report it
    assert [best for _, _, best in env.unwrapped.render_log] == [info["best_valid_acc"] for info in infos]
    env.reset()
    assert env.unwrapped.render_log == []


def test_nb201_cell_graph_has_the_ops_of_the_arch_string():
    space = get_space("nb201")
    choices = space.from_string("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    ((title, edges),) = space.cell_graphs(choices)
    assert title == "cell"
    assert edges == [
        (0, 1, "nor_conv_3x3"),
        (0, 2, "none"),
        (1, 2, "avg_pool_3x3"),
        (0, 3, "skip_connect"),
        (1, 3, "nor_conv_1x1"),
        (2, 3, "none"),
    ]


def test_darts_cell_graphs_are_the_genotype():
    space = get_space("darts")
    choices = np.zeros(space.n_decisions, dtype=np.int64)
    graphs = dict(space.cell_graphs(choices))
    genotype = space.genotype(choices)
    assert set(graphs) == {"normal", "reduce"}
    for cell, edges in graphs.items():
        assert [(op, source) for source, _, op in edges] == genotype[cell]
        assert [target for _, target, _ in edges] == [2, 2, 3, 3, 4, 4, 5, 5]


def test_a_space_without_cells_is_listed_by_its_decisions():
    space = get_space("convnet")
    assert space.cell_graphs(space.choices_of(5)) == []
    with pytest.raises(ValueError, match="choices"):
        space.cell_graphs(np.array([99]))
