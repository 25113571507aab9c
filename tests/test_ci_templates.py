"""The CI templates instructors copy: valid YAML whose grading commands the CLI accepts,
uploading the gradebook and summary, with a GPU variant on a GPU runner."""
from __future__ import annotations

import shlex

import pytest
import yaml

from autograder import KIT_ROOT
from autograder.cli import _parser

TEMPLATES = KIT_ROOT / "autograder" / "ci_templates"
FILES = sorted(p.name for p in TEMPLATES.glob("*.yml"))


def commands(document) -> list[str]:
    """Every shell line of the template (GitHub `run`, GitLab `script`)."""
    found = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "run" and isinstance(value, str):
                found += value.splitlines() if "\n" in value.strip() else [value]
            elif key in ("script", "before_script") and isinstance(value, list):
                found += value
            else:
                found += commands(value)
    elif isinstance(document, list):
        for value in document:
            found += commands(value)
    return found


def grading_commands(name) -> list[list[str]]:
    """The arguments after `python -m autograder` of each grading command, $LAB filled in."""
    document = yaml.safe_load((TEMPLATES / name).read_text())
    found = []
    for line in commands(document):
        if "-m autograder" in line:
            argv = shlex.split(" ".join(line.split()).replace('"$LAB"', "lab11_vae"))
            found.append(argv[argv.index("autograder") + 1:])
    return found


def test_there_are_github_gitlab_and_gpu_templates():
    assert {"github-grade.yml", "github-grade-gpu.yml", "gitlab-ci.yml"} <= set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_every_grading_command_is_one_the_cli_accepts(name):
    found = grading_commands(name)
    assert found, f"{name} grades nothing"
    for argv in found:
        args = _parser().parse_args(argv)
        assert args.command == "grade" and args.hidden and args.lab == "lab11_vae"


@pytest.mark.parametrize("name", FILES)
def test_gradebook_and_summary_are_uploaded(name):
    text = (TEMPLATES / name).read_text()
    assert "gradebook.csv" in text and "summary.md" in text and "histogram.png" in text


def test_gpu_variants_run_on_gpu_runners_with_the_gpu_profile():
    github = yaml.safe_load((TEMPLATES / "github-grade-gpu.yml").read_text())
    assert "gpu" in github["jobs"]["grade"]["runs-on"] and "self-hosted" in github["jobs"]["grade"]["runs-on"]
    assert all(_parser().parse_args(a).profile == "gpu" for a in grading_commands("github-grade-gpu.yml"))
    gitlab = yaml.safe_load((TEMPLATES / "gitlab-ci.yml").read_text())
    assert gitlab["grade-gpu"]["tags"] == ["gpu"]
    assert "--profile gpu" in " ".join(gitlab["grade-gpu"]["script"])
    assert "--profile cpu" in " ".join(gitlab["grade"]["script"])
