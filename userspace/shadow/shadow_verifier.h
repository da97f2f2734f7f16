// ShadowVerifier: `gwctl verify` in the running version (docs/verification.md). It arms the
// shadow tap, and for each live request the workers copy (after its client was answered) sends
// the copy over loopback shadow paths to this version and to the ready one (one after the
// other, in alternating order), and compares the two answers, and per route their latencies. The last sample set, with this version's answers, is kept:
// `gwctl verify --replay` (after a rollback) sends it to this version again and compares with
// what it answered then. One verification runs at a time.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "shadow/shadow_answer.h"
#include "shadow/shadow_client.h"
#include "shadow/shadow_report.h"
#include "shadow/shadow_tap.h"

namespace hotgate::shadow {

struct VerifyPlan {
    std::size_t samples = 100;
    std::vector<std::string> routes;  // none: every route
    std::chrono::milliseconds timeout{30'000};  // for the whole verification
    Tolerance tolerance;
};

class ShadowVerifier {
public:
    explicit ShadowVerifier(ShadowTap& tap) : tap_(tap) {}

    // Compares `running` (this version) with `other` (the ready one) on up to plan.samples live
    // requests, within plan.timeout (plus the last sample's answers, 5 s each at most); fewer
    // samples are said in the report's note. Disarming the tap ends it early (main.cpp does at
    // shutdown).
    ShadowReport compare(const VerifyPlan& plan, ShadowPath running, ShadowPath other);
    // Sends the recorded sample set to `running` and compares with the recorded answers; fails
    // when there is none.
    Result<ShadowReport> replay(const Tolerance& tolerance, ShadowPath running);

private:
    struct Recorded {
        Capture capture;
        Answer answer;
    };

    ShadowTap& tap_;
    std::mutex run_mutex_;           // one verification at a time
    std::vector<Recorded> recorded_;  // the last compare's samples and this version's answers
};

}  // namespace hotgate::shadow
