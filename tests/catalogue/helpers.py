"""Workbooks for the import tests."""
import datetime as dt
import io
from decimal import Decimal

import openpyxl
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.catalogue.resources import H

DRUG_HEADERS = [H[k] for k in ("code", "generic_name", "dosage_form", "specification", "manufacturer", "category",
                               "therapeutic_area", "route", "cold_chain", "payment_standard",
                               "first_self_pay_ratio", "restricted_scope", "agreement_start", "agreement_end")]


def drug_code(n: int, prefix: str = "X") -> str:
    return f"{prefix}L01XEA{n:016d}"


def drug_row(n: int = 1, **over) -> dict:
    row = {
        H["code"]: drug_code(n), H["generic_name"]: f"测试药{n}", H["dosage_form"]: "片剂",
        H["specification"]: "80mg*30片", H["manufacturer"]: "测试制药有限公司", H["category"]: "协议期内谈判药品",
        H["therapeutic_area"]: "肿瘤", H["route"]: "口服", H["cold_chain"]: "否",
        H["payment_standard"]: Decimal("1000.00"), H["first_self_pay_ratio"]: "10%",
        H["restricted_scope"]: "限非小细胞肺癌", H["agreement_start"]: dt.date(2026, 1, 1),
        H["agreement_end"]: dt.date(2027, 12, 31),
    }
    row.update({H.get(k, k): v for k, v in over.items()})
    return row


def workbook_bytes(rows: list[dict], headers: list[str] | None = None) -> bytes:
    headers = DRUG_HEADERS if headers is None else headers
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("目录")
    if headers:
        ws.append(headers)
    for row in rows:
        ws.append([row.get(h) for h in headers])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(content: bytes, name: str = "目录.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def drug_upload(rows: list[dict], headers: list[str] | None = None, name: str = "目录.xlsx") -> SimpleUploadedFile:
    return upload(workbook_bytes(rows, headers), name)


def read_workbook(content: bytes) -> list[list]:
    wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
