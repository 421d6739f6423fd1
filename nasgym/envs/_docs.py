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
      `100 ** (acc / acc_max) / 100 - 1`, 0 at the dataset's best validation accuracy), or a
      callable on the metrics dict. Test accuracy never enters the reward.
    * `noise`: `"seed"` draws one trained seed per query with the env's rng, as NATS-Bench does;
      `"mean"` uses the mean over seeds.
    * `top_k`: number of best architectures whose mean encoding forms the observation.
    * `evaluator`: `"tabular"` (benchmark table lookup) or any `nasgym.evaluators.Evaluator`.
    * `fidelity`: training epochs behind the validation accuracy, 200 or 12 (needs the imported
      12-epoch results).

    ## Info

    After a query: `arch` (NATS arch string), `index` (canonical index), `valid_acc`, `test_acc`
    (percent; NaN where the table has none), `flops` (M), `params` (M), `latency` (s), `cost`
    (simulated seconds of that query), `n_queries`, `sim_time`, `best_valid_acc`, `best_arch`,
    `best_test_acc` (test accuracy of the best-validation architecture).
"""
