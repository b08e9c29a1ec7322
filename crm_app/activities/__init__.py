"""Activities on accounts: tasks, notes, meetings, calls, comments, and the task alerts."""
