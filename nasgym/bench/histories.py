"""Every run's queries, stored compactly: one compressed ``.npz`` per agent, env, dataset,
protocol and env arguments (the runs of all its seeds), loaded with one call
(:func:`load_histories`).

A history holds, per query: ``index`` (the queried architecture, int64), ``valid_acc`` (its
observed reward accuracy, float64), ``sim_time`` (simulated seconds so far), and
``best_valid_acc`` / ``best_test_acc`` (float32: the reported accuracies of the architecture
selected after that query). In a group file the run of seed ``s`` keeps them as ``s<s>.index``,
``s<s>.valid_acc``, ...; a row of ``runs.csv`` names its group file in ``history`` and its seed in
``seed``.

While a grid runs, each finished run's history is written at once to ``histories/pending/`` (a
crash loses nothing) and merged into its group file when the invocation ends
(:func:`consolidate`), or by the next command on the folder.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import numpy as np

HISTORY_DIR = "histories"
PENDING_DIR = f"{HISTORY_DIR}/pending"
#: the arrays of one history
FIELDS = ("index", "valid_acc", "sim_time", "best_valid_acc", "best_test_acc")
_MEMBER = re.compile(r"s(?P<seed>\d+)\.(?P<field>\w+)")

History = dict[str, np.ndarray]


def group_reference(group_name: str) -> str:
    """The ``history`` column of the runs of a group: the group file, relative to the folder."""
    return f"{HISTORY_DIR}/{re.sub(r'[^A-Za-z0-9._-]', '-', group_name)}.npz"


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial.npz")
    np.savez_compressed(partial, **arrays)
    os.replace(partial, path)  # atomic: a reader never sees half a file


def _check(history: History) -> None:
    missing = [name for name in FIELDS if name not in history]
    if missing:
        raise ValueError(f"a history needs the arrays {list(FIELDS)}; missing {missing}")


def write_pending(out: Path, run_name: str, reference: str, seed: int, history: History) -> None:
    """Keep one finished run's history until :func:`consolidate` merges it into ``reference``."""
    _check(history)
    _write_npz(
        out / PENDING_DIR / f"{run_name}.npz",
        {**history, "reference": np.array(reference), "seed": np.array(seed, dtype=np.int64)},
    )


@functools.lru_cache(maxsize=8)
def _read_group(path: Path, modified: int) -> dict[int, History]:
    runs: dict[int, History] = {}
    with np.load(path) as stored:
        for member in stored.files:
            match = _MEMBER.fullmatch(member)
            if match is None:
                raise ValueError(f"{path}: {member!r} is not s<seed>.<array>: not a history group file")
            runs.setdefault(int(match["seed"]), {})[match["field"]] = stored[member]
    return runs


def read_group(path: Path) -> dict[int, History]:
    """The histories of one group file, by seed."""
    return _read_group(path, path.stat().st_mtime_ns)


def write_group(path: Path, runs: dict[int, History]) -> None:
    """Write the histories of one group file (by seed), atomically."""
    for history in runs.values():
        _check(history)
    _write_npz(path, {f"s{seed}.{name}": runs[seed][name] for seed in sorted(runs) for name in FIELDS})


def consolidate(out: Path, references: set[tuple[str, int]] | None = None) -> int:
    """Merge the pending histories of ``out`` into their group files and delete them.

    :param references: the (``history``, seed) of the rows in ``runs.csv``; a pending history of
        no row (its run's row was never written: the process died in between) is deleted, since a
        re-run makes it again. ``None``: merge every pending history.
    :returns: the number of histories merged.
    """
    pending_dir = out / PENDING_DIR
    if not pending_dir.is_dir():
        return 0
    by_group: dict[str, dict[int, History]] = {}
    files = sorted(pending_dir.glob("*.npz"))
    for path in files:
        if path.name.endswith(".partial.npz"):  # a write that never finished
            continue
        with np.load(path) as stored:
            reference, seed = str(stored["reference"]), int(stored["seed"])
            if references is None or (reference, seed) in references:
                by_group.setdefault(reference, {})[seed] = {name: stored[name] for name in FIELDS}
    for reference, runs in by_group.items():
        path = out / reference
        write_group(path, {**(read_group(path) if path.exists() else {}), **runs})
    for path in files:
        path.unlink()
    for leftover in pending_dir.glob("*.partial.npz"):
        leftover.unlink()
    pending_dir.rmdir()
    return sum(len(runs) for runs in by_group.values())


def read_history(out: Path, row: dict[str, str]) -> History:
    """The history of a ``runs.csv`` row.

    :raises FileNotFoundError: the folder does not hold it.
    """
    path = out / row["history"]
    runs = read_group(path) if path.exists() else {}
    seed = int(row["seed"])
    if seed not in runs:
        raise FileNotFoundError(f"{path} holds no history of seed {seed}")
    return runs[seed]


def replace_histories(out: Path, changed: dict[tuple[str, int], History]) -> None:
    """Overwrite the histories keyed by (``history``, seed), one write per group file."""
    by_group: dict[str, dict[int, History]] = {}
    for (reference, seed), history in changed.items():
        by_group.setdefault(reference, {})[seed] = history
    for reference, runs in by_group.items():
        path = out / reference
        write_group(path, {**read_group(path), **runs})


def missing_histories(out: Path, rows: list[dict[str, str]]) -> list[str]:
    """``history`` (and seed) of each row whose history ``out`` does not hold (folders committed without them)."""
    missing = []
    for row in rows:
        path = out / row["history"]
        if not path.exists() or int(row["seed"]) not in read_group(path):
            missing.append(f"{row['history']} seed {row['seed']}")
    return missing


def load_histories(out: Path | str) -> dict[tuple[str, int], History]:
    """Every history of a bench folder, keyed by what its ``runs.csv`` row holds:
    ``(row["history"], int(row["seed"]))``.

    :param out: a folder written by ``nasgym bench``.
    """
    out = Path(out)
    return {
        (f"{HISTORY_DIR}/{path.name}", seed): history
        for path in sorted((out / HISTORY_DIR).glob("*.npz"))
        if not path.name.endswith(".partial.npz")
        for seed, history in read_group(path).items()
    }


def is_per_run_file(path: Path) -> bool:
    """Whether ``path`` is a history of the earlier layout: one run per file, its arrays unprefixed."""
    if not path.is_file():
        return False
    with np.load(path) as stored:
        return "index" in stored.files
