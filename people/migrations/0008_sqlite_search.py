"""SQLite only: FTS5 trigram indexes of the folded names, so that search there
tolerates typos as PostgreSQL's trigram indexes do (people/selectors.py).

Each index mirrors ``search_text`` of its table, kept by triggers on insert,
update and delete; PostgreSQL has its GIN indexes instead (0002).
"""

# The table names are ours, in TABLES: nothing from outside reaches the SQL.
# ruff: noqa: S608

from django.db import migrations

TABLES = [
    ("people_person", "people_person_search"),
    ("people_organization", "people_organization_search"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for table, index in TABLES:
        schema_editor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {index} USING fts5("
            f"search_text, content='{table}', content_rowid='id', tokenize='trigram')"
        )
        schema_editor.execute(
            f"CREATE TRIGGER IF NOT EXISTS {index}_insert AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {index}(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
        schema_editor.execute(
            f"CREATE TRIGGER IF NOT EXISTS {index}_delete AFTER DELETE ON {table} BEGIN "
            f"INSERT INTO {index}({index}, rowid, search_text) "
            f"VALUES ('delete', old.id, old.search_text); END"
        )
        schema_editor.execute(
            f"CREATE TRIGGER IF NOT EXISTS {index}_update AFTER UPDATE OF search_text "
            f"ON {table} BEGIN "
            f"INSERT INTO {index}({index}, rowid, search_text) "
            f"VALUES ('delete', old.id, old.search_text); "
            f"INSERT INTO {index}(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
        schema_editor.execute(f"INSERT INTO {index}({index}) VALUES ('rebuild')")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for _table, index in TABLES:
        for trigger in ("insert", "delete", "update"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {index}_{trigger}")
        schema_editor.execute(f"DROP TABLE IF EXISTS {index}")


class Migration(migrations.Migration):
    dependencies = [("people", "0007_person_sort_key")]

    operations = [migrations.RunPython(create, drop)]
