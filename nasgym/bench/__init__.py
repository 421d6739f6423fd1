"""``nasgym bench``: run a grid of searches on any registered space and report it beside the
published rows.

Every run is one search (:meth:`~nasgym.agents.SearchAgent.run`) of one agent on one env of a
space (``gym.make(id, dataset=..., **env_args)``), one dataset and one seed, stopped by a query
budget or by a simulated-time limit (:class:`SimTimeLimit`). Runs go to a local pool of processes
or to Ray, and each finished run is appended to ``runs.csv`` at once, so a crash loses nothing and
a re-run into the same folder skips what is done.

What a run reports is what NAS-Bench-201, NATS-Bench and the L2NAS paper report: the architecture
with the best *observed* (noisy) validation accuracy among the run's queries is selected (the mean
of its observations where it was queried more than once, :mod:`nasgym.selection`), and the env's
evaluator made with ``noise="mean"`` at its default fidelity reports its validation and test
accuracies. The folder ``out`` holds:

- ``runs.csv``: one row per run (:data:`RUN_COLUMNS`, then :data:`EXTRA_COLUMNS`, among them what
  the run depended on: tables fingerprint, versions, machine);
- ``histories/``: every run's queries, one compressed ``.npz`` per agent, env, dataset, protocol and
  env arguments (all its seeds), loaded with one call: :func:`load_histories`;
- ``table.md``: mean +- std per agent x dataset x protocol, per space, beside the published rows
  (:mod:`nasgym.bench.references`);
- ``anytime.png`` (query budgets) and ``anytime_sim_time.png`` (simulated-time runs): best-so-far
  curves, mean and 95% bootstrap band over seeds, one column per dataset;
- ``commands.jsonl``: every invocation (command, versions, machine, date, counts, wall time);
- ``failures.jsonl``: the runs of the latest invocation that failed, with their tracebacks.

The modules: :mod:`~nasgym.bench.spaces` (spaces from the registry), :mod:`~nasgym.bench.grid`
(the grid and its checks), :mod:`~nasgym.bench.envs` (making the envs), :mod:`~nasgym.bench.execute`
(running it), :mod:`~nasgym.bench.runs` (``runs.csv``), :mod:`~nasgym.bench.histories`,
:mod:`~nasgym.bench.scoring` (queries to a row), :mod:`~nasgym.bench.rescore`,
:mod:`~nasgym.bench.provenance`, :mod:`~nasgym.bench.report` (``table.md``) and
:mod:`~nasgym.bench.plots`.
"""

from nasgym.bench.execute import BenchReport, RunOutcome, SimTimeLimit, execute_run, execute_runs, run_bench
from nasgym.bench.grid import (
    AgentSpec,
    BenchConfig,
    Protocol,
    RunSpec,
    parse_agent,
    run_key,
    sim_time_query_cap,
    split_agents,
)
from nasgym.bench.histories import consolidate, load_histories, missing_histories, read_history
from nasgym.bench.plots import PLOT_FILES, curve_on_grid, mean_and_band, plot_anytime
from nasgym.bench.references import NB201_REFERENCE_ROWS, ReferenceRow, reference_rows
from nasgym.bench.report import Group, format_table, group_runs, write_report
from nasgym.bench.rescore import full_precision, migrate, rescore
from nasgym.bench.runs import (
    COLUMNS,
    EXTRA_COLUMNS,
    RUN_COLUMNS,
    append_run,
    read_runs,
    row_key,
    row_protocol,
    write_runs,
)
from nasgym.bench.spaces import BenchSpace, registered_spaces, resolve_space

#: the published NAS-Bench-201 rows (:func:`reference_rows` gives every space's)
REFERENCE_ROWS = NB201_REFERENCE_ROWS

__all__ = [
    "COLUMNS",
    "EXTRA_COLUMNS",
    "PLOT_FILES",
    "REFERENCE_ROWS",
    "RUN_COLUMNS",
    "AgentSpec",
    "BenchConfig",
    "BenchReport",
    "BenchSpace",
    "Group",
    "Protocol",
    "ReferenceRow",
    "RunOutcome",
    "RunSpec",
    "SimTimeLimit",
    "append_run",
    "curve_on_grid",
    "execute_run",
    "execute_runs",
    "consolidate",
    "format_table",
    "full_precision",
    "group_runs",
    "load_histories",
    "mean_and_band",
    "migrate",
    "missing_histories",
    "parse_agent",
    "plot_anytime",
    "read_history",
    "read_runs",
    "reference_rows",
    "registered_spaces",
    "rescore",
    "resolve_space",
    "row_key",
    "row_protocol",
    "run_bench",
    "run_key",
    "sim_time_query_cap",
    "split_agents",
    "write_report",
    "write_runs",
]
