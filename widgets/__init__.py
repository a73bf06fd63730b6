"""Streamlit glue shared by the pages: the one cached model loader, the session defaults, renderers.

``widgets`` is the only package besides ``views/`` and ``app.py`` that imports Streamlit. It turns what
``core.ui`` says into ``st.*`` calls so that each page stays a short script: ``session`` (the guard and the
model cache), ``render`` (errors, status, verdict, probabilities), ``diagnosis`` and ``models`` (the parts
of those pages), ``feedback`` (the clinician's answer to a verdict). It never imports TensorFlow
at import time (models load in a background thread, see :class:`core.ui.ModelPool`), and every text
that came from a file is drawn with ``st.text``, never as Markdown.
"""

from widgets.render import model_status_line, probability_chart, show_error, verdict_block
from widgets.session import generator, preload_model, require_session, served_model

__all__ = [
    "generator", "model_status_line", "preload_model", "probability_chart", "require_session",
    "served_model", "show_error", "verdict_block",
]
