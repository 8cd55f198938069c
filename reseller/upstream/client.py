"""One async client per upstream provider, speaking API v2.

Every call goes through `_request`, which paces it, times it, logs it (never the key), and turns
every way it can fail into one of three typed errors the dispatcher relies on:

- UpstreamRefused: a JSON `{"error": …}` answer (or a redirect): nothing happened upstream.
- UpstreamNotSent: the connection failed before the request went out: safe to retry.
- UpstreamUnknown: it may have been processed (timeout after sending, reset, 5xx, not JSON).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import aiohttp
import orjson

from reseller import errors, logs, metrics, spellings
from reseller.config import ProviderConfig
from reseller.upstream import parse
from reseller.upstream.pacing import Pacer

log = logs.get_logger()
T = TypeVar("T")

MAX_ANSWER = 32 * 1024 * 1024  # a big panel's `services` answer is a few MB
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class UpstreamService:
    id: str
    name: str
    type: str
    category: str
    rate: Decimal  # per 1000 (or per package), in the provider's currency
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool


class ProviderClient:
    def __init__(self, provider: ProviderConfig) -> None:
        self.provider = provider
        self.name = provider.name
        self._pacer = Pacer(
            concurrency=provider.max_concurrency, per_minute=provider.requests_per_minute
        )
        self._session: aiohttp.ClientSession | None = None
        self.max_call_seconds = CONNECT_TIMEOUT + 2 * float(provider.timeout)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = float(self.provider.timeout)
            self._session = aiohttp.ClientSession(
                # `total` bounds a call that trickles bytes, so no call outlives
                # max_call_seconds (the dispatcher relies on it to spot dead processes).
                timeout=aiohttp.ClientTimeout(
                    total=self.max_call_seconds,
                    connect=min(CONNECT_TIMEOUT, timeout),
                    sock_read=timeout,
                ),
                connector=aiohttp.TCPConnector(limit=self.provider.max_concurrency),
                json_serialize=lambda v: orjson.dumps(v).decode(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- actions ---

    async def services(self) -> list[UpstreamService]:
        answer = await self._request("services")
        if not isinstance(answer, list):
            raise errors.UpstreamUnknown("services answer is not a list")
        return [s for item in answer if (s := _service(item)) is not None]

    def slot(self) -> AbstractAsyncContextManager[None]:
        """A pacing slot, for a caller that must do something (claim an order) right before
        its call goes out; that call then passes `paced=False`."""
        return self._pacer.slot()

    async def add(self, fields: Mapping[str, object], *, paced: bool = True) -> str:
        """Place an order; its upstream ID."""
        return parse.added_order_id(await self._request("add", fields, paced=paced))

    async def statuses(
        self, ids: Sequence[str]
    ) -> dict[str, parse.StatusAnswer | errors.UpstreamRefused]:
        """Up to 100 orders in one call; per-ID refusals come back as values, not raised."""
        answer = await self._request("status", {"orders": _id_list(ids)})
        if not isinstance(answer, dict):
            raise errors.UpstreamUnknown("multi-status answer is not an object")
        read = functools.partial(parse.order_status, aliases=self.provider.status_aliases)
        return {str(i): _item(answer.get(str(i)), read) for i in ids}

    async def balance(self) -> tuple[Decimal, str]:
        answer = await self._request("balance")
        amount = parse.decimal(answer.get("balance")) if isinstance(answer, dict) else None
        if amount is None:
            raise errors.UpstreamUnknown("balance answer without a balance")
        return amount, str(answer.get("currency") or self.provider.currency)

    async def refill(self, order_id: str) -> str:
        answer = await self._request("refill", {"order": order_id})
        found = parse.upstream_id(answer.get("refill")) if isinstance(answer, dict) else None
        if found is None:
            raise errors.UpstreamUnknown("refill answer without a refill ID")
        return found

    async def refill_statuses(self, ids: Sequence[str]) -> dict[str, str | errors.UpstreamRefused]:
        answer = await self._request("refill_status", {"refills": _id_list(ids)})
        rows = {str(r.get("refill")): r.get("status") for r in _objects(answer)}
        return {str(i): _item(rows.get(str(i)), _refill_status) for i in ids}

    async def cancel(self, ids: Sequence[str]) -> dict[str, bool | errors.UpstreamRefused]:
        """Whether each cancel request was accepted (the refund follows the order's status)."""
        answer = await self._request("cancel", {"orders": _id_list(ids)})
        rows = {str(r.get("order")): r.get("cancel") for r in _objects(answer)}
        return {str(i): _item(rows.get(str(i)), _accepted) for i in ids}

    # --- the one place that talks HTTP ---

    async def _request(
        self, action: str, fields: Mapping[str, object] | None = None, *, paced: bool = True
    ) -> Any:
        key = self.provider.key()
        if key is None:
            raise errors.UpstreamNotSent(f"{self.provider.key_env} is not set")
        form = {"key": key, "action": action, **{k: str(v) for k, v in (fields or {}).items()}}
        started = time.perf_counter()
        outcome, status = "ok", 0
        try:
            if paced:
                async with self._pacer.slot():
                    status, body, location = await self._post(form)
            else:
                status, body, location = await self._post(form)
            return _classify(status, body, location)
        except errors.UpstreamError as exc:
            outcome = type(exc).__name__.removeprefix("Upstream").lower()
            raise
        finally:
            elapsed = time.perf_counter() - started
            log.info(
                "upstream_call",
                provider=self.name,
                action=action,
                http_status=status,
                outcome=outcome,
                duration_ms=round(elapsed * 1000, 2),
            )
            metrics.UPSTREAM_CALLS.labels(self.name, action, outcome).inc()
            metrics.UPSTREAM_SECONDS.labels(self.name, action).observe(elapsed)

    async def _post(self, form: dict[str, str]) -> tuple[int, bytes, str | None]:
        try:
            # Redirects are never followed: the key travels in the body.
            async with self._open().post(
                self.provider.url, data=form, allow_redirects=False
            ) as response:
                body = await response.content.read(MAX_ANSWER)
                return response.status, body, response.headers.get("Location")
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise errors.UpstreamNotSent(f"cannot connect: {exc}") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise errors.UpstreamUnknown(f"{type(exc).__name__}: {exc}") from exc


def _classify(status: int, body: bytes, location: str | None) -> Any:
    if 300 <= status < 400:
        raise errors.UpstreamRefused(f"redirected to {location!r}: fix the provider URL")
    if status == 429:
        raise errors.UpstreamNotSent("rate limited by the provider (HTTP 429)")
    if status >= 500:
        raise errors.UpstreamUnknown(f"HTTP {status}")
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise errors.UpstreamUnknown(f"HTTP {status}, not JSON: {body[:80]!r}") from None
    if (message := parse.error_of(answer)) is not None:
        raise errors.UpstreamRefused(message)
    if status != 200:
        raise errors.UpstreamUnknown(f"HTTP {status}")
    return answer


def _item(value: Any, parse_ok: Callable[[Any], T]) -> T | errors.UpstreamRefused:
    """One item of a bulk answer: its value, or its refusal (an error object, a bare string
    where an object was expected, or missing). A value that cannot be understood is refused for
    this call only: the next poll asks again."""
    if value is None:
        return errors.UpstreamRefused("missing from the answer")
    if (message := parse.error_of(value)) is not None:
        return errors.UpstreamRefused(message)
    try:
        return parse_ok(value)
    except (errors.UpstreamUnknown, ValueError) as exc:
        return errors.UpstreamRefused(str(exc))


def _refill_status(value: Any) -> str:
    name = spellings.refill_status_name(value)
    if name is None:
        raise ValueError(str(value))
    return name


def _accepted(value: Any) -> bool:
    if value is True or str(value).strip() in ("1", "true", "ok", "success"):
        return True
    raise ValueError(str(value))


def _objects(answer: Any) -> Iterable[dict[str, Any]]:
    if not isinstance(answer, list):
        raise errors.UpstreamUnknown("bulk answer is not a list")
    return (item for item in answer if isinstance(item, dict))


def _id_list(ids: Sequence[str]) -> str:
    if not 0 < len(ids) <= 100:
        raise ValueError("1 to 100 IDs per call")
    return ",".join(str(i) for i in ids)


def _service(item: Any) -> UpstreamService | None:
    """One catalog entry, or None when it lacks what we need to sell it."""
    if not isinstance(item, dict):
        return None
    service_id = parse.upstream_id(item.get("service"))
    rate = parse.decimal(item.get("rate"))
    low, high = parse.integer(item.get("min")), parse.integer(item.get("max"))
    if service_id is None or rate is None or rate < 0 or low is None or high is None:
        return None
    return UpstreamService(
        id=service_id,
        name=str(item.get("name") or f"Service {service_id}"),
        type=str(item.get("type") or "Default"),
        category=str(item.get("category") or "Other"),
        rate=rate,
        min=max(low, 1),
        max=max(high, low, 1),
        refill=_flag(item.get("refill")),
        cancel=_flag(item.get("cancel")),
        dripfeed=_flag(item.get("dripfeed")),
    )


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "yes")
