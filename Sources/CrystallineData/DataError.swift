// Errors of the data module: a corpus or shard that cannot be used, said plainly.

/// A corpus, shard or data source that cannot be used, with the reason (shown as it is).
public struct DataError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
