"""The platform's own tables: people (users, teams), settings, audit trail and security log,
notifications and the mail outbox. Shared column types and mixins are in `base`."""
