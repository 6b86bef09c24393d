"""Use cases that write, one module per topic; only this package imports the LiveDesk client.

- `sync`: pull LiveDesk's contacts into the mirror (`mirror` turns an answer into a row);
  `sync_pages` fetches the pages, several at once, and `sync_write` writes them.
- `edits`: record an agent's edit in the outbox and submit it; discard; block and unblock
  (`carry`: the values of earlier edits still waiting, carried into a newer one).
- `push`: deliver one recorded edit to LiveDesk (`deliver`: within an agent's wait), retry it
  (`contact_row`: the contact's row as a push leaves it).
- `batches`: many contacts changed at once (bulk edit, import, undo of a batch): drafts, their
  preview, confirm (one outbox edit per changed contact), undo (`bulk_operations`: a bulk edit's
  operations, checked by the edit form's fields; `batch_plans`: what a batch does to each
  contact); `restore`: what an undo or the revert of one edit puts back, and `edit_revert`.
- `batch_delivery`: a confirmed batch's edits pushed by the worker at the batch rate.
- `sweep`: the worker's periodic sweep of the outbox, the backstop of every push
  (`periodic`: exactly one run of a periodic task waiting, for it and the scheduled sync).

The names below are the package's public API for pages, the admin and commands.
"""

from contacts.services.batch_delivery import (
    DeliveryRun,
    batch_delivery_run,
    batch_delivery_start,
    batch_delivery_task,
)
from contacts.services.batches import (
    BatchNotUndoable,
    BatchPreview,
    BulkInvalid,
    BulkOperation,
    PreviewChange,
    PreviewRow,
    batch_confirm,
    batch_contacts,
    batch_draft_bulk_edit,
    batch_draft_rows,
    batch_preview,
    batch_undo_draft,
    bulk_operations_validate,
)
from contacts.services.deliver import edit_deliver, edit_retry
from contacts.services.edits import (
    EditConflict,
    EditInFlight,
    EditOutcome,
    EditSubmission,
    FieldConflict,
    contact_edit_record,
    contact_edit_submit,
    contacts_set_blocked,
    edit_discard,
)
from contacts.services.push import (
    ORPHANED_PENDING_AFTER,
    Push,
    PushResult,
    edit_push,
    edit_push_if_due,
    edit_push_task,
)
from contacts.services.restore import EditNotRevertable, edit_revert
from contacts.services.sweep import (
    PushSummary,
    edits_push_due,
    edits_sweep_chain_start,
    edits_sweep_task,
)
from contacts.services.sync import (
    Refreshed,
    RefreshResult,
    SyncInterrupted,
    SyncSummary,
    contact_refresh,
    contacts_refresh,
    contacts_sync,
)

__all__ = [
    "ORPHANED_PENDING_AFTER",
    "BatchNotUndoable",
    "BatchPreview",
    "BulkInvalid",
    "BulkOperation",
    "DeliveryRun",
    "EditNotRevertable",
    "PreviewChange",
    "PreviewRow",
    "batch_confirm",
    "batch_contacts",
    "batch_draft_bulk_edit",
    "batch_draft_rows",
    "batch_preview",
    "batch_undo_draft",
    "bulk_operations_validate",
    "edit_revert",
    "EditConflict",
    "EditInFlight",
    "EditOutcome",
    "EditSubmission",
    "FieldConflict",
    "Push",
    "PushResult",
    "PushSummary",
    "RefreshResult",
    "Refreshed",
    "SyncInterrupted",
    "SyncSummary",
    "batch_delivery_run",
    "batch_delivery_start",
    "batch_delivery_task",
    "contact_edit_record",
    "contact_edit_submit",
    "contact_refresh",
    "contacts_refresh",
    "contacts_set_blocked",
    "contacts_sync",
    "edit_discard",
    "edit_push",
    "edit_deliver",
    "edit_push_if_due",
    "edit_push_task",
    "edit_retry",
    "edits_push_due",
    "edits_sweep_chain_start",
    "edits_sweep_task",
]
