"""Region-settings presets: where the sources differ, each source's values ship as a preset (DOMAIN.md opening).

R-DOC-2 / R-INS-2: the certifying/treating split is on in the Jilin arrangement (002) and off in the Zhongwei (000)
and Hunan (001) presets. R-APP-4: Jilin's 002 三(一) names all three hospital stages (初审/复审/终审).
R-APP-10: Jilin allows filing after the first use (002 三(二)). R-SET-1: the quality deposit is 5 % in Zhongwei
(000 附件2 第二条) and none in Hunan; Jilin's 002 is silent and keeps the default."""
from decimal import Decimal

REGION_SETTINGS_PRESETS: dict[str, dict] = {
    "zhongwei-2021": {
        "name": "中卫（000）",
        "deposit_rate": Decimal("0.0500"),  # R-SET-1: 000 附件2 第二条
        "attending_physician_allowed": True,
        "role_split": False,
        "filing_after_first_use": False,
        "review_stages": ["physician", "pharmacy_dept", "insurance_office", "bureau"],
    },
    "hunan-2026": {
        "name": "湖南（001）",
        "deposit_rate": Decimal("0.0000"),  # R-SET-1: 001 sets no quality deposit
        "attending_physician_allowed": True,
        "role_split": False,
        "filing_after_first_use": False,
        "review_stages": ["physician", "insurance_office", "bureau"],
    },
    "jilin": {
        "name": "吉林（002）",
        "attending_physician_allowed": False,
        "role_split": True,
        "filing_after_first_use": True,
        "review_stages": ["physician", "pharmacy_dept", "insurance_office", "bureau"],
    },
}
