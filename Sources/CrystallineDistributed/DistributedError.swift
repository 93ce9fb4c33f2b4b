// The errors of a distributed run, each saying what to do about it.
import Foundation

public struct DistributedError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
