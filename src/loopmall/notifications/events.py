"""Events this domain publishes and the outbox handlers it subscribes."""
