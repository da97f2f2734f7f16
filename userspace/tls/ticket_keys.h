// TicketKeys: the keys that encrypt and decrypt TLS session tickets (RFC 5077 style, as NGINX's
// ssl_session_ticket_key and HAProxy's tls-ticket-keys). The first key encrypts new tickets; the
// others only decrypt, so tickets issued before a rotation still resume until their key is
// dropped. A ticket decrypted with an older key is renewed under the first one.
//
// Every version of the gateway must hold the same keys, or a client that got its ticket from the
// previous version pays a full handshake after a cutover: the keys are handed to the successor
// over the control socket (serialize/parse), never written to logs, /status or metrics (only a
// fingerprint of each key name is shown).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "common/error.h"

namespace hotgate::tls {

// 80 bytes, the layout of NGINX's 80-byte key files: name, AES-256 key, HMAC-SHA256 key.
struct TicketKey {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes_key{};
    std::array<unsigned char, 32> hmac_key{};

    // 8 hex digits identifying the key in logs without revealing it (SHA-256 of the name).
    std::string fingerprint() const;
    bool operator==(const TicketKey&) const = default;
};

struct TicketKeyRing {
    std::vector<TicketKey> keys;  // keys[0] encrypts; all decrypt; never empty once loaded

    static constexpr std::size_t kKeyBytes = 80;
    static constexpr std::size_t kMaxKeys = 8;

    // A ring of one fresh random key.
    static Result<TicketKeyRing> generate();
    // Key file: one key a line, base64 of 80 bytes (e.g. `openssl rand 80 | base64 -w0`); blank
    // lines and lines starting with # are ignored; the first key encrypts. Errors name the file
    // and line, never the key material.
    static Result<TicketKeyRing> loadFile(const std::string& path);
    static Result<TicketKeyRing> parse(std::string_view text, const std::string& origin);
    // The key-file text of this ring (what parse() reads back); for the control socket handover.
    std::string serialize() const;

    // A new random key first; the oldest is dropped past kMaxKeys.
    Result<void> rotate();
    std::vector<std::string> fingerprints() const;
};

// The ring the TLS contexts of this process use, swapped atomically on rotation or reload:
// a handshake in progress keeps the ring it started with.
class TicketKeyStore {
public:
    explicit TicketKeyStore(TicketKeyRing ring);

    std::shared_ptr<const TicketKeyRing> current() const { return ring_.load(); }
    void replace(TicketKeyRing ring);

    // Makes `ctx` issue and accept tickets with this store's keys (and disables the stateful
    // session cache, which no other process could share). The store must outlive `ctx`.
    Result<void> attachTo(SSL_CTX* ctx);

private:
    std::atomic<std::shared_ptr<const TicketKeyRing>> ring_;
};

}  // namespace hotgate::tls
