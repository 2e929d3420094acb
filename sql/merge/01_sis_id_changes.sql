-- Apply the SIS id changes a district recorded (roster.sis_id_changes), before anything is
-- matched, so a record whose SIS id changed keeps its identity and history instead of being
-- archived and created again. Rule: SYNC-RULES.md "District settings", SIS id changes.
-- A pair whose new id is already taken is left alone (applying it would merge two people), and
-- so is one whose old id is still in the feed (a loadable row): the SIS has not switched yet (a pair recorded
-- ahead of time), and renaming now would create the person again under the old id and archive
-- the renamed record. It applies the first night the old id is gone.

WITH moved AS (
    UPDATE roster.schools r SET sis_id = c.new_sis_id, updated_at = now()
    FROM roster.sis_id_changes c
    WHERE c.district_id = etl.current_district_id() AND c.entity = 'school'
      AND r.district_id = c.district_id AND r.source = 'clever' AND r.sis_id = c.old_sis_id
      AND NOT EXISTS (SELECT 1 FROM staging.schools s WHERE s.run_id = etl.current_run_id() AND s.sis_id = c.old_sis_id
                      AND s.excluded IS NULL)
      AND NOT EXISTS (SELECT 1 FROM roster.schools x WHERE x.district_id = r.district_id AND x.source = 'clever'
                      AND x.sis_id = c.new_sis_id)
    RETURNING r.id, c.old_sis_id, c.new_sis_id)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'school', id::text, 'update',
       jsonb_build_object('sis_id', jsonb_build_array(old_sis_id, new_sis_id), 'reason', 'sis_id_change')
FROM moved;

WITH moved AS (
    UPDATE roster.terms r SET sis_id = c.new_sis_id, updated_at = now()
    FROM roster.sis_id_changes c
    WHERE c.district_id = etl.current_district_id() AND c.entity = 'term'
      AND r.district_id = c.district_id AND r.source = 'clever' AND r.sis_id = c.old_sis_id
      AND NOT EXISTS (SELECT 1 FROM staging.terms s WHERE s.run_id = etl.current_run_id() AND s.sis_id = c.old_sis_id
                      AND s.excluded IS NULL)
      AND NOT EXISTS (SELECT 1 FROM roster.terms x WHERE x.district_id = r.district_id AND x.source = 'clever'
                      AND x.sis_id = c.new_sis_id)
    RETURNING r.id, c.old_sis_id, c.new_sis_id)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'term', id::text, 'update',
       jsonb_build_object('sis_id', jsonb_build_array(old_sis_id, new_sis_id), 'reason', 'sis_id_change')
FROM moved;

WITH moved AS (
    UPDATE roster.teachers r SET sis_id = c.new_sis_id, updated_at = now()
    FROM roster.sis_id_changes c
    WHERE c.district_id = etl.current_district_id() AND c.entity = 'teacher'
      AND r.district_id = c.district_id AND r.source = 'clever' AND r.sis_id = c.old_sis_id
      AND NOT EXISTS (SELECT 1 FROM staging.teachers s WHERE s.run_id = etl.current_run_id() AND s.sis_id = c.old_sis_id
                      AND s.excluded IS NULL)
      AND NOT EXISTS (SELECT 1 FROM roster.teachers x WHERE x.district_id = r.district_id AND x.source = 'clever'
                      AND x.sis_id = c.new_sis_id)
    RETURNING r.id, c.old_sis_id, c.new_sis_id)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'teacher', id::text, 'update',
       jsonb_build_object('sis_id', jsonb_build_array(old_sis_id, new_sis_id), 'reason', 'sis_id_change')
FROM moved;

WITH moved AS (
    UPDATE roster.students r SET sis_id = c.new_sis_id, updated_at = now()
    FROM roster.sis_id_changes c
    WHERE c.district_id = etl.current_district_id() AND c.entity = 'student'
      AND r.district_id = c.district_id AND r.source = 'clever' AND r.sis_id = c.old_sis_id
      AND NOT EXISTS (SELECT 1 FROM staging.students s WHERE s.run_id = etl.current_run_id() AND s.sis_id = c.old_sis_id
                      AND s.excluded IS NULL)
      AND NOT EXISTS (SELECT 1 FROM roster.students x WHERE x.district_id = r.district_id AND x.source = 'clever'
                      AND x.sis_id = c.new_sis_id)
    RETURNING r.id, c.old_sis_id, c.new_sis_id)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'student', id::text, 'update',
       jsonb_build_object('sis_id', jsonb_build_array(old_sis_id, new_sis_id), 'reason', 'sis_id_change')
FROM moved;

WITH moved AS (
    UPDATE roster.sections r SET sis_id = c.new_sis_id, updated_at = now()
    FROM roster.sis_id_changes c
    WHERE c.district_id = etl.current_district_id() AND c.entity = 'section'
      AND r.district_id = c.district_id AND r.source = 'clever' AND r.sis_id = c.old_sis_id
      AND NOT EXISTS (SELECT 1 FROM staging.sections s WHERE s.run_id = etl.current_run_id() AND s.sis_id = c.old_sis_id
                      AND s.excluded IS NULL)
      AND NOT EXISTS (SELECT 1 FROM roster.sections x WHERE x.district_id = r.district_id AND x.source = 'clever'
                      AND x.sis_id = c.new_sis_id)
    RETURNING r.id, c.old_sis_id, c.new_sis_id)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'section', id::text, 'update',
       jsonb_build_object('sis_id', jsonb_build_array(old_sis_id, new_sis_id), 'reason', 'sis_id_change')
FROM moved;
