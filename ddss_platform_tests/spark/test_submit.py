"""The spark-submit command the aggregates asset runs, per profile (no Spark started)."""

from __future__ import annotations

import sys

from ddss_platform.settings import Settings
from ddss_platform.spark.submit import (
    AGGREGATION_SCRIPT,
    CASSANDRA_CONNECTOR,
    aggregation_command,
    code_version,
    job_environment,
)


def test_embedded_local_command_and_environment(tmp_path):
    settings = Settings.from_env({"DDSS_HOME": str(tmp_path)})
    command = aggregation_command(settings, "2025-01-02")
    assert command[0].endswith("spark-submit")
    assert command[command.index("--master") + 1] == "local[*]"
    assert "--driver-memory" in command and "--packages" not in command
    assert command[-3:] == [str(AGGREGATION_SCRIPT), "--day", "2025-01-02"] and AGGREGATION_SCRIPT.is_file()
    env = job_environment(settings)
    assert env["DDSS_HOME"] == str(tmp_path) and env["DDSS_ARCHIVE_URL"] == "embedded"
    assert env["PYSPARK_PYTHON"] == sys.executable and env["SPARK_LOCAL_IP"] == "127.0.0.1"


def test_production_command_reads_scylla_through_the_connector_on_the_cluster(tmp_path):
    settings = Settings.from_env(
        {
            "DDSS_HOME": str(tmp_path),
            "DDSS_ARCHIVE_URL": "scylla://s1,s2:9142/ddss",
            "DDSS_SPARK_MASTER": "spark://master:7077",
        }
    )
    command = aggregation_command(settings, "2025-01-02")
    assert command[command.index("--master") + 1] == "spark://master:7077"
    assert command[command.index("--packages") + 1] == CASSANDRA_CONNECTOR
    assert "spark.cassandra.connection.host=s1,s2" in command and "spark.cassandra.connection.port=9142" in command
    assert "--driver-memory" not in command
    assert "SPARK_LOCAL_IP" not in job_environment(settings)


def test_code_version_is_a_stable_digest_of_the_job_sources():
    assert code_version() == code_version() and len(code_version()) == 12
