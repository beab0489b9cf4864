"""The version of the terms and privacy notice a sign-up records is the one the SPA's pages show (issue 21 item 11)."""

from __future__ import annotations

import re
from pathlib import Path

from protu.identity import signup

TERMS_PAGE = Path(__file__).resolve().parents[2] / "frontend" / "pages" / "terms.js"


def test_the_terms_page_shows_the_version_sign_ups_record():
    shown = re.search(r'export const TERMS_VERSION = "([^"]+)";', TERMS_PAGE.read_text(encoding="utf-8"))
    assert shown and shown.group(1) == signup.TERMS_VERSION
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", signup.TERMS_VERSION)
