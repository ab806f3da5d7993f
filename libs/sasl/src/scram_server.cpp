#include "parley/sasl/scram_server.h"

#include "crypto.h"
#include "parley/base/base64.h"
#include "parley/base/random.h"
#include "scram_syntax.h"

#include <utility>

namespace parley::sasl {
namespace {

const std::string& processFakeSecret() {
    static const std::string secret = randomBytes(32);
    return secret;
}

// RFC 6120 §13.11 / RFC 5802 §9: a credential for a user that does not exist, stable per
// (secret, algorithm, username) so that asking twice shows the same salt. The keys are never
// observable (ServerSignature is only sent on success, which a fake credential never reaches), so
// they are just the seed stretched to the right length; one HMAC keeps this cheap enough to run
// for every login.
ScramCredential fabricateCredential(HashAlgorithm algorithm, std::string_view secret,
                                    std::string_view username, std::uint32_t iterations) {
    std::string label = "parley-scram-unknown-user";
    label += '\0';
    label += toString(algorithm);
    label += '\0';
    label += username;
    std::string seed = detail::hmac(HashAlgorithm::Sha256, secret, label);
    ScramCredential credential;
    credential.algorithm = algorithm;
    credential.salt = seed.substr(0, kScramSaltSize);
    credential.iterations = iterations;
    const std::size_t size = digestSize(algorithm);
    while (credential.storedKey.size() < size)
        credential.storedKey += seed;
    credential.storedKey.resize(size);
    credential.serverKey = credential.storedKey;
    detail::cleanse(seed);
    return credential;
}

bool isUsable(const ScramCredential& credential, HashAlgorithm algorithm) {
    const std::size_t size = digestSize(algorithm);
    return credential.algorithm == algorithm && credential.iterations > 0 && !credential.salt.empty() &&
           credential.storedKey.size() == size && credential.serverKey.size() == size;
}

}  // namespace

ScramServer::ScramServer(HashAlgorithm algorithm, bool plus, ServerOptions options)
    : algorithm_(algorithm), plus_(plus), options_(std::move(options)) {}

ScramServer::~ScramServer() {
    detail::cleanse(credential_.storedKey);
    detail::cleanse(credential_.serverKey);
}

std::string_view ScramServer::name() const noexcept {
    switch (algorithm_) {
        case HashAlgorithm::Sha1:
            return plus_ ? "SCRAM-SHA-1-PLUS" : "SCRAM-SHA-1";
        case HashAlgorithm::Sha256:
            return plus_ ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256";
        case HashAlgorithm::Sha512:
            return plus_ ? "SCRAM-SHA-512-PLUS" : "SCRAM-SHA-512";
    }
    return "SCRAM";
}

void ScramServer::setServerNonceForTest(std::string nonce) {
    serverNonce_ = std::move(nonce);
}

Step ScramServer::fail(Failure failure, std::string_view text) {
    state_ = State::Done;
    return Fail{failure, std::string(text)};
}

Step ScramServer::start(std::optional<std::string_view> initialResponse) {
    if (state_ != State::Initial)
        detail::invariantViolated("ScramServer::start called twice");
    if (!initialResponse) {
        // RFC 6120 §6.4.2: no initial response, so an empty challenge asks for the client-first-message.
        state_ = State::AwaitClientFirst;
        return Challenge{};
    }
    return handleClientFirst(*initialResponse);
}

Step ScramServer::respond(std::string_view response) {
    switch (state_) {
        case State::AwaitClientFirst:
            return handleClientFirst(response);
        case State::AwaitClientFinal:
            return handleClientFinal(response);
        case State::Initial:
        case State::AwaitCredential:
        case State::Done:
            break;
    }
    return fail(Failure::MalformedRequest, "unexpected SASL response at this point of the SCRAM exchange");
}

Step ScramServer::handleClientFirst(std::string_view message) {
    auto parsed = detail::parseClientFirst(message);
    if (!parsed.message) {
        if (parsed.error == detail::SyntaxError::Extension) {
            return fail(Failure::MalformedRequest,
                        "extensions-not-supported: mandatory extension m= is unknown");
        }
        return fail(Failure::MalformedRequest,
                    "invalid-encoding: client-first-message does not follow RFC 5802 §7");
    }
    detail::ClientFirstMessage& m = *parsed.message;

    // RFC 5802 §6 channel-binding negotiation.
    channelBinding_.clear();
    switch (m.cbFlag) {
        case 'n':
            if (plus_)
                return fail(Failure::MalformedRequest, "a -PLUS mechanism requires gs2 flag p=<type>");
            break;
        case 'y':
            if (plus_)
                return fail(Failure::MalformedRequest, "a -PLUS mechanism requires gs2 flag p=<type>");
            // The client can bind but saw no -PLUS: someone removed it from our list (downgrade).
            if (options_.plusAdvertised) {
                return fail(Failure::NotAuthorized, "server-does-support-channel-binding");
            }
            break;
        default: {  // 'p'
            if (!plus_)
                return fail(Failure::MalformedRequest, "channel binding requested with a non-PLUS mechanism");
            const std::string* data = nullptr;
            if (m.cbName == kTlsExporter) {
                data = &options_.channelBindings.tlsExporter;
            } else if (m.cbName == kTlsServerEndPoint) {
                data = &options_.channelBindings.tlsServerEndPoint;
            }
            // tls-unique and unknown types are refused (RFC 9266 §1); so is a type this connection lacks.
            if (data == nullptr || data->empty() || !options_.tls) {
                return fail(Failure::NotAuthorized, "unsupported-channel-binding-type");
            }
            channelBinding_ = *data;
            break;
        }
    }

    gs2Header_ = std::string(m.gs2Header);
    clientFirstBare_ = std::string(m.bare);
    username_ = std::move(m.username);
    authzid_ = std::move(m.authzid);
    if (serverNonce_.empty())
        serverNonce_ = detail::makeNonce();
    nonce_.reserve(m.nonce.size() + serverNonce_.size());
    nonce_ = m.nonce;
    nonce_ += serverNonce_;
    state_ = State::AwaitCredential;
    return NeedCredential{username_, algorithm_};
}

Step ScramServer::provideCredential(std::optional<ScramCredential> credential) {
    if (state_ == State::Done)
        return fail(Failure::MalformedRequest, "the SCRAM exchange is already over");
    if (state_ != State::AwaitCredential)
        detail::invariantViolated("ScramServer::provideCredential not asked for");

    // The fake credential is computed for every user, so that a lookup miss costs the same here.
    const std::string& secret =
        options_.fakeCredentialSecret.empty() ? processFakeSecret() : options_.fakeCredentialSecret;
    const std::uint32_t fakeIterations =
        options_.defaultIterations > 0 ? options_.defaultIterations : kMinScramIterations;
    ScramCredential fake = fabricateCredential(algorithm_, secret, username_, fakeIterations);
    if (credential) {
        if (!isUsable(*credential, algorithm_)) {
            return fail(Failure::TemporaryAuthFailure,
                        "the stored SCRAM credential is damaged; reset the password");
        }
        credential_ = std::move(*credential);
        fakeCredential_ = false;
    } else {
        credential_ = std::move(fake);
        fakeCredential_ = true;
    }

    serverFirst_.reserve(nonce_.size() + credential_.salt.size() * 2 + 24);
    serverFirst_ = "r=";
    serverFirst_ += nonce_;
    serverFirst_ += ",s=";
    serverFirst_ += base64Encode(credential_.salt);
    serverFirst_ += ",i=";
    serverFirst_ += std::to_string(credential_.iterations);
    state_ = State::AwaitClientFinal;
    return Challenge{serverFirst_};
}

Step ScramServer::providePasswordCheck(bool /*passwordOk*/) {
    detail::invariantViolated("ScramServer::providePasswordCheck: SCRAM never asks for a password check");
}

Step ScramServer::handleClientFinal(std::string_view message) {
    auto parsed = detail::parseClientFinal(message);
    if (!parsed.message) {
        if (parsed.error == detail::SyntaxError::Extension) {
            return fail(Failure::MalformedRequest,
                        "extensions-not-supported: mandatory extension m= is unknown");
        }
        return fail(Failure::MalformedRequest,
                    "invalid-encoding: client-final-message does not follow RFC 5802 §7");
    }
    const detail::ClientFinalMessage& m = *parsed.message;
    if (!base64Decode(m.channelBinding)) {
        return fail(Failure::MalformedRequest, "invalid-encoding: c= is not base64");
    }
    auto proof = base64Decode(m.proof);
    if (!proof || proof->size() != digestSize(algorithm_)) {
        return fail(Failure::MalformedRequest,
                    "invalid-encoding: p= is not a base64 proof of the right length");
    }

    // RFC 5802 §5.1 c=: base64 of the gs2-header and, with 'p', the channel-binding data. Strict
    // base64 is canonical, so comparing the text compares the bytes.
    if (m.channelBinding != base64Encode(gs2Header_ + channelBinding_)) {
        return fail(Failure::NotAuthorized, "channel-bindings-dont-match");
    }
    // The nonce must be the one of this exchange: a client-final replayed from another exchange
    // carries a different server nonce.
    if (m.nonce != nonce_)
        return fail(Failure::NotAuthorized, "invalid-proof: nonce mismatch");

    // RFC 5802 §3: AuthMessage = client-first-message-bare "," server-first-message ","
    // client-final-message-without-proof; ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage);
    // the proof is right if H(ClientKey) = StoredKey.
    std::string authMessage;
    authMessage.reserve(clientFirstBare_.size() + serverFirst_.size() + m.withoutProof.size() + 2);
    authMessage += clientFirstBare_;
    authMessage += ',';
    authMessage += serverFirst_;
    authMessage += ',';
    authMessage += m.withoutProof;
    const std::string clientSignature = detail::hmac(algorithm_, credential_.storedKey, authMessage);
    std::string clientKey = detail::xorBytes(*proof, clientSignature);
    const bool proofOk =
        detail::constantTimeEqual(detail::hash(algorithm_, clientKey), credential_.storedKey);
    detail::cleanse(clientKey);
    // Same work and same answer for an unknown user as for a wrong password.
    if (!proofOk || fakeCredential_)
        return fail(Failure::NotAuthorized, "invalid-proof");

    const std::string serverSignature = detail::hmac(algorithm_, credential_.serverKey, authMessage);
    state_ = State::Done;
    return Success{"v=" + base64Encode(serverSignature), std::move(username_), std::move(authzid_)};
}

}  // namespace parley::sasl
