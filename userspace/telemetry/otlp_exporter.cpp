#include "telemetry/otlp_exporter.h"

#include <utility>

#include "observability/logging.h"

namespace hotgate::telemetry {
namespace {

using Clock = std::chrono::steady_clock;

ResourceInfo resourceOf(const OtlpExporterOptions& options) {
    return ResourceInfo{options.service_name, options.service_version, options.resource_attributes,
                        options.service_version};
}

}  // namespace

Result<std::unique_ptr<OtlpExporter>> OtlpExporter::create(OtlpExporterOptions options) {
    if (options.encoding == OtlpEncoding::Protobuf)
        return fail("OTLP exporter: the protobuf encoding is not supported (use json)");
    auto endpoint = parseHttpEndpoint(options.endpoint);
    if (!endpoint) return tl::unexpected(endpoint.error());
    if (options.max_queue_size == 0) return fail("OTLP exporter: max_queue_size must be at least 1");
    if (options.max_batch_size == 0) return fail("OTLP exporter: max_batch_size must be at least 1");
    if (options.timeout <= std::chrono::milliseconds::zero())
        return fail("OTLP exporter: timeout must be positive, got ", options.timeout.count(), " ms");
    if (options.flush_interval <= std::chrono::milliseconds::zero())
        return fail("OTLP exporter: flush_interval must be positive, got ", options.flush_interval.count(), " ms");
    if (options.max_retries < 0)
        return fail("OTLP exporter: max_retries must not be negative, got ", options.max_retries);
    if (options.initial_backoff < std::chrono::milliseconds::zero() || options.max_backoff < options.initial_backoff)
        return fail("OTLP exporter: backoff must satisfy 0 <= initial_backoff (", options.initial_backoff.count(),
                    " ms) <= max_backoff (", options.max_backoff.count(), " ms)");
    if (options.service_name.empty()) return fail("OTLP exporter: service_name must not be empty");
    return std::unique_ptr<OtlpExporter>(new OtlpExporter(std::move(options), std::move(*endpoint)));
}

OtlpExporter::OtlpExporter(OtlpExporterOptions options, HttpEndpoint endpoint)
    : options_(std::move(options)),
      resource_(resourceOf(options_)),
      retry_policy_{options_.max_retries, options_.initial_backoff, options_.max_backoff},
      http_(std::move(endpoint)),
      thread_([this] { run(); }) {}

OtlpExporter::~OtlpExporter() {
    flush(options_.timeout);
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    http_.abort();  // a POST still in progress (the collector hangs) ends now
    thread_.join();
}

bool OtlpExporter::submit(Span span) {
    std::size_t queued = 0;
    {
        std::lock_guard lock(mutex_);
        if (queue_.size() >= options_.max_queue_size) {
            spans_dropped_queue_full_.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        queue_.push_back(std::move(span));
        ++enqueued_total_;
        queued = queue_.size();
    }
    // Only a full batch wakes the thread early; otherwise it wakes at the flush interval.
    if (queued == options_.max_batch_size) wake_.notify_one();
    return true;
}

bool OtlpExporter::flush(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::unique_lock lock(mutex_);
    const std::uint64_t target = enqueued_total_;
    if (settled_total_ >= target) return true;
    ++flush_waiters_;
    wake_.notify_one();
    const bool settled = settled_.wait_until(lock, deadline, [&] { return settled_total_ >= target; });
    --flush_waiters_;
    return settled;
}

OtlpExporterCounters OtlpExporter::counters() const {
    return OtlpExporterCounters{
        spans_exported_.load(std::memory_order_relaxed),
        spans_dropped_queue_full_.load(std::memory_order_relaxed),
        spans_dropped_export_failed_.load(std::memory_order_relaxed),
        export_requests_.load(std::memory_order_relaxed),
        export_retries_.load(std::memory_order_relaxed),
    };
}

std::string OtlpExporter::lastError() const {
    std::lock_guard lock(mutex_);
    return last_error_;
}

void OtlpExporter::run() {
    std::vector<Span> batch;
    batch.reserve(options_.max_batch_size);
    auto next_partial_batch = Clock::now() + options_.flush_interval;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait_until(lock, next_partial_batch, [&] {
                return stopping_ || queue_.size() >= options_.max_batch_size || (flush_waiters_ > 0 && !queue_.empty());
            });
            if (stopping_) {
                // The destructor's flush had its time; what is still queued is lost.
                spans_dropped_export_failed_.fetch_add(queue_.size(), std::memory_order_relaxed);
                settled_total_ += queue_.size();
                queue_.clear();
                break;
            }
            const bool interval_passed = Clock::now() >= next_partial_batch;
            if (interval_passed) next_partial_batch = Clock::now() + options_.flush_interval;
            if (queue_.size() < options_.max_batch_size && flush_waiters_ == 0 && !interval_passed) continue;
            const std::size_t take = std::min(queue_.size(), options_.max_batch_size);
            for (std::size_t i = 0; i < take; ++i) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        if (!batch.empty()) exportBatch(batch);
        {
            std::lock_guard lock(mutex_);
            settled_total_ += batch.size();
        }
        settled_.notify_all();
        batch.clear();
    }
    settled_.notify_all();
}

void OtlpExporter::exportBatch(const std::vector<Span>& batch) {
    const std::string body = encodeOtlpTraceRequest(resource_, batch);
    for (int attempt = 0;; ++attempt) {
        if (attempt > 0) export_retries_.fetch_add(1, std::memory_order_relaxed);
        export_requests_.fetch_add(1, std::memory_order_relaxed);
        const PostOutcome outcome = http_.post(body, "application/json", Clock::now() + options_.timeout);
        const ExportVerdict verdict = exportVerdict(outcome);
        if (verdict == ExportVerdict::Exported) {
            spans_exported_.fetch_add(batch.size(), std::memory_order_relaxed);
            std::lock_guard lock(mutex_);
            if (failing_) log::info("OTLP export to ", options_.endpoint, " works again");
            failing_ = false;
            return;
        }
        if (verdict == ExportVerdict::Drop || attempt >= retry_policy_.max_retries) {
            noteFailure(outcome.error, batch.size(), true);
            return;
        }
        noteFailure(outcome.error, batch.size(), false);
        const auto delay = retryDelay(retry_policy_, attempt + 1, outcome.retry_after);
        std::unique_lock lock(mutex_);
        if (wake_.wait_for(lock, delay, [&] { return stopping_; })) {
            spans_dropped_export_failed_.fetch_add(batch.size(), std::memory_order_relaxed);
            return;
        }
    }
}

void OtlpExporter::noteFailure(const std::string& error, std::size_t spans, bool final) {
    if (final) spans_dropped_export_failed_.fetch_add(spans, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    last_error_ = error;
    // One line when exports start failing and one per dropped batch, not one per retry.
    if (final) {
        log::warn("OTLP export: dropped a batch of ", spans, " spans: ", error);
    } else if (!failing_) {
        log::warn("OTLP export failing, retrying: ", error);
    }
    failing_ = true;
}

}  // namespace hotgate::telemetry
