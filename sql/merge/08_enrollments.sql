-- Students in Clever sections. Rules: SYNC-RULES.md "Students in a Clever section" and
-- "Student accounts".
-- * The students of a Clever section in the feed are exactly the students Clever lists: a
--   student added by hand is removed.
-- * An archived student is removed from every Clever section (the sync's own), in the feed or not.
-- * Manual sections are never touched.

-- The district's Clever sections and active Clever students as this transaction sees them, with
-- statistics (see 07_section_teachers.sql: the roster's own predate this merge's inserts, and
-- the join below became a nested loop over every student for every enrollment).
CREATE TEMP TABLE enrollments_sections ON COMMIT DROP AS
SELECT id, sis_id FROM roster.sections WHERE district_id = etl.current_district_id() AND source = 'clever';
ANALYZE enrollments_sections;

CREATE TEMP TABLE enrollments_students ON COMMIT DROP AS
SELECT id, sis_id FROM roster.students
WHERE district_id = etl.current_district_id() AND source = 'clever' AND status = 'active';
ANALYZE enrollments_students;

CREATE TEMP TABLE feed_enrollments ON COMMIT DROP AS
SELECT DISTINCT sec.id AS section_id, st.id AS student_id
FROM staging.enrollments e
JOIN enrollments_sections sec ON sec.sis_id = e.section_sis_id
JOIN enrollments_students st ON st.sis_id = e.student_sis_id
WHERE e.run_id = etl.current_run_id() AND e.excluded IS NULL;
ANALYZE feed_enrollments;

WITH created AS (
    INSERT INTO roster.enrollments (section_id, student_id, district_id, source)
    SELECT f.section_id, f.student_id, etl.current_district_id(), 'clever'
    FROM feed_enrollments f
    WHERE NOT EXISTS (SELECT 1 FROM roster.enrollments x
                      WHERE x.section_id = f.section_id AND x.student_id = f.student_id)
    -- In key order, new entries append to the primary key's right edge instead of landing on
    -- random pages of an index larger than the buffer cache (a first sync of a large district).
    ORDER BY f.section_id, f.student_id
    RETURNING section_id, student_id)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'enrollment', section_id || ':' || student_id, 'create',
       jsonb_build_object('section_id', section_id, 'student_id', student_id)
FROM created;

-- A student added by hand and also listed by Clever becomes the sync's.
WITH adopted AS (
    UPDATE roster.enrollments x SET source = 'clever'
    FROM feed_enrollments f
    WHERE x.section_id = f.section_id AND x.student_id = f.student_id AND x.source <> 'clever'
    RETURNING x.section_id, x.student_id)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'enrollment', section_id || ':' || student_id, 'update',
       jsonb_build_object('section_id', section_id, 'student_id', student_id, 'source', jsonb_build_array('manual', 'clever'))
FROM adopted;

WITH gone AS (
    DELETE FROM roster.enrollments en
    USING roster.sections sec
    WHERE sec.id = en.section_id AND sec.district_id = etl.current_district_id() AND sec.source = 'clever'
      AND EXISTS (SELECT 1 FROM feed_sections f WHERE f.sis_id = sec.sis_id)
      AND NOT EXISTS (SELECT 1 FROM feed_enrollments d
                      WHERE d.section_id = en.section_id AND d.student_id = en.student_id)
    RETURNING en.section_id, en.student_id, en.source)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'enrollment', section_id || ':' || student_id, 'remove',
       jsonb_build_object('section_id', section_id, 'student_id', student_id, 'source', source,
                          'reason', CASE WHEN source = 'clever' THEN 'not_in_feed' ELSE 'added_by_hand' END)
FROM gone;

WITH gone AS (
    DELETE FROM roster.enrollments en
    USING roster.sections sec, roster.students st
    WHERE sec.id = en.section_id AND st.id = en.student_id
      AND sec.district_id = etl.current_district_id() AND sec.source = 'clever'
      AND st.status = 'archived'
    RETURNING en.section_id, en.student_id, en.source)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'enrollment', section_id || ':' || student_id, 'remove',
       jsonb_build_object('section_id', section_id, 'student_id', student_id, 'source', source,
                          'reason', 'student_archived')
FROM gone;
