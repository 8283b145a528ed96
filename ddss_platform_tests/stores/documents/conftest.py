"""The documents store under test: embedded, and the MongoDB adapter on both MongoDB-compatible servers (FerretDB, or
the MongoDB DDSS_TEST_MONGO_URL names, and SecantusDB), each test on a database of its own."""

from __future__ import annotations

import uuid

import pytest

from ddss_platform.settings import parse_store_url
from ddss_platform.stores.documents.embedded import EmbeddedDocuments

ADAPTERS = [
    "embedded",
    pytest.param("secantus", marks=pytest.mark.live),
    pytest.param("ferretdb", marks=pytest.mark.live),
]


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
        store = mongo_store(request.getfixturevalue("ferretdb_url"))
    yield store
    if request.param != "embedded":
        store.db.client.drop_database(store.db.name)
    store.close()


@pytest.fixture
def documents(unprepared_documents):
    unprepared_documents.ensure_schema()
    return unprepared_documents
