"""The soak (issue #11): mixed traffic at a fixed rate against real processes on
PostgreSQL + Redis — see README.md."""
