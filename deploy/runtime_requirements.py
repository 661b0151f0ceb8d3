"""Prints the part of requirements.lock that the apps need at run time (used by the Dockerfile).

The lock holds the runtime dependencies of pyproject.toml and the `dev` extra (pytest, ruff, mypy,
...) in one file with hashes. A package is kept when it is a direct runtime dependency or when
one of the packages it is needed by (uv's `# via` comments) is kept; the blocks are printed
unchanged, hashes included, so `pip install --require-hashes` still checks every file.

usage: python runtime_requirements.py pyproject.toml requirements.lock > runtime.lock
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
_VIA_ONE = re.compile(r"^\s*# via (.+)$")
_VIA_MANY = re.compile(r"^\s*#   (.+)$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def direct_runtime(pyproject: str) -> set[str]:
    deps = tomllib.loads(pyproject)["project"]["dependencies"]
    return {normalize(m.group(1)) for d in deps if (m := _NAME.match(d.strip()))}


def parse_lock(lock: str) -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    """Each package's lines (as in the file) and the packages it is needed by."""
    blocks: dict[str, list[str]] = {}
    needed_by: dict[str, set[str]] = {}
    current: str | None = None
    in_via = False
    for line in lock.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            m = _NAME.match(line)
            if m is None:
                raise ValueError(f"unexpected line in the lock: {line!r}")
            current = normalize(m.group(1))
            blocks[current] = [line]
            needed_by[current] = set()
            in_via = False
            continue
        if current is None:
            continue  # the header
        blocks[current].append(line)
        if m := _VIA_ONE.match(line):
            needed_by[current].add(m.group(1).strip())
            in_via = False
        elif line.strip() == "# via":
            in_via = True
        elif in_via and (m := _VIA_MANY.match(line)):
            needed_by[current].add(m.group(1).strip())
    return blocks, {k: {normalize(p.split(" ")[0]) for p in v} for k, v in needed_by.items()}


def runtime_packages(pyproject: str, lock: str) -> list[str]:
    blocks, needed_by = parse_lock(lock)
    keep = direct_runtime(pyproject) & blocks.keys()
    missing = direct_runtime(pyproject) - blocks.keys()
    if missing:
        raise ValueError(f"runtime dependencies missing from the lock: {sorted(missing)}")
    changed = True
    while changed:
        changed = False
        for name, parents in needed_by.items():
            if name not in keep and parents & keep:
                keep.add(name)
                changed = True
    return [name for name in blocks if name in keep]


def runtime_lock(pyproject: str, lock: str) -> str:
    blocks, _ = parse_lock(lock)
    lines = ["# runtime part of requirements.lock (deploy/runtime_requirements.py)"]
    for name in runtime_packages(pyproject, lock):
        lines.extend(blocks[name])
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.stdout.write(
        runtime_lock(Path(sys.argv[1]).read_text("utf-8"), Path(sys.argv[2]).read_text("utf-8"))
    )
