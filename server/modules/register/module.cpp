// XEP-0077: In-Band Registration: create an account before authenticating, change the password, and
// cancel the account. The policy per host is open, closed or admin-only; new registrations are
// limited per remote address, with loopback exempt by default (as in Prosody).
#include <chrono>
#include <map>
#include <mutex>

#include "parley/sasl/scram_credential.h"
#include "parley/server/module.h"
#include "parley/server/offload.h"
#include "parley/storage/storage.h"

namespace parley::server::modules {
namespace {

constexpr std::string_view kRegister = "jabber:iq:register";
constexpr std::string_view kRegisterFeature = "http://jabber.org/features/iq-register";

using xmpp::StanzaError;
using xmpp::StanzaErrorCondition;

class RegisterModule final : public Module {
  public:
    void start(ModuleContext& context) override {
        context_ = &context;
        registrations_.push_back(context.addDiscoFeature(std::string(kRegister)));
        registrations_.push_back(
            context.addStreamFeature(StreamStage::PreAuth, [this](const StreamFeatureContext& f) {
                // XEP-0077 §4: advertised only where a registration could succeed.
                const HostConfig* host = context_->config().findHost(f.host);
                if (!host || host->registration != RegistrationPolicy::Open)
                    return std::optional<xml::Element>();
                // A password travels in the form: as with SASL PLAIN, only over TLS unless configured
                // otherwise.
                if (!f.tls && !context_->config().allowPlainWithoutTls)
                    return std::optional<xml::Element>();
                return std::optional<xml::Element>(xml::Element("register", std::string(kRegisterFeature)));
            }));
        registrations_.push_back(context.onPreAuthIq(
            std::string(kRegister), "query", [this](PreAuthIqRequest r) { return preAuth(std::move(r)); }));
        for (xmpp::IqType type : {xmpp::IqType::Get, xmpp::IqType::Set}) {
            registrations_.push_back(
                context.onIq(type, scopes({IqScope::Self, IqScope::Host}), std::string(kRegister), "query",
                             [this](IqRequest r) { return authenticated(std::move(r)); }));
        }
    }

  private:
    static xml::Element form(std::string_view instructions) {
        xml::Element query("query", std::string(kRegister));
        query.append("instructions", std::string(kRegister)).appendText(std::string(instructions));
        query.append("username", std::string(kRegister));
        query.append("password", std::string(kRegister));
        return query;
    }

    // Validates a user name and password from a form; the error says which one is wrong.
    static Result<std::pair<std::string, std::string>, StanzaError> readCredentials(
        const xml::Element& query) {
        const xml::Element* username = query.findChild("username", kRegister);
        const xml::Element* password = query.findChild("password", kRegister);
        if (!username || !password) {
            return StanzaError(StanzaErrorCondition::BadRequest, "Both username and password are required");
        }
        auto user = prepareLocalpart(username->text());
        if (!user)
            return StanzaError(StanzaErrorCondition::NotAcceptable, "This user name is not allowed");
        // RFC 8265 §4: passwords are prepared with the OpaqueString profile, like resources.
        auto pass = prepareResource(password->text());
        if (!pass || pass->size() > 1023) {
            return StanzaError(StanzaErrorCondition::NotAcceptable, "This password is not allowed");
        }
        return std::make_pair(std::move(*user), std::move(*pass));
    }

    // Derives the SCRAM credentials off the network loop (three PBKDF2 runs).
    asio::awaitable<std::vector<sasl::ScramCredential>> derive(std::string password) {
        const std::uint32_t iterations = context_->config().scramIterations;
        // A named lambda: GCC 12 destroys a capturing lambda temporary inside co_await twice (STYLE.md).
        auto work = [password = std::move(password), iterations] {
            return sasl::deriveAllScramCredentials(password, iterations);
        };
        auto credentials = co_await offload(context_->cpuPool(), std::move(work));
        co_return credentials;
    }

    // Claims the address's registration slot, or returns false when it was used within the interval.
    // The slot is taken before the keys are derived, not after the account is stored: checking first
    // and recording later let every connection that asked while the first PBKDF2 ran register too.
    bool reserveRegistration(const asio::ip::address& address) {
        const auto& limits = context_->config().limits;
        if (limits.registrationInterval.count() == 0)
            return true;
        if (address.is_loopback() && limits.registrationLimitExemptLoopback)
            return true;
        std::lock_guard lock(mutex_);
        const auto now = context_->clock().now();
        std::erase_if(lastRegistration_,
                      [&](const auto& entry) { return now - entry.second > limits.registrationInterval; });
        return lastRegistration_.try_emplace(address.to_string(), now).second;
    }

    // Gives the slot back after a registration that failed (a taken name must not cost the interval).
    void releaseRegistration(const asio::ip::address& address) {
        std::lock_guard lock(mutex_);
        lastRegistration_.erase(address.to_string());
    }

    asio::awaitable<IqResult> create(std::string host, const xml::Element& query) {
        auto credentials = readCredentials(query);
        if (!credentials)
            co_return credentials.error();
        auto [user, password] = std::move(*credentials);
        storage::Account account;
        account.host = host;
        account.username = user;
        account.createdAt = context_->clock().unixSeconds();
        account.credentials = co_await derive(std::move(password));
        auto created = co_await context_->storage().accounts().createAccount(std::move(account));
        if (!created) {
            if (created.error() == storage::StorageError::AlreadyExists) {
                co_return StanzaError(StanzaErrorCondition::Conflict, "This user name is taken");
            }
            context_->log().error("cannot store the new account " + user + "@" + host + ": " +
                                  std::string(storage::toString(created.error())));
            co_return StanzaError(StanzaErrorCondition::InternalServerError,
                                  "The account could not be stored");
        }
        context_->log().info("registered " + user + "@" + host);
        co_return std::nullopt;
    }

    asio::awaitable<IqResult> preAuth(PreAuthIqRequest request) {
        const HostConfig* host = context_->config().findHost(request.host);
        if (!host || host->registration != RegistrationPolicy::Open) {
            // XEP-0077 §3.1: registration not offered here.
            co_return StanzaError(StanzaErrorCondition::ServiceUnavailable,
                                  "Registration is closed on this server");
        }
        if (!request.tls && !context_->config().allowPlainWithoutTls) {
            // The form carries a password; like SASL PLAIN it needs TLS (allow_plain_without_tls).
            co_return StanzaError(StanzaErrorCondition::NotAllowed,
                                  "Register over an encrypted connection (STARTTLS)");
        }
        if (request.stanza.iqType() == xmpp::IqType::Get)
            co_return form("Choose a user name and password.");
        if (request.payload().findChild("remove", kRegister)) {
            co_return StanzaError(StanzaErrorCondition::NotAuthorized, "Log in to cancel an account");
        }
        const bool reserved = reserveRegistration(request.remoteAddress);
        if (!reserved) {
            co_return StanzaError(StanzaErrorCondition::ResourceConstraint,
                                  "Too many registrations from your address; try again later");
        }
        IqResult result = co_await create(request.host, request.payload());
        if (!result)
            releaseRegistration(request.remoteAddress);
        co_return result;
    }

    asio::awaitable<IqResult> authenticated(IqRequest request) {
        const Jid& from = request.from();
        const std::string host(from.domain());
        const HostConfig* hostConfig = context_->config().findHost(host);
        const bool isAdmin = hostConfig && std::find(hostConfig->admins.begin(), hostConfig->admins.end(),
                                                     from.bareView()) != hostConfig->admins.end();
        const xml::Element& query = request.payload();
        if (request.stanza->iqType() == xmpp::IqType::Get) {
            // XEP-0077 §3.2: a registered user sees <registered/> and their user name.
            xml::Element reply("query", std::string(kRegister));
            reply.append("registered", std::string(kRegister));
            reply.append("username", std::string(kRegister)).appendText(std::string(from.local()));
            reply.append("password", std::string(kRegister));
            co_return reply;
        }
        if (query.findChild("remove", kRegister)) {
            // XEP-0077 §3.2: bad-request when <remove/> is not the only child of <query/>. Above all, a
            // request that also names a user must not cancel the requester's own account.
            if (query.childCount() != 1) {
                co_return StanzaError(StanzaErrorCondition::BadRequest,
                                      "<remove/> must be the only child of <query/>");
            }
            co_return co_await cancel(from);
        }
        const xml::Element* username = query.findChild("username", kRegister);
        auto user =
            username ? prepareLocalpart(username->text()) : Result<std::string, JidError>(JidError::Empty);
        if (username && !user) {
            // XEP-0077 §3.3: the user name is the requester's own. One that is not a valid localpart
            // names nobody, so it must not change the requester's password either.
            co_return StanzaError(StanzaErrorCondition::NotAcceptable, "This user name is not allowed");
        }
        if (user && *user != from.local()) {
            // An admin of an admin-only host creates accounts for others (XEP-0077 §3.1 with access control).
            if (isAdmin && hostConfig->registration == RegistrationPolicy::AdminOnly) {
                co_return co_await create(host, query);
            }
            co_return StanzaError(StanzaErrorCondition::NotAllowed, "You can change only your own password");
        }
        co_return co_await changePassword(from, query);
    }

    asio::awaitable<IqResult> changePassword(Jid from, const xml::Element& query) {
        const xml::Element* password = query.findChild("password", kRegister);
        auto pass =
            password ? prepareResource(password->text()) : Result<std::string, JidError>(JidError::Empty);
        if (!pass || pass->size() > 1023)
            co_return StanzaError(StanzaErrorCondition::NotAcceptable, "This password is not allowed");
        auto credentials = co_await derive(std::move(*pass));
        // Named first: no temporary that owns memory inside co_await (docs/STYLE.md rule 16).
        const std::string host(from.domain());
        const std::string user(from.local());
        auto stored =
            co_await context_->storage().accounts().setCredentials(host, user, std::move(credentials));
        if (!stored)
            co_return StanzaError(StanzaErrorCondition::InternalServerError,
                                  "The password could not be stored");
        context_->log().info("password changed for " + std::string(from.bareView()));
        // Reliability row 45: the account's other sessions authenticated with the old password.
        context_->closeSessionsOf(from.bare(),
                                  {xmpp::StreamErrorCondition::Reset, "The password was changed", {}}, &from);
        co_return std::nullopt;
    }

    asio::awaitable<IqResult> cancel(Jid from) {
        // The name keeps a tombstone (docs/storage.md): registering it again is a conflict.
        const std::string host(from.domain());
        const std::string user(from.local());
        auto removed = co_await context_->storage().accounts().deleteAccount(host, user,
                                                                             context_->clock().unixSeconds());
        if (!removed && removed.error() != storage::StorageError::NotFound) {
            co_return StanzaError(StanzaErrorCondition::InternalServerError,
                                  "The account could not be removed");
        }
        context_->log().info("account cancelled: " + std::string(from.bareView()));
        context_->accountDeleted({std::string(from.domain()), std::string(from.local())});
        // XEP-0077 §3.2: the result first, then every stream of the account is closed.
        context_->defer([context = context_, bare = from.bare()] {
            context->closeSessionsOf(
                bare, {xmpp::StreamErrorCondition::NotAuthorized, "The account was removed", {}});
        });
        co_return std::nullopt;
    }

    ModuleContext* context_ = nullptr;
    std::mutex mutex_;
    std::map<std::string, Clock::TimePoint> lastRegistration_;
    std::vector<Registration> registrations_;
};

}  // namespace

ModuleInfo registerModule() {
    return {"register", "in-band registration, password change and account removal", {"XEP-0077"}, [] {
                return std::unique_ptr<Module>(std::make_unique<RegisterModule>());
            }};
}

}  // namespace parley::server::modules
