"""Events from the line (registration, call states) fanned out to subscribers.

The SIP thread publishes and must never block, so each subscriber has its own
bounded queue; a subscriber that stops reading loses its oldest events, never
the line's time.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

Event = dict[str, Any]
_QUEUE_SIZE = 1000


class EventBus:
    """Thread-safe publish/subscribe for line events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[queue.Queue[Event]] = []

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every subscriber without waiting for any of them."""
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            while True:
                try:
                    subscriber.put_nowait(event)
                    break
                except queue.Full:
                    with contextlib.suppress(queue.Empty):
                        subscriber.get_nowait()

    @contextmanager
    def subscribe(self) -> Iterator[queue.Queue[Event]]:
        """A queue that receives every event published while the block runs."""
        subscriber: queue.Queue[Event] = queue.Queue(_QUEUE_SIZE)
        with self._lock:
            self._subscribers.append(subscriber)
        try:
            yield subscriber
        finally:
            with self._lock:
                self._subscribers.remove(subscriber)
