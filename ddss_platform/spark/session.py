"""A lean Spark session for the batch jobs: small shuffles, no UI, Arrow transfers, UTC dates."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

from pyspark.sql import SparkSession

from ddss_platform.spark.submit import LOCAL_DRIVER_MEMORY

# Days are UTC calendar days everywhere in the platform; the batch inputs are one day (megabytes to a few
# GB), so a handful of shuffle partitions beats Spark's default 200 tiny tasks on a small machine.
# pyspark 4 warns on every pandas conversion under pandas 3; the conversions the jobs use (Arrow, flat
# numeric and string columns) are covered by the tests, so the warning is noise in the run logs.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

LEAN_CONF: Mapping[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
}


def launched_by_spark_submit() -> bool:
    """True inside a driver started by ``spark-submit``: its JVM already exists and pyspark connects to it
    through this variable (the same test pyspark's own gateway launcher makes)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def spark_session(master: str, app_name: str, conf: Mapping[str, str] | None = None) -> SparkSession:
    """The session of this driver. Under spark-submit the master and memory come from its command line;
    otherwise (``python -m ...``, tests, the benchmark) from ``master`` and the lean defaults."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(app_name)
    if not launched_by_spark_submit():
        builder = builder.master(master)
        if master.startswith("local"):
            builder = builder.config("spark.driver.memory", LOCAL_DRIVER_MEMORY)
    for key, value in {**LEAN_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
