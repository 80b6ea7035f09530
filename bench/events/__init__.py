"""Events end to end (issue #12 part 6): publish → every subscriber done, on the embedded
default and on PostgreSQL + NATS JetStream with 1, 2 and 4 ``loopmall worker`` processes."""
