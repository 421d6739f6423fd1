"""Check that a re-run grid gives the rows of an earlier one: every run of the old ``runs.csv``
is found in the new one (by agent, env, dataset, budget, seed and protocol) with the same text in
every column the old file has, but ``wall_time`` (a machine's speed), ``history`` (where the
layout keeps it) and the columns given to ``--ignore``. Either file may be read from git
(``REV:PATH``), so a folder can be re-run in place and checked against its committed past. With
``--part`` the new file re-runs a part of the old grid: every new row must be found in the old one.

Writes a JSON record (command, date, machine, versions, counts, the runs not found and every
differing cell) and exits 1 where a run is not found or differs.

Usage::

    python benchmarks/same_rows.py a236d40^:benchmarks/results/nb201-12000s/runs.csv \\
        benchmarks/results/nb201-12000s/runs.csv --out benchmarks/results/nb201-12000s/same_rows.json
    python benchmarks/same_rows.py benchmarks/results/nb201/runs.csv /tmp/rerun/runs.csv --part
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from nasgym.bench.provenance import machine, versions

#: what identifies a run in both layouts
KEY = ("agent", "env", "dataset", "budget", "seed", "sim_time_limit", "fidelity", "search_dataset")
#: columns that may differ between two runs of the same grid
ALWAYS_IGNORED = ("wall_time", "history")


def read_rows(source: str) -> list[dict[str, str]]:
    """The rows of a ``runs.csv`` on disk, or at ``REV:PATH`` in the git repository here."""
    if Path(source).is_file():
        text = Path(source).read_text()
    elif ":" in source:
        text = subprocess.run(["git", "show", source], capture_output=True, text=True, check=True).stdout
    else:
        raise FileNotFoundError(f"{source!r} is neither a file nor a git REV:PATH")
    return list(csv.DictReader(io.StringIO(text)))


def compare(
    expected: list[dict[str, str]], found: list[dict[str, str]], ignore: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Every row of ``expected`` looked up in ``found`` and compared column by column.

    :param ignore: columns not compared, besides ``wall_time`` and ``history``.
    :returns: the columns compared, the expected runs not found, every differing cell, and ``same``.
    """
    found_by_key = {tuple(row[column] for column in KEY): row for row in found}
    if len(found_by_key) != len(found):
        raise ValueError("two rows of one runs.csv share a key; expected one row per run")
    compared = [column for column in expected[0] if column not in (*ALWAYS_IGNORED, *ignore)]
    not_found, differences = [], []
    for row in expected:
        key = tuple(row[column] for column in KEY)
        match = found_by_key.get(key)
        if match is None:
            not_found.append(dict(zip(KEY, key, strict=True)))
            continue
        run = dict(zip(KEY, key, strict=True))
        differences += [
            {"run": run, "column": column, "expected": row[column], "found": match.get(column)}
            for column in compared
            if row[column] != match.get(column)
        ]
    return {
        "columns_compared": compared,
        "not_found": not_found,
        "differences": differences,
        "same": not not_found and not differences,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", help="the earlier runs.csv: a path or git REV:PATH")
    parser.add_argument("new", help="the re-run runs.csv: a path or git REV:PATH")
    parser.add_argument("--out", type=Path, help="where to write the JSON record (default: print it only)")
    parser.add_argument("--ignore", action="append", default=[], help="a column not to compare (repeatable)")
    parser.add_argument("--part", action="store_true", help="new re-runs a part of old: its every row must be in old")
    args = parser.parse_args(argv)
    old, new = read_rows(args.old), read_rows(args.new)
    record = {
        "command": shlex.join(["python", *sys.argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "old": args.old,
        "new": args.new,
        "old_rows": len(old),
        "new_rows": len(new),
        "part": args.part,
        "ignored": [*ALWAYS_IGNORED, *args.ignore],
        **(compare(new, old, tuple(args.ignore)) if args.part else compare(old, new, tuple(args.ignore))),
    }
    text = json.dumps(record, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    summary = {key: record[key] for key in ("old_rows", "new_rows", "same")}
    print(f"{summary}; {len(record['not_found'])} runs not found, {len(record['differences'])} differences")
    return 0 if record["same"] else 1


if __name__ == "__main__":
    sys.exit(main())
