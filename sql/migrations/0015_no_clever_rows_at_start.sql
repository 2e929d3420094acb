-- Whether a roster table had no Clever row of the district when the merge began (noted by
-- etl.begin_merge, migration 0010), asked in one place. etl.hold_clever_references asks it to
-- skip holding the merge's own rows, and 07_section_teachers.sql to take the bulk path on a
-- district's first sections; both read the note's encoding themselves before.
CREATE FUNCTION etl.had_no_clever_rows(parent regclass) RETURNS boolean
LANGUAGE sql STABLE AS $$
    -- Unset (outside a merge, or under READ COMMITTED, which notes nothing): false.
    SELECT coalesce(parent::oid::text = ANY (string_to_array(current_setting('rostersync.no_clever_rows_at_start', true), ',')),
                    false)
$$;

CREATE OR REPLACE FUNCTION etl.hold_clever_references(parent regclass, ids regclass, id_column text, filter text DEFAULT 'true')
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF etl.had_no_clever_rows(parent) THEN
        RETURN;
    END IF;
    PERFORM etl.hold_references(parent, ids, id_column, filter);
END
$$;
