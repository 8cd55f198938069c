"""`reseller serve` as a real process: migrates, answers /healthz, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest
from support import free_port, start_reseller, stop, wait_for_http

pytestmark = pytest.mark.slow


def test_serve_with_a_dsn_answers_healthz_and_exits_0_on_sigterm(dsn: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "RESELLER_DSN": dsn}
    env.pop("RESELLER_CONFIG", None)
    proc = start_reseller("serve", "--port", str(port), env=env, cwd=tmp_path)
    try:
        status, body = wait_for_http(f"http://127.0.0.1:{port}/healthz", proc)
        assert (status, orjson.loads(body)) == (200, {"status": "ok", "database": "up"})
    finally:
        assert stop(proc) == 0


def test_serve_without_a_dsn_runs_the_embedded_database(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("RESELLER_DSN", "RESELLER_CONFIG")}
    env["RESELLER_DATA_DIR"] = str(tmp_path / "data")
    proc = start_reseller("serve", "--port", str(port), env=env, cwd=tmp_path)
    try:
        status, body = wait_for_http(f"http://127.0.0.1:{port}/healthz", proc)
        assert (status, orjson.loads(body)) == (200, {"status": "ok", "database": "up"})
        pid_file = tmp_path / "data" / "postgres" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
    finally:
        assert stop(proc) == 0
    # The embedded server ends with the service.
    with pytest.raises(ProcessLookupError):
        os.kill(postmaster, 0)
