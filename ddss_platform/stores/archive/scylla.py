"""ScyllaDB adapter (scylla-driver, imported as `cassandra`): prepared statements run concurrently.

URL: ``scylla://[user:password@]h1,h2:9042/KEYSPACE`` with optional replication parameters:
``?replication_factor=3`` (NetworkTopologyStrategy in every data centre, the default),
``?replication=dc1:3,dc2:2`` (per data centre) or ``?replication_class=SimpleStrategy&replication_factor=1``.
The tables come from `schemas/scylla.cql`; rows are keyed so that every write is an idempotent upsert, and the
events archive expires rows by the table's default TTL.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd
import pyarrow as pa

from ddss_platform.settings import SettingsError, StoreURL
from ddss_platform.stores.archive import (
    DAY_MS,
    EVENTS_ARCHIVE,
    SCORE_HISTORY_COLUMNS,
    CooldownRow,
    ScoreHistoryRow,
    aggregate_filters,
    aggregate_table,
    aggregates_frame,
    day_of,
    day_start_ms,
    events_table,
    guarded_updates,
    score_change_rows,
)

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "schemas" / "scylla.cql"
CONCURRENCY = 64
IN_CHUNK = 100  # partition keys per IN query (large IN lists overload one coordinator)
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")
_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)


def execute_concurrent_with_args(session, statement, parameters, **kwargs):
    """The driver's concurrent execution (imported on first use so the module loads without the driver)."""
    from cassandra.concurrent import execute_concurrent_with_args as run

    return run(session, statement, parameters, **kwargs)


def _q(column: str) -> str:
    return f'"{column}"'  # quoted: "partition" and "offset" are CQL keywords


def _ms(value) -> int | None:
    """A CQL timestamp (naive UTC datetime from the driver) as epoch ms."""
    if value is None or isinstance(value, int):
        return value
    return calendar.timegm(value.utctimetuple()) * 1000 + value.microsecond // 1000


def replication_from_query(setting: str, query: str) -> dict[str, str | int]:
    params = {k: v[-1] for k, v in parse_qs(query).items()}
    try:
        if "replication" in params:
            per_dc = dict(item.split(":") for item in params["replication"].split(","))
            return {"class": "NetworkTopologyStrategy", **{dc: int(n) for dc, n in per_dc.items()}}
        return {
            "class": params.get("replication_class", "NetworkTopologyStrategy"),
            "replication_factor": int(params.get("replication_factor", 3)),
        }
    except ValueError as exc:
        raise SettingsError(
            f"{setting}: bad replication parameters {query!r} (use replication_factor=N or replication=dc1:3,dc2:2)"
        ) from exc


def keyspace_cql(keyspace: str, replication: Mapping[str, str | int]) -> str:
    options = ", ".join(f"'{k}': {v!r}" if isinstance(v, str) else f"'{k}': {v}" for k, v in replication.items())
    return f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {{{options}}}"


def table_statements(keyspace: str, text: str | None = None) -> dict[str, str]:
    """The CREATE TABLE statements of schemas/scylla.cql, each qualified with `keyspace`, by table name."""
    text = re.sub(r"--[^\n]*", "", SCHEMA_FILE.read_text() if text is None else text)
    out = {}
    for statement in (s.strip() for s in text.split(";")):
        match = _TABLE.match(statement)
        if match:
            out[match.group(1)] = _TABLE.sub(f"CREATE TABLE IF NOT EXISTS {keyspace}.{match.group(1)}", statement, 1)
    return out


class ScyllaArchive:
    def __init__(self, session, keyspace: str, replication: Mapping[str, str | int], cluster=None):
        if not _IDENTIFIER.match(keyspace):
            raise ValueError(f"bad keyspace name {keyspace!r}")
        self._session = session
        self._cluster = cluster
        self.keyspace = keyspace
        self.replication = dict(replication)
        self._statements: dict[str, object] = {}

    @classmethod
    def from_url(cls, url: StoreURL) -> ScyllaArchive:
        from cassandra.auth import PlainTextAuthProvider
        from cassandra.cluster import Cluster
        from cassandra.query import dict_factory

        keyspace = url.path
        if not _IDENTIFIER.match(keyspace or ""):
            raise SettingsError(f"{url.setting}={url.raw!r}: expected scylla://host1,host2:9042/KEYSPACE")
        user, _, password = (url.user or "").partition(":")
        ports = {port for _host, port in url.hosts if port}
        cluster = Cluster(
            contact_points=[host for host, _port in url.hosts],
            port=ports.pop() if len(ports) == 1 else 9042,
            auth_provider=PlainTextAuthProvider(user, password) if user else None,
        )
        session = cluster.connect()
        session.row_factory = dict_factory
        return cls(session, keyspace, replication_from_query(url.setting, url.parts().query), cluster)

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.shutdown()

    def _prepared(self, cql: str):
        if cql not in self._statements:
            self._statements[cql] = self._session.prepare(cql)
        return self._statements[cql]

    def _run_many(self, cql: str, parameters: Sequence[Sequence]) -> list:
        """Run one prepared statement for every parameter tuple, CONCURRENCY at a time; the result rows."""
        if not parameters:
            return []
        results = execute_concurrent_with_args(
            self._session, self._prepared(cql), parameters, concurrency=CONCURRENCY, raise_on_first_error=True
        )
        return [row for _ok, rows in results for row in (rows or [])]

    def _rows(self, cql: str, parameters: Sequence = ()) -> list[dict]:
        return list(self._session.execute(self._prepared(cql), parameters))

    def ensure_schema(self) -> list[str]:
        actions = []
        found = self._session.execute(
            "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = %s", (self.keyspace,)
        )
        if not list(found):
            self._session.execute(keyspace_cql(self.keyspace, self.replication))
            actions.append(f"created keyspace {self.keyspace} ({self.replication})")
        existing = {
            r["table_name"]
            for r in self._session.execute(
                "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (self.keyspace,)
            )
        }
        for name, statement in table_statements(self.keyspace).items():
            if name not in existing:
                self._session.execute(statement)
                actions.append(f"created table {self.keyspace}.{name}")
        return actions

    # --- events archive -------------------------------------------------------------------------------------

    def archive_path(self) -> None:
        return None  # Spark reads the archive through the Cassandra connector

    def write_events(self, rows: pa.Table | Sequence[Mapping], batch_id: str) -> int:
        # batch_id is not needed: (citizen_id, event_time, event_id) makes a replayed insert an overwrite.
        table = events_table(rows)
        columns = EVENTS_ARCHIVE.names
        cql = (
            f"INSERT INTO {self.keyspace}.events_archive ({', '.join(map(_q, columns))})"
            f" VALUES ({', '.join('?' * len(columns))})"
        )
        self._run_many(cql, list(zip(*(table[c].to_pylist() for c in columns))))
        self._run_many(
            f"INSERT INTO {self.keyspace}.event_lookup_by_id (event_id, citizen_id, event_time) VALUES (?, ?, ?)",
            list(zip(*(table[c].to_pylist() for c in ("event_id", "citizen_id", "event_time")))),
        )
        return table.num_rows

    def _event_rows(self, where: str, parameters: Sequence) -> list[dict]:
        cql = f"SELECT {', '.join(map(_q, EVENTS_ARCHIVE.names))} FROM {self.keyspace}.events_archive WHERE {where}"
        return [r | {"event_time": _ms(r["event_time"])} for r in self._rows(cql, parameters)]

    def recent_events(self, citizen_id: str, limit: int) -> list[dict]:
        # one partition, already in the wanted order (event_time DESC, event_id)
        return self._event_rows("citizen_id = ? LIMIT ?", [citizen_id, int(limit)])

    def read_event(self, event_id: str) -> dict | None:
        key = self._rows(
            f"SELECT citizen_id, event_time FROM {self.keyspace}.event_lookup_by_id WHERE event_id = ?", [event_id]
        )
        if not key:
            return None
        rows = self._event_rows(
            "citizen_id = ? AND event_time = ? AND event_id = ?", [key[0]["citizen_id"], key[0]["event_time"], event_id]
        )
        return rows[0] if rows else None

    def read_events(
        self,
        day: str | None = None,
        citizen_id: str | None = None,
        event_id: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        if day is not None:
            start_ms = max(start_ms or 0, day_start_ms(day))
            end_ms = min(end_ms, day_start_ms(day) + DAY_MS) if end_ms is not None else day_start_ms(day) + DAY_MS
        conditions = [
            (f"{c} {op} ?", v)
            for c, op, v in (
                ("citizen_id", "=", citizen_id),
                ("event_time", ">=", start_ms),
                ("event_time", "<", end_ms),
                ("event_id", "=", event_id),
            )
            if v is not None
        ]
        cql = f"SELECT {', '.join(map(_q, EVENTS_ARCHIVE.names))} FROM {self.keyspace}.events_archive"
        if conditions:
            cql += " WHERE " + " AND ".join(c for c, _ in conditions)
        # One citizen's partition is already in the wanted order (event_time DESC, event_id), so LIMIT can
        # go to the server; anything else is a filtered scan, sorted here.
        single_partition = citizen_id is not None and event_id is None
        if single_partition and limit is not None:
            cql += f" LIMIT {int(limit)}"
        if conditions and not single_partition:
            cql += " ALLOW FILTERING"
        rows = [r | {"event_time": _ms(r["event_time"])} for r in self._rows(cql, [v for _, v in conditions])]
        df = events_table(rows).to_pandas().sort_values(["event_time", "event_id"], ascending=[False, True])
        return df.head(limit).reset_index(drop=True) if limit is not None else df.reset_index(drop=True)

    def count_by_day(self, start_day: str | None = None, end_day: str | None = None) -> dict[str, int]:
        """A full scan of event times (paged); fine for checks, not for dashboards."""
        cql = f"SELECT event_time FROM {self.keyspace}.events_archive"
        bounds = []
        if start_day is not None:
            bounds.append(("event_time >= ?", day_start_ms(start_day)))
        if end_day is not None:
            bounds.append(("event_time < ?", day_start_ms(end_day) + DAY_MS))
        if bounds:
            cql += " WHERE " + " AND ".join(c for c, _ in bounds) + " ALLOW FILTERING"
        counts = Counter(day_of(_ms(r["event_time"])) for r in self._rows(cql, [v for _, v in bounds]))
        return dict(sorted(counts.items()))

    def enforce_ttl(self, now_ms: int) -> int:
        return 0  # default_time_to_live on events_archive expires rows on the server

    # --- cooldown state and score history -------------------------------------------------------------------

    def load_cooldowns(self, citizen_ids: Iterable[str]) -> dict[tuple[str, str], CooldownRow]:
        ids = sorted(set(citizen_ids))
        cql = (
            f"SELECT citizen_id, rule_id, applied_times, guard_offsets FROM {self.keyspace}.rule_application_state"
            " WHERE citizen_id IN ?"
        )
        rows = self._run_many(cql, [(ids[i : i + IN_CHUNK],) for i in range(0, len(ids), IN_CHUNK)])
        return {
            (r["citizen_id"], r["rule_id"]): CooldownRow(
                r["citizen_id"], r["rule_id"], tuple(r["applied_times"] or ()), dict(r["guard_offsets"] or {})
            )
            for r in rows
        }

    def save_cooldowns(self, rows: Iterable[CooldownRow]) -> int:
        """Read, compare, write: correct because one run at a time writes a citizen's state (its partition's
        ranges run in order)."""
        rows = list(rows)
        winners = guarded_updates(self.load_cooldowns(r.citizen_id for r in rows), rows)
        cql = (
            f"INSERT INTO {self.keyspace}.rule_application_state (citizen_id, rule_id, applied_times, guard_offsets)"
            " VALUES (?, ?, ?, ?)"
        )
        self._run_many(cql, [(w.citizen_id, w.rule_id, list(w.applied_times), dict(w.guard_offsets)) for w in winners])
        return len(winners)

    def write_score_history(self, rows: pa.Table | Iterable[ScoreHistoryRow | Mapping], batch_id: str) -> int:
        changes = score_change_rows(rows)
        cql = (
            f"INSERT INTO {self.keyspace}.citizen_score_history ({', '.join(SCORE_HISTORY_COLUMNS)})"
            f" VALUES ({', '.join('?' * len(SCORE_HISTORY_COLUMNS))})"
        )
        self._run_many(cql, changes)
        return len(changes)

    def recent_score_history(self, citizen_id: str, limit: int = 100) -> list[dict]:
        cql = (
            f"SELECT {', '.join(SCORE_HISTORY_COLUMNS)} FROM {self.keyspace}.citizen_score_history"
            " WHERE citizen_id = ? LIMIT ?"
        )
        return [r | {"changed_at": _ms(r["changed_at"])} for r in self._rows(cql, [citizen_id, int(limit)])]

    def read_score_history(self, citizen_id: str, limit: int = 100) -> pd.DataFrame:
        return pd.DataFrame(self.recent_score_history(citizen_id, limit), columns=SCORE_HISTORY_COLUMNS)

    # --- aggregates -----------------------------------------------------------------------------------------

    def write_aggregates(self, table_name: str, df: pd.DataFrame | pa.Table, day: str) -> int:
        spec, table = aggregate_table(table_name, df)
        the_day = date.fromisoformat(day)
        key_cols = ", ".join(spec.key)
        new_keys = set(zip(*(table[k].to_pylist() for k in spec.key))) if table.num_rows else set()
        existing = self._rows(
            f"SELECT {key_cols} FROM {self.keyspace}.{table_name} WHERE aggregation_date = ? ALLOW FILTERING", [the_day]
        )
        stale = [tuple(r[k] for k in spec.key) for r in existing if tuple(r[k] for k in spec.key) not in new_keys]
        where = " AND ".join(f"{k} = ?" for k in spec.key)
        self._run_many(
            f"DELETE FROM {self.keyspace}.{table_name} WHERE {where} AND aggregation_date = ?",
            [(*key, the_day) for key in stale],
        )
        columns = spec.schema.names
        self._run_many(
            f"INSERT INTO {self.keyspace}.{table_name} (aggregation_date, {', '.join(columns)})"
            f" VALUES (?, {', '.join('?' * len(columns))})",
            [(the_day, *values) for values in zip(*(table[c].to_pylist() for c in columns))],
        )
        return table.num_rows

    def read_aggregates(
        self,
        table_name: str,
        region: str | None = None,
        event_type: str | None = None,
        start_day: str | None = None,
        end_day: str | None = None,
    ) -> pd.DataFrame:
        spec, filters = aggregate_filters(table_name, region, event_type)
        conditions = [(f"{k} = ?", v) for k, v in filters.items()]
        if start_day is not None:
            conditions.append(("aggregation_date >= ?", date.fromisoformat(start_day)))
        if end_day is not None:
            conditions.append(("aggregation_date <= ?", date.fromisoformat(end_day)))
        cql = f"SELECT aggregation_date, {', '.join(spec.schema.names)} FROM {self.keyspace}.{table_name}"
        if conditions:
            cql += " WHERE " + " AND ".join(c for c, _ in conditions)
        if conditions and set(filters) != set(spec.key):
            cql += " ALLOW FILTERING"
        rows = [
            r | {"aggregation_date": str(r["aggregation_date"]), "last_updated": _ms(r["last_updated"])}
            for r in self._rows(cql, [v for _, v in conditions])
        ]
        rows.sort(key=lambda r: (r["aggregation_date"], *(r[k] for k in spec.key)))
        return aggregates_frame(spec, pa.Table.from_pylist(rows) if rows else None)
