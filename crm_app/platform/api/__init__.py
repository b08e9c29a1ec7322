"""What every REST router stands on (the unit of work per request, the caller, one error shape,
paged answers) and the platform's own routes: health, settings, notifications."""
