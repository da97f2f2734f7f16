// Base64 (RFC 4648, with padding) for binary data that travels as text: bytes of a handed-over
// connection in a JSON control message, TLS session ticket keys in their key file.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace hotgate {

std::string encodeBase64(std::string_view bytes);
// Fails on a length that is not a multiple of 4 or a character outside the alphabet; the error
// says which, never the text (it may be a secret).
Result<std::string> decodeBase64(std::string_view text);

}  // namespace hotgate
