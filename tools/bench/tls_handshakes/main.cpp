// bench_tls_handshakes: TLS handshakes per second against one server, full or resumed, each
// followed by one small GET so the server does a whole request per handshake (as a client that
// opens a connection per request does). Not a test: prints numbers (and JSON with --json).
//
//   bench_tls_handshakes --target 127.0.0.1:19443 --ca ca.pem --sni bench.example.test
//                        --mode full|resumed --duration 10 --concurrency 4
//
// Resumed mode: each client thread makes one full handshake, keeps the session, then resumes
// with it on every connection (taking the renewed ticket when the server sends one). A
// connection that should have resumed and did not is counted as "not_resumed".
//
// Across a cutover: `--save-sessions FILE --count N` makes N full handshakes and writes their
// sessions (PEM); after the cutover `--resume-sessions FILE` offers each once and reports how
// many resumed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

namespace {

struct Options {
    std::string target = "127.0.0.1:19443";
    std::string ca;
    std::string sni = "bench.example.test";
    std::string mode = "full";
    std::string path = "/";
    double duration = 10;
    int concurrency = 4;
    std::string json;
    std::string save_sessions;
    std::string resume_sessions;
    int count = 100;
};

struct Totals {
    std::atomic<long> handshakes{0}, resumed{0}, not_resumed{0}, failed{0};
};

sockaddr_in parseTarget(const std::string& target) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    const auto colon = target.rfind(':');
    address.sin_port = htons(static_cast<uint16_t>(std::stoi(target.substr(colon + 1))));
    inet_pton(AF_INET, target.substr(0, colon).c_str(), &address.sin_addr);
    return address;
}

// One connection: handshake (resuming `session` when given), GET, read the reply, clean close.
// Returns the session to resume with next, or nullptr on failure.
SSL_SESSION* oneConnection(SSL_CTX* ctx, const sockaddr_in& address, const Options& options, SSL_SESSION* session,
                           bool& resumed) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return nullptr;
    }
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, options.sni.c_str());
    if (session) SSL_set_session(ssl, session);
    SSL_SESSION* next = nullptr;
    if (SSL_connect(ssl) == 1) {
        const std::string request = "GET " + options.path + " HTTP/1.1\r\nHost: " + options.sni + "\r\nConnection: close\r\n\r\n";
        SSL_write(ssl, request.data(), static_cast<int>(request.size()));
        char buffer[8192];
        bool got = false;
        for (int n; (n = SSL_read(ssl, buffer, sizeof buffer)) > 0;) got = true;
        resumed = SSL_session_reused(ssl) == 1;
        if (got) next = SSL_get1_session(ssl);
        SSL_shutdown(ssl);
    }
    ERR_clear_error();
    SSL_free(ssl);
    ::close(fd);
    return next;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    CLI::App app{"TLS handshakes per second (full or resumed), one GET each"};
    app.add_option("--target", options.target, "server IPv4:port")->capture_default_str();
    app.add_option("--ca", options.ca, "CA file the server's certificate chains to")->required()->check(CLI::ExistingFile);
    app.add_option("--sni", options.sni, "server name")->capture_default_str();
    app.add_option("--mode", options.mode, "full or resumed")->check(CLI::IsMember({"full", "resumed"}))->capture_default_str();
    app.add_option("--path", options.path, "path to GET")->capture_default_str();
    app.add_option("--duration", options.duration, "seconds")->check(CLI::Range(0.5, 600.0))->capture_default_str();
    app.add_option("--concurrency", options.concurrency, "client threads")->check(CLI::Range(1, 256))->capture_default_str();
    app.add_option("--json", options.json, "write the result as JSON to this file");
    app.add_option("--save-sessions", options.save_sessions, "make --count full handshakes, write their sessions here");
    app.add_option("--resume-sessions", options.resume_sessions, "offer each saved session once; count resumptions")
        ->check(CLI::ExistingFile);
    app.add_option("--count", options.count, "handshakes for --save-sessions")->check(CLI::Range(1, 100000));
    CLI11_PARSE(app, argc, argv);

    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_load_verify_locations(ctx, options.ca.c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    const sockaddr_in address = parseTarget(options.target);
    const bool resume = options.mode == "resumed";

    if (!options.save_sessions.empty() || !options.resume_sessions.empty()) {
        const bool saving = !options.save_sessions.empty();
        std::vector<SSL_SESSION*> sessions;
        if (!saving) {
            BIO* in = BIO_new_file(options.resume_sessions.c_str(), "r");
            while (SSL_SESSION* s = PEM_read_bio_SSL_SESSION(in, nullptr, nullptr, nullptr)) sessions.push_back(s);
            BIO_free(in);
        }
        long ok = 0, resumed_count = 0, failed = 0;
        BIO* out = saving ? BIO_new_file(options.save_sessions.c_str(), "w") : nullptr;
        const std::size_t n = saving ? static_cast<std::size_t>(options.count) : sessions.size();
        for (std::size_t i = 0; i < n; ++i) {
            bool resumed = false;
            SSL_SESSION* next = oneConnection(ctx, address, options, saving ? nullptr : sessions[i], resumed);
            if (!next) {
                ++failed;
                continue;
            }
            ++ok;
            if (resumed) ++resumed_count;
            if (out) PEM_write_bio_SSL_SESSION(out, next);
            SSL_SESSION_free(next);
        }
        if (out) BIO_free(out);
        for (SSL_SESSION* s : sessions) SSL_SESSION_free(s);
        const nlohmann::json result{{"target", options.target},
                                    {"mode", saving ? "save-sessions" : "resume-sessions"},
                                    {"offered", saving ? 0 : static_cast<long>(n)},
                                    {"handshakes", ok},
                                    {"resumed", resumed_count},
                                    {"failed", failed}};
        std::cout << result.dump() << "\n";
        if (!options.json.empty()) std::ofstream(options.json) << result.dump(2) << "\n";
        SSL_CTX_free(ctx);
        return failed == 0 ? 0 : 1;
    }

    Totals totals;
    const auto start = std::chrono::steady_clock::now();
    const auto until = start + std::chrono::duration<double>(options.duration);
    std::vector<std::thread> threads;
    for (int t = 0; t < options.concurrency; ++t)
        threads.emplace_back([&] {
            SSL_SESSION* session = nullptr;
            while (std::chrono::steady_clock::now() < until) {
                bool resumed = false;
                const bool offered = session != nullptr;
                SSL_SESSION* next = oneConnection(ctx, address, options, resume ? session : nullptr, resumed);
                if (!next) {
                    ++totals.failed;
                    continue;
                }
                ++totals.handshakes;
                if (resumed) ++totals.resumed;
                else if (resume && offered) ++totals.not_resumed;
                if (session) SSL_SESSION_free(session);
                session = next;
            }
            if (session) SSL_SESSION_free(session);
        });
    for (auto& thread : threads) thread.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const nlohmann::json result{{"target", options.target},
                                {"mode", options.mode},
                                {"concurrency", options.concurrency},
                                {"seconds", seconds},
                                {"handshakes", totals.handshakes.load()},
                                {"handshakes_per_second", totals.handshakes.load() / seconds},
                                {"resumed", totals.resumed.load()},
                                {"not_resumed", totals.not_resumed.load()},
                                {"failed", totals.failed.load()}};
    std::cout << result.dump() << "\n";
    if (!options.json.empty()) std::ofstream(options.json) << result.dump(2) << "\n";
    SSL_CTX_free(ctx);
    return totals.handshakes.load() > 0 ? 0 : 1;
}
