-- The SIS id changes a run applies, resolved as chains. A record whose SIS id changed twice
-- between two syncs (A -> B, then B -> C: two pairs recorded), or whose pairs were recorded
-- after a gap, must move A -> C in one run. Applying only A -> B, as one pair at a time did,
-- left the record at B while the feed had C: C was created as a new person and the record
-- archived, and the next run could no longer apply B -> C (C was taken): a duplicate for good.
--
-- For each Clever record whose SIS id starts a recorded pair, and whose old id has no loadable
-- row in the feed (the SIS has switched), follow the pairs while the id reached is neither in
-- the feed (a pair recorded ahead of the SIS: wait there) nor held by another Clever record
-- (that record may be moving itself; the rest waits for the next run, as a single pair whose new
-- id is taken does), and not back to an id already on the path (a cycle). The move is from the
-- old id to the id reached last, unless a Clever record holds that id. When two records would
-- take one new id, `conflict` is true and neither moves: 00_prepare.sql reports them.
--
-- 01_sis_id_changes.sql applies these moves; 00_prepare.sql uses them for teachers' emails and
-- to leave out of the probable-change report what a recorded chain already covers. Reads
-- etl.current_district_id() and etl.current_run_id(), so a merge session's own values.
CREATE FUNCTION etl.sis_id_moves(p_entity text)
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
              AND NOT EXISTS (SELECT 1 FROM staging.%1$I s WHERE s.run_id = etl.current_run_id()
                              AND s.sis_id = c.sis_id AND s.excluded IS NULL)
              AND NOT EXISTS (SELECT 1 FROM roster.%1$I x WHERE x.district_id = etl.current_district_id()
                              AND x.source = 'clever' AND x.sis_id = c.sis_id)),
        moves AS (
            SELECT DISTINCT ON (start) start, sis_id FROM chain ORDER BY start, cardinality(path) DESC)
        SELECT m.start, m.sis_id, count(*) OVER (PARTITION BY m.sis_id) > 1
        FROM moves m
        WHERE NOT EXISTS (SELECT 1 FROM roster.%1$I x WHERE x.district_id = etl.current_district_id()
                          AND x.source = 'clever' AND x.sis_id = m.sis_id)
        $q$, p_entity || 's') USING p_entity;
END
$fn$;
