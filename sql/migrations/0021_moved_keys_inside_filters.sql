-- An unreadable row keyed by the new id of a recorded SIS id change (roster.sis_id_changes) is
-- judged against the district's filters by the record the merge moves to that id (01): prepare
-- runs before the move, when the roster still has the old id. 0017 found no record under the new
-- id, so a filter by school or grade left the row out: its record was not held, and the rows
-- naming it (enrollments, section teachers) were rejected as unknown references, which took the
-- person out of every class. After 01 no move is left to join, and this reads as 0017 did.
CREATE OR REPLACE FUNCTION etl.unreadable_inside_filters(kind text) RETURNS TABLE (sis_id text)
LANGUAGE sql STABLE AS $$
    SELECT u.record_key
    FROM staging.unreadable_rows u
    LEFT JOIN (SELECT old_sis_id, new_sis_id FROM etl.sis_id_moves(kind) WHERE NOT conflict) m
           ON m.new_sis_id = u.record_key
    LEFT JOIN LATERAL (
        SELECT sc.sis_id AS school, x.grade FROM roster.students x LEFT JOIN roster.schools sc ON sc.id = x.school_id
        WHERE kind = 'student' AND x.district_id = etl.current_district_id() AND x.source = 'clever'
          AND x.sis_id = coalesce(m.old_sis_id, u.record_key)
        UNION ALL
        -- A teacher at several schools is in if one of them is (prepare filters a teacher's row
        -- per school): the first school the filters let in, else the primary.
        SELECT coalesce((SELECT o.sis_id FROM roster.schools o WHERE o.id = ANY (x.school_id || x.other_school_ids)
                           AND NOT etl.filters_leave_out('school', o.sis_id, NULL, NULL) LIMIT 1), sc.sis_id), NULL
        FROM roster.teachers x LEFT JOIN roster.schools sc ON sc.id = x.school_id
        WHERE kind = 'teacher' AND x.district_id = etl.current_district_id() AND x.source = 'clever'
          AND x.sis_id = coalesce(m.old_sis_id, u.record_key)
        UNION ALL
        SELECT sc.sis_id, x.grade FROM roster.sections x LEFT JOIN roster.schools sc ON sc.id = x.school_id
        WHERE kind = 'section' AND x.district_id = etl.current_district_id() AND x.source = 'clever'
          AND x.sis_id = coalesce(m.old_sis_id, u.record_key)
        LIMIT 1) r ON true
    WHERE u.run_id = etl.current_run_id() AND u.entity = kind
      AND NOT etl.filters_leave_out(kind, u.record_key, r.school, r.grade)
$$;
