"""The sign-in tiles' avatars, in real Chromium: the initials people recognise themselves by, for
Chinese, Latin and bilingual names alike, whatever the screen's language."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, live_server_at

# (username, name, the avatar's initials)
PEOPLE = [
    ("zhang.wei", "张伟", "张伟"),
    ("wang.xm", "王小明", "小明"),  # a longer Chinese name: the given name, as colleagues say it
    ("liu.yang", "刘洋 Liu Yang", "刘洋"),  # bilingual: the Chinese part, in either language
    ("chen.j", "Jing Chen 陈静", "陈静"),
    ("anna.s", "Anna Maria Schmidt", "AS"),
    ("tom", "tom", "T"),
]
MANAGER = {"username": "boss", "name": "Boss 老板", "role": "manager", "pin": "5173"}
STAFF = [MANAGER] + [
    {"username": u, "name": n, "role": "advisor", "pin": str(4729 + 11 * i)}
    for i, (u, n, _) in enumerate(PEOPLE)
]


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server_at(STAFF) as live:
        yield live


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_tiles_show_the_initials_people_recognise(server: LiveServer, new_tablet: Any, locale: str) -> None:
    page = new_tablet(locale=locale).new_page()
    page.goto(server.url + "/")
    for username, _, expected in [*PEOPLE, (MANAGER["username"], MANAGER["name"], "老板")]:
        avatar = page.locator(f'[data-testid="staff-tile"][data-username="{username}"] .avatar')
        expect(avatar).to_have_text(expected)


def test_initials_of_names_no_tile_shows(server: LiveServer, new_tablet: Any) -> None:
    page = new_tablet().new_page()
    page.goto(server.url + "/")
    expect(page.locator('[data-testid="staff-tile"]').first).to_be_visible()
    cases = {
        "欧阳娜娜": "娜娜",
        "Li Na (Lina)": "LL",
        "li.na": "LN",
        "  ": "?",
        "Иван Петров": "ИП",
        "김민수": "민수",
        "𠮷田": "𠮷田",  # a character outside the Basic Multilingual Plane stays whole
    }
    got = page.evaluate(
        f"""async () => {{
          const {{ initials }} = await import('/web/js/signin.js');
          return Object.fromEntries(Object.keys({json.dumps(cases)}).map((n) => [n, initials(n)]));
        }}"""
    )
    assert got == cases
