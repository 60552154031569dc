-- Vigil store, schema version 5: AWS connectors and their runs.
-- Times are milliseconds since the epoch (UTC); regions, tags and errors are
-- JSON text. sealed_secret holds the encrypted secret access key (the store
-- never sees it in plain text).

CREATE TABLE connectors (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    description     TEXT NOT NULL,
    auth_kind       TEXT NOT NULL,
    role_arn        TEXT,
    external_id     TEXT,
    access_key_id   TEXT,
    sealed_secret   BLOB,
    regions         TEXT NOT NULL,
    polling_minutes BIGINT,
    tags            TEXT NOT NULL,
    enabled         INTEGER NOT NULL,
    created         BIGINT NOT NULL,
    updated         BIGINT NOT NULL
);

CREATE TABLE runs (
    id           TEXT PRIMARY KEY,
    connector_id TEXT NOT NULL,
    run_trigger  TEXT NOT NULL,
    state        TEXT NOT NULL,
    queued_at    BIGINT NOT NULL,
    started_at   BIGINT,
    finished_at  BIGINT,
    resources    BIGINT,
    evaluations  BIGINT,
    errors       TEXT NOT NULL,
    node         TEXT,
    lease_until  BIGINT,
    attempts     BIGINT NOT NULL
);

CREATE INDEX runs_connector ON runs (connector_id, queued_at);

CREATE INDEX runs_runnable ON runs (state, queued_at);

CREATE UNIQUE INDEX runs_one_active ON runs (connector_id) WHERE state IN ('queued', 'running');
