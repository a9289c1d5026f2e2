"""Known models: where their weights come from, pinned checksums, and where exports live.

Nothing here touches the network or onnxruntime.  ``export/`` reads the pins to verify weight
files; the runtime reads :func:`model_path` to find an exported ONNX file.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotInstalledError, UnknownModelError


@dataclass(frozen=True)
class WeightFile:
    path_in_wheel: str   # path inside the source wheel (or repository, for ``repository`` models)
    sha256: str

    @property
    def filename(self) -> str:
        return self.path_in_wheel.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class KnownModel:
    name: str
    version: str
    source_package: str
    source_version: str
    weights: tuple[WeightFile, ...]
    licence: str
    attribution: str
    redistributable: bool
    #: weights from a clone of this repository (``seqscore export NAME --from DIR``), not a wheel;
    #: ``source_version`` is then the pinned commit
    repository: str = ""
    #: other files of the repository's weights folder, ignored by the export (fnmatch patterns)
    companions: tuple[str, ...] = ()
    kind: str = "splice"          # what the outputs are (see models.spec)
    scorer: str = "spliceai"      # whose scoring rules turn them into scores
    #: the weights' licence restricts use (e.g. academic research only): exporting them needs
    #: the user's explicit ``--accept-licence``
    licence_gated: bool = False
    #: no pinned weights: the user brings them (``--from``); what to pass, for messages
    user_weights: str = ""

    @property
    def pip_requirement(self) -> str:
        return f"{self.source_package}=={self.source_version}"

    @property
    def source(self) -> str:
        """Where the weights come from: ``package==version`` or ``repository@commit``."""
        if self.repository:
            return f"{self.repository}@{self.source_version}"
        return self.pip_requirement

    @property
    def needs_from(self) -> bool:
        """Whether the weights must be given with ``--from`` (no pinned wheel to download)."""
        return bool(self.repository or self.user_weights)


SPLICEAI_CITATION = (
    "Jaganathan K, et al. Predicting splicing from primary sequence with deep learning. "
    "Cell 176(3):535-548 (2019). doi:10.1016/j.cell.2018.12.015. Weights (c) Illumina, "
    "from the spliceai 1.3.1 package."
)
CISPLICEAI_CITATION = (
    "Strauch Y, Lord J, Niranjan M, Baralle D. CI-SpliceAI - Improving machine learning "
    "predictions of disease causing splicing variants using curated alternative splice sites. "
    "PLOS ONE 17(6):e0269159 (2022). doi:10.1371/journal.pone.0269159. Weights by Yaron "
    "Strauch, from the cispliceai 1.2.2 package."
)

OPENSPLICEAI_CITATION = (
    "Chao KH, Mao A, Liu A, Pertea M, Salzberg SL. OpenSpliceAI provides an efficient modular "
    "implementation of SpliceAI enabling easy retraining across nonhuman species. eLife "
    "14:RP107454 (2025). doi:10.7554/eLife.107454.3. OpenSpliceAI-MANE 10000nt weights from "
    "github.com/Kuanhao-Chao/OpenSpliceAI (models/openspliceai-mane/10000nt)."
)
PANGOLIN_CITATION = (
    "Zeng T, Li YI. Predicting RNA splicing from DNA sequence using Pangolin. Genome Biology "
    "23:103 (2022). doi:10.1186/s13059-022-02664-4. Weights from github.com/tkzeng/Pangolin "
    "(pangolin/models, final.*.v2)."
)
PUFFIN_CITATION = (
    "Dudnyk K, Cai D, Shi C, Xu J, Zhou J. Sequence basis of transcription initiation in the "
    "human genome. Science 384(6694):eadj0116 (2024). doi:10.1126/science.adj0116. Weights "
    "from github.com/jzhoulab/puffin (resources/puffin.pth)."
)
PUFFIN_LICENCE = (
    "Copyright (c) 2023 The University of Texas Southwestern Medical Center; academic research "
    "use only, no commercial use (see the repository's LICENSE); do not redistribute this export"
)

ENFORMER_CITATION = (
    "Avsec Z, Agarwal V, Visentin D, Ledsam JR, Grabska-Barwinska A, Taylor KR, Assael Y, "
    "Jumper J, Kohli P, Kelley DR. Effective gene expression prediction from sequence by "
    "integrating long-range interactions. Nature Methods 18:1196-1203 (2021). "
    "doi:10.1038/s41592-021-01252-x. Checkpoint format of enformer-pytorch (github.com/"
    "lucidrains/enformer-pytorch)."
)
BASENJI2_CITATION = (
    "Kelley DR. Cross-species regulatory sequence activity prediction. PLoS Computational "
    "Biology 16(7):e1008050 (2020). doi:10.1371/journal.pcbi.1008050. Weights format of "
    "basenji2-pytorch."
)
AITAC_CITATION = (
    "Maslova A, Ramirez RN, Ma K, Schmutz H, Wang C, Fox C, Ng B, Benoist C, Mostafavi S, "
    "Immunological Genome Project. Deep learning of immune cell differentiation. PNAS "
    "117(41):25655-25666 (2020). doi:10.1073/pnas.2011795117. Model of github.com/smaslova/"
    "AI-TAC."
)

_OSAI_DIR = "models/openspliceai-mane/10000nt/"
_OSAI_SHA256 = {
    10: "7b0d6af6239e27392226bbada310ee9e2ce0ced149fb6fdff8996c12cba3cc85",
    11: "38fe4469eff09ffe5caa291bc224248c81ed68acca0b729afb87450909a8130e",
    12: "49f38e3fd0e87b81ce22d986d1168eb9b2c55668bfd6aaa064da1082ee668667",
    13: "bae2756b452f31d45b74604816561da79284d791be37f467491a68342c819b20",
    14: "cfe2741311ed02dab3042492a5be14029b18d63be693751e9534315a9e4c6271",
}
_PANGOLIN_DIR = "pangolin/models/"
#: the 12 files the Pangolin CLI loads, in its order: heads 0, 2, 4, 6 (heart, liver, brain,
#: testis), then replicates 1, 2, 3
_PANGOLIN_SHA256 = {
    "final.1.0.3.v2": "f0478fab173b75f7f7e9fe96688bad6c50fa4a46d70557f423b110caaf565501",
    "final.2.0.3.v2": "c4c6bb4880fa6fb28b14182ae3ea0600edb07056158f55325b5e6e6e48fc9f26",
    "final.3.0.3.v2": "ec685a6e7105a4486c1f89a005458a13deb3fe7171f13d434f4877e386d10676",
    "final.1.2.3.v2": "559c05de3e1ce65c2515ca3e92ef85edb0ec2e47686ca58060e25891ce06eb3a",
    "final.2.2.3.v2": "48758ba8b95eee9aa9feea52672ef06ca1b34111299c27f8a710f734d8b9aae5",
    "final.3.2.3.v2": "7cb576c2b24db4fdd6970c4ca4fb7c20ae1b1d8ae80645ebbe689848b5743129",
    "final.1.4.3.v2": "c50b12e0c0af776d5674ca5e346493f8265783494d4df383364de9c1136657f6",
    "final.2.4.3.v2": "e03303bed4fd6f135ec0f6c1b192cce954ea42d0646f44d17b4a6fbb2b1f610e",
    "final.3.4.3.v2": "9476d2e25520d7ff15bece0cd5d3b657e3b1dd3cc5fcab1d9c3b62bea7a0c5b6",
    "final.1.6.3.v2": "2aae563fa18a8a9b6699c6c96e0d32b8ec7543f8f805fb3bc9de77302cc9f66e",
    "final.2.6.3.v2": "7d3c0b1b2a60067b940dec315567874fbc8bcd322f1b7c76bf969f51f0f53f7f",
    "final.3.6.3.v2": "756e7721a382cace24e9bfea5b543af5623f2487d9a3efe7385e9c76367005fd",
}

KNOWN_MODELS: dict[str, KnownModel] = {
    "spliceai": KnownModel(
        name="spliceai",
        version="1.3.1",
        source_package="spliceai",
        source_version="1.3.1",
        weights=(
            WeightFile("spliceai/models/spliceai1.h5",
                       "e1fd5adcef7489d604b10e79c40078ef790d51ef048c4ce3869c9119ac5de42b"),
            WeightFile("spliceai/models/spliceai2.h5",
                       "6ab042b82ab966b6d3582cb31b96f0859ea08a864f168d69e83aa14450a3b66e"),
            WeightFile("spliceai/models/spliceai3.h5",
                       "e2e790bde53dfdf410c6dc434a86122a7d12f3f38dc2ef45d85986e9ecf22fad"),
            WeightFile("spliceai/models/spliceai4.h5",
                       "ca88ac9e58e69ba6fdeed319b72f063f164c9abf7392eaccef903e94c1d99dd6"),
            WeightFile("spliceai/models/spliceai5.h5",
                       "791cd22c62a80a08d2ca674615a93ce8159d7b55bd157cfef2983b1bd6b41391"),
        ),
        licence="CC BY-NC 4.0",
        attribution=SPLICEAI_CITATION,
        redistributable=False,
    ),
    "cispliceai": KnownModel(
        name="cispliceai",
        version="1.2.2",
        source_package="cispliceai",
        source_version="1.2.2",
        weights=(
            WeightFile("cispliceai/data/CI-SpliceAI.pb",
                       "34330c2fd844f73cbf2f8acef85f519cabc4350016e6f19ac2b935aa53b43d06"),
        ),
        licence="CC BY 4.0",
        attribution=CISPLICEAI_CITATION,
        redistributable=True,
    ),
    "openspliceai": KnownModel(
        name="openspliceai",
        version="MANE-10000nt",
        source_package="OpenSpliceAI",
        source_version="394109aa",
        weights=tuple(WeightFile(f"{_OSAI_DIR}model_10000nt_rs{i}.pt", sha)
                      for i, sha in _OSAI_SHA256.items()),
        licence="GPL-3.0",
        attribution=OPENSPLICEAI_CITATION,
        redistributable=False,
        repository="github.com/Kuanhao-Chao/OpenSpliceAI",
        scorer="openspliceai",
    ),
    "pangolin": KnownModel(
        name="pangolin",
        version="1.0.2",
        source_package="Pangolin",
        source_version="5cf94b8d",
        weights=tuple(WeightFile(_PANGOLIN_DIR + name, sha)
                      for name, sha in _PANGOLIN_SHA256.items()),
        licence="GPL-3.0",
        attribution=PANGOLIN_CITATION,
        redistributable=False,
        repository="github.com/tkzeng/Pangolin",
        # the rest of pangolin/models/: the v1 files and the usage (odd head) models
        companions=("final.[1-5].[0-7].3", "final.[1-3].[0-7].3.v2"),
        scorer="pangolin",
    ),
    "puffin": KnownModel(
        name="puffin",
        version="467b4252",
        source_package="puffin",
        source_version="467b4252",
        weights=(WeightFile("resources/puffin.pth",
                            "d8a3c4a3a67d99d43606544128498c03688cac17c3f4098987f3955e26627559"),),
        licence=PUFFIN_LICENCE,
        attribution=PUFFIN_CITATION,
        redistributable=False,
        repository="github.com/jzhoulab/puffin",
        # the genome FASTA that Puffin's README downloads into resources/
        companions=("hg38.fa*",),
        kind="tracks",
        scorer="tracks",
        licence_gated=True,
    ),
    # regulatory models whose weights the user brings (not reachable for pinning here)
    "enformer": KnownModel(
        name="enformer",
        version="user weights",
        source_package="enformer-pytorch",
        source_version="0.8.12",
        weights=(),
        licence="the weights' own licence (the published Enformer weights: Apache-2.0)",
        attribution=ENFORMER_CITATION,
        redistributable=False,
        kind="tracks",
        scorer="tracks",
        user_weights="DIR (an enformer-pytorch checkpoint folder: config.json and "
                     "pytorch_model.bin or model.safetensors)",
    ),
    "basenji2": KnownModel(
        name="basenji2",
        version="user weights",
        source_package="basenji2-pytorch",
        source_version="0.1.2",
        weights=(),
        licence="the weights' own licence (the published Basenji2 weights: Apache-2.0)",
        attribution=BASENJI2_CITATION,
        redistributable=False,
        kind="tracks",
        scorer="tracks",
        user_weights="basenji2.pth (the basenji2-pytorch state dict)",
    ),
    "aitac": KnownModel(
        name="aitac",
        version="user weights",
        source_package="AI-TAC",
        source_version="ec0e62c",
        weights=(),
        licence="the weights' own licence (AI-TAC's repository: MIT)",
        attribution=AITAC_CITATION,
        redistributable=False,
        kind="tracks",
        scorer="tracks",
        user_weights="AI-TAC/models/aitac.ckpt (from a clone of github.com/smaslova/AI-TAC, "
                     "or your own training's .ckpt)",
    ),
}

# Gene tables that ship in the spliceai wheel (GENCODE V24 canonical transcripts).
ANNOTATION_FILES: dict[str, WeightFile] = {
    "grch37": WeightFile("spliceai/annotations/grch37.txt",
                         "16e495da074e965f46f60ced4e73292843e949051d2dc31dd521da3fd7615dce"),
    "grch38": WeightFile("spliceai/annotations/grch38.txt",
                         "565c0ea83f66b2210182364c3d626fef526229e3d02f444bab247329b6695f2c"),
}
ANNOTATION_SOURCE = ("spliceai", "1.3.1")


def known_model(name: str) -> KnownModel:
    try:
        return KNOWN_MODELS[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}; known models: {', '.join(sorted(KNOWN_MODELS))} "
            "(or give the path of an exported .onnx file)"
        ) from None


def home() -> Path:
    """Cache directory: ``$SEQSCORE_HOME``, else ``$XDG_CACHE_HOME/hail-seqscore``."""
    env = os.environ.get("SEQSCORE_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "hail-seqscore"


def models_dir() -> Path:
    return home() / "models"


def downloads_dir() -> Path:
    return home() / "downloads"


def default_model_path(name: str) -> Path:
    return models_dir() / f"{name}.onnx"


def sibling(path: str | os.PathLike, suffix: str) -> Path:
    """``NAME.onnx`` → ``NAME{suffix}.onnx`` in the same folder (a file exported beside it)."""
    p = Path(path)
    stem = p.name[:-5] if p.name.endswith(".onnx") else p.name
    return p.with_name(f"{stem}{suffix}.onnx")


def split_paths(path: str | os.PathLike, n_stages: int) -> tuple[list[Path], Path]:
    """The trunk-stage and head graphs exported beside a model (``NAME.trunk0.onnx`` …
    ``NAME.trunk{n_stages-1}.onnx``, ``NAME.head.onnx``), used for incremental ALT inference."""
    return [sibling(path, f".trunk{i}") for i in range(n_stages)], sibling(path, ".head")


#: "fp32" (the default, exact), "tf32" (fp32 graphs, TensorFloat-32 convolutions on a CUDA GPU),
#: "fp16" (the half-precision copy that `seqscore export --fp16` writes)
PRECISIONS = ("fp32", "tf32", "fp16")


def precision_path(path: str | os.PathLike, precision: str) -> Path:
    """The graph file to load for ``precision``: ``NAME.fp16.onnx`` for fp16, else ``path``."""
    p = Path(path)
    return p if precision != "fp16" or ".fp16." in p.name else sibling(p, ".fp16")


_SPLIT_PART = re.compile(r".*\.(trunk\d*|head)\.onnx$")


def is_split_part(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a trunk-stage or head graph rather than a model."""
    return bool(_SPLIT_PART.match(Path(path).name))


def model_path(name_or_path: str | os.PathLike) -> Path:
    """Resolve ``spliceai`` (an exported model in the cache) or a path to an ``.onnx`` file."""
    text = os.fspath(name_or_path)
    if text.endswith(".onnx") or os.sep in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ModelNotInstalledError(f"model file {path} does not exist")
        return path
    known = known_model(text)  # raises with the list of known names
    path = default_model_path(text)
    if not path.is_file():
        how = f"`seqscore export {text}`"
        if known.user_weights:
            how = f"`seqscore export {text} --from PATH` (PATH: {known.user_weights})"
        elif known.needs_from:
            how = (f"`git clone https://{known.repository}` and `seqscore export "
                   f"{text} --from {known.repository.split('/')[-1]}"
                   f"{' --accept-licence' if known.licence_gated else ''}`")
        raise ModelNotInstalledError(
            f"model {text!r} is not exported yet (looked for {path}: models live in "
            f"$SEQSCORE_HOME/models, SEQSCORE_HOME={_home_text()}); run {how} first (needs "
            f"`pip install 'hail-seqscore[export]'`), or point SEQSCORE_HOME at the folder "
            f"that holds it (`make` uses ./.cache)"
        )
    return path


def _home_text() -> str:
    env = os.environ.get("SEQSCORE_HOME")
    return env if env else f"{home()} (the default; the variable is not set)"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def installed_models() -> list[Path]:
    d = models_dir()
    if not d.is_dir():
        return []
    return sorted(p for p in d.glob("*.onnx")
                  if not is_split_part(p) and not p.name.endswith(".fp16.onnx"))
