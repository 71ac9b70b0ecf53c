"""Write constraints.txt: the exact versions this venv has of everything that
`pip install '.[dev]'` needs, as resolved within pyproject.toml's ranges.

Usage (from the repository root, in a venv where the suite passes):
    python deploy/constraints.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = """\
# Exact versions of every package the service and its tests install, within the
# ranges of pyproject.toml: the image (deploy/Dockerfile) and `make install` install
# with `-c constraints.txt`, so each build gets these and nothing newer.
# To move to newer versions, change the ranges or upgrade the venv, check that the
# suite passes, then run `make constraints` and commit the result.
"""

# Needed only on Pythons other than this venv's and so missing from its resolution:
# redis needs async-timeout below Python 3.11.3 (Debian bookworm's is 3.11.2).
OTHER_PYTHONS = {"async-timeout": "5.0.1"}


def main() -> int:
    pip = [sys.executable, "-m", "pip"]
    installed = subprocess.run(
        [*pip, "freeze", "--exclude-editable"], capture_output=True, text=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory() as folder:
        freeze = Path(folder) / "freeze.txt"
        report = Path(folder) / "report.json"
        freeze.write_text(installed)
        # Resolve the project's requirements again, held to what is installed: the
        # result is the closure of what the project needs, without what else the venv has.
        subprocess.run(
            [
                *pip,
                "install",
                "--quiet",
                "--dry-run",
                "--ignore-installed",
                "--report",
                str(report),
                "--constraint",
                str(freeze),
                ".[dev]",
            ],
            cwd=ROOT,
            check=True,
        )
        resolved = json.loads(report.read_text())["install"]
    pins = {
        item["metadata"]["name"]: item["metadata"]["version"]
        for item in resolved
        if not item.get("is_direct")
    }
    pins = {**OTHER_PYTHONS, **pins}
    ordered = sorted(pins.items(), key=lambda pin: pin[0].lower())
    lines = [f"{name}=={version}\n" for name, version in ordered]
    (ROOT / "constraints.txt").write_text(HEADER + "".join(lines))
    print(f"constraints.txt: {len(lines)} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
