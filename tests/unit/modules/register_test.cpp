// XEP-0077 In-Band Registration (server/modules/register): the stream feature, the pre-auth form,
// account creation and its errors, the per-address rate limit, password change, account removal and
// the admin-only policy. Everything goes through real streams to an in-process server.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "module_test_util.h"
#include "parley/sasl/scram_credential.h"
#include "parley/storage/storage.h"

namespace parley::test {
namespace {

constexpr std::string_view kRegisterFeatureNs = "http://jabber.org/features/iq-register";
constexpr std::string_view kRegisterNs = "jabber:iq:register";

std::string registerSet(const std::string& id, const std::string& fields) {
    return "<iq type='set' id='" + id + "'><query xmlns='jabber:iq:register'>" + fields + "</query></iq>";
}

std::string credentialsFields(const std::string& user, const std::string& password) {
    return "<username>" + user + "</username><password>" + password + "</password>";
}

// Registers user/password from a fresh client past TLS; returns the reply (or nullopt).
std::optional<xml::Element> registerAccount(TestServer& server, const std::string& user,
                                            const std::string& password,
                                            const std::string& domain = "localhost") {
    auto client = tlsClient(server, nullptr, domain);
    return request(*client, registerSet("r1", credentialsFields(user, password)));
}

void setPolicy(server::ServerConfig& config, const std::string& domain, server::RegistrationPolicy policy) {
    for (auto& host : config.hosts) {
        if (host.domain == domain)
            host.registration = policy;
    }
}

// --- the stream feature ----------------------------------------------------------------------

TEST(Register, FeatureOnlyAfterTlsOnTheRequiredTlsPort) {
    TestServer server;
    TestClient client(server.requiredTlsPort());
    auto beforeTls = client.openStream("localhost");
    ASSERT_TRUE(beforeTls);
    EXPECT_FALSE(beforeTls->findChild("register", kRegisterFeatureNs)) << beforeTls->toString();
    auto afterTls = client.startTls("localhost");
    ASSERT_TRUE(afterTls);
    EXPECT_TRUE(afterTls->findChild("register", kRegisterFeatureNs)) << afterTls->toString();
}

TEST(Register, FeatureOnlyWhereThePolicyIsOpen) {
    TestServer server([](server::ServerConfig& config) {
        setPolicy(config, "localhost", server::RegistrationPolicy::Closed);
        setPolicy(config, "example.org", server::RegistrationPolicy::AdminOnly);
    });
    std::optional<xml::Element> features;
    auto closed = tlsClient(server, &features, "localhost");
    ASSERT_TRUE(features);
    EXPECT_FALSE(features->findChild("register", kRegisterFeatureNs)) << features->toString();
    auto adminOnly = tlsClient(server, &features, "example.org");
    ASSERT_TRUE(features);
    EXPECT_FALSE(features->findChild("register", kRegisterFeatureNs)) << features->toString();
}

TEST(Register, FeatureNotOfferedAfterAuthentication) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    std::optional<xml::Element> features;
    auto client = tlsClient(server, &features);
    ASSERT_TRUE(features && features->findChild("register", kRegisterFeatureNs));
    auto postAuth = authenticatePlain(*client, "romeo", "secret");
    ASSERT_TRUE(postAuth);
    EXPECT_TRUE(postAuth->findChild("bind", "urn:ietf:params:xml:ns:xmpp-bind"));
    EXPECT_FALSE(postAuth->findChild("register", kRegisterFeatureNs)) << postAuth->toString();
}

// --- pre-auth requests -----------------------------------------------------------------------

TEST(Register, PreAuthGetReturnsTheForm) {
    TestServer server;
    auto client = tlsClient(server);
    auto reply = request(*client, "<iq type='get' id='g1'><query xmlns='jabber:iq:register'/></iq>");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();
    EXPECT_EQ(reply->attr("id"), "g1");
    const xml::Element* query = reply->findChild("query", kRegisterNs);
    ASSERT_TRUE(query) << reply->toString();
    EXPECT_TRUE(query->findChild("username", kRegisterNs));
    EXPECT_TRUE(query->findChild("password", kRegisterNs));
    EXPECT_FALSE(query->childText("instructions", kRegisterNs).empty());
    EXPECT_FALSE(query->findChild("registered", kRegisterNs));
}

TEST(Register, PreAuthIqBeforeTlsOnTheRequiredTlsPortIsRefused) {
    TestServer server;
    TestClient client(server.requiredTlsPort());
    ASSERT_TRUE(client.openStream("localhost"));
    client.send(registerSet("r1", credentialsFields("eve", "secret")));
    // RFC 6120 §5.3.1: with TLS required nothing but STARTTLS is processed before TLS.
    EXPECT_EQ(client.streamErrorCondition(), "not-authorized");
    EXPECT_TRUE(client.waitForClose());
    EXPECT_FALSE(server.accountExists("eve", "localhost"));
}

TEST(Register, NotOverCleartextWhereTlsIsOptional) {
    // The form carries the password: like SASL PLAIN it needs TLS unless allow_plain_without_tls.
    TestServer server;
    TestClient client(server.optionalTlsPort());
    auto features = client.openStream("localhost");
    ASSERT_TRUE(features);
    EXPECT_FALSE(features->findChild("register", kRegisterFeatureNs)) << features->toString();
    auto reply = request(client, registerSet("r1", credentialsFields("eve", "secret")));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "error") << reply->toString();
    EXPECT_TRUE(reply->findChild("error", "jabber:client")
                    ->findChild("not-allowed", "urn:ietf:params:xml:ns:xmpp-stanzas"))
        << reply->toString();
    EXPECT_FALSE(server.accountExists("eve", "localhost"));
}

TEST(Register, OverCleartextWhenPlainPasswordsAreAllowed) {
    TestServer server([](server::ServerConfig& config) { config.allowPlainWithoutTls = true; });
    TestClient client(server.optionalTlsPort());
    auto features = client.openStream("localhost");
    ASSERT_TRUE(features);
    EXPECT_TRUE(features->findChild("register", kRegisterFeatureNs)) << features->toString();
    auto reply = request(client, registerSet("r1", credentialsFields("eve", "secret")));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();
    EXPECT_TRUE(server.accountExists("eve", "localhost"));
}

TEST(Register, SetCreatesAnAccountStoredAsScramKeysOnly) {
    TestServer server;
    const std::string password = "correct horse battery staple";
    auto reply = registerAccount(server, "juliet", password);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();
    EXPECT_EQ(reply->attr("id"), "r1");
    ASSERT_TRUE(server.accountExists("juliet", "localhost"));

    // The new account logs in with SCRAM-SHA-256.
    auto juliet = loggedIn(server, "juliet", password, "balcony");
    EXPECT_TRUE(answersPing(*juliet, "p1"));

    // What is stored: one SCRAM credential per hash, keys of the digest's size, never the password.
    auto found = runSync(server.server().core().storage().accounts().findAccount("localhost", "juliet"));
    ASSERT_TRUE(found && found->has_value());
    const storage::Account& account = **found;
    ASSERT_EQ(account.credentials.size(), 3u);
    std::set<sasl::HashAlgorithm> algorithms;
    for (const sasl::ScramCredential& credential : account.credentials) {
        algorithms.insert(credential.algorithm);
        EXPECT_EQ(credential.storedKey.size(), sasl::digestSize(credential.algorithm));
        EXPECT_EQ(credential.serverKey.size(), sasl::digestSize(credential.algorithm));
        EXPECT_FALSE(credential.salt.empty());
        EXPECT_EQ(credential.iterations, server.server().core().config().scramIterations);
        for (const std::string* field : {&credential.salt, &credential.storedKey, &credential.serverKey}) {
            EXPECT_EQ(field->find(password), std::string::npos) << "the password is stored in the clear";
        }
        EXPECT_TRUE(sasl::verifyPassword(credential, password));
        EXPECT_FALSE(sasl::verifyPassword(credential, password + "x"));
    }
    EXPECT_EQ(algorithms,
              (std::set<sasl::HashAlgorithm>{sasl::HashAlgorithm::Sha1, sasl::HashAlgorithm::Sha256,
                                             sasl::HashAlgorithm::Sha512}));
}

TEST(Register, UserNameIsPreparedBeforeStoring) {
    TestServer server;
    auto reply = registerAccount(server, "Juliet", "secret");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();
    // RFC 7622 §3.3: the localpart is case-mapped (UsernameCaseMapped).
    EXPECT_TRUE(server.accountExists("juliet", "localhost"));
}

TEST(Register, DuplicateUserIsAConflict) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    auto reply = registerAccount(server, "romeo", "other");
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "conflict") << reply->toString();
    EXPECT_EQ(reply->attr("id"), "r1");
    // The original password still works: the failed registration changed nothing.
    auto romeo = loggedIn(server, "romeo", "secret", "r");
    // The case-mapped spelling of an existing name is the same account.
    auto upper = registerAccount(server, "ROMEO", "other");
    ASSERT_TRUE(upper);
    EXPECT_EQ(errorCondition(*upper), "conflict") << upper->toString();
}

TEST(Register, InvalidUserNameIsNotAcceptable) {
    TestServer server;
    // RFC 7622 §3.3.1: '@', '/', space and the empty string are not in a localpart.
    for (const std::string user : {"a@b", "a/b", "with space", ""}) {
        SCOPED_TRACE("user '" + user + "'");
        auto reply = registerAccount(server, user, "secret");
        ASSERT_TRUE(reply);
        EXPECT_EQ(errorCondition(*reply), "not-acceptable") << reply->toString();
    }
    auto emptyPassword = registerAccount(server, "valid", "");
    ASSERT_TRUE(emptyPassword);
    EXPECT_EQ(errorCondition(*emptyPassword), "not-acceptable") << emptyPassword->toString();
    EXPECT_FALSE(server.accountExists("valid", "localhost"));
}

TEST(Register, MissingFieldsAreABadRequest) {
    TestServer server;
    for (const std::string fields : {"<username>nopass</username>", "<password>secret</password>", ""}) {
        SCOPED_TRACE("fields '" + fields + "'");
        auto client = tlsClient(server);
        auto reply = request(*client, registerSet("m1", fields));
        ASSERT_TRUE(reply);
        EXPECT_EQ(errorCondition(*reply), "bad-request") << reply->toString();
    }
    EXPECT_FALSE(server.accountExists("nopass", "localhost"));
}

TEST(Register, ClosedPolicyIsServiceUnavailable) {
    TestServer server([](server::ServerConfig& config) {
        setPolicy(config, "localhost", server::RegistrationPolicy::Closed);
    });
    auto client = tlsClient(server);
    auto form = request(*client, "<iq type='get' id='g1'><query xmlns='jabber:iq:register'/></iq>");
    ASSERT_TRUE(form);
    EXPECT_EQ(errorCondition(*form), "service-unavailable") << form->toString();
    auto set = request(*client, registerSet("s1", credentialsFields("mallory", "secret")));
    ASSERT_TRUE(set);
    EXPECT_EQ(errorCondition(*set), "service-unavailable") << set->toString();
    EXPECT_FALSE(server.accountExists("mallory", "localhost"));
    // The other host keeps its open policy.
    auto other = registerAccount(server, "mallory", "secret", "example.org");
    ASSERT_TRUE(other);
    EXPECT_EQ(other->attr("type"), "result") << other->toString();
    EXPECT_TRUE(server.accountExists("mallory", "example.org"));
}

// --- the per-address rate limit ----------------------------------------------------------------

TEST(Register, LoopbackIsExemptFromTheRateLimitByDefault) {
    TestServer server;
    ASSERT_GT(server.server().core().config().limits.registrationInterval.count(), 0);
    for (const std::string user : {"one", "two", "three"}) {
        auto reply = registerAccount(server, user, "secret");
        ASSERT_TRUE(reply);
        EXPECT_EQ(reply->attr("type"), "result") << user << ": " << reply->toString();
    }
}

TEST(Register, OneRegistrationPerAddressPerInterval) {
    TestServer server([](server::ServerConfig& config) {
        config.limits.registrationLimitExemptLoopback = false;
        // Shorter than the negotiation timeout, so that moving the clock closes no stream.
        config.limits.registrationInterval = std::chrono::seconds(30);
    });
    auto first = registerAccount(server, "first", "secret");
    ASSERT_TRUE(first);
    ASSERT_EQ(first->attr("type"), "result") << first->toString();

    auto second = registerAccount(server, "second", "secret");
    ASSERT_TRUE(second);
    EXPECT_EQ(errorCondition(*second), "resource-constraint") << second->toString();
    EXPECT_FALSE(server.accountExists("second", "localhost"));

    server.advanceClock(std::chrono::seconds(29));
    auto early = registerAccount(server, "second", "secret");
    ASSERT_TRUE(early);
    EXPECT_EQ(errorCondition(*early), "resource-constraint") << early->toString();

    server.advanceClock(std::chrono::seconds(2));
    auto later = registerAccount(server, "second", "secret");
    ASSERT_TRUE(later);
    EXPECT_EQ(later->attr("type"), "result") << later->toString();
    EXPECT_TRUE(server.accountExists("second", "localhost"));
}

TEST(Register, ConcurrentRegistrationsFromOneAddressAreLimited) {
    TestServer server([](server::ServerConfig& config) {
        config.limits.registrationLimitExemptLoopback = false;
        config.limits.registrationInterval = std::chrono::seconds(30);
    });
    // Several connections from one address send their registrations at once, while the first is
    // still deriving its keys: the limit must hold for them too, not only for sequential ones.
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < 4; ++i)
        clients.push_back(tlsClient(server));
    for (int i = 0; i < 4; ++i) {
        clients[i]->send(
            registerSet("c" + std::to_string(i), credentialsFields("user" + std::to_string(i), "secret")));
    }
    int created = 0;
    for (int i = 0; i < 4; ++i) {
        auto reply = clients[i]->receive();
        ASSERT_TRUE(reply);
        if (reply->attr("type") == "result") {
            ++created;
        } else {
            EXPECT_EQ(errorCondition(*reply), "resource-constraint") << reply->toString();
        }
    }
    EXPECT_EQ(created, 1);
}

TEST(Register, AFailedRegistrationDoesNotCountAgainstTheLimit) {
    TestServer server([](server::ServerConfig& config) {
        config.limits.registrationLimitExemptLoopback = false;
        config.limits.registrationInterval = std::chrono::seconds(30);
    });
    server.addAccount("taken", "localhost", "secret");
    auto conflict = registerAccount(server, "taken", "secret");
    ASSERT_TRUE(conflict);
    EXPECT_EQ(errorCondition(*conflict), "conflict") << conflict->toString();
    auto reply = registerAccount(server, "free", "secret");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();
}

// --- authenticated requests --------------------------------------------------------------------

TEST(Register, AuthenticatedGetShowsRegistered) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    auto romeo = loggedIn(server, "romeo", "secret", "orchard");
    auto reply = request(*romeo, "<iq type='get' id='q1'><query xmlns='jabber:iq:register'/></iq>");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();
    const xml::Element* query = reply->findChild("query", kRegisterNs);
    ASSERT_TRUE(query) << reply->toString();
    EXPECT_TRUE(query->findChild("registered", kRegisterNs)) << reply->toString();
    EXPECT_EQ(query->childText("username", kRegisterNs), "romeo");
}

TEST(Register, PasswordChangeClosesTheOtherSessionsWithReset) {
    TestServer server;
    server.addAccount("romeo", "localhost", "old-secret");
    server.addAccount("juliet", "localhost", "secret");
    auto requester = loggedIn(server, "romeo", "old-secret", "phone");
    auto other = loggedIn(server, "romeo", "old-secret", "laptop");
    auto bystander = loggedIn(server, "juliet", "secret", "balcony");

    auto reply = request(*requester, registerSet("c1", credentialsFields("romeo", "new-secret")));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();

    // The session that authenticated with the old password is closed; the requester stays.
    EXPECT_EQ(other->streamErrorCondition(), "reset");
    EXPECT_TRUE(other->waitForClose());
    EXPECT_TRUE(answersPing(*requester, "p1"));
    EXPECT_TRUE(answersPing(*bystander, "p2"));

    TestClient oldPassword(server.requiredTlsPort());
    ASSERT_TRUE(oldPassword.openStream("localhost"));
    ASSERT_TRUE(oldPassword.startTls("localhost"));
    EXPECT_EQ(oldPassword.authenticate("romeo", "old-secret"), "failure");
    auto fresh = loggedIn(server, "romeo", "new-secret", "tablet");
    EXPECT_TRUE(answersPing(*fresh, "p3"));
}

TEST(Register, PasswordChangeWithoutAPasswordIsRefused) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    auto romeo = loggedIn(server, "romeo", "secret", "r");
    auto reply = request(*romeo, registerSet("c1", "<username>romeo</username>"));
    ASSERT_TRUE(reply);
    EXPECT_NE(errorCondition(*reply), "") << reply->toString();
    auto again = loggedIn(server, "romeo", "secret", "s");
    EXPECT_TRUE(answersPing(*again, "p1"));
}

TEST(Register, PasswordChangeNamingAnInvalidUserIsRefused) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    auto romeo = loggedIn(server, "romeo", "secret", "r");
    // The user name must be the requester's own (XEP-0077 §3.3); one that is not even a valid
    // localpart names nobody, and must not change the requester's password.
    auto reply = request(*romeo, registerSet("c1", credentialsFields("a@b", "new-secret")));
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "not-acceptable") << reply->toString();
    auto again = loggedIn(server, "romeo", "secret", "s");
    EXPECT_TRUE(answersPing(*again, "p1"));
}

TEST(Register, RemoveDeletesTheAccountAndClosesItsSessions) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    server.addAccount("juliet", "localhost", "secret");
    auto requester = loggedIn(server, "romeo", "secret", "phone");
    auto other = loggedIn(server, "romeo", "secret", "laptop");
    auto bystander = loggedIn(server, "juliet", "secret", "balcony");

    requester->send(registerSet("x1", "<remove/>"));
    // XEP-0077 §3.2: the result comes first, then the stream is closed.
    auto reply = requester->receive();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->name(), "iq");
    EXPECT_EQ(reply->attr("id"), "x1");
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();
    EXPECT_EQ(requester->streamErrorCondition(), "not-authorized");
    EXPECT_TRUE(requester->waitForClose());
    EXPECT_EQ(other->streamErrorCondition(), "not-authorized");
    EXPECT_TRUE(other->waitForClose());

    EXPECT_FALSE(server.accountExists("romeo", "localhost"));
    EXPECT_TRUE(answersPing(*bystander, "p1"));
    TestClient again(server.requiredTlsPort());
    ASSERT_TRUE(again.openStream("localhost"));
    ASSERT_TRUE(again.startTls("localhost"));
    EXPECT_EQ(again.authenticate("romeo", "secret"), "failure");
}

TEST(Register, RemoveWithOtherChildrenIsABadRequestAndRemovesNothing) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    server.addAccount("juliet", "localhost", "secret");
    auto romeo = loggedIn(server, "romeo", "secret", "r");
    // XEP-0077 §3.2: bad-request when <remove/> is not the only child of <query/>. Naming another
    // user must never cancel the requester's own account.
    auto reply = request(*romeo, registerSet("x1", "<remove/><username>juliet</username>"));
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "bad-request") << reply->toString();
    EXPECT_TRUE(server.accountExists("romeo", "localhost"));
    EXPECT_TRUE(server.accountExists("juliet", "localhost"));
    EXPECT_TRUE(answersPing(*romeo, "p1"));
}

TEST(Register, RemoveBeforeAuthenticationIsRefused) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    auto client = tlsClient(server);
    auto reply = request(*client, registerSet("x1", "<remove/>"));
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "not-authorized") << reply->toString();
    EXPECT_TRUE(server.accountExists("romeo", "localhost"));
}

// --- deleted accounts (reliability row 45: tombstones) -------------------------------------------

// Cancels the logged-in account of `client` (XEP-0077 §3.2) and waits until its stream is closed.
void cancelAccount(TestClient& client) {
    auto reply = request(client, registerSet("x1", "<remove/>"));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->attr("type"), "result") << reply->toString();
    EXPECT_EQ(client.streamErrorCondition(), "not-authorized");
    EXPECT_TRUE(client.waitForClose());
}

// The presence errors among `stanzas`, as "from condition".
std::vector<std::string> presenceErrors(const std::vector<xml::Element>& stanzas) {
    std::vector<std::string> errors;
    for (const xml::Element& stanza : stanzas) {
        if (stanza.name() == "presence" && stanza.attr("type") == "error")
            errors.push_back(std::string(stanza.attr("from")) + " " + errorCondition(stanza));
    }
    return errors;
}

TEST(Register, RemovedNameIsAConflictUntilReleased) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    auto romeo = loggedIn(server, "romeo", "secret", "phone");
    cancelAccount(*romeo);
    auto& accounts = server.server().core().storage().accounts();
    auto tombstone = runSync(accounts.findTombstone("localhost", "romeo"));
    ASSERT_TRUE(tombstone && tombstone->has_value());
    EXPECT_EQ(**tombstone, server.clock().unixSeconds());

    // The name of a deleted account stays taken (a tombstone): registering it is a conflict, as for a
    // live account (XEP-0077 §3.1), so nobody receives what the old account's contacts still send.
    auto reply = registerAccount(server, "romeo", "new-secret");
    ASSERT_TRUE(reply);
    EXPECT_EQ(errorCondition(*reply), "conflict") << reply->toString();
    EXPECT_FALSE(server.accountExists("romeo", "localhost"));
    // Another name is not affected.
    auto other = registerAccount(server, "romeo2", "secret");
    ASSERT_TRUE(other);
    EXPECT_EQ(other->attr("type"), "result") << other->toString();

    // An administrator frees the name (parleyctl release): then it can be registered.
    ASSERT_TRUE(runSync(accounts.removeTombstone("localhost", "romeo")));
    auto again = registerAccount(server, "romeo", "new-secret");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->attr("type"), "result") << again->toString();
    auto fresh = loggedIn(server, "romeo", "new-secret", "r");
    EXPECT_TRUE(answersPing(*fresh, "p1"));
}

TEST(Register, ProbesAndSubscriptionRequestsToARemovedAccountAreGone) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    server.addAccount("juliet", "localhost", "secret");
    server.addContact("juliet", "localhost", "romeo@localhost", "to");
    server.addContact("juliet", "localhost", "ghost@localhost", "to");  // never existed
    {
        auto romeo = loggedIn(server, "romeo", "secret", "phone");
        cancelAccount(*romeo);
    }
    auto juliet = loggedIn(server, "juliet", "secret", "balcony");

    // Initial presence probes both contacts (RFC 6121 §4.2.1). RFC 6120 §8.3.3.5: the deleted account
    // answers `gone`, and ends the subscription (`unsubscribed`, as Prosody's mod_tombstones); a name
    // that never existed stays silent (§8.5.1).
    juliet->send("<presence/>");
    auto received = drain(*juliet, "p1");
    EXPECT_EQ(presenceErrors(received), std::vector<std::string>{"romeo@localhost gone"});
    bool unsubscribed = false;
    for (const xml::Element& stanza : received) {
        if (stanza.name() == "presence" && stanza.attr("type") == "unsubscribed") {
            EXPECT_EQ(stanza.attr("from"), "romeo@localhost") << stanza.toString();
            unsubscribed = true;
        }
        if (stanza.attr("type") != "error")
            continue;
        EXPECT_EQ(stanza.attr("to"), "juliet@localhost/balcony") << stanza.toString();
        const xml::Element* error = stanza.findChild("error", "jabber:client");
        ASSERT_TRUE(error);
        EXPECT_EQ(error->attr("type"), "cancel") << stanza.toString();
    }
    EXPECT_TRUE(unsubscribed);
    auto& rosters = server.server().core().storage().roster();
    auto item = runSync(rosters.findItem("localhost", "juliet", "romeo@localhost"));
    ASSERT_TRUE(item && item->has_value());
    EXPECT_EQ((*item)->subscription, storage::Subscription::None);

    // A subscription request gets the same answer (RFC 6121 §3.1.3 for an account that was deleted).
    juliet->send("<presence type='subscribe' to='romeo@localhost'/>");
    juliet->send("<presence type='subscribe' to='ghost@localhost'/>");
    EXPECT_EQ(presenceErrors(drain(*juliet, "p2")), std::vector<std::string>{"romeo@localhost gone"});
}

TEST(Register, MessagesToARemovedAccountAreGone) {
    TestServer server;
    server.addAccount("romeo", "localhost", "secret");
    server.addAccount("juliet", "localhost", "secret");
    {
        auto romeo = loggedIn(server, "romeo", "secret", "phone");
        cancelAccount(*romeo);
    }
    auto juliet = loggedIn(server, "juliet", "secret", "balcony");
    // RFC 6120 §8.3.3.5 for the deleted account (the offline module, which would otherwise store it);
    // a name that never existed gets the usual service-unavailable (§10.5.3.1, §13.11).
    auto gone =
        request(*juliet, "<message to='romeo@localhost' type='chat' id='m1'><body>Romeo?</body></message>");
    ASSERT_TRUE(gone);
    EXPECT_EQ(gone->attr("id"), "m1");
    EXPECT_EQ(gone->attr("from"), "romeo@localhost") << gone->toString();
    EXPECT_EQ(errorCondition(*gone), "gone") << gone->toString();
    auto unknown =
        request(*juliet, "<message to='ghost@localhost' type='chat' id='m2'><body>Anyone?</body></message>");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->attr("id"), "m2");
    EXPECT_EQ(errorCondition(*unknown), "service-unavailable") << unknown->toString();
}

// --- the admin-only policy ---------------------------------------------------------------------

TEST(Register, AdminCreatesAccountsOnAnAdminOnlyHost) {
    TestServer server([](server::ServerConfig& config) {
        setPolicy(config, "localhost", server::RegistrationPolicy::AdminOnly);
    });
    server.addAccount("admin", "localhost", "admin-secret");
    server.addAccount("bob", "localhost", "secret");

    // Nobody registers before authentication.
    auto anonymous = registerAccount(server, "eve", "secret");
    ASSERT_TRUE(anonymous);
    EXPECT_EQ(errorCondition(*anonymous), "service-unavailable") << anonymous->toString();

    auto admin = loggedIn(server, "admin", "admin-secret", "console");
    auto created = request(*admin, registerSet("a1", credentialsFields("newbie", "newbie-secret")));
    ASSERT_TRUE(created);
    EXPECT_EQ(created->attr("type"), "result") << created->toString();
    EXPECT_TRUE(server.accountExists("newbie", "localhost"));
    auto newbie = loggedIn(server, "newbie", "newbie-secret", "r");
    EXPECT_TRUE(answersPing(*newbie, "p1"));
    // The admin's own session is untouched (creating is not a password change).
    EXPECT_TRUE(answersPing(*admin, "p2"));

    auto bob = loggedIn(server, "bob", "secret", "r");
    auto refused = request(*bob, registerSet("b1", credentialsFields("other", "secret")));
    ASSERT_TRUE(refused);
    EXPECT_EQ(errorCondition(*refused), "not-allowed") << refused->toString();
    EXPECT_FALSE(server.accountExists("other", "localhost"));
    EXPECT_FALSE(server.accountExists("eve", "localhost"));
}

TEST(Register, NormalUserCannotCreateAccountsOnAnOpenHostWhileLoggedIn) {
    TestServer server;
    server.addAccount("bob", "localhost", "secret");
    auto bob = loggedIn(server, "bob", "secret", "r");
    auto refused = request(*bob, registerSet("b1", credentialsFields("other", "secret")));
    ASSERT_TRUE(refused);
    EXPECT_EQ(errorCondition(*refused), "not-allowed") << refused->toString();
    EXPECT_FALSE(server.accountExists("other", "localhost"));
}

}  // namespace
}  // namespace parley::test
