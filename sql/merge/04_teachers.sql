-- Teachers. Rules: SYNC-RULES.md "Teacher accounts".
-- * A teacher who leaves the feed, or whose email is gone, is suspended (suspended_by = 'sync').
--   An email that fails validation is not gone: an existing teacher keeps the one they have.
-- * Coming back with an email reactivates the account only if the sync suspended it; an
--   admin's suspension stays.
-- * One account per teacher at the primary school; the other schools go to other_school_ids.
-- * First connection: a new Clever teacher whose email matches exactly one manual account
--   adopts it instead of creating a duplicate.
-- * Teachers in an email conflict (00_prepare.sql) are neither created, changed nor suspended.
-- * Admin accounts (roster.admins) are never read or written here.

-- One row per teacher: the first row in feed order names the primary school.
CREATE TEMP TABLE feed_teachers ON COMMIT DROP AS
WITH rows AS (
    SELECT t.*, sc.id AS school_id,
           row_number() OVER (PARTITION BY t.sis_id ORDER BY t.seq) AS n
    FROM staging.teachers t
    LEFT JOIN roster.schools sc ON sc.district_id = etl.current_district_id() AND sc.source = 'clever'
                               AND sc.sis_id = t.school_sis_id
    WHERE t.run_id = etl.current_run_id() AND t.excluded IS NULL)
SELECT p.sis_id, p.clever_id, p.school_id, p.email, p.first_name, p.middle_name, p.last_name, p.title,
       p.teacher_number, p.state_id,
       coalesce(o.other_school_ids, '{}') AS other_school_ids,
       NULL::bigint AS adopt_id,
       -- An email that failed validation (a warning in staging.rejects) is not an email deleted.
       p.email IS NULL AND p.sis_id IN (SELECT record_key FROM staging.rejects
                                        WHERE run_id = etl.current_run_id() AND entity = 'teacher'
                                          AND reason = 'invalid_email') AS email_invalid
FROM rows p
-- the other schools, aggregated once per teacher (a subquery per row rescanned every row: quadratic)
LEFT JOIN (SELECT o.sis_id, array_agg(DISTINCT o.school_id ORDER BY o.school_id) AS other_school_ids
           FROM rows o
           JOIN rows f ON f.sis_id = o.sis_id AND f.n = 1
           WHERE o.n > 1 AND o.school_id IS DISTINCT FROM f.school_id AND o.school_id IS NOT NULL
           GROUP BY o.sis_id) o ON o.sis_id = p.sis_id
WHERE p.n = 1;
CREATE UNIQUE INDEX ON feed_teachers (sis_id);
ANALYZE feed_teachers;

-- An active teacher whose new email fails validation keeps the email (and so the status) they
-- have: a typo in the SIS must not lock a teacher out. The warning names the email to fix. A
-- suspended one stays suspended: an invalid email is not an email to come back with.
UPDATE feed_teachers f SET email = r.email
FROM roster.teachers r
WHERE f.email_invalid AND r.district_id = etl.current_district_id() AND r.source = 'clever' AND r.sis_id = f.sis_id
  AND r.status = 'active';

-- First connection: adopt a manual account with the same email (case-insensitive), if exactly one.
UPDATE feed_teachers f SET adopt_id = m.id
FROM (SELECT lower(email) AS email, min(id) AS id, count(*) AS n
      FROM roster.teachers
      WHERE district_id = etl.current_district_id() AND source = 'manual' AND email IS NOT NULL
      GROUP BY lower(email)) m
WHERE m.n = 1 AND lower(f.email) = m.email
  AND NOT EXISTS (SELECT 1 FROM roster.teachers r WHERE r.district_id = etl.current_district_id()
                  AND r.source = 'clever' AND r.sis_id = f.sis_id);

-- The account as it was is logged beside what the sync gave it (every statement here reads the
-- rows as they were before the update), so a hand-made account's fields can be seen and restored.
WITH was AS (
    SELECT r.id, to_jsonb(r) AS old FROM roster.teachers r JOIN feed_teachers f ON r.id = f.adopt_id),
adopted AS (
    UPDATE roster.teachers r
    SET source = 'clever', sis_id = f.sis_id, clever_id = f.clever_id, school_id = f.school_id,
        other_school_ids = f.other_school_ids, first_name = f.first_name, middle_name = f.middle_name,
        last_name = f.last_name, title = f.title, teacher_number = f.teacher_number, state_id = f.state_id,
        updated_at = now()
    FROM feed_teachers f
    WHERE r.id = f.adopt_id
    RETURNING r.id, f.sis_id, r.email, to_jsonb(r) AS new)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'teacher', a.id::text, 'update',
       -- every field the sync changed as [old, new], the SIS id included (a hand-made account may
       -- have had one)
       jsonb_build_object('adopted', true, 'sis_id', a.sis_id, 'email', a.email) || etl.jsonb_diff(w.old, a.new)
FROM adopted a JOIN was w ON w.id = a.id;

-- Update, suspend (email gone), reactivate (sync's own suspension, email back).
WITH target AS (
    SELECT r.id, to_jsonb(r) AS old, f.*,
           CASE WHEN f.email IS NULL AND r.status = 'active' THEN 'suspended'
                WHEN f.email IS NOT NULL AND r.status = 'suspended' AND r.suspended_by = 'sync' THEN 'active'
                ELSE r.status END AS new_status,
           r.status AS old_status, r.suspended_by AS old_suspended_by, r.status_reason AS old_reason
    FROM roster.teachers r
    JOIN feed_teachers f ON f.sis_id = r.sis_id
    WHERE r.district_id = etl.current_district_id() AND r.source = 'clever'),
diff AS (
    SELECT * FROM target t
    WHERE (t.old ->> 'clever_id', (t.old ->> 'school_id')::bigint, t.old ->> 'email', t.old ->> 'first_name',
           t.old ->> 'middle_name', t.old ->> 'last_name', t.old ->> 'title', t.old ->> 'teacher_number',
           t.old ->> 'state_id', t.old_status)
          IS DISTINCT FROM
          (t.clever_id, t.school_id, t.email, t.first_name, t.middle_name, t.last_name, t.title, t.teacher_number,
           t.state_id, t.new_status)
       OR (t.old -> 'other_school_ids') IS DISTINCT FROM to_jsonb(t.other_school_ids)),
changed AS (
    UPDATE roster.teachers r
    SET clever_id = d.clever_id, school_id = d.school_id, other_school_ids = d.other_school_ids, email = d.email,
        first_name = d.first_name, middle_name = d.middle_name, last_name = d.last_name, title = d.title,
        teacher_number = d.teacher_number, state_id = d.state_id,
        status = d.new_status,
        suspended_by = CASE WHEN d.new_status = 'active' THEN NULL
                            WHEN d.old_status = 'active' THEN 'sync' ELSE d.old_suspended_by END,
        status_reason = CASE WHEN d.new_status = 'active' THEN NULL
                             WHEN d.old_status = 'active' THEN 'email_removed' ELSE d.old_reason END,
        suspended_at = CASE WHEN d.new_status = 'active' THEN NULL
                            WHEN d.old_status = 'active' THEN now() ELSE r.suspended_at END,
        updated_at = now()
    FROM diff d
    WHERE r.id = d.id
    RETURNING r.id, d.old, to_jsonb(r) AS new, d.old_status, d.new_status)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'teacher', id::text,
       CASE WHEN old_status = new_status THEN 'update'
            WHEN new_status = 'active' THEN 'reactivate' ELSE 'suspend' END,
       etl.jsonb_diff(old, new)
FROM changed;

WITH created AS (
    INSERT INTO roster.teachers (district_id, school_id, other_school_ids, sis_id, clever_id, email, first_name,
                                 middle_name, last_name, title, teacher_number, state_id,
                                 status, suspended_by, status_reason, suspended_at)
    SELECT etl.current_district_id(), f.school_id, f.other_school_ids, f.sis_id, f.clever_id, f.email, f.first_name,
           f.middle_name, f.last_name, f.title, f.teacher_number, f.state_id,
           CASE WHEN f.email IS NULL THEN 'suspended' ELSE 'active' END,
           CASE WHEN f.email IS NULL THEN 'sync' END,
           CASE WHEN f.email IS NULL THEN CASE WHEN f.email_invalid THEN 'invalid_email' ELSE 'missing_email' END END,
           CASE WHEN f.email IS NULL THEN now() END
    FROM feed_teachers f
    WHERE NOT EXISTS (SELECT 1 FROM roster.teachers r WHERE r.district_id = etl.current_district_id()
                      AND r.source = 'clever' AND r.sis_id = f.sis_id)
    RETURNING id, sis_id, email, status)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'teacher', id::text, 'create',
       jsonb_build_object('sis_id', sis_id, 'email', email, 'status', status)
FROM created;

-- Left the feed: suspended, never deleted. Teachers in an email conflict are left as they are.
WITH gone AS (
    UPDATE roster.teachers r
    SET status = 'suspended', suspended_by = 'sync', suspended_at = now(), updated_at = now(),
        status_reason = coalesce((SELECT s.excluded FROM staging.teachers s WHERE s.run_id = etl.current_run_id()
                                  AND s.sis_id = r.sis_id AND s.excluded IS NOT NULL LIMIT 1),
                                  -- an unreadable row still here is one the filters leave out (0016)
                                  CASE WHEN r.sis_id IN (SELECT record_key FROM staging.unreadable_rows
                                                         WHERE run_id = etl.current_run_id() AND entity = 'teacher')
                                       THEN 'filtered_out' ELSE 'missing_from_feed' END)
    WHERE r.district_id = etl.current_district_id() AND r.source = 'clever' AND r.status = 'active'
      AND NOT EXISTS (SELECT 1 FROM feed_teachers f WHERE f.sis_id = r.sis_id)
      AND NOT EXISTS (SELECT 1 FROM staging.teachers s WHERE s.run_id = etl.current_run_id()
                      AND s.sis_id = r.sis_id AND s.excluded = 'duplicate_email')
      -- In the feed but unreadable (migration 0011; a hashed
      -- list of the held keys, record_key never NULL; also records other feeds still name, 0019): kept as it is.
      -- Inside the district's filters only (0016): what they leave out is not in the data.
      AND r.sis_id NOT IN (SELECT sis_id FROM etl.unreadable_inside_filters('teacher'))
    RETURNING r.id, r.sis_id, r.status_reason)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'teacher', id::text, 'suspend',
       jsonb_build_object('sis_id', sis_id, 'reason', status_reason)
FROM gone;
