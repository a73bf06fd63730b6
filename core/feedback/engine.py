"""Where the feedback lives and how to reach it: one engine per database, migrated on first use.

SQLite (the default, a file at ``core.paths.FEEDBACK_DB``) runs in WAL mode so that readers never wait
for a writer, with ``synchronous=FULL`` so that an answer a clinician saw saved survives a power cut,
and every transaction begins ``IMMEDIATE``: a writer takes the file's write lock up front and waits
(``busy_timeout``) for it, instead of failing half-way when another session wrote first.
PostgreSQL is used when ``$MEDIMG_DB_URL`` names it (psycopg 3).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from core import paths

#: Environment variable naming another database (``postgresql://user:pw@host:5432/db``).
DB_URL_ENV = "MEDIMG_DB_URL"
#: How long a writer waits for another session's write lock before giving up (milliseconds).
BUSY_TIMEOUT_MS = 30_000
#: How long to wait for a PostgreSQL server to answer a new connection (seconds).
CONNECT_TIMEOUT_S = 5
#: PostgreSQL advisory-lock key serialising migrations between app processes ("MedImg" in ASCII).
_MIGRATION_LOCK = 0x4D6564496D67
_MIGRATIONS = Path(__file__).with_name("migrations")

# Applying the migrations at first use is routine: Alembic's progress lines would only be noise in the app's log.
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def database_url() -> str:
    """The feedback database's URL: ``$MEDIMG_DB_URL`` if set, else the SQLite file of core.paths."""
    url = os.environ.get(DB_URL_ENV, "").strip()
    return url or f"sqlite:///{paths.FEEDBACK_DB}"


def _normalise(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy's default driver, psycopg2, is not installed)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy, not the driver, emits BEGIN (below)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration, holding the database's write lock meanwhile.

    Args:
        engine: an engine made by :func:`get_engine` (SQLite transactions begin IMMEDIATE).
    """
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine of a feedback database, created and migrated on first use.

    Args:
        url: SQLAlchemy URL; None means :func:`database_url`.

    Returns:
        A thread-safe Engine (its pool hands each thread its own connection).
    """
    url = _normalise(url or database_url())
    with _lock:  # one engine and one migration per database, however many sessions start at once
        if url not in _engines:
            parsed = make_url(url)
            if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
                _configure_sqlite(engine)
            elif parsed.get_backend_name() == "postgresql":  # an unreachable server fails in seconds, not minutes
                engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
            else:
                engine = create_engine(url, pool_pre_ping=True)
            migrate(engine)
            _engines[url] = engine
        return _engines[url]


def dispose_all() -> None:
    """Close every engine's connections (tests, and a forked worker before it opens its own)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
