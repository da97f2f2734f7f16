// bench_health_toggle: the health programs' cost through a running gateway, measured as
// attached vs detached in short alternating blocks of the same load on the same process.
//
// tools/bench/health compares separate runs (a gateway started with health on, then one with it
// off), each several seconds long. On a machine whose speed drifts by 10-30% from one run to the
// next, a 1-3% effect drowns there. Here the gateway runs once, under one uninterrupted load,
// and this tool detaches and re-attaches the gateway's own health programs every block (default
// 500 ms): each pair of adjacent blocks (one attached, one detached, the order alternating) sees
// the same machine, so their ratio cancels drifts slower than a second.
//
// How: the gateway keeps no references to its links; the pins under <bpffs_root>/health-v<N>/
// are their only ones. This tool takes the programs (by id, from the pinned links), removes the
// link pins (the programs detach), and then attaches its own links to the same programs for the
// attached blocks, closing them for the detached ones. The gateway's userspace side (its ring
// buffer reader, its counters) runs throughout: only the kernel side is toggled. At the end the
// programs are attached again and the links pinned where they were.
//
// Throughput is the gateway's own request counter (the per-slot `requests` of health_slots_map,
// summed over slots), read at each block's start and end, so the load generator needs no
// time series.
//
//   build/bin/bench_health_toggle BPFFS_ROOT [seconds (default 60)] [block ms (default 500)] [CSV]
//
// CSV: also write each pair's rates there (attached_rps,detached_rps), so that sittings can be
// pooled afterwards.
//
// Needs root, a gateway with health enabled on BPFFS_ROOT in the tracepoint mode (tp_btf links:
// the only ones this tool re-attaches), and load on it meanwhile. Prints numbers; not a test.
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_net.h"
#include "bench_stats.h"
#include "common/unique_fd.h"
#include "health/health_loader.h"

namespace {

using Clock = std::chrono::steady_clock;
using hotgate::UniqueFd;
using hotgate::bench::die;
using hotgate::bench::median;

// Time given to a toggle before a block is measured: requests in flight across it would be
// counted for the wrong mode.
constexpr auto kSettle = std::chrono::milliseconds(50);

// One of the gateway's health programs: where its link was pinned, and the program.
struct Program {
    std::string pin_path;
    UniqueFd prog;
    UniqueFd link;  // ours, while attached
};

std::vector<Program> takePrograms(const std::string& dir) {
    std::vector<Program> out;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("link_", 0) != 0) continue;
        UniqueFd link(bpf_obj_get(entry.path().c_str()));
        if (!link) die("open pinned link " + entry.path().string() + ": " + std::strerror(errno));
        bpf_link_info info{};
        __u32 len = sizeof(info);
        if (bpf_obj_get_info_by_fd(link.get(), &info, &len) != 0)
            die("read link info of " + entry.path().string() + ": " + std::strerror(errno));
        if (info.type != BPF_LINK_TYPE_RAW_TRACEPOINT)
            die(entry.path().string() + " is not a tracepoint (tp_btf) link (type " + std::to_string(info.type) +
                "): this bench re-attaches only those; the gateway chose a kprobe or fentry variant");
        Program p;
        p.pin_path = entry.path().string();
        p.prog = UniqueFd(bpf_prog_get_fd_by_id(info.prog_id));
        if (!p.prog) die("open program " + std::to_string(info.prog_id) + ": " + std::strerror(errno));
        out.push_back(std::move(p));
    }
    if (out.empty()) die("no link pins under " + dir + " (is health enabled on this gateway?)");
    return out;
}

void attach(std::vector<Program>& programs) {
    for (auto& p : programs) {
        p.link = UniqueFd(bpf_raw_tracepoint_open(nullptr, p.prog.get()));
        if (!p.link) die("attach the program of " + p.pin_path + ": " + std::strerror(errno));
    }
}

void detach(std::vector<Program>& programs) {
    for (auto& p : programs) p.link.reset();
}

std::uint64_t requestsSoFar(const hotgate::health::HealthPins& pins) {
    std::uint64_t n = 0;
    for (std::uint32_t s = 0; s < HEALTH_SLOTS; ++s)
        n += std::atomic_ref<__u64>(pins.slot(s).requests).load(std::memory_order_relaxed);
    return n;
}

// Connections the programs counted as opened on the listener side, summed over slots: grows in
// attached blocks only, which shows the toggle really detaches (a connection-per-request load
// opens one per request).
std::uint64_t connectionsCounted(const hotgate::health::HealthPins& pins) {
    std::uint64_t n = 0;
    for (std::uint32_t s = 0; s < HEALTH_SLOTS; ++s) {
        auto row = pins.readCounters(s * HEALTH_SIDES + HEALTH_SIDE_LISTENER);
        if (!row) die("read the health counters: " + row.error().what());
        n += row->count[HEALTH_CTR_OPENED];
    }
    return n;
}

// Events the programs emitted (spikes, resets, retransmits) and dropped: each one wakes the
// gateway's ring buffer reader, a cost beyond the programs' own.
std::uint64_t eventsEmitted(const hotgate::health::HealthPins& pins) {
    auto row = pins.readCounters(HEALTH_CTR_ROW_GLOBAL);
    if (!row) die("read the health counters: " + row.error().what());
    std::uint64_t n = row->count[HEALTH_GLOBAL_DROPPED];
    for (std::uint32_t kind = 0; kind < HEALTH_EV_MAX; ++kind) n += row->count[kind];
    return n;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 5) die("usage: bench_health_toggle BPFFS_ROOT [seconds > 0] [block ms >= 100] [CSV]");
    const std::string root = argv[1];
    const double seconds = argc > 2 ? std::atof(argv[2]) : 60;
    const int block_ms = argc > 3 ? std::atoi(argv[3]) : 500;
    if (seconds <= 0 || block_ms < 100) die("usage: bench_health_toggle BPFFS_ROOT [seconds > 0] [block ms >= 100] [CSV]");
    const char* csv_path = argc > 4 ? argv[4] : nullptr;
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    auto pins = hotgate::health::HealthPins::open(root);
    if (!pins) die("open the health pins under " + root + ": " + pins.error().what());
    std::vector<Program> programs = takePrograms((*pins)->directory());
    // From here the pinned links go: our own links keep the programs attached, and the pins are
    // put back at the end (also when the load stopped early).
    attach(programs);
    for (const auto& p : programs)
        if (::unlink(p.pin_path.c_str()) != 0) die("unpin " + p.pin_path + ": " + std::strerror(errno));

    const auto block = std::chrono::milliseconds(block_ms);
    const auto until = Clock::now() + std::chrono::duration<double>(seconds);
    std::vector<double> ratios, attached_rates, detached_rates;
    std::uint64_t counted[2] = {0, 0}, requests[2] = {0, 0};  // [detached, attached]
    const std::uint64_t events_before = eventsEmitted(**pins);
    bool attached_now = true, idle = false;
    for (int pair = 0; !idle && Clock::now() + 2 * (block + kSettle) <= until; ++pair) {
        double rate[2] = {0, 0};  // [detached, attached]
        for (int half = 0; half < 2; ++half) {
            const bool attach_this = (half == 0) == (pair % 2 == 0);  // AB, BA, AB, ...
            if (attach_this != attached_now) {
                attach_this ? attach(programs) : detach(programs);
                attached_now = attach_this;
            }
            std::this_thread::sleep_for(kSettle);
            const auto t0 = Clock::now();
            const std::uint64_t r0 = requestsSoFar(**pins), c0 = connectionsCounted(**pins);
            std::this_thread::sleep_for(block);
            const std::uint64_t r1 = requestsSoFar(**pins), c1 = connectionsCounted(**pins);
            const double s = std::chrono::duration<double>(Clock::now() - t0).count();
            rate[attach_this ? 1 : 0] = static_cast<double>(r1 - r0) / s;
            counted[attach_this ? 1 : 0] += c1 - c0;
            requests[attach_this ? 1 : 0] += r1 - r0;
        }
        if (rate[0] <= 0 || rate[1] <= 0) {
            idle = true;  // the pins go back first: the gateway must not be left detached
            break;
        }
        ratios.push_back(rate[1] / rate[0]);
        detached_rates.push_back(rate[0]);
        attached_rates.push_back(rate[1]);
    }
    const std::uint64_t events = eventsEmitted(**pins) - events_before;
    if (!attached_now) attach(programs);
    for (const auto& p : programs)
        if (bpf_obj_pin(p.link.get(), p.pin_path.c_str()) != 0)
            std::fprintf(stderr, "bench_health_toggle: pin %s again: %s\n", p.pin_path.c_str(), std::strerror(errno));
    if (idle) die("no requests counted in a block: is the load running?");

    if (ratios.size() < 5) die("fewer than 5 block pairs: give it more seconds");
    if (csv_path != nullptr) {
        std::FILE* csv = std::fopen(csv_path, "w");
        if (csv == nullptr) die(std::string("write ") + csv_path + ": " + std::strerror(errno));
        std::fprintf(csv, "attached_rps,detached_rps\n");
        for (std::size_t i = 0; i < ratios.size(); ++i)
            std::fprintf(csv, "%.1f,%.1f\n", attached_rates[i], detached_rates[i]);
        std::fclose(csv);
    }
    // 90% bootstrap interval of the median ratio (percentile method; fixed seed: a rerun of the
    // same numbers prints the same interval).
    std::mt19937 rng(1);
    std::uniform_int_distribution<std::size_t> pick(0, ratios.size() - 1);
    std::vector<double> boots;
    for (int b = 0; b < 4000; ++b) {
        std::vector<double> sample(ratios.size());
        for (auto& x : sample) x = ratios[pick(rng)];
        boots.push_back(median(sample));
    }
    std::sort(boots.begin(), boots.end());
    const double lo = boots[boots.size() * 5 / 100], hi = boots[boots.size() * 95 / 100 - 1];
    const char* verdict = lo >= 0.97 ? "above the target" : hi < 0.97 ? "below the target" : "not decided at this noise";
    std::vector<double> sorted = ratios;
    std::sort(sorted.begin(), sorted.end());
    std::printf("%zu block pairs of %d ms: attached %.0f req/s, detached %.0f req/s (medians)\n", ratios.size(),
                block_ms, median(attached_rates), median(detached_rates));
    std::printf("per-pair ratio attached/detached: median %.3f, quartiles %.3f-%.3f, range %.3f-%.3f\n",
                median(ratios), sorted[sorted.size() / 4], sorted[sorted.size() * 3 / 4], sorted.front(),
                sorted.back());
    std::printf("90%% interval of the median: %.3f-%.3f (%s; target >= 0.97)\n", lo, hi, verdict);
    std::printf("connections the programs counted per request: attached blocks %.2f, detached blocks %.2f\n",
                static_cast<double>(counted[1]) / static_cast<double>(requests[1]),
                static_cast<double>(counted[0]) / static_cast<double>(requests[0]));
    std::printf("events emitted (spikes, resets, retransmits, drops): %llu, %.2f per 1000 requests of attached blocks\n",
                static_cast<unsigned long long>(events), 1000.0 * static_cast<double>(events) / static_cast<double>(requests[1]));
    return 0;
}
