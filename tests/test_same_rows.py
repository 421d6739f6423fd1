"""benchmarks/same_rows.py: a re-run grid is checked row by row against the earlier runs.csv."""

from __future__ import annotations

import csv
import importlib.util
import sys

from conftest import REPO_ROOT

spec = importlib.util.spec_from_file_location("same_rows", REPO_ROOT / "benchmarks" / "same_rows.py")
same_rows = importlib.util.module_from_spec(spec)
sys.modules["same_rows"] = same_rows
spec.loader.exec_module(same_rows)

COLUMNS = [*same_rows.KEY, "best_valid_acc", "wall_time", "history"]


def write(path, rows):
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def row(seed: int, acc: str, wall: str = "1.0", history: str = "h.npz") -> dict[str, str]:
    key = dict.fromkeys(same_rows.KEY, "") | {"agent": "rea", "env": "E-v0", "dataset": "d", "seed": str(seed)}
    return key | {"best_valid_acc": acc, "wall_time": wall, "history": history}


def test_rows_are_the_same_but_for_wall_time_and_history(tmp_path):
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    write(old, [row(0, "91.5"), row(1, "91.2")])
    write(new, [row(1, "91.2", wall="9.0", history="g.npz"), row(0, "91.5")])
    assert same_rows.main([str(old), str(new), "--out", str(tmp_path / "same.json")]) == 0


def test_a_changed_or_missing_row_fails(tmp_path):
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    write(old, [row(0, "91.5"), row(1, "91.2"), row(2, "90.0")])
    write(new, [row(0, "91.6"), row(1, "91.2")])
    found = same_rows.compare(same_rows.read_rows(str(old)), same_rows.read_rows(str(new)))
    assert not found["same"]
    assert [d["column"] for d in found["differences"]] == ["best_valid_acc"]
    assert [m["seed"] for m in found["not_found"]] == ["2"]
    assert same_rows.main([str(old), str(new)]) == 1


def test_part_checks_that_every_rerun_row_is_in_the_old_grid(tmp_path):
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    write(old, [row(0, "91.5"), row(1, "91.2"), row(2, "90.0")])
    write(new, [row(1, "91.2")])
    assert same_rows.main([str(old), str(new)]) == 1  # runs 0 and 2 are not in the re-run
    assert same_rows.main([str(old), str(new), "--part"]) == 0
    write(new, [row(1, "91.2"), row(3, "90.0")])
    assert same_rows.main([str(old), str(new), "--part"]) == 1  # run 3 is not in the old grid
