"""The audit log: hash chain, signed checkpoints, verify, search, export, reports."""
