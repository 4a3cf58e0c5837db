"""Prefect flows: orchestration only, wiring the tasks in tasks/."""
