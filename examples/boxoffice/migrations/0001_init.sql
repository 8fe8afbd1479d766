-- Box office schema, version 1.
--
-- Seats are accounted on holds: a hold is `held` until it is confirmed,
-- released or swept as expired; the seats of an event in use are those
-- of its `held` and `confirmed` holds. Whether seats are free is decided
-- under the event's row lock (see src/routes.rs), so the count and the
-- insert of a hold are one step for every other hold of the event.

CREATE TYPE hold_status AS ENUM ('held', 'confirmed', 'released', 'expired', 'cancelled');
CREATE TYPE order_status AS ENUM ('confirmed', 'cancelled');
CREATE TYPE job_kind AS ENUM ('send_tickets', 'refund');

CREATE TABLE events (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    capacity    integer NOT NULL CHECK (capacity >= 0),
    starts_at   timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE holds (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id         uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    seats            integer NOT NULL CHECK (seats > 0),
    status           hold_status NOT NULL DEFAULT 'held',
    idempotency_key  text,
    expires_at       timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- The seats in use of an event are read through this index.
CREATE INDEX holds_in_use ON holds (event_id) WHERE status IN ('held', 'confirmed');
-- The sweeper's scan: live holds by expiry.
CREATE INDEX holds_expiring ON holds (expires_at) WHERE status = 'held';
-- A client's retry of the same hold finds the first one.
CREATE UNIQUE INDEX holds_idempotency ON holds (idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE orders (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    hold_id     uuid NOT NULL UNIQUE REFERENCES holds (id),
    event_id    uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    seats       integer NOT NULL CHECK (seats > 0),
    status      order_status NOT NULL DEFAULT 'confirmed',
    created_at  timestamptz NOT NULL DEFAULT now(),
    cancelled_at timestamptz
);

-- Work for the background worker: tickets to send, refunds to make.
CREATE TABLE jobs (
    id          bigserial PRIMARY KEY,
    kind        job_kind NOT NULL,
    order_id    uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    run_after   timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL DEFAULT 0,
    done_at     timestamptz
);

CREATE INDEX jobs_pending ON jobs (run_after) WHERE done_at IS NULL;

-- What the worker did: one row per job carried out (a mail sent, a refund
-- issued), so that doing a job twice shows.
CREATE TABLE deliveries (
    job_id      bigint PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    order_id    uuid NOT NULL,
    kind        job_kind NOT NULL,
    delivered_at timestamptz NOT NULL DEFAULT now()
);
