"""Step 5, the model (tasks `ensemble` and `refit`): the fitted pipeline from raw table to
prediction, greedy ensembling over out-of-fold predictions, the refit on every training row,
and the metrics a run can optimise.
"""
