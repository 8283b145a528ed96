"""The Spark batch jobs: code that runs inside a Spark driver, locally (``local[*]``) or on a cluster.

Only this package imports pyspark; Dagster assets start the jobs with ``spark-submit`` (see ``submit``).
"""
