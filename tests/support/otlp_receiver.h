// OtlpReceiver: a test OpenTelemetry collector. An HTTP/1.1 server on 127.0.0.1 (ephemeral
// port, its own threads) accepting POST /v1/traces with OTLP JSON bodies, each validated
// strictly (otlp_schema.h). It keeps the spans of the requests it accepted, and a test can
// script its next answers: an error status (with Retry-After) or a stall that never answers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/otlp_schema.h"

namespace hotgate::test {

// One request as the receiver saw it.
struct ReceivedRequest {
    std::string method;
    std::string target;
    std::string content_type;
    unsigned answered = 0;       // the status sent back; 0 when stalled
    std::size_t span_count = 0;  // spans in the body (when it validated)
    std::string invalid;         // why the body failed validation, "" when valid
};

class OtlpReceiver {
public:
    OtlpReceiver();  // port() is 0 when the bind failed
    // Releases stalled requests, closes every connection, joins the threads.
    ~OtlpReceiver();
    OtlpReceiver(const OtlpReceiver&) = delete;
    OtlpReceiver& operator=(const OtlpReceiver&) = delete;

    std::uint16_t port() const;
    std::string endpoint() const;  // "http://127.0.0.1:<port>/v1/traces"

    // The next `count` valid POSTs are answered `status` (with `Retry-After: <retry_after>`
    // when given) instead of 200; their spans are not kept unless the status is 2xx.
    void answerNext(int count, unsigned status, const std::optional<std::string>& retry_after = std::nullopt);
    // The next `count` valid POSTs are read and never answered, until releaseStalled() or the
    // receiver's destruction (which then closes the connection).
    void stallNext(int count);
    // Stalled requests end now: their connections are closed without an answer.
    void releaseStalled();

    // Every request received, in arrival order.
    std::vector<ReceivedRequest> requests() const;
    // The spans of the requests answered 2xx, in arrival order.
    std::vector<ReceivedSpan> spans() const;
    // Validation failures (each also answered 400).
    std::vector<std::string> invalidBodies() const;

    // Wait until at least `count` spans were kept / `count` requests arrived, or `timeout`.
    bool waitForSpans(std::size_t count, std::chrono::milliseconds timeout) const;
    bool waitForRequests(std::size_t count, std::chrono::milliseconds timeout) const;

    // The kept spans as trees, one block per trace, children indented under their parent:
    //   trace 0af7651916cd43dd8448eb211c80319c (service hotgate)
    //   upgrade [internal, 12.345 ms, ok] to=b
    //     launch successor [client, 3.100 ms] pid=123
    // A span whose parent was not received is shown at the top with "(parent <id> not received)".
    std::string spanTree() const;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace hotgate::test
