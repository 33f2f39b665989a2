"""Simulators of the legacy systems the bridge connects (see docs/simulators.md)."""
