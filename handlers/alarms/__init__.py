"""Alarms (TMF642): the alarm lifecycle, the task resources, and the impact on services."""
