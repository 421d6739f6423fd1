"""The torch networks: NAS-Bench-201's exact parameter and FLOP counts, the ConvNet, and no torch at import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nasgym.models import build_network  # noqa: E402
from nasgym.models.profile import count_flops, count_params  # noqa: E402
from nasgym.spaces import ConvNetSpace, NB201Space  # noqa: E402
from nasgym.tables.nb201 import flops_and_params  # noqa: E402

#: dataset -> (classes, input shape of one image)
NB201_DATASETS = {"cifar10": (10, (3, 32, 32)), "cifar100": (100, (3, 32, 32)), "ImageNet16-120": (120, (3, 16, 16))}


@pytest.fixture(autouse=True)
def one_thread():
    # small convs on a shared 2-core machine: one thread is several times faster than two
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_nb201_counts_equal_the_official_formulas_for_random_architectures():
    space = NB201Space()
    rng = np.random.default_rng(0)
    indices = rng.choice(space.size, 240, replace=False)
    datasets = list(NB201_DATASETS)
    for n, index in enumerate(indices):
        choices = space.choices_of(index)
        dataset = datasets[n % 3]
        classes, shape = NB201_DATASETS[dataset]
        model = build_network("nb201", choices, classes)
        flops, params = flops_and_params(choices, dataset)
        arch = space.arch_string(int(index))
        assert count_params(model) == pytest.approx(params, abs=1e-9), (arch, dataset)
        assert count_flops(model, (1, *shape)) == pytest.approx(flops, abs=1e-9), (arch, dataset)


def test_nb201_extreme_cells_and_structure():
    space = NB201Space()
    # all-none: a constant network; all 3x3 convs: the largest; both match the formulas
    for choices in ([0] * 6, [3] * 6, [1] * 6, [4] * 6, [2] * 6):
        model = build_network("nb201", np.array(choices), 10)
        flops, params = flops_and_params(np.array(choices), "cifar10")
        assert (count_params(model), count_flops(model, (1, 3, 32, 32))) == pytest.approx((params, flops), abs=1e-9)
    model = build_network(
        "nb201",
        space.from_string("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|"),
        10,
    )
    cells = [m for m in model.cells if type(m).__name__ == "NB201Cell"]
    reductions = [m for m in model.cells if type(m).__name__ == "ResidualReduction"]
    assert len(cells) == 15 and len(reductions) == 2
    first = cells[0]
    assert set(first.edges) == {"0", "2", "3", "4", "5"}  # edge 1 is "none": no module
    conv = first.edges["0"]
    assert [type(m).__name__ for m in conv] == ["ReLU", "Conv2d", "BatchNorm2d"]
    assert conv[2].affine and conv[2].track_running_stats and conv[1].bias is None
    assert type(first.edges["2"]).__name__ == "Identity"
    assert type(first.edges["3"]).__name__ == "AvgPool2d" and not first.edges["3"].count_include_pad
    assert [type(m).__name__ for m in model.lastact] == ["BatchNorm2d", "ReLU"]
    assert model.classifier.in_features == 64
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_nb201_all_none_cell_outputs_zero_features():
    model = build_network("nb201", np.zeros(6, dtype=np.int64), 10).eval()
    with torch.no_grad():
        out = model(torch.randn(4, 3, 16, 16))
    # every cell outputs zero, so the logits are the classifier's bias for every image
    torch.testing.assert_close(out, model.classifier(model.pool(model.lastact(torch.zeros(4, 64, 4, 4))).flatten(1)))


def test_networks_take_digits_and_imagenet16_inputs():
    nb201 = build_network("nb201", np.array([3, 3, 1, 2, 4, 0]), 10, in_channels=1)
    assert nb201(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert nb201.stem[0].in_channels == 1
    convnet = ConvNetSpace()
    net = build_network("convnet", convnet.from_string("k5c64-k3c32"), 120)
    assert net(torch.zeros(3, 3, 16, 16)).shape == (3, 120)


def test_convnet_counts():
    space = ConvNetSpace()
    for index in (0, 5, 100, 1363):
        layers = space.layers(space.choices_of(index))
        model = build_network("convnet", space.choices_of(index), 10, in_channels=1)
        params, flops, c_in = 0, 0, 1
        for kernel, channels in layers:
            params += kernel * kernel * c_in * channels + 2 * channels  # bias-free conv + BN
            flops += 8 * 8 * kernel * kernel * c_in * channels  # stride 1, "same" padding on 8x8
            c_in = channels
        params += c_in * 10 + 10
        flops += c_in * 10 + 10
        assert count_params(model) == pytest.approx(params / 1e6, abs=1e-12)
        assert count_flops(model, (1, 1, 8, 8)) == pytest.approx(flops / 1e6, abs=1e-12)


def test_unknown_space_has_no_network():
    with pytest.raises(ValueError, match="space 'nope' has no torch network; accepted"):
        build_network("nope", np.zeros(1), 10)


def test_importing_nasgym_and_making_a_tabular_env_imports_no_torch():
    code = (
        "import sys, gymnasium as gym, nasgym, nasgym.envs, nasgym.evaluators, nasgym.training, nasgym.models, "
        "nasgym.evaluators.live, nasgym.spaces.convnet\n"
        "gym.make('NAS-Bench-201-Global-v0', budget=1)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
