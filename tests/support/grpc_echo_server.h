// GrpcEchoServer: tests/support/grpc_echo.py's gRPC server (service hotgate.test.Echo: Unary
// and Bidi echo "<name> <message>", trailer x-echo-trailer: <name>) on a loopback port of its
// own, started for one test and stopped by its PID; and that script's client calls, whose
// JSON reports the tests read.
#pragma once

#include <csignal>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/child_process.h"

namespace hotgate::test {

// The script, run with Debian's interpreter (it has python3-grpcio).
std::vector<std::string> grpcEchoCommand(std::vector<std::string> args);

class GrpcEchoServer {
public:
    // Starts the server named `name` in `dir`; port() is 0 when it did not start (`error` says why).
    // With `tls_cert` and `tls_key` (PEM files) it serves TLS, ALPN h2.
    bool start(const std::filesystem::path& dir, const std::string& name, std::string& error,
               const std::string& tls_cert = "", const std::string& tls_key = "");
    std::uint16_t port() const { return port_; }
    void stop() { process_.kill(); }
    // SIGTERM: the server sends GOAWAY and lets its RPCs in flight finish (grpcio's stop(0.5)).
    void terminate() {
        process_.signal(SIGTERM);
        process_.waitExit(std::chrono::seconds(5));
    }

private:
    ChildProcess process_;
    std::uint16_t port_ = 0;
};

// One RPC (grpc_echo.py call) to 127.0.0.1:`port`: {"code", "details", "responses",
// "trailers", "initial"}; an empty object when the script failed (reported as a test failure).
nlohmann::json grpcCall(const std::filesystem::path& dir, std::uint16_t port, std::vector<std::string> args);

}  // namespace hotgate::test
