"""Structured logs: one JSON object per line on stdout (journald-friendly), readable lines on a
terminal. What is logged is chosen field by field; request bodies, keys and DSNs never are.

Every API request writes a line, so the JSON path is kept short (measured in BENCHMARKS.md):
loggers are bound once per configuration, not at every call; the timestamp is a datetime that
orjson renders; keys are redacted in the rendered line, in one scan, instead of field by field;
each line is written to one long-lived stream object."""

from __future__ import annotations

import datetime
import logging
import os
import re
import sys
from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

import orjson
import structlog

# An API key is a query or form parameter: `key=…` up to the next separator. Anything derived
# from a request (aiohttp quotes a malformed request line whole) is scrubbed of it.
_KEY_PATTERN = r"(key=)[^&\s\"'<>\\]*"
_KEY = re.compile(_KEY_PATTERN, re.IGNORECASE)
_KEY_BYTES = re.compile(_KEY_PATTERN.encode(), re.IGNORECASE)
REDACTED = "[redacted]"
# Set by `serve --workers N` for each of its processes (1…N): their lines carry it as `worker`.
WORKER_ENV = "RESELLER_WORKER"

_generation = 0  # bumped by every (re)configuration: bound loggers are rebuilt after it
_level = logging.INFO
# The fields every line logged for the current request carries (its id, customer, action): one
# variable holding a mapping that is replaced, never changed, so a task started meanwhile keeps
# what it was started with. (structlog's contextvars keep one variable per field and scan the
# whole context for them at every line.)
_context: ContextVar[Mapping[str, Any]] = ContextVar("log_context", default=MappingProxyType({}))


def new_context(**fields: Any) -> None:
    """From here on in this task, lines carry `fields` and nothing bound before."""
    _context.set(fields)


def bind(**fields: Any) -> None:
    """From here on in this task, lines also carry `fields`."""
    _context.set({**_context.get(), **fields})


def get_logger() -> Logger:
    return Logger()


class Logger:
    """`structlog.get_logger()` that binds once per configuration. structlog's lazy proxy binds
    at every call (about 5 µs a line), and its own cache would keep a logger configured for a
    CLI command after `serve` reconfigures; this one follows `configure` and `set_level`.
    (structlog.testing.capture_logs swaps the processors in place: followed too.)"""

    __slots__ = ("_bound", "_generation")

    def __init__(self) -> None:
        self._bound: Any = None
        self._generation = -1

    def __getattr__(self, name: str) -> Any:
        if self._generation != _generation:
            self._bound, self._generation = structlog.get_logger().bind(), _generation
        return getattr(self._bound, name)


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Remove API keys from every text field of a log line, whoever wrote it (terminal lines)."""
    for name, value in event.items():
        if isinstance(value, str) and "key=" in value.lower():
            event[name] = _KEY.sub(rf"\1{REDACTED}", value)
    return event


def redact_line(line: bytes) -> bytes:
    """The same rule on a rendered JSON line: nested values included. JSON escapes a quote or a
    backslash with a backslash, where the rule stops as it does at the character itself."""
    if b"key=" not in line.lower():
        return line
    return _KEY_BYTES.sub(rb"\1" + REDACTED.encode(), line)


def configure(*, level: int = logging.INFO, to_stderr: bool = False) -> None:
    """Services log to stdout; operator commands to stderr (their stdout is their answer).
    The stream is looked up at each write, so a replaced sys.stdout is followed. The standard
    library's loggers (aiohttp's, asyncio's) go through the same processors: every line is one
    JSON object, redacted the same way."""
    name = "stderr" if to_stderr else "stdout"
    stream = _Stream(name)
    if getattr(sys, name).isatty():  # readable lines, redacted field by field
        stamp: Any = structlog.processors.TimeStamper(fmt="iso", utc=True)
        render: list[Any] = [redact, structlog.dev.ConsoleRenderer()]
        render_text = render
    else:  # JSON, redacted once rendered: bytes, or text for the standard library's handler
        stamp, render, render_text = _timestamp, [_render_json], [_render_json_text]
    shared: list[Any] = [structlog.processors.add_log_level, stamp]
    if worker := os.environ.get(WORKER_ENV):
        shared.append(_tagged(int(worker) if worker.isdigit() else worker))
    structlog.configure(
        processors=[_add_context, *shared, structlog.processors.format_exc_info, *render],
        logger_factory=lambda *_: stream,
        cache_logger_on_first_use=False,  # Logger caches, and follows a reconfigure
    )
    handler = _CurrentStream(name)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                *render_text,
            ],
        )
    )
    logging.getLogger().handlers = [handler]
    set_level(level)


def set_level(level: int) -> int:
    """Log from `level` on, keeping the rest of the configuration; the level it replaces."""
    global _generation, _level
    previous, _level = _level, level
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(level))
    _generation += 1
    logging.getLogger().setLevel(level)
    for library, quieter in _QUIETER.items():
        logging.getLogger(library).setLevel(max(level, quieter))
    return previous


# Libraries that repeat themselves: asyncpg warns, with a traceback, at every retry of its pool
# floor while the database is away (jobs.outage reports an outage once); APScheduler logs two
# info lines per job run (the scheduler logs its own `job_run`).
_QUIETER = {"asyncpg.pool": logging.ERROR, "apscheduler": logging.WARNING}


def _add_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name, value in _context.get().items():
        event.setdefault(name, value)  # a field given to the line itself wins
    return event


def _timestamp(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event["timestamp"] = datetime.datetime.now(datetime.UTC)  # orjson writes ISO 8601, `Z`
    return event


def _render_json(_: Any, __: str, event: MutableMapping[str, Any]) -> bytes:
    return redact_line(orjson.dumps(event, default=repr, option=orjson.OPT_UTC_Z))


def _render_json_text(logger: Any, method: str, event: MutableMapping[str, Any]) -> str:
    return _render_json(logger, method, event).decode()  # a logging.Formatter returns text


def _tagged(worker: int | str) -> Any:
    def add(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event["worker"] = worker
        return event

    return add


class _Stream:
    """What structlog writes each rendered line to: sys.stdout or sys.stderr as it is at the
    write (tests and the CLI replace them). JSON lines are bytes, terminal lines text; one
    write each (a buffered stream's write is atomic between threads), then a flush so that a
    line is out when it is logged."""

    def __init__(self, name: str) -> None:
        self._name = name

    def msg(self, line: bytes | str) -> None:
        stream = getattr(sys, self._name)
        if isinstance(line, bytes):
            stream = stream.buffer
            stream.write(line + b"\n")
        else:
            stream.write(line + "\n")
        stream.flush()

    debug = info = warning = error = critical = exception = fatal = failure = err = msg


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
