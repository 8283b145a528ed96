"""The event contract (pure, no I/O): Avro schemas, codec, validation, vocabulary, simulator, manual input.

Public entry points: ``codec.EventCodec`` (encode, decode, decode_many) and its ``EventDecodeError``
subclasses, ``validation.validate_event`` / ``EventValidationError``, ``simulator.citizen_id``,
``simulator.simulate_records``, ``topics`` (topic and group names), ``vocabulary`` (types, subtypes, places).
"""
