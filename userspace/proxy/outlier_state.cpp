#include "proxy/outlier_state.h"

namespace hotgate {

bool OutlierState::record(TryOutcome outcome, const OutlierDetectionConfig& config) {
    switch (outcome) {
        case TryOutcome::Success:
            consecutive_5xx_ = 0;
            consecutive_gateway_errors_ = 0;
            return false;
        case TryOutcome::ServerError:
            ++consecutive_5xx_;
            consecutive_gateway_errors_ = 0;
            break;
        case TryOutcome::GatewayError:
            ++consecutive_5xx_;
            ++consecutive_gateway_errors_;
            break;
    }
    if (is_ejected_) return false;
    return (config.consecutive_5xx > 0 && consecutive_5xx_ >= config.consecutive_5xx) ||
           (config.consecutive_gateway_errors > 0 && consecutive_gateway_errors_ >= config.consecutive_gateway_errors);
}

OutlierState::Clock::time_point OutlierState::eject(const OutlierDetectionConfig& config, Clock::time_point now) {
    if (times_ejected_ > 0 && back_since_ != Clock::time_point{} && config.interval.count() > 0) {
        const auto intervals_back = static_cast<unsigned>((now - back_since_) / config.interval);
        times_ejected_ = intervals_back >= times_ejected_ ? 0 : times_ejected_ - intervals_back;
    }
    ++times_ejected_;
    is_ejected_ = true;
    ejected_until_ = now + config.base_ejection_time * times_ejected_;
    consecutive_5xx_ = 0;
    consecutive_gateway_errors_ = 0;
    return ejected_until_;
}

bool OutlierState::ejected(Clock::time_point now) {
    if (!is_ejected_) return false;
    if (now < ejected_until_) return true;
    is_ejected_ = false;
    back_since_ = ejected_until_;
    consecutive_5xx_ = 0;  // failures of requests sent before or during the ejection are not held against it
    consecutive_gateway_errors_ = 0;
    return false;
}

}  // namespace hotgate
