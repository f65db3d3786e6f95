"""Pieces of the pages' layout: functions that return Dash components, no callbacks."""
