// The cache of PLAIN passwords already checked against a SCRAM credential: a repeat login with the same
// account, credential and password skips PBKDF2; anything else is a miss.
#include "parley/sasl/verified_password_cache.h"

#include <gtest/gtest.h>

namespace parley::sasl {
namespace {

const ScramCredential& pencil() {
    static const ScramCredential c = deriveScramCredential(HashAlgorithm::Sha256, "pencil", "salt-1", 4096);
    return c;
}

TEST(VerifiedPasswordCache, MissBeforeRememberHitAfter) {
    VerifiedPasswordCache cache(8);
    EXPECT_FALSE(cache.contains("user@example.com", pencil(), "pencil"));
    cache.remember("user@example.com", pencil(), "pencil");
    EXPECT_TRUE(cache.contains("user@example.com", pencil(), "pencil"));
    EXPECT_EQ(cache.size(), 1u);
}

TEST(VerifiedPasswordCache, WrongPasswordIsAMissAndKeepsTheEntry) {
    VerifiedPasswordCache cache(8);
    cache.remember("user@example.com", pencil(), "pencil");
    EXPECT_FALSE(cache.contains("user@example.com", pencil(), "pencil2"));
    EXPECT_FALSE(cache.contains("user@example.com", pencil(), ""));
    EXPECT_FALSE(cache.contains("user@example.com", pencil(), "PENCIL"));
    // A guess does not evict the right password's entry.
    EXPECT_TRUE(cache.contains("user@example.com", pencil(), "pencil"));
}

TEST(VerifiedPasswordCache, OtherAccountIsAMiss) {
    VerifiedPasswordCache cache(8);
    cache.remember("user@example.com", pencil(), "pencil");
    EXPECT_FALSE(cache.contains("other@example.com", pencil(), "pencil"));
    EXPECT_FALSE(cache.contains("user@example.org", pencil(), "pencil"));
}

TEST(VerifiedPasswordCache, PasswordChangeInvalidates) {
    VerifiedPasswordCache cache(8);
    cache.remember("user@example.com", pencil(), "pencil");
    // A password change stores a new credential (fresh salt); the old password must not log in, even
    // though the cache once verified it, and the stale entry goes away.
    const ScramCredential changed = deriveScramCredential(HashAlgorithm::Sha256, "crayon", "salt-2", 4096);
    EXPECT_FALSE(cache.contains("user@example.com", changed, "pencil"));
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_FALSE(cache.contains("user@example.com", changed, "crayon"));
    cache.remember("user@example.com", changed, "crayon");
    EXPECT_TRUE(cache.contains("user@example.com", changed, "crayon"));
    EXPECT_FALSE(cache.contains("user@example.com", pencil(), "pencil"));
}

TEST(VerifiedPasswordCache, SamePasswordNewSaltIsAMiss) {
    VerifiedPasswordCache cache(8);
    cache.remember("user@example.com", pencil(), "pencil");
    const ScramCredential resalted = deriveScramCredential(HashAlgorithm::Sha256, "pencil", "salt-3", 4096);
    EXPECT_FALSE(cache.contains("user@example.com", resalted, "pencil"));
}

TEST(VerifiedPasswordCache, BoundedLeastRecentlyUsedGoesFirst) {
    VerifiedPasswordCache cache(2);
    cache.remember("a@example.com", pencil(), "pencil");
    cache.remember("b@example.com", pencil(), "pencil");
    EXPECT_TRUE(cache.contains("a@example.com", pencil(), "pencil"));  // a is now the most recent
    cache.remember("c@example.com", pencil(), "pencil");
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_TRUE(cache.contains("a@example.com", pencil(), "pencil"));
    EXPECT_FALSE(cache.contains("b@example.com", pencil(), "pencil"));
    EXPECT_TRUE(cache.contains("c@example.com", pencil(), "pencil"));
    // Remembering an account again replaces its entry instead of adding one.
    cache.remember("c@example.com", pencil(), "pencil");
    EXPECT_EQ(cache.size(), 2u);
}

TEST(VerifiedPasswordCache, CapacityZeroCachesNothing) {
    VerifiedPasswordCache cache(0);
    cache.remember("user@example.com", pencil(), "pencil");
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_FALSE(cache.contains("user@example.com", pencil(), "pencil"));
}

TEST(VerifiedPasswordCache, ForgetDropsTheAccount) {
    VerifiedPasswordCache cache(8);
    cache.remember("user@example.com", pencil(), "pencil");
    cache.remember("other@example.com", pencil(), "pencil");
    cache.forget("user@example.com");
    EXPECT_FALSE(cache.contains("user@example.com", pencil(), "pencil"));
    EXPECT_TRUE(cache.contains("other@example.com", pencil(), "pencil"));
}

}  // namespace
}  // namespace parley::sasl
