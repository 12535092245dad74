"""The PDF of an assessment report, laid out with reportlab from the report's JSON data."""

from __future__ import annotations

import datetime as dt
import functools
import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle


PDF_FONT = "LangosSans"
PDF_FONT_BOLD = "LangosSans-Bold"
# DejaVu Sans (Debian's fonts-dejavu-core) covers Latin, Greek and Cyrillic, and reportlab
# ships Bitstream Vera as the fallback. The chosen font is embedded in the PDF.
# NOTE: Vera covers Western European Latin only, so without DejaVu an arrow or a Cyrillic
# name prints as a missing glyph. Neither font has CJK glyphs.
PDF_FONT_FILES = (("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"), ("Vera.ttf", "VeraBd.ttf"))


@functools.cache
def _register_pdf_fonts() -> None:
    """Register the report's fonts with reportlab, once per process."""
    for regular, bold in PDF_FONT_FILES:
        try:
            fonts = (TTFont(PDF_FONT, regular), TTFont(PDF_FONT_BOLD, bold))
        except TTFError:
            continue
        for font in fonts:
            pdfmetrics.registerFont(font)
        pdfmetrics.registerFontFamily(PDF_FONT, normal=PDF_FONT, bold=PDF_FONT_BOLD)
        return
    raise RuntimeError("no font for the PDF report: neither DejaVu Sans nor reportlab's Vera was found")


def _pdf_styles() -> dict[str, ParagraphStyle]:
    sample = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("title", parent=sample["Title"], fontName=PDF_FONT_BOLD, alignment=0, fontSize=18),
        "heading": ParagraphStyle("heading", parent=sample["Heading2"], fontName=PDF_FONT_BOLD, fontSize=13),
        "body": ParagraphStyle("body", parent=sample["BodyText"], fontName=PDF_FONT, fontSize=9.5, leading=12),
        "muted": ParagraphStyle(
            "muted", parent=sample["BodyText"], fontName=PDF_FONT, fontSize=8.5, textColor=colors.HexColor("#667085")
        ),
    }


def _pdf_time(value: str | None, time_format: str = "%Y-%m-%d %H:%M:%S UTC") -> str:
    if value is None:
        return "—"
    return dt.datetime.fromisoformat(value).strftime(time_format)


def _pdf_table(rows: list[list[Any]], widths: list[float], *, header: bool) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    commands: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#e4e7ec")),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f6f7f9")))
    table.setStyle(TableStyle(commands))
    return table


def render_report_pdf(data: dict[str, Any], generated_at: dt.datetime) -> bytes:
    """Lay out the report from ``report_data`` as an A4 PDF and return its bytes."""
    _register_pdf_fonts()
    styles = _pdf_styles()

    def text(value: Any, style: str = "body") -> Paragraph:
        return Paragraph(escape(str(value)), styles[style])

    duration = data["duration_minutes"]
    limit = data["assessment_type"]["time_limit_minutes"]
    score = data["score"]
    facts = [
        ["Candidate", text(data["candidate"]["name"])],
        ["Email", text(data["candidate"]["email"])],
        ["Job", text(data["job"]["name"] or "Not given")],
        ["Assessment", text(data["assessment_type"]["name"])],
        ["Status", text(data["status_label"])],
        ["Invited", text(_pdf_time(data["created_at"]))],
        ["Started", text(_pdf_time(data["started_at"]))],
        ["Completed", text(_pdf_time(data["completed_at"]))],
        ["Time taken", text(f"{duration:g} minutes (limit {limit})" if duration is not None else "Not finished")],
        ["Score", text(f"{score:g}% of a maximum {data['max_score'] or 100:g}%" if score is not None else "No score yet")],
    ]
    story: list[Any] = [
        Paragraph(escape(f"Langos report: {data['candidate']['name']}"), styles["title"]),
        _pdf_table([[text(label, "muted"), value] for label, value in facts], [35 * mm, 135 * mm], header=False),
    ]

    if data["categories"]:
        rows: list[list[Any]] = [[text("Category", "muted"), text("Score", "muted"), text("Weight", "muted")]]
        for category in data["categories"]:
            percent = 100.0 * float(category["score"] or 0) / float(category["max_score"] or 100)
            weight = category["weight"]
            rows.append([text(category["name"]), text(f"{percent:.1f}%"), text("" if weight is None else f"{weight:g}")])
        table = _pdf_table(rows, [100 * mm, 35 * mm, 35 * mm], header=True)
        story += [Spacer(1, 4 * mm), text("Score by category", "heading"), table]

    rows = [[text("Time (UTC)", "muted"), text("Event", "muted"), text("Detail", "muted")]]
    for entry in data["timeline"]:
        rows.append([text(_pdf_time(entry["at"], "%Y-%m-%d %H:%M:%S")), text(entry["label"]), text(entry["detail"])])
    if not data["timeline"]:
        rows.append([text("—"), text("Nothing happened yet."), text("")])
    table = _pdf_table(rows, [42 * mm, 30 * mm, 98 * mm], header=True)
    story += [Spacer(1, 4 * mm), text("Timeline", "heading"), table]

    footer = f"Assessment {data['id']} · generated by Langos on {generated_at.strftime('%Y-%m-%d %H:%M UTC')}"

    def draw_footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(PDF_FONT, 7.5)
        canvas.setFillColor(colors.HexColor("#667085"))
        canvas.drawString(20 * mm, 10 * mm, footer)
        canvas.drawRightString(A4[0] - 20 * mm, 10 * mm, f"Page {document.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"Langos report: {data['candidate']['name']}",
        author="Langos",
    )
    document.build(story, onFirstPage=draw_footer, onLaterPages=draw_footer)
    return buffer.getvalue()
