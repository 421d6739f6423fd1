"""The NAS-Bench-301 surrogate evaluator: its input encoding checked against YAHPO Gym's files,
the output's order and scale, pinned predictions, the shipped model, imports, and clear errors."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import math
import pickle
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import nasgym  # noqa: F401  (registers the env ids)
from nasgym.evaluators.surrogate import (
    NB301_EPOCHS,
    OP_CODES,
    NB301SurrogateEvaluator,
    _inputs,
    check_model,
    import_model,
    imported_model_path,
    packaged_model_path,
)
from nasgym.spaces import get_space

REPO = Path(__file__).resolve().parent.parent
DARTS_V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)
#: the surrogate's raw output for DARTS_V2 (validation accuracy, cross-entropy, runtime, 4th column)
#: at epochs 1, 50 and 98, as onnxruntime 1.32 computed them on this project's CPU
PINNED = {
    1: [0.6141817569732666, 1.0735105276107788, 197.02337646484375, 50.38606643676758],
    50: [0.8857064247131348, 0.3585854768753052, 2283.803955078125, 49.18755340576172],
    98: [0.9291009902954102, 0.2607042193412781, 4560.05029296875, 51.73523712158203],
}
PREFIX = "NetworkSelectorDatasetInfo_COLON_darts_COLON_"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime is not installed (pip install 'nasgym[nb301]')"
)


@pytest.fixture(scope="module")
def evaluator() -> NB301SurrogateEvaluator:
    return NB301SurrogateEvaluator()


@pytest.fixture(scope="module")
def nb301_files(shared_data) -> Path:
    folder = shared_data / "nb301"
    if not (folder / "model_v2.onnx").is_file():
        pytest.skip(f"{folder}/model_v2.onnx not found")
    return folder


# --- the encoding and the shipped files, against YAHPO Gym's ---------------------------------------
def test_encoding_is_yahpos(nb301_files):
    encoding = json.loads((nb301_files / "encoding_v2.json").read_text())
    config = json.loads((nb301_files / "config_space_v2.json").read_text())
    for cell in ("normal", "reduce"):
        for edge in range(14):
            assert encoding[f"{PREFIX}edge_{cell}_{edge}"] == {"#na#": 0, **OP_CODES}
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from package_nb301 import check_encoding
    finally:
        sys.path.remove(str(REPO / "scripts"))
    check_encoding(config, encoding)  # levels, codes and which pair activates which edge


def test_inputs_of_a_known_cell(evaluator, nb301_files):
    """x_cat of DARTS_V2 written out by hand from encoding_v2.json, in YAHPO's column order."""
    encoding = json.loads((nb301_files / "encoding_v2.json").read_text())
    space = evaluator.space
    x = _inputs(space, space.from_string(DARTS_V2)[None], 98)
    assert x["x_cat"].dtype == np.int32 and x["x_cont"].dtype == np.float32 and x["x_cont"].tolist() == [[98.0]]
    normal = {0: "sep_conv_3x3", 1: "sep_conv_3x3", 2: "sep_conv_3x3", 3: "sep_conv_3x3", 5: "skip_connect",
              6: "sep_conv_3x3", 9: "skip_connect", 11: "dil_conv_3x3"}  # fmt: skip
    reduce = {0: "max_pool_3x3", 1: "max_pool_3x3", 3: "max_pool_3x3", 4: "skip_connect", 5: "max_pool_3x3",
              7: "skip_connect", 10: "max_pool_3x3", 11: "skip_connect"}  # fmt: skip
    expected = []
    for cell, ops in (("normal", normal), ("reduce", reduce)):
        expected += [encoding[f"{PREFIX}edge_{cell}_{e}"][ops.get(e, "#na#")] for e in range(14)]
    pairs = {"normal": ("0_1", "0_1", "0_2"), "reduce": ("1_2", "0_2", "1_2")}  # nodes 3, 4, 5
    for cell in ("normal", "reduce"):
        expected += [
            encoding[f"{PREFIX}inputs_node_{cell}_{n}"][p] for n, p in zip((3, 4, 5), pairs[cell], strict=True)
        ]
    assert x["x_cat"][0].tolist() == expected


def test_shipped_model_is_yahpos_file_with_license_and_provenance(nb301_files):
    shipped = packaged_model_path()
    assert shipped.read_bytes() == (nb301_files / "model_v2.onnx").read_bytes()
    assert (shipped.parent / "LICENSE").read_text() == (nb301_files / "LICENSE-2.0.txt").read_text()
    provenance = (shipped.parent / "PROVENANCE.md").read_text()
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() in provenance
    assert "Apache-2.0" in provenance and "scripts/package_nb301.py" in provenance


# --- the output: order, scale, pinned values -----------------------------------------------------
@pytest.mark.parametrize("epoch", sorted(PINNED))
def test_pinned_predictions(epoch):
    evaluator = NB301SurrogateEvaluator(fidelity=epoch)
    output = evaluator.predict(evaluator.space.from_string(DARTS_V2)[None])
    np.testing.assert_allclose(output[0], PINNED[epoch], rtol=1e-4)
    metrics = evaluator.evaluate_one(int(evaluator.space.index_of(evaluator.space.from_string(DARTS_V2))), None)
    assert metrics["valid_acc"] == pytest.approx(100 * PINNED[epoch][0], rel=1e-4)  # percent
    assert metrics["cost"] == pytest.approx(PINNED[epoch][2], rel=1e-4)  # seconds


def test_output_order_and_scale_over_epochs():
    """Columns as YAHPO's parameter set lists its codomain: validation accuracy (a fraction that
    grows with training), validation cross-entropy (falls), runtime (grows with the epochs)."""
    space = get_space("darts")
    choices = space.sample(np.random.default_rng(0), 200)
    outputs = {epoch: NB301SurrogateEvaluator(fidelity=epoch).predict(choices) for epoch in (1, 10, 50, 98)}
    for epoch, output in outputs.items():
        assert output.shape == (200, 4) and np.isfinite(output).all()
        assert ((0 < output[:, 0]) & (output[:, 0] < 1)).all(), epoch
    for early, late in ((1, 10), (10, 50), (50, 98)):
        assert outputs[late][:, 0].mean() > outputs[early][:, 0].mean()
        assert outputs[late][:, 1].mean() < outputs[early][:, 1].mean()
        assert (outputs[late][:, 2] > outputs[early][:, 2]).mean() > 0.95
    # full training of a DARTS cell on CIFAR-10 reaches about 90-95 % validation accuracy
    assert 88 < 100 * outputs[98][:, 0].mean() < 96
    # runtime per epoch of the order of a minute (GPU seconds), not hours or milliseconds
    assert 10 < np.median(outputs[98][:, 2]) / 98 < 300


def test_batched_equals_one_at_a_time(evaluator):
    space = evaluator.space
    indices = space.index_of(space.sample(np.random.default_rng(1), 50))
    batch = evaluator.evaluate(indices, np.random.default_rng(0))
    assert set(batch) == {"valid_acc", "test_acc", "flops", "params", "latency", "cost"}
    for k, index in enumerate(indices.tolist()):
        one = evaluator.evaluate_one(index, np.random.default_rng(0))
        assert one["valid_acc"] == pytest.approx(batch["valid_acc"][k], rel=1e-5)
        assert one["cost"] == pytest.approx(batch["cost"][k], rel=1e-5)
    assert batch["valid_acc"].shape == (50,)
    assert evaluator.evaluate(indices.reshape(5, 10), None)["cost"].shape == (5, 10)


def test_what_the_surrogate_lacks_is_nan(evaluator):
    metrics = evaluator.evaluate_one(12345, np.random.default_rng(0))
    assert all(math.isnan(metrics[k]) for k in ("test_acc", "flops", "params", "latency"))
    assert math.isnan(evaluator.best_valid_acc)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    evaluator.evaluate(np.arange(3), rng)
    assert rng.bit_generator.state == state  # deterministic: draws nothing


def test_pickles_as_its_recipe(evaluator):
    clone = pickle.loads(pickle.dumps(NB301SurrogateEvaluator(fidelity=50)))
    assert clone.fidelity == 50
    np.testing.assert_equal(clone.evaluate_one(7, None), NB301SurrogateEvaluator(fidelity=50).evaluate_one(7, None))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"fidelity": 0}, r"fidelity.*1\.\.98"),
        ({"fidelity": 99}, r"fidelity.*1\.\.98"),
        ({"fidelity": 50.0}, r"fidelity.*1\.\.98"),
        ({"dataset": "cifar100"}, r"dataset 'cifar100'.*\['cifar10'\]"),
        ({"space": "nb201"}, r"space 'nb201'.*\['darts'\]"),
        ({"noise": "gaussian"}, r"noise 'gaussian'.*seed.*mean"),
        ({"threads": 0}, r"threads.*>= 1"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NB301SurrogateEvaluator(**kwargs)


def test_env_defaults_and_fidelity():
    env = gym.make("NAS-Bench-301-Global-v0").unwrapped
    assert isinstance(env.evaluator, NB301SurrogateEvaluator) and env.evaluator.fidelity == NB301_EPOCHS == 98
    assert gym.make("NAS-Bench-301-Global-v0", fidelity=12).unwrapped.evaluator.fidelity == 12
    with pytest.raises(ValueError, match=r"fidelity.*1\.\.98"):
        gym.make("NAS-Bench-301-Global-v0", fidelity=200)


# --- replacing the model, and running without onnxruntime ---------------------------------------------
def test_import_replaces_the_packaged_model(tmp_path):
    assert NB301SurrogateEvaluator(cache_dir=tmp_path).model_path == packaged_model_path()
    target = import_model(packaged_model_path(), cache_dir=tmp_path)
    assert target == imported_model_path(tmp_path) and target.is_file()
    evaluator = NB301SurrogateEvaluator(cache_dir=tmp_path)
    assert evaluator.model_path == target
    np.testing.assert_equal(evaluator.evaluate_one(99, None), NB301SurrogateEvaluator().evaluate_one(99, None))


def test_import_refuses_what_is_not_the_surrogate(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a readable ONNX model"):
        import_model(junk, cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="not a file"):
        import_model(tmp_path / "missing.onnx", cache_dir=tmp_path)
    assert not imported_model_path(tmp_path).exists()
    check_model(packaged_model_path())  # the real one passes


def test_data_import_dispatches_onnx_files(tmp_path):
    from nasgym.tables import TableStore, import_paths

    results = import_paths([packaged_model_path()], TableStore(tmp_path))
    assert imported_model_path(tmp_path).is_file()
    assert "NAS-Bench-301" in " ".join(results[0].notes)


def test_data_import_of_a_model_says_what_it_became_and_where(tmp_path, monkeypatch):
    from nasgym.cli import main
    from nasgym.tables import CACHE_ENV_VAR

    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path))
    stdout = io.StringIO()
    assert main(["data", "import", str(packaged_model_path())], stdout=stdout) == 0
    assert stdout.getvalue() == (
        f"imported {packaged_model_path()}: now the NAS-Bench-301 surrogate of the NAS-Bench-301-* envs, "
        f"copied to {imported_model_path(tmp_path)}\n"
    )


def test_without_onnxruntime_the_error_names_the_extra():
    code = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        "import gymnasium as gym, nasgym\n"
        "try:\n    gym.make('NAS-Bench-301-Global-v0')\n"
        "except ModuleNotFoundError as error:\n    print(error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "onnxruntime" in out and "pip install 'nasgym[nb301]'" in out
