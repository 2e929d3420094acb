-- Sections. Rules: SYNC-RULES.md "Classes (sections) and who is in them".
-- * The sync owns Clever sections: name, school, term, grade, subject.
-- * A Clever section that leaves the feed is archived; so is one whose term ended before the
--   run's as-of date. A section that reappears in a current term is restored.
-- * Manual sections are never touched (every statement here filters on source = 'clever').

-- A term the feed does not resolve (an empty or failed terms feed, a term rejected for a bad
-- date, an export without the Term columns) says nothing about the section's term: it keeps the
-- one it has (prepare reports it). Otherwise every section of an ended term would be restored,
-- unnoticed by the safety threshold, and archived again the next good night.
CREATE TEMP TABLE feed_sections ON COMMIT DROP AS
SELECT s.sis_id, s.clever_id, sc.id AS school_id, tm.id AS term_id, s.name, s.section_number, s.grade, s.subject,
       s.course_name, s.course_number, s.period,
       CASE WHEN tm.end_date < etl.current_as_of() THEN 'archived' ELSE 'active' END AS status,
       CASE WHEN tm.end_date < etl.current_as_of() THEN 'term_ended' END AS status_reason
FROM staging.sections s
LEFT JOIN roster.schools sc ON sc.district_id = etl.current_district_id() AND sc.source = 'clever'
                           AND sc.sis_id = s.school_sis_id
LEFT JOIN roster.terms named ON named.district_id = etl.current_district_id() AND named.source = 'clever'
                            AND named.sis_id = s.term_sis_id
LEFT JOIN roster.sections cur ON cur.district_id = etl.current_district_id() AND cur.source = 'clever'
                             AND cur.sis_id = s.sis_id
LEFT JOIN roster.terms tm ON tm.id = coalesce(named.id, cur.term_id)
WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL;
CREATE UNIQUE INDEX ON feed_sections (sis_id);
ANALYZE feed_sections;

-- Terms whose end date this run set: new terms, and end dates the feed changed (03_terms.sql).
-- A section archived because such a term has "ended", or because it moved to an ended term, is
-- archived by a change in the data, not by the calendar: a date misread or mistyped in the SIS
-- must not archive a district's classes unnoticed. Its change-log row says `term_changed`, and
-- it counts towards the safety threshold (Merger.summary); a term that simply ends does not.
CREATE TEMP TABLE terms_redated ON COMMIT DROP AS
SELECT record_id::bigint AS id FROM roster.change_log
WHERE run_id = etl.current_run_id() AND entity = 'term' AND (action = 'create' OR details ? 'end_date');

WITH diff AS (
    SELECT r.id, to_jsonb(r) AS old, r.status AS old_status, f.*
    FROM roster.sections r
    JOIN feed_sections f ON f.sis_id = r.sis_id
    WHERE r.district_id = etl.current_district_id() AND r.source = 'clever'
      AND (r.clever_id, r.school_id, r.term_id, r.name, r.section_number, r.grade, r.subject, r.course_name,
           r.course_number, r.period, r.status, r.status_reason)
          IS DISTINCT FROM
          (f.clever_id, f.school_id, f.term_id, f.name, f.section_number, f.grade, f.subject, f.course_name,
           f.course_number, f.period, f.status, f.status_reason)),
changed AS (
    UPDATE roster.sections r
    SET clever_id = d.clever_id, school_id = d.school_id, term_id = d.term_id, name = d.name,
        section_number = d.section_number, grade = d.grade, subject = d.subject, course_name = d.course_name,
        course_number = d.course_number, period = d.period,
        status = d.status, status_reason = d.status_reason,
        archived_at = CASE WHEN d.status = 'archived' THEN coalesce(r.archived_at, now()) END,
        updated_at = now()
    FROM diff d
    WHERE r.id = d.id
    RETURNING r.id, d.old, to_jsonb(r) AS new, d.old_status, d.status AS new_status, d.status_reason, r.term_id)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'section', id::text,
       CASE WHEN old_status = new_status THEN 'update'
            WHEN new_status = 'active' THEN 'restore' ELSE 'archive' END,
       etl.jsonb_diff(old, new) || CASE WHEN status_reason IS NULL THEN '{}'::jsonb
                                        ELSE jsonb_build_object('reason', status_reason) END
       || CASE WHEN old_status = 'active' AND status_reason = 'term_ended'
                    AND ((old -> 'term_id') IS DISTINCT FROM to_jsonb(term_id)
                         OR term_id IN (SELECT id FROM terms_redated))
               THEN jsonb_build_object('term_changed', true) ELSE '{}'::jsonb END
FROM changed;

-- Foreign keys checked for the whole set, not once per row (see migration 0007).
SELECT etl.begin_bulk_insert(ARRAY['roster.sections', 'roster.change_log']::regclass[],
                              ARRAY['sections_district_id_fkey', 'sections_school_id_fkey', 'sections_term_id_fkey']);
-- Ids of Clever rows (see 08_enrollments.sql).
SELECT etl.hold_clever_references('roster.schools', 'feed_sections', 'school_id');
SELECT etl.hold_clever_references('roster.terms', 'feed_sections', 'term_id');

WITH created AS (
    INSERT INTO roster.sections (district_id, school_id, term_id, sis_id, clever_id, name, section_number, grade,
                                 subject, course_name, course_number, period, status, status_reason, archived_at)
    SELECT etl.current_district_id(), f.school_id, f.term_id, f.sis_id, f.clever_id, f.name, f.section_number,
           f.grade, f.subject, f.course_name, f.course_number, f.period, f.status, f.status_reason,
           CASE WHEN f.status = 'archived' THEN now() END
    FROM feed_sections f
    WHERE NOT EXISTS (SELECT 1 FROM roster.sections r WHERE r.district_id = etl.current_district_id()
                      AND r.source = 'clever' AND r.sis_id = f.sis_id)
    RETURNING id, sis_id, name, status)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'section', id::text, 'create',
       jsonb_build_object('sis_id', sis_id, 'name', name, 'status', status)
FROM created;

SELECT etl.end_bulk_insert();

WITH gone AS (
    UPDATE roster.sections r
    SET status = 'archived', archived_at = now(), updated_at = now(),
        status_reason = coalesce((SELECT s.excluded FROM staging.sections s WHERE s.run_id = etl.current_run_id()
                                  AND s.sis_id = r.sis_id AND s.excluded IS NOT NULL LIMIT 1),
                                  -- an unreadable row still here is one the filters leave out (0016)
                                  CASE WHEN r.sis_id IN (SELECT record_key FROM staging.unreadable_rows
                                                         WHERE run_id = etl.current_run_id() AND entity = 'section')
                                       THEN 'filtered_out' ELSE 'missing_from_feed' END)
    WHERE r.district_id = etl.current_district_id() AND r.source = 'clever' AND r.status = 'active'
      AND NOT EXISTS (SELECT 1 FROM feed_sections f WHERE f.sis_id = r.sis_id)
      -- In the feed but unreadable (migration 0011; a hashed
      -- list of the held keys, record_key never NULL; also records other feeds still name, 0019): kept as it is, with its members.
      -- Inside the district's filters only (0016): what they leave out is not in the data.
      AND r.sis_id NOT IN (SELECT sis_id FROM etl.unreadable_inside_filters('section'))
    RETURNING r.id, r.sis_id, r.status_reason)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'section', id::text, 'archive',
       jsonb_build_object('sis_id', sis_id, 'reason', status_reason)
FROM gone;

-- A section kept because its row is unreadable still ends with its term, which the roster knows:
-- an SIS that writes one section's row badly every night must not keep it in a teacher's list
-- after the semester. The calendar, as above: it does not count towards the safety threshold,
-- unless tonight's feed moved the term's end into the past (term_changed, as above).
WITH ended AS (
    UPDATE roster.sections r
    SET status = 'archived', status_reason = 'term_ended', archived_at = now(), updated_at = now()
    FROM roster.terms t
    WHERE t.id = r.term_id AND t.end_date < etl.current_as_of()
      AND r.district_id = etl.current_district_id() AND r.source = 'clever' AND r.status = 'active'
      AND r.sis_id IN (SELECT record_key FROM staging.unreadable_rows
                       WHERE run_id = etl.current_run_id() AND entity = 'section')
    RETURNING r.id, r.sis_id, r.term_id)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'section', id::text, 'archive',
       jsonb_build_object('sis_id', sis_id, 'status', jsonb_build_array('active', 'archived'), 'reason', 'term_ended')
       || CASE WHEN term_id IN (SELECT id FROM terms_redated) THEN jsonb_build_object('term_changed', true)
               ELSE '{}'::jsonb END
FROM ended;
