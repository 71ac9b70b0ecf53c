"""PostgreSQL expressions for the API's hot paths: rows that PostgreSQL shapes
itself, so that Python does not convert them value by value."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Func, JSONField, TextField


class LoadedJSON(JSONField):
    """JSON that psycopg has already parsed (the ``json`` type, unlike ``jsonb``)."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class UTCText(Func):
    """A timestamp as ISO 8601 text in UTC ("2025-03-17T09:12:00.000000Z")."""

    template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    output_field = TextField()
