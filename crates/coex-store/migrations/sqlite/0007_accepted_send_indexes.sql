-- The ledger's two time indexes on `sends` (totals per number and time; the portfolio's
-- business-initiated sends in the last 24 h) are only ever read for accepted sends: their
-- queries bound `accepted_at`, which no queued send has. Indexed only once accepted, a send
-- costs them nothing when it is queued, and its accept is one insert into each instead of
-- moving an entry out of the number's NULL block and into its time order.
DROP INDEX sends_by_number_time;
CREATE INDEX sends_by_number_time ON sends(number_id, accepted_at) WHERE accepted_at IS NOT NULL;
DROP INDEX sends_messaging_limit;
CREATE INDEX sends_messaging_limit ON sends(workspace_id, accepted_at)
    WHERE business_initiated AND accepted_at IS NOT NULL;
