"""Parameter and FLOP counts of a torch network, counted the way NAS-Bench-201 counts them."""

from __future__ import annotations

import torch
from torch import nn


def count_params(model: nn.Module) -> float:
    """Parameters in millions (every parameter tensor, BatchNorm affine weights included)."""
    return sum(p.numel() for p in model.parameters()) / 1e6


def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Multiply-adds of one forward pass, in millions, of conv and linear layers (bias adds included).

    This is NAS-Bench-201's counter: each output element of a conv costs
    ``k_h * k_w * c_in / groups`` multiply-adds plus one for a bias, each output of a linear layer
    ``in_features`` plus one for a bias; pooling, BatchNorm and activations are free.

    :param model: the network; it runs one forward pass in eval mode, without gradients.
    :param input_shape: shape of one input, batch dimension included (e.g. ``(1, 3, 32, 32)``).
    """
    total = 0

    def conv_hook(module: nn.Conv2d, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        nonlocal total
        kernel = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        total += output.numel() * (kernel + (module.bias is not None))

    def linear_hook(module: nn.Linear, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * (module.in_features + (module.bias is not None))

    handles = [
        m.register_forward_hook(conv_hook if isinstance(m, nn.Conv2d) else linear_hook)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    was_training = model.training
    model.eval()
    try:
        parameter = next(model.parameters())
        with torch.no_grad():
            model(torch.zeros(input_shape, device=parameter.device, dtype=parameter.dtype))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return total / 1e6
