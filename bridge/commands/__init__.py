"""Subcommands of ``govbridge``: each module here offers ``register(commands)``.

``register`` receives the argparse sub-parsers object, adds its command(s) and
sets ``func`` on each to a callable taking the parsed arguments and returning
the exit code. The CLI finds the modules by itself; adding a command is adding
a module.
"""
