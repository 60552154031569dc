-- Vigil store, PostgreSQL schema version 8: user-defined controls, criticality
-- overrides and custom policies. A user-defined control keeps its whole
-- `control.toml` text in `definition`; a deleted one stays as a tombstone
-- (`deleted_at`) so its CID is never given out again. `cids` and
-- `connectors` are JSON lists; times are milliseconds since the epoch (UTC).

CREATE TABLE user_controls (
    cid           BIGINT  PRIMARY KEY,
    title         TEXT    NOT NULL,
    criticality   TEXT    NOT NULL CHECK (criticality IN ('HIGH', 'MEDIUM', 'LOW')),
    resource_type TEXT    NOT NULL,
    based_on      BIGINT,
    definition    TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    deleted_at    BIGINT
);

CREATE TABLE criticality_overrides (
    cid         BIGINT  PRIMARY KEY,
    criticality TEXT    NOT NULL CHECK (criticality IN ('HIGH', 'MEDIUM', 'LOW'))
);

CREATE TABLE custom_policies (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    cids        TEXT NOT NULL,
    connectors  TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS resources_native_id ON resources (native_id);
