"""R-PAY-2 presets, shipped as data (loaded by a data migration and by ``policy_apply_preset``)."""
from decimal import Decimal

PRESETS: dict[str, dict] = {
    "zhongwei-2021": {
        "name": "中卫市双通道药品支付政策（2021）",
        "source": "000 三：起付线500元/年，职工75%、居民60%，年度限额职工40万、居民13万",
        "deductible_outpatient_employee": Decimal("500.00"),
        "deductible_outpatient_resident": Decimal("500.00"),
        # Inpatient use follows the inpatient policy: no separate deductible; the ratio is set by the
        # administrator (preset starts from the outpatient ratios).
        "deductible_inpatient_employee": Decimal("0.00"),
        "deductible_inpatient_resident": Decimal("0.00"),
        "ratio_outpatient_employee": Decimal("0.7500"),
        "ratio_outpatient_resident": Decimal("0.6000"),
        "ratio_inpatient_employee": Decimal("0.7500"),
        "ratio_inpatient_resident": Decimal("0.6000"),
        "annual_cap_employee": Decimal("400000.00"),
        "annual_cap_resident": Decimal("130000.00"),
    },
    "hunan-2026": {
        "name": "湖南省双通道单行支付政策（2026）",
        "source": "001 第九条：不设起付线，职工70%、居民60%，计入统筹基金年度最高支付限额",
        "deductible_outpatient_employee": Decimal("0.00"),
        "deductible_outpatient_resident": Decimal("0.00"),
        "deductible_inpatient_employee": Decimal("0.00"),
        "deductible_inpatient_resident": Decimal("0.00"),
        "ratio_outpatient_employee": Decimal("0.7000"),
        "ratio_outpatient_resident": Decimal("0.6000"),
        "ratio_inpatient_employee": Decimal("0.7000"),
        "ratio_inpatient_resident": Decimal("0.6000"),
        "annual_cap_employee": None,
        "annual_cap_resident": None,
    },
}
