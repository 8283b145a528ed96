"""Production documents adapter: pymongo → MongoDB.

Collections carry the ``$jsonSchema`` validators from ``schemas/documents/`` (installed by
``ensure_schema``; ``collMod`` when a collection exists with another validator) and the unique
indexes, so the server itself refuses bad documents (error 121) and taken keys (11000); both are
translated into this port's ``DocumentValidationError`` / ``DuplicateKeyError``. A MongoDB-compatible
server that cannot hold a validator (FerretDB answers NotImplemented) gets the collection without one,
and the adapter then checks every document it writes to it against the same schema itself.

Snapshot updates are one ordered ``bulk_write``: each update's replay guard is in its filter, and
only a creating update (new-citizen event) upserts, through ``$setOnInsert``. An update that moves
the score is computed from the document as read and also filters on its ``metadata.version``
(compare-and-set); the ones a concurrent writer made miss are read and written again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import pandas as pd
import pymongo
from pymongo import ASCENDING, DESCENDING, InsertOne, ReplaceOne, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, OperationFailure
from pymongo.errors import DuplicateKeyError as MongoDuplicateKeyError
from tenacity import (
    Retrying,
    retry,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from ddss_platform.settings import DEFAULT_CONNECT_TIMEOUT_S, StoreURL
from ddss_platform.stores.documents import (
    ACTIVE,
    CITIZENS,
    COLLECTIONS,
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
    refused,
    snapshot_frame,
)
from ddss_platform.stores.documents.validation import DocumentValidationError
from ddss_platform.stores.reachability import require_reachable, unreachable

DEFAULT_DATABASE = "ddss"
DEFAULT_PORT = 27017
MOVE_ATTEMPTS = 30
VALIDATION_FAILED = 121
NOT_IMPLEMENTED = 238
DUPLICATE_KEY = 11000

# collection -> index name -> (keys, unique)
INDEXES: dict[str, dict[str, tuple[list[tuple[str, int]], bool]]] = {
    CITIZENS: {
        "nationalID_unique": ([("nationalID", ASCENDING)], True),
        "tier_nationalID": ([("scoreSnapshot.tier", ASCENDING), ("nationalID", ASCENDING)], False),
        "region_nationalID": ([("profile.region", ASCENDING), ("nationalID", ASCENDING)], False),
        "score": ([("scoreSnapshot.currentScore", ASCENDING)], False),
    },
    RULES: {
        "ruleID_unique": ([("ruleID", ASCENDING)], True),
        "ruleSet_status": ([("ruleSet", ASCENDING), ("status", ASCENDING)], False),
    },
    CONFIGURATION: {
        "configID_unique": ([("configID", ASCENDING)], True),
        "status_updatedAt": ([("status", ASCENDING), ("metadata.updatedAt", DESCENDING)], False),
    },
    PARKED_EFFECTS: {
        "effectID_unique": ([("effectID", ASCENDING)], True),
        "target_status": ([("targetCitizenId", ASCENDING), ("status", ASCENDING)], False),
        "status_partition_time": (
            [("status", ASCENDING), ("targetPartition", ASCENDING), ("eventTime", ASCENDING)],
            False,
        ),
    },
}
_NO_ID = {"_id": False}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def failing_field(details: Mapping[str, Any], path: tuple[str, ...] = ()) -> tuple[str, str]:
    """(dotted field, reason) from the ``errInfo.details`` MongoDB attaches to a 121 error."""
    if "schemaRulesNotSatisfied" in details:
        return failing_field(details["schemaRulesNotSatisfied"][0], path)
    operator = details.get("operatorName", "")
    if operator == "properties":
        prop = details["propertiesNotSatisfied"][0]
        return failing_field(prop["details"][0], (*path, prop["propertyName"]))
    if operator == "required":
        return ".".join((*path, details["missingProperties"][0])), "is a required property"
    if operator == "additionalProperties":
        if "failingProperty" in details:
            return failing_field(details["details"][0], (*path, details["failingProperty"]))
        return ".".join((*path, details["additionalProperties"][0])), "is not an allowed property"
    if operator == "items" and "itemIndex" in details:
        return failing_field(details["details"][0], (*path, str(details["itemIndex"])))
    if details.get("details"):
        return failing_field(details["details"][0], path)
    value = details.get("consideredValue", "the value")
    return ".".join(path), f"{value!r}: {details.get('reason', 'failed')} ({operator} {details.get('specifiedAs')})"


def translate(error: Exception, collection: str, docs_by_index: Sequence[Mapping[str, Any]] | None = None) -> Exception:
    """The port's exception for a validation (121) or duplicate-key (11000) failure."""
    if isinstance(error, BulkWriteError):
        write_errors = error.details.get("writeErrors") or [{}]
        first = write_errors[0]
        code, info = first.get("code"), first
        doc = docs_by_index[first["index"]] if docs_by_index is not None and "index" in first else {}
    elif isinstance(error, OperationFailure):
        code, info, doc = error.code, error.details or {}, (docs_by_index or [{}])[0]
    else:
        return error
    key = COLLECTIONS[collection]
    if code == VALIDATION_FAILED:
        field, reason = failing_field((info.get("errInfo") or {}).get("details") or {})
        return refused(collection, doc, DocumentValidationError(field, reason))
    if code == DUPLICATE_KEY:
        value = (info.get("keyValue") or {}).get(key, doc.get(key))
        return DuplicateKeyError(collection, key, value)
    return error


def _lost_upsert_race(error: BaseException) -> bool:
    if not isinstance(error, BulkWriteError):
        return False
    first = (error.details.get("writeErrors") or [{}])[0]
    return first.get("code") == DUPLICATE_KEY and bool(first.get("op", {}).get("upsert"))


def _stored(doc: Mapping[str, Any]) -> dict:
    return {k: v for k, v in doc.items() if k != "_id"}


class _Stored(NamedTuple):
    """What moving a citizen's score reads: the score, the document version and the replay guards."""

    score: float
    version: int | None
    offsets: Mapping[str, int]


class _Moved(NamedTuple):
    score: float
    tier: str
    version: int | None  # of the document the score was computed from


class _MovesMissed(RuntimeError):
    """Some score moves missed (see ``apply_snapshot_updates``)."""


class MongoDocuments:
    def __init__(self, database: pymongo.database.Database):
        self.db = database
        # refuse a bad batch before any of it is written, as the embedded adapter does; the server's validator
        # stays the last word
        self._snapshots = SnapshotChecker(load_schema(CITIZENS))
        self._checker = DocumentChecker()
        self._unguarded: set[str] | None = None  # collections without the server's validator

    @classmethod
    def connect(
        cls, url: StoreURL, database: str | None = None, connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    ) -> MongoDocuments:
        """The database named by the URL path (default "ddss") unless ``database`` is given."""
        if url.scheme == "mongodb":  # mongodb+srv:// names DNS records, not hosts: the driver resolves them
            require_reachable(url, DEFAULT_PORT, connect_timeout_s)
        timeout_ms = max(1, int(connect_timeout_s * 1000))
        client = pymongo.MongoClient(url.raw, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
        try:
            client.admin.command("ping")
        except pymongo.errors.PyMongoError as exc:
            client.close()
            # "No servers found yet, Timeout: 10.0s, Topology Description: <…>": the part before the topology
            raise unreachable(url, exc, str(exc).split(", Topology Description")[0]) from exc
        return cls(client[database or url.path or DEFAULT_DATABASE])

    def close(self) -> None:
        self.db.client.close()

    def ensure_schema(self) -> list[str]:
        actions = []
        existing = {c["name"]: c.get("options", {}) for c in self.db.list_collections()}
        for name in COLLECTIONS:
            validator = {"$jsonSchema": load_schema(name)}
            if name not in existing:
                actions.append(self._create_collection(name, validator))
            elif existing[name].get("validator") != validator:
                try:
                    self.db.command(
                        "collMod", name, validator=validator, validationLevel="strict", validationAction="error"
                    )
                    actions.append(f"documents: updated the $jsonSchema validator of {name} (collMod)")
                except OperationFailure as error:
                    if error.code != NOT_IMPLEMENTED:
                        raise
            present = set(self.db[name].index_information())
            for index, (keys, unique) in INDEXES[name].items():
                if index not in present:
                    self.db[name].create_index(keys, name=index, unique=unique)
                    actions.append(f"documents: created {'unique ' if unique else ''}index {name}.{index}")
        return actions

    def _create_collection(self, name: str, validator: Mapping[str, Any]) -> str:
        try:
            self.db.create_collection(name, validator=validator, validationLevel="strict", validationAction="error")
            return f"documents: created collection {name} with its $jsonSchema validator"
        except OperationFailure as error:
            if error.code != NOT_IMPLEMENTED:
                raise
        self.db.create_collection(name)
        self._unguarded = None
        return (
            f"documents: created collection {name}; this server cannot hold a $jsonSchema validator, so the "
            "adapter checks each document itself"
        )

    def _check(self, collection: str, docs: Iterable[Mapping[str, Any]]) -> None:
        """Refuse documents breaking the schema here where the server would not (no validator on it)."""
        if self._unguarded is None:
            self._unguarded = {c["name"] for c in self.db.list_collections() if "validator" not in c.get("options", {})}
        if collection in self._unguarded:
            for doc in docs:
                self._checker.check(collection, doc)

    # --- configuration and rules ------------------------------------------------------------

    def load_active_configuration(self) -> dict:
        doc = self.db[CONFIGURATION].find_one(
            {"status": ACTIVE}, _NO_ID, sort=[("metadata.updatedAt", DESCENDING), ("configID", ASCENDING)]
        )
        if doc is None:
            raise NoActiveConfiguration("no ACTIVE system_configuration document; run `ddss init`")
        return doc

    def load_active_rules(self, rule_set: str) -> list[dict]:
        return list(self.db[RULES].find({"ruleSet": rule_set, "status": ACTIVE}, _NO_ID).sort("ruleID", ASCENDING))

    def put_configuration(self, doc: Mapping[str, Any]) -> bool:
        doc = _stored(doc)
        self._check(CONFIGURATION, [doc])
        collection = self.db[CONFIGURATION]
        changed = collection.find_one({"configID": doc["configID"]}, _NO_ID) != doc
        try:
            if changed:
                collection.replace_one({"configID": doc["configID"]}, doc, upsert=True)
            if doc["status"] == ACTIVE:
                others = collection.update_many(
                    {"status": ACTIVE, "configID": {"$ne": doc["configID"]}}, {"$set": {"status": INACTIVE}}
                )
                changed = changed or others.modified_count > 0
        except OperationFailure as error:
            raise translate(error, CONFIGURATION, [doc]) from None
        return changed

    def upsert_rules(self, docs: Iterable[Mapping[str, Any]]) -> int:
        latest = {d["ruleID"]: _stored(d) for d in docs}
        if not latest:
            return 0
        stored = {d["ruleID"]: d for d in self.db[RULES].find({"ruleID": {"$in": list(latest)}}, _NO_ID)}
        changed = [d for rule_id, d in latest.items() if stored.get(rule_id) != d]
        self._check(RULES, changed)
        if changed:
            try:
                self._bulk(RULES, [ReplaceOne({"ruleID": d["ruleID"]}, d, upsert=True) for d in changed])
            except BulkWriteError as error:
                raise translate(error, RULES, changed) from None
        return len(changed)

    # --- citizens -----------------------------------------------------------------------------

    def create_citizens(self, docs: Iterable[Mapping[str, Any]], skip_existing: bool = True) -> int:
        docs = [_stored(d) for d in docs]
        if not docs:
            return 0
        self._check(CITIZENS, docs)
        if skip_existing:
            ops = [UpdateOne({"nationalID": d["nationalID"]}, {"$setOnInsert": d}, upsert=True) for d in docs]
        else:
            ops = [InsertOne(dict(d)) for d in docs]  # a copy: insert adds _id to the document it is given
        try:
            result = self._bulk(CITIZENS, ops)
        except BulkWriteError as error:
            raise translate(error, CITIZENS, docs) from None
        return result.upserted_count if skip_existing else result.inserted_count

    @retry(retry=retry_if_exception(_lost_upsert_race), stop=stop_after_attempt(3), reraise=True)
    def _bulk(self, collection: str, ops: list):
        """One ordered bulk_write. Every operation here is idempotent, so when a concurrent writer
        inserted the same new key first (11000 on an upsert) running the batch again converges
        (the returned counts then cover the last attempt only)."""
        return self.db[collection].bulk_write(ops, ordered=True)

    def get_citizens(self, ids: Iterable[str]) -> dict[str, dict]:
        found = self.db[CITIZENS].find({"nationalID": {"$in": list(ids)}}, _NO_ID)
        return {doc["nationalID"]: doc for doc in found}

    @staticmethod
    def guarded_update(update: SnapshotUpdate, now_ms: int, moved_to: _Moved | None = None) -> UpdateOne:
        """The UpdateOne for one snapshot update: the offset guard is in the filter, and for an update
        that moves the score, the document version it was computed from (a compare-and-set)."""
        offset_field = f"appliedOffsets.{update.topic_partition}"
        query: dict[str, Any] = {
            "nationalID": update.national_id,
            "$or": [{offset_field: {"$lt": update.offset}}, {offset_field: {"$exists": False}}],
        }
        score, tier = update.score, update.tier
        if moved_to is not None:
            query["metadata.version"] = moved_to.version
            score, tier = moved_to.score, moved_to.tier
        return UpdateOne(
            query,
            {
                "$set": {
                    "scoreSnapshot.currentScore": score,
                    "scoreSnapshot.tier": tier,
                    "scoreSnapshot.lastCalculated": update.calculated_at,
                    offset_field: update.offset,
                    "metadata.updatedAt": now_ms,
                },
                "$inc": {"metadata.version": 1},
            },
        )

    @classmethod
    def snapshot_operations(
        cls,
        updates: Sequence[SnapshotUpdate],
        now_ms: int,
        stored: Mapping[str, _Stored] | None = None,
        scale: ScoreScale | None = None,
    ) -> tuple[list, list[dict]]:
        """The ordered bulk operations and, per operation, the document it concerns (for error messages).
        ``stored`` holds the snapshot of every existing citizen an update with a ``change`` concerns."""
        ops, concerns = [], []
        states = dict(stored or {})
        for u in updates:
            if u.profile is not None:
                doc = created_by(u, now_ms)
                ops.append(UpdateOne({"nationalID": u.national_id}, {"$setOnInsert": doc}, upsert=True))
                concerns.append(doc)
                # later updates of the batch (the citizen's parked effects) move the document this inserts
                states.setdefault(
                    u.national_id,
                    _Stored(u.score, doc["metadata"]["version"], {u.topic_partition: u.offset}),
                )
            moved_to = None
            if u.change is not None:
                state = states.get(u.national_id)
                if state is None or state.offsets.get(u.topic_partition, -1) >= u.offset:
                    continue  # unknown citizen (or created just above, this update included), or a replay
                score, tier = moved(u, state.score, scale)
                moved_to = _Moved(score, tier, state.version)
                states[u.national_id] = _Stored(
                    score, (state.version or 0) + 1, {**state.offsets, u.topic_partition: u.offset}
                )
            ops.append(cls.guarded_update(u, now_ms, moved_to))
            concerns.append({"nationalID": u.national_id})
        return ops, concerns

    def _stored(self, updates: Sequence[SnapshotUpdate]) -> dict[str, _Stored]:
        ids = list({u.national_id for u in updates if u.change is not None})
        if not ids:
            return {}
        found = self.db[CITIZENS].find(
            {"nationalID": {"$in": ids}},
            {
                "_id": False,
                "nationalID": True,
                "scoreSnapshot.currentScore": True,
                "metadata.version": True,
                "appliedOffsets": True,
            },
        )
        return {
            d["nationalID"]: _Stored(
                d["scoreSnapshot"]["currentScore"], d.get("metadata", {}).get("version"), d.get("appliedOffsets", {})
            )
            for d in found
        }

    def apply_snapshot_updates(self, updates: Sequence[SnapshotUpdate], scale: ScoreScale | None = None) -> int:
        if not updates:
            return 0
        self._snapshots.check(updates)
        applied, pending = 0, list(updates)
        # a move misses when another writer changed the citizen after it was read: it is read and computed
        # again, after a random pause so that two writers hammering the same citizens take turns
        for attempt in Retrying(
            retry=retry_if_exception_type(_MovesMissed),
            stop=stop_after_attempt(MOVE_ATTEMPTS),
            wait=wait_random_exponential(multiplier=0.002, max=0.2),
            reraise=True,
        ):
            with attempt:
                written, pending = self._write_round(pending, scale)
                applied += written
                if pending:
                    raise _MovesMissed(f"{len(pending)} score moves missed: concurrent writers changed those citizens")
        return applied

    def _write_round(self, updates: list[SnapshotUpdate], scale: ScoreScale | None) -> tuple[int, list[SnapshotUpdate]]:
        """(documents written, the moves that missed)."""
        now = _now_ms()
        self._check(CITIZENS, [created_by(u, now) for u in updates if u.profile is not None])
        ops, concerns = self.snapshot_operations(updates, now, self._stored(updates), scale)
        if not ops:
            return 0, []  # every update is a replay
        try:
            result = self._bulk(CITIZENS, ops)
        except BulkWriteError as error:
            raise translate(error, CITIZENS, concerns) from None
        written = result.upserted_count + result.modified_count
        if result.matched_count + result.upserted_count == len(ops):
            return written, []  # every filter matched: no move missed
        now = self._stored(updates)
        return written, [
            u
            for u in updates
            if u.change is not None
            and u.national_id in now
            and now[u.national_id].offsets.get(u.topic_partition, -1) < u.offset
        ]

    # --- parked association effects ----------------------------------------------------------

    def park_effects(self, effects: Sequence[ParkedEffect]) -> int:
        now = _now_ms()
        docs = [e.document(now) for e in effects]
        if not docs:
            return 0
        self._check(PARKED_EFFECTS, docs)
        ops = [UpdateOne({"effectID": d["effectID"]}, {"$setOnInsert": d}, upsert=True) for d in docs]
        try:
            return self._bulk(PARKED_EFFECTS, ops).upserted_count
        except BulkWriteError as error:
            raise translate(error, PARKED_EFFECTS, docs) from None

    def parked_effects(self, target_ids: Iterable[str]) -> list[ParkedEffect]:
        found = self.db[PARKED_EFFECTS].find({"targetCitizenId": {"$in": list(target_ids)}, "status": PARKED}, _NO_ID)
        return sorted((ParkedEffect.of(d) for d in found), key=lambda e: (e.target_id, e.source, e.source_offset))

    def settle_parked_effects(self, effect_ids: Iterable[str], status: str) -> int:
        result = self.db[PARKED_EFFECTS].update_many(
            {"effectID": {"$in": list(effect_ids)}, "status": PARKED},
            {"$set": {"status": status, "settledAt": _now_ms()}},
        )
        return result.modified_count

    def expire_parked_effects(self, target_partition: int, before_ms: int) -> int:
        result = self.db[PARKED_EFFECTS].update_many(
            {"status": PARKED, "targetPartition": int(target_partition), "eventTime": {"$lt": int(before_ms)}},
            {"$set": {"status": EXPIRED, "settledAt": _now_ms()}},
        )
        return result.modified_count

    def parked_effect_counts(self) -> dict[str, int]:
        groups = self.db[PARKED_EFFECTS].aggregate([{"$group": {"_id": "$status", "count": {"$sum": 1}}}])
        return {g["_id"]: g["count"] for g in sorted(groups, key=lambda g: g["_id"])}

    # --- partition fences (documents keyed by _id: the fence key) ------------------------------

    def take_fence(
        self, key: str, holder: str, kind: str, now_ms: int, live_since_ms: int, yield_to: Sequence[str]
    ) -> int | None:
        fields = {"holder": holder, "kind": kind, "heartbeatMs": int(now_ms)}
        free = {"$or": [{"holder": None}, {"kind": {"$nin": list(yield_to)}}, {"heartbeatMs": {"$lt": live_since_ms}}]}
        taken = self.db[PARTITION_FENCES].find_one_and_update(
            {"_id": key, **free}, {"$inc": {"epoch": 1}, "$set": fields}, return_document=ReturnDocument.AFTER
        )
        if taken is not None:
            return taken["epoch"]
        try:  # never taken before; the insert fails when the fence exists (and is held)
            self.db[PARTITION_FENCES].insert_one({"_id": key, "epoch": 1, **fields})
        except MongoDuplicateKeyError:
            return None
        return 1

    def renew_fence(self, key: str, epoch: int, now_ms: int) -> bool:
        found = self.db[PARTITION_FENCES].update_one({"_id": key, "epoch": epoch}, {"$set": {"heartbeatMs": now_ms}})
        return found.matched_count == 1

    def release_fence(self, key: str, epoch: int) -> None:
        self.db[PARTITION_FENCES].update_one({"_id": key, "epoch": epoch}, {"$set": {"holder": None, "kind": None}})

    def fences(self) -> list[PartitionFence]:
        found = self.db[PARTITION_FENCES].find({}).sort("_id", ASCENDING)
        return [PartitionFence(d["_id"], d["epoch"], d["holder"], d["kind"], d["heartbeatMs"]) for d in found]

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
        query: dict[str, Any] = {}
        if tier is not None:
            query["scoreSnapshot.tier"] = tier
        if region is not None:
            query["profile.region"] = region
        score = {op: v for op, v in (("$gte", min_score), ("$lte", max_score)) if v is not None}
        if score:
            query["scoreSnapshot.currentScore"] = score
        ids = {"$gt": after_id} if after_id is not None else {}
        if id_prefix is not None:
            ids.update({"$gte": id_prefix, "$lt": f"{id_prefix}{PREFIX_END}"})
        if ids:
            query["nationalID"] = ids
        return list(self.db[CITIZENS].find(query, _NO_ID).sort("nationalID", ASCENDING).limit(int(limit)))

    def count_by_tier(self) -> dict[str, int]:
        groups = self.db[CITIZENS].aggregate([{"$group": {"_id": "$scoreSnapshot.tier", "n": {"$sum": 1}}}])
        return {g["_id"]: g["n"] for g in sorted(groups, key=lambda g: g["_id"])}

    def citizen_count(self) -> int:
        return self.db[CITIZENS].count_documents({})

    def all_snapshots(self) -> pd.DataFrame:
        projection = {
            "_id": False,
            "nationalID": True,
            "scoreSnapshot": True,
            "flags": True,
            **{f"profile.{name}": True for name in PROFILE_COLUMNS},
        }
        rows, flags = [], []
        for d in self.db[CITIZENS].find({}, projection).sort("nationalID", ASCENDING).batch_size(10_000):
            snapshot, profile = d["scoreSnapshot"], d.get("profile", {})
            rows.append(
                (
                    d["nationalID"],
                    snapshot["currentScore"],
                    snapshot["tier"],
                    snapshot["lastCalculated"],
                    *(profile.get(name) for name in PROFILE_COLUMNS),
                )
            )
            flags.append(d.get("flags", {}))
        return snapshot_frame(rows, flags)
