"""The seed world `ddss init` loads: citizens with profiles, contact details and flags, and a
social graph (households → family, workplaces → colleagues, same-region friendships).

Pure and deterministic: the same (citizens, seed) always gives the same world. Home region and
city come from ``citizen_home`` so the simulator's events agree with the profiles.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ddss_platform.events.simulator import citizen_id
from ddss_platform.events.vocabulary import REGIONS, citizen_home
from ddss_platform.stores.graph import GraphEdge, Relationship

WORLD_EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z: relationships started before it
_DAY_MS = 86_400_000

FIRST_NAMES = (
    "Ada",
    "Bruno",
    "Clara",
    "Dmitri",
    "Elena",
    "Farah",
    "Gustav",
    "Hana",
    "Ivan",
    "Julia",
    "Kofi",
    "Lena",
    "Marco",
    "Nadia",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Samir",
    "Tilde",
    "Umar",
    "Vera",
    "Wen",
    "Yara",
)
LAST_NAMES = (
    "Andersen",
    "Baker",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Horvat",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Quist",
    "Rossi",
    "Silva",
    "Tanaka",
)
OCCUPATIONS = (
    "teacher",
    "nurse",
    "engineer",
    "farmer",
    "clerk",
    "driver",
    "doctor",
    "electrician",
    "accountant",
    "shop owner",
    "software developer",
    "police officer",
    "retired",
    "student",
    "unemployed",
)
GENDERS = ("female", "male", "other")
_GENDER_P = (0.49, 0.49, 0.02)
# flag -> share of citizens for whom it is true
FLAG_RATES = {"isPublicOfficial": 0.03, "consentForDataProcessing": 0.92, "isVeteran": 0.06, "hasCriminalRecord": 0.05}

HOUSEHOLD_SIZES = (1, 4)  # inclusive: every pair in a household is family
WORKPLACE_SIZES = (3, 12)
EMPLOYED_SHARE = 0.7
COLLEAGUE_LINK_P = 0.3  # chance two people at one workplace work together
FRIENDSHIPS_PER_CITIZEN = 0.7  # friendships started per citizen (each is two edges)


@dataclass(frozen=True)
class SeedCitizen:
    national_id: str
    profile: dict
    contact_info: dict
    flags: dict


@dataclass(frozen=True)
class World:
    citizens: list[SeedCitizen]
    relationships: list[GraphEdge]


def generate_world(citizens: int, seed: int = 42) -> World:
    rng = np.random.default_rng(seed)
    ids = [citizen_id(i) for i in range(citizens)]
    people = _citizens(rng, ids)
    homes = _town_numbers(citizens)
    households = _groups(rng, homes, np.arange(citizens), HOUSEHOLD_SIZES)
    employed = np.flatnonzero(rng.random(citizens) < EMPLOYED_SHARE)
    workplaces = _groups(rng, homes, employed, WORKPLACE_SIZES)
    edges = [
        *_edges(
            rng, ids, _group_pairs(rng, households, 1.0, HOUSEHOLD_SIZES[1]), Relationship.FAMILY, (0.7, 1.0), 20 * 365
        ),
        *_edges(
            rng,
            ids,
            _group_pairs(rng, workplaces, COLLEAGUE_LINK_P, WORKPLACE_SIZES[1]),
            Relationship.COLLEAGUE,
            (0.3, 0.7),
            8 * 365,
        ),
        *_edges(rng, ids, _friend_pairs(rng, homes), Relationship.FRIEND, (0.4, 0.9), 5 * 365),
    ]
    return World(citizens=people, relationships=edges)


def _town_numbers(citizens: int) -> np.ndarray:
    """A number per citizen's (region, city), so households, workplaces and friends stay in one town."""
    towns = {(region, city[0]): k for k, (region, city) in enumerate((r, c) for r in REGIONS for c in REGIONS[r])}
    return np.array([towns[citizen_home(i)] for i in range(citizens)], dtype=np.int64)


def _citizens(rng: np.random.Generator, ids: list[str]) -> list[SeedCitizen]:
    n = len(ids)
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    gender = rng.choice(len(GENDERS), n, p=_GENDER_P)
    occupation = rng.integers(0, len(OCCUPATIONS), n)
    born = rng.integers(0, (dt.date(2006, 12, 31) - dt.date(1940, 1, 1)).days, n)
    flags = {name: rng.random(n) < rate for name, rate in FLAG_RATES.items()}
    phone = rng.integers(10_000_000, 99_999_999, n)
    people = []
    for i, national_id in enumerate(ids):
        region, city = citizen_home(i)
        first_name, last_name = FIRST_NAMES[first[i]], LAST_NAMES[last[i]]
        people.append(
            SeedCitizen(
                national_id=national_id,
                profile={
                    "firstName": first_name,
                    "lastName": last_name,
                    "dateOfBirth": (dt.date(1940, 1, 1) + dt.timedelta(days=int(born[i]))).isoformat(),
                    "gender": GENDERS[gender[i]],
                    "region": region,
                    "city": city,
                    "occupation": OCCUPATIONS[occupation[i]],
                },
                contact_info={
                    "email": f"{first_name}.{last_name}.{i}@example.org".lower(),
                    "phone": f"+00 {phone[i]}",
                },
                flags={name: bool(values[i]) for name, values in flags.items()},
            )
        )
    return people


def _groups(rng: np.random.Generator, homes: np.ndarray, members: np.ndarray, sizes: tuple[int, int]) -> np.ndarray:
    """A group number per member: members shuffled within their town and cut into groups of random size."""
    order = members[np.lexsort((rng.random(len(members)), homes[members]))]
    town_change = np.r_[True, homes[order][1:] != homes[order][:-1]]
    lengths = rng.integers(sizes[0], sizes[1] + 1, len(order))
    group = np.empty(len(order), dtype=np.int64)
    number, left = -1, 0
    for position in range(len(order)):  # cut points depend on the town boundaries, so one pass
        if town_change[position] or left == 0:
            number, left = number + 1, lengths[position]
        group[position] = number
        left -= 1
    return np.stack([order, group])


def _group_pairs(rng: np.random.Generator, grouped: np.ndarray, link_p: float, max_size: int) -> np.ndarray:
    """Unordered pairs (a, b) of members of the same group, each kept with probability link_p."""
    members, group = grouped
    pairs = []
    for step in range(1, max_size):  # group members are adjacent, so pairs are (i, i + step)
        same = group[step:] == group[:-step]
        pairs.append(np.stack([members[:-step][same], members[step:][same]], axis=1))
    every = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
    return every[rng.random(len(every)) < link_p]


def _friend_pairs(rng: np.random.Generator, homes: np.ndarray) -> np.ndarray:
    """Friendships inside a town: a friend is a random citizen of the starter's town."""
    n = len(homes)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    starters = rng.integers(0, n, int(n * FRIENDSHIPS_PER_CITIZEN))
    by_town = np.argsort(homes, kind="stable")
    town_start = np.searchsorted(homes[by_town], homes[starters], side="left")
    town_end = np.searchsorted(homes[by_town], homes[starters], side="right")
    friends = by_town[town_start + (rng.random(len(starters)) * (town_end - town_start)).astype(np.int64)]
    pairs = np.stack([np.minimum(starters, friends), np.maximum(starters, friends)], axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0)


def _edges(
    rng: np.random.Generator,
    ids: list[str],
    pairs: np.ndarray,
    kind: str,
    strength: tuple[float, float],
    max_age_days: int,
) -> list[GraphEdge]:
    """Both directions of every pair, sharing strength and start date."""
    strengths = np.round(rng.uniform(*strength, len(pairs)), 3)
    starts = WORLD_EPOCH_MS - rng.integers(1, max_age_days, len(pairs)) * _DAY_MS
    edges = []
    for (a, b), s, start in zip(pairs.tolist(), strengths.tolist(), starts.tolist()):
        edges.append(GraphEdge(ids[a], ids[b], kind, s, start))
        edges.append(GraphEdge(ids[b], ids[a], kind, s, start))
    return edges
