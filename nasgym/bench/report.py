"""The report of an output folder: ``table.md`` (the grid's rows per space beside published ones)
and the anytime plots, rebuilt from ``runs.csv``, the histories and ``commands.jsonl``."""

from __future__ import annotations

import datetime
import json
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import nasgym
from nasgym.agents.base import env_id_flavour
from nasgym.bench.grid import Protocol
from nasgym.bench.histories import consolidate, missing_histories
from nasgym.bench.plots import PLOT_FILES, plot_anytime
from nasgym.bench.provenance import machine, versions
from nasgym.bench.references import OWN_REFERENCE_AGENTS, ReferenceRow, reference_rows
from nasgym.bench.runs import dataset_position, read_runs, row_env_args, row_protocol
from nasgym.bench.spaces import env_id_prefix, registered_spaces

#: what a space's section says about its data, by space name
SPACE_NOTES = {"nb201": "cifar10 validation is the cifar10-valid split."}


@dataclass
class Group:
    """The runs of one agent (on one env, with one set of env arguments), dataset and protocol."""

    method: str
    space: str
    dataset: str
    protocol: Protocol
    rows: list[dict[str, str]] = field(default_factory=list)

    def values(self, column: str) -> np.ndarray:
        """The column's values as floats (NaN where a row has none)."""
        return np.array([float(row[column]) if row[column] != "" else np.nan for row in self.rows])


def rows_by_method(groups: Iterable[Group]) -> dict[tuple[Protocol, str], dict[str, Group]]:
    """The groups of each table row, keyed by (protocol, method), then by dataset; in table order."""
    rows: dict[tuple[Protocol, str], dict[str, Group]] = {}
    for group in groups:
        rows.setdefault((group.protocol, group.method), {})[group.dataset] = group
    return rows


def dataset_cells(by_dataset: dict[str, Group], datasets: list[str], text: Callable[[Group], str]) -> str:
    """The cells of one table row, one per dataset (``text`` of its group, empty where it has none)."""
    return " | ".join(text(by_dataset[d]) if d in by_dataset else "" for d in datasets)


def markdown_header(columns: Iterable[str]) -> list[str]:
    """The header and separator lines of a markdown table."""
    columns = list(columns)
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def reference_cell(ref: ReferenceRow, dataset: str) -> str:
    """``valid / test`` of a published row on ``dataset`` (``n/a`` where it gives no test accuracy;
    empty where it has no result on that dataset)."""
    if dataset not in ref.valid:
        return ""
    test = f"{ref.test[dataset]:.2f}" if dataset in ref.test else "n/a"
    return f"{ref.valid[dataset]:.2f} / {test}"


def _method(row: dict[str, str], flavours_of: dict[tuple[str, str], set[str]]) -> str:
    method = row["agent"]
    if len(flavours_of[env_id_prefix(row["env"]), method]) > 1:
        method += f"@{env_id_flavour(row['env'])}"
    env_args = row_env_args(row)
    if env_args:
        method += " {" + ",".join(f"{key}={json.dumps(value)}" for key, value in env_args.items()) + "}"
    return method


def group_runs(rows: Iterable[dict[str, str]]) -> list[Group]:
    """Runs grouped by method, space, dataset and protocol, in table order.

    The method is the agent name, with ``@Flavour`` where the results hold that agent on more than
    one flavour of the space, and ``{KEY=VALUE,...}`` where its env had extra arguments. The
    space is the env ids' prefix (``NAS-Bench-201``).
    """
    rows = list(rows)
    flavours_of: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        flavours_of.setdefault((env_id_prefix(row["env"]), row["agent"]), set()).add(row["env"])
    groups: dict[tuple, Group] = {}
    for row in rows:
        protocol, method, space = row_protocol(row), _method(row, flavours_of), env_id_prefix(row["env"])
        key = (method, space, row["dataset"], protocol)
        groups.setdefault(key, Group(method, space, row["dataset"], protocol)).rows.append(row)
    return sorted(
        groups.values(), key=lambda g: (g.space, g.protocol.sort_key(), g.method, dataset_position(g.dataset))
    )


def _mean_std(values: np.ndarray) -> str:
    if np.isnan(values).all():
        return "n/a"
    if len(values) < 2:
        return f"{values.mean():.2f}"
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def _optimum_cell(group: Group) -> str:
    queries = group.values("queries_to_optimum")
    found = queries[np.isfinite(queries)]
    median = f", median {np.median(found):g}" if len(found) else ""
    return f"{len(found)}/{len(queries)}{median}"


def space_name(prefix: str) -> str:
    """The space name of an env-id prefix (the prefix itself where no registered space has it)."""
    space = registered_spaces().get(prefix)
    return space.name if space is not None else prefix


def _space_section(prefix: str, groups: list[Group]) -> list[str]:
    name = space_name(prefix)
    datasets = list(dict.fromkeys(g.dataset for g in groups))
    lines = [f"## {prefix}", ""]
    if name in SPACE_NOTES:
        lines += [SPACE_NOTES[name], ""]
    lines += markdown_header(["method", "protocol", *datasets, "source"])
    rows = rows_by_method(groups)

    def accuracy(group: Group) -> str:
        valid, test = group.values("best_valid_acc"), group.values("best_test_acc")
        return f"{_mean_std(valid)} / {_mean_std(test)} (n={len(valid)})"

    for (protocol, method), by_dataset in rows.items():
        lines.append(f"| {method} | {protocol.label} | {dataset_cells(by_dataset, datasets, accuracy)} | this grid |")
    published = reference_rows(name)
    for ref in published:
        texts = " | ".join(reference_cell(ref, d) for d in datasets)
        lines.append(f"| {ref.method} | {ref.protocol} | {texts} | {ref.source} |")
    if not published:
        own = [a for a in OWN_REFERENCE_AGENTS if any(g.method == a for g in groups)]
        lines += [
            "",
            f"No published rows for this space: the grid's own {' and '.join(own) or 'random and rea'} rows are its "
            "reference" + ("." if own else " (add random,rea to --agents)."),
        ]
    optimum = [g for g in groups if np.isfinite(g.values("queries_to_optimum")).any()]
    if optimum:
        lines += [
            "",
            "Runs that queried an optimal architecture (best seed-mean validation accuracy of the space) / runs, "
            "and the median query at which they first did:",
            "",
            *markdown_header(["method", "protocol", *datasets]),
        ]
        for (protocol, method), by_dataset in rows.items():
            lines.append(f"| {method} | {protocol.label} | {dataset_cells(by_dataset, datasets, _optimum_cell)} |")
    return lines + [""]


def format_table(rows: list[dict[str, str]], commands: list[dict[str, Any]], failures: int = 0) -> str:
    """The markdown of ``table.md``: the invocations, then per space the grid's rows and the
    published rows (:func:`~nasgym.bench.references.reference_rows`)."""
    groups = group_runs(rows)
    lines = ["# nasgym bench", ""]
    lines += ["Produced by (UTC date, nasgym version, command; every invocation into this folder):", ""]
    lines += [f"- {c['date']}, nasgym {c['nasgym_version']}: `{c['command']}`" for c in commands]
    if failures:
        lines += ["", f"**{failures} run(s) of the latest invocation failed** (see failures.jsonl); re-run to retry."]
    lines += [
        "",
        "Each cell: validation / test accuracy (%), mean ± sample std over seeds (n = seeds). A run selects the "
        "architecture with the best observed (noisy) validation accuracy among its queries (the mean of its "
        "observations where it was queried more than once); the cell reports the seed-mean validation and test "
        "accuracy of that architecture at the env's default fidelity, as NAS-Bench-201, NATS-Bench and the L2NAS "
        "paper do. Test reads n/a where the benchmark has no test accuracies. Published rows (means only) follow "
        "the grid's rows.",
        "",
    ]
    for prefix in dict.fromkeys(g.space for g in groups):
        lines += _space_section(prefix, [g for g in groups if g.space == prefix])
    return "\n".join(lines).rstrip("\n") + "\n"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file, or none if it does not exist."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def record_command(out: Path, record: dict[str, Any]) -> None:
    """Append one invocation to ``out/commands.jsonl``, with the nasgym version, the date, the
    versions and the machine."""
    line = {
        "command": record["command"],
        "nasgym_version": nasgym.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **record,
        "versions": versions(),
        "machine": machine(),
    }
    with open(out / "commands.jsonl", "a") as file:
        file.write(json.dumps(line) + "\n")


def write_failures(path: Path, records: list[dict[str, Any]]) -> None:
    """Failures of this invocation only: a stale file would report runs a re-run has since done."""
    if not records:
        path.unlink(missing_ok=True)
        return
    with open(path, "w") as file:
        for record in records:
            file.write(json.dumps(record) + "\n")


def missing_text(out: Path, rows: list[dict[str, str]], missing: list[str]) -> str:
    return (
        f"{len(missing)} of the {len(rows)} runs in {out} have no history (e.g. {missing[0]}); the grid's "
        f"commands in {out / 'commands.jsonl'} rebuild them"
    )


def _plot_link(axis: str, name: str) -> str:
    return f"\n![best-so-far against {axis.replace('_', ' ')}]({name})\n"


def write_report(out: Path | str) -> str:
    """(Re)build ``table.md`` and the anytime plots from what ``out`` holds; return the table.

    :param out: a folder written by :func:`~nasgym.bench.execute.run_bench`.
    :raises FileNotFoundError: ``out`` has no ``runs.csv``.
    """
    out = Path(out)
    runs_csv = out / "runs.csv"
    if not runs_csv.exists():
        raise FileNotFoundError(f"out: {runs_csv} does not exist; run the grid first")
    rows = read_runs(runs_csv)
    consolidate(out, {(row["history"], int(row["seed"])) for row in rows})  # what a killed invocation left
    failures = len(read_jsonl(out / "failures.jsonl"))
    table = format_table(rows, read_jsonl(out / "commands.jsonl"), failures)
    missing = missing_histories(out, rows)
    try:
        import matplotlib  # noqa: F401  (an optional dependency: the table needs none)
    except ImportError:
        warnings.warn(
            "matplotlib is missing (pip install 'nasgym[plot]'): table.md only, no anytime plots", stacklevel=2
        )
    else:
        groups = group_runs(rows)
        for axis, name in PLOT_FILES.items():
            if missing:  # the plots need every history: keep those drawn when they were all there
                if (out / name).exists():
                    table += _plot_link(axis, name)
            elif plot_anytime(out, groups, axis) is None:  # no runs of that kind: no stale plot either
                (out / name).unlink(missing_ok=True)
            else:
                table += _plot_link(axis, name)
        if missing:
            warnings.warn(f"{missing_text(out, rows, missing)}: the anytime plots are left as they are", stacklevel=2)
    (out / "table.md").write_text(table)
    return table
