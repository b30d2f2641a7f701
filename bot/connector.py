"""Moved to bot/teams/connector.py. bot/pipeline/jobs.py still imports ChannelBlocked from here, and that file is
being changed on another branch: this re-export keeps it working until that branch imports bot.teams.connector."""

from bot.teams.connector import ChannelBlocked

__all__ = ["ChannelBlocked"]
