"""The Optuna adapter: one trial is one query of the architecture the sampler proposed, TPE finds the
optimum of a small space, every sampler searches every registered env id it claims (or refuses it up
front), the sampler's seed comes from the run's, and bad names, arguments and flavours raise clear
errors (also through the CLI)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from conftest import make_registered_env
from test_agents import ToyEvaluator, check_registered_env, toy_env

from nasgym.agents import OPTUNA_AGENT_NAMES, make_agent
from nasgym.cli import main
from nasgym.envs import GlobalNASEnv
from nasgym.envs_registry import ENV_TABLE

optuna = pytest.importorskip("optuna")


@pytest.mark.parametrize("row", ENV_TABLE, ids=lambda row: row.id)
def test_tpe_searches_every_registered_env_it_claims_and_replays_its_seed(row):
    check_registered_env("optuna:TPE", row)  # every sampler claims the same ids: the Global ones


@pytest.mark.parametrize("name", OPTUNA_AGENT_NAMES)
def test_every_sampler_searches_and_replays_its_seed(name):
    # GP fits a Gaussian process per trial (seconds each on a shared CPU): two random trials, then one of its own
    kwargs, budget = ({"n_startup_trials": 2}, 3) if name == "optuna:GP" else ({}, 20)

    def indices(seed: int) -> list[int]:
        return [q["index"] for q in make_agent(name, **kwargs).run(toy_env("rea", budget), seed=seed).queries]

    first = indices(0)
    assert len(first) == budget
    assert indices(0) == first and indices(1) != first


def test_each_trial_is_one_query_of_the_proposed_architecture():
    evaluator = ToyEvaluator(noise_std=1.0)
    agent = make_agent("optuna:TPE")
    result = agent.run(toy_env("rea", 40, evaluator), seed=0)  # a Global env
    trials = agent.study.trials
    assert len(trials) == len(result.queries) == 40
    space = evaluator.space
    for trial, query in zip(trials, result.queries, strict=True):
        choices = [space.choices[d].index(trial.params[name]) for d, name in enumerate(space.decision_names)]
        assert query["index"] == int(space.index_of(np.array(choices)))
        assert trial.value == query["valid_acc"]  # observed, seed noise included


def test_tpe_finds_the_optimum_of_a_small_space():
    evaluator = ToyEvaluator()
    result = make_agent("optuna:TPE").run(toy_env("rea", 80, evaluator), seed=0)
    assert result.summary()["best_arch"] == evaluator.space.arch_string(evaluator.best_index)


def test_the_sampler_seed_comes_from_the_run_seed_and_optuna_logging_is_restored():
    optuna.logging.set_verbosity(optuna.logging.INFO)

    def indices(seed: int) -> list[int]:
        return [q["index"] for q in make_agent("optuna:TPE").run(toy_env("rea", 30), seed=seed).queries]

    first = indices(3)
    assert indices(3) == first and indices(4) != first
    assert optuna.logging.get_verbosity() == optuna.logging.INFO


def test_a_nan_accuracy_is_a_failed_trial():
    class HalfNaN(ToyEvaluator):
        def evaluate(self, indices, rng):
            answers = super().evaluate(indices, rng)
            answers["valid_acc"] = np.where(np.asarray(indices) % 2 == 0, np.nan, answers["valid_acc"])
            return answers

    evaluator = HalfNaN()
    agent = make_agent("optuna:TPE")
    result = agent.run(GlobalNASEnv(space="toy", evaluator=evaluator, budget=30), seed=0)
    states = [trial.state for trial in agent.study.trials]
    nan_queries = [np.isnan(q["valid_acc"]) for q in result.queries]
    assert any(nan_queries)
    assert states == [optuna.trial.TrialState.FAIL if nan else optuna.trial.TrialState.COMPLETE for nan in nan_queries]


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("optuna:Anneal", {}, r"'optuna:Anneal' is not available; accepted Optuna samplers: \['TPE'"),
        ("optuna:CmaEs", {}, "numeric parameters only .*use optuna:Random"),
        ("optuna:Grid", {}, "searches a grid given to it"),
        ("optuna:BruteForce", {}, r"only inside optimize\(\)"),
        ("optuna:TPE", {"n_startup": 5}, r"TPESampler takes no argument 'n_startup'; accepted: \[.*'n_startup_trials'"),
        ("optuna:TPE", {"seed": 1}, "'seed' is set by run"),
    ],
)
def test_bad_names_and_arguments_are_refused(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_agent(name, **kwargs)


def test_a_bad_sampler_argument_value_names_the_agent():
    env = toy_env("rea", 5)
    with pytest.raises(ValueError, match="agent 'optuna:NSGAII': "):
        make_agent("optuna:NSGAII", population_size=1).run(env, seed=0)


def test_other_flavours_are_refused_before_any_query():
    env = make_registered_env(ENV_TABLE[0], 5)  # NAS-Bench-201-Continuous-v0
    with pytest.raises(ValueError, match="agent 'optuna:TPE' searches Global envs only"):
        make_agent("optuna:TPE").run(env, seed=0)
    assert env.unwrapped.history.n_queries == 0


def test_cli_searches_with_an_optuna_sampler_and_lists_them(capsys):
    stdout = io.StringIO()
    argv = ["search", "--env", "NAS-Bench-201-Global-v0", "--agent", "optuna:TPE", "--budget", "15", "--quiet",
            "--agent-arg", "n_startup_trials=5"]  # fmt: skip
    assert main(argv, stdout=stdout) == 0
    summary = json.loads(stdout.getvalue())
    assert summary["agent"] == "optuna:TPE" and summary["n_queries"] == 15
    with pytest.raises(SystemExit):
        main(["search", "--help"], stdout=io.StringIO())
    assert "optuna:TPE (Global)" in capsys.readouterr().out
