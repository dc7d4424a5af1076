"""Text and HTML tables for ``DataFrame``: bounded rows and columns, a dtype row, a device badge."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ember.frame import DataFrame

#: Rows shown (half from the top, half from the bottom) and columns shown (likewise).
MAX_ROWS = 10
MAX_COLS = 12
#: Characters shown of one cell.
MAX_CELL = 32
ELLIPSIS = "…"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + ELLIPSIS


def _cells(df: DataFrame) -> tuple[list[str], list[str], list[list[str]]]:
    """Header names, dtypes and rows of text, each cut to the bounds with an ellipsis."""
    n, names = df.height, df.columns
    half = MAX_ROWS // 2
    cut_rows = n > MAX_ROWS
    per_col = df._df.format_rows(half if cut_rows else n, half if cut_rows else 0)
    dtypes = [t for _, t in df._df.schema]
    cols = list(range(len(names)))
    if len(cols) > MAX_COLS:
        cols = cols[: MAX_COLS // 2] + [-1] + cols[-(MAX_COLS // 2) :]
    header = [names[c] if c >= 0 else ELLIPSIS for c in cols]
    types = [dtypes[c] if c >= 0 else "" for c in cols]
    shown = len(per_col[0]) if per_col else 0
    rows = [[_cut(per_col[c][r]) if c >= 0 else ELLIPSIS for c in cols] for r in range(shown)]
    if cut_rows:
        rows.insert(half, [ELLIPSIS] * len(cols))
    return header, types, rows


def to_text(df: DataFrame) -> str:
    header, types, rows = _cells(df)
    out = [f"shape: ({df.height}, {df.width}) · device: {df.device}"]
    if not header:
        return out[0]
    widths = [max(len(x) for x in col) for col in zip(header, types, *rows)]

    def line(values: list[str]) -> str:
        return "│ " + " ┆ ".join(v.ljust(w) for v, w in zip(values, widths)) + " │"

    bar = "─" * (sum(widths) + 3 * len(widths) - 1)
    out += ["┌" + bar + "┐", line(header), line(types), "╞" + "═" * len(bar) + "╡"]
    out += [line(r) for r in rows]
    out.append("└" + bar + "┘")
    return "\n".join(out)


def to_html(df: DataFrame) -> str:
    header, types, rows = _cells(df)
    esc = html.escape
    badge = (
        '<span style="padding:0 4px;border-radius:3px;background:#fde7d9;color:#9a3412">'
        f"{esc(df.device)}</span>"
    )
    parts = [
        "<div>",
        f"<small>shape: ({df.height}, {df.width}) · device: {badge}</small>",
        '<table border="1" class="dataframe ember">',
        "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>",
        "<tr>" + "".join(f"<td><i>{esc(t)}</i></td>" for t in types) + "</tr></thead>",
        "<tbody>",
    ]
    parts += ["<tr>" + "".join(f"<td>{esc(v)}</td>" for v in r) + "</tr>" for r in rows]
    parts += ["</tbody>", "</table>", "</div>"]
    return "".join(parts)
