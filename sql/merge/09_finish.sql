-- The run succeeded: the morning report's "last successful sync" moves forward. Part of the
-- merge transaction, so a rolled-back run leaves it where it was.
UPDATE roster.districts SET last_successful_sync_at = now() WHERE id = etl.current_district_id();

-- What the roster looks like after this run, for the next run with the same inputs (migration
-- 0008: such a run then changes nothing and is verified by digests instead). Last, and in this
-- transaction's snapshot (the merge runs REPEATABLE READ): a change someone else commits while
-- the merge runs is not in it, so the next run sees a different roster and compares in full.
-- Runs without an input digest (API, preview, resumed) are never compared and skip the cost.
UPDATE etl.runs SET roster_digest = etl.roster_digest(etl.current_district_id())
WHERE id = etl.current_run_id() AND input_digest IS NOT NULL;
