"""Dagster definitions of the archive domain; merged by ddss_platform.definitions."""
import dagster as dg

defs = dg.Definitions()
