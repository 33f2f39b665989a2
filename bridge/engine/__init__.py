"""The engine: polling sources, routing records, delivering the outbox."""
