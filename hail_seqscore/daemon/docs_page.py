"""``GET /v1/docs``: the API reference as one self-contained HTML page (no CDN, no script), made
from the OpenAPI document, so it works on machines without internet — unlike Swagger UI, which
loads its code from a CDN."""

from __future__ import annotations

import html
import json
from typing import Any, Mapping


def _schema(doc: Mapping[str, Any], schema: Mapping[str, Any] | None) -> str:
    if not schema:
        return ""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        schema = doc.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[1], schema)
    return f"<pre>{html.escape(json.dumps(schema, indent=2))}</pre>"


def render(doc: Mapping[str, Any]) -> str:
    """The page of an OpenAPI document: each route with its summary, description, request
    body and responses, and a link to the document itself."""
    info = doc.get("info", {})
    parts = [f"<h1>{html.escape(str(info.get('title', 'API')))} "
             f"{html.escape(str(info.get('version', '')))}</h1>",
             f"<p>{html.escape(str(info.get('description', '')))}</p>",
             "<p>Machine-readable: <a href='/v1/openapi.json'>/v1/openapi.json</a></p>"]
    for path, methods in doc.get("paths", {}).items():
        for method, op in methods.items():
            parts.append(f"<h2><code>{html.escape(method.upper())} {html.escape(path)}</code> — "
                         f"{html.escape(str(op.get('summary', '')))}</h2>")
            if op.get("description"):
                parts.append(f"<p>{html.escape(str(op['description']))}</p>")
            body = op.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                parts.append(f"<h3>Request ({html.escape(media)})</h3>"
                             + _schema(doc, content.get("schema")))
            for status, resp in op.get("responses", {}).items():
                parts.append(f"<h3>{html.escape(str(status))}: "
                             f"{html.escape(str(resp.get('description', '')))}</h3>")
                for content in resp.get("content", {}).values():
                    parts.append(_schema(doc, content.get("schema")))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>seqscore API</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
            "pre{background:#f4f4f4;padding:.5em;overflow:auto}</style></head><body>"
            + "\n".join(parts) + "</body></html>")
