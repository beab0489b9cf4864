"""``protu.metrics``: CloudWatch Embedded Metric Format lines, buffered per invocation and written once at its end.

``emf(out)`` is the parser the other metric tests use: it checks each line against the EMF specification and
answers the metrics found, with their dimension values, so a test asks ``("Requests", {"Service": "api"}) in``.
"""

from __future__ import annotations

import json
import re

import pytest
from protu import metrics

UNITS = {"Count", "Milliseconds", "Seconds", "Bytes", "Percent", "None"}


def emf_documents(out: str) -> list[dict]:
    """Every EMF line in captured stdout, validated against the specification (and our contract's rules)."""
    docs = []
    for line in out.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        doc = json.loads(line)
        meta = doc["_aws"]
        assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 1_600_000_000_000, meta
        directives = meta["CloudWatchMetrics"]
        assert directives, doc
        names = set()
        for directive in directives:
            assert directive["Namespace"] == "Protu"
            for dimension_set in directive["Dimensions"]:
                assert dimension_set[0] == "Service" and len(dimension_set) <= 30, directive
                for dimension in dimension_set:
                    value = doc[dimension]
                    assert isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_.:/-]{1,100}", value), (dimension, doc)
            assert 1 <= len(directive["Metrics"]) <= 100
            for metric in directive["Metrics"]:
                assert metric["Unit"] in UNITS, metric
                value = doc[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                assert 1 <= len(values) <= 100 and all(isinstance(v, int | float) for v in values), metric
                names.add(metric["Name"])
        assert len(names) <= 100
        assert "@" not in line, line  # no email address anywhere in a metrics line
        docs.append(doc)
    return docs


def emf(out: str) -> list[tuple[str, dict[str, str], float | list, str]]:
    """(name, dimensions, value, unit) of every metric in the EMF lines of ``out``, once per dimension set."""
    found = []
    for doc in emf_documents(out):
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dims = {d: doc[d] for d in dimension_set}
                for metric in directive["Metrics"]:
                    found.append((metric["Name"], dims, doc[metric["Name"]], metric["Unit"]))
    return found


def values(out: str, name: str, **dims: str) -> list:
    """The values of metric ``name`` recorded with exactly these dimensions (``Service`` included)."""
    return [value for metric, found, value, _ in emf(out) if metric == name and found == dims]


# ----------------------------------------------------------------------------------------------------------------
def test_one_invocation_makes_one_line_with_every_metric_summed(capsys):
    with metrics.invocation("api", request_id="req-1"):
        metrics.count("Requests")
        metrics.count("Requests")
        metrics.timing("Latency", 12.5)
        metrics.count("ErrorsByCode", Code="validation_failed")
        metrics.count("JobRuns", Job="backup")
        metrics.set_property("route", "/api/users/{id}")
        assert capsys.readouterr().out == ""  # buffered until the invocation ends
    out = capsys.readouterr().out
    (doc,) = emf_documents(out)
    assert doc["Service"] == "api" and doc["request_id"] == "req-1" and doc["route"] == "/api/users/{id}"
    assert doc["Code"] == "validation_failed" and doc["Job"] == "backup"
    dimension_sets = sorted(tuple(s) for d in doc["_aws"]["CloudWatchMetrics"] for s in d["Dimensions"])
    assert dimension_sets == [("Service",), ("Service", "Code"), ("Service", "Job")]
    assert values(out, "Requests", Service="api") == [2]
    assert values(out, "Latency", Service="api") == [12.5]
    assert values(out, "ErrorsByCode", Service="api", Code="validation_failed") == [1]
    assert values(out, "JobRuns", Service="api", Job="backup") == [1]
    assert {unit for name, _, _, unit in emf(out) if name == "Latency"} == {"Milliseconds"}


def test_different_values_of_one_dimension_go_to_separate_lines(capsys):
    with metrics.invocation("webhooks"):
        metrics.count("WebhookEvents", Provider="stripe", Outcome="accepted")
        metrics.count("WebhookEvents", Provider="stripe", Outcome="duplicate")
        metrics.count("Requests")
    out = capsys.readouterr().out
    assert len(emf_documents(out)) == 2
    assert values(out, "WebhookEvents", Service="webhooks", Provider="stripe", Outcome="accepted") == [1]
    assert values(out, "WebhookEvents", Service="webhooks", Provider="stripe", Outcome="duplicate") == [1]
    assert values(out, "Requests", Service="webhooks") == [1]


def test_more_than_a_hundred_metrics_are_split_and_many_timings_kept_as_arrays(capsys):
    with metrics.invocation("jobs"):
        for n in range(150):
            metrics.count(f"M{n}")
        for n in range(5):
            metrics.timing("Latency", n)
    out = capsys.readouterr().out
    docs = emf_documents(out)
    assert len(docs) == 2
    assert values(out, "Latency", Service="jobs") == [[0, 1, 2, 3, 4]]
    assert sum(len(d["Metrics"]) for doc in docs for d in doc["_aws"]["CloudWatchMetrics"]) == 151


def test_personal_looking_dimension_values_are_not_written(capsys):
    with metrics.invocation("api"):
        metrics.count("ErrorsByCode", Code="ana@example.com")
        metrics.count("ErrorsByCode", Code="x" * 500)
    out = capsys.readouterr().out
    assert "example.com" not in out and "xxxx" not in out
    assert values(out, "ErrorsByCode", Service="api", Code="other") == [2]


def test_nothing_is_written_outside_an_invocation_or_for_an_empty_one(capsys):
    metrics.count("KmsCalls")
    with metrics.invocation("api"):
        pass
    assert capsys.readouterr().out == ""


def test_an_invocation_that_raises_still_writes_its_metrics(capsys):
    with pytest.raises(RuntimeError), metrics.invocation("incidents"):
        metrics.count("KmsCalls")
        raise RuntimeError("boom")
    assert values(capsys.readouterr().out, "KmsCalls", Service="incidents") == [1]


def test_nested_invocations_keep_their_own_buffers(capsys):
    with metrics.invocation("api"):
        metrics.count("Requests")
        with metrics.invocation("incidents"):
            metrics.count("KmsCalls")
        inner = capsys.readouterr().out
        assert values(inner, "KmsCalls", Service="incidents") == [1] and values(inner, "Requests", Service="api") == []
    assert values(capsys.readouterr().out, "Requests", Service="api") == [1]


def test_protu_service_overrides_the_entry_points_name(monkeypatch, capsys):
    monkeypatch.setenv("PROTU_SERVICE", "webhooks")
    with metrics.invocation("api"):
        metrics.count("Requests")
    assert values(capsys.readouterr().out, "Requests", Service="webhooks") == [1]
    monkeypatch.delenv("PROTU_SERVICE")
    monkeypatch.setenv("_HANDLER", "jobs.backup")
    assert metrics.service_name() == "jobs" and metrics.service_name("api") == "api"
    monkeypatch.setenv("_HANDLER", "other.app")
    assert metrics.service_name() == "unknown"


def test_a_job_counts_its_run_and_its_failure(capsys):
    @metrics.job("backup", failed=lambda result: not result["complete"])
    def backup(event, context=None):
        return {"complete": event["complete"]}

    @metrics.job("retention")
    def broken(event, context=None):
        raise ValueError("no")

    backup({"complete": True})
    backup({"complete": False})
    with pytest.raises(ValueError):
        broken({})
    out = capsys.readouterr().out
    assert values(out, "JobRuns", Service="jobs", Job="backup") == [1, 1]
    assert values(out, "JobFailures", Service="jobs", Job="backup") == [0, 1]
    assert values(out, "JobRuns", Service="jobs", Job="retention") == [1]
    assert values(out, "JobFailures", Service="jobs", Job="retention") == [1]


def test_sentry_release_and_trace_sampling_come_from_the_environment(monkeypatch):
    from protu import observability

    monkeypatch.delenv("PROTU_RELEASE", raising=False)
    monkeypatch.delenv("SENTRY_TRACES_SAMPLE_RATE", raising=False)
    assert observability.release() == "dev" and observability.traces_sample_rate() == 0.05
    monkeypatch.setenv("PROTU_RELEASE", "protu@1.2.3")
    assert observability.release() == "protu@1.2.3"
    for given, rate in (("0.2", 0.2), ("7", 1.0), ("-1", 0.0), ("nan", 0.05), ("lots", 0.05)):
        monkeypatch.setenv("SENTRY_TRACES_SAMPLE_RATE", given)
        assert observability.traces_sample_rate() == rate, given
