"""Every refusal the server can give names a stable code, and every code has words in zh-CN and en.

The codes are collected from the source, not listed by hand: each `code="..."` keyword and each
`{"code": "..."}` literal in api/, the first argument of every PydanticCustomError, the input
guards' codes (api/inputs.py) and the tables api/errors.py maps validation failures, HTTP
statuses and photo refusals with. A code without a text in either dictionary of web/js/i18n.js
fails here, as does a domain error raised without a code (the tablet would show English).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from api import errors, inputs, messages, statuspage

ROOT = Path(__file__).resolve().parent.parent
API = ROOT / "api"
DOMAIN_ERRORS = {"DomainError", "NotFound", "Conflict", "Forbidden", "Invalid"}
CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


def sources() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(API.rglob("*.py"))]


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _string(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def codes_in_source() -> dict[str, str]:
    """code → where it is first written (file:line)."""
    found: dict[str, str] = {}
    for path, tree in sources():
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            written: list[str | None] = []
            if isinstance(node, ast.Call):
                written += [_string(k.value) for k in node.keywords if k.arg == "code"]
                if _name(node.func) == "PydanticCustomError" and node.args:
                    written.append(_string(node.args[0]))
            elif isinstance(node, ast.Dict):
                written += [
                    _string(v) for k, v in zip(node.keys, node.values, strict=True) if _string(k) == "code"
                ]
            for code in written:
                if code is not None:
                    found.setdefault(code, f"{where}:{node.lineno}")
    return found


def every_code() -> dict[str, str]:
    found = codes_in_source()
    tables = {
        "api/inputs.py CODES": inputs.CODES.values(),
        "api/errors.py VALIDATION_CODES": errors.VALIDATION_CODES.values(),
        "api/errors.py FIELD_CODES": errors.FIELD_CODES.values(),
        "api/errors.py STATUS_CODES": errors.STATUS_CODES.values(),
        "api/errors.py PHOTO_CODES": errors.PHOTO_CODES.values(),
        "api/errors.py": (errors.FALLBACK_CODE,),
        "api/statuspage.py": (
            *statuspage.NOTICE_CODES.values(),
            statuspage.EXPIRED_CODE,
            statuspage.BUSY_CODE,
        ),
    }
    for where, values in tables.items():
        for code in values:
            found.setdefault(code, where)
    return found


def test_the_collection_finds_the_codes_it_must() -> None:
    """The scan itself works: codes written each way are among those found."""
    found = every_code()
    for code in ("walkaround.signed", "vin.check_digit", "pin.weak", "promise.past", "ro.not_deliverable"):
        assert code in found, code  # keyword arguments
    assert {"auth.locked", "request.json_required"} <= set(found)  # dict literals
    assert {"phone.invalid", "field.required", "request.nul_character"} <= set(found)  # tables
    assert len(found) > 80


def test_every_code_is_dotted_and_has_words_in_both_languages() -> None:
    found = every_code()
    bad = sorted(f"{code} ({where})" for code, where in found.items() if not CODE.match(code))
    assert not bad, f"codes must be dotted lower-case words: {bad}"
    known = messages.codes()
    for lang in ("en", "zh-CN"):
        missing = sorted(f"{code} ({where})" for code, where in found.items() if code not in known[lang])
        assert not missing, f"no error.code.<code> in web/js/i18n.js ({lang}) for: {missing}"


def test_every_domain_error_is_raised_with_a_code() -> None:
    """workshop.Conflict("…") alone would reach a zh-CN tablet in English."""
    bare = []
    for path, tree in sources():
        for node in ast.walk(tree):
            # A literal code= (the scan above finds it), or **refusal(...) (the input guards' codes).
            coded = isinstance(node, ast.Call) and any(
                (k.arg == "code" and _string(k.value)) or k.arg is None for k in node.keywords
            )
            if isinstance(node, ast.Call) and _name(node.func) in DOMAIN_ERRORS and not coded:
                bare.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bare, f"domain errors without code=: {bare}"


def test_the_texts_use_the_same_parameters_in_both_languages() -> None:
    texts = messages.dictionaries()
    for code in messages.codes()["en"]:
        key = f"error.code.{code}"
        en, zh = texts["en"][key], texts["zh-CN"][key]
        assert set(messages.PLACEHOLDER.findall(en)) == set(messages.PLACEHOLDER.findall(zh)), key


def test_texts_are_filled_in_each_language() -> None:
    params = {"title": "换机油", "state": "in_progress"}
    zh = messages.text("job.not_clockable", params, "zh-CN")
    en = messages.text("job.not_clockable", params, "en")
    assert zh is not None and "换机油" in zh and "作业中" in zh, zh  # the state in Chinese too
    assert en is not None and "换机油" in en and "In progress" in en, en
    assert (
        messages.text("vin.check_digit", {"expected": "7"}, "zh-CN")
        == "车架号第 9 位校验位应为 7，请检查是否输错。"
    )
    assert messages.text("no.such_code", {}, "en") is None


def test_the_server_reads_the_catalogue_as_the_browser_does() -> None:
    """api/messages.py parses i18n.js by its lines; Node evaluates it: the two must agree."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is not installed: i18n.js cannot be checked", pytrace=False)
        pytest.skip("node is not installed (required on CI)")
    source = ROOT / "web" / "js" / "i18n.js"
    script = (
        f"import {{ dictionaries }} from {json.dumps(source.as_uri())};"
        "process.stdout.write(JSON.stringify(dictionaries));"
    )
    done = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == messages.dictionaries()
