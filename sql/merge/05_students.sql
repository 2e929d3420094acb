-- Students. Rules: SYNC-RULES.md "Student accounts".
-- * A student who leaves the feed is archived (kept, with history); one who comes back is restored.
-- * Email changes flow through: the SIS id is the identity.
-- * can_login comes from the transform (no usable email -> false).
-- Removal from the sync's sections happens in 08_enrollments.sql.

CREATE TEMP TABLE feed_students ON COMMIT DROP AS
SELECT s.sis_id, s.clever_id, sc.id AS school_id, s.email, s.first_name, s.middle_name, s.last_name,
       s.grade, s.grade_rank, s.dob, s.student_number, s.state_id, coalesce(s.can_login, false) AS can_login
FROM staging.students s
LEFT JOIN roster.schools sc ON sc.district_id = etl.current_district_id() AND sc.source = 'clever'
                           AND sc.sis_id = s.school_sis_id
WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL;
CREATE UNIQUE INDEX ON feed_students (sis_id);
ANALYZE feed_students;

WITH diff AS (
    SELECT r.id, to_jsonb(r) AS old, f.*
    FROM roster.students r
    JOIN feed_students f ON f.sis_id = r.sis_id
    WHERE r.district_id = etl.current_district_id() AND r.source = 'clever'
      AND (r.clever_id, r.school_id, r.email, r.first_name, r.middle_name, r.last_name, r.grade, r.grade_rank,
           r.dob, r.student_number, r.state_id, r.can_login, r.status)
          IS DISTINCT FROM
          (f.clever_id, f.school_id, f.email, f.first_name, f.middle_name, f.last_name, f.grade, f.grade_rank,
           f.dob, f.student_number, f.state_id, f.can_login, 'active')),
changed AS (
    UPDATE roster.students r
    SET clever_id = d.clever_id, school_id = d.school_id, email = d.email, first_name = d.first_name,
        middle_name = d.middle_name, last_name = d.last_name, grade = d.grade, grade_rank = d.grade_rank,
        dob = d.dob, student_number = d.student_number, state_id = d.state_id, can_login = d.can_login,
        status = 'active', status_reason = NULL, archived_at = NULL, updated_at = now()
    FROM diff d
    WHERE r.id = d.id
    RETURNING r.id, d.old, to_jsonb(r) AS new)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'student', id::text,
       CASE WHEN old ->> 'status' = 'archived' THEN 'restore' ELSE 'update' END, etl.jsonb_diff(old, new)
FROM changed;

-- Foreign keys checked for the whole set, not once per row (see migration 0007).
SELECT etl.begin_bulk_insert(ARRAY['roster.students', 'roster.change_log']::regclass[],
                              ARRAY['students_district_id_fkey', 'students_school_id_fkey']);
-- Ids of Clever rows (see 08_enrollments.sql).
SELECT etl.hold_clever_references('roster.schools', 'feed_students', 'school_id');

WITH created AS (
    INSERT INTO roster.students (district_id, school_id, sis_id, clever_id, email, first_name, middle_name, last_name,
                                 grade, grade_rank, dob, student_number, state_id, can_login)
    SELECT etl.current_district_id(), f.school_id, f.sis_id, f.clever_id, f.email, f.first_name, f.middle_name,
           f.last_name, f.grade, f.grade_rank, f.dob, f.student_number, f.state_id, f.can_login
    FROM feed_students f
    WHERE NOT EXISTS (SELECT 1 FROM roster.students r WHERE r.district_id = etl.current_district_id()
                      AND r.source = 'clever' AND r.sis_id = f.sis_id)
    ORDER BY f.sis_id  -- key order: see 08_enrollments.sql
    RETURNING id, sis_id, grade, can_login)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'student', id::text, 'create',
       jsonb_build_object('sis_id', sis_id, 'grade', grade, 'can_login', can_login)
FROM created;

SELECT etl.end_bulk_insert();

WITH gone AS (
    UPDATE roster.students r
    SET status = 'archived', archived_at = now(), updated_at = now(),
        status_reason = coalesce((SELECT s.excluded FROM staging.students s WHERE s.run_id = etl.current_run_id()
                                  AND s.sis_id = r.sis_id AND s.excluded IS NOT NULL LIMIT 1),
                                  -- an unreadable row still here is one the filters leave out (0016)
                                  CASE WHEN r.sis_id IN (SELECT record_key FROM staging.unreadable_rows
                                                         WHERE run_id = etl.current_run_id() AND entity = 'student')
                                       THEN 'filtered_out' ELSE 'missing_from_feed' END)
    WHERE r.district_id = etl.current_district_id() AND r.source = 'clever' AND r.status = 'active'
      AND NOT EXISTS (SELECT 1 FROM feed_students f WHERE f.sis_id = r.sis_id)
      -- In the feed but unreadable (migration 0011; a hashed
      -- list of the held keys, record_key never NULL; also records other feeds still name, 0019): kept as it is, in its classes (08).
      -- Inside the district's filters only (0016): what they leave out is not in the data.
      AND r.sis_id NOT IN (SELECT sis_id FROM etl.unreadable_inside_filters('student'))
    RETURNING r.id, r.sis_id, r.status_reason)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'student', id::text, 'archive',
       jsonb_build_object('sis_id', sis_id, 'reason', status_reason)
FROM gone;
