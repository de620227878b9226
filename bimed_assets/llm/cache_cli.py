"""Inspect and purge the LLM cache: ``python -m bimed_assets.llm.cache_cli {inspect,purge} [filters]``.

    python -m bimed_assets.llm.cache_cli inspect                        # entries, failed, tokens per model/endpoint
    python -m bimed_assets.llm.cache_cli inspect --failed --rows 20     # and the first 20 failed entries
    python -m bimed_assets.llm.cache_cli purge --endpoint http://gpu-node:8000/v1 \\
        --since 2026-12-01T22:00 --until 2026-12-02T03:00              # a bad period of one endpoint
    python -m bimed_assets.llm.cache_cli purge --run 1c2d...            # everything one run received
    python -m bimed_assets.llm.cache_cli purge --item medqa-42 --failed

Filters combine (all must match); times are ISO 8601, UTC unless they say otherwise. Purged requests are asked
again (and paid) by the next build, and the items whose kept results used them are walked again.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

from bimed_assets.llm.cache import CompletionCache, Selection, shown
from bimed_assets.paths import var_dir


def _timestamp(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time (e.g. 2026-12-01T22:00)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _when(timestamp: float | None) -> str:
    return "" if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m bimed_assets.llm.cache_cli", description=__doc__.splitlines()[0])
    commands = main.add_subparsers(dest="command", required=True)
    for name, text in (("inspect", "count the selected entries (and list some with --rows)"),
                       ("purge", "delete the selected entries, so that the next build asks for them again")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--cache", default=os.environ.get("BIMED_LLM_CACHE") or str(var_dir() / "llm_cache.sqlite"),
                             help="a SQLite file or a postgresql:// URL (default: $BIMED_LLM_CACHE, else the var/ file)")
        command.add_argument("--model")
        command.add_argument("--endpoint", help="base URL, as the llm resource's base_url")
        command.add_argument("--run", dest="run_id", help="Dagster run id")
        command.add_argument("--item", dest="item_id")
        command.add_argument("--purpose", help="translate, judge, back_translate, chat, ...")
        command.add_argument("--since", type=_timestamp)
        command.add_argument("--until", type=_timestamp)
        command.add_argument("--failed", action="store_true", help="only answers that could not be used")
        if name == "inspect":
            command.add_argument("--rows", type=int, default=0, help="also list this many entries")
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    selection = Selection(args.model, args.endpoint, args.run_id, args.item_id, args.purpose, args.since,
                          args.until, args.failed)
    cache = CompletionCache(args.cache)
    try:
        if args.command == "purge":
            print(f"purged {cache.purge(selection)} entries from {shown(args.cache)}")
            return 0
        summary = cache.summary(selection)
        print("model\tendpoint\tentries\tfailed\ttokens\tfirst\tlast")
        for row in summary:
            print("\t".join(str(v) for v in (row["model"], row["endpoint"], row["entries"], row["failed"],
                                              row["tokens"], _when(row["first"]), _when(row["last"]))))
        for call in cache.select(selection, args.rows) if args.rows else ():
            print(f"{_when(call.created_at)}  {call.key[:12]}  {call.item_id}  {call.purpose}  run={call.run_id}  "
                  f"{call.error or 'ok'}")
        return 0
    finally:
        cache.close()


if __name__ == "__main__":
    sys.exit(main())
