"""Step 1, read the table (task `load`): files and in-memory frames into the rows, target and
task a run trains on; text-typed numbers made numbers; the holdout kept aside before
anything is learned.
"""
