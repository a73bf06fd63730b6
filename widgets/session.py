"""The session defaults and the one model cache every page uses."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core import ui


def require_session() -> None:
    """Give a page the session's defaults (task, model, memo) when it runs without ``app.py`` before it.

    In the app every run goes through ``app.py``, which sets them; a page script run on its own (a test,
    ``streamlit run views/models.py``) gets the same defaults here instead of failing on a missing key.
    """
    for key, value in ui.session_defaults().items():
        st.session_state.setdefault(key, value)


@st.cache_resource(show_spinner=False)
def _pool() -> ui.ModelPool:
    # One pool per server process, shared by every session: each model is loaded once.
    return ui.ModelPool()


def preload_model(task_id: str, name: str | None) -> None:
    """Start loading the session's model in the background and return at once (the page draws meanwhile)."""
    _pool().start(*ui.served_model_args(task_id, name))


def served_model(task_id: str, name: str | None) -> Any:
    """The session's served model, waiting (with a spinner) while it is still loading.

    Raises:
        Whatever the loader raised (``ModelIntegrityError``, ``ModelNotFoundError``...): the caller shows it.
    """
    pool, args = _pool(), ui.served_model_args(task_id, name)
    if pool.ready(*args):
        return pool.get(*args)
    with st.spinner("Loading the model (once per server start)..."):
        return pool.get(*args)


@st.cache_resource(show_spinner="Loading the generator...")
def generator(path: str) -> Any:
    """A GAN generator, loaded (checked against its card) once per server and shared by every session."""
    return ui.load_generator(path)
