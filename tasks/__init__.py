"""Prefect tasks: each a thin, separately retryable wrapper over one step's plain functions."""
