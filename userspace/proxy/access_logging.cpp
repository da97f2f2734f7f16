// The access log line of a request (docs/operations.md "Access log"): what the connection knows
// of it when its answer ends, made into each sampling sink's line on the worker's thread and
// handed to the process's AccessLog, which writes it off the request path.
#include <random>

#include "access_log/access_line.h"
#include "proxy/exchange.h"
#include "proxy/worker.h"

namespace hotgate {
namespace {

// Whether a request is logged by a sink that keeps `sample` of them; an error always is.
bool sampled(double sample, unsigned status) {
    if (sample >= 1 || status >= 500) return true;
    thread_local std::minstd_rand random{std::random_device{}()};
    return std::uniform_real_distribution<double>(0, 1)(random) < sample;
}

// The wall-clock time of a steady-clock reading: the two clocks are read together once a
// second per thread, not once a request.
std::chrono::system_clock::time_point wallTimeOf(std::chrono::steady_clock::time_point at) {
    struct Pair {
        std::chrono::steady_clock::time_point steady{};
        std::chrono::system_clock::time_point system{};
    };
    thread_local Pair base;
    if (at - base.steady >= std::chrono::seconds(1) || at < base.steady)
        base = {std::chrono::steady_clock::now(), std::chrono::system_clock::now()};
    return base.system + std::chrono::duration_cast<std::chrono::system_clock::duration>(at - base.steady);
}

}  // namespace

void HttpConnection::logAccess(std::optional<std::size_t> route, unsigned status,
                               std::chrono::steady_clock::time_point started,
                               std::chrono::steady_clock::time_point ended) {
    AccessLog* access_log = context_.access_log;
    if (!access_log) return;
    const Config& config = *snapshot_->config;
    const std::uint32_t wanted = snapshot_->access_fields;
    const auto wants = [wanted](AccessField field) { return (wanted & accessFieldBit(field)) != 0; };
    AccessRecord record;
    record.time = wallTimeOf(ended);
    record.client_ip = client_ip_;
    if (request_head_) {
        const auto& head = *request_head_;
        record.method = head.method_string();
        record.path = head.target();
        record.http_version = bridged_ ? 20 : head.version();
        // Field lookups only for what some sink writes.
        if (wants(AccessField::Host)) record.host = head[http::field::host];
        if (wants(AccessField::UserAgent)) record.user_agent = head[http::field::user_agent];
        if (wants(AccessField::Referer)) record.referer = head[http::field::referer];
        if (wants(AccessField::RequestId)) record.request_id = head["x-request-id"];
        if (wants(AccessField::Traceparent)) record.traceparent = head["traceparent"];
    }
    record.status = status;
    record.bytes_sent = response_bytes_;
    record.duration = ended - started;
    if (route) {
        record.route = config.routes[*route].name;
        record.cluster = config.routes[*route].cluster;
    }
    if (exchange_) {
        record.attempts = exchange_->attempts;
        if (exchange_->endpoint) record.upstream = exchange_->endpoint->label;
        if (exchange_->upstream_time) record.upstream_time = *exchange_->upstream_time;
    }
    record.version = snapshot_->version;
    if (bridged_) {
        record.tls_version = bridged_tls_version_;
        record.sni = bridged_sni_;
    } else if (client_.isTls()) {
        record.tls_version = SSL_get_version(client_.ssl());
        if (const char* sni = SSL_get_servername(client_.ssl(), TLSEXT_NAMETYPE_host_name)) record.sni = sni;
    }
    thread_local std::string line;
    for (const AccessSink& sink : snapshot_->access_sinks) {
        if (!sampled(sink.sample, status)) continue;
        line.clear();
        if (sink.format == AccessLogFormat::Json)
            appendJsonLine(line, record, sink.fields);
        else
            appendCombinedLine(line, record);
        access_log->submit(worker_.index(), sink.file, line);
    }
}

}  // namespace hotgate
