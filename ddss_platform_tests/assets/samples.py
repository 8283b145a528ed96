"""A scoring configuration for unit tests: baseline 500, four tiers."""

from ddss_platform.scoring import DecayPolicy, ScoringConfig, Tier

TIERS = (Tier("HighRisk", 0, 300), Tier("Caution", 300, 500), Tier("Standard", 500, 800), Tier("Exemplary", 800, 1000))


def scoring_config(decay: DecayPolicy = DecayPolicy(1.0, True, None)) -> ScoringConfig:
    return ScoringConfig("test", "default", 500.0, 0.0, 1000.0, TIERS, decay, "ACTIVE")
