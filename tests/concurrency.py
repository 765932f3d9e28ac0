"""Run calls at the same moment from many threads, each with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections


def run_parallel(
    call: Callable[..., Any], argument_lists: Sequence[Sequence[Any]], *, timeout: float = 120
) -> list[Any]:
    """Start every call together (a barrier) and return each result or raised exception."""
    barrier = threading.Barrier(len(argument_lists))
    results: list[Any] = [None] * len(argument_lists)

    def worker(index: int, arguments: Sequence[Any]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = call(*arguments)
        except BaseException as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=worker, args=(i, args), daemon=True)
        for i, args in enumerate(argument_lists)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError("a concurrent call did not finish (deadlock?)")
    return results
