// bench_steering: measures what a cutover costs and what steering costs per connection.
//
//   1. control-entry update latency: median/p99 of the one bpf_map_update_elem that is the
//      cutover (and of SteerPins::cutover(), which checks the slot first);
//   2. new-connection accept rate through steer_select vs plain SO_REUSEPORT (ratio);
//   3. time from the control-entry write to the first connection accepted by the new slot,
//      with a client connecting continuously.
//
// Runs in its own network namespace on 127.0.0.1 with a private bpffs root, removed at exit.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_net.h"
#include "bench_stats.h"
#include "dataplane/bpffs.h"
#include "dataplane/steer_loader.h"

namespace {

using Clock = std::chrono::steady_clock;
using hotgate::UniqueFd;
using namespace hotgate::bench;
using namespace hotgate::dataplane;

constexpr int kWorkers = 2;  // listeners per slot, accept threads per group

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

void resetClose(int fd) {
    linger lg{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    ::close(fd);
}

// One accept thread per listener until stop(). The listeners stay usable afterwards
// (shutdown() would close a listening socket for good), so threads poll with a timeout.
class Acceptors {
public:
    explicit Acceptors(const std::vector<int>& listeners) : listeners_(listeners), counts_(listeners.size()) {
        for (size_t i = 0; i < listeners.size(); ++i) {
            threads_.emplace_back([this, i] {
                while (!stop_.load(std::memory_order_relaxed)) {
                    pollfd p{listeners_[i], POLLIN, 0};
                    if (::poll(&p, 1, 20) <= 0) continue;
                    int c = ::accept4(listeners_[i], nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
                    if (c < 0) continue;
                    auto now = Clock::now().time_since_epoch().count();
                    long long expected = 0;
                    first_accept_[i].compare_exchange_strong(expected, now);
                    counts_[i].fetch_add(1, std::memory_order_relaxed);
                    resetClose(c);
                }
            });
        }
    }
    ~Acceptors() { stop(); }
    void stop() {
        stop_ = true;
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }
    uint64_t total() const {
        uint64_t n = 0;
        for (auto& c : counts_) n += c.load();
        return n;
    }
    void resetFirst() {
        for (auto& f : first_accept_) f.store(0);
    }
    // Steady-clock ticks of the first accept on listener i since resetFirst(); 0 if none.
    long long firstAccept(size_t i) const { return first_accept_[i].load(); }

private:
    std::vector<int> listeners_;
    std::atomic<bool> stop_{false};
    std::vector<std::atomic<uint64_t>> counts_;
    std::atomic<long long> first_accept_[64] = {};
    std::vector<std::thread> threads_;
};

// Connects to 127.0.0.1:port from `threads` threads until `stop`; returns connections made.
uint64_t connectLoop(uint16_t port, int threads, const std::atomic<bool>& stop) {
    std::atomic<uint64_t> made{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&] {
            sockaddr_in a = loopback(port);
            while (!stop.load(std::memory_order_relaxed)) {
                int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) made.fetch_add(1);
                resetClose(fd);
            }
        });
    }
    for (auto& t : ts) t.join();
    return made.load();
}

// CPU seconds (user + system) this process has used so far.
double cpuSeconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Rate {
    double per_second = 0;      // accepted connections per wall-clock second
    double per_cpu_second = 0;  // per CPU second of this process (client, server and the
                                // loopback softirq work done in their context): robust when
                                // other jobs share the machine
};

// Accept rate on `listeners` over `seconds`, 2 client threads.
Rate acceptRate(const std::vector<int>& listeners, uint16_t port, double seconds) {
    Acceptors acceptors(listeners);
    std::atomic<bool> stop{false};
    std::thread clients([&] { connectLoop(port, kWorkers, stop); });
    auto start = Clock::now();
    double cpu_start = cpuSeconds();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    uint64_t accepted = acceptors.total();
    auto elapsed = Clock::now() - start;
    double cpu = cpuSeconds() - cpu_start;
    stop = true;
    clients.join();
    acceptors.stop();
    return Rate{accepted / std::chrono::duration<double>(elapsed).count(), cpu > 0 ? accepted / cpu : 0};
}

}  // namespace

int main(int argc, char** argv) {
    // Usage: bench_steering [rounds (default 9)] [seconds per accept-rate run (default 1)]
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 9;
    const double seconds = argc > 2 ? std::atof(argv[2]) : 1.0;
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    enterPrivateNetns();
    const std::string root = "/sys/fs/bpf/hotgate-bench-" + std::to_string(::getpid());

    constexpr uint16_t kSteerPort = 18080, kPlainPort = 18081;
    std::vector<UniqueFd> slot0, slot1, plain;
    std::vector<int> slot0_fds, slot1_fds, plain_fds;
    for (int i = 0; i < kWorkers; ++i) {
        slot0.push_back(listenOnLoopback(kSteerPort, SO_REUSEPORT, 4096));
        slot0_fds.push_back(slot0.back().get());
        slot1.push_back(listenOnLoopback(kSteerPort, SO_REUSEPORT, 4096));
        slot1_fds.push_back(slot1.back().get());
        plain.push_back(listenOnLoopback(kPlainPort, SO_REUSEPORT, 4096));
        plain_fds.push_back(plain.back().get());
    }
    auto a = SteerLoader::attachListener("bench", slot0_fds, 0, true, root);
    if (!a) die(a.error().what());
    auto b = SteerLoader::attachListener("bench", slot1_fds, 1, false, root);
    if (!b) die(b.error().what());
    SteerPins& pins = (*a)->pins();

    // 1. Control-entry update latency.
    std::vector<double> raw, checked;
    __u32 key = 0;
    for (int i = 0; i < 20000; ++i) {
        steer_control c{};
        c.active_slot = static_cast<__u8>(i & 1);
        c.canary_slot = c.active_slot;
        c.generation = static_cast<__u32>(i);
        auto t0 = Clock::now();
        int err = bpf_map_update_elem(pins.ctlMapFd(), &key, &c, BPF_ANY);
        raw.push_back(micros(Clock::now() - t0));
        if (err != 0) die("update steer_ctl_map");
    }
    for (int i = 0; i < 2000; ++i) {
        auto t0 = Clock::now();
        auto r = pins.cutover(static_cast<uint32_t>(i & 1));
        checked.push_back(micros(Clock::now() - t0));
        if (!r) die(r.error().what());
    }
    if (!pins.cutover(0)) die("cutover to slot 0");
    std::printf("control-entry update (bpf_map_update_elem, 20000 writes): median %.2f us, p99 %.2f us\n",
                percentile(raw, 0.5), percentile(raw, 0.99));
    std::printf("SteerPins::cutover() incl. live-socket check (2000 calls): median %.2f us, p99 %.2f us\n",
                percentile(checked, 0.5), percentile(checked, 0.99));

    // 2. Accept rate, steering vs plain SO_REUSEPORT. Rounds alternate which goes first and
    // the ratio is taken per round, so drift in machine load cancels out of the median.
    std::vector<double> steer_rates, plain_rates, ratios, cpu_ratios;
    for (int r = 0; r < rounds; ++r) {
        Rate plain_rate, steer_rate;
        if (r % 2 == 0) {
            plain_rate = acceptRate(plain_fds, kPlainPort, seconds);
            steer_rate = acceptRate(slot0_fds, kSteerPort, seconds);
        } else {
            steer_rate = acceptRate(slot0_fds, kSteerPort, seconds);
            plain_rate = acceptRate(plain_fds, kPlainPort, seconds);
        }
        plain_rates.push_back(plain_rate.per_second);
        steer_rates.push_back(steer_rate.per_second);
        ratios.push_back(steer_rate.per_second / plain_rate.per_second);
        cpu_ratios.push_back(steer_rate.per_cpu_second / plain_rate.per_cpu_second);
    }
    std::printf("accept rate (%d rounds x %.1f s, 2 client threads, %d listeners): steering %.0f/s, "
                "plain SO_REUSEPORT %.0f/s (medians), ratio %.3f (median of per-round ratios; "
                "min %.3f, max %.3f)\n",
                rounds, seconds, kWorkers, percentile(steer_rates, 0.5), percentile(plain_rates, 0.5),
                percentile(ratios, 0.5), percentile(ratios, 0.0), percentile(ratios, 1.0));
    std::printf("accepts per CPU-second, steering / plain: ratio %.3f (median; min %.3f, max %.3f)\n",
                percentile(cpu_ratios, 0.5), percentile(cpu_ratios, 0.0), percentile(cpu_ratios, 1.0));

    // 3. Write -> first accept on the new slot, continuous client load.
    std::vector<int> all = slot0_fds;
    all.insert(all.end(), slot1_fds.begin(), slot1_fds.end());
    std::vector<double> switch_us;
    {
        Acceptors acceptors(all);
        std::atomic<bool> stop{false};
        std::thread clients([&] { connectLoop(kSteerPort, 1, stop); });
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        for (int i = 0; i < 40; ++i) {
            uint32_t to = (i % 2 == 0) ? 1 : 0;
            acceptors.resetFirst();
            steer_control c{};
            c.active_slot = static_cast<__u8>(to);
            c.canary_slot = c.active_slot;
            c.generation = static_cast<__u32>(100000 + i);
            auto t0 = Clock::now();
            if (bpf_map_update_elem(pins.ctlMapFd(), &key, &c, BPF_ANY) != 0) die("update steer_ctl_map");
            long long first = 0;
            for (int spin = 0; spin < 200000 && first == 0; ++spin) {
                for (size_t l = 0; l < all.size(); ++l) {
                    bool in_new_slot = (l >= slot0_fds.size()) == (to == 1);
                    long long f = acceptors.firstAccept(l);
                    if (in_new_slot && f != 0 && (first == 0 || f < first)) first = f;
                }
                if (first == 0) std::this_thread::sleep_for(std::chrono::microseconds(10));
            }
            if (first == 0) die("no connection reached the new slot");
            switch_us.push_back(micros(Clock::duration(first) - t0.time_since_epoch()));
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        stop = true;
        clients.join();
        acceptors.stop();
    }
    std::printf("write -> first accept on the new slot (40 flips, 1 client thread): median %.1f us, "
                "p99 %.1f us\n",
                percentile(switch_us, 0.5), percentile(switch_us, 0.99));

    a->reset();
    b->reset();
    slot0.clear();
    slot1.clear();
    (void)removePinTree(root);
    return 0;
}
