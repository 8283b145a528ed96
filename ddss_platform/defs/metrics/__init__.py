"""Dagster definitions of the metrics domain; merged by ddss_platform.definitions."""
import dagster as dg

defs = dg.Definitions()
