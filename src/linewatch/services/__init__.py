"""Services: the use cases, each a function over a store and plain values.

Shell: imports the core, ``linewatch.formats``, ``linewatch.store`` and ``linewatch.render``; never
the CLI or the web service, which call these. Services read files and the clock; decisions are
the core's. Data flows one way: ingest → store → verify → report.

- :mod:`~linewatch.services.agreements`: an agreement file, read and recorded once per version;
- :mod:`~linewatch.services.ingest`: report and allegation files into the store;
- :mod:`~linewatch.services.fuse`: raw detections into stored incidents;
- :mod:`~linewatch.services.verify`: verification and allegation runs, stored;
- :mod:`~linewatch.services.report`: the daily report from the stored runs;
- :mod:`~linewatch.services.audit`: the tamper-evident log, keys and report bundles;
- :mod:`~linewatch.services.submissions`, :mod:`~linewatch.services.accounts`: the web service's writes and users;
- :mod:`~linewatch.services.plan`: mission planning;
- :mod:`~linewatch.services.streaming` (with ``stream_run``, ``stream_lease``, ``stream_queue``):
  fusion as a stream; :mod:`~linewatch.services.distributed`: fusion over months, on Dask;
- :mod:`~linewatch.services.demo`: the main job.
"""

from __future__ import annotations

from linewatch.services.agreements import LoadedAgreement, agreement_for, load_agreement_file, site_resolver
from linewatch.services.fuse import FuseSummary, fuse_files, incident_feature, incidents_to_reports
from linewatch.services.ingest import IngestSummary, Progress, ingest_file, store_reports
from linewatch.services.report import HISTORY_DAYS, StoredResults, daily_report, publish_report, stored_results
from linewatch.services.verify import (
    coverage_from_network,
    day_window,
    remember_network,
    stored_allegations,
    verify_allegations,
    verify_store,
)

__all__ = ["HISTORY_DAYS", "FuseSummary", "IngestSummary", "LoadedAgreement", "Progress", "StoredResults",
           "agreement_for", "coverage_from_network", "daily_report", "day_window", "fuse_files",
           "incident_feature", "incidents_to_reports", "ingest_file", "load_agreement_file",
           "publish_report", "remember_network", "site_resolver", "store_reports", "stored_allegations",
           "stored_results", "verify_allegations", "verify_store"]
