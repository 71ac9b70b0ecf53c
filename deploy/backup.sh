#!/bin/sh
# Back up the tracker's PostgreSQL database: deploy/backup.sh [DIRECTORY]
#
# Writes DIRECTORY/tracker-YYYYMMDDTHHMMSSZ.dump in pg_dump's custom format
# (compressed, restorable table by table with pg_restore), checks that
# pg_restore can read it back, deletes all but the newest BACKUP_KEEP dumps
# (default 14) and prints the new file's path. DIRECTORY defaults to
# BACKUP_DIR, else var/backups. Reads DATABASE_URL, as the service does.
# See deploy/README.md, "Backup and restore".
set -eu

: "${DATABASE_URL:?set DATABASE_URL to the database to back up}"
directory=${1:-${BACKUP_DIR:-var/backups}}
keep=${BACKUP_KEEP:-14}

# pg_dump must be at least as new as the server; Debian keeps each version's
# programs under /usr/lib/postgresql/VERSION/bin.
if ! command -v pg_dump >/dev/null 2>&1; then
    newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    PATH="$PATH:${newest:-/usr/lib/postgresql/15/bin}"
fi

mkdir -p "$directory"
file="$directory/tracker-$(date -u +%Y%m%dT%H%M%SZ).dump"
trap 'rm -f "$file.partial"' EXIT
pg_dump --format=custom --no-owner --no-privileges --file="$file.partial" "$DATABASE_URL"
pg_restore --list "$file.partial" >/dev/null
mv "$file.partial" "$file"

# Keep the newest $keep dumps (their names sort by time).
ls -1 "$directory"/tracker-*.dump | sort | head -n "-$keep" | while read -r old; do
    rm -f -- "$old"
done
echo "$file"
