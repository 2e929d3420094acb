-- A district's first rows need no hold at all.
--
-- etl.hold_references (0007, 0009) collects every id that a bulk insert's new rows point at,
-- then locks those its transaction did not write. On a district's first sync it writes nothing:
-- every student and section is the merge's own. Collecting the ids still cost 4.7 s of a
-- million-student first sync (five million enrollments, de-duplicated to a million students).
--
-- The merge runs REPEATABLE READ: every statement reads the roster as it was when the merge
-- began, plus the merge's own writes. So when a roster table had no Clever row of the district
-- at that moment, every Clever row of the district the merge can see there later is one it
-- wrote: invisible to others until commit, nothing another session can delete, no lock to take.
-- etl.begin_merge, the merge's first statement, notes those tables; hold_references returns at
-- once for them when its caller says the ids are of Clever rows (`clever_rows => true`: the
-- merge's ids come from joins on source = 'clever'). Clever rows because the district's are
-- indexed (the partial unique index on SIS id), where looking for any row would read a shared
-- table's every row on a new district; a caller whose ids may be of manual rows, which did
-- exist, leaves the flag off and is held as before. Under READ COMMITTED a later statement may
-- see rows others committed since, so nothing is noted and every hold runs as before.
CREATE FUNCTION etl.begin_merge() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    parent regclass;
    present boolean;
    none text[] := '{}';
BEGIN
    IF current_setting('transaction_isolation') IN ('repeatable read', 'serializable') THEN
        FOREACH parent IN ARRAY ARRAY['roster.schools', 'roster.terms', 'roster.teachers', 'roster.students',
                                      'roster.sections']::regclass[] LOOP
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE district_id = etl.current_district_id()
                                           AND source = ''clever'')', parent)
            INTO present;
            IF NOT present THEN
                none := none || parent::oid::text;
            END IF;
        END LOOP;
    END IF;
    PERFORM set_config('rostersync.no_clever_rows_at_start', array_to_string(none, ','), true);
END
$$;

-- A new argument: the four-argument function is replaced, not overloaded beside it.
DROP FUNCTION etl.hold_references(regclass, regclass, text, text);

CREATE FUNCTION etl.hold_references(parent regclass, ids regclass, id_column text, filter text DEFAULT 'true',
                                    clever_rows boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    wanted bigint;
    held bigint;
BEGIN
    IF current_setting('rostersync.bulk_insert', true) IS DISTINCT FROM 'on' THEN
        RETURN;
    END IF;
    IF clever_rows
       AND parent::oid::text = ANY (string_to_array(current_setting('rostersync.no_clever_rows_at_start', true), ','))
    THEN
        RETURN;
    END IF;
    -- In id order: on a first sync the parent's statistics predate its rows and the planner
    -- probes its primary key once per id, which in order reads each page once.
    EXECUTE format($sql$
        WITH wanted AS MATERIALIZED (SELECT DISTINCT %1$I AS id FROM %2$s WHERE %1$I IS NOT NULL AND (%4$s) ORDER BY 1),
        found AS MATERIALIZED (SELECT p.id, p.xmin = pg_current_xact_id()::xid AS own
                               FROM wanted w JOIN %3$s p ON p.id = w.id
                               WHERE p.district_id = etl.current_district_id()),
        held AS (SELECT p.id FROM found f JOIN %3$s p ON p.id = f.id
                 WHERE NOT f.own AND p.district_id = etl.current_district_id()
                 FOR KEY SHARE OF p)
        SELECT (SELECT count(*) FROM wanted),
               (SELECT count(*) FROM found WHERE own) + (SELECT count(*) FROM held)
        $sql$, id_column, ids, parent, filter)
    INTO wanted, held;
    IF held <> wanted THEN
        RAISE EXCEPTION '% of the % rows of % that new rows point at are gone (deleted by another session during this run)',
            wanted - held, wanted, parent
            USING ERRCODE = 'foreign_key_violation';
    END IF;
END
$$;
