// bench_health_connections: what the TCP health programs (bpf/health.bpf.c) cost per
// connection, measured where nothing else moves: one thread, its own network namespace, a
// loop of whole connections over 127.0.0.1 (connect, accept, a 64-byte request, a 256-byte
// response, server close, client close: the TCP life of a connection-per-request client).
// The server end is accepted from a listener marked for slot 0 (measured, like the gateway's
// clients); the client end is not (rejected, like wrk's sockets in tools/bench/health).
//
// Rounds alternate detached / attached (the programs loaded and pinned under a private bpffs
// root, then unpinned and freed), and the ratio is taken per round: slow drifts of the
// machine cancel out of the median. Loopback runs the whole TCP exchange in this thread, so
// connections per second here are a throughput on one core, and 1/rate - 1/rate is the
// program cost per connection in microseconds. A last attached round with the kernel's BPF
// run-time statistics on (BPF_ENABLE_STATS) gives runs per connection and ns per run.
//
//   build/bin/bench_health_connections [rounds (default 11)] [seconds per round (default 1)] [parts]
//
// With `parts`, each round also runs the two halves of the attached cost apart, so the cost
// per connection splits into: the slot mark alone (the listener marked, the programs loaded
// but not attached: what the accepted sockets pay for carrying their slot, which is nothing
// since the mark is the listener's receive timeout, inherited; what the sk_storage copy it
// replaced cost is in tools/bench/results/health-sittings.md) and the programs alone
// (attached, listener not marked: every tracepoint dispatch, and the programs turning every
// socket away as not theirs).
//
// Needs root (BPF, own network namespace). Prints numbers; not a test.
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench_net.h"
#include "bench_stats.h"
#include "common/unique_fd.h"
#include "dataplane/bpffs.h"
#include "health/health_loader.h"
#include "observability/libbpf_log.h"

namespace {

using Clock = std::chrono::steady_clock;
using hotgate::UniqueFd;
using namespace hotgate::bench;

constexpr std::uint16_t kPort = 18090;
constexpr int kWarmupConnections = 200;  // per run, before the clock starts

// One whole connection; every step completes in this thread on loopback.
void oneConnection(int listener) {
    static const char request[64] = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    static const char response[256] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    char buf[512];
    UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a = loopback(kPort);
    if (::connect(client.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0)
        die(std::string("connect 127.0.0.1:") + std::to_string(kPort) + ": " + std::strerror(errno));
    UniqueFd server(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    if (!server) die(std::string("accept: ") + std::strerror(errno));
    if (::send(client.get(), request, sizeof(request), 0) != sizeof(request)) die("send request");
    if (::recv(server.get(), buf, sizeof(buf), 0) <= 0) die("recv request");
    if (::send(server.get(), response, sizeof(response), 0) != sizeof(response)) die("send response");
    server.reset();  // the server closes first (Connection: close): its end goes to TIME_WAIT
    while (::recv(client.get(), buf, sizeof(buf), 0) > 0) {
    }
}

// Whole connections on `listener`, timed for about `seconds` after kWarmupConnections untimed ones.
struct Run {
    long connections = 0;  // timed ones
    double seconds = 0;
    double rate() const { return static_cast<double>(connections) / seconds; }
};

Run runConnections(int listener, double seconds) {
    for (int i = 0; i < kWarmupConnections; ++i) oneConnection(listener);  // warm caches
    const auto start = Clock::now();
    const auto until = start + std::chrono::duration<double>(seconds);
    Run run;
    while (Clock::now() < until) {
        for (int i = 0; i < 100; ++i) oneConnection(listener);
        run.connections += 100;
    }
    run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return run;
}

// A fresh listener per run on the same port: SO_REUSEADDR binds it beside the TIME_WAIT ends.
UniqueFd listenOn(std::uint16_t port) { return listenOnLoopback(port, SO_REUSEADDR, 128); }

// What of the health machinery a run has: nothing, all of it, or one half (see `parts`).
enum class Parts { None, All, MarkOnly, ProgramsOnly };

// The programs attached for the lifetime of this object: loaded and pinned under `root`,
// this process registered for slot 0 and `listener` marked (MarkOnly: the links are unpinned
// at once, which detaches the programs; ProgramsOnly: no mark). Destroying it unpins everything
// and closes the last map fds, so the programs detach.
class Attached {
public:
    Attached(const std::string& root, int listener, Parts parts = Parts::All) {
        auto pins = hotgate::health::loadHealth(root);
        if (!pins) die("load health programs under " + root + ": " + pins.error().what());
        pins_ = std::move(*pins);
        if (auto r = pins_->registerProcess(0, "bench", static_cast<std::uint32_t>(::getpid())); !r)
            die(r.error().what());
        if (parts != Parts::ProgramsOnly)
            if (auto r = pins_->markListener(listener, 0, 0); !r) die(r.error().what());
        if (parts == Parts::MarkOnly) detachPrograms();
    }
    ~Attached() {
        if (auto r = pins_->leave(static_cast<std::uint32_t>(::getpid())); !r || !*r)
            std::fprintf(stderr, "bench_health_connections: programs under %s not unpinned\n",
                         pins_->directory().c_str());
    }
    hotgate::health::HealthPins& pins() { return *pins_; }

private:
    // The loader keeps no link fds: the pins are the links' only references.
    void detachPrograms() {
        int detached = 0;
        for (const auto& entry : std::filesystem::directory_iterator(pins_->directory()))
            if (entry.path().filename().string().rfind("link_", 0) == 0) {
                if (::unlink(entry.path().c_str()) != 0)
                    die("unpin " + entry.path().string() + ": " + std::strerror(errno));
                ++detached;
            }
        if (detached == 0) die("no link pins under " + pins_->directory());
    }

    std::unique_ptr<hotgate::health::HealthPins> pins_;
};

// Connections per second of one run with `parts` of the health machinery.
double measure(const std::string& root, Parts parts, double seconds) {
    UniqueFd listener = listenOn(kPort);
    if (parts == Parts::None) return runConnections(listener.get(), seconds).rate();
    Attached programs(root, listener.get(), parts);
    return runConnections(listener.get(), seconds).rate();
}

struct ProgStats {
    unsigned long long run_ns = 0, runs = 0;
    int programs = 0;
};

// Run time of the loaded health_* programs (kernel BPF statistics).
ProgStats healthProgStats() {
    ProgStats out;
    __u32 id = 0;
    while (bpf_prog_get_next_id(id, &id) == 0) {
        UniqueFd fd(bpf_prog_get_fd_by_id(id));
        if (!fd) continue;
        bpf_prog_info info{};
        __u32 len = sizeof(info);
        if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) continue;
        if (std::strncmp(info.name, "health_", 7) != 0) continue;
        out.run_ns += info.run_time_ns;
        out.runs += info.run_cnt;
        ++out.programs;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 11;
    const double seconds = argc > 2 ? std::atof(argv[2]) : 1.0;
    const bool parts = argc > 3 && std::strcmp(argv[3], "parts") == 0;
    if (rounds < 1 || seconds <= 0 || (argc > 3 && !parts) || argc > 4)
        die("usage: bench_health_connections [rounds >= 1] [seconds > 0] [parts]");
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    hotgate::log::routeLibbpfMessages();  // the variant probing's refusals are expected here
    enterPrivateNetns();
    const std::string root = "/sys/fs/bpf/hotgate-bench-hconn-" + std::to_string(::getpid());
    if (auto r = hotgate::dataplane::ensureBpffsRoot(root); !r) die(r.error().what());
    if (healthProgStats().programs != 0)
        std::printf("note: health programs of another process are loaded: they tax both modes alike\n");

    std::vector<double> detached, attached, ratios, mark_costs, program_costs;
    for (int r = 0; r < rounds; ++r) {
        double rate_detached = 0, rate_attached = 0;
        for (int half = 0; half < 2; ++half) {
            const bool attach = (half == 0) == (r % 2 == 1);  // the order alternates per round
            (attach ? rate_attached : rate_detached) = measure(root, attach ? Parts::All : Parts::None, seconds);
        }
        detached.push_back(rate_detached);
        attached.push_back(rate_attached);
        ratios.push_back(rate_attached / rate_detached);
        std::printf("round %2d: detached %8.0f conn/s, attached %8.0f conn/s, ratio %.3f", r + 1, rate_detached,
                    rate_attached, ratios.back());
        if (parts) {
            // Costs against this round's detached rate, in microseconds per connection.
            const double mark = measure(root, Parts::MarkOnly, seconds);
            const double programs = measure(root, Parts::ProgramsOnly, seconds);
            mark_costs.push_back((1 / mark - 1 / rate_detached) * 1e6);
            program_costs.push_back((1 / programs - 1 / rate_detached) * 1e6);
            std::printf("; mark only %8.0f conn/s, programs only %8.0f conn/s", mark, programs);
        }
        std::printf("\n");
    }

    ProgStats before, after;
    double stats_connections = 0;  // warm-up included: the statistics count those runs too
    {
        UniqueFd listener = listenOn(kPort);
        Attached programs(root, listener.get());
        UniqueFd stats(bpf_enable_stats(BPF_STATS_RUN_TIME));
        if (!stats) die(std::string("BPF_ENABLE_STATS: ") + std::strerror(errno));
        before = healthProgStats();
        stats_connections = static_cast<double>(runConnections(listener.get(), seconds).connections + kWarmupConnections);
        after = healthProgStats();
    }
    const double det = median(detached), att = median(attached);
    std::printf("\nconnections per second (one thread, medians of %d rounds): detached %.0f, attached %.0f\n", rounds,
                det, att);
    std::printf("throughput ratio attached/detached: per-round median %.3f (range %.3f-%.3f)\n", median(ratios),
                *std::min_element(ratios.begin(), ratios.end()), *std::max_element(ratios.begin(), ratios.end()));
    std::printf("cost per connection: %.2f us (1/attached - 1/detached, medians)\n", (1 / att - 1 / det) * 1e6);
    if (parts)
        std::printf("  of which (per-round medians): slot mark alone %.2f us, programs alone %.2f us\n",
                    median(mark_costs), median(program_costs));
    const double runs = static_cast<double>(after.runs - before.runs);
    if (runs > 0)
        std::printf("health programs (statistics round): %.1f runs per connection, %.0f ns per run, %.2f us of "
                    "program run time per connection (statistics overhead included)\n",
                    runs / stats_connections, static_cast<double>(after.run_ns - before.run_ns) / runs,
                    static_cast<double>(after.run_ns - before.run_ns) / stats_connections / 1000);
    ::rmdir(root.c_str());
    return 0;
}
