"""Check that a re-run grid gives the rows of an earlier one: every run of the old ``runs.csv``
is found in the new one (by agent, env, dataset, budget, seed and protocol) with the same text in
every column the old file has, but ``wall_time`` (a machine's speed) and ``history`` (where the
layout keeps it). Either file may be read from git (``REV:PATH``), so a folder can be re-run in
place and checked against its committed past.

Writes a JSON record (command, date, machine, versions, counts and every difference) and exits 1
where a row is missing or differs.

Usage::

    python benchmarks/same_rows.py a236d40^:benchmarks/results/nb201-12000s/runs.csv \\
        benchmarks/results/nb201-12000s/runs.csv --out benchmarks/results/nb201-12000s/same_rows.json
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
IGNORED = ("wall_time", "history")


def read_rows(source: str) -> list[dict[str, str]]:
    """The rows of a ``runs.csv`` on disk, or at ``REV:PATH`` in the git repository here."""
    if Path(source).is_file():
        text = Path(source).read_text()
    elif ":" in source:
        text = subprocess.run(["git", "show", source], capture_output=True, text=True, check=True).stdout
    else:
        raise FileNotFoundError(f"{source!r} is neither a file nor a git REV:PATH")
    return list(csv.DictReader(io.StringIO(text)))


def compare(old: list[dict[str, str]], new: list[dict[str, str]]) -> dict[str, Any]:
    """Counts and differences of ``new`` against ``old`` (see the module docstring)."""
    new_by_key = {tuple(row[column] for column in KEY): row for row in new}
    if len(new_by_key) != len(new):
        raise ValueError("new: two rows share a key; expected one row per run")
    compared = [column for column in old[0] if column not in IGNORED]
    missing, differences = [], []
    for row in old:
        key = tuple(row[column] for column in KEY)
        match = new_by_key.get(key)
        if match is None:
            missing.append(dict(zip(KEY, key, strict=True)))
            continue
        differences += [
            {"run": dict(zip(KEY, key, strict=True)), "column": column, "old": row[column], "new": match.get(column)}
            for column in compared
            if row[column] != match.get(column)
        ]
    return {
        "old_rows": len(old),
        "new_rows": len(new),
        "columns_compared": compared,
        "missing_in_new": missing,
        "differences": differences,
        "same": not missing and not differences,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", help="the earlier runs.csv: a path or git REV:PATH")
    parser.add_argument("new", help="the re-run runs.csv: a path or git REV:PATH")
    parser.add_argument("--out", type=Path, help="where to write the JSON record (default: print it only)")
    args = parser.parse_args(argv)
    record = {
        "command": shlex.join(["python", *sys.argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "old": args.old,
        "new": args.new,
        **compare(read_rows(args.old), read_rows(args.new)),
    }
    text = json.dumps(record, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    summary = {key: record[key] for key in ("old_rows", "new_rows", "same")}
    print(f"{summary}; {len(record['missing_in_new'])} missing, {len(record['differences'])} differences")
    return 0 if record["same"] else 1


if __name__ == "__main__":
    sys.exit(main())
