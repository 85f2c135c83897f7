"""The PNG charts of a benchmark run (matplotlib, drawn off screen; the ``charts`` extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

NAMES = ["floor", "concurrency", "peers", "scale"]


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def draw(out: Path, data: dict[str, Any], sizes: list[int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def bars(name: str, title: str, groups: list[str], series: dict[str, list[float]]) -> None:
        fig, ax = plt.subplots(figsize=(8, 3.6))
        width = 0.8 / max(1, len(series))
        for n, (label, values) in enumerate(series.items()):
            ax.bar([i + n * width for i in range(len(groups))], values, width, label=label)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(groups))], groups)
        ax.set_ylabel("sesh / other (above 1: sesh faster)")
        ax.set_title(title)
        ax.legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(out / f"{name}.png", dpi=100)
        plt.close(fig)

    sync = [(verb, r) for api, verb, r in data["floor"] if api == "sync, hiredis"]
    bars(
        "floor",
        "sesh RedisStore against raw redis-py and a bare socket (sync, hiredis)",
        [verb for verb, _ in sync],
        {
            "sesh / raw redis-py": [r["raw"].median for _, r in sync],
            "sesh / bare socket": [r["socket"].median for _, r in sync],
        },
    )
    peers = sorted({peer for peer, _, _ in data["peers"]})
    verbs = list(dict.fromkeys(verb for _, verb, _ in data["peers"]))
    found = {(peer, verb): r.median for peer, verb, r in data["peers"]}
    bars(
        "peers",
        "sesh against peers doing the same work",
        verbs,
        {f"sesh / {peer}": [found[peer, verb] for verb in verbs] for peer in peers},
    )

    fig, ax = plt.subplots(figsize=(8, 3.6))
    levels = [tasks for tasks, _, _ in data["concurrency"]]
    ax.plot(levels, [r.ours for _, r, _ in data["concurrency"]], "o-", label="sesh")
    ax.plot(levels, [r.base for _, r, _ in data["concurrency"]], "s--", label="raw redis.asyncio")
    ax.plot(levels, [b for _, _, b in data["concurrency"]], "^:", label="redis-benchmark")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrent tasks (connections for redis-benchmark)")
    ax.set_ylabel("gets per second")
    ax.set_title("AsyncRedisStore under concurrency, one client")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out / "concurrency.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 3.6))
    for backend, values in data["growth"].items():
        ax.plot(sizes, values[0::2], "o-", label=f"{backend} get")
        ax.plot(sizes, values[1::2], "s--", label=f"{backend} set")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("live sessions")
    ax.set_ylabel("µs per call")
    ax.set_title("Cost per call as sessions grow")
    ax.legend(fontsize="small", ncol=3)
    fig.tight_layout()
    fig.savefig(out / "scale.png", dpi=100)
    plt.close(fig)
