-- Every contact-sync item from the phone app (`smb_app_state_sync`) once, so the contacts
-- sync job counts distinct items and distinct contacts: a redelivery, in any order, changes
-- no counter. `contact_key` is `p:<digits>` or `b:<bsuid>`; `detail` is the added name.
CREATE TABLE contact_sync_items (
    number_id    TEXT    NOT NULL,
    contact_key  TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    occurred_at  BIGINT NOT NULL,
    detail       TEXT    NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (number_id, contact_key, action, occurred_at, detail)
);
