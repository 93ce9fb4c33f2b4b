// A tolerant HTML parser: enough of the HTML5 tokenizer and tree rules to read real pages
// (unclosed paragraphs and list items, unquoted attributes, raw-text script and style, comments,
// character references) into a small element tree. It never fails: whatever the bytes, it
// returns a tree, as browsers do. Not a conforming HTML5 parser (no foster parenting, no
// adoption agency); main-text extraction does not need one.

/// A node of the parsed tree: an element with children, or a run of text.
public final class HTMLNode {
    public enum Kind { case element, text }
    public let kind: Kind
    /// Lower-case tag name (elements) or the decoded text (text nodes).
    public let name: String
    public private(set) var attributes: [String: String]
    public private(set) var children: [HTMLNode] = []
    public private(set) weak var parent: HTMLNode?

    init(element name: String, attributes: [String: String]) { kind = .element; self.name = name; self.attributes = attributes }
    init(text: String) { kind = .text; name = text; attributes = [:] }

    func append(_ child: HTMLNode) { child.parent = self; children.append(child) }
    func removeChild(_ child: HTMLNode) { children.removeAll { $0 === child } }

    public subscript(attribute: String) -> String? { attributes[attribute] }

    /// Every element below this one, depth first, in document order.
    public func descendants(named tag: String? = nil) -> [HTMLNode] {
        var out: [HTMLNode] = []
        func walk(_ n: HTMLNode) {
            for c in n.children where c.kind == .element {
                if tag == nil || c.name == tag { out.append(c) }
                walk(c)
            }
        }
        walk(self)
        return out
    }

    /// The concatenated text below this node, whitespace collapsed.
    public var textContent: String {
        var parts: [String] = []
        func walk(_ n: HTMLNode) {
            if n.kind == .text { parts.append(n.name) } else { n.children.forEach(walk) }
        }
        walk(self)
        return HTMLText.collapseWhitespace(parts.joined(separator: " "))
    }
}

public enum HTMLParser {
    /// The deepest an element may nest.
    public static let maxDepth = 512
    static let voidElements: Set<String> = ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr", "param"]
    static let rawTextElements: Set<String> = ["script", "style", "textarea", "title", "noscript", "xmp", "iframe", "noembed", "noframes"]
    /// Elements whose start closes an open `<p>` (HTML5 §13.2.6.4.7, abridged).
    static let closesParagraph: Set<String> = ["address", "article", "aside", "blockquote", "div", "dl", "fieldset", "footer", "form",
                                               "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main", "nav", "ol", "p", "pre",
                                               "section", "table", "ul", "figure", "details", "menu"]

    /// Parses `bytes` (UTF-8; invalid sequences become U+FFFD) into a tree under a root node.
    public static func parse(_ bytes: [UInt8]) -> HTMLNode {
        parse(String(decoding: bytes, as: UTF8.self))
    }

    public static func parse(_ html: String) -> HTMLNode {
        let root = HTMLNode(element: "#document", attributes: [:])
        var stack: [HTMLNode] = [root]
        let s = Array(html.unicodeScalars)
        var i = 0
        var text = String.UnicodeScalarView()

        func flushText() {
            guard !text.isEmpty else { return }
            stack.last!.append(HTMLNode(text: HTMLText.decodeEntities(String(text))))
            text.removeAll()
        }
        // How many elements of each name are open: most implied-end checks stop here instead of
        // walking a deep stack.
        var openCount: [String: Int] = [:]
        func push(_ element: HTMLNode) { stack.append(element); openCount[element.name, default: 0] += 1 }
        func close(_ name: String) {
            guard openCount[name, default: 0] > 0, let at = stack.lastIndex(where: { $0.name == name }), at > 0 else { return }
            for n in stack[at...] { openCount[n.name]! -= 1 }
            stack.removeSubrange(at...)
        }
        func isOpen(_ name: String, within scope: Set<String> = ["table", "html", "#document"]) -> Bool {
            guard openCount[name, default: 0] > 0 else { return false }
            for n in stack.reversed() { if n.name == name { return true }; if scope.contains(n.name) { return false } }
            return false
        }

        while i < s.count {
            let c = s[i]
            guard c == "<", i + 1 < s.count else { text.append(c); i += 1; continue }
            let next = s[i + 1]
            if next == "!" {
                flushText()
                if starts(s, i, "<!--") {
                    i = find(s, from: i + 4, "-->").map { $0 + 3 } ?? s.count
                } else {
                    i = find(s, from: i, ">").map { $0 + 1 } ?? s.count  // doctype, CDATA and the like
                }
                continue
            }
            if next == "?" { flushText(); i = find(s, from: i, ">").map { $0 + 1 } ?? s.count; continue }
            let isEnd = next == "/"
            let nameStart = isEnd ? i + 2 : i + 1
            guard nameStart < s.count, s[nameStart].properties.isAlphabetic else { text.append(c); i += 1; continue }
            flushText()
            var j = nameStart
            while j < s.count, !isSpace(s[j]), s[j] != ">", s[j] != "/" { j += 1 }
            let name = String(String.UnicodeScalarView(s[nameStart..<j])).lowercased()
            // Attributes, up to the closing '>' (quotes may hold '>').
            var attributes: [String: String] = [:]
            var selfClosing = false
            while j < s.count, s[j] != ">" {
                if isSpace(s[j]) { j += 1; continue }
                if s[j] == "/" { selfClosing = true; j += 1; continue }
                selfClosing = false
                let a0 = j
                while j < s.count, !isSpace(s[j]), s[j] != ">", s[j] != "=", !(s[j] == "/" && j + 1 < s.count && s[j + 1] == ">") { j += 1 }
                let attr = String(String.UnicodeScalarView(s[a0..<max(a0, j)])).lowercased()
                var value = ""
                var k = j
                while k < s.count, isSpace(s[k]) { k += 1 }
                if k < s.count, s[k] == "=" {
                    k += 1
                    while k < s.count, isSpace(s[k]) { k += 1 }
                    if k < s.count, s[k] == "\"" || s[k] == "'" {
                        let quote = s[k]
                        let v0 = k + 1
                        k = v0
                        while k < s.count, s[k] != quote { k += 1 }
                        value = String(String.UnicodeScalarView(s[v0..<min(k, s.count)]))
                        k = min(k + 1, s.count)
                    } else {
                        let v0 = k
                        while k < s.count, !isSpace(s[k]), s[k] != ">" { k += 1 }
                        value = String(String.UnicodeScalarView(s[v0..<k]))
                    }
                    j = k
                }
                if j == a0 { j += 1; continue }  // a stray '=' or quote: skip it
                if !attr.isEmpty, attributes[attr] == nil { attributes[attr] = HTMLText.decodeEntities(value) }
            }
            i = min(j + 1, s.count)
            if isEnd {
                if name == "p", !isOpen("p") { stack.last!.append(HTMLNode(element: "p", attributes: [:])) }  // </p> alone is <p></p>
                close(name)
                continue
            }
            // Implied end tags.
            if closesParagraph.contains(name), isOpen("p") { close("p") }
            if name == "li", isOpen("li", within: ["ul", "ol", "table", "#document"]) { close("li") }
            if name == "dt" || name == "dd" {
                if isOpen("dd", within: ["dl", "#document"]) { close("dd") }
                if isOpen("dt", within: ["dl", "#document"]) { close("dt") }
            }
            if name == "option", stack.last?.name == "option" { close("option") }
            if name == "tr" { if isOpen("td") { close("td") }; if isOpen("th") { close("th") }; if isOpen("tr") { close("tr") } }
            if name == "td" || name == "th" { if isOpen("td") { close("td") }; if isOpen("th") { close("th") } }
            let element = HTMLNode(element: name, attributes: attributes)
            stack.last!.append(element)
            if voidElements.contains(name) || selfClosing && !rawTextElements.contains(name) { continue }
            if rawTextElements.contains(name) {
                // Everything up to the matching end tag is text (script and style bodies are never markup).
                let end = findEndTag(s, from: i, name) ?? s.count
                let raw = String(String.UnicodeScalarView(s[i..<end]))
                if !raw.isEmpty { element.append(HTMLNode(text: name == "title" || name == "textarea" ? HTMLText.decodeEntities(raw) : raw)) }
                i = find(s, from: end, ">").map { $0 + 1 } ?? s.count
                continue
            }
            // Past the depth limit elements stay empty siblings, as in browsers (Blink caps the
            // tree at 512): the tree walks are recursive, and a hostile page must not overflow them.
            if stack.count < maxDepth { push(element) }
        }
        flushText()
        return root
    }

    static func isSpace(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\n" || c == "\t" || c == "\r" || c == "\u{0C}" }

    static func starts(_ s: [Unicode.Scalar], _ i: Int, _ prefix: String) -> Bool {
        var k = i
        for p in prefix.unicodeScalars { guard k < s.count, s[k] == p else { return false }; k += 1 }
        return true
    }

    static func find(_ s: [Unicode.Scalar], from: Int, _ needle: String) -> Int? {
        let n = Array(needle.unicodeScalars)
        guard !n.isEmpty, from < s.count else { return nil }
        var i = from
        while i + n.count <= s.count {
            if s[i] == n[0], starts(s, i, needle) { return i }
            i += 1
        }
        return nil
    }

    /// The index of `</name` (case-insensitive) at or after `from`.
    static func findEndTag(_ s: [Unicode.Scalar], from: Int, _ name: String) -> Int? {
        var i = from
        let n = Array(name.unicodeScalars)
        while i + 2 + n.count <= s.count {
            if s[i] == "<", s[i + 1] == "/" {
                var match = true
                for (k, ch) in n.enumerated() where String(s[i + 2 + k]).lowercased() != String(ch) { match = false; break }
                if match { return i }
            }
            i += 1
        }
        return nil
    }
}
