// RFC 4648 base64 as SASL needs it: the §10 vectors, and the strict decoding RFC 6120 §6.4.2 asks for.
#include "parley/base/base64.h"

#include <gtest/gtest.h>

#include <random>

namespace parley {
namespace {

using namespace std::string_literals;

struct Vector {
    std::string bytes;
    std::string text;
};

TEST(Base64, Rfc4648Vectors) {
    const Vector vectors[] = {{"", ""},
                              {"f", "Zg=="},
                              {"fo", "Zm8="},
                              {"foo", "Zm9v"},
                              {"foob", "Zm9vYg=="},
                              {"fooba", "Zm9vYmE="},
                              {"foobar", "Zm9vYmFy"}};
    for (const auto& v : vectors) {
        EXPECT_EQ(base64Encode(v.bytes), v.text);
        EXPECT_EQ(base64Decode(v.text), v.bytes) << v.text;
    }
}

TEST(Base64, BinaryAndAlphabetEdges) {
    EXPECT_EQ(base64Encode("\0\0\0"s), "AAAA");
    EXPECT_EQ(base64Encode("\xff\xff\xff"s), "////");
    EXPECT_EQ(base64Encode("\xfb\xef\xbe"s), "++++");
    EXPECT_EQ(base64Decode("////"), "\xff\xff\xff"s);
    EXPECT_EQ(base64Decode("AA=="), "\0"s);
    EXPECT_EQ(base64Decode("AAA="), "\0\0"s);
}

class RejectedBase64 : public ::testing::TestWithParam<std::string> {};

TEST_P(RejectedBase64, IsRejected) {
    EXPECT_EQ(base64Decode(GetParam()), std::nullopt) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Strict, RejectedBase64,
                         ::testing::Values(
                             // Length not a multiple of four, i.e. missing or partial padding.
                             "Z"s, "Zg"s, "Zg="s, "Zm9vY"s, "Zm9vYg"s, "Zm9vYg="s,
                             // Misplaced or excessive padding.
                             "="s, "=="s, "===="s, "Z==="s, "=Zm9"s, "Z=m9"s, "Zm=v"s, "Zg==Zg=="s,
                             "Zm8=Zm9v"s, "Zg==="s, "Zm9v===="s,
                             // Non-canonical: the bits that padding discards must be zero (RFC 4648 §3.5).
                             "Zh=="s, "Zm9="s, "Zm+="s, "AB=="s, "AAB="s, "/x=="s,
                             // Whitespace anywhere (RFC 6120 §6.4.2 forbids it).
                             " Zm9v"s, "Zm9v "s, "Zm 9v"s, "Zm9v\n"s, "Zm9v\r\n"s, "Zm\t9v"s,
                             "Zm9vYmFy\nZm9v"s,
                             // Characters outside the alphabet, including the URL-safe ones and NUL.
                             "Zm9-"s, "Zm9_"s, "Zm9."s, "Zm9!"s, "Zm9v\0\0\0\0"s, "\0\0\0\0"s, "Zm9\x80"s,
                             "Zm9\xff"s, "Zm9\xc3\xa9"s));

TEST(Base64, RoundTripAllByteValues) {
    std::string all;
    for (int i = 0; i < 256; ++i)
        all += static_cast<char>(i);
    for (std::size_t len = 0; len <= all.size(); ++len) {
        const std::string bytes = all.substr(all.size() - len);
        const std::string text = base64Encode(bytes);
        EXPECT_EQ(text.size(), (len + 2) / 3 * 4);
        EXPECT_EQ(base64Decode(text), bytes);
    }
}

TEST(Base64, RoundTripRandom) {
    std::mt19937 rng(12345);  // fixed seed: reproducible (docs/STYLE.md rule 8)
    std::uniform_int_distribution<int> byte(0, 255);
    for (int n = 0; n < 500; ++n) {
        std::string bytes(static_cast<std::size_t>(n % 67), '\0');
        for (char& c : bytes)
            c = static_cast<char>(byte(rng));
        EXPECT_EQ(base64Decode(base64Encode(bytes)), bytes);
    }
}

// Every 4-character string decodes only if re-encoding gives it back: decoding is exactly the inverse
// of encoding (no second spelling of any byte string).
TEST(Base64, DecodeIsInverseOfEncodeOnQuanta) {
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    std::size_t accepted = 0;
    for (char a : alphabet) {
        for (char b : alphabet) {
            for (char c : alphabet) {
                for (char d : {'A', 'B', 'Q', 'g', 'w', '/', '='}) {
                    const std::string text{a, b, c, d};
                    const auto bytes = base64Decode(text);
                    if (bytes) {
                        ++accepted;
                        EXPECT_EQ(base64Encode(*bytes), text);
                    }
                }
            }
        }
    }
    EXPECT_GT(accepted, 0u);
}

}  // namespace
}  // namespace parley
