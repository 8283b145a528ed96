"""Topic and consumer-group names shared by the simulator, the scoring runs and the CLI."""

CITIZEN_EVENTS = "citizen-events"
"""Every citizen event, Avro-encoded, key = citizenId."""

CITIZEN_EFFECTS = "citizen-effects"
"""Association effects on their way to the target citizen's partition: Avro CitizenEffect, key = the target's
citizenId, as many partitions as citizen-events (a citizen's effects land in the partition of its events)."""

SCORED_TOPICS = (CITIZEN_EVENTS, CITIZEN_EFFECTS)
"""The topics the scoring runs consume (group ddss-scoring), each partition by the owner of that partition."""

CITIZEN_EVENTS_DLQ = "citizen-events-dlq"
"""Records (of either scored topic) the scoring runs could not decode or validate, with the reason and the
original bytes."""

SCORING_GROUP = "ddss-scoring"
"""The consumer group whose committed offsets mark what the scoring runs have applied."""

ALL_TOPICS = (CITIZEN_EVENTS, CITIZEN_EFFECTS, CITIZEN_EVENTS_DLQ)
