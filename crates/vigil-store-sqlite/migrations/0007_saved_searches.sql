-- Vigil store, schema version 7: saved searches and the indexes of the data
-- APIs' keyset pages. A WITHOUT ROWID table's index ends with the primary
-- key (resource_id, cid), and a rowid table's with the id, so each index
-- below serves a sort key that ends with the row's unique key.

CREATE TABLE saved_searches (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    owner       TEXT    NOT NULL,
    query       TEXT    NOT NULL,
    description TEXT    NOT NULL,
    shared      INTEGER NOT NULL,
    created_at  BIGINT  NOT NULL,
    UNIQUE (owner, name)
);

-- sort=cid: (cid, resource_id).
CREATE INDEX evaluations_cid ON evaluations (cid);

-- sort=last_evaluated and date filters on it: (last_evaluated, resource_id, cid).
CREATE INDEX evaluations_last_evaluated ON evaluations (last_evaluated);

CREATE INDEX resources_name ON resources (name);

CREATE INDEX resources_first_discovered ON resources (first_discovered);
