"""Search agents on a small synthetic space: they find its optimum, follow their papers' rules
(REA's aging, REINFORCE's gradient sign, the quantile loss), are reproducible, and reject bad
arguments and env flavours with clear messages. Every agent searches every registered env id it
claims (or refuses it up front with a clear error), and committed NAS-Bench-201 runs replay exactly."""

from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest
from conftest import committed_nb201_run, make_registered_env

from nasgym.agents import AGENTS, L2NAS, L2NASPlus, LocalSearch, make_agent
from nasgym.agents.base import env_flavour
from nasgym.agents.l2nas import quantile_loss
from nasgym.agents.rea import mutate
from nasgym.cli import main
from nasgym.envs import ContinuousNASEnv, GlobalNASEnv, SequentialNASEnv
from nasgym.envs_registry import ENV_TABLE
from nasgym.evaluators import Evaluator
from nasgym.spaces import SearchSpace

torch = pytest.importorskip("torch")


class ToyEvaluator:
    """A tiny deterministic benchmark: ``valid_acc = 50 + sum_d w[d, choice_d]``, with ``w = 10`` at
    one target choice per decision and uniform in [0, 4) elsewhere, so the optimum is unique and
    every decision can be improved on its own. ``noise_std`` adds Gaussian seed noise drawn with
    the env's rng.

    :param name: space name (the env's ``space`` argument must match it).
    :param n_decisions: decisions of the space.
    :param n_choices: choices per decision.
    :param noise_std: std of the validation noise (percentage points).
    :param target_seed: seed of the weights (another seed, another benchmark).
    """

    def __init__(
        self, name: str = "toy", n_decisions: int = 4, n_choices: int = 4, noise_std: float = 0.0, target_seed: int = 0
    ) -> None:
        labels = tuple(f"op{i}" for i in range(n_choices))
        self.space = SearchSpace(name, [f"e{i}" for i in range(n_decisions)], [labels] * n_decisions)
        self.dataset = f"toy{target_seed}"
        self.noise_std = noise_std
        gen = np.random.default_rng(target_seed)
        self.target = gen.integers(0, n_choices, n_decisions)
        weights = gen.uniform(0.0, 4.0, (n_decisions, n_choices))
        weights[np.arange(n_decisions), self.target] = 10.0
        all_choices = self.space.enumerate()
        self.mean = 50.0 + weights[np.arange(n_decisions), all_choices].sum(axis=1)
        self.best_index = int(self.space.index_of(self.target))

    @property
    def best_valid_acc(self) -> float:
        return float(self.mean.max())

    def evaluate(self, indices: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        idx = self.space.check_index(indices)
        valid = self.mean[idx] + (self.noise_std * rng.standard_normal(idx.shape) if self.noise_std else 0.0)
        ones = np.ones(idx.shape)
        return {"valid_acc": valid, "test_acc": self.mean[idx] - 1.0, "flops": ones, "params": ones,
                "latency": ones * 1e-3, "cost": ones}  # fmt: skip

    def evaluate_one(self, index: int, rng: np.random.Generator) -> dict[str, float]:
        return {key: float(value[()]) for key, value in self.evaluate(np.int64(index), rng).items()}


class TwoArmEvaluator(ToyEvaluator):
    """One decision, two choices: arm 0 scores 10, arm 1 scores 90 (deterministic)."""

    def __init__(self) -> None:
        self.space = SearchSpace("two-arm", ["arm"], [("bad", "good")])
        self.dataset = "bandit"
        self.noise_std = 0.0
        self.mean = np.array([10.0, 90.0])
        self.best_index = 1


ENV_CLASS = {
    "random": GlobalNASEnv,
    "rea": GlobalNASEnv,
    "reinforce": GlobalNASEnv,
    "local": GlobalNASEnv,
    "reinforce-lstm": SequentialNASEnv,
    "l2nas": ContinuousNASEnv,
    "l2nas-plus": ContinuousNASEnv,
    "mcts": SequentialNASEnv,
    "enas": GlobalNASEnv,
    "rsps": GlobalNASEnv,
    "lanas": GlobalNASEnv,
    "tabnas": GlobalNASEnv,
}


#: agents that score architectures with shared weights: a table has none to share, so their toy env is a
#: tiny NAS-Bench-201 supernet on digits (one SGD step of 16 images per query, 16 validation images)
SHARED_WEIGHTS_AGENTS = ("enas", "rsps")


def toy_env(agent: str, budget: int, evaluator: ToyEvaluator | None = None, **kwargs):
    if agent in SHARED_WEIGHTS_AGENTS:
        from nasgym.evaluators.supernet import SupernetEvaluator

        evaluator = SupernetEvaluator(steps=1, batch_size=16, valid_size=16, num_threads=1)
    evaluator = evaluator or ToyEvaluator()
    return ENV_CLASS[agent](space=evaluator.space.name, evaluator=evaluator, budget=budget, **kwargs)


def query_indices(result) -> list[int]:
    return [q["index"] for q in result.queries]


def test_every_registered_agent_is_covered_by_the_toy_tests():
    assert set(AGENTS) == set(ENV_CLASS)
    assert isinstance(ToyEvaluator(), Evaluator)


# --- finding the optimum ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "agent, budget",
    # the 4 x 4 space has 256 archs; random search needs ~180 queries for even odds
    [("rea", 100), ("local", 60), ("reinforce", 200), ("reinforce-lstm", 150), ("l2nas", 120), ("l2nas-plus", 60),
     ("mcts", 80), ("lanas", 60)],
)
def test_agent_finds_the_optimum_of_a_small_space(agent, budget):
    evaluator = ToyEvaluator()
    result = make_agent(agent).run(toy_env(agent, budget, evaluator), seed=0)
    assert len(result.queries) == budget
    summary = result.summary()
    assert summary["best_valid_acc"] == evaluator.best_valid_acc
    assert summary["best_arch"] == evaluator.space.arch_string(evaluator.best_index)
    assert summary["queries_to_best"] < budget


def test_random_search_returns_the_best_not_the_last_architecture():
    result = make_agent("random").run(toy_env("random", 40), seed=0)
    values = [q["valid_acc"] for q in result.queries]
    assert values[-1] < max(values)  # the case where "last" and "best" differ
    summary = result.summary()
    assert summary["best_valid_acc"] == max(values)
    assert summary["best_arch"] == result.queries[int(np.argmax(values))]["arch"]


# --- reproducibility ---------------------------------------------------------------------------
@pytest.mark.parametrize("agent", sorted(ENV_CLASS))
def test_same_seed_gives_the_same_run(agent):
    evaluator = ToyEvaluator(noise_std=1.0)  # the env's seed noise must replay too
    budget = 30
    first, again = (make_agent(agent).run(toy_env(agent, budget, evaluator), seed=5) for _ in range(2))
    assert query_indices(first) == query_indices(again)
    assert [q["valid_acc"] for q in first.queries] == [q["valid_acc"] for q in again.queries]
    other = make_agent(agent).run(toy_env(agent, budget, evaluator), seed=6)
    assert query_indices(other) != query_indices(first)


def test_agents_leave_global_random_state_alone():
    np_state, torch_state = np.random.get_state()[1].copy(), torch.random.get_rng_state().clone()
    threads = torch.get_num_threads()
    for agent in ("reinforce", "reinforce-lstm", "l2nas"):
        make_agent(agent).run(toy_env(agent, 25), seed=0)
    assert (np.random.get_state()[1] == np_state).all()
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert torch.get_num_threads() == threads


# --- REA ---------------------------------------------------------------------------------------
def test_rea_keeps_its_population_size_and_removes_the_oldest():
    agent = make_agent("rea", population_size=4, sample_size=2)
    result = agent.run(toy_env("rea", 40, ToyEvaluator(noise_std=2.0)), seed=1)
    population = list(agent.population)
    assert len(population) == 4
    # aging: the population is exactly the last 4 children, oldest first
    assert [m.index for m in population] == query_indices(result)[-4:]
    assert [m.valid_acc for m in population] == [q["valid_acc"] for q in result.queries[-4:]]
    # ... although an older member was better than the worst survivor (remove-worst would keep it)
    assert max(q["valid_acc"] for q in result.queries[:-4]) > min(m.valid_acc for m in population)


def test_rea_initial_population_is_random_then_children_are_one_mutation_from_a_member():
    agent = make_agent("rea", population_size=5, sample_size=3)
    evaluator = ToyEvaluator()
    result = agent.run(toy_env("rea", 30, evaluator), seed=2)
    choices = evaluator.space.choices_of(np.array(query_indices(result)))
    for t in range(5, 30):
        population = choices[t - 5 : t]  # members alive when child t was made
        distances = (population != choices[t]).sum(axis=1)
        assert (distances == 1).any()


def test_mutation_changes_exactly_one_decision_to_another_choice():
    rng = np.random.default_rng(0)
    n_choices = np.array([5, 1, 3, 5])
    parent = np.array([4, 0, 2, 0])
    seen = set()
    for _ in range(400):
        child = mutate(parent, n_choices, rng)
        changed = np.flatnonzero(child != parent)
        assert len(changed) == 1 and changed[0] != 1  # the single-choice decision never changes
        assert 0 <= child[changed[0]] < n_choices[changed[0]]
        seen.add((int(changed[0]), int(child[changed[0]])))
    assert len(seen) == 4 + 2 + 4  # every other choice of every mutable decision is reachable


# --- REINFORCE -----------------------------------------------------------------------------------
def test_reinforce_raises_the_logit_of_the_better_arm():
    evaluator = TwoArmEvaluator()
    agent = make_agent("reinforce")
    result = agent.run(GlobalNASEnv(space="two-arm", evaluator=evaluator, budget=30), seed=0)
    assert {q["index"] for q in result.queries} == {0, 1}  # both arms were tried
    bad, good = agent.logits[0]
    assert good > 0 > bad  # from 0: the better arm's logit rose, the worse one's fell
    later = [q["index"] for q in result.queries[15:]]
    assert later.count(1) > later.count(0)


def test_reinforce_lstm_learns_the_better_arm():
    evaluator = TwoArmEvaluator()
    agent = make_agent("reinforce-lstm", lr=0.01)
    agent.run(SequentialNASEnv(space="two-arm", evaluator=evaluator, budget=40), seed=0)
    controller = agent.controller
    with torch.no_grad():
        log_probs, _ = controller.step(0, controller.initial_state())
    assert log_probs.exp()[1] > 0.7


# --- local search ------------------------------------------------------------------------------
def test_local_search_never_queries_an_architecture_twice_while_others_remain():
    evaluator = ToyEvaluator(noise_std=1.0)
    result = make_agent("local").run(toy_env("local", 200, evaluator), seed=0)
    indices = query_indices(result)
    assert len(set(indices)) == len(indices) == 200


def test_local_search_goes_on_after_the_whole_space_is_queried():
    evaluator = ToyEvaluator(n_decisions=2, n_choices=3)  # 9 architectures
    result = make_agent("local").run(toy_env("local", 25, evaluator), seed=0)
    indices = query_indices(result)
    assert len(indices) == 25
    assert sorted(indices[:9]) == list(range(9))  # all of them first, no repeat


def test_local_search_keys_architectures_by_their_canonical_index():
    """On the ConvNet space several choice vectors name one network (unused layers are ignored): a
    neighbour that only changes an unused layer is the same network and is not queried again."""
    env = gym.make("ConvNet-Global-v0", evaluator="synthetic", budget=300)
    indices = query_indices(make_agent("local").run(env, seed=0))
    assert len(set(indices)) == len(indices) == 300


class NotEnumerable(SearchSpace):
    """Four choice vectors that claim to be 10^15 architectures: listing them would take petabytes."""

    enumerable = False
    is_product = True

    def __init__(self) -> None:
        super().__init__("big", ["a", "b"], [("x", "y")] * 2)
        self.size = 10**15

    def enumerate(self) -> np.ndarray:
        raise AssertionError("an agent enumerated a space that is not enumerable")


def test_local_search_restarts_without_enumerating_a_space_that_is_not_enumerable():
    space = NotEnumerable()
    seen = {index: 50.0 for index in range(4)}  # every vector queried: rejection sampling finds none new
    start = LocalSearch._random_start(np.random.default_rng(0), space, seen)
    assert start.shape == (2,) and int(space.index_of(start)) in seen  # a sample, no enumeration


# --- L2NAS -------------------------------------------------------------------------------------
def test_quantile_loss_matches_hand_computed_values():
    residual = [2.0, -1.0, 0.0, 0.5]
    # rho_0.9: 0.9 * 2, (0.9 - 1) * -1, 0 (x <= 0 counts as over-estimate), 0.9 * 0.5
    assert quantile_loss(residual, 0.9, reduction="none").tolist() == pytest.approx([1.8, 0.1, 0.0, 0.45])
    assert quantile_loss(residual, 0.9) == pytest.approx((1.8 + 0.1 + 0.0 + 0.45) / 4)
    assert quantile_loss(residual, 0.5, reduction="sum") == pytest.approx(0.5 * (2 + 1 + 0 + 0.5))
    assert quantile_loss(residual, 0.1) == pytest.approx((0.2 + 0.9 + 0.0 + 0.05) / 4)
    x = torch.tensor(residual, requires_grad=True)
    loss = quantile_loss(x, 0.9)
    assert isinstance(loss, torch.Tensor) and loss.item() == pytest.approx(0.5875)
    loss.backward()
    assert x.grad.tolist() == pytest.approx([0.9 / 4, -0.1 / 4, -0.1 / 4, 0.9 / 4])


def test_quantile_critic_learns_the_upper_quantile():
    """Minimising the loss over a constant gives the tau-quantile of the samples."""
    samples = torch.tensor(np.random.default_rng(0).normal(size=2000), dtype=torch.float32)
    q = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([q], lr=0.02)
    for _ in range(600):
        optimizer.zero_grad()
        quantile_loss(samples - q, 0.9).backward()
        optimizer.step()
    assert q.item() == pytest.approx(float(np.quantile(samples.numpy(), 0.9)), abs=0.05)


def test_l2nas_save_then_fine_tune_from_the_saved_policy(tmp_path):
    path = tmp_path / "l2nas.pt"
    with pytest.raises(RuntimeError, match="nothing to save"):
        L2NAS().save(path)
    source = ToyEvaluator(target_seed=0)
    agent = L2NAS(hidden_sizes=(32, 32), warmup=5)
    agent.run(toy_env("l2nas", 40, source, reward="normalized"), seed=0)
    agent.save(path)
    saved_actor = {k: v.clone() for k, v in agent.actor.state_dict().items()}

    # budget 1, no warm-up, no exploration: the first action is the saved actor's, and no update runs
    target = ToyEvaluator(target_seed=1)
    tuned = L2NAS(hidden_sizes=(32, 32), pretrained=path, warmup=0, epsilon=0.0, sigma=0.0)
    env = toy_env("l2nas", 1, target, reward="normalized")
    result = tuned.run(env, seed=3)
    for key, value in tuned.actor.state_dict().items():
        assert torch.equal(value, saved_actor[key])
    with torch.no_grad():
        alpha = agent.actor(torch.from_numpy(env.unwrapped._uniform_observation)).numpy()
    assert result.queries[0]["index"] == env.unwrapped.decode(np.clip(alpha, -1, 1))

    # fine-tuning runs and learns from there
    tuned = L2NAS(hidden_sizes=(32, 32)).load(path)
    tuned.warmup = 0
    assert len(tuned.run(toy_env("l2nas", 30, target, reward="normalized"), seed=0).queries) == 30

    with pytest.raises(ValueError, match="hidden_sizes"):
        L2NAS(hidden_sizes=(16,), pretrained=path)
    small = ToyEvaluator(name="toy3", n_decisions=3, n_choices=3)
    with pytest.raises(ValueError, match="pretrained policy is for observations of size 16"):
        L2NAS(hidden_sizes=(32, 32), pretrained=path).run(toy_env("l2nas", 5, small), seed=0)


def test_l2nas_actions_stay_in_the_box():
    """The env rejects out-of-range actions; the agent clips mu + noise, even with large noise."""
    result = L2NAS(hidden_sizes=(16,), sigma=3.0, warmup=2).run(toy_env("l2nas", 20), seed=0)
    assert len(result.queries) == 20


# --- L2NAS-plus ------------------------------------------------------------------------------------
class FixedCriticPlus(L2NASPlus):
    """L2NAS-plus whose critic is a fixed linear score ``Q(s, alpha) = <target vertex, alpha>``: one
    point per decision that agrees with the target, so Q falls with the Hamming distance to it."""

    def __init__(self, target_vertex: np.ndarray, **kwargs) -> None:
        super().__init__(updates_per_step=0, warmup=0, epsilon=1.0, **kwargs)  # uniform draws, no training
        self.target_vertex = target_vertex

    def _build(self, obs_dim: int, action_dim: int, rng: np.random.Generator) -> None:
        super()._build(obs_dim, action_dim, rng)
        self.critic = torch.nn.Linear(obs_dim + action_dim, 1, bias=False)
        with torch.no_grad():
            self.critic.weight.zero_()
            self.critic.weight[0, obs_dim:] = torch.from_numpy(self.target_vertex)


def vertex(space: SearchSpace, choices: np.ndarray) -> np.ndarray:
    """+1 at each decision's choice, -1 elsewhere, flat: the encoding L2NAS-plus snaps to."""
    return (2.0 * space.one_hot(choices) - 1.0).reshape(*np.shape(choices)[:-1], -1)


def target_vertex(evaluator: ToyEvaluator) -> np.ndarray:
    return vertex(evaluator.space, evaluator.target)


def test_l2nas_plus_queries_the_critics_best_new_architecture():
    evaluator = ToyEvaluator()
    choices_of = evaluator.space.choices_of
    agent = FixedCriticPlus(target_vertex(evaluator), candidates=512, reevaluate=0)  # 512 draws: most of 256
    result = agent.run(toy_env("l2nas-plus", 8, evaluator), seed=0)
    indices = query_indices(result)
    assert indices[0] == evaluator.best_index  # the critic's favourite comes first ...
    assert len(set(indices)) == len(indices)  # ... and is not queried again: the next best are new
    distances = (choices_of(np.array(indices[1:])) != evaluator.target).sum(axis=1)
    assert (distances == 1).all()
    # without the novelty filter the critic keeps choosing its favourite (2048 draws: always among them)
    repeat = FixedCriticPlus(target_vertex(evaluator), candidates=2048, novel=False, reevaluate=0)
    assert set(query_indices(repeat.run(toy_env("l2nas-plus", 8, evaluator), seed=0))) == {evaluator.best_index}


@pytest.mark.parametrize("snap", [True, False])
def test_l2nas_plus_sends_the_vertex_of_the_architecture_it_queries(snap):
    actions = []

    class ActionRecorder(ContinuousNASEnv):
        def step(self, action):
            actions.append(np.array(action))
            return super().step(action)

    evaluator = ToyEvaluator()
    env = ActionRecorder(space=evaluator.space.name, evaluator=evaluator, budget=25)
    result = L2NASPlus(hidden_sizes=(16,), warmup=5, snap=snap).run(env, seed=0)
    actions = np.array(actions)
    queried = evaluator.space.choices_of(np.array(query_indices(result)))
    assert np.array_equal(actions, vertex(evaluator.space, queried)) == snap
    assert [env.decode(action) for action in actions] == query_indices(result)


def test_l2nas_plus_with_its_changes_off_is_l2nas():
    evaluator = ToyEvaluator(noise_std=1.0)
    faithful = L2NAS(hidden_sizes=(16,), warmup=5).run(toy_env("l2nas", 30, evaluator), seed=3)
    plain = L2NASPlus(candidates=1, snap=False, novel=False, reevaluate=0, hidden_sizes=(16,), warmup=5)
    assert query_indices(plain.run(toy_env("l2nas-plus", 30, evaluator), seed=3)) == query_indices(faithful)


def test_l2nas_plus_reevaluates_the_leaders_at_the_end_of_its_budget():
    evaluator = ToyEvaluator(noise_std=3.0)  # noisy draws: a lucky one must be re-drawn to be judged
    budget, reevaluate, repeats = 60, 0.5, 4
    agent = L2NASPlus(hidden_sizes=(16,), warmup=5, reevaluate=reevaluate, repeats=repeats)
    result = agent.run(toy_env("l2nas-plus", budget, evaluator), seed=1)
    indices = query_indices(result)
    valid = [q["valid_acc"] for q in result.queries]
    first = budget - round(reevaluate * budget)
    assert len(set(indices[:first])) == first  # exploring: every query new (novel)
    for position in range(first, budget):  # then each query re-draws the best mean seen fewer than 4 times
        counts = {i: indices[:position].count(i) for i in indices[:position]}
        seen = list(zip(indices[:position], valid[:position], strict=True))
        means = {i: np.mean([v for j, v in seen if j == i]) for i in counts}
        open_ = [i for i in counts if counts[i] < repeats]  # first-query order
        assert indices[position] == max(open_, key=lambda i: (means[i], -open_.index(i)))
    selected = result.selected()[0]["index"]
    assert indices.count(selected) == repeats  # the returned architecture's mean rests on 4 draws


def test_l2nas_plus_needs_a_nasgym_continuous_env():
    import gymnasium as gym

    with pytest.raises(ValueError, match="l2nas-plus.*needs a nasgym Continuous env"):
        L2NASPlus().run(gym.make("Pendulum-v1"), seed=0)


# --- bad arguments, bad envs -------------------------------------------------------------------
@pytest.mark.parametrize(
    "build, words",
    [
        (lambda: make_agent("rea", population_size=0), ["population_size", "integer >= 1", "0"]),
        (lambda: make_agent("rea", population_size=5, sample_size=6), ["sample_size", "1..5", "6"]),
        (lambda: make_agent("rea", sample_size=0), ["sample_size", "1..10"]),
        (lambda: make_agent("l2nas", tau=1.0), ["tau", "(0, 1)", "1.0"]),
        (lambda: make_agent("l2nas", tau=0), ["tau", "(0, 1)"]),
        (lambda: make_agent("l2nas", tau=-0.3), ["tau", "(0, 1)"]),
        (lambda: quantile_loss([1.0], tau=1.5), ["tau", "(0, 1)"]),
        (lambda: make_agent("reinforce", lr=-0.01), ["lr", "> 0", "-0.01"]),
        (lambda: make_agent("reinforce", momentum=1.0), ["momentum", "[0, 1)"]),
        (lambda: make_agent("reinforce-lstm", lr=-1e-3), ["lr", "> 0"]),
        (lambda: make_agent("reinforce-lstm", hidden_size=0), ["hidden_size", ">= 1"]),
        (lambda: make_agent("enas", temperature=0), ["temperature", "> 0", "0"]),
        (lambda: make_agent("enas", aggregate=0), ["aggregate", ">= 1"]),
        (lambda: make_agent("enas", baseline_decay=1.0), ["baseline_decay", "[0, 1)"]),
        (lambda: make_agent("rsps", candidates=0), ["candidates", ">= 1", "0"]),
        (lambda: make_agent("l2nas", actor_lr=-1.0), ["actor_lr", "> 0"]),
        (lambda: make_agent("l2nas", critic_lr=float("nan")), ["critic_lr", "> 0"]),
        (lambda: make_agent("l2nas", epsilon=2.0), ["epsilon", "[0, 1]"]),
        (lambda: make_agent("l2nas", batch_size=0), ["batch_size", ">= 1"]),
        (lambda: make_agent("l2nas", hidden_sizes=()), ["hidden_sizes"]),
        (lambda: make_agent("l2nas-plus", candidates=0), ["candidates", ">= 1", "0"]),
        (lambda: make_agent("l2nas-plus", snap="yes"), ["snap", "True or False", "'yes'"]),
        (lambda: make_agent("l2nas-plus", reevaluate=1.5), ["reevaluate", "1.5"]),
        (lambda: make_agent("l2nas-plus", repeats=1), ["repeats", ">= 2", "1"]),
        (lambda: make_agent("l2nas-plus", tau=1.0), ["tau", "(0, 1)"]),
        (lambda: make_agent("nope"), ["agent 'nope' is unknown", "'l2nas'", "'rea'", "'reinforce-lstm'"]),
    ],
)
def test_bad_agent_arguments_raise_a_clear_value_error(build, words):
    with pytest.raises(ValueError) as exc:
        build()
    for word in words:
        assert word in str(exc.value)


@pytest.mark.parametrize(
    "agent, wrong, accepted",
    [
        ("rea", "l2nas", "Global"),
        ("local", "reinforce-lstm", "Global"),
        ("reinforce", "l2nas", "Global"),
        ("reinforce-lstm", "rea", "Sequential"),
        ("l2nas", "rea", "Continuous"),
        ("l2nas-plus", "rea", "Continuous"),
    ],
)
def test_agent_on_an_unsupported_flavour_names_itself_and_its_flavours(agent, wrong, accepted):
    env = toy_env(wrong, 5)  # an env of another agent's flavour
    with pytest.raises(ValueError) as exc:
        make_agent(agent).run(env, seed=0)
    message = str(exc.value)
    assert f"agent {agent!r}" in message and accepted in message
    with pytest.raises(ValueError, match=accepted):
        make_agent(agent).search(env, seed=0)  # also when called without run()


def test_cli_rejects_an_agent_on_the_wrong_flavour_before_building_anything(capsys):
    argv = ["search", "--env", "NAS-Bench-201-Continuous-v0", "--agent", "rea"]
    with pytest.raises(SystemExit) as exc:
        main(argv, stdout=io.StringIO())
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "agent 'rea'" in err and "Global" in err


def test_cli_passes_agent_arguments_and_rejects_bad_ones(capsys):
    argv = ["search", "--env", "NAS-Bench-201-Global-v0", "--agent", "rea", "--agent-arg", "population_size=0"]
    with pytest.raises(SystemExit):
        main(argv, stdout=io.StringIO())
    assert "population_size must be an integer >= 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "env_id, agent, args",
    [
        ("NAS-Bench-201-Global-v0", "rea", ["--agent-arg", "population_size=5"]),
        ("NAS-Bench-201-Global-v0", "reinforce", []),
        ("NAS-Bench-201-Global-v0", "local", []),
        ("NAS-Bench-201-Sequential-v0", "reinforce-lstm", []),
        ("NAS-Bench-201-Sequential-v0", "mcts", ["--agent-arg", "cp=0.2"]),
        ("NAS-Bench-201-Global-v0", "lanas", ["--agent-arg", "sampler=hit-and-run"]),
        ("NAS-Bench-201-Continuous-v0", "l2nas", ["--agent-arg", "hidden_sizes=[32, 32]", "--agent-arg", "warmup=4"]),
    ],
)
def test_cli_runs_every_agent_on_the_real_tables(env_id, agent, args):
    import json

    stdout = io.StringIO()
    argv = ["search", "--env", env_id, "--agent", agent, "--budget", "12", "--quiet", *args]
    assert main(argv, stdout=stdout) == 0
    summary = json.loads(stdout.getvalue())
    assert summary["agent"] == agent and summary["n_queries"] == 12


# --- every registered env id each agent claims ----------------------------------------------------
REGISTERED_BUDGET = 25


def check_registered_env(agent: str, row) -> None:
    """``agent`` searches the registered id of ``row`` (a row of ``ENV_TABLE``) where it claims it (its
    flavours and ``unsupported_reason``), the same seed giving the same run; elsewhere it refuses the id
    before any query. Adapters (``optuna:<Sampler>``) run it over their names too."""
    env = make_registered_env(row, REGISTERED_BUDGET)
    searcher = make_agent(agent)
    if env_flavour(env) not in searcher.flavours:  # not claimed: refused by flavour, before any query
        with pytest.raises(ValueError, match=f"agent '{agent}' searches .* envs only"):
            searcher.run(env, seed=0)
        assert env.unwrapped.history.n_queries == 0
        return
    if searcher.unsupported_reason(env) is not None:  # a flavour it searches, a space it cannot drive
        with pytest.raises(ValueError, match=f"agent '{agent}' cannot search {row.id}: "):
            searcher.run(env, seed=0)
        assert env.unwrapped.history.n_queries == 0
        return
    result = searcher.run(env, seed=0)
    space = env.unwrapped.search_space
    assert len(result.queries) == REGISTERED_BUDGET
    assert all(0 <= q["index"] < space.size and q["arch"] == space.arch_string(q["index"]) for q in result.queries)
    again = make_agent(agent).run(make_registered_env(row, REGISTERED_BUDGET), seed=0)
    assert query_indices(again) == query_indices(result)  # same seed, same run (torch agents too)
    assert [q["valid_acc"] for q in again.queries] == [q["valid_acc"] for q in result.queries]


@pytest.mark.parametrize("row", ENV_TABLE, ids=lambda row: row.id)
@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_agent_searches_every_registered_env_it_claims_and_replays_its_seed(agent, row):
    check_registered_env(agent, row)


# --- the committed NAS-Bench-201 grid still reproduces ---------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(
    "agent, env_id",
    [
        ("random", "NAS-Bench-201-Continuous-v0"),
        ("rea", "NAS-Bench-201-Global-v0"),
        ("local", "NAS-Bench-201-Global-v0"),
        ("reinforce", "NAS-Bench-201-Global-v0"),
        ("reinforce-lstm", "NAS-Bench-201-Sequential-v0"),
        ("l2nas", "NAS-Bench-201-Continuous-v0"),
        ("l2nas-plus", "NAS-Bench-201-Continuous-v0"),
    ],
)
def test_a_committed_nb201_run_replays_exactly(agent, env_id):
    """Seed 0 on cifar10 at 500 queries gives the committed row of ``benchmarks/results/nb201/runs.csv``
    again: the same selected architecture, first found at the same query, with the same observed mean
    and simulated time (the exact rng draws of the agent and of the env's seed noise). The torch agents
    replay on the CPUs the grid was run on; another CPU may change their query sequence."""
    committed = committed_nb201_run(agent, env_id, "cifar10", 500, 0)
    summary = make_agent(agent).run(gym.make(env_id, dataset="cifar10", budget=500), seed=0).summary()
    assert summary["best_arch"] == committed["best_arch"]
    assert summary["queries_to_best"] == int(committed["queries_to_best"])
    assert summary["best_valid_acc"] == float(committed["best_valid_acc_observed"])
    assert summary["sim_time"] == float(committed["sim_time"])
