"""Dagster only, and thin: the pieces every domain shares live at this level (``resources``, ``dagster_instance``,
``lineage``, ``partitions``, ``asset_keys``, ``metadata``, ``scoring_runs``); one folder per domain holds its
assets, jobs, sensors, schedules and checks and exposes ``defs``, merged in ddss_platform.definitions. The
computations they run are plain functions outside ``defs/`` (``processing``, ``stores``, ``spark``)."""
