"""Recompute a folder's rows from its histories (``--rescore``), and upgrade a folder written
before the provenance columns (``--migrate``)."""

from __future__ import annotations

import shlex
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from nasgym.bench.envs import report_evaluator
from nasgym.bench.grid import EnvContext, env_context
from nasgym.bench.histories import missing_histories, read_history, replace_history
from nasgym.bench.report import missing_text, record_command, write_report
from nasgym.bench.runs import LEGACY_COLUMNS, is_legacy, read_runs, row_protocol, write_runs
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


def _score(out: Path, row: dict[str, str], context: EnvContext, cache_dir: Path | None) -> tuple[dict, Score]:
    history = read_history(out, row)
    indices = history["index"].astype(np.int64)
    reporter = report_evaluator(row["env"], row["dataset"], row["env_args"], cache_dir)
    return history, score_queries(reporter, indices, _observations(history, context))


def _rows_with_histories(out: Path, action: str, legacy: bool) -> list[dict[str, str]]:
    """The rows of ``out/runs.csv``, checked: of the layout ``action`` needs (``legacy``: the one
    before the provenance columns) and every run's history there."""
    runs_csv = out / "runs.csv"
    if not runs_csv.exists():
        raise FileNotFoundError(f"out: {runs_csv} does not exist; run the grid first")
    if is_legacy(runs_csv) != legacy:
        if legacy:
            raise ValueError(f"out: {runs_csv} has the current columns already; nothing to migrate")
        raise ValueError(f"out: {runs_csv} predates the provenance columns; run nasgym bench --migrate --out {out}")
    rows = read_runs(runs_csv)
    missing = missing_histories(out, rows)
    if missing:
        raise FileNotFoundError(f"out: {action} needs every run's history, and {missing_text(out, rows, missing)}")
    return rows


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
    rows = _rows_with_histories(out, "rescoring", legacy=False)
    contexts: dict[tuple, EnvContext] = {}
    current = [_row_context(row, cache_dir, contexts).fingerprint for row in rows]
    mixed = check_fingerprints(rows, current)
    if mixed is not None and not allow_mixed_fingerprints:
        raise ValueError(
            f"rescore: {_fingerprint_text(mixed)}, and the current tables give "
            f"{', '.join(sorted(set(current)))}: rows made on other tables would be mixed with rows of the current "
            "ones. Re-run them, or pass --allow-mixed-fingerprints to rescore anyway (commands.jsonl records it)"
        )
    for row in rows:
        history, score = _score(out, row, _row_context(row, cache_dir, contexts), cache_dir)
        curves = {"best_valid_acc": score.best_valid_acc, "best_test_acc": score.best_test_acc}
        if any(not np.array_equal(history[key], curve, equal_nan=True) for key, curve in curves.items()):
            replace_history(out, row, {**history, **curves})  # only what changed: no churn in results kept in git
        row.update({column: str(value) for column, value in score.fields.items()})
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
    """Upgrade ``out/runs.csv`` written before the provenance columns: each row gets its env
    arguments (none then), report fidelity, queries to the optimum and tables fingerprint, after
    checking that the current tables reproduce the row's values exactly from its history (so the
    fingerprint of the current tables is the row's); versions and machine were not recorded then
    and read ``unrecorded``. No value of the earlier columns changes.

    :returns: the number of rows migrated.
    :raises ValueError: the folder is not of the earlier layout, or the current tables do not
        reproduce a row (naming it and the column).
    """
    out = Path(out)
    runs_csv = out / "runs.csv"
    rows = _rows_with_histories(out, "migrating", legacy=True)
    contexts: dict[tuple, EnvContext] = {}
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        context = _row_context(row, cache_dir, contexts)
        _, score = _score(out, row, context, cache_dir)
        for column in _REPRODUCED:
            if str(score.fields[column]) != row[column]:
                raise ValueError(
                    f"out: {runs_csv} line {number}: the current tables give {column} {score.fields[column]}, the row "
                    f"{row[column]}; the row was made with other tables, so no fingerprint can be given to it"
                )
        row.update(
            report_fidelity="" if context.report_fidelity is None else str(context.report_fidelity),
            queries_to_optimum=str(score.fields["queries_to_optimum"]),
            tables_fingerprint=context.fingerprint,
            versions=UNRECORDED,
            machine=UNRECORDED,
        )
    write_runs(runs_csv, rows)
    command = shlex.join(["nasgym", "bench", "--migrate", "--out", str(out)])
    record_command(out, {"command": command, "runs_migrated": len(rows), "columns_before": list(LEGACY_COLUMNS)})
    write_report(out)
    return len(rows)
