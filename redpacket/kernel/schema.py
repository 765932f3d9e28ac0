"""Helpers for migrations that change the schema of large tables."""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def own_index_dropped(
    alter: migrations.AlterField, *, table: str, index: str, column: str
) -> migrations.SeparateDatabaseAndState:
    """`alter` (a foreign key now `db_index=False`) as a bare DROP INDEX. Django's own
    operation drops and re-adds the foreign key constraint around the drop, and re-adding
    it validates every row of the table under lock; the constraint does not change here.
    On a partitioned table the parent's index takes its partitions' with it."""
    return migrations.SeparateDatabaseAndState(
        state_operations=[alter],
        database_operations=[
            migrations.RunSQL(
                f'DROP INDEX IF EXISTS "{index}"',
                f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table}" ("{column}")',
            )
        ],
    )


def pattern_index_dropped(*, table: str, index: str, column: str) -> migrations.RunPython:
    """Drop the `varchar_pattern_ops` index Django adds beside a unique text column on
    PostgreSQL, for LIKE 'prefix%' lookups; where the code never asks one, it is only a
    write more per row."""

    def drop(apps: object, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f'DROP INDEX IF EXISTS "{index}"')

    def restore(apps: object, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table}"'
                f' ("{column}" varchar_pattern_ops)'
            )

    return migrations.RunPython(drop, restore)
