"""The official NATS-Bench API as an evaluator, and the size space's exact cost formulas, checked on
the official sample records (archs 0, 11 and 284 of each space)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.evaluators.natsbench_api import NATSBenchEvaluator
from nasgym.spaces import NATSSizeSpace, NB201Space
from nasgym.tables.nats_sss import flops_and_params

nats_bench = pytest.importorskip("nats_bench", reason="the official API is the `nats_bench` package (test extra)")

SAMPLE_ARCHS = (0, 11, 284)
#: nasgym dataset -> (validation run, test run) in NATS-Bench's names
RUNS = {"cifar10": ("cifar10-valid", "cifar10"), "cifar100": ("cifar100", "cifar100"),
        "ImageNet16-120": ("ImageNet16-120", "ImageNet16-120")}  # fmt: skip


def _api(shared_data, kind: str):
    folder = {"tss": "NATS-tss-v1_0-3ffb9-simple", "sss": "NATS-sss-v1_0-50262-simple"}[kind]
    path = shared_data / "natsbench-official-samples" / folder
    if not path.is_dir():
        pytest.skip(f"official sample directory {folder} missing")
    return nats_bench.create(str(path), kind, fast_mode=True, verbose=False)


@pytest.fixture(scope="module", params=["tss", "sss"])
def api(request, shared_data):
    return _api(shared_data, request.param)


def _canonical(evaluator: NATSBenchEvaluator, official: int, api) -> int:
    space = evaluator.space
    return int(space.index_of(space.from_string(api.arch(official))))


@pytest.mark.parametrize("dataset", list(RUNS))
@pytest.mark.parametrize("noise", ["seed", "mean"])
def test_env_answers_what_the_api_answers(api, dataset, noise):
    evaluator = NATSBenchEvaluator(api, dataset, noise=noise)
    flavour_env = gym.make(f"{'NAS-Bench-201' if api.search_space_name == 'topology' else 'NATS-Bench-SSS'}-Global-v0",
                           evaluator=evaluator, dataset=dataset)  # fmt: skip
    flavour_env.reset(seed=3)
    draws = np.random.Generator(np.random.PCG64(np.random.SeedSequence(3)))  # the env's generator, replayed
    valid_run, test_run = RUNS[dataset]
    for official in SAMPLE_ARCHS:
        index = _canonical(evaluator, official, api)
        *_, info = flavour_env.step(evaluator.space.choices_of(index))
        assert evaluator.official_index(index) == official
        seed: int | bool = False
        if noise == "seed":
            seeds = api.query_meta_info_by_index(official, hp=evaluator.hp).get_dataset_seeds(valid_run)
            seed = seeds[int(draws.random() * len(seeds))]
        expected = api.get_more_info(official, valid_run, hp=evaluator.hp, is_random=seed)
        assert info["valid_acc"] == expected["valid-accuracy"]
        assert info["cost"] == expected["train-all-time"]
        test = api.get_more_info(official, test_run, hp=evaluator.hp, is_random=False)["test-accuracy"]
        assert info["test_acc"] == pytest.approx(test, abs=1e-12)
        cost = api.get_cost_info(official, valid_run, hp=evaluator.hp)
        assert (info["flops"], info["params"]) == (pytest.approx(cost["flops"]), pytest.approx(cost["params"]))


def test_lower_fidelities_query_their_hp(shared_data):
    api = _api(shared_data, "sss")
    for fidelity, hp in ((1, "01"), (12, "12"), (None, "90")):
        evaluator = NATSBenchEvaluator(api, "cifar100", noise="mean", fidelity=fidelity)
        metrics = evaluator.evaluate(np.array([_canonical(evaluator, 11, api)]), np.random.default_rng(0))
        expected = api.get_more_info(11, "cifar100", hp=hp, is_random=False)["valid-accuracy"]
        assert metrics["valid_acc"][0] == pytest.approx(expected)


def test_size_space_formulas_equal_the_official_records(shared_data):
    api = _api(shared_data, "sss")
    space = NATSSizeSpace()
    for official in SAMPLE_ARCHS:
        assert space.arch_string(official) == api.arch(official)  # canonical index = official index
        for dataset, (valid_run, test_run) in RUNS.items():
            flops, params = flops_and_params(space.choices_of(official), dataset)
            for run in {valid_run, test_run}:
                cost = api.get_cost_info(official, run, hp="90")
                assert flops == pytest.approx(cost["flops"], abs=1e-9)
                assert params == pytest.approx(cost["params"], abs=1e-9)


def test_size_space_strings_and_formulas_vectorise():
    space = NATSSizeSpace()
    assert space.size == 8**5
    assert space.arch_string(1) == "8:8:8:8:16"
    assert space.to_string(space.from_string("64:8:40:16:24")) == "64:8:40:16:24"
    with pytest.raises(ValueError, match="8:16:24:32:40"):
        space.from_string("8:8:8:8:9")
    everything = space.enumerate()
    flops, params = flops_and_params(everything, "cifar10")
    assert flops.shape == params.shape == (space.size,)
    assert np.all(np.diff(params[:8]) > 0)  # widening the last layer always adds parameters
    with pytest.raises(ValueError, match="dataset"):
        flops_and_params(everything[:1], "mnist")


def test_bad_arguments_are_named(shared_data):
    api = _api(shared_data, "tss")
    with pytest.raises(TypeError, match="api"):
        NATSBenchEvaluator(object())
    with pytest.raises(ValueError, match="dataset"):
        NATSBenchEvaluator(api, "cifar10-valid")
    with pytest.raises(ValueError, match="noise"):
        NATSBenchEvaluator(api, noise="median")
    with pytest.raises(ValueError, match="fidelity"):
        NATSBenchEvaluator(api, fidelity=90)
    evaluator = NATSBenchEvaluator(api)
    assert evaluator.space.name == NB201Space().name
    assert np.isnan(evaluator.best_valid_acc)


def test_size_space_import_equals_the_api(shared_data, tmp_path):
    """`nasgym data import` of an official size-space directory stores what the API answers."""
    from nasgym.tables import TableStore, import_paths, load_table

    api = _api(shared_data, "sss")
    folder = shared_data / "natsbench-official-samples" / "NATS-sss-v1_0-50262-simple"
    (result,) = import_paths([folder], TableStore(tmp_path))
    assert result.space == "nats-sss"
    for dataset, (valid_run, test_run) in RUNS.items():
        table = load_table("nats-sss", dataset, tmp_path)
        for official in SAMPLE_ARCHS:  # canonical index = official index on this space
            for fidelity, hp in (("", "90"), ("_12", "12"), ("_01", "01")):
                seeds = api.query_meta_info_by_index(official, hp=hp).get_dataset_seeds(valid_run)
                expected = [api.get_more_info(official, valid_run, hp=hp, is_random=s)["valid-accuracy"] for s in seeds]
                stored = table.values(f"valid_acc{fidelity}")[official]
                assert stored[: len(seeds)].tolist() == pytest.approx(expected)
                test = api.get_more_info(official, test_run, hp=hp, is_random=False)["test-accuracy"]
                assert table.mean(f"test_acc{fidelity}")[official] == pytest.approx(test)
    # three records of 32,768 architectures: an env must refuse rather than serve NaN rewards
    with pytest.raises(ValueError, match="covers 3 of 32,768"):
        gym.make("NATS-Bench-SSS-Global-v0", cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"fidelity 200 is unknown for space 'nats-sss'; accepted: \[1, 12, 90\]"):
        gym.make("NATS-Bench-SSS-Global-v0", fidelity=200, cache_dir=tmp_path)


def test_size_space_without_data_names_the_archive(tmp_path):
    with pytest.raises(ValueError, match="NATS-sss-v1_0-50262-simple"):
        gym.make("NATS-Bench-SSS-Continuous-v0", cache_dir=tmp_path)
