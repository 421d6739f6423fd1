"""The FFN spaces (TabNAS): exact parameter counts, tabular loaders, exact batched training, resumable builds."""

from __future__ import annotations

import gzip
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_envs import query

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.evaluators.build import build_table
from nasgym.evaluators.live import LiveEvaluator
from nasgym.models.profile import count_flops, count_params
from nasgym.spaces import FFN_WIDTHS, FFNSpace, get_space
from nasgym.training.config import TrainConfig
from nasgym.training.ffn import BatchedFFN, build_ffn, evaluate_group, fit_group, padded_widths, seeded_networks
from nasgym.training.tabular import CRITEO_COLUMNS, MIN_CATEGORY_COUNT, load_tabular
from nasgym.training.trainer import sgd_with_schedule

TINY = {"epochs": 1, "batch_size": 32, "device": "cpu", "progress": False}
#: an FFN env that trains (the default answers connect_4 from the shipped table)
LIVE_ENV = {"evaluator": "live", **TINY}


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory) -> str:
    """90 rows: two numeric features (one with a missing value), one categorical, 3 classes."""
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("tabular")
    lines = ["x1,x2,colour,target"]
    for i in range(90):
        x1, x2 = rng.normal(size=2)
        colour = ["red", "green", "blue"][i % 3] if i % 10 else "violet"
        lines.append(f"{x1:.4f},{'' if i == 5 else f'{x2:.4f}'},{colour},{int(x1 > 0) + int(x2 > 0.5)}")
    (folder / "tiny.csv").write_text("\n".join(lines) + "\n")
    return str(folder)


# --- the space ------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_layers, size", [(2, 400), (3, 8000)])
def test_space_sizes_and_strings(n_layers, size):
    space = get_space(f"ffn{n_layers}")
    assert isinstance(space, FFNSpace) and space.size == size == len(FFN_WIDTHS) ** n_layers
    bottleneck = "-".join(["32", "144", "24"][:n_layers])
    choices = space.from_string(bottleneck)
    assert space.arch_string(int(space.index_of(choices))) == bottleneck
    with pytest.raises(ValueError, match=r"arch string '32-100'.*widths"):
        space.from_string("32-100")
    with pytest.raises(ValueError, match=r"n_layers must be one of \[2, 3\]"):
        FFNSpace(4)


@pytest.mark.parametrize("n_layers", [2, 3])
def test_param_count_equals_torch(n_layers):
    space = get_space(f"ffn{n_layers}")
    archs = space.sample(np.random.default_rng(n_layers), 25)
    counts = space.param_count(archs, 125, 3)
    for choices, count in zip(archs, counts, strict=True):
        net = build_ffn(space.widths(choices).tolist(), 125, 3)
        assert count == sum(p.numel() for p in net.parameters()) == round(count_params(net) * 1e6)
        assert count == round(count_flops(net, (1, 125)) * 1e6)  # multiply-adds (with bias) equal the params
    with pytest.raises(ValueError, match="n_inputs must be an integer >= 1"):
        space.param_count(archs, 0, 3)


# --- loaders ----------------------------------------------------------------------------------------
def test_pmlb_connect_4(shared_data):
    data = load_tabular("connect_4", shared_data / "tabular")
    n = len(data.y_train) + len(data.y_valid) + len(data.y_test)
    assert n == 67557 and len(data.y_train) == int(0.6 * n) and data.n_classes == 3
    # every feature is a category code: one-hot columns, nothing standardised
    assert all("=" in name for name in data.feature_names) and set(np.unique(data.x_train)) == {0.0, 1.0}
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64


def test_pmlb_numeric_features_are_standardised_on_train(shared_data):
    data = load_tabular("magic", shared_data / "tabular")
    assert data.n_inputs == 10 and data.n_classes == 2
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.x_train.std(axis=0), 1, atol=1e-4)
    assert np.abs(data.x_valid.mean(axis=0)).max() > 1e-4  # the valid split is not refitted


def test_criteo_standard_format(shared_data, tmp_path):
    """The sample is comma-separated with a header; the standard files are tab-separated without one."""
    lines = (shared_data / "criteo" / "criteo_sample.txt").read_text().splitlines()
    assert lines[0].split(",") == list(CRITEO_COLUMNS)
    with gzip.open(tmp_path / "criteo.txt.gz", "wt") as handle:
        handle.write("\n".join(line.replace(",", "\t") for line in lines[1:]) + "\n")
    data = load_tabular("criteo", tmp_path)
    assert len(data.y_train) + len(data.y_valid) + len(data.y_test) == 200 and data.n_classes == 2
    numeric = [name for name in data.feature_names if "=" not in name]
    assert numeric == [f"I{i}" for i in range(1, 14)]
    assert np.isfinite(data.x_train).all() and np.isfinite(data.x_test).all()  # missing counts filled
    for name in data.feature_names[13:]:  # only categories seen MIN_CATEGORY_COUNT times in training
        column = data.x_train[:, data.feature_names.index(name)]
        assert column.sum() >= MIN_CATEGORY_COUNT
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "criteo.txt").write_text("0\t1\t2\n")
    with pytest.raises(ValueError, match="line 1: 3 tab-separated fields.*40"):
        load_tabular("criteo", tmp_path / "bad")


def test_csv_with_a_target_column(tiny_csv, tmp_path):
    data = load_tabular("tiny", tiny_csv)
    assert data.feature_names == ("x1", "x2", "colour=blue", "colour=green", "colour=red")  # violet is rare
    assert data.n_classes == 3 and np.isfinite(data.x_train).all()
    again = load_tabular("tiny", tiny_csv, split_seed=1)
    assert not np.array_equal(again.y_train, data.y_train)  # another seed, another split
    (tmp_path / "nolabel.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no column 'target'"):
        load_tabular("nolabel", tmp_path)
    with pytest.raises(FileNotFoundError, match="no file of tabular dataset 'absent'"):
        load_tabular("absent", tmp_path)
    with pytest.raises(ValueError, match="not a tabular dataset name"):
        LiveEvaluator("ffn2", "../up", data_dir=tmp_path, **TINY)


# --- batched training ---------------------------------------------------------------------------------
def _train_alone(net: torch.nn.Sequential, x, y, config: TrainConfig) -> torch.nn.Sequential:
    """The plain loop the batched one must reproduce: same optimiser, schedule and batch order."""
    steps = config.epochs * math.ceil(len(y) / config.batch_size)
    optimizer, scheduler = sgd_with_schedule(net.parameters(), config, steps)
    generator = torch.Generator().manual_seed(config.seed)
    for _ in range(config.epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), config.batch_size):
            index = order[start : start + config.batch_size]
            optimizer.zero_grad()
            F.cross_entropy(net(x[index]), y[index]).backward()
            optimizer.step()
            scheduler.step()
    return net


def test_batched_training_equals_training_each_network_alone(tiny_csv):
    data = load_tabular("tiny", tiny_csv)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    widths = [[8, 24], [48, 64], [16, 8]]  # one padded shape (64, 64): most units are padding
    assert {padded_widths(w) for w in widths} == {(64, 64)}
    config = TrainConfig(epochs=3, batch_size=16, lr=0.05, seed=3, device="cpu", progress=False)
    batched = BatchedFFN(seeded_networks(widths, data.n_inputs, data.n_classes, seed=3), (64, 64))
    fit_group(batched, x, y, config)
    alone = [
        _train_alone(net, x, y, config)
        for net in seeded_networks(widths, data.n_inputs, data.n_classes, seed=3)
    ]
    xv, yv = torch.from_numpy(data.x_valid), torch.from_numpy(data.y_valid)
    loss, acc = evaluate_group(batched, xv, yv)
    for g, net in enumerate(alone):
        linears = [m for m in net if isinstance(m, torch.nn.Linear)]
        for layer, linear in enumerate(linears):
            weight = batched.weights[layer][g]
            np.testing.assert_allclose(
                weight[: linear.in_features, : linear.out_features].detach(), linear.weight.detach().T, atol=1e-5
            )
            assert not weight[linear.in_features :].any() and not weight[:, linear.out_features :].any()  # padding
        with torch.no_grad():
            logits = net(xv)
        assert loss[g] == pytest.approx(F.cross_entropy(logits, yv).item(), abs=1e-5)
        assert acc[g] == pytest.approx(100.0 * (logits.argmax(1) == yv).float().mean().item())


# --- the live evaluator and the build ---------------------------------------------------------------
def test_live_evaluator_reports_exact_params_and_a_network_trains_the_same_in_any_group(tiny_csv, tmp_path):
    space = get_space("ffn2")
    together = LiveEvaluator("ffn2", "tiny", data_dir=tiny_csv, store=tmp_path / "a.sqlite", **TINY)
    indices = np.array([0, 57, 399])
    metrics = together.evaluate(indices)
    data = load_tabular("tiny", tiny_csv)
    np.testing.assert_array_equal(metrics["params"] * 1e6, space.param_count(space.choices_of(indices), 5, 3))
    assert np.isnan(metrics["latency"]).all() and (metrics["cost"] > 0).all()
    alone = LiveEvaluator("ffn2", "tiny", data_dir=tiny_csv, store=tmp_path / "b.sqlite", **TINY)
    one = alone.evaluate_one(57)
    assert one["valid_acc"] == pytest.approx(metrics["valid_acc"][1], abs=100 / len(data.y_valid) + 1e-9)
    with pytest.raises(ValueError, match="train_rows is for the tabular spaces"):
        LiveEvaluator("convnet", "digits", store=tmp_path / "c.sqlite", train_rows=10, **TINY)


def test_build_resumes_from_the_store(tiny_csv, tmp_path):
    first = LiveEvaluator("ffn2", "tiny", data_dir=tiny_csv, cache_dir=tmp_path, **TINY)
    first.evaluate(np.arange(0, 400, 7))  # a build interrupted after 58 networks
    first.close()
    path, evaluator = build_table("ffn2", "tiny", cache_dir=tmp_path, data_dir=tiny_csv, **TINY)
    assert (evaluator.n_cached, evaluator.n_trained) == (58, 342)
    _, again = build_table("ffn2", "tiny", cache_dir=tmp_path, data_dir=tiny_csv, **TINY)
    assert (again.n_cached, again.n_trained) == (400, 0)
    assert path.is_dir()
    # the FFN envs read the built table instead of training
    env = gym.make("FFN-Global-v0", dataset="tiny", evaluator="tabular", cache_dir=tmp_path, budget=2).unwrapped
    env.reset(seed=0)
    _, reward, _, _, info = query(env, env.search_space.from_string("32-144"))
    stored = again.evaluate_one(int(env.search_space.index_of(env.search_space.from_string("32-144"))))
    assert info["valid_acc"] == stored["valid_acc"] and reward == pytest.approx(stored["valid_acc"] / 100)


@pytest.mark.parametrize("flavour", ["Continuous", "Sequential", "Global"])
def test_envs_train_each_query_live(flavour, tiny_csv, tmp_path):
    """(The env checkers run on every FFN id in test_envs, with the synthetic evaluator: a live
    query's ``info`` holds its own wall time and whether the store served it, so no two are equal.)"""
    env = gym.make(f"FFN-{flavour}-v0", dataset="tiny", data_dir=tiny_csv, cache_dir=tmp_path, budget=2, **LIVE_ENV)
    env = env.unwrapped
    assert env.search_space.name == "ffn2" and isinstance(env.evaluator, LiveEvaluator)
    env.reset(seed=0)
    choices = env.search_space.from_string("32-144")
    _, reward, _, truncated, info = query(env, choices)
    assert info["arch"] == "32-144" and reward == pytest.approx(info["valid_acc"] / 100) and not truncated
    assert info["params"] * 1e6 == env.search_space.param_count(choices, 5, 3) and 0 <= info["test_acc"] <= 100
    _, again, _, truncated, info = query(env, choices)
    assert again == reward and info["cached"] and truncated


def test_a_parameter_limit_is_known_without_training(tiny_csv, tmp_path):
    env = gym.make(
        "FFN-Global-v0", dataset="tiny", data_dir=tiny_csv, cache_dir=tmp_path, constraint={"params": 0.005}, **LIVE_ENV
    ).unwrapped
    space = env.search_space
    # 5 encoded inputs, 3 classes: 32-144 has 6*32 + 33*144 + 145*3 = 5,379 parameters, 8-8 has 147
    assert env.is_feasible("8-8") and not env.is_feasible("32-144")
    assert env.resources("32-144") == {"params": pytest.approx(0.005379)}
    feasible = env.is_feasible(space.enumerate())
    np.testing.assert_array_equal(feasible, space.param_count(space.enumerate(), 5, 3) <= 5000)
    assert env.evaluator.n_trained == 0


# --- the shipped table ----------------------------------------------------------------------------------
def test_shipped_connect_4_table_answers_the_envs():
    from nasgym.evaluators import TabularEvaluator
    from nasgym.tables import ffn as ffn_tables
    from nasgym.tables import load_table

    space = get_space("ffn2")
    table = load_table("ffn2", "connect_4")
    assert table.coverage()["valid_acc"] == table.coverage()["test_acc"] == 400
    counts = space.param_count(space.enumerate(), 125, 3)  # connect_4: 125 one-hot inputs, 3 classes
    np.testing.assert_allclose(table.values("params")[:, 0] * 1e6, counts, rtol=0, atol=1e-6)
    assert 33 < table.mean("valid_acc").min() and table.mean("valid_acc").max() < 100
    folder = ffn_tables.DATA_FILE.parent
    provenance = (folder / "PROVENANCE.md").read_text()
    assert "nasgym data build ffn2 --dataset connect_4" in provenance and "shared" not in provenance
    assert (folder / "LICENSE-pmlb").read_text().startswith("MIT License")
    env = gym.make("FFN-Global-v0", budget=2).unwrapped  # the default: this table, no training
    assert isinstance(env.evaluator, TabularEvaluator) and env.dataset == "connect_4"
    env.reset(seed=0)
    _, reward, _, _, info = query(env, space.from_string("32-144"))
    index = int(space.index_of(space.from_string("32-144")))
    assert info["valid_acc"] == table.values("valid_acc")[index, 0] and reward == info["valid_acc"] / 100
