"""Step 7, fairness (task `fairness`): the final model's metrics across the groups of each
sensitive column with fairlearn, and post-processing mitigation by per-group thresholds.
"""
