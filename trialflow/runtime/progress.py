"""Progress events from inside a run to whoever shows them (the CLI's progress bar)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Listener = Callable[[str, dict[str, Any]], None]

_listeners: list[Listener] = []
_lock = threading.Lock()


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)


def emit(event: str, **payload: Any) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(event, payload)
