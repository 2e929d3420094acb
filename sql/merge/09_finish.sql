-- The run succeeded: the morning report's "last successful sync" moves forward. Part of the
-- merge transaction, so a rolled-back run leaves it where it was.
UPDATE roster.districts SET last_successful_sync_at = now() WHERE id = etl.current_district_id();
