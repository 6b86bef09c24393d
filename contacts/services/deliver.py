"""Delivering an edit while its agent waits on Save: within a budget, past which the worker
(retry tasks, the periodic sweep) takes over."""

from __future__ import annotations

import time

from django.conf import settings

from contacts.livedesk import LiveDeskClient
from contacts.models import ContactEdit
from contacts.services.push import Push, PushResult, edit_push

# How often a Save waiting for an earlier edit of the same contact looks again.
WAIT_POLL_SECONDS = 0.1


def edit_deliver(
    *, edit_id: int, budget_seconds: float, leased: ContactEdit | None = None
) -> tuple[PushResult, ContactEdit]:
    """Push an edit within an agent's wait: past the budget it stays queued for the worker.

    Waits while an earlier edit of the contact goes first, and follows the edit into the newer
    edit its values were carried into. Answers the last push and the edit it concerned.
    `leased`: the edit, recorded already leased to this process (its first push claims nothing).
    """
    deadline = time.monotonic() + budget_seconds
    connect, read = settings.LIVEDESK_TIMEOUT
    client = LiveDeskClient(
        timeout=(min(connect, budget_seconds), min(read, budget_seconds)),
        retries=min(1, settings.LIVEDESK_RETRIES),
        retry_after_cap=min(1.0, budget_seconds),
    )
    with client:
        while True:
            result = edit_push(edit_id=edit_id, client=client, leased=leased)
            leased = None
            edit = result.edit
            if edit.state == ContactEdit.State.SUPERSEDED and edit.carried_into_id:
                edit_id = edit.carried_into_id
                continue
            if result.outcome in (Push.WAITING, Push.BUSY) and time.monotonic() < deadline:
                time.sleep(WAIT_POLL_SECONDS)
                continue
            return result, edit


def edit_retry(*, edit: ContactEdit) -> PushResult:
    """Send an unfinished edit again now, at the agent's request."""
    return edit_deliver(edit_id=edit.pk, budget_seconds=settings.LIVEDESK_SAVE_BUDGET_SECONDS)[0]
