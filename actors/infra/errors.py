"""Errors raised by the composition layer (``actors``): settings, workflows, entry points."""


class ActorsError(Exception):
    """Raised when the service's own wiring or workflows fail; the root of this package's errors."""


class SettingsError(ActorsError):
    """Raised when an environment variable is missing or malformed; ``name`` names it."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


class IntentConflict(ActorsError):
    """Raised when a ticket or transfer id arrives again with another payload; nothing changed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class CapacityReached(IntentConflict):
    """Raised when recording a ticket would exceed its event's capacity; nothing was recorded."""
