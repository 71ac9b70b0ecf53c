"""Everything about making people one and taking them apart again.

- ``merge``: folding people into one (``person_merge``, ``person_merge_many``).
- ``undo``: a merge undone, whole or in part (``merge_undo``).
- ``split``: a person found to be two (``person_split``, ``split_undo``).
- ``decisions``: editors' decisions on suspected pairs (``judgement_decide``).
- ``runs`` and ``tasks``: the duplicate finder's runs on the database and
  their Celery tasks; the matching itself is the pure ``people.matching``.
- ``names``: the name a person is shown by, and their search text.
- ``followers``: the registry through which other apps' rows (signatures,
  sightings) follow merges, undos and splits.
"""
