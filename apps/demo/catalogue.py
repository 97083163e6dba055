"""Demo catalogue: nationally negotiated drugs with real generic names (codes and prices synthetic)."""
import datetime as dt
from decimal import Decimal

from apps.catalogue.models import Drug, PaymentStandard, TherapeuticArea
from apps.demo.window import demo_start

# generic, dosage form, specification, manufacturer, area, route, cold chain, standard, first self-pay %, category
DRUGS = [
    ("奥希替尼", "片剂", "80mg*30片", "阿斯利康制药有限公司", "oncology", "oral", False, "4788.00", 10, "negotiated"),
    ("阿美替尼", "片剂", "55mg*20片", "江苏豪森药业集团有限公司", "oncology", "oral", False, "1998.00", 10, "negotiated"),
    ("伏美替尼", "片剂", "40mg*28片", "上海艾力斯医药科技股份有限公司", "oncology", "oral", False, "2352.00", 10, "negotiated"),
    ("信迪利单抗", "注射液", "10ml:100mg/瓶", "信达生物制药（苏州）有限公司", "oncology", "injection", True, "1080.00", 5, "negotiated"),
    ("卡瑞利珠单抗", "注射用无菌粉末", "200mg/瓶", "苏州盛迪亚生物医药有限公司", "oncology", "injection", True, "2928.00", 5, "negotiated"),
    ("替雷利珠单抗", "注射液", "10ml:100mg/瓶", "百济神州（苏州）生物科技有限公司", "oncology", "injection", True, "1450.00", 5, "negotiated"),
    ("哌柏西利", "胶囊", "125mg*21粒", "辉瑞制药有限公司", "oncology", "oral", False, "2380.00", 10, "negotiated"),
    ("阿来替尼", "胶囊", "150mg*224粒", "罗氏制药有限公司", "oncology", "oral", False, "11592.00", 10, "negotiated"),
    ("呋喹替尼", "胶囊", "5mg*21粒", "和记黄埔医药（上海）有限公司", "oncology", "oral", False, "6552.00", 10, "negotiated"),
    ("奥拉帕利", "片剂", "150mg*56片", "阿斯利康制药有限公司", "oncology", "oral", False, "5616.00", 10, "negotiated"),
    ("安罗替尼", "胶囊", "12mg*7粒", "正大天晴药业集团股份有限公司", "oncology", "oral", False, "2079.00", 10, "negotiated"),
    ("曲妥珠单抗", "注射用无菌粉末", "150mg/瓶", "上海罗氏制药有限公司", "oncology", "injection", True, "1520.00", 5, "negotiated"),
    ("泽布替尼", "胶囊", "80mg*64粒", "百济神州（苏州）生物科技有限公司", "hematology", "oral", False, "6432.00", 10, "negotiated"),
    ("伊布替尼", "胶囊", "140mg*90粒", "西安杨森制药有限公司", "hematology", "oral", False, "9477.00", 10, "negotiated"),
    ("来那度胺", "胶囊", "25mg*21粒", "百时美施贵宝（中国）投资有限公司", "hematology", "oral", False, "1890.00", 10, "negotiated"),
    ("来那度胺", "胶囊", "25mg*21粒", "正大天晴药业集团股份有限公司", "hematology", "oral", False, "1290.00", 10, "negotiated"),
    ("司美格鲁肽", "注射液", "1.34mg/ml，3ml/支", "诺和诺德（中国）制药有限公司", "endocrine", "injection", True, "478.00", 0, "negotiated"),
    ("度拉糖肽", "注射液", "1.5mg/0.5ml/支", "礼来苏州制药有限公司", "endocrine", "injection", True, "197.00", 0, "negotiated"),
    ("恩格列净", "片剂", "10mg*30片", "勃林格殷格翰国际公司", "endocrine", "oral", False, "93.60", 0, "regular_b"),
    ("度普利尤单抗", "注射液", "300mg/2ml/支", "赛诺菲（杭州）制药有限公司", "immunology", "injection", True, "3160.00", 5, "negotiated"),
    ("司库奇尤单抗", "注射液", "150mg/1ml/支", "诺华制药有限公司", "immunology", "injection", True, "1188.00", 5, "negotiated"),
    ("托法替布", "片剂", "5mg*28片", "辉瑞制药有限公司", "immunology", "oral", False, "503.00", 5, "negotiated"),
    ("乌帕替尼", "缓释片", "15mg*28片", "艾伯维医药贸易（上海）有限公司", "immunology", "oral", False, "1960.00", 5, "negotiated"),
    ("诺西那生钠", "注射液", "12mg/5ml/瓶", "渤健生物科技（上海）有限公司", "rare_disease", "injection", True, "33000.00", 0, "negotiated"),
    ("利司扑兰", "口服溶液用散", "60mg/瓶", "上海罗氏制药有限公司", "rare_disease", "oral", True, "3780.00", 0, "negotiated"),
    ("阿加糖酶β", "注射用无菌粉末", "35mg/瓶", "赛诺菲（中国）投资有限公司", "rare_disease", "injection", True, "7100.00", 0, "negotiated"),
    ("氘丁苯那嗪", "片剂", "6mg*56片", "梯瓦制药有限公司", "rare_disease", "oral", False, "1596.00", 0, "negotiated"),
    ("沙库巴曲缬沙坦", "片剂", "100mg*14片", "北京诺华制药有限公司", "cardiovascular", "oral", False, "73.92", 0, "regular_b"),
    ("依洛尤单抗", "注射液", "140mg/ml/支", "安进生物医药研发（上海）有限公司", "cardiovascular", "injection", True, "283.00", 5, "negotiated"),
    ("尼达尼布", "软胶囊", "150mg*60粒", "勃林格殷格翰国际公司", "respiratory", "oral", False, "3558.00", 10, "negotiated"),
    ("丙酚替诺福韦", "片剂", "25mg*30片", "吉利德科学公司", "hepatitis", "oral", False, "450.00", 0, "negotiated"),
    ("索磷布韦维帕他韦", "片剂", "28片/盒", "吉利德科学公司", "hepatitis", "oral", False, "4000.00", 0, "negotiated"),
    ("比克恩丙诺", "片剂", "30片/瓶", "吉利德科学公司", "hiv", "oral", False, "1040.00", 0, "negotiated"),
    ("雷珠单抗", "注射液", "10mg/ml，0.2ml/支", "诺华制药有限公司", "ophthalmology", "injection", True, "1650.00", 5, "negotiated"),
    ("康柏西普", "眼用注射液", "10mg/ml，0.2ml/支", "成都康弘生物科技有限公司", "ophthalmology", "injection", True, "3950.00", 5, "negotiated"),
    ("罗沙司他", "胶囊", "50mg*3粒", "珐博进（中国）医药技术开发有限公司", "nephrology", "oral", False, "173.40", 0, "negotiated"),
]

ATC = {"oncology": "L01XE", "hematology": "L01XX", "endocrine": "A10BJ", "immunology": "L04AC",
       "rare_disease": "M09AX", "cardiovascular": "C10AX", "respiratory": "L01EX", "hepatitis": "J05AF",
       "hiv": "J05AR", "ophthalmology": "S01LA", "nephrology": "B03XA"}


def drug_code(index: int, area: str) -> str:
    return f"X{ATC[area]}A{index:03d}A001010{index:06d}"


# R-CAT-3 demo history: these drugs' standards were cut mid-year (the earlier, higher value is kept)
HISTORY = {"奥希替尼": Decimal("1.10"), "司美格鲁肽": Decimal("1.05")}
# R-CAT-5 demo withdrawal: an extra drug withdrawn for zero use (not used by the other demos)
WITHDRAWN = ("阿帕他胺", "片剂", "60mg*120片", "西安杨森制药有限公司", "oncology", "oral", False, "2928.00", 10,
             "negotiated")


def _mid_year(start: dt.date, today: dt.date) -> dt.date | None:
    """First day of the month two months before today, if that is after the agreement start."""
    month = today.month - 2
    year = today.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    mid = dt.date(year, month, 1)
    return mid if start < mid <= today else None


def load(*, today: dt.date, now: dt.datetime, stdout=None):
    areas = {a.code: a for a in TherapeuticArea.objects.all()}
    window = demo_start(today)  # the demo year: twelve months back (apps/demo/window.py)
    for i, (generic, form, spec, maker, area, route, cold, standard, ratio, category) in enumerate(DRUGS, start=1):
        # negotiated drugs are listed over the whole demo year; a regular drug's listing runs one year (R-CAT-4),
        # so it starts on 1 January and is still listed today
        start = window if category == "negotiated" else dt.date(today.year, 1, 1)
        end = dt.date(today.year + 1, 12, 31) if category == "negotiated" else dt.date(today.year, 12, 31)
        drug, created = Drug.objects.get_or_create(code=drug_code(i, area), defaults=dict(
            generic_name=generic, dosage_form=form, specification=spec, manufacturer=maker,
            category=category, therapeutic_area=areas[area], route=route, cold_chain=cold,
            payment_standard=Decimal(standard), first_self_pay_ratio=Decimal(ratio) / 100,
            restricted_scope="限医保协议期内谈判药品适应症" if category == "negotiated" else "",
            agreement_start=start, agreement_end=end,
        ))
        if not created:
            continue
        mid = _mid_year(start, today) if generic in HISTORY else None
        if mid is None:
            PaymentStandard.objects.create(drug=drug, amount=drug.payment_standard, valid_from=start,
                                           source="演示数据")
        else:
            earlier = (drug.payment_standard * HISTORY[generic]).quantize(Decimal("0.01"))
            PaymentStandard.objects.create(drug=drug, amount=earlier, valid_from=start,
                                           valid_until=mid - dt.timedelta(days=1), source="演示数据（续约前）")
            PaymentStandard.objects.create(drug=drug, amount=drug.payment_standard, valid_from=mid,
                                           source="演示数据（续约降价）")
    _load_withdrawn(areas=areas, start=window, today=today)
    if stdout:
        stdout.write(f"  catalogue: {Drug.objects.count()} drugs")


def _load_withdrawn(*, areas, start: dt.date, today: dt.date) -> None:
    generic, form, spec, maker, area, route, cold, standard, ratio, category = WITHDRAWN
    code = drug_code(len(DRUGS) + 1, area)
    if Drug.objects.filter(code=code).exists():
        return
    withdrawn_on = max(start + dt.timedelta(days=1), today - dt.timedelta(days=14))
    if withdrawn_on > today:
        return
    drug = Drug.objects.create(
        code=code, generic_name=generic, dosage_form=form, specification=spec, manufacturer=maker,
        category=category, therapeutic_area=areas[area], route=route, cold_chain=cold,
        payment_standard=Decimal(standard), first_self_pay_ratio=Decimal(ratio) / 100,
        agreement_start=start, agreement_end=dt.date(today.year + 1, 12, 31),
        withdrawn_on=withdrawn_on, withdrawal_reason=Drug.WithdrawalReason.ZERO_USE,
        withdrawal_note="上年度统筹区内使用量为零（演示）",
    )
    PaymentStandard.objects.create(drug=drug, amount=drug.payment_standard, valid_from=start, source="演示数据")
