"""`tickethub` sub-commands, one module per area."""
