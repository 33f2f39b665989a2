"""Benchmarks of govbridge against the transfer floor (``make bench``)."""
