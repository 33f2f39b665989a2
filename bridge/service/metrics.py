"""The Prometheus metrics of one bridge process (served on /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

registry = CollectorRegistry()

polls = Counter(
    "govbridge_polls", "Poll runs by source and outcome", ["source", "outcome"],
    registry=registry,
)
records_in = Counter(
    "govbridge_records_in", "Source records routed into the outbox", ["source"],
    registry=registry,
)
records_out = Counter(
    "govbridge_records_out", "Writes delivered to targets", ["target"],
    registry=registry,
)
deliveries = Counter(
    "govbridge_deliveries", "Deliveries finished, by target and outcome",
    ["target", "operation", "outcome"], registry=registry,
)
retries = Counter(
    "govbridge_retries", "Delivery attempts that will be retried", ["target"],
    registry=registry,
)
fenced = Counter(
    "govbridge_fenced", "Writes refused because a lease or claim was lost",
    ["what"], registry=registry,
)
dead_letters = Gauge(
    "govbridge_dead_letters", "Dead letters waiting for a replay", registry=registry,
)
lag = Gauge(
    "govbridge_lag_seconds",
    "Per route: age of the oldest open delivery, or since the last good poll",
    ["route"], registry=registry,
)
poll_seconds = Histogram(
    "govbridge_poll_seconds", "Duration of a poll run", ["source"], registry=registry,
)
delivery_seconds = Histogram(
    "govbridge_delivery_seconds", "From claim to commit of one delivery",
    ["target"], registry=registry,
)
