// The value parsers behind sizes, durations, domains and "did you mean" suggestions.
#include <gtest/gtest.h>

#include "config_values.h"

namespace parley::server::config_detail {
namespace {

TEST(ConfigParseSize, AcceptsBytesAndUnits) {
    EXPECT_EQ(parseSize("10000"), 10000u);
    EXPECT_EQ(parseSize("512B"), 512u);
    EXPECT_EQ(parseSize("256KiB"), 262144u);
    EXPECT_EQ(parseSize("256 KiB"), 262144u);
    EXPECT_EQ(parseSize("4MiB"), 4u * 1024 * 1024);
    EXPECT_EQ(parseSize("1GiB"), 1024u * 1024 * 1024);
    EXPECT_EQ(parseSize("64KB"), 64000u);
    EXPECT_EQ(parseSize("2MB"), 2000000u);
    EXPECT_EQ(parseSize("1gb"), 1000000000u);
    EXPECT_EQ(parseSize("1kib"), 1024u);
}

TEST(ConfigParseSize, RejectsMalformed) {
    EXPECT_FALSE(parseSize(""));
    EXPECT_FALSE(parseSize("KiB"));
    EXPECT_FALSE(parseSize("-1KiB"));
    EXPECT_FALSE(parseSize("1.5MiB"));
    EXPECT_FALSE(parseSize("12 parsecs"));
    EXPECT_FALSE(parseSize("1TiB"));
    EXPECT_FALSE(parseSize("99999999999999999999999"));
    EXPECT_FALSE(parseSize("18446744073709551615GiB"));
}

TEST(ConfigParseDuration, AcceptsSecondsAndUnits) {
    EXPECT_EQ(parseDuration("600"), std::chrono::seconds(600));
    EXPECT_EQ(parseDuration("90s"), std::chrono::seconds(90));
    EXPECT_EQ(parseDuration("10m"), std::chrono::seconds(600));
    EXPECT_EQ(parseDuration("1h"), std::chrono::seconds(3600));
    EXPECT_EQ(parseDuration("2d"), std::chrono::seconds(172800));
    EXPECT_EQ(parseDuration(" 5 m "), std::chrono::seconds(300));
}

TEST(ConfigParseDuration, RejectsMalformed) {
    EXPECT_FALSE(parseDuration(""));
    EXPECT_FALSE(parseDuration("m"));
    EXPECT_FALSE(parseDuration("10 minutes"));
    EXPECT_FALSE(parseDuration("1h30m"));
    EXPECT_FALSE(parseDuration("-5s"));
    EXPECT_FALSE(parseDuration("1.5h"));
    EXPECT_FALSE(parseDuration("9223372036854775807d"));
}

TEST(ConfigDomain, PreparesCaseAndTrailingDot) {
    EXPECT_EQ(prepareDomain("Example.ORG."), "example.org");
    EXPECT_EQ(prepareDomain("localhost"), "localhost");
}

TEST(ConfigDomain, AcceptsNamesAndIpLiterals) {
    EXPECT_FALSE(checkDomain("example.org"));
    EXPECT_FALSE(checkDomain("localhost"));
    EXPECT_FALSE(checkDomain("xn--bcher-kva.example"));
    EXPECT_FALSE(checkDomain("a-b.c0.example"));
    EXPECT_FALSE(checkDomain("192.0.2.1"));
    EXPECT_FALSE(checkDomain("[2001:db8::1]"));
    EXPECT_FALSE(checkDomain(std::string(63, 'a') + ".example"));
    std::string longest;
    for (int i = 0; i < 50; ++i) {
        longest += "abcd.";
    }
    EXPECT_FALSE(checkDomain(longest + "org"));  // 253 characters
}

TEST(ConfigDomain, RejectsInvalidNames) {
    EXPECT_TRUE(checkDomain(""));
    EXPECT_TRUE(checkDomain("exa mple.org"));
    EXPECT_TRUE(checkDomain("under_score.org"));
    EXPECT_TRUE(checkDomain("-lead.org"));
    EXPECT_TRUE(checkDomain("trail-.org"));
    EXPECT_TRUE(checkDomain("double..dot"));
    EXPECT_TRUE(checkDomain(".leading"));
    EXPECT_TRUE(checkDomain(std::string(64, 'a') + ".example"));
    EXPECT_TRUE(
        checkDomain("b\xc3\xbc"
                    "cher.example"));
    EXPECT_TRUE(checkDomain("2001:db8::1"));
    EXPECT_TRUE(checkDomain("example.org:5222"));
    EXPECT_TRUE(checkDomain("[not-v6]"));
    EXPECT_TRUE(checkDomain("[2001:db8::1"));
    std::string tooLong;
    for (int i = 0; i < 51; ++i) {
        tooLong += "abcd.";
    }
    tooLong += "org";
    EXPECT_TRUE(checkDomain(tooLong));
}

TEST(ConfigIpLiteral, AcceptsV4AndV6Only) {
    EXPECT_TRUE(isIpLiteral("127.0.0.1"));
    EXPECT_TRUE(isIpLiteral("::"));
    EXPECT_TRUE(isIpLiteral("::1"));
    EXPECT_TRUE(isIpLiteral("2001:db8::5"));
    EXPECT_FALSE(isIpLiteral("localhost"));
    EXPECT_FALSE(isIpLiteral("[::1]"));
    EXPECT_FALSE(isIpLiteral("256.1.1.1"));
    EXPECT_FALSE(isIpLiteral(""));
}

TEST(ConfigSuggestion, EditDistance) {
    EXPECT_EQ(editDistance("", ""), 0u);
    EXPECT_EQ(editDistance("port", "port"), 0u);
    EXPECT_EQ(editDistance("prot", "port"), 2u);
    EXPECT_EQ(editDistance("kitten", "sitting"), 3u);
    EXPECT_EQ(editDistance("", "abc"), 3u);
}

TEST(ConfigSuggestion, FindsTyposAndOtherSpellings) {
    std::vector<std::string> keys{"max_stanza_bytes", "max_depth", "registration_interval"};
    EXPECT_EQ(closestMatch("max_stanza_byte", keys), "max_stanza_bytes");
    EXPECT_EQ(closestMatch("maxStanzaBytes", keys), "max_stanza_bytes");
    EXPECT_EQ(closestMatch("max-depth", keys), "max_depth");
    EXPECT_EQ(closestMatch("registraton_interval", keys), "registration_interval");
    EXPECT_FALSE(closestMatch("colour", keys));
    EXPECT_FALSE(closestMatch("x", keys));
    EXPECT_EQ(closestMatch("max_stanza", keys), "max_stanza_bytes");
    EXPECT_EQ(closestMatch("warning", {"trace", "warn", "error"}), "warn");
}

}  // namespace
}  // namespace parley::server::config_detail
