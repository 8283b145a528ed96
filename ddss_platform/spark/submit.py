"""How the Dagster side starts the Spark jobs: the ``spark-submit`` command and its environment, and the
jobs' code version. No pyspark here: the Dagster processes never start a JVM themselves."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

from ddss_platform.settings import Settings
from ddss_platform.stores.archive.scylla import consistency_name

SPARK_DIR = Path(__file__).resolve().parent
AGGREGATION_SCRIPT = SPARK_DIR / "aggregation.py"
# The Spark Cassandra connector's newest release is for Spark 3.5 (Scala 2.12), the Spark line pyproject.toml pins.
# spark-submit resolves it from Maven Central unless DDSS_SPARK_JARS names its jars (resolved ahead, e.g. by mvn).
CASSANDRA_CONNECTOR = "com.datastax.spark:spark-cassandra-connector_2.12:3.5.1"
CQL_PORT = 9042
LOCAL_DRIVER_MEMORY = "2g"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
    command += jvm_dependencies(settings)
    if not settings.archive.embedded:
        command += [item for key, value in cassandra_conf(settings).items() for item in ("--conf", f"{key}={value}")]
    return command + [str(AGGREGATION_SCRIPT), "--day", day]


def jvm_dependencies(settings: Settings) -> list[str]:
    """``--jars`` (DDSS_SPARK_JARS) and ``--packages`` (DDSS_SPARK_PACKAGES, and the Cassandra connector when the
    archive is ScyllaDB and no jars are given)."""
    packages = list(settings.spark_packages)
    if not settings.archive.embedded and not settings.spark_jars and CASSANDRA_CONNECTOR not in packages:
        packages.insert(0, CASSANDRA_CONNECTOR)
    args = ["--jars", ",".join(settings.spark_jars)] if settings.spark_jars else []
    return args + (["--packages", ",".join(packages)] if packages else [])


def cassandra_conf(settings: Settings) -> dict[str, str]:
    """The connector's settings from DDSS_ARCHIVE_URL: hosts, port, credentials, and the read consistency."""
    url = settings.archive
    hosts = url.hosts
    conf = {
        "spark.cassandra.connection.host": ",".join(host for host, _ in hosts),
        # the connector takes one port for every host
        "spark.cassandra.connection.port": str(next((p for _, p in hosts if p), CQL_PORT)),
        "spark.cassandra.input.consistency.level": consistency_name(url.parts().query),
        # joins on a Cassandra table's partition key can become keyed reads (the daily read depends on it)
        "spark.sql.extensions": "com.datastax.spark.connector.CassandraSparkExtensions",
    }
    user, _, password = (url.user or "").partition(":")
    if user:
        conf |= {"spark.cassandra.auth.username": user, "spark.cassandra.auth.password": password}
    return conf


def job_environment(settings: Settings) -> dict[str, str]:
    """The driver's environment: the settings as DDSS_* variables (what Settings.from_env reads there) and this
    Python, which has ddss_platform installed, for the driver and local executors."""
    env = settings.to_env() | {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    master_host = urlsplit(settings.spark_master).hostname if "://" in settings.spark_master else None
    if settings.spark_master.startswith("local") or master_host in LOOPBACK:
        # local Spark, or a cluster on this machine, is reached on loopback; a remote cluster's executors must
        # reach the driver on a routable interface
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
    return env
