-- Vigil store, schema version 6: exceptions (seed 001, "Exceptions").
-- Times are milliseconds since the epoch (UTC). An exception covers either
-- resources (exception_resources: a native id or a resource uid) or every
-- resource of connectors (exception_connectors: resources whose source is
-- connector:<id>), for the controls in exception_controls. History rows
-- outlive their exception. PASSE in evaluations.result is exactly a FAIL
-- covered by an exception active now (see vigil_store::exceptions).

CREATE TABLE exceptions (
    id                 TEXT    PRIMARY KEY,
    name               TEXT    NOT NULL,
    reason             TEXT    NOT NULL,
    explanation        TEXT    NOT NULL,
    start_at           BIGINT  NOT NULL,
    end_at             BIGINT  NOT NULL,
    security_policy    TEXT    NOT NULL,
    security_procedure TEXT    NOT NULL,
    scope              TEXT    NOT NULL CHECK (scope IN ('resources', 'connectors')),
    created_by         TEXT    NOT NULL,
    created_at         BIGINT  NOT NULL,
    updated_by         TEXT    NOT NULL,
    updated_at         BIGINT  NOT NULL
);

CREATE TABLE exception_controls (
    exception_id TEXT    NOT NULL,
    cid          INTEGER NOT NULL,
    PRIMARY KEY (exception_id, cid)
);

CREATE TABLE exception_resources (
    exception_id TEXT NOT NULL,
    resource     TEXT NOT NULL,
    PRIMARY KEY (exception_id, resource)
);

CREATE TABLE exception_connectors (
    exception_id TEXT NOT NULL,
    connector_id TEXT NOT NULL,
    PRIMARY KEY (exception_id, connector_id)
);

CREATE TABLE exception_history (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exception_id TEXT    NOT NULL,
    at           BIGINT  NOT NULL,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    changes      TEXT    NOT NULL
);

CREATE INDEX exception_history_exception ON exception_history (exception_id, id);

-- A resource-scoped exception finds its resources by native id.
CREATE INDEX resources_native_id ON resources (native_id);
