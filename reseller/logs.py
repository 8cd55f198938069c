"""Structured logs: one JSON object per line on stdout (journald-friendly), readable lines on a
terminal. What is logged is chosen field by field; request bodies, keys and DSNs never are."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import orjson
import structlog


def configure(*, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Services log to stdout; operator commands to stderr (their stdout is their answer)."""
    stream = stream or sys.stdout
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    if stream.isatty():
        processors = [*shared, structlog.dev.ConsoleRenderer()]
        factory: structlog.typing.WrappedLogger = structlog.PrintLoggerFactory(stream)
    else:
        processors = [*shared, structlog.processors.JSONRenderer(serializer=orjson.dumps)]
        factory = structlog.BytesLoggerFactory(stream.buffer)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=False,  # a reconfigure (CLI → service) must take effect
    )
