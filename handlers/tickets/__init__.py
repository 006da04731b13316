"""Trouble-to-resolve: TMF621 trouble tickets, their lifecycle, their links, and tickets opened from alarms."""
