"""How a listing command prints its rows: an aligned table (for a person), `--csv` (for a
spreadsheet) or `--json` (for a program). One column list drives all three, so they cannot
disagree; values are already text (money formatted by `money.format_amount`, never a float)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import orjson

from reseller import csv_export
from reseller.cli import common


def records(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """The rows as JSON objects, keyed by the columns."""
    return [dict(zip(columns, row, strict=True)) for row in rows]


def emit_document(document: Any) -> None:
    """One JSON value (an object holding a listing beside its context: a period, an order's
    fields), as `--json` prints everything: indented, money already text."""
    sys.stdout.write(orjson.dumps(document, default=str, option=orjson.OPT_INDENT_2).decode())
    sys.stdout.write("\n")


def add_format_options(parser: argparse.ArgumentParser) -> None:
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="CSV with a header row")
    fmt.add_argument("--json", action="store_true", help="a JSON array of objects")


def emit(
    args: argparse.Namespace,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
) -> None:
    """`columns` name the JSON keys and CSV header (lower_snake); the table shows them upper
    case. `title` (a line above the table) is left out of CSV and JSON."""
    if getattr(args, "json", False):
        emit_document(records(columns, rows))
    elif getattr(args, "csv", False):
        csv_export.write(sys.stdout, columns, rows)
    else:
        if title:
            print(title)
        header = [c.upper().replace("_", " ") for c in columns]
        cells = [["-" if v is None else str(v) for v in row] for row in rows]
        print(common.table([header, *cells]))
