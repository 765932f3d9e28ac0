"""Drive an HTTP scenario with wrk (a separate C process) and read its summary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "wrk" / "scenario.lua"
WRK = shutil.which("wrk") or "/usr/bin/wrk"


@dataclass
class LoadResult:
    """One load run: throughput, latency percentiles (ms), answers by status, errors."""

    requests: int
    seconds: float
    latency_ms: dict[str, float]
    statuses: dict[str, int]
    socket_errors: dict[str, int]
    expected_statuses: tuple[int, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        """Unexpected answers (5xx, 429, anything not in the scenario's expected set) plus
        socket errors and timeouts."""
        unexpected = sum(
            count
            for status, count in self.statuses.items()
            if int(status) not in self.expected_statuses
        )
        return unexpected + sum(
            self.socket_errors.get(k, 0) for k in ("connect", "read", "write", "timeout")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "rps": round(self.rps, 1),
            "latency_ms": self.latency_ms,
            "statuses": self.statuses,
            "socket_errors": self.socket_errors,
            "errors": self.errors,
            **self.extra,
        }


def available() -> bool:
    return Path(WRK).exists()


def run_wrk(
    *,
    url: str,
    mode: str,
    tokens_file: Path,
    packets_file: Path | None = None,
    seconds: float,
    connections: int,
    threads: int = 2,
    rate: float | None = None,
    expected: tuple[int, ...] = (200,),
    env: dict[str, str] | None = None,
) -> LoadResult:
    """Run wrk with bench/wrk/scenario.lua in `mode`; `rate` holds a constant request rate."""
    connections = max(connections, threads)
    wrk_env = {
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_TOKENS": str(tokens_file),
        "BENCH_PACKETS": str(packets_file or ""),
        "BENCH_THREADS": str(threads),
        **({"BENCH_RATE": str(rate)} if rate else {}),
        **(env or {}),
    }
    command = [
        WRK, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        "--timeout", "10s", "-s", str(SCRIPT), url,
    ]  # fmt: skip
    completed = subprocess.run(command, env=wrk_env, capture_output=True, text=True, check=False)
    line = next(
        (row for row in completed.stdout.splitlines() if row.startswith("BENCH_RESULT ")), None
    )
    if completed.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )
    summary = json.loads(line.removeprefix("BENCH_RESULT "))
    return LoadResult(
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        latency_ms={k: round(v / 1000, 2) for k, v in summary["latency_us"].items()},
        statuses={str(k): v for k, v in sorted(summary["statuses"].items())},
        socket_errors=summary["errors"],
        expected_statuses=expected,
        extra={
            "connections": connections,
            **({"target_rps": rate} if rate else {}),
            **({"answers": summary["marks"]} if summary.get("marks") else {}),
        },
    )
