"""Property-based tests: bad input anywhere gets a clear error, never a crash or a bad reward.

Over every registered env id (the registry's ``test_kwargs`` keep each fast; a new id is fuzzed
the moment it is registered), every keyword ``gym.make`` takes and the actions: the only
exceptions allowed are ``ValueError`` / ``TypeError`` whose message names the argument, an action
the env accepts is one it can take without converting or clipping it, and every reward is a
finite number. The ``nasgym search`` command answers any flag with one JSON line, or with one
line on stderr and exit status 2.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import json
import math
import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.cli import main
from nasgym.env_args import env_parameters
from nasgym.envs_registry import ENV_IDS, ENV_TABLE
from nasgym.evaluators.live import LiveEvaluator
from nasgym.evaluators.rl import DQNEvaluator
from nasgym.training.config import TrainConfig
from nasgym.training.dqn import DQNConfig

TEST_KWARGS = {row.id: row.test_kwargs for row in ENV_TABLE}
#: few examples per env id and test: there are many ids, and the whole file stays well under a minute
FUZZ = settings(
    max_examples=12,
    deadline=None,
    database=None,  # no .hypothesis folder in the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
ids = pytest.mark.parametrize("env_id", ENV_IDS)
#: Gymnasium's make adds this (and the kwargs, which name every keyword) to a TypeError's message
_GYM_SUFFIX = " was raised from the environment creator"


# --- values: what a careless caller passes -----------------------------------------------------
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=6),
    st.binary(max_size=3),
    st.complex_numbers(max_magnitude=10),
    st.sampled_from([np.int64(-1), np.float32("nan"), np.array([1, 2]), np.array("x")]),
)
_VALUES = st.one_of(
    _SCALARS,
    st.lists(_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=3), _SCALARS, max_size=2),
    st.builds(object),
)


def _constant_reward(value):
    return lambda metrics: value


def values_for(parameter: inspect.Parameter) -> st.SearchStrategy:
    """Garbage for one keyword; no strings for paths (a random string is a folder it would create)."""
    annotation = str(parameter.annotation)
    if "Path" in annotation:
        return _VALUES.filter(lambda value: not isinstance(value, str))
    if parameter.name == "reward":  # callables too, answering anything
        return st.one_of(_VALUES, st.builds(_constant_reward, _SCALARS))
    if parameter.name == "render_mode":  # gym.make itself reads it as a string before the env sees it,
        # and formats an unknown one into a warning with % (a '%' in it is a TypeError of Gymnasium's logger)
        return st.one_of(st.none(), st.text(max_size=12).filter(lambda mode: "%" not in mode))
    return _VALUES


def assert_names(exc: BaseException, name: str) -> None:
    """The exception is a ValueError or TypeError whose own message names ``name``."""
    assert isinstance(exc, (ValueError, TypeError)), f"{type(exc).__name__}: {exc}"
    message = str(exc).split(_GYM_SUFFIX)[0]
    assert re.search(rf"\b{re.escape(name)}\b", message), f"the error does not name {name!r}: {message}"


@contextlib.contextmanager
def only_errors_naming(name: str):
    """Let a ValueError/TypeError naming ``name`` end the block; any other exception fails the test."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 (what it is, is the point of the test)
        assert_names(exc, name)


@functools.cache
def absent_data(env_id: str, live: bool = False) -> str | None:
    """Why ``env_id`` cannot be made here with its test kwargs (``live``: with its own defaults, which
    train; FFN's files are the user's) because its data or package is absent, or None."""
    try:
        gym.make(env_id, **({} if live else TEST_KWARGS[env_id])).close()
    except (FileNotFoundError, ImportError) as exc:
        return f"{env_id}: {type(exc).__name__}: {exc}"
    return None


@functools.cache
def present_ids() -> list[str]:
    return [env_id for env_id in ENV_IDS if absent_data(env_id) is None]


def skip_if_absent(env_id: str, live: bool = False) -> None:
    reason = absent_data(env_id, live)
    if reason:
        pytest.skip(f"its data is absent here: {reason}")


# --- actions -----------------------------------------------------------------------------------
def valid_action(env: gym.Env, seed: int):
    """An action the env must take: one the action space holds, within the mask where there is one."""
    space = env.action_space
    space.seed(seed)
    masks = getattr(env.unwrapped, "action_masks", None)
    if masks is not None and isinstance(space, spaces.Discrete):
        return space.sample(mask=masks().astype(np.int8))
    return space.sample()


def takes_without_conversion(env: gym.Env, action) -> bool:
    """Whether ``action`` means one action of the env's space as it is: numbers of the right kind,
    shape and range (a Box takes what its float32 dtype holds; a discrete space integers only)."""
    space = env.action_space
    try:
        values = np.asarray(action)
    except ValueError:  # ragged
        return False
    if isinstance(space, spaces.Box):
        if values.dtype.kind not in "biuf" or values.shape != space.shape:
            return False
        with np.errstate(over="ignore"):
            values = values.astype(space.dtype)
        return bool(np.isfinite(values).all() and (values >= space.low).all() and (values <= space.high).all())
    if values.dtype.kind not in "iu" or isinstance(action, (bool, np.bool_)):
        return False
    if isinstance(space, spaces.Discrete):  # one integer, also as a 1-element array
        if values.shape not in ((), (1,)):
            return False
        masks = getattr(env.unwrapped, "action_masks", None)
        choice = int(values.reshape(()))
        valid = masks() if masks is not None else np.ones(space.n, bool)
        return 0 <= choice - int(space.start) < space.n and bool(valid[choice - int(space.start)])
    if isinstance(space, spaces.MultiDiscrete):
        if values.shape != space.shape:
            return False
        return bool(((values >= space.start) & (values < space.start + space.nvec)).all())
    raise NotImplementedError(f"no action fuzzing for {type(space).__name__} yet")


def action_strategy(env: gym.Env) -> st.SearchStrategy:
    """Valid actions, and near misses of them: one value pushed out of range or made NaN, another
    dtype, another shape, strings, None."""
    seeds = st.integers(0, 2**32 - 1)
    valid = seeds.map(lambda seed: valid_action(env, seed))

    def spoil(action, how: str, value):
        values = np.array(action, copy=True)
        if how == "value" and values.size:
            values = values.astype(np.float64)
            values.reshape(-1)[0] = value
            return values
        if how == "dtype":
            return values.astype(value)
        if how == "shape":
            return np.append(values, values.reshape(-1)[:1]) if value else values.reshape(1, -1)
        if how == "list":
            return values.tolist()
        return value

    odd = st.sampled_from([math.nan, math.inf, -math.inf, -1.5, 1.0000001, 2.0, -1, 0.5, 1e300, 2**40])
    spoilt = st.one_of(
        st.tuples(valid, st.just("value"), odd),
        st.tuples(valid, st.just("dtype"), st.sampled_from([np.float64, np.float32, np.int64, bool, str, object])),
        st.tuples(valid, st.just("shape"), st.booleans()),
        st.tuples(valid, st.just("list"), st.none()),
        st.tuples(valid, st.just("replace"), _VALUES),
    ).map(lambda args: spoil(*args))
    return st.one_of(valid, spoilt)


def finite_reward(reward) -> None:
    assert isinstance(reward, float) and math.isfinite(reward), f"reward {reward!r}"


def run_a_little(env: gym.Env, name: str, steps: int = 8) -> None:
    """Reset and take valid steps; each reward must be finite, any error must name ``name``."""
    with only_errors_naming(name):
        env.reset(seed=0)
        for step in range(steps):
            _, reward, terminated, truncated, _ = env.step(valid_action(env, step))
            finite_reward(reward)
            if terminated or truncated:
                env.reset()
    env.close()


# --- the tests ---------------------------------------------------------------------------------
def make_or_named_error(env_id: str, name: str, **kwargs) -> gym.Env | None:
    """``gym.make(env_id, **kwargs)``, or None once its error is checked to name ``name``."""
    try:
        return gym.make(env_id, **kwargs)
    except Exception as exc:  # noqa: BLE001 (what it is, is the point of the test)
        assert_names(exc, name)
        return None


@ids
@FUZZ
@given(data=st.data())
def test_any_value_of_any_keyword_works_or_is_named(env_id, data):
    skip_if_absent(env_id)
    parameters = env_parameters(env_id)
    name = data.draw(st.sampled_from(sorted(parameters)), label="keyword")
    env = make_or_named_error(env_id, name, **{**TEST_KWARGS[env_id], name: data.draw(values_for(parameters[name]))})
    if env is None:
        return
    if isinstance(getattr(env.unwrapped, "evaluator", None), LiveEvaluator):  # asked for training: no steps
        env.close()
        return
    run_a_little(env, name)


LIVE_IDS = [env_id for env_id in ENV_IDS if env_parameters(env_id)["evaluator"].default == "live"]
#: the live evaluator and training config of spaces that do not train with TrainConfig
_LIVE_OWNERS = {"dqn-arch": (DQNEvaluator, DQNConfig)}


def live_parameters(env_id: str) -> dict[str, inspect.Parameter]:
    """The keywords an env with the live evaluator passes on to it (its own and the training config's)."""
    owners = _LIVE_OWNERS.get(gym.spec(env_id).kwargs["space"], (LiveEvaluator, TrainConfig))
    return {
        name: parameter
        for owner in owners
        for name, parameter in inspect.signature(owner).parameters.items()
        if name not in ("space", "dataset", "cache_dir", "train_kwargs", "dqn_kwargs")
    }


@pytest.mark.parametrize("env_id", LIVE_IDS)
@FUZZ
@given(data=st.data())
def test_any_value_of_any_live_keyword_is_taken_or_named_before_training(env_id, data):
    """Checked when the env is made (a bad one used to fail at the first query, after training began)."""
    skip_if_absent(env_id, live=True)
    parameters = live_parameters(env_id)
    name = data.draw(st.sampled_from(sorted(parameters)), label="keyword")
    env = make_or_named_error(env_id, name, **{name: data.draw(values_for(parameters[name]))})
    if env is not None:  # nothing trains before the first step
        env.close()


@ids
@FUZZ
@given(data=st.data())
def test_any_action_is_taken_as_it_is_or_refused_by_name(env_id, data):
    skip_if_absent(env_id)
    env = gym.make(env_id, **TEST_KWARGS[env_id], budget=5)
    env.reset(seed=data.draw(st.integers(0, 2**32 - 1), label="seed"))
    for _ in range(6):
        action = data.draw(action_strategy(env), label="action")
        expected = takes_without_conversion(env, action)
        try:
            _, reward, terminated, truncated, _ = env.step(action)
        except Exception as exc:  # noqa: BLE001
            assert not expected, f"{action!r} is a valid action, refused: {exc!r}"
            assert_names(exc, "action")
            continue
        assert expected, f"{action!r} was taken, converted or clipped into some other action"
        finite_reward(reward)
        if terminated or truncated:
            env.reset()
    env.close()


# --- the command line --------------------------------------------------------------------------
_JSON_TEXT = st.one_of(
    st.integers(-3, 3).map(str),
    st.floats().map(lambda x: json.dumps(x)),
    st.sampled_from(["null", "true", "[]", "[1, 2]", "{}", '"x"', "", "1e999"]),
    st.text(max_size=6),
)


@st.composite
def search_flags(draw, folder) -> list[str]:
    """One or two flags of `nasgym search`, each with an odd value."""
    env_id = draw(st.sampled_from(present_ids()))  # (absent ones skip in the env tests above)
    parameters = env_parameters(env_id)
    argv = ["search", "--env", env_id, "--quiet"]
    argv += [f"--env-arg={key}={json.dumps(value)}" for key, value in TEST_KWARGS[env_id].items()]
    budget = "2"
    for _ in range(draw(st.integers(1, 2))):
        flag = draw(st.sampled_from(["--budget", "--seed", "--dataset", "--noise", "--env-arg", "--agent", "--out"]))
        if flag == "--budget":  # small or wrong: a large budget is a long search, not an error
            budget = draw(st.one_of(st.integers(-2, 3).map(str), st.text(max_size=4)))
            continue
        if flag == "--env-arg":
            key = draw(st.one_of(st.sampled_from(sorted(set(parameters) - {"budget"})), st.text(max_size=4)))
            text = draw(_JSON_TEXT)
            if key in parameters and "Path" in str(parameters[key].annotation) and not text.startswith(("[", "{")):
                text = "[]"  # no strings, numbers or null as paths: a random string is a folder it would create
            value = f"{key}={text}"
        elif flag == "--out":
            value = str(draw(st.sampled_from([folder, folder / "log.jsonl", folder / "no" / "q.jsonl", folder])))
        else:
            value = draw(st.one_of(st.text(max_size=6), st.integers().map(str)))
        argv.append(f"{flag}={value}")
    return [*argv, f"--budget={budget}"]


@FUZZ
@given(data=st.data())
def test_search_answers_any_flags_with_a_json_line_or_one_error_line(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz-cli")
    (folder / "log.jsonl").write_text("an earlier log\n")
    argv = data.draw(search_flags(folder), label="argv")
    env_id = argv[2]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            code = main(argv, stdout=stdout)
        except SystemExit as exc:
            code = exc.code
    if code == 0:
        lines = stdout.getvalue().splitlines()
        assert len(lines) == 1 and json.loads(lines[0])["env"] == env_id, stdout.getvalue()
    else:
        assert code == 2, f"exit status {code}: {stderr.getvalue()}"
        err = stderr.getvalue()
        assert err.endswith("\n") and err.count("\n") == 1 and "error: " in err, err
    assert (folder / "log.jsonl").read_text() == "an earlier log\n"  # never overwritten


# --- the raw errors this file was written against, one example each ----------------------------
def test_the_errors_once_raw_now_name_their_argument(tmp_path):
    with pytest.raises(TypeError, match="dataset must be a string, got None"):
        gym.make("NAS-Bench-201-Global-v0", dataset=None)
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        gym.make("ConvNet-Global-v0", workers=0)
    for returned, error in (("0.9", TypeError), (math.nan, ValueError), (math.inf, ValueError)):
        env = gym.make("NAS-Bench-201-Global-v0", reward=_constant_reward(returned))
        env.reset(seed=0)
        with pytest.raises(error, match="reward callable"):
            env.step(env.action_space.sample())


def test_a_corrupt_pretrained_file_gets_our_error_and_no_unsafe_advice(tmp_path):
    torch = pytest.importorskip("torch")
    from nasgym.agents import L2NAS

    class Payload:  # what a malicious file would run if loaded with weights_only=False
        def __reduce__(self):
            return (print, ("code ran",))

    garbage, pickled = tmp_path / "garbage.pt", tmp_path / "pickled.pt"
    garbage.write_bytes(b"not a torch file")
    torch.save({"format": "nasgym-l2nas-v1", "actor": Payload()}, pickled)
    for path in (garbage, pickled):
        with pytest.raises(ValueError) as exc:
            L2NAS(pretrained=path)
        assert str(path) in str(exc.value) and "weights_only" not in str(exc.value)
