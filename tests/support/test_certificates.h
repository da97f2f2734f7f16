// TestCertificates: a private CA and certificates signed by it, made with OpenSSL's APIs and
// written as PEM files into a test's directory, for real TLS handshakes on 127.0.0.1. Keys are
// ECDSA P-256 (fast to generate). Validity is relative to now, so a test can make an expired or
// not-yet-valid certificate.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace hotgate::test {

struct IssuedCertificate {
    std::string certificate_file;  // leaf, then the CA (the chain a server serves)
    std::string leaf_only_file;    // leaf alone
    std::string key_file;
    std::string serial_hex;        // lower case, no leading zeros (as OpenSSL's BN_bn2hex)
};

class TestCa {
public:
    // Creates the CA key and self-signed certificate in `dir` (<dir>/<name>-ca.pem).
    TestCa(std::string dir, std::string name = "hotgate-test");
    ~TestCa();
    TestCa(const TestCa&) = delete;
    TestCa& operator=(const TestCa&) = delete;

    const std::string& caFile() const { return ca_file_; }

    // A leaf for `dns_names` (subjectAltName; "127.0.0.1" is an IP address name), for servers
    // and clients alike, files <dir>/<stem>.{crt,leaf.crt,key}.
    IssuedCertificate issue(const std::string& stem, const std::vector<std::string>& dns_names,
                            std::chrono::hours valid_from = std::chrono::hours(-1),
                            std::chrono::hours valid_until = std::chrono::hours(24 * 30));

private:
    struct State;
    std::string dir_;
    std::string ca_file_;
    State* state_;
    std::uint64_t next_serial_ = 0x1000;
};

}  // namespace hotgate::test
