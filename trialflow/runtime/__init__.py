"""What every step runs on: the project home, Prefect's API (embedded or a server), the Dask
cluster, checkpoints, the time budget, retries, progress events, and the head start that
runs the first steps while Prefect's API starts.
"""
