"""The supervision report's charts, drawn by matplotlib (Agg) as inline SVG."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt


def charts(rows: list[Any]) -> list[str]:
    """Three SVG charts: on-time rate, days used vs promised, case counts."""
    labels = [f"{row.bureau}/{row.matter_code}" for row in rows]
    return [
        _bars(
            labels,
            {"on-time rate %": [row.on_time_rate or 0 for row in rows]},
            "On-time rate of promised cases",
            "%",
        ),
        _bars(
            labels,
            {
                "used": [row.avg_used or 0 for row in rows],
                "promised": [row.avg_promised or 0 for row in rows],
            },
            "Average working days used against promised",
            "working days",
        ),
        _bars(
            labels,
            {
                "accepted": [row.accepted for row in rows],
                "completed": [row.completed for row in rows],
                "red": [row.red for row in rows],
                "yellow": [row.yellow for row in rows],
            },
            "Cases",
            "cases",
        ),
    ]


def _bars(
    labels: list[str], series: dict[str, list[float]], title: str, unit: str
) -> str:
    figure, axes = plt.subplots(figsize=(max(4.0, 1.2 * len(labels) + 2), 3.2))
    width = 0.8 / max(len(series), 1)
    colours = {"red": "#d62728", "yellow": "#e6b800"}
    for index, (name, values) in enumerate(series.items()):
        places = [n + index * width for n in range(len(labels))]
        axes.bar(places, values, width, label=name, color=colours.get(name))
    axes.set_xticks([n + width * (len(series) - 1) / 2 for n in range(len(labels))])
    axes.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    axes.set_title(title)
    axes.set_ylabel(unit)
    axes.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]
