"""``seqscore serve``: the local scoring daemon (HTTP/JSON; see hail_seqscore/protocol.py)."""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError
from ..models.device import DEVICE_HELP, DEVICES
from ..protocol import DEFAULT_HOST, DEFAULT_MAX_VARIANTS, DEFAULT_PORT, OPENAPI_PATH
from . import add_mask_and_filter, add_precision, add_track_options

HELP = f"""\
Serve variant scores over HTTP on {DEFAULT_HOST}:{DEFAULT_PORT} (by default).  Concurrent
requests are batched together for the model, which runs in one worker thread.  Several models
can be served at once (--model spliceai --model openspliceai): a request's "model" chooses one,
the first is the default, and a batch never mixes models.

  POST /v1/score    {{"variants": [{{"chrom": "17", "pos": 43045615, "ref": "G", "alt": "A"}}],
                     "distance": 50, "mask": 0, "model": "spliceai"}}   (last three optional)
                    -> {{"results": [...], "provenance": {{...}}}}, one result per variant, in
                    input order, with the chosen model's provenance
  GET  /v1/health   alive          GET /v1/ready   200 once every model is loaded
                                                    (a session on the provider it reports)
  GET  /v1/models   each model: name, version, sha256, kind, scorer, licence, execution
                    provider(s) and device, provenance and the fields of its results

--device cuda refuses to start (exit 69) when the CUDA provider cannot be created; with
--device auto the log says which provider each model runs on.
  GET  /metrics     Prometheus     GET {OPENAPI_PATH}   OpenAPI document (/v1/docs to browse)

Requests must be sent with 'Content-Type: application/json' (else 415).  One result per
variant: a variant that cannot be scored gets its own error code (INVALID_VARIANT for pos < 1
or non-base alleles, ALLELE_TOO_LONG for a REF/ALT over --max-allele-length, CONTIG_NOT_FOUND,
REF_MISMATCH, ...) while the others are scored.  A "model" the server does not serve is a 400
listing the served ones.  A request that is malformed as a whole gets
400 naming the field (not JSON, NaN, an integer of over 20 digits, too deeply nested, a wrong
JSON type such as "pos": "12" or 12.0); 408 headers or body too slow (--header-timeout,
--body-timeout); 413 body or variant count too large; 401 token.  Every error answer, unknown
routes (404) and wrong methods (405) included, is {{"error": {{"code", "message", "field"}}}}.

A non-loopback --host requires --token-file; clients then send 'Authorization: Bearer TOKEN'.
SIGTERM or Ctrl-C finishes the requests in flight, then exits.

exit codes: 0 stopped cleanly; 2 bad command line; 64 bad setting (bad --max-batch or timeout,
non-loopback bind without a token, a token file that is not one ASCII token, port in use);
66 token file missing or unreadable; 69 a model not exported, failing to load, or of a kind or
scorer this version cannot serve yet, ONNX Runtime missing or broken, --device cuda without a
working CUDA provider (refused at start-up, never at the first request).
"""


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="run the local HTTP scoring daemon",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", metavar="MODEL", dest="models",
                   help="model name (exported with `seqscore export`) or path to an .onnx file; "
                        "repeat it to serve several models (the first is the default) "
                        "(default: spliceai)")
    p.add_argument("-R", dest="reference", metavar="REFERENCE", required=True,
                   help="reference FASTA, plain or bgzipped (with .fai, and .gzi for bgzip)")
    p.add_argument("-A", dest="annotation", metavar="ANNOTATION", default="grch38",
                   help="grch37, grch38, a SpliceAI-format gene table or a GTF/GFF3 file "
                        "(default: grch38)")
    p.add_argument("-D", dest="distance", metavar="DISTANCE", type=int, default=50,
                   help="default distance when a request gives none (default: 50)")
    add_mask_and_filter(p, "mask when a request gives none")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to bind (default: {DEFAULT_HOST}; any other needs --token-file)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"TCP port, 0 = any free port (default: {DEFAULT_PORT})")
    p.add_argument("--token-file", metavar="FILE",
                   help="file holding the bearer token clients must send")
    p.add_argument("--max-batch", type=int, default=32,
                   help="most variants per model batch (default: 32)")
    p.add_argument("--max-delay-ms", type=float, default=5.0,
                   help="longest a variant waits for others to fill its batch (default: 5)")
    p.add_argument("--max-queue", type=int, default=20_000,
                   help="variants waiting before requests get 503 + Retry-After "
                        "(default: 20000)")
    p.add_argument("--max-body-mb", type=float, default=16.0,
                   help="largest request body in MiB; larger ones get 413 (default: 16)")
    p.add_argument("--max-variants", type=int, default=DEFAULT_MAX_VARIANTS,
                   help=f"most variants in one request (default: {DEFAULT_MAX_VARIANTS})")
    p.add_argument("--max-allele-length", type=int, default=None, metavar="N",
                   help="longest REF or ALT scored, in bases; longer ones get ALLELE_TOO_LONG "
                        "before any work is done (default: the model's context, 10000 for "
                        "SpliceAI)")
    p.add_argument("--header-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="seconds a client has to send a request's line and headers; slower "
                        "(or silent) connections are closed, before authentication "
                        "(default: 10)")
    p.add_argument("--body-timeout", type=float, default=60.0, metavar="SECONDS",
                   help="seconds a client has to send a request's whole body; slower uploads "
                        "get 408 and are closed (default: 60)")
    p.add_argument("--cache-size", type=int, default=100_000,
                   help="results kept in the LRU cache, 0 = off (default: 100000)")
    p.add_argument("--batch-size", type=int, default=64,
                   help="windows per model call inside the engine (default: 64)")
    add_precision(p)
    p.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)
    p.add_argument("--threads", type=int, default=None,
                   help="onnxruntime intra-op threads (default: all cores)")
    p.add_argument("--pad-edges", action="store_true",
                   help="score variants near contig ends by padding with N")
    p.add_argument("--score-complex", action="store_true",
                   help="score MNVs and complex indels (SpliceAI writes '.')")
    add_track_options(p, vcf=False)
    p.add_argument("--drain-timeout", type=float, default=30.0,
                   help="seconds to finish in-flight requests on SIGTERM (default: 30)")
    p.add_argument("--keep-alive", type=int, default=75,
                   help="seconds an idle keep-alive connection stays open (default: 75)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import math

    from ..daemon.app import ServeSettings
    from ..daemon.batcher import BatchSettings
    from ..daemon.server import ListenSettings, check_bind, read_token_file, serve
    from ..engine import Engine, EngineConfig
    from ..models.registry import model_path
    from . import ensure_exported, mask_arg, track_settings

    token = read_token_file(args.token_file) if args.token_file else None
    check_bind(args.host, token)
    if not (math.isfinite(args.max_body_mb) and 0 < args.max_body_mb <= 4096):
        raise ConfigError(f"--max-body-mb must be a number > 0 and <= 4096, got "
                          f"{args.max_body_mb}")
    settings = ServeSettings(
        batch=BatchSettings(max_batch=args.max_batch, max_delay_ms=args.max_delay_ms,
                            max_queue=args.max_queue),
        max_body_bytes=max(1, int(args.max_body_mb * 1024 * 1024)),
        max_variants=args.max_variants, cache_size=args.cache_size, token=token,
        header_timeout_s=args.header_timeout, body_timeout_s=args.body_timeout)
    models = args.models or ["spliceai"]
    paths: dict[str, str] = {}
    for name in models:
        why = _unservable(name)
        if why is not None:    # a known model of a kind not served yet: before anything loads
            print(f"seqscore serve: error: model {name!r}: {why}", file=sys.stderr)
            return 69
        ensure_exported(name)
        path = str(model_path(name).resolve())  # fail now, with the export hint, if missing
        if path in paths:
            raise ConfigError(f"--model {name} and --model {paths[path]} are the same model "
                              f"({path}); give each model once")
        paths[path] = name
    engines = [Engine(EngineConfig(
        model=name, reference=args.reference, annotation=args.annotation,
        distance=args.distance, mask=mask_arg(args.mask), batch_size=args.batch_size,
        annotation_filter=args.annotation_filter,
        threads=args.threads, pad_edges=args.pad_edges, score_complex=args.score_complex,
        precision=args.precision, device=args.device, max_allele_length=args.max_allele_length,
        **track_settings(args)))
        for name in models]
    level = logging.getLogger().getEffectiveLevel()
    log_level = {logging.DEBUG: "debug", logging.INFO: "info"}.get(level, "warning")
    if args.verbose == 0:
        logging.getLogger("hail_seqscore").setLevel(logging.INFO)
    listen = ListenSettings(host=args.host, port=args.port, keep_alive_s=args.keep_alive,
                            drain_timeout_s=args.drain_timeout, log_level=log_level)
    return serve(engines, settings, listen)


def _unservable(name: str) -> str | None:
    """Why a model named as the registry knows it cannot be served, or None (paths are
    checked once their metadata is read, in the daemon)."""
    from ..daemon.models import unservable
    from ..models.registry import KNOWN_MODELS

    known = KNOWN_MODELS.get(name)
    return None if known is None else unservable(known.kind, known.scorer)
