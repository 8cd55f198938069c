"""The redaction rule itself: a key anywhere in a log line's text is replaced, the rest kept."""

from __future__ import annotations

import pytest

from reseller import logs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /api/v2?key=abc123&action=add", "GET /api/v2?key=[redacted]&action=add"),
        ("'/api/v2?KEY=abc123 HTTP/1.1'", "'/api/v2?KEY=[redacted] HTTP/1.1'"),
        ("body: action=x&key=s3cr3t", "body: action=x&key=[redacted]"),
        ("no secrets here", "no secrets here"),
    ],
)
def test_a_key_in_any_text_field_is_redacted(text, expected) -> None:
    event = logs.redact(None, "info", {"event": "x", "exception": text, "n": 1})
    assert (event["exception"], event["n"]) == (expected, 1)
