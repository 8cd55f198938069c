"""Where alerts go: a webhook (the alert as a JSON object) and Telegram (a text message).

`deliver` tries a few times with a doubling wait and then gives up, bounded in time: the
message stays unrecorded and the next check tries it again. The reason it gives is ours ("HTTP
503", "ClientConnectorError"), never an exception's text: those quote URLs, and a webhook URL
or Telegram's (the bot token is in its path) is a secret.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from reseller.alerts.conditions import when
from reseller.alerts.dedup import Alert, State
from reseller.config.alerts import AlertsConfig, TelegramConfig, WebhookConfig

ATTEMPTS = 3
TELEGRAM_CHARS = 4000  # Telegram refuses a message over 4096
_LABELS = {
    State.FIRING: "ALERT",
    State.UPDATED: "ALERT (more)",
    State.REMINDER: "STILL",
    State.RESOLVED: "RESOLVED, was",
    State.EVENT: "NOTICE",
}


class DeliveryFailed(Exception):
    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry  # whether another try may go better (a 5xx, a timeout)


class Destination(Protocol):
    @property
    def id(self) -> str:
        """Stable and secret-free: what its `alert_state` rows are kept under."""

    @property
    def where(self) -> str:
        """Its place in the config, for logs."""

    @property
    def type(self) -> str: ...

    async def send(self, session: aiohttp.ClientSession, alert: Alert) -> None:
        """Raises DeliveryFailed."""


@dataclass(frozen=True, slots=True)
class Webhook:
    settings: WebhookConfig
    where: str
    type: str = "webhook"

    @property
    def id(self) -> str:
        return f"webhook:{_digest(self.settings.url)}"

    async def send(self, session: aiohttp.ClientSession, alert: Alert) -> None:
        await _post(session, self.settings.url, payload(alert))


@dataclass(frozen=True, slots=True)
class Telegram:
    settings: TelegramConfig
    where: str
    type: str = "telegram"

    @property
    def id(self) -> str:
        s = self.settings
        return f"telegram:{_digest(s.api_url, s.token_env, s.chat_id)}"

    async def send(self, session: aiohttp.ClientSession, alert: Alert) -> None:
        token = self.settings.token()
        if token is None:
            raise DeliveryFailed(f"{self.settings.token_env} is not set", retry=False)
        message = {
            "chat_id": self.settings.chat_id,
            "text": text(alert)[:TELEGRAM_CHARS],
            "disable_web_page_preview": True,
        }
        await _post(session, f"{self.settings.api_url}/bot{token}/sendMessage", message)


def configured(settings: AlertsConfig) -> list[Destination]:
    found: list[Destination] = []
    for i, d in enumerate(settings.destinations):
        where = f"alerts.destinations[{i}]"
        found.append(Webhook(d, where) if isinstance(d, WebhookConfig) else Telegram(d, where))
    return found


async def deliver(
    session: aiohttp.ClientSession,
    destination: Destination,
    alert: Alert,
    *,
    retry_seconds: float,
    attempt_seconds: float,
) -> str | None:
    """None once the destination took the alert; else why not, after at most ATTEMPTS tries of
    at most `attempt_seconds` each (a refusal another try cannot change is not tried again)."""
    wait, attempt = retry_seconds, 1
    while True:
        try:
            async with asyncio.timeout(attempt_seconds):
                await destination.send(session, alert)
            return None
        except TimeoutError:
            failed = DeliveryFailed("timed out", retry=True)
        except DeliveryFailed as exc:
            failed = exc
        if not failed.retry or attempt == ATTEMPTS:
            return failed.reason
        await asyncio.sleep(wait)
        wait, attempt = wait * 2, attempt + 1


def payload(alert: Alert) -> dict[str, Any]:
    """The webhook's JSON object."""
    return {
        "source": "reseller",
        "alert": alert.kind,
        "subject": alert.subject or None,
        "state": alert.state.value,
        "text": alert.text,
        "since": alert.since.isoformat(),
        "at": alert.at.isoformat(),
        "items": list(alert.items),
        "new_items": list(alert.new_items),
    }


def text(alert: Alert) -> str:
    """The alert for a human (Telegram)."""
    lines = [f"[reseller] {_LABELS[alert.state]}: {alert.text}"]
    if alert.state is State.UPDATED:
        lines.append("New: " + ", ".join(f"#{item}" for item in alert.new_items))
    if alert.state in (State.FIRING, State.UPDATED, State.REMINDER):
        lines.append(f"Since {when(alert.since)}")
    if alert.state is State.RESOLVED:
        lines.append(f"Lasted {_duration(alert)} (since {when(alert.since)})")
    return "\n".join(lines)


async def _post(session: aiohttp.ClientSession, address: str, body: dict[str, Any]) -> None:
    try:
        # Never redirected: Telegram's address holds the token, a webhook's may.
        async with session.post(address, json=body, allow_redirects=False) as response:
            status = response.status
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise DeliveryFailed(type(exc).__name__, retry=True) from None  # its text quotes the URL
    if status >= 500 or status == 429:
        raise DeliveryFailed(f"HTTP {status}", retry=True)
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status}", retry=False)


def _duration(alert: Alert) -> str:
    minutes = max(0, round((alert.at - alert.since).total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
