#include "support/otlp_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "support/loopback_listener.h"

namespace hotgate::test {

namespace http = boost::beast::http;

namespace {

// A scripted answer for one future request.
struct Script {
    bool stall = false;
    unsigned status = 200;
    std::optional<std::string> retry_after;
};

std::string response(unsigned status, const std::string& body, const std::optional<std::string>& retry_after) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " +
                      std::string(http::obsolete_reason(static_cast<http::status>(status))) + "\r\n";
    out += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    if (retry_after) out += "Retry-After: " + *retry_after + "\r\n";
    return out + "\r\n" + body;
}

std::string jsonMessage(const std::string& text) {
    return nlohmann::json{{"message", text}}.dump();
}

const char* kindName(int kind) {
    switch (kind) {
        case 1:
            return "internal";
        case 2:
            return "server";
        case 3:
            return "client";
        case 4:
            return "producer";
        case 5:
            return "consumer";
        default:
            return "unspecified";
    }
}

}  // namespace

struct OtlpReceiver::Impl {
    std::atomic<bool> stopping{false};  // set under `mutex`, for the stalls' wait

    mutable std::mutex mutex;
    mutable std::condition_variable changed;  // a request arrived, a stall was released, stop
    std::deque<Script> scripts;
    std::uint64_t stall_generation = 0;  // bumped by releaseStalled()
    std::vector<ReceivedRequest> requests;
    std::vector<ReceivedSpan> spans;
    std::vector<std::string> invalid;
    std::optional<ThreadPerConnectionServer> server;  // last: its threads read the above

    // Decides and records the answer to one complete request; nullopt means stall.
    std::optional<std::string> answer(const http::request<http::string_body>& request) {
        ReceivedRequest record;
        record.method = std::string(request.method_string());
        record.target = std::string(request.target());
        record.content_type = std::string(request[http::field::content_type]);
        std::optional<std::string> reply;
        std::vector<ReceivedSpan> parsed;
        if (request.method() != http::verb::post) {
            record.answered = 405;
        } else if (record.target != "/v1/traces") {
            record.answered = 404;
        } else if (record.content_type != "application/json") {
            record.answered = 415;
        } else if (auto result = parseOtlpTraceRequest(request.body()); !result) {
            record.answered = 400;
            record.invalid = result.error().message;
        } else {
            parsed = std::move(*result);
            record.span_count = parsed.size();
        }

        std::lock_guard lock(mutex);
        if (record.answered == 0) {
            Script script;
            if (!scripts.empty()) {
                script = scripts.front();
                scripts.pop_front();
            }
            if (script.stall) {
                requests.push_back(record);
                changed.notify_all();
                return std::nullopt;
            }
            record.answered = script.status;
            if (script.status / 100 == 2) {
                std::move(parsed.begin(), parsed.end(), std::back_inserter(spans));
                reply = response(script.status, "{}", std::nullopt);
            } else {
                reply = response(script.status, jsonMessage("scripted answer"), script.retry_after);
            }
        } else {
            if (!record.invalid.empty()) invalid.push_back(record.invalid);
            reply = response(record.answered, jsonMessage(record.invalid.empty() ? "refused" : record.invalid),
                             std::nullopt);
        }
        requests.push_back(record);
        changed.notify_all();
        return reply;
    }

    // Serves requests on one connection until it closes, a stall is released, or stop.
    void serve(int fd) {
        std::string pending;
        auto parser = std::make_unique<http::request_parser<http::string_body>>();
        parser->body_limit(64 * 1024 * 1024);
        char chunk[16384];
        bool close = false;
        while (!stopping && !close) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0) break;
            pending.append(chunk, static_cast<std::size_t>(n));
            while (!pending.empty() && !close) {
                boost::system::error_code ec;
                const std::size_t used = parser->put(boost::asio::buffer(pending), ec);
                pending.erase(0, used);
                if (ec == http::error::need_more) break;
                if (ec) {
                    close = true;
                    break;
                }
                if (!parser->is_done()) continue;
                const auto request = parser->release();
                const std::optional<std::string> reply = answer(request);
                if (!reply) {
                    stallUntilReleased();
                    close = true;
                    break;
                }
                if (!sendAll(fd, *reply) || !request.keep_alive()) close = true;
                parser = std::make_unique<http::request_parser<http::string_body>>();
                parser->body_limit(64 * 1024 * 1024);
            }
        }
        ::shutdown(fd, SHUT_RDWR);
    }

    void stallUntilReleased() {
        std::unique_lock lock(mutex);
        const std::uint64_t generation = stall_generation;
        changed.wait(lock, [&] { return stopping || stall_generation != generation; });
    }

    template <typename Predicate>
    bool waitFor(std::chrono::milliseconds timeout, Predicate predicate) const {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, timeout, predicate);
    }
};

OtlpReceiver::OtlpReceiver() : impl_(std::make_shared<Impl>()) {
    impl_->server.emplace([impl = impl_.get()](int fd) { impl->serve(fd); });
}

OtlpReceiver::~OtlpReceiver() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;  // releases stalled connections
    }
    impl_->changed.notify_all();
    impl_->server->stop();
}

std::uint16_t OtlpReceiver::port() const {
    return impl_->server->port();
}

std::string OtlpReceiver::endpoint() const {
    return "http://127.0.0.1:" + std::to_string(port()) + "/v1/traces";
}

void OtlpReceiver::answerNext(int count, unsigned status, const std::optional<std::string>& retry_after) {
    std::lock_guard lock(impl_->mutex);
    for (int i = 0; i < count; ++i) impl_->scripts.push_back(Script{false, status, retry_after});
}

void OtlpReceiver::stallNext(int count) {
    std::lock_guard lock(impl_->mutex);
    for (int i = 0; i < count; ++i) impl_->scripts.push_back(Script{true, 0, std::nullopt});
}

void OtlpReceiver::releaseStalled() {
    {
        std::lock_guard lock(impl_->mutex);
        ++impl_->stall_generation;
    }
    impl_->changed.notify_all();
}

std::vector<ReceivedRequest> OtlpReceiver::requests() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->requests;
}

std::vector<ReceivedSpan> OtlpReceiver::spans() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->spans;
}

std::vector<std::string> OtlpReceiver::invalidBodies() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->invalid;
}

bool OtlpReceiver::waitForSpans(std::size_t count, std::chrono::milliseconds timeout) const {
    return impl_->waitFor(timeout, [&] { return impl_->spans.size() >= count; });
}

bool OtlpReceiver::waitForRequests(std::size_t count, std::chrono::milliseconds timeout) const {
    return impl_->waitFor(timeout, [&] { return impl_->requests.size() >= count; });
}

std::string OtlpReceiver::spanTree() const {
    const std::vector<ReceivedSpan> all = spans();
    // Traces in order of their first span; within a trace, children in start order.
    std::vector<std::string> trace_order;
    std::map<std::string, std::vector<const ReceivedSpan*>> by_trace;
    for (const auto& span : all) {
        auto& list = by_trace[span.trace_id];
        if (list.empty()) trace_order.push_back(span.trace_id);
        list.push_back(&span);
    }
    std::ostringstream out;
    for (const auto& trace_id : trace_order) {
        auto& list = by_trace[trace_id];
        std::stable_sort(list.begin(), list.end(), [](const ReceivedSpan* a, const ReceivedSpan* b) {
            return a->start_unix_nanos < b->start_unix_nanos;
        });
        std::map<std::string, std::vector<const ReceivedSpan*>> children;
        std::map<std::string, bool> present;
        for (const auto* span : list) present[span->span_id] = true;
        std::vector<const ReceivedSpan*> tops;
        for (const auto* span : list) {
            if (span->parent_span_id.empty() || !present.count(span->parent_span_id))
                tops.push_back(span);
            else
                children[span->parent_span_id].push_back(span);
        }
        out << "trace " << trace_id << " (service " << list.front()->service_name << ")\n";
        std::function<void(const ReceivedSpan*, int)> print = [&](const ReceivedSpan* span, int depth) {
            const double millis = static_cast<double>(span->end_unix_nanos - span->start_unix_nanos) / 1e6;
            std::ostringstream duration;
            duration.setf(std::ios::fixed);
            duration.precision(3);
            duration << millis;
            out << std::string(2 * static_cast<std::size_t>(depth), ' ') << span->name << " [" << kindName(span->kind)
                << ", " << duration.str() << " ms";
            if (span->status_code == 1) out << ", ok";
            if (span->status_code == 2)
                out << ", error" << (span->status_message.empty() ? "" : ": " + span->status_message);
            out << "]";
            for (const auto& [key, value] : span->attributes) out << " " << key << "=" << span->attribute(key);
            if (!span->parent_span_id.empty() && !present.count(span->parent_span_id))
                out << " (parent " << span->parent_span_id << " not received)";
            out << "\n";
            for (const auto* child : children[span->span_id]) print(child, depth + 1);
        };
        for (const auto* top : tops) print(top, 0);
    }
    return out.str();
}

}  // namespace hotgate::test
