"""What `logs.configure` makes of a line: one JSON object on the right stream, and loggers made
before a reconfiguration follow it (they are bound once per configuration, not per call)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from reseller import logs


def lines(text: str) -> list[dict]:
    return [orjson.loads(line) for line in text.splitlines()]


@pytest.fixture
def streams(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """stdout and stderr as under systemd: not terminals (capsys's are not)."""
    yield capsys
    logs.configure()  # back to the suite's: stdout, info


def test_a_service_line_is_one_json_object_with_level_time_and_context(streams) -> None:
    logs.configure()
    logs.new_context(request_id="r1")
    try:
        logs.get_logger().info("request", status=200, charge=Decimal("1.50"))
    finally:
        logs.new_context()
    [line] = lines(streams.readouterr().out)
    stamp = line.pop("timestamp")
    assert line == {
        "event": "request",
        "status": 200,
        "charge": "Decimal('1.50')",
        "request_id": "r1",
        "level": "info",
    }
    assert stamp.endswith("Z")  # UTC, ISO 8601, as journald and log shippers read it
    assert abs(datetime.now(UTC) - datetime.fromisoformat(stamp)) < timedelta(minutes=1)


def test_a_logger_made_before_a_reconfiguration_follows_it(streams) -> None:
    log = logs.get_logger()
    logs.configure(level=logging.WARNING, to_stderr=True)  # as a CLI command starts
    log.info("hidden")
    log.warning("to_stderr")
    logs.configure()  # as `serve` then reconfigures
    log.info("to_stdout")
    captured = streams.readouterr()
    assert [line["event"] for line in lines(captured.err)] == ["to_stderr"]
    assert [line["event"] for line in lines(captured.out)] == ["to_stdout"]


def test_set_level_filters_a_bound_logger_and_returns_the_level_it_replaced(streams) -> None:
    logs.configure()
    log = logs.get_logger()
    log.info("before")
    assert logs.set_level(logging.WARNING) == logging.INFO
    log.info("filtered")
    assert logs.set_level(logging.INFO) == logging.WARNING
    log.info("after")
    assert [line["event"] for line in lines(streams.readouterr().out)] == ["before", "after"]


def test_a_standard_library_line_is_json_and_redacted(streams) -> None:
    logs.configure()
    logging.getLogger("aiohttp.server").warning("bad request line GET /?key=s3cr3t")
    [line] = lines(streams.readouterr().out)
    assert line["logger"] == "aiohttp.server"
    assert line["event"] == "bad request line GET /?key=[redacted]"


def test_each_task_logs_its_own_context_and_a_new_context_forgets_the_last(streams) -> None:
    logs.configure()
    log = logs.get_logger()

    async def connection(first: int) -> None:  # two requests in turn, as on a keep-alive one
        for request_id in (first, first + 1):
            logs.new_context(request_id=request_id)
            await asyncio.sleep(0)  # the other connection's request runs meanwhile
            if request_id == first:
                logs.bind(customer=first)
            await asyncio.sleep(0)
            log.info("request")

    async def both() -> None:
        await asyncio.gather(connection(10), connection(20))

    asyncio.run(both())
    seen = [
        {k: v for k, v in line.items() if k in ("request_id", "customer")}
        for line in lines(streams.readouterr().out)
    ]
    assert sorted(seen, key=lambda line: line["request_id"]) == [
        {"request_id": 10, "customer": 10},
        {"request_id": 11},
        {"request_id": 20, "customer": 20},
        {"request_id": 21},
    ]
