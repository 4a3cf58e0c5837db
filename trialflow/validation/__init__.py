"""Step 2, is the data OK? (tasks `load` and `guardrails`): the first checks and the training-
time guardrails with Great Expectations, target-leakage detection, and the expectation suite
a model carries to check every batch it scores.
"""
