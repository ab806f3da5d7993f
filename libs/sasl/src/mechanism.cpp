#include "parley/sasl/mechanism.h"

#include "parley/sasl/scram_server.h"
#include "plain_server.h"

#include <array>
#include <stdexcept>

namespace parley::sasl {
namespace {

struct ScramVariant {
    std::string_view name;
    HashAlgorithm algorithm;
    bool plus;
};

// Strongest first (RFC 6120 §6.3.3 leaves the order to the server; clients pick the first they know).
constexpr std::array<ScramVariant, 6> kScramVariants = {{
    {"SCRAM-SHA-512-PLUS", HashAlgorithm::Sha512, true},
    {"SCRAM-SHA-256-PLUS", HashAlgorithm::Sha256, true},
    {"SCRAM-SHA-1-PLUS", HashAlgorithm::Sha1, true},
    {"SCRAM-SHA-512", HashAlgorithm::Sha512, false},
    {"SCRAM-SHA-256", HashAlgorithm::Sha256, false},
    {"SCRAM-SHA-1", HashAlgorithm::Sha1, false},
}};

constexpr std::string_view kPlain = "PLAIN";

bool canBind(const ServerOptions& options) {
    return options.tls && (!options.channelBindings.tlsExporter.empty() ||
                           !options.channelBindings.tlsServerEndPoint.empty());
}

}  // namespace

std::string_view toString(Failure failure) noexcept {
    switch (failure) {
        case Failure::Aborted:
            return "aborted";
        case Failure::AccountDisabled:
            return "account-disabled";
        case Failure::CredentialsExpired:
            return "credentials-expired";
        case Failure::EncryptionRequired:
            return "encryption-required";
        case Failure::IncorrectEncoding:
            return "incorrect-encoding";
        case Failure::InvalidAuthzid:
            return "invalid-authzid";
        case Failure::InvalidMechanism:
            return "invalid-mechanism";
        case Failure::MalformedRequest:
            return "malformed-request";
        case Failure::MechanismTooWeak:
            return "mechanism-too-weak";
        case Failure::NotAuthorized:
            return "not-authorized";
        case Failure::TemporaryAuthFailure:
            return "temporary-auth-failure";
    }
    return "not-authorized";
}

void throw_exception_from_error(Failure failure, const boost::source_location& location) {
    throw std::runtime_error("parley::sasl: value() of a failed result (" + std::string(toString(failure)) +
                             ") at " + location.file_name() + ":" + std::to_string(location.line()));
}

std::vector<std::string> serverMechanisms(const ServerOptions& options, bool allowPlain) {
    std::vector<std::string> out;
    const bool bind = canBind(options);
    for (const ScramVariant& v : kScramVariants) {
        if (!v.plus || bind)
            out.emplace_back(v.name);
    }
    if (allowPlain)
        out.emplace_back(kPlain);
    return out;
}

std::unique_ptr<ServerMechanism> makeServerMechanism(std::string_view name, const ServerOptions& options) {
    if (name == kPlain)
        return detail::makePlainServer();
    for (const ScramVariant& v : kScramVariants) {
        if (v.name != name)
            continue;
        if (v.plus && !canBind(options))
            return nullptr;
        return std::make_unique<ScramServer>(v.algorithm, v.plus, options);
    }
    return nullptr;
}

std::vector<std::string> channelBindingTypes(const ServerOptions& options) {
    std::vector<std::string> out;
    if (!options.tls)
        return out;
    // RFC 9266 tls-exporter binds to the connection; tls-server-end-point only to the certificate.
    if (!options.channelBindings.tlsExporter.empty())
        out.emplace_back(kTlsExporter);
    if (!options.channelBindings.tlsServerEndPoint.empty())
        out.emplace_back(kTlsServerEndPoint);
    return out;
}

}  // namespace parley::sasl
