"""The nasgym command: search summary and per-query log, data import and info, clear errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from conftest import selected_by_definition

import nasgym
from nasgym.cli import main


def run_cli(*argv: str) -> str:
    stdout = io.StringIO()
    assert main(list(argv), stdout=stdout) == 0
    return stdout.getvalue()


def test_search_prints_summary_and_writes_every_query(tmp_path):
    out = tmp_path / "queries.jsonl"
    env_id = "NAS-Bench-201-Global-v0"
    text = run_cli("search", "--env", env_id, "--budget", "40", "--seed", "3", "--out", str(out), "--quiet")
    summary = json.loads(text.strip().splitlines()[-1])
    queries = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(queries) == summary["n_queries"] == 40
    index, mean = selected_by_definition([q["index"] for q in queries], [q["valid_acc"] for q in queries])
    assert summary["best_valid_acc"] == mean
    first = next(q for q in queries if q["index"] == index)
    assert summary["best_arch"] == first["arch"]
    assert summary["queries_to_best"] == queries.index(first) + 1
    assert summary["sim_time"] == pytest.approx(sum(q["cost"] for q in queries))
    assert {"best_test_acc", "dataset", "budget", "seed", "agent", "env"} <= set(summary)


def test_search_is_reproducible():
    argv = ("search", "--env", "NAS-Bench-201-Continuous-v0", "--budget", "25", "--seed", "7", "--quiet")
    first, second = (json.loads(run_cli(*argv)) for _ in range(2))
    first.pop("wall_time"), second.pop("wall_time")
    assert first == second


SEARCH = ["search", "--env", "NAS-Bench-201-Global-v0", "--budget", "3"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["search", "--env", "NAS-Bench-201-Global-v0", "--agent", "nope"], "agent 'nope' is unknown"),
        (["search", "--env", "NAS-Bench-201-Global-v0", "--dataset", "mnist"], "dataset 'mnist' is unknown"),
        (["search", "--env", "NAS-Bench-201-Global-v0", "--budget", "0"], "expected an integer >= 1"),
        (["search", "--env", "Pong-v0"], "invalid choice"),
        (["search", "--budget", "3"], "the following arguments are required: --env"),
        (["search", "--env", "NAS-Bench-201-Global-v0", "--nope"], "unrecognized arguments: --nope"),
        ([*SEARCH, "--seed", "-1"], "--seed: expected an integer >= 0, got -1"),
        ([*SEARCH, "--seed", "1.5"], "--seed: expected an integer >= 0, got '1.5'"),
        ([*SEARCH, "--out", "."], "--out: '.' is a directory"),
        ([*SEARCH, "--out", "/nonexistent/q.jsonl"], "the folder of '/nonexistent/q.jsonl' does not exist"),
        ([*SEARCH, "--env-arg", "top_k"], "expected KEY=VALUE"),
        ([*SEARCH, "--env-arg", "top_k=0"], "top_k must be an integer >= 1, got 0"),
        ([*SEARCH, "--env-arg", "top_k=2", "--env-arg", "top_k=3"], "--env-arg top_k is given twice"),
        ([*SEARCH, "--env-arg", "budget=5"], "--budget and --env-arg budget=... both given"),
        ([*SEARCH, "--env-arg", "dataset=null"], "dataset must be a string, got None"),
        ([*SEARCH, "--env-arg", "fidelity=7"], "fidelity 7 is unknown"),
        ([*SEARCH, "--env-arg", "reward=best"], "reward 'best' is unknown"),
        ([*SEARCH, "--env-arg", "evaluator=oracle"], "evaluator 'oracle' is unknown"),
        ([*SEARCH, "--env-arg", "epochs=1"], "unexpected keyword argument(s) ['epochs']"),
        ([*SEARCH, "--agent", "rea", "--agent-arg", "population_size=0"], "population_size must be"),
        ([*SEARCH, "--agent-arg", "nope=1"], "agent 'random': "),
        (["search", "--env", "ConvNet-Global-v0", "--env-arg", "epochs=0"], "epochs must be an integer >= 1, got 0"),
        (["search", "--env", "ConvNet-Global-v0", "--env-arg", "workers=0"], "workers must be an integer >= 1"),
        (["data", "import", "/nonexistent/file.csv"], "does not exist"),
    ],
)
def test_bad_arguments_exit_2_with_one_clear_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv, stdout=io.StringIO())
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.endswith("\n") and err.count("\n") == 1, err


def test_out_never_overwrites_a_file(tmp_path, capsys):
    out = tmp_path / "queries.jsonl"
    out.write_text("an earlier search's log\n")
    with pytest.raises(SystemExit) as exc:
        main([*SEARCH, "--out", str(out)], stdout=io.StringIO())
    assert exc.value.code == 2
    assert f"--out: '{out}' exists" in capsys.readouterr().err
    assert out.read_text() == "an earlier search's log\n"


def test_env_args_reach_gym_make_typed_and_defaults_come_from_the_env(tmp_path):
    """--env-arg values arrive typed (JSON, else strings); what is not given is the env's default
    (the ConvNet envs search digits, not the NAS-Bench-201 cifar10)."""
    from nasgym.evaluators import SyntheticEvaluator

    out = tmp_path / "queries.jsonl"
    argv = ["search", "--env", "ConvNet-Global-v0", "--budget", "4", "--out", str(out), "--quiet"]
    summary = json.loads(run_cli(*argv, "--env-arg", "evaluator=synthetic", "--env-arg", "noise=mean"))
    assert summary["dataset"] == "digits" and summary["budget"] == 4
    synthetic = SyntheticEvaluator("convnet", noise="mean")
    for query in map(json.loads, out.read_text().splitlines()):
        assert query["valid_acc"] == synthetic.evaluate_one(query["index"], None)["valid_acc"]


def test_quiet_prints_only_the_summary_and_turns_live_training_bars_off(monkeypatch, capsys):
    """Live training shows progress bars unless --quiet: the env's live evaluator gets progress=False."""
    from nasgym.evaluators.live import LiveEvaluator

    progress = []

    def evaluate_one(self, index, rng=None):  # what training would answer, without training
        progress.append(self.config.progress)
        return {"valid_acc": 50.0, "test_acc": 49.0, "flops": 1.0, "params": 0.1, "latency": 1e-3, "cost": 2.0}

    monkeypatch.setattr(LiveEvaluator, "evaluate_one", evaluate_one)
    argv = ["search", "--env", "ConvNet-Global-v0", "--budget", "2", "--env-arg", "epochs=1"]
    assert main([*argv, "--quiet"], stdout=io.StringIO()) == 0
    assert progress == [False, False]
    assert capsys.readouterr().err == ""
    assert main(argv, stdout=io.StringIO()) == 0
    assert progress[2:] == [True, True]
    assert "random on ConvNet-Global-v0" in capsys.readouterr().err  # the search's own bar


def test_help_lists_every_registered_agent_and_env_id(capsys):
    from nasgym.agents import AGENTS, SB3_AGENT_NAMES

    with pytest.raises(SystemExit) as exc:
        main(["search", "--help"], stdout=io.StringIO())
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in [*AGENTS, *SB3_AGENT_NAMES, *nasgym.ENV_IDS]:
        assert f"{name} " in text or f"{name}," in text or f"{name}." in text, name


def test_data_import_then_info_shows_the_imported_metric(tmp_path):
    csv_file = tmp_path / "tiny_test_acc.csv"
    csv_file.write_text(
        "ArchitectureString,CIFAR10TestAccuracy200Epochs\n"
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|,94.37\n"
    )
    assert run_cli("data", "import", str(csv_file)) == (
        f"imported {csv_file} into the nb201 tables of cifar10 as source 'csv-tiny_test_acc': "
        "1 architectures; columns used: ['CIFAR10TestAccuracy200Epochs']\n"
    )
    rows = [line.split() for line in run_cli("data", "info").splitlines()[1:]]
    coverage = {(r[0], r[1], r[2]): int(r[3]) for r in rows}
    assert coverage[("nb201", "cifar10", "valid_acc")] == 15625
    assert coverage[("nb201", "cifar10", "test_acc")] >= 1
    assert ("nb201", "ImageNet16-120", "flops") in coverage


def test_module_entry_point_runs_a_search():
    """``python -m nasgym`` is the same command as the console script."""
    done = subprocess.run(
        [sys.executable, "-m", "nasgym", "search", "--env", "NAS-Bench-201-Sequential-v0", "--budget", "5", "--quiet"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["n_queries"] == 5
