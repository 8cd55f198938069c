"""Alerts: real conditions in the real database (a provider low on funds or unreachable, orders
uncertain or flagged, services off sale, PostgreSQL restarted) reach a local receiver standing
for a webhook endpoint and Telegram's Bot API: one message per change of state, reminders while
it lasts, a failing destination retried and given up within bounds, and nothing sent twice by
two processes. Never a real external address."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field, replace
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs
from support import free_port, poll_until

from reseller import config, config_check, db, errors, migrations
from reseller.catalog import sync as catalog_sync
from reseller.dbserver import Supervisor
from reseller.embedded_pg import EmbeddedPostgres
from reseller.jobs.scheduler import Jobs
from reseller.orders import lifecycle
from reseller.upstream import Upstreams

TOKEN = "123456:test-bot-token"
CHAT = "-1001234567890"
ALERTS_YAML = """
alerts:
  remind_after_minutes: 60
  provider_down_minutes: 10
  retry_seconds: {retry}
  timeout_seconds: {timeout}
  destinations:
    - {{type: webhook, url: "{url}/hook?token=webhook-secret"}}
    - {{type: telegram, token_env: TEST_TELEGRAM_TOKEN, chat_id: "{chat}", api_url: "{url}"}}
"""


@dataclass
class Receiver:
    """A webhook endpoint and a fake Telegram Bot API on a loopback port. It answers `status`
    (200 unless a test says otherwise) after `delay` seconds, and keeps what it took."""

    url: str = ""
    hooks: list[dict] = field(default_factory=list)  # webhook bodies taken
    telegram: list[dict] = field(default_factory=list)  # sendMessage bodies taken
    attempts: list[tuple[float, str]] = field(default_factory=list)  # (when, which), every one
    status: dict[str, int] = field(default_factory=dict)  # "hook" / "telegram" → HTTP status
    delay: float = 0.0
    tokens: set[str] = field(default_factory=set)
    released: asyncio.Event = field(default_factory=asyncio.Event)  # ends every delay at once

    async def hook(self, request: web.Request) -> web.Response:
        return await self._take(request, "hook", self.hooks)

    async def send_message(self, request: web.Request) -> web.Response:
        self.tokens.add(request.match_info["token"])
        return await self._take(request, "telegram", self.telegram)

    async def _take(self, request: web.Request, name: str, into: list[dict]) -> web.Response:
        self.attempts.append((time.monotonic(), name))
        body = await request.json()
        if self.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.released.wait(), self.delay)
        status = self.status.get(name, 200)
        if status == 200:
            into.append(body)
        return web.json_response({"ok": status == 200}, status=status)


@pytest_asyncio.fixture(loop_scope="session")
async def receiver(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TEST_TELEGRAM_TOKEN", TOKEN)
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.hook)
    app.router.add_post("/bot{token}/sendMessage", found.send_message)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    found.url = str(server.make_url("")).rstrip("/")
    yield found
    found.released.set()
    await server.close()


def alerting(receiver: Receiver, *, retry: str = "0.05", timeout: str = "2") -> config.Config:
    return config.parse(
        ALERTS_YAML.format(url=receiver.url, chat=CHAT, retry=retry, timeout=timeout)
    )


@pytest_asyncio.fixture(loop_scope="session")
async def alerts(stack, receiver):
    """The stack's config with alerts to the receiver (as a reload would apply it)."""
    stack.live.current = replace(stack.live.current, alerts=alerting(receiver).alerts)
    yield stack
    await stack.jobs.stop()  # closes its HTTP session


def reconfigure(stack, **provider_changes) -> None:
    """The provider's settings changed, as a reload applies them."""
    provider = replace(stack.live.current.providers[0], **provider_changes)
    stack.live.current = replace(stack.live.current, providers=(provider,))
    stack.upstreams.update([provider])


async def age_notifications(pool, minutes: int) -> None:
    await pool.execute(
        "UPDATE alert_state SET notified_at = notified_at - make_interval(mins => $1)", minutes
    )


async def test_a_low_balance_is_alerted_once_reminded_while_it_lasts_and_resolved(
    alerts, receiver
) -> None:
    stack = alerts
    reconfigure(stack, balance_alert=Decimal(5000))  # the simulated panel holds 1000
    await stack.jobs.balances()
    assert await stack.jobs.alerts() == {"firing": 2}
    [hook] = receiver.hooks
    assert hook["alert"] == "provider_balance_low"
    assert (hook["subject"], hook["state"], hook["source"]) == ("sim", "firing", "reseller")
    assert hook["text"] == "Provider sim: balance 1000.00 USD is below balance_alert 5000"
    [message] = receiver.telegram
    assert message["chat_id"] == CHAT
    assert receiver.tokens == {TOKEN}
    assert message["text"].startswith(
        "[reseller] ALERT: Provider sim: balance 1000.00 USD is below balance_alert 5000\nSince "
    )
    # Checked again and again (by the job, by a balance check): nothing new to say.
    await stack.jobs.balances()
    for _ in range(3):
        assert await stack.jobs.alerts() == {}
    assert len(receiver.hooks) == len(receiver.telegram) == 1
    # An hour on, still low: a reminder, one.
    await age_notifications(stack.pool, 61)
    assert await stack.jobs.alerts() == {"reminder": 2}
    assert await stack.jobs.alerts() == {}
    # Topped up: resolved, once.
    stack.sim.state.balance = Decimal(10000)
    await stack.jobs.balances()
    assert await stack.jobs.alerts() == {"resolved": 2}
    assert await stack.jobs.alerts() == {}
    low = ("provider_balance_low", "sim")
    assert [(h["alert"], h["subject"], h["state"]) for h in receiver.hooks] == [
        (*low, "firing"),
        (*low, "reminder"),
        (*low, "resolved"),
    ]
    assert [m["text"].splitlines()[0].split(":")[0] for m in receiver.telegram] == [
        "[reseller] ALERT",
        "[reseller] STILL",
        "[reseller] RESOLVED, was",
    ]
    # Left: each destination's note of when the database started.
    assert await stack.pool.fetchval("SELECT count(*) FROM alert_state") == 2


async def test_a_paused_provider_is_its_own_alert(alerts, receiver) -> None:
    stack = alerts
    reconfigure(stack, pause_below=Decimal(5000))
    await stack.jobs.balances()
    assert await stack.jobs.alerts() == {"firing": 2}
    [hook] = receiver.hooks
    assert (hook["alert"], hook["subject"]) == ("provider_paused", "sim")
    assert "below pause_below 5000; new orders for it wait in the queue" in hook["text"]


async def test_orders_turning_uncertain_are_alerted_each_new_one_told_then_resolved(
    alerts, receiver
) -> None:
    stack = alerts
    stack.sim.state.config.faults.timeout = 1.0  # sent, no answer: the outcome is unknown
    first = (await stack.add(link="https://ig.com/u1"))["order"]
    await stack.settle()
    assert await stack.jobs.alerts() == {"firing": 2}
    second = (await stack.add(link="https://ig.com/u2"))["order"]
    await stack.settle()
    assert await stack.jobs.alerts() == {"updated": 2}
    assert await stack.jobs.alerts() == {}
    stack.sim.state.config.faults.timeout = 0.0
    firing, updated = receiver.hooks
    assert (firing["alert"], firing["state"], firing["items"]) == (
        "orders_uncertain",
        "firing",
        [str(first)],
    )
    assert firing["text"].startswith("1 order uncertain (sent, outcome unknown; money held")
    assert (updated["state"], updated["items"], updated["new_items"]) == (
        "updated",
        [str(first), str(second)],
        [str(second)],
    )
    assert receiver.telegram[1]["text"].splitlines()[:2] == [
        f"[reseller] ALERT (more): 2 orders uncertain (sent, outcome unknown; money held until"
        f" `reseller orders resolve`): #{first}, #{second}",
        f"New: #{second}",
    ]
    # The operator resolves one (nothing to say: it shrank), then the other (resolved).
    for order_id, link in ((first, "https://ig.com/u1"), (second, "https://ig.com/u2")):
        upstream = stack.sim.state.orders_for_link(link)[0]
        await lifecycle.resolved_placed(stack.pool, order_id, str(upstream.id))
        assert await stack.jobs.alerts() == ({} if order_id == first else {"resolved": 2})
    assert [h["state"] for h in receiver.hooks] == ["firing", "updated", "resolved"]


async def test_an_order_flagged_for_unusable_answers_is_alerted(alerts, receiver) -> None:
    stack = alerts
    order_id = (await stack.add(link="https://ig.com/f1"))["order"]
    await stack.settle()
    assert await lifecycle.poll_error(stack.pool, order_id, "Incorrect order ID", 1)
    assert await stack.jobs.alerts() == {"firing": 2}
    [hook] = receiver.hooks
    assert (hook["alert"], hook["items"]) == ("orders_flagged", [str(order_id)])
    assert hook["text"] == (
        f"1 order flagged, no longer polled (money held): #{order_id} (Incorrect order ID)"
    )


async def test_services_off_sale_are_alerted_but_not_one_dropped_from_the_config(
    alerts, receiver
) -> None:
    stack = alerts
    first, second, third = configured = stack.live.current.services
    gone = stack.sim.state.services.pop(3)  # service 3's upstream vanishes
    below_cost = replace(first, rate=Decimal("0.01"), markup_percent=None)
    stack.live.current = replace(stack.live.current, services=(below_cost, second, third))
    await stack.jobs.catalog()  # the catalog sync takes both off sale
    assert await stack.jobs.alerts() == {"firing": 2}
    [hook] = receiver.hooks
    assert (hook["alert"], hook["items"]) == ("services_off_sale", ["1", "3"])
    assert hook["text"].startswith("2 services off sale: #1 ")
    assert "(sell rate 0.01 below cost " in hook["text"]
    assert hook["text"].endswith("(gone from sim)")
    # The operator drops service 2 from the config: off sale by choice, nothing to tell.
    stack.live.current = replace(stack.live.current, services=(below_cost, third))
    await catalog_sync.rebuild(stack.pool, stack.live.current)
    reason = await stack.pool.fetchval("SELECT disabled_reason FROM services WHERE id = 2")
    assert reason == "not in config"
    assert await stack.jobs.alerts() == {}
    # Back upstream and priced again: resolved (service 2 stays out, unmentioned).
    stack.sim.state.services[3] = gone
    stack.live.current = replace(stack.live.current, services=(first, third))
    await stack.jobs.catalog()
    assert await stack.jobs.alerts() == {"resolved": 2}
    assert [h["state"] for h in receiver.hooks] == ["firing", "resolved"]
    assert configured == (first, second, third)


async def test_a_provider_unreachable_longer_than_provider_down_minutes_is_alerted(
    alerts, receiver
) -> None:
    stack = alerts
    reachable = stack.live.current.providers[0].url
    reconfigure(stack, url=f"http://127.0.0.1:{free_port()}/api/v2")  # nothing listens
    counts = await stack.jobs.balances()
    assert counts["provider_failures"] == 1
    await stack.jobs.balances()  # failing still: the streak keeps its start
    assert await stack.jobs.alerts() == {}  # not for 10 minutes yet
    await stack.pool.execute(
        "UPDATE provider_health SET failing_since = failing_since - interval '11 minutes'"
    )
    assert await stack.jobs.alerts() == {"firing": 2}
    [hook] = receiver.hooks
    assert (hook["alert"], hook["subject"]) == ("provider_down", "sim")
    assert hook["text"].startswith(
        "Provider sim has failed every balance check for over 10 min: cannot connect: "
    )
    assert (
        hook["since"]
        == (await stack.pool.fetchval("SELECT failing_since FROM provider_health")).isoformat()
    )
    reconfigure(stack, url=reachable)
    await stack.jobs.balances()
    assert await stack.jobs.alerts() == {"resolved": 2}
    assert [h["state"] for h in receiver.hooks] == ["firing", "resolved"]
    assert receiver.telegram[-1]["text"].splitlines()[1].startswith("Lasted 11 min (since ")


async def test_a_failing_destination_is_retried_with_backoff_given_up_and_logged_once(
    alerts, receiver
) -> None:
    stack = alerts
    receiver.status["hook"] = 503
    reconfigure(stack, balance_alert=Decimal(5000))
    await stack.jobs.balances()
    with capture_logs() as logs:
        started = time.monotonic()
        assert await stack.jobs.alerts() == {"firing": 1, "failed": 1}  # Telegram took it
        took = time.monotonic() - started
        tries = [at for at, name in receiver.attempts if name == "hook"]
        assert len(tries) == 3  # bounded
        first_wait, second_wait = (later - earlier for earlier, later in pairwise(tries))
        assert first_wait >= 0.05  # retry_seconds
        assert second_wait >= 0.1  # doubled
        assert took < 2
        assert await stack.jobs.alerts() == {"failed": 1}  # tried again at the next check
        assert len([name for _, name in receiver.attempts if name == "hook"]) == 6
        receiver.status["hook"] = 200
        assert await stack.jobs.alerts() == {"firing": 1}  # delivered late, once
        assert await stack.jobs.alerts() == {}
    assert [(h["alert"], h["state"]) for h in receiver.hooks] == [
        ("provider_balance_low", "firing")
    ]
    assert len(receiver.telegram) == 1
    said = [e for e in logs if e["event"].startswith("alert_destination")]
    assert [(e["event"], e["destination"], e.get("reason")) for e in said] == [
        ("alert_destination_failing", "alerts.destinations[0]", "HTTP 503"),
        ("alert_destination_recovered", "alerts.destinations[0]", None),
    ]
    assert "webhook-secret" not in repr(logs)
    assert TOKEN not in repr(logs)


async def test_a_refusing_destination_is_not_retried_within_a_check(alerts, receiver) -> None:
    stack = alerts
    receiver.status["telegram"] = 400  # e.g. a chat the bot is not in: another try won't help
    reconfigure(stack, balance_alert=Decimal(5000))
    await stack.jobs.balances()
    assert await stack.jobs.alerts() == {"firing": 1, "failed": 1}
    assert [name for _, name in receiver.attempts].count("telegram") == 1


async def test_an_unset_bot_token_fails_only_telegram_and_config_check_reports_it(
    alerts, receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = alerts
    monkeypatch.delenv("TEST_TELEGRAM_TOKEN")
    reconfigure(stack, balance_alert=Decimal(5000))
    await stack.jobs.balances()
    with capture_logs() as logs:
        assert await stack.jobs.alerts() == {"firing": 1, "failed": 1}
    [failing] = [e for e in logs if e["event"] == "alert_destination_failing"]
    assert failing["reason"] == "TEST_TELEGRAM_TOKEN is not set"
    assert "telegram" not in {name for _, name in receiver.attempts}
    assert await config_check.problems(stack.live.current, stack.pool) == [
        "alerts.destinations[1].token_env: environment variable TEST_TELEGRAM_TOKEN is not set"
    ]


async def test_a_hanging_destination_holds_neither_the_api_nor_the_job_past_its_bound(
    stack, receiver
) -> None:
    settings = alerting(receiver, retry="0.05", timeout="0.2").alerts
    stack.live.current = replace(stack.live.current, alerts=settings)
    receiver.delay = 30.0
    reconfigure(stack, balance_alert=Decimal(5000))
    await stack.jobs.balances()
    started = time.monotonic()
    job = asyncio.create_task(stack.jobs.alerts())
    try:
        await asyncio.sleep(0.1)  # the job is waiting on the receiver
        answer = await stack.api.call(key=stack.key, action="balance")
        answered_in = time.monotonic() - started
        assert not job.done()
        assert answer["currency"] == "USD"
        assert answered_in < 0.5
        assert await job == {"failed": 2}
        # Three tries of 0.2 s, waits of 0.05 + 0.1 s; both destinations at once.
        assert time.monotonic() - started < 1.5
    finally:
        await stack.jobs.stop()


async def test_two_processes_running_the_job_send_each_message_once(
    alerts, receiver, dsn: str
) -> None:
    stack = alerts
    receiver.delay = 0.2  # the first holds its lock while the second tries
    reconfigure(stack, balance_alert=Decimal(5000))
    await stack.jobs.balances()
    other_pool = await db.create_pool(dsn, min_size=1, max_size=4)  # another process's pool
    other = Jobs(other_pool, stack.live, Upstreams(stack.live.current.providers))
    try:
        together = await asyncio.gather(stack.jobs.alerts(), other.alerts())
        assert sorted(str(dict(counts)) for counts in together) == [
            "{'firing': 2}",
            "{'skipped': 1}",
        ]
        assert await other.alerts() == {}  # it reads what the first recorded
        assert await stack.jobs.alerts() == {}
    finally:
        await other.stop()
        await other_pool.close()
    assert len(receiver.hooks) == len(receiver.telegram) == 1


async def test_a_restarted_embedded_database_is_told_once_it_is_back(receiver) -> None:
    """Over a real restart: the supervisor's, after SIGKILL of the postmaster."""
    folder = Path(tempfile.mkdtemp(prefix="rs-"))  # the socket path must fit in 107 bytes
    embedded = EmbeddedPostgres(folder / "pg")  # durable: what was committed survives the kill
    embedded.start()
    try:
        async with db.connection(embedded.dsn) as conn:
            await migrations.migrate(conn)
        pool = await db.create_pool(embedded.dsn, min_size=1, max_size=4)
        jobs = Jobs(pool, config.LiveConfig(alerting(receiver)), Upstreams())
        try:
            assert await jobs.alerts() == {}  # the first start it sees happened unwatched
            os.kill(embedded.pid, signal.SIGKILL)
            await Supervisor(embedded, give_up_after=30).restart()
            counts = await poll_until(lambda: _alerts_once_up(jobs), within=30)
            assert counts == {"event": 2}
            assert await jobs.alerts() == {}
        finally:
            await jobs.stop()
            await pool.close()
    finally:
        embedded.stop()
        shutil.rmtree(folder, ignore_errors=True)
    [hook] = receiver.hooks
    assert (hook["alert"], hook["state"]) == ("database_restarted", "event")
    assert hook["text"].startswith("PostgreSQL restarted: up since ")
    assert receiver.telegram[0]["text"].startswith("[reseller] NOTICE: PostgreSQL restarted")


async def _alerts_once_up(jobs: Jobs):
    try:
        return await jobs.alerts() or None
    except errors.DatabaseUnavailable:
        return None  # the pool's connections to the dead server are being replaced


def test_the_alerts_section_is_read_with_key_paths() -> None:
    settings = config.parse(
        "alerts:\n"
        "  destinations:\n"
        "    - {type: telegram, token_env: BOT_TOKEN, chat_id: -1001234567890}\n"
        '    - {type: webhook, url: "https://hooks.example.com/x"}\n'
    ).alerts
    telegram, webhook = settings.destinations
    assert telegram == config.alerts.TelegramConfig("BOT_TOKEN", "-1001234567890")
    assert telegram.api_url == "https://api.telegram.org"
    assert webhook == config.alerts.WebhookConfig("https://hooks.example.com/x")
    assert (settings.check_seconds, settings.remind_after_minutes) == (30, 60)
    with pytest.raises(errors.ConfigError) as refused:
        config.parse(
            "alerts:\n"
            "  remind_after_minutes: 0\n"
            "  destinations:\n"
            "    - {type: slack, url: x}\n"
            "    - {type: telegram, token: '123:abc', token_env: T, chat_id: here}\n"
            "    - {type: webhook, url: 'ftp://x', chat_id: 1}\n"
        )
    assert refused.value.message.splitlines()[1:] == [
        "  alerts.remind_after_minutes: must be between 1 and 43200",
        "  alerts.destinations[0].type: unknown destination type 'slack': webhook or telegram",
        "  alerts.destinations[1].token: secrets do not belong in the file; put the bot token"
        " in an environment variable and name it in token_env",
        "  alerts.destinations[1].chat_id: a chat ID (-1001234567890) or @channel",
        "  alerts.destinations[2].url: not a URL (expected http:// or https://)",
        "  alerts.destinations[2].chat_id: unknown key",
    ]


async def test_a_service_the_operator_disabled_is_not_alerted(alerts, receiver) -> None:
    from reseller.audit import Actor
    from reseller.catalog import overrides

    await alerts.jobs.catalog()
    await overrides.disable(alerts.pool, 2, by=Actor("alice", "complaints"))
    assert not await alerts.pool.fetchval("SELECT enabled FROM services WHERE id = 2")
    assert await alerts.jobs.alerts() == {}
    assert receiver.hooks == []
