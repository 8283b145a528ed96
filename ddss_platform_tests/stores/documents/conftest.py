"""The documents store under test: every configured adapter (embedded, SecantusDB, live MongoDB)."""

from __future__ import annotations

import uuid

import pytest

from ddss_platform.settings import parse_store_url
from ddss_platform.stores.documents.embedded import EmbeddedDocuments

ADAPTERS = ["embedded", "secantus", pytest.param("mongo-live", marks=pytest.mark.live)]


def mongo_store(url: str):
    """A MongoDB documents store on a database of its own (the caller drops it)."""
    from ddss_platform.stores.documents.mongo import MongoDocuments

    return MongoDocuments.connect(
        parse_store_url("DDSS_DOCUMENTS_URL", url), database=f"ddss_test_{uuid.uuid4().hex[:12]}"
    )


@pytest.fixture(params=ADAPTERS)
def unprepared_documents(request, tmp_path):
    """A documents store with nothing created yet."""
    if request.param == "embedded":
        store = EmbeddedDocuments(tmp_path / "documents.sqlite")
    elif request.param == "secantus":
        store = mongo_store(request.getfixturevalue("secantus_url"))
    else:
        store = mongo_store(request.getfixturevalue("live_mongo_url"))
    yield store
    if request.param != "embedded":
        store.db.client.drop_database(store.db.name)
    store.close()


@pytest.fixture
def documents(unprepared_documents):
    unprepared_documents.ensure_schema()
    return unprepared_documents
