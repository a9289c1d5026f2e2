"""The models one daemon serves: an engine each, loaded in the worker thread, chosen by name.

``seqscore serve --model A --model B`` serves both, sharing the reference, gene table and engine
settings; ``A``, the first, is the default (a request without ``"model"``).  Each model is
loaded in the model worker thread (its ONNX session, FASTA and gene table, as for one model)
and then checked: the daemon serves a model only if its (kind, scorer) has a result record in
:data:`protocol.RESULT_SCHEMAS` and its engine accepts it; any other is refused while the
daemon starts, in one line, never at the first request.

A request names a model by its name (``ModelSpec.name``: what ``GET /v1/models`` lists), by
the ``--model`` argument it was served with, or by that file's stem (``toy`` for
``/tmp/toy.onnx``).  Two models with one name are refused; an alias two models share is
dropped (their names still choose them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..engine import Engine
from ..errors import ConfigError, ModelFormatError, RequestError, SeqScoreError
from ..protocol import result_schema, served_kinds


@dataclass
class ServedModel:
    """One loaded model: its engine and what the daemon says about it."""

    engine: Engine
    name: str
    aliases: tuple[str, ...]
    #: its ``GET /v1/models`` entry
    entry: dict[str, Any]
    #: the score responses' ``provenance`` (``Engine.provenance``)
    provenance: dict[str, Any]
    #: what a cached result's model, reference and gene table must match
    identity: tuple
    max_allele_length: int
    default: bool = False


def unservable(kind: str, scorer: str) -> str | None:
    """Why models of ``kind`` scored by ``scorer`` cannot be served, or None."""
    if result_schema(kind, scorer) is not None:
        return None
    return (f"its kind {kind!r} with scorer {scorer!r} is not served by this version of "
            f"seqscore serve (it serves {served_kinds()}); leave it out of --model")


def load_model(engine: Engine, default: bool = False) -> ServedModel:
    """In the worker thread: open the model, FASTA and gene table, and check that the daemon
    can serve the model (raises :class:`ModelFormatError` saying why not)."""
    engine.warm_up()
    session = engine.session
    spec = session.spec
    why = unservable(spec.kind, spec.scorer)
    if why is None:
        try:
            engine.score([])          # the engine refuses a model it cannot score (no work done)
        except SeqScoreError as exc:
            why = (f"kind {spec.kind!r} with scorer {spec.scorer!r}: the engine cannot score it "
                   f"yet ({exc.message}); leave it out of --model")
    if why is not None:
        raise ModelFormatError(why)
    given = str(engine.config.model)
    aliases = [given]
    if given.endswith(".onnx"):
        aliases.append(Path(given).name[:-len(".onnx")])
    prov = engine.provenance()
    entry = dict(session.provenance())
    entry["execution_providers"] = entry.pop("providers")
    entry["runs_on"] = session.describe()
    prov = {**prov, "execution_provider": entry["execution_provider"],
            "device": entry["device"]}
    cap = int(engine.max_allele_length())
    entry.update(max_allele_length=cap, default=default,
                 output=result_schema(spec.kind, spec.scorer), provenance=prov)
    identity = (prov["model_sha256"], prov["reference"], prov["annotation"],
                prov["annotation_sha256"])
    return ServedModel(engine, spec.name, tuple(a for a in aliases if a != spec.name), entry,
                       prov, identity, cap, default)


@dataclass
class ModelSet:
    """The served models, in ``--model`` order (the first is the default)."""

    engines: Sequence[Engine]
    models: list[ServedModel] = field(default_factory=list)
    #: the ``--model`` argument of the model being loaded (for messages)
    loading: str | None = None
    _by_name: dict[str, ServedModel] = field(default_factory=dict)

    def __post_init__(self):
        self.engines = list(self.engines)
        if not self.engines:
            raise ConfigError("no model to serve: give --model NAME at least once")

    @property
    def ready(self) -> bool:
        return bool(self._by_name)

    @property
    def default(self) -> ServedModel:
        return self.models[0]

    def load(self) -> None:
        """In the worker thread: load every model in turn; raises on the first that fails
        (``loading`` names it)."""
        for i, engine in enumerate(self.engines):
            self.loading = str(engine.config.model)
            self.models.append(load_model(engine, default=i == 0))
        self.loading = None
        self._by_name = resolve_names(self.models)
        for m in self.models:
            m.entry["aliases"] = [a for a in m.aliases if self._by_name.get(a) is m]

    def names(self) -> list[str]:
        return [m.name for m in self.models]

    def choose(self, name: str | None) -> ServedModel:
        """The model a request names (None: the default); :class:`RequestError` (400) for a
        model not served."""
        if name is None:
            return self.default
        model = self._by_name.get(name)
        if model is None:
            shown = name if len(name) <= 100 else name[:100] + "..."
            raise RequestError(f"model: this server does not serve {shown!r}; it serves "
                               f"{', '.join(repr(n) for n in self.names())}", field="model")
        return model

    def cap_for(self, name: str | None) -> int | None:
        """The allele-length cap of the model a request names (None while loading)."""
        return self.choose(name).max_allele_length if self.ready else None


def resolve_names(models: Sequence[ServedModel]) -> dict[str, ServedModel]:
    """Every name and alias → its model.  Two models of one name are refused
    (:class:`ConfigError`); an alias of two models, or another model's name, is dropped."""
    by_name: dict[str, ServedModel] = {}
    for m in models:
        other = by_name.get(m.name)
        if other is not None:
            raise ConfigError(
                f"models {_given(other)!r} and {_given(m)!r} are both named {m.name!r} (the "
                "name requests choose a model by); serve only one of them")
        by_name[m.name] = m
    seen: dict[str, set[int]] = {}
    for m in models:
        for a in m.aliases:
            seen.setdefault(a, set()).add(id(m))
    for m in models:
        for a in m.aliases:
            if a not in by_name and len(seen[a]) == 1:
                by_name[a] = m
    return by_name


def _given(m: ServedModel) -> str:
    return os.fspath(m.engine.config.model)
