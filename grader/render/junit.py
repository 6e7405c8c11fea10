"""The report as JUnit XML: one test case per hidden test, one per other check."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.checks import TITLES
from grader.render.common import summary
from grader.report import Report


def to_junit(report: Report) -> str:
    suites = ET.Element("testsuites", name="drill")
    hidden = ET.SubElement(suites, "testsuite", name=f"{report.kata}.hidden")
    for test in report.tests:
        case = ET.SubElement(
            hidden,
            "testcase",
            classname=f"{report.kata}.hidden",
            name=test.id.rsplit("::", 1)[-1],
            time=f"{test.duration_s:.3f}",
        )
        if test.outcome == "skipped":
            ET.SubElement(case, "skipped", message=test.reason)
        elif test.outcome != "passed":
            tag = "error" if test.outcome in ("error", "not run") else "failure"
            ET.SubElement(
                case, tag, message=test.reason or test.outcome, type=test.outcome
            ).text = test.reason
    hidden.set("tests", str(len(report.tests)))
    hidden.set("failures", str(sum(t.outcome in ("failed", "timeout") for t in report.tests)))
    hidden.set("skipped", str(sum(t.outcome == "skipped" for t in report.tests)))
    hidden.set("errors", str(sum(t.outcome in ("error", "not run") for t in report.tests)))
    checks = ET.SubElement(suites, "testsuite", name=f"{report.kata}.checks")
    count = failures = skipped = 0
    for name, check in report.checks.items():
        if name == "tests":
            continue
        count += 1
        case = ET.SubElement(
            checks, "testcase", classname=f"{report.kata}.checks", name=TITLES.get(name, name)
        )
        if check.status in ("fail", "error"):
            failures += 1
            ET.SubElement(
                case, "failure", message=check.reason, type=check.status
            ).text = check.reason
        elif check.status in ("skip", "unmeasured"):
            skipped += 1
            ET.SubElement(case, "skipped", message=check.reason)
        else:
            ET.SubElement(case, "system-out").text = summary(check)
    checks.set("tests", str(count))
    checks.set("failures", str(failures))
    checks.set("skipped", str(skipped))
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
