"""Time issuing a cohort's certificates (signed credentials included), one PDF, and a cohort's zip.

Run from a clean checkout: python benchmarks/certificates.py [--participants 100]

A throwaway SQLite database and key folder; every participant on the full programme with all
12 modules and the exam passed, so each gets 13 certificates (one certification, 12 intyg).
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from lti_tool import create_app  # noqa: E402
from lti_tool.credentials.pdf import render_certificate_pdf  # noqa: E402
from lti_tool.db.certificates import CertificateRecord  # noqa: E402
from lti_tool.db.migrate import upgrade  # noqa: E402
from lti_tool.db.session import get_session  # noqa: E402
from lti_tool.domain.certificates import verification_url  # noqa: E402
from lti_tool.services.certificates import CredentialIssuer, issue_due_certificates, to_certificate  # noqa: E402
from lti_tool.services.platforms import NewPlatform, add_platform  # noqa: E402
from tests.support.certificates import enrol_with_results, import_example, lms_user  # noqa: E402

NOW = datetime(2026, 7, 1, tzinfo=timezone.utc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite3"
        upgrade(url)
        app = create_app({"DATABASE_URL": url, "KEYS_DIR": f"{folder}/keys"})
        keys = app.extensions["lti_services"].tool_keys
        keys.ensure_key(NOW)
        issuer = CredentialIssuer.from_settings(app.config["LTI_SETTINGS"], keys)
        with app.test_request_context("/?lang=sv"):
            session = get_session()
            registration_id = add_platform(session, NewPlatform(
                issuer="https://lms.example", client_id="c", auth_login_url="https://lms.example/a",
                auth_token_url="https://lms.example/t", key_set_url="https://lms.example/k"), NOW).id
            cohort = import_example(session, registration_id)
            for number in range(args.participants):
                user = lms_user(session, registration_id, f"p{number}", f"Deltagare {number}")
                enrol_with_results(session, registration_id, cohort, user)
            session.commit()

            started = time.perf_counter()
            outcome = issue_due_certificates(session, registration_id, cohort.id, NOW, issuer)
            session.commit()
            issuing = time.perf_counter() - started
            count = len(outcome.issued)

            records = list(session.scalars(select(CertificateRecord)))
            certificate = to_certificate(records[-1])
            url_of = verification_url("https://tool.example", certificate.code)
            render_certificate_pdf(certificate, url_of, "sv")  # fonts loaded once, not measured
            started = time.perf_counter()
            for _ in range(50):
                render_certificate_pdf(certificate, url_of, "sv")
            one_pdf = (time.perf_counter() - started) / 50

            started = time.perf_counter()
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for record in records:
                    cert = to_certificate(record)
                    archive.writestr(f"{cert.code}.pdf", render_certificate_pdf(
                        cert, verification_url("https://tool.example", cert.code), "sv"))
            zipping = time.perf_counter() - started
        app.extensions["db_engine"].dispose()
    print(f"participants: {args.participants}, certificates issued: {count}")
    print(f"issue (recompute + sign + store): {issuing:.2f} s, {issuing / count * 1000:.2f} ms per certificate")
    print(f"one PDF (sv, with QR): {one_pdf * 1000:.1f} ms")
    print(f"cohort zip of {len(records)} PDFs: {zipping:.2f} s, {len(buffer.getvalue()) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
