"""``nasgym bench``: the grid's rows agree with the evaluator, the table and plot are written, runs
resume, a failing run loses no other, simulated-time runs stop at the limit, bad arguments fail early."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
from collections import Counter
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from conftest import selected_by_definition

from nasgym.agents import AGENTS, RandomSearch, make_agent
from nasgym.bench import (
    COLUMNS,
    RUN_COLUMNS,
    BenchConfig,
    SimTimeLimit,
    curve_on_grid,
    load_histories,
    mean_and_band,
    migrate,
    parse_agent,
    read_history,
    rescore,
    run_bench,
    split_agents,
)
from nasgym.bench.histories import replace_histories
from nasgym.bench.runs import write_runs
from nasgym.cli import main
from nasgym.evaluators import TabularEvaluator
from nasgym.selection import incumbents
from nasgym.spaces import get_space

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def bench(*argv: str) -> tuple[int, str]:
    stdout = io.StringIO()
    code = main(["bench", "--quiet", *argv], stdout=stdout)
    return code, stdout.getvalue()


def read_rows(out) -> list[dict[str, str]]:
    with open(out / "runs.csv", newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """A tiny grid in two worker processes: 2 agents x 2 datasets x budget 15 x 2 seeds."""
    out = tmp_path_factory.mktemp("grid")
    argv = ["--agents", "random,rea", "--datasets", "cifar10,cifar100", "--budgets", "15", "--seeds", "2"]
    code, text = bench(*argv, "--seed-start", "3", "--workers", "2", "--out", str(out))
    assert code == 0
    return out, argv, text


def test_grid_rows_agree_with_the_evaluator(grid):
    out, _, _ = grid
    with open(out / "runs.csv", newline="") as file:
        header = next(csv.reader(file))
    assert tuple(header) == COLUMNS and tuple(header[: len(RUN_COLUMNS)]) == RUN_COLUMNS
    rows = read_rows(out)
    keys = {(r["agent"], r["env"], r["dataset"], r["seed"]) for r in rows}
    assert len(rows) == len(keys) == 8
    assert {(r["agent"], r["env"]) for r in rows} == {
        ("random", "NAS-Bench-201-Continuous-v0"),  # random's first flavour
        ("rea", "NAS-Bench-201-Global-v0"),
    }
    assert {r["seed"] for r in rows} == {"3", "4"}
    space = get_space("nb201")
    for row in rows:
        assert row["budget"] == row["n_queries"] == "15" and row["sim_time_limit"] == ""
        index = int(row["best_index"])
        assert row["best_arch"] == space.arch_string(index)
        mean = TabularEvaluator("nb201", row["dataset"], noise="mean").evaluate(np.array([index]), None)
        assert float(row["best_valid_acc"]) == pytest.approx(mean["valid_acc"][0], abs=1e-9)
        history = read_history(out, row)
        assert len(history["index"]) == 15 and history["index"].dtype == np.int64
        expected, observed_mean = selected_by_definition(history["index"], history["valid_acc"])
        assert index == expected and history["valid_acc"].dtype == np.float64  # the observations, exactly
        assert int(row["queries_to_best"]) == int(np.argmax(history["index"] == index)) + 1  # first queried
        assert float(row["best_valid_acc_observed"]) == observed_mean
        assert history["best_valid_acc"][-1] == pytest.approx(float(row["best_valid_acc"]), abs=1e-4)
        assert float(row["sim_time"]) == pytest.approx(history["sim_time"][-1])


def test_table_and_plot(grid):
    out, argv, text = grid
    table = (out / "table.md").read_text()
    assert table in text  # the command prints it
    command = json.loads((out / "commands.jsonl").read_text().splitlines()[0])["command"]
    assert command.startswith("nasgym bench --agents random,rea") and "--seed-start 3" in command
    assert f"`{command}`" in table and "nasgym 0.1.0" in table
    rows = [r for r in read_rows(out) if r["agent"] == "rea" and r["dataset"] == "cifar100"]
    valid = np.array([float(r["best_valid_acc"]) for r in rows])
    line = next(line for line in table.splitlines() if line.startswith("| rea | 15 queries |"))
    assert f"{valid.mean():.2f} ± {valid.std(ddof=1):.2f}" in line and "(n=2)" in line
    assert "| L2NAS-500 | 500 queries | 91.36 / 94.11 | 72.47 / 72.69 |" in table  # the paper's rows beside
    assert (out / "anytime.png").read_bytes()[:8] == PNG_MAGIC
    assert not (out / "anytime_sim_time.png").exists()


def test_rerun_resumes_and_plot_only_rebuilds(grid):
    out, argv, _ = grid
    before = (out / "runs.csv").read_text()
    code, text = bench(*argv, "--seed-start", "3", "--workers", "2", "--out", str(out))
    assert code == 0 and "0 runs done, 8 already" in text
    assert (out / "runs.csv").read_text() == before
    table = (out / "table.md").read_text()
    (out / "table.md").unlink()
    (out / "anytime.png").unlink()
    code, text = bench("--plot-only", "--out", str(out))
    assert code == 0 and (out / "table.md").read_text() == table == text
    assert (out / "anytime.png").read_bytes()[:8] == PNG_MAGIC


def test_rescore_recomputes_rows_from_histories(grid, tmp_path):
    source, _, _ = grid
    out = tmp_path / "grid"
    shutil.copytree(source, out)
    fresh = read_rows(out)
    code, text = bench("--rescore", "--out", str(out))
    assert code == 0 and "rescored 8 runs" in text
    assert read_rows(out) == fresh  # rescoring a run made with the current rule changes nothing
    # an older run: float32 observations, and a selected architecture that the rule no longer picks
    row = fresh[0]
    key = (row["history"], int(row["seed"]))
    history = read_history(out, row)
    history["valid_acc"] = history["valid_acc"].astype(np.float32)
    history["best_valid_acc"] = np.zeros_like(history["best_valid_acc"])
    replace_histories(out, {key: history})
    stale = [dict(r, best_index="0", best_arch="x", best_valid_acc="1.0", queries_to_best="1") for r in fresh]
    with open(out / "runs.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, COLUMNS)
        writer.writeheader()
        writer.writerows(stale)
    assert bench("--rescore", "--out", str(out))[0] == 0
    assert read_rows(out) == fresh
    rescored, original = read_history(out, row), read_history(source, row)
    assert rescored["best_valid_acc"].tolist() == original["best_valid_acc"].tolist()
    assert rescored["valid_acc"].dtype == np.float32  # the observations are left as they were
    history["valid_acc"] = np.full_like(history["valid_acc"], 12.5)  # no seed of any arch observed that
    replace_histories(out, {key: history})
    with pytest.raises(ValueError, match="none of its seeds' values"):
        rescore(out)


class FlakyAgent(RandomSearch):
    """Random search that fails on seed 1 while ``fail`` is set."""

    name = "flaky"
    fail = True

    def search(self, env: gym.Env, seed: int) -> None:
        if seed == 1 and FlakyAgent.fail:
            raise RuntimeError("flaky agent broke on seed 1")
        super().search(env, seed)


def test_a_failing_run_loses_no_other_and_is_retried(tmp_path, monkeypatch):
    monkeypatch.setitem(AGENTS, "flaky", FlakyAgent)  # in this process: --workers 1
    argv = ["--agents", "rea,flaky", "--datasets", "cifar10", "--budgets", "5", "--seeds", "3", "--workers", "1"]
    code, text = bench(*argv, "--out", str(tmp_path))
    assert code == 1
    assert (
        "1 of 6 runs failed" in text
        and "flaky@Continuous on NAS-Bench-201-Continuous-v0 cifar10, 5 queries, seed 1" in text
    )
    assert "RuntimeError: flaky agent broke on seed 1" in text
    assert {(r["agent"], r["seed"]) for r in read_rows(tmp_path)} == {
        ("rea", "0"),
        ("rea", "1"),
        ("rea", "2"),
        ("flaky", "0"),
        ("flaky", "2"),
    }
    (failure,) = [json.loads(line) for line in (tmp_path / "failures.jsonl").read_text().splitlines()]
    assert failure["agent"] == "flaky" and failure["seed"] == 1 and "flaky agent broke" in failure["error"]
    assert "1 run(s) of the latest invocation failed" in (tmp_path / "table.md").read_text()

    monkeypatch.setattr(FlakyAgent, "fail", False)
    code, text = bench(*argv, "--out", str(tmp_path))
    assert code == 0 and "1 runs done, 5 already" in text
    assert len(read_rows(tmp_path)) == 6 and not (tmp_path / "failures.jsonl").exists()


def test_sim_time_runs_stop_at_the_query_that_reaches_the_limit(tmp_path, base_cache):
    limit = 20000.0  # a 200-epoch query costs about 1,800 s on cifar10
    config = BenchConfig(
        ["random"], ["cifar10"], [], seeds=2, out=tmp_path, sim_time=limit, workers=1, cache_dir=base_cache
    )
    report = run_bench(config, progress=False)
    assert report.completed == 2 and not report.failures
    for row in read_rows(tmp_path):
        assert row["budget"] == "" and float(row["sim_time_limit"]) == limit
        sim_time = read_history(tmp_path, row)["sim_time"]
        assert sim_time[-1] >= limit > sim_time[-2]  # the query that crosses the limit is the last, and counts
        assert int(row["n_queries"]) == len(sim_time) and float(row["sim_time"]) == pytest.approx(sim_time[-1])
    assert "| random | 20,000 s simulated |" in (tmp_path / "table.md").read_text()
    assert (tmp_path / "anytime_sim_time.png").read_bytes()[:8] == PNG_MAGIC
    assert not (tmp_path / "anytime.png").exists()


def test_sim_time_limit_wrapper(base_cache):
    env = SimTimeLimit(gym.make("NAS-Bench-201-Sequential-v0", budget=1000, cache_dir=base_cache), limit=5000.0)
    env.reset(seed=0)
    steps = []
    truncated = False
    while not truncated:
        _, _, _, truncated, info = env.step(env.action_space.sample())
        steps.append(info)
    queries = [info for info in steps if "arch" in info]
    assert "arch" in steps[-1] and steps[-1]["sim_time"] >= 5000.0 > queries[-2]["sim_time"]
    with pytest.raises(ValueError, match="limit must be a finite number"):
        SimTimeLimit(env, math.nan)


def test_nas_bench_201_protocol_12_epoch_reward_searched_on_cifar10(tmp_path, imported_cache):
    config = BenchConfig(
        ["rea"],
        ["cifar10", "cifar100"],
        [],
        seeds=1,
        out=tmp_path,
        sim_time=3000.0,
        fidelity=12,
        search_dataset="cifar10",
        workers=1,
        cache_dir=imported_cache,
    )
    assert not run_bench(config, progress=False).failures
    rows = {row["dataset"]: row for row in read_rows(tmp_path)}
    assert rows["cifar10"]["best_index"] == rows["cifar100"]["best_index"]  # one search, reported on each
    index = np.array([int(rows["cifar10"]["best_index"])])
    reward = TabularEvaluator("nb201", "cifar10", "mean", 12, imported_cache).evaluate(index, None)
    assert float(rows["cifar10"]["best_valid_acc_observed"]) == pytest.approx(reward["valid_acc"][0])
    for dataset, row in rows.items():
        report = TabularEvaluator("nb201", dataset, "mean", 200, imported_cache).evaluate(index, None)
        assert float(row["best_valid_acc"]) == pytest.approx(report["valid_acc"][0])
        assert float(row["best_test_acc"]) == pytest.approx(report["test_acc"][0])  # 200-epoch test, imported
        assert row["fidelity"] == "12" and row["search_dataset"] == "cifar10"
    assert "| rea | 3,000 s simulated, 12-epoch reward, searched on cifar10 |" in (tmp_path / "table.md").read_text()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--agents", "nope"], "agent 'nope' is unknown"),
        (["--agents", "rea@Continuous"], "flavour 'Continuous' is not one agent 'rea' searches; accepted: ['Global']"),
        (["--agents", "random", "--datasets", "mnist"], "datasets: ['mnist'] unknown; accepted: ['cifar10'"),
        (["--agents", "random", "--budgets", "500,0"], "argument --budgets: expected comma-separated query budgets"),
        (["--agents", "random", "--seeds", "0"], "argument --seeds: expected an integer >= 1"),
        (["--agents", "random", "--sim-time", "-5"], "sim_time must be a finite number of simulated seconds > 0"),
        (["--agents", "random", "--sim-time", "soon"], "argument --sim-time: invalid float value"),
        (["--agents", "random", "--fidelity", "50"], "NAS-Bench-201-Continuous-v0 on cifar10: fidelity 50 is unknown"),
        (["--agents", "random", "--search-dataset", "mnist"], "search_dataset 'mnist' is unknown"),
        (["--agents", "random", "--seed-start", "-1"], "seed_start must be an integer >= 0"),
        (["--plot-only", "--agents", "random"], "--plot-only works on --out alone; drop"),
        (["--rescore", "--seeds", "2"], "--rescore works on --out alone; drop"),
        (["--rescore", "--plot-only"], "--plot-only and --rescore: give one"),
    ],
)
def test_bad_arguments_fail_before_anything_runs(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    if "--seeds" not in argv and "--plot-only" not in argv:
        argv = [*argv, "--seeds", "1"]
    with pytest.raises(SystemExit) as exc:
        main(["bench", *argv, "--out", str(out)], stdout=io.StringIO())
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_folder_without_histories_keeps_its_plots_and_refuses_to_rescore(grid, tmp_path):
    source, _, _ = grid
    out = tmp_path / "grid"
    shutil.copytree(source, out)
    plot = (out / "anytime.png").read_bytes()
    history = read_rows(out)[0]["history"]
    (out / history).unlink()  # the histories of both seeds
    with pytest.warns(UserWarning, match=rf"2 of the 8 runs in .* have no history \(e\.g\. {history} seed 3\)"):
        assert bench("--plot-only", "--out", str(out))[0] == 0
    assert (out / "anytime.png").read_bytes() == plot and "(anytime.png)" in (out / "table.md").read_text()
    with pytest.raises(FileNotFoundError, match="rescoring needs every run's history"):
        rescore(out)


def test_agent_arguments_make_runs_of_their_own(tmp_path):
    text = "rea[population_size=4, sample_size=2]"
    assert split_agents(f"random,{text},sb3:PPO@Sequential") == ["random", text, "sb3:PPO@Sequential"]
    spec = parse_agent(text)
    assert (spec.label, spec.flavour, spec.kwargs) == (
        "rea[population_size=4,sample_size=2]",
        "Global",
        {
            "population_size": 4,
            "sample_size": 2,
        },
    )
    config = BenchConfig([text, "rea"], ["cifar10"], [12], seeds=1, out=tmp_path / "out", workers=1)
    run_bench(config, progress=False)
    rows = {row["agent"]: row for row in read_rows(tmp_path / "out")}
    assert set(rows) == {"rea", "rea[population_size=4,sample_size=2]"}
    direct = make_agent("rea", population_size=4, sample_size=2).run(
        gym.make("NAS-Bench-201-Global-v0", budget=12), seed=0
    )
    history = read_history(tmp_path / "out", rows[spec.label])
    assert history["index"].tolist() == [q["index"] for q in direct.queries]  # the agent got its arguments
    assert "| rea[population_size=4,sample_size=2] | 12 queries |" in (tmp_path / "out" / "table.md").read_text()


@pytest.mark.parametrize(
    "text, message",
    [
        ("reinforce[lr=-1]", "lr must be"),
        ("reinforce[nope=1]", "unexpected keyword argument 'nope'"),
        ("reinforce[lr]", "expected KEY=VALUE"),
        ("reinforce[lr=0.1", "is not NAME, NAME[KEY=VALUE,...]"),
    ],
)
def test_bad_agent_arguments_are_clear_errors(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_agent(text)


def test_a_fidelity_the_tables_lack_and_a_missing_folder_are_clear_errors(tmp_path, tmp_cache):
    config = BenchConfig(["random"], ["cifar10"], [5], seeds=1, out=tmp_path / "out", fidelity=50, cache_dir=tmp_cache)
    with pytest.raises(ValueError, match=r"NAS-Bench-201-Continuous-v0 on cifar10: fidelity 50 is unknown"):
        run_bench(config)
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit):
        main(["bench", "--plot-only", "--out", str(tmp_path / "empty")], stdout=io.StringIO())


def test_incumbent_curves():
    observed = np.array([80.0, 85.0, 85.0, 70.0, 90.0, 70.0, 85.0])
    indices = np.array([0, 1, 2, 3, 4, 4, 1])
    # the first of equal bests; arch 4's second draw brings its mean to 80, below arch 1's 85
    selected, means = incumbents(indices, observed)
    assert selected.tolist() == [0, 1, 1, 1, 4, 1, 1] and means.tolist() == [80, 85, 85, 85, 90, 85, 85]
    grid = np.array([0.5, 1.0, 2.5, 10.0])
    assert np.isnan(curve_on_grid(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]), grid)[0])
    assert curve_on_grid(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]), grid)[1:].tolist() == [1.0, 2.0, 3.0]
    curves = np.random.default_rng(0).normal(size=(20, 3))
    mean, low, high = mean_and_band(curves)
    assert np.allclose(mean, curves.mean(axis=0)) and np.all(low < mean) and np.all(mean < high)
    with pytest.raises(ValueError, match="no query"):
        incumbents(np.array([]), np.array([]))


def _registered_spaces():
    from nasgym.bench import registered_spaces

    return list(registered_spaces().values())


def _test_kwargs(space) -> dict:
    from nasgym.envs_registry import ENV_TABLE

    return next(row.test_kwargs for row in ENV_TABLE if row.id in space.env_ids.values())


@pytest.mark.parametrize("space", _registered_spaces(), ids=lambda s: s.prefix)
def test_every_registered_space_runs_with_its_own_datasets(space, tmp_path):
    """random on every space of the registry (its test_kwargs as --env-arg), its own default datasets."""
    env_args = _test_kwargs(space)
    config = BenchConfig(["random"], None, [6], seeds=1, out=tmp_path, workers=1, space=space.prefix, env_args=env_args)
    try:
        runs = config.plan()
    except FileNotFoundError as exc:
        pytest.skip(f"{space.prefix}: its benchmark data is absent ({exc})")
    expected = list(space.table_datasets) or [gym.make(runs[0].env_id, **env_args).unwrapped.evaluator.dataset]
    assert [run.dataset for run in runs] == expected
    report = run_bench(config, progress=False)
    assert report.completed == len(runs) and not report.failures
    from nasgym.bench.envs import report_evaluator

    for row in read_rows(tmp_path):
        flavour = next(f for f in make_agent("random").flavours if f in space.env_ids)  # random's first offered
        assert row["env"] == space.env_ids[flavour]
        assert json.loads(row["env_args"] or "{}") == env_args and row["n_queries"] == "6"
        reporter = report_evaluator(row["env"], row["dataset"], row["env_args"], None)
        history = read_history(tmp_path, row)
        valid = reporter.evaluate(history["index"], np.random.default_rng(0))["valid_acc"]
        hits = np.flatnonzero(valid >= reporter.best_valid_acc)
        expected_q = float(hits[0] + 1) if math.isfinite(reporter.best_valid_acc) and len(hits) else math.nan
        assert float(row["queries_to_optimum"]) == pytest.approx(expected_q, nan_ok=True)
        assert len(row["tables_fingerprint"]) == 16 and row["versions"].startswith("nasgym=")
        assert " cores, " in row["machine"]
    assert f"## {space.prefix}" in (tmp_path / "table.md").read_text()


def test_queries_to_optimum_counts_the_first_query_of_an_optimal_architecture(tmp_path):
    """A grid long enough to query the optimum of cifar10 with REA, checked against the table."""
    config = BenchConfig(["rea"], ["cifar10"], [1500], seeds=2, out=tmp_path, workers=1)
    run_bench(config, progress=False)
    evaluator = TabularEvaluator("nb201", "cifar10", noise="mean")
    optimal = {
        i for i in range(15625) if evaluator.evaluate(np.array([i]), None)["valid_acc"][0] == evaluator.best_valid_acc
    }
    for row in read_rows(tmp_path):
        queried = read_history(tmp_path, row)["index"].tolist()
        first = next((n + 1 for n, index in enumerate(queried) if index in optimal), None)
        assert row["queries_to_optimum"] == (str(first) if first else "nan")
    assert "Runs that queried an optimal architecture" in (tmp_path / "table.md").read_text()


def test_env_args_reach_the_env_and_make_runs_of_their_own(tmp_path):
    argv = ["--agents", "random", "--datasets", "cifar10", "--budgets", "5", "--seeds", "1", "--workers", "1"]
    assert bench(*argv, "--out", str(tmp_path))[0] == 0
    code, text = bench(*argv, "--env-arg", "top_k=3", "--env-arg", "reward=normalized", "--out", str(tmp_path))
    assert code == 0 and "1 runs done, 0 already" in text
    rows = read_rows(tmp_path)
    assert sorted(r["env_args"] for r in rows) == ["", '{"reward": "normalized", "top_k": 3}']
    assert '| random {reward="normalized",top_k=3} | 5 queries |' in text
    commands = [json.loads(line) for line in (tmp_path / "commands.jsonl").read_text().splitlines()]
    assert "--env-arg top_k=3 --env-arg 'reward=\"normalized\"'" in commands[-1]["command"]
    assert commands[-1]["versions"].startswith("nasgym=") and "cores" in commands[-1]["machine"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--space", "nope"], "space 'nope' is unknown; accepted: nb201 (NAS-Bench-201)"),
        (["--envs", "NAS-Bench-201-Foo-v0"], "envs: 'NAS-Bench-201-Foo-v0' is not a registered env id"),
        (["--space", "nb201", "--envs", "NAS-Bench-201-Global-v0"], "--space and --envs: give one"),
        (["--env-arg", "dataset=cifar10"], "env_args: 'dataset' is set by the grid; use --datasets"),
        (["--env-arg", "budget=5"], "env_args: 'budget' is set by the grid; use --budgets"),
        (["--env-arg", 'constraint={"flops": 50}'], "env_args: 'constraint' is not taken by the grid"),
        (["--env-arg", "top_k=1", "--env-arg", "top_k=2"], "--env-arg top_k is given twice"),
        (["--env-arg", "nope=1"], "NAS-Bench-201-Continuous-v0 on cifar10: unexpected keyword argument"),
        (["--env-arg", "fidelity=12", "--fidelity", "12"], "fidelity is given twice"),
        (["--executor", "dask"], "argument --executor: invalid choice"),
        (["--migrate", "--rescore"], "--rescore and --migrate: give one"),
        (["--allow-mixed-fingerprints"], "--allow-mixed-fingerprints goes with --rescore"),
    ],
)
def test_bad_space_env_and_mode_arguments_fail_before_anything_runs(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    prefix = [] if argv[0] in ("--migrate",) else ["--agents", "random", "--seeds", "1", "--budgets", "3"]
    with pytest.raises(SystemExit) as exc:
        main(["bench", *prefix, *argv, "--out", str(out)], stdout=io.StringIO())
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_explicit_env_ids_pick_each_agents_flavour(tmp_path):
    config = BenchConfig(
        ["random", "rea"], ["cifar10"], [4], seeds=1, out=tmp_path, workers=1, envs=["NAS-Bench-201-Global-v0"]
    )
    assert {(run.agent.name, run.env_id) for run in config.plan()} == {
        ("random", "NAS-Bench-201-Global-v0"),  # random searches every flavour: the one given
        ("rea", "NAS-Bench-201-Global-v0"),
    }
    with pytest.raises(ValueError, match="this space has no Continuous env"):
        BenchConfig(["random@Continuous"], ["cifar10"], [4], 1, tmp_path, envs=["NAS-Bench-201-Global-v0"]).plan()


def _to_earlier_layout(out) -> list[dict[str, str]]:
    """Rewrite a folder as the bench wrote it before the history store and the provenance columns:
    one history file per run (float32 observations in the oldest ones), the earlier columns."""
    from nasgym.bench.runs import LEGACY_COLUMNS

    rows = read_rows(out)
    legacy = []
    for number, row in enumerate(rows):
        history = read_history(out, row)
        if number % 2:  # the oldest histories stored float32 observations and int32 indices
            history = dict(
                history, valid_acc=history["valid_acc"].astype(np.float32), index=history["index"].astype(np.int32)
            )
        name = f"histories/{row['agent']}__{row['dataset']}__s{row['seed']}.npz"
        np.savez_compressed(out / name, **history)
        legacy.append({column: (name if column == "history" else row[column]) for column in LEGACY_COLUMNS})
    for path in (out / "histories").glob("NAS-Bench-201*.npz"):
        path.unlink()
    with open(out / "runs.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, LEGACY_COLUMNS)
        writer.writeheader()
        writer.writerows(legacy)
    return rows


def test_migrate_moves_per_run_histories_into_group_files_without_changing_a_row(grid, tmp_path):
    source, _, _ = grid
    out = tmp_path / "grid"
    shutil.copytree(source, out)
    fresh = read_rows(out)
    histories = load_histories(out)  # one call: every history, keyed by (history, seed) of its row
    assert len(histories) == 8 == len({(r["history"], int(r["seed"])) for r in fresh})
    assert len(list((out / "histories").glob("*.npz"))) == 4  # one file per agent x dataset, both seeds
    _to_earlier_layout(out)
    with pytest.raises(ValueError, match="predates the provenance columns; run nasgym bench --migrate"):
        rescore(out)
    code, text = bench("--migrate", "--out", str(out))
    assert code == 0 and "migrated 8 runs" in text
    migrated = read_rows(out)
    unrecorded = {"versions": "unrecorded", "machine": "unrecorded"}
    assert migrated == [dict(row, **unrecorded) for row in fresh]  # every other column as it was
    assert sorted(p.name for p in (out / "histories").iterdir()) == sorted({Path(r["history"]).name for r in fresh})
    reloaded = load_histories(out)
    float32_runs = {(r["history"], int(r["seed"])) for number, r in enumerate(fresh) if number % 2}
    for key, history in histories.items():
        assert all(history[k].dtype == reloaded[key][k].dtype for k in history)  # int64 indices, float64 observations
        for name in history:
            if name == "valid_acc" and key in float32_runs:  # restored from the tables: a seed's value, the one
                # nearest the float32 (two seeds of one architecture may round to the same float32)
                assert np.allclose(history[name], reloaded[key][name], rtol=0, atol=1e-5)
            else:
                assert np.array_equal(history[name], reloaded[key][name])
    assert bench("--rescore", "--out", str(out))[0] == 0 and read_rows(out) == migrated  # the round trip
    with pytest.raises(SystemExit):
        main(["bench", "--migrate", "--out", str(out)], stdout=io.StringIO())  # nothing left to migrate


def test_migrate_refuses_rows_the_current_tables_do_not_reproduce(grid, tmp_path):
    source, _, _ = grid
    out = tmp_path / "grid"
    shutil.copytree(source, out)
    _to_earlier_layout(out)
    before = (out / "runs.csv").read_text()
    lines = before.splitlines()
    lines[3] = lines[3].replace(read_rows(out)[2]["best_valid_acc"], "99.5")
    (out / "runs.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="line 4: the current tables give best_valid_acc .* the row 99.5"):
        migrate(out)
    assert len(list((out / "histories").glob("*.npz"))) == 8  # nothing moved


def test_rescore_refuses_mixed_fingerprints_unless_told(grid, tmp_path):
    source, _, _ = grid
    out = tmp_path / "grid"
    shutil.copytree(source, out)
    rows = read_rows(out)
    rows[0]["tables_fingerprint"] = rows[1]["tables_fingerprint"] = "0123456789abcdef"
    write_runs(out / "runs.csv", rows)
    counts = Counter(row["tables_fingerprint"] for row in rows)
    assert counts["0123456789abcdef"] == 2 and len(counts) == 3  # one fingerprint per dataset, and the odd one
    expected = ", ".join(f"{n} rows have {fingerprint}" for fingerprint, n in counts.most_common())
    with pytest.raises(ValueError, match=re.escape(f"rescore: {expected}, and the current tables give")):
        rescore(out)
    code, text = bench("--rescore", "--allow-mixed-fingerprints", "--out", str(out))
    assert code == 0 and read_rows(out) == rows  # fingerprints stay: those runs were made on other tables
    record = json.loads((out / "commands.jsonl").read_text().splitlines()[-1])
    assert record["command"].endswith("--allow-mixed-fingerprints") and record["fingerprints_before"] == counts


def test_histories_of_a_killed_invocation_are_kept_or_dropped_with_their_rows(tmp_path):
    from nasgym.bench.histories import PENDING_DIR, write_pending

    config = BenchConfig(["random"], ["cifar10"], [5], seeds=1, out=tmp_path, workers=1)
    run_bench(config, progress=False)
    rows = read_rows(tmp_path)
    kept = read_history(tmp_path, rows[0])
    (tmp_path / rows[0]["history"]).unlink()  # as if killed before the merge: row written, history pending
    write_pending(tmp_path, "kept", rows[0]["history"], int(rows[0]["seed"]), kept)
    write_pending(tmp_path, "orphan", rows[0]["history"], 99, kept)  # a history whose row never came
    assert bench("--plot-only", "--out", str(tmp_path))[0] == 0
    assert not (tmp_path / PENDING_DIR).exists()
    assert set(load_histories(tmp_path)) == {(rows[0]["history"], int(rows[0]["seed"]))}
    assert read_history(tmp_path, rows[0])["index"].tolist() == kept["index"].tolist()


def test_a_grid_on_a_local_ray_gives_the_rows_of_the_pool(grid, tmp_path):
    """The grid fixture's runs again, as tasks of a real local Ray (2 CPUs): the same rows."""
    pytest.importorskip("ray")
    source, argv, _ = grid
    code, text = bench(*argv, "--seed-start", "3", "--executor", "ray", "--workers", "2", "--out", str(tmp_path))
    assert code == 0 and "8 runs done" in text
    columns = [c for c in COLUMNS if c not in ("wall_time", "machine")]
    assert [{c: r[c] for c in columns} for r in read_rows(tmp_path)] == [
        {c: r[c] for c in columns} for r in read_rows(source)
    ]
    assert set(load_histories(tmp_path)) == set(load_histories(source))
    record = json.loads((tmp_path / "commands.jsonl").read_text().splitlines()[-1])
    assert record["executor"] == "ray" and "--executor" not in record["command"]  # it changes no result
