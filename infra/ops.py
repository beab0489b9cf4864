"""The operators' command line: ``python -m infra.ops <command>`` (installed as ``protu-ops``).

    protu-ops backup                     the daily backup now (DynamoDB backups + per-company exports)
    protu-ops restore-test [--run DAY]   restore the newest (or that day's) backup into a scratch table and check it
    protu-ops dr-drill [--run DAY] [--owner EMAIL] [--keep]
                                         disaster-recovery drill: restore the newest backup in the DR region into
                                         fresh tables, sign in to a second API there as the owner and read sealed
                                         data back; prints the recovery time and point (docs/restore.md)
    protu-ops retention [--dry-run]      remove expired sessions, tokens, counters and markers TTL has not removed
    protu-ops verify-audit --tenant ID   check a company's audit hash chain and its signed digests; name the first break
    protu-ops audit-digests [--tenant ID]  sign a digest of each company's (or one's) new audit events now
    protu-ops export --tenant ID [--out FILE]
                                         a company's data, opened, as the owner's export makes it (a ZIP)
    protu-ops erase --tenant ID [--subject PERSON] [--dry-run] [--yes]
                                         erase a company (its key, everyone's sign-in, every item), or one person
                                         of it (their key, their responses, their record); --dry-run counts
    protu-ops incidents list [--status S]    incidents newest first
    protu-ops incidents show ID              one incident: times, targets, scope, timeline, the step waiting
    protu-ops incidents acknowledge ID       an operator takes it up (the response target of non-critical ones)
    protu-ops incidents advance (ID | --task-token T) --notes TEXT [--for-customers TEXT]
                                         finish the operator's step the incident waits on (remediate, review)
    protu-ops incidents note ID --for-customers TEXT
                                         a note for customers: on the Incidents page of every company concerned
                                         and in the next regular update (--notes stay internal)
    protu-ops incidents unblock --address IP lift a containment's block of a source address early
    protu-ops reports list [--status S]      security reports from outside, newest first
    protu-ops reports show ID                one report: its text, contact, status and history
    protu-ops reports move ID --to STATUS [--note TEXT]
                                         move it on (triaging, confirmed, fixed, not_a_vulnerability); the reporter
                                         is emailed; at fixed, a reporter who gave a name gets the credit link
    protu-ops keys status --tenant ID        a company's data key: version, last and next rotation
    protu-ops keys rotate --tenant ID        a new data key version for one company now
    protu-ops keys rotate-due                the daily rotation now: every company whose key is older than the age
    protu-ops keys reencrypt --tenant ID     move what a company sealed under older key versions onto the current one
    protu-ops keys rotate-signing            rotate the access tokens' signing keys now (Secrets Manager's rotation)
    protu-ops maintenance schedule --start ISO --minutes N --summary TEXT [--emergency]
                                         plan downtime: every company's owners are emailed now (at least 72 hours
                                         ahead unless --emergency); run it again to resume the emails it could not send
    protu-ops maintenance list               maintenance windows not ended yet (current, upcoming, cancelled)
    protu-ops maintenance cancel ID          cancel one; the owners who were told are emailed
    protu-ops redrive [NAME]             replay the stream batches a function gave up on, or a scheduled job's failed
                                         run (after fixing the cause); without NAME, each failure queue and its count.
                                         The audit mirror's batches that have left the stream (24 hours) are copied
                                         from the audit table instead, for every company whose chain verifies

Each command acts on the cloud the environment points at (the functions' variables: ``DATA_TABLE``...). While
``make run`` is up, commands act on its local cloud: the local server leaves its environment in
``.protu-local.json`` for as long as it runs. Output is plain text; ``--json`` prints the summary as JSON; the
jobs' structured log lines go to stderr. The exit status is 0 when the command succeeded and its check passed, 1
otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOCAL_STATE = ROOT / ".protu-local.json"


def use_local_cloud_if_running() -> bool:
    """Point this process at the running ``make run`` cloud when no cloud is configured here."""
    if os.environ.get("DATA_TABLE") or not LOCAL_STATE.is_file():
        return False
    os.environ.update(json.loads(LOCAL_STATE.read_text())["environment"])
    return True


class Progress:
    """A progress bar on stderr while work goes on (only on a terminal); a counter when the total is unknown."""

    WIDTH = 30

    def __init__(self, label: str, total: int | None = None) -> None:
        self.label, self.total, self.done, self.started = label, total, 0, time.monotonic()
        self.shown = sys.stderr.isatty()

    def line(self) -> str:
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        if not self.total:
            return f"{self.label}: {self.done:,} items ({rate:,.0f}/s)"
        share = min(self.done / self.total, 1.0)
        filled = int(share * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        return f"{self.label} [{bar}] {share:4.0%} {self.done:,}/{self.total:,} items ({rate:,.0f}/s)"

    def __call__(self, count: int) -> None:
        self.done += count
        if self.shown:
            sys.stderr.write("\r" + self.line())
            sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


def _backup(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    from protu.ops import backup

    progress = Progress("backup", total=_item_count(backup.tables().values()))
    try:
        summary = backup.run(progress=progress)
    finally:
        progress.close()
    companies = {c for table in summary["tables"].values() for c in table}
    lines = [
        f"backup {summary['run_id']}: {summary.get('items', 0)} items of {len(companies)} companies "
        f"in {summary['seconds']} s",
        *[f"  dynamodb backup {arn.rsplit('/', 1)[-1]}" for arn in summary["dynamodb_backups"]],
        *[f"  deleted old backup {name}" for name in summary["deleted_backups"]],
    ]
    return bool(summary.get("complete")), {"summary": summary, "lines": lines}


def _item_count(tables: Any) -> int | None:
    """The tables' item counts as DynamoDB last reported them (about every six hours): the bar's total."""
    from protu import aws

    try:
        return sum(aws.client("dynamodb").describe_table(TableName=t)["Table"]["ItemCount"] for t in tables) or None
    except Exception:  # noqa: BLE001 - the bar is a nicety: without a total it is a counter
        return None


def _restored(result: dict[str, Any], sealed: str) -> list[str]:
    """What a restore loaded (items and companies per table) and how its sealed sample opened (``result[sealed]``)."""
    lines = [f"  {short}: {t['items']} items of {t['companies']} companies" for short, t in result["tables"].items()]
    if sealed in result:
        d = result[sealed]
        lines.append(f"  sealed records opened: {d['opened']}, shredded: {d['shredded']}, failed: {d['failed']}")
    return lines


def _restore_test(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    from protu.ops import restore_test

    progress = Progress("restore test")
    try:
        result = restore_test.run(rid=args.run, progress=progress)
    finally:
        progress.close()
    verdict = "passed" if result["ok"] else "FAILED"
    lines = [f"restore test of {result['run_id']}: {verdict} in {result['seconds']} s"]
    lines += _restored(result, "decryption")
    lines += [f"  problem: {problem}" for problem in result["problems"]]
    return bool(result["ok"]), {"summary": result, "lines": lines}


def _dr_drill(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    from protu.ops import dr_drill

    from infra import drill

    if args.run and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", args.run):
        raise SystemExit("protu-ops dr-drill: --run is a day, YYYY-MM-DD")
    owner, password = args.owner or drill.DEMO_OWNER, os.environ.get("PROTU_DRILL_PASSWORD", "")
    if args.owner is None:
        password = password or drill.DEMO_PASSWORD
    elif not password:
        raise SystemExit("protu-ops dr-drill: set PROTU_DRILL_PASSWORD to the owner's password")
    progress = Progress("dr drill")
    try:
        result = dr_drill.run(rid=args.run, keep=args.keep, check=drill.api_check(owner, password), progress=progress)
    finally:
        progress.close()
    verdict = "passed" if result["ok"] else "FAILED"
    lines = [f"dr drill {result['drill']} of backup {result.get('run_id')} in {result.get('region')}: {verdict}"]
    lines += _restored(result, "sealed")
    if "check" in result:
        c = result["check"]
        lines.append(f"  second API: signed in as the owner, {c.get('sealed_read', 0)} sealed fields read back")
    if result["ok"]:
        lines.append(f"  recovery time: {result['recovery_time_seconds']:.1f} s")
        if "recovery_point_seconds" in result:
            point = result["recovery_point_seconds"]
            lines.append(f"  recovery point: {point:.1f} s (age of the newest data restored)")
    lines += [f"  kept: {table}" for table in result["table_names"]] if args.keep else []
    lines += [f"  problem: {problem}" for problem in result["problems"]]
    return bool(result["ok"]), {"summary": result, "lines": lines}


def _verify_audit(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    from protu import audit

    result = audit.verify(args.tenant)
    summary = {"ok": result.ok, "checked": result.checked, "first_broken": result.first_broken, "reason": result.reason}
    if result.ok:
        lines = [f"audit chain of {args.tenant}: {result.checked} events, intact, its signed digests hold"]
    else:
        lines = [f"audit chain of {args.tenant}: BROKEN at event {result.first_broken} ({result.reason})"]
    return bool(result.ok), {"summary": summary, "lines": lines}


def _retention(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    from protu.ops import retention

    summary = retention.run(dry_run=args.dry_run)
    removed = summary.get("expired_found" if args.dry_run else "expired_removed", {})
    verb = "would remove" if args.dry_run else "removed"
    lines = [f"retention: {verb} {sum(removed.values())} expired items in {summary['seconds']} s"]
    lines += [f"  {kind}: {count}" for kind, count in removed.items()]
    due = summary["candidates_past_retention"]
    if due:
        lines.append(f"  candidates past their company's retention: {sum(due.values())} in {len(due)} companies")
    return bool(summary["complete"]), {"summary": summary, "lines": lines}


def _export(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    from protu.ops import backup, exports

    item = exports.request(args.tenant, OPERATOR)
    summary = exports.run(args.tenant, item.id)
    if summary["status"] != exports.READY:
        return False, {"summary": summary, "lines": [f"export of {args.tenant}: {summary['status'].upper()}"]}
    out = Path(args.out or f"protu-export-{args.tenant}-{time.strftime('%Y%m%d')}.zip")
    out.write_bytes(backup.read(f"{exports.PREFIX}/{args.tenant}/{item.id}.zip"))
    out.chmod(0o600)  # the company's data in clear: for this operator only
    summary["file"] = str(out)
    lines = [f"export of {args.tenant}: {summary['bytes']:,} bytes written to {out} (the company's data in clear)"]
    lines += [f"  {name}: {count}" for name, count in sorted(summary["counts"].items())]
    return True, {"summary": summary, "lines": lines}


def _erase(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    if args.subject:
        return _erase_person(args)
    from protu.ops import erasure

    if args.dry_run:
        summary = erasure.purge(args.tenant, dry_run=True)
        lines = [
            f"erase {args.tenant} (dry run): would destroy its key and delete {sum(summary['items'].values())} items"
        ]
    elif not args.yes:
        summary = {"erased": False, "reason": "confirmation needed"}
        lines = [f"erasing {args.tenant} cannot be undone: run again with --yes (or --dry-run to count first)"]
        return False, {"summary": summary, "lines": lines}
    else:
        summary = erasure.erase_now(args.tenant, actor=OPERATOR)
        lines = [f"erased {args.tenant}: key destroyed, {sum(summary['items'].values())} items deleted"]
    lines += [f"  {name}: {count}" for name, count in summary["items"].items()]
    return True, {"summary": summary, "lines": lines}


def _erase_person(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    from protu.audit import context
    from protu.directory import kinds, service
    from protu.principal import Principal
    from protu.store import scope

    kind = next(
        (k for k in kinds.KINDS.values() if k.subject == "id" and args.subject.startswith(k.id_prefix + "-")), None
    )
    if kind is None:
        return False, {"summary": {"erased": False}, "lines": [f"{args.subject} is not a candidate or employee id"]}
    principal = Principal.system(args.tenant, OPERATOR)
    with scope.request(), context.bound(actor=OPERATOR):
        scope.bind(args.tenant)
        if args.dry_run:
            count = service.erasure_preview(principal, kind, args.subject)
            lines = [
                f"erase {kind.entity} {args.subject} (dry run): would destroy their key and delete them "
                f"and {count} record(s) about them"
            ]
            return True, {"summary": {"dry_run": True, "records_about_them": count}, "lines": lines}
        count = service.erase(principal, kind, args.subject)
    lines = [f"erased {kind.entity} {args.subject}: key destroyed, {count} record(s) about them deleted"]
    return True, {"summary": {"erased": True, "records_about_them": count}, "lines": lines}


def _incidents(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    from protu.security import incidents

    if args.action == "list":
        found = [item.document() for item in incidents.listing(status=args.status)]
        lines = [
            f"{i['id']}  {i['severity']:<8} {i['status']:<10} {_when(i['detected_at'])}  {i['title']}"
            + (f"  [waiting: {i['waiting_step']}]" if i["waiting_step"] else "")
            for i in found
        ] or ["no incidents"]
        return True, {"summary": {"incidents": found}, "lines": lines}
    if args.action == "show":
        if not args.id:
            return False, {"summary": {}, "lines": ["incidents show needs an incident id"]}
        found = _incident_or_none(args.id)
        if found is None:
            return False, {"summary": {}, "lines": [f"no incident {args.id}"]}
        return True, {"summary": found, "lines": _incident_lines(found)}
    if args.action == "unblock":
        return _unblock(args)
    if args.action == "acknowledge":
        if not args.id or _incident_or_none(args.id) is None:
            return False, {"summary": {}, "lines": [f"no incident {args.id or '(give its id)'}"]}
        item = incidents.acknowledge(args.id)
        return True, {"summary": {"acknowledged_at": int(item.acknowledged_at)}, "lines": ["acknowledged"]}
    if args.action == "note":
        return _note_for_customers(args)
    return _advance(args)


def _note_for_customers(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    from protu.security import response

    if not args.id or args.for_customers is None:
        return False, {"summary": {}, "lines": ["incidents note needs an incident id and --for-customers TEXT"]}
    added = response.note_for_customers(args.id, args.for_customers)  # ProtuError: refused, said by main
    line = f"note for customers added ({added['customer_notes']} in all): the next regular update sends it"
    return True, {"summary": added, "lines": [line]}


def _unblock(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    import ipaddress

    from protu.security import blocks

    try:
        address = str(ipaddress.ip_address((args.address or "").strip()))
    except ValueError:
        return False, {"summary": {}, "lines": ["incidents unblock needs --address with an IP address"]}
    lifted = blocks.unblock(address)
    return True, {
        "summary": {"unblocked": lifted},
        "lines": [f"{address}: " + ("unblocked" if lifted else "not blocked")],
    }


def _incident_or_none(incident_id: str) -> dict[str, Any] | None:
    from protu.security import incidents

    try:
        return incidents.load(incident_id).document()
    except incidents.Incident.DoesNotExist:
        return None


def _incident_lines(found: dict[str, Any]) -> list[str]:
    targets = found["targets"]
    lines = [
        f"{found['id']}: {found['title']}",
        f"  severity {found['severity']}, status {found['status']}, rule {found['rule']}, {found['signal_count']} "
        f"signal(s): {', '.join(found['signal_kinds'])}",
        f"  detected {_when(found['detected_at'])}; response due {_when(targets['response']['due'])} "
        f"(met: {targets['response']['met']}); notice due {_when(targets['notification']['due'])} "
        f"(required: {targets['notification']['required']}, met: {targets['notification']['met']})",
        f"  companies {len(found['companies'])}, users {len(found['users'])}, addresses {len(found['source_ips'])}",
    ]
    lines += [f"  {_when(entry['at'])}  {entry['step']}: {entry['note']}" for entry in found["timeline"]]
    lines += [f"  FAILED step {f['step']}: {f['error']}" for f in found["failures"]]
    lines += [f"  for customers, {_when(n['at'])}: {n['text']}" for n in found["customer_notes"]]
    if found["updates_sent"]:
        lines.append(f"  {found['updates_sent']} regular update(s) sent, the last {_when(found['last_update_at'])}")
    if found["waiting_step"]:
        lines.append(f"  waiting for an operator to {found['waiting_step']}: protu-ops incidents advance {found['id']}")
    return lines


def _advance(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    from protu import aws
    from protu.security import incidents

    token = args.task_token
    if args.for_customers is not None:  # checked before anything is written
        if not args.id:
            return False, {"summary": {}, "lines": ["--for-customers needs the incident id"]}
        incidents.customer_text(args.for_customers)
    if not token:
        if not args.id:
            return False, {"summary": {}, "lines": ["incidents advance needs an incident id or --task-token"]}
        try:
            item = incidents.load(args.id)
        except incidents.Incident.DoesNotExist:
            return False, {"summary": {}, "lines": [f"no incident {args.id}"]}
        if not item.task_token:
            return False, {"summary": {}, "lines": [f"{args.id} is not waiting for an operator"]}
        token = item.task_token
        incidents.acknowledge(args.id)  # finishing a step is taking it up, if nobody acknowledged it before
    if not args.notes or not args.notes.strip():
        return False, {"summary": {}, "lines": ["--notes is required: say what was done"]}
    if args.for_customers is not None:
        from protu.security import response

        response.note_for_customers(args.id, args.for_customers)
    from botocore.exceptions import ClientError

    client = aws.client("stepfunctions")
    try:
        client.send_task_success(taskToken=token, output=json.dumps({"notes": args.notes.strip()}))
    except ClientError as error:  # the step is no longer waiting (done, timed out, or the token is wrong)
        code = error.response.get("Error", {}).get("Code", "error")
        return False, {"summary": {"error": code}, "lines": [f"the step is not waiting for this token ({code})"]}
    return True, {"summary": {"advanced": True}, "lines": ["step done; the workflow goes on"]}


def _when(epoch: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch)) if epoch else "-"


def _audit_digests(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    from protu.audit import digests

    result = digests.write_all(tenant_id=args.tenant)
    lines = [f"audit digests: {result['digests']} written, {result['failed']} failed"]
    return result["failed"] == 0, {"summary": result, "lines": lines}


def _reindex(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    from protu.directory import reindex

    result = reindex.run(args.tenant)
    lines = [f"reindex: {result['records']} records, {result['fixed']} fixed"]
    if args.tenant is None:  # and companies created before the index of every company (identity.companies)
        from protu.identity import companies

        result["companies_indexed"] = companies.index_missing()
        lines.append(f"companies added to the index of every company: {result['companies_indexed']}")
    return True, {"summary": result, "lines": lines}


def _reports(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    from protu.security import reports

    if args.action == "list":
        found = reports.listing(args.status)
        lines = [f"{e.id}  {_when(int(e.received_at))}  {e.status}" for e in found] or ["no reports"]
        return True, {"summary": [{"id": e.id, "status": e.status} for e in found], "lines": lines}
    item = reports.get(args.id or "") if args.id else None
    if item is None:
        return False, {"summary": {}, "lines": [f"no report {args.id or '(give its id)'}"]}
    if args.action == "show":
        lines = [
            f"{item.id}: {item.status}, received {_when(int(item.received_at))}, contact {item.contact}",
            f"  credit: {item.name or '(none asked)'}" + (f" ({item.credit})" if item.credit else ""),
            *[
                f"  {_when(int(h['at']))}  {h['status']}" + (f": {h['note']}" if h.get("note") else "")
                for h in (item.history or [])
            ],
            "",
            item.description,
        ]
        return True, {"summary": {"id": item.id, "status": item.status, "credit": item.credit}, "lines": lines}
    if not args.to:
        return False, {"summary": {}, "lines": ["reports move needs --to STATUS"]}
    moved = reports.move(item.id, args.to, note=args.notes)
    line = f"{item.id}: {moved.status}; the reporter's email {moved.email}"
    if moved.email != "sent":
        line += " - write to them by hand"
    if moved.credit_offered:
        line += "; the credit link went with it"
    return True, {
        "summary": {"status": moved.status, "email": moved.email, "credit_offered": moved.credit_offered},
        "lines": [line],
    }


def _keys(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    try:
        return _keys_action(args)
    except ValueError as error:  # an id that is no company's, a rotation the function refused
        return False, {"summary": {"error": str(error)}, "lines": [f"keys {args.action}: {error}"]}


def _keys_action(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    if args.action == "rotate-signing":
        from protu.identity import signing_keys

        done = signing_keys.rotate_now()
        ends = ", ".join(f"{old['kid']} until {_when(old['until'])}" for old in done["previous"]) or "none"
        return True, {"summary": done, "lines": [f"signing keys: {done['kid']} signs now; still verifying: {ends}"]}
    from protu.ops import key_rotation

    if args.action == "rotate-due":
        result = key_rotation.run()
        done = f"key rotation: {result['rotated']} rotated, {result['failed']} failed"
        lines = [f"{done} (keys older than {result['max_age_days']} days)"]
        return result["failed"] == 0 and result["complete"], {"summary": result, "lines": lines}
    if not args.tenant:
        return False, {"summary": {}, "lines": [f"keys {args.action} needs --tenant ID"]}
    if args.action == "status":
        found = key_rotation.status(args.tenant)
        if found is None:
            return False, {"summary": {}, "lines": [f"{args.tenant}: no data key yet"]}
        line = (
            f"{args.tenant}: version {found['version']} ({found['status']}), rotated {_when(found['rotated_at'])}, "
            f"next {_when(found['next_rotation_at'])}"
        )
        return True, {"summary": found, "lines": [line]}
    if args.action == "rotate":
        version = key_rotation.rotate(args.tenant, actor=OPERATOR)
        return True, {"summary": {"version": version}, "lines": [f"{args.tenant}: data key version {version} now"]}
    counts = key_rotation.reencrypt(args.tenant, actor=OPERATOR)
    line = (
        f"{args.tenant}: under version {counts['version']}: {counts['people_keys_rewrapped']} people's keys wrapped "
        f"again, {counts['two_factor_secrets_resealed']} two-factor secrets and {counts['audit_streams_resealed']} "
        "audit streams sealed again"
    )
    return True, {"summary": counts, "lines": [line]}


def _maintenance(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    from protu.ops import maintenance

    if args.action == "list":
        found = maintenance.listing()
        lines = [
            f"{w.id}  {_when(int(w.start))} to {_when(int(w.end))}  {w.status}"
            + ("  (emergency)" if w.emergency else "")
            + f"  {w.summary}"
            for w in found
        ] or ["no maintenance windows ahead"]
        summary = [{"id": w.id, "status": w.status, **w.public()} for w in found]
        return True, {"summary": summary, "lines": lines}
    if args.action == "schedule":
        done = maintenance.schedule(args.start, args.minutes, args.summary, emergency=args.emergency)
        window, news = done.window, maintenance.SCHEDULED
        head = f"{'scheduled' if done.new else 'already scheduled'} {window.id}"
    else:
        if not args.id:
            return False, {"summary": {}, "lines": ["maintenance cancel needs the window's id (maintenance list)"]}
        window, news = maintenance.cancel(args.id), maintenance.CANCELLED
        head = f"cancelled {window.id}"
    progress = Progress("emails")
    try:
        told = maintenance.notify(window, news, progress=progress)
    finally:
        progress.close()
    lines = [
        f"{head}: {_when(int(window.start))} to {_when(int(window.end))}: {window.summary}",
        f"  owners emailed: {told.sent} now, {told.before} before, {told.failed} failed",
    ]
    if told.failed:
        lines.append("  run the same command again to email the owners it could not (nobody is emailed twice)")
    emails = {"sent": told.sent, "before": told.before, "failed": told.failed}
    summary = {"id": window.id, "status": window.status, **window.public(), "emails": emails}
    return told.failed == 0, {"summary": summary, "lines": lines}


def _redrive(args: argparse.Namespace) -> tuple[bool, dict[str, Any]]:
    from infra import redrive

    names = redrive.queues()
    if not args.name:
        found = redrive.depths()
        lines = [f"{name}: {count} waiting" for name, count in sorted(found.items())]
        return True, {"summary": found, "lines": lines or ["no failure queues configured (FAILURE_QUEUES)"]}
    if args.name not in names:
        known = ", ".join(sorted(names)) or "none configured"
        return False, {"summary": {}, "lines": [f"no failure queue {args.name!r} (known: {known})"]}
    result = redrive.redrive(args.name)
    lines = [
        f"{args.name}: {result['replayed']} replayed, {result['failed']} failed again (left in the queue), "
        f"{result['expired']} no longer in the stream (left), {result['refused']} for another function or stream "
        f"(refused, left), {result['unreadable']} unreadable (dropped)"
    ]
    if "copies_written" in result:  # the audit mirror's batches no longer in the stream: copied from the table
        lines.append(
            f"{args.name}: {result.get('remirrored', 0)} no longer in the stream, re-mirrored from the audit table "
            f"({result['copies_written']} copies written; {result['broken']} companies whose chain does not verify, "
            "nothing of theirs copied: see protu-ops verify-audit)"
        )
    ok = result["failed"] == result["expired"] == result["refused"] == 0
    return ok, {"summary": result, "lines": lines}


COMMANDS = {
    "backup": _backup,
    "reindex": _reindex,
    "audit-digests": _audit_digests,
    "restore-test": _restore_test,
    "dr-drill": _dr_drill,
    "retention": _retention,
    "verify-audit": _verify_audit,
    "export": _export,
    "erase": _erase,
    "incidents": _incidents,
    "redrive": _redrive,
    "reports": _reports,
    "maintenance": _maintenance,
    "keys": _keys,
}
OPERATOR = "system:operator"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="protu-ops", description="Protu operations: backups, restore tests, audit.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the summary as JSON")
    commands = top.add_subparsers(dest="command", required=True, metavar="command")
    commands.add_parser("backup", parents=[common], help="run the daily backup now")
    signing = commands.add_parser(
        "audit-digests", parents=[common], help="sign a digest of each company's new audit events now"
    )
    signing.add_argument("--tenant", help="only this company")
    index = commands.add_parser(
        "reindex", parents=[common], help="bring company records' list filter index entries in line (after a deploy)"
    )
    index.add_argument("--tenant", help="only this company")
    restore = commands.add_parser(
        "restore-test", parents=[common], help="restore the newest backup into a scratch table and check it"
    )
    restore.add_argument("--run", metavar="YYYY-MM-DD", help="the backup to test (default: the newest)")
    dr = commands.add_parser(
        "dr-drill", parents=[common], help="restore the newest backup in the DR region and read sealed data back"
    )
    dr.add_argument("--run", metavar="YYYY-MM-DD", help="the backup to restore (default: the newest in the DR bucket)")
    dr.add_argument(
        "--owner", metavar="EMAIL", help="sign in as this owner (password in PROTU_DRILL_PASSWORD; default: demo owner)"
    )
    dr.add_argument("--keep", action="store_true", help="keep the drill's tables (default: deleted afterwards)")
    keep = commands.add_parser("retention", parents=[common], help="remove what expired and TTL has not removed")
    keep.add_argument("--dry-run", action="store_true", help="report what would be removed, remove nothing")
    verify = commands.add_parser(
        "verify-audit", parents=[common], help="verify a company's audit hash chain and its signed digests"
    )
    verify.add_argument("--tenant", required=True, help="the company id")
    export = commands.add_parser("export", parents=[common], help="a company's data, opened, as a ZIP file")
    export.add_argument("--tenant", required=True, help="the company id")
    export.add_argument("--out", metavar="FILE", help="where to write it (default: protu-export-<id>-<day>.zip)")
    erase = commands.add_parser("erase", parents=[common], help="erase a company, or one person of it")
    erase.add_argument("--tenant", required=True, help="the company id")
    erase.add_argument("--subject", metavar="PERSON", help="a candidate's or employee's id: erase only them")
    erase.add_argument("--dry-run", action="store_true", help="count what would be erased, erase nothing")
    erase.add_argument("--yes", action="store_true", help="erase a whole company (it cannot be undone)")
    watch = commands.add_parser("incidents", parents=[common], help="list, show and advance security incidents")
    watch.add_argument("action", choices=["list", "show", "acknowledge", "advance", "note", "unblock"])
    watch.add_argument("id", nargs="?", help="the incident (show, acknowledge, advance, note)")
    watch.add_argument("--status", choices=["open", "contained", "resolved"], help="list only these")
    watch.add_argument("--task-token", help="advance: the task token of the step (instead of the incident id)")
    watch.add_argument("--notes", help="advance: what was done (recorded on the incident, internal)")
    watch.add_argument(
        "--for-customers",
        metavar="TEXT",
        help="note, advance: a note for the owners of every company concerned (their page, the next update)",
    )
    watch.add_argument("--address", help="unblock: the source address a containment blocked")
    told = commands.add_parser("reports", parents=[common], help="list, show and move security reports from outside")
    told.add_argument("action", choices=["list", "show", "move"])
    told.add_argument("id", nargs="?", help="the report (show, move)")
    told.add_argument("--status", choices=["received", "triaging", "confirmed", "fixed", "not_a_vulnerability"])
    told.add_argument("--to", choices=["triaging", "confirmed", "fixed", "not_a_vulnerability"], help="move: to this")
    told.add_argument("--note", dest="notes", help="move: a note for the reporter (in the email, and kept)")
    keys = commands.add_parser("keys", parents=[common], help="data keys and signing keys: status, rotation")
    keys.add_argument("action", choices=["status", "rotate", "rotate-due", "reencrypt", "rotate-signing"])
    keys.add_argument("--tenant", help="the company id (status, rotate, reencrypt)")
    plan = commands.add_parser("maintenance", parents=[common], help="schedule, list and cancel maintenance windows")
    plan.add_argument("action", choices=["schedule", "list", "cancel"])
    plan.add_argument("id", nargs="?", help="cancel: the window (maintenance list)")
    plan.add_argument("--start", default="", help="schedule: when it starts, ISO 8601 with its zone (...T02:00Z)")
    plan.add_argument("--minutes", default="", help="schedule: how long it lasts, 1 to 1440")
    plan.add_argument("--summary", default="", help="schedule: what is done and what it affects (for everyone)")
    plan.add_argument("--emergency", action="store_true", help="schedule: allow a start less than 72 hours away")
    again = commands.add_parser(
        "redrive", parents=[common], help="replay what a stream function or a scheduled job gave up on (cause fixed)"
    )
    again.add_argument("name", nargs="?", help="the failure queue (audit-mirror, jobs...); none: list them")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if use_local_cloud_if_running():
        print("(acting on the local cloud of make run)", file=sys.stderr)
    from protu.settings import reload

    reload()
    from protu import errors

    try:
        with contextlib.redirect_stdout(sys.stderr):  # the jobs' structured log lines go to stderr; results to stdout
            ok, outcome = COMMANDS[args.command](args)
    except errors.ProtuError as error:  # the product's own refusal (no such company, person in use...)
        print(f"protu-ops {args.command}: {error.message} ({error.code})", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(outcome["summary"], indent=1, sort_keys=True, default=str))
    else:
        print("\n".join(outcome["lines"]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
