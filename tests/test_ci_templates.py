"""The CI templates instructors copy: valid YAML that grades the class in parallel shards
and merges them, every grading and merge command one the CLI accepts, with a GPU variant on
GPU runners.

Each job's shell lines are expanded as the CI system would (matrix or parallel index,
job and workflow variables) before the CLI's own parser reads them, once per shard."""
from __future__ import annotations

import re
import shlex

import pytest
import yaml

from autograder import KIT_ROOT
from autograder.cli import _parser

TEMPLATES = KIT_ROOT / "autograder" / "ci_templates"
FILES = sorted(p.name for p in TEMPLATES.glob("*.yml"))
GITHUB = ["github-grade.yml", "github-grade-gpu.yml"]
SHELL_OPERATORS = {"&&", "||", ";", "|", "&"}


def load(name) -> dict:
    return yaml.safe_load((TEMPLATES / name).read_text())


def shell_lines(job) -> list[str]:
    """Every shell line of a job (GitHub `run`, GitLab `script` and friends)."""
    found = []
    if isinstance(job, dict):
        for key, value in job.items():
            if key == "run" and isinstance(value, str):
                found += value.splitlines()
            elif key in ("script", "before_script", "after_script") and isinstance(value, list):
                found += value
            else:
                found += shell_lines(value)
    elif isinstance(job, list):
        for value in job:
            found += shell_lines(value)
    return found


def expand(text: str, expressions: dict, variables: dict) -> str:
    """`${{ context.name }}` (GitHub) then `$NAME` / `${NAME}` (the shell); unknown names stay."""
    text = re.sub(r"\$\{\{\s*([\w.-]+)\s*\}\}",
                  lambda m: str(expressions.get(m[1], m[0])), text)
    return re.sub(r"\$\{?([A-Za-z_]\w*)\}?", lambda m: str(variables.get(m[1], m[0])), text)


def autograder_argvs(lines: list[str]) -> list[list[str]]:
    """The arguments after `python -m autograder`, up to the end of that shell command."""
    found = []
    for line in lines:
        if "-m autograder" not in line:
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        argv = tokens[tokens.index("autograder") + 1:]
        end = next((i for i, t in enumerate(argv) if t in SHELL_OPERATORS), len(argv))
        found.append(argv[:end])
    return found


# -- what each shard runs -------------------------------------------------------------------

def github_runs(name) -> list[tuple[str, int, int, list[str]]]:
    """(job, K, N, argv) of every autograder command, once per matrix entry."""
    document = load(name)
    runs = []
    for job_name, job in document["jobs"].items():
        shards = job.get("strategy", {}).get("matrix", {}).get("shard", [None])
        for shard in shards:
            expressions = {"matrix.shard": shard, "strategy.job-total": len(shards)}
            variables = {**document.get("env", {}), **job.get("env", {})}
            variables = {k: expand(str(v), expressions, {}) for k, v in variables.items()}
            expressions.update({f"env.{k}": v for k, v in variables.items()})
            lines = [expand(line, expressions, variables) for line in shell_lines(job)]
            runs += [(job_name, shard, len(shards), argv) for argv in autograder_argvs(lines)]
    return runs


def gitlab_job(document, name) -> dict:
    """A job with its `extends` chain merged in (the job's own keys win)."""
    job = dict(document[name])
    parents = job.pop("extends", [])
    merged = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged.update(gitlab_job(document, parent))
    variables = {**merged.get("variables", {}), **job.get("variables", {})}
    merged.update(job)
    merged["variables"] = variables
    return merged


def gitlab_jobs() -> dict[str, dict]:
    document = load("gitlab-ci.yml")
    return {name: gitlab_job(document, name) for name, value in document.items()
            if isinstance(value, dict) and not name.startswith(".") and name != "variables"}


def gitlab_runs() -> list[tuple[str, int, int, list[str]]]:
    document = load("gitlab-ci.yml")
    runs = []
    for name, job in gitlab_jobs().items():
        total = job.get("parallel", 1)
        for index in range(1, total + 1):
            variables = {**document["variables"], **job["variables"],
                         "CI_NODE_INDEX": index, "CI_NODE_TOTAL": total}
            lines = [expand(line, {}, variables) for line in shell_lines(job)]
            runs += [(name, index, total, argv) for argv in autograder_argvs(lines)]
    return runs


def runs_of(name):
    return gitlab_runs() if name == "gitlab-ci.yml" else github_runs(name)


# -- every template ---------------------------------------------------------------------------

def test_there_are_github_gitlab_and_gpu_templates():
    assert {"github-grade.yml", "github-grade-gpu.yml", "gitlab-ci.yml"} <= set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_every_shard_grades_its_own_slice_with_a_command_the_cli_accepts(name):
    gradings = [(job, k, n, _parser().parse_args(argv))
                for job, k, n, argv in runs_of(name) if argv[0] == "grade"]
    assert gradings, f"{name} grades nothing"
    for job, k, n, args in gradings:
        assert args.hidden and args.lab == "lab11_vae", job
        assert n >= 2, f"{job} is not sharded"
        assert args.shard == (k, n), f"{job}, shard {k} of {n}, grades --shard {args.shard}"
    for job in {job for job, *_ in gradings}:
        assert sorted(k for j, k, _, _ in gradings if j == job) == \
               list(range(1, max(n for j, _, n, _ in gradings if j == job) + 1))


@pytest.mark.parametrize("name", FILES)
def test_every_merge_command_is_one_the_cli_accepts(name):
    merges = [(job, _parser().parse_args(argv)) for job, _, _, argv in runs_of(name)
              if argv[0] == "merge"]
    graders = {job for job, _, _, argv in runs_of(name) if argv[0] == "grade"}
    assert merges, f"{name} never merges its shards"
    assert len(merges) >= len(graders), "a grading job has no merge job"
    for job, args in merges:
        assert args.command == "merge" and args.shards and args.out, job


@pytest.mark.parametrize("name", FILES)
def test_gradebook_and_summary_are_uploaded(name):
    text = (TEMPLATES / name).read_text()
    assert "gradebook.csv" in text and "summary.md" in text and "histogram.png" in text


# -- GitHub Actions: a matrix of shards, then a merge job -------------------------------------

@pytest.mark.parametrize("name", GITHUB)
def test_github_grades_a_matrix_of_shards_as_root(name):
    job = load(name)["jobs"]["grade"]
    shards = job["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, len(shards) + 1)) and len(shards) >= 2
    assert job["strategy"]["fail-fast"] is False
    assert {k: v for k, v in job["env"].items() if k.startswith("SHARD")} == {
        "SHARD": "${{ matrix.shard }}", "SHARDS": "${{ strategy.job-total }}"}
    grading = [line for line in shell_lines(job) if "-m autograder grade" in line]
    assert grading and all(line.split()[0] == "sudo" for line in grading)   # jailed


@pytest.mark.parametrize("name", GITHUB)
def test_github_uploads_each_shard_and_the_merge_job_downloads_them_all(name):
    jobs = load(name)["jobs"]
    uploads = [s["with"] for s in jobs["grade"]["steps"]
               if s.get("uses", "").startswith("actions/upload-artifact")]
    assert len(uploads) == 1 and "${{ matrix.shard }}" in uploads[0]["name"]
    assert "shard.json" in uploads[0]["path"]   # what merge checks
    merge = jobs["merge"]
    assert merge["needs"] in ("grade", ["grade"])
    download = next(s["with"] for s in merge["steps"]
                    if s.get("uses", "").startswith("actions/download-artifact"))
    shard_artifact = uploads[0]["name"].replace("${{ matrix.shard }}", "*")
    assert download["pattern"] == shard_artifact
    merged_from = [args.shards for job, _, _, argv in github_runs(name) if job == "merge"
                   for args in [_parser().parse_args(argv)]]
    assert [str(p) for p in merged_from[0]] == [f"../{download['path']}/*"]
    summary = " ".join(shell_lines(merge))
    assert "summary.md" in summary and "GITHUB_STEP_SUMMARY" in summary


def test_github_cache_is_one_per_shard_and_kept_when_grading_fails():
    steps = load("github-grade.yml")["jobs"]["grade"]["steps"]
    caches = {s["uses"].split("@")[0]: s for s in steps if s.get("uses", "").startswith("actions/cache")}
    assert set(caches) == {"actions/cache/restore", "actions/cache/save"}
    for step in caches.values():
        assert "${{ env.SHARD }}-of-${{ env.SHARDS }}" in step["with"]["key"]
    assert "${{ env.SHARD }}-of-${{ env.SHARDS }}" in caches["actions/cache/restore"]["with"]["restore-keys"]
    assert caches["actions/cache/save"]["if"] == "always()"


# -- GitLab CI: parallel grading jobs, then merge jobs in a later stage -----------------------

def caches(job) -> list[dict]:
    """A GitLab job's caches: one, or a list of them."""
    return job["cache"] if isinstance(job["cache"], list) else [job["cache"]]


def test_gitlab_grades_in_parallel_and_merges_in_a_later_stage():
    document = load("gitlab-ci.yml")
    jobs = gitlab_jobs()
    stages = document["stages"]
    graders = {n: j for n, j in jobs.items() if j["stage"] == "grade"}
    mergers = {n: j for n, j in jobs.items() if j["stage"] == "merge"}
    assert set(graders) == {"grade", "grade-gpu"} and len(mergers) == len(graders)
    assert stages.index("merge") > stages.index("grade")
    for name, job in graders.items():
        assert job["parallel"] >= 2
        grades = next(c for c in caches(job) if c["paths"] == ["grades/"])
        key = grades["key"]
        assert "$CI_NODE_INDEX" in key and "$CI_NODE_TOTAL" in key and "$PROFILE" in key
        assert grades["when"] == "always"
        assert job["artifacts"]["when"] == "always"
    needed = sorted(need for job in mergers.values() for need in job["needs"])
    assert needed == sorted(graders)
    for name, job in mergers.items():
        grader = graders[job["needs"][0]]
        assert job["variables"]["PROFILE"] == grader["variables"]["PROFILE"]
        # The merge reads the folders the grading jobs' after_script put in their artifacts.
        copied = " ".join(grader["after_script"])
        assert 'shards/$PROFILE-$CI_NODE_INDEX' in copied and "shards/" in grader["artifacts"]["paths"]
    for name, _, _, argv in gitlab_runs():
        if argv[0] == "merge":
            profile = jobs[name]["variables"]["PROFILE"]
            assert [str(p) for p in _parser().parse_args(argv).shards] == [f"../shards/{profile}-*"]


def test_gpu_variants_run_on_gpu_runners_with_the_gpu_profile():
    github = load("github-grade-gpu.yml")
    assert {"gpu", "self-hosted"} <= set(github["jobs"]["grade"]["runs-on"])
    assert all(_parser().parse_args(argv).profile == "gpu"
               for job, _, _, argv in github_runs("github-grade-gpu.yml") if argv[0] == "grade")
    jobs = gitlab_jobs()
    assert jobs["grade-gpu"]["tags"] == ["gpu"]
    profiles = {job: _parser().parse_args(argv).profile
                for job, _, _, argv in gitlab_runs() if argv[0] == "grade"}
    assert profiles == {"grade": "cpu", "grade-gpu": "gpu"}


def test_gpu_variants_prepare_the_gpu_checks_data_sets_and_cache_them():
    """The data sets are prepared before grading, kept by a cache, and the grading (under
    sudo on GitHub, which resets the environment) reads the same folder."""
    github = load("github-grade-gpu.yml")["jobs"]["grade"]
    folder = github["env"]["TFDS_DATA_DIR"]
    steps = github["steps"]
    cache = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/cache"))
    prepare = next(i for i, s in enumerate(steps) if "dlkit.data prepare all" in s.get("run", ""))
    grade = next(i for i, s in enumerate(steps) if "autograder grade" in s.get("run", ""))
    assert cache < prepare < grade
    assert folder.endswith(steps[cache]["with"]["path"])
    assert 'sudo TFDS_DATA_DIR="$TFDS_DATA_DIR"' in steps[grade]["run"]

    job = gitlab_jobs()["grade-gpu"]
    assert job["variables"]["TFDS_DATA_DIR"].endswith("tensorflow_datasets")
    assert any(c["paths"] == ["tensorflow_datasets/"] for c in caches(job))
    script = job["script"]
    prepare = next(i for i, line in enumerate(script) if "dlkit.data prepare all" in line)
    assert prepare < next(i for i, line in enumerate(script) if "autograder grade" in line)
