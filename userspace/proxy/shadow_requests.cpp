// HttpConnection's part in `gwctl verify` (docs/verification.md): copying a sampled live request
// for the shadow tap once it was answered, and a shadow connection's dry run of a
// non-idempotent request, which must never reach an upstream a second time.
#include <boost/beast/websocket/rfc6455.hpp>

#include "proxy/http_connection.h"

namespace hotgate {
namespace {

// A copy's body must be at hand whole, read with the head; a larger one is not sampled.
constexpr std::uint64_t kMaxCopiedBody = 64 * 1024;

}  // namespace

void HttpConnection::copyForShadow(const RequestParser& parser, std::size_t route, std::string head) {
    const auto& route_config = snapshot_->config->routes[route];
    const auto& request = parser.get();
    if (!shadow::mirrorable(request.method_string(), route_config.shadow) || beast::websocket::is_upgrade(request))
        return;
    auto& tap = context_.shadow_tap;
    if (!tap.reserve(route_config.name)) return;
    std::string bytes = std::move(head);
    if (request_framing_.kind == http1::BodyKind::Length) {
        const auto at_hand = buffer_.data();
        if (request_framing_.length > kMaxCopiedBody || at_hand.size() < request_framing_.length) {
            tap.release();
            return;
        }
        bytes.append(static_cast<const char*>(at_hand.data()), static_cast<std::size_t>(request_framing_.length));
    } else if (request_framing_.kind != http1::BodyKind::None) {
        tap.release();  // chunked: where it ends is only known once read
        return;
    }
    pending_shadow_.emplace(shadow::Capture{route_config.name, std::string(request.method_string()),
                                            std::string(request.target()), std::move(bytes)});
}

void HttpConnection::offerShadowCopy() {
    context_.shadow_tap.offer(std::move(*pending_shadow_));
    pending_shadow_.reset();
}

awaitable<HttpConnection::Next> HttpConnection::answerDryRun(RequestParser& parser, std::size_t route,
                                                             bool keep_alive) {
    if (const error_code ec = co_await discardBody(parser)) {
        HOTGATE_CO_RETURN_AWAIT(rejectBody(ec));
    }
    const auto& route_config = snapshot_->config->routes[route];
    // Named, not temporaries in the co_await expression (GCC 12 destroys those twice).
    std::string text = "dry run: route " + route_config.name + ", cluster " + route_config.cluster + "\n";
    std::optional<ExtraField> mark = ExtraField{"x-hotgate-shadow", "dry-run"};
    const bool ok = co_await writeSimple(200, std::move(text), keep_alive, 0, std::move(mark));
    co_return ok && keep_alive ? Next::KeepAlive : Next::Close;
}

}  // namespace hotgate
