-- Vigil store, SQLite schema version 11: S3 delivery (issue 7, seed 000).
-- Integrations (VM, PC, OCSF) with their settings, validation state and
-- counters; the content hash of every subject (host, QID, resource) an
-- integration delivered, so unchanged subjects are not sent again; the
-- durable outbox of objects to write (removed only after S3 confirmed);
-- the CIPS filter and its policies; the planner's lease. Times are
-- milliseconds; a watermark of 0 is the epoch (plan everything).

CREATE TABLE integrations (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                  TEXT    NOT NULL,
    name                  TEXT    NOT NULL,
    bucket_name           TEXT    NOT NULL,
    bucket_region         TEXT    NOT NULL,
    role_arn              TEXT    NOT NULL,
    compress_data         INTEGER NOT NULL,
    min_severity          BIGINT  NOT NULL,
    base_category         TEXT    NOT NULL,
    result_section_needed INTEGER NOT NULL,
    send_vuln_info        INTEGER NOT NULL,
    send_alerts           INTEGER NOT NULL,
    error_emails          TEXT    NOT NULL,
    external_id           TEXT    NOT NULL,
    validated             INTEGER NOT NULL,
    state                 TEXT    NOT NULL CHECK (state IN ('pending', 'active', 'error')),
    problem               TEXT,
    alerted_problem       TEXT,
    created               BIGINT  NOT NULL,
    updated               BIGINT  NOT NULL,
    last_delivery         BIGINT,
    objects_delivered     BIGINT  NOT NULL,
    items_delivered       BIGINT  NOT NULL,
    watermark             BIGINT  NOT NULL,
    UNIQUE (kind, name)
);

CREATE TABLE delivery_subjects (
    integration_id BIGINT NOT NULL,
    subject        TEXT   NOT NULL,
    hash           BIGINT NOT NULL,
    PRIMARY KEY (integration_id, subject)
) WITHOUT ROWID;

CREATE TABLE delivery_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id   BIGINT  NOT NULL,
    key              TEXT    NOT NULL,
    body             BLOB    NOT NULL,
    content_type     TEXT    NOT NULL,
    content_encoding TEXT,
    items            BIGINT  NOT NULL,
    created          BIGINT  NOT NULL,
    attempts         BIGINT  NOT NULL,
    next_attempt     BIGINT  NOT NULL,
    last_error       TEXT
);

-- The sender's order.
CREATE INDEX delivery_outbox_due ON delivery_outbox (next_attempt, id);

CREATE INDEX delivery_outbox_integration ON delivery_outbox (integration_id);

-- One row (one = 1) once the filter was created.
CREATE TABLE cips_config (
    one                   INTEGER PRIMARY KEY CHECK (one = 1),
    id                    BIGINT  NOT NULL,
    include_evidence_data INTEGER NOT NULL,
    include_fail_posture  INTEGER NOT NULL,
    include_pass_posture  INTEGER NOT NULL,
    include_error_posture INTEGER NOT NULL,
    last_updated          BIGINT  NOT NULL
);

CREATE TABLE cips_policies (
    policy_id BIGINT PRIMARY KEY,
    added     BIGINT NOT NULL
);

-- One row (one = 1): the node that plans, until when.
CREATE TABLE delivery_lease (
    one   INTEGER PRIMARY KEY CHECK (one = 1),
    node  TEXT    NOT NULL,
    until BIGINT  NOT NULL
);

-- What the planner reads: what changed since a watermark.
CREATE INDEX qualys_detections_last_seen ON qualys_detections (last_seen, connector_id, host_id);

CREATE INDEX qualys_pc_postures_last_seen ON qualys_pc_postures (last_seen, connector_id, host_id);

-- Seed 000's posture history: lastPosture, failDateFirstFound,
-- failDateLastFound, passedDateFirstFound, passedDateLastFound.
ALTER TABLE qualys_pc_postures ADD COLUMN last_status TEXT;

ALTER TABLE qualys_pc_postures ADD COLUMN fail_first_found BIGINT;

ALTER TABLE qualys_pc_postures ADD COLUMN fail_last_found BIGINT;

ALTER TABLE qualys_pc_postures ADD COLUMN passed_first_found BIGINT;

ALTER TABLE qualys_pc_postures ADD COLUMN passed_last_found BIGINT;
