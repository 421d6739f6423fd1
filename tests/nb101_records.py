"""Write NAS-Bench-101 records in the official file's format (TFRecord framing, JSON rows, base64
ModelMetrics protocol buffers), for the importer's tests and the session's small NAS-Bench-101 table."""

from __future__ import annotations

import ast
import base64
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from nasgym.spaces.nb101 import INPUT, MAX_VERTICES, NB101_OPS, OUTPUT, cell_hash, is_valid, params_and_flops, prune
from nasgym.tables.importers.nb101 import masked_crc32c

Cell = tuple[np.ndarray, list[str]]
#: NASLib's op codes in the keys of NAS-Bench-Suite-Zero's records
NASLIB_OPS = {0: INPUT, 1: OUTPUT, 2: "maxpool3x3", 3: "conv1x1-bn-relu", 4: "conv3x3-bn-relu"}


def suite_zero_cells(shared_data: Path) -> list[tuple[Cell, dict]]:
    """The 500 real NAS-Bench-101 records of NAS-Bench-Suite-Zero in the shared data: (raw 7x7 cell,
    its values: val_accuracy, params, flops, ...); skips the calling test where the file is absent."""
    path = shared_data / "nb101" / "zc_nasbench101.json"
    if not path.is_file():
        pytest.skip(f"{path.name} missing from the shared data")
    cells = []
    for key, values in json.loads(path.read_text())["nasbench101"]["cifar10"].items():
        entries = ast.literal_eval(key)
        cells.append(((np.array(entries[:49]).reshape(7, 7), [NASLIB_OPS[c] for c in entries[49:]]), values))
    assert len(cells) == 500
    return cells


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _double(field: int, value: float) -> bytes:
    return _varint(field << 3 | 1) + struct.pack("<d", value)


def model_metrics(evaluations: list[tuple[float, float, float, float, float]], parameters: int) -> bytes:
    """A serialized ModelMetrics: one EvaluationData per (epoch, time, train, valid, test)."""
    out = b""
    for evaluation in evaluations:
        message = b"".join(_double(field, value) for field, value in enumerate(evaluation, start=1))
        message += _varint(6 << 3 | 2) + _varint(len(b"ckpt")) + b"ckpt"
        out += _varint(1 << 3 | 2) + _varint(len(message)) + message
    return out + _varint(2 << 3 | 0) + _varint(parameters) + _double(3, 1234.5)


def record(
    cell: Cell, epochs: int, valid: float, test: float, time: float, module_hash: str | None = None
) -> bytes:
    """The JSON row of one training run of ``cell`` (accuracies as fractions), its real parameter count."""
    matrix, ops = cell
    params = round(params_and_flops(matrix, ops)[0] * 1e6)
    evaluations = [
        (0.0, 0.0, 0.1, 0.1, 0.1),  # at the start, then halfway, then at the end of training
        (epochs / 2, time / 2, valid, valid, test),
        (epochs, time, 1.0, valid, test),
    ]
    row = [
        module_hash or cell_hash(matrix, ops),
        epochs,
        "".join(str(int(v)) for v in np.asarray(matrix).ravel()),
        ",".join(ops),
        base64.b64encode(model_metrics(evaluations, params)).decode(),
    ]
    return json.dumps(row).encode()


def framed(datas: list[bytes]) -> list[bytes]:
    """Each record framed: length, masked CRC-32C of the length, data, masked CRC-32C of the data."""
    lengths = [struct.pack("<Q", len(d)) for d in datas]
    length_crcs, data_crcs = masked_crc32c(lengths).tolist(), masked_crc32c(datas).tolist()
    return [
        length + struct.pack("<I", length_crc) + data + struct.pack("<I", data_crc)
        for length, length_crc, data, data_crc in zip(lengths, length_crcs, datas, data_crcs, strict=True)
    ]


def write_tfrecord(path: Path, datas: list[bytes]) -> Path:
    path.write_bytes(b"".join(framed(datas)))
    return path


def runs(cells: list[Cell], budgets: tuple[int, ...] = (108,), repeats: int = 3) -> list[bytes]:
    """Every (cell, budget, repeat) record, with accuracies that depend on all three."""
    out = []
    for k, cell in enumerate(cells):
        for budget in budgets:
            for repeat in range(repeats):
                valid = 0.80 + 0.001 * (k % 97) + 0.0001 * repeat + budget / 10_000
                out.append(record(cell, budget, valid, valid - 0.005, 100.0 * budget + repeat))
    return out


def hand_made_cells(n: int, seed: int = 0) -> list[Cell]:
    """``n`` distinct NAS-Bench-101 cells in their pruned form, drawn at random."""
    rng = np.random.default_rng(seed)
    cells: dict[str, Cell] = {}
    while len(cells) < n:
        matrix = np.triu(rng.random((MAX_VERTICES, MAX_VERTICES)) < 0.35, k=1).astype(int)
        ops = [INPUT, *(NB101_OPS[i] for i in rng.integers(0, 3, MAX_VERTICES - 2)), OUTPUT]
        if is_valid(matrix, ops):
            small, small_ops = prune(matrix, ops)
            cells.setdefault(cell_hash(small, small_ops), (small, small_ops))
    return list(cells.values())
