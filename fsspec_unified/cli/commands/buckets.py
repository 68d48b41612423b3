"""Placeholder, filled in by the commands of this family."""

COMMANDS: list = []
