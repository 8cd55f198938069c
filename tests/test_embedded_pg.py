"""Real PostgreSQL servers from reseller.embedded_pg; all processes started here are stopped."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from reseller.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError

pytestmark = pytest.mark.slow

_CHILD = """
import sys, time
from pathlib import Path
from reseller.embedded_pg import EmbeddedPostgres
data = Path(sys.argv[1])
EmbeddedPostgres(data, fast=True).start()
print((data / "postmaster.pid").read_text().split()[0], flush=True)
time.sleep(60)
"""


def _fetchval(dsn: str, sql: str) -> Any:
    async def run() -> Any:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    return asyncio.run(run())


def _alive(pid: int) -> bool:
    # A killed process reparented to init may linger as a zombie, which is dead for our purpose.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            kids.append(int(stat.parent.name))
    return kids


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().split()[0])


def _wait_gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (alive := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised, stopped cluster: copying it is ~4x faster than running initdb again."""
    data = tmp_path_factory.mktemp("tpl") / "pg"
    with EmbeddedPostgres(data, fast=True):
        pass
    return data


@pytest.fixture
def cluster(template: Path, tmp_path: Path) -> Path:
    data = tmp_path / "pg"
    shutil.copytree(template, data)
    return data


@pytest.fixture
def servers() -> Iterator[list[EmbeddedPostgres]]:
    """Servers registered here are stopped even when the test fails."""
    started: list[EmbeddedPostgres] = []
    yield started
    for pg in started:
        pg.stop()


def test_fresh_folder_serves_queries_and_stop_ends_server(
    tmp_path: Path, servers: list[EmbeddedPostgres]
) -> None:
    data = tmp_path / "new" / "pg"
    pg = EmbeddedPostgres(data, fast=True)
    servers.append(pg)
    dsn = pg.start()
    assert pg.owned
    assert pg.dsn == dsn
    assert _fetchval(dsn, "SELECT 1") == 1
    pid = _postmaster_pid(data)

    pg.stop()
    assert not _alive(pid)
    assert not (data / "postmaster.pid").exists()
    pg.stop()  # idempotent
    with pytest.raises(EmbeddedPostgresError, match="not started"):
        _ = pg.dsn


def test_restart_keeps_data(cluster: Path, servers: list[EmbeddedPostgres]) -> None:
    pg = EmbeddedPostgres(cluster, fast=True)
    servers.append(pg)
    dsn = pg.start()
    _fetchval(dsn, "CREATE TABLE kept (x int)")
    _fetchval(dsn, "INSERT INTO kept VALUES (42)")
    pg.stop()

    assert _fetchval(pg.start(), "SELECT x FROM kept") == 42


def test_second_instance_reattaches_without_owning(
    cluster: Path, servers: list[EmbeddedPostgres]
) -> None:
    owner = EmbeddedPostgres(cluster, fast=True)
    servers.append(owner)
    owner.start()
    pid = _postmaster_pid(cluster)

    guest = EmbeddedPostgres(cluster)
    servers.append(guest)
    assert _fetchval(guest.start(), "SELECT 1") == 1
    assert not guest.owned
    guest.stop()

    assert _alive(pid)
    assert _fetchval(owner.dsn, "SELECT 2") == 2


def test_stale_pid_file_after_crash_is_ignored(
    cluster: Path, servers: list[EmbeddedPostgres]
) -> None:
    crashed = EmbeddedPostgres(cluster, fast=True)
    servers.append(crashed)
    crashed.start()
    pid = _postmaster_pid(cluster)
    os.kill(pid, signal.SIGKILL)
    crashed.stop()  # only reaps the dead child
    assert _postmaster_pid(cluster) == pid  # the lock file is left behind

    pg = EmbeddedPostgres(cluster, fast=True)
    servers.append(pg)
    assert _fetchval(pg.start(), "SELECT 1") == 1
    assert pg.owned
    assert _postmaster_pid(cluster) != pid


def test_no_orphan_after_parent_sigkill(cluster: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(cluster)], stdout=subprocess.PIPE, text=True
    )
    pids: list[int] = []
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip().isdigit(), f"child did not report a postmaster PID: {line!r}"
        postmaster = int(line)
        pids = [postmaster, *_children(postmaster)]
        assert len(pids) > 1  # the backends we also expect to vanish

        child.kill()
        child.wait()
        assert _wait_gone(pids) == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(os.geteuid() != 0, reason="root-only: runs PostgreSQL in a user namespace")
def test_root_changes_no_parent_permission(tmp_path: Path, servers: list[EmbeddedPostgres]) -> None:
    folders = [tmp_path, *tmp_path.parents]
    modes = {p: p.stat().st_mode for p in folders}
    passwd, group = Path("/etc/passwd").read_bytes(), Path("/etc/group").read_bytes()

    pg = EmbeddedPostgres(tmp_path / "pg", fast=True)
    servers.append(pg)
    assert _fetchval(pg.start(), "SELECT current_user") == "postgres"

    assert {p: p.stat().st_mode for p in folders} == modes
    assert Path("/etc/passwd").read_bytes() == passwd
    assert Path("/etc/group").read_bytes() == group


def test_too_long_data_dir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedPostgresError, match=r"107-byte Unix socket limit.*shorter folder"):
        EmbeddedPostgres(tmp_path / ("x" * 100), fast=True).start()
    assert not (tmp_path / ("x" * 100)).exists()


@pytest.mark.parametrize(
    ("a_file", "reason"),
    [
        ("", "cannot start PostgreSQL in"),  # the data dir itself is a file: no folder inside it
        ("postgres", "initdb of"),  # the cluster folder is a file: initdb refuses it
    ],
)
def test_an_embedded_server_that_cannot_start_is_one_cli_line_and_exit_1(
    tmp_path: Path, a_file: str, reason: str
) -> None:
    data = tmp_path / "data"
    (data / a_file).parent.mkdir(parents=True, exist_ok=True)
    (data / a_file).write_text("not a folder")
    env = {k: v for k, v in os.environ.items() if k not in ("RESELLER_DSN", "RESELLER_CONFIG")}
    done = subprocess.run(
        [sys.executable, "-m", "reseller", "--no-config", "migrate"],
        env={**env, "RESELLER_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"reseller: {reason}"), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr  # one line, no traceback
