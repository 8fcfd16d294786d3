"""`gate-agent` sub-commands, one module per area."""
