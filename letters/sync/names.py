"""Parsing the names a run reads: each spelling once, many at a time in other
processes when there are thousands."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings

from people.matching.normalize import ParsedName, fold, parse_name, parse_plain_name

logger = logging.getLogger(__name__)


def _parse_with_key(name: str) -> tuple[ParsedName, str]:
    parsed = parse_name(name)
    return parsed, parsed.key


class Names:
    """parse_name is the slow part of a first run: parse each spelling once,
    plain names here and the others many at a time on every core, and fold
    each text once."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[ParsedName, str]] = {}
        self._folded: dict[str, str] = {}

    def parse(self, name: str) -> ParsedName:
        return self._parse(name)[0]

    def key(self, name: str) -> str:
        """parse_name(name).key, the normalised name people are resolved by."""
        return self._parse(name)[1]

    def fold(self, text: str) -> str:
        folded = self._folded.get(text)
        if folded is None:
            folded = self._folded[text] = fold(text)
        return folded

    def parse_many(self, names: Iterable[str]) -> None:
        todo = []
        for name in dict.fromkeys(name for name in names if name not in self._parsed):
            # Plain names are parsed here, faster than sending them to another process.
            plain = parse_plain_name(name)
            if plain is None:
                todo.append(name)
            else:
                self._parsed[name] = (plain, plain.key)
        workers = min(os.cpu_count() or 1, 4)
        # Below some thousands of names, starting processes costs more than it saves.
        if len(todo) >= settings.TRACKER_SYNC_PARALLEL_PARSE_MIN and workers > 1:
            try:
                self._parsed.update(zip(todo, _parse_in_processes(todo, workers), strict=True))
                return
            except (OSError, ValueError, TypeError, subprocess.SubprocessError) as exc:
                logger.warning(
                    "Cannot parse names in other processes (%s); parsing them here.", exc
                )
        for name in todo:
            self._parse(name)

    def _parse(self, name: str) -> tuple[ParsedName, str]:
        found = self._parsed.get(name)
        if found is None:
            found = self._parsed[name] = _parse_with_key(name)
        return found


# Fresh interpreters that only import the name parser: a Celery worker's pool
# processes are daemons, which multiprocessing does not let have children.
_PARSER_PROGRAM = """
import dataclasses, json, sys
from people.matching.normalize import parse_name
for line in sys.stdin:
    p = parse_name(json.loads(line))
    fields = {f.name: getattr(p, f.name) for f in dataclasses.fields(p)}
    sys.stdout.write(json.dumps([fields, p.key]) + "\\n")
"""


def _parse_in_processes(names: list[str], workers: int) -> list[tuple[ParsedName, str]]:
    size = -(-len(names) // workers)
    chunks = [names[start : start + size] for start in range(0, len(names), size)]
    root = str(Path(__file__).resolve().parent.parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *sys.path])}

    def parse_chunk(chunk: list[str]) -> list[list[str]]:
        process = subprocess.run(
            [sys.executable, "-c", _PARSER_PROGRAM],
            input="".join(json.dumps(name) + "\n" for name in chunk).encode(),
            capture_output=True,
            env=env,
            timeout=600,
            check=False,
        )
        if process.returncode:
            raise subprocess.SubprocessError(process.stderr.decode(errors="replace")[-500:])
        return [json.loads(line) for line in process.stdout.splitlines()]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = [row for rows in pool.map(parse_chunk, chunks) for row in rows]
    return [(ParsedName(**fields), key) for fields, key in results]
