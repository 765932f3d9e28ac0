"""Sampling profiles of the stack's processes under load (py-spy), for `--profile`.

py-spy samples a running process from outside (no code change, little overhead) and
writes collapsed stacks; `summarize` folds them into where the time goes: the share of
samples each function is on the stack for (inclusive) and on top of it (self).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
# What a profile summary lists (inclusive time): the project and the libraries it calls.
PROFILED_PACKAGES = (
    "redpacket", "wallet", "chat", "shake", "kombu", "celery", "django", "rest_framework",
    "psycopg", "redis", "channels",
)  # fmt: skip


def slug(label: str) -> str:
    """A load's label as it names its files: 'hot open' -> 'hot-open'."""
    return label.replace(" ", "-")


@contextlib.contextmanager
def sampling(pids: list[int], seconds: float, out_dir: Path, label: str):  # type: ignore[no-untyped-def]
    """Sample `pids` while the block runs (at most `seconds`), into `out_dir`."""
    samplers = start(pids, seconds, out_dir, slug(label))
    yield
    finish(samplers)


def start(pids: list[int], seconds: float, out_dir: Path, label: str) -> list[subprocess.Popen]:
    """Begin sampling each process for `seconds`; returns the samplers to `finish`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    samplers = []
    for pid in pids:
        samplers.append(
            subprocess.Popen(
                [
                    PY_SPY, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
                    "--rate", "250", "--format", "raw", "--nonblocking",
                    "--output", str(out_dir / f"{label}-{pid}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
    return samplers


def finish(samplers: list[subprocess.Popen]) -> None:
    for sampler in samplers:
        try:
            sampler.wait(timeout=60)
        except subprocess.TimeoutExpired:
            sampler.kill()


def summarize(files: list[Path], *, top: int = 25, only: tuple[str, ...] = ()) -> str:
    """The functions most often on the stack (inclusive) and on top (self), as text."""
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    total = 0
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [frame for frame in stack.split(";") if frame]
            if not frames:
                continue
            total += count
            self_time[frames[-1]] += count
            for frame in set(frames):
                inclusive[frame] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "inclusive (on the stack):"]
    shown = 0
    for frame, count in inclusive.most_common():
        if only and not any(part in frame for part in only):
            continue
        lines.append(f"  {100 * count / total:5.1f}%  {frame}")
        shown += 1
        if shown >= top:
            break
    lines += ["", "self (on top):"]
    for frame, count in self_time.most_common(top):
        lines.append(f"  {100 * count / total:5.1f}%  {frame}")
    return "\n".join(lines)


def write_summaries(labels: tuple[str, ...], out_dir: Path) -> None:
    """One `<label>.summary.txt` per sampled load, from all its processes' stacks."""
    for label in labels:
        files = sorted(out_dir.glob(f"{slug(label)}-*.txt"))
        summary = summarize(files, only=PROFILED_PACKAGES)
        (out_dir / f"{slug(label)}.summary.txt").write_text(summary + "\n")
