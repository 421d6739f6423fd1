"""Tabular datasets of live evaluation (the FFN spaces): files to standardised float features.

A dataset is a name looked up in ``data_dir`` (default ``<nasgym cache>/datasets/tabular``), or the
file given as ``data_dir`` itself:

* ``connect_4``, ``adult``, ``magic`` and any other PMLB dataset: PMLB's layout,
  ``<data_dir>/<name>/<name>.tsv.gz``, tab-separated with a header and the label in column
  ``target``; the ``metadata.yaml`` beside it says which features are ``continuous`` (numeric) and
  which ``discrete`` or ``binary`` (category codes).
* ``criteo``: Criteo's click logs in their standard format, ``<data_dir>/criteo.txt`` (or
  ``criteo/criteo.txt``, or the file itself): tab-separated, no header, 40 columns per row: the
  0/1 label, 13 integer features, 26 categorical features (hashes); empty fields are missing values.
* any other name: ``<data_dir>/<name>.csv`` or ``.tsv`` (optionally ``.gz``), with a header and the
  label in column ``target``; a column whose every non-empty value is a number is numeric, any other
  column categorical (a ``metadata.yaml`` beside the file, in PMLB's form, overrides that).

Encoding, fitted on the training split only:

* numeric features: missing values take the training mean, then each is standardised with the
  training mean and standard deviation (Criteo's integer counts first go through
  ``sign(x) * log(1 + |x|)``, their usual transform, since they are heavy-tailed);
* categorical features: one 0/1 column per category seen at least :data:`MIN_CATEGORY_COUNT` times
  in the training split; rarer categories, categories never seen in training and missing values
  encode as all zeros;
* labels: the sorted distinct values of the target column (of the whole file) are classes 0..K-1.

Rows are split into train / valid / test (:data:`SPLIT_FRACTIONS`, the rest is test) by a fixed
permutation drawn with ``split_seed``.
"""

from __future__ import annotations

import csv
import functools
import gzip
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nasgym.tables.store import default_cache_dir

#: fractions of the rows in the training and validation splits; the rest is the test split
SPLIT_FRACTIONS = (0.6, 0.2)
#: a category needs this many training rows to get a one-hot column of its own
MIN_CATEGORY_COUNT = 10
TARGET_COLUMN = "target"
CRITEO = "criteo"
#: Criteo's standard columns: the label, 13 integer features, 26 categorical features
CRITEO_COLUMNS: tuple[str, ...] = ("label", *(f"I{i}" for i in range(1, 14)), *(f"C{i}" for i in range(1, 27)))
#: PMLB feature types that are category codes (``continuous`` is numeric)
_CATEGORICAL_TYPES = frozenset({"discrete", "binary", "categorical", "nominal", "ordinal"})
_SUFFIXES = (".tsv.gz", ".tsv", ".csv.gz", ".csv", ".txt.gz", ".txt")
_MISSING = frozenset({"", "nan", "NaN", "NA", "?"})


@dataclass(frozen=True)
class TabularData:
    """The encoded splits of one tabular dataset (features float32, labels int64).

    :param name: dataset name.
    :param x_train: training features, (n_train, n_inputs).
    :param y_train: training labels in 0..n_classes-1.
    :param x_valid: validation features (the reward).
    :param y_valid: validation labels.
    :param x_test: test features (reported only).
    :param y_test: test labels.
    :param n_classes: number of classes.
    :param feature_names: name of each encoded column (``col`` or ``col=category``).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    feature_names: tuple[str, ...]

    @property
    def n_inputs(self) -> int:
        """Encoded input features."""
        return self.x_train.shape[1]


def default_tabular_dir() -> Path:
    """Where tabular datasets are looked for without a ``data_dir``: ``<cache>/datasets/tabular``."""
    return default_cache_dir() / "datasets" / "tabular"


def check_dataset_name(dataset: str) -> str:
    """A tabular dataset name: letters, digits, ``_``, ``-`` and ``.`` (it names table folders)."""
    if not isinstance(dataset, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", dataset):
        raise ValueError(
            f"dataset {dataset!r} is not a tabular dataset name: letters, digits, '_', '-' and '.' (e.g. "
            "'connect_4', 'adult', 'magic', 'criteo' or the stem of a CSV/TSV file in data_dir)"
        )
    return dataset


def find_file(dataset: str, data_dir: Path | str | None = None) -> Path:
    """The file of ``dataset`` (see the module docstring), or a FileNotFoundError naming the places tried."""
    check_dataset_name(dataset)
    folder = Path(os.path.expanduser(data_dir)) if data_dir is not None else default_tabular_dir()
    if folder.is_file():
        return folder
    candidates = [folder / dataset / f"{dataset}{suffix}" for suffix in _SUFFIXES]
    candidates += [folder / f"{dataset}{suffix}" for suffix in _SUFFIXES]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"no file of tabular dataset {dataset!r} in {folder}: looked for {dataset}/{dataset}.tsv.gz (PMLB's layout) "
        f"and {dataset}.csv / .tsv / .txt (optionally .gz); give the folder or the file as data_dir"
    )


def _read_rows(path: Path, delimiter: str) -> list[list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        return [row for row in csv.reader(handle, delimiter=delimiter) if row]


def _pmlb_types(path: Path) -> dict[str, str]:
    """Feature name -> type from a PMLB ``metadata.yaml`` beside ``path`` (empty if there is none).
    PMLB writes one ``- name: X`` line followed by its ``type: Y`` line per feature."""
    metadata = path.parent / "metadata.yaml"
    if not metadata.is_file():
        return {}
    text = metadata.read_text()
    return dict(re.findall(r"-\s*name:\s*(\S+)\s*\n\s*type:\s*(\w+)", text))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_dataset(dataset: str, path: Path) -> tuple[list[str], list[list[str]], list[str], set[str]]:
    """(feature names, feature columns as text, target values as text, names of the categorical features)."""
    if dataset == CRITEO:
        rows = _read_rows(path, "\t")
        bad = next((n for n, row in enumerate(rows, 1) if len(row) != len(CRITEO_COLUMNS)), None)
        if bad is not None:
            raise ValueError(
                f"{path} line {bad}: {len(rows[bad - 1])} tab-separated fields; Criteo's standard format has "
                f"{len(CRITEO_COLUMNS)} (label, I1..I13, C1..C26) and no header"
            )
        names = list(CRITEO_COLUMNS)
        categorical = {name for name in names if name.startswith("C")}
        target = "label"
    else:
        rows = _read_rows(path, "," if ".csv" in path.suffixes else "\t")
        if not rows or TARGET_COLUMN not in rows[0]:
            raise ValueError(f"{path}: the header has no column {TARGET_COLUMN!r}; expected a header row naming it")
        names, rows = rows[0], rows[1:]
        short = next((n for n, row in enumerate(rows, 2) if len(row) != len(names)), None)
        if short is not None:
            raise ValueError(f"{path} line {short}: {len(rows[short - 2])} fields, the header has {len(names)}")
        types = _pmlb_types(path)
        columns = dict(zip(names, zip(*rows, strict=True), strict=True)) if rows else {}
        categorical = {
            name
            for name in names
            if name != TARGET_COLUMN
            and (
                types[name] in _CATEGORICAL_TYPES
                if name in types
                else not all(_is_number(v) for v in columns.get(name, ()) if v not in _MISSING)
            )
        }
        target = TARGET_COLUMN
    if len(rows) < 3:
        raise ValueError(f"{path}: {len(rows)} data rows; train, valid and test need at least one each")
    position = names.index(target)
    columns = [list(column) for column in zip(*rows, strict=True)]
    labels = columns.pop(position)
    names = names[:position] + names[position + 1 :]
    return names, columns, labels, categorical


def _numeric(values: list[str], log_counts: bool) -> np.ndarray:
    out = np.array([math.nan if v in _MISSING else float(v) for v in values])
    return np.sign(out) * np.log1p(np.abs(out)) if log_counts else out


def _encode_columns(
    names: list[str], columns: list[list[str]], categorical: set[str], train: np.ndarray, log_counts: bool
) -> tuple[np.ndarray, list[str]]:
    """All rows encoded (float32), with statistics and categories from the ``train`` rows only."""
    blocks, feature_names = [], []
    for name, column in zip(names, columns, strict=True):
        if name in categorical:
            categories, codes = np.unique(np.array(column), return_inverse=True)
            counts = np.bincount(codes[train], minlength=len(categories))
            kept = [
                k for k, v in enumerate(categories.tolist()) if counts[k] >= MIN_CATEGORY_COUNT and v not in _MISSING
            ]
            column_of = np.full(len(categories), -1)
            column_of[kept] = np.arange(len(kept))
            block = np.zeros((len(codes), len(kept)), dtype=np.float32)
            rows = np.flatnonzero(column_of[codes] >= 0)
            block[rows, column_of[codes[rows]]] = 1.0
            blocks.append(block)
            feature_names += [f"{name}={categories[k]}" for k in kept]
        else:
            values = _numeric(column, log_counts)
            known = values[train][~np.isnan(values[train])]
            mean = known.mean() if len(known) else 0.0
            std = known.std() if len(known) else 0.0
            values = np.where(np.isnan(values), mean, values)
            blocks.append(((values - mean) / (std if std > 0 else 1.0)).astype(np.float32)[:, None])
            feature_names.append(name)
    return np.concatenate(blocks, axis=1), feature_names


def _class_order(labels: list[str]) -> list[str]:
    distinct = sorted(set(labels))
    return sorted(distinct, key=float) if all(_is_number(v) for v in distinct) else distinct


@functools.lru_cache(maxsize=4)
def load_tabular(dataset: str, data_dir: Path | str | None = None, split_seed: int = 0) -> TabularData:
    """The encoded train / valid / test splits of a tabular dataset, read once per process.

    :param dataset: dataset name (see the module docstring).
    :param data_dir: folder of the files, or the file itself; default :func:`default_tabular_dir`.
    :param split_seed: seed of the permutation that splits the rows.
    :raises FileNotFoundError: no file of the dataset (the message names where it looked).
    :raises ValueError: the file does not have the expected form (the message says what it expected).
    """
    path = find_file(dataset, data_dir)
    names, columns, labels, categorical = _read_dataset(dataset, path)
    if missing := sorted({i for i, v in enumerate(labels) if v in _MISSING}):
        raise ValueError(f"{path}: data row {missing[0] + 1} has no label")
    classes = _class_order(labels)
    if len(classes) < 2:
        raise ValueError(f"{path}: the label takes {len(classes)} value(s); a classification needs at least 2")
    n = len(labels)
    order = np.random.default_rng(split_seed).permutation(n)
    n_train, n_valid = (int(f * n) for f in SPLIT_FRACTIONS)
    parts = np.split(order, [n_train, n_train + n_valid])
    train_mask = np.zeros(n, dtype=bool)
    train_mask[parts[0]] = True
    features, feature_names = _encode_columns(names, columns, categorical, train_mask, log_counts=dataset == CRITEO)
    class_of = {label: k for k, label in enumerate(classes)}
    y = np.array([class_of[v] for v in labels], dtype=np.int64)
    splits = [(np.ascontiguousarray(features[p]), y[p]) for p in parts]
    return TabularData(dataset, *splits[0], *splits[1], *splits[2], len(classes), tuple(feature_names))

