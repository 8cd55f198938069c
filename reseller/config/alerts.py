"""The `alerts:` section: where the operator hears of trouble, and how often.

```yaml
alerts:
  check_seconds: 30           # how often the conditions are looked at
  remind_after_minutes: 60    # a condition that persists is repeated this often
  provider_down_minutes: 10   # a provider failing every balance check this long is down
  retry_seconds: 2            # first wait before a failed delivery is tried again (doubles)
  timeout_seconds: 10         # one delivery attempt
  provider_losses_above: 10   # a provider's unrefunded + overcharged amount (api.currency) ...
  provider_losses_hours: 24   # ... found over this many hours fires an alert; unset: none
  destinations:
    - {type: webhook, url: "https://hooks.example.com/reseller"}
    - {type: telegram, token_env: RESELLER_TELEGRAM_TOKEN, chat_id: "-1001234567890"}
```

The bot token is a secret: the file names the environment variable that holds it. A webhook
URL may hold a token too: it is never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reseller.config.reader import Section, decimal, env_name, integer, matching, one_of, url

TELEGRAM_API = "https://api.telegram.org"


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    token_env: str
    chat_id: str
    api_url: str = TELEGRAM_API  # another address: a Bot API server of one's own, or a test's

    def token(self) -> str | None:
        return os.environ.get(self.token_env) or None


DestinationConfig = WebhookConfig | TelegramConfig


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    destinations: tuple[DestinationConfig, ...] = ()  # none: no alerts are sent
    check_seconds: Decimal = Decimal(30)
    remind_after_minutes: int = 60
    provider_down_minutes: int = 10
    retry_seconds: Decimal = Decimal(2)
    timeout_seconds: Decimal = Decimal(10)
    # A provider's unrefunded plus overcharged amount (api.currency) found over the last
    # `provider_losses_hours` above this fires an alert; None: no such alert.
    provider_losses_above: Decimal | None = None
    provider_losses_hours: int = 24

    def missing_secrets(self) -> list[str]:
        """Bot tokens the file names that are not set."""
        return [
            f"alerts.destinations[{i}].token_env: environment variable {d.token_env} is not set"
            for i, d in enumerate(self.destinations)
            if isinstance(d, TelegramConfig) and d.token() is None
        ]


def read_alerts(root: Section) -> AlertsConfig:
    s = root.section("alerts")
    settings = s.read(
        AlertsConfig,
        check_seconds=decimal(Decimal(1), Decimal(86400)),
        remind_after_minutes=integer(1, 43200),
        provider_down_minutes=integer(1, 10080),
        retry_seconds=decimal(Decimal("0.01"), Decimal(600)),
        timeout_seconds=decimal(Decimal("0.1"), Decimal(600)),
        provider_losses_above=decimal(Decimal(0), Decimal("1e12")),
        provider_losses_hours=integer(1, 8760),
    )
    destinations = tuple(
        found for item in s.items("destinations") if (found := _destination(item)) is not None
    )
    s.finish()
    return AlertsConfig(destinations=destinations, **settings)


_TYPE = one_of(("webhook", "telegram"), "unknown destination type {!r}: webhook or telegram")
_CHAT = matching(r"-?[0-9]{1,20}|@[A-Za-z0-9_]{5,64}", "a chat ID (-1001234567890) or @channel")


def _destination(s: Section) -> DestinationConfig | None:
    kind = s.get("type", _TYPE)
    found: DestinationConfig
    if kind == "webhook":
        found = WebhookConfig(**s.read(WebhookConfig, url=url))
    elif kind == "telegram":
        s.forbid("token", "put the bot token in an environment variable and name it in token_env")
        found = TelegramConfig(
            **s.read(TelegramConfig, token_env=env_name, chat_id=_chat_id, api_url=_api_url)
        )
    else:
        return None  # its keys mean nothing without a type: the type's problem is enough
    s.finish()
    return found


def _chat_id(value: Any) -> str:
    # YAML reads -1001234567890 unquoted as a number; it is an identifier all the same.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return _CHAT(value)


def _api_url(value: Any) -> str:
    return url(value).rstrip("/")
