"""Background work, run by django-tasks' database worker (`manage.py db_worker`)."""

from django_tasks import task

from contacts import services


@task()
def edit_push_task(edit_id: int) -> str:
    """Deliver one edit whose retry is due, or which its own request never sent."""
    edit = services.edit_push_if_due(edit_id=edit_id)
    return "not due" if edit is None else edit.state
