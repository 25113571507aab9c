"""Show a grading report: a rich table in the terminal, Gradescope JSON in a file."""
from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autograder.files import write_atomic
from autograder.results import Report

STATUS_STYLE = {"passed": "[green]pass[/]", "failed": "[red]FAIL[/]", "skipped": "[yellow]skip[/]"}


def _points(value: float) -> str:
    return f"{value:g}"


def print_report(report: Report, console: Console, *, verbose: bool = False) -> None:
    env = report.environment
    table = Table(title=f"{report.lab}  ·  {report.folder}", title_justify="left",
                  show_lines=False, expand=False)
    table.add_column("check", no_wrap=True)
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("what is wrong, and where", overflow="fold")
    for r in report.results:
        name = f"{r.name} [dim](hidden)[/]" if r.hidden else r.name
        message = escape(r.message)
        if r.status == "failed" and r.hint:
            message += f"\n[dim]hint: {escape(r.hint)}[/]"
        table.add_row(name, f"{_points(r.points)}/{_points(r.max_points)}",
                      STATUS_STYLE[r.status], message)
    console.print(table)
    skipped = [r.name for r in report.results if r.status == "skipped"]
    console.print(f"[bold]score {_points(report.score)} / {_points(report.max_score)}[/]"
                  + (f"  ({len(skipped)} skipped, not counted: {', '.join(skipped)})" if skipped else "")
                  + f"  ·  {env.get('device', 'unknown device')}"
                  + (f" (profile {env['profile']})" if env.get("profile") else "")
                  + f"  ·  TensorFlow {env.get('tensorflow', '?')}, Keras {env.get('keras', '?')}"
                  + f"  ·  {report.seconds:.1f} s")
    if verbose:
        for r in report.results:
            if r.trace:
                console.rule(f"trace of {r.name}")
                console.print(escape(r.trace.rstrip()), highlight=False)


def gradescope(report: Report, output: str = "") -> dict:
    """Gradescope's results.json: skipped checks count 0 of 0 and say why; `output`, when
    given, is shown above the checks."""
    tests = []
    for r in report.results:
        entry = {"name": r.name, "score": r.points,
                 "max_score": 0 if r.status == "skipped" else r.max_points,
                 "output": r.message if r.status != "failed" or not r.hint
                 else f"{r.message}\nhint: {r.hint}",
                 "visibility": "after_published" if r.hidden else "visible"}
        if r.status == "skipped":
            entry["output"] = f"SKIPPED: {r.message}"
        else:
            entry["status"] = r.status
        tests.append(entry)
    results = {"score": report.score, "execution_time": round(report.seconds, 2),
               "tests": tests,
               "extra_data": {"lab": report.lab, "folder": report.folder,
                              "max_score": report.max_score, "environment": report.environment,
                              "seeds": report.seeds, "files": report.files,
                              "skipped": [r.name for r in report.results
                                          if r.status == "skipped"]}}
    if output:
        results["output"] = output
    return results


def write_json(report: Report, path: Path, output: str = "") -> None:
    write_atomic(path, json.dumps(gradescope(report, output), indent=1) + "\n")
