"""The PWA shell: the service worker takes control, and the app still opens with the Wi-Fi gone."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import LiveServer
from tests.browser.ui import TEXT


def test_service_worker_controls_page_and_shell_opens_offline(
    live_server: LiveServer, new_tablet: Any
) -> None:
    context = new_tablet(locale="en-US")
    page = context.new_page()
    page.goto(live_server.url + "/")
    expect(page.locator("main h1")).to_have_text(TEXT["en"]["signin.title"])

    # Registered, installed (the shell is precached) and active.
    scope = page.evaluate(
        """() => Promise.race([
            navigator.serviceWorker.ready.then((reg) => reg.active && reg.scope),
            new Promise((_, reject) => setTimeout(() => reject(new Error('no active service worker in 10 s')), 10000)),
        ])"""
    )
    assert scope == live_server.url + "/"
    cached = page.evaluate(
        """async () => {
            const names = await caches.keys();
            const cache = await caches.open(names.find((n) => n.startsWith('bayline-shell-')));
            return (await cache.keys()).map((r) => new URL(r.url).pathname);
        }"""
    )
    assert {"/", "/web/js/app.js", "/web/css/app.css"} <= set(cached), cached

    page.reload()
    expect(page.locator("main h1")).to_have_text(TEXT["en"]["signin.title"])
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    assert page.evaluate("navigator.serviceWorker.controller.scriptURL") == live_server.url + "/sw.js"
    topbar_colour = page.get_by_test_id("topbar").evaluate("(el) => getComputedStyle(el).backgroundColor")

    # Wi-Fi gone: the page still opens from the cached shell, styled, and says what is wrong.
    shell_fetches = live_server.requests_for("/")
    context.set_offline(True)
    try:
        response = page.reload()
        assert response is not None and response.from_service_worker
        # ...from the cache: the worker's own fetch was offline too, the server never saw a request.
        assert live_server.requests_for("/") == shell_fetches
        expect(page.get_by_test_id("topbar")).to_be_visible()
        expect(page.locator("main h1")).to_have_text(TEXT["en"]["boot.failedTitle"])
        expect(page.get_by_role("button", name="Try again")).to_be_visible()
        assert (
            page.get_by_test_id("topbar").evaluate("(el) => getComputedStyle(el).backgroundColor")
            == topbar_colour
        )
        assert page.evaluate("navigator.onLine") is False
        # "Try again" with the Wi-Fi still gone says the same, calmly.
        page.get_by_role("button", name="Try again").tap()
        expect(page.locator("main h1")).to_have_text(TEXT["en"]["boot.failedTitle"])
    finally:
        context.set_offline(False)

    # Back online, it recovers by itself: no tap, no reload.
    expect(page.locator("main h1")).to_have_text(TEXT["en"]["signin.title"])
    expect(page.get_by_role("button", name="Try again")).to_have_count(0)
