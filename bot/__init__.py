"""反诈助手: channel adapters, the command line, and (later) alerts and administration."""
