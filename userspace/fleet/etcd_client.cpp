#include "fleet/etcd_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <type_traits>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "telemetry/http_endpoint.h"

namespace hotgate::fleet {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// "https://h:p" is parsed as "http://h:p": the scheme only says whether TLS runs on top.
std::string plainUrl(const std::string& url) {
    return url.starts_with("https://") ? "http://" + url.substr(8) : url;
}

// etcd's numbers are JSON strings, and absent when zero.
std::int64_t numberField(const nlohmann::json& object, const char* name) {
    const auto found = object.find(name);
    if (found == object.end()) return 0;
    if (found->is_number_integer()) return found->get<std::int64_t>();
    if (!found->is_string()) return 0;
    try {
        return std::stoll(found->get<std::string>());
    } catch (const std::exception&) {
        return 0;
    }
}

std::string decoded(const nlohmann::json& object, const char* name) {
    const auto found = object.find(name);
    if (found == object.end() || !found->is_string()) return {};
    auto bytes = decodeBase64(found->get<std::string>());
    return bytes ? *bytes : std::string();
}

// A connected stream to `url` within `timeout`, with TCP keepalive: a member that vanishes
// without a reset (a partition) is noticed within ~10 s. (No receive timeout on the socket:
// those are the health profile's version marks, health/version_mark.h.)
Result<void> connectTo(beast::tcp_stream& stream, const std::string& url, std::chrono::milliseconds timeout) {
    auto endpoint = telemetry::parseHttpEndpoint(plainUrl(url));
    if (!endpoint) return fail("etcd endpoint ", url, ": ", endpoint.error().message);
    error_code ec;
    const auto address = asio::ip::make_address(endpoint->host, ec);
    if (ec) return fail("etcd endpoint ", url, ": the host must be an IP address");
    stream.expires_after(timeout);
    stream.async_connect(tcp::endpoint(address, static_cast<unsigned short>(std::stoi(endpoint->port))),
                         [&ec](error_code e) { ec = e; });
    auto& io = static_cast<asio::io_context&>(stream.get_executor().context());
    io.run();
    io.restart();
    if (ec) return fail("etcd ", url, ": connect: ", ec.message());
    const int fd = stream.socket().native_handle();
    const int on = 1, idle = 5, interval = 2, count = 3;
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
    return {};
}

// The TLS handshake on a connected stream; the member's certificate must be for the URL's host
// (an IP address SAN for an address).
Result<void> handshake(TlsStream& stream, const std::string& url, std::chrono::milliseconds timeout) {
    auto endpoint = telemetry::parseHttpEndpoint(plainUrl(url));
    if (!endpoint) return fail("etcd endpoint ", url, ": ", endpoint.error().message);
    stream.set_verify_callback(asio::ssl::host_name_verification(endpoint->host));
    error_code ec;
    beast::get_lowest_layer(stream).expires_after(timeout);
    stream.async_handshake(asio::ssl::stream_base::client, [&ec](error_code e) { ec = e; });
    auto& io = static_cast<asio::io_context&>(stream.get_executor().context());
    io.run();
    io.restart();
    if (ec) return fail("etcd ", url, ": TLS handshake: ", ec.message());
    return {};
}

// A stream to `url` within `timeout`: connected, and with TLS shaken hands.
template <typename Stream>
Result<void> open(Stream& stream, const std::string& url, std::chrono::milliseconds timeout) {
    if (auto connected = connectTo(beast::get_lowest_layer(stream), url, timeout); !connected) return connected;
    if constexpr (std::is_same_v<Stream, TlsStream>) return handshake(stream, url, timeout);
    return {};
}

http::request<http::string_body> postRequest(const std::string& url, const std::string& path, std::string body) {
    http::request<http::string_body> request{http::verb::post, path, 11};
    request.set(http::field::host, url.substr(url.find("//") + 2));
    request.set(http::field::content_type, "application/json");
    request.set("grpc-metadata-hasleader", "true");  // a member without a leader refuses at once
    request.keep_alive(false);
    request.body() = std::move(body);
    request.prepare_payload();
    return request;
}

// The end of the range of keys that start with `prefix`: the prefix with its last byte + 1
// ("\0", every key, when there is no such byte).
std::string prefixEnd(std::string prefix) {
    while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
    if (prefix.empty()) return std::string(1, '\0');
    prefix.back() = static_cast<char>(prefix.back() + 1);
    return prefix;
}

// The message of an etcd error body ({"error", "message", "code"}), or the body itself.
std::string errorText(const std::string& body) {
    const auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_object() && json.contains("message") && json["message"].is_string())
        return json["message"].get<std::string>();
    return body.substr(0, 200);
}


// One request and its response on a fresh stream to `url`.
template <typename Stream>
Result<http::response<http::string_body>> exchange(Stream& stream, const std::string& url, const std::string& path,
                                                   const std::string& body, std::chrono::milliseconds timeout) {
    if (auto opened = open(stream, url, timeout); !opened) return tl::unexpected(opened.error());
    // Write and read under one bound (tcp_stream's expiry).
    auto request = postRequest(url, path, body);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    error_code ec;
    beast::get_lowest_layer(stream).expires_after(timeout);
    http::async_write(stream, request, [&](error_code e, std::size_t) {
        if ((ec = e)) return;
        http::async_read(stream, buffer, response, [&](error_code e2, std::size_t) { ec = e2; });
    });
    static_cast<asio::io_context&>(stream.get_executor().context()).run();
    if (ec) return fail("etcd ", url, " ", path, ": ", ec.message());
    return response;
}

}  // namespace

EtcdClient::EtcdClient(std::vector<std::string> endpoints, std::chrono::milliseconds timeout,
                       const std::optional<EtcdTlsConfig>& tls)
    : endpoints_(std::move(endpoints)), timeout_(timeout) {
    if (!tls) return;
    tls_ = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    tls_->set_verify_mode(asio::ssl::verify_peer);
    error_code ec;
    if (tls_->load_verify_file(tls->ca_file, ec); ec) {
        tls_error_ = "etcd tls: ca_file " + tls->ca_file + ": " + ec.message();
        return;
    }
    if (tls->cert_file.empty()) return;
    if (tls_->use_certificate_chain_file(tls->cert_file, ec); ec)
        tls_error_ = "etcd tls: cert_file " + tls->cert_file + ": " + ec.message();
    else if (tls_->use_private_key_file(tls->key_file, asio::ssl::context::pem, ec); ec)
        tls_error_ = "etcd tls: key_file " + tls->key_file + ": " + ec.message();
}

Result<EtcdClient::Reply> EtcdClient::call(const std::string& path, const std::string& body) {
    if (!tls_error_.empty()) return fail(tls_error_);
    std::string errors;
    for (std::size_t tried = 0; tried < endpoints_.size(); ++tried) {
        const std::size_t index = (current_ + tried) % endpoints_.size();
        const std::string& url = endpoints_[index];
        asio::io_context io;
        Result<http::response<http::string_body>> response = fail("unreached");
        if (tls_) {
            TlsStream stream(io, *tls_);
            response = exchange(stream, url, path, body, timeout_);
        } else {
            beast::tcp_stream stream(io);
            response = exchange(stream, url, path, body, timeout_);
        }
        if (!response) {
            errors += (errors.empty() ? "" : "; ") + response.error().message;
            continue;
        }
        // Unavailable (no leader, shutting down): another member may serve.
        if (response->result_int() == 503) {
            errors += (errors.empty() ? "" : "; ") + ("etcd " + url + " " + path + ": " + errorText(response->body()));
            continue;
        }
        current_ = index;
        return Reply{response->result_int(), std::move(response->body())};
    }
    return fail(errors.empty() ? "no etcd endpoint configured" : errors);
}

Result<EtcdList> EtcdClient::range(const nlohmann::json& request, const std::string& what) {
    auto reply = call("/v3/kv/range", request.dump());
    if (!reply) return tl::unexpected(reply.error());
    if (reply->status != 200) return fail("etcd ", what, ": ", reply->status, " ", errorText(reply->body));
    const auto json = nlohmann::json::parse(reply->body, nullptr, false);
    if (!json.is_object()) return fail("etcd ", what, ": not JSON: ", reply->body.substr(0, 200));
    EtcdList out;
    out.revision = numberField(json.value("header", nlohmann::json::object()), "revision");
    for (const auto& kv : json.value("kvs", nlohmann::json::array()))
        out.kvs.emplace_back(decoded(kv, "key"), EtcdValue{decoded(kv, "value"), numberField(kv, "mod_revision")});
    return out;
}

Result<EtcdRead> EtcdClient::get(const std::string& key) {
    auto listed = range({{"key", encodeBase64(key)}}, "read of " + key);
    if (!listed) return tl::unexpected(listed.error());
    EtcdRead read{listed->revision, std::nullopt};
    if (!listed->kvs.empty()) read.kv = std::move(listed->kvs.front().second);
    return read;
}

Result<EtcdList> EtcdClient::list(const std::string& prefix) {
    return range({{"key", encodeBase64(prefix)}, {"range_end", encodeBase64(prefixEnd(prefix))}}, "list of " + prefix);
}

Result<std::int64_t> EtcdClient::put(const std::string& key, const std::string& value, std::int64_t lease) {
    nlohmann::json body{{"key", encodeBase64(key)}, {"value", encodeBase64(value)}};
    if (lease != 0) body["lease"] = std::to_string(lease);
    auto reply = call("/v3/kv/put", body.dump());
    if (!reply) return tl::unexpected(reply.error());
    if (reply->status != 200) return fail("etcd put of ", key, ": ", reply->status, " ", errorText(reply->body));
    const auto json = nlohmann::json::parse(reply->body, nullptr, false);
    return json.is_object() ? numberField(json.value("header", nlohmann::json::object()), "revision") : 0;
}

Result<bool> EtcdClient::putIfUnchanged(const std::vector<std::pair<std::string, std::string>>& puts,
                                        const std::vector<std::pair<std::string, std::int64_t>>& unchanged) {
    nlohmann::json body{{"compare", nlohmann::json::array()}, {"success", nlohmann::json::array()}};
    for (const auto& [key, revision] : unchanged)
        body["compare"].push_back({{"key", encodeBase64(key)},
                                   {"target", "MOD"},
                                   {"result", "EQUAL"},
                                   {"mod_revision", std::to_string(revision)}});
    for (const auto& [key, value] : puts)
        body["success"].push_back({{"request_put", {{"key", encodeBase64(key)}, {"value", encodeBase64(value)}}}});
    auto reply = call("/v3/kv/txn", body.dump());
    if (!reply) return tl::unexpected(reply.error());
    if (reply->status != 200) return fail("etcd transaction: ", reply->status, " ", errorText(reply->body));
    const auto json = nlohmann::json::parse(reply->body, nullptr, false);
    return json.is_object() && json.value("succeeded", false);
}

Result<std::int64_t> EtcdClient::grantLease(std::chrono::seconds ttl) {
    auto reply = call("/v3/lease/grant", nlohmann::json{{"TTL", std::to_string(ttl.count())}}.dump());
    if (!reply) return tl::unexpected(reply.error());
    const auto json = nlohmann::json::parse(reply->body, nullptr, false);
    if (reply->status != 200 || !json.is_object() || numberField(json, "ID") == 0)
        return fail("etcd lease grant: ", reply->status, " ", errorText(reply->body));
    return numberField(json, "ID");
}

Result<bool> EtcdClient::keepAlive(std::int64_t lease) {
    auto reply = call("/v3/lease/keepalive", nlohmann::json{{"ID", std::to_string(lease)}}.dump());
    if (!reply) return tl::unexpected(reply.error());
    if (reply->status != 200) return fail("etcd lease keepalive: ", reply->status, " ", errorText(reply->body));
    // One streamed message: {"result": {..., "TTL": "10"}}; no TTL: the lease is gone.
    const auto line = reply->body.substr(0, reply->body.find('\n'));
    const auto json = nlohmann::json::parse(line, nullptr, false);
    if (!json.is_object()) return fail("etcd lease keepalive: not JSON: ", line.substr(0, 200));
    return numberField(json.value("result", nlohmann::json::object()), "TTL") > 0;
}

void EtcdClient::interruptWatch() {
    interrupted_ = true;
    std::lock_guard lock(watch_mutex_);
    if (watch_fd_ >= 0) ::shutdown(watch_fd_, SHUT_RDWR);
}

WatchEnd EtcdClient::watch(const std::string& key, std::int64_t start_revision,
                           const std::function<void(std::int64_t)>& on_change, bool prefix) {
    nlohmann::json create{{"key", encodeBase64(key)}, {"start_revision", std::to_string(start_revision)}};
    if (prefix) create["range_end"] = encodeBase64(prefixEnd(key));
    const std::string body = nlohmann::json{{"create_request", create}}.dump();
    if (!tls_error_.empty()) return {WatchEnd::Kind::Failed, 0, tls_error_};
    std::string errors = "no etcd endpoint configured";
    for (std::size_t tried = 0; tried < endpoints_.size() && !interrupted_; ++tried) {
        const std::size_t index = (current_ + tried) % endpoints_.size();
        const std::string& url = endpoints_[index];
        asio::io_context io;
        auto watchWith = [&](auto& stream) -> std::optional<WatchEnd> {
            if (auto opened = open(stream, url, timeout_); !opened) {
                errors = tried == 0 ? opened.error().message : errors + "; " + opened.error().message;
                return std::nullopt;
            }
            current_ = index;
            return watchOn(stream, url, body, on_change);
        };
        std::optional<WatchEnd> end;
        if (tls_) {
            TlsStream stream(io, *tls_);
            end = watchWith(stream);
        } else {
            beast::tcp_stream stream(io);
            end = watchWith(stream);
        }
        if (end) return *end;
    }
    if (interrupted_) return {WatchEnd::Kind::Interrupted, 0, {}};
    return {WatchEnd::Kind::Failed, 0, errors};
}

template <typename Stream>
WatchEnd EtcdClient::watchOn(Stream& stream, const std::string& url, const std::string& body,
                             const std::function<void(std::int64_t)>& on_change) {
    WatchEnd end;
    auto& lowest = beast::get_lowest_layer(stream);
    lowest.expires_never();
    {
        std::lock_guard lock(watch_mutex_);
        watch_fd_ = lowest.socket().native_handle();
    }
    if (interrupted_) ::shutdown(watch_fd_, SHUT_RDWR);  // asked while connecting
    error_code ec;
    auto request = postRequest(url, "/v3/watch", body);
    http::write(stream, request, ec);  // small: it fits the socket's buffer at once
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    std::string lines;  // the de-chunked stream: one JSON message a line
    char chunk[16 * 1024];
    end.kind = WatchEnd::Kind::Failed;
    while (!ec) {
        parser.get().body().data = chunk;
        parser.get().body().size = sizeof chunk;
        http::read_some(stream, buffer, parser, ec);  // blocks until etcd says something
        if (ec == http::error::need_buffer) ec = {};
        if (ec) break;
        if (parser.is_header_done() && parser.get().result_int() != 200) {
            end.error = "etcd " + url + " watch: status " + std::to_string(parser.get().result_int());
            break;
        }
        lines.append(chunk, sizeof chunk - parser.get().body().size);
        std::size_t newline;
        bool done = false;
        while (!done && (newline = lines.find('\n')) != std::string::npos) {
            const auto message = nlohmann::json::parse(lines.substr(0, newline), nullptr, false);
            lines.erase(0, newline + 1);
            if (!message.is_object()) continue;
            const auto result = message.value("result", nlohmann::json::object());
            if (const auto compacted = numberField(result, "compact_revision"); compacted > 0) {
                end = {WatchEnd::Kind::Compacted, compacted, {}};
                done = true;
            } else if (result.value("canceled", false)) {
                end.error = "etcd " + url + " watch canceled: " + result.value("cancel_reason", std::string());
                done = true;
            }
            for (const auto& event : result.value("events", nlohmann::json::array()))
                on_change(numberField(event.value("kv", nlohmann::json::object()), "mod_revision"));
        }
        if (done) break;
        if (parser.is_done()) {
            // The stream ended; a last message without a newline is an error from the member.
            const auto last = nlohmann::json::parse(lines, nullptr, false);
            end.error = "etcd " + url + " watch ended" +
                        (last.is_object() && last.contains("error")
                             ? ": " + last["error"].value("message", std::string())
                             : std::string());
            break;
        }
    }
    if (ec && end.error.empty()) end.error = "etcd " + url + " watch: " + ec.message();
    {
        std::lock_guard lock(watch_mutex_);
        watch_fd_ = -1;
    }
    if (interrupted_) end = {WatchEnd::Kind::Interrupted, 0, {}};
    return end;
}

}  // namespace hotgate::fleet
