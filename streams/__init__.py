"""surge-monitor's Faust application and its I/O: records, topics, agents, metrics, CLI."""
