"""Production graph adapter: pydgraph → Dgraph, schema ``schemas/dgraph.schema``.

Every value travels as a DQL query variable (``$s0``, ``$t0``…) or inside mutation JSON; the
query text is built only from variable *names*, so no citizen id or type is ever spliced into
DQL. Writes are upsert blocks: the query block finds the nodes and the existing relationship
by its key (source, target, type; an ``@upsert`` predicate, so concurrent creations of one key conflict and
all but one retry), conditional mutations create it (``@if(eq(len(r0), 0))``) or update it.
DQL cannot take a list-valued variable outside ``uid()``, so bulk lookups list one variable per
id: ``eq(nationalID, [$i0, $i1, …])``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pydgraph
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from ddss_platform.settings import DEFAULT_CONNECT_TIMEOUT_S, StoreURL
from ddss_platform.stores.graph import EDGE_COLUMNS, RELATIONSHIP_TYPES, GraphCounts, GraphEdge, analysis, now_ms
from ddss_platform.stores.reachability import require_reachable, unreachable

DEFAULT_PORT = 9080  # the alpha's gRPC port
SCHEMA_FILE = Path(__file__).resolve().parents[3] / "schemas" / "dgraph.schema"
BATCH = 200  # upserts per request (each is ~3 query blocks and 2 conditional mutations)
LOOKUP_BATCH = 500  # ids per bulk read
PAGE = 10_000  # relationships per all_edges page

# One Dgraph request: query text, its variables, and (set, delete, condition) mutations.
Request = tuple[str, dict[str, str], list[tuple[dict | list | None, dict | list | None, str | None]]]


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms(value: str | None) -> int | None:
    if value is None:
        return None
    return int(dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def _declare(names: Sequence[str]) -> str:
    return ", ".join(f"${name}: string" for name in names)


# --- request builders (pure: what the adapter sends) -----------------------------------------


def node_upsert(ids: Sequence[str]) -> Request:
    """Create the CitizenNodes whose nationalID is not there yet."""
    names = [f"n{i}" for i in range(len(ids))]
    blocks = "\n".join(f"  {n} as var(func: eq(nationalID, ${n}))" for n in names)
    mutations = [
        ({"uid": f"_:{n}", "dgraph.type": "CitizenNode", "nationalID": national_id}, None, f"@if(eq(len({n}), 0))")
        for n, national_id in zip(names, ids)
    ]
    return (
        f"query upsert_nodes({_declare(names)}) {{\n{blocks}\n}}",
        dict(zip((f"${n}" for n in names), ids)),
        mutations,
    )


def relationship_key(source: str, target: str, type_: str) -> str:
    """A Relationship's identity, the value of its relationshipKey predicate."""
    return json.dumps([source, target, str(type_)], separators=(",", ":"))


def _relationship_query(name: str, keys: Sequence[tuple[str, str, str]], nodes: bool) -> tuple[str, dict[str, str]]:
    """Find each relationship r{i} by its key $k{i}, and with ``nodes`` its source s{i} and target t{i}."""
    names, variables, blocks = [], {}, []
    for i, (source, target, type_) in enumerate(keys):
        names.append(f"k{i}")
        variables[f"$k{i}"] = relationship_key(source, target, type_)
        blocks.append(f"  r{i} as var(func: eq(relationshipKey, $k{i}))")
        if nodes:
            names += [f"s{i}", f"t{i}"]
            variables |= {f"$s{i}": source, f"$t{i}": target}
            blocks += [f"  s{i} as var(func: eq(nationalID, $s{i}))", f"  t{i} as var(func: eq(nationalID, $t{i}))"]
    return f"query {name}({_declare(names)}) {{\n" + "\n".join(blocks) + "\n}", variables


def relationship_upsert(edges: Sequence[GraphEdge]) -> Request:
    """Create each relationship, or update its attributes; the citizen nodes must exist."""
    query, variables = _relationship_query("upsert_relationships", [e.key for e in edges], nodes=True)
    mutations = []
    for i, e in enumerate(edges):
        attributes = {"strength": float(e.strength), "startDate": iso(e.start_ms), "endDate": iso(e.end_ms)}
        present = {k: v for k, v in attributes.items() if v is not None}
        cleared = {k: None for k, v in attributes.items() if v is None}
        created = {
            "uid": f"_:r{i}",
            "dgraph.type": "Relationship",
            "relatedTo": {"uid": f"uid(t{i})"},
            "relationshipType": str(e.type),
            "relationshipKey": relationship_key(*e.key),
            **present,
        }
        mutations.append(({"uid": f"uid(s{i})", "relationships": [created]}, None, f"@if(eq(len(r{i}), 0))"))
        mutations.append(
            (
                {"uid": f"uid(r{i})", **present},
                {"uid": f"uid(r{i})", **cleared} if cleared else None,
                f"@if(gt(len(r{i}), 0))",
            )
        )
    return query, variables, mutations


def relationship_end(ends: Sequence[tuple[str, str, str, int]]) -> Request:
    query, variables = _relationship_query("end_relationships", [(s, t, k) for s, t, k, _ in ends], nodes=False)
    mutations = [
        ({"uid": f"uid(r{i})", "endDate": iso(end)}, None, f"@if(gt(len(r{i}), 0))") for i, (*_, end) in enumerate(ends)
    ]
    return query, variables, mutations


def outgoing_query(ids: Sequence[str]) -> tuple[str, dict[str, str]]:
    names = [f"i{i}" for i in range(len(ids))]
    listed = ", ".join(f"${n}" for n in names)
    query = (
        f"query outgoing({_declare(names)}) {{\n"
        f"  citizens(func: eq(nationalID, [{listed}])) {{\n"
        "    nationalID\n"
        "    relationships { relationshipType strength startDate endDate relatedTo { nationalID } }\n"
        "  }\n}"
    )
    return query, dict(zip((f"${n}" for n in names), ids))


ALL_EDGES_QUERY = """query all_edges($first: int, $after: string) {
  page(func: type(Relationship), first: $first, after: $after) {
    uid relationshipType strength startDate endDate
    relatedTo { nationalID }
    ~relationships { nationalID }
  }
}"""

COUNTS_QUERY = """{
  nodes(func: type(CitizenNode)) { count(uid) }
  edges(func: type(Relationship)) @groupby(relationshipType) { count(uid) }
}"""

NODES_QUERY = """query nodes($first: int, $after: string) {
  page(func: type(CitizenNode), first: $first, after: $after) { uid nationalID }
}"""


# --- schema ------------------------------------------------------------------------------------

_PREDICATE = re.compile(r"^(\w+):\s*(\[)?(\w+)\]?\s*(.*?)\s*\.\s*$")
_TYPE = re.compile(r"^type\s+(\w+)\s*\{")


def expected_schema(text: str) -> tuple[dict[str, dict], set[str]]:
    """Predicates (normalised like the server's `schema {}` answer) and type names in a schema file."""
    predicates, types = {}, set()
    for line in (raw.split("#", 1)[0].strip() for raw in text.splitlines()):
        if match := _PREDICATE.match(line):
            name, is_list, type_, directives = match.groups()
            index = re.search(r"@index\(([^)]*)\)", directives)
            predicates[name] = {
                "type": type_,
                "list": bool(is_list),
                "tokenizer": sorted(t.strip() for t in index.group(1).split(",")) if index else [],
                "reverse": "@reverse" in directives,
                "upsert": "@upsert" in directives,
            }
        elif match := _TYPE.match(line):
            types.add(match.group(1))
    return predicates, types


def server_schema(answer: Mapping[str, Any]) -> tuple[dict[str, dict], set[str]]:
    predicates = {
        p["predicate"]: {
            "type": p.get("type"),
            "list": bool(p.get("list")),
            "tokenizer": sorted(p.get("tokenizer", [])),
            "reverse": bool(p.get("reverse")),
            "upsert": bool(p.get("upsert")),
        }
        for p in answer.get("schema", [])
    }
    return predicates, {t["name"] for t in answer.get("types", [])}


class DgraphGraph(analysis.NeighbourQueries):
    def __init__(self, client: Any, schema_file: Path = SCHEMA_FILE):
        self.client = client
        self.schema_file = schema_file

    @classmethod
    def connect(cls, url: StoreURL, connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> DgraphGraph:
        require_reachable(url, DEFAULT_PORT, connect_timeout_s)
        stubs = [pydgraph.DgraphClientStub(endpoint) for endpoint in url.endpoints(DEFAULT_PORT)]
        client = pydgraph.DgraphClient(*stubs)
        try:
            client.check_version(timeout=connect_timeout_s)
        except Exception as exc:  # grpc raises its own error types; their details() is the cause
            for stub in stubs:
                stub.close()
            details = getattr(exc, "details", None)
            raise unreachable(url, exc, details() if callable(details) else None) from exc
        return cls(client)

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close:
            close()

    # --- plumbing -------------------------------------------------------------------------------

    def _read(self, query: str, variables: Mapping[str, str] | None = None) -> dict:
        txn = self.client.txn(read_only=True)
        try:
            return json.loads(txn.query(query, variables=dict(variables or {})).json)
        finally:
            txn.discard()

    # a transaction conflict (another writer touched the same nodes) aborts the request: send it again
    @retry(
        retry=retry_if_exception_type((pydgraph.errors.AbortedError, pydgraph.errors.RetriableError)),
        stop=stop_after_attempt(5),
        wait=wait_exponential(0.05, max=2),
        reraise=True,
    )
    def _send(self, request: Request) -> Any:
        query, variables, mutations = request
        txn = self.client.txn()
        try:
            built = [txn.create_mutation(set_obj=s, del_obj=d, cond=c) for s, d, c in mutations]
            return txn.do_request(
                txn.create_request(query=query, variables=variables, mutations=built, commit_now=True)
            )
        finally:
            txn.discard()

    def ensure_schema(self) -> list[str]:
        text = self.schema_file.read_text()
        want_predicates, want_types = expected_schema(text)
        have_predicates, have_types = server_schema(self._read("schema {}"))
        missing = [name for name, spec in want_predicates.items() if have_predicates.get(name) != spec]
        missing += sorted(want_types - have_types)
        if not missing:
            return []
        self.client.alter(pydgraph.Operation(schema=text))
        return [f"graph: applied {self.schema_file.name} to Dgraph ({', '.join(missing)} missing or different)"]

    # --- writes ---------------------------------------------------------------------------------

    def upsert_nodes(self, ids: Iterable[str]) -> int:
        wanted = sorted(set(ids))
        created = 0
        for start in range(0, len(wanted), BATCH):
            response = self._send(node_upsert(wanted[start : start + BATCH]))
            created += len(response.uids)
        return created

    def upsert_relationships(self, edges: Iterable[GraphEdge]) -> int:
        latest = {e.key: e for e in edges}
        if not latest:
            return 0
        stored = {e.key: e for listed in self.outgoing({s for s, _, _ in latest}).values() for e in listed}
        changed = [e for key, e in latest.items() if stored.get(key) != e]
        if changed:
            self.upsert_nodes({e.source for e in changed} | {e.target for e in changed})
        for start in range(0, len(changed), BATCH):
            self._send(relationship_upsert(changed[start : start + BATCH]))
        return len(changed)

    def end_relationships(self, ends: Iterable[tuple[str, str, str, int]]) -> int:
        wanted = {(s, t, str(k)): int(end) for s, t, k, end in ends}
        if not wanted:
            return 0
        stored = {e.key: e for listed in self.outgoing({s for s, _, _ in wanted}).values() for e in listed}
        due = [(*key, end) for key, end in wanted.items() if key in stored and stored[key].end_ms != end]
        for start in range(0, len(due), BATCH):
            self._send(relationship_end(due[start : start + BATCH]))
        return len(due)

    # --- reads ----------------------------------------------------------------------------------

    def outgoing(self, ids: Iterable[str]) -> dict[str, list[GraphEdge]]:
        wanted = list(dict.fromkeys(ids))
        result: dict[str, list[GraphEdge]] = {i: [] for i in wanted}
        for start in range(0, len(wanted), LOOKUP_BATCH):
            answer = self._read(*outgoing_query(wanted[start : start + LOOKUP_BATCH]))
            for node in answer.get("citizens", []):
                for rel in node.get("relationships", []):
                    target = rel.get("relatedTo", {}).get("nationalID")
                    if target and rel.get("relationshipType") in RELATIONSHIP_TYPES:
                        result[node["nationalID"]].append(
                            GraphEdge(
                                node["nationalID"],
                                target,
                                rel["relationshipType"],
                                float(rel.get("strength", 1.0)),
                                epoch_ms(rel.get("startDate")),
                                epoch_ms(rel.get("endDate")),
                            )
                        )
        for listed in result.values():
            listed.sort(key=lambda e: (e.type, e.target))
        return result

    def _pages(self, query: str) -> Iterable[dict]:
        after = "0x0"
        while True:
            page = self._read(query, {"$first": str(PAGE), "$after": after}).get("page", [])
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1]["uid"]

    def _node_ids(self) -> list[str]:
        return sorted(node["nationalID"] for node in self._pages(NODES_QUERY) if "nationalID" in node)

    def all_edges(self) -> pd.DataFrame:
        rows = []
        for rel in self._pages(ALL_EDGES_QUERY):
            sources = rel.get("~relationships", [])
            target = rel.get("relatedTo", {}).get("nationalID")
            if sources and target:
                rows.append(
                    (
                        sources[0]["nationalID"],
                        target,
                        rel.get("relationshipType"),
                        float(rel.get("strength", 1.0)),
                        epoch_ms(rel.get("startDate")),
                        epoch_ms(rel.get("endDate")),
                    )
                )
        frame = pd.DataFrame(rows, columns=EDGE_COLUMNS)
        for column in ("start_ms", "end_ms"):
            frame[column] = frame[column].astype("Int64")
        return frame

    def neighbour_aggregates(self, values: Mapping[str, float], at_ms: int | None = None) -> pd.DataFrame:
        at = now_ms() if at_ms is None else at_ms
        return analysis.aggregates_from_edge_frame(self._node_ids(), self.all_edges(), values, at)

    def counts(self) -> GraphCounts:
        answer = self._read(COUNTS_QUERY)
        nodes = answer.get("nodes", [{}])[0].get("count", 0)
        by_type: dict[str, int] = {t: 0 for t in RELATIONSHIP_TYPES}
        for group in answer.get("edges", [{}])[0].get("@groupby", []):
            by_type[group["relationshipType"]] = group["count"]
        return GraphCounts(nodes=nodes, edges=dict(sorted(by_type.items())))

    def degree_distribution(self, types: Collection[str] | None = None, at_ms: int | None = None) -> pd.DataFrame:
        at = now_ms() if at_ms is None else at_ms
        nodes = pd.Index(self._node_ids())
        live = analysis.active_rows(self.all_edges(), at, types)
        return analysis.degree_table(nodes.get_indexer(live["source"]), len(nodes))
