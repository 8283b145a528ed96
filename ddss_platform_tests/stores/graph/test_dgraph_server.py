"""What only a real Dgraph shows: concurrent transactions."""

from __future__ import annotations

import threading

import pydgraph
import pytest

from ddss_platform.settings import parse_store_url
from ddss_platform.stores.graph import GraphEdge
from ddss_platform.stores.graph.dgraph import DgraphGraph

pytestmark = pytest.mark.live
WRITERS = 6


@pytest.fixture
def dgraph(dgraph_url):
    store = DgraphGraph.connect(parse_store_url("DDSS_GRAPH_URL", dgraph_url))
    store.client.alter(pydgraph.Operation(drop_all=True))
    store.ensure_schema()
    yield store
    store.close()


def test_concurrent_identical_relationship_upserts_leave_one_relationship(dgraph, dgraph_url):
    """Each writer finds no relationship and creates one in its own transaction; only a unique key predicate
    (@upsert) makes Dgraph abort all but the first, whose retry then finds it."""
    dgraph.upsert_nodes(["A", "B"])
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(strength: float) -> None:
        store = DgraphGraph.connect(parse_store_url("DDSS_GRAPH_URL", dgraph_url))
        try:
            start.wait(timeout=30)
            store.upsert_relationships([GraphEdge("A", "B", "family", strength, 1_000, None)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=write, args=(0.5 + i / 100,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert len(dgraph.outgoing(["A"])["A"]) == 1
    assert dgraph.counts().edges["family"] == 1
