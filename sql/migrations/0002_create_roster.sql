-- The roster tables named in CONTRACT.md. `source` and `status` words are fixed by the contract.

CREATE TABLE roster.districts (
    id                      text PRIMARY KEY,
    name                    text NOT NULL DEFAULT '',
    launch_date             date,
    settings                jsonb NOT NULL DEFAULT '{}'::jsonb,
    enabled                 boolean NOT NULL DEFAULT true,
    last_successful_sync_at timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE roster.schools (
    id            bigserial PRIMARY KEY,
    district_id   text NOT NULL REFERENCES roster.districts(id),
    sis_id        text,
    clever_id     text,
    name          text NOT NULL,
    school_number text,
    state_id      text,
    low_grade     text,
    high_grade    text,
    source        text NOT NULL DEFAULT 'clever' CHECK (source IN ('clever', 'manual')),
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    status_reason text,
    archived_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX schools_clever_sis_id ON roster.schools (district_id, sis_id) WHERE source = 'clever';

CREATE TABLE roster.terms (
    id          bigserial PRIMARY KEY,
    district_id text NOT NULL REFERENCES roster.districts(id),
    sis_id      text,
    clever_id   text,
    name        text,
    start_date  date,
    end_date    date,
    source      text NOT NULL DEFAULT 'clever' CHECK (source IN ('clever', 'manual')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX terms_clever_sis_id ON roster.terms (district_id, sis_id) WHERE source = 'clever';

CREATE TABLE roster.teachers (
    id               bigserial PRIMARY KEY,
    district_id      text NOT NULL REFERENCES roster.districts(id),
    school_id        bigint REFERENCES roster.schools(id),
    other_school_ids bigint[] NOT NULL DEFAULT '{}',
    sis_id           text,
    clever_id        text,
    email            text,
    first_name       text,
    middle_name      text,
    last_name        text,
    title            text,
    teacher_number   text,
    state_id         text,
    source           text NOT NULL DEFAULT 'clever' CHECK (source IN ('clever', 'manual')),
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    suspended_by     text CHECK (suspended_by IN ('sync', 'admin')),
    status_reason    text,
    suspended_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'suspended') = (suspended_by IS NOT NULL))
);
CREATE UNIQUE INDEX teachers_clever_sis_id ON roster.teachers (district_id, sis_id) WHERE source = 'clever';
CREATE INDEX teachers_email ON roster.teachers (district_id, lower(email));

CREATE TABLE roster.students (
    id             bigserial PRIMARY KEY,
    district_id    text NOT NULL REFERENCES roster.districts(id),
    school_id      bigint REFERENCES roster.schools(id),
    sis_id         text,
    clever_id      text,
    email          text,
    first_name     text,
    middle_name    text,
    last_name      text,
    grade          text,
    grade_rank     integer,
    dob            date,
    student_number text,
    state_id       text,
    can_login      boolean NOT NULL DEFAULT false,
    source         text NOT NULL DEFAULT 'clever' CHECK (source IN ('clever', 'manual')),
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    status_reason  text,
    archived_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX students_clever_sis_id ON roster.students (district_id, sis_id) WHERE source = 'clever';
CREATE INDEX students_email ON roster.students (district_id, lower(email));

CREATE TABLE roster.admins (
    id          bigserial PRIMARY KEY,
    district_id text NOT NULL REFERENCES roster.districts(id),
    email       text NOT NULL,
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE roster.sections (
    id             bigserial PRIMARY KEY,
    district_id    text NOT NULL REFERENCES roster.districts(id),
    school_id      bigint REFERENCES roster.schools(id),
    term_id        bigint REFERENCES roster.terms(id),
    sis_id         text,
    clever_id      text,
    name           text,
    section_number text,
    grade          text,
    subject        text,
    course_name    text,
    course_number  text,
    period         text,
    source         text NOT NULL DEFAULT 'clever' CHECK (source IN ('clever', 'manual')),
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    status_reason  text,
    archived_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sections_clever_sis_id ON roster.sections (district_id, sis_id) WHERE source = 'clever';

CREATE TABLE roster.section_teachers (
    section_id bigint NOT NULL REFERENCES roster.sections(id) ON DELETE CASCADE,
    teacher_id bigint NOT NULL REFERENCES roster.teachers(id),
    district_id text NOT NULL REFERENCES roster.districts(id),
    is_primary boolean NOT NULL DEFAULT false,
    source     text NOT NULL DEFAULT 'clever' CHECK (source IN ('clever', 'manual')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (section_id, teacher_id)
);
CREATE INDEX section_teachers_teacher ON roster.section_teachers (teacher_id);

CREATE TABLE roster.enrollments (
    section_id  bigint NOT NULL REFERENCES roster.sections(id) ON DELETE CASCADE,
    student_id  bigint NOT NULL REFERENCES roster.students(id),
    district_id text NOT NULL REFERENCES roster.districts(id),
    source      text NOT NULL DEFAULT 'clever' CHECK (source IN ('clever', 'manual')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (section_id, student_id)
);
CREATE INDEX enrollments_student ON roster.enrollments (student_id);

CREATE TABLE roster.sis_id_changes (
    district_id text NOT NULL REFERENCES roster.districts(id),
    entity      text NOT NULL CHECK (entity IN ('school', 'teacher', 'student', 'section', 'term')),
    old_sis_id  text NOT NULL,
    new_sis_id  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_id, entity, old_sis_id)
);

CREATE TABLE roster.change_log (
    id          bigserial PRIMARY KEY,
    run_id      bigint NOT NULL,
    district_id text NOT NULL,
    entity      text NOT NULL,
    record_id   text NOT NULL,
    action      text NOT NULL CHECK (action IN ('create', 'update', 'suspend', 'reactivate', 'archive', 'restore', 'remove')),
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX change_log_run ON roster.change_log (run_id);
CREATE INDEX change_log_record ON roster.change_log (entity, record_id);
