"""`lti-tool sync`, `lti-tool sync-status` and `lti-tool outbox …`: grade and roster sync for a scheduler."""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from .cli import unit_of_work
from .db.course_sync import SyncRunRecord
from .db.tenancy import Context
from .services.outbox import outbox_counts, send_due_scores
from .services.sync import linked_context_ids, sync_courses


def _environment():
    from .web.sync_jobs import sync_environment

    return sync_environment(current_app._get_current_object())


@click.command("sync", help="Read rosters (NRPS) and grades (AGS) of linked courses, then send due scores. "
                            "Exit status 1 when a course failed.")
@click.option("--context", "context_ids", type=int, multiple=True, help="A course (context) id; may be repeated.")
@click.option("--all", "every", is_flag=True, help="Every course linked to a cohort.")
@click.option("--parallel", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Courses synced at the same time.")
@click.option("--no-send", is_flag=True, help="Queue scores but leave sending them to `lti-tool outbox send`.")
@with_appcontext
def sync_command(context_ids: tuple[int, ...], every: bool, parallel: int, no_send: bool) -> None:
    if bool(context_ids) == every:
        raise click.UsageError("name the courses with --context ID, or sync them all with --all")
    with unit_of_work() as session:
        known = set(session.scalars(select(Context.id)))
        targets = linked_context_ids(session) if every else list(context_ids)
    unknown = [c for c in targets if c not in known]
    if unknown:
        raise click.ClickException(f"no course with id {', '.join(map(str, unknown))}")
    env = _environment()
    outcomes = sync_courses(env, targets, parallelism=parallel, trigger="cli")
    for outcome in outcomes:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(outcome.counts.items()))
        click.echo(f"course {outcome.context_id}: {outcome.state}" + (f" ({counts})" if counts else "")
                   + (f": {outcome.error}" if outcome.error else ""))
        if outcome.state == "succeeded" and not no_send:
            click.echo(f"course {outcome.context_id}: scores {send_due_scores(env, context_id=outcome.context_id)}")
    if not outcomes:
        click.echo("no linked courses")
    if any(outcome.state == "failed" for outcome in outcomes):
        raise SystemExit(1)


@click.command("sync-status", help="The latest sync runs: when, what they found and wrote, what failed.")
@click.option("--context", "context_id", type=int, default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def sync_status_command(context_id: int | None, limit: int, as_json: bool) -> None:
    with unit_of_work() as session:
        query = select(SyncRunRecord).order_by(SyncRunRecord.started_at.desc(), SyncRunRecord.id.desc()).limit(limit)
        if context_id is not None:
            query = query.where(SyncRunRecord.context_id == context_id)
        runs = [{"id": r.id, "context_id": r.context_id, "trigger": r.trigger, "state": r.state,
                 "started_at": r.started_at.isoformat(),
                 "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                 "counts": r.counts, "error": r.error} for r in session.scalars(query)]
        scores = outbox_counts(session, context_id)
    if as_json:
        click.echo(json.dumps({"runs": runs, "scores": scores}, indent=2))
        return
    for run in runs:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(run["counts"].items()))
        click.echo(f"{run['id']}\tcourse {run['context_id']}\t{run['started_at']}\t{run['trigger']}\t{run['state']}"
                   f"\t{counts}" + (f"\t{run['error']}" if run["error"] else ""))
    if not runs:
        click.echo("no sync runs yet")
    click.echo("scores: " + (", ".join(f"{k} {v}" for k, v in sorted(scores.items())) or "none"))


@click.group("outbox", help="Scores waiting to be sent to the LMS gradebooks.")
def outbox_group() -> None:
    pass


@outbox_group.command("send", help="Send every due score (retries are due after their backoff).")
@click.option("--context", "context_id", type=int, default=None)
@with_appcontext
def outbox_send(context_id: int | None) -> None:
    click.echo(f"scores: {send_due_scores(_environment(), context_id=context_id)}")


@outbox_group.command("status", help="How many scores are pending, sent, refused or superseded.")
@click.option("--context", "context_id", type=int, default=None)
@with_appcontext
def outbox_status(context_id: int | None) -> None:
    with unit_of_work() as session:
        counts = outbox_counts(session, context_id)
    click.echo(", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no scores")


COMMANDS = (sync_command, sync_status_command, outbox_group)
