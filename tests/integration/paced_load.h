// PacedLoad: threads that each send a GET on their own keep-alive connection every `period`
// (or as soon as the last answer came, when that took longer), for at most `limit`, counting
// the answers by what protection did with them. Bounded: it stops by itself at `limit`.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "support/http_client.h"

namespace hotgate::test {

class PacedLoad {
public:
    struct Counts {
        int ok = 0;
        int shed_l2 = 0;   // 503 with x-hotgate-shed: L2
        int shed_l3 = 0;   // 503 with x-hotgate-shed: L3
        int limited = 0;   // 429
        int other = 0;     // any other status, or no answer
    };

    PacedLoad(std::uint16_t port, std::string target, int threads, std::chrono::milliseconds period,
              std::chrono::milliseconds limit = std::chrono::seconds(30)) {
        const auto until = std::chrono::steady_clock::now() + limit;
        for (int t = 0; t < threads; ++t)
            threads_.emplace_back([this, port, target, period, until] {
                HttpClient client(port);
                while (!stop_.load() && std::chrono::steady_clock::now() < until) {
                    const auto next = std::chrono::steady_clock::now() + period;
                    record(client.get(target));
                    std::this_thread::sleep_until(next);
                }
            });
    }
    ~PacedLoad() { stop(); }
    PacedLoad(const PacedLoad&) = delete;
    PacedLoad& operator=(const PacedLoad&) = delete;

    void stop() {
        stop_ = true;
        for (auto& thread : threads_)
            if (thread.joinable()) thread.join();
    }

    Counts counts() const {
        return {ok_.load(), shed_l2_.load(), shed_l3_.load(), limited_.load(), other_.load()};
    }

private:
    void record(const HttpResult& result) {
        if (!result.ok()) {
            ++other_;
            return;
        }
        const unsigned status = result.status();
        const std::string shed = result.header("x-hotgate-shed");
        if (status == 200)
            ++ok_;
        else if (status == 503 && shed == "L2")
            ++shed_l2_;
        else if (status == 503 && shed == "L3")
            ++shed_l3_;
        else if (status == 429)
            ++limited_;
        else
            ++other_;
    }

    std::atomic<bool> stop_{false};
    std::atomic<int> ok_{0}, shed_l2_{0}, shed_l3_{0}, limited_{0}, other_{0};
    std::vector<std::thread> threads_;
};

}  // namespace hotgate::test
