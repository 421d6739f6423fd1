"""Project-level promises: CI runs the README's test command; the wheel installs only nasgym."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_ci_runs_exactly_the_readme_test_command():
    test_command = next(c for c in readme_commands() if "pytest" in c)
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_readme_main_job_names_a_registered_env_and_agent():
    import nasgym
    from nasgym.agents import AGENTS

    main_job = readme_commands()[0]
    assert re.search(r"--env (\S+)", main_job).group(1) in nasgym.ENV_IDS
    assert re.search(r"--agent (\S+)", main_job).group(1) in AGENTS


def test_wheel_installs_no_generic_top_level_package(tmp_path):
    pytest.importorskip("setuptools")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run(
        [*pip_wheel, "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("nasgym-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"nasgym", next(t for t in top_level if t.endswith(".dist-info"))}
    assert "nasgym/agents/base.py" in names and "nasgym/envs_registry.py" in names
