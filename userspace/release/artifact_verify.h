// Verification of a release artifact before anything runs it: its SHA-256 against the digest
// the operator expects, and a detached signature (Ed25519, or ECDSA P-256 over SHA-256) against
// a public key. docs/operations.md#signed-artifacts shows how to make both with openssl.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"

namespace hotgate::release {

// Bytes as lower-case hex digits, two per byte (how a digest is printed and compared).
std::string lowerHex(const unsigned char* bytes, std::size_t size);

// Parses an operator-given SHA-256 digest: exactly 64 hex digits, either case. Returns it in
// lower case; fails naming what is wrong ("64 hex digits expected, got 12 characters").
Result<std::string> parseSha256Hex(std::string_view text);

// SHA-256 of the file's bytes, 64 lower-case hex digits. Fails naming the file and errno.
Result<std::string> sha256OfFile(const std::filesystem::path& file);

// The signature schemes an artifact may be signed with (the public key's type decides).
enum class SignatureAlgorithm {
    Ed25519,          // pure Ed25519 over the file's bytes: openssl pkeyutl -sign -rawin
    EcdsaP256Sha256,  // ECDSA P-256 over SHA-256 of the bytes, DER: openssl dgst -sha256 -sign
};
std::string_view signatureAlgorithmName(SignatureAlgorithm algorithm);  // "Ed25519", "ECDSA P-256"

// The outcome of checking a signature that could be checked: valid or not, and by which scheme.
struct SignatureVerdict {
    SignatureAlgorithm algorithm = SignatureAlgorithm::Ed25519;
    bool valid = false;
};

// Checks the signature in `signature_file` over the bytes of `file` with the public key in
// `public_key_file` (PEM "PUBLIC KEY", or the same in DER). A signature that does not verify is
// a verdict with valid=false, not an error. Fails, naming the file, when a file cannot be read,
// the key is not a public key, or it is of another type or curve than Ed25519 and P-256.
Result<SignatureVerdict> verifySignature(const std::filesystem::path& file, const std::filesystem::path& signature_file,
                                         const std::filesystem::path& public_key_file);

}  // namespace hotgate::release
