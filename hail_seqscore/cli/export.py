"""``seqscore export``: write a known model to ONNX from its pinned source weights."""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError, SeqScoreError
from ..models.registry import KNOWN_MODELS, known_model

#: the MODEL argument that exports the user's own module (``--module``, ``--weights``, ``--spec``)
CUSTOM = "custom"

HELP = """\
Export a known model to one ONNX file (its ensemble averaged inside the graph, as the
original tool averages it).

SpliceAI and CI-SpliceAI: the weights come from the pinned source wheel, fetched with
`pip download --no-deps` into $SEQSCORE_HOME/downloads, or from --from PATH (the wheel, a
weight file, or a directory holding them; for machines without network).
OpenSpliceAI and Pangolin: the weights are in their GitHub repositories, not in a package;
clone the repository and pass --from CLONE (or its weights folder).  That folder must hold
exactly the pinned files (a missing, changed or unexpected weight file is an error).
Every weight file is checked against its pinned sha256.  No TensorFlow is used.  Re-running
with the same inputs does nothing ("up to date"); --force exports again.

models:
  spliceai      spliceai 1.3.1 wheel; weights CC BY-NC 4.0 (do not redistribute the export)
  cispliceai    cispliceai 1.2.2 wheel; CC BY 4.0
  openspliceai  OpenSpliceAI-MANE 10000nt, 5 members; GPL-3.0 (never ship the export):
                git clone https://github.com/Kuanhao-Chao/OpenSpliceAI
                seqscore export openspliceai --from OpenSpliceAI
  pangolin      Pangolin, 12 files (3 replicates x heart, liver, brain, testis); GPL-3.0
                (never ship the export); outputs P(splice) per tissue:
                git clone https://github.com/tkzeng/Pangolin
                seqscore export pangolin --from Pangolin
  puffin        Puffin transcription initiation, 10 base-resolution tracks (5 assays x 2
                strands), 325 bp of context each side; licence: academic research use only,
                no commercial use, so the export is opt-in and must never be shared:
                git clone https://github.com/jzhoulab/puffin
                seqscore export puffin --from puffin/resources/puffin.pth --accept-licence

Regulatory models whose weights you bring (files in the formats their ports or authors publish;
their sha256 goes into the export's metadata; name the tracks with --tracks):
  enformer      Enformer, from an enformer-pytorch checkpoint folder (config.json and
                pytorch_model.bin or model.safetensors); one head (--head, default human),
                896 bins of 128 bp from 196,608 bp (--input-length for other sizes). For the
                converted official weights pass the gamma table the port uses with them:
                seqscore export enformer --from enformer-official-rough
                  --tracks targets_human.txt --tf-gammas TF_GAMMAS.pt
                (TF_GAMMAS.pt: enformer_pytorch/precomputed/tf_gammas.pt of the port)
  basenji2      Basenji2, from the basenji2-pytorch state dict (basenji2.pth); 896 bins of 128
                bp from 131,072 bp (--config PARAMS.json for another architecture):
                seqscore export basenji2 --from basenji2.pth --tracks targets_human.txt
  aitac         AI-TAC (81 mouse immune cell types, one value per 251-bp peak), from its
                state dict (.ckpt; the repository's models/aitac.ckpt):
                seqscore export aitac --from AI-TAC/models/aitac.ckpt

Your own model (any PyTorch module whose output is tracks over bins; see
docs/custom_models.md for the spec format and a worked example):
  seqscore export custom --module PKG.MOD:FACTORY --weights W.pt --spec SPEC.toml [--out F]
  --module may also be FILE.py:FACTORY; W.pt is torch.save(model.state_dict(), W.pt); the
  default output is $SEQSCORE_HOME/models/NAME.onnx (NAME from the spec).

exit codes: 0 done or up to date; 64 unknown model / bad setting / --from or
--accept-licence needed; 65 weight file corrupt, unexpected, not the pinned one or not
fitting the network; 66 --from path or a weight file missing; 69 network unavailable (use
--from); 130 interrupted.
"""


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a known model (SpliceAI, OpenSpliceAI, Pangolin …) "
                       "to ONNX",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL",
                   help=f"one of: {', '.join(sorted(KNOWN_MODELS))}, or {CUSTOM} (your own "
                        "model: --module, --weights, --spec)")
    p.add_argument("--from", dest="source", metavar="PATH",
                   help="wheel, weight file or directory to take the weights from (offline); "
                        "required for openspliceai and pangolin (a clone or its weights folder)")
    p.add_argument("--out", metavar="PATH",
                   help="output .onnx (default: $SEQSCORE_HOME/models/MODEL.onnx)")
    p.add_argument("--force", action="store_true", help="export even if up to date")
    p.add_argument("--fp16", action="store_true",
                   help="also write half-precision copies (MODEL.fp16.onnx …) for "
                        "`--precision fp16`; scores deviate slightly from fp32")
    p.add_argument("--accept-licence", action="store_true",
                   help="accept a restrictive weights licence (puffin: academic research use "
                        "only); the export is for your own use and must not be shared")
    p.add_argument("--module", metavar="PKG.MOD:FACTORY",
                   help=f"{CUSTOM}: the factory returning your torch.nn.Module "
                        "(or FILE.py:FACTORY)")
    p.add_argument("--weights", metavar="W.pt",
                   help=f"{CUSTOM}: its state dict, torch.save(model.state_dict(), W.pt)")
    p.add_argument("--spec", metavar="SPEC.toml",
                   help=f"{CUSTOM}: input length, alphabet, N value, bins, tracks, licence, "
                        "citation (docs/custom_models.md)")
    p.add_argument("--tracks", metavar="FILE",
                   help="enformer, basenji2, aitac: the track table (tab-separated with a "
                        "'name' column, or a Basenji targets_*.txt), one row per output")
    p.add_argument("--head", metavar="NAME", help="enformer: the output head (default human)")
    p.add_argument("--tf-gammas", metavar="FILE",
                   help="enformer: the TensorFlow gamma positional table (enformer-pytorch's "
                        "precomputed/tf_gammas.pt; for the converted official weights)")
    p.add_argument("--input-length", type=int, metavar="N",
                   help="enformer: input length in bp (default 1536 × bin size: 196,608)")
    p.add_argument("--config", metavar="PARAMS.json",
                   help="basenji2: basenji2-pytorch params of another architecture")
    p.add_argument("--members", metavar="I,J",
                   help="export only these ensemble members (0-based, comma separated; "
                        "pangolin: 0-2 heart, 3-5 liver, 6-8 brain, 9-11 testis, at least one "
                        "of each)")
    p.set_defaults(func=run)


def _members(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"--members {text!r}: expected comma separated integers") from None


def _export_extra():
    try:
        from export import onnx_export  # noqa: PLC0415 - optional extra
    except ModuleNotFoundError as exc:
        raise SeqScoreError(
            f"exporting needs the export extra ({exc.name} is missing): "
            "pip install 'hail-seqscore[export]'") from None
    return onnx_export


def _check_options(args) -> None:
    """The options of ``custom`` and those of the known models do not mix."""
    own = {"--module": args.module, "--weights": args.weights, "--spec": args.spec}
    known = {"--from": args.source, "--members": args.members, "--fp16": args.fp16,
             "--accept-licence": args.accept_licence, "--tracks": args.tracks,
             "--head": args.head, "--tf-gammas": args.tf_gammas,
             "--input-length": args.input_length, "--config": args.config}
    if args.model == CUSTOM:
        missing = [k for k, v in own.items() if not v]
        if missing:
            raise ConfigError(f"export {CUSTOM} needs {', '.join(missing)} (see "
                              "docs/custom_models.md)")
        given = [k for k, v in known.items() if v]
        if given:
            raise ConfigError(f"{given[0]} does not apply to export {CUSTOM}")
        return
    known_model(args.model)  # unknown names fail before the (heavy) export extra is imported
    given = [k for k, v in own.items() if v]
    if given:
        raise ConfigError(f"{given[0]} applies only to `seqscore export {CUSTOM}`")


def run(args) -> int:
    _check_options(args)
    if args.model == CUSTOM:
        _export_extra()
        from export.custom import export_custom  # noqa: PLC0415

        result = export_custom(args.module, args.weights, args.spec, args.out,
                               force=args.force)
        name = result.name
    else:
        members = _members(args.members)
        options = {"tracks": args.tracks, "head": args.head, "tf_gammas": args.tf_gammas,
                   "input_length": args.input_length, "config": args.config}
        result = _export_extra().export_model(
            args.model, args.out, source=args.source, members=members, force=args.force,
            fp16=args.fp16, accept_licence=args.accept_licence,
            options={k: v for k, v in options.items() if v is not None},
            progress=lambda m: print(f"seqscore export: {m}", file=sys.stderr, flush=True))
        name = getattr(result, "name", "") or args.model
    if result.status == "up to date":
        print(f"{name}: up to date ({result.path}); use --force to export again",
              file=sys.stderr)
    else:
        print(f"{name}: exported to {result.path} in {result.seconds:.1f} s",
              file=sys.stderr)
    return 0
