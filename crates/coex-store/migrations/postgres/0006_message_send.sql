-- A message the send queue sent names its send. A `failed` status then finds its send through
-- the message (unique by number and wamid anyway) instead of through a second (number, wamid)
-- index on `sends`, which every accepted send paid for with a write at a random place in it.
ALTER TABLE messages ADD COLUMN send_id BIGINT;
UPDATE messages m SET send_id = s.id FROM sends s
 WHERE s.number_id = m.number_id AND s.wamid = m.wamid
   AND m.direction = 'outbound' AND m.origin IN ('api_agent', 'automation', 'campaign');
DROP INDEX sends_by_wamid;
