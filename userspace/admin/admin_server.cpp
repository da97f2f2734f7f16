#include "admin/admin_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "admin/dashboard.h"
#include "common/build_version.h"
#include "health/health_service.h"
#include "observability/exposition_merge.h"
#include "observability/logging.h"
#include "proxy/gateway.h"

namespace hotgate {
namespace {

// The value of `name` in a query string ("a=1&version=x"), or empty.
std::string queryParameter(std::string_view target, std::string_view name) {
    const auto question = target.find('?');
    if (question == std::string_view::npos) return {};
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return {};
}

std::string percentDecode(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
            out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(text[i] == '+' ? ' ' : text[i]);
        }
    }
    return out;
}

}  // namespace

Result<std::unique_ptr<AdminServer>> AdminServer::start(const SocketAddress& address, Gateway& gateway,
                                                        const std::string& control_socket) {
    std::unique_ptr<AdminServer> server(new AdminServer(gateway));
    if (!control_socket.empty()) {
        auto peers = PeerMetricsServer::start(control_socket, [&gateway] { return gateway.metrics().serializeHttp(); });
        if (!peers) return fail("admin: ", peers.error().message);
        server->peer_metrics_ = std::move(*peers);
        server->control_socket_ = control_socket;
    }
    const tcp::endpoint endpoint(asio::ip::make_address(address.ip), address.port);
    error_code ec;
    server->acceptor_.open(endpoint.protocol(), ec);
    if (!ec) server->acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    // During an upgrade both versions serve the admin port; /healthz?version=&pid= tells a
    // caller which one answered (the successor checks itself that way before reporting ready).
    if (!ec) {
        const int one = 1;
        if (::setsockopt(server->acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
            ec = error_code(errno, boost::system::system_category());
    }
    if (!ec) server->acceptor_.bind(endpoint, ec);
    if (!ec) server->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("admin: cannot listen on ", address.toString(), ": ", ec.message());
    asio::co_spawn(server->io_, server->acceptLoop(), asio::detached);
    server->thread_ = std::thread([s = server.get()] { s->io_.run(); });
    return server;
}

AdminServer::~AdminServer() { stop(); }

void AdminServer::stop() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
    if (peer_metrics_) peer_metrics_->stop();
}

void AdminServer::leaveFinalMetrics() {
    if (!peer_metrics_) return;
    if (auto left = hotgate::leaveFinalMetrics(control_socket_, ::getpid(), gateway_.metrics().serializeHttp()); !left)
        log::warn("metrics across versions: ", left.error().message);
    peer_metrics_->stop();
}

awaitable<void> AdminServer::acceptLoop() {
    for (;;) {
        error_code ec;
        tcp::socket socket = co_await acceptor_.async_accept(withError(ec));
        if (ec) {
            if (!acceptor_.is_open()) co_return;
            continue;
        }
        asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
}

awaitable<void> AdminServer::serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
        http::request<http::string_body> request;
        http::request_parser<http::string_body> parser;
        parser.header_limit(8 * 1024);
        parser.body_limit(64 * 1024);
        error_code ec;
        co_await http::async_read(socket, buffer, parser, withError(ec));
        if (ec) co_return;
        request = parser.release();
        Reply reply;
        if (request.method() != http::verb::get && request.method() != http::verb::head) {
            reply = {405, "text/plain", "only GET is supported\n"};
        } else {
            const std::string_view target = request.target();
            reply = handle(gateway_, target);
            if (peer_metrics_ && target.substr(0, target.find('?')) == "/metrics")
                reply.body = mergeExpositions(reply.body, peerMetrics());
        }
        http::response<http::string_body> response{static_cast<http::status>(reply.status), request.version()};
        response.set(http::field::content_type, reply.content_type);
        response.set("x-hotgate-version", gateway_.context().version());
        response.keep_alive(request.keep_alive());
        response.body() = std::move(reply.body);
        response.prepare_payload();
        co_await http::async_write(socket, response, withError(ec));
        if (ec || !request.keep_alive()) break;
    }
    error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
}

std::vector<std::string> AdminServer::peerMetrics() const {
    return textsToMerge(collectPeerMetrics(control_socket_, ::getpid(), std::chrono::milliseconds(500)),
                        gateway_.context().version());
}

AdminServer::Reply AdminServer::handle(Gateway& gateway, std::string_view target) {
    const auto path = target.substr(0, target.find('?'));
    const auto& context = gateway.context();
    // The live health page; it polls /health and /spikes of whichever version answers.
    if (path == "/dashboard") return {200, "text/html; charset=utf-8", std::string(dashboardHtml())};
    if (path == "/metrics") return {200, "text/plain; version=0.0.4", gateway.metrics().serialize()};
    if (path == "/healthz") {
        const std::string asked = percentDecode(queryParameter(target, "version"));
        const std::string asked_pid = queryParameter(target, "pid");
        if (!asked.empty() || !asked_pid.empty()) {
            const std::string build = buildVersion();
            const bool version_matches =
                asked.empty() || asked == context.version() || asked == build || asked == context.config()->hash;
            const bool pid_matches = asked_pid.empty() || asked_pid == std::to_string(::getpid());
            if (!version_matches || !pid_matches)
                return {404, "text/plain",
                        "not " + (asked.empty() ? "pid " + asked_pid : "version " + asked) + " (this is " +
                            context.version() + ", pid " + std::to_string(::getpid()) + ")\n"};
            return {200, "text/plain", "ok " + context.version() + "\n"};
        }
        if (gateway.draining()) return {503, "text/plain", "draining\n"};
        return {200, "text/plain", "ok\n"};
    }
    if (path == "/status") {
        nlohmann::json status;
        status["version"] = context.version();
        status["build_version"] = buildVersion();
        status["config_hash"] = context.config()->hash;
        status["config_path"] = context.config()->source_path;
        status["pid"] = ::getpid();
        status["uptime_seconds"] =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - gateway.startedAt()).count();
        status["mode"] = dataplaneModeName(gateway.dataplane().mode);
        status["bpffs_root"] = context.config()->dataplane.bpffs_root;
        status["xdp_interfaces"] = gateway.dataplane().xdp_interfaces;
        if (!gateway.dataplane().reason.empty()) status["mode_reason"] = gateway.dataplane().reason;
        status["phase"] = versionPhaseName(gateway.phase());
        if (gateway.dataplane().slot) status["slot"] = *gateway.dataplane().slot;
        status["connections_handed_off"] = context.connections_handed_off.load();
        status["connections_adopted"] = context.connections_adopted.load();
        status["workers"] = context.config()->workers;
        status["active_connections"] = context.open_connections.load();
        status["in_flight_requests"] = context.in_flight_requests.load();
        auto& listeners = status["listeners"] = nlohmann::json::array();
        for (const auto& l : gateway.listeners())
            listeners.push_back({{"name", l.name}, {"address", l.address}, {"sockets", l.sockets}});
        auto& clusters = status["upstream_endpoints"] = nlohmann::json::array();
        for (const auto& row : context.upstream_board.rows(*context.config()))
            clusters.push_back({{"cluster", row.cluster},
                                {"endpoint", row.endpoint},
                                {"weight", row.weight},
                                {"ejected_workers", row.ejected_workers},
                                {"ejections", row.ejections}});
        // Per route: its circuit breaker level and signals, and what protection refused.
        status["routes_protection"] = context.protection->toJson(*context.config())["routes"];
        // TLS: served certificates and ticket key fingerprints (never key material).
        const bool any_tls = std::any_of(context.tls.begin(), context.tls.end(), [](const auto& t) { return t != nullptr; });
        if (any_tls) status["tls"] = gateway.tlsStatus();
        return {200, "application/json", status.dump(2) + "\n"};
    }
    if (path == "/health") {
        // The health profile of every registered version (the state is shared through pins,
        // so whichever version answers shows the same picture).
        const auto body = gateway.health().healthJson(gateway.activeSlot(), std::string(versionPhaseName(gateway.phase())));
        return {200, "application/json", body.dump() + "\n"};
    }
    if (path == "/protection") {
        // Breaker levels and refusals per route, and the recent level changes (shared by every
        // version, like the breakers themselves).
        return {200, "application/json", context.protection->toJson(*context.config()).dump() + "\n"};
    }
    if (path == "/spikes") {
        const std::string since_text = queryParameter(target, "since");
        const std::string limit_text = queryParameter(target, "limit");
        std::uint64_t since = 0;
        std::size_t limit = 200;
        try {
            if (!since_text.empty()) since = std::stoull(since_text);
            if (!limit_text.empty()) limit = std::min<std::size_t>(std::stoull(limit_text), HEALTH_LOG_SIZE);
        } catch (const std::exception&) {
            return {400, "text/plain", "since and limit must be non-negative integers\n"};
        }
        return {200, "application/json", gateway.health().spikesJson(since, limit).dump() + "\n"};
    }
    return {404, "text/plain", "unknown admin path; try /metrics, /healthz, /status, /health, /spikes, /protection, /dashboard\n"};
}

}  // namespace hotgate
