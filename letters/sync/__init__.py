"""Source syncs: fetch a source's signatory list, read it, and record what it
lists, keeping every entry's history. See runs.py for how runs are claimed and
recorded, ingest.py for what a run writes (in the phases of rows.py, names.py,
compare.py and write.py)."""

from letters.sync.errors import ParseError, SourceBusy, SyncError, TransientSyncError
from letters.sync.fetch import source_url_validate
from letters.sync.parse import options_validate
from letters.sync.runs import (
    import_file,
    run_content,
    source_sync,
    sources_sync_due,
    sync_request,
)

__all__ = [
    "ParseError",
    "SourceBusy",
    "SyncError",
    "TransientSyncError",
    "import_file",
    "options_validate",
    "run_content",
    "source_sync",
    "source_url_validate",
    "sources_sync_due",
    "sync_request",
]
