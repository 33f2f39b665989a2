"""Adapters: one per kind of counterpart, over the shared SOAP transport."""
