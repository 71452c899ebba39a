"""Make the running virtual environment hold exactly the pins of the given lock files (run with its python)."""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# pip's own copy of `packaging`: this script runs before anything else is installed in the environment.
from pip._vendor.packaging.requirements import InvalidRequirement, Requirement

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def canonical(name: str) -> str:
    """The PEP 503 form of a project name (what pip compares)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(lock: Path) -> dict[str, str]:
    """name -> 'name==version' for every pin in a lock file (comments and options skipped)."""
    pins = {}
    for line in lock.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            pins[canonical(match.group(1))] = f"{match.group(1)}=={match.group(2)}"
    return pins


def installed() -> dict[str, importlib.metadata.Distribution]:
    """The distributions installed in this environment, by canonical name."""
    return {canonical(dist.metadata["Name"]): dist for dist in importlib.metadata.distributions()}


def required_names(dist: importlib.metadata.Distribution) -> set[str]:
    """Names that an installed distribution needs here (its extras and other platforms' needs left out)."""
    names = set()
    for text in dist.requires or []:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            names.add(canonical(requirement.name))
    return names


def orphans(wanted: set[str]) -> list[str]:
    """Installed packages that no lock asks for and nothing installed needs (repeated until none is left)."""
    dists = installed()
    removed: list[str] = []
    while True:
        needed = set().union(*(required_names(dist) for name, dist in dists.items() if name not in removed))
        extra = [name for name in dists if name not in wanted | needed | {"pip"} and name not in removed]
        if not extra:
            return removed
        removed.extend(extra)


def pip(*args: str) -> None:
    """Run this environment's pip quietly; a failure stops the sync with pip's message."""
    subprocess.run([sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("locks", nargs="+", type=Path, help="lock files (pip-compile output); installed with --no-deps")
    parser.add_argument("--keep", action="append", default=[], help="a package to keep though no lock pins it")
    parser.add_argument(
        "--replace",
        action="append",
        default=[],
        help="a requirement installed instead of the lock's pin of that name, with its dependencies "
        "(e.g. torch==2.13.0 for the CUDA build on a GPU machine)",
    )
    args = parser.parse_args()

    pins: dict[str, str] = {}
    for lock in args.locks:
        pins.update(read_pins(lock))
    replacements = {canonical(Requirement(text).name): text for text in args.replace}
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as merged:
        merged.write("\n".join(pin for name, pin in pins.items() if name not in replacements) + "\n")
        merged.flush()
        pip("install", "--no-deps", "-r", merged.name)
    if replacements:
        pip("install", *replacements.values())

    stale = orphans(set(pins) | {canonical(name) for name in args.keep})
    if stale:
        print(f"removing packages no lock pins: {' '.join(sorted(stale))}", file=sys.stderr)
        pip("uninstall", "-y", *stale)


if __name__ == "__main__":
    main()
