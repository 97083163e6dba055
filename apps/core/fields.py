"""Model fields for personal numbers encrypted at rest (PIPL; R-SEC-2), built on ``apps.core.crypto``.

``EncryptedCharField`` holds the plain value in Python and its AES-GCM ciphertext in the column (``text``). Its
``max_length`` is the plain value's (forms and ``full_clean`` check it). Equality lookups never compare the
ciphertext: ``exact``, ``iexact`` and ``in`` on the field are rewritten to ``IN (digests…)`` on its companion
``DigestField`` (the current key's digest and each old key's), so ``filter(id_number=…)``,
``filter(person__id_number__in=[…])`` and admin ``=``-searches find the row through the keyed digest; uniqueness
lives on the digest column. Every other lookup (``endswith``, ``icontains``…) is refused with ``FieldError``: a
search that would silently find nothing in ciphertext is a bug to see at once. A field without a digest (phones:
nothing looks them up) refuses equality lookups too.

The digest is computed when the row is saved (``pre_save``, which ``save()`` and ``bulk_create`` call; the COPY
path of ``apps.core.excel.bulk`` calls ``DigestField.digest_of_row``). ``save(update_fields=[…])`` and
``bulk_update`` that change the plain field must name the digest field too (the ID number of a person never
changes after creation)."""
from __future__ import annotations

import json

from django.core.exceptions import FieldError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.expressions import Col
from django.db.models.lookups import In

from apps.core import crypto
from apps.core.masking import mask_id_number, mask_phone


def _normalise_id_number(value: str) -> str:
    return value.strip().upper()


def _normalise_phone(value: str) -> str:
    return value.strip()


NORMALISERS = {"id_number": _normalise_id_number, "phone": _normalise_phone}
MASKS = {"id_number": mask_id_number, "phone": mask_phone}


def normalise(value, *, kind: str) -> str:
    return NORMALISERS.get(kind, str.strip)(str(value))


class EncryptedCharField(models.CharField):
    """A personal number stored encrypted (``kind`` names it: ``id_number`` or ``phone``; it is the ciphertext's
    associated data and the digest's domain), with equality lookups through ``digest_field`` when given."""

    description = "Personal number encrypted at rest (AES-256-GCM) with a keyed lookup digest"

    def __init__(self, *args, kind: str = "phone", digest_field: str | None = None,
                 tail_digest_field: str | None = None, **kwargs):
        self.kind = kind
        self.digest_field = digest_field
        self.tail_digest_field = tail_digest_field
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["kind"] = self.kind
        if self.digest_field:
            kwargs["digest_field"] = self.digest_field
        if self.tail_digest_field:
            kwargs["tail_digest_field"] = self.tail_digest_field
        return name, path, args, kwargs

    def get_internal_type(self):
        return "TextField"  # the column holds the ciphertext, longer than max_length

    def db_type(self, connection):
        return connection.data_types["TextField"]

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return crypto.decrypt(value, kind=self.kind)

    def get_db_prep_value(self, value, connection, prepared=False):
        value = self.get_prep_value(value)
        if value is None or value == "":
            return value  # absent stays absent (blank phones): nothing to hide
        return crypto.encrypt(value, kind=self.kind)

    def mask(self, value) -> str:
        """The masked form of a plain value (R-SEC-2), for audit rows and lists."""
        return MASKS.get(self.kind, mask_phone)(value)

    def lookup_digests(self, value) -> list[str]:
        return crypto.lookup_digests(normalise(value, kind=self.kind), kind=self.kind)

    def get_digest_field(self) -> DigestField:
        if not self.digest_field:
            raise FieldError(f"{self.model.__name__}.{self.name} is encrypted without a lookup digest: it cannot be "
                             "compared in a query")
        return self.model._meta.get_field(self.digest_field)

    def get_tail_digest_field(self) -> DigestField:
        if not self.tail_digest_field:
            raise FieldError(f"{self.model.__name__}.{self.name} is encrypted without a tail digest: it cannot be "
                             "searched by its last characters")
        return self.model._meta.get_field(self.tail_digest_field)

    def get_lookup(self, lookup_name):
        if lookup_name in ("exact", "iexact"):
            return EncryptedExact
        if lookup_name == "in":
            return EncryptedIn
        if lookup_name in ("endswith", "iendswith"):
            return EncryptedEndswith
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        return None  # Django raises FieldError("Unsupported lookup …")

    def get_transform(self, lookup_name):
        return None


class _EncryptedLookup(In):
    """``IN (digest, …)`` on the companion digest column instead of a comparison with the ciphertext."""

    def __init__(self, lhs, rhs):
        if rhs is None:  # ``exact=None``: ``build_lookup`` turns it into ``isnull`` on the encrypted column
            self.lhs, self.rhs = lhs, None
            return
        field = lhs.output_field
        if not isinstance(lhs, Col):
            raise FieldError(f"{field.name} is encrypted: compare the column itself, not an expression over it")
        values = self.plain_values(rhs)
        if any(hasattr(v, "resolve_expression") for v in values):
            raise FieldError(f"{field.name} is encrypted: it can only be compared with plain values")
        digests = [d for v in values if v is not None and str(v).strip() != "" for d in field.lookup_digests(v)]
        super().__init__(Col(lhs.alias, field.get_digest_field()), digests)

    def plain_values(self, rhs) -> list:
        raise NotImplementedError


class EncryptedExact(_EncryptedLookup):
    lookup_name = "exact"

    def plain_values(self, rhs) -> list:
        return [rhs]


class EncryptedIn(_EncryptedLookup):
    lookup_name = "in"

    def plain_values(self, rhs) -> list:
        if hasattr(rhs, "resolve_expression"):
            return [rhs]
        return list(rhs)


class EncryptedEndswith(_EncryptedLookup):
    """``endswith`` with exactly the tail length of the field's tail digest (the last four characters of an ID
    number, as hospital staff search): ``IN (tail digests…)``; any other length is refused."""

    lookup_name = "endswith"

    def __init__(self, lhs, rhs):
        if rhs is None or not isinstance(lhs, Col) or hasattr(rhs, "resolve_expression"):
            raise FieldError("an encrypted field's tail is compared only with a plain value")
        field = lhs.output_field
        tail_field = field.get_tail_digest_field()
        tail = normalise(rhs, kind=field.kind)
        if len(tail) != tail_field.tail:
            raise FieldError(f"{field.name} is encrypted: it can be searched by its last {tail_field.tail} "
                             "characters only")
        In.__init__(self, Col(lhs.alias, tail_field), tail_field.lookup_digests(tail))


class DigestField(models.CharField):
    """The keyed HMAC-SHA256 of an ``EncryptedCharField`` (``source``), hex; computed on save, never edited. With
    ``tail=n`` it is the digest of the value's last ``n`` characters only (a search by the tail of an ID number),
    in its own domain (``<kind>:tail<n>``) so that it never equals a whole value's digest."""

    description = "Keyed lookup digest (HMAC-SHA256) of an encrypted field"

    def __init__(self, *args, source: str, tail: int = 0, **kwargs):
        self.source = source
        self.tail = tail
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        if self.tail:
            kwargs["tail"] = self.tail
        if kwargs.get("max_length") == 64:
            del kwargs["max_length"]
        if kwargs.get("editable") is False:
            del kwargs["editable"]
        return name, path, args, kwargs

    def source_field(self) -> EncryptedCharField:
        return self.model._meta.get_field(self.source)

    def domain(self) -> str:
        kind = self.source_field().kind
        return f"{kind}:tail{self.tail}" if self.tail else kind

    def part(self, normalised: str) -> str:
        return normalised[-self.tail:] if self.tail else normalised

    def digest_of(self, plain) -> str | None:
        if plain is None or str(plain).strip() == "":
            return None if self.null else ""
        return crypto.digest(self.part(normalise(plain, kind=self.source_field().kind)), kind=self.domain())

    def lookup_digests(self, normalised_part: str) -> list[str]:
        return crypto.lookup_digests(normalised_part, kind=self.domain())

    def digest_of_row(self, row: dict) -> str | None:
        """For writers that bypass ``save()`` with rows of ``{attname: value}`` (``apps.core.excel.bulk``)."""
        return self.digest_of(row.get(self.source_field().attname))

    def pre_save(self, model_instance, add):
        value = self.digest_of(getattr(model_instance, self.source_field().attname))
        setattr(model_instance, self.attname, value)
        return value


class EncryptedJSONField(models.Field):
    """A small JSON document stored encrypted (e.g. a proposed change of an insured person's facts, which holds the
    phone): ``kind`` is the associated data. Only ``isnull`` can be queried; the document is read in Python."""

    description = "JSON document encrypted at rest (AES-256-GCM)"
    empty_strings_allowed = False

    def __init__(self, *args, kind: str, **kwargs):
        self.kind = kind
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["kind"] = self.kind
        return name, path, args, kwargs

    def get_internal_type(self):
        return "TextField"

    def db_type(self, connection):
        return connection.data_types["TextField"]

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return json.loads(crypto.decrypt(value, kind=self.kind))

    def to_python(self, value):
        return json.loads(value) if isinstance(value, str) else value

    def get_prep_value(self, value):
        return value

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        return crypto.encrypt(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True),
                              kind=self.kind)

    def value_to_string(self, obj):
        return json.dumps(self.value_from_object(obj), cls=DjangoJSONEncoder, ensure_ascii=False)

    def get_lookup(self, lookup_name):
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_transform(self, lookup_name):
        return None

    def formfield(self, **kwargs):
        from django import forms

        return super().formfield(**{"form_class": forms.JSONField, **kwargs})


# --- data migrations ------------------------------------------------------------------------------------------

BATCH = 1000


def encrypt_columns(table: str, columns: list[tuple[str, str, dict[str, int]]]):
    """A ``RunPython`` pair that encrypts the plain values already in ``table`` and back. ``columns`` are
    ``(column, kind, {digest column: tail length (0 for the whole value)})``. Raw SQL through the migration's
    connection (SQLite and PostgreSQL alike), because the historical model's field would refuse to read a plain
    value; values already encrypted are left as they are, so running it twice changes nothing."""

    def forward(apps, schema_editor):
        rewrite_columns(schema_editor.connection, table, columns, mode="encrypt")

    def backward(apps, schema_editor):
        rewrite_columns(schema_editor.connection, table, columns, mode="decrypt")

    return forward, backward


def digest_value(plain: str, *, kind: str, tail: int = 0) -> str:
    """The digest ``DigestField`` stores (for a data migration that has no model field at hand)."""
    value = normalise(plain, kind=kind)
    return crypto.digest(value[-tail:] if tail else value, kind=f"{kind}:tail{tail}" if tail else kind)


def encrypted_columns_of(model) -> list[tuple[str, str, dict[str, int]]]:
    """``(column, kind, {digest column: tail})`` of every encrypted field of ``model``."""
    fields = model._meta.concrete_fields
    return [(f.column, f.kind, {d.column: d.tail for d in fields if isinstance(d, DigestField) and d.source == f.name})
            for f in fields if isinstance(f, (EncryptedCharField, EncryptedJSONField))]


def rewrite_columns(connection, table, columns, *, mode: str, pk: str = "id") -> int:
    """Rewrite every row's encrypted ``columns``: ``encrypt`` plain values (already encrypted ones stay),
    ``decrypt`` them back, or ``rotate``: re-encrypt what the current key did not write (an old key's ciphertext is
    accepted; a plain value is refused) and recompute every digest with the current key. Returns the rows
    rewritten."""
    q = connection.ops.quote_name
    names = [c for c, _, _ in columns]
    digest_columns = [d for _, _, digests in columns for d in (digests or {})]
    with_digests = mode != "decrypt"
    current = crypto.keyring().current.key_id
    select = f"SELECT {q(pk)}, {', '.join(q(c) for c in names)} FROM {q(table)} ORDER BY {q(pk)}"
    sets = [f"{q(c)} = %s" for c in names] + ([f"{q(d)} = %s" for d in digest_columns] if with_digests else [])
    update = f"UPDATE {q(table)} SET {', '.join(sets)} WHERE {q(pk)} = %s"
    with connection.cursor() as cursor:
        cursor.execute(select)
        rows = cursor.fetchall()
    params = []
    for row in rows:
        values, digests = [], []
        for (column, kind, column_digests), value in zip(columns, row[1:]):
            encrypted = crypto.is_ciphertext(value)
            if mode == "rotate" and value not in (None, "") and not encrypted:
                raise crypto.FieldDecryptionError(f"{table}.{column} row {row[0]}: a plain value where a "
                                                  "ciphertext belongs")
            plain = crypto.decrypt(value, kind=kind) if encrypted else value
            if value in (None, ""):
                values.append(value)
            elif mode == "decrypt":
                values.append(plain)
            elif encrypted and (mode == "encrypt" or crypto.key_id_of(value) == current):
                values.append(value)
            else:
                values.append(crypto.encrypt(plain, kind=kind))
            if with_digests:
                digests += [None if plain in (None, "") else digest_value(plain, kind=kind, tail=tail)
                            for tail in (column_digests or {}).values()]
        params.append([*values, *digests, row[0]])
    with connection.cursor() as cursor:
        for start in range(0, len(params), BATCH):
            cursor.executemany(update, params[start:start + BATCH])
    return len(params)
