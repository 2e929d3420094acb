-- Terms read from sections.csv are keyed by their name and dates (`name|start|end`). Until now
-- the key was made of the raw cells, so one term spelt `8/24/2026` one night and `2026-08-24`
-- the next (or with other spaces in its name) became two. The transform now keys them on the
-- name as it stores it and the dates as ISO (RosterTransform's termKey): the same text the
-- stored name and dates give. Existing keys are brought to that form here, so the next sync
-- finds its terms instead of creating them again. Terms that become one are merged into the
-- oldest, their sections moved to it. A term with a Clever id came from the API, whose key is
-- that id (a `name|start|end` key there is from a development build): it gets its Clever id.
-- Every other term keeps its key, and takes part so that a term already holding a key another
-- one gets now is merged with it, not collided with.
--
-- The key is made from the stored name and dates, which the transform made from the same cells
-- at the term's last sync (a sync rewrites them): a term no feed has listed since someone edited
-- its name by hand gets that name in its key. Recorded term SIS id pairs (roster.sis_id_changes)
-- keep their keys: record them again in this form.
CREATE TEMP TABLE term_keys ON COMMIT DROP AS
SELECT id, key, min(id) OVER (PARTITION BY district_id, key) AS keep
FROM (SELECT id, district_id,
             CASE WHEN sis_id LIKE '%|%|%' THEN
                 coalesce(clever_id,
                          coalesce(name, '') || '|' || coalesce(to_char(start_date, 'YYYY-MM-DD'), '') || '|'
                              || coalesce(to_char(end_date, 'YYYY-MM-DD'), ''))
             ELSE sis_id END AS key
      FROM roster.terms
      WHERE source = 'clever' AND sis_id IS NOT NULL) t;

UPDATE roster.sections s SET term_id = k.keep, updated_at = now()
FROM term_keys k
WHERE s.term_id = k.id AND k.id <> k.keep;

DELETE FROM roster.terms t
USING term_keys k
WHERE t.id = k.id AND k.id <> k.keep;

-- In two steps: a term whose stored name or dates were changed by hand may hold, as its old key,
-- the key another term gets now, and the unique index is checked row by row.
UPDATE roster.terms t SET sis_id = 'rekey:' || t.id
FROM term_keys k
WHERE t.id = k.id AND t.sis_id IS DISTINCT FROM k.key;

UPDATE roster.terms t SET sis_id = k.key, updated_at = now()
FROM term_keys k
WHERE t.id = k.id AND t.sis_id = 'rekey:' || t.id;

-- Runs staged before this migration (a run stopped at the safety threshold, awaiting `approve`;
-- a failed run to `resume`) hold the old keys: brought to the same form, from the staged names
-- and dates (transformed already), with their sections' references. (A failed run that staged
-- its sections but not its terms keeps its sections' old references: sync again rather than
-- resume it.)
CREATE TEMP TABLE staged_term_keys ON COMMIT DROP AS
SELECT DISTINCT run_id, sis_id AS old,
       coalesce(clever_id,
                coalesce(name, '') || '|' || coalesce(to_char(start_date, 'YYYY-MM-DD'), '') || '|'
                    || coalesce(to_char(end_date, 'YYYY-MM-DD'), '')) AS key
FROM staging.terms
WHERE sis_id LIKE '%|%|%';

UPDATE staging.sections s SET term_sis_id = k.key
FROM staged_term_keys k
WHERE s.run_id = k.run_id AND s.term_sis_id = k.old;

UPDATE staging.terms t SET sis_id = k.key
FROM staged_term_keys k
WHERE t.run_id = k.run_id AND t.sis_id = k.old;
