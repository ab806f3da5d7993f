// Stored credentials: derivation, password checks, hash names.
#include "parley/sasl/scram_credential.h"

#include <gtest/gtest.h>

namespace parley::sasl {
namespace {

TEST(Credential, HashNames) {
    for (HashAlgorithm a : {HashAlgorithm::Sha1, HashAlgorithm::Sha256, HashAlgorithm::Sha512}) {
        EXPECT_EQ(hashAlgorithmFromString(toString(a)), a);
    }
    EXPECT_EQ(toString(HashAlgorithm::Sha1), "SHA-1");
    EXPECT_EQ(toString(HashAlgorithm::Sha256), "SHA-256");
    EXPECT_EQ(toString(HashAlgorithm::Sha512), "SHA-512");
    EXPECT_EQ(hashAlgorithmFromString("sha-256"), std::nullopt);
    EXPECT_EQ(hashAlgorithmFromString("SHA256"), std::nullopt);
    EXPECT_EQ(digestSize(HashAlgorithm::Sha1), 20u);
    EXPECT_EQ(digestSize(HashAlgorithm::Sha256), 32u);
    EXPECT_EQ(digestSize(HashAlgorithm::Sha512), 64u);
}

TEST(Credential, DeriveIsDeterministic) {
    const auto a = deriveScramCredential(HashAlgorithm::Sha256, "pencil", "salt", 4096);
    EXPECT_EQ(a, deriveScramCredential(HashAlgorithm::Sha256, "pencil", "salt", 4096));
    EXPECT_NE(a, deriveScramCredential(HashAlgorithm::Sha256, "pencil", "salt", 4097));
    EXPECT_NE(a, deriveScramCredential(HashAlgorithm::Sha256, "pencil", "tlas", 4096));
    EXPECT_NE(a, deriveScramCredential(HashAlgorithm::Sha256, "pencils", "salt", 4096));
    EXPECT_EQ(a.storedKey.size(), 32u);
    EXPECT_EQ(a.serverKey.size(), 32u);
    EXPECT_EQ(a.iterations, 4096u);
}

TEST(Credential, DeriveAll) {
    const auto all = deriveAllScramCredentials("pencil");
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].algorithm, HashAlgorithm::Sha1);
    EXPECT_EQ(all[1].algorithm, HashAlgorithm::Sha256);
    EXPECT_EQ(all[2].algorithm, HashAlgorithm::Sha512);
    for (const auto& c : all) {
        EXPECT_EQ(c.salt.size(), 16u);
        EXPECT_EQ(c.iterations, 4096u);
        EXPECT_EQ(c.storedKey.size(), digestSize(c.algorithm));
        EXPECT_EQ(c.serverKey.size(), digestSize(c.algorithm));
        EXPECT_TRUE(verifyPassword(c, "pencil"));
        EXPECT_FALSE(verifyPassword(c, "pencil "));
    }
    EXPECT_NE(all[0].salt, all[1].salt);
    EXPECT_NE(all[1].salt, deriveAllScramCredentials("pencil")[1].salt);
}

TEST(Credential, VerifyPasswordRejectsDamagedCredential) {
    auto c = deriveScramCredential(HashAlgorithm::Sha1, "pencil", "salt", 4096);
    EXPECT_TRUE(verifyPassword(c, "pencil"));
    auto noIterations = c;
    noIterations.iterations = 0;
    EXPECT_FALSE(verifyPassword(noIterations, "pencil"));
    auto noSalt = c;
    noSalt.salt.clear();
    EXPECT_FALSE(verifyPassword(noSalt, "pencil"));
    auto truncated = c;
    truncated.storedKey.pop_back();
    EXPECT_FALSE(verifyPassword(truncated, "pencil"));
}

TEST(CredentialDeathTest, TooFewIterationsAborts) {
    EXPECT_DEATH(deriveScramCredential(HashAlgorithm::Sha256, "pencil", "salt", 4095), "4096");
    EXPECT_DEATH(deriveScramCredential(HashAlgorithm::Sha256, "pencil", "", 4096), "empty salt");
}

}  // namespace
}  // namespace parley::sasl
