"""Step 6, explanations (task `explain`): global importance of the final model by raw input
column and engineered feature, and per-row contributions (tree SHAP or sampled Shapley
values) for `trialflow explain` and scoring.
"""
