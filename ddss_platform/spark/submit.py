"""How the Dagster side starts the Spark jobs: the ``spark-submit`` command and its environment, and the
jobs' code version. No pyspark here: the Dagster processes never start a JVM themselves."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from ddss_platform.settings import Settings

SPARK_DIR = Path(__file__).resolve().parent
AGGREGATION_SCRIPT = SPARK_DIR / "aggregation.py"
# The Spark Cassandra connector for Spark 4 / Scala 2.13, fetched by spark-submit --packages in production.
CASSANDRA_CONNECTOR = "com.datastax.spark:spark-cassandra-connector_2.13:3.5.1"
CQL_PORT = 9042
LOCAL_DRIVER_MEMORY = "2g"


def code_version() -> str:
    """A digest of the Spark job's sources: it changes exactly when the job's code does."""
    digest = hashlib.sha256()
    for path in sorted(SPARK_DIR.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def spark_submit() -> str:
    """The spark-submit of the cluster's Spark when one is on PATH, else the one pyspark ships in this venv."""
    return shutil.which("spark-submit") or str(Path(sys.executable).with_name("spark-submit"))


def aggregation_command(settings: Settings, day: str) -> list[str]:
    command = [
        spark_submit(),
        "--master",
        settings.spark_master,
        "--name",
        f"ddss-aggregation-{day}",
        "--conf",
        "spark.log.level=WARN",  # from the JVM's start: its INFO lines would flood the run's logs
    ]
    if settings.spark_master.startswith("local"):
        command += ["--driver-memory", LOCAL_DRIVER_MEMORY]
    if not settings.archive.embedded:
        hosts = settings.archive.hosts
        port = next((p for _, p in hosts if p), CQL_PORT)  # the connector takes one port for every host
        command += [
            "--packages",
            CASSANDRA_CONNECTOR,
            "--conf",
            f"spark.cassandra.connection.host={','.join(host for host, _ in hosts)}",
            "--conf",
            f"spark.cassandra.connection.port={port}",
        ]
    return command + [str(AGGREGATION_SCRIPT), "--day", day]


def job_environment(settings: Settings) -> dict[str, str]:
    """The driver's environment: the settings as DDSS_* variables (what Settings.from_env reads there) and this
    Python, which has ddss_platform installed, for the driver and local executors."""
    env = settings.to_env() | {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    if settings.spark_master.startswith("local"):
        # local Spark must not go looking for a routable interface; a cluster's executors must reach the driver on one
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
    return env
