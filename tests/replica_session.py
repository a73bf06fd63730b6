"""One app replica in its own process: a fresh session uploads one file; what it showed is printed as JSON.

    MEDIMG_MODELS_DIR=... python -m tests.replica_session scan.png

Used by tests/test_replicas.py to compare two replicas; not a test module itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core import paths

#: Element kinds whose text a clinician reads.
SHOWN = ("title", "markdown", "caption", "warning", "error", "info", "success", "text")


def session_shows(upload: Path) -> dict:
    """Run the app, upload ``upload`` on the Diagnose page, and return every text and plotted probability."""
    app = AppTest.from_file(str(paths.REPO_ROOT / "app.py"), default_timeout=180).run()
    app.file_uploader(key="diag_upload").upload(upload.name, upload.read_bytes(), "application/octet-stream")
    app.run()
    shown = {kind: [str(el.value) for el in getattr(app, kind)] for kind in SHOWN}
    shown["exception"] = [str(el.value) for el in app.exception]
    # The plotted numbers (Arrow bytes), wherever the chart keeps its table.
    shown["charts"] = [(c.proto.datasets[0].data.data if c.proto.datasets else c.proto.data.data).hex()
                       for c in app.get("vega_lite_chart")]
    return shown


if __name__ == "__main__":
    print(json.dumps(session_shows(Path(sys.argv[1]))))
