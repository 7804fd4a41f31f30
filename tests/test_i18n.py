"""Every UI string exists in both languages: the two dictionaries in web/js/i18n.js and in each area's
file (web/js/strings/*.js) have the same keys, no string empty in only one of them, the same
{placeholders} per key, and no key in two places."""

from __future__ import annotations

import re
from pathlib import Path

WEB_JS = Path(__file__).parent.parent / "web" / "js"
SOURCES = {
    path.name: path.read_text(encoding="utf-8")
    for path in [WEB_JS / "i18n.js", *sorted(WEB_JS.glob("strings/*.js"))]
}
ENTRY = re.compile(r"^\s*'([^']+)':\s*(['\"`])(.*)\2,?\s*$")


def dictionary(name: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for file, source in SOURCES.items():
        start = source.index(f"const {name} = {{")
        end = source.index("\n};", start)
        for line in source[start:end].splitlines()[1:]:
            match = ENTRY.match(line)
            if match:
                assert match.group(1) not in entries, f"{file} ({name}): {match.group(1)} defined twice"
                entries[match.group(1)] = match.group(3)
            else:
                assert not line.strip().startswith("'"), f"{file} ({name}): cannot read {line!r}"
    return entries


def test_both_languages_have_every_string_with_the_same_placeholders() -> None:
    en, zh = dictionary("en"), dictionary("zh")
    assert len(en) > 200
    assert set(en) ^ set(zh) == set(), f"only in one language: {sorted(set(en) ^ set(zh))}"
    for key in en:
        # Empty only on purpose, in both (e.g. the live mark says nothing while off).
        assert bool(en[key].strip()) == bool(zh[key].strip()), f"{key} is empty in one language"
        assert set(re.findall(r"\{(\w+)\}", en[key])) == set(re.findall(r"\{(\w+)\}", zh[key])), key
