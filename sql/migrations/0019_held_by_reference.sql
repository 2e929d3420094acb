-- A record the roster has, active, that this run's feed lacks while another feed still names it
-- (a student in a class's member list, a section in enrollments.csv, a teacher of a section, the
-- school of a person or a class) is not gone: the feed that lacks it was cut short, at a row
-- boundary where its contents cannot tell, or lost a page. Prepare (00_prepare.sql step 4) records
-- each such record once, as a warning `referenced_not_in_feed` naming the row that names it, and
-- the merge keeps it as it keeps a record whose own row is unreadable (0011), inside the district's
-- filters (0016): not archived or suspended, in its classes. Before, the record was archived (or
-- suspended) and the rows naming it rejected: a students file cut by a tenth of its rows, below the
-- safety threshold, took those students out of their classes with exit 0.
CREATE OR REPLACE VIEW staging.unreadable_rows AS
SELECT run_id, entity, record_key, reason, source_ref, detail
FROM staging.rejects
WHERE record_key IS NOT NULL
  AND ((severity = 'rejected' AND reason IN ('malformed_row', 'missing_required_field'))
       OR reason = 'referenced_not_in_feed');
