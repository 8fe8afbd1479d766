-- Box office: the statements its handlers send, as a production service
-- writes them ($n are the driver's parameters).

-- Set-up and catalog checks.
SELECT to_regclass('public.holds') IS NOT NULL AS migrated;
INSERT INTO venues (name) VALUES ($1) RETURNING id;
INSERT INTO events (venue_id, title, starts_at, capacity, price)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, hold_ttl;
INSERT INTO seats (event_id, seat_no, section) VALUES ($1, $2, $3);
INSERT INTO customers (email) VALUES ($1) RETURNING id;
SELECT id FROM customers WHERE lower(email) = lower($1);

-- Holds: one active hold per seat (the partial unique index), each with
-- a time to live.
INSERT INTO holds (event_id, seat_no, customer_id, expires_at)
VALUES ($1, $2, $3, now() + $4::interval)
RETURNING id, expires_at;
SELECT count(*) AS held
FROM holds
WHERE event_id = $1 AND status = 'active' AND expires_at > now();
SELECT id, status, expires_at > now() AS live
FROM holds
WHERE id = $1
FOR UPDATE;
UPDATE holds SET status = 'confirmed' WHERE id = $1 AND status = 'active' AND expires_at > now();
UPDATE holds SET status = 'released' WHERE id = $1 AND customer_id = $2 AND status = 'active';
UPDATE holds SET status = 'expired'
WHERE status = 'active' AND expires_at < now()
RETURNING id, event_id, seat_no;
SELECT id, status FROM holds WHERE id = ANY($1::uuid[]);
SELECT extract(epoch FROM expires_at - now()) AS seconds_left FROM holds WHERE id = $1;
SELECT CASE WHEN expires_at < now() THEN 'expired' ELSE status::text END AS effective_status
FROM holds
WHERE id = $1;

-- Orders.
SELECT nextval('order_number_seq') AS order_number;
INSERT INTO orders (hold_id, customer_id, amount) VALUES ($1, $2, $3) RETURNING id, created_at;
UPDATE orders SET status = 'paid', paid_at = now() WHERE id = $1 AND status = 'pending';
UPDATE orders SET status = 'cancelled' WHERE id = $1 AND status = 'pending' RETURNING hold_id;
SELECT COALESCE(sum(amount), 0) AS revenue FROM orders WHERE status = 'paid';
SELECT date_trunc('hour', created_at) AS hour, count(*) AS orders
FROM orders
WHERE created_at > now() - interval '1 day'
GROUP BY date_trunc('hour', created_at)
ORDER BY hour;
SELECT round(avg(amount), 2) AS average_order FROM orders WHERE status = 'paid';

-- Idempotency keys.
INSERT INTO idempotency_keys (key, request_hash) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING;
SELECT request_hash, response_status, response_body
FROM idempotency_keys
WHERE key = $1 AND expires_at > now();
UPDATE idempotency_keys
SET response_status = $2,
    response_body = jsonb_build_object('order_id', $3::uuid, 'amount', $4::numeric)
WHERE key = $1;
SELECT response_body ->> 'order_id' AS order_id FROM idempotency_keys WHERE key = $1;
DELETE FROM idempotency_keys WHERE expires_at < now();

-- The job queue, drained by a background worker.
INSERT INTO jobs (kind, payload) VALUES ('send_receipt', jsonb_build_object('order_id', $1::uuid)) RETURNING id;
SELECT id, kind, payload
FROM jobs
WHERE state = 'queued' AND run_at <= now()
ORDER BY run_at
LIMIT 1
FOR UPDATE SKIP LOCKED;
UPDATE jobs SET state = 'running', attempts = attempts + 1 WHERE id = $1;
UPDATE jobs
SET state = 'queued', run_at = now() + interval '1 second' * power(2, attempts)
WHERE id = $1;
UPDATE jobs SET state = 'done' WHERE id = $1;
DELETE FROM jobs WHERE state = 'done' AND run_at < now() - interval '7 days';

-- The waitlist.
INSERT INTO waitlist (event_id, customer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING;
SELECT customer_id
FROM waitlist
WHERE event_id = $1
ORDER BY joined_at
LIMIT 1
FOR UPDATE SKIP LOCKED;
DELETE FROM waitlist WHERE event_id = $1 AND customer_id = $2;

-- Seat labels and removing an event (cascades to seats, holds, waitlist).
SELECT upper(section) || seat_no::text AS label FROM seats WHERE event_id = $1 ORDER BY seat_no;
DELETE FROM events WHERE id = $1;
