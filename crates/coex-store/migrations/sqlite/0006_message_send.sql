-- A message the send queue sent names its send. A `failed` status then finds its send through
-- the message (unique by number and wamid anyway) instead of through a second (number, wamid)
-- index on `sends`, which every accepted send paid for with a write at a random place in it.
ALTER TABLE messages ADD COLUMN send_id INTEGER;
UPDATE messages SET send_id = (SELECT s.id FROM sends s
                               WHERE s.number_id = messages.number_id AND s.wamid = messages.wamid)
 WHERE direction = 'outbound' AND origin IN ('api_agent', 'automation', 'campaign');
DROP INDEX sends_by_wamid;
