"""Cart, checkout, orders and fulfilment (C5): the order state machine, pickup codes, hooks."""
