"""The report's figures, drawn with matplotlib and returned as self-contained data URIs
(SVG), so the report opens offline and a figure can carry no markup of its own."""
from __future__ import annotations

import base64
import io
from typing import Sequence

from igtext.runview import Draft, GenerationStat


def _figure(width: float = 6.4, height: float = 3.6):
    from matplotlib.figure import Figure      # no pyplot: the process's backend is untouched
    return Figure(figsize=(width, height), layout="constrained")


def _uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def trajectory(generations: Sequence[GenerationStat]) -> str | None:
    """Objective, prior and log-likelihood of the best draft after each generation."""
    gens = [g for g in generations if g.objective is not None]
    if not gens:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    xs = [g.generation for g in gens]
    for name, ys, style in (("objective", [g.objective for g in gens], "o-"),
                            ("prior", [g.prior for g in gens], "s--"),
                            ("log-likelihood", [g.loglik for g in gens], "^:")):
        pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=name)
    ax.set_xlabel("generation")
    ax.set_ylabel("score of the best draft (nats)")
    ax.set_xticks(xs)
    ax.grid(alpha=0.3)
    ax.legend()
    return _uri(fig)


def population(drafts: Sequence[Draft], best: str | None, named: int = 8) -> str | None:
    """Every fully scored draft as prior against log-likelihood, coloured by generation;
    the `named` best by objective (and z*) carry their ids, as the tables name them."""
    pts = [d for d in drafts if d.complete and d.prior is not None and d.loglik is not None]
    if not pts:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    sc = ax.scatter([d.prior for d in pts], [d.loglik for d in pts],
                    c=[d.generation for d in pts], cmap="viridis", s=36, edgecolors="black",
                    linewidths=0.4)
    fig.colorbar(sc, ax=ax, label="generation")
    top = [d for d in pts if d.id == best]
    if top:
        ax.scatter([top[0].prior], [top[0].loglik], marker="*", s=320, c="red",
                   edgecolors="black", label="best", zorder=3)
        ax.legend()
    ranked = sorted(pts, key=lambda d: -(d.objective if d.objective is not None else -1e30))
    for d in {d.id: d for d in ranked[:named] + top}.values():
        ax.annotate(d.id, (d.prior, d.loglik), xytext=(4, 4), textcoords="offset points",
                    fontsize=7, color="#333")
    ax.set_xlabel("prior  log P(z)")
    ax.set_ylabel("log-likelihood of D")
    ax.grid(alpha=0.3)
    return _uri(fig)
