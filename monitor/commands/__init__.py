"""One module per ``monitor`` subcommand, registered by :func:`monitor.cli.add_command`."""
