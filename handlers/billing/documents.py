"""Bill documents: each customer bill's PDF (fpdf2) and HTML (Jinja2), made once with the bill, stored
beside it in its transaction, and served by the ``tmfgate_billing`` spec where its ``billDocument`` points.
"""

from __future__ import annotations

import base64
import datetime as dt
import unicodedata
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from backends.base import Transaction
from handlers.billing.prices import amount
from tmfgate import codec, times
from tmfgate.calls import Actor, Call, Reply
from tmfgate.errors import NotAcceptable, NotFound
from tmfgate.extensions import Handlers
from tmfgate.ids import new_id
from tmfgate.security.tenancy import visible
from tmfgate.types import Document

API = "tmfgate_billing"  # the spec stem of the documents' URL
RESOURCE = "billDocument"
STORED = "tmfgate:billDocument"  # the stored document: its PDF (base64) and HTML, by document id
PDF, HTML = "application/pdf", "text/html"

extension = Handlers(API, api=API)
_templates = Environment(loader=PackageLoader("handlers.billing"), autoescape=select_autoescape(), auto_reload=False)


async def attach(tx: Transaction, actor: Actor, bill: Document, rates: list[Document]) -> Document:
    """Render and store the bill's document; the ``billDocument`` entry (an Attachment) pointing to it."""
    sheet = content(bill, rates)
    pdf = render_pdf(sheet)
    id = new_id()
    stored = {"id": id, "customerBill": bill["id"], "pdf": base64.b64encode(pdf).decode(), "html": render_html(sheet)}
    await tx.create(STORED, id, codec.dumps(stored), owner=actor.owner)  # the bill's owner reads it (tenancy)
    url = actor.gateway.href(API, RESOURCE, id)
    return {
        "id": id,
        "href": url,
        "url": url,
        "name": f"{bill['billNo']}.pdf",
        "description": f"{sheet['title']} {bill['billNo']}; also as HTML at the same URL (Accept: text/html)",
        "attachmentType": "bill",
        "mimeType": PDF,
        "size": {"amount": len(pdf), "units": "bytes"},
        "@type": "Attachment",
    }


@extension.operation
async def retrieveBillDocument(call: Call) -> Reply:
    """The stored PDF, or its HTML when the client prefers text/html; 406 when it takes neither."""
    raw = await call.gateway.backend.get(STORED, call.id, owners=visible(call, STORED))
    if raw is None:
        raise NotFound(f"No bill document has the id {call.id}.")
    stored = codec.loads(raw)
    accept = ", ".join(value.decode("latin-1") for key, value in call.scope["headers"] if key == b"accept")
    chosen = preferred(accept, (PDF, HTML))
    if chosen is None:
        raise NotAcceptable(f"A bill document is served as {PDF} or {HTML}; ask for one of them in Accept.")
    if chosen == HTML:
        return Reply.content(stored["html"].encode(), f"{HTML}; charset=utf-8")
    return Reply.content(base64.b64decode(stored["pdf"]), PDF)


def preferred(accept: str | None, offered: tuple[str, ...]) -> str | None:
    """The offered media type the Accept header ranks highest (RFC 9110 §12.5.1), the first on a tie;
    the first offered when there is no header, None when it accepts none of them."""
    if not accept:
        return offered[0]
    quality: dict[str, float] = {}
    for part in accept.split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        given = next((p[2:] for p in parameters if p.lower().startswith("q=")), "1")
        try:
            quality[media.lower()] = float(given)
        except ValueError:
            quality[media.lower()] = 0.0
    ranked = []
    for position, media in enumerate(offered):
        family = media.split("/")[0] + "/*"
        q = next((quality[key] for key in (media, family, "*/*") if key in quality), 0.0)
        ranked.append((-q, position, media))
    best = min(ranked)
    return best[2] if best[0] < 0 else None


def content(bill: Document, rates: list[Document]) -> dict[str, Any]:
    """What a bill document shows, as text, for either rendering."""
    unit = bill["amountDue"]["unit"]
    period = bill["billingPeriod"]
    last_day = times.parse(period["endDateTime"]) - dt.timedelta(days=1)
    credit = bill.get("category") == "creditNote"
    return {
        "title": "Credit note" if credit else "Invoice",
        "number": bill["billNo"],
        "facts": [
            ("Bill date", bill["billDate"][:10]),
            ("Billing period", f"{period['startDateTime'][:10]} to {last_day.date().isoformat()}"),
            ("Payment due", bill["paymentDueDate"][:10]),
            ("Billing account", _reference(bill["billingAccount"])),
            *((str(party.get("role") or "party").capitalize(), _reference(party)) for party in bill["relatedParty"]),
        ],
        "lines": [_line(rate) for rate in rates],
        "taxes": [
            (f"{item['taxCategory']} {_percent(item['taxRate'])}", _money(item["taxAmount"]["value"], unit))
            for item in bill.get("taxItem", [])
        ],
        "totals": [
            ("Total excluding tax", _money(bill["taxExcludedAmount"]["value"], unit)),
            ("Total including tax", _money(bill["taxIncludedAmount"]["value"], unit)),
            ("Amount due", _money(bill["amountDue"]["value"], unit)),
        ],
        "unit": unit,
    }


def render_pdf(sheet: dict[str, Any]) -> bytes:
    """The bill as an A4 PDF, drawn with fpdf2's built-in Helvetica."""
    from fpdf import FPDF  # noqa: PLC0415 - only bill runs draw documents; it is slow to import
    from fpdf.enums import XPos, YPos  # noqa: PLC0415

    pdf = FPDF(format="A4")
    pdf.set_title(_latin(f"{sheet['title']} {sheet['number']}"))
    pdf.set_author("tmfgate")
    pdf.set_creation_date(dt.datetime.fromisoformat(sheet["facts"][0][1]).replace(tzinfo=dt.UTC))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin(f"{sheet['title']} {sheet['number']}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=10)
    for label, value in sheet["facts"]:
        pdf.cell(40, 6, _latin(label))
        pdf.cell(0, 6, _latin(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font("Helvetica", size=9)
    _table(pdf, [LINE_HEADINGS, *sheet["lines"]])
    pdf.ln(4)
    pdf.set_font("Helvetica", size=10)
    for label, value in [*sheet["taxes"], *sheet["totals"]]:
        pdf.set_font("Helvetica", "B" if label == "Amount due" else "", 10)
        pdf.cell(150, 6, _latin(label), align="R")
        pdf.cell(0, 6, _latin(value), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _table(pdf: Any, rows: list[tuple[str, ...]]) -> None:
    """The lines as a ruled table across the page, headings in bold, a cell's text wrapped when too wide.

    Drawn cell by cell rather than by fpdf2's ``table()``, which lays every cell out twice through its
    line breaker and took most of a bill's time: here only a text wider than its column is broken."""
    widths = [pdf.epw * share / sum(_SHARES) for share in _SHARES]
    height = pdf.font_size * 2  # a line's height, as fpdf2's tables have it
    for number, row in enumerate(rows):
        pdf.set_font(style="B" if number == 0 else "")
        texts = [_latin(value) for value in row]
        lines = [_lines(pdf, text, width) for text, width in zip(texts, widths, strict=True)]
        tall = height * max(len(split) for split in lines)
        if pdf.will_page_break(tall):
            pdf.add_page()
        x, y = pdf.l_margin, pdf.get_y()
        for split, width, align in zip(lines, widths, _ALIGN, strict=True):
            pdf.rect(x, y, width, tall)
            for n, text in enumerate(split):
                pdf.set_xy(x, y + n * height)
                pdf.cell(width, height, text, align=align)
            x += width
        pdf.set_xy(pdf.l_margin, y + tall)


def _lines(pdf: Any, text: str, width: float) -> list[str]:
    """The text's lines in a column of this width: itself when it fits."""
    if pdf.get_string_width(text) <= width - 2 * pdf.c_margin:
        return [text]
    return list(pdf.multi_cell(width, 1, text, dry_run=True, output="LINES"))


_SHARES = (62, 42, 22, 14, 20, 22)  # the columns' widths, as parts of the page's
_ALIGN = ("L", "L", "R", "R", "R", "R")


def render_html(sheet: dict[str, Any]) -> str:
    return _templates.get_template("bill.html").render(sheet=sheet, headings=LINE_HEADINGS)


LINE_HEADINGS = ("Charge", "Period", "Excl. tax", "Tax rate", "Tax", "Incl. tax")


def _line(rate: Document) -> tuple[str, ...]:
    """One line of the bill: a credit (money owed back) counts negative."""
    sign = -1 if rate.get("type") == "appliedBillingCredit" else 1
    unit = rate["taxExcludedAmount"]["unit"]
    coverage = rate.get("periodCoverage") or {}
    start, end = coverage.get("startDateTime", "")[:10], coverage.get("endDateTime", "")[:10]
    if start and end and end > start:
        end = (dt.date.fromisoformat(end) - dt.timedelta(days=1)).isoformat()  # the last day charged
    taxes = rate.get("appliedTax") or [{}]
    return (
        str(rate.get("description") or rate.get("name", "")),
        start if end in ("", start) else f"{start} to {end}",
        _money(sign * amount(rate["taxExcludedAmount"]["value"]), unit),
        _percent(taxes[0].get("taxRate", 0)),
        _money(sign * amount((taxes[0].get("taxAmount") or {}).get("value", 0)), unit),
        _money(sign * amount(rate["taxIncludedAmount"]["value"]), unit),
    )


def _money(value: Any, unit: str) -> str:
    return f"{amount(value):.2f} {unit}"


def _percent(rate: Any) -> str:
    return f"{(amount(rate) * 100).normalize():f}%"


def _reference(ref: Document) -> str:
    name, id = ref.get("name"), ref.get("id", "")
    return f"{name} ({id})" if name and name != id else str(id)


def _latin(text: str) -> str:
    """Text the PDF's built-in font can draw (Latin-1): other letters lose their accents, or become '?'."""
    if text.isascii():
        return text
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
        else:
            base = unicodedata.normalize("NFKD", char)[:1]
            out.append(base if base and ord(base) < 256 else "?")
    return "".join(out)
