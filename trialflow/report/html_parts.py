"""HTML pieces of the reports: the only places text enters a page, each escaping it."""

from __future__ import annotations

import base64
import html
from typing import Any

import numpy as np
import pandas as pd

# Rows shown of long tables (the registered CSVs hold them all).
MAX_ROWS = 50


# Length of the longest bar in a table's bar column.
BAR_REM = 12


def text_html(value: Any) -> str:
    return html.escape(str(value), quote=True)


def section_html(anchor: str, title: str, content: str) -> str:
    return f"<section id='{anchor}'><h2>{text_html(title)}</h2>{content}</section>"


def facts_html(facts: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{text_html(k)}</th><td>{text_html(v)}</td></tr>" for k, v in facts.items()
    )
    return f"<table class='facts'>{rows}</table>"


def cell_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def table_html(
    frame: pd.DataFrame,
    *,
    status_column: str | None = None,
    bar: str | None = None,
    anchor: str = "",
) -> str:
    """The first rows of ``frame``; the ``bar`` column's numbers also drawn as bars, scaled
    to its largest value (a negative or missing value draws none)."""
    if frame is None or not len(frame):
        return "<p class='note'>(none)</p>"
    shown = frame.head(MAX_ROWS)
    head = "".join(f"<th>{text_html(c)}</th>" for c in shown.columns)
    top = float(pd.to_numeric(shown[bar], errors="coerce").max()) if bar else 0.0
    body = []
    for _, row in shown.iterrows():
        css = f" class='{text_html(row[status_column])}'" if status_column else ""
        cells = "".join(
            bar_cell_html(v, top) if c == bar else f"<td>{text_html(cell_text(v))}</td>"
            for c, v in zip(shown.columns, row.tolist(), strict=True)
        )
        body.append(f"<tr{css}>{cells}</tr>")
    more = (
        f"<p class='note'>First {MAX_ROWS} of {len(frame):,} rows.</p>"
        if len(frame) > MAX_ROWS
        else ""
    )
    ident = f" id='{anchor}'" if anchor else ""
    return (
        f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>" + more
    )


def bar_cell_html(value: Any, top: float) -> str:
    number = float(value) if isinstance(value, int | float | np.number) else np.nan
    share = number / top if np.isfinite(number) and number > 0 and top > 0 else 0.0
    width = f"{BAR_REM * share:.2f}rem"
    return f"<td class='bar'><span style='width:{width}'></span>{text_html(cell_text(value))}</td>"


def image_html(png: bytes, alt: str, *, anchor: str = "") -> str:
    data = base64.b64encode(png).decode("ascii")
    ident = f" id='{anchor}'" if anchor else ""
    return f"<img{ident} alt='{text_html(alt)}' src='data:image/png;base64,{data}'>"


STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
nav a{margin-right:.8rem}
section{border-top:1px solid #ddd;margin-top:1.5rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
table.facts th{background:#f5f5f5}
tr.alert td{background:#fff3cd}
tr.done td{background:#e8f4ea}
.note{color:#666;font-size:.85rem}
ul.alerts li{color:#8a4b00}
img{max-width:100%}
p.answer{font-size:1.15rem}
div.answer{display:grid;grid-template-columns:minmax(0,1.1fr) minmax(0,1fr);gap:1.5rem}
div.answer section{margin-top:.5rem}
details summary{cursor:pointer;color:#444;margin:.4rem 0}
td.bar{white-space:nowrap;min-width:16rem}
td.bar span{display:inline-block;height:.75rem;margin-right:.5rem;vertical-align:middle;
background:#4c72b0}
"""
