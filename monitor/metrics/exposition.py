"""Writing a scrape: the monitor's families in the Prometheus text format or OpenMetrics.

A scrape of 1,000 identities is some 25,000 samples, and between two scrapes few of them
change (an identity is probed every 15 minutes). :class:`Exposition` therefore keeps each
sample's line and rewrites only the lines whose value changed; the output is byte for byte what
``prometheus_client``'s own encoders write for the same families (a test holds them equal), and
which format a scraper gets is decided by the library's own negotiation
(:func:`prometheus_client.exposition.choose_encoder`). Any other format the library negotiates
(OpenMetrics 2.0, other name escapings) is written by the library itself.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

from prometheus_client import exposition
from prometheus_client.core import Metric
from prometheus_client.openmetrics import exposition as openmetrics_exposition
from prometheus_client.utils import floatToGoString as _go_float

Format = Literal["text", "openmetrics"]
Sample = tuple[str, tuple[str, ...], float]  # (sample name, label values, value)
Kind = Literal["gauge", "counter", "histogram"]


@dataclass
class Family:
    """One metric family: its samples as (sample name, label values, value), with the label
    names of the family (a histogram's bucket samples add ``le``)."""

    name: str
    kind: Kind
    documentation: str
    labels: tuple[str, ...] = ()
    samples: list[Sample] = field(default_factory=list)

    def add(self, values: tuple[str, ...], value: float) -> None:
        """Add the family's sample (``NAME``, or ``NAME_total`` for a counter)."""
        name = _name(self.name, "_total") if self.kind == "counter" else self.name
        self.samples.append((name, values, value))

    def add_histogram(
        self, values: tuple[str, ...], buckets: Sequence[tuple[str, float]], total: float
    ) -> None:
        """Add a histogram's cumulative *buckets* (``le``, count; ``+Inf`` last), its count
        and sum, in the order the library writes them."""
        bucket = _name(self.name, "_bucket")
        for bound, count in buckets:
            self.samples.append((bucket, (*values, bound), count))
        self.samples.append((_name(self.name, "_count"), values, buckets[-1][1]))
        self.samples.append((_name(self.name, "_sum"), values, total))

    def metric(self) -> Metric:
        """Return the family as a ``prometheus_client`` metric (for the library's encoders)."""
        metric = Metric(self.name, self.documentation, self.kind)
        bucket = (*self.labels, "le")
        for name, values, value in self.samples:
            names = bucket if name.endswith("_bucket") and self.kind == "histogram" else self.labels
            metric.add_sample(name, dict(zip(names, values, strict=True)), value)
        return metric


def _name(family: str, suffix: str) -> str:
    """A sample name, one string object per name: the samples of 1,000 pairs are kept between
    scrapes, and a copy of the name in each would take a megabyte."""
    return sys.intern(family + suffix)


def family_of(metric: Metric) -> Family:
    """Return a library metric (the process collector's) as a :class:`Family`."""
    kind: Kind = metric.type if metric.type in ("counter", "histogram") else "gauge"  # type: ignore[assignment]
    family = Family(metric.name, kind, metric.documentation)
    names: tuple[str, ...] | None = None
    for sample in metric.samples:
        if names is None:
            names = tuple(name for name in sample.labels if name != "le")
            family.labels = names
        family.samples.append(
            (sample.name, tuple(sample.labels[name] for name in sample.labels), sample.value)
        )
    return family


def negotiated(accept: str) -> tuple[Format | None, Callable[..., bytes], str]:
    """Return (the format this module writes, or None for one it leaves to the library; the
    library's encoder; the content type) for an ``Accept`` header."""
    encoder, content_type = exposition.choose_encoder(accept)
    if encoder is exposition.generate_latest:
        return "text", encoder, content_type
    if (
        isinstance(encoder, partial)
        and encoder.func is openmetrics_exposition.generate_latest
        and encoder.keywords == {"escaping": openmetrics_exposition.UNDERSCORES, "version": "1.0.0"}
    ):
        return "openmetrics", encoder, content_type
    return None, encoder, content_type


def go_float(value: float) -> str:
    """The library's number format (Go's: ``1.5e+09``, ``+Inf``)."""
    return str(_go_float(value))  # type: ignore[no-untyped-call]


def _label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


# Samples are compared with the last scrape's in runs of this many: a run equal to the one at
# the same place last time reuses its text (one C-level comparison instead of a line each).
CHUNK = 16


class Exposition:
    """Writes families as text, reusing the text of samples unchanged since the last scrape."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # format -> family name -> [(samples of one run, their text in UTF-8)]
        self._chunks: dict[str, dict[str, list[tuple[tuple[Sample, ...], bytes]]]] = {}
        self._headers: dict[tuple[str, str, str, str], bytes] = {}

    def render(self, families: Iterable[Family], fmt: Format) -> bytes:
        with self._lock:
            before = self._chunks.get(fmt, {})
            now: dict[str, list[tuple[tuple[Sample, ...], bytes]]] = {}
            out: list[bytes] = []
            for family in families:
                key = (fmt, family.name, family.kind, family.documentation)
                header = self._headers.get(key)
                if header is None:
                    header = self._headers[key] = _header(family, fmt).encode("utf-8")
                out.append(header)
                old = before.get(family.name, [])
                new: list[tuple[tuple[Sample, ...], bytes]] = []
                samples = family.samples
                for index, begin in enumerate(range(0, len(samples), CHUNK)):
                    run = tuple(samples[begin : begin + CHUNK])  # a tuple: the GC can skip it
                    if index < len(old) and old[index][0] == run:
                        text = old[index][1]
                    else:
                        text = "".join(_line(family, *sample) for sample in run).encode("utf-8")
                    new.append((run, text))
                    out.append(text)
                now[family.name] = new
            if fmt == "openmetrics":
                out.append(b"# EOF\n")
            self._chunks[fmt] = now
        return b"".join(out)


def _header(family: Family, fmt: Format) -> str:
    doc = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
    if fmt == "openmetrics":
        doc = doc.replace('"', r"\"")
        return f"# HELP {family.name} {doc}\n# TYPE {family.name} {family.kind}\n"
    name = family.name + "_total" if family.kind == "counter" else family.name
    return f"# HELP {name} {doc}\n# TYPE {name} {family.kind}\n"


def _line(family: Family, name: str, values: tuple[str, ...], value: float) -> str:
    if not values:
        return f"{name} {go_float(value)}\n"
    names = family.labels if len(values) == len(family.labels) else (*family.labels, "le")
    pairs = sorted(zip(names, values, strict=True))
    labels = ",".join(f'{key}="{_label_value(text)}"' for key, text in pairs)
    return f"{name}{{{labels}}} {go_float(value)}\n"
