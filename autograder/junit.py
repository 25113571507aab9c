"""JUnit XML of one grading, for CI systems that show test reports."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from autograder.results import Report


def junit_xml(report: Report, student: str) -> str:
    failed = sum(r.status == "failed" for r in report.results)
    skipped = sum(r.status == "skipped" for r in report.results)
    suite = ET.Element("testsuite", name=f"{report.lab}.{student}", tests=str(len(report.results)),
                       failures=str(failed), skipped=str(skipped), time=f"{report.seconds:.2f}")
    properties = ET.SubElement(suite, "properties")
    for key in ("device", "tensorflow", "keras"):
        ET.SubElement(properties, "property", name=key, value=str(report.environment.get(key, "")))
    ET.SubElement(properties, "property", name="score",
                  value=f"{report.score:g}/{report.max_score:g}")
    for r in report.results:
        case = ET.SubElement(suite, "testcase", classname=f"{report.lab}.{student}", name=r.name,
                             time=f"{r.seconds:.2f}")
        if r.status == "failed":
            failure = ET.SubElement(case, "failure", message=r.message,
                                    type="hidden" if r.hidden else "public")
            failure.text = f"{r.message}\nhint: {r.hint}" if r.hint else r.message
        elif r.status == "skipped":
            ET.SubElement(case, "skipped", message=r.message)
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
