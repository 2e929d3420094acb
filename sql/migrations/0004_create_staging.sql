-- Staging: every row of a run as extracted and transformed, tagged with its run id and its
-- source (file:line or API object id). `seq` keeps feed order. `excluded` says why the merge
-- leaves a row out (a rejection or a district filter); NULL means the row is loaded.
-- Rows are kept for the last N runs of each district (see `rostersync prune`).

CREATE TABLE staging.schools (
    run_id        bigint NOT NULL,
    seq           bigint NOT NULL,
    source_ref    text,
    sis_id        text,
    clever_id     text,
    name          text,
    school_number text,
    state_id      text,
    low_grade     text,
    high_grade    text,
    excluded      text
);
CREATE INDEX staging_schools_run ON staging.schools (run_id, sis_id);

CREATE TABLE staging.terms (
    run_id     bigint NOT NULL,
    seq        bigint NOT NULL,
    source_ref text,
    sis_id     text,
    clever_id  text,
    name       text,
    start_date date,
    end_date   date,
    excluded   text
);
CREATE INDEX staging_terms_run ON staging.terms (run_id, sis_id);

CREATE TABLE staging.teachers (
    run_id           bigint NOT NULL,
    seq              bigint NOT NULL,
    source_ref       text,
    sis_id           text,
    clever_id        text,
    school_sis_id    text,
    school_clever_id text,
    email            text,
    first_name       text,
    middle_name      text,
    last_name        text,
    title            text,
    teacher_number   text,
    state_id         text,
    excluded         text
);
CREATE INDEX staging_teachers_run ON staging.teachers (run_id, sis_id);

CREATE TABLE staging.students (
    run_id           bigint NOT NULL,
    seq              bigint NOT NULL,
    source_ref       text,
    sis_id           text,
    clever_id        text,
    school_sis_id    text,
    school_clever_id text,
    email            text,
    first_name       text,
    middle_name      text,
    last_name        text,
    grade            text,
    grade_rank       integer,
    dob              date,
    student_number   text,
    state_id         text,
    can_login        boolean,
    excluded         text
);
CREATE INDEX staging_students_run ON staging.students (run_id, sis_id);

CREATE TABLE staging.sections (
    run_id           bigint NOT NULL,
    seq              bigint NOT NULL,
    source_ref       text,
    sis_id           text,
    clever_id        text,
    school_sis_id    text,
    school_clever_id text,
    term_sis_id      text,
    term_clever_id   text,
    name             text,
    section_number   text,
    grade            text,
    subject          text,
    course_name      text,
    course_number    text,
    period           text,
    -- primary teacher first, then co-teachers; 00_prepare.sql expands them into staging.section_teachers
    teacher_sis_ids    text[],
    teacher_clever_ids text[],
    excluded         text
);
CREATE INDEX staging_sections_run ON staging.sections (run_id, sis_id);

CREATE TABLE staging.section_teachers (
    run_id            bigint NOT NULL,
    seq               bigint NOT NULL,
    source_ref        text,
    section_sis_id    text,
    section_clever_id text,
    teacher_sis_id    text,
    teacher_clever_id text,
    position          integer NOT NULL,
    excluded          text
);
CREATE INDEX staging_section_teachers_run ON staging.section_teachers (run_id, section_sis_id);

CREATE TABLE staging.enrollments (
    run_id            bigint NOT NULL,
    seq               bigint NOT NULL,
    source_ref        text,
    section_sis_id    text,
    section_clever_id text,
    student_sis_id    text,
    student_clever_id text,
    excluded          text
);
CREATE INDEX staging_enrollments_run ON staging.enrollments (run_id, section_sis_id, student_sis_id);

-- Every quarantined row and every warning, with its reason code (README: "Reason codes").
CREATE TABLE staging.rejects (
    run_id     bigint NOT NULL,
    entity     text NOT NULL,
    source_ref text,
    record_key text,
    reason     text NOT NULL,
    severity   text NOT NULL CHECK (severity IN ('rejected', 'warning')),
    detail     text,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staging_rejects_run ON staging.rejects (run_id, entity);

-- The changes a run computed but did not apply (a preview, or a run stopped at the safety
-- threshold), in the shape of roster.change_log, for review before `rostersync approve`.
CREATE TABLE staging.changes (
    run_id    bigint NOT NULL,
    entity    text NOT NULL,
    record_id text NOT NULL,
    action    text NOT NULL,
    details   jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX staging_changes_run ON staging.changes (run_id, entity, action);
