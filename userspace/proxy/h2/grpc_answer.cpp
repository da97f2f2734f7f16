// What HttpConnection answers a gRPC request itself, and how it counts gRPC statuses
// (docs/http2.md, "gRPC"): hotgate's own refusals become gRPC statuses the client's library
// understands instead of HTTP statuses it would report as UNKNOWN or INTERNAL.
#include "observability/logging.h"
#include "proxy/cluster_limits.h"
#include "proxy/h2/grpc_status.h"
#include "proxy/http_connection.h"
#include "proxy/route_admission.h"
#include "proxy/worker.h"

namespace hotgate {

awaitable<HttpConnection::Next> HttpConnection::answerGrpcError(std::optional<std::size_t> route, unsigned status,
                                                                std::string text, bool keep_alive,
                                                                std::optional<ExtraField> extra) {
    const bool limit = extra && (extra->name == kOverflowField || extra->name == kShedField);
    const grpc::Code code = grpc::codeForRefusal(status, limit);
    http::response<http::empty_body> response{http::status::ok, 11};
    response.set(http::field::content_type, "application/grpc");
    for (auto& field : grpc::statusFields(code, text)) response.set(field.name, field.value);
    response.set("x-hotgate-version", snapshot_->version);
    response.set("x-hotgate-status", std::to_string(status));  // the HTTP status it stands for
    if (extra) response.set(extra->name, extra->value);
    response.keep_alive(shouldKeepAlive(keep_alive));
    response.content_length(0);
    error_code ec;
    co_await writeToClient(response, ec);
    finishRequest(route, status);
    if (route) recordGrpcStatus(*route, static_cast<std::uint32_t>(code));
    co_return !ec && keep_alive ? Next::KeepAlive : Next::Close;
}

void HttpConnection::recordGrpcStatus(std::size_t route, std::uint32_t code) {
    if (shadow_) return;
    context_.metrics.recordGrpcStatus(*snapshot_->series, listener_, route, code);
}

}  // namespace hotgate
