"""The fault campaign's printed report: the figures of `faultcount.tally` and their evidence."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from faultcampaign import APP_SETTINGS, KILL_WAIT_SECONDS, WORKER_ALONE_SECONDS, Campaign
from faultcount import Tally, chain_end, tally, unfinished_queued


def report(campaign: Campaign) -> None:
    options = campaign.options
    proxy = campaign.proxy
    counted = tally(campaign)
    edits, made, final = counted.edits, counted.fates.counts, counted.final.counts
    unheard = Counter(call.unheard for call in proxy.patches if call.applied)
    del unheard[""]
    states = Counter(edit["state"] for edit in edits)
    stuck_rows = [edit for edit in edits if unfinished_queued(edit)]
    waiting_rows = [e for e in edits if e["state"] == "failed" and not unfinished_queued(e)]
    told = Counter(
        told.outcome + (" (behind another edit)" if told.waiting else "")
        for told in campaign.told.values()
    )
    reopened = sum(told.conflicts_first for told in campaign.told.values())
    applied_twice = len(counted.applied_twice)
    times = campaign.times

    print()
    print(f"bench-faults: {campaign.database_label}; seed {options.seed}")
    print(
        f"  settings: {', '.join(f'{k}={v}' for k, v in APP_SETTINGS.items())}; "
        f"{options.agents} agents; worker interval 0.2 s"
    )
    rows = [
        ("edits made", f"{len(campaign.told):,} of {options.edits:,}"),
        ("  agents were told", counter_text(told)),
        ("  conflicts, then Edit and resend", f"{reopened:,}"),
        ("  history rows", f"{len(edits):,} ({counter_text(states)})"),
        ("delivered", f"{made['delivered']:,}"),
        (
            "  in LiveDesk, no succeeded edit",
            f"{made['in LiveDesk, carried by no succeeded edit']:,}",
        ),
        (
            "  seen in LiveDesk by a read only",
            f"{made['seen in LiveDesk by a read, carried by no succeeded edit']:,}",
        ),
        ("replaced before sending", f"{made['replaced before sending']:,}"),
        ("LOST (never delivered)", f"{made['lost']:,}"),
        (
            "LOST (overwritten by older)",
            f"{final['stale']:,} fields whose newest edit succeeded but LiveDesk ends "
            f"with an older value",
        ),
        ("not recorded", f"{made['not recorded']:,}"),
        (
            "DUPLICATES",
            f"{len(counted.history_duplicates):,} values in more than one succeeded edit; "
            f"{applied_twice:,} values applied by LiveDesk more than once "
            f"({counted.resent:,} the same PATCH re-sent, {applied_twice - counted.resent:,} "
            f"in another PATCH)",
        ),
        (
            "  applied, answer unheard",
            f"{sum(unheard.values()):,} PATCHes ({counter_text(unheard) or 'none'})",
        ),
        ("STUCK after heal + drain", f"{len(stuck_rows):,} edits ({made['stuck']:,} values)"),
        (
            "waiting for an agent",
            f"{len(waiting_rows):,} edits ({made['waiting for an agent']:,} values"
            + (
                f"; {counter_text(Counter(e['failure_kind'] for e in waiting_rows))})"
                if waiting_rows
                else ")"
            ),
        ),
        (
            "final state",
            f"{final['fields']:,} fields checked: LiveDesk not the newest value "
            f"{final['stale']:,}, mirror differs from LiveDesk {final['mirror differs']:,}",
        ),
        ("worker killed", kill_text(campaign, counted.by_id)),
        ("after healing", heal_text(campaign)),
        ("logs", counter_text(campaign.log_counts) or "no errors, no 'delivered twice'"),
        (
            "elapsed",
            f"edits {times.get('edits', 0):.1f} s, heal and drain "
            f"{times.get('heal and drain', 0):.1f} s, "
            f"total {time.perf_counter() - campaign.started:.1f} s",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    for name, text in rows:
        print(f"  {name:<{width}}  {text}")
    calls = proxy.calls
    failed = sum(count for kind, count in proxy.served.items() if kind != "passed (2xx)")
    print(
        f"  fault mix served: {calls:,} LiveDesk API calls reached the proxy, "
        f"{failed:,} failed ({failed / calls if calls else 0:.1%}), plus "
        f"{len(proxy.outages)} outages of {options.outage_seconds:g} s (all refused)"
    )
    for kind, count in sorted(proxy.served.items(), key=lambda item: -item[1]):
        print(f"    {kind:<34} {count:>7,}  {count / calls if calls else 0:6.1%}")
    examples = counted.fates.examples
    for name in (
        "lost",
        "stuck",
        "waiting for an agent",
        "not recorded",
        "in LiveDesk, carried by no succeeded edit",
        "seen in LiveDesk by a read, carried by no succeeded edit",
    ):
        if examples.get(name):
            print(f"  e.g. {name}: " + "; ".join(examples[name]))
    if counted.final.examples.get("mirror differs"):
        print("  e.g. mirror differs: " + "; ".join(counted.final.examples["mirror differs"]))
    for text in left_texts(campaign)[:5]:
        print(f"  left after the worker alone: {text}")
    for stale in counted.stale[:3]:
        print(f"  overwritten by an older value: {stale_text(counted, *stale)}")
    for edit in [edit for edit in waiting_rows if edit["failure_kind"] == "conflict"][:3]:
        print(f"  conflict: {conflict_text(edit, edits)}")
    for (key, value), ids in list(counted.history_duplicates.items())[:3]:
        print(f"  duplicate: {value} ({key}) in succeeded edits #{', #'.join(map(str, ids))}")
    errors = [told for told in campaign.told.values() if told.outcome == "error"]
    for told in errors[:3]:
        print(f"  agent error: {told.error}")
    if options.keep:
        print(f"  kept: {campaign.directory} (worker-*.log, manage.log, sandbox.log, agents.log)")


def heal_text(campaign: Campaign) -> str:
    heal = campaign.heal_figures
    later = heal["task later"]
    text = (
        f"healed at {clock(heal['healed at'])}: {heal['unfinished at heal']:,} edits "
        f"unfinished; after the worker alone for {WORKER_ALONE_SECONDS:g} s "
        f"{len(heal['left rows']):,} left, of which {len(heal['no task']):,} with no worker task "
        f"at all and {len(later):,} whose next task is more than 10 s away"
    )
    if later:
        text += f" (the 2-minute safety net, in {min(later.values()):.0f}-"
        text += f"{max(later.values()):.0f} s: #{', #'.join(map(str, list(later)[:6]))})"
    if heal["no task"]:
        text += f" (no task: #{', #'.join(map(str, heal['no task'][:6]))})"
    return (
        text + f"; tasks left RUNNING by a dead worker: {heal['orphaned running tasks']}; "
        f"then push_pending: {campaign.push_pending_output}"
    )


def left_texts(campaign: Campaign) -> list[str]:
    """The edits still unfinished after the worker worked alone, and why."""
    heal = campaign.heal_figures
    kill = campaign.killed
    texts = []
    first_of_contact: dict[int, int] = {}
    for row in heal.get("left rows", []):
        pk, remote_id = row["pk"], row["contact__remote_id"]
        if pk in heal["task later"]:
            next_task = f"{heal['task later'][pk]:.0f} s"
        else:
            next_task = "none" if pk in heal["no task"] else "<10 s"
        text = (
            f"#{pk} {row['state']} (contact #{remote_id}), due since "
            f"{clock(row['next_attempt_at'])}, next task in {next_task}"
        )
        if kill is not None and kill.mid_call and row["request_body"] == kill.body:
            text += "; its PATCH was the call the killed worker was making"
        if remote_id in first_of_contact:
            text += f"; behind #{first_of_contact[remote_id]}"
        first_of_contact.setdefault(remote_id, pk)
        texts.append(text)
    return texts


def stale_text(counted: Tally, remote_id: int, key: str, there: Any, newest: str) -> str:
    """Why LiveDesk holds `there` and not `newest`: the PATCHes that set them, in time."""
    old = [call for call in counted.calls_with.get((key, there), []) if call.applied]
    new = [call for call in counted.calls_with.get((key, newest), []) if call.applied]
    if not old or not new:
        return f"{key} of #{remote_id}: LiveDesk {there!r}, newest {newest}: no PATCH logged"
    last_old = max(old, key=lambda call: call.answered)
    first_new = min(new, key=lambda call: call.answered)
    old_edit = counted.by_id.get(counted.origin.get((key, there)), {})
    return (
        f"{key} of #{remote_id}: a PATCH with {there} (edit #{old_edit.get('id')}, "
        f"{old_edit.get('state')} after {old_edit.get('attempts')} attempts) sent at "
        f"{clock(last_old.sent)} was applied at {clock(last_old.answered)}"
        f"{' after a hang (its caller had timed out)' if last_old.late else ''}; "
        f"the newer {newest} had been applied at {clock(first_new.answered)}; "
        f"{len(old)} PATCHes carried {there}"
    )


def conflict_text(edit: dict, edits: list[dict]) -> str:
    """A conflict and the delivery of ours that its check did not count."""
    keys = {change["field"]: change.get("before") for change in edit["changes"]}
    suspects = [
        other
        for other in edits
        if other["contact__remote_id"] == edit["contact__remote_id"]
        and other["state"] == "succeeded"
        and other["created_at"] < edit["created_at"]
        and other["finished_at"] is not None
        and any(
            change["field"] in keys and change.get("after") != keys[change["field"]]
            for change in other["changes"]
        )
    ]
    text = (
        f"edit #{edit['id']} of #{edit['contact__remote_id']} recorded at "
        f"{clock(edit['created_at'])} with "
        + ", ".join(f"{key} before {before!r}" for key, before in keys.items())
        + " (the mirror then)"
    )
    if suspects:
        other = max(suspects, key=lambda row: row["finished_at"])
        after = {change["field"]: change.get("after") for change in other["changes"]}
        text += (
            f"; edit #{other['id']} delivering "
            + ", ".join(f"{key} {after[key]!r}" for key in keys if key in after)
            + f" is stamped finished at {clock(other['finished_at'])}"
            + (
                ", before that record, yet the mirror did not have it then"
                if other["finished_at"] < edit["created_at"]
                else ""
            )
        )
    return text


def kill_text(campaign: Campaign, by_id: dict[int, dict]) -> str:
    kill = campaign.killed
    if kill is None:
        return "not killed"
    if not kill.mid_call:
        return f"pid {kill.pid}, not mid-call (it sent no PATCH within {KILL_WAIT_SECONDS:g} s)"
    # The edit being pushed: its request body is what was sent (rebuilt at each claim).
    edit = next((row for row in by_id.values() if row["request_body"] == kill.body), None)
    where = ""
    if edit is not None:
        end = chain_end(edit, by_id)
        where = (
            f"; edit #{edit['id']} ended {end['state']}"
            + (f" as #{end['id']}" if end is not edit else "")
            + f" after {end['attempts']} attempts"
            + (f", at {clock(end['finished_at'])}" if end["finished_at"] else "")
        )
    return (
        f"pid {kill.pid} at {kill.at:.0f} s, after LiveDesk applied its PATCH "
        f"{json.dumps(kill.body, separators=(',', ':'))}, before the answer reached it" + where
    )


def clock(moment: Any) -> str:
    """A time of day (UTC) to the millisecond, from a timestamp or an aware datetime."""
    if isinstance(moment, float):
        moment = datetime.fromtimestamp(moment, tz=UTC)
    return moment.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]


def counter_text(counter: Counter) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in counter.most_common())
