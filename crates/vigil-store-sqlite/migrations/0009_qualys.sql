-- Vigil store, SQLite schema version 9: what the Qualys connector ingests
-- (issue 6), per connector, keyed by the connector and Qualys' identity of
-- each record. Every row has the connector's account name and Vigil's own
-- first_seen and last_seen (milliseconds). Lists are JSON text. A
-- detection without a port has port -1, without a protocol the empty text.

CREATE TABLE qualys_hosts (
    connector_id         TEXT    NOT NULL,
    account_name         TEXT    NOT NULL,
    first_seen           BIGINT  NOT NULL,
    last_seen            BIGINT  NOT NULL,
    host_id              BIGINT  NOT NULL,
    asset_id             BIGINT,
    ip                   TEXT,
    ipv6                 TEXT,
    dns                  TEXT,
    fqdn                 TEXT,
    netbios              TEXT,
    os                   TEXT,
    mac                  TEXT,
    gateway              TEXT,
    tracking_method      TEXT,
    tags                 TEXT    NOT NULL,
    cloud_provider       TEXT,
    instance_id          TEXT,
    cloud_account        TEXT,
    cloud_region         TEXT,
    criticality          BIGINT,
    ars                  BIGINT,
    ars_factors          TEXT,
    last_vuln_scan       BIGINT,
    last_compliance_scan BIGINT,
    last_activity        BIGINT,
    modified             BIGINT,
    PRIMARY KEY (connector_id, host_id)
) WITHOUT ROWID;

CREATE INDEX qualys_hosts_instance ON qualys_hosts (instance_id) WHERE instance_id IS NOT NULL;

CREATE TABLE qualys_detections (
    connector_id  TEXT    NOT NULL,
    account_name  TEXT    NOT NULL,
    first_seen    BIGINT  NOT NULL,
    last_seen     BIGINT  NOT NULL,
    host_id       BIGINT  NOT NULL,
    qid           BIGINT  NOT NULL,
    port          BIGINT  NOT NULL,
    protocol      TEXT    NOT NULL,
    ssl           INTEGER NOT NULL,
    instance_id   TEXT,
    type_detected TEXT    NOT NULL,
    severity      BIGINT  NOT NULL,
    status        TEXT    NOT NULL,
    first_found   BIGINT,
    last_found    BIGINT,
    times_found   BIGINT,
    last_fixed    BIGINT,
    results       TEXT,
    PRIMARY KEY (connector_id, host_id, qid, port, protocol, ssl)
) WITHOUT ROWID;

-- The join of an EC2 instance resource to its detections.
CREATE INDEX qualys_detections_instance ON qualys_detections (instance_id) WHERE instance_id IS NOT NULL;

CREATE TABLE qualys_kb (
    connector_id TEXT    NOT NULL,
    account_name TEXT    NOT NULL,
    first_seen   BIGINT  NOT NULL,
    last_seen    BIGINT  NOT NULL,
    qid          BIGINT  NOT NULL,
    vuln_type    TEXT,
    severity     BIGINT,
    title        TEXT    NOT NULL,
    category     TEXT,
    cves         TEXT    NOT NULL,
    cvss_base    REAL,
    cvss3_base   REAL,
    diagnosis    TEXT,
    consequence  TEXT,
    solution     TEXT,
    patchable    INTEGER NOT NULL,
    published    BIGINT,
    modified     BIGINT,
    PRIMARY KEY (connector_id, qid)
) WITHOUT ROWID;

CREATE TABLE qualys_kb_cves (
    connector_id TEXT    NOT NULL,
    account_name TEXT    NOT NULL,
    first_seen   BIGINT  NOT NULL,
    last_seen    BIGINT  NOT NULL,
    qid          BIGINT  NOT NULL,
    cve          TEXT    NOT NULL,
    PRIMARY KEY (connector_id, qid, cve)
) WITHOUT ROWID;

CREATE TABLE qualys_pc_policies (
    connector_id TEXT   NOT NULL,
    account_name TEXT   NOT NULL,
    first_seen   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    policy_id    BIGINT NOT NULL,
    title        TEXT   NOT NULL,
    created      BIGINT,
    updated      BIGINT,
    control_ids  TEXT   NOT NULL,
    PRIMARY KEY (connector_id, policy_id)
) WITHOUT ROWID;

CREATE TABLE qualys_pc_controls (
    connector_id      TEXT   NOT NULL,
    account_name      TEXT   NOT NULL,
    first_seen        BIGINT NOT NULL,
    last_seen         BIGINT NOT NULL,
    control_id        BIGINT NOT NULL,
    statement         TEXT   NOT NULL,
    category          TEXT,
    sub_category      TEXT,
    criticality_label TEXT,
    criticality_value BIGINT,
    check_type        TEXT,
    frameworks        TEXT   NOT NULL,
    technologies      TEXT   NOT NULL,
    created           BIGINT,
    updated           BIGINT,
    PRIMARY KEY (connector_id, control_id)
) WITHOUT ROWID;

CREATE TABLE qualys_pc_postures (
    connector_id      TEXT   NOT NULL,
    account_name      TEXT   NOT NULL,
    first_seen        BIGINT NOT NULL,
    last_seen         BIGINT NOT NULL,
    policy_id         BIGINT NOT NULL,
    host_id           BIGINT NOT NULL,
    control_id        BIGINT NOT NULL,
    instance          TEXT   NOT NULL,
    posture_id        BIGINT NOT NULL,
    status            TEXT,
    technology_id     BIGINT,
    criticality_value BIGINT,
    evidence          TEXT,
    cause_of_failure  TEXT,
    extended_evidence TEXT,
    first_found       BIGINT,
    last_evaluated    BIGINT,
    posture_modified  BIGINT,
    PRIMARY KEY (connector_id, policy_id, host_id, control_id, instance)
) WITHOUT ROWID;

CREATE TABLE qualys_webapps (
    connector_id TEXT   NOT NULL,
    account_name TEXT   NOT NULL,
    first_seen   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    webapp_id    BIGINT NOT NULL,
    name         TEXT   NOT NULL,
    url          TEXT   NOT NULL,
    tags         TEXT   NOT NULL,
    created      BIGINT,
    updated      BIGINT,
    last_scan    BIGINT,
    PRIMARY KEY (connector_id, webapp_id)
) WITHOUT ROWID;

CREATE TABLE qualys_was_findings (
    connector_id   TEXT   NOT NULL,
    account_name   TEXT   NOT NULL,
    first_seen     BIGINT NOT NULL,
    last_seen      BIGINT NOT NULL,
    finding_id     BIGINT NOT NULL,
    webapp_id      BIGINT NOT NULL,
    qid            BIGINT NOT NULL,
    name           TEXT   NOT NULL,
    finding_type   TEXT,
    severity       BIGINT,
    status         TEXT,
    url            TEXT,
    first_detected BIGINT,
    last_detected  BIGINT,
    times_detected BIGINT,
    PRIMARY KEY (connector_id, finding_id)
) WITHOUT ROWID;

CREATE TABLE qualys_images (
    connector_id TEXT   NOT NULL,
    account_name TEXT   NOT NULL,
    first_seen   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    image_id     TEXT   NOT NULL,
    sha          TEXT,
    repo_tags    TEXT   NOT NULL,
    os           TEXT,
    created      BIGINT,
    updated      BIGINT,
    containers   BIGINT NOT NULL,
    PRIMARY KEY (connector_id, image_id)
) WITHOUT ROWID;

CREATE TABLE qualys_image_vulns (
    connector_id TEXT   NOT NULL,
    account_name TEXT   NOT NULL,
    first_seen   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    image_id     TEXT   NOT NULL,
    qid          BIGINT NOT NULL,
    severity     BIGINT,
    title        TEXT,
    cves         TEXT   NOT NULL,
    first_found  BIGINT,
    last_found   BIGINT,
    PRIMARY KEY (connector_id, image_id, qid)
) WITHOUT ROWID;
