"""/schema: the API described as plain HTML, rendered on the server from the OpenAPI document.

Litestar's documentation sites (Swagger, Redoc, Scalar …) load their scripts from a CDN, which the
app's Content-Security-Policy (script-src 'self') blocks, and which a workshop network may not reach:
/schema was a blank page. This page needs neither scripts nor styles nor the internet. The machine-
readable document stays at /schema/openapi.json (and .yaml).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

METHODS = ("get", "head", "post", "put", "patch", "delete")


def _type(schema: dict[str, Any]) -> str:
    """A short human reading of a JSON schema: `string`, `integer | null`, `RepairOrderCreate` …"""
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " | ".join(_type(s) for s in schema[key])
    kind = schema.get("type", "object" if "properties" in schema else "any")
    if isinstance(kind, list):
        return " | ".join(escape(str(k)) for k in kind)
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if "enum" in schema:
        return " | ".join(escape(json.dumps(v, ensure_ascii=False)) for v in schema["enum"])
    shown = escape(str(kind))
    return f"{shown} ({escape(str(schema['format']))})" if "format" in schema else shown


def _parameters(operation: dict[str, Any]) -> str:
    rows = [
        f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p.get('in', ''))}</td>"
        f"<td>{_type(p.get('schema', {}))}</td><td>{'required' if p.get('required') else ''}</td></tr>"
        for p in operation.get("parameters", [])
    ]
    if not rows:
        return ""
    head = "<tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _body(operation: dict[str, Any]) -> str:
    content = operation.get("requestBody", {}).get("content", {})
    parts = [f"<li>{escape(media)}: {_type(item.get('schema', {}))}</li>" for media, item in content.items()]
    return f"<p>Request body:</p><ul>{''.join(parts)}</ul>" if parts else ""


def _responses(operation: dict[str, Any]) -> str:
    items = [
        f"<li><code>{escape(str(code))}</code> {escape(str(answer.get('description', '')))}</li>"
        for code, answer in operation.get("responses", {}).items()
    ]
    return f"<p>Answers:</p><ul>{''.join(items)}</ul>" if items else ""


def _schemas(document: dict[str, Any]) -> str:
    out = []
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        rows = [
            f"<tr><td><code>{escape(field)}</code></td><td>{_type(spec)}</td>"
            f"<td>{'required' if field in required else ''}</td>"
            f"<td>{escape(str(spec.get('description', '')))}</td></tr>"
            for field, spec in schema.get("properties", {}).items()
        ]
        table = f"<table>{''.join(rows)}</table>" if rows else f"<p>{_type(schema)}</p>"
        out.append(f'<section id="schema-{escape(name)}"><h3>{escape(name)}</h3>{table}</section>')
    return "".join(out)


def render(document: dict[str, Any], json_url: str) -> str:
    info = document.get("info", {})
    title = escape(f"{info.get('title', 'API')} {info.get('version', '')}".strip())
    toc, sections = [], []
    for path, item in sorted(document.get("paths", {}).items()):
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            anchor = escape(operation.get("operationId") or f"{method}{path}", quote=True)
            label = f"{method.upper()} {escape(path)}"
            toc.append(f'<li><a href="#{anchor}">{label}</a> {escape(operation.get("summary", ""))}</li>')
            sections.append(
                f'<section id="{anchor}"><h3>{label}</h3>'
                f"<p>{escape(operation.get('description') or operation.get('summary', ''))}</p>"
                f"{_parameters(operation)}{_body(operation)}{_responses(operation)}</section>"
            )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head><body><main><h1>{title}</h1>"
        f'<p>The OpenAPI document: <a href="{escape(json_url)}">{escape(json_url)}</a> '
        f'(also <a href="{escape(json_url.removesuffix(".json"))}.yaml">YAML</a>). Errors answer '
        "<code>{status_code, detail, code?, params?, errors?}</code>.</p>"
        f"<h2>Operations</h2><ul>{''.join(toc)}</ul>{''.join(sections)}"
        f"<h2>Schemas</h2>{_schemas(document)}</main></body></html>"
    )


class PlainHtmlDocs(OpenAPIRenderPlugin):
    """The /schema page: static HTML, no scripts, no third-party origin."""

    def __init__(self) -> None:
        super().__init__(path="/")

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        return render(openapi_schema, self.get_openapi_json_route(request)).encode()
