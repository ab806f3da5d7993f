#pragma once
// RFC 5802 §7 message syntax, shared by the SCRAM server, the client and PLAIN (UTF-8 check).
// Parsers return views into the message they were given; it must outlive the result.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::sasl::detail {

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool isValidUtf8(std::string_view text) noexcept;

// saslname (RFC 5802 §7): 1*(value-safe-char / "=2C" / "=3D"), value-safe-char being any UTF-8
// character except NUL, "=" and ",". Returns the unescaped name, or nullopt if malformed.
std::optional<std::string> decodeSaslname(std::string_view saslname);
std::string encodeSaslname(std::string_view name);

// printable = %x21-2B / %x2D-7E, at least one.
bool isValidNonce(std::string_view nonce) noexcept;

// cb-name = 1*(ALPHA / DIGIT / "." / "-")
bool isValidCbName(std::string_view name) noexcept;

// posit-number = %x31-39 *DIGIT, fitting in 32 bits.
std::optional<std::uint32_t> parsePositiveNumber(std::string_view text) noexcept;

// A message as a sequence of attr-val = ALPHA "=" value, separated by ",".
class AttributeReader {
  public:
    explicit AttributeReader(std::string_view text) noexcept : rest_(text) {}
    // The next attribute, or nullopt at the end or when it is not ALPHA "=" ... (check atEnd()).
    struct Attribute {
        char name;
        std::string_view value;
    };
    std::optional<Attribute> next() noexcept;
    bool atEnd() const noexcept { return done_; }

  private:
    std::string_view rest_;
    bool exhausted_ = rest_.empty();
    bool done_ = false;
};

// value = 1*value-char, value-char = value-safe-char / "=": UTF-8 without NUL or ",".
bool isValidExtensionValue(std::string_view value) noexcept;

// The gs2-header and client-first-message-bare of a client-first-message (RFC 5802 §7).
struct ClientFirstMessage {
    char cbFlag = 'n';        // 'n', 'y' or 'p'
    std::string_view cbName;  // with 'p'
    std::string authzid;      // unescaped; empty if absent
    std::string_view gs2Header;
    std::string_view bare;
    std::string username;  // unescaped
    std::string_view nonce;
};

enum class SyntaxError : std::uint8_t { Malformed, Extension };

struct ClientFirstResult {
    std::optional<ClientFirstMessage> message;
    SyntaxError error = SyntaxError::Malformed;
};
ClientFirstResult parseClientFirst(std::string_view text);

struct ClientFinalMessage {
    std::string_view channelBinding;  // base64 text after "c="
    std::string_view nonce;
    std::string_view withoutProof;
    std::string_view proof;  // base64 text after "p="
};
struct ClientFinalResult {
    std::optional<ClientFinalMessage> message;
    SyntaxError error = SyntaxError::Malformed;
};
ClientFinalResult parseClientFinal(std::string_view text);

struct ServerFirstMessage {
    std::string_view nonce;
    std::string_view salt;  // base64 text
    std::uint32_t iterations = 0;
};
struct ServerFirstResult {
    std::optional<ServerFirstMessage> message;
    SyntaxError error = SyntaxError::Malformed;
};
ServerFirstResult parseServerFirst(std::string_view text);

struct ServerFinalMessage {
    bool isError = false;
    std::string_view value;  // base64 verifier, or the server-error-value
};
std::optional<ServerFinalMessage> parseServerFinal(std::string_view text);

}  // namespace parley::sasl::detail
