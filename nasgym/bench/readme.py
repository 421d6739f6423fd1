"""The result tables of a README, generated from bench folders (``nasgym bench --readme README.md``).

A README marks each generated block with the folder it comes from::

    <!-- nasgym bench --readme benchmarks/results/nb201 -->
    ...generated, never edited by hand...
    <!-- end of nasgym bench --readme -->

and :func:`update_readme` rewrites every block from its folder's ``runs.csv`` (the folder relative
to the README): accuracy per method and protocol beside the published rows, then the differences
to REA and to the published rows with their 95% confidence intervals (:mod:`~nasgym.bench.compare`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from nasgym.bench.compare import difference
from nasgym.bench.grid import Protocol
from nasgym.bench.references import ReferenceRow, reference_rows
from nasgym.bench.report import (
    Group,
    dataset_cells,
    group_runs,
    markdown_header,
    reference_cell,
    rows_by_method,
    space_name,
)
from nasgym.bench.runs import read_runs

BLOCK = re.compile(
    r"(?P<start><!-- nasgym bench --readme (?P<folder>\S+) -->\n)(?P<body>.*?)"
    r"(?P<end><!-- end of nasgym bench --readme -->)",
    re.S,
)
#: the method every other one is compared with, where the folder has it
BASELINE = "rea"


def _agent_name(method: str) -> str:
    """``reinforce`` of ``reinforce[lr=0.05]``, ``sb3:PPO`` of ``sb3:PPO@Global``."""
    return re.split(r"[\[@ ]", method, maxsplit=1)[0]


def _published(space: str, protocol: Protocol) -> list[ReferenceRow]:
    return [ref for ref in reference_rows(space) if ref.protocol.startswith(protocol.label)]


def _space_tables(groups: list[Group]) -> list[str]:
    datasets = list(dict.fromkeys(g.dataset for g in groups))
    space = space_name(groups[0].space)
    by_protocol: dict[Protocol, dict[str, dict[str, Group]]] = {}
    for (protocol, method), by_dataset in rows_by_method(groups).items():
        by_protocol.setdefault(protocol, {})[method] = by_dataset
    lines = markdown_header(["method", "protocol", *datasets, "runs", "s/run"])
    for protocol, methods in by_protocol.items():
        for method, cells in methods.items():
            runs = [row for group in cells.values() for row in group.rows]
            wall = np.mean([float(row["wall_time"]) for row in runs])
            accuracy = dataset_cells(cells, datasets, _accuracy)
            lines.append(f"| {method} | {protocol.label} | {accuracy} | {len(runs)} | {wall:.2f} |")
        for ref in _published(space, protocol):
            texts = " | ".join(reference_cell(ref, d) for d in datasets)
            lines.append(f"| {ref.method} (published) | {ref.protocol} | {texts} | | |")
    comparisons = [
        "",
        f"Validation accuracy minus {BASELINE}'s (same protocol and dataset), in points: mean and 95% bootstrap "
        "interval over seeds; above / below only where the interval excludes 0.",
        "",
        *markdown_header(["method", "protocol", *datasets]),
    ]
    compared = False
    for protocol, methods in by_protocol.items():
        baseline = methods.get(BASELINE)
        if baseline is None:
            continue
        for method, cells in methods.items():
            if method == BASELINE:
                continue
            text = dataset_cells(
                cells,
                datasets,
                lambda g, baseline=baseline: (
                    difference(g.values("best_valid_acc"), baseline[g.dataset].values("best_valid_acc")).text()
                    if g.dataset in baseline
                    else ""
                ),
            )
            comparisons.append(f"| {method} | {protocol.label} | {text} |")
            compared = True
    published = [
        "",
        "Validation accuracy minus the published row of the same method and protocol (a published mean, no "
        "seeds), in points: mean and 95% bootstrap interval over our seeds.",
        "",
        *markdown_header(["method", "published", "protocol", *datasets]),
    ]
    against_published = False
    for protocol, methods in by_protocol.items():
        for ref in _published(space, protocol):
            for method, cells in methods.items():
                if _agent_name(method) not in ref.agents:
                    continue
                text = dataset_cells(
                    cells,
                    datasets,
                    lambda g, ref=ref: (
                        difference(g.values("best_valid_acc"), ref.valid[g.dataset]).text()
                        if g.dataset in ref.valid
                        else ""
                    ),
                )
                published.append(f"| {method} | {ref.method} | {protocol.label} | {text} |")
                against_published = True
    return lines + (comparisons if compared else []) + (published if against_published else [])


def _mean(group: Group, column: str) -> str:
    values = group.values(column)
    return "n/a" if np.isnan(values).all() else f"{values.mean():.2f}"


def _accuracy(group: Group) -> str:
    """``valid / test``: the means over the group's runs."""
    return f"{_mean(group, 'best_valid_acc')} / {_mean(group, 'best_test_acc')}"


def readme_tables(out: Path | str, label: str) -> str:
    """The generated block of the bench folder ``out`` (``label``: how the README names it)."""
    out = Path(out)
    rows = read_runs(out / "runs.csv")
    if not rows:
        raise FileNotFoundError(f"{out / 'runs.csv'} does not exist or holds no run")
    groups = group_runs(rows)
    lines = [
        f"Generated from `{label}/runs.csv` ({len(rows)} runs) by `nasgym bench --readme README.md`: validation / "
        "test accuracy (%) of the architecture each run selected, mean over its runs (seeds x datasets in "
        "`runs`), and the mean wall time of a run on the machine it ran on.",
        "",
    ]
    spaces = list(dict.fromkeys(g.space for g in groups))
    for prefix in spaces:
        if len(spaces) > 1:
            lines += [f"**{prefix}**", ""]
        lines += _space_tables([g for g in groups if g.space == prefix]) + [""]
    return "\n".join(lines)


def update_readme(readme: Path | str, write: bool = True) -> list[str]:
    """Regenerate every marked block of ``readme`` from its folder; return the folders.

    :param write: rewrite the file (``False``: only check that the blocks are current).
    :raises ValueError: no marked block, or (``write=False``) a block that is not what its folder gives.
    """
    readme = Path(readme)
    text = readme.read_text()
    folders: list[str] = []

    def regenerate(match: re.Match) -> str:
        folders.append(match["folder"])
        return match["start"] + readme_tables(readme.parent / match["folder"], match["folder"]) + match["end"]

    new = BLOCK.sub(regenerate, text)
    if not folders:
        raise ValueError(f"readme: {readme} has no '<!-- nasgym bench --readme FOLDER -->' block")
    if new != text:
        if not write:
            raise ValueError(f"readme: the tables of {readme} are not what {folders} give; run nasgym bench --readme")
        readme.write_text(new)
    return folders
