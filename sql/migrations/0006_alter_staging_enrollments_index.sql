-- staging.enrollments is indexed by run only. The (run_id, section_sis_id, student_sis_id) key
-- cost two thirds of the time to COPY a run's enrollments in (five million random text keys
-- for a million-student district), and nothing looks enrollments up by those ids: prepare and
-- the merge read a whole run's rows and join them by hashing. A data engineer asking about one
-- student in one run reads that run's rows (about a second for five million).
DROP INDEX staging.staging_enrollments_run;
CREATE INDEX staging_enrollments_run ON staging.enrollments (run_id);
