"""Documents port (MongoDB role): citizens, scoring_rule_definitions, system_configuration, parked_effects.

Both adapters enforce the same ``$jsonSchema`` files (``schemas/documents/``) and unique keys; a
refused document raises ``DocumentValidationError`` naming the field, a second document with a
taken key raises ``DuplicateKeyError``.

Snapshot updates are guarded by the citizen's ``appliedOffsets[topic/partition]``: an update
whose offset is not newer than the stored one is skipped, so replaying a range is a no-op. A scoring
run's update carries the net ``change`` its batch made, which the store adds to the stored score
(clamped and re-tiered by the configuration's ``ScoreScale``) in one atomic step: runs of different
partitions that both move a citizen then both count, whatever their interleaving.

parked_effects holds the association effects whose target was not registered when the effect reached the
target's partition (``ParkedEffect``): parking is idempotent by ``effectID``; a parked effect is later settled
once, as APPLIED (its target registered) or EXPIRED (it waited past the park window).

partition_fences holds one fence per scored partition (``PartitionFence``): who may write for the partition now,
and the epoch its holder got when it took it. Taking a fence raises its epoch in one atomic step, so a holder that
lost it (paused, cut off) finds its epoch stale on its next renewal and writes nothing more.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ddss_platform.stores.documents.validation import DocumentValidationError, document_validator, validator_for

if TYPE_CHECKING:
    import pandas as pd

    from ddss_platform.settings import Settings

__all__ = [
    "COLLECTIONS",
    "DocumentStore",
    "DocumentValidationError",
    "DuplicateKeyError",
    "NoActiveConfiguration",
    "ParkedEffect",
    "PartitionFence",
    "ScoreScale",
    "SnapshotUpdate",
    "new_citizen_document",
    "offset_key",
    "open_documents",
]

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas" / "documents"

CITIZENS = "citizens"
RULES = "scoring_rule_definitions"
CONFIGURATION = "system_configuration"
PARKED_EFFECTS = "parked_effects"
PARTITION_FENCES = "partition_fences"
# collection -> its unique key field
COLLECTIONS: dict[str, str] = {
    CITIZENS: "nationalID",
    RULES: "ruleID",
    CONFIGURATION: "configID",
    PARKED_EFFECTS: "effectID",
}
PARKED, APPLIED, EXPIRED = "PARKED", "APPLIED", "EXPIRED"
"""parked_effects statuses: waiting for the target, applied when it registered, expired after the window."""
ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"

# profile fields that all_snapshots() turns into columns (flags become one column each)
PROFILE_COLUMNS = ("region", "city", "gender", "dateOfBirth", "occupation")
SNAPSHOT_COLUMNS = ("nationalID", "score", "tier", "lastCalculated", *PROFILE_COLUMNS)


def schema_path(collection: str) -> Path:
    return SCHEMA_DIR / f"{collection}.schema.json"


def load_schema(collection: str) -> dict:
    return json.loads(schema_path(collection).read_text())


class DuplicateKeyError(ValueError):
    """A document's unique key is taken (MongoDB error 11000)."""

    def __init__(self, collection: str, key: str, value: Any):
        super().__init__(f"{collection}: {key}={value!r} already exists")
        self.collection, self.key, self.value = collection, key, value


class NoActiveConfiguration(LookupError):
    """system_configuration holds no document with status ACTIVE (run `ddss init`)."""


def refused(collection: str, doc: Mapping[str, Any], error: DocumentValidationError) -> DocumentValidationError:
    """The same error, its message also naming the document that broke the schema."""
    key = COLLECTIONS[collection]
    return DocumentValidationError(error.field, f"{error.message} (in {collection} {key}={doc.get(key)!r})")


class DocumentChecker:
    """Every collection's schema, compiled once: the embedded adapter checks each document it writes, and the
    MongoDB adapter does so for collections whose server holds no ``$jsonSchema`` validator (FerretDB)."""

    def __init__(self):
        self._validators = {name: validator_for(schema_path(name)) for name in COLLECTIONS}

    def check(self, collection: str, doc: Mapping[str, Any]) -> None:
        """DocumentValidationError naming the field and the document when ``doc`` breaks the schema."""
        try:
            self._validators[collection](doc)
        except DocumentValidationError as error:
            raise refused(collection, doc, error) from None


_SAFE_KEY = re.compile(r"^[A-Za-z0-9_/%-]+$")


def offset_key(topic: str, partition: int) -> str:
    """The appliedOffsets field name of a topic partition, e.g. "citizen-events/0".

    MongoDB field names may not contain "." or start with "$", and Kafka topic names may contain
    ".", so those characters are percent-encoded."""
    key = f"{topic}/{int(partition)}".replace("%", "%25").replace(".", "%2E").replace("$", "%24")
    if not _SAFE_KEY.match(key):
        raise ValueError(f"topic {topic!r} gives an unusable offset key {key!r}")
    return key


@dataclass(frozen=True, slots=True)
class SnapshotUpdate:
    """Set a citizen's score snapshot as of ``offset`` of ``topic_partition`` (see ``offset_key``).

    With ``change`` set the stored score moves by it (``score``/``tier`` are then what the batch saw, kept
    only by a citizen this update creates); without it the snapshot is set to ``score``/``tier``.
    With ``profile`` set (a new-citizen event) the citizen is created when missing, with these
    profile/flags/contact details; otherwise an unknown citizen is skipped."""

    national_id: str
    score: float
    tier: str
    calculated_at: int  # epoch ms (scoreSnapshot.lastCalculated)
    topic_partition: str
    offset: int
    profile: Mapping[str, Any] | None = None
    flags: Mapping[str, bool] | None = None
    contact_info: Mapping[str, Any] | None = None
    change: float | None = None

    def __post_init__(self) -> None:
        # plain Python numbers whatever the caller computed with (numpy, int scores): what BSON and SQLite store
        object.__setattr__(self, "score", float(self.score))
        object.__setattr__(self, "calculated_at", int(self.calculated_at))
        object.__setattr__(self, "offset", int(self.offset))
        if not _SAFE_KEY.match(self.topic_partition):
            raise ValueError(f"topic_partition {self.topic_partition!r} is not an offset_key(topic, partition)")


@dataclass(frozen=True, slots=True)
class ParkedEffect:
    """An association effect waiting for its target citizen to register."""

    target_id: str
    target_partition: int  # the citizen-effects partition it came from: its owner settles it
    source: str  # the source event's topic-partition ("citizen-events/0")
    source_offset: int
    event_id: str
    time_ms: int  # the source event's time
    changes: tuple[tuple[str, float], ...]  # (rule id, points)

    @property
    def effect_id(self) -> str:
        return f"{self.source}/{self.source_offset}/{self.target_id}"

    def document(self, now_ms: int) -> dict:
        return {
            "effectID": self.effect_id,
            "targetCitizenId": self.target_id,
            "targetPartition": int(self.target_partition),
            "source": self.source,
            "sourceOffset": int(self.source_offset),
            "sourceEventId": self.event_id,
            "eventTime": int(self.time_ms),
            "changes": [{"ruleId": rule_id, "points": float(points)} for rule_id, points in self.changes],
            "status": PARKED,
            "parkedAt": int(now_ms),
        }

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> ParkedEffect:
        return cls(
            doc["targetCitizenId"],
            doc["targetPartition"],
            doc["source"],
            doc["sourceOffset"],
            doc["sourceEventId"],
            doc["eventTime"],
            tuple((c["ruleId"], c["points"]) for c in doc["changes"]),
        )


@dataclass(frozen=True, slots=True)
class PartitionFence:
    """Who may write for one scored partition (``key``, e.g. "ddss-scoring/3"), since which epoch. ``holder`` is
    None once released; ``kind`` says what holds it (a worker, a run), ``heartbeat_ms`` when it last renewed."""

    key: str
    epoch: int
    holder: str | None
    kind: str | None
    heartbeat_ms: int


PREFIX_END = "\U0010ffff"
"""Above every character: the nationalIDs starting with ``p`` are those in [p, p + PREFIX_END), an index range."""


def new_citizen_document(
    national_id: str,
    profile: Mapping[str, Any],
    flags: Mapping[str, bool] | None,
    score: float,
    tier: str,
    at_ms: int,
    contact_info: Mapping[str, Any] | None = None,
    applied_offsets: Mapping[str, int] | None = None,
) -> dict:
    """A complete citizens document (version 1) as both adapters store it."""
    doc: dict[str, Any] = {
        "nationalID": national_id,
        "profile": dict(profile),
        "flags": dict(flags or {}),
        "scoreSnapshot": {"currentScore": float(score), "tier": tier, "lastCalculated": int(at_ms)},
        "appliedOffsets": dict(applied_offsets or {}),
        "metadata": {"version": 1, "createdAt": int(at_ms), "updatedAt": int(at_ms)},
    }
    if contact_info:
        doc["contactInfo"] = dict(contact_info)
    return doc


class ScoreScale(Protocol):
    """Bounds and tiers of the active configuration (``ScoringConfig`` is one)."""

    def clamp(self, score: float) -> float: ...

    def tier_for(self, score: float) -> str: ...


def moved(update: SnapshotUpdate, stored_score: float, scale: ScoreScale | None) -> tuple[float, str]:
    """(score, tier) an update leaves on a citizen whose stored score is ``stored_score``."""
    if update.change is None:
        return update.score, update.tier
    if scale is None:
        raise ValueError(
            f"the update of {update.national_id} moves the score by {update.change}: it needs a ScoreScale"
        )
    score = scale.clamp(stored_score + update.change)
    return score, scale.tier_for(score)


def created_by(update: SnapshotUpdate, now_ms: int) -> dict:
    """The citizen document a creating update inserts (the update already applied)."""
    doc = new_citizen_document(
        update.national_id,
        update.profile or {},
        update.flags,
        update.score,
        update.tier,
        update.calculated_at,
        update.contact_info,
        {update.topic_partition: int(update.offset)},
    )
    doc["metadata"].update(createdAt=now_ms, updatedAt=now_ms)
    return doc


class SnapshotChecker:
    """Checks a batch of snapshot updates against the citizens schema without validating each one.

    The fields an update writes (scoreSnapshot.*, appliedOffsets.<key>) are constrained only by
    type, range and enum keywords, each independent of the others, so a batch is valid when its
    extreme values and each distinct tier/key are. Should the schema ever use another keyword
    there, every update is validated one by one instead."""

    _INTERVAL_KEYWORDS = frozenset({"bsonType", "minimum", "maximum", "enum", "description", "title"})

    def __init__(self, citizens_schema: Mapping[str, Any]):
        props = citizens_schema["properties"]
        fragment = {"bsonType": "object", "properties": {k: props[k] for k in ("scoreSnapshot", "appliedOffsets")}}
        self._validate = document_validator(fragment)
        leaves = [*props["scoreSnapshot"]["properties"].values(), props["appliedOffsets"]["additionalProperties"]]
        self._by_extremes = all(set(leaf) <= self._INTERVAL_KEYWORDS for leaf in leaves)

    @staticmethod
    def fragment(score: float, tier: str, calculated_at: int, key: str, offset: int) -> dict:
        return {
            "scoreSnapshot": {"currentScore": score, "tier": tier, "lastCalculated": calculated_at},
            "appliedOffsets": {key: offset},
        }

    def check(self, updates: Sequence[SnapshotUpdate]) -> None:
        for u in updates:
            if not math.isfinite(u.score):
                self._fail(
                    u, DocumentValidationError("scoreSnapshot.currentScore", f"{u.score!r} is not a finite number")
                )
        candidates: Iterable[SnapshotUpdate] = updates
        if self._by_extremes and updates:
            picks = [
                min(updates, key=lambda u: u.score),
                max(updates, key=lambda u: u.score),
                min(updates, key=lambda u: u.calculated_at),
                max(updates, key=lambda u: u.calculated_at),
                min(updates, key=lambda u: u.offset),
                max(updates, key=lambda u: u.offset),
                *{u.tier: u for u in updates}.values(),
                *{u.topic_partition: u for u in updates}.values(),
            ]
            candidates = {id(u): u for u in picks}.values()
        for u in candidates:
            try:
                self._validate(self.fragment(u.score, u.tier, u.calculated_at, u.topic_partition, u.offset))
            except DocumentValidationError as error:
                self._fail(u, error)

    @staticmethod
    def _fail(update: SnapshotUpdate, error: DocumentValidationError):
        raise refused(CITIZENS, {"nationalID": update.national_id}, error)


def snapshot_frame(rows: Sequence[tuple], flags: Sequence[Mapping[str, bool]]) -> pd.DataFrame:
    """all_snapshots() frame: ``rows`` hold the SNAPSHOT_COLUMNS values per citizen, ``flags`` its
    flags; each flag becomes a boolean column flag_<name> (False where a citizen lacks it)."""
    import pandas as pd

    frame = pd.DataFrame.from_records(rows, columns=list(SNAPSHOT_COLUMNS))
    flag_frame = (
        pd.DataFrame.from_records(list(flags), index=frame.index) if len(flags) else pd.DataFrame(index=frame.index)
    )
    flag_frame = flag_frame.astype("boolean").fillna(False).astype(bool).add_prefix("flag_")
    return pd.concat([frame, flag_frame], axis=1)


class DocumentStore(Protocol):
    def ensure_schema(self) -> list[str]:
        """Collections/tables, validators and indexes; returns the actions taken (empty: nothing to do)."""

    # configuration and rules
    def load_active_configuration(self) -> dict:
        """The ACTIVE system_configuration document (NoActiveConfiguration when there is none)."""

    def load_active_rules(self, rule_set: str) -> list[dict]:
        """ACTIVE rules of the rule set, ordered by ruleID."""

    def put_configuration(self, doc: Mapping[str, Any]) -> bool:
        """Validate and store by configID; an ACTIVE one makes the others INACTIVE. True if anything changed."""

    def upsert_rules(self, docs: Iterable[Mapping[str, Any]]) -> int:
        """Validate and store by ruleID; returns how many were created or changed."""

    # citizens
    def create_citizens(self, docs: Iterable[Mapping[str, Any]], skip_existing: bool = True) -> int:
        """Insert complete citizen documents; existing nationalIDs are skipped (or, with
        skip_existing=False, raise DuplicateKeyError). Returns how many were created."""

    def get_citizens(self, ids: Iterable[str]) -> dict[str, dict]:
        """nationalID -> document for the ids that exist, in one query."""

    def apply_snapshot_updates(self, updates: Sequence[SnapshotUpdate], scale: ScoreScale | None = None) -> int:
        """Apply the guarded updates in order, in one call; returns how many were applied. Updates
        with a ``change`` need ``scale``; each is read and written atomically against other writers."""

    # parked association effects
    def park_effects(self, effects: Sequence[ParkedEffect]) -> int:
        """Store the effects as PARKED unless their effectID is already there; returns how many were new."""

    def parked_effects(self, target_ids: Iterable[str]) -> list[ParkedEffect]:
        """The PARKED effects of these targets, ordered by (target, source, source offset)."""

    def settle_parked_effects(self, effect_ids: Iterable[str], status: str) -> int:
        """Move these effects from PARKED to ``status`` (APPLIED or EXPIRED); returns how many moved."""

    def expire_parked_effects(self, target_partition: int, before_ms: int) -> int:
        """Mark EXPIRED the PARKED effects of ``target_partition`` whose event time is before ``before_ms``;
        returns how many."""

    def parked_effect_counts(self) -> dict[str, int]:
        """status -> how many effects have it."""

    def take_fence(
        self, key: str, holder: str, kind: str, now_ms: int, live_since_ms: int, yield_to: Sequence[str]
    ) -> int | None:
        """Take fence ``key`` for ``holder`` with the next epoch, returned; None (nothing changed) while it is held
        by a holder whose kind is in ``yield_to`` and who renewed at or after ``live_since_ms``."""

    def renew_fence(self, key: str, epoch: int, now_ms: int) -> bool:
        """Record a heartbeat for the holder of ``epoch``; False when the fence moved on (the holder is fenced)."""

    def release_fence(self, key: str, epoch: int) -> None:
        """Let the fence go, if ``epoch`` still holds it (its epoch stays: the next holder gets a higher one)."""

    def fences(self) -> list[PartitionFence]:
        """Every fence, ordered by key."""

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
        """Citizens ordered by nationalID, the page after ``after_id`` (keyset pagination); ``id_prefix``: only
        nationalIDs that start with it."""

    def count_by_tier(self) -> dict[str, int]: ...

    def citizen_count(self) -> int: ...

    def all_snapshots(self) -> pd.DataFrame:
        """Columns SNAPSHOT_COLUMNS + flag_<name> for every citizen (Spark and the assets)."""

    def close(self) -> None: ...


def open_documents(settings: Settings) -> DocumentStore:
    """The documents adapter named by DDSS_DOCUMENTS_URL (embedded SQLite or MongoDB)."""
    if settings.documents.embedded:
        from ddss_platform.stores.documents.embedded import EmbeddedDocuments

        return EmbeddedDocuments(settings.home / "documents.sqlite")
    from ddss_platform.stores.documents.mongo import MongoDocuments

    return MongoDocuments.connect(settings.documents, connect_timeout_s=settings.connect_timeout_s)
