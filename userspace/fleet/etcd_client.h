// EtcdClient: the few etcd v3 calls a hotgate host makes (docs/fleet.md), over etcd's JSON
// gateway (HTTP/1.1, POST /v3/...): read a key, put one (under a lease), grant and keep alive a
// lease, and watch a key from a revision. Keys and values travel base64; 64-bit numbers as
// strings; absent fields mean zero. Calls block, each bounded by the client's timeout, and go
// to the endpoints in order until one answers. Leader-less members refuse at once (the
// `hasleader` metadata), so a partitioned member does not look like a quiet one.
//
// With TLS (config_source.etcd.tls) the endpoints are https:// and each member's certificate
// is verified against the CA file and the URL's host; a client certificate is sent when given.
//
// Contract: one thread uses an instance; interruptWatch() may be called from any other.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "config/config.h"

namespace boost::asio::ssl {
class context;
}

namespace hotgate::fleet {

struct EtcdValue {
    std::string value;
    std::int64_t mod_revision = 0;
};

// A read: the store's revision when it was served, and the key's value if it exists.
struct EtcdRead {
    std::int64_t revision = 0;
    std::optional<EtcdValue> kv;
};

// A read of several keys, and the store's revision when it was served.
struct EtcdList {
    std::int64_t revision = 0;
    std::vector<std::pair<std::string, EtcdValue>> kvs;
};

// Why a watch ended.
struct WatchEnd {
    enum class Kind {
        Interrupted,  // interruptWatch()
        Compacted,    // start_revision was compacted: read the key again, watch from compact_revision
        Failed,       // the connection or the member failed: reconnect
    };
    Kind kind = Kind::Failed;
    std::int64_t compact_revision = 0;
    std::string error;
};

class EtcdClient {
public:
    // `endpoints`: "http://host:port", or "https://host:port" with `tls`
    // (config_source.etcd). The TLS files are read here; when one cannot be, every call fails
    // saying so.
    explicit EtcdClient(std::vector<std::string> endpoints,
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(3000),
                        const std::optional<EtcdTlsConfig>& tls = std::nullopt);

    Result<EtcdRead> get(const std::string& key);
    // Every key that starts with `prefix`, with its value, in key order.
    Result<EtcdList> list(const std::string& prefix);
    // Returns the revision of the put. `lease` 0: none.
    Result<std::int64_t> put(const std::string& key, const std::string& value, std::int64_t lease = 0);
    // Puts every pair of `puts` in one transaction if each key of `unchanged` still has its
    // mod_revision (0: the key is absent); false when one moved (nothing is written then).
    Result<bool> putIfUnchanged(const std::vector<std::pair<std::string, std::string>>& puts,
                                const std::vector<std::pair<std::string, std::int64_t>>& unchanged);
    // Returns the lease id.
    Result<std::int64_t> grantLease(std::chrono::seconds ttl);
    // Renews `lease`; false when etcd no longer has it (expired or revoked).
    Result<bool> keepAlive(std::int64_t lease);

    // Calls `on_change(mod_revision)` for every change of `key` (put or delete) from
    // `start_revision` on, in revision order, until interrupted or the watch fails. Blocks.
    // With `prefix`, every key that starts with `key`.
    WatchEnd watch(const std::string& key, std::int64_t start_revision,
                   const std::function<void(std::int64_t mod_revision)>& on_change, bool prefix = false);
    // Ends a watch() in progress (and the next one, until it starts): any thread.
    void interruptWatch();
    void resumeWatch() { interrupted_ = false; }

    // The endpoint that answered last (for messages).
    std::string endpoint() const { return endpoints_[current_]; }

private:
    struct Reply {
        unsigned status = 0;
        std::string body;
    };
    // POSTs `body` to `path` on the endpoints in turn, from the one that answered last.
    Result<Reply> call(const std::string& path, const std::string& body);
    // A /v3/kv/range `request`; `what` names it in errors ("read of /p/config").
    Result<EtcdList> range(const nlohmann::json& request, const std::string& what);
    // The watch's request and stream on a connected `stream` (TCP, or TLS over it).
    template <typename Stream>
    WatchEnd watchOn(Stream& stream, const std::string& url, const std::string& body,
                     const std::function<void(std::int64_t)>& on_change);

    std::vector<std::string> endpoints_;
    std::size_t current_ = 0;
    std::chrono::milliseconds timeout_;
    std::shared_ptr<boost::asio::ssl::context> tls_;  // null: plain HTTP
    std::string tls_error_;                          // why the TLS files could not be used
    std::mutex watch_mutex_;
    int watch_fd_ = -1;  // the watch's socket, for interruptWatch()
    std::atomic<bool> interrupted_{false};
};

}  // namespace hotgate::fleet
