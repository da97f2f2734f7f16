#include "telemetry/staged_trace.h"

namespace hotgate::telemetry {

StagedTrace::StagedTrace(const Tracer& tracer, std::string_view root_name)
    : tracer_(&tracer), root_(tracer.startRootSpan(root_name)) {}

StagedTrace::~StagedTrace() {
    finish(StatusCode::Error, "ended unfinished");
}

ActiveSpan& StagedTrace::stage(std::string_view name) {
    endStage(StatusCode::Ok);
    stage_.emplace(tracer_->startChildSpan(*root_, name));
    return *stage_;
}

void StagedTrace::endStage(StatusCode code, std::string_view message) {
    if (!stage_) return;
    if (stage_->span().status.code == StatusCode::Unset) stage_->setStatus(code, message);
    stage_->end();
    stage_.reset();
}

void StagedTrace::finish(StatusCode code, std::string_view message) {
    if (!root_) return;
    endStage(code, message);
    root_->setStatus(code, message);
    root_->end();
    root_.reset();
}

}  // namespace hotgate::telemetry
