"""README.md says what the project does: its test command is the one CI runs, its main-job
command is a valid ``nasgym search`` of the documented job, and its result tables are exactly
what ``nasgym bench --readme README.md`` generates from the committed ``runs.csv`` files."""

from __future__ import annotations

import re
import shlex

import pytest
from conftest import REPO_ROOT

import nasgym
from nasgym.bench.readme import BLOCK, update_readme
from nasgym.cli import build_parser

README = REPO_ROOT / "README.md"


def _command_after(text: str, lead: str) -> str:
    """The one line of the first ```bash block after the paragraph starting with ``lead``."""
    match = re.search(re.escape(lead) + r".*?```bash\n(?P<command>[^\n]+)\n```", text, re.S)
    assert match is not None, f"README has no bash block after {lead!r}"
    return match["command"]


def test_the_readme_test_command_is_what_ci_runs():
    command = _command_after(README.read_text(), "Run the tests")
    ci_lines = [line for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert ci_lines[-1] == command
    assert command.endswith("python -m pytest -q")


def test_the_main_job_command_is_the_documented_search():
    text = README.read_text()
    command = _command_after(text, "Run the main job (random search, 500 queries, on the embedded default data)")
    install, search = command.split(" && ")
    assert install == "pip install -e ."
    argv = shlex.split(search)
    assert argv[0] == "nasgym"
    args = build_parser().parse_args(argv[1:])  # a valid command line of this nasgym
    assert (args.command, args.agent, args.budget) == ("search", "random", 500)
    assert args.env in nasgym.ENV_IDS and args.env_arg == []  # the embedded default data: no data argument


@pytest.mark.parametrize("env_id", nasgym.ENV_IDS)
def test_every_registered_id_has_a_row_in_the_environment_table(env_id):
    rows = re.findall(r"^\| `([^`]+)` \|", README.read_text().split("## Environments", 1)[1], re.M)
    assert env_id in rows, f"README's environment table has no row for {env_id}"


def test_the_readme_tables_are_what_nasgym_bench_readme_generates(tmp_path):
    text = README.read_text()
    folders = [match["folder"] for match in BLOCK.finditer(text)]
    assert "benchmarks/results/nb201" in folders
    copy = tmp_path / "README.md"
    copy.write_text(text)
    for folder in folders:  # the blocks read the folders beside the README
        (tmp_path / folder).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / folder).symlink_to(REPO_ROOT / folder)
    update_readme(copy)
    assert copy.read_text() == text, "README's tables differ from `nasgym bench --readme README.md`; run it"


def test_every_committed_grid_has_its_readme_block():
    folders = {match["folder"] for match in BLOCK.finditer(README.read_text())}
    grids = {
        str(runs.parent.relative_to(REPO_ROOT)) for runs in (REPO_ROOT / "benchmarks" / "results").glob("*/runs.csv")
    }
    assert grids <= folders, f"grids without a README block: {sorted(grids - folders)}"


def test_a_stale_table_is_refused(tmp_path):
    folder = "benchmarks/results/nb201"
    (tmp_path / folder).parent.mkdir(parents=True)
    (tmp_path / folder).symlink_to(REPO_ROOT / folder)
    readme = tmp_path / "README.md"
    readme.write_text(f"<!-- nasgym bench --readme {folder} -->\n| stale |\n<!-- end of nasgym bench --readme -->\n")
    with pytest.raises(ValueError, match="are not what"):
        update_readme(readme, write=False)
    assert update_readme(readme) == [folder] and "| stale |" not in readme.read_text()
    update_readme(readme, write=False)  # current now
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="has no '<!-- nasgym bench --readme FOLDER -->' block"):
        update_readme(readme)
