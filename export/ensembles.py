"""Each known model's ensemble: how many members, how each is read, how they are combined.

* ``spliceai`` / ``cispliceai``: 5 SpliceAI-10k members from Keras HDF5 / TF GraphDef
  (:mod:`export.layers`), the mean of their softmax outputs;
* ``openspliceai``: 5 OpenSpliceAI-10k members from PyTorch state dicts
  (:mod:`export.openspliceai`), the mean of their softmax outputs (as ``openspliceai variant``);
* ``pangolin``: 12 members, one per file, each computing its own tissue's P(splice)
  (:mod:`export.pangolin`); the mean of each tissue's 3 replicates (as the Pangolin CLI), and
  the 12 members' own values as a second output ``y_members`` — the CLI takes each replicate's
  maximum over an insertion's bases before averaging, which the means alone cannot give.

A selection of members (``--members``) keeps the same rule over the members chosen; for Pangolin
every tissue must keep at least one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from hail_seqscore.errors import ConfigError, WeightMappingError

from . import model as spliceai_model
from .keras_h5 import read_keras_h5
from .layers import LayerGraph, state_dict_from_layers
from .model import Groups, SpliceAINet, Variant
from .tf_frozen import read_frozen_graph


@dataclass(frozen=True)
class Members:
    nets: list              # torch modules, each [N, 4, (1,) L] -> [N, C_m, (1,) L - context]
    groups: Groups | None   # how their outputs are averaged (None: all together)
    out_channels: tuple[str, ...]
    #: names of every member's own channels, when the graph also outputs them (``y_members``)
    member_channels: tuple[str, ...] = ()


def member_graphs(files: Sequence[Path]) -> list[LayerGraph]:
    """Every SpliceAI member's layer graph, in file order (``.h5``: one each; ``.pb``: the Pack
    order)."""
    graphs: list[LayerGraph] = []
    for f in files:
        if f.suffix == ".h5":
            graphs.append(read_keras_h5(f))
        elif f.suffix == ".pb":
            graphs.extend(read_frozen_graph(f))
        else:
            raise WeightMappingError(f"{f}: unknown weight format (expected .h5 or .pb)")
    return graphs


def load_member(graph: LayerGraph, variant: Variant = Variant()) -> SpliceAINet:
    """One SpliceAI member from its layer graph."""
    import torch  # noqa: PLC0415

    net = SpliceAINet(variant)
    state = {k: torch.from_numpy(np.ascontiguousarray(v))
             for k, v in state_dict_from_layers(graph, variant.layout).items()}
    expected = {k for k in net.state_dict() if not k.endswith("num_batches_tracked")}
    if set(state) != expected:
        raise WeightMappingError(
            f"{graph.source}: mapped weights do not fit the network (missing "
            f"{sorted(expected - set(state))[:5]}, extra {sorted(set(state) - expected)[:5]})")
    net.load_state_dict(state, strict=False)
    return net.eval()


#: members of each known model
N_MEMBERS = {"spliceai": 5, "cispliceai": 5, "openspliceai": 5, "pangolin": 12}


def n_members(name: str) -> int:
    return N_MEMBERS[name]


def select(n: int, members: Sequence[int] | None) -> tuple[int, ...]:
    if members is None:
        return tuple(range(n))
    sel = tuple(int(m) for m in members)
    if not sel or any(m < 0 or m >= n for m in sel) or len(set(sel)) != len(sel):
        raise ConfigError(f"members {list(members)} must be distinct indices in 0..{n - 1}")
    return sel


def _spliceai(name: str, files, sel, variant) -> Members:
    graphs = member_graphs(files)
    if len(graphs) != N_MEMBERS[name]:
        raise WeightMappingError(f"{name}: weight files hold {len(graphs)} members, expected "
                                 f"{N_MEMBERS[name]}")
    return Members([load_member(graphs[i], variant) for i in sel], None,
                   spliceai_model.OUT_CHANNELS)


def _openspliceai(name: str, files, sel, variant) -> Members:
    from . import openspliceai  # noqa: PLC0415

    return Members([openspliceai.load_member(files[i], variant) for i in sel], None,
                   spliceai_model.OUT_CHANNELS)


def _pangolin(name: str, files, sel, variant) -> Members:
    from . import pangolin  # noqa: PLC0415

    order = pangolin.member_files()
    names = [Path(f).name for f in files]
    if names != [n for n, _ in order]:
        raise WeightMappingError(f"pangolin: weight files {names}, expected the CLI's order "
                                 f"{[n for n, _ in order]}")
    tissues = [order[i][1] for i in sel]
    absent = [t for k, t in enumerate(pangolin.TISSUES) if k not in tissues]
    if absent:
        raise ConfigError(f"--members {','.join(map(str, sel))}: no member for tissue "
                          f"{', '.join(absent)}; members 3k..3k+2 are tissue k "
                          f"({', '.join(pangolin.TISSUES)})")
    nets = [pangolin.load_member(files[i], order[i][1], variant) for i in sel]
    return Members(nets, pangolin.tissue_groups(tissues), pangolin.OUT_CHANNELS,
                   tuple(pangolin.member_channel(i) for i in sel))


_BUILDERS = {"spliceai": _spliceai, "cispliceai": _spliceai, "openspliceai": _openspliceai,
             "pangolin": _pangolin}


def load_members(name: str, files: Sequence[Path], sel: Sequence[int],
                 variant: Variant = Variant()) -> Members:
    """The selected members of known model ``name`` from its (checked) weight ``files``."""
    return _BUILDERS[name](name, list(files), tuple(sel), variant)
