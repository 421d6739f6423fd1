"""The nasgym command: search summary and per-query log, data import and info, clear errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from conftest import selected_by_definition

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


@pytest.mark.parametrize(
    "argv, message",
    [
        (["search", "--env", "NAS-Bench-201-Global-v0", "--agent", "nope"], "agent 'nope' is unknown"),
        (["search", "--env", "NAS-Bench-201-Global-v0", "--dataset", "mnist"], "dataset 'mnist' is unknown"),
        (["search", "--env", "NAS-Bench-201-Global-v0", "--budget", "0"], "expected an integer >= 1"),
        (["search", "--env", "Pong-v0"], "invalid choice"),
        (["data", "import", "/nonexistent/file.csv"], "does not exist"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv, stdout=io.StringIO())
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_data_import_then_info_shows_the_imported_metric(tmp_path):
    csv_file = tmp_path / "tiny_test_acc.csv"
    csv_file.write_text(
        "ArchitectureString,CIFAR10TestAccuracy200Epochs\n"
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|,94.37\n"
    )
    assert "imported csv-tiny_test_acc" in run_cli("data", "import", str(csv_file))
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
