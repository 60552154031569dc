-- Vigil store, schema version 2: IaC scans kept for `vigil iac getresult`
-- and `listscans`. `summary` and `document` are JSON text; times are
-- milliseconds since the epoch (UTC).

CREATE TABLE iac_scans (
    scan_id    TEXT   PRIMARY KEY,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    status     TEXT   NOT NULL,
    summary    TEXT   NOT NULL,
    document   TEXT   NOT NULL
);

CREATE INDEX iac_scans_created ON iac_scans (created_at);
