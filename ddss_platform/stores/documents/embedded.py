"""Embedded documents: SQLite (WAL), one table per collection holding the JSON document, its
unique key as the primary key and the fields queries filter on (region, status) as indexed
columns. Documents are checked against the same ``$jsonSchema`` files as MongoDB.

A citizen is split over two rows: ``citizens`` holds the document's stable part (profile,
contact, flags, createdAt) and ``citizen_snapshots`` the part every scored event rewrites
(scoreSnapshot, appliedOffsets, metadata.version/updatedAt) as narrow indexed columns. A snapshot
update then rewrites a ~100-byte row instead of the whole document, which keeps the pages a
scoring run dirties (and the WAL it writes) small. Reads put the document back together in SQL.

Snapshot updates run as one ``executemany`` in one transaction; the replay guard is in the
UPDATE's WHERE clause, reading the topic-partition's offset out of the stored offsets JSON.

Parked effects keep the fields their queries filter on (target, partition, status, event time) as columns
beside the JSON document. A partition fence is one row, taken and renewed in one transaction each.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from ddss_platform.stores.documents import (
    ACTIVE,
    CITIZENS,
    CONFIGURATION,
    EXPIRED,
    INACTIVE,
    PARKED,
    PARKED_EFFECTS,
    PARTITION_FENCES,
    PREFIX_END,
    PROFILE_COLUMNS,
    RULES,
    DocumentChecker,
    DuplicateKeyError,
    NoActiveConfiguration,
    ParkedEffect,
    PartitionFence,
    ScoreScale,
    SnapshotChecker,
    SnapshotUpdate,
    created_by,
    load_schema,
    moved,
    snapshot_frame,
)
from ddss_platform.stores.sqlite import connect, transaction

_TABLES = {
    CITIZENS: """CREATE TABLE citizens (
        national_id TEXT PRIMARY KEY,
        region TEXT,
        doc TEXT NOT NULL)""",
    "citizen_snapshots": """CREATE TABLE citizen_snapshots (
        national_id TEXT PRIMARY KEY REFERENCES citizens(national_id),
        score REAL NOT NULL,
        tier TEXT NOT NULL,
        last_calculated INTEGER NOT NULL,
        applied_offsets TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at INTEGER NOT NULL)""",
    RULES: """CREATE TABLE scoring_rule_definitions (
        rule_id TEXT PRIMARY KEY,
        rule_set TEXT NOT NULL,
        status TEXT NOT NULL,
        doc TEXT NOT NULL)""",
    CONFIGURATION: """CREATE TABLE system_configuration (
        config_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        doc TEXT NOT NULL)""",
    PARKED_EFFECTS: """CREATE TABLE parked_effects (
        effect_id TEXT PRIMARY KEY,
        target_id TEXT NOT NULL,
        target_partition INTEGER NOT NULL,
        status TEXT NOT NULL,
        event_time INTEGER NOT NULL,
        doc TEXT NOT NULL)""",
    PARTITION_FENCES: """CREATE TABLE partition_fences (
        fence_key TEXT PRIMARY KEY,
        epoch INTEGER NOT NULL,
        holder TEXT,
        kind TEXT,
        heartbeat_ms INTEGER NOT NULL)""",
}
_INDEXES = {
    "citizens_by_region": "CREATE INDEX citizens_by_region ON citizens(region, national_id)",
    "snapshots_by_tier": "CREATE INDEX snapshots_by_tier ON citizen_snapshots(tier, national_id)",
    "rules_by_set": "CREATE INDEX rules_by_set ON scoring_rule_definitions(rule_set, status)",
    "configuration_by_status": "CREATE INDEX configuration_by_status ON system_configuration(status, updated_at)",
    "parked_by_target": "CREATE INDEX parked_by_target ON parked_effects(target_id, status)",
    "parked_by_time": "CREATE INDEX parked_by_time ON parked_effects(status, target_partition, event_time)",
}

# the whole citizen document from its two rows (c: citizens, s: citizen_snapshots)
_CITIZEN_DOC = """json_set(c.doc,
    '$.scoreSnapshot', json_object('currentScore', s.score, 'tier', s.tier, 'lastCalculated', s.last_calculated),
    '$.appliedOffsets', json(s.applied_offsets),
    '$.metadata.version', s.version,
    '$.metadata.updatedAt', s.updated_at)"""
_CITIZEN_ROWS = "citizens c JOIN citizen_snapshots s ON s.national_id = c.national_id"

# ?1 national_id, ?2 score, ?3 tier, ?4 lastCalculated, ?5 JSON path of the topic-partition, ?6 offset, ?7 now
_GUARDED_UPDATE = """
UPDATE citizen_snapshots SET
    score = ?2,
    tier = ?3,
    last_calculated = ?4,
    applied_offsets = json_set(applied_offsets, ?5, ?6),
    version = version + 1,
    updated_at = ?7
WHERE national_id = ?1 AND coalesce(json_extract(applied_offsets, ?5), -1) < ?6
"""

_SCORES_AND_GUARDS = """
SELECT national_id, score, coalesce(json_extract(applied_offsets, ?2), -1) FROM citizen_snapshots
WHERE national_id IN (SELECT value FROM json_each(?1))
"""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _plain(doc: Mapping[str, Any]) -> dict:
    """The document as it reads back (tuples become lists, no MongoDB _id)."""
    return json.loads(_dumps({k: v for k, v in doc.items() if k != "_id"}))


class EmbeddedDocuments:
    def __init__(self, path: Path):
        self.path = path
        self.conn = connect(path)
        self._checker = DocumentChecker()
        self._snapshots = SnapshotChecker(load_schema(CITIZENS))

    def close(self) -> None:
        self.conn.close()

    def ensure_schema(self) -> list[str]:
        actions = []
        with transaction(self.conn):
            existing = {name for (name,) in self.conn.execute("SELECT name FROM sqlite_master")}
            for name, ddl in _TABLES.items():
                if name not in existing:
                    self.conn.execute(ddl)
                    actions.append(f"documents: created table {name} in {self.path}")
            for name, ddl in _INDEXES.items():
                if name not in existing:
                    self.conn.execute(ddl)
                    actions.append(f"documents: created index {name}")
        return actions

    def _validate(self, collection: str, doc: Mapping[str, Any]) -> dict:
        plain = _plain(doc)
        self._checker.check(collection, plain)
        return plain

    # --- configuration and rules ------------------------------------------------------------

    def load_active_configuration(self) -> dict:
        row = self.conn.execute(
            "SELECT doc FROM system_configuration WHERE status = ? ORDER BY updated_at DESC, config_id LIMIT 1",
            (ACTIVE,),
        ).fetchone()
        if row is None:
            raise NoActiveConfiguration("no ACTIVE system_configuration document; run `ddss init`")
        return json.loads(row[0])

    def load_active_rules(self, rule_set: str) -> list[dict]:
        rows = self.conn.execute(
            "SELECT doc FROM scoring_rule_definitions WHERE rule_set = ? AND status = ? ORDER BY rule_id",
            (rule_set, ACTIVE),
        )
        return [json.loads(doc) for (doc,) in rows]

    def put_configuration(self, doc: Mapping[str, Any]) -> bool:
        plain = self._validate(CONFIGURATION, doc)
        with transaction(self.conn):
            stored = self.conn.execute(
                "SELECT doc FROM system_configuration WHERE config_id = ?", (plain["configID"],)
            ).fetchone()
            changed = stored is None or json.loads(stored[0]) != plain
            if changed:
                self.conn.execute(
                    """INSERT INTO system_configuration (config_id, status, updated_at, doc) VALUES (?, ?, ?, ?)
                       ON CONFLICT DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at,
                                                 doc = excluded.doc""",
                    (plain["configID"], plain["status"], plain["metadata"]["updatedAt"], _dumps(plain)),
                )
            if plain["status"] == ACTIVE:
                before = self.conn.total_changes
                self.conn.execute(
                    """UPDATE system_configuration SET status = :inactive, doc = json_set(doc, '$.status', :inactive)
                       WHERE status = :active AND config_id != :id""",
                    {"inactive": INACTIVE, "active": ACTIVE, "id": plain["configID"]},
                )
                changed = changed or self.conn.total_changes > before
        return changed

    def upsert_rules(self, docs: Iterable[Mapping[str, Any]]) -> int:
        latest = {d["ruleID"]: d for d in (self._validate(RULES, doc) for doc in docs)}
        if not latest:
            return 0
        with transaction(self.conn):
            stored = dict(
                self.conn.execute(
                    "SELECT rule_id, doc FROM scoring_rule_definitions"
                    " WHERE rule_id IN (SELECT value FROM json_each(?))",
                    (json.dumps(list(latest)),),
                )
            )
            changed = [d for rule_id, d in latest.items() if rule_id not in stored or json.loads(stored[rule_id]) != d]
            self.conn.executemany(
                """INSERT INTO scoring_rule_definitions (rule_id, rule_set, status, doc) VALUES (?, ?, ?, ?)
                   ON CONFLICT DO UPDATE SET
                   rule_set = excluded.rule_set, status = excluded.status, doc = excluded.doc""",
                [(d["ruleID"], d["ruleSet"], d["status"], _dumps(d)) for d in changed],
            )
        return len(changed)

    # --- citizens -----------------------------------------------------------------------------

    @staticmethod
    def _citizen_rows(doc: Mapping[str, Any]) -> tuple[tuple, tuple]:
        """(citizens row, citizen_snapshots row) of a validated document."""
        snapshot = doc["scoreSnapshot"]
        metadata = doc["metadata"]
        stable = {k: v for k, v in doc.items() if k not in ("scoreSnapshot", "appliedOffsets")}
        stable["metadata"] = {k: v for k, v in metadata.items() if k not in ("version", "updatedAt")}
        return (
            (doc["nationalID"], doc["profile"].get("region"), _dumps(stable)),
            (
                doc["nationalID"],
                snapshot["currentScore"],
                snapshot["tier"],
                snapshot["lastCalculated"],
                _dumps(doc["appliedOffsets"]),
                metadata["version"],
                metadata["updatedAt"],
            ),
        )

    def _insert_citizens(self, docs: Sequence[Mapping[str, Any]], verb: str) -> int:
        """Insert validated documents (inside the caller's transaction); returns how many were new."""
        rows = sorted(self._citizen_rows(doc) for doc in docs)
        before = self.conn.total_changes
        self.conn.executemany(f"{verb} INTO citizens (national_id, region, doc) VALUES (?, ?, ?)", [r[0] for r in rows])
        created = self.conn.total_changes - before
        self.conn.executemany(
            """INSERT OR IGNORE INTO citizen_snapshots
               (national_id, score, tier, last_calculated, applied_offsets, version, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [r[1] for r in rows],
        )
        return created

    def create_citizens(self, docs: Iterable[Mapping[str, Any]], skip_existing: bool = True) -> int:
        valid = [self._validate(CITIZENS, doc) for doc in docs]
        try:
            with transaction(self.conn):
                return self._insert_citizens(valid, "INSERT OR IGNORE" if skip_existing else "INSERT")
        except sqlite3.IntegrityError:
            raise DuplicateKeyError(
                CITIZENS, "nationalID", self._first_taken([d["nationalID"] for d in valid])
            ) from None

    def _first_taken(self, ids: list[str]) -> str | None:
        seen: set[str] = set()
        for national_id in ids:
            if national_id in seen:
                return national_id
            seen.add(national_id)
        row = self.conn.execute(
            "SELECT min(national_id) FROM citizens WHERE national_id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        ).fetchone()
        return row[0]

    def get_citizens(self, ids: Iterable[str]) -> dict[str, dict]:
        rows = self.conn.execute(
            f"SELECT c.national_id, {_CITIZEN_DOC} FROM {_CITIZEN_ROWS}"
            " WHERE c.national_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        )
        # SQLite's json_set wrote the text (standard JSON); orjson reads it several times faster (a run reads every
        # citizen it touches)
        return {national_id: orjson.loads(doc) for national_id, doc in rows}

    def apply_snapshot_updates(self, updates: Sequence[SnapshotUpdate], scale: ScoreScale | None = None) -> int:
        if not updates:
            return 0
        self._snapshots.check(updates)
        now = _now_ms()
        creations = [self._validate(CITIZENS, created_by(u, now)) for u in updates if u.profile is not None]
        # per-citizen order is what matters; sorting by id keeps it (stable) and walks the B-tree in order
        ordered = sorted(updates, key=lambda u: u.national_id)
        with transaction(self.conn):  # BEGIN IMMEDIATE: no other writer between reading and writing the scores
            before = self.conn.total_changes
            created = self._insert_citizens(creations, "INSERT OR IGNORE")
            settled = self._settle(ordered, scale)
            self.conn.executemany(
                _GUARDED_UPDATE,
                [
                    (u.national_id, score, tier, u.calculated_at, f'$."{u.topic_partition}"', u.offset, now)
                    for u, (score, tier) in zip(ordered, settled)
                ],
            )
            # total_changes also counted the snapshot rows inserted with the new citizens
            return self.conn.total_changes - before - created

    def _settle(self, ordered: Sequence[SnapshotUpdate], scale: ScoreScale | None) -> list[tuple[float, str]]:
        """(score, tier) each update writes, from the stored snapshots and the batch's earlier updates."""
        if all(u.change is None for u in ordered):
            return [(u.score, u.tier) for u in ordered]
        scores: dict[str, float] = {}
        guards: dict[tuple[str, str], int] = {}
        for tp in {u.topic_partition for u in ordered}:
            ids = json.dumps([u.national_id for u in ordered if u.topic_partition == tp])
            for national_id, score, guard in self.conn.execute(_SCORES_AND_GUARDS, (ids, f'$."{tp}"')):
                scores[national_id], guards[national_id, tp] = score, guard
        settled = []
        for u in ordered:
            stored = scores.get(u.national_id)
            if stored is None or guards[u.national_id, u.topic_partition] >= u.offset:
                settled.append((u.score, u.tier))  # the guarded UPDATE skips it
                continue
            score, tier = moved(u, stored, scale)
            scores[u.national_id], guards[u.national_id, u.topic_partition] = score, u.offset
            settled.append((score, tier))
        return settled

    # --- parked association effects ----------------------------------------------------------

    def park_effects(self, effects: Sequence[ParkedEffect]) -> int:
        now = _now_ms()
        docs = [(e, self._validate(PARKED_EFFECTS, e.document(now))) for e in effects]
        with transaction(self.conn):
            before = self.conn.total_changes
            self.conn.executemany(
                """INSERT OR IGNORE INTO parked_effects
                   (effect_id, target_id, target_partition, status, event_time, doc) VALUES (?, ?, ?, ?, ?, ?)""",
                [(e.effect_id, e.target_id, e.target_partition, PARKED, e.time_ms, _dumps(d)) for e, d in docs],
            )
            return self.conn.total_changes - before

    def parked_effects(self, target_ids: Iterable[str]) -> list[ParkedEffect]:
        rows = self.conn.execute(
            "SELECT doc FROM parked_effects WHERE status = ? AND target_id IN (SELECT value FROM json_each(?))",
            (PARKED, json.dumps(list(target_ids))),
        )
        effects = [ParkedEffect.of(orjson.loads(doc)) for (doc,) in rows]
        return sorted(effects, key=lambda e: (e.target_id, e.source, e.source_offset))

    def settle_parked_effects(self, effect_ids: Iterable[str], status: str) -> int:
        with transaction(self.conn):
            return self.conn.execute(
                """UPDATE parked_effects SET status = :status,
                       doc = json_set(doc, '$.status', :status, '$.settledAt', :now)
                   WHERE status = :parked AND effect_id IN (SELECT value FROM json_each(:ids))""",
                {"status": status, "now": _now_ms(), "parked": PARKED, "ids": json.dumps(list(effect_ids))},
            ).rowcount

    def expire_parked_effects(self, target_partition: int, before_ms: int) -> int:
        with transaction(self.conn):
            return self.conn.execute(
                """UPDATE parked_effects SET status = :expired,
                       doc = json_set(doc, '$.status', :expired, '$.settledAt', :now)
                   WHERE status = :parked AND target_partition = :partition AND event_time < :before""",
                {
                    "expired": EXPIRED,
                    "now": _now_ms(),
                    "parked": PARKED,
                    "partition": target_partition,
                    "before": before_ms,
                },
            ).rowcount

    def parked_effect_counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT status, count(*) FROM parked_effects GROUP BY status ORDER BY status"))

    # --- partition fences ---------------------------------------------------------------------

    def take_fence(
        self, key: str, holder: str, kind: str, now_ms: int, live_since_ms: int, yield_to: Sequence[str]
    ) -> int | None:
        with transaction(self.conn):
            # a data directory initialised before fences existed gets their table on first use
            self.conn.execute(_TABLES[PARTITION_FENCES].replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
            row = self.conn.execute(
                "SELECT epoch, holder, kind, heartbeat_ms FROM partition_fences WHERE fence_key = ?", (key,)
            ).fetchone()
            if row is not None and row[1] is not None and row[2] in yield_to and row[3] >= live_since_ms:
                return None
            epoch = (row[0] if row else 0) + 1
            self.conn.execute(
                "INSERT INTO partition_fences VALUES (?, ?, ?, ?, ?) ON CONFLICT (fence_key) DO UPDATE SET"
                " epoch = excluded.epoch, holder = excluded.holder, kind = excluded.kind,"
                " heartbeat_ms = excluded.heartbeat_ms",
                (key, epoch, holder, kind, now_ms),
            )
            return epoch

    def renew_fence(self, key: str, epoch: int, now_ms: int) -> bool:
        with transaction(self.conn):
            return bool(
                self.conn.execute(
                    "UPDATE partition_fences SET heartbeat_ms = ? WHERE fence_key = ? AND epoch = ?",
                    (now_ms, key, epoch),
                ).rowcount
            )

    def release_fence(self, key: str, epoch: int) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE partition_fences SET holder = NULL, kind = NULL WHERE fence_key = ? AND epoch = ?",
                (key, epoch),
            )

    def fences(self) -> list[PartitionFence]:
        try:
            rows = self.conn.execute("SELECT * FROM partition_fences ORDER BY fence_key").fetchall()
        except sqlite3.OperationalError:  # no fence taken yet in a data directory older than fences
            return []
        return [PartitionFence(*row) for row in rows]

    def find_citizens(
        self,
        tier: str | None = None,
        region: str | None = None,
        min_score: float | None = None,
        max_score: float | None = None,
        after_id: str | None = None,
        limit: int = 100,
        id_prefix: str | None = None,
    ) -> list[dict]:
        filters = {
            "s.tier = :tier": tier,
            "c.region = :region": region,
            "s.score >= :min_score": min_score,
            "s.score <= :max_score": max_score,
            "c.national_id > :after_id": after_id,
            "c.national_id >= :id_prefix AND c.national_id < :prefix_end": id_prefix,
        }
        where = " AND ".join(clause for clause, value in filters.items() if value is not None) or "1"
        rows = self.conn.execute(
            f"SELECT {_CITIZEN_DOC} FROM {_CITIZEN_ROWS} WHERE {where} ORDER BY c.national_id LIMIT :limit",
            {
                "tier": tier,
                "region": region,
                "min_score": min_score,
                "max_score": max_score,
                "after_id": after_id,
                "id_prefix": id_prefix,
                "prefix_end": f"{id_prefix}{PREFIX_END}",
                "limit": int(limit),
            },
        )
        return [json.loads(doc) for (doc,) in rows]

    def count_by_tier(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT tier, count(*) FROM citizen_snapshots GROUP BY tier ORDER BY tier"))

    def citizen_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM citizens").fetchone()[0]

    def all_snapshots(self) -> pd.DataFrame:
        profile = ", ".join(f"json_extract(c.doc, '$.profile.{name}')" for name in PROFILE_COLUMNS)
        rows = self.conn.execute(
            f"""SELECT c.national_id, s.score, s.tier, s.last_calculated, {profile}, json_extract(c.doc, '$.flags')
                FROM {_CITIZEN_ROWS} ORDER BY c.national_id"""
        ).fetchall()
        return snapshot_frame([row[:-1] for row in rows], [json.loads(row[-1]) for row in rows])
