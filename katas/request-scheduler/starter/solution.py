"""A priority scheduler for inference requests: see PROMPT.md for the full statement."""

from __future__ import annotations


class RequestScheduler:
    """Waiting requests ordered by effective priority (priority aged by waiting time),
    then submission order; part 2 caps each tenant's running requests."""

    def __init__(self, aging_interval: int, max_running_per_tenant: int | None = None) -> None:
        """ValueError if aging_interval < 1 or max_running_per_tenant < 1."""
        raise NotImplementedError

    def submit(self, request_id: int, priority: int, tenant: str) -> None:
        """Queue a request (lower priority number = earlier); ValueError if the id is
        waiting or running."""
        raise NotImplementedError

    def pop(self) -> int | None:
        """The waiting request to run next (now running), or None; one tick either way."""
        raise NotImplementedError

    def cancel(self, request_id: int) -> bool:
        """Remove a waiting request: True; anything else changes nothing: False."""
        raise NotImplementedError

    def finish(self, request_id: int) -> None:
        """End a running request (its tenant gets a slot back); KeyError if not running."""
        raise NotImplementedError

    def __len__(self) -> int:
        """The number of waiting requests."""
        raise NotImplementedError
