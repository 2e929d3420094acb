-- Who teaches a Clever section. Rules: SYNC-RULES.md "Co-teachers of a Clever section".
-- * Clever's primary teacher and co-teachers are loaded as source = 'clever'.
-- * A co-teacher added by hand who is not a Clever teacher is kept, unless the section has at
--   least one co-teacher from Clever: then it is removed.
-- * A co-teacher added by hand who is a Clever teacher is removed (make them co-teacher in the SIS).
-- * Only sections in this run's feed are touched; manual sections never.

-- The district's Clever sections and teachers as this transaction sees them, with statistics.
-- The roster's own statistics predate the rows this merge has just inserted (on a first sync they
-- say "empty"), which made the join below a nested loop over every teacher for every row; and
-- ANALYZE on a roster table would hold its lock until commit, serialising parallel districts.
CREATE TEMP TABLE section_teachers_sections ON COMMIT DROP AS
SELECT id, sis_id FROM roster.sections WHERE district_id = etl.current_district_id() AND source = 'clever';
CREATE INDEX ON section_teachers_sections (sis_id);
ANALYZE section_teachers_sections;

CREATE TEMP TABLE section_teachers_teachers ON COMMIT DROP AS
SELECT id, sis_id FROM roster.teachers WHERE district_id = etl.current_district_id() AND source = 'clever';
CREATE INDEX ON section_teachers_teachers (sis_id);
ANALYZE section_teachers_teachers;

CREATE TEMP TABLE feed_section_teachers ON COMMIT DROP AS
SELECT DISTINCT ON (sec.id, t.id) sec.id AS section_id, t.id AS teacher_id, (st.position = 0) AS is_primary
FROM staging.section_teachers st
JOIN feed_sections f ON f.sis_id = st.section_sis_id
JOIN section_teachers_sections sec ON sec.sis_id = st.section_sis_id
JOIN section_teachers_teachers t ON t.sis_id = st.teacher_sis_id
WHERE st.run_id = etl.current_run_id() AND st.excluded IS NULL
ORDER BY sec.id, t.id, st.position;
CREATE UNIQUE INDEX ON feed_section_teachers (section_id, teacher_id);
ANALYZE feed_section_teachers;

-- A district's first sync of its sections (no Clever section of it when the merge began,
-- migrations 0010 and 0015): every pair is new, and its foreign keys are checked for the whole set instead of
-- once per row (migration 0007; about 2 s of a million students' first sync). The sections are
-- the merge's own; teachers that were there before are held. Other nights insert few pairs,
-- which the per-row checks take cheaper than finding them would.
SELECT etl.begin_bulk_insert(ARRAY['roster.section_teachers', 'roster.change_log']::regclass[],
                              ARRAY['section_teachers_section_fkey', 'section_teachers_teacher_fkey'])
WHERE etl.had_no_clever_rows('roster.sections');
SELECT etl.hold_clever_references('roster.sections', 'feed_section_teachers', 'section_id');
SELECT etl.hold_clever_references('roster.teachers', 'feed_section_teachers', 'teacher_id');

WITH changed AS (
    INSERT INTO roster.section_teachers AS x (section_id, teacher_id, district_id, is_primary, source)
    SELECT f.section_id, f.teacher_id, etl.current_district_id(), f.is_primary, 'clever'
    FROM feed_section_teachers f
    ORDER BY f.section_id, f.teacher_id  -- key order: see 08_enrollments.sql
    ON CONFLICT (section_id, teacher_id) DO UPDATE SET is_primary = EXCLUDED.is_primary, source = 'clever'
    WHERE (x.is_primary, x.source) IS DISTINCT FROM (EXCLUDED.is_primary, 'clever')
    RETURNING x.section_id, x.teacher_id, x.is_primary, (x.xmax = 0) AS inserted)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'section_teacher', section_id || ':' || teacher_id,
       CASE WHEN inserted THEN 'create' ELSE 'update' END,
       jsonb_build_object('section_id', section_id, 'teacher_id', teacher_id, 'is_primary', is_primary)
FROM changed;

SELECT etl.end_bulk_insert();

WITH gone AS (
    DELETE FROM roster.section_teachers st
    USING roster.sections sec, roster.teachers t
    WHERE sec.id = st.section_id AND t.id = st.teacher_id
      AND sec.district_id = etl.current_district_id() AND sec.source = 'clever'
      AND EXISTS (SELECT 1 FROM feed_sections f WHERE f.sis_id = sec.sis_id)
      -- a class archived before this run is history, as its members are (08_enrollments.sql)
      AND NOT (sec.status = 'archived' AND sec.archived_at IS DISTINCT FROM now())
      AND NOT EXISTS (SELECT 1 FROM feed_section_teachers d
                      WHERE d.section_id = st.section_id AND d.teacher_id = st.teacher_id)
      AND (st.source = 'clever' OR t.source = 'clever'
           OR EXISTS (SELECT 1 FROM feed_section_teachers d WHERE d.section_id = st.section_id AND NOT d.is_primary))
    RETURNING st.section_id, st.teacher_id, st.is_primary, st.source AS row_source, t.source AS teacher_source)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
-- is_primary: co-teachers removed have a share of their own at the safety threshold (Merger).
SELECT etl.current_run_id(), etl.current_district_id(), 'section_teacher', section_id || ':' || teacher_id, 'remove',
       jsonb_build_object('section_id', section_id, 'teacher_id', teacher_id, 'is_primary', is_primary, 'source', row_source,
           'reason', CASE WHEN row_source = 'clever' THEN 'not_in_feed'
                          WHEN teacher_source = 'clever' THEN 'clever_teacher_added_by_hand'
                          ELSE 'section_has_clever_co_teachers' END)
FROM gone;
