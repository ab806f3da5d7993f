#include "parley/jid/jid.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <unordered_set>

namespace parley {

// gtest cannot print Result (its operator<< needs one for Jid), so tests compare values and errors.
void PrintTo(const Jid& jid, std::ostream* os) {
    *os << '"' << jid.str() << '"';
}
void PrintTo(JidError error, std::ostream* os) {
    *os << toString(error);
}

namespace {

std::string repeat(std::string_view unit, std::size_t count) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i) {
        out += unit;
    }
    return out;
}

// A domain of exactly `octets` octets: labels of 50 octets (the dots never fall on the end for the
// lengths used here).
std::string domainOfLength(std::size_t octets) {
    std::string out(octets, 'a');
    for (std::size_t i = 50; i < octets; i += 51) {
        out[i] = '.';
    }
    return out;
}

struct ValidCase {
    std::string input;
    std::string canonical;
    std::string local;
    std::string domain;
    std::string resource;
};

void PrintTo(const ValidCase& c, std::ostream* os) {
    *os << '"' << c.input << '"';
}

class JidValid : public testing::TestWithParam<ValidCase> {};

TEST_P(JidValid, ParsesToCanonicalForm) {
    const ValidCase& c = GetParam();
    const Result<Jid, JidError> jid = Jid::parse(c.input);
    ASSERT_TRUE(jid.has_value()) << toString(jid.error());
    EXPECT_EQ(jid->str(), c.canonical);
    EXPECT_EQ(jid->local(), c.local);
    EXPECT_EQ(jid->domain(), c.domain);
    EXPECT_EQ(jid->resource(), c.resource);
    EXPECT_EQ(jid->hasLocal(), !c.local.empty());
    EXPECT_EQ(jid->hasResource(), !c.resource.empty());
}

TEST_P(JidValid, CanonicalFormIsStable) {
    const Result<Jid, JidError> jid = Jid::parse(GetParam().input);
    ASSERT_TRUE(jid.has_value());
    const Result<Jid, JidError> again = Jid::parse(jid->str());
    ASSERT_TRUE(again.has_value()) << toString(again.error());
    EXPECT_EQ(*again, *jid);
    const Result<Jid, JidError> made = Jid::make(jid->local(), jid->domain(), jid->resource());
    ASSERT_TRUE(made.has_value()) << toString(made.error());
    EXPECT_EQ(*made, *jid);
}

INSTANTIATE_TEST_SUITE_P(
    jid, JidValid,
    testing::Values(
        ValidCase{"romeo@example.net/orchard", "romeo@example.net/orchard", "romeo", "example.net",
                  "orchard"},
        ValidCase{"example.net", "example.net", "", "example.net", ""},
        ValidCase{"example.net/res", "example.net/res", "", "example.net", "res"},
        ValidCase{"u@d", "u@d", "u", "d", ""},
        // Case mapping applies to localpart and domainpart, never to the resourcepart.
        ValidCase{"Juliet@Example.COM/Balcony", "juliet@example.com/Balcony", "juliet", "example.com",
                  "Balcony"},
        // RFC 7622 §3.2: one trailing dot is stripped.
        ValidCase{"d.", "d", "", "d", ""}, ValidCase{"u@d./r", "u@d/r", "u", "d", "r"},
        ValidCase{"[::1]", "[::1]", "", "[::1]", ""},
        ValidCase{"u@[2001:DB8::1]/r", "u@[2001:db8::1]/r", "u", "[2001:db8::1]", "r"},
        ValidCase{"u@[::ffff:192.0.2.1]", "u@[::ffff:192.0.2.1]", "u", "[::ffff:192.0.2.1]", ""},
        ValidCase{"u@127.0.0.1", "u@127.0.0.1", "u", "127.0.0.1", ""},
        ValidCase{"node@my_host", "node@my_host", "node", "my_host", ""},
        ValidCase{"a-b.c-d.example", "a-b.c-d.example", "", "a-b.c-d.example", ""},
        ValidCase{"1and1.example", "1and1.example", "", "1and1.example", ""},
        // Printable ASCII other than "&'/:<>@ is allowed in a localpart.
        ValidCase{"a!#$%()*+,-.;=?[\\]^_`{|}~@d", "a!#$%()*+,-.;=?[\\]^_`{|}~@d",
                  "a!#$%()*+,-.;=?[\\]^_`{|}~", "d", ""},
        // Width mapping: fullwidth letters become ASCII, then lower case.
        ValidCase{"\uFF52\uFF4F\uFF4D\uFF45\uFF4F@example.net", "romeo@example.net", "romeo", "example.net",
                  ""},
        ValidCase{"\uFF32\uFF2F\uFF2D\uFF25\uFF2F@example.net", "romeo@example.net", "romeo", "example.net",
                  ""},
        ValidCase{"\u00C9lise@d", "\u00E9lise@d", "\u00E9lise", "d", ""},
        // NFC: e + COMBINING ACUTE ACCENT composes.
        ValidCase{"e\u0301@d", "\u00E9@d", "\u00E9", "d", ""},
        ValidCase{"\u03A3\u0391\u03A3@d", "\u03C3\u03B1\u03C2@d", "\u03C3\u03B1\u03C2", "d", ""},
        ValidCase{"\u05E9\u05DC\u05D5\u05DD@d", "\u05E9\u05DC\u05D5\u05DD@d", "\u05E9\u05DC\u05D5\u05DD", "d",
                  ""},
        ValidCase{"\u0645\u062D\u0645\u062F@d", "\u0645\u062D\u0645\u062F@d", "\u0645\u062D\u0645\u062F", "d",
                  ""},
        ValidCase{"\u4E2D\u6587@d", "\u4E2D\u6587@d", "\u4E2D\u6587", "d", ""},
        // RFC 5892 A.3: MIDDLE DOT between two 'l' (Catalan).
        ValidCase{"col\u00B7legi@d", "col\u00B7legi@d", "col\u00B7legi", "d", ""},
        ValidCase{"stra\u00DFe@d", "stra\u00DFe@d", "stra\u00DFe", "d", ""},
        // The other RFC 5892 Appendix A contexts: ZWNJ between joining Arabic letters (A.1), ZWJ after a
        // virama (A.2), KERAIA before Greek (A.4), GERESH after Hebrew (A.5), KATAKANA MIDDLE DOT with
        // Katakana (A.7), Arabic-Indic digits on their own (A.8).
        ValidCase{"\u0644\u200C\u0628@d", "\u0644\u200C\u0628@d", "\u0644\u200C\u0628", "d", ""},
        ValidCase{"\u0915\u094D\u200D\u0937@d", "\u0915\u094D\u200D\u0937@d", "\u0915\u094D\u200D\u0937", "d",
                  ""},
        ValidCase{"\u0375\u03B1@d", "\u0375\u03B1@d", "\u0375\u03B1", "d", ""},
        ValidCase{"\u05D0\u05F3@d", "\u05D0\u05F3@d", "\u05D0\u05F3", "d", ""},
        ValidCase{"\u30AB\u30FB\u30AB@d", "\u30AB\u30FB\u30AB@d", "\u30AB\u30FB\u30AB", "d", ""},
        ValidCase{"\u0628\u0661\u0662@d", "\u0628\u0661\u0662@d", "\u0628\u0661\u0662", "d", ""},
        // IDNA2008: U-labels are mapped and kept as U-labels; A-labels become U-labels.
        ValidCase{"user@\u00C9XAMPLE.com", "user@\u00E9xample.com", "user", "\u00E9xample.com", ""},
        ValidCase{"user@xn--xample-9ua.com", "user@\u00E9xample.com", "user", "\u00E9xample.com", ""},
        ValidCase{"user@XN--XAMPLE-9UA.COM", "user@\u00E9xample.com", "user", "\u00E9xample.com", ""},
        ValidCase{"b\u00FCcher.example", "b\u00FCcher.example", "", "b\u00FCcher.example", ""},
        ValidCase{"xn--bcher-kva.example.", "b\u00FCcher.example", "", "b\u00FCcher.example", ""},
        ValidCase{"\u4F8B\u3048\u3002\u30C6\u30B9\u30C8", "\u4F8B\u3048.\u30C6\u30B9\u30C8", "",
                  "\u4F8B\u3048.\u30C6\u30B9\u30C8", ""},
        ValidCase{"\uFF25\uFF38\uFF21\uFF2D\uFF30\uFF2C\uFF25.com", "example.com", "", "example.com", ""},
        ValidCase{"u@\uFF11\uFF12\uFF17\uFF0E0.0.1", "u@127.0.0.1", "u", "127.0.0.1", ""},
        ValidCase{"\u05E9\u05DC\u05D5\u05DD.com", "\u05E9\u05DC\u05D5\u05DD.com", "",
                  "\u05E9\u05DC\u05D5\u05DD.com", ""},
        // Resources: spaces, '@' and '/' are allowed; non-ASCII spaces become U+0020; no case or width
        // mapping.
        ValidCase{"u@d/a b", "u@d/a b", "u", "d", "a b"},
        ValidCase{"u@d/a@b/c", "u@d/a@b/c", "u", "d", "a@b/c"}, ValidCase{"d/u@d", "d/u@d", "", "d", "u@d"},
        ValidCase{"u@d/ ", "u@d/ ", "u", "d", " "},
        ValidCase{"u@d/a\u00A0b\u3000c\u2003d", "u@d/a b c d", "u", "d", "a b c d"},
        ValidCase{"u@d/\uFF32\u00E9sum\u00E9", "u@d/\uFF32\u00E9sum\u00E9", "u", "d",
                  "\uFF32\u00E9sum\u00E9"},
        ValidCase{"u@d/e\u0301", "u@d/\u00E9", "u", "d", "\u00E9"},
        ValidCase{"u@d/\u2665 \u00BD", "u@d/\u2665 \u00BD", "u", "d", "\u2665 \u00BD"}));

struct InvalidCase {
    std::string input;
    JidError error;
};

void PrintTo(const InvalidCase& c, std::ostream* os) {
    *os << '"' << c.input << '"';
}

class JidInvalid : public testing::TestWithParam<InvalidCase> {};

TEST_P(JidInvalid, IsRejected) {
    const Result<Jid, JidError> jid = Jid::parse(GetParam().input);
    ASSERT_FALSE(jid.has_value()) << jid->str();
    EXPECT_EQ(jid.error(), GetParam().error);
}

using std::string_literals::operator""s;

INSTANTIATE_TEST_SUITE_P(
    jid, JidInvalid,
    testing::Values(
        // Empty parts where a separator is present (RFC 7622 §3.1).
        InvalidCase{"", JidError::Empty}, InvalidCase{"@d", JidError::Empty},
        InvalidCase{"u@", JidError::Empty}, InvalidCase{"u@d/", JidError::Empty},
        InvalidCase{"d/", JidError::Empty}, InvalidCase{"/r", JidError::Empty},
        InvalidCase{"@", JidError::Empty}, InvalidCase{"u@/r", JidError::Empty},
        InvalidCase{"u@@d", JidError::DomainInvalid},
        // RFC 7622 §3.3.1: "&'/:<> are forbidden in a localpart ('/' is tested through make()).
        InvalidCase{"a\"b@d", JidError::LocalpartInvalid}, InvalidCase{"a&b@d", JidError::LocalpartInvalid},
        InvalidCase{"a'b@d", JidError::LocalpartInvalid}, InvalidCase{"a:b@d", JidError::LocalpartInvalid},
        InvalidCase{"a<b@d", JidError::LocalpartInvalid}, InvalidCase{"a>b@d", JidError::LocalpartInvalid},
        InvalidCase{"a b@d", JidError::LocalpartInvalid}, InvalidCase{"a\tb@d", JidError::LocalpartInvalid},
        InvalidCase{"a\0b@d"s, JidError::LocalpartInvalid},
        InvalidCase{"a\u00A0b@d", JidError::LocalpartInvalid},
        // Bidi Rule (RFC 5893): Hebrew and Latin mixed in one localpart, either order.
        InvalidCase{"\u05E9\u05DC\u05D5\u05DDabc@d", JidError::LocalpartInvalid},
        InvalidCase{"abc\u05E9\u05DC\u05D5\u05DD@d", JidError::LocalpartInvalid},
        // Unassigned (U+0378), noncharacter (U+FFFE), private use, symbols and compatibility forms.
        InvalidCase{"a\u0378@d", JidError::LocalpartInvalid},
        InvalidCase{"a\xEF\xBF\xBE@d", JidError::LocalpartInvalid},
        InvalidCase{"a\uE000@d", JidError::LocalpartInvalid},
        InvalidCase{"\u2665@d", JidError::LocalpartInvalid},
        InvalidCase{"\u00BD@d", JidError::LocalpartInvalid},
        // ZERO WIDTH JOINER outside its context (RFC 5892 A.2), MIDDLE DOT outside "l·l" (A.3).
        InvalidCase{"a\u200Db@d", JidError::LocalpartInvalid},
        InvalidCase{"a\u00B7b@d", JidError::LocalpartInvalid},
        InvalidCase{"a\u200Cb@d", JidError::LocalpartInvalid},
        InvalidCase{"a\u0375b@d", JidError::LocalpartInvalid},
        InvalidCase{"a\u05F3@d", JidError::LocalpartInvalid},
        InvalidCase{"a\u30FBb@d", JidError::LocalpartInvalid},
        InvalidCase{"\u0628\u0661\u06F2@d", JidError::LocalpartInvalid},
        // Old Hangul jamo and ignorable code points are disallowed in both classes.
        InvalidCase{"\u1100\u1161\u11A8x@d", JidError::LocalpartInvalid},
        InvalidCase{"u@d/a\u115Fb", JidError::ResourceInvalid},
        InvalidCase{"u@d/a\u00ADb", JidError::ResourceInvalid},
        InvalidCase{"\xC3@d", JidError::LocalpartInvalid},
        InvalidCase{"\xED\xA0\x80@d", JidError::LocalpartInvalid},
        InvalidCase{repeat("a", 1024) + "@d", JidError::LocalpartTooLong},
        InvalidCase{repeat("\u00E9", 512) + "@d", JidError::LocalpartTooLong},
        InvalidCase{repeat("a", 100000) + "@d", JidError::LocalpartTooLong},
        // Domainparts.
        InvalidCase{"u@-abc.com", JidError::DomainInvalid},
        InvalidCase{"u@abc-.com", JidError::DomainInvalid}, InvalidCase{"u@a..b", JidError::DomainInvalid},
        InvalidCase{"u@d..", JidError::DomainInvalid}, InvalidCase{"u@.", JidError::DomainInvalid},
        InvalidCase{"u@.d", JidError::DomainInvalid}, InvalidCase{"u@a b", JidError::DomainInvalid},
        InvalidCase{"u@exa!mple", JidError::DomainInvalid}, InvalidCase{"u@d\0"s, JidError::DomainInvalid},
        InvalidCase{"u@d\xFF", JidError::DomainInvalid}, InvalidCase{"u@[::1", JidError::DomainInvalid},
        InvalidCase{"u@[zz]", JidError::DomainInvalid}, InvalidCase{"u@[]", JidError::DomainInvalid},
        InvalidCase{"u@[::1]x", JidError::DomainInvalid}, InvalidCase{"u@256.1.1.1", JidError::DomainInvalid},
        InvalidCase{"u@1.2.3", JidError::DomainInvalid}, InvalidCase{"u@xn--abc-", JidError::DomainInvalid},
        InvalidCase{"u@xn--", JidError::DomainInvalid}, InvalidCase{"u@\u2603.com", JidError::DomainInvalid},
        InvalidCase{"u@\u0378.com", JidError::DomainInvalid},
        // RFC 5893 §1.4: with a right-to-left label, every label obeys the Bidi Rule ("1a" starts with EN).
        InvalidCase{"u@1a.\u05E9\u05DC\u05D5\u05DD", JidError::DomainInvalid},
        InvalidCase{"u@" + repeat("a", 64) + ".com", JidError::DomainTooLong},
        InvalidCase{"u@" + repeat("a", 62) + "\u00E9.com", JidError::DomainTooLong},
        InvalidCase{"u@" + domainOfLength(1024), JidError::DomainTooLong},
        // Resourceparts.
        InvalidCase{"u@d/a\0"s, JidError::ResourceInvalid},
        InvalidCase{"u@d/a\tb", JidError::ResourceInvalid},
        InvalidCase{"u@d/a\x7F", JidError::ResourceInvalid},
        InvalidCase{"u@d/\xEF\xBF\xBE", JidError::ResourceInvalid},
        InvalidCase{"u@d/a\u0378", JidError::ResourceInvalid},
        InvalidCase{"u@d/\xFF", JidError::ResourceInvalid},
        InvalidCase{"u@d/a\u2028b", JidError::ResourceInvalid},
        InvalidCase{"u@d/" + repeat("r", 1024), JidError::ResourceTooLong},
        // More than 3071 octets in all: every part can be valid on its own only up to 1023.
        InvalidCase{repeat("a", 1023) + "@" + domainOfLength(1023) + "/" + repeat("r", 1024),
                    JidError::ResourceTooLong}));

TEST(jid, LongestPartsAreAccepted) {
    const std::string text = repeat("a", 1023) + "@" + domainOfLength(1023) + "/" + repeat("r", 1023);
    ASSERT_EQ(text.size(), 3071U);
    const Result<Jid, JidError> jid = Jid::parse(text);
    ASSERT_TRUE(jid.has_value()) << toString(jid.error());
    EXPECT_EQ(jid->str(), text);
    EXPECT_EQ(jid->resource().size(), 1023U);
    EXPECT_TRUE(Jid::parse("u@" + repeat("a", 63) + ".com").has_value());
    // 1023 octets after preparation, more before: fullwidth letters take three octets each.
    const Result<Jid, JidError> wide = Jid::parse(repeat("\uFF41", 1023) + "@d");
    ASSERT_TRUE(wide.has_value()) << toString(wide.error());
    EXPECT_EQ(wide->local(), repeat("a", 1023));
}

TEST(jid, ForbiddenSlashInLocalpartThroughMake) {
    const Result<Jid, JidError> jid = Jid::make("a/b", "d");
    ASSERT_FALSE(jid.has_value());
    EXPECT_EQ(jid.error(), JidError::LocalpartInvalid);
    EXPECT_EQ(Jid::make("a@b", "d").error(), JidError::LocalpartInvalid);
    EXPECT_EQ(Jid::make("a", "d/r").error(), JidError::DomainInvalid);
    EXPECT_EQ(Jid::make("a", "").error(), JidError::Empty);
}

TEST(jid, MakeTreatsEmptyPartsAsAbsent) {
    const Result<Jid, JidError> jid = Jid::make("", "Example.COM", "");
    ASSERT_TRUE(jid.has_value());
    EXPECT_EQ(jid->str(), "example.com");
    EXPECT_TRUE(jid->isDomain());
    const Result<Jid, JidError> full = Jid::make("Romeo", "example.net", "a/b@c");
    ASSERT_TRUE(full.has_value());
    EXPECT_EQ(full->str(), "romeo@example.net/a/b@c");
}

TEST(jid, EqualityAndHashingUseTheCanonicalForm) {
    const Result<Jid, JidError> a = Jid::parse("Juliet@Example.COM/Balcony");
    const Result<Jid, JidError> b = Jid::parse("juliet@example.com./Balcony");
    const Result<Jid, JidError> c = Jid::parse("juliet@example.com/balcony");
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(*a, *b);
    EXPECT_NE(*a, *c);
    EXPECT_EQ(std::hash<Jid>{}(*a), std::hash<Jid>{}(*b));
    EXPECT_LT(*a, *c);  // 'B' < 'b'
    std::unordered_set<Jid> set{*a, *b, *c};
    EXPECT_EQ(set.size(), 2U);
    EXPECT_TRUE(set.contains(*Jid::parse("JULIET@EXAMPLE.COM/Balcony")));
    const Result<Jid, JidError> idn = Jid::parse("user@xn--xample-9ua.com");
    const Result<Jid, JidError> unicode = Jid::parse("USER@\u00C9xample.COM.");
    ASSERT_TRUE(idn && unicode);
    EXPECT_EQ(*idn, *unicode);
    EXPECT_EQ(std::hash<Jid>{}(*idn), std::hash<Jid>{}(*unicode));
}

TEST(jid, BareDomainAndWithResource) {
    const Result<Jid, JidError> full = Jid::parse("romeo@example.net/orchard");
    ASSERT_TRUE(full.has_value());
    EXPECT_FALSE(full->isBare());
    EXPECT_EQ(full->bareView(), "romeo@example.net");

    const Jid bare = full->bare();
    EXPECT_EQ(bare.str(), "romeo@example.net");
    EXPECT_TRUE(bare.isBare());
    EXPECT_EQ(bare.local(), "romeo");
    EXPECT_EQ(bare.domain(), "example.net");
    EXPECT_EQ(bare.resource(), "");
    EXPECT_EQ(bare, *Jid::parse("romeo@example.net"));
    EXPECT_EQ(bare.bare(), bare);

    const Jid domain = full->domainJid();
    EXPECT_EQ(domain.str(), "example.net");
    EXPECT_TRUE(domain.isDomain());
    EXPECT_FALSE(domain.hasLocal());
    EXPECT_EQ(domain.domain(), "example.net");

    const Result<Jid, JidError> other = full->withResource("Balcony\u00A0Two");
    ASSERT_TRUE(other.has_value());
    EXPECT_EQ(other->str(), "romeo@example.net/Balcony Two");
    EXPECT_EQ(other->resource(), "Balcony Two");
    EXPECT_EQ(other->local(), "romeo");
    EXPECT_EQ(other->domain(), "example.net");
    EXPECT_EQ(*other, *Jid::parse("romeo@example.net/Balcony\u00A0Two"));

    const Result<Jid, JidError> cleared = full->withResource("");
    ASSERT_TRUE(cleared.has_value());
    EXPECT_EQ(*cleared, bare);
    EXPECT_EQ(full->withResource("a\tb").error(), JidError::ResourceInvalid);
    EXPECT_EQ(full->withResource(repeat("r", 1024)).error(), JidError::ResourceTooLong);

    const Result<Jid, JidError> domainWithResource = domain.withResource("r");
    ASSERT_TRUE(domainWithResource.has_value());
    EXPECT_EQ(domainWithResource->str(), "example.net/r");
    EXPECT_FALSE(domainWithResource->hasLocal());
    EXPECT_EQ(domainWithResource->domain(), "example.net");
    EXPECT_EQ(domainWithResource->resource(), "r");
}

TEST(jid, PreparationFunctions) {
    EXPECT_EQ(*prepareLocalpart("Juliet"), "juliet");
    EXPECT_EQ(*prepareLocalpart("\uFF52\uFF4F\uFF4D\uFF45\uFF4F"), "romeo");
    EXPECT_EQ(prepareLocalpart("").error(), JidError::Empty);
    EXPECT_EQ(prepareLocalpart("a/b").error(), JidError::LocalpartInvalid);
    EXPECT_EQ(*prepareDomain("Example.COM."), "example.com");
    EXPECT_EQ(*prepareDomain("xn--bcher-kva.example"), "b\u00FCcher.example");
    EXPECT_EQ(prepareDomain("").error(), JidError::Empty);
    EXPECT_EQ(*prepareResource("Balcony\u2003x"), "Balcony x");
    EXPECT_EQ(prepareResource("").error(), JidError::Empty);
}

TEST(jid, DomainToAsciiGivesALabels) {
    EXPECT_EQ(*domainToAscii("Example.COM."), "example.com");
    EXPECT_EQ(*domainToAscii("b\u00FCcher.example"), "xn--bcher-kva.example");
    EXPECT_EQ(*domainToAscii("\u00C9XAMPLE.com"), "xn--xample-9ua.com");
    EXPECT_EQ(*domainToAscii("[::1]"), "[::1]");
    EXPECT_EQ(*domainToAscii("my_host.\u4F8B\u3048\u3002"), "my_host.xn--r8jz45g");
    EXPECT_EQ(domainToAscii("a@b").error(), JidError::DomainInvalid);
}

TEST(jid, ErrorsHaveDistinctDescriptions) {
    const JidError all[] = {JidError::Empty,          JidError::LocalpartInvalid, JidError::LocalpartTooLong,
                            JidError::DomainInvalid,  JidError::DomainTooLong,    JidError::ResourceInvalid,
                            JidError::ResourceTooLong};
    std::unordered_set<std::string_view> seen;
    for (const JidError error : all) {
        EXPECT_FALSE(toString(error).empty());
        EXPECT_TRUE(seen.insert(toString(error)).second) << toString(error);
    }
}

}  // namespace
}  // namespace parley
