-- A record kept because its row is unreadable (0011) is kept only where the district's filters
-- let it in: what a filter leaves out is treated as not in the data (SYNC-RULES.md "District
-- settings"), readable or not. Prepare filters readable rows by what they say; an unreadable one
-- says nothing, so the roster's record answers: its school, its grade. Before, prepare's hold
-- checked the school filter for schools only, and the merge kept every unreadable record.

-- Whether the district's filters leave out a record of `entity` with this SIS id, school (its
-- SIS id) and grade, by the rules prepare applies to staged rows (00_prepare.sql step 3).
CREATE FUNCTION etl.filters_leave_out(entity text, sis_id text, school_sis_id text, grade text)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((
        SELECT (jsonb_typeof(f -> 'schools') = 'array' AND jsonb_array_length(f -> 'schools') > 0
                AND NOT (f -> 'schools') ? coalesce(CASE WHEN entity = 'school' THEN sis_id ELSE school_sis_id END, ''))
            OR (entity = 'student' AND jsonb_typeof(f -> 'grades') = 'array' AND jsonb_array_length(f -> 'grades') > 0
                AND NOT (f -> 'grades') ? coalesce(grade, ''))
            OR (entity = 'section' AND grade IS NOT NULL AND jsonb_typeof(f -> 'grades') = 'array'
                AND jsonb_array_length(f -> 'grades') > 0 AND NOT (f -> 'grades') ? grade)
            OR (entity = 'section' AND jsonb_typeof(f -> 'sections') = 'array'
                AND jsonb_array_length(f -> 'sections') > 0 AND NOT (f -> 'sections') ? sis_id)
        FROM (SELECT coalesce(settings -> 'filters', '{}'::jsonb) AS f
              FROM roster.districts WHERE id = etl.current_district_id()) d), false)
$$;

-- The SIS ids of the run's unreadable rows of `kind` (school, teacher, student, section) whose
-- roster record the filters let in. A few rows a night: the merge reads it as a hashed list.
CREATE FUNCTION etl.unreadable_inside_filters(kind text) RETURNS TABLE (sis_id text)
LANGUAGE sql STABLE AS $$
    SELECT u.record_key
    FROM staging.unreadable_rows u
    LEFT JOIN LATERAL (
        SELECT sc.sis_id AS school, x.grade FROM roster.students x LEFT JOIN roster.schools sc ON sc.id = x.school_id
        WHERE kind = 'student' AND x.district_id = etl.current_district_id() AND x.source = 'clever'
          AND x.sis_id = u.record_key
        UNION ALL
        SELECT sc.sis_id, NULL FROM roster.teachers x LEFT JOIN roster.schools sc ON sc.id = x.school_id
        WHERE kind = 'teacher' AND x.district_id = etl.current_district_id() AND x.source = 'clever'
          AND x.sis_id = u.record_key
        UNION ALL
        SELECT sc.sis_id, x.grade FROM roster.sections x LEFT JOIN roster.schools sc ON sc.id = x.school_id
        WHERE kind = 'section' AND x.district_id = etl.current_district_id() AND x.source = 'clever'
          AND x.sis_id = u.record_key
        LIMIT 1) r ON true
    WHERE u.run_id = etl.current_run_id() AND u.entity = kind
      AND NOT etl.filters_leave_out(kind, u.record_key, r.school, r.grade)
$$;
