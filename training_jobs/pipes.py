"""Dagster Pipes glue shared by the entry points: config from Pipes extras, else from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from dagster_pipes import (
    DAGSTER_PIPES_MESSAGES_ENV_VAR,
    PipesContext,
    PipesEnvVarParamsLoader,
    encode_env_var,
    open_dagster_pipes,
)

T = TypeVar("T")

logger = logging.getLogger("training_jobs")


def under_pipes() -> bool:
    return PipesEnvVarParamsLoader().is_dagster_pipes_process()


def config_from(cls: type[T], extras: dict[str, Any]) -> T:
    """Build a config dataclass, refusing unknown keys so that a typo in the asset's extras fails the run."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(extras) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}; known: {sorted(names)}")
    return cls(**extras)


def parse_cli(cls: type[T], argv: list[str] | None) -> dict[str, Any]:
    """One `--key value` option per dataclass field; values are parsed as JSON where they parse (numbers, lists)."""
    parser = argparse.ArgumentParser(prog=f"python -m training_jobs ({cls.__name__})")
    for f in dataclasses.fields(cls):
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=argparse.SUPPRESS)
    parsed = vars(parser.parse_args(argv))

    def value(raw: str) -> Any:
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw

    return {k: value(v) for k, v in parsed.items()}


@contextmanager
def job(cls: type[T], argv: list[str] | None = None) -> Iterator[tuple[PipesContext, T]]:
    """Open Pipes (a no-op mock outside Dagster) and read the job's config from extras or the CLI."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    pipes = under_pipes()
    if pipes and int(os.environ.get("RANK", "0")) > 0:
        # Under accelerate every rank opens Pipes to read its config; only rank 0 may talk to Dagster, or the
        # session would see one "opened"/"closed" per GPU.
        os.environ[DAGSTER_PIPES_MESSAGES_ENV_VAR] = encode_env_var({"path": os.devnull})
    with open_dagster_pipes() as context:
        extras = dict(context.extras) if pipes else parse_cli(cls, argv)
        yield context, config_from(cls, extras)


def log(context: PipesContext, message: str) -> None:
    """To the Dagster run's log under Pipes, and to stderr for local runs."""
    logger.info(message)
    if under_pipes():
        context.log.info(message)


def report(context: PipesContext, metadata: dict[str, Any]) -> None:
    """Report the asset; Pipes only infers scalar metadata types, so dicts and lists go as explicit JSON."""
    context.report_asset_materialization(metadata={
        k: {"raw_value": v, "type": "json"} if isinstance(v, (dict, list)) else v for k, v in metadata.items()
    })
