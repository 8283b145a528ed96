"""Dagster definitions of the graph domain; merged by ddss_platform.definitions."""
import dagster as dg

defs = dg.Definitions()
