"""The legitimate customer: requests at a steady pace, each on a fresh connection (as a PHP
client's curl call opens one), every answer kept with its timing, failures included."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from bench import _load

ANSWER_TIMEOUT = 10.0  # seconds; a request not answered by then counts as unanswered


@dataclass(frozen=True, slots=True)
class Answer:
    form: dict[str, str]
    sent: float  # time.perf_counter()
    done: float
    status: int | None  # None: no answer (timeout, connection refused or reset)
    body: Any  # the decoded JSON answer; None when there was none

    @property
    def seconds(self) -> float:
        return self.done - self.sent


async def paced(
    url: str,
    forms: Iterator[dict[str, str]],
    *,
    rate: float,
    keep_going: Callable[[], bool],
    headers: dict[str, str],
    into: list[Answer],
) -> None:
    """One request after another, at most `rate` a second (a late one is not made up for), while
    `keep_going()`; each answer is appended to `into` as it arrives, so a watcher sees it."""
    interval = 1.0 / rate
    connector = aiohttp.TCPConnector(force_close=True)
    timeout = aiohttp.ClientTimeout(total=ANSWER_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        next_at = time.perf_counter()
        while keep_going():
            form = next(forms)
            sent = time.perf_counter()
            status, body = await _post(session, url, form, headers)
            into.append(Answer(form, sent, time.perf_counter(), status, body))
            next_at = max(next_at + interval, time.perf_counter())
            await _sleep_until(next_at)


async def _post(
    session: aiohttp.ClientSession, url: str, form: dict[str, str], headers: dict[str, str]
) -> tuple[int | None, Any]:
    try:
        async with session.post(url, data=form, headers=headers) as answer:
            text = await answer.read()
    except (aiohttp.ClientError, TimeoutError):
        return None, None
    try:
        return answer.status, orjson.loads(text)
    except orjson.JSONDecodeError:
        return answer.status, None


async def _sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.perf_counter()))


def answered(answer: Answer, field: str) -> bool:
    """A normal answer: HTTP 200 with `field` in it (`balance`, `order`)."""
    return answer.status == 200 and isinstance(answer.body, dict) and field in answer.body


def describe(answer: Answer) -> str:
    """What an answer said, in a few words: its error, or its HTTP status."""
    if answer.status is None:
        return "no answer"
    if isinstance(answer.body, dict) and "error" in answer.body:
        return f"{answer.status} {answer.body['error']}"
    return f"HTTP {answer.status}"


def measured(answers: list[Answer], field: str, seconds: float) -> _load.Measured:
    """Latency over every request, failed ones too: a fast error must not pass for speed
    unseen, so failures are counted beside."""
    failed = sum(not answered(a, field) for a in answers)
    return _load.summarise([a.seconds for a in answers], seconds, failed)
