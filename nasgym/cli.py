"""The ``nasgym`` command: run a search, import benchmark data, show what the tables hold, build tables by training."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import gymnasium as gym
from tqdm import tqdm

import nasgym
from nasgym.env_args import keyword_argument, keyword_arguments
from nasgym.spaces import SPACES
from nasgym.tables import available_tables, import_paths, load_table
from nasgym.tables.metrics import describe


def _json_line(record: dict[str, Any]) -> str:
    """One JSON line; NaN (a value the table does not have) is written as null."""
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}
    return json.dumps(clean, allow_nan=False)


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type=``: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_seed = _int_at_least(0)


def _new_file(text: str) -> Path:
    """A path to create: the query log never overwrites a file, so no earlier search's log is lost."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; give the path of a new file")
    if path.exists():
        raise argparse.ArgumentTypeError(f"{text!r} exists; give the path of a new file (nothing is overwritten)")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"the folder of {text!r} does not exist")
    return path


def _search_env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """What ``search`` passes to ``gym.make``: --env-arg, plus --dataset, --budget and --noise where
    given (else the env's own defaults apply); with --quiet, no live training bars either."""
    from nasgym.env_args import env_parameters

    kwargs = keyword_arguments(args.env_arg, "--env-arg")
    for name in ("dataset", "budget", "noise"):
        value = getattr(args, name)
        if value is not None:
            if name in kwargs:
                raise ValueError(f"--{name} and --env-arg {name}=... both given; give one")
            kwargs[name] = value
    evaluator = env_parameters(args.env).get("evaluator")
    if args.quiet and kwargs.get("evaluator", evaluator.default if evaluator else None) == "live":
        kwargs.setdefault("progress", False)
    return kwargs


def _cmd_search(args: argparse.Namespace, stdout: TextIO) -> int:
    from nasgym.agents import make_agent
    from nasgym.agents.base import env_id_flavour

    try:
        agent = make_agent(args.agent, **keyword_arguments(args.agent_arg, "--agent-arg"))  # before any table
    except TypeError as exc:  # an argument the agent does not take
        raise ValueError(f"agent {args.agent!r}: {exc}") from None
    agent.check_flavour(env_id_flavour(args.env), f"env {args.env!r}")
    try:
        env = gym.make(args.env, **_search_env_kwargs(args))
    except TypeError as exc:  # a keyword the env does not take, or a value of the wrong type
        raise ValueError(f"--env-arg: {exc}") from None
    budget, dataset = env.unwrapped.budget, env.unwrapped.dataset
    try:
        out = open(args.out, "x") if args.out else None  # "x": the file may have appeared since _new_file checked
    except FileExistsError as exc:
        raise ValueError(f"--out: {exc.strerror}: {exc.filename!r}; nothing is overwritten") from None
    bar = tqdm(total=budget, desc=f"{args.agent} on {args.env}", unit="query", disable=args.quiet)

    def on_query(query: dict[str, Any]) -> None:
        bar.update(1)
        if out is not None:
            out.write(_json_line(query) + "\n")

    try:
        result = agent.run(env, seed=args.seed, env_id=args.env, on_query=on_query)
    finally:
        bar.close()
        env.close()  # the live evaluator's worker pool, Ray, database
        if out is not None:
            out.close()
    summary = {**result.summary(), "dataset": dataset, "budget": budget}
    stdout.write(_json_line(summary) + "\n")
    return 0


def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _budget_list(text: str) -> list[int]:
    try:
        return [_positive_int(item) for item in _comma_list(text)]
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated query budgets: {exc}") from None


def _bench_spaces() -> list[Any]:
    from nasgym.bench.spaces import registered_spaces

    return list(registered_spaces().values())


def _cmd_bench(args: argparse.Namespace, stdout: TextIO) -> int:
    from nasgym.bench import BenchConfig, migrate, rescore, run_bench, split_agents, write_report
    from nasgym.bench.readme import update_readme

    if args.readme is not None:
        if args.out is not None or args.agents is not None:
            raise ValueError("--readme works alone: the folders are named in the README's markers")
        folders = update_readme(args.readme)
        stdout.write(f"regenerated the tables of {args.readme} from {', '.join(folders)}\n")
        return 0
    if args.out is None:
        raise ValueError("--out is required (the output folder)")
    modes = [flag for flag in ("--plot-only", "--rescore", "--migrate") if getattr(args, flag[2:].replace("-", "_"))]
    if len(modes) > 1:
        raise ValueError(f"{' and '.join(modes)}: give one (each rebuilds the report too)")
    if args.allow_mixed_fingerprints and modes != ["--rescore"]:
        raise ValueError("--allow-mixed-fingerprints goes with --rescore")
    if modes:
        given = [
            flag
            for flag, value in (
                ("--agents", args.agents),
                ("--space", args.space),
                ("--envs", args.envs),
                ("--datasets", args.datasets),
                ("--budgets", args.budgets),
                ("--sim-time", args.sim_time),
                ("--seeds", args.seeds),
                ("--fidelity", args.fidelity),
                ("--env-arg", args.env_arg),
            )
            if value
        ]
        if given:
            raise ValueError(f"{modes[0]} works on --out alone; drop {given}")
        if args.rescore:
            count = rescore(args.out, allow_mixed_fingerprints=args.allow_mixed_fingerprints)
            stdout.write(f"rescored {count} runs in {args.out / 'runs.csv'}\n")
        elif args.migrate:
            stdout.write(f"migrated {migrate(args.out)} runs in {args.out / 'runs.csv'}\n")
        stdout.write(write_report(args.out))
        return 0
    if args.agents is None or args.seeds is None:
        raise ValueError("--agents and --seeds are required (unless --plot-only, --rescore or --migrate)")
    if args.space is not None and args.envs is not None:
        raise ValueError("--space and --envs: give one (--envs are env ids of a space)")
    budgets = args.budgets if args.budgets is not None else ([] if args.sim_time is not None else [500])
    config = BenchConfig(
        agents=split_agents(args.agents),
        datasets=_comma_list(args.datasets) if args.datasets is not None else None,
        budgets=budgets,
        seeds=args.seeds,
        seed_start=args.seed_start,
        out=args.out,
        sim_time=args.sim_time,
        fidelity=args.fidelity,
        search_dataset=args.search_dataset,
        workers=args.workers,
        space=args.space,
        envs=_comma_list(args.envs) if args.envs is not None else (),
        env_args=keyword_arguments(args.env_arg, "--env-arg"),
        executor=args.executor,
        ray_address=args.ray_address,
    )
    report = run_bench(config, progress=not args.quiet)
    stdout.write((args.out / "table.md").read_text())
    stdout.write(
        f"{report.completed} runs done, {report.skipped} already in {args.out / 'runs.csv'} skipped, "
        f"{len(report.failures)} failed ({report.wall_time:.0f} s)\n"
    )
    if report.failures:
        stdout.write(report.failure_summary() + f"\ndetails: {args.out / 'failures.jsonl'}; re-run to retry them\n")
        return 1
    return 0


def _cmd_data_import(args: argparse.Namespace, stdout: TextIO) -> int:
    for result in import_paths(args.paths):
        stdout.write(result.summary() + "\n")
    return 0


def _cmd_data_info(args: argparse.Namespace, stdout: TextIO) -> int:
    stdout.write(f"{'space':<6} {'dataset':<15} {'metric':<24} {'archs':>7} {'seeds':>5}  meaning\n")
    for space, dataset in available_tables():  # embedded, then built by `nasgym data build`
        table = load_table(space, dataset)
        for metric, n_archs in table.coverage().items():
            n_seeds = table.values(metric).shape[1]
            stdout.write(f"{space:<6} {dataset:<15} {metric:<24} {n_archs:>7} {n_seeds:>5}  {describe(metric)}\n")
    return 0


def _cmd_data_build(args: argparse.Namespace, stdout: TextIO) -> int:
    from nasgym.evaluators.build import build_table  # live training: torch is needed from here on

    if args.space == "dqn-arch":  # Double DQN agents on a Gymnasium task: environment steps, not epochs
        rl = {"steps": args.steps, "seeds": args.seeds}
        training = {k: v for k, v in rl.items() if v is not None} | {"seed": args.seed, "device": args.device}
    elif args.steps is not None or args.seeds is not None:
        raise ValueError(f"--steps and --seeds are for the dqn-arch space, not {args.space!r}; give --epochs")
    else:
        training = {
            "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "train_rows": args.train_rows,
            "seed": args.seed, "device": args.device, "data_dir": args.data_dir, "executor": args.executor,
            "workers": args.workers, "ray_address": args.ray_address,
        }  # fmt: skip
    path, evaluator = build_table(args.space, args.dataset, progress=not args.quiet, **training)
    stdout.write(
        f"built the {args.space} {args.dataset} table ({evaluator.space.size} archs: {evaluator.n_trained} trained, "
        f"{evaluator.n_cached} from the result store {evaluator.store.path}) at {path}; the tabular evaluator "
        f"serves it: evaluator='tabular', dataset={args.dataset!r}\n"
    )
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error said in one line of stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _agents_help() -> list[str]:
    """Every registered agent with the env flavours it searches (from the registries, so new ones appear)."""
    from nasgym.agents import AGENTS, OPTUNA_AGENT_NAMES, SB3_AGENT_NAMES, SB3_ALGORITHMS, SB3_PREFIX, OptunaAgent

    flavours = {name: agent.flavours for name, agent in AGENTS.items()}
    flavours.update((name, SB3_ALGORITHMS[name.removeprefix(SB3_PREFIX)].flavours) for name in SB3_AGENT_NAMES)
    flavours.update((name, OptunaAgent.flavours) for name in OPTUNA_AGENT_NAMES)
    return [f"{name} ({', '.join(searched)})" for name, searched in flavours.items()]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nasgym", description=__doc__)
    parser.add_argument("--version", action="version", version=f"nasgym {nasgym.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    search = commands.add_parser(
        "search",
        help="run one search and print its summary as a JSON line",
        description="Run one search and print its summary as a JSON line.\n\nenv ids:\n  "
        + "\n  ".join(nasgym.ENV_IDS)
        + "\n\nagents (the env flavours each searches):\n  "
        + "\n  ".join(_agents_help()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    search.add_argument("--env", required=True, choices=nasgym.ENV_IDS, metavar="ID", help="env id (listed above)")
    search.add_argument(
        "--agent", default="random", help="agent name (default: random); --agent-arg goes to its constructor"
    )
    search.add_argument(
        "--agent-arg",
        type=keyword_argument,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an agent hyperparameter, e.g. --agent-arg population_size=20 (repeatable; JSON values, else strings)",
    )
    search.add_argument(
        "--env-arg",
        type=keyword_argument,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a gym.make keyword of the env, e.g. fidelity=12, reward=normalized, top_k=5, evaluator=synthetic, "
        "epochs=1, data_dir=PATH (repeatable; JSON values, else strings); the env's own defaults apply otherwise",
    )
    search.add_argument("--budget", type=_positive_int, help="queries (default: the env's, 500)")
    search.add_argument("--seed", type=_seed, default=0, help="seed of the env and the agent, >= 0 (default: 0)")
    search.add_argument("--dataset", help="the env's dataset (default: the env's own, e.g. cifar10 or digits)")
    search.add_argument("--noise", choices=("seed", "mean"), help="seed noise or mean (default: the env's, seed)")
    search.add_argument("--out", type=_new_file, help="write one JSON line per query to this new file")
    search.add_argument("--quiet", action="store_true", help="print only the final JSON line (no progress bars)")
    search.set_defaults(handler=_cmd_search)

    bench = commands.add_parser(
        "bench",
        help="run agents x datasets x budgets x seeds on a space's envs; write runs.csv, table.md and anytime.png",
    )
    bench.add_argument(
        "--agents",
        help="comma-separated agents: NAME (its first flavour the space offers) or NAME@Flavour, each optionally "
        "with arguments NAME[KEY=VALUE,...], e.g. random,rea,reinforce[lr=0.05],sb3:PPO@Sequential",
    )
    bench.add_argument(
        "--space",
        help="the space to run on, by name or env-id prefix (default: nb201); one of: "
        + ", ".join(f"{s.name} ({s.prefix})" for s in _bench_spaces()),
    )
    bench.add_argument("--envs", help="comma-separated env ids to run on, instead of --space")
    bench.add_argument(
        "--datasets", help="comma-separated (default: the space's own: every dataset of its tables, else its env's)"
    )
    bench.add_argument(
        "--budgets", type=_budget_list, help="comma-separated query budgets (default: 500, none with --sim-time)"
    )
    bench.add_argument("--seeds", type=_positive_int, help="number of seeds K per agent, dataset and budget")
    bench.add_argument("--seed-start", type=int, default=0, help="first seed S; seeds S..S+K-1 (default: 0)")
    bench.add_argument("--out", type=Path, help="output folder (re-running into it resumes); needed but with --readme")
    bench.add_argument("--workers", type=_positive_int, help="parallel runs (default: one per core)")
    bench.add_argument(
        "--executor", default="process", choices=("process", "ray"), help="a local pool (default) or Ray"
    )
    bench.add_argument("--ray-address", help="with --executor ray: the cluster to connect to (default: a local Ray)")
    bench.add_argument(
        "--env-arg",
        type=keyword_argument,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a gym.make keyword of every env, e.g. top_k=5 or evaluator=synthetic (repeatable; JSON values, else "
        "strings); recorded in runs.csv, and a run of its own",
    )
    bench.add_argument(
        "--sim-time",
        type=float,
        metavar="SECONDS",
        help="add runs stopped at this simulated training time; the NAS-Bench-201 protocol is "
        "--sim-time 12000 --fidelity 12 --search-dataset cifar10",
    )
    bench.add_argument(
        "--fidelity",
        type=int,
        help="the env's fidelity (epochs) behind the validation reward (default: the env's, 200 on NAS-Bench-201); "
        "the reported accuracies are at the env's default fidelity",
    )
    bench.add_argument(
        "--search-dataset",
        help="search this dataset and report the selected architecture on each of --datasets "
        "(the NAS-Bench-201 paper searched cifar10); default: each dataset searches itself",
    )
    bench.add_argument("--plot-only", action="store_true", help="only rebuild table.md and the plots from --out")
    bench.add_argument(
        "--rescore",
        action="store_true",
        help="recompute every run's selected architecture and reported accuracies from its history, with the "
        "current selection rule and tables, then rebuild the report; refuses rows whose tables fingerprint is not "
        "the current tables'",
    )
    bench.add_argument(
        "--allow-mixed-fingerprints",
        action="store_true",
        help="with --rescore: rescore rows made on other tables too (commands.jsonl records it)",
    )
    bench.add_argument(
        "--migrate",
        action="store_true",
        help="upgrade a folder written before runs.csv recorded provenance, checking that the current tables "
        "reproduce every row",
    )
    bench.add_argument(
        "--readme",
        type=Path,
        metavar="README",
        help="regenerate the result tables of README between its '<!-- nasgym bench --readme FOLDER -->' and "
        "'<!-- end of nasgym bench --readme -->' markers from each FOLDER's runs.csv (alone: no other flag)",
    )
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    bench.set_defaults(handler=_cmd_bench)

    data = commands.add_parser("data", help="benchmark tables: import files, show coverage, build from training")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    importer = data_commands.add_parser(
        "import",
        help="import CSV files with an arch-string column, official NATS-Bench directories, or the official "
        "NAS-Bench-101 file (nasbench_only108.tfrecord or nasbench_full.tfrecord)",
    )
    importer.add_argument("paths", nargs="+", type=Path, help="files or directories to import")
    importer.set_defaults(handler=_cmd_data_import)
    info = data_commands.add_parser("info", help="per space, dataset and metric: how many archs have values")
    info.set_defaults(handler=_cmd_data_info)
    build = data_commands.add_parser(
        "build", help="train every architecture of a small space (resumable) and write its table"
    )
    build.add_argument("space", choices=sorted(SPACES), help="search space, e.g. convnet (1,364 networks)")
    build.add_argument(
        "--dataset",
        "--task",
        default="digits",
        help="digits (default), cifar10, cifar100 or ImageNet16-120; for ffn2 and ffn3 a tabular dataset in --data-dir "
        "(connect_4, adult, magic, criteo, or the name of a CSV/TSV file with a 'target' column); for dqn-arch a "
        "Gymnasium task with a discrete action space (--task CartPole-v1, LunarLander-v3)",
    )
    build.add_argument("--epochs", type=_positive_int, default=12, help="training epochs (default: 12)")
    build.add_argument("--batch-size", type=_positive_int, default=256, help="batch size (default: 256)")
    build.add_argument("--lr", type=float, help="initial learning rate (default: 0.1 * batch size / 256)")
    build.add_argument(
        "--train-rows", type=_positive_int, help="tabular datasets: train on this many rows of the training split"
    )
    build.add_argument(
        "--steps", type=_positive_int, help="dqn-arch: environment steps per agent (default: the task's preset)"
    )
    build.add_argument("--seeds", type=_positive_int, help="dqn-arch: agents per architecture (default: 2)")
    build.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    build.add_argument("--device", default="auto", help="auto (cuda when available, default), cpu, cuda or cuda:N")
    build.add_argument("--data-dir", type=Path, help="folder of the dataset files (not needed for digits)")
    build.add_argument("--executor", default="process", choices=("process", "ray"), help="local pool or Ray")
    build.add_argument("--workers", type=_positive_int, help="pool processes (default: one per GPU, else per core)")
    build.add_argument("--ray-address", help="Ray cluster address (default: start a local Ray)")
    build.add_argument("--quiet", action="store_true", help="no progress bars")
    build.set_defaults(handler=_cmd_data_build)
    return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO = sys.stdout) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args, stdout)
    except (ValueError, FileNotFoundError) as exc:
        parser.exit(2, f"nasgym {args.command}: error: {_one_line(exc)}\n")


if __name__ == "__main__":
    sys.exit(main())
