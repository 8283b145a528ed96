"""GET /rules and GET /config: the active scoring rules and system configuration (documents store)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status

from ddss_platform.api.deps import stores
from ddss_platform.stores import Stores
from ddss_platform.stores.documents import NoActiveConfiguration

router = APIRouter(tags=["rules and configuration"])

_NO_CONFIGURATION = {404: {"description": "No ACTIVE configuration (run `ddss init`)."}}


def _active_configuration(ports: Stores) -> dict[str, Any]:
    try:
        return _public(ports.documents.load_active_configuration())
    except NoActiveConfiguration as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no active configuration: {error}") from None


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without store internals (MongoDB's _id)."""
    return {k: v for k, v in doc.items() if k != "_id"}


@router.get("/config", summary="The active system configuration", responses=_NO_CONFIGURATION)
def get_config(ports: Annotated[Stores, Depends(stores)]) -> dict[str, Any]:
    """The ACTIVE `system_configuration` document: baseline, bounds, tier definitions, decay policy, rule set."""
    return _active_configuration(ports)


@router.get("/rules", summary="The active scoring rules", responses=_NO_CONFIGURATION)
def get_rules(ports: Annotated[Stores, Depends(stores)]) -> dict[str, Any]:
    """The ACTIVE rules of the active configuration's rule set, in ruleID order."""
    rule_set = _active_configuration(ports)["activeRuleSet"]
    rules = [_public(rule) for rule in ports.documents.load_active_rules(rule_set)]
    return {"rule_set": rule_set, "rules": rules}
