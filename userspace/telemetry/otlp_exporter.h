// OtlpExporter: sends finished spans to an OpenTelemetry collector over OTLP/HTTP with JSON
// encoding (otlp_json.h). submit() only queues; one background thread batches the queue and
// POSTs each batch, retrying transient failures (export_retry.h). Every way a span can be lost
// is counted. docs/telemetry.md describes the behaviour for operators.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "telemetry/export_retry.h"
#include "telemetry/http_post.h"
#include "telemetry/otlp_json.h"
#include "telemetry/span_sink.h"

namespace hotgate::telemetry {

// OTLP's two encodings. Only Json is implemented; Protobuf is refused by create().
enum class OtlpEncoding { Json, Protobuf };

struct OtlpExporterOptions {
    std::string endpoint = "http://127.0.0.1:4318/v1/traces";  // http:// only
    OtlpEncoding encoding = OtlpEncoding::Json;
    std::chrono::milliseconds timeout{10000};  // per POST; also bounds flush at destruction
    std::string service_name = "hotgate";
    std::string service_version;                     // e.g. the build version; left out when empty
    std::vector<Attribute> resource_attributes;      // more resource attributes (host.name, ...)
    std::size_t max_queue_size = 2048;               // spans waiting; beyond it submit() drops
    std::size_t max_batch_size = 512;                // spans per POST
    std::chrono::milliseconds flush_interval{5000};  // a partial batch waits at most this long
    int max_retries = 5;                             // retries of one batch after its first POST
    std::chrono::milliseconds initial_backoff{200};  // doubled per retry ...
    std::chrono::milliseconds max_backoff{5000};     // ... up to this; also caps Retry-After
};

// A snapshot of the exporter's counters (each monotonic from construction).
struct OtlpExporterCounters {
    std::uint64_t spans_exported = 0;               // in batches the collector answered 2xx
    std::uint64_t spans_dropped_queue_full = 0;     // refused by submit(): the queue was full
    std::uint64_t spans_dropped_export_failed = 0;  // in batches refused, out of retries, or
                                                    // still queued when the exporter was destroyed
    std::uint64_t export_requests = 0;              // POSTs sent, retries included
    std::uint64_t export_retries = 0;               // POSTs that were retries
};

class OtlpExporter final : public SpanSink {
public:
    // Checks the options and starts the export thread. Fails, saying which option and why, for
    // the Protobuf encoding (not supported), an endpoint that is not http://host[:port]/path, a
    // zero queue or batch size, a non-positive timeout or flush interval, negative retries.
    static Result<std::unique_ptr<OtlpExporter>> create(OtlpExporterOptions options);

    // Flushes for at most options.timeout, then stops the thread, aborting a POST in progress:
    // it returns within about options.timeout even when the collector hangs. Spans not exported
    // by then count as spans_dropped_export_failed.
    ~OtlpExporter() override;
    OtlpExporter(const OtlpExporter&) = delete;
    OtlpExporter& operator=(const OtlpExporter&) = delete;

    // Queues a finished span; never waits for I/O (takes a mutex for a push). Returns false,
    // and counts spans_dropped_queue_full, when max_queue_size spans are already waiting.
    // Callable from any thread.
    bool submit(Span span) override;

    // Sends everything submitted before the call without waiting for the flush interval, and
    // waits at most `timeout` for it to be exported or given up. Returns true when all of it
    // was settled (exported or dropped) in time. Callable from any thread but the exporter's.
    bool flush(std::chrono::milliseconds timeout);

    // Callable from any thread.
    OtlpExporterCounters counters() const;
    // The last export failure ("POST http://...: HTTP 503: ..."), empty if none yet.
    std::string lastError() const;

    const OtlpExporterOptions& options() const { return options_; }

private:
    OtlpExporter(OtlpExporterOptions options, HttpEndpoint endpoint);
    void run();
    // POSTs one batch until it is exported, refused, out of retries or the exporter stops.
    void exportBatch(const std::vector<Span>& batch);
    void noteFailure(const std::string& error, std::size_t spans, bool final);

    const OtlpExporterOptions options_;
    const ResourceInfo resource_;
    const RetryPolicy retry_policy_;
    HttpPost http_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;     // the thread: spans, a flush request, stop
    std::condition_variable settled_;  // flush(): a batch was settled
    std::deque<Span> queue_;
    std::uint64_t enqueued_total_ = 0;  // spans ever queued
    std::uint64_t settled_total_ = 0;   // of those, exported or dropped
    int flush_waiters_ = 0;
    bool stopping_ = false;
    std::string last_error_;
    bool failing_ = false;  // the last batch failed: log recovery once

    std::atomic<std::uint64_t> spans_exported_{0};
    std::atomic<std::uint64_t> spans_dropped_queue_full_{0};
    std::atomic<std::uint64_t> spans_dropped_export_failed_{0};
    std::atomic<std::uint64_t> export_requests_{0};
    std::atomic<std::uint64_t> export_retries_{0};

    std::thread thread_;  // last: started once everything above exists
};

}  // namespace hotgate::telemetry
