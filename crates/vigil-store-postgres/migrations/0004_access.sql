-- Vigil store, schema version 4: custom roles and the audit log.
-- `permissions` is a JSON list of permission names; users.role names a
-- built-in role (known to the code) or a row here. `details` is JSON text;
-- times are milliseconds since the epoch (UTC).

CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    permissions TEXT NOT NULL
);

CREATE TABLE audit_log (
    id      BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      BIGINT  NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL,
    details TEXT    NOT NULL
);

CREATE INDEX audit_log_target ON audit_log (target, id);

CREATE INDEX users_role ON users (role);
