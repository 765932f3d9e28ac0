"""The project package. `celery_app` is loaded on first use only, so importing the kernel,
accounts or packets does not load Celery; the project's AppConfig (redpacket/apps.py)
loads it when Django starts, before any task can be sent."""

from typing import Any

__all__ = ("celery_app",)


def __getattr__(name: str) -> Any:
    if name == "celery_app":
        from redpacket.celery import app

        return app
    raise AttributeError(f"module 'redpacket' has no attribute {name!r}")
