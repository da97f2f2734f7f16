#include "control/peer_link.h"

#include <sys/socket.h>

#include <openssl/evp.h>

namespace hotgate::control {

bool PeerLink::sendConnection(int fd, const std::string& listener, const std::string& buffered) {
    const int fds[] = {fd};
    return send(MessageType::AdoptConnection, {{"listener", listener}, {"buffered_base64", encodeBase64(buffered)}}, fds)
        .has_value();
}

void PeerLink::shutdown() { ::shutdown(fd_.get(), SHUT_RDWR); }

std::string encodeBase64(const std::string& bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

Result<std::string> decodeBase64(const std::string& text) {
    if (text.size() % 4 != 0) return fail("control: base64 length ", text.size(), " is not a multiple of 4");
    std::string out(3 * text.size() / 4, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return fail("control: bad base64 in buffered bytes");
    // EVP_DecodeBlock counts padding as zero bytes: drop one per '='.
    std::size_t size = static_cast<std::size_t>(n);
    if (!text.empty() && text.back() == '=') --size;
    if (text.size() > 1 && text[text.size() - 2] == '=') --size;
    out.resize(size);
    return out;
}

}  // namespace hotgate::control
