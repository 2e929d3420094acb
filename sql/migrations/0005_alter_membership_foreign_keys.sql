-- Memberships (enrollments, section teachers) checked one foreign key per member instead of
-- three. PostgreSQL checks each foreign key with a query per inserted row: a first sync of a
-- million-student district inserts five million enrollments, and the separate check of
-- district_id against roster.districts was a third of that insert's time.
--
-- The composite keys are also stricter: a member now has to be in the same district as the
-- record it points at, which the single-column keys did not say.

ALTER TABLE roster.sections ADD CONSTRAINT sections_id_district UNIQUE (id, district_id);
ALTER TABLE roster.students ADD CONSTRAINT students_id_district UNIQUE (id, district_id);
ALTER TABLE roster.teachers ADD CONSTRAINT teachers_id_district UNIQUE (id, district_id);

ALTER TABLE roster.enrollments
    DROP CONSTRAINT enrollments_section_id_fkey,
    DROP CONSTRAINT enrollments_student_id_fkey,
    DROP CONSTRAINT enrollments_district_id_fkey,
    ADD CONSTRAINT enrollments_section_fkey FOREIGN KEY (section_id, district_id)
        REFERENCES roster.sections (id, district_id) ON DELETE CASCADE,
    ADD CONSTRAINT enrollments_student_fkey FOREIGN KEY (student_id, district_id)
        REFERENCES roster.students (id, district_id);

ALTER TABLE roster.section_teachers
    DROP CONSTRAINT section_teachers_section_id_fkey,
    DROP CONSTRAINT section_teachers_teacher_id_fkey,
    DROP CONSTRAINT section_teachers_district_id_fkey,
    ADD CONSTRAINT section_teachers_section_fkey FOREIGN KEY (section_id, district_id)
        REFERENCES roster.sections (id, district_id) ON DELETE CASCADE,
    ADD CONSTRAINT section_teachers_teacher_fkey FOREIGN KEY (teacher_id, district_id)
        REFERENCES roster.teachers (id, district_id);
