"""Demo applications in every state so the reviewer's workspace is alive on first start: waiting at each
stage (some overdue, R-APP-5), returned, approved and valid, approved and expired (R-APP-6), rejected,
terminated; in Zhongwei (reviewer / hospital / hospital2) and Changsha (reviewer_cs / hospital_cs). Physician
filing requests (R-DOC-3) come from the proposed physicians of apps/demo/regions.py. Re-runnable: a scenario
whose patient already has an application for its drug is skipped."""
from __future__ import annotations

import datetime as dt
import struct
import zlib

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.applications import services
from apps.applications.models import Application, Stage
from apps.institutions.models import HospitalDuty
from apps.core.idnumber import make_id_number
from apps.demo.window import demo_start

# key, hospital user, physician, pharmacy, insured region, patient region, birth, female, name, generic,
# ICD-10, diagnosis, usage, course, days ago submitted, steps
# steps: list of (actor, decision, opinion, days after submission) applied in order; "hospital" means the
# submitting hospital user, "reviewer" the bureau reviewer of the insured region.
H, R = "hospital", "reviewer"
SCENARIOS = [
    # Zhongwei, waiting at each stage
    ("zw01", "hospital", "D640500001", "P640500001", "640500", "640502", (1968, 3, 12), False, "张建军", "奥希替尼",
     "C34.9", "肺恶性肿瘤", "80mg 每日一次", 90, 0, []),
    ("zw02", "hospital", "D640500002", "P640500001", "640500", "640502", (1975, 7, 2), True, "刘桂英", "泽布替尼",
     "C83.1", "套细胞淋巴瘤", "160mg 每日两次", 90, 1, [(H, "approve", "符合用药指征", 0)]),
    ("zw03", "hospital", "D640500003", "P640500001", "640500", "640502", (1959, 11, 20), False, "马永福", "司美格鲁肽",
     "E11.9", "2型糖尿病", "0.5mg 每周一次", 180, 4,
     [(H, "approve", "符合", 0), (H, "approve", "药学部门同意", 0)]),
    ("zw04", "hospital", "D640500001", "P640500001", "640500", "640502", (1962, 5, 8), True, "王秀兰", "阿美替尼",
     "C34.1", "肺上叶恶性肿瘤", "110mg 每日一次", 90, 30,
     [(H, "approve", "", 0), (H, "approve", "", 0), (H, "approve", "资料齐全，同意上报", 1)]),
    ("zw05", "hospital", "D640500002", "P640500001", "640500", "640521", (1981, 9, 30), False, "杨志刚", "来那度胺",
     "C90.0", "多发性骨髓瘤", "25mg d1-21 每28天", 84, 12,
     [(H, "approve", "", 0), (H, "approve", "", 0), (H, "approve", "同意上报", 0)]),
    ("zw06", "hospital", "D640500006", "P640500001", "640500", "640502", (2015, 4, 16), True, "丁小雨", "利司扑兰",
     "G12.1", "脊髓性肌萎缩症", "5mg 每日一次", 180, 3,
     [(H, "approve", "", 0), (H, "approve", "", 0), (H, "approve", "罕见病，请优先审核", 0)]),
    ("zw07", "hospital", "D640500008", "P640500001", "640500", "640502", (1979, 1, 25), False, "苏海龙", "丙酚替诺福韦",
     "B18.1", "慢性乙型病毒性肝炎", "25mg 每日一次", 180, 45,
     [(H, "approve", "", 0), (H, "approve", "", 0), (H, "approve", "", 0)]),
    ("zw08", "hospital2", "D640500011", "P640500002", "640500", "640521", (1970, 12, 1), False, "金学文", "安罗替尼",
     "C34.9", "肺恶性肿瘤", "12mg d1-14 每21天", 84, 6,
     [(H, "approve", "", 0), (H, "approve", "", 0), (H, "approve", "同意", 0)]),
    # Zhongwei, finished one way or another
    ("zw09", "hospital", "D640500001", "P640500001", "640500", "640502", (1966, 8, 19), True, "李淑珍", "伏美替尼",
     "C34.9", "肺恶性肿瘤", "80mg 每日一次", 90, 20,
     [(H, "approve", "", 0), (H, "approve", "", 0), (H, "approve", "", 0),
      (R, "return", "请补充 EGFR 基因检测报告原件", 5)]),
    ("zw10", "hospital", "D640500001", "P640500001", "640500", "640502", (1958, 2, 14), False, "田国强", "信迪利单抗",
     "C34.9", "肺恶性肿瘤", "200mg 每3周一次", 180, 40,
     [(H, "approve", "", 0), (H, "approve", "", 0), (H, "approve", "", 0), (R, "approve", "符合条件，予以通过", 6)]),
    ("zw11", "hospital", "D640500003", "P640500001", "640500", "640502", (1972, 6, 6), True, "何丽", "度拉糖肽",
     "E11.9", "2型糖尿病", "1.5mg 每周一次", 90, 35,
     [(H, "approve", "", 0), (H, "approve", "", 0), (H, "approve", "", 0), (R, "reject", "未提供二甲双胍治疗失败的病历资料，不符合限定支付范围", 10)]),
    ("zw12", "hospital", "D640500002", "P640500001", "640500", "640502", (1964, 10, 10), False, "周宏伟", "伊布替尼",
     "C91.1", "慢性淋巴细胞白血病", "420mg 每日一次", 90, 60,
     [(H, "approve", "", 0), (H, "approve", "", 0), (H, "approve", "", 0), (R, "approve", "同意", 8)]),
    ("zw13", "hospital", "D640500001", "P640500001", "640500", "640502", (1961, 3, 3), True, "马桂花", "奥拉帕利",
     "C56", "卵巢恶性肿瘤", "300mg 每日两次", 30, 80,
     [(H, "approve", "", 0), (H, "approve", "", 0), (H, "approve", "", 0), (R, "approve", "按疗程核定有效期", 9)]),
    ("zw14", "hospital", "D640500001", "P640500001", "640500", "640502", (1955, 12, 24), False, "张德胜", "呋喹替尼",
     "C18.9", "结肠恶性肿瘤", "5mg d1-21 每28天", 84, 1, [(H, "reject", "诊断依据不足，未达三线治疗", 0)]),
    # Changsha
    ("cs01", "hospital_cs", "D430100001", "P430100001", "430100", "430104", (1969, 4, 4), False, "彭志强", "卡瑞利珠单抗",
     "C22.0", "肝细胞癌", "200mg 每2周一次", 90, 2, [(H, "approve", "", 0), (H, "approve", "同意", 0)]),
    ("cs02", "hospital_cs", "D430100003", "P430100001", "430100", "430102", (1985, 2, 20), True, "黄晓燕", "度普利尤单抗",
     "L20.9", "特应性皮炎", "300mg 每2周一次", 180, 25, [(H, "approve", "", 0), (H, "approve", "", 0)]),
]

EXPIRED = "zw13"      # approved with a short validity that has passed (R-APP-6)
TERMINATED = "zw12"   # approved, then terminated by the bureau


def _minimal_pdf(title: str) -> bytes:
    """A one-page PDF with a line of ASCII text (for the inline document viewer)."""
    stream = f"BT /F1 18 Tf 72 760 Td ({title}) Tj ET\nBT /F1 12 Tf 72 730 Td (Demo medical record - synthetic) Tj ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def _minimal_png(width: int = 320, height: int = 200) -> bytes:
    """A light card-shaped PNG with a blue band (stands in for an insurance-card scan)."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            border = x < 4 or y < 4 or x >= width - 4 or y >= height - 4
            band = 20 <= y < 60
            row += bytes((29, 95, 168)) if border or band else bytes((244, 246, 249))
        rows.append(bytes(row))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + chunk(b"IEND", b""))


def stage_actor(application: Application):
    """R-APP-4: the user holding the duty of the application's current hospital stage (see regions.py)."""
    if application.current_stage == Stage.PHYSICIAN:
        return application.physician.user
    duty = HospitalDuty.objects.filter(institution_id=application.institution_id, duty=application.current_stage)
    return duty.select_related("user").order_by("id").first().user


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def load(*, today: dt.date, now: dt.datetime, stdout=None):
    User = get_user_model()
    users = {u.username: u for u in User.objects.filter(username__in=["hospital", "hospital2", "hospital_cs",
                                                                      "reviewer", "reviewer_cs"])}
    if len(users) < 5:
        if stdout:
            stdout.write("  applications: demo users missing, skipped")
        return
    earliest = demo_start(today) + dt.timedelta(days=1)  # the demo catalogue is listed from the window's start
    created = 0
    pdf, png = _minimal_pdf("Medical record"), _minimal_png()
    for (key, hospital, physician, pharmacy, insured, home, birth, female, name, generic, icd, diagnosis, usage,
         course, days_ago, steps) in SCENARIOS:
        id_number = make_id_number(home, dt.date(*birth), int(key[2:]) + (40 if key.startswith("cs") else 0),
                                   female=female)
        if Application.objects.filter(person__id_number=id_number, generic_name=generic).exists():
            continue
        submitted_on = max(today - dt.timedelta(days=days_ago), earliest)
        hospital_user = users[hospital]
        reviewer = users["reviewer_cs" if insured == "430100" else "reviewer"]
        application = services.application_submit(
            actor=hospital_user,
            patient={"name": name, "id_number": id_number, "insurance_type": "resident" if female else "employee",
                     "insured_region": insured, "phone": f"139{id_number[-8:]}", "card_number": f"YB{id_number[-10:]}",
                     "employer": "" if female else "中卫市某有限公司" if insured == "640500" else "长沙市某有限公司"},
            physician_code=physician, pharmacy_code=pharmacy, generic_name=generic, diagnosis_code=icd,
            diagnosis_name=diagnosis, usage=usage, course_days=course, now=_at(submitted_on, 9))
        services.application_document_add(application=application, actor=hospital_user, kind="medical_record",
                                          uploaded_file=SimpleUploadedFile("病历资料.pdf", pdf))
        services.application_document_add(application=application, actor=hospital_user, kind="insurance_card",
                                          uploaded_file=SimpleUploadedFile("医保电子凭证.png", png))
        for step_no, (who, decision, opinion, after) in enumerate(steps):
            when = min(submitted_on + dt.timedelta(days=after), today)
            actor = stage_actor(application) if who == H else reviewer
            valid_until = None
            if key == EXPIRED and application.current_stage == Stage.BUREAU and decision == "approve":
                valid_until = max(today - dt.timedelta(days=3), application.applied_on)
            application = services.application_decide(application=application, actor=actor, decision=decision,
                                                      opinion=opinion, valid_until=valid_until,
                                                      now=_at(when, 11 + step_no % 6))
        if key == TERMINATED:
            services.application_terminate(application=application, actor=reviewer,
                                           reason="参保关系已转出中卫市，待遇终止",
                                           on=min(application.applied_on + dt.timedelta(days=30), today), today=today)
        created += 1
    expired = services.application_expire_due(today=today)
    if stdout:
        stdout.write(f"  applications: {created} created, {expired} expired, "
                     f"{Application.objects.count()} in total")
