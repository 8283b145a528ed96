"""Dagster definitions of the aggregates domain; merged by ddss_platform.definitions."""
import dagster as dg

defs = dg.Definitions()
