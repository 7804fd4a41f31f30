"""Typed settings, read once from the environment and loud when wrong.

Every problem is reported as one line naming the variable and why, so an operator can fix it
without reading a traceback (see `SettingsError`).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import time
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class SettingsError(Exception):
    """Configuration that cannot work: the message names the variable and the reason."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    photos_dir: Path
    secret: str = field(repr=False)
    redis_url: str | None
    shop_timezone: str
    allowed_origins: tuple[str, ...]
    secure_cookies: bool
    session_idle_minutes: int
    # Runaway-timer guard: job clocks still running at this time of day (shop time) are stopped.
    autostop_at: time = time(20, 0)
    port: int = 8000  # `serve`'s default port
    # Reverse proxies whose X-Forwarded-For is believed (sign-in throttling counts per client address).
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def sqlite_path(self) -> Path:
        """The file behind a `sqlite:///path` URL (relative paths are relative to the cwd)."""
        return Path(self.database_url.removeprefix("sqlite:///"))


def _secret(data_dir: Path, shared_by: str | None = None) -> str:
    """BAYLINE_SECRET, or one generated once and kept in DATA_DIR so restarts keep sessions.

    `shared_by` names what makes this a several-worker (or several-host) setup: then each host
    would generate a key of its own, and PINs, CSRF tokens and status links would fail across them.
    """
    value = os.environ.get("BAYLINE_SECRET")
    if value is not None:
        if len(value) < 16:
            raise SettingsError("BAYLINE_SECRET: must be at least 16 characters long")
        return value
    path = data_dir / "secret.key"
    if shared_by:
        keep = f" (to keep today's PINs and links, use the key in {path})" if path.exists() else ""
        raise SettingsError(
            f"BAYLINE_SECRET: must be set explicitly with {shared_by}, which serves several workers or "
            f"hosts: each would generate its own and PINs and sign-ins would fail across them{keep}"
        )
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(48)
    # Write then rename: two workers starting at once must not read a half-written key.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(value)
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)  # fails if another process won the race; theirs is kept
    except FileExistsError:
        value = path.read_text().strip()
    finally:
        tmp.unlink(missing_ok=True)
    return value


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}: must be between {low} and {high}, got {value}")
    return value


def _networks(name: str) -> tuple[IPv4Network | IPv6Network, ...]:
    networks = []
    for item in (os.environ.get(name) or "").split(","):
        if not item.strip():
            continue
        try:
            networks.append(ip_network(item.strip(), strict=False))
        except ValueError:
            raise SettingsError(
                f"{name}: {item.strip()!r} is not an IP address or network (e.g. 10.0.0.2 or 10.0.0.0/8)"
            ) from None
    return tuple(networks)


def load() -> Settings:
    """Read the environment once; raise SettingsError with one clear line when it cannot work."""
    data_dir = Path(os.environ.get("DATA_DIR") or "./data")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"DATA_DIR: cannot create {str(data_dir)!r}: {exc.strerror}") from None
    if not os.access(data_dir, os.W_OK):
        raise SettingsError(f"DATA_DIR: {str(data_dir)!r} is not writable")

    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'bayline.sqlite3'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url.removeprefix("postgres://")
    if not (database_url.startswith("sqlite:///") or database_url.startswith("postgresql://")):
        shown = database_url.split("@")[-1][:60]
        raise SettingsError(f"DATABASE_URL: must start with sqlite:/// or postgresql://, got {shown!r}")

    photos_dir = Path(os.environ.get("PHOTOS_DIR") or data_dir / "photos")

    redis_url = os.environ.get("REDIS_URL") or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError("REDIS_URL: must start with redis://, rediss:// or unix://")

    tz = os.environ.get("SHOP_TIMEZONE") or "Asia/Shanghai"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"SHOP_TIMEZONE: unknown time zone {tz!r}; use an IANA name such as Asia/Shanghai"
        ) from None

    origins = tuple(
        o.strip().rstrip("/") for o in (os.environ.get("ALLOWED_ORIGINS") or "").split(",") if o.strip()
    )
    for origin in origins:
        if not origin.startswith(("http://", "https://")):
            raise SettingsError(f"ALLOWED_ORIGINS: {origin!r} must start with http:// or https://")

    raw_autostop = os.environ.get("AUTOSTOP_AT") or "20:00"
    try:
        autostop_at = time.fromisoformat(raw_autostop)
    except ValueError:
        raise SettingsError(
            f"AUTOSTOP_AT: {raw_autostop!r} is not a time of day; use HH:MM in shop time, e.g. 20:00"
        ) from None

    secure = (os.environ.get("SECURE_COOKIES") or "").lower()
    if secure not in ("", "0", "1", "true", "false"):
        raise SettingsError("SECURE_COOKIES: must be 1/true or 0/false")

    # PostgreSQL or Redis means several workers or hosts: a key generated per host cannot serve them.
    shared_by = "PostgreSQL" if not database_url.startswith("sqlite:") else "REDIS_URL" if redis_url else None

    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        photos_dir=photos_dir,
        secret=_secret(data_dir, shared_by),
        redis_url=redis_url,
        shop_timezone=tz,
        allowed_origins=origins,
        secure_cookies=secure in ("1", "true"),
        session_idle_minutes=_int("SESSION_IDLE_MINUTES", 12 * 60, 5, 7 * 24 * 60),
        autostop_at=autostop_at,
        port=_int("PORT", 8000, 1, 65535),
        trusted_proxies=_networks("TRUSTED_PROXIES"),
    )


_settings: Settings | None = None


def get() -> Settings:
    """The process-wide settings, loaded on first use."""
    global _settings
    if _settings is None:
        _settings = load()
    return _settings


def reset() -> None:
    """Forget loaded settings (tests change the environment between apps)."""
    global _settings
    _settings = None
