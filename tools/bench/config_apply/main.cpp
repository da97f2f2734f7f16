// bench_config_apply: what a live config change costs.
//
//   1. apply -> first served: the time from sending ConfigApply (what `gwctl config apply`
//      sends) to the first response, on a keep-alive connection requesting back to back, that
//      carries the new config's hash; median and p99 over 100 applies, each a different body;
//   2. throughput during a burst of applies (back to back, for the same time) relative to
//      steady state, with the same keep-alive clients.
//
// Starts hotgate (HOTGATE_BIN or build/bin/hotgate) on free 127.0.0.1 ports with steering off
// and a control socket in a temp dir, removed at exit.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config_loader.h"
#include "control/control_server.h"
#include "control/fd_passing.h"
#include "bench_stats.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using hotgate::bench::percentile;

constexpr int kApplies = 100;
constexpr int kClients = 2;
constexpr auto kThroughputWindow = 3s;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "bench_config_apply: %s\n", what.c_str());
    std::exit(1);
}

std::uint16_t freePort() {
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

std::string configText(std::uint16_t port, std::uint16_t admin, const std::string& body) {
    return "workers: 2\nadmin: { address: 127.0.0.1:" + std::to_string(admin) +
           " }\ndataplane: { steering: \"off\" }\nlisteners: [ { name: bench, address: 127.0.0.1:" +
           std::to_string(port) +
           " } ]\nconfig_engine: { verification_window: 1s }\nroutes:\n  - name: v\n    match: { path_prefix: / }\n"
           "    direct_response: { status: 200, body: \"" +
           body + "\" }\n";
}

// Back-to-back GETs on one keep-alive connection; records when each answer's hash arrived.
struct Client {
    std::uint16_t port;
    std::atomic<bool>* stop;
    std::atomic<std::uint64_t> answers{0};
    std::mutex mutex;
    std::vector<std::pair<Clock::time_point, std::string>> seen;  // (time, config hash) on change
    bool record = true;

    void run() {
        asio::io_context io;
        beast::tcp_stream stream(io);
        stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        http::request<http::empty_body> request{http::verb::get, "/", 11};
        request.set(http::field::host, "bench");
        beast::flat_buffer buffer;
        std::string last;
        while (!*stop) {
            http::write(stream, request);
            http::response<http::string_body> response;
            http::read(stream, buffer, response);
            answers.fetch_add(1, std::memory_order_relaxed);
            std::string version(response["x-hotgate-version"]);
            std::string hash = version.substr(version.find('/') + 1);
            if (record && hash != last) {
                std::lock_guard lock(mutex);
                seen.emplace_back(Clock::now(), hash);
                last = hash;
            }
        }
    }
};

// kClients clients requesting back to back from construction (after a 300 ms warm-up) until
// stop() or destruction.
class ClientFleet {
public:
    ClientFleet(std::uint16_t port, bool record) {
        for (int c = 0; c < kClients; ++c) {
            clients_.push_back(std::make_unique<Client>());
            clients_.back()->port = port;
            clients_.back()->stop = &stop_;
            clients_.back()->record = record;
        }
        for (auto& c : clients_) threads_.emplace_back([&c] { c->run(); });
        std::this_thread::sleep_for(300ms);  // warm
    }
    ~ClientFleet() { stop(); }
    void stop() {
        stop_ = true;
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }
    std::uint64_t answers() const {
        std::uint64_t n = 0;
        for (const auto& c : clients_) n += c->answers;
        return n;
    }
    const std::vector<std::unique_ptr<Client>>& clients() const { return clients_; }

private:
    std::atomic<bool> stop_{false};
    std::vector<std::unique_ptr<Client>> clients_;
    std::vector<std::thread> threads_;
};

hotgate::control::Message applyConfig(const std::string& socket, const std::string& file) {
    auto fd = hotgate::control::connectControl(socket);
    if (!fd) die(fd.error().message);
    if (auto sent = hotgate::control::sendMessage(fd->get(), hotgate::control::MessageType::ConfigApply,
                                                  {{"path", file}, {"wait", false}});
        !sent)
        die(sent.error().message);
    auto reply = hotgate::control::receiveMessage(fd->get(), 10s);
    if (!reply) die(reply.error().message);
    if (reply->type != hotgate::control::MessageType::Ok) die("apply refused: " + reply->payload.dump());
    return std::move(*reply);
}

// Applies files[first .. first+kApplies) one by one with `apply` while kClients request back to
// back; returns, per apply, the ms from its start to the first answer carrying its hash (empty
// when one never came).
std::vector<double> firstServed(std::uint16_t port, const std::vector<std::string>& files,
                                const std::vector<std::string>& hashes, int first,
                                const std::function<void(const std::string&)>& apply) {
    ClientFleet fleet(port, /*record=*/true);
    std::vector<Clock::time_point> started;
    for (int i = first; i < first + kApplies; ++i) {
        started.push_back(Clock::now());
        apply(files[i]);
        std::this_thread::sleep_for(20ms);  // well past the first answer of the new snapshot
    }
    fleet.stop();
    std::vector<double> out;
    for (int i = first; i < first + kApplies; ++i) {
        std::optional<Clock::time_point> seen;
        for (const auto& c : fleet.clients())
            for (const auto& [at, hash] : c->seen)
                if (hash == hashes[i] && at >= started[i - first] && (!seen || at < *seen)) seen = at;
        if (!seen) return {};
        out.push_back(std::chrono::duration<double, std::milli>(*seen - started[i - first]).count());
    }
    return out;
}

double throughput(std::uint16_t port, const std::function<void(std::atomic<bool>&)>& during) {
    ClientFleet fleet(port, /*record=*/false);
    const std::uint64_t before = fleet.answers();
    const auto started = Clock::now();
    std::atomic<bool> burst_stop{false};
    std::thread side([&] { during(burst_stop); });
    std::this_thread::sleep_for(kThroughputWindow);
    const std::uint64_t after = fleet.answers();
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    burst_stop = true;
    side.join();
    fleet.stop();
    return double(after - before) / seconds;
}

}  // namespace

int main() {
    const char* env_bin = std::getenv("HOTGATE_BIN");
    const std::string binary = env_bin ? env_bin : std::string(HOTGATE_BIN_DIR) + "/hotgate";
    const auto dir = std::filesystem::temp_directory_path() / ("hotgate-bench-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto port = freePort();
    const auto admin = freePort();
    const std::string socket = (dir / "control.sock").string();

    std::vector<std::string> files;
    std::vector<std::string> hashes;
    for (int i = 0; i <= 2 * kApplies; ++i) {
        const auto file = dir / ("config-" + std::to_string(i) + ".yaml");
        std::ofstream(file) << configText(port, admin, "v" + std::to_string(i));
        auto loaded = hotgate::loadConfigFile(file.string());
        if (!loaded) die(hotgate::formatProblems(loaded.error()));
        files.push_back(file.string());
        hashes.push_back((*loaded)->hash);
    }

    const pid_t child = ::fork();
    if (child == 0) {
        const std::string log = (dir / "hotgate.log").string();
        std::freopen(log.c_str(), "w", stderr);
        std::freopen(log.c_str(), "a", stdout);
        ::execl(binary.c_str(), binary.c_str(), "--config", files[0].c_str(), "--control-socket", socket.c_str(),
                "--log-level", "warn", static_cast<char*>(nullptr));
        std::_Exit(127);
    }
    auto cleanup = [&] {
        ::kill(child, SIGTERM);
        ::waitpid(child, nullptr, 0);
        std::filesystem::remove_all(dir);
    };
    for (int i = 0; i < 200 && !hotgate::control::connectControl(socket); ++i) std::this_thread::sleep_for(25ms);

    // 1. apply -> first served: over the control socket as gwctl sends it, then through the
    //    gwctl binary itself (its process start included).
    std::vector<double> server_apply_us;
    const auto direct_ms = firstServed(port, files, hashes, 1, [&](const std::string& file) {
        auto reply = applyConfig(socket, file);
        server_apply_us.push_back(reply.payload.value("apply_us", 0.0));
    });
    const std::string gwctl = std::string(HOTGATE_BIN_DIR) + "/gwctl";
    const auto gwctl_ms = firstServed(port, files, hashes, 1 + kApplies, [&](const std::string& file) {
        const std::string command = "'" + gwctl + "' --control '" + socket + "' config apply '" + file + "' >/dev/null";
        if (std::system(command.c_str()) != 0) die("gwctl config apply " + file + " failed");
    });
    if (direct_ms.empty() || gwctl_ms.empty()) {
        cleanup();
        die("an applied config never served a request");
    }

    // 2. throughput, steady and during a burst of applies.
    const double steady = throughput(port, [](std::atomic<bool>&) {});
    int burst_applies = 0;
    const double burst = throughput(port, [&](std::atomic<bool>& done) {
        while (!done) applyConfig(socket, files[1 + burst_applies++ % 2]);
    });
    cleanup();

    std::printf("config apply -> first request served by the new snapshot, %d applies each, %d keep-alive clients:\n",
                kApplies, kClients);
    std::printf("  ConfigApply message:  median %.2f ms   p99 %.2f ms   max %.2f ms   (in-server apply: median %.0f us, "
                "p99 %.0f us)\n",
                percentile(direct_ms, 0.5), percentile(direct_ms, 0.99), percentile(direct_ms, 1.0),
                percentile(server_apply_us, 0.5), percentile(server_apply_us, 0.99));
    std::printf("  gwctl config apply:   median %.2f ms   p99 %.2f ms   max %.2f ms\n", percentile(gwctl_ms, 0.5),
                percentile(gwctl_ms, 0.99), percentile(gwctl_ms, 1.0));
    std::printf("throughput, %d keep-alive clients for %llds each:\n", kClients,
                static_cast<long long>(kThroughputWindow.count()));
    std::printf("  steady %.0f req/s   during a burst of %d applies %.0f req/s   ratio %.2f\n", steady, burst_applies,
                burst, burst / steady);
    return 0;
}
