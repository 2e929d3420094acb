-- Students in Clever sections. Rules: SYNC-RULES.md "Students in a Clever section" and
-- "Student accounts".
-- * The students of a Clever section in the feed are exactly the students Clever lists: a
--   student added by hand is removed.
-- * An archived student is removed from every Clever section (the sync's own), in the feed or not.
-- * Manual sections are never touched.

-- The district's Clever sections and active Clever students as this transaction sees them, with
-- statistics (see 07_section_teachers.sql: the roster's own predate this merge's inserts, and
-- the join below became a nested loop over every student for every enrollment).
-- archived_before: archived before this run (06_sections.sql sets archived_at to the merge's now()
-- when it archives one). Its memberships are history, not active records: the feed does not
-- remove them (in_feed is false for it), or an enrollments file cut short in the summer, with
-- every class archived and no active member to weigh it against, would empty last year's classes
-- unseen. A student archived still leaves them (below), flagged in the change log and not counted
-- at the safety threshold (Merger), whose base counts members of active sections only.
CREATE TEMP TABLE enrollments_sections ON COMMIT DROP AS
SELECT r.id, r.sis_id,
       EXISTS (SELECT 1 FROM feed_sections f WHERE f.sis_id = r.sis_id) AND NOT a.archived_before AS in_feed,
       a.archived_before
FROM roster.sections r
CROSS JOIN LATERAL (SELECT r.status = 'archived' AND r.archived_at IS DISTINCT FROM now() AS archived_before) a
WHERE r.district_id = etl.current_district_id() AND r.source = 'clever';
ANALYZE enrollments_sections;

CREATE TEMP TABLE enrollments_students ON COMMIT DROP AS
SELECT id, sis_id FROM roster.students
WHERE district_id = etl.current_district_id() AND source = 'clever' AND status = 'active';
ANALYZE enrollments_students;

-- Memberships whose enrollment row is unreadable (migration 0011; keyed 'section SIS id/student
-- SIS id') are kept as they are this run. (A student whose own row is unreadable is kept by
-- 05_students.sql; prepare let their readable enrollment rows through, so those apply.)
-- A SIS id may itself hold a '/' (2024/MATH-1), so the key is tried at every '/', not only the
-- first: each split naming a Clever section and a Clever student of the district is held (two
-- that both do hold both, which only keeps more).
CREATE TEMP TABLE held_enrollments ON COMMIT DROP AS
SELECT DISTINCT sec.id AS section_id, st.id AS student_id
FROM staging.unreadable_rows u
CROSS JOIN LATERAL (
    SELECT left(u.record_key, i - 1) AS section_sis_id, substr(u.record_key, i + 1) AS student_sis_id
    FROM generate_series(1, length(u.record_key)) AS i
    WHERE substr(u.record_key, i, 1) = '/') k
JOIN roster.sections sec ON sec.district_id = etl.current_district_id() AND sec.source = 'clever'
                        AND sec.sis_id = k.section_sis_id
JOIN roster.students st ON st.district_id = etl.current_district_id() AND st.source = 'clever'
                       AND st.sis_id = k.student_sis_id
WHERE u.run_id = etl.current_run_id() AND u.entity = 'enrollment';
ANALYZE held_enrollments;

-- Feed against roster in one pass: what to create (only in the feed), adopt (added by hand and
-- listed by Clever) and remove (only in the roster, in a section the feed lists). One hashed full
-- join instead of an anti-join each way; both sides are five million rows at a million students.
-- The feed side is not de-duplicated here (the same student listed twice in a section): that
-- cost more every night than the join, so duplicates are dropped where an enrollment is created.
--
-- When the district's Clever sections have no members yet (its first sync), every pair in the
-- feed is new, and the first branch lists them without the join: the planner, whose statistics
-- predate this merge, hashed the five million feed pairs to probe them with none (5.2 s against
-- 2.5 s). Each branch runs only when its one-time condition holds.
CREATE TEMP TABLE enrollment_changes ON COMMIT DROP AS
WITH feed AS NOT MATERIALIZED (
    SELECT sec.id AS section_id, st.id AS student_id
    FROM staging.enrollments e
    JOIN enrollments_sections sec ON sec.sis_id = e.section_sis_id
    JOIN enrollments_students st ON st.sis_id = e.student_sis_id
    WHERE e.run_id = etl.current_run_id() AND e.excluded IS NULL),
roster AS NOT MATERIALIZED (
    SELECT en.section_id, en.student_id, en.source, sec.in_feed
    FROM roster.enrollments en
    JOIN enrollments_sections sec ON sec.id = en.section_id)
SELECT f.section_id, f.student_id, 'create' AS action
FROM feed f
WHERE NOT (SELECT EXISTS (SELECT 1 FROM roster))
UNION ALL
SELECT coalesce(f.section_id, x.section_id), coalesce(f.student_id, x.student_id),
       CASE WHEN x.section_id IS NULL THEN 'create' WHEN f.section_id IS NULL THEN 'remove' ELSE 'adopt' END
FROM feed f
FULL JOIN roster x ON x.section_id = f.section_id AND x.student_id = f.student_id
WHERE (SELECT EXISTS (SELECT 1 FROM roster))
  AND (x.section_id IS NULL
       OR (f.section_id IS NOT NULL AND x.source <> 'clever')
       OR (f.section_id IS NULL AND x.in_feed
           AND (x.section_id, x.student_id) NOT IN (SELECT section_id, student_id FROM held_enrollments)));
ANALYZE enrollment_changes;

-- Foreign keys checked for the whole set, not once per row (see migration 0007).
SELECT etl.begin_bulk_insert(ARRAY['roster.enrollments', 'roster.change_log']::regclass[],
                              ARRAY['enrollments_section_fkey', 'enrollments_student_fkey']);
-- Ids of Clever rows (enrollments_sections, enrollments_students), which a district's first
-- sync need not hold (migration 0010).
SELECT etl.hold_clever_references('roster.sections', 'enrollment_changes', 'section_id', 'action = ''create''');
SELECT etl.hold_clever_references('roster.students', 'enrollment_changes', 'student_id', 'action = ''create''');

WITH created AS (
    INSERT INTO roster.enrollments (section_id, student_id, district_id, source)
    -- DISTINCT ON, not DISTINCT: it removes the duplicates in the sort the key order needs
    -- anyway, where DISTINCT hashed every pair first (spilling to disk at five million pairs,
    -- whose count the planner underestimates) and then sorted them (6.7 s against 2.6 s).
    SELECT DISTINCT ON (c.section_id, c.student_id) c.section_id, c.student_id, etl.current_district_id(), 'clever'
    FROM enrollment_changes c
    WHERE c.action = 'create'
    -- In key order, new entries append to the primary key's right edge instead of landing on
    -- random pages of an index larger than the buffer cache (a first sync of a large district).
    ORDER BY c.section_id, c.student_id
    RETURNING section_id, student_id)
-- No details: the record id ('section id:student id') is the whole change. A first sync of a
-- million students logs five million of these, and building the same two ids again as jsonb was
-- 5 of the 27 s this statement took.
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action)
SELECT etl.current_run_id(), etl.current_district_id(), 'enrollment', section_id || ':' || student_id, 'create'
FROM created;

SELECT etl.end_bulk_insert();

-- A student added by hand and also listed by Clever becomes the sync's.
WITH adopted AS (
    UPDATE roster.enrollments x SET source = 'clever'
    FROM enrollment_changes c
    WHERE c.action = 'adopt' AND x.section_id = c.section_id AND x.student_id = c.student_id
    RETURNING x.section_id, x.student_id)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'enrollment', section_id || ':' || student_id, 'update',
       jsonb_build_object('section_id', section_id, 'student_id', student_id, 'source', jsonb_build_array('manual', 'clever'))
FROM adopted;

-- The district's archived students, usually few: the second removal below starts from them (through
-- enrollments_student) rather than from every enrollment of every section. The first names them
-- as the reason a membership of a class still in the feed goes.
CREATE TEMP TABLE archived_students ON COMMIT DROP AS
SELECT id FROM roster.students WHERE district_id = etl.current_district_id() AND status = 'archived';
ANALYZE archived_students;

WITH gone AS (
    DELETE FROM roster.enrollments en
    USING enrollment_changes c
    WHERE c.action = 'remove' AND en.section_id = c.section_id AND en.student_id = c.student_id
    RETURNING en.section_id, en.student_id, en.source)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'enrollment', section_id || ':' || student_id, 'remove',
       jsonb_build_object('section_id', section_id, 'student_id', student_id, 'source', source,
                          'reason', CASE WHEN source <> 'clever' THEN 'added_by_hand'
                                         WHEN student_id IN (SELECT id FROM archived_students) THEN 'student_archived'
                                         ELSE 'not_in_feed' END)
FROM gone;

WITH gone AS (
    DELETE FROM roster.enrollments en
    USING archived_students st, enrollments_sections sec
    WHERE st.id = en.student_id AND sec.id = en.section_id
    RETURNING en.section_id, en.student_id, en.source, sec.archived_before)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'enrollment', section_id || ':' || student_id, 'remove',
       jsonb_build_object('section_id', section_id, 'student_id', student_id, 'source', source,
                          'reason', 'student_archived')
       || CASE WHEN archived_before THEN '{"archived_section": true}'::jsonb ELSE '{}'::jsonb END
FROM gone;
