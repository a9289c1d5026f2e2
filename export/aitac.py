"""AI-TAC (Maslova et al., PNAS 2020): ATAC-seq peak height in 81 mouse immune cell types.

The weights file is what AI-TAC's training script saves and its other scripts load
(``models/<name>.ckpt``, ``torch.save(model.state_dict())`` of its ``ConvNet``; the repository's
``models/aitac.ckpt``).  Its input is one 251-bp peak sequence, one-hot in the order A, T, G, C
(rows of the original's encoder); its output, one value per cell type for the whole peak: here
one 251-bp bin.

The network, written here from the paper and the repository's description (the code is our
own): three convolution stages, each zero-padded convolution → ReLU → max pooling (padding 1,
which never wins a max) → BatchNorm — 300 filters of width 19 pooled by 3, 200 of width 11
pooled by 4, 200 of width 7 pooled by 4 —, flattened (channel-major, 200 × 5), two ReLU layers
of 1,000 units and a linear layer to the cell types.  The original's first convolution is a
``Conv2d`` over a ``[4, L]`` image with a ``(4, 19)`` kernel: the same as a width-19 ``Conv1d``
over 4 channels, which is what this graph computes (kernels read unchanged).

Track names: the 81 ImmGen cell types of the published model, in its output order
(``sample_data/cell_type_names.npy`` of the repository), with their lineage; a model trained on
other data takes ``--tracks``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from hail_seqscore.errors import WeightMappingError

from .checkpoints import read_weights
from .eval_norm import EvalBatchNorm
from .torch_state import load_strict

INPUT_LENGTH = 251
ALPHABET = "ATGC"
#: (cell type, lineage) of the published model's 81 outputs, in order
CELL_TYPES = (
    ("B.Fem.Sp", "B"), ("B.Fo.Sp", "B"), ("B.FrE.BM", "B"), ("B.GC.CB.Sp", "B"),
    ("B.GC.CC.Sp", "B"), ("B.MZ.Sp", "B"), ("B.PB.Sp", "B"), ("B.PC.BM", "B"), ("B.PC.Sp", "B"),
    ("B.Sp", "B"), ("B.T1.Sp", "B"), ("B.T2.Sp", "B"), ("B.T3.Sp", "B"), ("B.mem.Sp", "B"),
    ("B1b.PC", "B"), ("DC.4+.Sp", "myeloid"), ("DC.8+.Sp", "myeloid"),
    ("DC.pDC.Sp", "myeloid"), ("GN.BM", "myeloid"), ("GN.Sp", "myeloid"),
    ("GN.Thio.PC", "myeloid"), ("ILC2.SI", "innate.lym"), ("ILC3.CCR6+.SI", "innate.lym"),
    ("ILC3.NKp46+.SI", "innate.lym"), ("ILC3.NKp46-CCR6-.SI", "innate.lym"),
    ("LTHSC.34+.BM", "stem"), ("LTHSC.34-.BM", "stem"), ("MF.102+480+.PC", ""),
    ("MF.226+II+480lo.PC", "myeloid"), ("MF.Alv.Lu", "myeloid"), ("MF.Fem.PC", "myeloid"),
    ("MF.PC", "myeloid"), ("MF.RP.Sp", "myeloid"), ("MF.microglia.CNS", "myeloid"),
    ("MF.pIC.Alv.Lu", "myeloid"), ("MMP3.48+.BM", "stem"), ("MMP4.135+.BM", "stem"),
    ("Mo.6C+II-.Bl", "myeloid"), ("Mo.6C-II-.Bl", "myeloid"), ("NK.27+11b+.BM", "innate.lym"),
    ("NK.27+11b+.Sp", "innate.lym"), ("NK.27+11b-.BM", "innate.lym"),
    ("NK.27+11b-.Sp", "innate.lym"), ("NK.27-11b+.BM", "innate.lym"),
    ("NK.27-11b+.Sp", "innate.lym"), ("NKT.Sp", "abT"), ("NKT.Sp.LPS.18hr", "T.act"),
    ("NKT.Sp.LPS.3d", "T.act"), ("NKT.Sp.LPS.3hr", "T.act"), ("STHSC.150-.BM", "stem"),
    ("T.4.Nve.Fem.Sp", "abT"), ("T.4.Nve.Sp", "abT"), ("T.4.Sp.aCD3+CD40.18hr", "T.act"),
    ("T.4.Th", "abT"), ("T.8.Nve.Sp", "abT"), ("T.8.Th", "abT"), ("T.DN4.Th", "abT"),
    ("T.DP.Th", "abT"), ("T.ISP.Th", "abT"), ("T8.IEL.LCMV.d7.Gut", "T.act"),
    ("T8.MP.LCMV.d7.Sp", "T.act"), ("T8.TE.LCMV.d7.Sp", "T.act"), ("T8.TN.P14.Sp", "T.act"),
    ("T8.Tcm.LCMV.d180.Sp", "T.act"), ("T8.Tem.LCMV.d180.Sp", "T.act"), ("Tgd.Sp", "gdT"),
    ("Tgd.g1.1+d1.24a+.Th", "gdT"), ("Tgd.g1.1+d1.LN", "gdT"), ("Tgd.g2+d1.24a+.Th", "gdT"),
    ("Tgd.g2+d1.LN", "gdT"), ("Tgd.g2+d17.24a+.Th", "gdT"), ("Tgd.g2+d17.LN", "gdT"),
    ("Treg.4.25hi.Sp", "abT"), ("Treg.4.FP3+.Nrplo.Co", "abT"), ("preT.DN1.Th", "abT"),
    ("preT.DN2a.Th", "abT"), ("preT.DN2b.Th", "abT"), ("preT.DN3.Th", "abT"),
    ("proB.CLP.BM", "B"), ("proB.FrA.BM", "B"), ("proB.FrBC.BM", "B"),
)


def track_table() -> tuple[dict[str, str], ...]:
    return tuple({"name": name, "description": "ATAC-seq peak height (AI-TAC prediction)"
                  + (f", {lineage} lineage" if lineage else ""), "assay": "ATAC-seq",
                  "cell_type": name} for name, lineage in CELL_TYPES)


class Stage(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, pool: int):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, k, padding=(k - 1) // 2)
        self.bn = EvalBatchNorm(cout)
        self.pool = pool

    def forward(self, x):
        return self.bn(F.max_pool1d(F.relu(self.conv(x)), self.pool, self.pool, padding=1))


class AITACNet(nn.Module):
    """``[N, 4, 251]`` (one-hot ATGC) → ``[N, cell types, 1]``."""

    def __init__(self, n_out: int = len(CELL_TYPES), filters: int = 300):
        super().__init__()
        self.stages = nn.ModuleList([Stage(4, filters, 19, 3), Stage(filters, 200, 11, 4),
                                     Stage(200, 200, 7, 4)])
        self.fc1, self.fc2 = nn.Linear(1000, 1000), nn.Linear(1000, 1000)
        self.out = nn.Linear(1000, n_out)

    def forward(self, x):
        for stage in self.stages:
            x = stage(x)
        h = F.relu(self.fc2(F.relu(self.fc1(x.flatten(1)))))
        return self.out(h)[:, :, None]


RULES = (
    (r"layer1_conv\.0\.(weight|bias)", r"stages.0.conv.\1"),
    (r"layer1_process\.1\.(weight|bias|running_mean|running_var)", r"stages.0.bn.\1"),
    (r"layer2\.0\.(weight|bias)", r"stages.1.conv.\1"),
    (r"layer2\.3\.(weight|bias|running_mean|running_var)", r"stages.1.bn.\1"),
    (r"layer3\.0\.(weight|bias)", r"stages.2.conv.\1"),
    (r"layer3\.3\.(weight|bias|running_mean|running_var)", r"stages.2.bn.\1"),
    (r"layer4\.0\.(weight|bias)", r"fc1.\1"),
    (r"layer5\.0\.(weight|bias)", r"fc2.\1"),
    (r"layer6\.0\.(weight|bias)", r"out.\1"),
)


def canonical_state(state: dict[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    """Counters dropped, 2-D kernels ``[O, I, H, W]`` → 1-D
    (the first conv's ``[300, 1, 4, 19]`` → ``[300, 4, 19]``; the others' ``[O, I, 1, W]``)."""
    out = {}
    for name, value in state.items():
        if name.endswith("num_batches_tracked"):
            continue
        if name.endswith(".weight") and value.ndim == 4:
            if name.startswith("layer1_conv"):
                if value.shape[1] != 1:
                    raise WeightMappingError(f"{source}: {name!r} has shape {value.shape}, "
                                             "expected [filters, 1, 4, 19]")
                value = value[:, 0]
            elif value.shape[2] == 1:
                value = value[:, :, 0]
        out[name] = value
    return out


def load(path: str | Path) -> AITACNet:
    """The network of an AI-TAC ``.ckpt`` state dict (output count and filters from its
    shapes)."""
    path = Path(path)
    state = read_weights(path)
    try:
        n_out = int(state["layer6.0.weight"].shape[0])
        filters = int(state["layer1_conv.0.weight"].shape[0])
    except KeyError as exc:
        raise WeightMappingError(f"{path}: missing key {exc.args[0]!r} (not an AI-TAC "
                                 "state dict?)") from None
    net = AITACNet(n_out, filters)
    return load_strict(net, str(path), canonical_state(state, str(path)), RULES)
