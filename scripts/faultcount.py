"""How the fault campaign's figures are counted, from the edit history, LiveDesk's final state
(read from the sandbox's control endpoint) and the proxy's log of every PATCH it forwarded.

- Each value `run-<n>` belongs to one field of one contact; its *origin* is the first edit in
  the history whose changes set that field to it (newer edits may carry it: superseded edits'
  values travel in the newer edit's `changes` and PATCH body).
- **delivered**: a `succeeded` edit's request body carries the value (LiveDesk answered 2xx to a
  PATCH holding it), or LiveDesk's final state holds it, or a read of LiveDesk saw it there (a
  PATCH whose answer was lost had landed: the history has it as a change seen in LiveDesk, and a
  newer edit of the field may since have replaced it). A value overwritten later by a newer edit
  of the same field is delivered if one of these holds.
- **replaced before sending**: not delivered, its origin was carried into newer edits, and the
  last edit of that chain sets the field to a value whose origin is newer (the agent changed the
  field again before the first value left). Not a loss.
- **stuck**: the value's chain ends in an edit still unfinished (pending, or failed with a retry
  scheduled) after healing and draining. **waiting for an agent**: it ends in a failure with no
  retry scheduled (permanent, conflict, or out of attempts). A chain ending discarded is counted
  as such, not printed.
- **lost**: none of the above: recorded (the agent was told saved or queued) and never delivered,
  not replaced, not unfinished. Should be 0. **not recorded**: no edit sets the value (the agent
  was told conflict, or met an error).
- **duplicates**: (a) a value carried by more than one succeeded edit; (b) a value LiveDesk
  applied more than once according to the proxy's log of PATCHes answered 2xx: "the same PATCH
  re-sent" when all of them had the same body (a re-send after a reset or a kill), "in another
  PATCH" otherwise. Values are absolute, so a re-applied PATCH changes nothing unless a newer one
  came in between: the final-state check catches that.
- **final state**: for every field the agents edited, take its newest value (by origin, in the
  order recorded): if a succeeded edit carried it but LiveDesk ends with another value, the field
  is "overwritten by older" (not checked while that origin edit is unfinished). The mirror must
  equal LiveDesk.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from faultproxy import Call

if TYPE_CHECKING:
    from faultcampaign import Campaign

# The fields the agents edit, whose values `run-<n>` are counted.
EDITED_FIELDS = ("name", "custom_attributes.bench_a", "custom_attributes.bench_b")
Value = tuple[str, str]  # (field, "run-<n>")


@dataclass
class Figures:
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, example: str | None = None) -> None:
        self.counts[name] += 1
        if example is not None and len(self.examples.setdefault(name, [])) < 5:
            self.examples[name].append(example)


@dataclass
class Tally:
    edits: list[dict]  # the history, in the order recorded
    by_id: dict[int, dict]
    origin: dict[Value, int]  # each value's origin edit
    succeeded_with: dict[Value, list[int]]  # the succeeded edits carrying each value
    calls_with: dict[Value, list[Call]]  # the PATCHes carrying each value
    fates: Figures
    final: Figures
    # (contact, field, LiveDesk's value, the newest value) of each field overwritten by older.
    stale: list[tuple[int, str, Any, str]]

    @property
    def history_duplicates(self) -> dict[Value, list[int]]:
        return {item: ids for item, ids in self.succeeded_with.items() if len(set(ids)) > 1}

    @property
    def applied_twice(self) -> dict[Value, list[Call]]:
        return {
            item: calls
            for item, calls in self.calls_with.items()
            if sum(1 for call in calls if call.applied) > 1
        }

    @property
    def resent(self) -> int:
        """Values applied more than once, always by the same PATCH body."""
        return sum(
            1
            for calls in self.applied_twice.values()
            if len({call.body for call in calls if call.applied}) == 1
        )


def tally(campaign: Campaign) -> Tally:
    from contacts.fields import contact_values
    from contacts.models import Contact, ContactEdit

    edits = list(
        ContactEdit.objects.order_by("created_at", "id").values(
            *("id", "contact__remote_id", "created_at", "state", "failure_kind"),
            *("next_attempt_at", "finished_at", "changes", "request_body"),
            *("carried_into_id", "attempts", "source"),
        )
    )
    by_id = {edit["id"]: edit for edit in edits}
    order = {edit["id"]: position for position, edit in enumerate(edits)}
    origin: dict[Value, int] = {}
    succeeded_with: dict[Value, list[int]] = {}
    # (contact, field, value) a read of LiveDesk found there: rows of changes seen in LiveDesk.
    seen_in_livedesk: set[tuple[int, str, Any]] = set()
    for edit in edits:
        if edit["source"] == ContactEdit.Source.LIVEDESK:
            for change in edit["changes"]:
                seen_in_livedesk.add(
                    (edit["contact__remote_id"], change["field"], change.get("after"))
                )
        for change in edit["changes"]:
            if change["field"] in EDITED_FIELDS and ours(change.get("after")):
                origin.setdefault((change["field"], change["after"]), edit["id"])
        if edit["state"] == ContactEdit.State.SUCCEEDED:
            for key, value in values_in(edit["request_body"]):
                succeeded_with.setdefault((key, value), []).append(edit["id"])
    remote = {
        remote_id: campaign.proxy.sandbox_control("GET", f"/_sandbox/contacts/{remote_id}")[
            "payload"
        ]
        for remote_id in campaign.contact_remote_ids
    }
    mirror = {contact.remote_id: contact_values(contact) for contact in Contact.objects.all()}
    calls_with: dict[Value, list[Call]] = {}
    for call in campaign.proxy.patches:
        try:
            decoded = json.loads(call.body)
        except ValueError:
            continue
        for item in values_in(decoded):
            calls_with.setdefault(item, []).append(call)

    # Each value's fate.
    fates = Figures()
    newest: dict[tuple[int, str], tuple[int, str]] = {}
    for number, (contact_index, key) in enumerate(campaign.plan, start=1):
        remote_id = campaign.contact_remote_ids[contact_index]
        value = f"run-{number}"
        told = campaign.told.get(number)
        edit_id = origin.get((key, value))
        label = f"{value} ({key} of #{remote_id}, told {told.outcome if told else '-'})"
        if edit_id is None:
            fates.add("not recorded", label)
            continue
        slot = (remote_id, key)
        if slot not in newest or order[edit_id] > order[newest[slot][0]]:
            newest[slot] = (edit_id, value)
        if (key, value) in succeeded_with:
            fates.add("delivered")
            continue
        if body_value(remote[remote_id], key) == value:
            fates.add("delivered")
            fates.add("in LiveDesk, carried by no succeeded edit", label)
            continue
        if (remote_id, key, value) in seen_in_livedesk:
            fates.add("delivered")
            fates.add("seen in LiveDesk by a read, carried by no succeeded edit", label)
            continue
        end = chain_end(by_id[edit_id], by_id)
        label += f", edit #{edit_id} -> #{end['id']} {end['state']}"
        if unfinished_queued(end):
            fates.add("stuck", label)
        elif end["state"] == ContactEdit.State.FAILED:
            fates.add("waiting for an agent", label)
        elif end["state"] == ContactEdit.State.DISCARDED:
            fates.add("discarded", label)
        else:
            carried = body_value(end["request_body"], key)
            newer = origin.get((key, carried)) if ours(carried) else None
            if newer is not None and order[newer] > order[edit_id]:
                fates.add("replaced before sending")
            else:
                fates.add("lost", label)

    # LiveDesk's final state and the mirror, field by field.
    final = Figures()
    stale = []
    for (remote_id, key), (edit_id, value) in sorted(newest.items()):
        final.add("fields")
        there = body_value(remote[remote_id], key)
        finished = by_id[edit_id]["state"] not in ContactEdit.UNFINISHED_STATES
        if finished and there != value and (key, value) in succeeded_with:
            final.add("stale")
            stale.append((remote_id, key, there, value))
        if mirror[remote_id].get(key) != there:
            final.add(
                "mirror differs",
                f"{key} of #{remote_id}: mirror {mirror[remote_id].get(key)!r}, LiveDesk {there!r}",
            )

    return Tally(edits, by_id, origin, succeeded_with, calls_with, fates, final, stale)


def left_after_heal(queued, *, current_worker: str) -> dict[str, Any]:
    """The edits of `queued` (a ContactEdit query) left after the worker worked alone: each
    one's next worker task, if any; and the tasks a killed worker left RUNNING."""
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    now = timezone.now()
    next_task: dict[int, Any] = {}
    for args_kwargs, run_after in DBTaskResult.objects.filter(status="READY").values_list(
        "args_kwargs", "run_after"
    ):
        args = (args_kwargs or {}).get("args") or [None]
        if args[0] not in next_task or run_after < next_task[args[0]]:
            next_task[args[0]] = run_after
    left_rows = list(
        queued.order_by("created_at", "id").values(
            "pk", "state", "contact__remote_id", "next_attempt_at", "request_body"
        )
    )
    left = [row["pk"] for row in left_rows]
    in_seconds = {pk: (next_task[pk] - now).total_seconds() for pk in left if pk in next_task}
    running = DBTaskResult.objects.filter(status="RUNNING")
    return {
        "left rows": left_rows,
        "no task": [pk for pk in left if pk not in next_task],
        "task later": {pk: seconds for pk, seconds in in_seconds.items() if seconds > 10},
        "orphaned running tasks": sum(
            1
            for worker_ids in running.values_list("worker_ids", flat=True)
            if worker_ids and worker_ids[-1] != current_worker
        ),
    }


def ours(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("run-")


def body_value(body: Any, key: str) -> Any:
    """The value a PATCH body (or a contact payload) gives the field `key`, if any."""
    if not isinstance(body, dict):
        return None
    if key.startswith("custom_attributes."):
        custom = body.get("custom_attributes")
        return custom.get(key.split(".", 1)[1]) if isinstance(custom, dict) else None
    return body.get(key)


def values_in(body: Any) -> list[Value]:
    """The campaign's values a PATCH body carries."""
    return [(key, body_value(body, key)) for key in EDITED_FIELDS if ours(body_value(body, key))]


def chain_end(edit: dict, by_id: dict[int, dict]) -> dict:
    """The last edit of the chain `edit` was carried into."""
    while edit["carried_into_id"] is not None:
        edit = by_id[edit["carried_into_id"]]
    return edit


def unfinished_queued(edit: dict) -> bool:
    """Still on its way without the agent: pending, or failed with a retry scheduled."""
    if edit["state"] == "pending":
        return True
    return (
        edit["state"] == "failed"
        and edit["failure_kind"] == "transient"
        and edit["next_attempt_at"] is not None
    )
