"""Who calls the gateway and what they may do: authentication, scopes, tenancy, conditional
requests, idempotent creates and the audit log (README "Security")."""
