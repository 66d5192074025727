"""The frame of rdf2mm's HTML pages (run, ablation and tune reports): one self-contained
page (inline style, no scripts), its tables, and values written for people."""
from __future__ import annotations

from typing import Any

from rdf2mm.charts.svg import esc, value_text
from rdf2mm.io.targets import REPORT_MARK

_esc = esc


def display(value: Any) -> str:
    """A config or metric value for people: ``—`` for unset, yes/no, lists comma-separated."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return value_text(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(display(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {display(v)}" for k, v in value.items()) or "—"
    return str(value)


def table(kind: str, rows: list[tuple[Any, ...]], header: tuple[str, ...] = ("setting", "value"),
           raw: bool = False) -> str:
    """A table; cells are escaped unless ``raw`` (then the caller built them as HTML)."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c if raw else _esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{kind}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def fmt_metric(value: Any) -> str:
    """A metric for a table: floats to four decimals."""
    return f"{value:.4f}" if isinstance(value, float) else display(value)


STYLE = ("body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1.5em;color:#222}"
         "h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}"
         "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 10px;"
         "font-size:13px;text-align:left;vertical-align:top}th{background:#f3f3f3}"
         "td.num{text-align:right;font-variant-numeric:tabular-nums}"
         "table.inner td,table.inner th{border:none;padding:1px 10px 1px 0}"
         "svg.chart{display:block;margin:.5em 0;background:#fcfcfc;height:auto}"
         "p.note{color:#555;font-size:13px}.cols{display:flex;gap:2em;flex-wrap:wrap;align-items:flex-start}.cols>div{flex:1 1 40%;min-width:320px}")


def page(title: str, subtitle: str, sections: list[str]) -> str:
    """A whole page: ``title``, a ``subtitle`` line, then the ``sections`` (HTML)."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">" + REPORT_MARK +
            f"<title>{_esc(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{_esc(title)}</h1><p>{_esc(subtitle)}</p>"
            + "\n".join(sections) + "</body></html>\n")
