"""One exception family, so the CLI can turn any expected failure into one clear line.

Every message names the thing at fault (a file, a config key, a value) and says what
was expected. Unexpected failures (bugs) are not GanforgeErrors and keep their traceback.
"""


class GanforgeError(Exception):
    """Base class: an error the user can fix, reported without a traceback."""


class ConfigError(GanforgeError, ValueError):
    """An invalid configuration key or value."""


class DataError(GanforgeError):
    """A dataset that is missing, malformed or unreadable."""


class CheckpointError(GanforgeError):
    """A checkpoint that is missing, truncated, foreign or incompatible."""


class TrainingStopped(GanforgeError):
    """SIGINT or SIGTERM: the step was finished and a checkpoint written."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


class TrainingDiverged(GanforgeError):
    """Non-finite losses or weights that rolling back did not cure."""


class HealthStop(GanforgeError):
    """health.action stop: a failure mode was detected; a checkpoint was written."""
