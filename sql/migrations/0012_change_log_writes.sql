-- Cheaper change-log writes. A first sync of a million students logs six and a half million
-- changes; measured at that size, these two were 2.6 s of the merge.
--
-- The run index becomes a BRIN index. A run writes its rows together, so a block range summary
-- (the run ids in every 128 pages) finds a run's rows without an index entry per row: a B-tree
-- entry per row cost 2.2 s of five million enrollments' log rows; a BRIN index is a few pages,
-- updated per block range. What reads by run in the sync reads the run it is merging (the
-- merge's summary and preview export, 06_sections.sql's redated terms), whose rows are in the
-- newest ranges, and pages a run has just written are not summarised yet, so every scan reads
-- them. The log does not only grow: a preview or a blocked run rolls its rows back, and VACUUM
-- lets a later run reuse those pages, so one range can hold runs far apart. minmax_multi keeps
-- several intervals per range rather than one that would widen to cover every run in between,
-- so `psql` queries for an old run stay cheap too. autosummarize summarises a range once it is
-- full, without waiting for the next VACUUM.
DROP INDEX roster.change_log_run;
CREATE INDEX change_log_run ON roster.change_log USING brin (run_id int8_minmax_multi_ops)
    WITH (autosummarize = on);

-- Each session takes ids a thousand at a time instead of locking the sequence for every row
-- (0.4 s per five million rows). A run is one session, so its rows stay in order, and a later
-- run of a district (runs of a district never overlap: the district lock) has higher ids; ids
-- are no longer gapless, which nothing relies on.
ALTER SEQUENCE roster.change_log_id_seq CACHE 1000;
