// randomBytes / randomId: sizes, alphabet and that two draws differ.
#include "parley/base/random.h"

#include <gtest/gtest.h>

#include <set>

namespace parley {
namespace {

TEST(Random, Bytes) {
    EXPECT_TRUE(randomBytes(0).empty());
    EXPECT_EQ(randomBytes(1).size(), 1u);
    EXPECT_EQ(randomBytes(1000).size(), 1000u);
    EXPECT_NE(randomBytes(32), randomBytes(32));
}

TEST(Random, BytesCoverAllValues) {
    const std::string bytes = randomBytes(1 << 16);
    std::set<unsigned char> seen(bytes.begin(), bytes.end());
    EXPECT_EQ(seen.size(), 256u);
}

TEST(Random, Id) {
    EXPECT_EQ(randomId().size(), 16u);
    EXPECT_TRUE(randomId(0).empty());
    const std::string id = randomId(4096);
    EXPECT_EQ(id.size(), 4096u);
    for (char c : id) {
        EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) << c;
    }
    std::set<char> seen(id.begin(), id.end());
    EXPECT_EQ(seen.size(), 62u);
    EXPECT_NE(randomId(), randomId());
}

}  // namespace
}  // namespace parley
