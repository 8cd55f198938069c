"""Structured logs: one JSON object per line on stdout (journald-friendly), readable lines on a
terminal. What is logged is chosen field by field; request bodies, keys and DSNs never are."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

# An API key is a query or form parameter: `key=…` up to the next separator. Anything derived
# from a request (aiohttp quotes a malformed request line whole) is scrubbed of it.
_KEY = re.compile(r"(key=)[^&\s\"'<>\\]*", re.IGNORECASE)
REDACTED = "[redacted]"
# Set by `serve --workers N` for each of its processes (1…N): their lines carry it as `worker`.
WORKER_ENV = "RESELLER_WORKER"


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Remove API keys from every text field of a log line, whoever wrote it."""
    for name, value in event.items():
        if isinstance(value, str) and "key=" in value.lower():
            event[name] = _KEY.sub(rf"\1{REDACTED}", value)
    return event


def configure(*, level: int = logging.INFO, to_stderr: bool = False) -> None:
    """Services log to stdout; operator commands to stderr (their stdout is their answer).
    The stream is looked up at each write, so a replaced sys.stdout is followed. The standard
    library's loggers (aiohttp's, asyncio's) go through the same processors: every line is one
    JSON object, redacted the same way."""
    name = "stderr" if to_stderr else "stdout"
    console = getattr(sys, name).isatty()

    def factory(*_: Any) -> Any:
        stream = getattr(sys, name)
        return structlog.PrintLogger(stream) if console else structlog.BytesLogger(stream.buffer)

    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if worker := os.environ.get(WORKER_ENV):
        shared.append(_tagged(int(worker) if worker.isdigit() else worker))
    renderer: Any = (
        structlog.dev.ConsoleRenderer()
        if console
        else structlog.processors.JSONRenderer(serializer=orjson.dumps)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=False,  # a reconfigure (CLI → service) takes effect
    )
    text_renderer: Any = (
        structlog.dev.ConsoleRenderer()
        if console
        else structlog.processors.JSONRenderer(serializer=lambda v, **_: orjson.dumps(v).decode())
    )
    handler = _CurrentStream(name)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                text_renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for library, quieter in _QUIETER.items():
        logging.getLogger(library).setLevel(max(level, quieter))


# Libraries that repeat themselves: asyncpg warns, with a traceback, at every retry of its pool
# floor while the database is away (jobs.outage reports an outage once); APScheduler logs two
# info lines per job run (the scheduler logs its own `job_run`).
_QUIETER = {"asyncpg.pool": logging.ERROR, "apscheduler": logging.WARNING}


def _tagged(worker: int | str) -> Any:
    def add(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event["worker"] = worker
        return event

    return add


class _CurrentStream(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to sys.stdout/stderr as they are at each write (tests and the CLI replace them)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return getattr(sys, self._name)

    @stream.setter
    def stream(self, _: Any) -> None:
        pass
