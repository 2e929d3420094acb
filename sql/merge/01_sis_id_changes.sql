-- Apply the SIS id changes a district recorded (roster.sis_id_changes), before anything is
-- matched, so a record whose SIS id changed keeps its identity and history instead of being
-- archived and created again. Rule: SYNC-RULES.md "District settings", SIS id changes.
-- etl.sis_id_moves (migrations 0013, 0014) resolves the pairs into moves, following chains (A -> B ->
-- C moves A to C in one run when the feed has C). A pair whose new id is already taken is left
-- alone (applying it would merge two people), and so is one whose old id is still in the feed (a
-- loadable row): the SIS has not switched yet (a pair recorded ahead of time), and renaming now
-- would create the person again under the old id and archive the renamed record. It applies the
-- first night the old id is gone. Pairs that would give two records one new id stop the run
-- (migration 0014): in prepare already, and here again for `approve` and a resumed merge, which
-- do not run prepare (the pairs may have been recorded since).
SELECT etl.check_sis_id_conflicts();

WITH moved AS (
    UPDATE roster.schools r SET sis_id = c.new_sis_id, updated_at = now()
    FROM etl.sis_id_moves('school') c
    WHERE NOT c.conflict
      AND r.district_id = etl.current_district_id() AND r.source = 'clever' AND r.sis_id = c.old_sis_id
    RETURNING r.id, c.old_sis_id, c.new_sis_id)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'school', id::text, 'update',
       jsonb_build_object('sis_id', jsonb_build_array(old_sis_id, new_sis_id), 'reason', 'sis_id_change')
FROM moved;

WITH moved AS (
    UPDATE roster.terms r SET sis_id = c.new_sis_id, updated_at = now()
    FROM etl.sis_id_moves('term') c
    WHERE NOT c.conflict
      AND r.district_id = etl.current_district_id() AND r.source = 'clever' AND r.sis_id = c.old_sis_id
    RETURNING r.id, c.old_sis_id, c.new_sis_id)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'term', id::text, 'update',
       jsonb_build_object('sis_id', jsonb_build_array(old_sis_id, new_sis_id), 'reason', 'sis_id_change')
FROM moved;

WITH moved AS (
    UPDATE roster.teachers r SET sis_id = c.new_sis_id, updated_at = now()
    FROM etl.sis_id_moves('teacher') c
    WHERE NOT c.conflict
      AND r.district_id = etl.current_district_id() AND r.source = 'clever' AND r.sis_id = c.old_sis_id
    RETURNING r.id, c.old_sis_id, c.new_sis_id)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'teacher', id::text, 'update',
       jsonb_build_object('sis_id', jsonb_build_array(old_sis_id, new_sis_id), 'reason', 'sis_id_change')
FROM moved;

WITH moved AS (
    UPDATE roster.students r SET sis_id = c.new_sis_id, updated_at = now()
    FROM etl.sis_id_moves('student') c
    WHERE NOT c.conflict
      AND r.district_id = etl.current_district_id() AND r.source = 'clever' AND r.sis_id = c.old_sis_id
    RETURNING r.id, c.old_sis_id, c.new_sis_id)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'student', id::text, 'update',
       jsonb_build_object('sis_id', jsonb_build_array(old_sis_id, new_sis_id), 'reason', 'sis_id_change')
FROM moved;

WITH moved AS (
    UPDATE roster.sections r SET sis_id = c.new_sis_id, updated_at = now()
    FROM etl.sis_id_moves('section') c
    WHERE NOT c.conflict
      AND r.district_id = etl.current_district_id() AND r.source = 'clever' AND r.sis_id = c.old_sis_id
    RETURNING r.id, c.old_sis_id, c.new_sis_id)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'section', id::text, 'update',
       jsonb_build_object('sis_id', jsonb_build_array(old_sis_id, new_sis_id), 'reason', 'sis_id_change')
FROM moved;
