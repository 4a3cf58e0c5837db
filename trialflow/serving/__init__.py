"""Scoring a registered model (flow `score_batch`, `trialflow predict`): a batch validated
against the model's suite, scored, and written whole or not at all, in chunks at constant
memory for files of any size.
"""
