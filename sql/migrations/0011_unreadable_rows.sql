-- Rows in the feed that could not be loaded but whose key could be read: a CSV row with the
-- wrong number of fields (an unquoted comma in a name, a line cut short), or a record missing
-- a required field such as a school's name. Such a person, class or membership is in the feed,
-- only unreadable. The merge keeps its roster record as it is for the run (not archived,
-- suspended or removed; memberships kept) instead of treating it as gone, and prepare does not
-- count a reference to it as unknown. Each row stays in staging.rejects with its file and line;
-- the next run that reads it loads it.
CREATE VIEW staging.unreadable_rows AS
SELECT run_id, entity, record_key, reason, source_ref, detail
FROM staging.rejects
WHERE severity = 'rejected' AND record_key IS NOT NULL AND reason IN ('malformed_row', 'missing_required_field');
