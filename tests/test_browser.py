"""End to end in a real browser: a clinician opens the app, uploads a scan (PNG, then DICOM) and reads the answer.

Starts ``streamlit run app.py`` on a free loopback port with the shipped models, drives headless Chromium
(Debian's, or Playwright's own) through Playwright, and saves screenshots for people to look at. Locally a
machine without Chromium skips this test, saying how to install it; in CI (``CI`` set) that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.tasks import get_task
from tests._imagefiles import dicom_bytes
from tests.serving import free_port, running_app, streamlit_command

SCREENSHOT_DIR = Path(os.environ.get("E2E_SCREENSHOT_DIR", Path(__file__).resolve().parent.parent / "runs" / "e2e"))
TASK = get_task("brain_mri_4class")
#: What the page shows once a file has been analysed: a verdict, a refusal, or the file's own error.
ANSWERS = ("calibrated probability", "Not classified:", "Not analysed")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser


def _chromium(pw) -> str | None:
    """Debian's chromium, or None to use Playwright's own download when it exists."""
    system = shutil.which("chromium") or shutil.which("chromium-browser")
    if system:
        return system
    if Path(pw.chromium.executable_path).exists():
        return None
    message = ("No Chromium: install it with 'sudo apt-get install chromium' or "
               "'python -m playwright install chromium' (scripts/test tries both).")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def playwright():
    """One Playwright driver for the module (its sync API allows only one at a time)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@contextlib.contextmanager
def fresh_app_page(pw, path: str = "", heading: str = "Diagnose"):
    """A new app server and a headless Chromium page opened at ``base/path``, once ``heading`` is drawn."""
    executable = _chromium(pw)
    port = free_port()
    args = ["run", "app.py", f"--server.port={port}", "--server.address=127.0.0.1", "--server.headless=true"]
    with running_app(streamlit_command(args), port) as base:
        browser = pw.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(f"{base}/{path}", wait_until="domcontentloaded")
        page.get_by_role("heading", name=heading).first.wait_for(timeout=120_000)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def browser_page(playwright):
    # Diagnose is the navigation's default page, served at the root address: the one README and clinicians open.
    with fresh_app_page(playwright) as page:
        yield page


def _answer(page, file_name: str, data: bytes, marker: str | None = None) -> str:
    """Upload one file and wait for its verdict, refusal or error (after ``marker``, a text only this file
    brings, when an earlier answer is still on the page); returns the page's text."""
    page.locator('input[type="file"]').first.set_input_files(
        files=[{"name": file_name, "mimeType": "application/octet-stream", "buffer": data}])
    answer = page.get_by_text(ANSWERS[0]).or_(page.get_by_text(ANSWERS[1])).or_(page.get_by_text(ANSWERS[2]))
    try:
        if marker:
            page.get_by_text(marker).first.wait_for(timeout=180_000)
        answer.first.wait_for(timeout=180_000)
        # The rest of the run (overlay, report) ends with the download buttons, unless the file was not analysed.
        page.get_by_text("Download report (PDF)").or_(page.get_by_text(ANSWERS[2])).first.wait_for(timeout=180_000)
    except Exception:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / "timed-out.png"), full_page=True)  # what the page showed
        raise
    return page.inner_text("body")


def test_uploading_a_png_then_a_dicom_gives_an_answer_with_the_model_status(browser_page):
    from core.paths import SAMPLES_DIR

    page = browser_page
    assert "Page not found" not in page.inner_text("body")
    sample = sorted((SAMPLES_DIR / TASK.id).glob("*.png"))[0]
    text = _answer(page, "DOE_JANE_12345.png", sample.read_bytes())
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "diagnosis.png"), full_page=True)
    assert any(name in text for name in TASK.class_names.values()) or "Not classified" in text
    assert "Demo on phantoms" in text or "Research use only" in text
    assert "DOE_JANE" not in text  # file names stay hidden unless the session turns them on

    from PIL import Image

    pixels = np.asarray(Image.open(sample).convert("L"), dtype=np.uint16) * 16  # 12-bit, as scanners store it
    page.get_by_test_id("stFileChipDeleteBtn").first.locator("button").click()  # the uploader adds; remove the PNG
    page.get_by_test_id("stFileChipDeleteBtn").first.wait_for(state="detached")
    page.get_by_text("Choose an image to analyse").first.wait_for(timeout=60_000)  # the page has settled, empty
    text = _answer(page, "slice", dicom_bytes(pixels, Modality="MR", PatientName="DOE^JANE"), "Modality: MR")
    page.screenshot(path=str(SCREENSHOT_DIR / "diagnosis-dicom.png"), full_page=True)
    assert "DOE" not in text and "Page not found" not in text
    assert any(name in text for name in TASK.class_names.values()) or "Not classified" in text


def test_at_tablet_width_the_model_status_is_visible_beside_the_verdict(browser_page):
    page = browser_page
    page.set_viewport_size({"width": 768, "height": 1400})
    page.wait_for_timeout(1000)
    status = page.get_by_text("Demo on phantoms").or_(page.get_by_text("Research use only"))
    assert status.first.is_visible()
    page.screenshot(path=str(SCREENSHOT_DIR / "diagnosis-tablet.png"), full_page=True)


def test_a_deep_link_opened_first_on_a_fresh_server_shows_its_page(playwright):
    # The first request a new server ever gets is the Models page's own address (a bookmark, a link in a report).
    with fresh_app_page(playwright, "models", heading="Models") as page:
        page.wait_for_timeout(1000)
        text, diagnose_headings = page.inner_text("body"), page.get_by_role("heading", name="Diagnose").count()
    assert "Page not found" not in text
    assert diagnose_headings == 0  # the Models page itself, not the default page in its place
