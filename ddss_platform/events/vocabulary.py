"""The event vocabulary every helper shares: types, subtypes, relationship kinds, places."""

from __future__ import annotations

EVENT_SUBTYPES: dict[str, tuple[str, ...]] = {
    "financial": ("payment_completed", "payment_failed"),
    "social": ("volunteering",),
    "legal": ("violation",),
    "relationship": ("family", "colleague", "friend"),
    "new_citizen": ("registration",),
}
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_SUBTYPES)

RELATIONSHIP_TYPES: tuple[str, ...] = ("family", "colleague", "friend")
RELATIONSHIP_ACTIONS: tuple[str, ...] = ("START", "END")

SOURCE_SYSTEMS: dict[str, str] = {
    "financial": "bank-gateway",
    "social": "civic-portal",
    "legal": "court-registry",
    "relationship": "civil-registry",
    "new_citizen": "population-registry",
}
MANUAL_SOURCE_SYSTEM = "manual-input"

# region -> cities with their centre coordinates (latitude, longitude)
REGIONS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "North": (("Harbor City", 59.91, 10.75), ("Frostvale", 61.12, 10.46), ("Pinecrest", 62.47, 6.15)),
    "South": (("Sunport", 43.30, 5.37), ("Olivetown", 43.70, 7.26), ("Marisol", 42.70, 2.90)),
    "East": (("Eastgate", 52.23, 21.01), ("Riverbend", 50.06, 19.94), ("Ambergrove", 54.35, 18.65)),
    "West": (("Westmoor", 51.45, -2.59), ("Cliffhaven", 50.37, -4.14), ("Greenhollow", 52.41, -4.08)),
    "Central": (("Capital City", 50.85, 4.35), ("Millbrook", 50.63, 5.57), ("Stonebridge", 51.22, 4.40)),
}


def citizen_home(index: int) -> tuple[str, str]:
    """The (region, city) a seeded citizen lives in; init and the simulator agree on it."""
    regions = list(REGIONS)
    region = regions[index % len(regions)]
    cities = REGIONS[region]
    return region, cities[(index // len(regions)) % len(cities)][0]


def city_coordinates(region: str, city: str) -> tuple[float, float] | None:
    for name, lat, lon in REGIONS.get(region, ()):
        if name == city:
            return lat, lon
    return None
