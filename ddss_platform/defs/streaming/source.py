"""citizen_events: the topic as an observable source asset (its version = the end offsets)."""

import warnings

import dagster as dg

from ddss_platform.defs.asset_keys import CITIZEN_EVENTS_ASSET
from ddss_platform.defs.metadata import OWNERS
from ddss_platform.defs.resources import StoresResource
from ddss_platform.events.topics import CITIZEN_EVENTS, SCORING_GROUP
from ddss_platform.stores.bus import lag


def topic_metadata(end_offsets: dict[int, int], committed: dict[int, int]) -> dict:
    behind = lag(end_offsets, committed)
    return {
        "end_offsets": {str(p): o for p, o in end_offsets.items()},
        "committed": {str(p): o for p, o in committed.items()},
        "records": sum(end_offsets.values()),
        "lag": sum(behind.values()),
    }


def data_version(end_offsets: dict[int, int]) -> dg.DataVersion:
    return dg.DataVersion(",".join(f"{p}:{o}" for p, o in sorted(end_offsets.items())))


with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)  # observable source assets are beta; the API we use is stable

    @dg.multi_observable_source_asset(
        name="observe_citizen_events",
        specs=[
            dg.AssetSpec(
                CITIZEN_EVENTS_ASSET,
                description=f"The {CITIZEN_EVENTS} topic (key = citizenId); observed as its end offsets and the "
                f"{SCORING_GROUP} group's lag. scoring_sensor records an observation whenever the offsets move.",
                group_name="streaming",
                owners=OWNERS,
                kinds={"kafka"},
            )
        ],
    )
    def citizen_events(stores: StoresResource):
        with stores.bus() as bus:
            ends = bus.end_offsets(CITIZEN_EVENTS)
            committed = bus.committed(SCORING_GROUP, CITIZEN_EVENTS)
        yield dg.ObserveResult(
            asset_key=CITIZEN_EVENTS_ASSET, data_version=data_version(ends), metadata=topic_metadata(ends, committed)
        )
