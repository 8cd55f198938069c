"""The redaction rule itself: a key anywhere in a log line's text is replaced, the rest kept,
whether the line is a terminal's (field by field) or JSON (the rendered bytes)."""

from __future__ import annotations

import orjson
import pytest

from reseller import logs

CASES = [
    ("GET /api/v2?key=abc123&action=add", "GET /api/v2?key=[redacted]&action=add"),
    ("'/api/v2?KEY=abc123 HTTP/1.1'", "'/api/v2?KEY=[redacted] HTTP/1.1'"),
    ("body: action=x&key=s3cr3t", "body: action=x&key=[redacted]"),
    ('key=ab"cd', 'key=[redacted]"cd'),  # a quote ends it in both forms (JSON escapes it)
    ("key=ab\\cd", "key=[redacted]\\cd"),
    ("key=sécret&x=1", "key=[redacted]&x=1"),
    ("no secrets here", "no secrets here"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_a_key_in_any_text_field_is_redacted(text, expected) -> None:
    event = logs.redact(None, "info", {"event": "x", "exception": text, "n": 1})
    assert (event["exception"], event["n"]) == (expected, 1)


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_a_key_in_a_rendered_json_line_is_redacted_the_same_way(text, expected) -> None:
    line = logs.redact_line(orjson.dumps({"event": "x", "exception": text, "n": 1}))
    assert orjson.loads(line) == {"event": "x", "exception": expected, "n": 1}


def test_a_key_nested_in_a_json_line_is_redacted_too() -> None:
    line = logs.redact_line(orjson.dumps({"event": "x", "call": {"urls": ["/a?key=s3cr3t"]}}))
    assert b"s3cr3t" not in line
    assert orjson.loads(line)["call"] == {"urls": ["/a?key=[redacted]"]}
