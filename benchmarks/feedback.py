"""How many clinician answers per second the feedback store takes, and whether any is lost.

16 sessions (threads) answer at once, in one process and split over two processes, on a fresh SQLite
file (WAL, synchronous=FULL) and, when ``--pg-url`` (or ``$MEDIMG_TEST_PG_URL``) names one, PostgreSQL.
Every fourth answer keeps a 64x64 image. Printed as a Markdown table.

    python -m benchmarks.feedback [--writes 50] [--pg-url postgresql://user:pw@127.0.0.1:5432/db]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable

import numpy as np
from sqlalchemy import create_engine, text

from core.feedback import FeedbackStore, PredictionRecord, dispose_all
from core.feedback.engine import _normalise

SESSIONS = 16


def _session(url: str, session: int, writes: int) -> None:
    store = FeedbackStore(url)
    image = np.random.default_rng(session).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for i in range(writes):
        record = PredictionRecord("brain_mri_4class", "bench", "0" * 64, f"{session:032x}{i:032x}", "glioma",
                                  "classified", {"glioma": 0.9, "notumor": 0.1}, ["glioma"])
        store.add(record, "agree" if i % 2 else "meningioma", comment="benchmark", pixels=image if i % 4 == 0 else None)


def _threads(url: str, sessions: range, writes: int, ready=None, go=None) -> None:
    dispose_all()  # a new process opens its own connections
    FeedbackStore(url).count()
    if ready is not None:  # started and connected: wait for the others, so start-up is not timed
        ready.put(os.getpid())
        go.wait()
    workers = [threading.Thread(target=_session, args=(url, s, writes)) for s in sessions]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def run(url: str, processes: int, writes: int) -> tuple[float, int]:
    """Seconds for SESSIONS sessions x ``writes`` answers over ``processes`` processes; answers lost."""
    FeedbackStore(url).count()  # migrated before the clock starts, as a running app is
    per = SESSIONS // processes
    if processes == 1:
        start = time.perf_counter()
        _threads(url, range(SESSIONS), writes)
    else:
        context = multiprocessing.get_context("spawn")
        ready, go = context.Queue(), context.Event()
        procs = [context.Process(target=_threads, args=(url, range(p * per, (p + 1) * per), writes, ready, go))
                 for p in range(processes)]
        for p in procs:
            p.start()
        for _ in procs:
            ready.get(timeout=300)
        start = time.perf_counter()
        go.set()
        for p in procs:
            p.join()
    elapsed = time.perf_counter() - start
    return elapsed, SESSIONS * writes - FeedbackStore(url).count()


def _fresh_pg(url: str) -> tuple[str, Callable[[], None]]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_normalise(url))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))

    def drop() -> None:
        dispose_all()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))

    return f"{url}?options=-csearch_path%3D{schema}", drop


def main() -> None:
    """Parse flags, run every backend x process count, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=50, help="answers per session")
    parser.add_argument("--pg-url", default=os.environ.get("MEDIMG_TEST_PG_URL"), help="a PostgreSQL to test too")
    args = parser.parse_args()
    print("| database | processes | sessions | answers | seconds | answers/s | lost |\n|---|---|---|---|---|---|---|")
    for backend in ("sqlite", "postgresql"):
        if backend == "postgresql" and not args.pg_url:
            continue
        for processes in (1, 2):
            if backend == "sqlite":
                url, cleanup = f"sqlite:///{tempfile.mkdtemp()}/feedback.sqlite3", dispose_all
            else:
                url, cleanup = _fresh_pg(args.pg_url)
            seconds, lost = run(url, processes, args.writes)
            total = SESSIONS * args.writes
            rate = total / seconds
            print(f"| {backend} | {processes} | {SESSIONS} | {total} | {seconds:.2f} | {rate:.0f} | {lost} |")
            cleanup()


if __name__ == "__main__":
    main()
