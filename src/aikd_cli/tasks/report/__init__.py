"""``aikd report``: an HTML page people look at instead of 100,000 CSV rows.

>>> from aikd_cli.tasks.report import build_report
>>> summary = build_report("scores.csv", "report.html", threshold=0.3)  # doctest: +SKIP
"""

from aikd_cli.tasks.report.build import (
    DEFAULT_PER_PAGE,
    ReportSummary,
    build_report,
    check_report_output,
    default_output,
)

__all__ = ["DEFAULT_PER_PAGE", "ReportSummary", "build_report", "check_report_output", "default_output"]
