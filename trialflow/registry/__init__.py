"""Step 8, registration (task `register`): the MLflow model registry, lineage tags,
champion/challenger promotion, and reproducing a version from its recorded config.
"""
