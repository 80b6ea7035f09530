"""The platform operators' console: what the people who run Loopmall for every merchant
look at and act on (today, the event deliveries the backbone gave up on)."""
