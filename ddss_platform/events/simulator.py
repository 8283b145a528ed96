"""Deterministic citizen-event simulator (pure: yields events and encoded records, produces nothing).

The mix follows the original producer: financial 30 %, social 35 %, legal 20 %,
relationship 15 %; on top of that 3 % of all events register a new citizen
(a fresh nationalID with a profile) who then takes part in later events.

Everything random comes from one ``random.Random(seed)`` and the clock starts at
the given instant, so the same seed and start give byte-identical records (the
commands default to a recent start: ``recent_start_ms``). The clock only
moves forward, so each citizen's timestamps never decrease.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Iterator
from io import BytesIO
from typing import cast

from fastavro import parse_schema, schemaless_writer

from ddss_platform.events.codec import SINGLE_OBJECT_MAGIC, Event, EventCodec
from ddss_platform.events.schema import crc64_fingerprint
from ddss_platform.events.vocabulary import (
    REGIONS,
    RELATIONSHIP_TYPES,
    SOURCE_SYSTEMS,
    citizen_home,
    city_coordinates,
)

MEAN_GAP_MS = 3_000  # mean time between two events of the whole population
RECENT_MARGIN_MS = 3_600_000  # a recent stream ends about this long before now (its length varies a little)
NEW_CITIZEN_SHARE = 0.03
EVENT_MIX: tuple[tuple[str, float], ...] = (
    ("financial", 0.30),
    ("social", 0.35),
    ("legal", 0.20),
    ("relationship", 0.15),
)
HOME_CITY_SHARE = 0.85  # the rest of a citizen's events happen elsewhere
RELATIONSHIP_END_SHARE = 0.2

_PAYMENT_METHODS = ("card", "bank_transfer", "mobile_wallet", "cash")
_FAILURE_REASONS = ("insufficient_funds", "card_expired", "fraud_suspected", "technical_error")
_ORGANIZATIONS = ("red_cross", "food_bank", "city_parks", "animal_shelter", "public_library", "elder_care")
# violation kind -> severity range
_VIOLATIONS: dict[str, tuple[float, float]] = {
    "littering": (0.1, 0.3),
    "noise": (0.1, 0.4),
    "traffic": (0.2, 0.5),
    "public_disorder": (0.4, 0.8),
    "fraud": (0.6, 1.0),
}
# relationship type -> (choice weight, strength range)
_RELATIONSHIPS: dict[str, tuple[float, tuple[float, float]]] = {
    "family": (0.2, (0.6, 1.0)),
    "colleague": (0.4, (0.2, 0.7)),
    "friend": (0.4, (0.3, 0.9)),
}
_FIRST_NAMES = (
    "Ada",
    "Bruno",
    "Chiara",
    "Dmitri",
    "Elena",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Katja",
    "Luca",
    "Mira",
    "Nils",
    "Olga",
    "Pavel",
    "Rosa",
    "Sami",
    "Tessa",
    "Viktor",
)
_LAST_NAMES = (
    "Novak",
    "Berg",
    "Rossi",
    "Ivanova",
    "Keller",
    "Moreau",
    "Lind",
    "Horvat",
    "Silva",
    "Weber",
    "Kowalski",
    "Dubois",
    "Jansen",
    "Petrov",
    "Costa",
)
_GENDERS = ("female", "male")
_OCCUPATIONS = (
    "teacher",
    "engineer",
    "nurse",
    "driver",
    "clerk",
    "farmer",
    "programmer",
    "shopkeeper",
    "electrician",
    "student",
    "retired",
    "civil_servant",
)

# A schema no consumer knows, to produce "wrong schema" records for the dead-letter path.
_FOREIGN_SCHEMA_JSON = {
    "type": "record",
    "name": "LegacyScoreEvent",
    "namespace": "legacy",
    "fields": [{"name": "citizenId", "type": "string"}, {"name": "scoreDelta", "type": "double"}],
}
_FOREIGN_SCHEMA = parse_schema(_FOREIGN_SCHEMA_JSON)
_FOREIGN_HEADER = SINGLE_OBJECT_MAGIC + crc64_fingerprint(_FOREIGN_SCHEMA_JSON)
BAD_RECORD_KINDS = ("garbage", "truncated", "wrong_schema", "json", "severity_out_of_range")

SimulatedRecord = tuple[str, bytes]
"""(key = citizenId, value = encoded message). The event time travels inside the value; the record
timestamp is left to the bus (produce time): a broker deletes records whose timestamps are older
than the topic's retention, and simulated time starts in the past."""


def recent_start_ms(events: int, now_ms: int) -> int:
    """A start (whole minute) from which ``events`` simulated events end about an hour before ``now_ms``: recent
    enough for every retention and every "last N days" view, and never in the future. The commands default to it;
    an explicit start makes a stream byte-identical whenever it is made."""
    start = now_ms - events * MEAN_GAP_MS - RECENT_MARGIN_MS
    return start - start % 60_000


def citizen_id(index: int) -> str:
    """The nationalID of citizen number ``index`` (``ddss init`` creates 0..N-1; new citizens follow)."""
    return f"CIT{index:08d}"


class CitizenEventSimulator:
    """An endless, seeded stream of realistic events over ``citizens`` seeded citizens plus newcomers."""

    def __init__(self, citizens: int, seed: int = 0, *, start_ms: int):
        if citizens < 2:
            raise ValueError("the simulator needs at least 2 citizens (relationships join two)")
        self._rng = random.Random(seed)
        self._clock_ms = start_ms
        self._population = citizens
        self._seeded = citizens
        self._newcomer_homes: dict[int, tuple[str, str]] = {}
        # active relationships: a list for uniform random picks, an index for O(1) lookup and removal
        self._edges: list[tuple[int, int, str]] = []
        self._edge_slot: dict[tuple[int, int, str], int] = {}

    def __iter__(self) -> Iterator[Event]:
        while True:
            yield self.next_event()

    def next_event(self) -> Event:
        rng = self._rng
        self._clock_ms += int(rng.expovariate(1.0 / MEAN_GAP_MS))
        if rng.random() < NEW_CITIZEN_SHARE:
            return self._new_citizen()
        pick = rng.random()
        for event_type, share in EVENT_MIX:  # noqa: B007 (the pick is event_type after the loop)
            pick -= share
            if pick < 0:
                break
        citizen = rng.randrange(self._population)
        return getattr(self, f"_{event_type}")(citizen)

    # -- one builder per event type ------------------------------------------------------------

    def _financial(self, citizen: int) -> Event:
        rng = self._rng
        failed = rng.random() < 0.25
        amount = round(rng.lognormvariate(4.0, 1.0), 2)
        method = rng.choice(_PAYMENT_METHODS)
        metadata = {"method": method}
        if failed:
            metadata["failure_reason"] = rng.choice(_FAILURE_REASONS)
            severity = rng.uniform(0.3, 0.8)
        else:
            severity = rng.uniform(0.0, 0.2)
        subtype = "payment_failed" if failed else "payment_completed"
        description = f"{'Failed payment' if failed else 'Payment'} of {amount:.2f} by {method}"
        return self._event(citizen, "financial", subtype, severity, amount, description, metadata)

    def _social(self, citizen: int) -> Event:
        rng = self._rng
        hours = rng.randint(1, 8)
        organization = rng.choice(_ORGANIZATIONS)
        metadata = {"hours": str(hours), "organization": organization}
        return self._event(
            citizen,
            "social",
            "volunteering",
            rng.uniform(0.05, 0.4),
            None,
            f"Volunteered {hours} h at {organization}",
            metadata,
        )

    def _legal(self, citizen: int) -> Event:
        rng = self._rng
        kind = rng.choice(tuple(_VIOLATIONS))
        fine = round(rng.uniform(20, 2000), 2) if rng.random() < 0.6 else None
        return self._event(
            citizen,
            "legal",
            "violation",
            rng.uniform(*_VIOLATIONS[kind]),
            fine,
            f"{kind.replace('_', ' ').capitalize()} violation",
            {"kind": kind},
        )

    def _relationship(self, citizen: int) -> Event:
        rng = self._rng
        if self._edges and rng.random() < RELATIONSHIP_END_SHARE:
            edge = self._edges[rng.randrange(len(self._edges))]
            self._drop_edge(edge)
            source, target, kind = edge
            action, strength = "END", 0.0
        else:
            source = citizen
            target = rng.randrange(self._population - 1)
            target += target >= source  # anyone but the citizen themself
            kind = rng.choices(RELATIONSHIP_TYPES, weights=[_RELATIONSHIPS[k][0] for k in RELATIONSHIP_TYPES])[0]
            strength = round(rng.uniform(*_RELATIONSHIPS[kind][1]), 3)
            if (source, target, kind) in self._edge_slot:
                self._drop_edge((source, target, kind))
                action, strength = "END", 0.0
            else:
                self._add_edge((source, target, kind))
                action = "START"
        event = self._event(
            source,
            "relationship",
            kind,
            rng.uniform(0.05, 0.3),
            None,
            f"{'Started' if action == 'START' else 'Ended'} {kind} relationship",
            {},
        )
        event["relationship"] = {
            "relatedCitizenId": citizen_id(target),
            "relationshipType": kind,
            "strength": strength,
            "action": action,
        }
        return event

    def _new_citizen(self) -> Event:
        rng = self._rng
        index = self._population
        self._population += 1
        region = rng.choice(tuple(REGIONS))
        city = rng.choice(REGIONS[region])[0]
        self._newcomer_homes[index] = (region, city)
        born_year = 1945 + rng.randrange(62)
        profile = {
            "firstName": rng.choice(_FIRST_NAMES),
            "lastName": rng.choice(_LAST_NAMES),
            "dateOfBirth": f"{born_year:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "gender": rng.choice(_GENDERS),
            "region": region,
            "city": city,
            "occupation": rng.choice(_OCCUPATIONS),
            "flags": {
                "isPublicOfficial": rng.random() < 0.03,
                "consentForDataProcessing": rng.random() < 0.9,
                "isVeteran": rng.random() < 0.05,
                "hasCriminalRecord": rng.random() < 0.04,
            },
        }
        event = self._event(index, "new_citizen", "registration", 0.0, None, "New citizen registered", {})
        event["newCitizen"] = profile
        return event

    # -- shared parts --------------------------------------------------------------------------

    def _event(
        self,
        citizen: int,
        event_type: str,
        subtype: str,
        severity: float,
        amount: float | None,
        description: str,
        metadata: dict[str, str],
    ) -> Event:
        rng = self._rng
        return {
            "eventId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "citizenId": citizen_id(citizen),
            "timestamp": self._clock_ms,
            "eventType": event_type,
            "eventSubtype": subtype,
            "sourceSystem": SOURCE_SYSTEMS[event_type],
            "location": self._location(citizen),
            "severity": round(severity, 3),
            "confidence": round(rng.uniform(0.6, 1.0), 3),
            "payload": {"amount": amount, "description": description, "metadata": metadata},
            "relationship": None,
            "newCitizen": None,
        }

    def _location(self, citizen: int) -> dict:
        rng = self._rng
        if rng.random() < HOME_CITY_SHARE:
            region, city = self._newcomer_homes.get(citizen) or citizen_home(citizen)
        else:
            region = rng.choice(tuple(REGIONS))
            city = rng.choice(REGIONS[region])[0]
        lat, lon = cast(tuple[float, float], city_coordinates(region, city))  # a city of REGIONS
        return {
            "region": region,
            "city": city,
            "latitude": round(lat + rng.uniform(-0.05, 0.05), 5),
            "longitude": round(lon + rng.uniform(-0.05, 0.05), 5),
        }

    def _add_edge(self, edge: tuple[int, int, str]) -> None:
        self._edge_slot[edge] = len(self._edges)
        self._edges.append(edge)

    def _drop_edge(self, edge: tuple[int, int, str]) -> None:
        slot = self._edge_slot.pop(edge)
        last = self._edges.pop()
        if last != edge:
            self._edges[slot] = last
            self._edge_slot[last] = slot


def simulate_records(
    codec: EventCodec,
    citizens: int,
    events: int,
    seed: int = 0,
    bad_fraction: float = 0.0,
    *,
    start_ms: int,
) -> Iterator[SimulatedRecord]:
    """``events`` encoded records; a ``bad_fraction`` of them replaced by malformed ones (see ``bad_record``).

    The bad-record choices use their own generator, so the good events are the same for any fraction.
    """
    if not 0.0 <= bad_fraction <= 1.0:
        raise ValueError(f"bad_fraction must be in [0, 1], got {bad_fraction}")
    simulator = CitizenEventSimulator(citizens, seed, start_ms=start_ms)
    bad_rng = random.Random(f"{seed}:bad-records")
    for _ in range(events):
        event = simulator.next_event()
        if bad_fraction and bad_rng.random() < bad_fraction:
            value = bad_record(codec, event, bad_rng)
        else:
            value = codec.encode(event)
        yield event["citizenId"], value


def bad_record(codec: EventCodec, event: Event, rng: random.Random) -> bytes:
    """A record the scoring runs must send to the dead-letter topic: undecodable, or decodable but invalid."""
    kind = rng.choice(BAD_RECORD_KINDS)
    if kind == "garbage":
        return rng.randbytes(rng.randint(1, 200))
    if kind == "truncated":
        good = codec.encode(event)
        return good[: rng.randrange(1, len(good))]
    if kind == "wrong_schema":
        out = BytesIO(_FOREIGN_HEADER)
        out.seek(len(_FOREIGN_HEADER))
        schemaless_writer(out, _FOREIGN_SCHEMA, {"citizenId": event["citizenId"], "scoreDelta": -rng.random()})
        return out.getvalue()
    if kind == "json":  # the original system's format, not Avro
        return json.dumps(event).encode()
    return codec.encode({**event, "severity": rng.choice((1.5, -0.25, 7.0, math.nan, math.inf))})
