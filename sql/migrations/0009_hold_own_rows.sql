-- etl.hold_references locks, FOR KEY SHARE, the parent rows that a bulk insert's new rows point
-- at (migration 0007). A row this transaction wrote itself needs no lock: one it inserted is
-- invisible to every other session until commit, and one it updated is already locked by the
-- update (a concurrent DELETE waits for this transaction, then sees the new rows pointing at it).
-- On a first sync every parent is such a row, and a lock is written into the row itself: every
-- student's page (a million students) was written and logged a second time, for locks that could
-- not matter. (Collecting the referenced ids is most of this pass's time, and stays.)
-- A row written in a subtransaction carries that subtransaction's id, not this one's, and is
-- locked as before.
CREATE OR REPLACE FUNCTION etl.hold_references(parent regclass, ids regclass, id_column text, filter text DEFAULT 'true')
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    wanted bigint;
    held bigint;
BEGIN
    IF current_setting('rostersync.bulk_insert', true) IS DISTINCT FROM 'on' THEN
        RETURN;
    END IF;
    -- In id order: on a first sync the parent's statistics predate its rows and the planner
    -- probes its primary key once per id, which in order reads each page once.
    EXECUTE format($sql$
        WITH wanted AS MATERIALIZED (SELECT DISTINCT %1$I AS id FROM %2$s WHERE %1$I IS NOT NULL AND (%4$s) ORDER BY 1),
        found AS MATERIALIZED (SELECT p.id, p.xmin = pg_current_xact_id()::xid AS own
                               FROM wanted w JOIN %3$s p ON p.id = w.id
                               WHERE p.district_id = etl.current_district_id()),
        held AS (SELECT p.id FROM found f JOIN %3$s p ON p.id = f.id
                 WHERE NOT f.own AND p.district_id = etl.current_district_id()
                 FOR KEY SHARE OF p)
        SELECT (SELECT count(*) FROM wanted),
               (SELECT count(*) FROM found WHERE own) + (SELECT count(*) FROM held)
        $sql$, id_column, ids, parent, filter)
    INTO wanted, held;
    IF held <> wanted THEN
        RAISE EXCEPTION '% of the % rows of % that new rows point at are gone (deleted by another session during this run)',
            wanted - held, wanted, parent
            USING ERRCODE = 'foreign_key_violation';
    END IF;
END
$$;
