"""Command line: serve, migrate, staff add, backup, demo.

Wrong configuration stops with one line naming the variable and why (exit code 2).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import sqlite3
import sys
from pathlib import Path

from api.policy import ROLES

os.environ.setdefault("PICCOLO_CONF", "piccolo_conf")


def _fail(message: str) -> None:
    print(f"bayline: {message}", file=sys.stderr)
    raise SystemExit(2)


def _settings():  # type: ignore[no-untyped-def]
    from api import settings

    try:
        return settings.get()
    except settings.SettingsError as exc:
        _fail(str(exc))


def migrate(quiet: bool = False) -> None:
    """Apply pending migrations (the Procfile's release step); `quiet` without Piccolo's progress."""
    _settings()
    from piccolo.apps.migrations.commands.forwards import run_forwards

    with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
        result = asyncio.run(run_forwards(app_name="bayline", migration_id="all", fake=False))
    if not result.success:
        _fail(f"migration failed: {result.message}")


def serve(args: argparse.Namespace) -> None:
    config = _settings()
    if not args.no_migrate:
        migrate()
    import uvicorn

    port = args.port or config.port  # PORT is checked with the other settings (one line if wrong)
    where = "SQLite " + str(config.sqlite_path) if config.is_sqlite else "PostgreSQL"
    shown = "localhost" if args.host in ("0.0.0.0", "127.0.0.1") else args.host  # noqa: S104
    print(f"Bayline on {where} — open http://{shown}:{port}/", flush=True)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=port,
        workers=args.workers,
        # X-Forwarded-For is read by the app alone (api/clientaddr.py, TRUSTED_PROXIES): uvicorn's own
        # walk would rewrite the peer first by slightly different rules (unreadable hops, ::ffff:
        # peers), and the app would then walk the header a second time from the rewritten peer.
        # Nothing reads X-Forwarded-Proto: cookies are Secure by SECURE_COOKIES, not by scheme.
        proxy_headers=False,
        log_level="info",
        # Connections let go of their objects as they end (api/realtime/connections.py).
        http="api.realtime.connections:HttpProtocol",
        ws="api.realtime.connections:WebSocketProtocol",
        # Live messages are small JSON: deflate doubles the CPU per delivery and adds ~35 KiB per
        # socket (research/performance-notes.md §2), and the hub sends frames uncompressed anyway.
        ws_per_message_deflate=False,
    )


def staff_add(args: argparse.Namespace) -> None:
    _settings()
    # The first manager is often added before the first start: bring the database up to date first
    # (a no-op when it is) rather than fail on a missing table.
    migrate(quiet=True)
    from api import auth, workshop
    from api.staff import add_staff

    try:
        workshop.check_pin(args.pin)
    except workshop.Invalid as exc:
        _fail(f"--pin: {exc.message}")
    username = args.username.strip().lower()
    try:
        staff_id = asyncio.run(add_staff(username, args.name, args.role, auth.hash_pin(args.pin)))
    except workshop.DomainError as exc:
        _fail(exc.message)
    print(f"Added {args.role} {args.name} ({username}), id {staff_id}.")


def backup(args: argparse.Namespace) -> None:
    config = _settings()
    target = Path(args.to)
    if not config.is_sqlite:
        _fail('backup: on PostgreSQL use pg_dump, e.g. pg_dump -Fc "$DATABASE_URL" > bayline.dump')
    if target.exists():
        _fail(f"backup: {target} exists already; choose a new file name")
    if not config.sqlite_path.exists():
        _fail(f"backup: no database at {config.sqlite_path}")
    target.parent.mkdir(parents=True, exist_ok=True)
    # VACUUM INTO writes a consistent copy while the app keeps running (a file copy of a live
    # WAL database can be corrupt).
    connection = sqlite3.connect(config.sqlite_path, timeout=30)
    try:
        connection.execute("VACUUM INTO ?", (str(target),))
    finally:
        connection.close()
    check = sqlite3.connect(target)
    try:
        result = check.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        check.close()
    if result != "ok":
        _fail(f"backup: integrity check of {target} failed: {result}")
    print(f"Backup written to {target} ({target.stat().st_size // 1024} KiB, integrity ok).")


def demo(_: argparse.Namespace) -> None:
    _settings()
    migrate()
    from api import workshop
    from api.demo import fill

    try:
        print(asyncio.run(fill()))
    except workshop.DomainError as exc:  # a shop in use: the demo would add staff with known PINs
        _fail(f"demo: {exc.message}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m api", description="Bayline workshop server")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="start the web server (applies migrations first)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default: $PORT, else 8000")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations")

    sub.add_parser("migrate", help="apply pending migrations")

    staff = sub.add_parser("staff", help="manage staff").add_subparsers(dest="action", required=True)
    add = staff.add_parser("add", help="add a staff member")
    add.add_argument("--username", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=list(ROLES))
    add.add_argument("--pin", required=True, help="4–8 digits")

    b = sub.add_parser("backup", help="write a consistent copy of the SQLite database")
    b.add_argument("--to", required=True, metavar="FILE")

    sub.add_parser("demo", help="fill a realistic demo workshop")

    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args)
    elif args.command == "migrate":
        migrate()
        print("Migrations applied.")
    elif args.command == "staff":
        staff_add(args)
    elif args.command == "backup":
        backup(args)
    elif args.command == "demo":
        demo(args)


def _serve_on_c_malloc(argv: list[str]) -> None:
    """`serve` runs with PYTHONMALLOC=malloc unless an allocator was chosen: memory freed by a burst
    of closed sockets can then go back to the system (api/realtime/reclaim.py). It has to be set
    before the interpreter starts, hence the exec (same process, same arguments)."""
    if argv[:1] == ["serve"] and "PYTHONMALLOC" not in os.environ:
        os.environ["PYTHONMALLOC"] = "malloc"
        os.execv(sys.executable, sys.orig_argv)  # noqa: S606 - this same program, its own arguments


if __name__ == "__main__":
    _serve_on_c_malloc(sys.argv[1:])
    main()
