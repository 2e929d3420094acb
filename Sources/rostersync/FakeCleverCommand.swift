import ArgumentParser
import FakeClever
import Foundation

/// `rostersync fake-clever ...`: a local stand-in for Clever's API, for tests, the demo and benchmarks.
struct FakeCleverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-clever",
        abstract: "Serve or generate a fake Clever district on this machine (tests, demo, benchmarks).",
        subcommands: [Generate.self, Serve.self])
}

extension FakeCleverCommand {
    /// Options that pick a synthetic district and, optionally, its "next night".
    struct DistrictOptions: ParsableArguments {
        @Option(help: "Students in the district (about N/20 teachers, N/5 sections, max(3, N/500) schools).")
        var students: Int = 300

        @Option(help: "Seed: the same seed gives the same district, byte for byte.")
        var seed: UInt64 = 1

        @Option(help: ArgumentHelp("Next night: share of students and teachers whose name or email changed (e.g. 0.01).", valueName: "fraction"))
        var changed: Double = 0

        @Option(help: ArgumentHelp("Next night: share of students who left (e.g. 0.005).", valueName: "fraction"))
        var removed: Double = 0

        @Option(help: ArgumentHelp("Next night: share of new students (e.g. 0.005).", valueName: "fraction"))
        var added: Double = 0

        func validate() throws {
            guard students > 0 else { throw ValidationError("--students must be at least 1") }
            for (name, value) in [("--changed", changed), ("--removed", removed), ("--added", added)]
            where !(0...1).contains(value) {
                throw ValidationError("\(name) must be between 0 and 1")
            }
        }

        var district: SyntheticDistrict {
            SyntheticDistrict(
                students: students, seed: seed,
                nextNight: .init(changedFraction: changed, removedFraction: removed, addedFraction: added))
        }
    }

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a synthetic district as Clever SFTP CSV files (schools, teachers, students, sections, enrollments).",
            discussion: """
                Deterministic from --students and --seed; --changed, --removed and --added write the same district \
                one night later, for incremental-sync benchmarks. Memory stays flat for any size.
                Example: rostersync fake-clever generate --students 300 --seed 1 --out demo/district
                """)

        @OptionGroup var district: DistrictOptions

        @Option(help: ArgumentHelp("The folder to write the CSV files into (created if needed).", valueName: "dir"))
        var out: String

        func run() async throws {
            let district = district.district
            let folder = URL(fileURLWithPath: out)
            let started = ContinuousClock.now
            try CleverCSVWriter(district: district).write(to: folder)
            print(
                "wrote \(district.districtName): \(district.schoolCount) schools, \(district.teacherCount) teachers, "
                    + "\(district.studentSlots) student slots, \(district.sectionCount) sections to \(folder.path) "
                    + "in \(ContinuousClock.now - started)")
        }
    }
}

extension FakeCleverCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve a district over Clever's Data API v3.0 on loopback.")

        func run() async throws {
            throw ValidationError("fake-clever serve: not built yet")
        }
    }
}
