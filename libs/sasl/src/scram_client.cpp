#include "parley/sasl/scram_client.h"

#include "crypto.h"
#include "parley/base/base64.h"
#include "scram_syntax.h"

#include <utility>

namespace parley::sasl {

ScramClient::ScramClient(HashAlgorithm algorithm, std::string username, std::string password,
                         std::optional<ClientChannelBinding> channelBinding, bool serverAdvertisedPlus)
    : algorithm_(algorithm),
      username_(std::move(username)),
      password_(std::move(password)),
      channelBinding_(std::move(channelBinding)),
      plus_(channelBinding_.has_value() && serverAdvertisedPlus) {}

ScramClient::~ScramClient() {
    detail::cleanse(password_);
    if (salted_)
        detail::cleanse(salted_->saltedPassword);
    if (cached_)
        detail::cleanse(cached_->saltedPassword);
}

std::string ScramClient::mechanismName() const {
    std::string name = "SCRAM-";
    name += toString(algorithm_);
    if (plus_)
        name += "-PLUS";
    return name;
}

void ScramClient::setAuthzid(std::string authzid) {
    authzid_ = std::move(authzid);
}

void ScramClient::setIterationLimits(std::uint32_t minimum, std::uint32_t maximum) {
    minIterations_ = minimum;
    maxIterations_ = maximum;
}

void ScramClient::useCachedSaltedPassword(ScramSaltedPassword cached) {
    cached_ = std::move(cached);
}

void ScramClient::setClientNonceForTest(std::string nonce) {
    clientNonce_ = std::move(nonce);
}

std::string ScramClient::clientFirst() {
    if (state_ != State::Initial)
        detail::invariantViolated("ScramClient::clientFirst called twice");
    if (clientNonce_.empty())
        clientNonce_ = detail::makeNonce();
    // RFC 5802 §6: "p=<type>" when binding, "y" when we could bind but the server offered no
    // -PLUS, "n" when we cannot bind.
    if (plus_) {
        gs2Header_ = "p=" + channelBinding_->type;
    } else {
        gs2Header_ = channelBinding_ ? "y" : "n";
    }
    gs2Header_ += ',';
    if (!authzid_.empty())
        gs2Header_ += "a=" + detail::encodeSaslname(authzid_);
    gs2Header_ += ',';
    clientFirstBare_ = "n=" + detail::encodeSaslname(username_) + ",r=" + clientNonce_;
    state_ = State::SentFirst;
    return gs2Header_ + clientFirstBare_;
}

Result<std::string, Failure> ScramClient::clientFinal(std::string_view serverFirst) {
    if (state_ != State::SentFirst)
        return Failure::MalformedRequest;
    state_ = State::Done;  // until it succeeds
    const auto parsed = detail::parseServerFirst(serverFirst);
    if (!parsed.message)
        return Failure::MalformedRequest;
    const detail::ServerFirstMessage& m = *parsed.message;
    // RFC 5802 §5.1: the nonce starts with ours and the server added something.
    if (m.nonce.size() <= clientNonce_.size() || !m.nonce.starts_with(clientNonce_)) {
        return Failure::MalformedRequest;
    }
    const auto salt = base64Decode(m.salt);
    if (!salt || salt->empty())
        return Failure::MalformedRequest;
    if (m.iterations < minIterations_)
        return Failure::MechanismTooWeak;
    if (m.iterations > maxIterations_)
        return Failure::MalformedRequest;

    usedCache_ = cached_ && cached_->algorithm == algorithm_ && cached_->iterations == m.iterations &&
                 cached_->salt == *salt && cached_->saltedPassword.size() == digestSize(algorithm_);
    salted_ = ScramSaltedPassword{
        algorithm_, *salt, m.iterations,
        usedCache_ ? cached_->saltedPassword : detail::pbkdf2(algorithm_, password_, *salt, m.iterations)};

    std::string withoutProof = "c=";
    withoutProof += base64Encode(gs2Header_ + (plus_ ? channelBinding_->data : std::string()));
    withoutProof += ",r=";
    withoutProof += m.nonce;
    const std::string authMessage = clientFirstBare_ + "," + std::string(serverFirst) + "," + withoutProof;

    // RFC 5802 §3: ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage).
    std::string clientKey = detail::hmac(algorithm_, salted_->saltedPassword, "Client Key");
    const std::string storedKey = detail::hash(algorithm_, clientKey);
    const std::string serverKey = detail::hmac(algorithm_, salted_->saltedPassword, "Server Key");
    const std::string proof = detail::xorBytes(clientKey, detail::hmac(algorithm_, storedKey, authMessage));
    detail::cleanse(clientKey);
    expectedServerSignature_ = detail::hmac(algorithm_, serverKey, authMessage);
    state_ = State::SentFinal;
    return withoutProof + ",p=" + base64Encode(proof);
}

bool ScramClient::verifyServerFinal(std::string_view serverFinal) {
    if (state_ != State::SentFinal)
        return false;
    state_ = State::Done;
    const auto parsed = detail::parseServerFinal(serverFinal);
    if (!parsed)
        return false;
    if (parsed->isError) {
        serverError_ = std::string(parsed->value);
        return false;
    }
    const auto signature = base64Decode(parsed->value);
    return signature && detail::constantTimeEqual(*signature, expectedServerSignature_);
}

}  // namespace parley::sasl
