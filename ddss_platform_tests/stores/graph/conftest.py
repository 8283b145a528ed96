"""The graph store under test: embedded always, Dgraph when DDSS_TEST_DGRAPH_URL names a test server."""

from __future__ import annotations

import os

import pytest

from ddss_platform.stores.graph.embedded import EmbeddedGraph


@pytest.fixture(params=["embedded", pytest.param("dgraph-live", marks=pytest.mark.live)])
def unprepared_graph(request, tmp_path):
    if request.param == "embedded":
        store = EmbeddedGraph(tmp_path / "graph.sqlite")
    else:
        url = os.environ.get("DDSS_TEST_DGRAPH_URL")
        if not url:
            pytest.skip("DDSS_TEST_DGRAPH_URL not set")
        import pydgraph

        from ddss_platform.settings import parse_store_url
        from ddss_platform.stores.graph.dgraph import DgraphGraph

        store = DgraphGraph.connect(parse_store_url("DDSS_GRAPH_URL", url))
        store.client.alter(pydgraph.Operation(drop_all=True))  # a server named for tests starts empty
    yield store
    store.close()


@pytest.fixture
def graph(unprepared_graph):
    unprepared_graph.ensure_schema()
    return unprepared_graph
