"""Topic and consumer-group names shared by the simulator, the scoring runs and the CLI."""

CITIZEN_EVENTS = "citizen-events"
"""Every citizen event, Avro-encoded, key = citizenId."""

CITIZEN_EVENTS_DLQ = "citizen-events-dlq"
"""Records the scoring runs could not decode or validate, with the reason and the original bytes."""

SCORING_GROUP = "ddss-scoring"
"""The consumer group whose committed offsets mark what the scoring runs have applied."""

ALL_TOPICS = (CITIZEN_EVENTS, CITIZEN_EVENTS_DLQ)
