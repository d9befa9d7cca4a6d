"""Charts of the eval report, as PNG data URIs, so the HTML report is one self-contained file.

matplotlib with the Agg backend (no display needed); each function returns
``"data:image/png;base64,..."``, or None when there is nothing to draw.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # before pyplot: headless, no GUI toolkit needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from eval.rgb import RgbReport  # noqa: E402
from eval.suite import NamedRun  # noqa: E402

COLORS = ("#3b6ea8", "#e08a2c", "#5a9e4b", "#b8463f", "#8064a2", "#7f7f7f")


def _data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def by_type(runs: Sequence[NamedRun]) -> str | None:
    """Accuracy, EM and F1 by answer type, one panel per run."""
    runs = [r for r in runs if r.report.summary.n_by_type]
    if not runs:
        return None
    fig, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 3.4), squeeze=False,
                             sharey=True)
    for ax, run in zip(axes[0], runs, strict=True):
        s = run.report.summary
        types = list(s.n_by_type)
        series = (("accuracy (ours)", s.accuracy_by_type), ("EM (upstream)", s.em_by_type),
                  ("F1 (upstream)", s.f1_by_type))
        width = 0.8 / len(series)
        for i, (label, values) in enumerate(series):
            xs = [j + (i - 1) * width for j in range(len(types))]
            ax.bar(xs, [values.get(t, 0.0) for t in types], width, label=label, color=COLORS[i])
        ax.set_xticks(range(len(types)), [f"{t}\n(n={s.n_by_type[t]})" for t in types])
        ax.set_ylim(0, 1)
        ax.set_title(run.title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="upper right")
    return _data_uri(fig)


def latency(runs: Sequence[NamedRun]) -> str | None:
    """Histogram of per-question latency (ms), one colour per run, p50/p95 marked."""
    runs = [r for r in runs if r.report.rows]
    if not runs:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.2))
    top = max(r.latency_ms for run in runs for r in run.report.rows)
    bins = [top * i / 30 for i in range(31)] if top > 0 else 10
    for i, run in enumerate(runs):
        s = run.report.summary
        ax.hist([r.latency_ms for r in run.report.rows], bins=bins, alpha=0.55,
                color=COLORS[i % len(COLORS)],
                label=f"{run.title} (p50 {s.latency_p50_ms:.0f}, p95 {s.latency_p95_ms:.0f} ms)")
        for p, style in ((s.latency_p50_ms, "-"), (s.latency_p95_ms, "--")):
            ax.axvline(p, color=COLORS[i % len(COLORS)], linestyle=style, linewidth=1)
    ax.set_xlabel("latency of one answer (ms)")
    ax.set_ylabel("questions")
    ax.legend(fontsize=8)
    return _data_uri(fig)


def calibration(runs: Sequence[NamedRun]) -> str | None:
    """Reliability: per confidence bin, how often the answers were right (dots sized by answers);
    on the diagonal, stated confidence and accuracy agree."""
    runs = [r for r in runs if r.report.summary.calibration_bins]
    if not runs:
        return None
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    ax.plot([0, 1], [0, 1], color="#999999", linewidth=1, linestyle="--", label="calibrated")
    for i, run in enumerate(runs):
        s = run.report.summary
        bins = s.calibration_bins
        xs, ys = [b.mean_confidence for b in bins], [b.accuracy for b in bins]
        ax.plot(xs, ys, marker="o", color=COLORS[i % len(COLORS)],
                label=f"{run.title} (ECE {s.calibration_ece:.2f})")
        ax.scatter(xs, ys, s=[12 + 4 * b.n for b in bins], color=COLORS[i % len(COLORS)], alpha=0.4)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence stated with the answer")
    ax.set_ylabel("share of those answers that were right")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return _data_uri(fig)


def hits_by_rank(runs: Sequence[NamedRun]) -> str | None:
    """Where the gold article ranks: questions per rank 1..10 (bars) and Hits@k (lines)."""
    runs = [r for r in runs if r.report.summary.article_rank_counts]
    if not runs:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    width = 0.8 / len(runs)
    for i, run in enumerate(runs):
        s = run.report.summary
        counts = s.article_rank_counts
        ranks = range(1, len(counts) + 1)
        left.bar([k + (i - (len(runs) - 1) / 2) * width for k in ranks], counts, width,
                 color=COLORS[i % len(COLORS)], label=run.title)
        cumulative = [sum(counts[:k]) / s.n_gold_in_index for k in ranks]
        right.plot(list(ranks), cumulative, marker="o", color=COLORS[i % len(COLORS)],
                   label=run.title)
    left.set_xlabel("rank of the first gold article")
    left.set_ylabel("questions")
    left.set_xticks(range(1, 11))
    right.set_xlabel("k")
    right.set_ylabel("Hits@k (article level)")
    right.set_ylim(0, 1)
    right.set_xticks(range(1, 11))
    right.grid(alpha=0.3)
    right.legend(fontsize=8, loc="lower right")
    return _data_uri(fig)


def comparison(runs: Sequence[NamedRun]) -> str | None:
    """The headline figures of each run side by side (with vs without the date window)."""
    if len(runs) < 2:
        return None
    metrics = (("Hits@1", "article_hit_at_1"), ("Hits@10", "article_hit_at_10"),
               ("MRR@10", "article_mrr_at_10"), ("accuracy", "answer_accuracy"), ("EM", "em"),
               ("F1", "f1"), ("contains\ngold", "contains_gold_rate"),
               ("abstained", "abstention_rate"))
    fig, ax = plt.subplots(figsize=(9, 3.2))
    width = 0.8 / len(runs)
    for i, run in enumerate(runs):
        s = run.report.summary
        xs = [j + (i - (len(runs) - 1) / 2) * width for j in range(len(metrics))]
        ax.bar(xs, [getattr(s, key) or 0.0 for _, key in metrics], width,
               color=COLORS[i % len(COLORS)], label=run.title)
    ax.set_xticks(range(len(metrics)), [label for label, _ in metrics])
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _data_uri(fig)


def rgb(report: RgbReport | None) -> str | None:
    """Per condition: whose answer was given (true, fake, other, none) and how often the
    answer was flagged as contradicted."""
    if report is None or not report.summaries:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.7 + 0.7 * len(report.summaries)))
    parts = (("true answer", "n_true", COLORS[2]), ("fake answer", "n_false", COLORS[3]),
             ("other answer", "n_other", COLORS[5]), ("abstained", "n_abstained", "#cccccc"))
    names = [f"{s.condition} (flagged {s.n_conflict}/{s.n})" for s in report.summaries]
    left = [0.0] * len(report.summaries)
    for label, key, color in parts:
        values = [getattr(s, key) / s.n if s.n else 0.0 for s in report.summaries]
        ax.barh(names, values, left=left, color=color, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("share of questions")
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.35))
    return _data_uri(fig)
