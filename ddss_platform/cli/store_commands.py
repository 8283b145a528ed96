"""Placeholder removed once `ddss init` lands (stores helper)."""
