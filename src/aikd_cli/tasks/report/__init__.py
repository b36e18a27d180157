"""``aikd report``: an HTML page people look at instead of 100,000 CSV rows.

>>> from aikd_cli.tasks.report import ReportOptions, run
>>> result = run(ReportOptions(scores="scores.csv", threshold=0.3))  # doctest: +SKIP
"""

from aikd_cli.tasks.report.build import (
    DEFAULT_PER_PAGE,
    ReportOptions,
    ReportResult,
    check_report_output,
    default_output,
    run,
)

__all__ = ["DEFAULT_PER_PAGE", "ReportOptions", "ReportResult", "check_report_output", "default_output", "run"]
