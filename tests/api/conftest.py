from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def app(database: None) -> Any:
    """One app per session; the database was prepared by the `database` fixture (no lifespan)."""
    from api.app import create_app

    return create_app()


@pytest.fixture
async def advisor(app: Any, clean: None) -> AsyncIterator[Any]:
    from tests.factories import signed_in

    c, _ = await signed_in(app, "advisor")
    yield c
    await c.aclose()
