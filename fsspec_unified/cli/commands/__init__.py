"""The commands, one module per family; each exposes its click commands as ``COMMANDS``."""
