"""NAS-Bench-101 speed: the TFRecord importer's rate, and the space's work on a table of the official size.

The official file cannot be downloaded here, so both parts run on stand-ins, said as such:

1. Import. Hand-made cells written in the official file's format (``tests/nb101_records.py``: the
   framing, JSON rows and ModelMetrics protocol buffers of the real file) are imported twice: one
   record per cell, then 12 per cell (3 repeats x 4 budgets, as ``nasbench_full.tfrecord``). The
   two times give a cost per record and a cost per new cell (the cell's hash, pruning, FLOPs), from
   which the import of the official files (423,624 cells; 1,270,872 and 5,083,488 records) is
   extrapolated, linearly, and written as an extrapolation. The importer alone is timed (no cache
   write), 3 rounds each, the median kept.
2. Space. An :class:`~nasgym.spaces.NB101Space` over 423,624 rows of random cells (sparse edges,
   random ops) with made-up ascending hashes: the one-off encodings of the table, and the decoding
   of env actions outside the table (uniformly random Global actions) to their nearest cell, which
   is what a random or RL agent's step costs beyond a table lookup. Real cells have fewer distinct
   edge patterns than random ones, so this is an upper side of that cost.

The load averages before and after are recorded with the machine and the versions.

Results go to ``benchmarks/results/nb101/speed.{json,md}``.

Usage::

    python benchmarks/nb101_speed.py                 # 1,500 cells for the import, 200 actions
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))
from nb101_records import hand_made_cells, runs, write_tfrecord  # noqa: E402  (the official format)
from speed_nb201 import system_info  # noqa: E402  (the machine record every speed script writes)

from nasgym.spaces import NB101Space  # noqa: E402
from nasgym.tables.importers.nb101 import import_nb101  # noqa: E402

OFFICIAL_CELLS = 423_624
OFFICIAL_RECORDS = {"nasbench_only108.tfrecord": 3 * OFFICIAL_CELLS, "nasbench_full.tfrecord": 12 * OFFICIAL_CELLS}
ROUNDS = 3


def time_import(path: Path) -> tuple[float, float]:
    """Median wall-clock and CPU seconds of :func:`import_nb101` on ``path`` over :data:`ROUNDS` rounds
    (on a shared machine the CPU time says what the import costs, the wall time what it took)."""
    wall, cpu = [], []
    for _ in range(ROUNDS):
        start, start_cpu = time.perf_counter(), time.process_time()
        import_nb101(path)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def import_rates(n_cells: int, folder: Path) -> dict:
    cells = hand_made_cells(n_cells, seed=0)
    sparse = write_tfrecord(folder / "one_record_per_cell.tfrecord", runs(cells, (108,), repeats=1))
    dense = write_tfrecord(folder / "twelve_records_per_cell.tfrecord", runs(cells, (4, 12, 36, 108), repeats=3))
    out = {"cells": n_cells, "bytes_per_record": dense.stat().st_size / (12 * n_cells)}
    for clock, one, twelve in zip(("wall", "cpu"), time_import(sparse), time_import(dense), strict=True):
        per_record = (twelve - one) / (11 * n_cells)  # the 11 extra records per cell
        per_cell = one / n_cells - per_record  # a cell's first record: a record and a new cell
        out[clock] = {
            "seconds_one_record_per_cell": one,
            "seconds_twelve_records_per_cell": twelve,
            "seconds_per_record": per_record,
            "seconds_per_new_cell": per_cell,
            "extrapolated_seconds": {
                name: records * per_record + OFFICIAL_CELLS * per_cell for name, records in OFFICIAL_RECORDS.items()
            },
        }
    return out


def space_costs(n_actions: int) -> dict:
    rng = np.random.default_rng(0)
    cells = np.concatenate(
        [(rng.random((OFFICIAL_CELLS, 21)) < 0.25).astype(np.int64), rng.integers(0, 3, (OFFICIAL_CELLS, 5))], axis=1
    )
    words = rng.integers(0, 2**32, (OFFICIAL_CELLS, 4))  # made-up hashes, in ascending order as a table's
    words = words[np.lexsort(words.T[::-1])]
    start = time.perf_counter()
    space = NB101Space(cells, words)
    built = time.perf_counter() - start
    start = time.perf_counter()
    space.uniform_features()  # builds the encodings every decoding reads
    encodings = time.perf_counter() - start
    actions = rng.integers(0, space.n_choices, (n_actions, space.n_decisions))
    start = time.perf_counter()
    for action in actions:
        space.decode_choices(action)
    per_action = (time.perf_counter() - start) / n_actions
    return {
        "rows": OFFICIAL_CELLS,
        "distinct_edge_patterns": len(space._encodings()[0]),
        "seconds_space_construction": built,
        "seconds_encodings_once": encodings,
        "actions": n_actions,
        "milliseconds_per_outside_action": 1e3 * per_action,
    }


def markdown(record: dict) -> str:
    imp, space = record["import"], record["space"]
    lines = [
        "# NAS-Bench-101 speed (stand-ins: see benchmarks/nb101_speed.py)",
        "",
        f"Machine: {record['system']['cpu']}, {record['system']['cpu_count']} cores; load average "
        f"{record['load_average_before'][0]:.1f} before, {record['load_average_after'][0]:.1f} after.",
        "",
        f"Import of {imp['cells']:,} hand-made cells in the official format ({imp['bytes_per_record']:.0f} bytes "
        "per record), median of 3 rounds:",
        "",
        "| clock | one record per cell (s) | 12 per cell (s) | per record (us) | per new cell (ms) | "
        + " | ".join(f"{name}, extrapolated (min)" for name in OFFICIAL_RECORDS)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(OFFICIAL_RECORDS),
    ]
    for clock in ("wall", "cpu"):
        rates = imp[clock]
        minutes = " | ".join(f"{seconds / 60:.1f}" for seconds in rates["extrapolated_seconds"].values())
        lines.append(
            f"| {clock} | {rates['seconds_one_record_per_cell']:.2f} | {rates['seconds_twelve_records_per_cell']:.2f} | "
            f"{1e6 * rates['seconds_per_record']:.0f} | {1e3 * rates['seconds_per_new_cell']:.2f} | {minutes} |"
        )
    lines += [
        "",
        f"Space over {space['rows']:,} random cells ({space['distinct_edge_patterns']:,} edge patterns): built in "
        f"{space['seconds_space_construction']:.2f} s, encodings {space['seconds_encodings_once']:.2f} s once, "
        f"{space['milliseconds_per_outside_action']:.1f} ms per random Global action decoded to its nearest cell "
        f"(mean of {space['actions']}).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1500, help="hand-made cells of the import files")
    parser.add_argument("--actions", type=int, default=200, help="random Global actions decoded")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "nb101")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        imported = import_rates(args.cells, Path(folder))
    record = {
        "import": imported,
        "space": space_costs(args.actions),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "system": system_info(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps(record, indent=1) + "\n")
    (args.out / "speed.md").write_text(markdown(record))
    print(markdown(record))


if __name__ == "__main__":
    main()
