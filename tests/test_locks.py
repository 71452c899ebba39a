"""The supply chain: every lock pins hashes, every install from a lock checks them, the image has no extra index."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCKS = sorted((ROOT / "requirements").glob("*.lock"))


def _sync_venv() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sync_venv", ROOT / "scripts" / "sync_venv.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_every_pin_of_every_lock_carries_a_sha256_hash(lock: Path) -> None:
    pins = _sync_venv().read_pins(lock)
    assert pins
    for name, pin in pins.items():
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", pin), name


def test_a_lock_line_without_a_hash_stops_the_install(tmp_path: Path) -> None:
    lock = tmp_path / "bad.lock"
    lock.write_text("good==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\nsneaky==2.0\n")
    with pytest.raises(SystemExit, match="sneaky==2.0 has no --hash"):
        _sync_venv().read_pins(lock)


def test_the_runtime_lock_is_the_project_lock_without_the_test_tools() -> None:
    sync = _sync_venv()
    runtime, project = (
        sync.read_pins(ROOT / "requirements/runtime.lock"),
        sync.read_pins(ROOT / "requirements/project.lock"),
    )
    assert set(runtime) < set(project)
    assert all(runtime[name] == project[name] for name in runtime)
    assert {"pytest", "ruff", "playwright"} <= set(project) - set(runtime)


def test_installs_require_hashes_and_only_the_local_torch_build_comes_from_its_own_index() -> None:
    sync = _sync_venv()
    source = (ROOT / "scripts" / "sync_venv.py").read_text()
    assert '"--require-hashes"' in source
    torch = sync.read_pins(ROOT / "requirements/project.lock")["torch"]
    assert sync.local_build(torch) and not sync.local_build("accelerate==1.0 --hash=sha256:00")
    for script in ("install", "vllm_env.sh"):
        assert "sync_venv.py" in (ROOT / "scripts" / script).read_text()


def test_the_image_uses_no_extra_index_and_installs_the_runtime_lock_before_the_source() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "EXTRA_INDEX" not in dockerfile.upper().replace("NO EXTRA PACKAGE INDEX", "")
    assert "extra-index-url" not in dockerfile
    lines = dockerfile.splitlines()
    install = next(i for i, line in enumerate(lines) if "sync_venv.py requirements/runtime.lock" in line)
    first_source = next(i for i, line in enumerate(lines) if line.startswith("COPY core"))
    assert install < first_source
    assert "project.lock" not in dockerfile  # no test tools in the image
