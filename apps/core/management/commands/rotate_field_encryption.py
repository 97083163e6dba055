"""``manage.py rotate_field_encryption``: after a key rotation (the new secret in ``FIELD_ENCRYPTION_KEY``, the old
one in ``FIELD_ENCRYPTION_OLD_KEYS``), re-encrypt every encrypted column under the new key and recompute every
lookup digest, one transaction per table (PIPL; ``apps.core.crypto``). Running it again changes nothing but the
digests it recomputes to the same values. Afterwards the old key can be removed."""
from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from apps.core.crypto import keyring
from apps.core.fields import encrypted_columns_of, rewrite_columns


class Command(BaseCommand):
    help = "Re-encrypt personal numbers under the current FIELD_ENCRYPTION_KEY and recompute their digests"

    def handle(self, *args, **options):
        key_id = keyring().current.key_id
        for model in apps.get_models():
            meta = model._meta
            if meta.proxy or not meta.managed:
                continue
            columns = encrypted_columns_of(model)
            if not columns:
                continue
            with transaction.atomic():
                count = rewrite_columns(connection, meta.db_table, columns, mode="rotate", pk=meta.pk.column)
            self.stdout.write(f"{meta.label}: {count} rows under key {key_id}")
