-- Foreign keys checked once per merge step instead of once per inserted row.
--
-- PostgreSQL checks a foreign key with one query per inserted row. A first sync of a
-- million-student district inserts five million enrollments and a million students: measured
-- here, those checks were 37 of the 47 s of the enrollment insert and 6.5 of the 14 s of the
-- student insert. The merge already builds every new row from a join with the very rows it
-- references, so each check only repeats what the join found. What the checks also do is lock
-- the referenced row (FOR KEY SHARE), so that another session cannot delete it before this
-- transaction commits. The merge does both for the whole set instead:
--
--   SELECT etl.begin_bulk_insert(ARRAY['roster.enrollments', 'roster.change_log']::regclass[],
--                                ARRAY['enrollments_section_fkey', 'enrollments_student_fkey']);
--   SELECT etl.hold_references('roster.sections', 'enrollment_changes', 'section_id', 'action = ''create''');
--   INSERT ...;
--   SELECT etl.end_bulk_insert();
--
-- begin_bulk_insert turns per-row trigger firing off for this transaction only
-- (session_replication_role = replica, the switch logical replication and pg_restore use), and
-- only when that is the sole effect:
-- * the role may set the parameter (a superuser, or on PostgreSQL 15 and later
--   `GRANT SET ON PARAMETER session_replication_role TO ...`);
-- * the tables have no triggers or rules of their own, which would be skipped too;
-- * their foreign keys are exactly the ones the caller names (and covers with hold_references,
--   the district's row being held here): a key added later, by a migration or by the platform,
--   turns the bulk path off rather than going unchecked.
-- The tables are locked ROW EXCLUSIVE first (what the INSERT takes anyway), so no trigger or key
-- can be added between this check and the insert. Otherwise it returns false, nothing changes,
-- and PostgreSQL checks every row as before.

CREATE FUNCTION etl.begin_bulk_insert(tables regclass[], foreign_keys text[]) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    allowed boolean;
    target regclass;
BEGIN
    IF current_setting('session_replication_role') <> 'origin' THEN
        RETURN false;
    END IF;
    IF current_setting('server_version_num')::int >= 150000 THEN
        allowed := has_parameter_privilege('session_replication_role', 'SET');
    ELSE
        allowed := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
    END IF;
    IF NOT allowed THEN
        RETURN false;
    END IF;
    FOREACH target IN ARRAY tables LOOP
        EXECUTE format('LOCK TABLE %s IN ROW EXCLUSIVE MODE', target);
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = ANY (tables) AND NOT tgisinternal)
       OR EXISTS (SELECT 1 FROM pg_rewrite WHERE ev_class = ANY (tables))
       OR EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY (tables)
                  AND conname <> ALL (foreign_keys)) THEN
        RETURN false;
    END IF;
    -- Every roster row points at its district: held here once rather than by each step.
    PERFORM 1 FROM roster.districts WHERE id = etl.current_district_id() FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'district % is not in roster.districts', etl.current_district_id()
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    PERFORM set_config('session_replication_role', 'replica', true);
    PERFORM set_config('rostersync.bulk_insert', 'on', true);
    RETURN true;
END
$$;

CREATE FUNCTION etl.end_bulk_insert() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('rostersync.bulk_insert', true) = 'on' THEN
        PERFORM set_config('session_replication_role', 'origin', true);
        PERFORM set_config('rostersync.bulk_insert', 'off', true);
    END IF;
END
$$;

-- Locks the rows of `parent` (a roster table with id and district_id) that new rows point at
-- (the non-null values of ids.id_column in the rows matching `filter`), in this run's district,
-- as each per-row check would have: FOR KEY SHARE, until this transaction ends. One that is
-- missing (deleted by another session since this merge read it) stops the run, as the per-row
-- check would have. Does nothing outside a bulk insert: there the per-row checks run and take
-- these locks themselves.
CREATE FUNCTION etl.hold_references(parent regclass, ids regclass, id_column text, filter text DEFAULT 'true')
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    wanted bigint;
    held bigint;
BEGIN
    IF current_setting('rostersync.bulk_insert', true) IS DISTINCT FROM 'on' THEN
        RETURN;
    END IF;
    -- In id order: on a first sync the parent's statistics predate its rows and the planner
    -- probes its primary key once per id, which in order reads each page once.
    EXECUTE format($sql$
        WITH wanted AS MATERIALIZED (SELECT DISTINCT %1$I AS id FROM %2$s WHERE %1$I IS NOT NULL AND (%4$s) ORDER BY 1),
        held AS (SELECT p.id FROM wanted w JOIN %3$s p ON p.id = w.id
                 WHERE p.district_id = etl.current_district_id()
                 FOR KEY SHARE OF p)
        SELECT (SELECT count(*) FROM wanted), (SELECT count(*) FROM held)
        $sql$, id_column, ids, parent, filter)
    INTO wanted, held;
    IF held <> wanted THEN
        RAISE EXCEPTION '% of the % rows of % that new rows point at are gone (deleted by another session during this run)',
            wanted - held, wanted, parent
            USING ERRCODE = 'foreign_key_violation';
    END IF;
END
$$;

-- The change log's record index leaves out memberships. Enrollments and section teachers are
-- most of a district's rows (five million of six at a million students) and their record id is
-- a pair ('section:student'), which nobody looks up whole: keeping the index up to date was 12 of
-- the 25 s it took to log a first sync's enrollments. A record's history (`rostersync explain`,
-- "why is this student missing?") is looked up by student, teacher, section, school or term.
-- Rebuilding it blocks writes to the change log for a few seconds per million rows: apply this
-- migration (`rostersync migrate`) outside the nightly window.
DROP INDEX roster.change_log_record;
CREATE INDEX change_log_record ON roster.change_log (entity, record_id)
    WHERE entity NOT IN ('enrollment', 'section_teacher');
