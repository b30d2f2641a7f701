"""Watching contained users: re-check what containment changed and report what was undone (see schedule.py)."""
