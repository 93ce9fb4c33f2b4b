// Text helpers for HTML: character references and whitespace.

public enum HTMLText {
    /// The named references pages actually use (the full HTML5 table has 2,231; these cover the
    /// punctuation, spacing and Latin-1 letters that appear in prose).
    static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}", "copy": "©", "reg": "®", "trade": "™",
        "mdash": "—", "ndash": "–", "hellip": "…", "lsquo": "‘", "rsquo": "’", "ldquo": "“", "rdquo": "”", "laquo": "«",
        "raquo": "»", "middot": "·", "bull": "•", "deg": "°", "para": "¶", "sect": "§", "times": "×", "divide": "÷",
        "euro": "€", "pound": "£", "yen": "¥", "cent": "¢", "shy": "\u{AD}", "thinsp": "\u{2009}", "ensp": "\u{2002}",
        "emsp": "\u{2003}", "zwj": "\u{200D}", "zwnj": "\u{200C}", "iexcl": "¡", "iquest": "¿", "frac12": "½", "frac14": "¼",
        "aacute": "á", "eacute": "é", "iacute": "í", "oacute": "ó", "uacute": "ú", "agrave": "à", "egrave": "è", "ograve": "ò",
        "auml": "ä", "euml": "ë", "iuml": "ï", "ouml": "ö", "uuml": "ü", "Auml": "Ä", "Ouml": "Ö", "Uuml": "Ü", "szlig": "ß",
        "ccedil": "ç", "ntilde": "ñ", "acirc": "â", "ecirc": "ê", "icirc": "î", "ocirc": "ô", "ucirc": "û", "aring": "å",
        "aelig": "æ", "oslash": "ø", "Eacute": "É", "hyphen": "‐", "minus": "−", "larr": "←", "rarr": "→", "uarr": "↑", "darr": "↓",
    ]

    /// Replaces `&name;`, `&#NNN;` and `&#xHH;` with their characters; unknown or malformed
    /// references stay as written (as browsers do).
    public static func decodeEntities(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count)
        var rest = Substring(s)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            let after = rest[rest.index(after: amp)...]
            guard let semi = after.prefix(32).firstIndex(of: ";") else { out += "&"; rest = after; continue }
            let body = after[..<semi]
            var replacement: String?
            if body.hasPrefix("#x") || body.hasPrefix("#X") {
                replacement = UInt32(body.dropFirst(2), radix: 16).flatMap(scalar)
            } else if body.hasPrefix("#") {
                replacement = UInt32(body.dropFirst(), radix: 10).flatMap(scalar)
            } else {
                replacement = named[String(body)]
            }
            if let r = replacement { out += r; rest = after[after.index(after: semi)...] } else { out += "&"; rest = after }
        }
        out += rest
        return out
    }

    private static func scalar(_ v: UInt32) -> String? {
        guard v != 0, let u = Unicode.Scalar(v) else { return "\u{FFFD}" }
        return String(Character(u))
    }

    /// Runs of whitespace (including no-break spaces) become one space; ends trimmed.
    public static func collapseWhitespace(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        var pendingSpace = false
        for ch in s.unicodeScalars {
            if ch.properties.isWhitespace || ch == "\u{A0}" {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.unicodeScalars.append(" "); pendingSpace = false }
                out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}
