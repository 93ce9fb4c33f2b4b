// The dashboard's pages: plain HTML, CSS and JavaScript shipped inside the binary's resources.
import Foundation
import Hummingbird

struct StaticRoutes {
    static let files: [String: (name: String, type: String)] = [
        "/": ("index.html", "text/html; charset=utf-8"),
        "/app.js": ("app.js", "text/javascript; charset=utf-8"),
        "/chart.js": ("chart.js", "text/javascript; charset=utf-8"),
        "/style.css": ("style.css", "text/css; charset=utf-8"),
    ]

    func add(to router: Router<BasicRequestContext>) {
        for (path, file) in Self.files {
            router.get(RouterPath(path)) { _, _ in
                guard let url = Bundle.module.url(forResource: file.name, withExtension: nil, subdirectory: "Dashboard"),
                      let data = try? Data(contentsOf: url) else {
                    throw APIError(.notFound, "\(file.name) is missing from this build", type: "not_found")
                }
                return Response(status: .ok, headers: [.contentType: file.type, .cacheControl: "no-cache"],
                                body: .init(byteBuffer: ByteBuffer(bytes: data)))
            }
        }
    }
}
