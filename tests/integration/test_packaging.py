"""The wheel ships ``flask_clerk_mcp`` alone: no ``example_app``, ``tests`` or ``benchmarks``
as top-level packages in users' environments.

The wheel is built for real, from a copy of the checkout (so no stale ``build/`` directory can
add or hide a file), offline with the build backend the test extra installs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "instance", "*_cache"
)


def test_the_wheel_holds_only_the_library(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=SKIP)
    assert (source / "example_app").is_dir() and (source / "tests").is_dir()  # there to leave out
    wheel_dir = tmp_path / "wheel"
    build = ["pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(wheel_dir)]
    built = subprocess.run(
        [sys.executable, "-m", *build, str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheel_dir.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/", 1)[0] for name in names}
    dist_info = {name for name in top_level if name.endswith(".dist-info")}
    assert top_level - dist_info == {"flask_clerk_mcp"}
    # The package's own data files are in it: a wheel without its templates would not run.
    assert "flask_clerk_mcp/py.typed" in names
    assert any(name.startswith("flask_clerk_mcp/emulator/templates/") for name in names)
