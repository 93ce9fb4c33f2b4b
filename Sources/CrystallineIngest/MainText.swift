// Main-text extraction: the article of a web page without its navigation, footer, sidebars,
// scripts and share buttons, as plain text (headings, paragraphs and list items, a blank line
// between blocks). A Readability-style scorer chooses the main block: every paragraph scores
// its parent and grandparent by its length and commas; class and id names that mean "content"
// or "sidebar" shift the score; links discount it. docs/CORPUS.md reports the token F1 on
// fixture pages with known main text.

/// What a page yields: its main text, its title, its outgoing links and its robots meta tags.
public struct ExtractedPage: Sendable {
    public var title: String
    public var text: String
    /// `href`s of `<a>` elements (unresolved), excluding `rel="nofollow"`, in page order.
    public var links: [String]
    /// `<base href>`, against which the links resolve.
    public var base: String?
    /// `<meta name="robots" content="noindex">`: the page asks not to be stored.
    public var noindex: Bool
    /// `<meta name="robots" content="nofollow">`: the page asks that its links not be followed.
    public var nofollow: Bool
}

public enum MainText {
    static let removed: Set<String> = ["script", "style", "noscript", "template", "svg", "iframe", "form", "button", "select", "input",
                                       "nav", "footer", "aside", "object", "embed", "canvas", "head", "menu", "dialog", "label", "textarea"]
    static let blocks: Set<String> = ["p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol",
                                      "pre", "blockquote", "table", "tr", "dl", "dt", "dd", "figure", "figcaption", "header", "br", "hr",
                                      "address", "details", "summary", "body", "td", "th", "caption"]
    static let positive = ["article", "body", "content", "entry", "hentry", "main", "page", "post", "text", "blog", "story", "prose"]
    static let negative = ["comment", "contact", "foot", "masthead", "media", "meta", "promo", "related", "scroll", "share", "social",
                           "sidebar", "sponsor", "shopping", "tags", "tool", "widget", "nav", "menu", "breadcrumb", "cookie", "banner",
                           "advert", "popup", "newsletter", "subscribe", "signup", "byline-tools", "pagination", "skip"]

    public static func extract(_ html: [UInt8]) -> ExtractedPage { extract(HTMLParser.parse(html)) }
    public static func extract(_ html: String) -> ExtractedPage { extract(HTMLParser.parse(html)) }

    public static func extract(_ root: HTMLNode) -> ExtractedPage {
        let title = root.descendants(named: "title").first?.textContent ?? ""
        var noindex = false, nofollow = false
        for meta in root.descendants(named: "meta") where (meta["name"] ?? "").lowercased() == "robots" {
            let content = (meta["content"] ?? "").lowercased()
            if content.contains("noindex") || content.contains("none") { noindex = true }
            if content.contains("nofollow") || content.contains("none") { nofollow = true }
        }
        let base = root.descendants(named: "base").first?["href"]
        let links = root.descendants(named: "a").compactMap { a -> String? in
            guard let href = a["href"], !href.isEmpty else { return nil }
            if (a["rel"] ?? "").lowercased().split(separator: " ").contains("nofollow") { return nil }
            return href
        }
        prune(root)
        let body = root.descendants(named: "body").first ?? root
        let measures = Measures(body)
        let chosen = mainBlocks(body, measures)
        var lines: [String] = []
        for node in chosen { render(node, measures, into: &lines) }
        let text = lines.joined(separator: "\n\n")
        return ExtractedPage(title: title, text: text, links: links, base: base, noindex: noindex, nofollow: nofollow)
    }

    // MARK: Pruning

    static func classWeight(_ n: HTMLNode) -> Int {
        let names = ((n["class"] ?? "") + " " + (n["id"] ?? "")).lowercased()
        guard names.count > 1 else { return 0 }
        var w = 0
        if negative.contains(where: { names.contains($0) }) { w -= 25 }
        if positive.contains(where: { names.contains($0) }) { w += 25 }
        return w
    }

    /// Removes what is never main text: scripts and forms, navigation and footers, hidden
    /// elements, page banners, and boxes whose class or id says sidebar, share, comments…
    static func prune(_ node: HTMLNode) {
        for child in node.children where child.kind == .element {
            let role = (child["role"] ?? "").lowercased()
            let hidden = child["hidden"] != nil || (child["aria-hidden"] ?? "") == "true"
                || (child["style"] ?? "").replacingOccurrences(of: " ", with: "").contains("display:none")
            let pageHeader = child.name == "header" && !hasAncestor(child, in: ["article", "main"])
            let unlikely = classWeight(child) < 0 && !["body", "html", "article", "main", "#document"].contains(child.name)
            if removed.contains(child.name) || hidden || pageHeader || unlikely
                || ["navigation", "banner", "contentinfo", "complementary", "search", "menu", "dialog"].contains(role) {
                node.removeChild(child)
            } else {
                prune(child)
            }
        }
    }

    static func hasAncestor(_ n: HTMLNode, in names: Set<String>) -> Bool {
        var p = n.parent
        while let q = p { if names.contains(q.name) { return true }; p = q.parent }
        return false
    }

    // MARK: Scoring

    /// Characters of text, and of link text, below every element: measured once, bottom-up, so
    /// that scoring and rendering stay linear in the page however deep it nests.
    final class Measures {
        private var values: [ObjectIdentifier: (text: Int, link: Int)] = [:]
        init(_ root: HTMLNode) { _ = measure(root, inLink: false) }

        private func measure(_ n: HTMLNode, inLink: Bool) -> (Int, Int) {
            if n.kind == .text {
                let c = HTMLText.collapseWhitespace(n.name).count
                return (c, inLink ? c : 0)
            }
            var total = (0, 0)
            for child in n.children {
                let m = measure(child, inLink: inLink || n.name == "a")
                total.0 += m.0; total.1 += m.1
            }
            values[ObjectIdentifier(n)] = total
            return total
        }

        func textLength(_ n: HTMLNode) -> Int { values[ObjectIdentifier(n)]?.text ?? 0 }

        func linkDensity(_ n: HTMLNode) -> Double {
            guard let v = values[ObjectIdentifier(n)], v.text > 0 else { return 0 }
            return Double(v.link) / Double(v.text)
        }
    }

    static func baseScore(_ n: HTMLNode) -> Double {
        var s: Double
        switch n.name {
        case "article", "main": s = 10
        case "div", "section": s = 5
        case "pre", "td", "blockquote": s = 3
        case "ol", "ul", "dl", "dd", "dt", "li", "address": s = -3
        case "h1", "h2", "h3", "h4", "h5", "h6", "th": s = -5
        default: s = 0
        }
        return s + Double(classWeight(n))
    }

    /// The nodes holding the main text, in document order.
    static func mainBlocks(_ body: HTMLNode, _ measures: Measures) -> [HTMLNode] {
        var scores: [ObjectIdentifier: Double] = [:]
        var nodes: [ObjectIdentifier: HTMLNode] = [:]
        let paragraphs = body.descendants().filter { n in
            switch n.name {
            case "p", "pre", "td", "blockquote": return true
            case "div", "section", "li": return !n.children.contains { $0.kind == .element && blocks.contains($0.name) && $0.name != "br" }
            default: return false
            }
        }
        for p in paragraphs {
            let text = p.textContent
            guard text.count >= 25 else { continue }
            let score = 1 + Double(text.filter { $0 == "," || $0 == "，" }.count) + min(3, Double(text.count / 100))
            var ancestor = p.parent
            for level in 0..<3 {
                guard let a = ancestor, a.kind == .element else { break }
                let id = ObjectIdentifier(a)
                if nodes[id] == nil { nodes[id] = a; scores[id] = baseScore(a) }
                scores[id]! += score / Double(level == 0 ? 1 : level * 2)
                ancestor = a.parent
            }
        }
        var best: (node: HTMLNode, score: Double)?
        for (id, node) in nodes {
            let s = scores[id]! * (1 - measures.linkDensity(node))
            scores[id] = s
            if best == nil || s > best!.score { best = (node, s) }
        }
        guard let top = best else { return [body] }
        // Siblings that belong with the top block: well-scored ones, and plain paragraphs.
        guard let parent = top.node.parent else { return [top.node] }
        let threshold = max(10, top.score * 0.2)
        return parent.children.filter { sibling in
            if sibling === top.node { return true }
            guard sibling.kind == .element else { return false }
            if let s = scores[ObjectIdentifier(sibling)], s >= threshold { return true }
            if sibling.name == "p" || sibling.name.hasPrefix("h") && sibling.name.count == 2 {
                let text = sibling.textContent, density = measures.linkDensity(sibling)
                return (text.count > 80 && density < 0.25) || (text.count > 0 && density == 0 && text.hasSuffix("."))
            }
            return false
        }
    }

    // MARK: Rendering

    /// Appends the blocks of `node` as lines: one per paragraph, heading or list item. Link
    /// lists and other boxes that are mostly links are dropped.
    static func render(_ node: HTMLNode, _ measures: Measures, into lines: inout [String]) {
        var current = ""
        func flush() {
            let line = HTMLText.collapseWhitespace(current)
            if !line.isEmpty { lines.append(line) }
            current = ""
        }
        func walk(_ n: HTMLNode) {
            if n.kind == .text { current += n.name; return }
            if ["ul", "ol", "div", "table", "section", "dl"].contains(n.name) {
                if measures.textLength(n) < 200, measures.linkDensity(n) > 0.5 { return }
            }
            if n.name == "pre" {
                flush()
                let raw = n.textContentPreservingSpace.trimmingNewlines()
                if !raw.isEmpty { lines.append(raw) }
                return
            }
            let isBlock = blocks.contains(n.name)
            if isBlock { flush() }
            if n.name == "li" { current += "- " }
            n.children.forEach(walk)
            if isBlock { flush() }
        }
        walk(node)
        flush()
    }
}

extension HTMLNode {
    var textContentPreservingSpace: String {
        var out = ""
        func walk(_ n: HTMLNode) { if n.kind == .text { out += n.name } else { n.children.forEach(walk) } }
        walk(self)
        return out
    }
}

extension String {
    func trimmingNewlines() -> String {
        var s = Substring(self)
        while let f = s.first, f == "\n" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
