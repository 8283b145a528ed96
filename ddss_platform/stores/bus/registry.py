"""Confluent Schema Registry REST client (Redpanda serves the same API) for the event codec."""

from __future__ import annotations

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
# Transport failures are retried; HTTP error answers are not (they will not change on their own).
_retrying = retry(
    retry=retry_if_exception_type(httpx.TransportError),
    stop=stop_after_attempt(4),
    wait=wait_exponential(multiplier=0.2, max=3),
    reraise=True,
)


class SchemaRegistryError(RuntimeError):
    """The registry answered with an error, or could not be reached."""


class ConfluentSchemaRegistry:
    """Registers schemas under one subject (``<topic>-value``) and resolves ids; ids are cached by the codec."""

    def __init__(self, url: str, subject: str, transport: httpx.BaseTransport | None = None, timeout_s: float = 10.0):
        self.subject = subject
        self._client = httpx.Client(
            base_url=url.rstrip("/"),
            transport=transport,
            timeout=timeout_s,
            headers={"Content-Type": _CONTENT_TYPE, "Accept": _CONTENT_TYPE},
        )

    @_retrying
    def register(self, schema_json: str) -> int:
        """POST /subjects/{subject}/versions; the registry returns the existing id for a known schema."""
        response = self._client.post(f"/subjects/{self.subject}/versions", json={"schema": schema_json})
        return int(self._ok(response, f"registering a schema under {self.subject}")["id"])

    @_retrying
    def schema(self, schema_id: int) -> str | None:
        """GET /schemas/ids/{id}: the schema text, or None for an id the registry does not have."""
        response = self._client.get(f"/schemas/ids/{schema_id}")
        if response.status_code == 404:
            return None
        return self._ok(response, f"fetching schema id {schema_id}")["schema"]

    def close(self) -> None:
        self._client.close()

    def _ok(self, response: httpx.Response, doing: str) -> dict:
        if response.is_success:
            return response.json()
        raise SchemaRegistryError(
            f"schema registry {self._client.base_url} failed {doing}: HTTP {response.status_code} {response.text[:200]}"
        )
