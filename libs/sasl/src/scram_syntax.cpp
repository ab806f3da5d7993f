#include "scram_syntax.h"

namespace parley::sasl::detail {
namespace {

bool isAlpha(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool isDigit(char c) noexcept {
    return c >= '0' && c <= '9';
}

}  // namespace

bool isValidUtf8(std::string_view text) noexcept {
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (i < n) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t length = 0;
        unsigned char lo = 0x80;  // RFC 3629 §4: the second byte's range depends on the first
        unsigned char hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            length = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            length = 3;
            if (c == 0xE0)
                lo = 0xA0;  // overlong
            if (c == 0xED)
                hi = 0x9F;  // surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            length = 4;
            if (c == 0xF0)
                lo = 0x90;  // overlong
            if (c == 0xF4)
                hi = 0x8F;  // above U+10FFFF
        } else {
            return false;
        }
        if (n - i < length)
            return false;
        const auto second = static_cast<unsigned char>(text[i + 1]);
        if (second < lo || second > hi)
            return false;
        for (std::size_t j = 2; j < length; ++j) {
            const auto cont = static_cast<unsigned char>(text[i + j]);
            if (cont < 0x80 || cont > 0xBF)
                return false;
        }
        i += length;
    }
    return true;
}

std::optional<std::string> decodeSaslname(std::string_view saslname) {
    if (saslname.empty() || !isValidUtf8(saslname))
        return std::nullopt;
    std::string out;
    out.reserve(saslname.size());
    for (std::size_t i = 0; i < saslname.size(); ++i) {
        const char c = saslname[i];
        if (c == '\0' || c == ',')
            return std::nullopt;
        if (c == '=') {
            // RFC 5802 §5.1: "=" not followed by "2C" or "3D" MUST fail the authentication.
            const std::string_view escape = saslname.substr(i + 1, 2);
            if (escape == "2C") {
                out += ',';
            } else if (escape == "3D") {
                out += '=';
            } else {
                return std::nullopt;
            }
            i += 2;
            continue;
        }
        out += c;
    }
    return out;
}

std::string encodeSaslname(std::string_view name) {
    std::string out;
    out.reserve(name.size());
    for (char c : name) {
        if (c == ',') {
            out += "=2C";
        } else if (c == '=') {
            out += "=3D";
        } else {
            out += c;
        }
    }
    return out;
}

bool isValidNonce(std::string_view nonce) noexcept {
    if (nonce.empty())
        return false;
    for (char c : nonce) {
        if (c < 0x21 || c > 0x7E || c == ',')
            return false;
    }
    return true;
}

bool isValidCbName(std::string_view name) noexcept {
    if (name.empty())
        return false;
    for (char c : name) {
        if (!isAlpha(c) && !isDigit(c) && c != '.' && c != '-')
            return false;
    }
    return true;
}

std::optional<std::uint32_t> parsePositiveNumber(std::string_view text) noexcept {
    if (text.empty() || text.front() < '1' || text.front() > '9')
        return std::nullopt;
    std::uint64_t value = 0;
    for (char c : text) {
        if (!isDigit(c))
            return std::nullopt;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
        if (value > 0xFFFFFFFFu)
            return std::nullopt;
    }
    return static_cast<std::uint32_t>(value);
}

std::optional<AttributeReader::Attribute> AttributeReader::next() noexcept {
    if (exhausted_) {
        done_ = true;
        return std::nullopt;
    }
    std::string_view piece;
    const std::size_t comma = rest_.find(',');
    if (comma == std::string_view::npos) {
        piece = rest_;
        rest_ = {};
        exhausted_ = true;
    } else {
        piece = rest_.substr(0, comma);
        rest_ = rest_.substr(comma + 1);
    }
    if (piece.size() < 2 || !isAlpha(piece[0]) || piece[1] != '=')
        return std::nullopt;
    return Attribute{piece[0], piece.substr(2)};
}

bool isValidExtensionValue(std::string_view value) noexcept {
    return !value.empty() && value.find('\0') == std::string_view::npos && isValidUtf8(value);
}

namespace {

// Reads extensions up to the end; 'm' anywhere is a mandatory extension we do not know
// (RFC 5802 §5.1: "its presence ... MUST cause authentication failure").
std::optional<SyntaxError> readExtensions(AttributeReader& reader) noexcept {
    while (auto attribute = reader.next()) {
        if (attribute->name == 'm')
            return SyntaxError::Extension;
        if (!isValidExtensionValue(attribute->value))
            return SyntaxError::Malformed;
    }
    if (!reader.atEnd())
        return SyntaxError::Malformed;
    return std::nullopt;
}

}  // namespace

ClientFirstResult parseClientFirst(std::string_view text) {
    ClientFirstMessage m;
    std::size_t pos = 0;
    // gs2-cbind-flag = ("p=" cb-name) / "n" / "y"
    if (text.starts_with("n,") || text.starts_with("y,")) {
        m.cbFlag = text[0];
        pos = 2;
    } else if (text.starts_with("p=")) {
        const std::size_t comma = text.find(',', 2);
        if (comma == std::string_view::npos)
            return {};
        m.cbFlag = 'p';
        m.cbName = text.substr(2, comma - 2);
        if (!isValidCbName(m.cbName))
            return {};
        pos = comma + 1;
    } else {
        return {};
    }
    // [ authzid ] ","
    if (text.substr(pos).starts_with("a=")) {
        const std::size_t comma = text.find(',', pos + 2);
        if (comma == std::string_view::npos)
            return {};
        auto authzid = decodeSaslname(text.substr(pos + 2, comma - pos - 2));
        if (!authzid)
            return {};
        m.authzid = std::move(*authzid);
        pos = comma + 1;
    } else if (pos < text.size() && text[pos] == ',') {
        ++pos;
    } else {
        return {};
    }
    m.gs2Header = text.substr(0, pos);
    m.bare = text.substr(pos);

    // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
    AttributeReader reader(m.bare);
    auto attribute = reader.next();
    if (!attribute)
        return {};
    if (attribute->name == 'm')
        return {std::nullopt, SyntaxError::Extension};
    if (attribute->name != 'n')
        return {};
    auto username = decodeSaslname(attribute->value);
    if (!username)
        return {};
    m.username = std::move(*username);
    attribute = reader.next();
    if (!attribute || attribute->name != 'r' || !isValidNonce(attribute->value))
        return {};
    m.nonce = attribute->value;
    if (auto error = readExtensions(reader))
        return {std::nullopt, *error};
    return {std::move(m), SyntaxError::Malformed};
}

ClientFinalResult parseClientFinal(std::string_view text) {
    // client-final-message = channel-binding "," nonce ["," extensions] "," proof; the proof is
    // always last, and the AuthMessage uses everything before it.
    const std::size_t lastComma = text.rfind(',');
    if (lastComma == std::string_view::npos)
        return {};
    ClientFinalMessage m;
    m.withoutProof = text.substr(0, lastComma);
    const std::string_view proof = text.substr(lastComma + 1);
    if (!proof.starts_with("p=") || proof.size() == 2)
        return {};
    m.proof = proof.substr(2);

    AttributeReader reader(m.withoutProof);
    auto attribute = reader.next();
    if (!attribute)
        return {};
    if (attribute->name == 'm')
        return {std::nullopt, SyntaxError::Extension};
    if (attribute->name != 'c' || attribute->value.empty())
        return {};
    m.channelBinding = attribute->value;
    attribute = reader.next();
    if (!attribute || attribute->name != 'r' || !isValidNonce(attribute->value))
        return {};
    m.nonce = attribute->value;
    if (auto error = readExtensions(reader))
        return {std::nullopt, *error};
    return {m, SyntaxError::Malformed};
}

ServerFirstResult parseServerFirst(std::string_view text) {
    // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
    ServerFirstMessage m;
    AttributeReader reader(text);
    auto attribute = reader.next();
    if (!attribute)
        return {};
    if (attribute->name == 'm')
        return {std::nullopt, SyntaxError::Extension};
    if (attribute->name != 'r' || !isValidNonce(attribute->value))
        return {};
    m.nonce = attribute->value;
    attribute = reader.next();
    if (!attribute || attribute->name != 's' || attribute->value.empty())
        return {};
    m.salt = attribute->value;
    attribute = reader.next();
    if (!attribute || attribute->name != 'i')
        return {};
    const auto iterations = parsePositiveNumber(attribute->value);
    if (!iterations)
        return {};
    m.iterations = *iterations;
    if (auto error = readExtensions(reader))
        return {std::nullopt, *error};
    return {m, SyntaxError::Malformed};
}

std::optional<ServerFinalMessage> parseServerFinal(std::string_view text) {
    // server-final-message = (server-error / verifier) ["," extensions]
    AttributeReader reader(text);
    auto attribute = reader.next();
    if (!attribute || (attribute->name != 'e' && attribute->name != 'v') || attribute->value.empty()) {
        return std::nullopt;
    }
    ServerFinalMessage m{attribute->name == 'e', attribute->value};
    if (m.isError && !isValidExtensionValue(m.value))
        return std::nullopt;
    if (readExtensions(reader))
        return std::nullopt;
    return m;
}

}  // namespace parley::sasl::detail
