"""The class's files: gradebook.csv, summary.md and histogram.png."""
from __future__ import annotations

import csv
import io
import textwrap
from collections import Counter
from pathlib import Path

from autograder.files import write_atomic
from autograder.results import Report

MESSAGE_WIDTH = 120


def gradebook_csv(reports: dict[str, Report]) -> str:
    names = list(dict.fromkeys(r.name for report in reports.values() for r in report.results))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "total", "max", *names])
    for student, report in reports.items():
        points = {r.name: ("skipped" if r.status == "skipped" else f"{r.points:g}")
                  for r in report.results}
        writer.writerow([student, f"{report.score:g}", f"{report.max_score:g}",
                         *(points.get(n, "") for n in names)])
    return buffer.getvalue()


def _short(message: str) -> str:
    """The message cut at a word under MESSAGE_WIDTH, so that messages differing only in
    their numbers at the end are counted together."""
    return textwrap.shorten(message, MESSAGE_WIDTH, placeholder=" …")


def most_failed(reports: dict[str, Report], top_messages: int = 3) -> list[tuple[str, int, list]]:
    """[(check, how many failed it, [(message, count), ...])], most failed first."""
    failures: dict[str, Counter] = {}
    for report in reports.values():
        for r in report.results:
            if r.status == "failed":
                failures.setdefault(r.name, Counter())[_short(r.message)] += 1
    ranked = sorted(failures.items(), key=lambda item: -sum(item[1].values()))
    return [(name, sum(c.values()), c.most_common(top_messages)) for name, c in ranked]


def _histogram_png(scores: list[float], maximum: float, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(6, 3.5))
    bins = min(20, max(1, int(maximum))) if maximum else 10
    axes.hist(scores, bins=bins, range=(0, maximum or 1), color="#4c72b0", edgecolor="white")
    axes.set_xlabel("score")
    axes.set_ylabel("students")
    axes.set_title(f"{len(scores)} submissions")
    figure.tight_layout()
    temporary = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(temporary, dpi=100)
    plt.close(figure)
    temporary.replace(path)


def summary_markdown(lab: str, reports: dict[str, Report]) -> str:
    scores = [r.score for r in reports.values()]
    maximum = max((r.max_score for r in reports.values()), default=0)
    lines = [f"# {lab}: {len(reports)} submissions", ""]
    if scores:
        mean = sum(scores) / len(scores)
        ordered = sorted(scores)
        median = ordered[len(ordered) // 2]
        full = sum(s == maximum for s in scores)
        lines += [f"Mean {mean:.2f} / {maximum:g}, median {median:g}, full marks {full}.", "",
                  "![score histogram](histogram.png)", "", "| score | students |", "| --- | --- |"]
        buckets = Counter(round(s) for s in scores)
        lines += [f"| {b:g} | {'#' * buckets[b]} {buckets[b]} |" for b in sorted(buckets)]
        lines.append("")
    lines += ["## Checks the class failed most", "", "| check | failed | most common messages |",
              "| --- | --- | --- |"]
    for name, count, messages in most_failed(reports):
        text = "<br>".join(f"{n}× {m.replace('|', '/')}" for m, n in messages)
        lines.append(f"| {name} | {count} | {text} |")
    return "\n".join(lines) + "\n"


def write_class_files(out: Path, lab: str, reports: dict[str, Report]) -> None:
    write_atomic(out / "gradebook.csv", gradebook_csv(reports))
    write_atomic(out / "summary.md", summary_markdown(lab, reports))
    maximum = max((r.max_score for r in reports.values()), default=0)
    _histogram_png([r.score for r in reports.values()], maximum, out / "histogram.png")
