"""What the Dgraph adapter sends: DQL with $variables only, and the mutation JSON — checked against a
fake pydgraph client (the live contract runs when DDSS_TEST_DGRAPH_URL is set)."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from ddss_platform.stores.graph import GraphEdge
from ddss_platform.stores.graph.dgraph import (
    SCHEMA_FILE,
    DgraphGraph,
    epoch_ms,
    expected_schema,
    iso,
    node_upsert,
    outgoing_query,
    relationship_key,
    relationship_upsert,
)

T0 = 1_704_067_200_000
NASTY = 'CIT") { q(func: has(nationalID)) { uid } } #'


class FakeTxn:
    def __init__(self, client, read_only=False):
        self.client, self.read_only = client, read_only

    def query(self, query, variables=None):
        self.client.reads.append((query, variables))
        return SimpleNamespace(json=json.dumps(self.client.answer(query, variables)).encode())

    def create_mutation(self, set_obj=None, del_obj=None, cond=None):
        return {"set": set_obj, "delete": del_obj, "cond": cond}

    def create_request(self, query=None, variables=None, mutations=None, commit_now=None):
        return {"query": query, "vars": variables, "mutations": mutations, "commit_now": commit_now}

    def do_request(self, request):
        self.client.requests.append(request)
        created = [m["set"]["uid"][2:] for m in request["mutations"] if str(m["set"].get("uid", "")).startswith("_:")]
        return SimpleNamespace(uids={name: f"0x{i + 1}" for i, name in enumerate(created)})

    def discard(self):
        pass


class FakeClient:
    def __init__(self, answers=None):
        self.reads, self.requests, self.altered = [], [], []
        self.answers = answers or {}

    def txn(self, read_only=False):
        return FakeTxn(self, read_only)

    def answer(self, query, variables):
        name = re.match(r"\s*(?:query\s+(\w+)|(schema))", query)
        return self.answers.get((name.group(1) or name.group(2)) if name else "", {})

    def alter(self, operation):
        self.altered.append(operation.schema)


def declared_variables(query: str) -> set[str]:
    return set(re.findall(r"\$(\w+): (?:string|int)", query))


def used_variables(query: str) -> set[str]:
    return set(re.findall(r"\$(\w+)", query))


def test_node_upsert_passes_every_id_as_a_variable():
    query, variables, mutations = node_upsert(["CIT00000001", NASTY])
    assert NASTY not in query and "CIT00000001" not in query
    assert variables == {"$n0": "CIT00000001", "$n1": NASTY}
    assert declared_variables(query) == used_variables(query) == {"n0", "n1"}
    assert "n1 as var(func: eq(nationalID, $n1))" in query
    assert mutations[1] == (
        {"uid": "_:n1", "dgraph.type": "CitizenNode", "nationalID": NASTY},
        None,
        "@if(eq(len(n1), 0))",
    )


def test_relationship_upsert_finds_the_edge_by_its_key():
    edge = GraphEdge("CIT00000001", NASTY, "family", 0.75, T0)
    query, variables, mutations = relationship_upsert([edge])
    assert NASTY not in query and "family" not in query
    key = relationship_key("CIT00000001", NASTY, "family")
    assert variables == {"$s0": "CIT00000001", "$t0": NASTY, "$k0": key}
    assert declared_variables(query) == used_variables(query) == {"s0", "t0", "k0"}
    assert "r0 as var(func: eq(relationshipKey, $k0))" in query
    create, update = mutations
    assert create == (
        {
            "uid": "uid(s0)",
            "relationships": [
                {
                    "uid": "_:r0",
                    "dgraph.type": "Relationship",
                    "relatedTo": {"uid": "uid(t0)"},
                    "relationshipType": "family",
                    "relationshipKey": key,
                    "strength": 0.75,
                    "startDate": "2024-01-01T00:00:00.000Z",
                }
            ],
        },
        None,
        "@if(eq(len(r0), 0))",
    )
    # an open relationship: the update also deletes a previous endDate (a START after an END reopens it)
    assert update == (
        {"uid": "uid(r0)", "strength": 0.75, "startDate": "2024-01-01T00:00:00.000Z"},
        {"uid": "uid(r0)", "endDate": None},
        "@if(gt(len(r0), 0))",
    )


def test_outgoing_lists_one_variable_per_id():
    query, variables = outgoing_query(["A", "B", NASTY])
    assert "eq(nationalID, [$i0, $i1, $i2])" in query and NASTY not in query
    assert variables == {"$i0": "A", "$i1": "B", "$i2": NASTY}
    assert declared_variables(query) == used_variables(query)


def test_dates_round_trip_as_rfc3339():
    assert iso(T0 + 5) == "2024-01-01T00:00:00.005Z"
    assert epoch_ms(iso(T0 + 5)) == T0 + 5 and iso(None) is None and epoch_ms(None) is None


def test_upserting_relationships_sends_nodes_then_edges_in_committed_upsert_blocks():
    client = FakeClient({"outgoing": {"citizens": []}})
    graph = DgraphGraph(client)
    assert (
        graph.upsert_relationships([GraphEdge("A", "B", "friend", 0.5, T0), GraphEdge("B", "A", "friend", 0.5, T0)])
        == 2
    )
    assert [r["commit_now"] for r in client.requests] == [True, True]
    nodes, edges = client.requests
    assert sorted(nodes["vars"].values()) == ["A", "B"]
    assert edges["vars"] == {
        "$s0": "A",
        "$t0": "B",
        "$k0": relationship_key("A", "B", "friend"),
        "$s1": "B",
        "$t1": "A",
        "$k1": relationship_key("B", "A", "friend"),
    }
    assert len(edges["mutations"]) == 4


def test_unchanged_relationships_are_not_sent_again():
    stored = {
        "nationalID": "A",
        "relationships": [
            {"relationshipType": "friend", "strength": 0.5, "startDate": iso(T0), "relatedTo": {"nationalID": "B"}}
        ],
    }
    client = FakeClient({"outgoing": {"citizens": [stored]}})
    graph = DgraphGraph(client)
    assert graph.upsert_relationships([GraphEdge("A", "B", "friend", 0.5, T0)]) == 0
    assert client.requests == []
    assert graph.outgoing(["A"]) == {"A": [GraphEdge("A", "B", "friend", 0.5, T0)]}
    assert graph.end_relationships([("A", "B", "friend", T0 + 9), ("A", "C", "friend", T0 + 9)]) == 1
    (ending,) = client.requests
    assert ending["mutations"] == [
        {"set": {"uid": "uid(r0)", "endDate": iso(T0 + 9)}, "delete": None, "cond": "@if(gt(len(r0), 0))"}
    ]


def test_schema_is_applied_only_when_the_server_lacks_it():
    client = FakeClient({"schema": {"schema": [], "types": []}})
    graph = DgraphGraph(client)
    assert graph.ensure_schema()
    assert client.altered == [SCHEMA_FILE.read_text()]

    predicates, types = expected_schema(SCHEMA_FILE.read_text())
    answer = {
        "schema": [
            {
                "predicate": name,
                "type": spec["type"],
                "list": spec["list"],
                "tokenizer": spec["tokenizer"],
                "index": bool(spec["tokenizer"]),
                "reverse": spec["reverse"],
                "upsert": spec["upsert"],
            }
            for name, spec in predicates.items()
        ],
        "types": [{"name": t} for t in types],
    }
    client = FakeClient({"schema": answer})
    assert DgraphGraph(client).ensure_schema() == [] and client.altered == []


def test_the_schema_file_declares_the_citizen_key_and_relationship_fields():
    predicates, types = expected_schema(SCHEMA_FILE.read_text())
    assert predicates["nationalID"] == {
        "type": "string",
        "list": False,
        "tokenizer": ["exact"],
        "reverse": False,
        "upsert": True,
    }
    assert predicates["relationshipType"]["tokenizer"] == ["exact"]
    assert {"strength", "startDate", "endDate", "relatedTo", "relationships"} <= set(predicates)
    assert types == {"CitizenNode", "Relationship"}


@pytest.mark.parametrize("page_size", [2])
def test_all_edges_pages_through_relationships(monkeypatch, page_size):
    import ddss_platform.stores.graph.dgraph as dgraph

    monkeypatch.setattr(dgraph, "PAGE", page_size)
    rels = [
        {
            "uid": f"0x{i}",
            "relationshipType": "family",
            "strength": 1.0,
            "startDate": iso(T0),
            "relatedTo": {"nationalID": f"T{i}"},
            "~relationships": [{"nationalID": "S"}],
        }
        for i in range(3)
    ]
    pages = iter([{"page": rels[:2]}, {"page": rels[2:]}])
    client = FakeClient()
    client.answer = lambda query, variables: next(pages)
    frame = DgraphGraph(client).all_edges()
    assert frame["target"].tolist() == ["T0", "T1", "T2"]
    assert [v for _, v in client.reads] == [{"$first": "2", "$after": "0x0"}, {"$first": "2", "$after": "0x1"}]
