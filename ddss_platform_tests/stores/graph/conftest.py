"""The graph store under test: embedded, and the Dgraph adapter on a real Dgraph (started for the session, or the
one DDSS_TEST_DGRAPH_URL names; emptied before each test)."""

from __future__ import annotations

import pytest

from ddss_platform.stores.graph.embedded import EmbeddedGraph


@pytest.fixture(params=["embedded", pytest.param("dgraph", marks=pytest.mark.live)])
def unprepared_graph(request, tmp_path):
    if request.param == "embedded":
        store = EmbeddedGraph(tmp_path / "graph.sqlite")
    else:
        url = request.getfixturevalue("dgraph_url")
        import pydgraph

        from ddss_platform.settings import parse_store_url
        from ddss_platform.stores.graph.dgraph import DgraphGraph

        store = DgraphGraph.connect(parse_store_url("DDSS_GRAPH_URL", url))
        store.client.alter(pydgraph.Operation(drop_all=True))  # each test starts from an empty graph
    yield store
    store.close()


@pytest.fixture
def graph(unprepared_graph):
    unprepared_graph.ensure_schema()
    return unprepared_graph
