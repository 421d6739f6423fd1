"""Recompute a folder's rows from its histories (``--rescore``), and upgrade a folder written
before the provenance columns (``--migrate``)."""

from __future__ import annotations

import shlex
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from nasgym.bench.envs import report_evaluator
from nasgym.bench.grid import EnvContext, env_context, group_name
from nasgym.bench.histories import (
    consolidate,
    group_reference,
    is_per_run_file,
    missing_histories,
    read_group,
    read_history,
    replace_histories,
    write_group,
)
from nasgym.bench.report import missing_text, record_command, write_report
from nasgym.bench.runs import PROVENANCE_COLUMNS, is_legacy, read_runs, row_protocol, write_runs
from nasgym.bench.scoring import Score, score_queries
from nasgym.tables.metrics import FIDELITY_METRICS

#: the fingerprint of rows written before fingerprints were recorded
UNRECORDED = "unrecorded"


def full_precision(table: np.ndarray, indices: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """The table values that a history's observations are (histories written before float64 ones
    held float32 values): per query, the value of the queried architecture's seed nearest to it.

    :param table: the reward's (archs x seeds) validation accuracies, NaN where unknown.
    :param indices: queried architectures.
    :param observed: their observed validation accuracies, as the history holds them.
    :raises ValueError: an observation is no seed's value of its architecture.
    """
    candidates = np.asarray(table)[indices]
    distance = np.abs(candidates - np.asarray(observed, dtype=np.float64)[:, None])
    seed = np.argmin(np.where(np.isnan(distance), np.inf, distance), axis=1)
    values = candidates[np.arange(len(indices)), seed]
    mismatch = np.abs(values - observed) > 1e-4
    if mismatch.any():
        first = int(np.argmax(mismatch))
        raise ValueError(
            f"query {first + 1} observed {observed[first]} for architecture {indices[first]}, which is none of "
            f"its seeds' values {candidates[first].tolist()}: the history was written with other tables"
        )
    return values


def _row_context(row: dict[str, str], cache_dir: Path | None, contexts: dict[tuple, EnvContext]) -> EnvContext:
    protocol = row_protocol(row)
    key = (row["env"], protocol.search_dataset or row["dataset"], row["dataset"], protocol.fidelity, row["env_args"])
    if key not in contexts:
        contexts[key] = env_context(*key, cache_dir)
    return contexts[key]


def _observations(history: dict[str, np.ndarray], context: EnvContext) -> np.ndarray:
    """The history's observations in float64 (older histories stored float32: matched to the table)."""
    observed = history["valid_acc"]
    if observed.dtype == np.float64:
        return observed
    table = getattr(context.reward, "table", None)
    if table is None:
        raise ValueError(
            f"a float32 history needs the reward's table to restore its observations; {context.reward!r} has none"
        )
    seeds = table.values(FIDELITY_METRICS[context.fidelity]["valid_acc"])
    return full_precision(seeds, history["index"].astype(np.int64), observed)


def _score(history: dict[str, np.ndarray], row: dict[str, str], context: EnvContext, cache_dir: Path | None) -> Score:
    reporter = report_evaluator(row["env"], row["dataset"], row["env_args"], cache_dir)
    return score_queries(reporter, history["index"].astype(np.int64), _observations(history, context))


def _rescorable_rows(out: Path) -> list[dict[str, str]]:
    """The rows of ``out/runs.csv``, checked: of the current layout, and every run's history there."""
    runs_csv = out / "runs.csv"
    if not runs_csv.exists():
        raise FileNotFoundError(f"out: {runs_csv} does not exist; run the grid first")
    if is_legacy(runs_csv):
        raise ValueError(f"out: {runs_csv} predates the provenance columns; run nasgym bench --migrate --out {out}")
    rows = read_runs(runs_csv)
    consolidate(out, _references(rows))  # what a killed invocation left
    missing = missing_histories(out, rows)
    if missing:
        raise FileNotFoundError(f"out: rescoring needs every run's history, and {missing_text(out, rows, missing)}")
    return rows


def _references(rows: list[dict[str, str]]) -> set[tuple[str, int]]:
    return {(row["history"], int(row["seed"])) for row in rows}


def _fingerprint_text(counts: Counter) -> str:
    return ", ".join(f"{n} rows have {fingerprint}" for fingerprint, n in counts.most_common())


def check_fingerprints(rows: list[dict[str, str]], current: list[str]) -> Counter | None:
    """The fingerprints of ``rows`` when any is not the current one of its row (``None`` if all are).

    :param current: the fingerprint the current tables give each row.
    """
    if all(row["tables_fingerprint"] == now for row, now in zip(rows, current, strict=True)):
        return None
    return Counter(row["tables_fingerprint"] or UNRECORDED for row in rows)


def rescore(out: Path | str, cache_dir: Path | None = None, allow_mixed_fingerprints: bool = False) -> int:
    """Recompute every run of ``out/runs.csv`` from its history, with the current selection rule
    (:func:`~nasgym.selection.incumbents`) and tables: the selected architecture after each query, its reported
    accuracies (also the test accuracies imported since the run), and the row's columns that follow
    from them. The queries themselves are kept: no agent sees what is selected, so they are what a
    re-run would make, as long as the reward tables are the ones the runs were made with. Rows
    whose tables fingerprint is not what the current tables give are refused (a rescore would mix
    runs made on other tables with the current ones) unless ``allow_mixed_fingerprints``, which
    ``commands.jsonl`` records; their fingerprints then stay as they were. Rewrites the histories
    whose best-so-far curves changed and ``runs.csv``, atomically, then the report.

    :param out: a folder written by :func:`~nasgym.bench.execute.run_bench`.
    :param cache_dir: table cache; ``None``: the env's default.
    :param allow_mixed_fingerprints: rescore rows whose fingerprint is not the current one.
    :returns: the number of runs rescored.
    :raises ValueError: mixed fingerprints (the counts of each), or a folder to migrate first.
    :raises FileNotFoundError: no ``runs.csv``, or runs without a history.
    """
    out = Path(out)
    runs_csv = out / "runs.csv"
    rows = _rescorable_rows(out)
    contexts: dict[tuple, EnvContext] = {}
    current = [_row_context(row, cache_dir, contexts).fingerprint for row in rows]
    mixed = check_fingerprints(rows, current)
    if mixed is not None and not allow_mixed_fingerprints:
        raise ValueError(
            f"rescore: {_fingerprint_text(mixed)}, and the current tables give "
            f"{', '.join(sorted(set(current)))}: rows made on other tables would be mixed with rows of the current "
            "ones. Re-run them, or pass --allow-mixed-fingerprints to rescore anyway (commands.jsonl records it)"
        )
    changed = {}
    for row in rows:
        history = read_history(out, row)
        score = _score(history, row, _row_context(row, cache_dir, contexts), cache_dir)
        curves = {"best_valid_acc": score.best_valid_acc, "best_test_acc": score.best_test_acc}
        if any(not np.array_equal(history[key], curve, equal_nan=True) for key, curve in curves.items()):
            changed[row["history"], int(row["seed"])] = {**history, **curves}  # only what changed: no churn in git
        row.update({column: str(value) for column, value in score.fields.items()})
    replace_histories(out, changed)
    write_runs(runs_csv, rows)
    record: dict[str, Any] = {"command": shlex.join(["nasgym", "bench", "--rescore", "--out", str(out)])}
    if mixed is not None:
        record["command"] += " --allow-mixed-fingerprints"
        record["fingerprints_before"] = dict(mixed)
    record_command(out, {**record, "runs_rescored": len(rows)})
    write_report(out)
    return len(rows)


#: the columns whose values a migration must reproduce exactly from a row's history
_REPRODUCED = (
    "best_arch",
    "best_index",
    "best_valid_acc",
    "best_test_acc",
    "best_valid_acc_observed",
    "queries_to_best",
)


def migrate(out: Path | str, cache_dir: Path | None = None) -> int:
    """Upgrade a folder of an earlier layout: ``runs.csv`` without the provenance columns, and
    histories one file per run. Every row is first recomputed from its history with the current
    tables and must come out the same in every column it has (else nothing is changed): that makes
    the current tables' fingerprint the row's. Rows of the earlier layout then get their env
    arguments (none then), report fidelity, queries to the optimum and tables fingerprint; versions
    and machine were not recorded then and read ``unrecorded``. Per-run history files move into
    the group files of :mod:`~nasgym.bench.histories` (float32 observations of the oldest
    histories restored to the table values they are, :func:`full_precision`) and each row's
    ``history`` names its group file; no other value of a row changes.

    :returns: the number of rows migrated.
    :raises ValueError: nothing to migrate, or the current tables do not reproduce a row (naming
        its line and the column).
    :raises FileNotFoundError: no ``runs.csv``, or a run without a history.
    """
    out = Path(out)
    runs_csv = out / "runs.csv"
    if not runs_csv.exists():
        raise FileNotFoundError(f"out: {runs_csv} does not exist")
    legacy_columns = is_legacy(runs_csv)
    rows = read_runs(runs_csv)
    consolidate(out, _references(rows))
    per_run = [is_per_run_file(out / row["history"]) for row in rows]
    if not legacy_columns and not any(per_run):
        raise ValueError(f"out: {out} has the current layout already; nothing to migrate")
    missing = missing_histories(out, [row for row, single in zip(rows, per_run, strict=True) if not single])
    if missing:
        raise FileNotFoundError(f"out: migrating needs every run's history, and {missing_text(out, rows, missing)}")
    contexts: dict[tuple, EnvContext] = {}
    moved: dict[tuple[str, int], dict[str, np.ndarray]] = {}
    for number, (row, single) in enumerate(zip(rows, per_run, strict=True), start=2):  # line 1: the header
        context = _row_context(row, cache_dir, contexts)
        if single:
            with np.load(out / row["history"]) as stored:
                history = dict(stored)
        else:
            history = read_history(out, row)
        score = _score(history, row, context, cache_dir)
        for column in _REPRODUCED + (() if legacy_columns else ("queries_to_optimum",)):
            if str(score.fields[column]) != row[column]:
                raise ValueError(
                    f"out: {runs_csv} line {number}: the current tables give {column} {score.fields[column]}, the row "
                    f"{row[column]}; the row was made with other tables, so nothing is migrated"
                )
        if legacy_columns:
            row.update(
                report_fidelity="" if context.report_fidelity is None else str(context.report_fidelity),
                queries_to_optimum=str(score.fields["queries_to_optimum"]),
                tables_fingerprint=context.fingerprint,
                versions=UNRECORDED,
                machine=UNRECORDED,
            )
        if single:
            curves = {"best_valid_acc": score.best_valid_acc, "best_test_acc": score.best_test_acc}
            for key, curve in curves.items():
                if not np.array_equal(history[key].astype(np.float32), curve, equal_nan=True):
                    raise ValueError(f"out: {row['history']}: its {key} curve is not what the current tables give")
            reference = group_reference(
                group_name(row["agent"], row["env"], row["dataset"], row_protocol(row), row["env_args"])
            )
            if (reference, int(row["seed"])) in moved:
                raise ValueError(f"out: {runs_csv} line {number}: a second run of {reference} seed {row['seed']}")
            moved[reference, int(row["seed"])] = {
                "index": history["index"].astype(np.int64),
                "valid_acc": _observations(history, context),
                "sim_time": history["sim_time"].astype(np.float64),
                **curves,
            }
            row["history"], row["_old_history"] = reference, row["history"]
    by_group: dict[str, dict[int, dict[str, np.ndarray]]] = {}
    for (reference, seed), history in moved.items():
        by_group.setdefault(reference, {})[seed] = history
    for reference, runs in by_group.items():  # group files first, then runs.csv, then the old files go
        path = out / reference
        write_group(path, {**(read_group(path) if path.exists() else {}), **runs})
    old_files = [row.pop("_old_history") for row in rows if "_old_history" in row]
    write_runs(runs_csv, rows)
    for name in old_files:
        (out / name).unlink()
    command = shlex.join(["nasgym", "bench", "--migrate", "--out", str(out)])
    record_command(
        out,
        {
            "command": command,
            "runs_migrated": len(rows),
            "columns_added": list(PROVENANCE_COLUMNS) if legacy_columns else [],
            "history_files_merged": len(old_files),
            "history_group_files": len(by_group),
        },
    )
    write_report(out)
    return len(rows)
