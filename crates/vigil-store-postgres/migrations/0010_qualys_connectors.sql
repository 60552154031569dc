-- Vigil store, schema version 10: Qualys connectors (issue 6).
-- A Qualys connector is a row of `connectors` with auth_kind 'qualys': its
-- settings (API URL, user name, account name, options; never the password)
-- as JSON text here, its password sealed in sealed_secret like an AWS
-- secret access key. AWS connectors leave it NULL.

ALTER TABLE connectors ADD COLUMN qualys_settings TEXT;
