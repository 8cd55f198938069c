"""Structured logs: one JSON object per line on stdout (journald-friendly), readable lines on a
terminal. What is logged is chosen field by field; request bodies, keys and DSNs never are."""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog


def configure(*, level: int = logging.INFO, to_stderr: bool = False) -> None:
    """Services log to stdout; operator commands to stderr (their stdout is their answer).
    The stream is looked up at each write, so a replaced sys.stdout is followed."""
    name = "stderr" if to_stderr else "stdout"
    console = getattr(sys, name).isatty()

    def factory(*_: Any) -> Any:
        stream = getattr(sys, name)
        return structlog.PrintLogger(stream) if console else structlog.BytesLogger(stream.buffer)

    renderer: Any = (
        structlog.dev.ConsoleRenderer()
        if console
        else structlog.processors.JSONRenderer(serializer=orjson.dumps)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=False,  # a reconfigure (CLI → service) takes effect
    )
