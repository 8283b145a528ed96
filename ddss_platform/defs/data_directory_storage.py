"""Dagster storage that finds the data directory when the instance loads: what the repository root's
``dagster.yaml`` names, so that ``dagster dev`` or ``dagster-webserver -w workspace.yaml`` started there without
DAGSTER_HOME (Dagster then reads the instance configuration from the working directory) keeps its runs, events
and schedules in ``$DDSS_HOME/dagster``, the very storage of ``ddss up`` and ``ddss demo``.

DDSS_HOME is read from the environment (default ``./.ddss``, so the repository root's data directory); the
processes such an instance starts (code servers, daemon, run workers) inherit the environment and the working
directory and so rebuild the same storage from the same configuration.
"""

from __future__ import annotations

from dagster._core.storage.root import LocalArtifactStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData

from ddss_platform.settings import Settings


def data_directory_dagster_home() -> str:
    """$DDSS_HOME/dagster, as ``dagster_instance.dagster_home`` names it."""
    return str(Settings.from_env().home / "dagster")


class DataDirectoryStorage(DagsterSqliteStorage):
    """SQLite run, event log and schedule storage in $DDSS_HOME/dagster/storage."""

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: dict) -> DataDirectoryStorage:
        return cls.from_local(f"{data_directory_dagster_home()}/storage", inst_data=inst_data)


class DataDirectoryArtifactStorage(LocalArtifactStorage):
    """Run files and compute logs under $DDSS_HOME/dagster."""

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: dict) -> DataDirectoryArtifactStorage:
        return cls(data_directory_dagster_home(), inst_data=inst_data)
