-- A coexistence lane measures its number's inbound and echo traffic every second (the share of
-- the number's 20 MPS it leaves them). Only those origins are indexed, so the many API sends
-- cost this index nothing.
CREATE INDEX messages_live_traffic ON messages(number_id, stored_at)
    WHERE origin IN ('customer', 'business_app');
