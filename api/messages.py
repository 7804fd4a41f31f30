"""What an error code says, in zh-CN and en, for pages the server renders itself.

The one catalogue is the tablet's: `error.code.<code>` in web/js/i18n.js. The tablet must have it
offline (its service worker caches i18n.js), and the status page must render without JavaScript,
so the server reads that same file rather than keeping a copy that could drift: a new code is
translated once, where the screens look. The file's dictionaries are flat `'key': 'text',` lines;
anything else between their braces stops the server at start-up instead of losing a text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).resolve().parents[1] / "web" / "js" / "i18n.js"
# Each area's strings in a file of their own, merged into i18n.js's dictionaries by the browser.
AREAS = SOURCE.parent / "strings"
DICTIONARIES = {"en": "en", "zh-CN": "zh"}  # language → the constant's name in i18n.js
_ENTRY = re.compile(r"""^\s*'((?:[^'\\]|\\.)+)':\s*(['"])((?:(?!\2)[^\\]|\\.)*)\2,?\s*(?://.*)?$""")
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}
# {name} is a parameter; {name:prefix} is a parameter whose value is itself translated through
# `prefix.<value>` ("{state:job}" → the words for job.in_progress). web/js/i18n.js t() does the same.
PLACEHOLDER = re.compile(r"\{(\w+)(?::([\w.]+))?\}")
LIST_SEPARATOR = {"en": ", ", "zh-CN": "、"}


class CatalogueError(RuntimeError):
    """web/js/i18n.js holds something the server cannot read."""


def _unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code.startswith("u") and len(code) == 5:
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES.get(code, code)

    return _ESCAPE.sub(one, text)


def parse(source: str, file: str = SOURCE.name) -> dict[str, dict[str, str]]:
    """Both dictionaries of i18n.js (or of an area's file): {"en": {key: text}, "zh-CN": {key: text}}."""
    found: dict[str, dict[str, str]] = {}
    for lang, name in DICTIONARIES.items():
        head = f"const {name} = {{"
        start = source.find(head)
        if start < 0:
            raise CatalogueError(f"{file}: no `{head}`")
        end = source.index("\n};", start)
        entries: dict[str, str] = {}
        for number, line in enumerate(source[start:end].splitlines()[1:], start=2):
            stripped = line.strip()
            if not stripped or stripped.startswith("//"):
                continue
            match = _ENTRY.match(line)
            if match is None:
                raise CatalogueError(f"{file} ({name}, line {number} of it): cannot read {stripped!r}")
            entries[_unescape(match.group(1))] = _unescape(match.group(3))
        found[lang] = entries
    return found


def sources() -> list[Path]:
    """i18n.js, then each area's file, in the order the browser merges them (by name)."""
    return [SOURCE, *sorted(AREAS.glob("*.js"))]


@cache
def dictionaries() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {lang: {} for lang in DICTIONARIES}
    for path in sources():
        for lang, entries in parse(path.read_text(encoding="utf-8"), path.name).items():
            merged[lang].update(entries)
    return merged


def codes() -> dict[str, set[str]]:
    """Every error code with a text, per language."""
    return {
        lang: {key.removeprefix("error.code.") for key in texts if key.startswith("error.code.")}
        for lang, texts in dictionaries().items()
    }


def _value(value: Any, prefix: str | None, lang: str) -> str:
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR[lang].join(_value(v, prefix, lang) for v in value)
    if prefix:  # as t() in i18n.js: this language, else English, else the value in words
        key = f"{prefix}.{value}"
        found = dictionaries()[lang].get(key) or dictionaries()["en"].get(key)
        return found or str(value).replace("_", " ")
    return str(value)


def text(code: str, params: Mapping[str, Any] | None = None, lang: str = "en") -> str | None:
    """The words for `code` in `lang` (zh-CN or en), its parameters filled in; None if it has none."""
    template = dictionaries().get(lang, {}).get(f"error.code.{code}")
    if template is None:
        return None
    given = params or {}

    def fill(match: re.Match[str]) -> str:
        name, prefix = match.group(1), match.group(2)
        return _value(given[name], prefix, lang) if name in given else match.group(0)

    return PLACEHOLDER.sub(fill, template)
