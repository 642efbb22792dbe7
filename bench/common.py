"""What every benchmark shares: a figure with its target, percentiles, the results files.

A benchmark module has ``run() -> list[Figure]``. ``python -m bench`` runs them,
merges their figures into ``bench/results.json`` and renders ``bench/results.md``,
with the figures from before the speed work (``bench/baseline.json``) beside them.
Benchmarks measure; nothing here passes or fails a build.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_JSON = HERE / "results.json"
RESULTS_MD = HERE / "results.md"
BASELINE_JSON = HERE / "baseline.json"
CHANGES_MD = HERE / "changes.md"  # hand-written: what the profiles showed, what changed


@dataclass(frozen=True)
class Figure:
    """One measured number, and the target it is held against (if any)."""

    key: str  # stable id, e.g. "panel.desk.sqlite.p95"
    label: str  # what a reader sees in the table
    value: float
    unit: str  # "ms", "s", "MB", "%", "×"
    target: float | None = None
    lower_is_better: bool = True
    note: str = ""

    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value <= self.target if self.lower_is_better else self.value >= self.target

    def verdict(self) -> str:
        met = self.met()
        if met is None:
            return ""
        if met:
            return "met"
        assert self.target is not None
        miss = self.value - self.target if self.lower_is_better else self.target - self.value
        return f"missed by {_number(miss)} {self.unit}".rstrip()


def percentile(samples: Sequence[float], p: float) -> float:
    """The p-th percentile (0–100) by the nearest-rank method."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB (VmRSS from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"process {pid} has no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def machine() -> dict[str, Any]:
    """Where the figures were taken."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }


def load(path: Path) -> dict[str, Any]:
    """A results file, or an empty one if there is none (or it is unreadable)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"machine": {}, "figures": {}}


def save(figures: list[Figure], *, suites: list[str], path: Path = RESULTS_JSON) -> dict[str, Any]:
    """Merge fresh figures into ``path`` (other suites' figures are kept).

    Suites may run side by side, so the read-merge-write holds a lock and the new
    file replaces the old in one rename.
    """
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = _merge(load(path), figures, suites)
        fresh = path.with_suffix(".tmp")
        fresh.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        fresh.replace(path)
    return results


def _merge(results: dict[str, Any], figures: list[Figure], suites: list[str]) -> dict[str, Any]:
    stale = [key for key in results["figures"] if key.split(".", 1)[0] in suites]
    for key in stale:
        del results["figures"][key]
    for figure in figures:
        results["figures"][figure.key] = asdict(figure)
    results["machine"] = machine()
    results.setdefault("suites", {})
    for suite in suites:
        results["suites"][suite] = results["machine"]["when"]
    return results


def render(results: dict[str, Any], baseline: dict[str, Any]) -> str:
    """results.md: one table, the figure before the speed work beside today's."""
    where = results.get("machine", {})
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench`); edit the benchmarks, not this file.",
        f"Last run {where.get('when', '?')} at commit {where.get('commit', '?')}"
        f" on {where.get('cpu', '?')} ({where.get('cores', '?')} cores),"
        f" Python {where.get('python', '?')}.",
        "“Before” is `bench/baseline.json`: the same benchmarks before the speed work.",
        "",
        "| Measure | Before | Now | Target | Verdict | Notes |",
        "|---|---:|---:|---:|---|---|",
    ]
    before = baseline.get("figures", {})
    for key, raw in results["figures"].items():
        figure = Figure(**raw)
        then = before.get(key)
        then_text = f"{_number(then['value'])} {figure.unit}" if then else "—"
        if figure.target is None:
            target = "—"
        else:
            sign = "≤" if figure.lower_is_better else "≥"
            target = f"{sign} {_number(figure.target)} {figure.unit}"
        lines.append(
            f"| {figure.label} | {then_text} | {_number(figure.value)} {figure.unit}"
            f" | {target} | {figure.verdict()} | {figure.note} |"
        )
    if CHANGES_MD.exists():
        lines += ["", CHANGES_MD.read_text().strip()]
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
