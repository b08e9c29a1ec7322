"""REST routes of accounts: /api/auth, /api/users, /api/teams, /api/security-log, sessions."""
