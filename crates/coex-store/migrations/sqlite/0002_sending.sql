-- coex store, SQLite dialect: the send queue, its attempts, idempotency keys and the send
-- lanes (one lease per business number). Times are Unix milliseconds.

-- One row per accepted send request, stored before it is attempted and never deleted.
-- `state`: queued -> sending (claimed by a lane) -> accepted (Meta gave a wamid), or back to
-- queued (retry, deferral), or a terminal needs_template / failed. An accepted send that no
-- status webhook confirmed in time becomes sent_unconfirmed.
CREATE TABLE sends (
    id                  INTEGER PRIMARY KEY,
    workspace_id        INTEGER NOT NULL REFERENCES workspaces(id),
    number_id           TEXT    NOT NULL REFERENCES numbers(id),
    -- The customer as the contact is known: BSUID and/or phone (at least one).
    customer_bsuid      TEXT,
    customer_phone      TEXT,
    -- Where the request goes: 'phone' (`to`) or 'bsuid' (`recipient`), and the value; also
    -- the pair-rate key.
    recipient_kind      TEXT    NOT NULL,
    recipient           TEXT    NOT NULL,
    origin              TEXT    NOT NULL,
    sender              TEXT,
    kind                TEXT    NOT NULL,
    -- The Graph API body exactly as it is sent, every attempt.
    request             TEXT    NOT NULL,
    -- The message as the inbox stores it once Meta accepts it (JSON of MessageContent).
    content             TEXT    NOT NULL,
    category            TEXT    NOT NULL,
    country             TEXT,
    -- A template sent outside the customer-service window: counts against the messaging limit.
    business_initiated  BOOLEAN NOT NULL,
    -- The free-form window the decision relied on; a queued free-form send past it is decided again.
    window_closes_at    INTEGER,
    estimated_micros    INTEGER NOT NULL,
    currency            TEXT    NOT NULL,
    state               TEXT    NOT NULL,
    not_before          INTEGER NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,
    claimed_by          TEXT,
    claimed_at          INTEGER,
    wamid               TEXT,
    error_code          INTEGER,
    error_title         TEXT,
    error_detail        TEXT,
    -- Why a queued send waits (pair rate, throughput pause, messaging limit, lane stopped).
    waiting             TEXT,
    idempotency_key     TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    accepted_at         INTEGER,
    finished_at         INTEGER
);
CREATE INDEX sends_ready ON sends(number_id, not_before, id) WHERE state = 'queued';
CREATE INDEX sends_claimed ON sends(number_id) WHERE state = 'sending';
CREATE INDEX sends_by_wamid ON sends(number_id, wamid) WHERE wamid IS NOT NULL;
CREATE INDEX sends_accepted ON sends(accepted_at) WHERE state = 'accepted';
CREATE INDEX sends_unconfirmed ON sends(id) WHERE state = 'sent_unconfirmed';
CREATE INDEX sends_by_number_time ON sends(number_id, accepted_at);
CREATE INDEX sends_messaging_limit ON sends(workspace_id, accepted_at) WHERE business_initiated;

-- Every request made to Meta for a send, with Meta's answer; and the attempts a crashed
-- owner left without an answer ('abandoned').
CREATE TABLE send_attempts (
    id            INTEGER PRIMARY KEY,
    send_id       INTEGER NOT NULL REFERENCES sends(id),
    attempt       INTEGER NOT NULL,
    owner         TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    outcome       TEXT    NOT NULL,
    http_status   INTEGER,
    error_code    INTEGER,
    wamid         TEXT,
    response      TEXT,
    UNIQUE (send_id, attempt)
);

-- `Idempotency-Key` per workspace: the first send made with it, for 24 hours.
CREATE TABLE send_idempotency (
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id),
    key           TEXT    NOT NULL,
    send_id       INTEGER NOT NULL REFERENCES sends(id),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

-- One lane per business number: the process that owns its lease is the only one sending from
-- it, so the number's cap holds across a cluster. A stopped lane (credentials, policy) keeps
-- its sends queued until resumed.
CREATE TABLE send_lanes (
    number_id         TEXT    PRIMARY KEY REFERENCES numbers(id),
    owner             TEXT,
    lease_expires_at  INTEGER,
    acquired_at       INTEGER,
    paused_until      INTEGER,
    pause_reason      TEXT,
    stopped_at        INTEGER,
    stop_code         INTEGER,
    stop_reason       TEXT,
    updated_at        INTEGER NOT NULL
);

-- Inbound and echo traffic per number and time, for the coexistence throughput share.
CREATE INDEX messages_by_number_stored ON messages(number_id, stored_at);
-- Failed statuses by arrival, so reconciliation reads only the new ones.
CREATE INDEX status_history_failed ON status_history(received_at) WHERE status = 'failed';
