// StagedTrace: one operation as one trace, a root span and its stages one after the other
// (docs/telemetry.md). At most one stage is open; opening the next ends the open one. The
// upgrade trace (`hot-update:*`) and the config-apply trace (`config-apply:*`) are staged.
//
//   telemetry::StagedTrace apply(tracer, "config-apply");
//   apply.stage("config-apply:validate").setAttribute("problems", 0);
//   apply.stage("config-apply:diff");        // validate ends, Ok
//   apply.finish(telemetry::StatusCode::Error, "rejected");   // diff and the root end, Error
//
// Not thread-safe: its owner serializes the calls.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "telemetry/tracer.h"

namespace hotgate::telemetry {

class StagedTrace {
public:
    // Starts the root span `root_name` as a new trace.
    StagedTrace(const Tracer& tracer, std::string_view root_name);
    StagedTrace(StagedTrace&&) noexcept = default;
    StagedTrace& operator=(StagedTrace&&) noexcept = default;
    // Ends what is still open as Error "ended unfinished": an owner that forgot to finish is
    // visible in the trace rather than silent.
    ~StagedTrace();

    ActiveSpan& root() { return *root_; }
    // Ends the open stage (Ok, unless it was given a status) and opens `name`. The reference
    // is good until the next stage(), endStage() or finish().
    ActiveSpan& stage(std::string_view name);
    // The open stage, or nullptr.
    ActiveSpan* openStage() { return stage_ ? &*stage_ : nullptr; }
    // Ends the open stage with `code` (and `message` when Error), if one is open.
    void endStage(StatusCode code, std::string_view message = {});
    // Ends the open stage and the root with `code` and `message`. Later calls do nothing.
    void finish(StatusCode code, std::string_view message = {});
    bool finished() const { return !root_; }

private:
    const Tracer* tracer_;
    std::optional<ActiveSpan> root_;
    std::optional<ActiveSpan> stage_;
};

}  // namespace hotgate::telemetry
