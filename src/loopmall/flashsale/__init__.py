"""Pre-sale reservations and flash sales (秒杀): the sale, reservations, the gate (Redis or
database buckets), orders from accepted requests, lapses and reconciliation."""
