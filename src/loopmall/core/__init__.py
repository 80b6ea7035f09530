"""What every domain uses: database, unit of work, tenancy, errors, ids, clock, outbox."""
