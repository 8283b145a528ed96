"""A Spark standalone cluster (one master, one worker) from the installed pyspark's own ``spark-class``, and the
Spark Cassandra connector's jars resolved from Maven Central with ``mvn`` for the production read of the archive."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from ddss_platform_tests.servers import builds
from ddss_platform_tests.servers.base import Server
from ddss_platform_tests.servers.process import Process

# The connector's newest release; it targets the Spark 3.5 line, which pyproject.toml pins (docs/scaling.md)
CONNECTOR = "com.datastax.spark:spark-cassandra-connector_2.12:3.5.1"
# Jars Spark 3.5 ships itself: the connector's copies would shadow them on the classpath
SPARK_PROVIDED = ("scala-library", "scala-reflect", "slf4j-api", "commons-lang3", "metrics-core", "paranamer")
WORKER_CORES = 2
WORKER_MEMORY = "2g"


def pyspark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def connector_jars(folder: Path) -> list[Path]:
    return sorted((folder / "jars").glob("*.jar"))


class SparkCluster(Server):
    name = "spark"
    version = f"connector-{CONNECTOR.rsplit(':', 1)[-1]}"
    port_names = ("spark", "spark_ui", "spark_worker", "spark_worker_ui")

    def make(self, folder: Path) -> None:
        builds.maven_jars("spark-cassandra-connector", (CONNECTOR,), folder / "jars")
        for jar in connector_jars(folder):
            if jar.name.rsplit("-", 1)[0] in SPARK_PROVIDED:
                jar.unlink()

    def _env(self, home: Path) -> dict[str, str]:
        return {
            "SPARK_HOME": str(pyspark_home()),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOG_DIR": str(home / "logs"),
            "SPARK_WORKER_DIR": str(home / "work"),
            "SPARK_NO_DAEMONIZE": "1",
            # executors run the job's Python with ddss_platform installed: this environment's
            "PYSPARK_PYTHON": sys.executable,
        }

    def processes(self, folder: Path, home: Path, ports: Mapping[str, int]) -> list[Process]:
        spark_class = str(pyspark_home() / "bin" / "spark-class")
        master_url = f"spark://127.0.0.1:{ports['spark']}"
        master = [
            spark_class,
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(ports["spark"]),
            "--webui-port",
            str(ports["spark_ui"]),
        ]
        worker = [
            spark_class,
            "org.apache.spark.deploy.worker.Worker",
            "--host",
            "127.0.0.1",
            "--port",
            str(ports["spark_worker"]),
            "--webui-port",
            str(ports["spark_worker_ui"]),
            "--cores",
            str(WORKER_CORES),
            "--memory",
            WORKER_MEMORY,
            master_url,
        ]
        env = self._env(home)
        return [
            Process("spark master", master, home / "master.log", lambda: alive_workers(ports["spark_ui"]) >= 0, env),
            Process("spark worker", worker, home / "worker.log", lambda: alive_workers(ports["spark_ui"]) >= 1, env),
        ]

    def settings(self, home: Path, ports: Mapping[str, int]) -> dict[str, str]:
        return {
            "DDSS_SPARK_MASTER": f"spark://127.0.0.1:{ports['spark']}",
            "DDSS_SPARK_JARS": ",".join(map(str, connector_jars(self.build()))),
        }


def alive_workers(ui_port: int) -> int:
    import httpx

    return int(httpx.get(f"http://127.0.0.1:{ui_port}/json/", timeout=2).json()["aliveworkers"])
