"""The project's error types: what went wrong with the user's input, said in one paragraph."""

from __future__ import annotations


class TrialflowError(Exception):
    """Base class for errors trialflow reports to users as a message, never as a traceback."""


class DataError(TrialflowError):
    """The input data cannot be used as given (missing file, missing column, one class, ...)."""


class ConfigError(TrialflowError, ValueError):
    """A configuration value is invalid; the message names the parameter and the value."""


class ModelNotFoundError(TrialflowError):
    """A registered model or version does not exist in the model registry."""


class SearchError(TrialflowError):
    """The search produced no usable trial (every trial failed or none fit in the budget)."""


class TrialTimeout(Exception):
    """A trial ran past its time limit and stopped itself (a failed trial, not a failed run)."""
