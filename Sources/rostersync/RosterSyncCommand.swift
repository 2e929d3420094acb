import ArgumentParser

@main
struct RosterSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rostersync",
        abstract: "Keep a platform roster in sync with Clever.",
        subcommands: [FakeCleverCommand.self]
    )
}
