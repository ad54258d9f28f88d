"""The endpoint's own writer puts out exactly what prometheus_client's encoders put out for the
same families, in both negotiated formats, also after values changed between scrapes; and the
format follows the library's negotiation."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.registry import Collector

from monitor.metrics.exposition import Exposition, Family, family_of, negotiated
from monitor.metrics.live import Histogram

# What Prometheus 2.42 sends when it scrapes.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


class Static(Collector):
    def __init__(self, families: list[Family]) -> None:
        self.families = families

    def collect(self):  # type: ignore[no-untyped-def]
        return [family.metric() for family in self.families]


def families(value: float) -> list[Family]:
    """Families of every kind the collector writes, with awkward label values."""
    gauge = Family("monitor_g", "gauge", 'a "quoted" doc\\with\nlines', ("identity", "env"))
    gauge.add(("sales", "prod"), value)
    gauge.add(('we"ird\\na\nme', "test"), 1.5e9 + value)
    gauge.add(("zero", "x"), float("inf"))
    counter = Family("monitor_c", "counter", "a counter", ("channel",))
    counter.add(("ops",), 3)
    empty = Family("monitor_e", "gauge", "no series", ("tenant",))
    histogram = Family("monitor_h_seconds", "histogram", "durations", ("identity",))
    observed = Histogram().observed(0.3).observed(value)
    histogram.add_histogram(("sales",), _cumulative(observed), observed.total)
    single = Family("monitor_s", "gauge", "one value")
    single.add((), value)
    return [gauge, counter, empty, histogram, single]


def _cumulative(histogram: Histogram) -> list[tuple[str, float]]:
    from monitor.metrics.live import DURATION_BUCKETS

    found: list[tuple[str, float]] = []
    running = 0
    for bound, count in zip((*DURATION_BUCKETS, float("inf")), histogram.buckets, strict=True):
        running += count
        found.append(("+Inf" if bound == float("inf") else repr(bound), running))
    return found


@pytest.mark.parametrize(
    ("fmt", "library"), [("text", generate_latest), ("openmetrics", openmetrics_latest)]
)
def test_the_writer_matches_the_library(fmt: str, library: object) -> None:
    """Byte for byte the library's output, for a first scrape and for a second one in which
    some values changed (lines reused and rewritten)."""
    writer = Exposition()
    outputs = []
    for value in (2.0, 7.25):
        registry = CollectorRegistry(auto_describe=False)
        registry.register(Static(families(value)))
        expected = library(registry)  # type: ignore[operator]
        actual = writer.render(families(value), fmt)  # type: ignore[arg-type]
        outputs.append((expected, actual))

    for expected, actual in outputs:
        assert expected.decode() == actual.decode()


def test_process_metrics_are_written_as_the_library_writes_them() -> None:
    """The process collector's families, converted, come out as the library writes them."""
    process = ProcessCollector(registry=None)
    metrics = list(process.collect())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Static([family_of(metric) for metric in metrics]))

    assert generate_latest(registry) == Exposition().render(
        [family_of(metric) for metric in metrics], "text"
    )


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", "text"),
        ("text/plain;version=0.0.4", "text"),
        (
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
            "openmetrics",
        ),
        ("application/openmetrics-text", "openmetrics"),
        ("application/openmetrics-text;version=1.0.0;escaping=dots", None),
    ],
)
def test_negotiation_is_the_library_s(accept: str, expected: str | None) -> None:
    """Prometheus' Accept header gets OpenMetrics, no header the text format; a variant this
    writer does not know is left to the library's encoder."""
    fmt, _encoder, content_type = negotiated(accept)

    assert expected == fmt
    assert content_type.startswith("application/openmetrics-text" if fmt == "openmetrics" else "")
