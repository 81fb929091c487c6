"""One exception family; every message tells the operator what to fix."""


class SurgeError(Exception):
    """Base of every error surge-monitor raises on purpose."""


class ConfigError(SurgeError):
    """A setting or file is wrong; raised at start-up, before anything runs."""


class StackError(SurgeError):
    """The local stack could not be started, stopped or reached."""
