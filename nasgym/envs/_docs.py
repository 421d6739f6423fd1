"""Docstring sections the three env flavours share (one text, so they never drift apart)."""

ARGUMENTS = """
    ## Arguments

    ```python
    gym.make("NAS-Bench-201-<Flavour>-v0", dataset="cifar10", budget=500, reward="valid_acc",
             noise="seed", top_k=10, evaluator="tabular", fidelity=200)
    ```

    * `dataset`: `"cifar10"` (the cifar10-valid split for validation), `"cifar100"` or `"ImageNet16-120"`.
    * `budget`: architectures queried per episode (>= 1); the step that makes the last query
      returns `truncated=True`.
    * `reward`: `"valid_acc"` (validation accuracy / 100), `"normalized"` (the L2NAS transfer reward
      `100 ** (acc / acc_max) / 100 - 1`, 0 at the dataset's best validation accuracy), `"mnasnet"`
      or `"abs"` (penalty rewards, see `reward_beta`), or a callable on the metrics dict. Test
      accuracy never enters the reward.
    * `noise`: `"seed"` draws one trained seed per query with the env's rng, as NATS-Bench does;
      `"mean"` uses the mean over seeds.
    * `top_k`: number of best architectures whose mean encoding forms the observation.
    * `evaluator`: `"tabular"` (benchmark table lookup), `"live"` (train each queried network for
      real, on cuda when there is one; `dataset` then is `"digits"`, `"cifar10"`, `"cifar100"` or
      `"ImageNet16-120"`, and further keywords go to `nasgym.evaluators.LiveEvaluator`: `epochs`,
      `batch_size`, `device`, `data_dir`, `workers`, ...), `"supernet"` (one NAS-Bench-201 network
      holding every architecture, with shared weights: a query trains them for `steps` SGD steps and
      scores the architecture under them; same datasets and devices as `"live"`, further keywords
      go to `nasgym.evaluators.SupernetEvaluator`: `steps`, `sampling`, `valid_size`, `batch_size`,
      ...; on `space="dqn-arch"` one Q-network of the widest widths, sliced for narrower ones: a
      query trains it by Double DQN for `steps` environment steps, further keywords go to
      `nasgym.evaluators.rl.DQNSupernetEvaluator`), `"synthetic"` (a made-up fixed benchmark,
      for smoke tests), `"surrogate"` (the NAS-Bench-301 surrogate: the default of the
      `NAS-Bench-301-*` ids, whose `space` is `"darts"` and `dataset` `"cifar10"`) or any
      `nasgym.evaluators.Evaluator`.
    * `fidelity`: training epochs behind the validation accuracy, 200 or 12 (needs the imported
      12-epoch results); 1..98 for NAS-Bench-301 (default 98).
    * `render_mode`: `None`, `"ansi"` (text: the last and the best architecture, the queries and the
      best so far) or `"rgb_array"` (the best architecture drawn as a graph with its operations on
      the edges, beside the best-so-far curve).
    * `constraint`: `None` (default) or upper limits on resource metrics known without training,
      `{"flops": 100.0}`, `{"params": 0.5, "latency": 0.01}`, in the units of `info` (`flops`,
      `params` in millions, `latency`, `latency_<device>` in seconds; any metric of the table but
      the quality on validation and test data, `valid_*` and `test_*`; or the space's exact `flops`
      and `params` where the evaluator trains). Every architecture is checked at `gym.make`: a
      limit no architecture meets, an unknown metric (the message lists the accepted ones) or a
      space too large to enumerate is a `ValueError`. `env.unwrapped.is_feasible(arch)` and
      `env.unwrapped.resources(arch)` answer without a query and without simulated time.
    * `reward_beta`: the penalty weight of the penalty rewards, `reward="mnasnet"` (MnasNet,
      `Q * (T / T0) ** reward_beta`) and `reward="abs"` (TuNAS, `Q + reward_beta * |T / T0 - 1|`),
      with `Q` the validation accuracy / 100 and `T`, `T0` the resource and the limit of the
      constraint's one metric. `"mnasnet"` needs `Q >= 0`: where `valid_acc` is a negated loss
      (FCNet) it is refused at `gym.make`, and a negative `valid_acc` of another evaluator is a
      `ValueError` when it occurs.

    ## Info

    After a query: `arch` (NATS arch string; the DARTS genotype on NAS-Bench-301), `index`
    (canonical index), `valid_acc`, `test_acc` (percent; NaN where the table has none, and always
    on NAS-Bench-301, whose surrogate predicts validation results only), `flops` (M), `params`
    (M), `latency` (s), `cost` (simulated seconds of that query), `n_queries`, `sim_time`,
    `best_valid_acc`, `best_arch`, `best_test_acc`: the architecture with the best mean of its
    observed validation accuracies (`nasgym.selection.Incumbent`), that mean, and its test accuracy.
    With a `constraint`: `feasible` (bool) and `resource` (dict of the constrained metrics), and the
    `best_*` keys count feasible architectures only (absent until one is queried).
"""

CONVNET_ARGUMENTS = """
    ## Arguments

    ```python
    gym.make("ConvNet-<Flavour>-v0", dataset="digits", budget=500, reward="valid_acc", top_k=10,
             evaluator="live", epochs=12, batch_size=256, device="auto")
    ```

    * `dataset`: `"digits"` (offline default), `"cifar10"`, `"cifar100"` or `"ImageNet16-120"` (files in
      `data_dir`), or the dataset of a table built with `nasgym data build convnet --dataset D`.
    * `evaluator`: `"live"` (default: train each queried network; results are stored, so a repeated
      query or a restarted search costs nothing), `"tabular"` (a table built with `nasgym data build`),
      `"synthetic"` (a made-up fixed benchmark, for smoke tests) or any `nasgym.evaluators.Evaluator`.
    * live keywords, passed to `nasgym.evaluators.LiveEvaluator`: `epochs`, `batch_size`, `lr`, `seed`,
      `device` (`"auto"`: cuda when available), `data_dir`, `executor`, `workers`, ...
    * `budget`, `reward`, `noise`, `top_k`, `constraint`, `reward_beta`: as for the NAS-Bench-201
      envs; `reward="normalized"` needs a known optimum, so not with `evaluator="live"`.
    * `render_mode`: `None`, `"ansi"` or `"rgb_array"` (the network's layers listed beside the
      best-so-far curve).

    ## Info

    After a query: `arch` (e.g. `k3c32-k5c64`, one token per layer), `index` (canonical index in
    0..1363), `valid_acc`, `test_acc` (percent), `flops` (M), `params` (M), `latency` (s), `cost`
    (seconds the training took), `n_queries`, `sim_time`, `best_valid_acc`, `best_arch`,
    `best_test_acc`; with `evaluator="live"` also `train_time`, `train_loss`, `train_acc`,
    `wall_time` (seconds this query took), `device` and `cached`; with a `constraint`, `feasible`
    and `resource`, and `best_*` count feasible architectures only.
"""
