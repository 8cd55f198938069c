"""Rows as CSV for a spreadsheet, the same from the CLI (`--csv`) and the console (a download):
a header row, values already text (money formatted by `money.format_amount`), empty for None."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any, TextIO


def write(stream: TextIO, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if v is None else str(v) for v in row] for row in rows])


def text(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    stream = io.StringIO()
    write(stream, columns, rows)
    return stream.getvalue()
