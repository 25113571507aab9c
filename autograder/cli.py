"""`python -m autograder check|grade|merge|submit|assign|references|release|gradescope`:
see README.md."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from autograder import KIT_ROOT, LABS, SOLUTIONS
from autograder.api import all_labs
from autograder.profiles import CHOICES
from autograder.shards import parse_shard

# One folder's checks spread over two workers: both cores of a laptop or a CI runner.
CHECK_WORKERS = min(2, os.cpu_count() or 1)
PROFILE_HELP = ("cpu: GPU checks are skipped; gpu: they run, with larger training budgets; "
                "auto (default): gpu when the worker sees a GPU")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder",
                                     description="Grade dlkit labs and maintain the kit.")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="grade one lab folder")
    check.add_argument("lab", help="lab name, e.g. lab11_vae")
    check.add_argument("--impl", type=Path, help="folder to grade (default: labs/LAB)")
    check.add_argument("--json", type=Path, help="write Gradescope results.json here")
    check.add_argument("--verbose", action="store_true", help="show tracebacks of failures")
    check.add_argument("--hidden", action="store_true",
                       help="also run the hidden checks (instructors: needs solutions/)")
    check.add_argument("--seed", type=int, help="seed of the hidden checks' inputs")
    check.add_argument("-k", dest="only", action="append",
                       help="run only this check (repeatable)")
    check.add_argument("--watch", action="store_true",
                       help="after grading, grade again whenever a .py file of the folder is "
                            "saved and show only what changed (Ctrl-C to stop)")
    check.add_argument("--profile", choices=CHOICES, default="auto", help=PROFILE_HELP)
    check.add_argument("--workers", type=_positive, default=CHECK_WORKERS,
                       help=f"workers grading the folder at once (default {CHECK_WORKERS}; "
                            "1 where memory is short, as on Gradescope)")

    batch = commands.add_parser("grade", help="grade a folder of submissions (one per student)")
    batch.add_argument("submissions", type=Path, help="folder with one sub-folder per student")
    batch.add_argument("--lab", required=True)
    batch.add_argument("--out", required=True, type=Path, help="where results are written")
    batch.add_argument("--hidden", action="store_true", help="also run the hidden checks")
    batch.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    batch.add_argument("--seed", type=int, help="seed of the hidden checks' inputs")
    batch.add_argument("--profile", choices=CHOICES, default="auto", help=PROFILE_HELP)
    batch.add_argument("--shard", type=parse_shard, default=(1, 1), metavar="K/N",
                       help="grade only the K-th of N slices of the class (K from 1); "
                            "`merge` joins the slices' out folders")

    merge = commands.add_parser("merge", help="join the out folders of `grade --shard K/N`")
    merge.add_argument("shards", nargs="+", type=Path, metavar="SHARD_DIR",
                       help="the out folder of every shard")
    merge.add_argument("--out", required=True, type=Path,
                       help="where the class's files and every student's files are written")

    assign = commands.add_parser("assign", help="regenerate labs/ from solutions/")
    assign.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if labs/ is out of date")

    release = commands.add_parser("release", help="write the student release to a new folder")
    release.add_argument("out", type=Path, help="a new (or empty) folder outside the kit")
    release.add_argument("--labs", nargs="+", metavar="LAB",
                         help="release only these labs (default: every lab)")

    submit = commands.add_parser(
        "submit", help="zip a lab's graded modules and their results.json, to hand in")
    submit.add_argument("lab", help="lab name, e.g. lab11_vae")
    submit.add_argument("--impl", type=Path, help="folder to submit (default: labs/LAB)")
    submit.add_argument("--out", type=Path, help="the zip to write (default: submission-LAB.zip)")

    refs = commands.add_parser("references", help="regenerate stored reference outputs")
    refs.add_argument("lab", nargs="*", help="labs to regenerate (default: all)")

    bundle = commands.add_parser("gradescope", help="write a lab's Gradescope autograder zip")
    bundle.add_argument("lab", help="lab name, e.g. lab11_vae")
    bundle.add_argument("--out", required=True, type=Path, help="the zip to write")
    bundle.add_argument("--hidden", action="store_true",
                        help="grade the hidden checks too (ships the solution's outputs on "
                             "them, never its code)")
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _grade_folder(args, folder: Path, console: Console):
    """Grade folder as args.lab with a progress bar; write args.json when given."""
    from autograder.grading import grade
    from autograder.report import write_json
    from autograder.session import DEFAULT_HIDDEN_SEED
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task(f"starting the worker for {args.lab}", total=None)

        def on_progress(done: int, total: int, name: str) -> None:
            progress.update(task, total=total, completed=done,
                            description=f"{args.lab}: {name}" if name else "done")
        report = grade(args.lab, folder, hidden=args.hidden,
                       seed=DEFAULT_HIDDEN_SEED if args.seed is None else args.seed,
                       only=args.only, progress=on_progress, profile=args.profile,
                       workers=args.workers)
    if args.json:   # with --watch, rewritten after every grading
        write_json(report, args.json)
    return report


def _check(args, console: Console) -> int:
    from autograder.report import print_report
    from autograder.session import GradingError
    if args.lab not in all_labs():
        console.print(f"[red]cannot grade: {_no_such_lab(args.lab)}[/]")
        return 2
    folder = args.impl or LABS / args.lab
    if not folder.is_dir():
        console.print(f"[red]cannot grade: {folder} is not a folder[/]")
        return 2
    if args.watch:
        from autograder.watch import watch
        return watch(lambda: _grade_folder(args, folder, console), folder, console,
                     verbose=args.verbose)
    try:
        report = _grade_folder(args, folder, console)
    except GradingError as error:
        console.print(f"[red]cannot grade: {error}[/]")
        return 2
    print_report(report, console, verbose=args.verbose)
    if args.json:
        console.print(f"wrote {args.json}")
    return 0


def _no_such_lab(lab: str) -> str:
    here = ", ".join(all_labs())
    if SOLUTIONS.is_dir():
        return f"there is no lab {lab}; the labs are {here}"
    # A student release holds the labs released so far (`release --labs`).
    return (f"{lab} is not in this release of the kit, which holds {here}. Check the name; "
            "a lab released later comes in a new release from your instructor")


def _submit(args, console: Console) -> int:
    from autograder.api import load_lab
    from autograder.submit import SubmitError, results_path, stale_results, write_submission
    folder = args.impl or LABS / args.lab
    try:
        modules = load_lab(args.lab).modules
    except LookupError as error:
        console.print(f"[red]cannot submit: {error}[/]")
        return 2
    results = results_path(args.lab)
    if why := stale_results(results, folder, modules):
        console.print(f"{why}: grading {folder} first")
        grading = argparse.Namespace(lab=args.lab, impl=folder, json=results, verbose=False,
                                     hidden=False, seed=None, only=None, watch=False,
                                     profile="auto", workers=CHECK_WORKERS)
        if _check(grading, console) != 0:
            return 2
    out = args.out or Path(f"submission-{args.lab}.zip")
    try:
        names = write_submission(folder, modules, results, out)
    except SubmitError as error:
        console.print(f"[red]cannot submit: {error}[/]")
        return 2
    graded = json.loads(results.read_text())
    console.print(f"wrote {out}: {', '.join(names)} (score {graded['score']:g} / "
                  f"{graded['extra_data']['max_score']:g}); hand in this file")
    return 0


NO_ISOLATION = ("No isolation{why}: code under test runs as your user with only time/memory/"
                "output limits; grade where a jail is possible (root, or Linux with user "
                "namespaces: a CI runner or a VM) for isolation.")


def _grade_class(args, console: Console) -> int:
    from autograder.batch import grade_class
    from autograder.jail import available
    from autograder.session import DEFAULT_HIDDEN_SEED, GradingError
    if not args.submissions.is_dir():
        console.print(f"[red]cannot grade: {args.submissions} is not a folder[/]")
        return 2
    if not available():
        why = " (DLKIT_SANDBOX=off)" if os.environ.get("DLKIT_SANDBOX") == "off" else ""
        console.print(NO_ISOLATION.format(why=why), style="yellow", soft_wrap=True)
    index, count = args.shard
    if count > 1:
        console.print(f"shard {index}/{count}: grading the students whose name hashes to it")

    def on_done(student, report):
        console.print(f"{student}: {report.score:g}/{report.max_score:g}  ({report.seconds:.0f} s)")
    try:
        result = grade_class(args.submissions, args.lab, args.out, hidden=args.hidden,
                             jobs=args.jobs, on_done=on_done, profile=args.profile,
                             seed=DEFAULT_HIDDEN_SEED if args.seed is None else args.seed,
                             shard=args.shard)
    except (GradingError, LookupError) as error:
        console.print(f"[red]cannot grade: {error}[/]")
        return 2
    if result.suspects:
        console.print(f"graded alone first (in flight when a grader died): "
                      f"{', '.join(result.suspects)}")
    if result.stopped:
        console.print(f"[red]scored 0, their code stopped the grading process: "
                      f"{', '.join(result.stopped)}[/] (delete students/NAME/ to grade again)")
    rate = len(result.regraded) / result.seconds * 60 if result.regraded else 0.0
    console.print(f"graded {len(result.regraded)}, unchanged {len(result.reused)}, "
                  f"in {result.seconds:.0f} s ({rate:.1f} submissions/minute) -> {args.out}")
    return 0


def _merge(args, console: Console) -> int:
    from autograder.merge import MergeError, merge
    try:
        reports = merge(args.shards, args.out)
    except MergeError as error:
        console.print(f"[red]cannot merge: {error}[/]")
        return 2
    console.print(f"merged {len(args.shards)} shards: {len(reports)} students -> {args.out}")
    return 0


def _assign(args, console: Console) -> int:
    from autograder.assign import assign, differences
    if args.check:
        diffs = differences()
        for line in diffs:
            console.print(line)
        if diffs:
            console.print("[red]labs/ is out of date: run `python -m autograder assign`[/]")
            return 1
        console.print("labs/ is in sync with solutions/")
        return 0
    from autograder.handout import HandoutError
    from autograder.ipynb import NotebookError
    try:
        changed = assign()
    except (HandoutError, NotebookError) as error:
        console.print(f"[red]{error}[/]")
        return 1
    console.print("\n".join(changed) if changed else "labs/ was already in sync")
    return 0


def _release(args, console: Console) -> int:
    from autograder.release import ReleaseError, release
    try:
        entries = release(args.out, args.labs)
    except ReleaseError as error:
        console.print(f"[red]cannot release: {error}[/]")
        return 2
    console.print(f"wrote the student release to {args.out}: {', '.join(entries)}")
    return 0


def _gradescope(args, console: Console) -> int:
    from autograder.gradescope import BundleError, build
    from autograder.session import GradingError
    doing = "running the solution on the hidden checks" if args.hidden else "writing the zip"
    try:
        with console.status(f"{args.lab}: {doing}"):
            entries = build(args.lab, args.out, hidden=args.hidden)
    except (BundleError, GradingError) as error:
        console.print(f"[red]cannot build the bundle: {error}[/]")
        return 2
    console.print(f"wrote {args.out} ({', '.join(entries)}): upload it as the assignment's "
                  "autograder configuration on Gradescope (README.md, Gradescope)")
    return 0


def _needs_solutions(console: Console) -> bool:
    if SOLUTIONS.is_dir():
        return False
    console.print("[red]this command needs solutions/: it is for the instructors' copy of the "
                  "kit, not the student release[/]")
    return True


def _references(args, console: Console) -> int:
    from autograder import references
    from autograder.session import GradingError
    for lab in args.lab or all_labs():
        with console.status(f"running the public probes on solutions/{lab}"):
            try:
                document = references.generate(lab)
            except GradingError as error:
                console.print(f"[red]{lab}: {error}[/]")
                return 1
        console.print(f"{lab}: {len(document['checks'])} reference outputs -> "
                      f"{references.path(lab).relative_to(KIT_ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Logs (CI, files) get a wide table instead of rich's 80-column default.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    if (args.command in ("assign", "references", "release", "gradescope")
            and _needs_solutions(console)):
        return 2
    handler = {"check": _check, "grade": _grade_class, "merge": _merge, "assign": _assign,
               "references": _references, "release": _release, "submit": _submit,
               "gradescope": _gradescope}[args.command]
    return handler(args, console)


if __name__ == "__main__":
    sys.exit(main())
