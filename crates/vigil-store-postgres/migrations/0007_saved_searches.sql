-- Vigil store, PostgreSQL schema version 7: saved searches and the indexes
-- of the data APIs' keyset pages (each ends with the row's unique key, as
-- the sort keys do).

CREATE TABLE saved_searches (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT    NOT NULL,
    owner       TEXT    NOT NULL,
    query       TEXT    NOT NULL,
    description TEXT    NOT NULL,
    shared      BOOLEAN NOT NULL,
    created_at  BIGINT  NOT NULL,
    UNIQUE (owner, name)
);

CREATE INDEX evaluations_cid_resource ON evaluations (cid, resource_id);

CREATE INDEX evaluations_result_cid_resource ON evaluations (result, cid, resource_id);

CREATE INDEX evaluations_last_evaluated ON evaluations (last_evaluated, resource_id, cid);

CREATE INDEX resources_name ON resources (name, id);

CREATE INDEX resources_first_discovered ON resources (first_discovered, id);
