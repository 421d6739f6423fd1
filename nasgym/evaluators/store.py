"""Persistent store of live results: one SQLite database, safe for many processes at once.

A result is keyed by (space, arch string, dataset, config hash) and written in its own
transaction the moment it is known, so a search killed at any point loses only the evaluations
still running, and restarting it recomputes nothing that had finished. The database runs in WAL
mode: readers never block the writer, and concurrent writers queue on SQLite's lock (with a
generous busy timeout) instead of failing.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nasgym.tables.store import default_cache_dir

STORE_FILE = "live-results.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    space TEXT NOT NULL,
    arch TEXT NOT NULL,
    dataset TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    config TEXT NOT NULL,
    metrics TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (space, arch, dataset, config_hash)
) WITHOUT ROWID
"""


def default_store_path() -> Path:
    """``<nasgym cache dir>/live-results.sqlite`` (see :func:`nasgym.tables.store.default_cache_dir`)."""
    return default_cache_dir() / STORE_FILE


def _encode(metrics: dict[str, Any]) -> str:
    # JSON has no NaN: store it as null, read null back as NaN
    return json.dumps({k: None if isinstance(v, float) and math.isnan(v) else v for k, v in metrics.items()})


def _decode(text: str) -> dict[str, Any]:
    return {k: math.nan if v is None else v for k, v in json.loads(text).items()}


class ResultStore:
    """Live results on disk, keyed by space, architecture, dataset and training-config hash.

    :param path: database file; default :func:`default_store_path`. Its folder is created.
    :param timeout: seconds a writer waits for another process's write lock before failing.

    The connection is opened lazily per process (a forked or unpickled copy opens its own), so
    one store object can be handed to worker processes.
    """

    def __init__(self, path: Path | str | None = None, timeout: float = 60.0) -> None:
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self.timeout = timeout
        self._connection: sqlite3.Connection | None = None
        self._pid = -1

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "timeout": self.timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["timeout"])

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r})"

    @property
    def connection(self) -> sqlite3.Connection:
        """This process's connection (opened, in WAL mode, on first use)."""
        if self._connection is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit: every statement is its own transaction, committed when it returns
            connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            connection.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            self._enter_wal_mode(connection)
            connection.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across process kills
            connection.execute(_SCHEMA)
            self._connection, self._pid = connection, os.getpid()
        return self._connection

    def _enter_wal_mode(self, connection: sqlite3.Connection) -> None:
        """Switch the database to WAL mode, waiting up to ``timeout`` for other processes.

        SQLite answers a journal-mode change that meets another connection's lock with "database is
        locked" at once, without its busy handler (seen with four processes opening a new database
        together), so the wait is done here.
        """
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                connection.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def close(self) -> None:
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
        self._connection = None

    def get(self, space: str, arch: str, dataset: str, config_hash: str) -> dict[str, Any] | None:
        """The stored metrics of one architecture, ``None`` if it was never evaluated."""
        row = self.connection.execute(
            "SELECT metrics FROM results WHERE space = ? AND arch = ? AND dataset = ? AND config_hash = ?",
            (space, arch, dataset, config_hash),
        ).fetchone()
        return None if row is None else _decode(row[0])

    def get_many(self, space: str, archs: Iterable[str], dataset: str, config_hash: str) -> dict[str, dict[str, Any]]:
        """Stored metrics of those of ``archs`` that were evaluated, keyed by arch string."""
        found: dict[str, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(archs))
        chunk = 500  # stay below SQLite's limit on bound parameters
        for start in range(0, len(wanted), chunk):
            part = wanted[start : start + chunk]
            rows = self.connection.execute(
                "SELECT arch, metrics FROM results WHERE space = ? AND dataset = ? AND config_hash = ? "
                f"AND arch IN ({','.join('?' * len(part))})",
                (space, dataset, config_hash, *part),
            )
            found.update((arch, _decode(metrics)) for arch, metrics in rows)
        return found

    def put(
        self, space: str, arch: str, dataset: str, config_hash: str, config: dict[str, Any], metrics: dict[str, Any]
    ) -> bool:
        """Store one result; the first result of a key wins. Returns whether this one was new."""
        cursor = self.connection.execute(
            "INSERT INTO results (space, arch, dataset, config_hash, config, metrics, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (space, arch, dataset, config_hash, json.dumps(config, sort_keys=True), _encode(metrics), time.time()),
        )
        return cursor.rowcount == 1

    def results(self, space: str, dataset: str, config_hash: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every stored (arch, metrics) of one space, dataset and configuration."""
        rows = self.connection.execute(
            "SELECT arch, metrics FROM results WHERE space = ? AND dataset = ? AND config_hash = ?",
            (space, dataset, config_hash),
        )
        for arch, metrics in rows.fetchall():
            yield arch, _decode(metrics)

    def count(self, space: str | None = None, dataset: str | None = None, config_hash: str | None = None) -> int:
        """Number of stored results, optionally of one space, dataset and configuration."""
        where = [(c, v) for c, v in (("space", space), ("dataset", dataset), ("config_hash", config_hash)) if v]
        clause = " AND ".join(f"{column} = ?" for column, _ in where)
        sql = "SELECT COUNT(*) FROM results" + (f" WHERE {clause}" if where else "")
        return self.connection.execute(sql, [v for _, v in where]).fetchone()[0]
