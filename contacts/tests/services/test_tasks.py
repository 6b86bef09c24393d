"""The retry task: enqueued after a transient failure, delivering the edit when it runs."""

from __future__ import annotations

import signal

import django_tasks
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from contacts import services
from contacts.models import Contact, ContactEdit
from contacts.services import edit_push_task
from contacts.tests.factories import contact_synced, edit_submit, patch_bodies

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent():
    return get_user_model().objects.create_user(username="agent")


@pytest.fixture
def edit_failed_transiently(sandbox, agent, settings, django_capture_on_commit_callbacks):
    """An edit whose push met one 503 (no client retries), its retry task enqueued, due now."""
    settings.LIVEDESK_RETRIES = 0
    settings.LIVEDESK_PUSH_BACKOFF_SECONDS = 0
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1
    with django_capture_on_commit_callbacks(execute=True):
        edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})
    edit.refresh_from_db()
    assert edit.failure_kind == ContactEdit.FailureKind.TRANSIENT
    return edit


def test_transient_failure_enqueues_the_retry_task_to_run_at_the_next_attempt(
    edit_failed_transiently,
):
    # The only task: neither the new edit nor its claim enqueue one (the sweep is their backstop).
    [retry] = django_tasks.default_task_backend.results

    assert retry.task.module_path == "contacts.services.push.edit_push_task"
    assert list(retry.args) == [edit_failed_transiently.pk]
    assert retry.task.run_after == edit_failed_transiently.next_attempt_at
    assert retry.status == TaskResultStatus.READY


def test_retry_task_delivers_the_edit(sandbox, edit_failed_transiently):
    state = edit_push_task.call(edit_failed_transiently.pk)

    assert state == ContactEdit.State.SUCCEEDED
    edit = ContactEdit.objects.select_related("contact").get(pk=edit_failed_transiently.pk)
    assert edit.attempts == 2
    assert edit.contact.name == "Ann Smith"
    assert edit.contact.push_state == Contact.PushState.IN_SYNC
    assert patch_bodies(sandbox) == [{"name": "Ann Smith"}, {"name": "Ann Smith"}]


def test_retry_task_leaves_a_discarded_edit_alone(sandbox, agent, edit_failed_transiently):
    services.edit_discard(edit=edit_failed_transiently, user=agent)

    state = edit_push_task.call(edit_failed_transiently.pk)

    assert state == "not due"
    edit_failed_transiently.refresh_from_db()
    assert edit_failed_transiently.state == ContactEdit.State.DISCARDED
    assert len(patch_bodies(sandbox)) == 1


def test_retry_task_leaves_an_edit_waiting_for_the_agent_alone(sandbox, agent, settings):
    contact = contact_synced(sandbox=sandbox, name="Ann")
    other = contact_synced(sandbox=sandbox, name="Bob", email="bob@example.com")
    edit = edit_submit(contact=contact, editor=agent, changes={"email": other.email})
    assert edit.failure_kind == ContactEdit.FailureKind.PERMANENT

    assert edit_push_task.call(edit.pk) == "not due"
    assert len(patch_bodies(sandbox)) == 1


@pytest.fixture
def signal_handlers_restored():
    """db_worker installs its own SIGINT/SIGTERM handlers; give pytest its own back."""
    names = [signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGQUIT", signal.SIGTERM)]
    saved = {name: signal.getsignal(name) for name in names}
    yield
    for name, handler in saved.items():
        signal.signal(name, handler)


@pytest.mark.django_db(transaction=True)
def test_database_worker_delivers_a_failed_push_enqueued_in_the_database(
    sandbox, agent, settings, signal_handlers_restored
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.LIVEDESK_RETRIES = 0
    settings.LIVEDESK_PUSH_BACKOFF_SECONDS = 0
    contact = contact_synced(sandbox=sandbox, name="Ann")
    sandbox.faults.methods = "PATCH"
    sandbox.faults.fail_next = 1

    edit = edit_submit(contact=contact, editor=agent, changes={"name": "Ann Smith"})

    [queued] = DBTaskResult.objects.filter(run_after__lte=timezone.now())
    assert edit.state == ContactEdit.State.FAILED
    assert queued.status == TaskResultStatus.READY
    assert queued.task_path == "contacts.services.push.edit_push_task"
    assert queued.args_kwargs == {"args": [edit.pk], "kwargs": {}}

    call_command(
        "db_worker", batch=True, reload=False, startup_delay=False, interval=0, verbosity=0
    )

    queued.refresh_from_db()
    edit.refresh_from_db()
    contact.refresh_from_db()
    assert queued.status == TaskResultStatus.SUCCESSFUL
    assert queued.return_value == ContactEdit.State.SUCCEEDED
    assert edit.state == ContactEdit.State.SUCCEEDED
    assert contact.name == "Ann Smith"
    assert patch_bodies(sandbox) == [{"name": "Ann Smith"}, {"name": "Ann Smith"}]
