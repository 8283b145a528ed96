"""The derived-metric fixture tests run on every configured time-series adapter."""

from ddss_platform_tests.stores.timeseries.conftest import timeseries  # noqa: F401  (the adapter fixture)
