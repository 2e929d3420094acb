-- The run ledger: one row per pipeline run and one per task attempt.

CREATE TABLE etl.runs (
    id          bigserial PRIMARY KEY,
    pipeline    text NOT NULL,
    district_id text NOT NULL,
    mode        text NOT NULL,
    as_of       date NOT NULL,
    status      text NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'succeeded', 'failed', 'blocked', 'skipped', 'cancelled')),
    source      text,
    options     jsonb NOT NULL DEFAULT '{}'::jsonb,
    counts      jsonb NOT NULL DEFAULT '{}'::jsonb,
    message     text,
    error       text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX runs_district ON etl.runs (district_id, id DESC);

CREATE TABLE etl.task_runs (
    id          bigserial PRIMARY KEY,
    run_id      bigint NOT NULL REFERENCES etl.runs(id),
    task        text NOT NULL,
    attempt     integer NOT NULL DEFAULT 1,
    status      text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled', 'skipped')),
    rows_in     bigint,
    rows_out    bigint,
    error       text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX task_runs_run ON etl.task_runs (run_id);

-- The merge reads its run from session settings, so a data engineer can run any merge file by
-- hand in psql after `SET rostersync.run_id = 42; SET rostersync.district_id = 'd1'; ...`.
CREATE FUNCTION etl.current_run_id() RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT current_setting('rostersync.run_id')::bigint
$$;
CREATE FUNCTION etl.current_district_id() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT current_setting('rostersync.district_id')
$$;
CREATE FUNCTION etl.current_as_of() RETURNS date LANGUAGE sql STABLE AS $$
    SELECT current_setting('rostersync.as_of')::date
$$;
-- The fields that differ between two versions of a row, as {"field": [old, new]}; bookkeeping
-- columns are left out so the change log shows what a person would call a change.
CREATE FUNCTION etl.jsonb_diff(old jsonb, new jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(n.key, jsonb_build_array(old -> n.key, n.value)), '{}'::jsonb)
    FROM jsonb_each(new) AS n
    WHERE n.key NOT IN ('updated_at', 'created_at', 'archived_at', 'suspended_at')
      AND (old -> n.key) IS DISTINCT FROM n.value
$$;
