"""The certificate as a one-page A4 PDF, in Swedish or English, with a QR code to its verification page."""
from __future__ import annotations

import io
import threading
from datetime import datetime
from pathlib import Path

import qrcode
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from qrcode.constants import ERROR_CORRECT_M
from reportlab import rl_config
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from ..domain.certificates import Certificate, CertificateKind

# DejaVu Sans (Debian's fonts-dejavu-core) covers names such as Łukasz or Şükrü; reportlab's
# own Vera, the fallback, covers Latin-1 (Swedish) only. Both are embedded in the PDF.
_FONT_CANDIDATES = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("Vera.ttf", "VeraBd.ttf"),
)
REGULAR, BOLD = "CertificateSans", "CertificateSans-Bold"
# Binary streams instead of ASCII85 text: reportlab's pure-Python ASCII85 was a third of the
# time of a page, and every PDF reader takes binary.
rl_config.useA85 = 0
_fonts_lock = threading.Lock()
INK = HexColor("#1b1f24")
MUTED = HexColor("#4a5561")
ACCENT = HexColor("#0b5cad")
REVOKED_RED = Color(0.64, 0.09, 0.10, alpha=0.35)
WIDTH, HEIGHT = A4
MARGIN = 60
QR_SIZE = 120


def _register_fonts() -> None:
    with _fonts_lock:
        if REGULAR in pdfmetrics.getRegisteredFontNames():
            return
        for regular, bold in _FONT_CANDIDATES:
            if regular.startswith("/") and not Path(regular).exists():
                continue
            pdfmetrics.registerFont(TTFont(REGULAR, regular))
            pdfmetrics.registerFont(TTFont(BOLD, bold))
            return


def qr_png(url: str) -> bytes:
    """The URL as a QR code (error correction M survives a crease or a smudge on paper)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(url)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return buffer.getvalue()


def render_certificate_pdf(certificate: Certificate, verify_url: str, locale: str) -> bytes:
    """The PDF in `locale` ("sv" or "en"); a revoked certificate is marked as such across the page."""
    _register_fonts()
    buffer = io.BytesIO()
    with force_locale(locale):
        canvas = Canvas(buffer, pagesize=A4, invariant=1, lang=locale)
        _draw(canvas, certificate, verify_url, locale)
        canvas.showPage()
        canvas.save()
    return buffer.getvalue()


class _Writer:
    """Lines from the top of the page down, wrapped to the text width."""

    def __init__(self, canvas: Canvas):
        self.canvas = canvas
        self.y = HEIGHT - MARGIN

    def line(self, text: str, size: float = 11, bold: bool = False, colour=INK, gap: float = 0.4,
             width: float = WIDTH - 2 * MARGIN, x: float = MARGIN) -> None:
        font = BOLD if bold else REGULAR
        self.canvas.setFont(font, size)
        self.canvas.setFillColor(colour)
        for part in simpleSplit(text, font, size, width) or [""]:
            self.y -= size * 1.25
            self.canvas.drawString(x, self.y, part)
        self.y -= size * gap

    def fact(self, label: str, value: str) -> None:
        label_width = 150
        self.canvas.setFont(BOLD, 10)
        self.canvas.setFillColor(MUTED)
        top = self.y
        self.canvas.drawString(MARGIN, top - 12.5, label)
        self.line(value, size=10, gap=0.3, width=WIDTH - 2 * MARGIN - label_width, x=MARGIN + label_width)
        self.y = min(self.y, top - 16)


def _date(moment: datetime | None) -> str:
    return format_date(moment, "long") if moment is not None else ""


def _draw(canvas: Canvas, certificate: Certificate, verify_url: str, locale: str) -> None:
    is_certification = certificate.kind is CertificateKind.CERTIFICATION
    programme = getattr(certificate.programme_name, locale)
    title = _("Certificate") if is_certification else _("Certificate of completion")
    canvas.setTitle(f"{title}: {certificate.participant_name}")
    canvas.setAuthor(certificate.issuer_name)
    canvas.setSubject(programme)

    canvas.setStrokeColor(ACCENT)
    canvas.setLineWidth(3)
    canvas.rect(MARGIN / 2, MARGIN / 2, WIDTH - MARGIN, HEIGHT - MARGIN)

    out = _Writer(canvas)
    out.line(certificate.issuer_name, size=12, bold=True, colour=ACCENT, gap=1.5)
    out.line(title, size=30, bold=True, gap=1.2)
    out.line(_("This is to certify that"), size=12, colour=MUTED)
    out.line(certificate.participant_name, size=24, bold=True, gap=0.8)
    if is_certification:
        out.line(_("has completed the whole programme and passed its final exam, and is"), size=12, colour=MUTED)
        out.line(programme, size=18, bold=True, gap=1.5)
    else:
        module = certificate.modules[0]
        out.line(_("has completed the module"), size=12, colour=MUTED)
        out.line(getattr(module.name, locale), size=18, bold=True, gap=0.5)
        out.line(_("in the programme %(programme)s", programme=programme), size=12, colour=MUTED, gap=1.5)

    out.fact(_("Programme"), _("%(name)s (%(code)s, version %(version)s)", name=programme,
                                code=certificate.programme_code, version=certificate.programme_version))
    if is_certification:
        out.fact(_("Final exam passed"), _date(certificate.exam_passed_at))
        out.fact(_("Certified on"), _date(certificate.achieved_at))
    else:
        out.fact(_("Module completed"), _date(certificate.achieved_at))
    out.fact(_("Issued"), _date(certificate.issued_at))
    if certificate.revision > 1:
        out.fact(_("Re-issued"), _date(certificate.revised_at))
    out.fact(_("Valid until"), _date(certificate.expires_at) if certificate.expires_at else _("No expiry date"))
    out.fact(_("Issuer"), certificate.issuer_name)
    out.fact(_("Certificate code"), certificate.code)
    if is_certification:
        out.y -= 8
        out.line(_("Modules completed"), size=11, bold=True, gap=0.2)
        for module in certificate.modules:
            out.line(f"• {getattr(module.name, locale)}", size=9, gap=0.1)

    qr_y = MARGIN
    canvas.drawImage(ImageReader(io.BytesIO(qr_png(verify_url))), WIDTH - MARGIN - QR_SIZE, qr_y, QR_SIZE, QR_SIZE)
    footer = _Writer(canvas)
    footer.y = qr_y + QR_SIZE - 10
    text_width = WIDTH - 2 * MARGIN - QR_SIZE - 20
    footer.line(_("Anyone can check this certificate: scan the QR code or open"), size=9, colour=MUTED,
                width=text_width)
    footer.line(verify_url, size=9, colour=ACCENT, width=text_width)

    if certificate.revoked_at is not None:
        canvas.saveState()
        canvas.setFillColor(REVOKED_RED)
        canvas.setFont(BOLD, 64)
        canvas.translate(WIDTH / 2, HEIGHT / 2)
        canvas.rotate(35)
        canvas.drawCentredString(0, 0, _("REVOKED"))
        canvas.restoreState()
        canvas.setFont(BOLD, 12)
        canvas.setFillColor(HexColor("#a4161a"))
        canvas.drawString(MARGIN, MARGIN / 2 + 10,
                          _("Revoked by the issuer on %(date)s.", date=_date(certificate.revoked_at)))
