-- Vigil store, schema version 3: API users and server settings.
-- `password_hash` is an argon2 PHC string (never a password); `role` is
-- manager, sub_user or reader; `tags` is a JSON list; times are
-- milliseconds since the epoch (UTC). `settings` holds values shared by
-- every node on one database, such as the JWT signing key.

CREATE TABLE users (
    username      TEXT    PRIMARY KEY,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    tags          TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    disabled      BOOLEAN NOT NULL
);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
