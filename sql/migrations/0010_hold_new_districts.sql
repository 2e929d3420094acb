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
-- etl.begin_merge, the merge's first statement, notes those tables; etl.hold_clever_references,
-- for ids of Clever rows (the merge's come from joins on source = 'clever'), returns at once
-- for them and otherwise holds as etl.hold_references does. Clever rows because the district's
-- are indexed (the partial unique index on SIS id), where looking for any row would read a
-- shared table's every row on a new district; ids that may be of manual rows, which did exist,
-- go to etl.hold_references as before. Under READ COMMITTED a later statement may see rows
-- others committed since, so nothing is noted and every hold runs.
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

CREATE FUNCTION etl.hold_clever_references(parent regclass, ids regclass, id_column text, filter text DEFAULT 'true')
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF parent::oid::text = ANY (string_to_array(current_setting('rostersync.no_clever_rows_at_start', true), ',')) THEN
        RETURN;
    END IF;
    PERFORM etl.hold_references(parent, ids, id_column, filter);
END
$$;
