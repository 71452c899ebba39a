"""Make the running virtual environment hold exactly the pins of the given lock files (run with its python)."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# pip's own copy of `packaging`: this script runs before anything else is installed in the environment.
from pip._vendor.packaging.requirements import InvalidRequirement, Requirement

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
HASH = re.compile(r"--hash=(\S+)")


def canonical(name: str) -> str:
    """The PEP 503 form of a project name (what pip compares)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def logical_lines(text: str) -> list[str]:
    """A requirements file's lines with their backslash continuations joined (pip's reading)."""
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            lines.append(current.strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def read_pins(lock: Path) -> dict[str, str]:
    """name -> 'name==version --hash=sha256:...' for every pin in a lock file (comments and options skipped).

    A pin without a hash is refused: every install from a lock verifies what it downloads (pip --require-hashes).
    """
    pins = {}
    for line in logical_lines(lock.read_text()):
        match = PIN.match(line)
        if not match:
            continue
        hashes = HASH.findall(line)
        if not hashes:
            sys.exit(
                f"{lock}: {match.group(1)}=={match.group(2)} has no --hash; regenerate the lock: bash scripts/lock"
            )
        pins[canonical(match.group(1))] = " ".join(
            [f"{match.group(1)}=={match.group(2)}", *(f"--hash={h}" for h in hashes)]
        )
    return pins


def local_build(pin: str) -> bool:
    """Whether a pin names a local build (a version label such as torch==2.13.0+cpu): it lives on its maker's index."""
    return "+" in pin.split()[0].partition("==")[2]


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
    if subprocess.run([sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", *args]).returncode:
        sys.exit(f"pip {args[0]} failed (its message is above); no package was removed")


def install_verified(pins: list[str], *index: str) -> None:
    """Install exactly these pins (no dependencies) from a requirements file, every file checked against its hash."""
    if not pins:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as merged:
        merged.write("\n".join(pins) + "\n")
        merged.flush()
        pip("install", "--no-deps", "--require-hashes", *index, "-r", merged.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("locks", nargs="+", type=Path, help="lock files (pip-compile output); installed with --no-deps")
    parser.add_argument("--keep", action="append", default=[], help="a package to keep though no lock pins it")
    parser.add_argument(
        "--replace",
        action="append",
        default=[],
        help="a requirement installed instead of the lock's pin of that name, with its dependencies and without the "
        "lock's hash check (e.g. torch==2.13.0 for the CUDA build on a GPU machine)",
    )
    parser.add_argument(
        "--local-build-index",
        default=os.environ.get("CRITIC_TORCH_INDEX") or None,
        help="the index that serves the pins with a local version label (torch==2.13.0+cpu), used for those alone "
        "(never as an extra index for the others, which come from pip's own index); default $CRITIC_TORCH_INDEX, "
        "unset: pip's configuration finds them",
    )
    args = parser.parse_args()

    pins: dict[str, str] = {}
    for lock in args.locks:
        pins.update(read_pins(lock))
    replacements = {canonical(Requirement(text).name): text for text in args.replace}
    wanted = [pin for name, pin in pins.items() if name not in replacements]
    if args.local_build_index:
        local = [pin for pin in wanted if local_build(pin)]
        install_verified(local, "--index-url", args.local_build_index)
        wanted = [pin for pin in wanted if pin not in local]
    install_verified(wanted)
    if replacements:
        print(f"installing without a hash check (not in a lock): {' '.join(replacements.values())}", file=sys.stderr)
        pip("install", *replacements.values())

    stale = orphans(set(pins) | {canonical(name) for name in args.keep})
    if stale:
        print(f"removing packages no lock pins: {' '.join(sorted(stale))}", file=sys.stderr)
        pip("uninstall", "-y", *stale)


if __name__ == "__main__":
    main()
