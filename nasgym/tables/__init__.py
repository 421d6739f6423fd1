"""Benchmark tables: dense arrays per (space, dataset), built by importers into a checksummed cache."""

from nasgym.tables.metrics import METRICS
from nasgym.tables.repository import (
    SPACE_DATASETS,
    available_tables,
    clear_memory_cache,
    import_paths,
    load_table,
)
from nasgym.tables.store import CACHE_ENV_VAR, TableStore, default_cache_dir
from nasgym.tables.table import BenchmarkTable

__all__ = [
    "CACHE_ENV_VAR",
    "METRICS",
    "SPACE_DATASETS",
    "available_tables",
    "BenchmarkTable",
    "TableStore",
    "clear_memory_cache",
    "default_cache_dir",
    "import_paths",
    "load_table",
]
