// One HTTP GET through Foundation's URLSession (libcurl underneath, so http and https), with
// what a polite crawler needs that the defaults do not give: redirects are returned, not
// followed (each hop is checked against robots.txt and scope by the crawler); the body is cut
// at a size cap; the request times out.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

public struct FetchResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// The body was longer than the cap and was cut.
    public var truncated: Bool

    public func header(_ name: String) -> String? {
        headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }

    public var contentType: String { (header("Content-Type") ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? "" }

    /// `Retry-After` in seconds from now: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
    public func retryAfter(now: Date = Date()) -> Double? {
        guard let value = header("Retry-After")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(value), seconds >= 0 { return seconds }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return f.date(from: value).map { max(0, $0.timeIntervalSince(now)) }
    }
}

public enum FetchOutcome: Sendable {
    case response(FetchResponse, seconds: Double)
    case failure(String, seconds: Double)
}

final class Fetcher: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private var body: [UInt8] = []
    private var response: HTTPURLResponse?
    private var truncated = false
    private let maxBytes: Int
    private let started = ContinuousClock.now
    private var completion: (@Sendable (FetchOutcome) -> Void)?

    private init(maxBytes: Int) { self.maxBytes = maxBytes }

    /// Starts a GET of `url`; `completion` runs once, on a URLSession thread.
    static func get(_ url: URL, headers: [(String, String)], timeout: Double, maxBytes: Int,
                    completion: @escaping @Sendable (FetchOutcome) -> Void) {
        let fetcher = Fetcher(maxBytes: maxBytes)
        fetcher.completion = completion
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        configuration.httpMaximumConnectionsPerHost = 1
        let session = URLSession(configuration: configuration, delegate: fetcher, delegateQueue: nil)
        var request = URLRequest(url: url)
        request.httpMethod = "GET"
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        session.dataTask(with: request).resume()
        session.finishTasksAndInvalidate()
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)  // the crawler decides about every hop
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        lock.withLock { self.response = response as? HTTPURLResponse }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let over: Bool = lock.withLock {
            guard !truncated else { return false }
            let room = maxBytes - body.count
            if data.count > room {
                body.append(contentsOf: data.prefix(room))
                truncated = true
                return true
            }
            body.append(contentsOf: data)
            return false
        }
        if over { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        let outcome: FetchOutcome = lock.withLock {
            if let http = response, error == nil || truncated {
                var headers: [(String, String)] = []
                for (k, v) in http.allHeaderFields { headers.append(("\(k)", "\(v)")) }
                headers.sort { $0.0.lowercased() < $1.0.lowercased() }
                return .response(FetchResponse(status: http.statusCode, headers: headers, body: body, truncated: truncated), seconds: seconds)
            }
            let message = (error as NSError?).map { ($0.userInfo[NSLocalizedDescriptionKey] as? String) ?? "error \($0.code)" } ?? "no response"
            return .failure(message, seconds: seconds)
        }
        let done = lock.withLock { let c = completion; completion = nil; return c }
        done?(outcome)
    }
}

/// Reason phrases for the status lines of WARC records (URLSession does not keep the server's).
enum HTTPReason {
    static func phrase(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 206: return "Partial Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 303: return "See Other"
        case 304: return "Not Modified"
        case 307: return "Temporary Redirect"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 408: return "Request Timeout"
        case 410: return "Gone"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "Status \(status)"
        }
    }
}
