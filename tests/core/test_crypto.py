"""R-SEC-2 (PIPL): ID numbers and phones are encrypted at rest (AES-256-GCM, ``apps.core.crypto``) and found through
a keyed digest. The raw columns are read with a cursor: no plain number may be there."""
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.applications.models import InsuredPerson, InsuredPersonChange
from apps.applications.services import insured_person_upsert
from apps.core import crypto
from apps.core.fields import encrypted_columns_of, rewrite_columns
from apps.institutions.models import Institution
from apps.pharmacies.models import Pharmacy
from apps.physicians.models import Physician
from tests import factories as f

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 12, 1)
KEY_A = "A" * 8 + "first-field-key-0123456789-abcdefghijk"
KEY_B = "B" * 8 + "second-field-key-9876543210-zyxwvutsrq"


def _raw(model, column: str, pk) -> str:
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {q(column)} FROM {q(model._meta.db_table)} WHERE {q('id')} = %s", [pk])
        return cursor.fetchone()[0]


def _set_raw(model, column: str, pk, value) -> None:
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {q(model._meta.db_table)} SET {q(column)} = %s WHERE {q('id')} = %s", [value, pk])


def _person(seq=1, phone="13912345678", **kw) -> InsuredPerson:
    f.region("640502")
    return insured_person_upsert(name="张三", id_number=f.id_number(seq=seq), insurance_type="employee",
                                 insured_region_code="640502", phone=phone, today=TODAY, **kw)


def test_r_sec_2_raw_columns_hold_no_plain_id_number_or_phone():
    """Every column that holds an ID number or a phone (insured person, physician, institution and pharmacy
    contacts, a proposed change of a person's facts) stores ``enc1:<key id>:…``; the plain value appears nowhere
    in the row, the model reads it back in full."""
    # given
    person = _person()
    number = person.id_number
    physician = f.PhysicianFactory(phone="13800001111")
    institution = f.InstitutionFactory(contact_phone="0955-7012345")
    pharmacy = f.PharmacyFactory(contact_phone="0955-7098765")
    staff = f.UserFactory(phone="13655554444")
    change = InsuredPersonChange.objects.create(person=person, before={"phone": "13912345678"},
                                                after={"phone": "13700002222"},
                                                requested_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    # then
    cases = [(InsuredPerson, "id_number", person.pk, number), (InsuredPerson, "phone", person.pk, "13912345678"),
             (Physician, "phone", physician.pk, "13800001111"),
             (Institution, "contact_phone", institution.pk, "0955-7012345"),
             (Pharmacy, "contact_phone", pharmacy.pk, "0955-7098765"),
             (type(staff), "phone", staff.pk, "13655554444"),
             (InsuredPersonChange, "before", change.pk, "13912345678"),
             (InsuredPersonChange, "after", change.pk, "13700002222")]
    for model, column, pk, plain in cases:
        raw = _raw(model, column, pk)
        assert raw.startswith(f"enc1:{crypto.keyring().current.key_id}:"), (model, column, raw)
        assert plain not in raw, raw
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {q(InsuredPerson._meta.db_table)} WHERE {q('id')} = %s", [person.pk])
        row = " ".join(str(v) for v in cursor.fetchone())
    assert number not in row and "13912345678" not in row
    person = InsuredPerson.objects.get(pk=person.pk)
    assert (person.id_number, person.phone) == (number, "13912345678")
    assert Physician.objects.get(pk=physician.pk).phone == "13800001111"
    assert type(staff).objects.get(pk=staff.pk).phone == "13655554444"
    assert InsuredPersonChange.objects.get(pk=change.pk).after == {"phone": "13700002222"}


def test_r_sec_2_a_blank_phone_stays_blank():
    """Nothing to hide: a blank phone is stored as an empty string, not as the ciphertext of one."""
    person = _person(phone="")
    assert _raw(InsuredPerson, "phone", person.pk) == ""
    assert InsuredPerson.objects.get(pk=person.pk).phone == ""


def test_r_sec_2_lookup_by_id_number_goes_through_the_keyed_digest():
    """``filter(id_number=…)`` (lower-case x too), ``__in``, a related lookup and the last four characters find the
    person; the SQL compares digests and never carries the ID number; other lookups are refused."""
    # given
    person = _person(seq=7)
    other = _person(seq=8)
    number = person.id_number
    # when / then
    with CaptureQueriesContext(connection) as queries:
        assert InsuredPerson.objects.get(id_number=number) == person
    sql = queries.captured_queries[-1]["sql"]
    assert "id_number_digest" in sql and number not in sql
    assert list(InsuredPerson.objects.filter(id_number__in=[number, other.id_number]).order_by("id")) == [person, other]
    assert InsuredPerson.objects.filter(id_number=number.lower()).get() == person
    assert InsuredPerson.objects.filter(id_number__iexact=number).get() == person
    assert not InsuredPerson.objects.filter(id_number=f.id_number(seq=9)).exists()
    assert InsuredPerson.objects.filter(id_number__endswith=number[-4:]).get() == person
    assert not InsuredPerson.objects.filter(id_number__endswith=f.id_number(seq=9)[-4:]).exists()
    assert not InsuredPerson.objects.exclude(id_number=number).filter(pk=person.pk).exists()
    with pytest.raises(FieldError):
        list(InsuredPerson.objects.filter(id_number__icontains=number[6:14]))
    with pytest.raises(FieldError):
        list(InsuredPerson.objects.filter(id_number__endswith=number[-6:]))  # only the last four have a digest
    with pytest.raises(FieldError):
        list(InsuredPerson.objects.filter(phone="13912345678"))  # phones have no digest: nothing looks them up


def test_r_sec_2_id_number_unique_through_its_digest():
    """The digest column is unique: a second row with the same ID number (in any case) is refused by the database;
    the service finds the existing person instead of creating one."""
    person = _person(seq=3)
    assert _person(seq=3, phone="13900000000").pk == person.pk
    assert InsuredPerson.objects.count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        InsuredPerson.objects.create(id_number=person.id_number.lower(), name="李四", sex="male",
                                     birth_date=dt.date(1980, 1, 1), insurance_type="employee",
                                     insured_region=f.region("640502"))


def test_r_sec_2_rotated_key_still_decrypts_finds_and_rotate_command_reencrypts(settings):
    """A row written under key A is read and found after the switch to key B (A kept as an old key); new rows are
    written under B; ``rotate_field_encryption`` rewrites the old rows under B, after which A can go."""
    # given: written under A
    settings.FIELD_ENCRYPTION_KEY, settings.FIELD_ENCRYPTION_OLD_KEYS = KEY_A, []
    old = _person(seq=11)
    key_a, key_b = crypto.derive_key(KEY_A).key_id, crypto.derive_key(KEY_B).key_id
    assert crypto.key_id_of(_raw(InsuredPerson, "id_number", old.pk)) == key_a
    # when: rotated to B, A still accepted
    settings.FIELD_ENCRYPTION_KEY, settings.FIELD_ENCRYPTION_OLD_KEYS = KEY_B, [KEY_A]
    # then
    assert InsuredPerson.objects.get(id_number=old.id_number).phone == "13912345678"
    assert InsuredPerson.objects.filter(id_number__endswith=old.id_number[-4:]).get() == old
    new = _person(seq=12)
    assert crypto.key_id_of(_raw(InsuredPerson, "id_number", new.pk)) == key_b
    assert _person(seq=11).pk == old.pk  # the upsert finds the old row through A's digest: no duplicate
    # when: the command rewrites every row under B
    call_command("rotate_field_encryption", stdout=open(os.devnull, "w"))
    assert crypto.key_id_of(_raw(InsuredPerson, "id_number", old.pk)) == key_b
    assert crypto.key_id_of(_raw(InsuredPerson, "phone", old.pk)) == key_b
    settings.FIELD_ENCRYPTION_OLD_KEYS = []
    assert InsuredPerson.objects.get(id_number=old.id_number).phone == "13912345678"
    # and without A a row still under A would be refused
    _set_raw(InsuredPerson, "phone", old.pk, crypto.encrypt("13912345678", kind="phone", key=crypto.derive_key(KEY_A)))
    with pytest.raises(crypto.FieldDecryptionError, match="unknown key"):
        InsuredPerson.objects.get(pk=old.pk)


def test_r_sec_2_tampered_ciphertext_is_refused():
    """A changed character, a ciphertext moved from the phone column into the ID column (the kind is the associated
    data), a truncated value and a plain value written over the ciphertext are all refused on read — never
    returned as data."""
    person = _person(seq=21)
    raw_id, raw_phone = _raw(InsuredPerson, "id_number", person.pk), _raw(InsuredPerson, "phone", person.pk)
    head, body = raw_id.rsplit(":", 1)
    flipped = body[:20] + ("A" if body[20] != "A" else "B") + body[21:]
    for bad in [f"{head}:{flipped}", raw_phone, raw_id[:30], person.id_number]:
        _set_raw(InsuredPerson, "id_number", person.pk, bad)
        with pytest.raises(crypto.FieldDecryptionError):
            InsuredPerson.objects.get(pk=person.pk)
    _set_raw(InsuredPerson, "id_number", person.pk, raw_id)
    assert InsuredPerson.objects.get(pk=person.pk).id_number == person.id_number


def test_r_sec_2_data_migration_encrypts_existing_plain_rows_and_back():
    """The migrations' rewrite on this database (SQLite or PostgreSQL): plain rows become ciphertext with their
    digests (the person is then found by ID number and by its last four), running it twice changes nothing, and
    the reverse gives the plain values back."""
    # given: a row as the table held it before the migration (plain values, no digests yet)
    person = _person(seq=31)
    number = person.id_number
    _set_raw(InsuredPerson, "id_number", person.pk, number)
    _set_raw(InsuredPerson, "phone", person.pk, "13912345678")
    _set_raw(InsuredPerson, "id_number_digest", person.pk, "pending")
    _set_raw(InsuredPerson, "id_number_tail_digest", person.pk, "pending")
    columns = encrypted_columns_of(InsuredPerson)
    table = InsuredPerson._meta.db_table
    # when
    rewrite_columns(connection, table, columns, mode="encrypt")
    once = _raw(InsuredPerson, "id_number", person.pk)
    rewrite_columns(connection, table, columns, mode="encrypt")
    # then
    assert crypto.is_ciphertext(once) and _raw(InsuredPerson, "id_number", person.pk) == once
    assert InsuredPerson.objects.get(id_number=number).phone == "13912345678"
    assert InsuredPerson.objects.get(id_number__endswith=number[-4:]).pk == person.pk
    # and back
    rewrite_columns(connection, table, columns, mode="decrypt")
    assert (_raw(InsuredPerson, "id_number", person.pk), _raw(InsuredPerson, "phone", person.pk)) == (
        number, "13912345678")


def test_r_sec_2_masked_display_still_works(client):
    """The admin and the lists still show the masked numbers (read back through decryption)."""
    from apps.core.masking import mask_id_number, mask_phone

    person = _person(seq=41)
    assert mask_id_number(person.id_number) == person.id_number[:6] + "********" + person.id_number[-4:]
    reloaded = InsuredPerson.objects.get(pk=person.pk)
    assert mask_phone(reloaded.phone) == "139****5678"
    assert str(reloaded) == f"张三（{person.id_number[-4:]}）"


def _run_production(field_key: str | None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FIELD_ENCRYPTION_"))}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.production",
               DJANGO_SECRET_KEY="k" * 10 + "Qw3rTy-uIoP_aSdFgHjKl-ZxCvBnM_0987654321-poIUytrEW-qaz",
               DATABASE_URL=os.environ.get("DATABASE_URL", f"sqlite:///{ROOT / 'db.sqlite3'}"))
    if field_key is not None:
        env["FIELD_ENCRYPTION_KEY"] = field_key
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("field_key", [None, "", "short-key", "change-me-" * 5,
                                       "dev-field-key-" + "0123456789abcdef" * 4])
def test_r_sec_2_production_refuses_to_start_without_a_real_field_encryption_key(field_key):
    result = _run_production(field_key)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY must be a real secret" in result.stderr


def test_r_sec_2_production_starts_with_a_real_field_encryption_key():
    result = _run_production("Fx7-pQ2_wZ9rT4yU1iO8aS5dG3hJ6kL0zXcVbNm")
    assert result.returncode == 0, result.stderr
