"""The TabNAS agent and the constrained baselines: the feasible-probability estimate is unbiased and
differentiable, the rejection gradient approaches that of log P(y | y in V), infeasible samples
never reach the evaluator, runs replay, and bad arguments fail clearly."""

from __future__ import annotations

import io
import json

import gymnasium as gym
import numpy as np
import pytest

from nasgym.agents import make_agent
from nasgym.agents.tabnas import feasible_probability_estimate, log_conditional_estimate
from nasgym.cli import main
from nasgym.envs import GlobalNASEnv, SequentialNASEnv
from nasgym.spaces import SearchSpace

torch = pytest.importorskip("torch")


class SizedToyEvaluator:
    """A tiny benchmark whose parameter count is the sum of the choices: ``valid_acc = 50 + 5 * sum
    + 2 * first choice``, so the best architecture is the largest, and under a parameter limit the
    best feasible one sits at the limit with its weight in the first layer. Records every index it
    evaluates.

    :param n_decisions: decisions of the space.
    :param n_choices: choices per decision.
    """

    def __init__(self, n_decisions: int = 3, n_choices: int = 3) -> None:
        labels = tuple(f"w{i}" for i in range(n_choices))
        self.space = SearchSpace("sized-toy", [f"layer{i}" for i in range(n_decisions)], [labels] * n_decisions)
        self.dataset = "toy"
        choices = self.space.enumerate()
        self.params = choices.sum(axis=1).astype(np.float64)
        self.mean = 50.0 + 5.0 * self.params + 2.0 * choices[:, 0]  # the first layer counts most
        self.evaluated: list[int] = []

    @property
    def best_valid_acc(self) -> float:
        return float(self.mean.max())

    def resources(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        return {"params": self.params[indices]}

    def evaluate(self, indices: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        idx = self.space.check_index(indices)
        ones = np.ones(idx.shape)
        return {"valid_acc": self.mean[idx], "test_acc": self.mean[idx] - 1.0, "flops": ones,
                "params": self.params[idx], "latency": ones, "cost": ones}  # fmt: skip

    def evaluate_one(self, index: int, rng: np.random.Generator) -> dict[str, float]:
        self.evaluated.append(int(index))
        return {key: float(value[()]) for key, value in self.evaluate(np.int64(index), rng).items()}


def sized_env(budget: int, limit: float = 2.0, evaluator: SizedToyEvaluator | None = None, **kwargs) -> GlobalNASEnv:
    evaluator = evaluator or SizedToyEvaluator()
    return GlobalNASEnv(space="sized-toy", evaluator=evaluator, budget=budget, constraint={"params": limit}, **kwargs)


def exact_log_prob_feasible(logits, space: SearchSpace, feasible: np.ndarray):
    """log P(V) of a factorised policy, summed over the enumerated space (differentiable)."""
    log_probs = torch.log_softmax(logits, dim=1)
    choices = torch.as_tensor(space.enumerate())
    log_p = log_probs[torch.arange(space.n_decisions), choices].sum(dim=1)
    return torch.logsumexp(log_p[torch.as_tensor(feasible)], dim=0)


def draw(probs: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` architectures from a factorised policy (n x decisions)."""
    return np.stack([rng.choice(probs.shape[1], size=n, p=row) for row in probs], axis=1)


@pytest.fixture
def tiny_policy():
    """A 3 x 3 space, random logits, and a feasible set of 10 of its 27 architectures."""
    space = SizedToyEvaluator().space
    logits = torch.tensor(np.random.default_rng(1).normal(0.0, 1.0, (3, 3)), dtype=torch.float64, requires_grad=True)
    feasible = space.enumerate().sum(axis=1) <= 2
    return space, logits, feasible


def test_feasible_probability_estimate_is_unbiased(tiny_policy):
    space, logits, feasible = tiny_policy
    exact = float(exact_log_prob_feasible(logits, space, feasible).exp().detach())
    log_probs = torch.log_softmax(logits, dim=1)
    probs = log_probs.detach().exp().numpy()
    rng = np.random.default_rng(0)
    index = space.index_of
    estimates = []
    for _ in range(4000):
        samples = draw(probs, 5, rng)  # a small N: unbiased at any N, not only in the limit
        estimate = feasible_probability_estimate(log_probs, samples, feasible[index(samples)])
        estimates.append(float(estimate.detach()))
    mean, stderr = np.mean(estimates), np.std(estimates) / np.sqrt(len(estimates))
    assert 0.1 < exact < 0.9
    assert abs(mean - exact) < 4 * stderr


def test_the_estimate_carries_the_gradient_to_the_logits(tiny_policy):
    space, logits, feasible = tiny_policy
    log_probs = torch.log_softmax(logits, dim=1)
    samples = draw(log_probs.detach().exp().numpy(), 50, np.random.default_rng(2))
    estimate = feasible_probability_estimate(log_probs, samples, feasible[space.index_of(samples)])
    estimate.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_rejection_gradient_approaches_that_of_the_conditional_log_probability(tiny_policy):
    space, logits, feasible = tiny_policy
    y = np.array([1, 1, 0])
    assert feasible[space.index_of(y)]
    log_probs = torch.log_softmax(logits, dim=1)
    log_p_y = log_probs[torch.arange(3), torch.as_tensor(y)].sum()
    (exact,) = torch.autograd.grad(log_p_y - exact_log_prob_feasible(logits, space, feasible), logits)
    probs = log_probs.detach().exp().numpy()
    rng = np.random.default_rng(3)
    errors = {}
    for n in (20, 200, 20000):
        runs = []
        for _ in range(5):
            samples = draw(probs, n, rng)
            log_probs = torch.log_softmax(logits, dim=1)
            estimate = log_conditional_estimate(log_probs, y, samples, feasible[space.index_of(samples)])
            (grad,) = torch.autograd.grad(estimate, logits)
            runs.append(float((grad - exact).abs().max()))
        errors[n] = np.mean(runs)
    assert errors[20000] < errors[200] < errors[20]
    assert errors[20000] < 0.02


def test_log_conditional_estimate_needs_a_feasible_sample(tiny_policy):
    space, logits, _ = tiny_policy
    samples = np.zeros((4, 3), dtype=np.int64)
    with pytest.raises(ValueError, match="feasible holds no True"):
        log_conditional_estimate(torch.log_softmax(logits, dim=1), samples[0], samples, np.zeros(4, dtype=bool))


@pytest.mark.parametrize(
    "agent, kwargs", [("tabnas", {}), ("random", {"reject_infeasible": True}), ("rea", {"reject_infeasible": True})]
)
def test_infeasible_samples_never_reach_the_evaluator(agent, kwargs):
    evaluator = SizedToyEvaluator()
    env = sized_env(40, evaluator=evaluator)
    result = make_agent(agent, **kwargs).run(env, seed=0)
    assert len(evaluator.evaluated) == 40 == len(result.queries)
    assert all(evaluator.params[i] <= 2.0 for i in evaluator.evaluated)
    assert all(q["feasible"] for q in result.queries)


def test_tabnas_rejects_without_queries_and_reports_its_policy():
    env = sized_env(60)
    agent = make_agent("tabnas", lr=0.1, n_samples=50)
    summary = agent.run(env, seed=0).summary()
    assert agent.n_rejected > 0  # 17 of the 27 architectures are infeasible
    stats = summary["agent_stats"]
    assert stats["n_rejected"] == agent.n_rejected
    policy_index = stats["policy_index"]
    assert stats["policy_arch"] == env.search_space.arch_string(policy_index)
    assert stats["policy_feasible"] == env.is_feasible(policy_index)
    assert stats["policy_resource"] == {"params": env.evaluator.params[policy_index]}
    assert summary["best_resource"]["params"] <= 2.0


def test_tabnas_policy_finds_the_best_feasible_architecture():
    evaluator = SizedToyEvaluator()
    best_feasible = int(np.argmax(np.where(evaluator.params <= 2.0, evaluator.mean, -np.inf)))
    assert evaluator.params[best_feasible] == 2.0 and evaluator.mean[best_feasible] < evaluator.best_valid_acc
    agent = make_agent("tabnas", lr=0.2, n_samples=100)
    found = [agent.run(sized_env(100, evaluator=evaluator), seed=seed).summary()["agent_stats"] for seed in range(4)]
    assert sum(stats["policy_index"] == best_feasible for stats in found) >= 3


@pytest.mark.parametrize(
    "agent, kwargs", [("tabnas", {}), ("random", {"reject_infeasible": True}), ("rea", {"reject_infeasible": True})]
)
def test_same_seed_same_constrained_run(agent, kwargs):
    runs = [make_agent(agent, **kwargs).run(sized_env(30), seed=4) for _ in range(2)]
    assert [q["index"] for q in runs[0].queries] == [q["index"] for q in runs[1].queries]
    assert runs[0].summary()["agent_stats"] == runs[1].summary()["agent_stats"]


@pytest.mark.parametrize(
    "build, words",
    [
        (lambda: make_agent("tabnas", n_samples=0), ["n_samples", ">= 1", "0"]),
        (lambda: make_agent("tabnas", lr=0.0), ["lr", "> 0"]),
        (lambda: make_agent("tabnas", momentum=1.0), ["momentum", "[0, 1)"]),
        (lambda: make_agent("random", reject_infeasible="yes"), ["reject_infeasible", "True or False", "'yes'"]),
        (lambda: make_agent("rea", reject_infeasible=1), ["reject_infeasible", "True or False"]),
    ],
)
def test_bad_arguments_raise_clear_errors(build, words):
    with pytest.raises(ValueError) as exc:
        build()
    for word in words:
        assert word in str(exc.value)


@pytest.mark.parametrize("agent", ["random", "rea"])
def test_rejection_needs_a_constrained_env(agent):
    env = GlobalNASEnv(space="sized-toy", evaluator=SizedToyEvaluator(), budget=5)
    with pytest.raises(ValueError, match=f"agent '{agent}' cannot search .*reject_infeasible=True needs an env made"):
        make_agent(agent, reject_infeasible=True).run(env, seed=0)


def test_constrained_random_search_needs_the_global_flavour():
    env = SequentialNASEnv(space="sized-toy", evaluator=SizedToyEvaluator(), budget=5, constraint={"params": 2.0})
    with pytest.raises(ValueError, match="Global envs only"):
        make_agent("random", reject_infeasible=True).run(env, seed=0)


def test_cli_runs_tabnas_on_a_constrained_env():
    stdout = io.StringIO()
    argv = ["search", "--env", "NAS-Bench-201-Global-v0", "--agent", "tabnas", "--budget", "12", "--quiet",
            "--env-arg", "dataset=cifar100", "--env-arg", 'constraint={"flops": 47.2}',
            "--agent-arg", "n_samples=50"]  # fmt: skip
    assert main(argv, stdout=stdout) == 0
    summary = json.loads(stdout.getvalue())
    assert summary["agent"] == "tabnas" and summary["n_queries"] == 12
    assert summary["best_resource"]["flops"] <= 47.2
    assert "policy_arch" in summary["agent_stats"]


def test_reinforce_with_the_abs_reward_reports_its_policy():
    env = gym.make("NAS-Bench-201-Global-v0", budget=20, dataset="cifar100", constraint={"flops": 47.2},
                   reward="abs", reward_beta=-1.0)  # fmt: skip
    stats = make_agent("reinforce", lr=0.1).run(env, seed=0).summary()["agent_stats"]
    assert set(stats) == {"policy_arch", "policy_index", "policy_feasible", "policy_resource"}


def load_tabnas_benchmark():
    """benchmarks/tabnas_nb201.py as a module (benchmarks/ is no package)."""
    import importlib.util
    import sys

    from conftest import REPO_ROOT

    spec = importlib.util.spec_from_file_location("tabnas_nb201", REPO_ROOT / "benchmarks" / "tabnas_nb201.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["tabnas_nb201"] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_benchmark_pareto_front_and_resource_formatting():
    bench = load_tabnas_benchmark()
    column = np.array([3.0, 1.0, 2.0, 1.0, 3.0, 4.0])
    quality = np.array([5.0, 1.0, 0.5, 2.0, 6.0, 4.0])
    # per level the best (index 3 at 1, 2 at 2, 4 at 3, 5 at 4), kept where it beats every smaller level
    assert bench.pareto_front(column, quality) == [3, 4]
    assert bench.fmt("params", 0.021699) == "21,699"  # parameter counts in full, not 0.02
    assert bench.fmt("flops", 47.1105) == "47.11"


def test_benchmark_limit_from_a_reference_architecture():
    bench = load_tabnas_benchmark()
    args = bench.parse_args(["--env-id", "FFN-Global-v0", "--dataset", "connect_4", "--metric", "params",
                             "--reference-arch", "144-24"])  # fmt: skip
    report = gym.make(args.env_id, dataset=args.dataset, noise="mean", budget=1).unwrapped.evaluator
    bench.resolve_limit(args, report)
    env = gym.make(args.env_id, dataset=args.dataset, budget=1, constraint={"params": args.limit}).unwrapped
    assert args.limit == env.resources("144-24")["params"] and env.is_feasible("144-24")  # exactly at the limit
    assert not env.is_feasible("144-32")
    with pytest.raises(SystemExit):  # a limit and a reference at once
        bench.parse_args(["--limit", "1", "--reference-arch", "pareto-median"])


TABNAS_RESULTS = ("benchmarks", "results", "tabnas")


def copy_tabnas_run(name: str, folder):
    """The CSV and JSON record of a committed run of benchmarks/tabnas_nb201.py, copied to ``folder``."""
    import shutil

    from conftest import REPO_ROOT

    results = REPO_ROOT.joinpath(*TABNAS_RESULTS)
    for suffix in ("csv", "json"):
        shutil.copy(results / f"{name}.{suffix}", folder)
    return results


@pytest.mark.parametrize("name", ["ffn_params", "fcnet_params_naval_propulsion"])
def test_benchmark_render_only_rebuilds_the_committed_report(name, tmp_path):
    bench = load_tabnas_benchmark()
    results = copy_tabnas_run(name, tmp_path)
    assert bench.main(["--render-only", "--name", name, "--out", str(tmp_path)]) == 0
    assert (tmp_path / f"{name}.md").read_text() == (results / f"{name}.md").read_text()


def test_benchmark_names_fcnet_quality_a_score_without_a_test_column():
    from conftest import REPO_ROOT

    from nasgym.spaces.fcnet import FCNetSpace

    bench = load_tabnas_benchmark()

    def quality(env_id: str, dataset: str):
        return bench.quality_of(gym.make(env_id, dataset=dataset, noise="mean", budget=1).unwrapped.evaluator)

    ffn = quality("FFN-Global-v0", "connect_4")
    assert (ffn.column, ffn.measured, ffn.has_test) == ("valid acc (%)", "validation / test accuracy", True)
    fcnet = quality("FCNet-Global-v0", "naval_propulsion")
    assert (fcnet.column, fcnet.unit, fcnet.has_test) == ("valid score", "", False)
    assert FCNetSpace.valid_acc_meaning in fcnet.measured
    report = REPO_ROOT.joinpath(*TABNAS_RESULTS, "fcnet_params_naval_propulsion.md").read_text()
    header = next(line for line in report.splitlines() if line.startswith("| setting"))
    assert header.endswith("| valid score | valid score, feasible only |")
    assert "valid acc" not in report and "test" not in header and "nan%" not in report


def test_benchmark_render_only_refuses_options_missing_files_and_a_changed_record(tmp_path):
    bench = load_tabnas_benchmark()
    with pytest.raises(SystemExit):  # the run's options come from its record
        bench.parse_args(["--render-only", "--name", "ffn_params", "--budget", "5"])
    with pytest.raises(SystemExit, match="missing"):
        bench.main(["--render-only", "--name", "ffn_params", "--out", str(tmp_path)])
    copy_tabnas_run("ffn_params", tmp_path)
    record = json.loads((tmp_path / "ffn_params.json").read_text())
    record["settings"][0]["feasible_share"] += 0.05
    (tmp_path / "ffn_params.json").write_text(json.dumps(record))
    with pytest.raises(SystemExit, match="settings"):
        bench.main(["--render-only", "--name", "ffn_params", "--out", str(tmp_path)])
    assert not (tmp_path / "ffn_params.md").exists()
