-- Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d).
-- POSTGRES_DB creates Prefect's database; MLflow keeps its own beside it.
CREATE DATABASE mlflow;
