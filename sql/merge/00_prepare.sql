-- Prepare the run's staged rows for the merge. Runs before the merge transaction, so what it
-- finds (rejections, filters, conflicts, probable SIS id changes) is kept even when the merge is
-- only previewed or stops at the safety threshold.
--
-- Rules: SYNC-RULES.md "District settings" (filters), "Accounts" (one email, one teacher),
-- "Timing and people" (why is this student missing: every excluded row says why).

-- Fresh statistics for the rows just staged: without them the planner believes this run has
-- almost no rows (its run_id is not in the last statistics) and picks nested loops that are
-- quadratic in the feed size. ANALYZE samples a fixed number of rows, so this costs little.
ANALYZE staging.schools;
ANALYZE staging.terms;
ANALYZE staging.teachers;
ANALYZE staging.students;
ANALYZE staging.sections;
ANALYZE staging.enrollments;

-- 0. Section teachers arrive on the section row, primary first: one row each, position 0 = primary.
--    A blank first entry is a primary the source left blank (reported by the transform): no row,
--    and the co-teachers keep their positions, so none of them becomes the primary.
INSERT INTO staging.section_teachers (run_id, seq, source_ref, section_sis_id, section_clever_id,
                                      teacher_sis_id, teacher_clever_id, position)
SELECT s.run_id, s.seq, s.source_ref, s.sis_id, s.clever_id,
       nullif(s.teacher_sis_ids[i], ''), nullif(s.teacher_clever_ids[i], ''), i - 1
FROM staging.sections s,
     generate_subscripts(coalesce(s.teacher_sis_ids, s.teacher_clever_ids), 1) AS i
WHERE s.run_id = etl.current_run_id()
  AND coalesce(nullif(s.teacher_sis_ids[i], ''), nullif(s.teacher_clever_ids[i], '')) IS NOT NULL
  -- uncorrelated (s.run_id is this run): checked once, not once per section row
  AND NOT EXISTS (SELECT 1 FROM staging.section_teachers x WHERE x.run_id = etl.current_run_id());

ANALYZE staging.section_teachers;

-- 1. API feeds refer by Clever id: resolve to SIS ids against this run's own staged rows. CSV
--    feeds carry SIS ids and no Clever ids, so there is nothing to resolve (and each statement
--    below would still read every staged row: half a second for a million students' enrollments);
--    the statistics are refreshed only when rows changed.
DO $$
DECLARE
    run bigint := etl.current_run_id();
    changed bigint;
    resolved bigint := 0;
BEGIN
    -- etl.runs.source is SyncConfiguration.Source.description ('csv:<folder>' for CSV); any
    -- other source, a replayed landing night included, is resolved.
    IF (SELECT source LIKE 'csv:%' FROM etl.runs WHERE id = run) THEN
        RETURN;
    END IF;
    UPDATE staging.teachers t SET school_sis_id = s.sis_id
    FROM staging.schools s
    WHERE t.run_id = run AND s.run_id = run AND t.school_sis_id IS NULL AND s.clever_id = t.school_clever_id;
    GET DIAGNOSTICS changed = ROW_COUNT; resolved := resolved + changed;

    UPDATE staging.students t SET school_sis_id = s.sis_id
    FROM staging.schools s
    WHERE t.run_id = run AND s.run_id = run AND t.school_sis_id IS NULL AND s.clever_id = t.school_clever_id;
    GET DIAGNOSTICS changed = ROW_COUNT; resolved := resolved + changed;

    UPDATE staging.sections t SET school_sis_id = coalesce(t.school_sis_id, r.school_sis_id),
                                  term_sis_id = coalesce(t.term_sis_id, r.term_sis_id)
    FROM (SELECT x.seq, sc.sis_id AS school_sis_id, tm.sis_id AS term_sis_id
          FROM staging.sections x
          LEFT JOIN staging.schools sc ON sc.run_id = run AND x.school_sis_id IS NULL AND sc.clever_id = x.school_clever_id
          LEFT JOIN staging.terms tm ON tm.run_id = run AND x.term_sis_id IS NULL AND tm.clever_id = x.term_clever_id
          WHERE x.run_id = run AND (x.school_sis_id IS NULL OR x.term_sis_id IS NULL)
            AND (sc.sis_id IS NOT NULL OR tm.sis_id IS NOT NULL)) r
    WHERE t.run_id = run AND t.seq = r.seq;
    GET DIAGNOSTICS changed = ROW_COUNT; resolved := resolved + changed;

    UPDATE staging.section_teachers t SET section_sis_id = coalesce(t.section_sis_id, r.section_sis_id),
                                          teacher_sis_id = coalesce(t.teacher_sis_id, r.teacher_sis_id)
    FROM (SELECT x.seq, x.position, sec.sis_id AS section_sis_id, te.sis_id AS teacher_sis_id
          FROM staging.section_teachers x
          LEFT JOIN staging.sections sec
                 ON sec.run_id = run AND x.section_sis_id IS NULL AND sec.clever_id = x.section_clever_id
          LEFT JOIN (SELECT DISTINCT sis_id, clever_id FROM staging.teachers WHERE run_id = run
                     UNION SELECT record_key, substr(source_ref, 7) FROM staging.rejects
                     WHERE run_id = run AND entity = 'teacher' AND reason = 'missing_required_field'
                       AND record_key IS NOT NULL AND source_ref LIKE 'users/%') te
                 ON x.teacher_sis_id IS NULL AND te.clever_id = x.teacher_clever_id
          WHERE x.run_id = run AND (x.section_sis_id IS NULL OR x.teacher_sis_id IS NULL)
            AND (sec.sis_id IS NOT NULL OR te.sis_id IS NOT NULL)) r
    WHERE t.run_id = run AND t.seq = r.seq AND t.position = r.position;
    GET DIAGNOSTICS changed = ROW_COUNT; resolved := resolved + changed;

    -- Enrollments are most of a district's rows. The API pages carry each section's own SIS id
    -- (PageMapper), so normally only the student is resolved: one hashed join, one new version
    -- of each row. (Joining the rows back to themselves by seq, to resolve both references in
    -- one pass, cost more than this whole update.)
    --
    -- A person the feed lists but that could not be loaded (no school: PageMapper keys the
    -- rejection by SIS id, source users/<Clever id>) is kept by the merge (0011); their
    -- memberships resolve to them too, so they keep their classes.
    UPDATE staging.enrollments t SET student_sis_id = st.sis_id
    FROM (SELECT clever_id, sis_id FROM staging.students WHERE run_id = run
          UNION ALL
          SELECT substr(source_ref, 7), record_key FROM staging.rejects
          WHERE run_id = run AND entity = 'student' AND reason = 'missing_required_field'
            AND record_key IS NOT NULL AND source_ref LIKE 'users/%') st
    WHERE t.run_id = run AND t.student_sis_id IS NULL AND st.clever_id = t.student_clever_id;
    GET DIAGNOSTICS changed = ROW_COUNT; resolved := resolved + changed;

    -- Sections by Clever id: a landing night archived before the pages' SIS ids were kept, or a
    -- section listed without one (rejected itself; its enrollments then stay unresolved).
    UPDATE staging.enrollments t SET section_sis_id = sec.sis_id
    FROM staging.sections sec
    WHERE t.run_id = run AND sec.run_id = run AND t.section_sis_id IS NULL AND sec.clever_id = t.section_clever_id;
    GET DIAGNOSTICS changed = ROW_COUNT; resolved := resolved + changed;

    IF resolved > 0 THEN
        ANALYZE staging.teachers;
        ANALYZE staging.students;
        ANALYZE staging.sections;
        ANALYZE staging.section_teachers;
        ANALYZE staging.enrollments;
    END IF;
END
$$;

-- 2. The same SIS id twice in one feed: the first row wins, the others are rejected.
--    (Teachers are the exception: one row per school is how Clever lists a teacher at several schools.)
WITH dup AS (
    UPDATE staging.schools s SET excluded = 'duplicate_id'
    FROM (SELECT seq, row_number() OVER (PARTITION BY sis_id ORDER BY seq) AS n
          FROM staging.schools WHERE run_id = etl.current_run_id() AND excluded IS NULL) r
    WHERE s.run_id = etl.current_run_id() AND s.seq = r.seq AND r.n > 1
    RETURNING s.source_ref, s.sis_id)
INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT etl.current_run_id(), 'school', source_ref, sis_id, 'duplicate_id', 'rejected',
       'school SIS id ' || sis_id || ' appears more than once in the feed; the first row is loaded'
FROM dup;

WITH dup AS (
    UPDATE staging.students s SET excluded = 'duplicate_id'
    FROM (SELECT seq, row_number() OVER (PARTITION BY sis_id ORDER BY seq) AS n
          FROM staging.students WHERE run_id = etl.current_run_id() AND excluded IS NULL) r
    WHERE s.run_id = etl.current_run_id() AND s.seq = r.seq AND r.n > 1
    RETURNING s.source_ref, s.sis_id)
INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT etl.current_run_id(), 'student', source_ref, sis_id, 'duplicate_id', 'rejected',
       'student SIS id ' || sis_id || ' appears more than once in the feed; the first row is loaded'
FROM dup;

WITH dup AS (
    UPDATE staging.sections s SET excluded = 'duplicate_id'
    FROM (SELECT seq, row_number() OVER (PARTITION BY sis_id ORDER BY seq) AS n
          FROM staging.sections WHERE run_id = etl.current_run_id() AND excluded IS NULL) r
    WHERE s.run_id = etl.current_run_id() AND s.seq = r.seq AND r.n > 1
    RETURNING s.source_ref, s.sis_id)
INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT etl.current_run_id(), 'section', source_ref, sis_id, 'duplicate_id', 'rejected',
       'section SIS id ' || sis_id || ' appears more than once in the feed; the first row is loaded'
FROM dup;

-- A section's teachers are its first row's: step 0 listed every row's, and a rejected row's
-- teachers would otherwise join the first row's by SIS id (two primaries, more than ten).
UPDATE staging.section_teachers t SET excluded = 'duplicate_id'
FROM staging.sections s
WHERE t.run_id = etl.current_run_id() AND s.run_id = t.run_id AND s.seq = t.seq AND s.excluded = 'duplicate_id'
  AND t.excluded IS NULL;

-- 3. District filters: what a filter leaves out is treated as not in the data.
UPDATE staging.schools s SET excluded = 'filtered_out'
FROM roster.districts d
WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL AND d.id = etl.current_district_id()
  AND jsonb_typeof(d.settings -> 'filters' -> 'schools') = 'array'
  AND jsonb_array_length(d.settings -> 'filters' -> 'schools') > 0
  AND NOT (d.settings -> 'filters' -> 'schools') ? s.sis_id;

UPDATE staging.students s SET excluded = 'filtered_out'
FROM roster.districts d
WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL AND d.id = etl.current_district_id()
  AND ((jsonb_typeof(d.settings -> 'filters' -> 'grades') = 'array'
        AND jsonb_array_length(d.settings -> 'filters' -> 'grades') > 0
        AND NOT (d.settings -> 'filters' -> 'grades') ? coalesce(s.grade, ''))
    OR EXISTS (SELECT 1 FROM staging.schools x WHERE x.run_id = s.run_id AND x.sis_id = s.school_sis_id
               AND x.excluded = 'filtered_out'));

UPDATE staging.teachers s SET excluded = 'filtered_out'
WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL
  AND EXISTS (SELECT 1 FROM staging.schools x WHERE x.run_id = s.run_id AND x.sis_id = s.school_sis_id
              AND x.excluded = 'filtered_out');

UPDATE staging.sections s SET excluded = 'filtered_out'
FROM roster.districts d
WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL AND d.id = etl.current_district_id()
  AND ((jsonb_typeof(d.settings -> 'filters' -> 'grades') = 'array'
        AND jsonb_array_length(d.settings -> 'filters' -> 'grades') > 0
        AND s.grade IS NOT NULL
        AND NOT (d.settings -> 'filters' -> 'grades') ? s.grade)
    OR (jsonb_typeof(d.settings -> 'filters' -> 'sections') = 'array'
        AND jsonb_array_length(d.settings -> 'filters' -> 'sections') > 0
        AND NOT (d.settings -> 'filters' -> 'sections') ? s.sis_id)
    OR EXISTS (SELECT 1 FROM staging.schools x WHERE x.run_id = s.run_id AND x.sis_id = s.school_sis_id
               AND x.excluded = 'filtered_out'));

-- (One statement per reference, not an OR of two: each becomes a join the planner can hash,
-- and one with nothing filtered out does not read the enrollments at all.)
UPDATE staging.enrollments e SET excluded = 'filtered_out'
WHERE e.run_id = etl.current_run_id() AND e.excluded IS NULL
  AND EXISTS (SELECT 1 FROM staging.sections x WHERE x.run_id = e.run_id AND x.sis_id = e.section_sis_id
              AND x.excluded = 'filtered_out');

UPDATE staging.enrollments e SET excluded = 'filtered_out'
WHERE e.run_id = etl.current_run_id() AND e.excluded IS NULL
  AND EXISTS (SELECT 1 FROM staging.students x WHERE x.run_id = e.run_id AND x.sis_id = e.student_sis_id
              AND x.excluded = 'filtered_out');

UPDATE staging.section_teachers e SET excluded = 'filtered_out'
WHERE e.run_id = etl.current_run_id() AND e.excluded IS NULL
  AND EXISTS (SELECT 1 FROM staging.sections x WHERE x.run_id = e.run_id AND x.sis_id = e.section_sis_id
              AND x.excluded = 'filtered_out');

-- 4. References to records that are not in the feed.
--    A record whose row is unreadable (migration 0011) and which the roster has, active and
--    inside the district's filters (0016), stays known: the merge keeps it, and
--    what refers to it (a school's people and classes, a student's or teacher's memberships, a
--    section's members) loads as the feed says.
--    A record the roster has, active, that the feed lacks while another feed still names it is
--    not gone: the feed lacking it was cut short (migration 0019). Found from the roster's side:
--    the records the merge would archive or suspend, usually few, against the rows that name them.
DROP TABLE IF EXISTS pg_temp.absent;
CREATE TEMP TABLE absent AS
SELECT 'school' AS entity, r.sis_id, r.clever_id FROM roster.schools r
WHERE r.district_id = etl.current_district_id() AND r.source = 'clever' AND r.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM staging.schools x WHERE x.run_id = etl.current_run_id() AND x.sis_id = r.sis_id)
UNION ALL
SELECT 'teacher', r.sis_id, r.clever_id FROM roster.teachers r
WHERE r.district_id = etl.current_district_id() AND r.source = 'clever' AND r.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM staging.teachers x WHERE x.run_id = etl.current_run_id() AND x.sis_id = r.sis_id)
UNION ALL
SELECT 'student', r.sis_id, r.clever_id FROM roster.students r
WHERE r.district_id = etl.current_district_id() AND r.source = 'clever' AND r.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM staging.students x WHERE x.run_id = etl.current_run_id() AND x.sis_id = r.sis_id)
UNION ALL
SELECT 'section', r.sis_id, r.clever_id FROM roster.sections r
WHERE r.district_id = etl.current_district_id() AND r.source = 'clever' AND r.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM staging.sections x WHERE x.run_id = etl.current_run_id() AND x.sis_id = r.sis_id);
ANALYZE absent;

DO $$
DECLARE
    run bigint := etl.current_run_id();
    ref record;
BEGIN
    -- CSV rows name records by SIS id only (see step 1).
    IF (SELECT source LIKE 'csv:%' FROM etl.runs WHERE id = run) THEN
        RETURN;
    END IF;
    -- An API object listed without a SIS id was rejected without a key (PageMapper). The roster's
    -- record of its Clever id is the key, so the merge keeps that record as it keeps a CSV row it
    -- cannot read, instead of archiving a school, person or class that is in the feed.
    UPDATE staging.rejects j SET record_key = a.sis_id
    FROM absent a
    WHERE j.run_id = run AND j.record_key IS NULL AND j.reason = 'missing_required_field' AND j.severity = 'rejected'
      AND j.entity = a.entity AND a.clever_id IS NOT NULL
      AND j.source_ref = CASE a.entity WHEN 'school' THEN 'schools/' WHEN 'section' THEN 'sections/' ELSE 'users/' END
                         || a.clever_id;
    -- API rows name records by Clever id, which step 1 resolved against this run's rows only.
    FOR ref IN SELECT * FROM (VALUES ('enrollments', 'student_sis_id', 'student_clever_id', 'student'),
                                     ('enrollments', 'section_sis_id', 'section_clever_id', 'section'),
                                     ('section_teachers', 'teacher_sis_id', 'teacher_clever_id', 'teacher'),
                                     ('students', 'school_sis_id', 'school_clever_id', 'school'),
                                     ('teachers', 'school_sis_id', 'school_clever_id', 'school'),
                                     ('sections', 'school_sis_id', 'school_clever_id', 'school'))
                              AS v (staged, sis_column, clever_column, entity) LOOP
        EXECUTE format('UPDATE staging.%I t SET %I = a.sis_id FROM absent a '
                       'WHERE a.entity = %L AND t.run_id = $1 AND t.%I IS NULL AND t.%I = a.clever_id',
                       ref.staged, ref.sis_column, ref.entity, ref.sis_column, ref.clever_column)
        USING run;
    END LOOP;
END
$$;

-- A malformed CSV row's right-hand reading (0020) is a guess for a row that broke before its id
-- columns. Where its left-hand reading names an active record of the roster that has no readable
-- row tonight, the row is that record's, broken after its ids as in Clever's own column order, and
-- the guess is another column's value (a student number, a name), which must keep no record that
-- happens to have it as its id. (A left-hand reading that names a record with a row of its own
-- tonight, or none, says the row broke before its ids: the right-hand reading stands.)
DO $$
DECLARE
    kind text;
BEGIN
    FOREACH kind IN ARRAY ARRAY['school', 'teacher', 'student', 'section'] LOOP
        EXECUTE format('UPDATE staging.rejects j SET alternate_key = NULL, '
                       '  detail = replace(j.detail, ''both are kept as they are'', '
                       '                   ''the left one names a record the feed has no other row of, so it alone is kept'') '
                       'WHERE j.run_id = etl.current_run_id() AND j.entity = %L AND j.alternate_key IS NOT NULL '
                       '  AND EXISTS (SELECT 1 FROM roster.%I r WHERE r.district_id = etl.current_district_id() '
                       '              AND r.source = ''clever'' AND r.status = ''active'' AND r.sis_id = j.record_key) '
                       '  AND NOT EXISTS (SELECT 1 FROM staging.%I x WHERE x.run_id = j.run_id AND x.sis_id = j.record_key '
                       '                  AND x.excluded IS NULL)',
                       kind, kind || 's', kind || 's');
    END LOOP;
END
$$;

-- Records with a row of their own in the feed, unreadable (0011), are held by it already.
DELETE FROM absent a
USING staging.unreadable_rows u
WHERE u.run_id = etl.current_run_id() AND u.entity = a.entity AND u.record_key = a.sis_id;

-- Each absent record another feed names, once, with the first row naming it. Not named:
-- * by rows a filter left out (step 3);
-- * by a class whose term has ended (last year's classes, still listed over the summer, name the
--   students who graduated since);
-- * by a last row without a line end (TaskExecutor's check of cut last rows reads its rejection);
-- * a second night: a record held by the district's last applied run of an earlier night (as-of
--   date) is taken as gone now. One night's grace, so a feed that keeps naming someone its own
--   feed lacks (an SIS's stale rows) does not keep them for good; if that feed stays cut, the
--   removal share stops the run. Counted in nights, not runs: the same night synced again (from
--   the API, with --full, a resume's re-run) holds them again, as the same sync twice must
--   change nothing the second time.
DROP TABLE IF EXISTS pg_temp.ended_sections;
CREATE TEMP TABLE ended_sections AS
SELECT s.sis_id FROM staging.sections s
JOIN staging.terms t ON t.run_id = s.run_id AND t.sis_id = s.term_sis_id
WHERE s.run_id = etl.current_run_id() AND t.end_date < etl.current_as_of();

INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT DISTINCT ON (n.entity, n.sis_id) etl.current_run_id(), n.entity, n.source_ref, n.sis_id,
       'referenced_not_in_feed', 'warning',
       n.entity || ' ' || n.sis_id || ' is not in the ' || n.entity || 's feed, but ' || n.source_ref
       || ' names it; it is kept as it is this run (is the ' || n.entity || 's feed cut short?)'
FROM (SELECT 'student' AS entity, e.student_sis_id AS sis_id, e.source_ref, e.seq, 1 AS feed, e.section_sis_id AS class
      FROM staging.enrollments e JOIN absent a ON a.entity = 'student' AND a.sis_id = e.student_sis_id
      WHERE e.run_id = etl.current_run_id() AND e.excluded IS NULL
      UNION ALL
      SELECT 'section', e.section_sis_id, e.source_ref, e.seq, 1, NULL
      FROM staging.enrollments e JOIN absent a ON a.entity = 'section' AND a.sis_id = e.section_sis_id
      WHERE e.run_id = etl.current_run_id() AND e.excluded IS NULL
      UNION ALL
      SELECT 'teacher', t.teacher_sis_id, t.source_ref, t.seq, 2, t.section_sis_id
      FROM staging.section_teachers t JOIN absent a ON a.entity = 'teacher' AND a.sis_id = t.teacher_sis_id
      WHERE t.run_id = etl.current_run_id() AND t.excluded IS NULL
      UNION ALL
      SELECT 'school', p.school_sis_id, p.source_ref, p.seq, p.feed, NULL
      FROM (SELECT school_sis_id, source_ref, seq, 3 AS feed FROM staging.teachers
            WHERE run_id = etl.current_run_id() AND excluded IS NULL
            UNION ALL
            SELECT school_sis_id, source_ref, seq, 4 FROM staging.students
            WHERE run_id = etl.current_run_id() AND excluded IS NULL
            UNION ALL
            SELECT school_sis_id, source_ref, seq, 5 FROM staging.sections
            WHERE run_id = etl.current_run_id() AND excluded IS NULL) p
      JOIN absent a ON a.entity = 'school' AND a.sis_id = p.school_sis_id) n
WHERE NOT EXISTS (SELECT 1 FROM ended_sections x WHERE x.sis_id = n.class)
  AND NOT EXISTS (SELECT 1 FROM staging.rejects m WHERE m.run_id = etl.current_run_id() AND m.reason = 'no_line_end'
                  AND m.source_ref = n.source_ref)
  AND NOT EXISTS (SELECT 1 FROM staging.rejects h
                  WHERE h.run_id = (SELECT coalesce((r.counts ->> 'unchanged_since')::bigint, r.id) FROM etl.runs r
                                    WHERE r.district_id = etl.current_district_id() AND r.id < etl.current_run_id()
                                      AND r.status = 'succeeded' AND r.mode <> 'preview'
                                      AND r.as_of < etl.current_as_of()
                                    ORDER BY r.id DESC LIMIT 1)
                    AND h.reason = 'referenced_not_in_feed' AND h.entity = n.entity AND h.record_key = n.sis_id)
ORDER BY n.entity, n.sis_id, n.feed, n.seq;

-- The run's rejects are new since the table's statistics: without them the planner takes the
-- run's unreadable rows for one and loops over every list below once per row.
ANALYZE staging.rejects;

-- The recorded SIS id changes the merge applies tonight (01), made once: usually none.
DROP TABLE IF EXISTS pg_temp.moving;
CREATE TEMP TABLE moving AS
SELECT e.entity, m.old_sis_id, m.new_sis_id
FROM unnest(ARRAY['school', 'teacher', 'student', 'section']) AS e(entity)
CROSS JOIN LATERAL etl.sis_id_moves(e.entity) m
WHERE NOT m.conflict;
ANALYZE moving;

DROP TABLE IF EXISTS pg_temp.held;
CREATE TEMP TABLE held (entity text NOT NULL, sis_id text NOT NULL);
-- Inside the district's filters (0016), as readable rows must be; one statement per entity, so
-- that each list is made once and hashed, not matched as (entity, key) pairs against all four.
DO $$
DECLARE
    kind text;
BEGIN
    FOREACH kind IN ARRAY ARRAY['school', 'teacher', 'student', 'section'] LOOP
        -- A key a recorded SIS id change moves an active record to tonight (01) is that record's.
        -- Joined, not probed per row: a district renumbering its students records a pair each.
        EXECUTE format('INSERT INTO held SELECT DISTINCT %L, u.record_key FROM staging.unreadable_rows u '
                       'LEFT JOIN moving m ON m.entity = %L AND m.new_sis_id = u.record_key '
                       'WHERE u.run_id = etl.current_run_id() AND u.entity = %L '
                       '  AND u.record_key IN (SELECT sis_id FROM etl.unreadable_inside_filters(%L)) '
                       '  AND EXISTS (SELECT 1 FROM roster.%I r WHERE r.district_id = etl.current_district_id() '
                       '              AND r.source = ''clever'' AND r.status = ''active'' '
                       '              AND r.sis_id = coalesce(m.old_sis_id, u.record_key))',
                       kind, kind, kind, kind, kind || 's');
    END LOOP;
END
$$;
ANALYZE held;

WITH bad AS (
    UPDATE staging.teachers s SET excluded = 'unknown_reference'
    WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL
      AND NOT EXISTS (SELECT 1 FROM staging.schools x WHERE x.run_id = s.run_id AND x.sis_id = s.school_sis_id
                      AND x.excluded IS NULL)
      AND NOT EXISTS (SELECT 1 FROM held h WHERE h.entity = 'school' AND h.sis_id = s.school_sis_id)
    RETURNING s.source_ref, s.sis_id, coalesce(s.school_sis_id, s.school_clever_id) AS school)
INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT etl.current_run_id(), 'teacher', source_ref, sis_id, 'unknown_reference', 'rejected',
       'school ' || coalesce(school, '(empty)') || ' is not in the schools feed'
FROM bad;

WITH bad AS (
    UPDATE staging.students s SET excluded = 'unknown_reference'
    WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL
      AND NOT EXISTS (SELECT 1 FROM staging.schools x WHERE x.run_id = s.run_id AND x.sis_id = s.school_sis_id
                      AND x.excluded IS NULL)
      AND NOT EXISTS (SELECT 1 FROM held h WHERE h.entity = 'school' AND h.sis_id = s.school_sis_id)
    RETURNING s.source_ref, s.sis_id, coalesce(s.school_sis_id, s.school_clever_id) AS school)
INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT etl.current_run_id(), 'student', source_ref, sis_id, 'unknown_reference', 'rejected',
       'school ' || coalesce(school, '(empty)') || ' is not in the schools feed'
FROM bad;

WITH bad AS (
    UPDATE staging.sections s SET excluded = 'unknown_reference'
    WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL
      AND NOT EXISTS (SELECT 1 FROM staging.schools x WHERE x.run_id = s.run_id AND x.sis_id = s.school_sis_id
                      AND x.excluded IS NULL)
      AND NOT EXISTS (SELECT 1 FROM held h WHERE h.entity = 'school' AND h.sis_id = s.school_sis_id)
    RETURNING s.source_ref, s.sis_id, coalesce(s.school_sis_id, s.school_clever_id) AS school)
INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT etl.current_run_id(), 'section', source_ref, sis_id, 'unknown_reference', 'rejected',
       'school ' || coalesce(school, '(empty)') || ' is not in the schools feed'
FROM bad;

-- A section whose term is not among the run's loadable terms keeps the term it has
-- (06_sections.sql): reported, and the section loads.
INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT etl.current_run_id(), 'section', s.source_ref, s.sis_id, 'unknown_reference', 'warning',
       'term ' || coalesce(s.term_sis_id, s.term_clever_id) || ' is not in the terms feed; the section keeps the term it has'
FROM staging.sections s
WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL
  AND coalesce(s.term_sis_id, s.term_clever_id) IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM staging.terms t WHERE t.run_id = s.run_id AND t.sis_id = s.term_sis_id
                  AND t.excluded IS NULL);

-- Two teachers in the feed with one email: neither wins (SYNC-RULES "one email, one teacher").
-- Both keep whatever account they have; neither is created, changed or suspended this run.
WITH shared AS (
    SELECT lower(email) AS email
    FROM staging.teachers
    WHERE run_id = etl.current_run_id() AND excluded IS NULL AND email IS NOT NULL
    GROUP BY lower(email)
    HAVING count(DISTINCT sis_id) > 1),
bad AS (
    UPDATE staging.teachers t SET excluded = 'duplicate_email'
    FROM shared
    WHERE t.run_id = etl.current_run_id() AND t.excluded IS NULL AND lower(t.email) = shared.email
    RETURNING t.source_ref, t.sis_id, t.email)
INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT etl.current_run_id(), 'teacher', source_ref, sis_id, 'duplicate_email', 'rejected',
       'email ' || email || ' is used by more than one teacher in the feed; existing accounts are kept as they are'
FROM bad;

-- A teacher whose email another account will still own after this run (a manual account that
-- cannot be adopted, or a Clever teacher who keeps it): reported, nothing changes.
--
-- A Clever teacher in the feed with another email, or with none (suspended, its email cleared:
-- 04_teachers.sql), gives its email up, unless it is itself reported here: it then keeps the
-- email it has. So the reports are found to a fixed point, each round with the givers of the
-- last round's reports taken back (a handful of teachers; two swapping emails both go through).
DROP TABLE IF EXISTS pg_temp.email_feed;
CREATE TEMP TABLE email_feed AS
SELECT DISTINCT ON (t.sis_id) t.sis_id, t.email, t.source_ref
FROM staging.teachers t
WHERE t.run_id = etl.current_run_id() AND t.excluded IS NULL
ORDER BY t.sis_id, t.seq;

-- An active teacher whose new email fails validation keeps the one it has (04_teachers.sql):
-- it gives nothing up.
-- (Under the id a recorded SIS id change moves it from tonight, too.)
UPDATE email_feed f SET email = r.email
FROM roster.teachers r
WHERE f.email IS NULL AND r.district_id = etl.current_district_id() AND r.source = 'clever'
  AND r.sis_id = coalesce((SELECT m.old_sis_id FROM moving m WHERE m.entity = 'teacher' AND m.new_sis_id = f.sis_id),
                          f.sis_id)
  AND r.status = 'active'
  AND f.sis_id IN (SELECT record_key FROM staging.rejects WHERE run_id = etl.current_run_id() AND entity = 'teacher'
                   AND reason = 'invalid_email');

DROP TABLE IF EXISTS pg_temp.email_mine;
CREATE TEMP TABLE email_mine AS
SELECT f.sis_id, r.id AS roster_id
FROM email_feed f
JOIN roster.teachers r ON r.district_id = etl.current_district_id() AND r.source = 'clever'
                      AND r.sis_id = f.sis_id
UNION ALL
-- A recorded SIS id change, which the merge applies first (01_sis_id_changes.sql, the same
-- moves): the account is this teacher's already, or it would stay suspended until a
-- second run (and an unchanged night would never get to that run). Starting from the few
-- moves, one index probe each: the roster's statistics can predate a first sync's rows, and
-- a plain join became a nested loop over every teacher for every feed row (150 s at 1M).
SELECT p.sis_id, p.roster_id
FROM (SELECT f.sis_id,
             (SELECT r.id FROM roster.teachers r WHERE r.district_id = etl.current_district_id()
                AND r.source = 'clever' AND r.sis_id = c.old_sis_id) AS roster_id
      FROM etl.sis_id_moves('teacher') c
      JOIN email_feed f ON f.sis_id = c.new_sis_id
      WHERE NOT c.conflict) p
WHERE p.roster_id IS NOT NULL;

DROP TABLE IF EXISTS pg_temp.email_owned;
CREATE TEMP TABLE email_owned (sis_id text PRIMARY KEY, email text, source_ref text, other_id bigint);

DO $$
DECLARE
    found bigint;
BEGIN
    LOOP
        INSERT INTO email_owned (sis_id, email, source_ref, other_id)
        SELECT DISTINCT ON (f.sis_id) f.sis_id, f.email, f.source_ref, x.id
        FROM email_feed f
        JOIN roster.teachers x ON x.district_id = etl.current_district_id() AND lower(x.email) = lower(f.email)
        LEFT JOIN email_mine m ON m.sis_id = f.sis_id
        WHERE x.id IS DISTINCT FROM m.roster_id
          AND NOT EXISTS (SELECT 1 FROM email_owned o WHERE o.sis_id = f.sis_id)
          -- a manual account with this email is adopted by a new teacher, unless there are several
          AND NOT (m.roster_id IS NULL AND x.source = 'manual'
                   AND (SELECT count(*) FROM roster.teachers y WHERE y.district_id = x.district_id
                        AND y.source = 'manual' AND lower(y.email) = lower(f.email)) = 1)
          -- a Clever teacher in the feed with another email, or none, gives this one up, unless
          -- it is reported here itself
          AND NOT EXISTS (SELECT 1 FROM email_mine m2 JOIN email_feed f2 ON f2.sis_id = m2.sis_id
                          WHERE m2.roster_id = x.id AND lower(f2.email) IS DISTINCT FROM lower(f.email)
                            AND NOT EXISTS (SELECT 1 FROM email_owned o WHERE o.sis_id = f2.sis_id))
        ORDER BY f.sis_id, x.id;
        GET DIAGNOSTICS found = ROW_COUNT;
        EXIT WHEN found = 0;
    END LOOP;
END
$$;

WITH bad AS (
    UPDATE staging.teachers t SET excluded = 'duplicate_email'
    FROM email_owned o
    WHERE t.run_id = etl.current_run_id() AND t.sis_id = o.sis_id AND t.excluded IS NULL
    RETURNING t.source_ref, t.sis_id, o.email, o.other_id)
INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT etl.current_run_id(), 'teacher', source_ref, sis_id, 'duplicate_email', 'rejected',
       'email ' || email || ' belongs to teacher account ' || other_id || '; the existing account is kept as it is'
FROM bad;

-- Two students with one email cannot both log in with it: both load, neither can log in.
WITH shared AS (
    SELECT lower(email) AS email
    FROM staging.students
    WHERE run_id = etl.current_run_id() AND excluded IS NULL AND email IS NOT NULL
    GROUP BY lower(email)
    HAVING count(*) > 1),
bad AS (
    UPDATE staging.students s SET can_login = false
    FROM shared
    WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL AND lower(s.email) = shared.email
    RETURNING s.source_ref, s.sis_id, s.email)
INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT etl.current_run_id(), 'student', source_ref, sis_id, 'duplicate_email', 'warning',
       'email ' || email || ' is used by more than one student; loaded with can_login = false'
FROM bad;

WITH bad AS (
    UPDATE staging.section_teachers s SET excluded = CASE WHEN s.position = 0 THEN 'missing_primary_teacher'
                                                          ELSE 'unknown_reference' END
    WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL
      AND ((NOT EXISTS (SELECT 1 FROM staging.sections x WHERE x.run_id = s.run_id AND x.sis_id = s.section_sis_id
                        AND x.excluded IS NULL)
            AND NOT EXISTS (SELECT 1 FROM held h WHERE h.entity = 'section' AND h.sis_id = s.section_sis_id))
        OR (NOT EXISTS (SELECT 1 FROM staging.teachers x WHERE x.run_id = s.run_id AND x.sis_id = s.teacher_sis_id
                        AND (x.excluded IS NULL OR x.excluded = 'duplicate_email'))
            AND NOT EXISTS (SELECT 1 FROM held h WHERE h.entity = 'teacher' AND h.sis_id = s.teacher_sis_id)))
    RETURNING s.source_ref, s.section_sis_id, s.teacher_sis_id, s.teacher_clever_id, s.position, s.excluded,
              EXISTS (SELECT 1 FROM staging.sections x WHERE x.run_id = s.run_id AND x.sis_id = s.section_sis_id
                      AND x.excluded IS NULL) AS section_loaded)
INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT etl.current_run_id(), 'section_teacher', source_ref, section_sis_id, excluded, 'rejected',
       CASE WHEN NOT section_loaded
            THEN 'section ' || coalesce(section_sis_id, '(unknown)') || ' is not loaded (rejected or not in the feed)'
            ELSE CASE WHEN position = 0 THEN 'primary ' ELSE 'co-' END || 'teacher '
                 || coalesce(teacher_sis_id, teacher_clever_id, '(empty)') || ' of section ' || section_sis_id
                 || ' is not a loaded teacher (rejected or not in the feed)' END
FROM bad;

-- Enrollments: the section, then the student (two anti-joins rather than one OR; see step 3).
WITH bad AS (
    UPDATE staging.enrollments s SET excluded = 'unknown_reference'
    WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL
      AND NOT EXISTS (SELECT 1 FROM staging.sections x WHERE x.run_id = s.run_id AND x.sis_id = s.section_sis_id
                      AND x.excluded IS NULL)
      AND NOT EXISTS (SELECT 1 FROM held h WHERE h.entity = 'section' AND h.sis_id = s.section_sis_id)
    RETURNING s.source_ref, s.section_sis_id, s.student_sis_id, s.section_clever_id, s.student_clever_id)
INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT etl.current_run_id(), 'enrollment', source_ref,
       coalesce(section_sis_id, section_clever_id) || '/' || coalesce(student_sis_id, student_clever_id),
       'unknown_reference', 'rejected',
       'section ' || coalesce(section_sis_id, section_clever_id, '(empty)') || ' (of student '
       || coalesce(student_sis_id, student_clever_id, '(empty)') || ') is not loaded (rejected or not in the feed)'
FROM bad;

WITH bad AS (
    UPDATE staging.enrollments s SET excluded = 'unknown_reference'
    WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL
      AND NOT EXISTS (SELECT 1 FROM staging.students x WHERE x.run_id = s.run_id AND x.sis_id = s.student_sis_id
                      AND x.excluded IS NULL)
      AND NOT EXISTS (SELECT 1 FROM held h WHERE h.entity = 'student' AND h.sis_id = s.student_sis_id)
    RETURNING s.source_ref, s.section_sis_id, s.student_sis_id, s.section_clever_id, s.student_clever_id)
INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT etl.current_run_id(), 'enrollment', source_ref,
       coalesce(section_sis_id, section_clever_id) || '/' || coalesce(student_sis_id, student_clever_id),
       'unknown_reference', 'rejected',
       'student ' || coalesce(student_sis_id, student_clever_id, '(empty)') || ' (in section '
       || coalesce(section_sis_id, section_clever_id, '(empty)') || ') is not loaded (rejected or not in the feed)'
FROM bad;

-- 5. Probable SIS id changes: a record that will vanish and a new one with the same email and
--    name. Reported with the row to record in roster.sis_id_changes; nothing is applied.
INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT etl.current_run_id(), 'student', s.source_ref, s.sis_id, 'probable_sis_id_change', 'warning',
       'student ' || r.sis_id || ' vanished and ' || s.sis_id || ' appeared with the same email and name; if it is '
       || 'the same person run: INSERT INTO roster.sis_id_changes (district_id, entity, old_sis_id, new_sis_id) VALUES ('''
       || r.district_id || ''', ''student'', ''' || r.sis_id || ''', ''' || s.sis_id || '''); '
       || '(before a sync creates ' || s.sis_id || ': once one has, the pair is left alone)'
FROM staging.students s
JOIN roster.students r ON r.district_id = etl.current_district_id() AND r.source = 'clever'
                      AND lower(r.email) = lower(s.email)
                      AND r.first_name IS NOT DISTINCT FROM s.first_name AND r.last_name IS NOT DISTINCT FROM s.last_name
WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL AND s.email IS NOT NULL
  AND r.sis_id <> s.sis_id
  AND NOT EXISTS (SELECT 1 FROM roster.students n WHERE n.district_id = r.district_id AND n.source = 'clever'
                  AND n.sis_id = s.sis_id)
  -- recorded already (a pair or a chain of them): the merge applies it this run
  AND (r.sis_id, s.sis_id) NOT IN (SELECT c.old_sis_id, c.new_sis_id FROM etl.sis_id_moves('student') c)
  AND NOT EXISTS (SELECT 1 FROM staging.students g WHERE g.run_id = s.run_id AND g.sis_id = r.sis_id
                  AND g.excluded IS NULL);

INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
SELECT DISTINCT ON (t.sis_id) etl.current_run_id(), 'teacher', t.source_ref, t.sis_id, 'probable_sis_id_change', 'warning',
       'teacher ' || r.sis_id || ' vanished and ' || t.sis_id || ' appeared with the same email and name; if it is '
       || 'the same person run: INSERT INTO roster.sis_id_changes (district_id, entity, old_sis_id, new_sis_id) VALUES ('''
       || r.district_id || ''', ''teacher'', ''' || r.sis_id || ''', ''' || t.sis_id || '''); '
       || '(before a sync creates ' || t.sis_id || ': once one has, the pair is left alone)'
FROM staging.teachers t
JOIN roster.teachers r ON r.district_id = etl.current_district_id() AND r.source = 'clever'
                      AND lower(r.email) = lower(t.email)
                      AND r.first_name IS NOT DISTINCT FROM t.first_name AND r.last_name IS NOT DISTINCT FROM t.last_name
WHERE t.run_id = etl.current_run_id() AND t.email IS NOT NULL
  AND (t.excluded IS NULL OR t.excluded = 'duplicate_email')
  AND r.sis_id <> t.sis_id
  AND NOT EXISTS (SELECT 1 FROM roster.teachers n WHERE n.district_id = r.district_id AND n.source = 'clever'
                  AND n.sis_id = t.sis_id)
  AND (r.sis_id, t.sis_id) NOT IN (SELECT c.old_sis_id, c.new_sis_id FROM etl.sis_id_moves('teacher') c)
  AND NOT EXISTS (SELECT 1 FROM staging.teachers g WHERE g.run_id = t.run_id AND g.sis_id = r.sis_id
                  AND g.excluded IS NULL)
ORDER BY t.sis_id, t.seq;

-- 5b. Recorded SIS id changes that cannot apply: the new id is a record of its own already (the
--    pair was recorded after a sync had created that id as a new record, or it names two
--    records). Giving the old record that id would make two records of one; both stay as they
--    are, and the pair waits. Said on every night that reads the feed (recording the pair
--    changes the roster's digest, so the next night does), so that it does not wait unseen.
DO $do$
DECLARE
    kind text;
BEGIN
    FOREACH kind IN ARRAY ARRAY['school', 'term', 'teacher', 'student', 'section'] LOOP
        EXECUTE format($q$
            INSERT INTO staging.rejects (run_id, entity, source_ref, record_key, reason, severity, detail)
            SELECT etl.current_run_id(), $1, 'roster.sis_id_changes', c.new_sis_id, 'sis_id_change_not_applied', 'warning',
                   'the recorded SIS id change ' || c.old_sis_id || ' -> ' || c.new_sis_id || ' is not applied: '
                   || c.new_sis_id || ' is a ' || $1 || ' of its own already (created ' || to_char(n.created_at, 'YYYY-MM-DD')
                   || '), and ' || c.old_sis_id || ' is ' || coalesce(to_jsonb(o) ->> 'status', 'kept') || '. Both stay as they are. If they are one, '
                   || 'merge them in the platform by hand; if not, delete the pair'
            FROM roster.sis_id_changes c
            JOIN roster.%1$I o ON o.district_id = c.district_id AND o.source = 'clever' AND o.sis_id = c.old_sis_id
            JOIN roster.%1$I n ON n.district_id = c.district_id AND n.source = 'clever' AND n.sis_id = c.new_sis_id
            WHERE c.district_id = etl.current_district_id() AND c.entity = $1
              AND NOT EXISTS (SELECT 1 FROM staging.%1$I s WHERE s.run_id = etl.current_run_id()
                              AND s.sis_id = c.old_sis_id AND s.excluded IS NULL)
            $q$, kind || 's') USING kind;
    END LOOP;
END
$do$;

-- 6. Recorded SIS id changes that contradict each other: two records whose pairs lead to one
--    new id. Neither may move, and the feed's row under that id would load as a new person: a
--    duplicate that no pair can merge once it exists. The run stops here, the roster unchanged,
--    naming the pairs to correct (migration 0014; the merge checks again, for approve).
SELECT etl.check_sis_id_conflicts();
