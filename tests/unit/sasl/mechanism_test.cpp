// Mechanism list, factory and failure names.
#include "parley/sasl/mechanism.h"

#include <gtest/gtest.h>

namespace parley::sasl {
namespace {

using Names = std::vector<std::string>;

TEST(Mechanisms, WithoutTls) {
    ServerOptions o;
    EXPECT_EQ(serverMechanisms(o, false), (Names{"SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1"}));
    EXPECT_EQ(serverMechanisms(o, true), (Names{"SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}));
    EXPECT_TRUE(channelBindingTypes(o).empty());
    // Binding data without TLS is ignored.
    o.channelBindings.tlsExporter = "x";
    EXPECT_EQ(serverMechanisms(o, false).size(), 3u);
    EXPECT_TRUE(channelBindingTypes(o).empty());
    EXPECT_EQ(makeServerMechanism("SCRAM-SHA-256-PLUS", o), nullptr);
}

TEST(Mechanisms, TlsWithoutBindingData) {
    ServerOptions o;
    o.tls = true;
    EXPECT_EQ(serverMechanisms(o, true), (Names{"SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}));
    EXPECT_EQ(makeServerMechanism("SCRAM-SHA-1-PLUS", o), nullptr);
}

TEST(Mechanisms, TlsWithBindingData) {
    ServerOptions o;
    o.tls = true;
    o.channelBindings.tlsServerEndPoint = "cert hash";
    EXPECT_EQ(serverMechanisms(o, true),
              (Names{"SCRAM-SHA-512-PLUS", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-512",
                     "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}));
    EXPECT_EQ(channelBindingTypes(o), (Names{"tls-server-end-point"}));
    o.channelBindings.tlsExporter = "exported";
    EXPECT_EQ(channelBindingTypes(o), (Names{"tls-exporter", "tls-server-end-point"}));
    for (const std::string& name : serverMechanisms(o, true)) {
        auto m = makeServerMechanism(name, o);
        ASSERT_NE(m, nullptr) << name;
        EXPECT_EQ(m->name(), name);
    }
}

TEST(Mechanisms, UnknownNames) {
    ServerOptions o;
    for (const char* name :
         {"", "DIGEST-MD5", "SCRAM-SHA-384", "scram-sha-256", "SCRAM-SHA-256 ", "X-OAUTH2"}) {
        EXPECT_EQ(makeServerMechanism(name, o), nullptr) << name;
    }
}

TEST(Failures, Rfc6120Names) {
    EXPECT_EQ(toString(Failure::Aborted), "aborted");
    EXPECT_EQ(toString(Failure::AccountDisabled), "account-disabled");
    EXPECT_EQ(toString(Failure::CredentialsExpired), "credentials-expired");
    EXPECT_EQ(toString(Failure::EncryptionRequired), "encryption-required");
    EXPECT_EQ(toString(Failure::IncorrectEncoding), "incorrect-encoding");
    EXPECT_EQ(toString(Failure::InvalidAuthzid), "invalid-authzid");
    EXPECT_EQ(toString(Failure::InvalidMechanism), "invalid-mechanism");
    EXPECT_EQ(toString(Failure::MalformedRequest), "malformed-request");
    EXPECT_EQ(toString(Failure::MechanismTooWeak), "mechanism-too-weak");
    EXPECT_EQ(toString(Failure::NotAuthorized), "not-authorized");
    EXPECT_EQ(toString(Failure::TemporaryAuthFailure), "temporary-auth-failure");
}

}  // namespace
}  // namespace parley::sasl
