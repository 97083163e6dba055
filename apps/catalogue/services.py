"""Writes to the drug catalogue: create, update with versioned payment standards (R-CAT-3), withdrawal (R-CAT-5),
and the Excel import runs (R-CAT-2; the engine is ``apps.core.excel.engine``)."""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.catalogue import hooks
from apps.catalogue.models import Drug, ImportAudit, ImportRun, PaymentStandard
from apps.core.events import EventAction, record_event
from apps.core.exceptions import ApplicationError
from apps.core.scoping import require_system_wide
from apps.core.excel import registry as excel_kinds
from apps.core.excel.engine import Outcome, estimate_rows, run_import

logger = logging.getLogger(__name__)

DRUG_FIELDS = (
    "code", "generic_name", "dosage_form", "specification", "manufacturer", "category", "therapeutic_area",
    "route", "cold_chain", "payment_standard", "first_self_pay_ratio", "restricted_scope", "agreement_start",
    "agreement_end",
)


def _validation_to_error(exc: ValidationError) -> ApplicationError:
    fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    first = next(iter(fields.values()))[0] if fields else "输入有误"
    return ApplicationError("invalid", f"药品信息有误：{first}", fields=fields)


def _jsonable(value):
    if isinstance(value, (dt.date, Decimal)):
        return str(value)
    if hasattr(value, "pk"):
        return str(value)
    return value


@transaction.atomic
def drug_create(*, actor, code: str, generic_name: str, dosage_form: str, specification: str, manufacturer: str,
                category: str, therapeutic_area, route: str, cold_chain: bool = False, payment_standard: Decimal,
                first_self_pay_ratio: Decimal = Decimal("0"), restricted_scope: str = "",
                agreement_start: dt.date, agreement_end: dt.date | None = None) -> Drug:
    """R-CAT-1: a new catalogue entry with its first payment-standard version from the agreement start (R-CAT-3).
    The catalogue is shared by every region: a system-wide role writes it (R-SEC-1)."""
    require_system_wide(actor)
    drug = Drug(
        code=(code or "").strip().upper(), generic_name=generic_name, dosage_form=dosage_form,
        specification=specification, manufacturer=manufacturer, category=category,
        therapeutic_area=therapeutic_area, route=route, cold_chain=cold_chain, payment_standard=payment_standard,
        first_self_pay_ratio=first_self_pay_ratio, restricted_scope=restricted_scope,
        agreement_start=agreement_start, agreement_end=agreement_end,
    )
    try:
        drug.full_clean()
    except ValidationError as exc:
        raise _validation_to_error(exc) from None
    drug.save()
    PaymentStandard.objects.create(drug=drug, amount=payment_standard, valid_from=agreement_start,
                                   source="手工新增", created_by=_user_or_none(actor))
    record_event(subject=drug, action=EventAction.DRUG_CREATED, actor=actor,
                 data={"code": drug.code, "payment_standard": str(payment_standard)})
    return drug


def _user_or_none(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


@transaction.atomic
def drug_update(*, drug: Drug, actor, effective_date: dt.date | None = None, **changes) -> Drug:
    """Change catalogue fields. A new ``payment_standard`` closes the version in force the day before
    ``effective_date`` and opens a new one from it (R-CAT-3); the caller gives the date (the API and pages default it
    to today). The code never changes. Shared reference data: a system-wide role only (R-SEC-1)."""
    require_system_wide(actor)
    unknown = set(changes) - set(DRUG_FIELDS) - {"code"}
    if unknown:
        raise ApplicationError("invalid", f"不可修改的字段：{', '.join(sorted(unknown))}")
    if "code" in changes and (changes["code"] or "").strip().upper() != drug.code:
        raise ApplicationError("invalid", "医保药品代码不可修改", fields={"code": ["医保药品代码不可修改"]})
    changes.pop("code", None)
    drug = Drug.objects.select_for_update().get(pk=drug.pk)
    before = {name: getattr(drug, name) for name in changes}
    new_standard = changes.get("payment_standard")
    standard_changed = new_standard is not None and Decimal(new_standard) != drug.payment_standard
    for name, value in changes.items():
        setattr(drug, name, value)
    try:
        drug.full_clean()
    except ValidationError as exc:
        raise _validation_to_error(exc) from None
    changed = {k: [_jsonable(before[k]), _jsonable(getattr(drug, k))] for k in changes if before[k] != getattr(drug, k)}
    if not changed:
        return drug
    if standard_changed:
        if effective_date is None:
            raise ApplicationError("invalid", "修改支付标准须填写生效日期",
                                   fields={"effective_date": ["修改支付标准须填写生效日期"]})
        payment_standard_change(drug=drug, amount=Decimal(new_standard), effective_date=effective_date, actor=actor,
                                source="手工修改")
    drug.save()
    record_event(subject=drug, action=EventAction.DRUG_UPDATED, actor=actor, data={"changes": changed})
    return drug


def payment_standard_change(*, drug: Drug, amount: Decimal, effective_date: dt.date, actor, source: str
                            ) -> PaymentStandard:
    """R-CAT-3: close the latest version on ``effective_date − 1`` and open ``amount`` from ``effective_date``.
    Called inside the caller's transaction (``drug_update``)."""
    require_system_wide(actor)
    latest = PaymentStandard.objects.select_for_update().filter(drug=drug).order_by("-valid_from").first()
    if latest is not None:
        if effective_date <= latest.valid_from:
            raise ApplicationError(
                "invalid", f"支付标准生效日期 {effective_date} 须晚于现行支付标准的生效日期 {latest.valid_from}",
                fields={"effective_date": [f"须晚于 {latest.valid_from}"]},
            )
        if latest.valid_until is None or latest.valid_until >= effective_date:
            latest.valid_until = effective_date - dt.timedelta(days=1)
            latest.save(update_fields=["valid_until"])
    version = PaymentStandard.objects.create(drug=drug, amount=amount, valid_from=effective_date, source=source,
                                             created_by=_user_or_none(actor))
    record_event(subject=drug, action=EventAction.PAYMENT_STANDARD_CHANGED, actor=actor,
                 data={"from": str(latest.amount) if latest else None, "to": str(amount),
                       "effective_date": str(effective_date)})
    return version


@transaction.atomic
def drug_withdraw(*, drug: Drug, withdrawn_on: dt.date, reason: str, note: str = "", actor, now: dt.datetime) -> Drug:
    """R-CAT-5 (001 第十七、十八条): record the withdrawal ground and date. From ``withdrawn_on`` the drug is not
    listed (``Drug.is_listed_on``), so prescriptions are refused (``drug_not_listed``), and every active
    treatment application for it ends on that date (001 第二十三条). A withdrawal ends applications in every
    region, so only a system-wide role records it (R-SEC-1)."""
    require_system_wide(actor)
    drug = Drug.objects.select_for_update().get(pk=drug.pk)
    if reason not in Drug.WithdrawalReason.values:
        raise ApplicationError("invalid", "请选择第十七条或第十八条规定的调出原因", fields={"reason": ["调出原因无效"]})
    if drug.withdrawn_on is not None:
        raise ApplicationError("already_withdrawn", f"该药品已于 {drug.withdrawn_on} 调出目录", status=409)
    if withdrawn_on < drug.agreement_start:
        raise ApplicationError("invalid", f"调出日期不能早于协议期开始 {drug.agreement_start}",
                               fields={"withdrawn_on": ["调出日期早于协议期开始"]})
    drug.withdrawn_on = withdrawn_on
    drug.withdrawal_reason = reason
    drug.withdrawal_note = note or ""
    drug.withdrawn_by = _user_or_none(actor)
    drug.withdrawal_recorded_at = now
    drug.save(update_fields=["withdrawn_on", "withdrawal_reason", "withdrawal_note", "withdrawn_by",
                             "withdrawal_recorded_at", "updated_at"])
    reason_text = str(Drug.WithdrawalReason(reason).label)
    record_event(subject=drug, action=EventAction.DRUG_WITHDRAWN, actor=actor, to_status="withdrawn",
                 reason=f"{reason_text}{'；' + note if note else ''}", data={"withdrawn_on": str(withdrawn_on)},
                 now=now)
    hooks.drug_withdrawn.send(drug=drug, withdrawn_on=withdrawn_on, reason=f"药品调出目录：{reason_text}", actor=actor)
    return drug


# --- Excel import runs (R-CAT-2) -----------------------------------------------------------------------------

def _sha256(upload) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _row_estimate(upload) -> int:
    return estimate_rows(upload)


@transaction.atomic
def import_run_create(*, kind: str, upload: UploadedFile, actor, now: dt.datetime, dry_run: bool = True,
                      effective_date: dt.date | None = None) -> ImportRun:
    """Log the upload and keep its file (R-CAT-2, R-SEC-3). Runs it at once, or queues it as a Celery task when it is
    larger than ``IMPORT_ASYNC_ROW_THRESHOLD`` rows (R-CAT-2). Bad files are reported on the run, never
    half-written."""
    if not excel_kinds.is_registered(kind):
        raise ApplicationError("invalid", f"不支持的导入类型：{kind}", fields={"kind": ["不支持的导入类型"]})
    if not getattr(actor, "is_bureau_admin", False):
        raise ApplicationError("permission_denied", "只有经办机构管理员可以导入", status=403)
    if kind == "drugs":  # the national catalogue: shared reference data (R-SEC-1)
        require_system_wide(actor)
    size = getattr(upload, "size", None) or 0
    if size > settings.IMPORT_MAX_UPLOAD_BYTES:  # R-SEC-4: refused before the file is kept or read
        raise ApplicationError("file_too_large",
                               f"文件 {size // (1024 * 1024)} MiB，超过导入上限 "
                               f"{settings.IMPORT_MAX_UPLOAD_BYTES // (1024 * 1024)} MiB",
                               fields={"file": ["文件过大"]}, status=413)
    name = getattr(upload, "name", "") or "upload.xlsx"
    run = ImportRun(
        kind=kind, file_name=name.rsplit("/", 1)[-1][:255], file_sha256=_sha256(upload), created_by=actor,
        region=actor.region, dry_run=dry_run,
        effective_date=effective_date or timezone.localdate(now), total_rows=_row_estimate(upload),
    )
    run.file.save(run.file_name, upload, save=False)
    run.asynchronous = run.total_rows > settings.IMPORT_ASYNC_ROW_THRESHOLD
    run.save()
    record_event(subject=run, action=EventAction.IMPORT_UPLOADED, actor=actor, now=now,
                 data={"kind": kind, "file_name": run.file_name, "dry_run": dry_run})
    return run


def import_run_start(*, run: ImportRun, clock: Callable[[], dt.datetime]) -> ImportRun:
    """Run now (small files) or queue the Celery task after commit (large files). ``clock`` is the edge's clock
    (the request's view or the task): a run's heartbeats and stamps are read from it while the run works."""
    if run.asynchronous:
        from apps.catalogue.tasks import import_run_execute_task  # tasks import these services: a true start-up cycle

        transaction.on_commit(lambda: import_run_execute_task.delay(run.pk))
        return run
    import_run_execute(run_id=run.pk, clock=clock)
    run.refresh_from_db()
    return run


def import_run_execute(*, run_id: int, clock: Callable[[], dt.datetime]) -> None:
    """Plan (and, unless a dry run, write) one ``ImportRun`` with the engine (``apps.core.excel.engine.run_import``)
    and store the outcome on the run. Idempotent: only a pending run is executed.

    R-SEC-4: an unexpected error (a bug, a lost database connection) never leaves the run "running": the write
    transaction is rolled back, the run is marked failed with a message in a transaction of its own
    (``import_run_fail``), and the error is raised again (the request answers the JSON 500, the task fails). A worker
    that dies without a word is caught by the heartbeat sweep (``import_runs_fail_stale``)."""
    claimed = ImportRun.objects.filter(pk=run_id, status=ImportRun.Status.PENDING).update(
        status=ImportRun.Status.RUNNING, phase="validating", processed_rows=0, heartbeat_at=clock())
    if not claimed:
        return
    try:
        _import_run_work(run_id, clock)
    except Exception as exc:
        import_run_fail(run_id=run_id, now=clock(),
                        message=f"导入时发生内部错误（{type(exc).__name__}），未写入任何数据。请稍后重试；"
                                f"如仍失败，请联系系统管理员并告知导入记录编号 {run_id}")
        raise


def _import_run_work(run_id: int, clock: Callable[[], dt.datetime]) -> None:
    run = ImportRun.objects.select_related("created_by", "region").get(pk=run_id)
    spec = excel_kinds.get(run.kind)
    ctx = spec.context(run=run)

    def progress(done: int, _total: int):
        ImportRun.objects.filter(pk=run_id).update(processed_rows=done, heartbeat_at=clock())

    def applied(plan, outcome):  # inside the write transaction
        counts = outcome.counts
        applied_at = clock()
        record_event(subject=run, action="import_applied", actor=run.created_by, now=applied_at,
                     data={"kind": run.kind, "created": counts["created_count"], "updated": counts["updated_count"],
                           "unchanged": counts["unchanged_count"]})
        if outcome.change_log:  # R-SEC-3: the run's one audit record (file, digest, every row's change)
            ImportAudit.objects.create(
                run=run, kind=run.kind, file_name=run.file_name, file_sha256=run.file_sha256, actor=run.created_by,
                applied_at=applied_at, created_count=counts["created_count"],
                updated_count=counts["updated_count"], change_log=outcome.change_log)
        ImportRun.objects.filter(pk=run_id).update(
            status=ImportRun.Status.SUCCEEDED, applied_at=applied_at, finished_at=applied_at, phase="",
            plan_digest=outcome.digest, changes=outcome.changes, errors=[], error_count=0, **outcome.counts)

    with run.file.open("rb") as fh:
        outcome = run_import(spec, fh, ctx, dry_run=run.dry_run, expected_digest=run.plan_digest, progress=progress,
                             before_write=lambda: ImportRun.objects.filter(pk=run_id).update(
                                 phase="writing", heartbeat_at=clock()),
                             on_applied=applied)
    if outcome.status == Outcome.APPLIED:
        return
    fields = dict(finished_at=clock(), phase="", errors=outcome.errors, error_count=outcome.error_count,
                  **outcome.counts)
    if outcome.status == Outcome.PREVIEWED:
        fields.update(status=ImportRun.Status.PREVIEWED, plan_digest=outcome.digest, changes=outcome.changes)
    else:
        fields.update(status=ImportRun.Status.FAILED, message=outcome.message)
    ImportRun.objects.filter(pk=run_id).update(**fields)


def import_run_fail(*, run_id: int, message: str, now: dt.datetime) -> bool:
    """Mark a run that is still running as failed, in a transaction of its own (the caller's failed transaction is
    gone by then). False when the run had already finished (or the database cannot be reached: the heartbeat sweep
    fails it later)."""
    try:
        with transaction.atomic():
            return bool(ImportRun.objects.filter(pk=run_id, status=ImportRun.Status.RUNNING).update(
                status=ImportRun.Status.FAILED, phase="", finished_at=now, message=message, error_count=1,
                errors=[{"row": None, "column": None, "message": message}]))
    except Exception:  # the original error matters more; logged with both
        logger.exception("import run %s could not be marked failed", run_id)
        return False


def import_runs_fail_stale(*, now: dt.datetime, stale_after: dt.timedelta) -> int:
    """R-SEC-4: runs "running" whose heartbeat (or, before the first one, whose upload) is older than
    ``stale_after`` were left by a worker that died or was killed: they are marked failed, so the uploader sees the
    end and may upload again (a killed write transaction wrote nothing). Returns how many."""
    cutoff = now - stale_after
    minutes = int(stale_after.total_seconds() // 60)
    message = (f"导入处理中断：超过 {minutes} 分钟没有进展（处理进程可能已退出），未写入任何数据，请重新上传")
    stale = ImportRun.objects.filter(status=ImportRun.Status.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff))
    with transaction.atomic():
        # a run whose row is locked is inside its write transaction, i.e. alive: skipped, never waited for (the
        # sweep shares the default queue with the settlement's dead-run check)
        ids = list(stale.select_for_update(skip_locked=True).values_list("pk", flat=True))
        return ImportRun.objects.filter(pk__in=ids).update(
            status=ImportRun.Status.FAILED, phase="", finished_at=now, message=message, error_count=1,
            errors=[{"row": None, "column": None, "message": message}])


def import_files_purge(*, now: dt.datetime, retention: dt.timedelta) -> int:
    """R-SEC-4: the kept files of failed (refused) runs that ended more than ``retention`` ago are deleted; the run's
    record (who, when, file name and digest, the errors) stays, with the moment of the deletion. Returns how many."""
    cutoff = now - retention
    due = (ImportRun.objects.filter(status=ImportRun.Status.FAILED, file_purged_at__isnull=True).exclude(file="")
           .filter(Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff)))
    purged = 0
    for run in due.only("pk", "file").iterator(chunk_size=500):
        name = run.file.name
        try:
            run.file.storage.delete(name)
        except OSError:  # already gone or unreadable: the record still says it was removed
            logger.warning("import run %s: kept file %s could not be deleted", run.pk, name)
        purged += ImportRun.objects.filter(pk=run.pk, file_purged_at__isnull=True).update(file="", file_purged_at=now)
    return purged


@transaction.atomic
def import_run_confirm(*, run: ImportRun, actor) -> ImportRun:
    """Apply a previewed run: the same kept file, and only if the plan is still what was previewed."""
    run = ImportRun.objects.select_for_update().get(pk=run.pk)
    if run.status != ImportRun.Status.PREVIEWED:
        raise ApplicationError("import_not_confirmable", "只有已预览且未写入的导入可以确认", status=409)
    run.dry_run = False
    run.status = ImportRun.Status.PENDING
    run.processed_rows = 0
    run.save(update_fields=["dry_run", "status", "processed_rows"])
    record_event(subject=run, action=EventAction.IMPORT_CONFIRMED, actor=actor)
    return run
