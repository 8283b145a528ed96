"""Apache Kafka in KRaft mode (one process that is broker and controller) from its Maven artifacts, and noida-db,
a second Kafka-protocol peer from the dev extra."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from pathlib import Path

from ddss_platform_tests.servers import builds
from ddss_platform_tests.servers.base import Server, java
from ddss_platform_tests.servers.mongo import installed_command
from ddss_platform_tests.servers.process import Process, port_open

VERSION = "4.1.1"
ARTIFACTS = (
    f"org.apache.kafka:kafka_2.13:{VERSION}",
    # Kafka 4 logs through log4j 2; its own dependencies bring slf4j 1.7, which the log4j 2 binding does not serve
    "org.slf4j:slf4j-api:2.0.16",
    "org.apache.logging.log4j:log4j-slf4j2-impl:2.24.3",
    "org.apache.logging.log4j:log4j-core:2.24.3",
)
LOG4J2 = """status = warn
appender.file.type = Console
appender.file.name = OUT
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
"""


def server_properties(home: Path, ports: Mapping[str, int]) -> str:
    broker, controller = ports["kafka"], ports["kafka_controller"]
    return f"""process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{broker}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={home / "data"}
num.partitions=1
# the platform creates its topics itself (ddss init): a typo must not make a topic
auto.create.topics.enable=false
# one broker: internal topics with one replica, few partitions (created on first use, quickly)
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# a test's consumer joins its group at once instead of after the default 3 s
group.initial.rebalance.delay.ms=0
"""


class Kafka(Server):
    name = "kafka"
    version = VERSION
    port_names = ("kafka", "kafka_controller")

    def make(self, folder: Path) -> None:
        builds.maven_jars("kafka-server", ARTIFACTS, folder / "libs")

    def _java(self, folder: Path, home: Path) -> list[str]:
        return [
            java(),
            "-Xms256m",
            "-Xmx768m",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
            "-cp",
            str(folder / "libs" / "*"),
        ]

    def prepare(self, folder: Path, home: Path, ports: Mapping[str, int]) -> None:
        (home / "server.properties").write_text(server_properties(home, ports))
        (home / "log4j2.properties").write_text(LOG4J2)
        # a cluster id is 16 random bytes in URL-safe base64, as `StorageTool random-uuid` prints
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        builds.run(
            [
                *self._java(folder, home),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(home / "server.properties"),
            ]
        )

    def processes(self, folder: Path, home: Path, ports: Mapping[str, int]) -> list[Process]:
        return [
            Process(
                "kafka",
                [*self._java(folder, home), "kafka.Kafka", str(home / "server.properties")],
                home / "kafka.log",
                lambda: answers_metadata(ports["kafka"]),
            )
        ]

    def settings(self, home: Path, ports: Mapping[str, int]) -> dict[str, str]:
        return {"DDSS_BUS_URL": f"kafka://127.0.0.1:{ports['kafka']}"}


def answers_metadata(port: int) -> bool:
    """The port opens before the broker answers metadata requests."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    if not port_open(port):
        return False
    try:
        metadata = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "log_level": 0}).list_topics(timeout=2)
        return bool(metadata.brokers)
    except KafkaException:
        return False


class NoidaKafka(Server):
    """noida-db's Kafka protocol (a single binary of the dev extra; not Apache Kafka, a second peer)."""

    name = "noida"
    version = "dev-extra"
    port_names = ("noida",)

    def build(self, log=print) -> Path:
        return installed_command("noida-db").parent

    def processes(self, folder: Path, home: Path, ports: Mapping[str, int]) -> list[Process]:
        # stderr carries a harmless GLIBC weak-version warning; it goes to the log with the rest
        command = [
            str(folder / "noida-db"),
            "start",
            "--only",
            "kafka",
            "--kafka-port",
            str(ports["noida"]),
            "--host",
            "127.0.0.1",
            "--data-dir",
            str(home),
        ]
        return [Process("noida-db", command, home / "noida-db.log", lambda: answers_metadata(ports["noida"]))]

    def settings(self, home: Path, ports: Mapping[str, int]) -> dict[str, str]:
        return {"DDSS_BUS_URL": f"kafka://127.0.0.1:{ports['noida']}"}
