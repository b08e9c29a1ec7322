"""Administration screens: users, teams, settings, security log."""
