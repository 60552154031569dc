-- Vigil store, SQLite schema version 1.
-- Times are milliseconds since the epoch (UTC). `schema_migrations` itself is
-- created by the store before any migration runs. The store runs a file
-- statement by statement (comments removed, split at semicolons): write no
-- semicolon or double dash inside a string literal.

CREATE TABLE resources (
    id               INTEGER PRIMARY KEY,
    uid              TEXT    NOT NULL UNIQUE,
    source           TEXT    NOT NULL,
    provider         TEXT    NOT NULL,
    account          TEXT,
    region           TEXT,
    service          TEXT,
    resource_type    TEXT,
    native_id        TEXT,
    name             TEXT,
    tags             TEXT,
    attributes       TEXT,
    associations     TEXT,
    origin           TEXT,
    first_discovered BIGINT  NOT NULL,
    last_updated     BIGINT  NOT NULL,
    last_seen_run    TEXT,
    gone_at          BIGINT
);

CREATE INDEX resources_source ON resources (source);

-- The ids of gone resources (few): lets counts exclude them without reading
-- the row of every resource.
CREATE INDEX resources_gone ON resources (id) WHERE gone_at IS NOT NULL;

CREATE TABLE resource_tags (
    resource_id INTEGER NOT NULL,
    key         TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    PRIMARY KEY (resource_id, key)
) WITHOUT ROWID;

CREATE TABLE controls (
    cid            INTEGER PRIMARY KEY,
    title          TEXT    NOT NULL,
    service        TEXT    NOT NULL,
    resource_type  TEXT    NOT NULL,
    provider       TEXT    NOT NULL,
    criticality    TEXT    NOT NULL CHECK (criticality IN ('HIGH', 'MEDIUM', 'LOW')),
    execution_type TEXT    NOT NULL,
    remediable     INTEGER NOT NULL
);

CREATE TABLE policies (
    name        TEXT PRIMARY KEY,
    provider    TEXT NOT NULL,
    description TEXT NOT NULL
);

CREATE TABLE policy_controls (
    policy_name TEXT    NOT NULL,
    cid         INTEGER NOT NULL,
    PRIMARY KEY (policy_name, cid)
) WITHOUT ROWID;

CREATE INDEX policy_controls_cid ON policy_controls (cid);

CREATE TABLE evaluations (
    resource_id     INTEGER NOT NULL,
    cid             INTEGER NOT NULL,
    result          TEXT    NOT NULL CHECK (result IN ('PASS', 'FAIL', 'PASSE', 'SKIP')),
    expected        TEXT    NOT NULL,
    actual          TEXT    NOT NULL,
    message         TEXT    NOT NULL,
    first_evaluated BIGINT  NOT NULL,
    last_evaluated  BIGINT  NOT NULL,
    last_reopened   BIGINT,
    last_fixed      BIGINT,
    PRIMARY KEY (resource_id, cid)
) WITHOUT ROWID;

CREATE INDEX evaluations_result_cid ON evaluations (result, cid);
