"""Syncs started by a page (a learner's launch, an instructor's stale dashboard), run after the response.

A small thread pool per worker process, created on first use (after gunicorn forks): the person
who launched never waits for the LMS. Each job is a normal sync run (with its lock in the
database, so another worker's job for the same course is simply skipped), followed by sending
the course's due scores. A course already queued in this process is not queued twice. Jobs are
handed to the pool when the request ends, after its transaction is committed, so a job reads
what the request wrote (the launch's user and course).
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

from flask import Flask, current_app, g
from flask_babel import force_locale, lazy_gettext as _l

from ..services.outbox import send_due_scores
from ..services.sync import LearnerScope, SyncEnvironment, environment_for, sync_course
from .status_comment import status_comments

log = logging.getLogger(__name__)
WORKERS = 2
CERTIFICATION_COLUMN = _l("Certification")


def sync_environment(app: Flask, **overrides) -> SyncEnvironment:
    """A sync's collaborators, writing into the LMS in the tool's default language (LTI_TOOL_DEFAULT_LOCALE)."""
    locale = app.config["LTI_SETTINGS"].DEFAULT_LOCALE
    with app.app_context(), force_locale(locale):
        label = str(CERTIFICATION_COLUMN)
    return environment_for(app, comments=lambda statuses: status_comments(statuses, locale),
                           certification_label=label, **overrides)


class SyncJobs:
    def __init__(self, app: Flask, workers: int = WORKERS):
        self._app = app
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync-job")
        self._lock = threading.Lock()
        self._queued: dict[tuple, Future] = {}

    def submit(self, context_id: int, *, trigger: str, learner: LearnerScope | None = None) -> bool:
        key = (context_id, learner.lms_user_id if learner else None)
        with self._lock:
            if key in self._queued and not self._queued[key].done():
                return False
            self._queued[key] = self._pool.submit(self._run, context_id, trigger, learner)
        return True

    def _run(self, context_id: int, trigger: str, learner: LearnerScope | None) -> None:
        try:
            with self._app.app_context():
                env = sync_environment(self._app)
                outcome = sync_course(env, context_id, trigger=trigger, learner=learner)
                if outcome.state == "succeeded":
                    send_due_scores(env, context_id=context_id)
        except Exception:  # noqa: BLE001 - a background job must not die silently
            log.exception("background sync of course %s failed", context_id)

    def wait(self, timeout: float | None = None) -> None:
        """Until every queued job has ended (tests; a graceful shutdown)."""
        with self._lock:
            futures = list(self._queued.values())
        wait(futures, timeout=timeout)


def sync_jobs(app: Flask | None = None) -> SyncJobs:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    jobs = app.extensions.get("sync_jobs")
    if jobs is None:
        jobs = app.extensions.setdefault("sync_jobs", SyncJobs(app))
    return jobs


def sync_after_request(context_id: int, *, trigger: str, learner: LearnerScope | None = None) -> None:
    """Queue a sync for when this request's transaction is committed (before its response is sent)."""
    g.setdefault("sync_jobs_due", []).append((context_id, trigger, learner))


def submit_due_jobs(error: BaseException | None) -> None:
    """A teardown handler: runs after the request's commit (an after_request), never after a failure."""
    due = g.pop("sync_jobs_due", None)
    if due and error is None:
        jobs = sync_jobs()
        for context_id, trigger, learner in due:
            jobs.submit(context_id, trigger=trigger, learner=learner)
