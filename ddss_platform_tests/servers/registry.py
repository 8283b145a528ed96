"""Every real server by name, in the order ``scripts/servers.sh up`` starts them."""

from __future__ import annotations

from ddss_platform_tests.servers.base import Server
from ddss_platform_tests.servers.cassandra import Cassandra
from ddss_platform_tests.servers.dgraph import Dgraph
from ddss_platform_tests.servers.influxdb import InfluxDB
from ddss_platform_tests.servers.kafka import Kafka, NoidaKafka
from ddss_platform_tests.servers.mongo import FerretDB, Secantus
from ddss_platform_tests.servers.spark import SparkCluster

SERVERS: dict[str, Server] = {
    server.name: server
    for server in (Kafka(), Cassandra(), Dgraph(), InfluxDB(), FerretDB(), Secantus(), SparkCluster())
}
# The document store the production profile uses: FerretDB 1.x on SQLite loses concurrent compare-and-set
# updates and can wedge a database after a client dies mid-write (docs/real-servers.md)
PRIMARY_DOCUMENTS = "secantus"
# Servers only the tests start (not part of the production profile)
TEST_PEERS: dict[str, Server] = {"noida": NoidaKafka()}
