-- Archived webhook bodies may be LZ4-compressed (see `archive_body.rs`): each row says how.
-- Rows written before this migration hold bodies as they arrived.
ALTER TABLE webhook_archive ADD COLUMN body_encoding TEXT NOT NULL DEFAULT 'identity';
-- Large bodies arrive compressed already: TOAST stores them out of line without trying its
-- own compression again (pglz on a 3 MB body costs more than the write it would save).
ALTER TABLE webhook_archive ALTER COLUMN body SET STORAGE EXTERNAL;

-- Every message's arrival time was indexed for the coexistence traffic share; 0004's partial
-- index (inbound and echoes only) serves that query, so this one only cost each insert.
DROP INDEX messages_by_number_stored;
