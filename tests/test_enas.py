"""ENAS and RSPS on a tiny supernet env: the two phases (training queries, then final candidates
scored under frozen shared weights, the best of which is returned), NAS-Bench-201's controller,
the agent interface and the CLI, same seed same run, and clear refusals."""

from __future__ import annotations

import io
import json

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nasgym.agents import ENAS, RSPS, make_agent  # noqa: E402
from nasgym.agents._utils import agent_rng, torch_seed  # noqa: E402
from nasgym.agents.enas import build_enas_controller  # noqa: E402
from nasgym.agents.weight_sharing import SharedWeightsResult  # noqa: E402
from nasgym.cli import main  # noqa: E402

#: one SGD step of 16 images per query, scored on 16 validation images
TINY = {"steps": 1, "batch_size": 16, "valid_size": 16, "num_threads": 1}


def supernet_env(budget: int, **kwargs) -> gym.Env:
    return gym.make(
        "NAS-Bench-201-Global-v0", evaluator="supernet", dataset="digits", budget=budget, **{**TINY, **kwargs}
    )


def best_of(queries: list[dict]) -> str:
    """The arch of the best validation accuracy among ``queries`` (ties: the first)."""
    return max(queries, key=lambda q: (q["valid_acc"], -queries.index(q)))["arch"]


@pytest.mark.parametrize("agent", [ENAS(aggregate=2, candidates=4), RSPS(candidates=4)], ids=["enas", "rsps"])
def test_training_queries_then_frozen_candidates_the_best_of_which_is_returned(agent):
    env = supernet_env(12)
    result = agent.run(env, seed=0)
    assert isinstance(result, SharedWeightsResult)
    assert len(result.queries) == 12 and result.candidates_from == 8
    assert env.unwrapped.evaluator.trained_steps == 8  # one step per training query, none for the candidates
    summary = result.summary()
    assert summary["best_arch"] == best_of(result.queries[8:])
    assert summary["n_queries"] == 12 and summary["sim_time"] == pytest.approx(sum(q["cost"] for q in result.queries))


def test_enas_controller_is_nas_bench_201s_and_learns():
    agent = ENAS(aggregate=2, candidates=2)
    agent.run(supernet_env(10), seed=3)
    controller = agent.controller
    assert controller.lstm.num_layers == 2 and controller.lstm.hidden_size == 32
    assert controller.head.out_features == 5 and controller.embedding.num_embeddings == 5
    # the same initial weights, rebuilt: 4 Adam steps (8 training queries, 2 per step) moved them
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(agent_rng(3)))
        initial = build_enas_controller([5] * 6, 32, 2, 5.0, 2.5)
        for parameter in initial.parameters():
            torch.nn.init.uniform_(parameter, -0.1, 0.1)
    for (name, before), after in zip(initial.named_parameters(), controller.parameters(), strict=True):
        assert before.shape == after.shape
        assert not torch.equal(before, after), name
    # logits bounded by the tanh constant: no choice is more than e^5 times likelier than another
    with torch.no_grad():
        choices, log_prob, entropy = controller.sample(np.random.default_rng(0))
    assert choices.shape == (6,) and ((0 <= choices) & (choices < 5)).all()
    assert -6 * (np.log(5) + 5) < log_prob.item() < 0 < entropy.item() <= 6 * np.log(5) + 1e-6


@pytest.mark.parametrize("name, kwargs", [("enas", {"aggregate": 2}), ("rsps", {})])
def test_same_seed_same_run(name, kwargs):
    runs = [make_agent(name, candidates=3, **kwargs).run(supernet_env(8), seed=seed) for seed in (0, 0, 1)]
    observed = [[(q["index"], q["valid_acc"]) for q in run.queries] for run in runs]
    assert observed[0] == observed[1]
    assert [i for i, _ in observed[0]] != [i for i, _ in observed[2]]


def test_cli_runs_enas_and_rsps(tmp_path):
    for agent in ("enas", "rsps"):
        out = tmp_path / f"{agent}.jsonl"
        argv = ["search", "--env", "NAS-Bench-201-Global-v0", "--agent", agent, "--budget", "6", "--dataset",
                "digits", "--agent-arg", "candidates=2", "--out", str(out), "--quiet", "--env-arg",
                "evaluator=supernet"]  # fmt: skip
        argv += [arg for key, value in TINY.items() for arg in ("--env-arg", f"{key}={value}")]
        stdout = io.StringIO()
        assert main(argv, stdout=stdout) == 0
        summary = json.loads(stdout.getvalue())
        queries = [json.loads(line) for line in out.read_text().splitlines()]
        assert summary["agent"] == agent and summary["n_queries"] == len(queries) == 6
        assert summary["best_arch"] == best_of(queries[4:])


def test_refusals_name_the_agent_and_what_it_needs():
    tabular = gym.make("NAS-Bench-201-Global-v0", budget=20)
    for agent in ("enas", "rsps"):
        with pytest.raises(ValueError, match=f"agent '{agent}' cannot search .*make the env with evaluator='supernet'"):
            make_agent(agent).run(tabular, seed=0)
    assert tabular.unwrapped.history.n_queries == 0
    with pytest.raises(ValueError, match="agent 'enas' cannot search .*sampling='architecture'"):
        make_agent("enas").run(supernet_env(20, sampling="uniform"), seed=0)
    with pytest.raises(ValueError, match="budget of 10 queries must exceed candidates=10"):
        make_agent("rsps", candidates=10).run(supernet_env(10), seed=0)
    with pytest.raises(ValueError, match="agent 'rsps' searches Global envs only"):
        make_agent("rsps").run(gym.make("NAS-Bench-201-Sequential-v0", budget=5), seed=0)
    assert make_agent("enas").n_candidates(1000) == 100 and make_agent("enas").n_candidates(30) == 15
