"""Import the official NAS-Bench-101 file (``nasbench_only108.tfrecord`` or ``nasbench_full.tfrecord``)
without TensorFlow.

A TFRecord file is a sequence of records, each framed as: the data length (u64, little-endian),
the masked CRC-32C of those 8 bytes (u32), the data, the masked CRC-32C of the data (u32). Both
checksums are verified. Each record's data is a JSON list ``[module_hash, epochs, adjacency, ops,
metrics]``: the official hash of the cell, its training budget (4, 12, 36 or 108 epochs), its
adjacency matrix as a string of 0/1 digits row by row, its vertex labels joined by commas, and
the base64 of a serialized ``ModelMetrics`` protocol buffer::

    ModelMetrics   {repeated EvaluationData evaluation_data = 1; int32 trainable_parameters = 2;
                    double total_time = 3}
    EvaluationData {double current_epoch = 1; double training_time = 2; double train_accuracy = 3;
                    double validation_accuracy = 4; double test_accuracy = 5; string checkpoint_path = 6}

decoded here by hand. Every cell was trained 3 times per budget (3 records): the repeats are the
table's seed axis, in file order. The last evaluation of a record is the one at the end of its
budget (the official API reads it): its validation and test accuracy (fractions in the file,
percent in the table) and training time are stored per budget, 108 epochs unsuffixed and
``_36``, ``_12``, ``_4`` for the others (``nasbench_full.tfrecord`` only). Parameters come from the
file, FLOPs from :func:`nasgym.spaces.nb101.params_and_flops`. Rows are the unique cells in
ascending order of their hash, which the table also stores, with each cell's choice vector.

Checks, each a :class:`DataImportError` naming the file and the record number: framing and
checksums, JSON and protobuf structure, a known budget, a valid cell whose official hash (computed
here) is the record's, accuracies within 0..1, times finite and >= 0, the repeats of a cell (all
budgets) of one cell and one parameter count, at most 3 repeats per budget.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from nasgym.spaces.nb101 import (
    CELL_METRIC,
    HASH_METRIC,
    NB101_DATASET,
    cell_choices,
    cell_code,
    cell_hash,
    hash_words,
    params_and_flops,
)
from nasgym.tables.importers.checks import DataImportError, check_value
from nasgym.tables.importers.result import ImportResult

#: the official files a user downloads (the first has the 108-epoch runs only)
OFFICIAL_FILES: tuple[str, ...] = ("nasbench_only108.tfrecord", "nasbench_full.tfrecord")
TFRECORD_SUFFIX = ".tfrecord"
#: training budgets (epochs) of the official file -> suffix of their metrics in the table
BUDGETS: dict[int, str] = {108: "", 36: "_36", 12: "_12", 4: "_4"}
REPEATS = 3
#: one source for every NAS-Bench-101 import: importing the other official file replaces it
SOURCE = "nasbench101"
_CASTAGNOLI = 0x82F63B78  # CRC-32C polynomial, reflected
_MASK_DELTA = 0xA282EAD8
_BATCH = 4096  # records whose checksums are verified together
_INITIAL_ROWS = 1024  # cells of room per budget before the arrays grow
_DOUBLE = struct.Struct("<d")
#: table metric -> (EvaluationData field number, its name, factor to the table's unit: percent, seconds)
_FINAL_FIELDS = {
    "valid_acc": (4, "validation_accuracy", 100.0),
    "test_acc": (5, "test_accuracy", 100.0),
    "train_time": (2, "training_time", 1.0),
}


def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_CASTAGNOLI), table >> 1).astype(np.uint32)
    return table


_CRC_TABLE = _crc_table()


def crc32c(chunks: list[bytes]) -> np.ndarray:
    """CRC-32C (Castagnoli) of each byte string, computed for all of them at once (uint32 array):
    one table lookup per byte position across the batch."""
    lengths = np.array([len(c) for c in chunks], dtype=np.int64)
    width = int(lengths.max()) if len(chunks) else 0
    flat = np.frombuffer(b"".join(chunks) + b"\0", dtype=np.uint8)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    crc = np.full(len(chunks), 0xFFFFFFFF, dtype=np.uint32)
    for position in range(width):
        active = position < lengths
        byte = flat[np.where(active, starts + position, len(flat) - 1)]
        updated = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        crc = np.where(active, updated, crc)
    return crc ^ np.uint32(0xFFFFFFFF)


def masked_crc32c(chunks: list[bytes]) -> np.ndarray:
    """The checksum TFRecord stores: the CRC-32C rotated right by 15 bits plus a constant."""
    crc = crc32c(chunks).astype(np.uint64)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def _framed_records(path: Path, handle: BinaryIO) -> Iterator[list[tuple[int, bytes]]]:
    """Batches of (record number, data), their framing and both checksums verified."""
    batch: list[tuple[int, bytes, bytes, int, int]] = []
    number = 0
    while header := handle.read(12):
        if len(header) < 12:
            raise DataImportError(f"{path}: record {number} is cut short in its header; the file is truncated")
        (length,), (length_crc,) = struct.unpack("<Q", header[:8]), struct.unpack("<I", header[8:])
        body = handle.read(min(length, 1 << 24) + 4)  # records of NAS-Bench-101 are a few hundred bytes
        if len(body) < length + 4:
            _verify(path, [(number, header[:8], b"", length_crc, 0)], data=False)  # a damaged length?
            raise DataImportError(
                f"{path}: record {number} is cut short ({len(body)} of {length + 4} bytes); the file is truncated"
            )
        batch.append((number, header[:8], body[:length], length_crc, struct.unpack("<I", body[length:])[0]))
        number += 1
        if len(batch) == _BATCH:
            yield _verify(path, batch)
            batch = []
    if batch:
        yield _verify(path, batch)


def _verify(path: Path, batch: list[tuple[int, bytes, bytes, int, int]], data: bool = True) -> list[tuple[int, bytes]]:
    """The batch's (number, data), or a :class:`DataImportError` at the first bad checksum (of the
    lengths only where ``data`` is false)."""
    length_ok = masked_crc32c([length for _, length, _, _, _ in batch]) == [c for _, _, _, c, _ in batch]
    data_ok = masked_crc32c([d for _, _, d, _, _ in batch]) == [c for *_, c in batch] if data else length_ok
    for (number, *_), good_length, good_data in zip(batch, length_ok, data_ok, strict=True):
        if not good_length:
            raise DataImportError(f"{path}: record {number} fails the CRC-32C of its length; the file is damaged")
        if not good_data:
            raise DataImportError(f"{path}: record {number} fails the CRC-32C of its data; the file is damaged")
    return [(number, d) for number, _, d, _, _ in batch]


# --- protocol buffers, by hand --------------------------------------------------------------------
def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("a varint runs past the message")
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position += 1
        shift += 7
        if byte < 0x80:
            return value, position


def _fields(data: bytes) -> Iterator[tuple[int, int, int | float | bytes]]:
    """(field number, wire type, value) of each field of a message: varints as int, fixed64 as
    double, length-delimited as bytes; fixed32 is skipped, groups are refused."""
    position, end = 0, len(data)
    while position < end:
        key = data[position]  # one byte for the field numbers of ModelMetrics: no varint call
        key, position = (key, position + 1) if key < 0x80 else _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 1:
            if position + 8 > end:
                raise ValueError("a double runs past the message")
            (value,) = _DOUBLE.unpack_from(data, position)
            position += 8
        elif wire == 2:
            size, position = _varint(data, position)
            if position + size > end:
                raise ValueError("a length-delimited field runs past the message")
            value, position = data[position : position + size], position + size
        elif wire == 5:
            position += 4
            continue
        else:
            raise ValueError(f"wire type {wire} is not used by ModelMetrics")
        yield number, wire, value


def decode_model_metrics(data: bytes) -> tuple[list[dict[int, float]], int | None]:
    """The evaluations (field number -> double, fields 1..5 of EvaluationData) and the
    trainable parameters of a serialized ModelMetrics; a ``ValueError`` on a malformed one."""
    evaluations, parameters = [], None
    for number, wire, value in _fields(data):
        if number == 1 and wire == 2:
            evaluations.append({n: v for n, w, v in _fields(value) if 1 <= n <= 5 and w == 1})
        elif number == 2 and wire == 0:
            parameters = value
        elif number in (1, 2, 3) and (number, wire) != (3, 1):  # total_time, unused
            raise ValueError(f"field {number} has wire type {wire}, not the one ModelMetrics declares")
    return evaluations, parameters


# --- records ----------------------------------------------------------------------------------------
class _Cells:
    """The cells seen so far, one row each in order of appearance, and their values per budget."""

    def __init__(self) -> None:
        self.row_of: dict[str, int] = {}
        self.spec: list[tuple[str, str]] = []  # (adjacency, ops) as in the first record
        self.codes: list[int] = []  # the cell's choice vector, in mixed radix
        self.params: list[float] = []
        self.flops: list[float] = []
        self.values: dict[int, np.ndarray] = {}  # budget -> (capacity, repeats, 3: valid, test, time)
        self.repeats: dict[int, np.ndarray] = {}

    def add(self, where: str, record: list, budget: int, values: tuple[float, float, float], params: float) -> None:
        module_hash, _, adjacency, ops = record[:4]
        row = self.row_of.get(module_hash)
        if row is None:
            matrix, choices = _cell(where, module_hash, adjacency, ops)
            row = self.row_of[module_hash] = len(self.spec)
            self.spec.append((adjacency, ops))
            self.codes.append(cell_code(choices))
            self.params.append(params)
            self.flops.append(params_and_flops(matrix, ops.split(","))[1])
        elif self.spec[row] != (adjacency, ops):
            raise DataImportError(f"{where}: hash {module_hash} was another cell in an earlier record")
        elif self.params[row] != params:
            raise DataImportError(
                f"{where}: hash {module_hash} has {params} M parameters, an earlier record {self.params[row]} M"
            )
        if budget not in self.values:
            self.values[budget] = np.full((_INITIAL_ROWS, REPEATS, 3), np.nan)
            self.repeats[budget] = np.zeros(_INITIAL_ROWS, dtype=np.int64)
        table, repeats = self.values[budget], self.repeats[budget]
        if row >= len(table):  # grow at least twofold: a budget may first appear at a late row
            extra = max(len(table), row + 1 - len(table))
            self.values[budget] = table = np.concatenate([table, np.full((extra, REPEATS, 3), np.nan)])
            self.repeats[budget] = repeats = np.concatenate([repeats, np.zeros(extra, dtype=np.int64)])
        if repeats[row] == REPEATS:
            raise DataImportError(
                f"{where}: a repeat {REPEATS + 1} of hash {module_hash} at {budget} epochs; expected {REPEATS}"
            )
        table[row, repeats[row]] = values
        repeats[row] += 1


def _parse(where: str, data: bytes) -> tuple[list, int, tuple[float, float, float], float]:
    """One record: its JSON list, budget, (valid %, test %, training time) and parameters (M)."""
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DataImportError(f"{where}: is not UTF-8 JSON; expected [hash, epochs, adjacency, ops, metrics]") from None
    if not (
        isinstance(record, list)
        and len(record) == 5
        and isinstance(record[1], int)
        and all(isinstance(record[k], str) for k in (0, 2, 3, 4))
    ):
        raise DataImportError(
            f"{where}: is {str(record)[:80]!r}; expected the JSON list [hash, epochs, adjacency, ops, metrics]"
        )
    module_hash, budget, _, _, metrics = record
    if budget not in BUDGETS:
        raise DataImportError(f"{where}: budget {budget} epochs; expected one of {sorted(BUDGETS)}")
    try:
        evaluations, parameters = decode_model_metrics(base64.b64decode(metrics, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise DataImportError(f"{where}: the metrics are not a base64 ModelMetrics protocol buffer ({exc})") from None
    if len(evaluations) < 2 or parameters is None:
        raise DataImportError(
            f"{where}: the metrics hold {len(evaluations)} evaluations and parameters {parameters}; expected "
            "trainable_parameters and the evaluations at the start, halfway and at the end of training"
        )
    final = evaluations[-1]
    values = []
    for metric, (field, name, scale) in _FINAL_FIELDS.items():
        value = final.get(field)
        if value is None or not math.isfinite(value):  # every run of the file has its values: NaN is damage
            raise DataImportError(f"{where}: the final evaluation's {name} is {value!r}; expected a finite number")
        values.append(check_value(metric, scale * value, 1, where))
    params = check_value("params", parameters / 1e6, 1, where)
    return record, budget, tuple(values), params


def _cell(where: str, module_hash: str, adjacency: str, ops: str) -> tuple[np.ndarray, np.ndarray]:
    """The matrix and the choice vector of a record's cell, checked against its hash."""
    size = math.isqrt(len(adjacency))
    if size * size != len(adjacency) or set(adjacency) - {"0", "1"}:
        raise DataImportError(f"{where}: adjacency {adjacency!r} is not a square matrix of 0/1 digits row by row")
    matrix = np.array([int(c) for c in adjacency], dtype=np.int64).reshape(size, size)
    try:
        computed = cell_hash(matrix, ops.split(","))
        choices = cell_choices(matrix, ops.split(","))
    except ValueError as exc:
        raise DataImportError(f"{where}: the cell {adjacency} {ops} is not a NAS-Bench-101 cell ({exc})") from None
    if computed != module_hash:
        raise DataImportError(f"{where}: hash {module_hash!r}; the cell's official hash is {computed!r}")
    return matrix, choices


def is_tfrecord(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == TFRECORD_SUFFIX


def import_nb101(path: Path) -> ImportResult:
    """Read an official NAS-Bench-101 TFRecord file into the table of the ``nb101`` space.

    :raises DataImportError: a record breaks a rule of the module docstring (its message names
        the file and the record number).
    """
    cells = _Cells()
    n_records = 0
    with open(path, "rb") as handle:
        for batch in _framed_records(path, handle):
            for number, data in batch:
                where = f"{path}: record {number}"
                record, budget, values, params = _parse(where, data)
                cells.add(where, record, budget, values, params)
                n_records += 1
    if not cells.spec:
        raise DataImportError(f"{path}: holds no records; expected the official NAS-Bench-101 file")
    hashes = sorted(cells.row_of)
    order = np.array([cells.row_of[h] for h in hashes], dtype=np.int64)
    n = len(hashes)
    result = ImportResult(source=SOURCE, inputs=[path], space="nb101", n_archs=n)
    arrays = result.arrays[NB101_DATASET] = {
        CELL_METRIC: np.asarray(cells.codes, dtype=np.float64)[order, None],
        HASH_METRIC: np.array([hash_words(h) for h in hashes], dtype=np.float64),
        "params": np.asarray(cells.params)[order, None],
        "flops": np.asarray(cells.flops)[order, None],
        "latency": np.full((n, 1), np.nan),  # NAS-Bench-101 measured none
    }
    for budget, values in cells.values.items():
        for k, metric in enumerate(("valid_acc", "test_acc", "train_time")):
            arrays[metric + BUDGETS[budget]] = values[order, :, k]
    budgets = ", ".join(str(b) for b in sorted(cells.values))
    result.notes.append(f"{n_records:,} records: {n:,} cells at {budgets} epochs, up to {REPEATS} repeats each")
    return result
