"""Background work, run by django-tasks' database worker (`manage.py db_worker`)."""

from django_tasks import task

from contacts import services


@task()
def edit_push_task(edit_id: int) -> str:
    """Retry the push of one edit that failed for a transient reason."""
    return services.edit_push(edit_id=edit_id).state
