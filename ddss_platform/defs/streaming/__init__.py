"""Dagster definitions of the streaming domain; merged by ddss_platform.definitions."""
import dagster as dg

defs = dg.Definitions()
