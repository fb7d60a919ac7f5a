"""Spark for specs running on threads: a session of its own per spec, a scheduler pool per thread.

Concurrent specs share the ONE SparkContext (one JVM, one set of executors, one cache), but not
its SQL state: each spec gets ``spark.newSession()``, so the ``spark.sql.shuffle.partitions``
the runner sizes per spec, the Arrow switch of the CLV step and the ``sql`` step's temp views
never leak between specs that run at the same time. The new session starts from the run's
session settings (what was set on it after start-up is copied, see :class:`SpecSessions`).

The session is made the thread's *active* session on the JVM side: ``functions.expr`` and
other JVM helpers parse with the active session's conf, and a thread without one falls back to
defaults — a regex in a spec was then parsed with ``escapedStringLiterals=false`` on a worker
thread. PySpark 3.5 keeps its own ``SparkSession._activeSession`` as ONE class attribute for the
whole process, not per thread, so it is not set from spec threads (threads would overwrite each
other); the engine never reads it (every step uses its spec's ``ctx.spark``), and it is put back
to the run's session when the run ends.

Each thread's jobs go to the FAIR scheduler pool ``medallion-<slot>`` (``spark.scheduler.mode``
is FAIR, engine/run/session.py), so the tasks of a small spec are not queued behind every task
of a big one; the job group (``<run id>:<spec>``) stays per spec, PySpark's pinned-thread mode
keeping local properties per thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pyspark import InheritableThread
from pyspark.sql import SparkSession

POOL_PROPERTY = "spark.scheduler.pool"


def pool_name(slot: int) -> str:
    """The FAIR scheduler pool of the thread in ``slot``."""
    return f"medallion-{slot + 1}"


class SpecSessions:
    """Sessions for the specs of one run, all children of the run's session ``base``."""

    def __init__(self, base: SparkSession):
        self.base = base
        self.settings = self._changed_settings(base)

    @staticmethod
    def _changed_settings(base: SparkSession) -> dict[str, str]:
        """The SQL settings of ``base`` a fresh session would not have (set after start-up).

        A new session reads its settings from the SparkContext's configuration; whatever was
        ``spark.conf.set`` on the run's session later (Glue's session, a notebook's) would be
        lost without this.
        """
        fresh = dict(base.newSession().sql("SET").collect())
        return {k: v for k, v in base.sql("SET").collect() if k.startswith("spark.sql.") and fresh.get(k) != v}

    def new(self) -> SparkSession:
        """A session of its own for one spec, with the run's settings."""
        session = self.base.newSession()
        for key, value in self.settings.items():
            session.conf.set(key, value)
        return session

    def for_spec(self, slot: int) -> Any:
        """A new session, active on the calling thread, its jobs in the slot's pool (a context manager)."""
        return self.activate(self.new(), slot)

    @contextmanager
    def activate(self, session: SparkSession, slot: int) -> Iterator[SparkSession]:
        """On the calling thread: ``session`` is the JVM's active session, jobs go to the slot's pool."""
        jvm, sc = session._jvm, session.sparkContext  # noqa: SLF001 - no public API sets it per thread
        jvm.SparkSession.setActiveSession(session._jsparkSession)  # noqa: SLF001
        sc.setLocalProperty(POOL_PROPERTY, pool_name(slot))
        try:
            yield session
        finally:
            sc.setLocalProperty(POOL_PROPERTY, None)  # type: ignore[arg-type]
            jvm.SparkSession.clearActiveSession()

    def restore(self) -> None:
        """After the run: PySpark's process-wide "active session" is the run's session again.

        ``createDataFrame`` on a spec's session (the CLV step) sets it; the next ``get_spark()``
        in this process must not hand out a finished spec's session.
        """
        SparkSession._activeSession = self.base  # noqa: SLF001


def spark_thread(target: Callable[[], None], name: str) -> Any:
    """A thread for one spec: PySpark's InheritableThread (its JVM thread starts from the parent's
    local properties and its py4j connection is released when the thread ends)."""
    thread = InheritableThread(target=target, name=name)
    thread.daemon = True
    return thread
