"""On-disk cache of benchmark tables: one folder of memory-mappable ``.npy`` arrays per source.

Layout: ``<cache>/tables-v<FORMAT_VERSION>/<space>/<dataset>/<source>/{<metric>.npy, manifest.json}``.
Each source folder is written whole into a temporary folder and renamed into place, so a reader
never sees half a table. The manifest records the format version, a fingerprint of the inputs it
was built from and the sha256 of every array; :meth:`TableStore.read` refuses anything that does
not match, so a stale or corrupt cache is always rebuilt instead of used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
CACHE_ENV_VAR = "NASGYM_CACHE_DIR"
_MANIFEST = "manifest.json"


def default_cache_dir() -> Path:
    """``$NASGYM_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/nasgym``, else ``~/.cache/nasgym``."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "nasgym"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class CacheInvalid(Exception):
    """A cached source folder exists but must not be used (stale or corrupt); ``str`` says why."""


@dataclass(frozen=True)
class CachedSource:
    """One source folder read back: its arrays (memory-mapped) and its manifest."""

    arrays: dict[str, np.ndarray]
    manifest: dict


class TableStore:
    """Reads and writes table sources under a cache root.

    :param root: cache directory; defaults to :func:`default_cache_dir`.
    """

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.tables_dir = self.root / f"tables-v{FORMAT_VERSION}"

    def source_dir(self, space: str, dataset: str, source: str) -> Path:
        return self.tables_dir / space / dataset / source

    def sources(self, space: str, dataset: str) -> list[str]:
        """Names of the sources stored for (space, dataset), oldest first (the overlay order)."""
        folder = self.tables_dir / space / dataset
        if not folder.is_dir():
            return []
        found = []
        for child in folder.iterdir():
            manifest = child / _MANIFEST
            if child.is_dir() and manifest.is_file():
                try:
                    created = json.loads(manifest.read_text())["created"]
                except (ValueError, KeyError):
                    created = 0.0  # unreadable manifest: read() reports it as corrupt
                found.append((created, child.name))
        return [name for _, name in sorted(found)]

    def unlisted(self, space: str, dataset: str) -> list[Path]:
        """Source folders of (space, dataset) without a manifest (deleted by hand?): :meth:`sources`
        cannot list them, so their arrays would be left out of the table unnoticed."""
        folder = self.tables_dir / space / dataset
        if not folder.is_dir():
            return []
        # names starting with "." are write() staging and retired folders
        return sorted(
            child
            for child in folder.iterdir()
            if child.is_dir() and not child.name.startswith(".") and not (child / _MANIFEST).is_file()
        )

    def write(
        self,
        space: str,
        dataset: str,
        source: str,
        arrays: dict[str, np.ndarray],
        fingerprint: str,
        details: dict | None = None,
        created: float | None = None,
    ) -> Path:
        """Write one source atomically, replacing any previous folder of that name.

        :param created: creation time to record (default: now); it sets the source's place in the
            overlay order, so repairing a source passes its old time to keep that place.
        """
        target = self.source_dir(space, dataset, source)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{source}-", dir=target.parent))
        try:
            checksums = {}
            for name, array in arrays.items():
                path = staging / f"{name}.npy"
                np.save(path, np.ascontiguousarray(array))
                checksums[name] = file_sha256(path)
            manifest = {
                "format_version": FORMAT_VERSION,
                "space": space,
                "dataset": dataset,
                "source": source,
                "fingerprint": fingerprint,
                "created": time.time() if created is None else created,
                "arrays": checksums,
                "details": details or {},
            }
            (staging / _MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
            if target.exists():
                retired = target.with_name(f".{source}-retired-{os.getpid()}-{time.monotonic_ns()}")
                os.replace(target, retired)
                shutil.rmtree(retired, ignore_errors=True)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def read(self, space: str, dataset: str, source: str, fingerprint: str | None = None) -> CachedSource | None:
        """Return the source's arrays, ``None`` if it was never written.

        :param fingerprint: if given, the manifest's fingerprint must equal it.
        :raises CacheInvalid: the folder is stale (other format version or fingerprint) or corrupt
            (unreadable manifest, missing array, checksum mismatch).
        """
        folder = self.source_dir(space, dataset, source)
        manifest_path = folder / _MANIFEST
        if not manifest_path.is_file():
            return None
        try:
            manifest = json.loads(manifest_path.read_text())
            version, checksums = manifest["format_version"], manifest["arrays"]
        except (ValueError, KeyError, TypeError) as exc:
            raise CacheInvalid(f"{manifest_path} is unreadable ({exc})") from None
        if version != FORMAT_VERSION:
            raise CacheInvalid(f"{folder} has format version {version}, this nasgym reads {FORMAT_VERSION}")
        if fingerprint is not None and manifest.get("fingerprint") != fingerprint:
            raise CacheInvalid(f"{folder} was built from other inputs (fingerprint changed)")
        arrays = {}
        for name, expected in checksums.items():
            path = folder / f"{name}.npy"
            if not path.is_file():
                raise CacheInvalid(f"{path} is missing")
            if file_sha256(path) != expected:
                raise CacheInvalid(f"{path} fails its checksum")
            arrays[name] = np.load(path, mmap_mode="r")
        return CachedSource(arrays, manifest)

    def read_manifest(self, space: str, dataset: str, source: str) -> dict:
        """The manifest of a source, ``{}`` if it is missing or unreadable."""
        try:
            return json.loads((self.source_dir(space, dataset, source) / _MANIFEST).read_text())
        except (OSError, ValueError):
            return {}

    def remove(self, space: str, dataset: str, source: str) -> None:
        shutil.rmtree(self.source_dir(space, dataset, source), ignore_errors=True)
