"""Alembic migrations of the feedback database (run by ``core.feedback.engine.migrate``, never imported)."""
