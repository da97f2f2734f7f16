// KeyedUpstreams: a cluster of test upstreams behind a hashing policy, the requests that carry
// numbered keys to it through the gateway, and where each key landed, next to where the
// placement tables say it must land. Shared by the load-balancing and upgrade tests.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proxy/lb/consistent_hash.h"
#include "proxy/lb/key_hash.h"
#include "support/gateway_config.h"
#include "support/http_client.h"
#include "support/test_upstream.h"

namespace hotgate::test {

class KeyedUpstreams {
public:
    static constexpr const char* kHeader = "x-user-id";

    explicit KeyedUpstreams(std::size_t count) {
        for (std::size_t i = 0; i < count; ++i) upstreams_.push_back(std::make_unique<TestUpstream>());
    }

    // The cluster `name` over these upstreams with `policy` hashing x-user-id, and a route
    // /keys/ to it (put first in `config`'s routes).
    void addTo(GatewayConfig& config, const std::string& name, const std::string& policy) const {
        GatewayConfig::Cluster cluster{name, {}, 64};
        for (const auto& upstream : upstreams_) cluster.endpoints.push_back(upstream->address());
        cluster.extra = "    lb: { policy: " + policy + ", hash_key: \"header:" + std::string(kHeader) + "\" }\n";
        config.clusters.push_back(cluster);
        config.routes.insert(config.routes.begin(), {"keys", "{ path_prefix: /keys/ }", name, 0, ""});
    }

    // Where the placement table puts each key 0..count-1: the upstream's port.
    std::map<int, std::uint16_t> expectedPlacement(LbPolicy policy, int count) const {
        ClusterConfig cluster;
        cluster.name = "expected";
        cluster.lb.policy = policy;
        cluster.lb.table_size = 65537;
        for (const auto& upstream : upstreams_)
            cluster.endpoints.push_back({{"127.0.0.1", upstream->port()}, 1});
        auto table = lb::ConsistentHash::build(cluster);
        EXPECT_TRUE(table) << (table ? "" : table.error().message);
        std::map<int, std::uint16_t> placement;
        if (!table) return placement;
        for (int key = 0; key < count; ++key)
            placement[key] = cluster.endpoints[*(*table)->pick(lb::hashKey(std::to_string(key)))].address.port;
        return placement;
    }

    // Sends GET /keys/<round>/<key> with x-user-id: <key> for keys 0..count-1 through the gateway
    // on `port`, over 8 keep-alive connections from 4 threads (so both workers of a two-worker
    // gateway see them). Returns how many answers were not 200.
    static int sendKeys(std::uint16_t port, const std::string& round, int count) {
        constexpr int kThreads = 4;
        std::vector<int> failures(kThreads, 0);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t)
            threads.emplace_back([&, t] {
                HttpClient first(port);
                HttpClient second(port);
                for (int key = t; key < count; key += kThreads) {
                    auto& client = (key / kThreads) % 2 == 0 ? first : second;
                    auto result = client.get("/keys/" + round + "/" + std::to_string(key), {{kHeader, std::to_string(key)}});
                    if (!result.ok() || result.status() != 200) ++failures[t];
                }
            });
        for (auto& thread : threads) thread.join();
        int failed = 0;
        for (int f : failures) failed += f;
        return failed;
    }

    // Where each key of `round` landed (the port of the upstream that saw it), and the keys
    // that landed on more than one upstream (-1).
    std::map<int, std::uint16_t> placement(const std::string& round) const {
        const std::string prefix = "/keys/" + round + "/";
        std::map<int, std::uint16_t> landed;
        for (const auto& upstream : upstreams_)
            for (const auto& request : upstream->requests()) {
                if (request.target.rfind(prefix, 0) != 0) continue;
                const int key = std::stoi(request.target.substr(prefix.size()));
                auto [at, inserted] = landed.emplace(key, upstream->port());
                if (!inserted && at->second != upstream->port()) at->second = 0;
            }
        return landed;
    }

    // Keys of `round` that landed elsewhere than `expected` says (or on two upstreams).
    std::vector<int> misplaced(const std::string& round, const std::map<int, std::uint16_t>& expected) const {
        const auto landed = placement(round);
        std::vector<int> wrong;
        for (const auto& [key, port] : expected) {
            auto at = landed.find(key);
            if (at == landed.end() || at->second != port) wrong.push_back(key);
        }
        return wrong;
    }

    TestUpstream& operator[](std::size_t i) { return *upstreams_[i]; }
    std::size_t size() const { return upstreams_.size(); }

private:
    std::vector<std::unique_ptr<TestUpstream>> upstreams_;
};

}  // namespace hotgate::test
