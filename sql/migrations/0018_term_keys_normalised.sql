-- Terms read from sections.csv are keyed by their name and dates (`name|start|end`). Until now
-- the key was made of the raw cells, so one term spelt `8/24/2026` one night and `2026-08-24`
-- the next (or with other spaces in its name) became two. The transform now keys them on the
-- name as it stores it and the dates as ISO (RosterTransform's termKey): the same text the
-- stored name and dates give. Existing keys are brought to that form here, so the next sync
-- finds its terms instead of creating them again. Terms that become one are merged into the
-- oldest, their sections moved to it. (API terms keep their Clever id as key: no `|` in it.)
CREATE TEMP TABLE term_keys ON COMMIT DROP AS
SELECT id, key, min(id) OVER (PARTITION BY district_id, key) AS keep
FROM (SELECT id, district_id,
             coalesce(name, '') || '|' || coalesce(to_char(start_date, 'YYYY-MM-DD'), '') || '|'
                 || coalesce(to_char(end_date, 'YYYY-MM-DD'), '') AS key
      FROM roster.terms
      WHERE source = 'clever' AND sis_id LIKE '%|%|%') t;

UPDATE roster.sections s SET term_id = k.keep
FROM term_keys k
WHERE s.term_id = k.id AND k.id <> k.keep;

DELETE FROM roster.terms t
USING term_keys k
WHERE t.id = k.id AND k.id <> k.keep;

-- A key already in this form keeps its value, and each district's new keys are distinct once
-- merged: no row takes a key another row still holds.
UPDATE roster.terms t SET sis_id = k.key
FROM term_keys k
WHERE t.id = k.id AND t.sis_id IS DISTINCT FROM k.key;
