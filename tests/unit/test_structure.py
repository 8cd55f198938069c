"""Rules of the layout that a reader relies on, checked on the source: one writer of an
order's state and money, and no query called by a name that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from reseller import db

PACKAGE = Path(__file__).parent.parent.parent / "reseller"
LIFECYCLE_SQL = PACKAGE.parent / "sql" / "queries" / "lifecycle.sql"


def test_only_the_lifecycle_runs_the_statements_that_change_an_order() -> None:
    names = re.findall(r"^-- name: (\w+)", LIFECYCLE_SQL.read_text(), re.MULTILINE)
    allowed = {PACKAGE / "orders" / "lifecycle.py", PACKAGE / "orders" / "refunds.py"}
    outside = [
        f"{path.relative_to(PACKAGE)}: Q.{name}"
        for path in PACKAGE.rglob("*.py")
        if path not in allowed
        for name in names
        if re.search(rf"\bQ\.{name}\b", path.read_text())
    ]
    assert names
    assert outside == []


def test_every_named_query_the_code_uses_exists() -> None:
    used = {
        name
        for path in [*PACKAGE.rglob("*.py"), *(PACKAGE.parent / "bench").rglob("*.py")]
        for name in re.findall(r"(?<!`)\bQ\.(\w+)", path.read_text())
    }
    missing = [name for name in sorted(used) if not hasattr(db.Q, name)]
    assert used
    assert missing == []


def test_only_the_data_layer_imports_the_driver() -> None:
    importers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if re.search(r"^\s*(import asyncpg|from asyncpg)", path.read_text(), re.MULTILINE)
    )
    assert importers == ["db.py"]


def test_the_domain_opens_transactions_only_through_the_database() -> None:
    """`pool.acquire()` would hand out a raw connection whose errors nobody translates."""
    raw = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "db.py" and "simulator" not in path.parts
        if re.search(r"pool\.acquire\(", path.read_text())
    ]
    assert raw == []


def test_modules_log_through_loggers_bound_once_per_configuration() -> None:
    """structlog's own proxies rebind at every call (5 µs a line), and its contextvars scan the
    whole context at every line: modules use logs.get_logger() and logs.bind()."""
    logs_module = PACKAGE / "logs.py"
    outside = [
        f"{path.relative_to(PACKAGE)}: {use}"
        for path in PACKAGE.rglob("*.py")
        if path != logs_module
        for use in re.findall(r"structlog\.(?:get_logger|contextvars)\b", path.read_text())
    ]
    assert "structlog.get_logger" in logs_module.read_text()
    assert outside == []
