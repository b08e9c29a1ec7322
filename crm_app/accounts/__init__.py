"""Accounts: passwords, logins and sessions, API tokens, users, invitations and resets, teams."""
