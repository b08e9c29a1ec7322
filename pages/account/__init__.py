"""Screens of one's own account: login, profile, notifications, invitation and reset links."""
