"""ScyllaDB adapter (scylla-driver, imported as `cassandra`): prepared statements run concurrently.

URL: ``scylla://[user:password@]h1,h2:9042/KEYSPACE`` with optional replication parameters:
``?replication_factor=3`` (NetworkTopologyStrategy in every data centre, the default),
``?replication=dc1:3,dc2:2`` (per data centre) or ``?replication_class=SimpleStrategy&replication_factor=1``,
and ``?consistency=LOCAL_QUORUM`` (the default; any CQL consistency level name). Every statement runs at that
level: cooldown state is read, compared and written, and a day's aggregates read, deleted and inserted, so a
read must see the last write, which with replication factor N takes a quorum on both sides.
The tables come from `schemas/scylla.cql`; rows are keyed so that every write is an idempotent upsert, and rows
expire by the tables' default TTL. Daily reads go to the day-partitioned copy of the archive (``events_by_day``)
and to the days listed in ``dataset_days``: no read that runs per day or per run scans a table.

The same CQL runs on Apache Cassandra 5 (the test server here). What only ScyllaDB has (tablets, the
shard-aware port) is used only when the server is ScyllaDB: see docs/real-servers.md.
"""

from __future__ import annotations

import calendar
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd
import pyarrow as pa

from ddss_platform.settings import DEFAULT_CONNECT_TIMEOUT_S, SettingsError, StoreURL
from ddss_platform.stores.archive import (
    DAY_MS,
    EVENTS_ARCHIVE,
    SCORE_HISTORY_COLUMNS,
    CooldownRow,
    ScoreHistoryRow,
    aggregate_filters,
    aggregate_table,
    aggregates_frame,
    day_start_ms,
    events_table,
    guarded_updates,
    score_change_rows,
)
from ddss_platform.stores.reachability import StoreUnreachableError, require_reachable

DEFAULT_PORT = 9042
SCHEMA_FILE = Path(__file__).resolve().parents[3] / "schemas" / "scylla.cql"
CONCURRENCY = 64
IN_CHUNK = 100  # partition keys per IN query (large IN lists overload one coordinator)
DAY_BUCKETS = 16  # partitions per day of events_by_day (schemas/scylla.cql)
DEFAULT_CONSISTENCY = "LOCAL_QUORUM"
EVENTS_DATASET = "events_archive"  # its days in dataset_days
_EPOCH = date(1970, 1, 1)
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")
_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)


def execute_concurrent_with_args(session, statement, parameters, **kwargs):
    """The driver's concurrent execution (imported on first use so the module loads without the driver)."""
    from cassandra.concurrent import execute_concurrent_with_args as run

    return run(session, statement, parameters, **kwargs)


def _q(column: str) -> str:
    return f'"{column}"'  # quoted: "partition" and "offset" are CQL keywords


def _date_of(ms: int) -> date:
    """The UTC day of an epoch-ms time."""
    return _EPOCH + timedelta(days=ms // DAY_MS)


def _day_text(ms: int) -> str:
    return _date_of(ms).isoformat()


def _as_date(value) -> date:
    """A CQL date from the driver (cassandra.util.Date, or datetime.date) as datetime.date."""
    return value if isinstance(value, date) else value.date()


def _ms(value) -> int | None:
    """A CQL timestamp (naive UTC datetime from the driver) as epoch ms."""
    if value is None or isinstance(value, int):
        return value
    return calendar.timegm(value.utctimetuple()) * 1000 + value.microsecond // 1000


def day_bucket(event_id: str) -> int:
    """The events_by_day partition of an event within its day (stable for a given id)."""
    return zlib.crc32(event_id.encode()) % DAY_BUCKETS


def consistency_name(query: str) -> str:
    """The consistency level ``?consistency=`` names (default LOCAL_QUORUM), upper case as CQL spells it."""
    return ({k: v[-1] for k, v in parse_qs(query).items()}.get("consistency") or DEFAULT_CONSISTENCY).upper()


def consistency_from_query(setting: str, query: str) -> int:
    """The driver's consistency level named by ``?consistency=``."""
    from cassandra import ConsistencyLevel

    name = consistency_name(query)
    level = ConsistencyLevel.name_to_value.get(name)
    if level is None:
        raise SettingsError(
            f"{setting}: unknown consistency {name!r} (one of {', '.join(ConsistencyLevel.name_to_value)})"
        )
    return level


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
    def from_url(cls, url: StoreURL, connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> ScyllaArchive:
        from cassandra.auth import PlainTextAuthProvider
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
        from cassandra.query import dict_factory

        keyspace = url.path
        if not _IDENTIFIER.match(keyspace or ""):
            raise SettingsError(f"{url.setting}={url.redacted!r}: expected scylla://host1,host2:9042/KEYSPACE")
        user, _, password = (url.user or "").partition(":")
        ports = {port for _host, port in url.hosts if port}
        if len(ports) > 1:
            raise SettingsError(f"{url.setting}={url.redacted!r}: every host must use one port (the driver takes one)")
        port = ports.pop() if ports else DEFAULT_PORT
        require_reachable(url, port, connect_timeout_s)
        query = url.parts().query
        profile = ExecutionProfile(
            consistency_level=consistency_from_query(url.setting, query), row_factory=dict_factory
        )
        cluster = Cluster(
            contact_points=[host for host, _port in url.hosts],
            port=port,
            auth_provider=PlainTextAuthProvider(user, password) if user else None,
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            connect_timeout=connect_timeout_s,
            control_connection_timeout=connect_timeout_s,
        )
        try:
            session = cluster.connect()
        except NoHostAvailable as exc:
            cluster.shutdown()
            # its message is a dict of every host's error: each host's cause, briefly
            causes = "; ".join(f"{host} {error}" for host, error in exc.errors.items()) or str(exc)
            raise StoreUnreachableError(url.setting, url.address, causes) from exc
        return cls(session, keyspace, replication_from_query(url.setting, query), cluster)

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

    def history_path(self) -> None:
        return None

    def write_events(self, rows: pa.Table | Sequence[Mapping], batch_id: str) -> int:
        # batch_id is not needed: (citizen_id, event_time, event_id) makes a replayed insert an overwrite.
        table = events_table(rows)
        columns = EVENTS_ARCHIVE.names
        values = list(zip(*(table[c].to_pylist() for c in columns)))
        self._run_many(
            f"INSERT INTO {self.keyspace}.events_archive ({', '.join(map(_q, columns))})"
            f" VALUES ({', '.join('?' * len(columns))})",
            values,
        )
        at = {name: i for i, name in enumerate(columns)}
        days = [_date_of(row[at["event_time"]]) for row in values]
        self._run_many(
            f"INSERT INTO {self.keyspace}.events_by_day (event_date, bucket, {', '.join(map(_q, columns))})"
            f" VALUES (?, ?, {', '.join('?' * len(columns))})",
            [(day, day_bucket(row[at["event_id"]]), *row) for day, row in zip(days, values)],
        )
        self._run_many(
            f"INSERT INTO {self.keyspace}.event_lookup_by_id (event_id, citizen_id, event_time) VALUES (?, ?, ?)",
            [(row[at["event_id"]], row[at["citizen_id"]], row[at["event_time"]]) for row in values],
        )
        self._note_days(EVENTS_DATASET, days)
        return table.num_rows

    def _note_days(self, dataset: str, days: Iterable[date]) -> None:
        self._run_many(
            f"INSERT INTO {self.keyspace}.dataset_days (dataset, day) VALUES (?, ?)",
            [(dataset, day) for day in sorted(set(days))],
        )

    def _days(self, dataset: str, start_day: str | None = None, end_day: str | None = None) -> list[date]:
        """The days ``dataset`` has rows for, within the inclusive bounds (one partition read)."""
        cql = f"SELECT day FROM {self.keyspace}.dataset_days WHERE dataset = ?"
        bounds: list = [dataset]
        if start_day is not None:
            cql += " AND day >= ?"
            bounds.append(date.fromisoformat(start_day))
        if end_day is not None:
            cql += " AND day <= ?"
            bounds.append(date.fromisoformat(end_day))
        return [_as_date(r["day"]) for r in self._rows(cql, bounds)]

    def _event_rows(self, where: str, parameters: Sequence) -> list[dict]:
        cql = f"SELECT {', '.join(map(_q, EVENTS_ARCHIVE.names))} FROM {self.keyspace}.events_archive WHERE {where}"
        return [r | {"event_time": _ms(r["event_time"])} for r in self._rows(cql, parameters)]

    def _day_rows(self, days: Sequence[date]) -> list[dict]:
        """Every row of events_by_day for the days: each day's DAY_BUCKETS partitions, read concurrently."""
        cql = (
            f"SELECT {', '.join(map(_q, EVENTS_ARCHIVE.names))} FROM {self.keyspace}.events_by_day"
            " WHERE event_date = ? AND bucket = ?"
        )
        rows = self._run_many(cql, [(day, bucket) for day in days for bucket in range(DAY_BUCKETS)])
        return [r | {"event_time": _ms(r["event_time"])} for r in rows]

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
        """Keyed reads only: a citizen's partition, an event through its lookup row, or the day partitions of the
        days asked for (``day``, the days listed between start_ms and end_ms, or every listed day)."""
        if day is not None:
            start_ms = max(start_ms or 0, day_start_ms(day))
            end_ms = min(end_ms, day_start_ms(day) + DAY_MS) if end_ms is not None else day_start_ms(day) + DAY_MS
        if event_id is not None:
            found = self.read_event(event_id)
            rows = [found] if found is not None else []
        elif citizen_id is not None:
            rows = self._event_rows("citizen_id = ?", [citizen_id])
        else:
            first = _day_text(start_ms) if start_ms is not None else None
            last = _day_text(end_ms - 1) if end_ms is not None else None
            rows = self._day_rows(self._days(EVENTS_DATASET, first, last))
        rows = [
            r
            for r in rows
            if (citizen_id is None or r["citizen_id"] == citizen_id)
            and (start_ms is None or r["event_time"] >= start_ms)
            and (end_ms is None or r["event_time"] < end_ms)
        ]
        df = events_table(rows).to_pandas().sort_values(["event_time", "event_id"], ascending=[False, True])
        return df.head(limit).reset_index(drop=True) if limit is not None else df.reset_index(drop=True)

    def count_by_day(self, start_day: str | None = None, end_day: str | None = None) -> dict[str, int]:
        """Per listed day, a count over its DAY_BUCKETS partitions (the server counts; no scan)."""
        days = self._days(EVENTS_DATASET, start_day, end_day)
        cql = f"SELECT count(*) AS n FROM {self.keyspace}.events_by_day WHERE event_date = ? AND bucket IN ?"
        counts = self._run_many(cql, [(day, list(range(DAY_BUCKETS))) for day in days])
        return {day.isoformat(): row["n"] for day, row in zip(days, counts) if row["n"]}

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
        """Replace the day's partition: read its keys, delete the ones no longer there, insert the rows."""
        spec, table = aggregate_table(table_name, df)
        the_day = date.fromisoformat(day)
        key_cols = ", ".join(spec.key)
        new_keys = set(zip(*(table[k].to_pylist() for k in spec.key))) if table.num_rows else set()
        existing = self._rows(
            f"SELECT {key_cols} FROM {self.keyspace}.{table_name} WHERE aggregation_date = ?", [the_day]
        )
        stale = [tuple(r[k] for k in spec.key) for r in existing if tuple(r[k] for k in spec.key) not in new_keys]
        where = " AND ".join(f"{k} = ?" for k in spec.key)
        self._run_many(
            f"DELETE FROM {self.keyspace}.{table_name} WHERE aggregation_date = ? AND {where}",
            [(the_day, *key) for key in stale],
        )
        columns = spec.schema.names
        self._run_many(
            f"INSERT INTO {self.keyspace}.{table_name} (aggregation_date, {', '.join(columns)})"
            f" VALUES (?, {', '.join('?' * len(columns))})",
            [(the_day, *values) for values in zip(*(table[c].to_pylist() for c in columns))],
        )
        self._note_days(table_name, [the_day])
        return table.num_rows

    def read_aggregates(
        self,
        table_name: str,
        region: str | None = None,
        event_type: str | None = None,
        start_day: str | None = None,
        end_day: str | None = None,
    ) -> pd.DataFrame:
        """The listed days' partitions (one read each, concurrently), filtered on the key columns asked for."""
        spec, filters = aggregate_filters(table_name, region, event_type)
        cql = (
            f"SELECT aggregation_date, {', '.join(spec.schema.names)} FROM {self.keyspace}.{table_name}"
            " WHERE aggregation_date = ?"
        )
        rows = [
            r | {"aggregation_date": str(r["aggregation_date"]), "last_updated": _ms(r["last_updated"])}
            for r in self._run_many(cql, [(day,) for day in self._days(table_name, start_day, end_day)])
            if all(r[k] == v for k, v in filters.items())
        ]
        rows.sort(key=lambda r: (r["aggregation_date"], *(r[k] for k in spec.key)))
        return aggregates_frame(spec, pa.Table.from_pylist(rows) if rows else None)
