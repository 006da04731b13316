"""Hub notifications: subscriptions, delivery of the outbox, the gateway's own reactions, retention."""
