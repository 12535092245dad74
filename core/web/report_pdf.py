"""The PDF of an assessment report, laid out with reportlab from the report's JSON data."""

from __future__ import annotations

import datetime as dt
import functools
import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..engine import minutes_text


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


CHART_WIDTH = 170 * mm
CHART_LABEL_WIDTH = 45 * mm
CHART_BAR_HEIGHT = 7 * mm
CHART_COLOR = colors.HexColor("#3b5bdb")
CHART_OVERALL_COLORS = {None: colors.HexColor("#1d3a9e"), True: colors.HexColor("#12805c"), False: colors.HexColor("#c4320a")}
CHART_LABEL_CHARS = 28


def _percent(category: dict[str, Any]) -> float:
    return round(100.0 * float(category["score"] or 0) / float(category["max_score"] or 100), 1)


def _score_chart(data: dict[str, Any]) -> Drawing:
    """Draw the overall score and each category's percentage as a horizontal bar chart.

    The pass mark, when the assessment type has one, is a dashed line across the bars.
    """
    names = ["Overall"] + [str(category["name"]) for category in data["categories"]]
    values = [float(data["score"])] + [_percent(category) for category in data["categories"]]
    pass_mark = data["pass_mark"]

    plot_height = len(values) * CHART_BAR_HEIGHT * 1.4
    drawing = Drawing(CHART_WIDTH, plot_height + 14 * mm)
    chart = HorizontalBarChart()
    chart.x = CHART_LABEL_WIDTH
    chart.y = 8 * mm
    chart.width = CHART_WIDTH - CHART_LABEL_WIDTH - 14 * mm
    chart.height = plot_height
    chart.data = [[min(max(value, 0.0), 100.0) for value in values]]
    chart.barWidth = CHART_BAR_HEIGHT
    chart.bars[0].fillColor = CHART_COLOR
    chart.bars[0].strokeColor = None
    chart.bars[(0, 0)].fillColor = CHART_OVERALL_COLORS[data["passed"]]
    # The first category is drawn at the top, as on the report page.
    chart.categoryAxis.reverseDirection = 1
    chart.categoryAxis.categoryNames = [
        name if len(name) <= CHART_LABEL_CHARS else name[: CHART_LABEL_CHARS - 1] + "…" for name in names
    ]
    chart.categoryAxis.labels.fontName = PDF_FONT
    chart.categoryAxis.labels.fontSize = 8.5
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.categoryAxis.labels.dx = -4
    chart.categoryAxis.visibleTicks = False
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = 100
    chart.valueAxis.valueStep = 20
    chart.valueAxis.labels.fontName = PDF_FONT
    chart.valueAxis.labels.fontSize = 8
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = colors.HexColor("#e4e7ec")
    # The labels show the stored values, and the bars are clamped to the axis.
    labels = [f"{value:g}%" for value in values]
    chart.barLabelFormat = "values"
    chart.barLabelArray = [labels]
    chart.barLabels.fontName = PDF_FONT
    chart.barLabels.fontSize = 8.5
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 3
    drawing.add(chart)

    if pass_mark is not None:
        x = chart.x + chart.width * min(max(float(pass_mark), 0.0), 100.0) / 100.0
        top = chart.y + chart.height + 2 * mm
        drawing.add(Line(x, chart.y, x, top, strokeColor=colors.black, strokeWidth=1.2, strokeDashArray=[3, 2]))
        drawing.add(String(x, top + 1.5 * mm, f"Pass mark {pass_mark:g}%", fontName=PDF_FONT_BOLD, fontSize=8,
                           textAnchor="middle"))
    return drawing


def _focus_text(focus: dict[str, Any], started: bool) -> str:
    return focus["summary"] if started else "Not started"


def time_taken_text(duration: float | None, limit: float) -> str:
    """Describe the time a candidate took against the time limit, for the report page and the PDF."""
    if duration is None:
        return f"Not finished (time limit {minutes_text(limit)})"
    if duration < 1:
        return f"Less than a minute (time limit {minutes_text(limit)})"
    return f"{minutes_text(duration)} (time limit {minutes_text(limit)})"


# The reason a report has no score, by assessment status. Closed assessments never get one.
MISSING_SCORE_TEXTS = {
    "invited": "No score yet: the candidate has not started.",
    "started": "No score yet: the assessment is in progress.",
    "cancelled": "No score: the assessment was cancelled.",
    "expired": "No score: the invitation expired before the candidate finished.",
}


def missing_score_text(status: str) -> str:
    return MISSING_SCORE_TEXTS.get(status, "No score yet.")


def render_report_pdf(data: dict[str, Any], generated_at: dt.datetime) -> bytes:
    """Lay out the report from ``report_data`` as an A4 PDF and return its bytes."""
    _register_pdf_fonts()
    styles = _pdf_styles()

    def text(value: Any, style: str = "body") -> Paragraph:
        return Paragraph(escape(str(value)), styles[style])

    duration = data["duration_minutes"]
    limit = data["time_limit_minutes"]
    score = data["score"]
    if data["pass_mark"] is None:
        result = "No pass mark for this assessment type"
    else:
        result = f"{data['result_label'] or 'Not judged yet'} (pass mark {data['pass_mark']:g}%)"
    facts = [
        ["Candidate", text(data["candidate"]["name"])],
        ["Email", text(data["candidate"]["email"])],
        ["Job", text(data["job"]["name"] or "Not given")],
        ["Assessment", text(data["assessment_type"]["name"])],
        ["Status", text(data["status_label"])],
        ["Invited", text(_pdf_time(data["created_at"]))],
        ["Started", text(_pdf_time(data["started_at"]))],
        ["Completed", text(_pdf_time(data["completed_at"]))],
        ["Time taken", text(time_taken_text(duration, limit))],
        ["Score", text(f"{score:g}% of a maximum {data['max_score'] or 100:g}%" if score is not None
                       else missing_score_text(data["status"]))],
        ["Result", text(result)],
        ["Focus", text(_focus_text(data["focus"], data["started_at"] is not None))],
    ]
    story: list[Any] = [
        Paragraph(escape(f"Langos report: {data['candidate']['name']}"), styles["title"]),
        _pdf_table([[text(label, "muted"), value] for label, value in facts], [35 * mm, 135 * mm], header=False),
    ]

    if score is not None and data["categories"]:
        rows: list[list[Any]] = [[text("Category", "muted"), text("Score", "muted"), text("Weight", "muted")]]
        for category in data["categories"]:
            weight = category["weight"]
            percent = _percent(category)
            rows.append([text(category["name"]), text(f"{percent:g}%"), text("" if weight is None else f"{weight:g}")])
        table = _pdf_table(rows, [100 * mm, 35 * mm, 35 * mm], header=True)
        story += [Spacer(1, 4 * mm), text("Score by category", "heading"), _score_chart(data), Spacer(1, 2 * mm), table]

    rows = [[text("Time (UTC)", "muted"), text("Event", "muted"), text("Detail", "muted")]]
    for entry in data["timeline"]:
        rows.append([text(_pdf_time(entry["at"], "%Y-%m-%d %H:%M:%S")), text(entry["label"]), text(entry["detail"])])
    if not data["timeline"]:
        rows.append([text("—"), text("Nothing happened yet."), text("")])
    table = _pdf_table(rows, [38 * mm, 40 * mm, 92 * mm], header=True)
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
