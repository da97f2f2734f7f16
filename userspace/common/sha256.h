// SHA-256 as lower-case hex: a config's hash (its first 12 digits), a mirrored answer's body.
#pragma once

#include <string>
#include <string_view>

namespace hotgate {

std::string sha256Hex(std::string_view bytes);

}  // namespace hotgate
