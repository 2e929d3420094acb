-- Terms: create and update. Terms are never removed: sections of ended terms are archived by
-- date in 06_sections.sql instead.

CREATE TEMP TABLE feed_terms ON COMMIT DROP AS
SELECT DISTINCT ON (s.sis_id) s.sis_id, s.clever_id, s.name, s.start_date, s.end_date
FROM staging.terms s
WHERE s.run_id = etl.current_run_id() AND s.excluded IS NULL AND s.sis_id IS NOT NULL
ORDER BY s.sis_id, s.seq;
CREATE UNIQUE INDEX ON feed_terms (sis_id);

WITH diff AS (
    SELECT r.id, to_jsonb(r) AS old, f.*
    FROM roster.terms r
    JOIN feed_terms f ON f.sis_id = r.sis_id
    WHERE r.district_id = etl.current_district_id() AND r.source = 'clever'
      AND (r.clever_id, r.name, r.start_date, r.end_date)
          IS DISTINCT FROM (f.clever_id, f.name, f.start_date, f.end_date)),
changed AS (
    UPDATE roster.terms r
    SET clever_id = d.clever_id, name = d.name, start_date = d.start_date, end_date = d.end_date, updated_at = now()
    FROM diff d
    WHERE r.id = d.id
    RETURNING r.id, d.old, to_jsonb(r) AS new)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'term', id::text, 'update', etl.jsonb_diff(old, new)
FROM changed;

WITH created AS (
    INSERT INTO roster.terms (district_id, sis_id, clever_id, name, start_date, end_date)
    SELECT etl.current_district_id(), f.sis_id, f.clever_id, f.name, f.start_date, f.end_date
    FROM feed_terms f
    WHERE NOT EXISTS (SELECT 1 FROM roster.terms r WHERE r.district_id = etl.current_district_id()
                      AND r.source = 'clever' AND r.sis_id = f.sis_id)
    RETURNING id, sis_id, name)
INSERT INTO roster.change_log (run_id, district_id, entity, record_id, action, details)
SELECT etl.current_run_id(), etl.current_district_id(), 'term', id::text, 'create',
       jsonb_build_object('sis_id', sis_id, 'name', name)
FROM created;
