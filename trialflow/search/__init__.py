"""Step 4, the search (task `search`): trials cross-validate learner configurations on Dask
workers until the budget or trial limit is spent; the strategies propose them; finished
trials are kept on disk so a retried task resumes.
"""
