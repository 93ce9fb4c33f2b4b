// JSON with snake_case keys, from Swift's camelCase property names.
//
// Configuration, trainer state and events are written with these coders, so that a setting's
// name is written once (the Swift property) and its file key follows from it: `nLayer` is
// `n_layer` in a config file, a checkpoint, config.json and an event stream.
import Foundation

public enum SnakeCaseJSON {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted] : [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    /// "nLayer" → "n_layer" (what `convertToSnakeCase` does to a property name).
    public static func snakeCase(_ name: String) -> String {
        var out = ""
        for (i, ch) in name.enumerated() {
            if ch.isUppercase {
                if i > 0 { out += "_" }
                out += ch.lowercased()
            } else {
                out.append(ch)
            }
        }
        return out
    }

    /// "n_layer" → "nLayer"; a name without underscores is returned as it is.
    public static func camelCase(_ key: String) -> String {
        let parts = key.split(separator: "_", omittingEmptySubsequences: true)
        guard parts.count > 1 else { return key }
        return String(parts[0]) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// A message naming the key and the problem, instead of a raw `DecodingError`.
    public static func describe(_ error: Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ c: DecodingError.Context) -> String {
            c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? snakeCase($0.stringValue) }.joined(separator: ".")
        }
        switch e {
        case .typeMismatch(let type, let c): return "'\(path(c))' must be \(typeName(type))"
        case .valueNotFound(let type, let c): return "'\(path(c))' must be \(typeName(type)), not null"
        case .keyNotFound(let key, _): return "'\(snakeCase(key.stringValue))' is missing"
        case .dataCorrupted(let c):
            let where_ = path(c)
            return where_.isEmpty ? c.debugDescription : "'\(where_)': \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    /// What a value of `type` looks like in JSON ("an integer", "a number", …); an optional
    /// reads as the type it wraps.
    public static func typeName(_ type: Any.Type) -> String {
        var name = "\(type)"
        while name.hasPrefix("Optional<"), name.hasSuffix(">") { name = String(name.dropFirst("Optional<".count).dropLast()) }
        switch name {
        case "Int", "Int32", "UInt64": return "an integer"
        case "Double", "Float": return "a number"
        case "Bool": return "true or false"
        case "String": return "a string"
        default: return name
        }
    }
}
