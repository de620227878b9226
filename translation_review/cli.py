"""``python -m translation_review`` (console script ``bimed-review``): migrate, reviewers, import, export,
progress, serve. The store is ``--db`` or ``BIMED_REVIEW_DB`` or ``var/review.sqlite``."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from translation_review import db
from translation_review.service import ReviewError, ReviewService


def _queue_default() -> Path:
    from bimed_assets.paths import asset_storage_dir

    return asset_storage_dir() / "translation_review_queue"  # one Parquet file per shard


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bimed-review", description=__doc__)
    parser.add_argument("--db", help="SQLAlchemy URL of the store (default: $BIMED_REVIEW_DB or var/review.sqlite)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create or upgrade the store's tables (Alembic)")
    add = sub.add_parser("add-reviewer", help="create a reviewer (password asked, or $BIMED_REVIEW_PASSWORD)")
    add.add_argument("username")
    add.add_argument("--role", choices=("reviewer", "admin"), default="reviewer")
    token = sub.add_parser("token", help="issue a new API token for a reviewer (printed once)")
    token.add_argument("username")
    # Cutting a reviewer off: each takes effect at once in every server process (nothing is cached).
    for name, help_ in (("disable", "disable a reviewer: sessions ended, token revoked, leases freed, no login"),
                        ("enable", "enable a disabled reviewer again"),
                        ("revoke-token", "revoke a reviewer's API token"),
                        ("end-sessions", "end every login session of a reviewer"),
                        ("reset-password", "set a new password (asked, or $BIMED_REVIEW_PASSWORD); ends sessions")):
        sub.add_parser(name, help=help_).add_argument("username")
    imp = sub.add_parser("import", help="import the translation review queue (Parquet)")
    imp.add_argument("path", nargs="?", type=Path, default=None)
    exp = sub.add_parser("export", help="export decisions to .parquet or .jsonl")
    exp.add_argument("path", type=Path)
    exp.add_argument("--since", type=int, default=0, help="only decisions with id > SINCE")
    sub.add_parser("progress", help="counts of the queue, as JSON")
    serve = sub.add_parser("serve", help="run the web app (needs $BIMED_REVIEW_SECRET)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8100)
    serve.add_argument("--https-only", action="store_true", help="mark the session cookie Secure, send HSTS")
    serve.add_argument("--trusted-proxy", default=None, metavar="IPS",
                       help="comma-separated addresses of reverse proxies whose X-Forwarded-For is believed "
                            "(default: none; the login throttle counts the peer address)")
    # Reviewers pause for seconds between actions: with uvicorn's 5 s default most actions would reconnect,
    # and a request sent as the server drops an idle connection fails.
    serve.add_argument("--keep-alive", type=int, default=75, help="seconds an idle connection is kept open")
    serve.add_argument("--threads", type=int, default=8,
                       help="requests served at once per process (fewer threads, less GIL contention under load)")
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes (the store is safe across processes; login limits are per process)")
    args = parser.parse_args(argv)

    engine = db.make_engine(args.db)
    if args.command == "migrate":
        db.migrate(engine)
        print(f"migrated {engine.url.render_as_string(hide_password=True)}")
        return 0
    service = ReviewService(engine)
    try:
        if args.command == "add-reviewer":
            password = _password()
            print(service.create_reviewer(args.username, password, args.role))
        elif args.command == "token":
            print(service.issue_token(args.username))
        elif args.command in ("disable", "enable"):
            service.set_disabled(args.username, args.command == "disable")
            print(f"{args.username}: {args.command}d")
        elif args.command == "revoke-token":
            service.revoke_token(args.username)
            print(f"{args.username}: token revoked")
        elif args.command == "end-sessions":
            print(f"{args.username}: {service.end_sessions(args.username)} session(s) ended")
        elif args.command == "reset-password":
            service.reset_password(args.username, _password())
            print(f"{args.username}: password reset, sessions ended")
        elif args.command == "import":
            print(service.import_queue(args.path or _queue_default()))
        elif args.command == "export":
            print(f"{service.export_decisions(args.path, args.since)} decisions → {args.path}")
        elif args.command == "progress":
            print(json.dumps(service.progress(), indent=1))
        elif args.command == "serve":
            _serve(service, args)
    except ReviewError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _serve(service: ReviewService, args: argparse.Namespace) -> None:
    import os

    import uvicorn

    from translation_review.web.app import app_from_env, create_app

    # uvicorn believes X-Forwarded-For from 127.0.0.1 by default: a local client could pick its address.
    options = {"host": args.host, "port": args.port, "timeout_keep_alive": args.keep_alive,
               "proxy_headers": bool(args.trusted_proxy), "forwarded_allow_ips": args.trusted_proxy or ""}
    if args.workers == 1:
        uvicorn.run(create_app(service, https_only=args.https_only, threads=args.threads), **options)
        return
    # Worker processes build their own app from the environment (the store is migrated already, above).
    os.environ["BIMED_REVIEW_DB"] = service.engine.url.render_as_string(hide_password=False)
    os.environ["BIMED_REVIEW_HTTPS_ONLY"] = "1" if args.https_only else ""
    os.environ["BIMED_REVIEW_THREADS"] = str(args.threads)
    uvicorn.run(f"{app_from_env.__module__}:{app_from_env.__name__}", factory=True, workers=args.workers, **options)


def _password() -> str:
    import os

    if os.environ.get("BIMED_REVIEW_PASSWORD"):
        return os.environ["BIMED_REVIEW_PASSWORD"]
    password = getpass.getpass("password: ")
    if password != getpass.getpass("again: "):
        raise ReviewError("the passwords differ")
    return password
