"""Pack a finished ``nasgym data build ffn2`` of connect_4 into the arrays nasgym ships.

Reads every result of one training configuration from the build's result store (the SQLite file
``live-results.sqlite`` in the nasgym cache it ran with), checks that all 400 networks are there
with finite values, and writes ``nasgym/data/ffn/ffn2_connect_4.npz`` with rows in canonical index
order (the widths' choice indices read in base 20):

* ``valid_acc``, ``test_acc`` (%), ``valid_loss`` (cross-entropy), ``train_time`` (s): float64 (400,);
* ``params``: int64 (400,), parameters (weights and biases), equal to ``FFNSpace.param_count``.

Beside it, ``PROVENANCE.md`` records the data set, the training configuration, the build command
given as ``--command``, when the build ran (its first and last stored result) and the machine this
script runs on (run it on the machine that built the table), and ``LICENSE-pmlb`` the data set's
license, copied from ``--license``.

Usage: ``python scripts/package_ffn.py --store CACHE/live-results.sqlite --license PMLB/LICENSE --command "..."``
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np

from nasgym.bench.provenance import machine, versions
from nasgym.spaces import get_space

SPACE, DATASET = "ffn2", "connect_4"
OUT_DIR = Path(__file__).resolve().parent.parent / "nasgym" / "data" / "ffn"
FIELDS = ("valid_acc", "test_acc", "valid_loss", "train_time")


def read_build(store: Path) -> tuple[dict[str, np.ndarray], dict, tuple[float, float]]:
    """(arrays, the training configuration, first and last result time) of the one complete build
    of :data:`SPACE` on :data:`DATASET` in ``store``; a ValueError if there is none or several."""
    space = get_space(SPACE)
    with sqlite3.connect(store) as connection:
        rows = connection.execute(
            "SELECT config_hash, arch, config, metrics, created FROM results WHERE space = ? AND dataset = ?",
            (SPACE, DATASET),
        ).fetchall()
    by_config: dict[str, list] = {}
    for row in rows:
        by_config.setdefault(row[0], []).append(row)
    complete = {h: found for h, found in by_config.items() if len(found) == space.size}
    if len(complete) != 1:
        counts = {h: len(found) for h, found in by_config.items()}
        raise ValueError(f"{store}: expected one complete build of {space.size} networks, found {counts}")
    (found,) = complete.values()
    arrays = {name: np.full(space.size, np.nan) for name in FIELDS}
    params = np.zeros(space.size, dtype=np.int64)
    for _, arch, _, text, _ in found:
        index = int(space.index_of(space.from_string(arch)))
        metrics = json.loads(text)
        for name in FIELDS:
            value = metrics[name]
            if value is None or not np.isfinite(value):
                raise ValueError(f"{store}: {name} of {arch} is {value!r}; expected a finite number")
            arrays[name][index] = value
        params[index] = round(metrics["params"] * 1e6)
    if not np.array_equal(params, space.param_count(space.enumerate(), 125, 3)):
        raise ValueError(f"{store}: the stored parameter counts are not those of connect_4's 125 inputs and 3 classes")
    created = [row[4] for row in found]
    return {**arrays, "params": params}, json.loads(found[0][2]), (min(created), max(created))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="the build's live-results.sqlite")
    parser.add_argument("--license", type=Path, required=True, help="PMLB's license file")
    parser.add_argument("--command", required=True, help="the 'nasgym data build' command that built the table")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"folder to write (default {OUT_DIR})")
    args = parser.parse_args()
    arrays, config, (first, last) = read_build(args.store)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"{SPACE}_{DATASET}.npz"
    np.savez_compressed(target, **arrays)
    shutil.copyfile(args.license, args.out / "LICENSE-pmlb")
    when = [datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") for t in (first, last)]
    best = int(arrays["valid_acc"].argmax())
    text = f"""# FFN table shipped with nasgym: ffn2 (2 hidden layers, 400 networks) on connect_4

`{target.name}` holds, for every network of the `ffn2` space in canonical index order, what
nasgym's own live evaluator measured when it trained it on PMLB's `connect_4` (67,557 positions of
the Connect-4 game, 42 features of 3 values each, 3 classes; github.com/EpistasisLab/pmlb,
`datasets/connect_4`, commit 253138e2, MIT: `LICENSE-pmlb` beside this file; the original UCI data
asks for citation): `valid_acc`, `test_acc` (%), `valid_loss` (cross-entropy), `train_time` (s,
the batch's time split in proportion to the networks' multiply-adds), `params` (count).

- Encoding and split: nasgym.training.tabular (one-hot of the 42 features over the categories seen
  at least 10 times in training: 125 inputs; 60/20/20 split with seed 0).
- Training configuration (its hash keys the result store): `{json.dumps(config, sort_keys=True)}`.
- Built by: `{args.command}`, results stored from {when[0]} to {when[1]}.
- Packed by `scripts/package_ffn.py` on: {machine()}; {versions()}.
- Best validation accuracy: {arrays['valid_acc'][best]:.2f}% ({get_space(SPACE).arch_string(best)}).
"""
    (args.out / "PROVENANCE.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
