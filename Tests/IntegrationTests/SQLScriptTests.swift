import Foundation
@testable import PostgresLoad
import Testing

/// The `.sql` splitter: statements end at a `;` that is code, not at one inside a string, a
/// quoted name, a dollar-quoted body or a comment, wherever on the line it falls.
@Suite("SQL files split into statements")
struct SQLScriptTests {
    @Test(
        "A ';' inside a string, quoted name, body or comment does not end the statement",
        arguments: [
            ("SELECT 1 -- the first;\n     , 2;\nSELECT 3;", ["SELECT 1 -- the first;\n     , 2;", "SELECT 3;"]),
            ("INSERT INTO t VALUES ('a;\nb');\nSELECT 2;", ["INSERT INTO t VALUES ('a;\nb');", "SELECT 2;"]),
            ("SELECT 'it''s; fine';", ["SELECT 'it''s; fine';"]),
            ("SELECT E'it\\'s; fine', 'x\\';\nSELECT 2;", ["SELECT E'it\\'s; fine', 'x\\';", "SELECT 2;"]),
            ("SELECT 1 AS \"a;\"\"b\";", ["SELECT 1 AS \"a;\"\"b\";"]),
            ("DO $fn$ BEGIN PERFORM 1; PERFORM '$$;'; END $fn$;\nSELECT 2;", ["DO $fn$ BEGIN PERFORM 1; PERFORM '$$;'; END $fn$;", "SELECT 2;"]),
            ("-- a $$ in a comment\nSELECT 1;\nSELECT 2;", ["SELECT 1;", "SELECT 2;"]),
            ("/* outer /* inner; */ still; */ SELECT 1;", ["SELECT 1;"]),
            ("SELECT 1; SELECT $1;", ["SELECT 1;", "SELECT $1;"]),
            ("SELECT a$b FROM t; SELECT 2", ["SELECT a$b FROM t;", "SELECT 2"]),
            ("SELECT a$$b$ ; SELECT $x$;$x$;", ["SELECT a$$b$ ;", "SELECT $x$;$x$;"]),
            ("SELECT x$e'\\'; SELECT 2;", ["SELECT x$e'\\';", "SELECT 2;"]),
            ("SELECT 1;\u{0C}\r\n", ["SELECT 1;"]),
            ("-- only a comment;\n\n/* and another */\n", []),
        ])
    func splits(text: String, expected: [String]) {
        #expect(SQLScript(name: "test.sql", text: text).statements == expected)
    }

    @Test("Every file in sql/ splits into statements that each hold code")
    func projectFiles() throws {
        let root = TestDatabase.packageRoot.appendingPathComponent("sql")
        var count = 0
        for folder in ["migrations", "merge"] {
            let directory = root.appendingPathComponent(folder)
            for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".sql") {
                let script = try SQLScript(contentsOf: directory.appendingPathComponent(name))
                #expect(!script.statements.isEmpty, "\(name)")
                for statement in script.statements {
                    #expect(!statement.hasPrefix("--") && !statement.isEmpty, "\(name): \(statement.prefix(80))")
                    count += 1
                }
            }
        }
        #expect(count > 100)
    }

    @Test("What the splitter hands PostgreSQL runs there as written")
    func runsOnServer() async throws {
        try await TestDatabase.withFresh(migrate: false) { database in
            try await database.execute(
                """
                CREATE TABLE notes (body text); -- the table;
                INSERT INTO notes VALUES ('one;
                two'), (E'three\\'s;'); /* a comment; */ INSERT INTO notes VALUES ($$four;$$);
                CREATE FUNCTION note_count() RETURNS bigint LANGUAGE plpgsql AS $body$
                BEGIN
                    RETURN (SELECT count(*) FROM notes); -- counted;
                END $body$;
                """)
            #expect(try await database.strings("SELECT body FROM notes ORDER BY body") == ["four;", "one;\ntwo", "three's;"])
            #expect(try await database.int("SELECT note_count()") == 3)
        }
    }
}
