#include "support/grpc_echo_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace hotgate::test {

std::vector<std::string> grpcEchoCommand(std::vector<std::string> args) {
    std::vector<std::string> argv{"/usr/bin/python3", std::string(HOTGATE_SOURCE_DIR) + "/tests/support/grpc_echo.py"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

bool GrpcEchoServer::start(const std::filesystem::path& dir, const std::string& name, std::string& error,
                           const std::string& tls_cert, const std::string& tls_key) {
    const auto port_file = dir / ("grpc-" + name + ".port");
    std::filesystem::remove(port_file);
    std::vector<std::string> args{"server", "--port", "0", "--name", name, "--port-file", port_file.string()};
    if (!tls_cert.empty()) args.insert(args.end(), {"--tls-cert", tls_cert, "--tls-key", tls_key});
    if (!process_.start(grpcEchoCommand(args),
                        dir / ("grpc-" + name + ".out"), dir / ("grpc-" + name + ".err"), error))
        return false;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < give_up) {
        if (process_.readStdout().starts_with("ready ")) {
            port_ = static_cast<std::uint16_t>(std::stoi(readFile(port_file)));
            return true;
        }
        if (!process_.running()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    error = "the gRPC echo server did not start: " + process_.readStderr();
    process_.kill();
    return false;
}

nlohmann::json grpcCall(const std::filesystem::path& dir, std::uint16_t port, std::vector<std::string> args) {
    args.insert(args.begin(), {"call", "--target", "127.0.0.1:" + std::to_string(port)});
    const auto result = runCommand(grpcEchoCommand(args), dir, std::chrono::seconds(30));
    auto report = nlohmann::json::parse(result.out, nullptr, false);
    EXPECT_FALSE(report.is_discarded()) << result.out << result.err;
    return report.is_discarded() ? nlohmann::json::object() : report;
}

}  // namespace hotgate::test
