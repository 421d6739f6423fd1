"""NAS-Bench-101's importer (TFRecord framing, CRC-32C, JSON rows, hand-decoded protocol buffers) and
the space of an imported table: records written in the official file's format from the 500 real cells
of the shared data (skipped without it) and from hand-made cells."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from nb101_records import framed, hand_made_cells, record, runs, suite_zero_cells, write_tfrecord

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.cli import main
from nasgym.spaces import NB101Space, get_space
from nasgym.spaces.nb101 import (
    INPUT,
    NB101_OPS,
    OUTPUT,
    cell_choices,
    cell_hash,
    choices_cell,
    is_valid,
    on_path_vertices,
    prune,
)
from nasgym.tables import TableStore, import_paths, load_table
from nasgym.tables.importers import nb101 as nb101_importer
from nasgym.tables.importers.checks import DataImportError
from nasgym.tables.importers.nb101 import crc32c, decode_model_metrics, masked_crc32c


def import_file(folder: Path, datas: list[bytes], name: str = "nasbench_only108.tfrecord") -> Path:
    """Write and import one file into the cache ``folder / 'cache'``; returns that cache."""
    import_paths([write_tfrecord(folder / name, datas)], TableStore(folder / "cache"))
    return folder / "cache"


# --- the file format ------------------------------------------------------------------------------
def test_crc32c_matches_the_published_check_values():
    # the CRC-32C check value and the iSCSI test vectors of RFC 3720, B.4
    values = crc32c([b"123456789", bytes(32), b"\xff" * 32, bytes(range(32)), b""])
    assert [int(v) for v in values] == [0xE3069283, 0x8A9136AA, 0x62A8AB43, 0x46DD794E, 0]
    crc = 0xE3069283
    assert int(masked_crc32c([b"123456789"])[0]) == ((crc >> 15 | crc << 17) + 0xA282EAD8) & 0xFFFFFFFF


def test_protocol_buffer_decoding_by_hand():
    # trainable_parameters = 300 (varint AC 02), one EvaluationData {validation_accuracy = 0.5},
    # total_time = 2.0, an unknown fixed32 field 7 skipped
    evaluation = b"\x21" + struct.pack("<d", 0.5)
    message = b"\x0a" + bytes([len(evaluation)]) + evaluation + b"\x10\xac\x02\x19" + struct.pack("<d", 2.0)
    assert decode_model_metrics(message + b"\x3d\x00\x00\x00\x00") == ([{4: 0.5}], 300)
    with pytest.raises(ValueError, match="runs past"):
        decode_model_metrics(b"\x10\xac")


# --- the real cells ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_cells(shared_data):
    return suite_zero_cells(shared_data)


@pytest.fixture(scope="module")
def real_cache(real_cells, tmp_path_factory):
    """A table of the real cells' unique pruned forms (the first record of each hash), 3 runs each
    at 108 epochs; and hash -> that record's values."""
    first = {}
    for (matrix, ops), values in real_cells:
        first.setdefault(cell_hash(matrix, ops), (prune(matrix, ops), values))
    cache = import_file(tmp_path_factory.mktemp("real"), runs([cell for cell, _ in first.values()]))
    return cache, {h: values for h, (_, values) in first.items()}


def test_real_cells_round_trip(real_cells, real_cache):
    cache, first_values = real_cache
    hashes = sorted(first_values)
    space = NB101Space.load(cache)
    table = load_table("nb101", "cifar10", cache)
    assert space.size == table.n_archs == len(hashes) < len(real_cells) and not space.is_product
    for matrix, ops in (cell for cell, _ in real_cells):
        # every raw record cell (other vertex orders, dangling vertices) finds the row of its hash
        row = int(space.index_of(_raw_choices(matrix, ops)))
        assert hashes[row] == cell_hash(matrix, ops) == cell_hash(*choices_cell(space.choices_of(row)))
    for row, module_hash in enumerate(hashes):
        # isomorphic cells may split their channels otherwise (vertex order): the file's cell counts
        assert table.values("params")[row, 0] == pytest.approx(first_values[module_hash]["params"], abs=1e-9)
        assert table.values("flops")[row, 0] == pytest.approx(first_values[module_hash]["flops"], abs=1e-9)
    assert np.isnan(table.values("latency")).all()


def _raw_choices(matrix: np.ndarray, ops: list[str]) -> np.ndarray:
    """The choice vector of a 7-vertex cell as it is (no pruning, no padding)."""
    rows, cols = np.triu_indices(7, k=1)
    return np.concatenate([matrix[rows, cols], [NB101_OPS.index(op) for op in ops[1:-1]]])


# --- hand-made cells -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cells():
    return hand_made_cells(30, seed=1)


@pytest.fixture(scope="module")
def full_cache(cells, tmp_path_factory):
    """The hand-made cells at all 4 budgets, as nasbench_full.tfrecord holds them."""
    return import_file(tmp_path_factory.mktemp("full"), runs(cells, (4, 12, 36, 108)), "nasbench_full.tfrecord")


def test_values_round_trip_at_every_budget(cells, full_cache):
    space, table = NB101Space.load(full_cache), load_table("nb101", "cifar10", full_cache)
    hashes = sorted(cell_hash(*cell) for cell in cells)
    for k, cell in enumerate(cells):
        row = int(space.index_of(cell_choices(*cell)))
        assert hashes[row] == cell_hash(*cell)  # rows in ascending hash order
        for budget, suffix in ((108, ""), (36, "_36"), (12, "_12"), (4, "_4")):
            valid = [0.80 + 0.001 * (k % 97) + 0.0001 * repeat + budget / 10_000 for repeat in range(3)]
            np.testing.assert_allclose(table.values("valid_acc" + suffix)[row], 100 * np.array(valid), rtol=1e-12)
            np.testing.assert_allclose(table.values("test_acc" + suffix)[row], 100 * np.array(valid) - 0.5)
            np.testing.assert_array_equal(table.values("train_time" + suffix)[row], 100.0 * budget + np.arange(3))
    env = gym.make("NAS-Bench-101-Global-v0", cache_dir=full_cache, fidelity=36, noise="mean").unwrapped
    env.reset(seed=0)
    info = env.step(space.choices_of(5))[-1]
    assert info["valid_acc"] == pytest.approx(table.mean("valid_acc_36")[5]) and info["index"] == 5
    assert info["arch"] == space.arch_string(5)


def test_every_encoding_of_a_row_decodes_to_it(full_cache):
    space = NB101Space.load(full_cache)
    for row in range(space.size):
        choices = space.choices_of(row)
        assert space.from_string(space.arch_string(row)).tolist() == choices.tolist()
        assert int(space.index_of(choices)) == space.decode_choices(choices) == row
        assert space.sequence_index(space.sequence_of(choices)) == row
        assert space.decode_relaxation(space.vertex(choices).reshape(space.relaxation_shape)) == row
        assert is_valid(*choices_cell(choices))


def test_isomorphic_cells_share_one_index(full_cache, cells):
    space = NB101Space.load(full_cache)
    for matrix, ops in cells:
        n = len(ops)
        if n < 4:
            continue
        # swap two interior vertices where the swapped matrix stays upper triangular
        for a in range(1, n - 2):
            order = list(range(n))
            order[a], order[a + 1] = a + 1, a
            swapped = matrix[np.ix_(order, order)]
            if not np.tril(swapped).any():
                swapped_ops = [ops[v] for v in order]
                assert cell_hash(swapped, swapped_ops) == cell_hash(matrix, ops)
                assert int(space.index_of(cell_choices(swapped, swapped_ops))) == int(
                    space.index_of(cell_choices(matrix, ops))
                )


def test_an_action_outside_the_table_queries_the_nearest_cell(full_cache):
    space = NB101Space.load(full_cache)
    every_edge = np.array([1] * 21 + [2, 1, 0, 2, 1])  # 21 edges: not a NAS-Bench-101 cell
    with pytest.raises(ValueError, match="at most 9"):
        space.index_of(every_edge)
    features = space.features(space.enumerate())
    distances = np.abs(features - space.features(every_edge)).sum(axis=1)
    assert space.decode_choices(every_edge) == int(np.argmin(distances))
    env = gym.make("NAS-Bench-101-Global-v0", cache_dir=full_cache).unwrapped
    env.reset(seed=0)
    assert env.step(every_edge)[-1]["index"] == int(np.argmin(distances))


def test_neighbours_are_the_one_edit_cells_of_the_table(tmp_path):
    centre = (np.array([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]), [INPUT, *NB101_OPS[:2], OUTPUT])
    centre_choices = cell_choices(*centre)
    edits = {}
    for decision in range(26):
        for choice in range(2 if decision < 21 else 3):
            vector = centre_choices.copy()
            vector[decision] = choice
            cell = choices_cell(vector)
            if choice != centre_choices[decision] and is_valid(*cell):
                edits.setdefault(cell_hash(*cell), prune(*cell))
    edits.pop(cell_hash(*centre), None)  # a change of a padding vertex's op is the centre again
    space = NB101Space.load(import_file(tmp_path, runs([centre, *edits.values()], repeats=1)))
    neighbours = space.neighbours(centre_choices)
    assert sorted(cell_hash(*choices_cell(n)) for n in neighbours) == sorted(edits)
    assert len(neighbours) == len(edits) > 5


# --- what the importer refuses -------------------------------------------------------------------------
def corrupt(datas: list[bytes], how: str) -> bytes:
    """The framed records with record 2 damaged as ``how`` says."""
    framed_records = [bytearray(f) for f in framed(datas)]
    if how == "data-crc":
        framed_records[2][20] ^= 0x01
    elif how == "length-crc":
        framed_records[2][9] ^= 0x01
    blob = b"".join(bytes(f) for f in framed_records)
    return blob[: sum(len(f) for f in framed_records[:2]) + 30] if how == "truncated" else blob


@pytest.mark.parametrize(
    "how, message",
    [
        ("data-crc", r"record 2 fails the CRC-32C of its data"),
        ("length-crc", r"record 2 fails the CRC-32C of its length"),
        ("truncated", r"record 2 is cut short"),
    ],
)
def test_damaged_files_are_refused_and_nothing_is_written(tmp_path, cells, how, message):
    cache = import_file(tmp_path, runs(cells[:3]))  # an earlier import stays as it was
    before = load_table("nb101", "cifar10", cache).values("valid_acc").copy()
    path = tmp_path / "damaged.tfrecord"
    path.write_bytes(corrupt(runs(cells[3:6]), how))
    with pytest.raises(DataImportError, match=f"{path}: {message}"):
        import_paths([path], TableStore(cache))
    np.testing.assert_array_equal(load_table("nb101", "cifar10", cache).values("valid_acc"), before)


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda cell: record(cell, 108, 0.9, 0.9, 1.0, module_hash="0" * 32), r"record 1: hash '0{32}'; the cell's"),
        (lambda cell: record(cell, 108, 1.5, 0.9, 1.0), r"record 1: valid_acc is 150\.0; expected an accuracy"),
        (lambda cell: record(cell, 108, 0.9, float("nan"), 1.0), r"record 1: the final evaluation's test_accuracy"),
        (lambda cell: record(cell, 108, 0.9, 0.9, -1.0), r"record 1: train_time is -1\.0"),
        (lambda cell: record(cell, 100, 0.9, 0.9, 1.0), r"record 1: budget 100 epochs; expected one of"),
        (lambda cell: b"\x00\xffjunk", r"record 1: is not UTF-8 JSON"),
        (lambda cell: b'["a", 108, "0", "input"]', r"record 1: is .*; expected the JSON list"),
        (lambda cell: record(cell, 108, 0.9, 0.9, 1.0)[:-3] + b'!!"]', r"record 1: the metrics are not a base64"),
    ],
)
def test_bad_records_name_the_file_and_the_record(tmp_path, cells, bad, message):
    path = write_tfrecord(tmp_path / "bad.tfrecord", [record(cells[0], 108, 0.9, 0.9, 1.0), bad(cells[1])])
    with pytest.raises(DataImportError, match=f"{path}: {message}"):
        import_paths([path], TableStore(tmp_path / "cache"))
    assert not TableStore(tmp_path / "cache").sources("nb101", "cifar10")


def test_repeats_must_agree(tmp_path, cells):
    first, second = cells[:2]
    path = tmp_path / "mixed.tfrecord"
    # the hash of the first cell on the second cell's matrix: refused by the hash check
    write_tfrecord(path, [record(first, 108, 0.9, 0.9, 1.0), record(second, 108, 0.9, 0.9, 1.0, cell_hash(*first))])
    with pytest.raises(DataImportError, match=r"record 1: hash"):
        import_paths([path], TableStore(tmp_path / "cache"))
    write_tfrecord(path, [record(first, 108, 0.9, 0.9, 1.0)] * 4)
    with pytest.raises(DataImportError, match=r"record 3: a repeat 4 of hash .* expected 3"):
        import_paths([path], TableStore(tmp_path / "cache"))


def test_binary_junk_is_refused(tmp_path):
    path = tmp_path / "junk.tfrecord"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(DataImportError, match=f"{path}: record 0 fails the CRC-32C of its length"):
        import_paths([path], TableStore(tmp_path / "cache"))
    path.write_bytes(b"")
    with pytest.raises(DataImportError, match="holds no records"):
        import_paths([path], TableStore(tmp_path / "cache"))


@pytest.mark.parametrize("flavour", ["Continuous", "Sequential", "Global"])
def test_without_the_import_gym_make_names_the_official_file(tmp_path, flavour):
    with pytest.raises(ValueError, match=r"nasbench_only108\.tfrecord.*nasgym data import"):
        gym.make(f"NAS-Bench-101-{flavour}-v0", cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"nasbench_only108\.tfrecord"):
        get_space("nb101", tmp_path)


def test_arch_strings_tokens_and_missing_cells(full_cache, cells):
    space = NB101Space.load(full_cache)
    for bad in ("edges=0-7|ops=" + ",".join([NB101_OPS[0]] * 5), "0-1|" + ",".join([NB101_OPS[0]] * 5),
                "edges=0-1,0-1|ops=" + ",".join([NB101_OPS[0]] * 5), "edges=0-6|ops=conv3x3", 7):  # fmt: skip
        with pytest.raises(ValueError, match=r"arch string .* is malformed .*e\.g\. 'edges=0-1"):
            space.from_string(bad)
    # at an edge, token t means t mod 2: the Sequential env takes every token of Discrete(3)
    tokens = space.sequence_of(space.choices_of(3))
    aliased = [2 if k < 21 and t == 0 else t for k, t in enumerate(tokens)]
    assert space.sequence_index(aliased) == 3 and space.sequence_valid([], 2)
    assert space.sequence_mask([]).tolist() == [True, True, False]
    assert space.sequence_mask([0] * 21).tolist() == [True, True, True]
    # a NAS-Bench-101 cell that this (partial) table lacks: no index, but an action still queries one
    imported = {cell_hash(*cell) for cell in cells}
    missing = next(cell for cell in hand_made_cells(60, seed=2) if cell_hash(*cell) not in imported)
    with pytest.raises(ValueError, match=r"the imported table lacks \(it holds 30 cells\)"):
        space.index_of(cell_choices(*missing))
    assert 0 <= space.decode_choices(cell_choices(*missing)) < space.size


def test_the_command_imports_the_file_and_names_a_bad_record(tmp_path, cells, monkeypatch, capsys):
    monkeypatch.setenv("NASGYM_CACHE_DIR", str(tmp_path / "cache"))
    path = write_tfrecord(tmp_path / "nasbench_only108.tfrecord", runs(cells[:4]))
    stdout = io.StringIO()
    assert main(["data", "import", str(path)], stdout=stdout) == 0
    assert "12 records: 4 cells at 108 epochs, up to 3 repeats each" in stdout.getvalue()
    assert NB101Space.load().size == 4
    write_tfrecord(path, [record(cells[0], 108, 0.9, 0.9, 1.0), record(cells[1], 108, 2.0, 0.9, 1.0)])
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "import", str(path)], stdout=io.StringIO())
    assert exit_info.value.code == 2
    assert f"{path}: record 1: valid_acc is 200.0" in capsys.readouterr().err


def test_a_budget_first_seen_at_a_late_cell(tmp_path, cells, monkeypatch):
    """The arrays of a budget grow to any row at which it first appears (files may list budgets apart)."""
    monkeypatch.setattr(nb101_importer, "_INITIAL_ROWS", 2)
    datas = runs(cells[:9], (108,), repeats=1) + [record(cells[8], 4, 0.5, 0.4, 3.0)]
    table = load_table("nb101", "cifar10", import_file(tmp_path, datas, "nasbench_full.tfrecord"))
    row = sorted(cell_hash(*cell) for cell in cells[:9]).index(cell_hash(*cells[8]))
    assert table.values("valid_acc_4")[row, 0] == pytest.approx(50.0) and table.coverage()["valid_acc_4"] == 1
    assert table.coverage()["valid_acc"] == 9


def test_encodings_agree_with_pruning_and_actions_with_the_brute_force_nearest_cell(full_cache):
    space = NB101Space.load(full_cache)
    table_features = space.features(space.enumerate())
    hashes = [cell_hash(*choices_cell(cells)) for cells in space.enumerate()]
    rng = np.random.default_rng(0)
    dense = rng.integers(0, space.n_choices, (200, 26))  # mostly over 9 edges
    sparse = np.concatenate([rng.random((200, 21)) < 0.2, rng.integers(0, 3, (200, 5))], axis=1)  # often valid
    for action in np.concatenate([dense, sparse]).astype(np.int64):
        matrix, ops = choices_cell(action)
        kept = on_path_vertices(action[:21])
        pruned = prune(matrix, ops)
        assert (pruned is None and not kept.any()) or sorted(pruned[1][1:-1]) == sorted(np.array(ops[1:-1])[kept])
        distances = np.abs(table_features - space.features(action)).sum(axis=1)
        expected = int(np.argmin(distances))
        if is_valid(matrix, ops) and cell_hash(matrix, ops) in hashes:  # a cell of the table: its own row
            expected = hashes.index(cell_hash(matrix, ops))
        assert space.decode_choices(action) == expected
