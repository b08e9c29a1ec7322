"""Screens of activities: tasks, meetings, notes, calls."""
