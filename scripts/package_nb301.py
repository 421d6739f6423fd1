"""Pack the NAS-Bench-301 surrogate (YAHPO Gym v2's ONNX model) into ``nasgym/data/nb301/``.

Reads the folder ``nb301/`` of github slds-lmu/yahpo_data (branch v2_final): ``model_v2.onnx``,
``config_space_v2.json``, ``encoding_v2.json``, ``LICENSE-2.0.txt``. Before copying anything it
checks that the encoding nasgym uses (:mod:`nasgym.evaluators.surrogate`) is the one of these
files: the 28 edge hyperparameters take exactly the 7 DARTS ops, coded alphabetically after
``#na#`` = 0; the 6 input-node hyperparameters take the input pairs ``a_b`` in lexicographic order,
coded from 1; the edges a pair activates are those of DARTS's edge order; and that the model has
the surrogate's signature (:func:`~nasgym.evaluators.surrogate.check_model`). Then it writes
``model_v2.onnx`` (unchanged), ``LICENSE`` (the Apache-2.0 text) and ``PROVENANCE.md`` (sources
and sha256) into ``nasgym/data/nb301/``.

Usage: ``python scripts/package_nb301.py PATH/TO/yahpo_data/nb301``
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from nasgym.evaluators.surrogate import OP_CODES, check_model
from nasgym.spaces.darts import CELLS, DARTS_OPS, NODES, PAIRS
from nasgym.tables.store import file_sha256

OUT = Path(__file__).resolve().parent.parent / "nasgym" / "data" / "nb301"
PREFIX = "NetworkSelectorDatasetInfo_COLON_darts_COLON_"
FILES = ("model_v2.onnx", "config_space_v2.json", "encoding_v2.json", "LICENSE-2.0.txt")


def check_encoding(config_space: dict, encoding: dict) -> None:
    """Raise a ``ValueError`` unless the configuration space and encoding match nasgym's coding."""
    hyperparameters = {h["name"]: h for h in config_space["hyperparameters"]}
    conditions = {c["child"]: c for c in config_space["conditions"]}
    offsets = [sum(NODES[:k]) for k in range(len(NODES))]
    for cell in CELLS:
        for edge in range(sum(NODES)):
            name = f"{PREFIX}edge_{cell}_{edge}"
            if set(hyperparameters[name]["choices"]) != set(DARTS_OPS):
                raise ValueError(f"{name}: choices {hyperparameters[name]['choices']} are not the 7 DARTS ops")
            if encoding[name] != {"#na#": 0, **OP_CODES}:
                raise ValueError(f"{name}: codes {encoding[name]} differ from nasgym's {OP_CODES}")
        for k, node in enumerate(NODES[1:], start=1):
            name = f"{PREFIX}inputs_node_{cell}_{node}"
            labels = [f"{a}_{b}" for a, b in PAIRS[k]]
            if hyperparameters[name]["choices"] != labels:
                raise ValueError(f"{name}: levels {hyperparameters[name]['choices']} are not {labels}")
            if encoding[name] != {"#na#": 0, **{label: code for code, label in enumerate(labels, start=1)}}:
                raise ValueError(f"{name}: codes {encoding[name]} are not the levels in order from 1")
            for source in range(node):  # each edge of the node is active exactly for the pairs holding its source
                edge = f"{PREFIX}edge_{cell}_{offsets[k] + source}"
                holding = [f"{a}_{b}" for a, b in PAIRS[k] if source in (a, b)]
                if conditions[edge]["parent"] != name or sorted(conditions[edge]["values"]) != sorted(holding):
                    raise ValueError(f"{edge}: active for {conditions[edge]}, expected {name} in {holding}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the nb301 folder of yahpo_data (v2_final)")
    args = parser.parse_args()
    missing = [name for name in FILES if not (args.source / name).is_file()]
    if missing:
        raise SystemExit(f"{args.source}: missing {missing}")
    check_encoding(
        json.loads((args.source / "config_space_v2.json").read_text()),
        json.loads((args.source / "encoding_v2.json").read_text()),
    )
    check_model(args.source / "model_v2.onnx")
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.source / "model_v2.onnx", OUT / "model_v2.onnx")
    shutil.copyfile(args.source / "LICENSE-2.0.txt", OUT / "LICENSE")
    sums = {name: file_sha256(args.source / name) for name in FILES}
    keys = {name.replace(".", "_").replace("-", "_"): digest for name, digest in sums.items()}
    (OUT / "PROVENANCE.md").write_text(PROVENANCE.format(**keys))
    print(f"wrote {OUT}: model_v2.onnx ({(OUT / 'model_v2.onnx').stat().st_size} bytes), LICENSE, PROVENANCE.md")


PROVENANCE = """# NAS-Bench-301 surrogate shipped with nasgym

`model_v2.onnx` is the NAS-Bench-301 surrogate model (Siems, Zimmer, Zela, Lukasik, Keuper and
Hutter, "NAS-Bench-301 and the Case for Surrogate Benchmarks for Neural Architecture Search",
arXiv:2008.09777; Zela et al., ICLR 2022) for the DARTS cell space on CIFAR-10, as packaged by
YAHPO Gym (Pfisterer, Schneider, Moosbauer, Binder and Bischl, "YAHPO Gym - An Efficient
Multi-Objective Multi-Fidelity Benchmark for Hyperparameter Optimization", AutoML 2022), copied
byte for byte:

- source: folder `nb301/` of github.com/slds-lmu/yahpo_data, branch v2_final, commit 0e28806,
  Apache-2.0 (`LICENSE` beside this file); the model was fitted on the NAS-Bench-301 training
  data (doi:10.6084/m9.figshare.13286105.v1, Apache-2.0);
- sha256: `model_v2.onnx` {model_v2_onnx}; checked against `config_space_v2.json`
  {config_space_v2_json} and `encoding_v2.json` {encoding_v2_json}; `LICENSE` is
  `LICENSE-2.0.txt` {LICENSE_2_0_txt};
- made by `scripts/package_nb301.py` of the nasgym repository, which checks that the encoding
  nasgym feeds the model is the one of those files (edge ops coded alphabetically after `#na#` =
  0, input pairs in lexicographic order from 1, each edge active for the pairs holding its source)
  and that the model has the surrogate's inputs and output.

Model inputs: `x_cat` int32 (batch, 34): the ops of the 14 normal and 14 reduction candidate
edges, then the input pairs of nodes 3, 4, 5 of the normal and the reduction cell; `x_cont`
float32 (batch, 1): the epoch, 1..98. Output (batch, 4): validation accuracy (fraction),
validation cross-entropy, runtime (s), and a fourth column YAHPO Gym does not document (unused).

No changes were made to the work.
"""


if __name__ == "__main__":
    main()
