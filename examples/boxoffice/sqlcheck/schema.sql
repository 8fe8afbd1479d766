-- Box office: events with a seat map, seat holds that expire, orders,
-- idempotency keys, a job queue drained by a background worker, and a
-- waitlist. Written as a production team writes its first migration.

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TYPE hold_status AS ENUM ('active', 'confirmed', 'released', 'expired');
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'cancelled', 'refunded');
CREATE TYPE job_state AS ENUM ('queued', 'running', 'done', 'failed');

CREATE TABLE venues (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        varchar(120) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    venue_id        uuid NOT NULL REFERENCES venues (id) ON DELETE CASCADE,
    title           text NOT NULL,
    starts_at       timestamptz NOT NULL,
    hold_ttl        interval NOT NULL DEFAULT interval '10 minutes',
    capacity        integer NOT NULL CHECK (capacity > 0),
    price           numeric(10, 2) NOT NULL CHECK (price >= 0),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX events_venue_idx ON events (venue_id);

CREATE TABLE seats (
    event_id    uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    seat_no     integer NOT NULL,
    section     char(1) NOT NULL DEFAULT 'A',
    PRIMARY KEY (event_id, seat_no)
);

CREATE TABLE customers (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email       varchar(254) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Emails are unique whatever their case.
CREATE UNIQUE INDEX customers_email_key ON customers (lower(email));

CREATE TABLE holds (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id    uuid NOT NULL,
    seat_no     integer NOT NULL,
    customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    status      hold_status NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL DEFAULT now() + interval '10 minutes',
    FOREIGN KEY (event_id, seat_no) REFERENCES seats (event_id, seat_no) ON DELETE CASCADE
);

-- One active hold per seat: the invariant the whole service rests on.
CREATE UNIQUE INDEX holds_one_active_per_seat ON holds (event_id, seat_no) WHERE status = 'active';
CREATE INDEX holds_expiry_idx ON holds (expires_at) WHERE status = 'active';

CREATE TABLE orders (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    hold_id         uuid NOT NULL UNIQUE REFERENCES holds (id),
    customer_id     uuid NOT NULL REFERENCES customers (id),
    status          order_status NOT NULL DEFAULT 'pending',
    amount          numeric(10, 2) NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    paid_at         timestamptz
);

CREATE TABLE idempotency_keys (
    key             varchar(64) PRIMARY KEY,
    request_hash    text NOT NULL,
    response_status integer,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL DEFAULT now() + interval '24 hours'
);

CREATE SEQUENCE order_number_seq START WITH 1000;

CREATE TABLE jobs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}',
    state       job_state NOT NULL DEFAULT 'queued',
    run_at      timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL DEFAULT 0
);

CREATE INDEX jobs_ready_idx ON jobs (run_at) WHERE state = 'queued';

CREATE TABLE waitlist (
    event_id    uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    joined_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, customer_id)
);
