"""What every area stands on: configuration, database, errors, i18n, logs, storage, events,
scheduler, outbox, settings store, permissions, audit, security log, notifications, timeline, paging."""
