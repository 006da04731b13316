"""The HTML report: one self-contained page (no scripts, styles inline, no link but the rules')."""

from __future__ import annotations

from html import escape
from pathlib import Path

from conformance.report import Report, Result, Status, Suite
from conformance.rules import rule_for

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1180px;color:#1d2330;
padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 6px;border-bottom:2px solid #d8dde6;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}.meta{color:#5b6472;margin:0 0 14px}
table{border-collapse:collapse;margin:6px 0 12px}th,td{padding:4px 12px;text-align:left;border-bottom:1px solid #e4e7ec}
th{background:#f3f5f8;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.PASS{color:#17803d}.FAIL{color:#c0262d;font-weight:600}.SKIP{color:#8a6d00}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.badge.ok{background:#17803d}.badge.ko{background:#c0262d}
.failure{border:1px solid #f0c4c6;border-left:5px solid #c0262d;border-radius:4px;padding:8px 12px;margin:10px 0;
background:#fffafa}.failure .name{font-weight:600;font-family:ui-monospace,Menlo,Consolas,monospace}
.rule{margin:4px 0;color:#39414f}pre{background:#f6f7f9;border:1px solid #e1e4e8;border-radius:4px;padding:8px;
overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:12px;margin:4px 0}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:10px}details{margin:6px 0}summary{cursor:pointer;color:#39414f}
td.detail{color:#5b6472;font-size:12.5px}
"""


def _counts_cells(counts: dict[str, int]) -> str:
    return (
        f'<td class="n PASS">{counts["passed"]}</td><td class="n FAIL">{counts["failed"]}</td>'
        f'<td class="n SKIP">{counts["skipped"]}</td>'
    )


def _badge(ok: bool) -> str:
    return '<span class="badge ok">passed</span>' if ok else '<span class="badge ko">failed</span>'


def _summary(report: Report) -> str:
    rows = "".join(
        f'<tr><td><a href="#api-{escape(s.name)}">{escape(s.name)}</a></td><td>{_badge(s.ok)}</td>'
        f"{_counts_cells(s.counts())}<td class='n'>{s.seconds:.1f}s</td></tr>"
        for s in report.suites
    )
    return (
        "<table><tr><th>API</th><th>verdict</th><th>passed</th><th>failed</th><th>skipped</th><th>time</th></tr>"
        f"{rows}</table>"
    )


def _families(suite: Suite) -> str:
    rows = ""
    for family, results in suite.families().items():
        counts = {label: sum(1 for r in results if r.status is status) for label, status in _STATUSES}
        rows += f"<tr><td>{escape(family)}</td>{_counts_cells(counts)}</tr>"
    return f"<table><tr><th>family</th><th>passed</th><th>failed</th><th>skipped</th></tr>{rows}</table>"


_STATUSES = (("passed", Status.PASS), ("failed", Status.FAIL), ("skipped", Status.SKIP))


def _failure(result: Result) -> str:
    rule = rule_for(result.name)
    rule_html = (
        f'<div class="rule">Breaks <a href="{escape(rule.url)}">{escape(rule.ref)}</a>: {escape(rule.text)}</div>'
        if rule is not None
        else ""
    )
    exchange = ""
    if result.request or result.response:
        exchange = (
            f'<div class="cols"><div><b>Request</b><pre>{escape(result.request)}</pre></div>'
            f"<div><b>Response</b><pre>{escape(result.response)}</pre></div></div>"
        )
    return (
        f'<div class="failure"><div class="name">{escape(result.name)}</div>'
        f"<div>{escape(result.detail)}</div>{rule_html}{exchange}</div>"
    )


def _all_results(suite: Suite) -> str:
    rows = "".join(
        f'<tr><td class="{r.status.value}">{r.status.value}</td><td>{escape(r.name)}</td>'
        f'<td class="detail">{escape(r.detail)}</td></tr>'
        for r in suite.results
    )
    return f"<details><summary>every check ({len(suite.results)})</summary><table>{rows}</table></details>"


def _suite(suite: Suite) -> str:
    failures = [r for r in suite.results if r.status is Status.FAIL]
    notes = "".join(f'<p class="meta">{escape(n)}</p>' for n in suite.notes)
    body = "".join(_failure(r) for r in failures) if failures else "<p>No check failed.</p>"
    return (
        f'<h2 id="api-{escape(suite.name)}">{escape(suite.name)} {_badge(suite.ok)}</h2>'
        f'<p class="meta">{escape(suite.title)} at {escape(suite.root)}; spec {escape(suite.spec)}; '
        f"{escape(suite.summary())} in {suite.seconds:.1f}s</p>{notes}"
        f"{_families(suite)}<h3>Failures</h3>{body}{_all_results(suite)}"
    )


def render(report: Report) -> str:
    """The whole page as text."""
    title = f"TMF conformance: {report.summary()}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>TMF conformance report {_badge(report.ok)}</h1>"
        f'<p class="meta">tmfgate conformance, started {escape(report.started)}, {escape(report.summary())} '
        f"in {report.seconds:.1f}s</p>{_summary(report)}"
        + "".join(_suite(s) for s in report.suites)
        + "</body></html>\n"
    )


def write(report: Report, path: Path) -> None:
    """Write the HTML page of ``report`` to ``path``."""
    path.write_text(render(report), encoding="utf-8")
