-- A CSV row with the wrong number of fields gained or lost fields somewhere. Its id read at the
-- header's position counted from the left is right when the break comes after the id columns;
-- counted from the right, when it comes before them (a stray comma in a name that comes first,
-- in a file whose columns are not in Clever's order). Before, only the left reading was taken: such
-- a row held a record keyed by a name ("Pat"), which does not exist, and its own record, gone
-- from the feed, was archived. Where the readings differ the extract records the right-hand one
-- as `alternate_key`, and the record of each is kept as an unreadable row's is (0011, 0016, 0019):
-- the wrong one keeps some other record, or none, for the night.
ALTER TABLE staging.rejects ADD COLUMN alternate_key text;

CREATE OR REPLACE VIEW staging.unreadable_rows AS
SELECT run_id, entity, record_key, reason, source_ref, detail
FROM staging.rejects
WHERE record_key IS NOT NULL
  AND ((severity = 'rejected' AND reason IN ('malformed_row', 'missing_required_field'))
       OR reason = 'referenced_not_in_feed')
UNION ALL
SELECT run_id, entity, alternate_key, reason, source_ref, detail
FROM staging.rejects
WHERE alternate_key IS NOT NULL AND severity = 'rejected' AND reason = 'malformed_row';
