"""One folder per domain; each exposes ``defs``, merged in ddss_platform.definitions."""
