#include "tls/ticket_keys.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "common/base64.h"

namespace hotgate::tls {
namespace {

// SSL_CTX ex_data slot holding the TicketKeyStore* a context's ticket callback reads.
int storeIndex() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

TicketKey fromBytes(const unsigned char* bytes) {
    TicketKey key;
    std::memcpy(key.name.data(), bytes, 16);
    std::memcpy(key.aes_key.data(), bytes + 16, 32);
    std::memcpy(key.hmac_key.data(), bytes + 48, 32);
    return key;
}

std::string toBytes(const TicketKey& key) {
    std::string bytes;
    bytes.append(reinterpret_cast<const char*>(key.name.data()), key.name.size());
    bytes.append(reinterpret_cast<const char*>(key.aes_key.data()), key.aes_key.size());
    bytes.append(reinterpret_cast<const char*>(key.hmac_key.data()), key.hmac_key.size());
    return bytes;
}

Result<TicketKey> randomKey() {
    unsigned char bytes[TicketKeyRing::kKeyBytes];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return fail("session ticket key: RAND_bytes failed");
    TicketKey key = fromBytes(bytes);
    OPENSSL_cleanse(bytes, sizeof bytes);
    return key;
}

bool setHmacKey(EVP_MAC_CTX* mac, const TicketKey& key) {
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key.hmac_key.data()),
                                          key.hmac_key.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(mac, params) == 1;
}

// OpenSSL's ticket key callback (see SSL_CTX_set_tlsext_ticket_key_evp_cb(3)).
// Returns: encrypt: 1 done, -1 error. Decrypt: 0 unknown key (full handshake), 1 resumed,
// 2 resumed and issue a fresh ticket under the current key, -1 error.
int ticketKeyCallback(SSL* ssl, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                      EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt) {
    auto* store = static_cast<TicketKeyStore*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), storeIndex()));
    if (!store) return -1;
    const std::shared_ptr<const TicketKeyRing> ring = store->current();
    if (!ring || ring->keys.empty()) return encrypt ? -1 : 0;
    if (encrypt) {
        const TicketKey& key = ring->keys.front();
        if (RAND_bytes(iv, 16) != 1) return -1;
        std::memcpy(key_name, key.name.data(), 16);
        if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes_key.data(), iv) != 1) return -1;
        return setHmacKey(mac, key) ? 1 : -1;
    }
    for (std::size_t i = 0; i < ring->keys.size(); ++i) {
        const TicketKey& key = ring->keys[i];
        if (std::memcmp(key_name, key.name.data(), 16) != 0) continue;
        if (!setHmacKey(mac, key)) return -1;
        if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes_key.data(), iv) != 1) return -1;
        return i == 0 ? 1 : 2;
    }
    return 0;
}

}  // namespace

std::string TicketKey::fingerprint() const {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(name.data(), name.size(), digest);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 4; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 15]);
    }
    return out;
}

Result<TicketKeyRing> TicketKeyRing::generate() {
    auto key = randomKey();
    if (!key) return tl::unexpected(key.error());
    return TicketKeyRing{{*key}};
}

Result<TicketKeyRing> TicketKeyRing::loadFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) return sysError(errno ? errno : ENOENT, "session ticket key file ", path, ": cannot open");
    std::ostringstream text;
    text << in.rdbuf();
    return parse(text.str(), path);
}

Result<TicketKeyRing> TicketKeyRing::parse(std::string_view text, const std::string& origin) {
    TicketKeyRing ring;
    std::size_t line_number = 0;
    while (!text.empty()) {
        const auto newline = text.find('\n');
        std::string_view line = text.substr(0, newline);
        text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
        ++line_number;
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.remove_suffix(1);
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.remove_prefix(1);
        if (line.empty() || line.front() == '#') continue;
        auto bytes = decodeBase64(line);
        if (!bytes) return fail(origin, ":", line_number, ": session ticket key: ", bytes.error().message);
        if (bytes->size() != kKeyBytes) {
            OPENSSL_cleanse(bytes->data(), bytes->size());
            return fail(origin, ":", line_number, ": session ticket key is ", bytes->size(), " bytes, expected ",
                        kKeyBytes, " (generate one with: openssl rand 80 | base64 -w0)");
        }
        ring.keys.push_back(fromBytes(reinterpret_cast<const unsigned char*>(bytes->data())));
        OPENSSL_cleanse(bytes->data(), bytes->size());
        if (ring.keys.size() > kMaxKeys) return fail(origin, ": more than ", kMaxKeys, " session ticket keys");
    }
    if (ring.keys.empty()) return fail(origin, ": no session ticket key (one base64 key a line)");
    for (std::size_t i = 0; i < ring.keys.size(); ++i)
        for (std::size_t j = i + 1; j < ring.keys.size(); ++j)
            if (ring.keys[i].name == ring.keys[j].name)
                return fail(origin, ": session ticket keys ", i + 1, " and ", j + 1, " have the same name");
    return ring;
}

std::string TicketKeyRing::serialize() const {
    std::string out;
    for (const TicketKey& key : keys) {
        std::string bytes = toBytes(key);
        out += encodeBase64(bytes);
        out += '\n';
        OPENSSL_cleanse(bytes.data(), bytes.size());
    }
    return out;
}

Result<void> TicketKeyRing::rotate() {
    auto key = randomKey();
    if (!key) return tl::unexpected(key.error());
    keys.insert(keys.begin(), *key);
    if (keys.size() > kMaxKeys) keys.resize(kMaxKeys);
    return {};
}

std::vector<std::string> TicketKeyRing::fingerprints() const {
    std::vector<std::string> out;
    for (const TicketKey& key : keys) out.push_back(key.fingerprint());
    return out;
}

TicketKeyStore::TicketKeyStore(TicketKeyRing ring) : ring_(std::make_shared<const TicketKeyRing>(std::move(ring))) {}

void TicketKeyStore::replace(TicketKeyRing ring) { ring_.store(std::make_shared<const TicketKeyRing>(std::move(ring))); }

Result<void> TicketKeyStore::attachTo(SSL_CTX* ctx) {
    if (SSL_CTX_set_ex_data(ctx, storeIndex(), this) != 1) return fail("TLS context: cannot attach ticket keys");
    if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticketKeyCallback) != 1)
        return fail("TLS context: cannot set the session ticket key callback");
    // Tickets are the only resumption every version can honour; a per-process cache is not.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
    return {};
}

}  // namespace hotgate::tls
