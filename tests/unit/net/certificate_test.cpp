// ensureSelfSignedCertificate and TlsServerContext::create: files, modes, contents and error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>

#include "net_test_support.h"
#include "parley/net/connection.h"

namespace parley::net {
namespace {

using ::testing::HasSubstr;

struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};

std::unique_ptr<X509, X509Free> readCertificate(const std::string& file) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
    if (!f) {
        return nullptr;
    }
    return std::unique_ptr<X509, X509Free>(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
}

unsigned fileMode(const std::string& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        return 0;
    }
    return st.st_mode & 07777;
}

TEST(SelfSignedCertificate, CreatesOnceInNewFoldersWithPrivateKeyMode) {
    test::TempDir dir;
    std::string certificate = dir.file("var/certs/example.org.crt");
    std::string key = dir.file("var/keys/example.org.key");
    auto first = ensureSelfSignedCertificate(certificate, key, "example.org");
    ASSERT_TRUE(first.has_value()) << first.error();
    EXPECT_TRUE(*first);
    EXPECT_EQ(fileMode(key), 0600u);
    EXPECT_EQ(fileMode(certificate), 0644u);

    auto x509 = readCertificate(certificate);
    ASSERT_NE(x509, nullptr);
    auto second = ensureSelfSignedCertificate(certificate, key, "example.org");
    ASSERT_TRUE(second.has_value()) << second.error();
    EXPECT_FALSE(*second);
    auto again = readCertificate(certificate);
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(X509_cmp(x509.get(), again.get()), 0);  // untouched
    // No temporary files left behind.
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path() / "var/keys"),
                            std::filesystem::directory_iterator()),
              1);
}

TEST(SelfSignedCertificate, HasTheExpectedContents) {
    test::TempDir dir;
    auto made = ensureSelfSignedCertificate(dir.file("c.crt"), dir.file("c.key"), "localhost");
    ASSERT_TRUE(made.has_value()) << made.error();
    auto x509 = readCertificate(dir.file("c.crt"));
    ASSERT_NE(x509, nullptr);
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(x509.get()), NID_commonName, cn, sizeof cn);
    EXPECT_STREQ(cn, "localhost");
    EXPECT_EQ(X509_get_version(x509.get()), X509_VERSION_3);
    EXPECT_EQ(X509_check_host(x509.get(), "localhost", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_host(x509.get(), "other.localhost", 0, 0, nullptr), 0);
    EXPECT_EQ(X509_check_ip_asc(x509.get(), "127.0.0.1", 0), 1);
    EXPECT_EQ(X509_check_ip_asc(x509.get(), "::1", 0), 1);
    EXPECT_EQ(X509_get_signature_nid(x509.get()), NID_ecdsa_with_SHA256);
    EXPECT_EQ(X509_check_ca(x509.get()), 0);
    EXPECT_NE(X509_get_key_usage(x509.get()) & KU_DIGITAL_SIGNATURE, 0u);
    EXPECT_EQ(X509_get_key_usage(x509.get()) & KU_KEY_CERT_SIGN, 0u);
    EXPECT_NE(X509_get_extended_key_usage(x509.get()) & XKU_SSL_SERVER, 0u);
    EXPECT_EQ(X509_check_purpose(x509.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
    EVP_PKEY* key = X509_get0_pubkey(x509.get());
    ASSERT_NE(key, nullptr);
    EXPECT_TRUE(EVP_PKEY_is_a(key, "EC"));
    EXPECT_EQ(EVP_PKEY_get_bits(key), 256);
    int days = 0;
    int seconds = 0;
    ASSERT_EQ(
        ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(x509.get()), X509_get0_notAfter(x509.get())), 1);
    EXPECT_EQ(days, 365);
    EXPECT_EQ(X509_cmp_current_time(X509_get0_notBefore(x509.get())), -1);  // already valid

    auto other = ensureSelfSignedCertificate(dir.file("d.crt"), dir.file("d.key"), "example.org");
    ASSERT_TRUE(other.has_value());
    auto second = readCertificate(dir.file("d.crt"));
    EXPECT_EQ(X509_check_ip_asc(second.get(), "127.0.0.1", 0), 0);  // addresses only for localhost
    EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(x509.get()), X509_get0_serialNumber(second.get())), 0);
}

TEST(SelfSignedCertificate, OneFileAloneIsAnError) {
    test::TempDir dir;
    std::string certificate = dir.file("x.crt");
    std::string key = dir.file("x.key");
    ASSERT_TRUE(ensureSelfSignedCertificate(certificate, key, "example.org").has_value());

    std::filesystem::remove(key);
    auto noKey = ensureSelfSignedCertificate(certificate, key, "example.org");
    ASSERT_FALSE(noKey.has_value());
    EXPECT_THAT(noKey.error(), HasSubstr("private key " + key + " is missing"));

    std::filesystem::rename(certificate, key);  // now only a "key" file exists
    auto noCertificate = ensureSelfSignedCertificate(certificate, key, "example.org");
    ASSERT_FALSE(noCertificate.has_value());
    EXPECT_THAT(noCertificate.error(), HasSubstr("certificate " + certificate + " is missing"));
}

TEST(SelfSignedCertificate, RefusesADomainThatIsNotAHostName) {
    test::TempDir dir;
    auto made =
        ensureSelfSignedCertificate(dir.file("x.crt"), dir.file("x.key"), "a.example,DNS:evil.example");
    ASSERT_FALSE(made.has_value());
    EXPECT_THAT(made.error(), HasSubstr("not a plain host name"));
    EXPECT_FALSE(std::filesystem::exists(dir.file("x.key")));
}

TEST(TlsServerContextCreate, NamesAMissingFile) {
    test::TempDir dir;
    std::string missing = dir.file("nope.crt");
    auto created = TlsServerContext::create({{"example.org", missing, dir.file("nope.key")}}, "example.org");
    ASSERT_FALSE(created.has_value());
    EXPECT_THAT(created.error(), HasSubstr("cannot read certificate " + missing));
    EXPECT_THAT(created.error(), HasSubstr("No such file or directory"));

    std::string certificate = dir.file("ok.crt");
    ASSERT_TRUE(ensureSelfSignedCertificate(certificate, dir.file("ok.key"), "example.org").has_value());
    std::string missingKey = dir.file("missing.key");
    auto noKey = TlsServerContext::create({{"example.org", certificate, missingKey}}, "example.org");
    ASSERT_FALSE(noKey.has_value());
    EXPECT_THAT(noKey.error(), HasSubstr("cannot read private key " + missingKey));
}

TEST(TlsServerContextCreate, RefusesAKeyOfAnotherCertificate) {
    test::TempDir dir;
    ASSERT_TRUE(ensureSelfSignedCertificate(dir.file("a.crt"), dir.file("a.key"), "a.example").has_value());
    ASSERT_TRUE(ensureSelfSignedCertificate(dir.file("b.crt"), dir.file("b.key"), "b.example").has_value());
    auto created =
        TlsServerContext::create({{"a.example", dir.file("a.crt"), dir.file("b.key")}}, "a.example");
    ASSERT_FALSE(created.has_value());
    EXPECT_THAT(created.error(), HasSubstr("private key " + dir.file("b.key") + " does not fit certificate " +
                                           dir.file("a.crt")));
}

TEST(TlsServerContextCreate, RefusesGarbageAndAMissingDefaultDomain) {
    test::TempDir dir;
    {
        std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(dir.file("bad.crt").c_str(), "wb"),
                                                          &std::fclose);
        ASSERT_TRUE(f);
        std::fputs("not a certificate\n", f.get());
    }
    auto garbage =
        TlsServerContext::create({{"a.example", dir.file("bad.crt"), dir.file("bad.key")}}, "a.example");
    ASSERT_FALSE(garbage.has_value());
    EXPECT_THAT(garbage.error(), HasSubstr("cannot load certificate " + dir.file("bad.crt")));

    ASSERT_TRUE(ensureSelfSignedCertificate(dir.file("a.crt"), dir.file("a.key"), "a.example").has_value());
    auto noDefault =
        TlsServerContext::create({{"a.example", dir.file("a.crt"), dir.file("a.key")}}, "b.example");
    ASSERT_FALSE(noDefault.has_value());
    EXPECT_THAT(noDefault.error(), HasSubstr("default domain b.example"));
}

}  // namespace
}  // namespace parley::net
