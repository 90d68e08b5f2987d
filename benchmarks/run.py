"""mistral_gcp side by side with the official ``mistralai[gcp]`` client and plain httpx2 (the floor).

    python benchmarks/run.py            # ~10 minutes on 2 cores: 3 interleaved rounds + soak tests
    python benchmarks/run.py --quick    # ~3 minutes: 1 round, fewer calls

It sets up what it needs: ``benchmarks/.venv-official`` with ``mistralai[gcp]`` from PyPI, and
matplotlib here (the ``bench`` extra) for the chart. It starts the emulator in its own process,
then for each round runs every workload for every client, each in a fresh process
(``workloads.py``), in the order official, mistral_gcp, httpx — so the three clients alternate
and share any drift of the machine. It prints medians and the ratios to the floor and to the
official client, and writes ``results/latest.json``, ``results/latest.md`` and
``results/latest.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from emulator_speed import start_server

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
OFFICIAL_VENV = HERE / ".venv-official"
OFFICIAL_PYTHON = OFFICIAL_VENV / "bin" / "python"
CLIENTS = ("official", "mistral_gcp", "httpx")
LABELS = {"official": "mistralai[gcp]", "mistral_gcp": "mistral-gcp", "httpx": "plain httpx2"}


class Metric:
    """One row of the table: which workload, how many calls, which way is better, and the target."""

    def __init__(self, key: str, title: str, unit: str, higher_better: bool, n: int = 0, n_quick: int = 0,
                 target: str = "", check: Optional[Any] = None, field: str = "value") -> None:
        self.key, self.title, self.unit, self.higher_better = key, title, unit, higher_better
        self.n, self.n_quick, self.target, self.check, self.field = n, n_quick, target, check, field


# check(ours, floor, official) -> bool; ``None`` where the row is information only.
ROUNDS = [
    Metric("import", "cold import", "ms", False, target="≤ 0.5× official", check=lambda o, f, a: o <= 0.5 * a),
    Metric("construct", "construction", "ms", False, n=200, n_quick=50, target="≤ 1 ms", check=lambda o, f, a: o <= 1.0),
    Metric("complete_sync", "sync chat.complete ×{n}", "ms CPU/call", False, n=2000, n_quick=500,
           target="≤ 1.3× floor", check=lambda o, f, a: o <= 1.3 * f),
    Metric("complete_async", "complete_async ×{n}, 64 at once", "calls/s", True, n=2000, n_quick=500,
           target="≥ 1.0× floor", check=lambda o, f, a: o >= 1.0 * f),
    Metric("stream_sync", "one 20,000-chunk stream, sync", "chunks/s", True,
           target="≥ 0.7× floor", check=lambda o, f, a: o >= 0.7 * f),
    Metric("stream_async", "one 20,000-chunk stream, async", "chunks/s", True,
           target="≥ 0.7× floor", check=lambda o, f, a: o >= 0.7 * f),
    Metric("streams_64", "64 concurrent 500-chunk streams", "chunks/s", True,
           target="≥ 0.7× floor", check=lambda o, f, a: o >= 0.7 * f),
]
# Rows derived from the workloads above.
DERIVED = [
    Metric("first_call", "first call after import (construct + call)", "ms", False, field="first_call_ms"),
    Metric("rss", "peak RSS (complete_async workload)", "MB", False, target="≤ 1.2× floor",
           check=lambda o, f, a: o <= 1.2 * f),
    Metric("connections", "new TCP connections after warm-up (all call/stream workloads)", "", False,
           target="0", check=lambda o, f, a: o == 0),
]
# Run once per client after the rounds (they are long): growth, not speed.
ONCE = [
    Metric("soak", "memory growth over {n} calls", "MB", False, n=10_000, n_quick=2_000,
           target="no growth", check=lambda o, f, a: o < 1.0),
    Metric("churn", "memory per dropped client ({n} clients)", "KB/client", False, n=1000, n_quick=200,
           target="no growth", check=lambda o, f, a: o < 2.0),
]
# The official client leaks ~1.7 MB per dropped client: fewer of them keep the run in memory and time.
OFFICIAL_CHURN = 200


def python_for(client: str) -> str:
    return str(OFFICIAL_PYTHON) if client == "official" else sys.executable


def setup() -> None:
    if not OFFICIAL_PYTHON.exists():
        print("creating benchmarks/.venv-official with mistralai[gcp] from PyPI …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(OFFICIAL_VENV)], check=True)
    probe = subprocess.run([str(OFFICIAL_PYTHON), "-c", "import mistralai.gcp.client, httpx2"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(OFFICIAL_PYTHON), "-m", "pip", "install", "-q", "mistralai[gcp]", "httpx2"], check=True)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "matplotlib>=3.8"], check=True)


def run_one(client: str, workload: str, url: str, n: int) -> Dict[str, Any]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("MISTRAL_GCP_EMULATOR_HOST", None)
    done = subprocess.run(
        [python_for(client), str(HERE / "workloads.py"), client, workload, url, "--n", str(n)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    if done.returncode != 0:
        raise SystemExit(f"{client} {workload} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def versions() -> Dict[str, str]:
    def version_in(python: str, dist: str) -> str:
        code = f"import importlib.metadata as m; print(m.version({dist!r}))"
        out = subprocess.run([python, "-c", code], capture_output=True, text=True)
        return out.stdout.strip() or "?"

    return {
        "python": platform.python_version(),
        "mistral-gcp": version_in(sys.executable, "mistral-gcp"),
        "mistralai": version_in(str(OFFICIAL_PYTHON), "mistralai"),
        "httpx2": version_in(sys.executable, "httpx2"),
        "pydantic": version_in(sys.executable, "pydantic"),
        "uvicorn (emulator)": version_in(sys.executable, "uvicorn"),
    }


def machine() -> str:
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def median_of(runs: List[Dict[str, Any]], client: str, workload: str, field: str = "value") -> Optional[float]:
    values = [r[field] for r in runs if r["client"] == client and r["workload"] == workload and field in r]
    return statistics.median(values) if values else None


def summarise(runs: List[Dict[str, Any]], quick: bool) -> List[Dict[str, Any]]:
    rows = []

    def row(metric: Metric, values: Dict[str, Optional[float]]) -> None:
        ours, floor, official = values["mistral_gcp"], values["httpx"], values["official"]
        n = metric.n_quick if quick else metric.n
        rows.append({
            "key": metric.key,
            "title": metric.title.format(n=f"{n:,}"),
            "unit": metric.unit,
            "higher_better": metric.higher_better,
            "values": values,
            "vs_floor": ours / floor if ours is not None and floor else None,
            "vs_official": ours / official if ours is not None and official else None,
            "target": metric.target,
            "met": None if metric.check is None or None in (ours, floor, official) else bool(metric.check(ours, floor, official)),
        })

    for metric in ROUNDS:
        row(metric, {c: median_of(runs, c, metric.key) for c in CLIENTS})
    row(DERIVED[0], {c: median_of(runs, c, "import", "first_call_ms") for c in CLIENTS})
    row(DERIVED[1], {c: median_of(runs, c, "complete_async", "rss_mb") for c in CLIENTS})
    call_workloads = ("complete_sync", "complete_async", "stream_sync", "stream_async", "streams_64")
    row(DERIVED[2], {c: sum(median_of(runs, c, w, "new_connections") or 0 for w in call_workloads) for c in CLIENTS})
    for metric in ONCE:
        row(metric, {c: median_of(runs, c, metric.key) for c in CLIENTS})
    sockets = {c: next((r for r in runs if r["client"] == c and r["workload"] == "churn"), None) for c in CLIENTS}
    rows.append({
        "key": "churn_sockets", "title": "open sockets after the dropped clients", "unit": "", "higher_better": False,
        "values": {c: (r["sockets_after"] if r else None) for c, r in sockets.items()},
        "vs_floor": None, "vs_official": None, "target": "no growth",
        "met": bool(sockets["mistral_gcp"] and sockets["mistral_gcp"]["sockets_after"] <= sockets["mistral_gcp"]["sockets_before"]),
    })
    return rows


def fmt(value: Optional[float]) -> str:
    if value is None:
        return "–"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) >= 0.01 else f"{value:.2g}"


def ratio(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.2f}×"


def table(rows: List[Dict[str, Any]]) -> str:
    lines = [
        "| measure | unit | mistral-gcp | mistralai[gcp] | plain httpx2 | ÷ floor | ÷ official | target | met |",
        "|---|---|--:|--:|--:|--:|--:|---|:-:|",
    ]
    for r in rows:
        v = r["values"]
        met = {True: "✅", False: "❌", None: ""}[r["met"]]
        better = " ↑" if r["higher_better"] else (" ↓" if r["unit"] else "")
        lines.append(
            f"| {r['title']} | {r['unit']}{better} | {fmt(v['mistral_gcp'])} | {fmt(v['official'])} | {fmt(v['httpx'])} "
            f"| {ratio(r['vs_floor'])} | {ratio(r['vs_official'])} | {r['target']} | {met} |"
        )
    return "\n".join(lines)


def chart(rows: List[Dict[str, Any]], path: Path, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if r["key"] not in ("churn_sockets", "first_call")]
    cols = 4
    fig, axes = plt.subplots((len(shown) + cols - 1) // cols, cols, figsize=(16, 9.5))
    colours = {"mistral_gcp": "#e8710a", "official": "#7f7f7f", "httpx": "#1f77b4"}
    for ax, r in zip(axes.flat, shown):
        names = [c for c in ("mistral_gcp", "official", "httpx") if r["values"][c] is not None]
        values = [r["values"][c] for c in names]
        bars = ax.bar([LABELS[c] for c in names], values, color=[colours[c] for c in names])
        for bar, value in zip(bars, values):
            ax.annotate(fmt(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8)
        arrow = "higher is better" if r["higher_better"] else "lower is better"
        ax.set_title(f"{r['title']}\n{r['unit']} ({arrow})", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.margins(y=0.18)
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    fig.suptitle(f"mistral-gcp vs mistralai[gcp] vs plain httpx2 — medians\n{subtitle}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round with fewer calls (~3 minutes)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3, 1 with --quick)")
    parser.add_argument("--no-setup", action="store_true", help="skip creating the official client's venv")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    if not args.no_setup:
        setup()
    RESULTS.mkdir(exist_ok=True)
    server, url = start_server("--record-limit", "1000000")  # records count connections
    runs: List[Dict[str, Any]] = []
    started = time.monotonic()
    try:
        for number in range(1, rounds + 1):
            for metric in ROUNDS:
                n = metric.n_quick if args.quick else metric.n
                for client in CLIENTS:
                    result = run_one(client, metric.key, url, n)
                    result["round"] = number
                    runs.append(result)
                    print(f"round {number} {metric.key:15} {client:12} {fmt(result['value']):>10} {result['unit']}", flush=True)
        for metric in ONCE:
            for client in CLIENTS:
                n = metric.n_quick if args.quick else metric.n
                if metric.key == "churn" and client == "official":
                    n = min(n, OFFICIAL_CHURN)
                result = run_one(client, metric.key, url, n)
                runs.append(result)
                print(f"once    {metric.key:15} {client:12} {fmt(result['value']):>10} {result['unit']}", flush=True)
    finally:
        server.terminate()
        server.wait(10)
    rows = summarise(runs, args.quick)
    info = {
        "machine": machine(),
        "versions": versions(),
        "rounds": rounds,
        "quick": args.quick,
        "seconds": round(time.monotonic() - started),
        "date": time.strftime("%Y-%m-%d"),
    }
    subtitle = f"{info['machine']}; " + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    md = table(rows)
    (RESULTS / "latest.json").write_text(json.dumps({**info, "summary": rows, "runs": runs}, indent=1) + "\n")
    (RESULTS / "latest.md").write_text(f"{md}\n\n{subtitle}; median of {rounds} round(s), {info['date']}.\n")
    chart(rows, RESULTS / "latest.png", subtitle)
    print()
    print(md)
    print(f"\n{subtitle}\nwrote {RESULTS / 'latest.json'}, latest.md, latest.png in {info['seconds']} s")


if __name__ == "__main__":
    main()
