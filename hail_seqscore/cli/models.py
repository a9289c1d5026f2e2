"""``seqscore models``: the known models, whether they are exported, and their provenance."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import ConfigError, SeqScoreError
from ..models.registry import KNOWN_MODELS, default_model_path, installed_models, sha256_file


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list known models and what is exported",
                       description="List the known models: exported or not, file, sha256, "
                       "source package, licence (read from the ONNX metadata when exported).")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.add_argument("--tracks", metavar="MODEL",
                   help="print the track table of a track model (a name or an .onnx path): "
                        "index, name, assay, cell type, strand, description")
    p.set_defaults(func=run)


def describe(name: str | None = None, path=None) -> dict:
    """One model's row: registry facts, plus the ONNX file's own metadata when it exists."""
    path = path or default_model_path(name)
    row: dict = {"name": name, "exported": path.is_file(), "path": str(path)}
    km = KNOWN_MODELS.get(name) if name else None
    if km:
        row.update(source=km.source, licence=km.licence, version=km.version,
                   redistributable=km.redistributable)
    if not path.is_file():
        return row
    row["sha256"] = sha256_file(path)
    try:
        from ..models.session import ModelSession  # noqa: PLC0415

        spec = ModelSession(path, providers=["CPUExecutionProvider"], threads=1).spec
    except SeqScoreError as exc:
        row["error"] = exc.message
        return row
    sep = "@" if km and km.needs_from else "=="   # a repository commit, or a package version
    row.update(name=spec.name, version=spec.version,
               source=f"{spec.source_package}{sep}{spec.source_version}", licence=spec.licence,
               members=spec.members, context=spec.context,
               output_channels=list(spec.output_channels),
               exporter_version=spec.exporter_version, weights_sha256=dict(spec.weights_sha256))
    return row


def rows() -> list[dict]:
    out = [describe(name) for name in sorted(KNOWN_MODELS)]
    known_paths = {r["path"] for r in out}
    out += [describe(p.stem, p) for p in installed_models() if str(p) not in known_paths]
    return out


def print_tracks(model: str, as_json: bool) -> int:
    from ..models.registry import model_path  # noqa: PLC0415
    from ..models.session import ModelSession  # noqa: PLC0415

    spec = ModelSession(model_path(model), providers=["CPUExecutionProvider"], threads=1).spec
    if spec.kind != "tracks":
        raise ConfigError(f"--tracks {model}: {spec.name} is a {spec.kind!r} model, not a "
                          "track model")
    tracks = [dict(t) for t in spec.tracks] or [{"name": n} for n in spec.output_channels]
    if as_json:
        json.dump(tracks, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print("index\tname\tassay\tcell_type\tstrand\tdescription")
    for i, t in enumerate(tracks):
        print("\t".join([str(i)] + [str(t.get(k) or ".") for k in
                                    ("name", "assay", "cell_type", "strand", "description")]))
    return 0


def run(args) -> int:
    if args.tracks:
        return print_tracks(args.tracks, args.json)
    table = rows()
    if args.json:
        json.dump(table, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for r in table:
        state = "exported" if r["exported"] else "not exported"
        print(f"{r['name']}\t{state}\t{r['path']}")
        if r["exported"]:
            print(f"  sha256   {r.get('sha256')}")
        print(f"  source   {r.get('source', '?')}    licence {r.get('licence', '?')}")
        if "error" in r:
            print(f"  error    {r['error']}")
        if not r["exported"]:
            km = KNOWN_MODELS.get(r["name"])
            hint = ""
            if km and km.user_weights:
                hint = f" --from {km.user_weights}"
            elif km and km.needs_from:
                hint = " --from DIR (a clone of its repository)"
            print(f"  export with: seqscore export {r['name']}{hint}")
    return 0
