"""Code shared by the hub and the gate agents (no Flask, no database)."""
