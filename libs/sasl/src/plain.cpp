#include "parley/sasl/plain.h"

#include "crypto.h"
#include "plain_server.h"
#include "scram_syntax.h"

namespace parley::sasl {
namespace {

// RFC 4616 §2: authcid and passwd are 1*SAFE, authzid is optional; SAFE is any UTF-8 character
// but NUL. The RFC only says a server MUST accept 255 octets; we accept no more, which bounds
// the work a client can ask for (the password goes into PBKDF2).
bool isValidField(std::string_view field, bool mayBeEmpty) {
    if (field.empty())
        return mayBeEmpty;
    return field.size() <= kPlainMaxFieldSize && field.find('\0') == std::string_view::npos &&
           detail::isValidUtf8(field);
}

class PlainServer final : public ServerMechanism {
  public:
    ~PlainServer() override { detail::cleanse(password_); }
    std::string_view name() const noexcept override { return "PLAIN"; }

    Step start(std::optional<std::string_view> initialResponse) override {
        if (state_ != State::Initial)
            detail::invariantViolated("PlainServer::start called twice");
        if (!initialResponse) {
            state_ = State::AwaitMessage;
            return Challenge{};
        }
        return handleMessage(*initialResponse);
    }

    Step respond(std::string_view response) override {
        if (state_ == State::AwaitMessage)
            return handleMessage(response);
        return fail("unexpected SASL response: PLAIN is a single message");
    }

    Step provideCredential(std::optional<ScramCredential> /*credential*/) override {
        detail::invariantViolated("PlainServer::provideCredential: PLAIN asks for a password check");
    }

    Step providePasswordCheck(bool passwordOk) override {
        if (state_ == State::Done)
            return fail("the PLAIN exchange is already over");
        if (state_ != State::AwaitCheck)
            detail::invariantViolated("PlainServer::providePasswordCheck not asked for");
        state_ = State::Done;
        detail::cleanse(password_);
        if (!passwordOk)
            return Fail{Failure::NotAuthorized, "wrong username or password"};
        return Success{{}, std::move(authcid_), std::move(authzid_)};
    }

  private:
    enum class State : std::uint8_t { Initial, AwaitMessage, AwaitCheck, Done };

    Step fail(std::string_view text) {
        state_ = State::Done;
        return Fail{Failure::MalformedRequest, std::string(text)};
    }

    Step handleMessage(std::string_view message) {
        // message = [authzid] UTF8NUL authcid UTF8NUL passwd
        const std::size_t first = message.find('\0');
        const std::size_t second = first == std::string_view::npos ? first : message.find('\0', first + 1);
        if (second == std::string_view::npos) {
            return fail("PLAIN message must be [authzid] NUL authcid NUL password (RFC 4616 §2)");
        }
        const std::string_view authzid = message.substr(0, first);
        const std::string_view authcid = message.substr(first + 1, second - first - 1);
        const std::string_view password = message.substr(second + 1);
        // An empty authcid or password does not match 1*SAFE: a malformed request, not a wrong password.
        if (!isValidField(authzid, true) || !isValidField(authcid, false) || !isValidField(password, false)) {
            return fail("PLAIN fields must be 1 to 255 octets of UTF-8 without NUL (RFC 4616 §2)");
        }
        authzid_ = std::string(authzid);
        authcid_ = std::string(authcid);
        password_ = std::string(password);
        state_ = State::AwaitCheck;
        return NeedPasswordCheck{authcid_, password_};
    }

    State state_ = State::Initial;
    std::string authzid_;
    std::string authcid_;
    std::string password_;
};

}  // namespace

Result<std::string, Failure> plainMessage(std::string_view authcid, std::string_view password,
                                          std::string_view authzid) {
    if (!isValidField(authzid, true) || !isValidField(authcid, false) || !isValidField(password, false)) {
        return Failure::MalformedRequest;
    }
    std::string out;
    out.reserve(authzid.size() + authcid.size() + password.size() + 2);
    out += authzid;
    out += '\0';
    out += authcid;
    out += '\0';
    out += password;
    return out;
}

namespace detail {
std::unique_ptr<ServerMechanism> makePlainServer() {
    return std::make_unique<PlainServer>();
}
}  // namespace detail

}  // namespace parley::sasl
