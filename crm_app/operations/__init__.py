"""Operating the CRM: backups and restores, the `doctor` checks, reset and graceful stop.

Plain functions used by the `opex-crm` commands; no NiceGUI here."""
