"""Apache Cassandra 5.0 (CQL, standing in for ScyllaDB) from its Maven artifacts, one node."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ddss_platform_tests.servers import builds
from ddss_platform_tests.servers.base import Server, java
from ddss_platform_tests.servers.process import Process, port_open

VERSION = "5.0.6"
KEYSPACE = "ddss"
# The platform logs in as an ordinary role: Cassandra applies its guardrails (allow_filtering_enabled below) to
# every role but superusers, and an anonymous session counts as one
SUPERUSER = ("cassandra", "cassandra")  # the server's own, created at its first start
ROLE = ("ddss", "ddss-test-password")

# What bin/cassandra and conf/jvm17-server.options give the JVM (the Maven artifact has no bin/ or conf/)
JVM_OPTIONS = (
    "-Xms1g",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:+ParallelRefProcEnabled",
    "-Xss256k",
    "-Djdk.attach.allowAttachSelf=true",
    "-Dcassandra-foreground=yes",
    # one node: no gossip to settle, no ring to wait for
    "-Dcassandra.skip_wait_for_gossip_to_settle=0",
    "-Dcassandra.ring_delay_ms=100",
    "-Dcassandra.superuser_setup_delay_ms=0",
    *(
        f"--add-exports={item}=ALL-UNNAMED"
        for item in (
            "java.base/jdk.internal.misc",
            "java.base/jdk.internal.ref",
            "java.base/sun.nio.ch",
            "java.management.rmi/com.sun.jmx.remote.internal.rmi",
            "java.rmi/sun.rmi.registry",
            "java.rmi/sun.rmi.server",
            "java.sql/java.sql",
        )
    ),
    *(
        f"--add-opens={item}=ALL-UNNAMED"
        for item in (
            "java.base/java.lang.module",
            "java.base/jdk.internal.loader",
            "java.base/jdk.internal.ref",
            "java.base/jdk.internal.reflect",
            "java.base/jdk.internal.math",
            "java.base/jdk.internal.module",
            "java.base/jdk.internal.util.jar",
            "jdk.management/com.sun.management.internal",
            "java.base/sun.nio.ch",
            "java.base/java.io",
            "java.base/java.nio",
            "java.base/java.util.concurrent",
            "java.base/java.util",
            "java.base/java.util.concurrent.atomic",
            "java.base/java.lang",
            "java.base/java.math",
            "java.base/java.lang.reflect",
            "java.base/java.net",
        )
    ),
)
LOGBACK = """<configuration>
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra" level="WARN"/>
  <logger name="org.apache.cassandra.transport" level="INFO"/>
  <root level="WARN"><appender-ref ref="OUT"/></root>
</configuration>
"""


def cassandra_yaml(home: Path, ports: Mapping[str, int]) -> str:
    data = home / "data"
    return f"""cluster_name: ddss-test
num_tokens: 16
allocate_tokens_for_local_replication_factor: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
data_file_directories: [{data / "data"}]
commitlog_directory: {data / "commitlog"}
saved_caches_directory: {data / "saved_caches"}
hints_directory: {data / "hints"}
cdc_raw_directory: {data / "cdc_raw"}
commitlog_sync: periodic
commitlog_sync_period: 10000ms
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:{ports["cassandra_storage"]}"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: {ports["cassandra_storage"]}
native_transport_port: {ports["cassandra"]}
start_native_transport: true
auto_bootstrap: false
endpoint_snitch: SimpleSnitch
authenticator: PasswordAuthenticator
authorizer: AllowAllAuthorizer
concurrent_reads: 8
concurrent_writes: 8
concurrent_compactors: 1
# as a strictly run cluster: a query that would filter a scan is refused (every daily read is keyed)
allow_filtering_enabled: false
# a test machine: timeouts that a busy second core cannot trip
read_request_timeout: 20000ms
write_request_timeout: 20000ms
range_request_timeout: 30000ms
request_timeout: 30000ms
"""


class Cassandra(Server):
    name = "cassandra"
    version = VERSION
    port_names = ("cassandra", "cassandra_storage", "cassandra_jmx")

    def make(self, folder: Path) -> None:
        builds.maven_jars("cassandra-server", (f"org.apache.cassandra:cassandra-all:{VERSION}",), folder / "libs")

    def prepare(self, folder: Path, home: Path, ports: Mapping[str, int]) -> None:
        (home / "conf").mkdir(exist_ok=True)
        (home / "conf" / "cassandra.yaml").write_text(cassandra_yaml(home, ports))
        (home / "conf" / "logback.xml").write_text(LOGBACK)

    def processes(self, folder: Path, home: Path, ports: Mapping[str, int]) -> list[Process]:
        command = [
            java(),
            *JVM_OPTIONS,
            f"-Dcassandra.config=file://{home / 'conf' / 'cassandra.yaml'}",
            f"-Dlogback.configurationFile={home / 'conf' / 'logback.xml'}",
            f"-Dcassandra.storagedir={home / 'data'}",
            f"-Dcassandra.jmx.local.port={ports['cassandra_jmx']}",
            "-cp",
            f"{home / 'conf'}:{folder / 'libs' / '*'}",
            "org.apache.cassandra.service.CassandraDaemon",
        ]
        return [
            Process(
                "cassandra",
                command,
                home / "cassandra.log",
                lambda: answers_cql(ports["cassandra"]),
                startup_timeout_s=300,
            )
        ]

    def after_start(self, home: Path, ports: Mapping[str, int]) -> None:
        name, password = ROLE
        run_cql(
            ports["cassandra"],
            SUPERUSER,
            f"CREATE ROLE IF NOT EXISTS {name} WITH PASSWORD = '{password}' AND LOGIN = true",
        )

    def settings(self, home: Path, ports: Mapping[str, int]) -> dict[str, str]:
        name, password = ROLE
        return {
            "DDSS_ARCHIVE_URL": f"scylla://{name}:{password}@127.0.0.1:{ports['cassandra']}/{KEYSPACE}"
            "?replication_class=SimpleStrategy&replication_factor=1"
        }


def run_cql(port: int, credentials: tuple[str, str], statement: str) -> list:
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster

    cluster = Cluster(["127.0.0.1"], port=port, connect_timeout=5, auth_provider=PlainTextAuthProvider(*credentials))
    try:
        return list(cluster.connect().execute(statement))
    finally:
        cluster.shutdown()


def answers_cql(port: int) -> bool:
    """Ready once the superuser can log in (the server creates it shortly after opening its port)."""
    return port_open(port) and bool(run_cql(port, SUPERUSER, "SELECT release_version FROM system.local"))
