"""The JUnit XML report CIs read: a testsuite per API, a testcase per check, failures with their exchange."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from conformance.report import Report, Result, Status, Suite
from conformance.rules import rule_for


def _case(suite: Suite, result: Result) -> ET.Element:
    case = ET.Element(
        "testcase",
        name=result.name,
        classname=f"{suite.name}.{result.family}",
        time=f"{result.seconds:.3f}",
    )
    if result.status is Status.SKIP:
        ET.SubElement(case, "skipped", message=result.detail)
    elif result.status is Status.FAIL:
        failure = ET.SubElement(case, "failure", message=result.detail, type=result.family)
        rule = rule_for(result.name)
        parts = [result.detail]
        if rule is not None:
            parts.append(f"Rule: {rule.ref}: {rule.text} ({rule.url})")
        if result.request:
            parts.append(f"Request:\n{result.request}")
        if result.response:
            parts.append(f"Response:\n{result.response}")
        failure.text = "\n\n".join(parts)
    return case


def document(report: Report) -> ET.Element:
    """The ``<testsuites>`` element of a run."""
    counts = report.counts()
    root = ET.Element(
        "testsuites",
        name="tmfgate conformance",
        tests=str(len(report.results)),
        failures=str(counts["failed"]),
        skipped=str(counts["skipped"]),
        time=f"{report.seconds:.3f}",
    )
    for suite in report.suites:
        suite_counts = suite.counts()
        element = ET.SubElement(
            root,
            "testsuite",
            name=suite.name,
            tests=str(len(suite.results)),
            failures=str(suite_counts["failed"]),
            errors="0",
            skipped=str(suite_counts["skipped"]),
            time=f"{suite.seconds:.3f}",
            timestamp=report.started,
        )
        properties = ET.SubElement(element, "properties")
        for key, value in (("root", suite.root), ("spec", suite.spec), ("title", suite.title)):
            ET.SubElement(properties, "property", name=key, value=value)
        element.extend(_case(suite, result) for result in suite.results)
        if suite.notes:
            ET.SubElement(element, "system-out").text = "\n".join(suite.notes)
    return root


def write(report: Report, path: Path) -> None:
    """Write the JUnit XML of ``report`` to ``path``."""
    tree = ET.ElementTree(document(report))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
