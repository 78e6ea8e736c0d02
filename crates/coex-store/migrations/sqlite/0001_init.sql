-- coex store, SQLite dialect. Times are Unix milliseconds (INTEGER). Meta ids are TEXT.

CREATE TABLE workspaces (
    id          INTEGER PRIMARY KEY,
    slug        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    -- The last event sequence number handed out for this workspace (see `events`).
    event_seq   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE wabas (
    id            TEXT    PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id),
    name          TEXT,
    created_at    INTEGER NOT NULL
);

CREATE TABLE numbers (
    id                    TEXT    PRIMARY KEY,
    workspace_id          INTEGER NOT NULL REFERENCES workspaces(id),
    waba_id               TEXT    NOT NULL REFERENCES wabas(id),
    display_phone         TEXT    NOT NULL,
    verified_name         TEXT,
    kind                  TEXT    NOT NULL,
    tier                  TEXT    NOT NULL,
    state                 TEXT    NOT NULL,
    state_reason          TEXT,
    state_changed_at      INTEGER NOT NULL,
    last_app_activity_at  INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX numbers_by_waba ON numbers(waba_id, display_phone);
CREATE INDEX numbers_by_workspace ON numbers(workspace_id);

CREATE TABLE number_events (
    id           INTEGER PRIMARY KEY,
    number_id    TEXT    NOT NULL REFERENCES numbers(id),
    kind         TEXT    NOT NULL,
    reason       TEXT,
    occurred_at  INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    state_before TEXT,
    state_after  TEXT,
    detail       TEXT,
    UNIQUE (number_id, kind, occurred_at)
);

CREATE TABLE contacts (
    id              INTEGER PRIMARY KEY,
    workspace_id    INTEGER NOT NULL REFERENCES workspaces(id),
    bsuid           TEXT,
    parent_bsuid    TEXT,
    phone           TEXT,
    profile_name    TEXT,
    username        TEXT,
    app_full_name   TEXT,
    app_first_name  TEXT,
    in_app_contacts BOOLEAN NOT NULL DEFAULT FALSE,
    app_changed_at  INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (workspace_id, bsuid),
    UNIQUE (workspace_id, phone)
);

-- Earlier BSUIDs of a contact (user_id_update), so late events naming them land right.
CREATE TABLE contact_aliases (
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id),
    bsuid         TEXT    NOT NULL,
    contact_id    INTEGER NOT NULL REFERENCES contacts(id),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, bsuid)
);
CREATE INDEX contact_aliases_by_contact ON contact_aliases(contact_id);

CREATE TABLE conversations (
    id                INTEGER PRIMARY KEY,
    workspace_id      INTEGER NOT NULL REFERENCES workspaces(id),
    number_id         TEXT    NOT NULL REFERENCES numbers(id),
    contact_id        INTEGER NOT NULL REFERENCES contacts(id),
    created_at        INTEGER NOT NULL,
    last_message_at   INTEGER NOT NULL,
    last_inbound_at   INTEGER,
    last_echo_at      INTEGER,
    last_outbound_at  INTEGER,
    message_count     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (number_id, contact_id)
);
CREATE INDEX conversations_by_activity ON conversations(number_id, last_message_at DESC, id DESC);
CREATE INDEX conversations_by_contact ON conversations(contact_id);

CREATE TABLE messages (
    id                INTEGER PRIMARY KEY,
    number_id         TEXT    NOT NULL REFERENCES numbers(id),
    wamid             TEXT    NOT NULL,
    conversation_id   INTEGER NOT NULL REFERENCES conversations(id),
    direction         TEXT    NOT NULL,
    origin            TEXT    NOT NULL,
    sender            TEXT,
    kind              TEXT    NOT NULL,
    body              TEXT,
    media_id          TEXT,
    media_mime        TEXT,
    media_sha256      TEXT,
    media_filename    TEXT,
    reply_to          TEXT,
    payload           TEXT,
    sent_at           INTEGER NOT NULL,
    stored_at         INTEGER NOT NULL,
    status            TEXT,
    status_at         INTEGER,
    error_code        INTEGER,
    error_title       TEXT,
    error_details     TEXT,
    pricing_billable  BOOLEAN,
    pricing_model     TEXT,
    pricing_type      TEXT,
    pricing_category  TEXT,
    edited_at         INTEGER,
    revoked_at        INTEGER,
    UNIQUE (number_id, wamid)
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, sent_at DESC, id DESC);

-- Every status webhook once per (message, status); `applied` is false while the message is
-- unknown (a status that overtook the send's commit), until a later batch reconciles it.
CREATE TABLE status_history (
    number_id         TEXT    NOT NULL,
    wamid             TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    occurred_at       INTEGER NOT NULL,
    received_at       INTEGER NOT NULL,
    error_code        INTEGER,
    error_title       TEXT,
    error_details     TEXT,
    pricing_billable  BOOLEAN,
    pricing_model     TEXT,
    pricing_type      TEXT,
    pricing_category  TEXT,
    applied           BOOLEAN NOT NULL DEFAULT TRUE,
    PRIMARY KEY (number_id, wamid, status)
);
CREATE INDEX status_history_orphans ON status_history(number_id, wamid) WHERE NOT applied;

-- Edits, revokes and history media, kept once each; `applied` is false while the original
-- message has not arrived.
CREATE TABLE message_patches (
    id              INTEGER PRIMARY KEY,
    number_id       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    patch_id        TEXT    NOT NULL,
    target_wamid    TEXT    NOT NULL,
    author          TEXT,
    occurred_at     INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    content_kind    TEXT,
    body            TEXT,
    media_id        TEXT,
    media_mime      TEXT,
    media_sha256    TEXT,
    media_filename  TEXT,
    payload         TEXT,
    applied         BOOLEAN NOT NULL DEFAULT TRUE,
    UNIQUE (number_id, kind, patch_id)
);
CREATE INDEX message_patches_pending ON message_patches(number_id, target_wamid) WHERE NOT applied;

CREATE TABLE sync_jobs (
    number_id        TEXT    NOT NULL REFERENCES numbers(id),
    kind             TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    request_id       TEXT,
    requested_at     INTEGER,
    phase            INTEGER,
    chunk_order      INTEGER,
    progress         INTEGER NOT NULL DEFAULT 0,
    chunks_received  INTEGER NOT NULL DEFAULT 0,
    items_received   INTEGER NOT NULL DEFAULT 0,
    last_event_at    INTEGER,
    error_code       INTEGER,
    error_title      TEXT,
    error_details    TEXT,
    PRIMARY KEY (number_id, kind)
);

CREATE TABLE history_chunks (
    number_id    TEXT    NOT NULL REFERENCES numbers(id),
    phase        INTEGER NOT NULL,
    chunk_order  INTEGER NOT NULL,
    progress     INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (number_id, phase, chunk_order)
);

CREATE TABLE webhook_archive (
    id            INTEGER PRIMARY KEY,
    received_at   INTEGER NOT NULL,
    signature_ok  BOOLEAN NOT NULL,
    body          BLOB    NOT NULL,
    processed_at  INTEGER
);
CREATE INDEX webhook_archive_pending ON webhook_archive(id) WHERE processed_at IS NULL AND signature_ok;

CREATE TABLE change_errors (
    id           INTEGER PRIMARY KEY,
    archive_id   INTEGER REFERENCES webhook_archive(id),
    received_at  INTEGER NOT NULL,
    waba_id      TEXT,
    number_id    TEXT,
    field        TEXT,
    error        TEXT    NOT NULL,
    raw          TEXT    NOT NULL
);

-- The per-workspace feed (outbox): appended in the transaction that made the change.
CREATE TABLE events (
    workspace_id     INTEGER NOT NULL REFERENCES workspaces(id),
    seq              INTEGER NOT NULL,
    kind             TEXT    NOT NULL,
    at               INTEGER NOT NULL,
    number_id        TEXT,
    conversation_id  INTEGER,
    contact_id       INTEGER,
    wamid            TEXT,
    data             TEXT    NOT NULL,
    PRIMARY KEY (workspace_id, seq)
);
