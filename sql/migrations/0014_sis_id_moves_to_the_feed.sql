-- SIS id chains (etl.sis_id_moves, migration 0013) move a record only to an id the feed has, and
-- contradictory pairs stop the run wherever a merge starts.
--
-- 0013 moved a record to the end of its chain even when the feed had none of the chain's ids:
-- a person missing tonight was moved to ids the SIS may not have given yet, one step further
-- each night they stayed away, and created anew the night they came back under an earlier one.
-- Now the move is to the id on the chain that the feed has (the first: a pair recorded ahead
-- waits there). When the feed has none of them (the person left, or is missing tonight),
-- nothing moves: the record is archived under the id it has, and the night the person is back
-- under any id of the chain, it moves there and is restored. "The feed has" means what the merge
-- keeps as present: a loadable row, a teacher's row held back for an email another account has
-- (04_teachers.sql keeps that account as it is), or an unreadable row whose id could be read
-- (migration 0011). The old id waits only for a loadable row, as before.
--
-- 0013 also let two records whose pairs lead to one new id both stay where they were, while the
-- feed's row under that id loaded as a new person: a duplicate that no pair can merge once it
-- exists. etl.check_sis_id_conflicts() stops the run instead, naming the pairs; 00_prepare.sql
-- and 01_sis_id_changes.sql both call it, so `approve` and a resumed merge, which do not run
-- prepare again, stop as well.
CREATE OR REPLACE FUNCTION etl.sis_id_moves(p_entity text)
RETURNS TABLE (old_sis_id text, new_sis_id text, conflict boolean)
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    IF p_entity NOT IN ('school', 'term', 'teacher', 'student', 'section') THEN
        RAISE EXCEPTION 'etl.sis_id_moves: % is not an entity with SIS ids', p_entity;
    END IF;
    -- The staging and roster tables are the entity's plural.
    RETURN QUERY EXECUTE format($q$
        WITH RECURSIVE pairs AS (
            SELECT c.old_sis_id, c.new_sis_id FROM roster.sis_id_changes c
            WHERE c.district_id = etl.current_district_id() AND c.entity = $1),
        present AS (
            SELECT s.sis_id FROM staging.%1$I s
            WHERE s.run_id = etl.current_run_id() AND (s.excluded IS NULL OR s.excluded = 'duplicate_email')
              AND s.sis_id IN (SELECT new_sis_id FROM pairs)
            UNION
            SELECT u.record_key FROM staging.unreadable_rows u
            WHERE u.run_id = etl.current_run_id() AND u.entity = $1 AND u.record_key IN (SELECT new_sis_id FROM pairs)),
        chain AS (
            SELECT p.old_sis_id AS start, p.new_sis_id AS sis_id, ARRAY[p.old_sis_id, p.new_sis_id] AS path
            FROM pairs p
            WHERE EXISTS (SELECT 1 FROM roster.%1$I r WHERE r.district_id = etl.current_district_id()
                          AND r.source = 'clever' AND r.sis_id = p.old_sis_id)
              AND NOT EXISTS (SELECT 1 FROM staging.%1$I s WHERE s.run_id = etl.current_run_id()
                              AND s.sis_id = p.old_sis_id AND s.excluded IS NULL)
            UNION ALL
            SELECT c.start, p.new_sis_id, c.path || p.new_sis_id
            FROM chain c
            JOIN pairs p ON p.old_sis_id = c.sis_id
            WHERE p.new_sis_id <> ALL (c.path)
              AND NOT EXISTS (SELECT 1 FROM present f WHERE f.sis_id = c.sis_id)
              AND NOT EXISTS (SELECT 1 FROM roster.%1$I x WHERE x.district_id = etl.current_district_id()
                              AND x.source = 'clever' AND x.sis_id = c.sis_id)),
        -- A chain stops at the first id the feed has, so each start has at most one.
        moves AS (
            SELECT DISTINCT ON (c.start) c.start, c.sis_id FROM chain c
            WHERE EXISTS (SELECT 1 FROM present f WHERE f.sis_id = c.sis_id)
            ORDER BY c.start, cardinality(c.path))
        SELECT m.start, m.sis_id, count(*) OVER (PARTITION BY m.sis_id) > 1
        FROM moves m
        WHERE NOT EXISTS (SELECT 1 FROM roster.%1$I x WHERE x.district_id = etl.current_district_id()
                          AND x.source = 'clever' AND x.sis_id = m.sis_id)
        $q$, p_entity || 's') USING p_entity;
END
$fn$;

CREATE FUNCTION etl.check_sis_id_conflicts() RETURNS void
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    problem text;
BEGIN
    SELECT string_agg(format('%ss %s would each become %s', entity, olds, new_sis_id), '; ' ORDER BY entity, new_sis_id)
    INTO problem
    FROM (SELECT e.entity, m.new_sis_id, string_agg(m.old_sis_id, ' and ' ORDER BY m.old_sis_id) AS olds
          FROM unnest(ARRAY['school', 'term', 'teacher', 'student', 'section']) AS e(entity)
          CROSS JOIN LATERAL etl.sis_id_moves(e.entity) m
          WHERE m.conflict
          GROUP BY e.entity, m.new_sis_id) c;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'the SIS id changes recorded for this district contradict each other: %', problem
            USING ERRCODE = 'data_exception',
                  HINT = format('Correct them (SELECT * FROM roster.sis_id_changes WHERE district_id = %L) and sync '
                                'again; the roster is unchanged.', etl.current_district_id());
    END IF;
END
$fn$;
