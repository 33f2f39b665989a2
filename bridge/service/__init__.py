"""Running the bridge: the demo, the daemon and their command-line glue."""
