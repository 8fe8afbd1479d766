-- Box office: the statements that hold a whole booking step in one
-- round trip (CTEs, subqueries, outer joins, writes from queries).

-- Hold a seat: lock the event, count what is taken, insert the hold.
WITH event AS (
    SELECT id, capacity, hold_ttl FROM events WHERE id = $1 FOR UPDATE
), taken AS (
    SELECT count(*) AS n
    FROM holds
    WHERE event_id = $1 AND status IN ('active', 'confirmed')
)
INSERT INTO holds (event_id, seat_no, customer_id, expires_at)
SELECT event.id, $2, $3, now() + event.hold_ttl
FROM event, taken
WHERE taken.n < event.capacity
RETURNING id;

-- Confirm: the hold becomes an order in one statement.
WITH confirmed AS (
    UPDATE holds SET status = 'confirmed'
    WHERE id = $1 AND status = 'active' AND expires_at > now()
    RETURNING id, customer_id, event_id
)
INSERT INTO orders (hold_id, customer_id, amount)
SELECT confirmed.id, confirmed.customer_id, events.price
FROM confirmed JOIN events ON events.id = confirmed.event_id
RETURNING id;

-- Release a hold that no order refers to.
UPDATE holds SET status = 'released'
WHERE id = $1 AND status = 'active'
  AND NOT EXISTS (SELECT 1 FROM orders WHERE orders.hold_id = holds.id);

-- Cancel an order and free its hold.
UPDATE holds SET status = 'released'
FROM orders
WHERE orders.id = $1 AND orders.hold_id = holds.id AND orders.status = 'cancelled';

-- Expire a batch of holds, each once, with concurrent sweepers.
WITH batch AS (
    SELECT id FROM holds
    WHERE status = 'active' AND expires_at < now()
    ORDER BY expires_at
    LIMIT 100
    FOR UPDATE SKIP LOCKED
)
UPDATE holds SET status = 'expired' FROM batch WHERE holds.id = batch.id
RETURNING holds.id;

-- Availability per event.
SELECT e.id,
       e.capacity,
       count(h.id) FILTER (WHERE h.status = 'active' AND h.expires_at > now()) AS held,
       count(h.id) FILTER (WHERE h.status = 'confirmed') AS sold,
       (SELECT count(*) FROM waitlist w WHERE w.event_id = e.id) AS waiting
FROM events e
LEFT JOIN holds h ON h.event_id = e.id
WHERE e.venue_id = $1
GROUP BY e.id, e.capacity
ORDER BY e.id;
