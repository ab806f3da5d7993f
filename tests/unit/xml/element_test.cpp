#include "parley/xml/element.h"

#include <gtest/gtest.h>

#include "parley/xml/stream_parser.h"

namespace parley::xml {
namespace {

Element reparse(const Element& e, std::string_view inheritedNs = {}) {
    const std::string text = e.toString(inheritedNs);
    ElementParseResult r = parseElement(text, {}, inheritedNs);
    EXPECT_FALSE(r.failure) << text << ": " << (r.failure ? r.failure->detail : "");
    return r.element.value_or(Element());
}

TEST(Element, AttributesFindSetRemove) {
    Element e("message", "jabber:client");
    e.setAttr("to", "a@b");
    e.setAttr("type", "chat");
    e.setAttr("lang", "en", kXmlNamespace);
    e.setAttr("to", "c@d");
    EXPECT_EQ(e.attributes().size(), 3u);
    EXPECT_EQ(e.attr("to"), "c@d");
    EXPECT_EQ(e.attr("missing"), "");
    EXPECT_TRUE(e.hasAttr("type"));
    EXPECT_FALSE(e.hasAttr("lang"));  // unprefixed lookup only
    EXPECT_EQ(e.lang(), "en");
    ASSERT_NE(e.findAttr("lang", kXmlNamespace), nullptr);
    EXPECT_TRUE(e.removeAttr("type"));
    EXPECT_FALSE(e.removeAttr("type"));
    EXPECT_EQ(e.attributes().size(), 2u);
}

TEST(Element, ChildrenAndText) {
    Element e("message", "jabber:client");
    e.appendText("a");
    e.appendText("b");
    e.append("body", "jabber:client").appendText("hello");
    e.append("x", "urn:x");
    e.append("x", "urn:x");
    e.appendText("c");
    EXPECT_EQ(e.nodes().size(), 5u);
    EXPECT_EQ(e.text(), "abc");
    EXPECT_EQ(e.childCount(), 3u);
    EXPECT_EQ(e.childText("body", "jabber:client"), "hello");
    EXPECT_EQ(e.childText("nope", "jabber:client"), "");
    EXPECT_EQ(e.firstChild()->name(), "body");
    EXPECT_EQ(e.children("x", "urn:x").size(), 2u);
    EXPECT_EQ(e.children().size(), 3u);
    EXPECT_EQ(e.removeChildren("x", "urn:x"), 2u);
    EXPECT_EQ(e.childCount(), 1u);
    ASSERT_NE(e.findChild("body", "jabber:client"), nullptr);
    e.findChild("body", "jabber:client")->setName("subject");
    EXPECT_EQ(e.firstChild()->name(), "subject");
}

TEST(Element, CopyIsDeep) {
    Element e("a", "urn:a");
    e.append("b", "urn:a").appendText("x");
    Element copy = e;
    EXPECT_EQ(copy, e);
    copy.findChild("b", "urn:a")->appendText("y");
    EXPECT_NE(copy, e);
    Node n(e);
    Node m(std::string("t"));
    m = n;
    EXPECT_TRUE(m.isElement());
    EXPECT_EQ(m.element(), e);
}

TEST(Element, EqualityIgnoresAttributeOrderAndTextSplits) {
    Element a("a", "");
    a.setAttr("x", "1");
    a.setAttr("y", "2");
    a.nodes().emplace_back(std::string("he"));
    a.nodes().emplace_back(std::string("llo"));
    Element b("a", "");
    b.setAttr("y", "2");
    b.setAttr("x", "1");
    b.appendText("hello");
    EXPECT_EQ(a, b);
    b.setAttr("y", "3");
    EXPECT_NE(a, b);
    EXPECT_NE(Element("a", "urn:1"), Element("a", "urn:2"));
}

TEST(Element, SerializesNamespacesOnlyWhereTheyChange) {
    Element msg("message", "jabber:client");
    msg.setAttr("to", "juliet@example.com");
    msg.append("body", "jabber:client").appendText("hi");
    msg.append("active", "http://jabber.org/protocol/chatstates");
    EXPECT_EQ(msg.toString("jabber:client"),
              "<message to='juliet@example.com'><body>hi</body>"
              "<active xmlns='http://jabber.org/protocol/chatstates'/></message>");
    EXPECT_EQ(msg.toString(),
              "<message xmlns='jabber:client' to='juliet@example.com'><body>hi</body>"
              "<active xmlns='http://jabber.org/protocol/chatstates'/></message>");
    // A child in no namespace under a namespaced parent must undeclare the default.
    Element outer("a", "urn:a");
    outer.append("b", "");
    EXPECT_EQ(outer.toString(), "<a xmlns='urn:a'><b xmlns=''/></a>");
    EXPECT_EQ(reparse(outer), outer);
}

TEST(Element, EscapesTextAndAttributes) {
    Element e("a", "");
    e.setAttr("v", "<&>'\"\t\n\r x");
    e.appendText("<&>'\"]]>\r\n");
    const std::string s = e.toString();
    EXPECT_EQ(s, "<a v='&lt;&amp;&gt;&apos;&quot;&#9;&#10;&#13; x'>&lt;&amp;&gt;'\"]]&gt;&#13;\n</a>");
    EXPECT_EQ(reparse(e), e);
    std::string out;
    appendEscapedText(out, "a&b");
    appendEscapedAttr(out, "'");
    EXPECT_EQ(out, "a&amp;b&apos;");
}

TEST(Element, WritesXmlLangAndPrefixedAttributes) {
    Element e("presence", "jabber:client");
    e.setAttr("lang", "de", kXmlNamespace);
    e.setAttr("a", "1", "urn:one");
    e.setAttr("b", "2", "urn:two");
    e.setAttr("c", "3", "urn:one");
    e.setAttr("plain", "4");
    const std::string s = e.toString("jabber:client");
    EXPECT_EQ(s,
              "<presence xml:lang='de' xmlns:ns0='urn:one' ns0:a='1' xmlns:ns1='urn:two' ns1:b='2' ns0:c='3' "
              "plain='4'/>");
    EXPECT_EQ(reparse(e, "jabber:client"), e);
    // Children redeclare their own prefixes; the same generated name may mean another URI there.
    Element parent("p", "urn:p");
    parent.setAttr("x", "1", "urn:one");
    Element& child = parent.append("c", "urn:p");
    child.setAttr("x", "2", "urn:two");
    EXPECT_EQ(reparse(parent), parent);
}

TEST(Element, RoundTripsTrickyContent) {
    Element e("x", "urn:with|pipe and space");
    e.setAttr("v", "a&#0;b \xF0\x9F\x98\x80");
    e.append("y", "urn:other").appendText("\xE2\x82\xAC & more");
    e.append("z", "urn:with|pipe and space").append("w", "");
    EXPECT_EQ(reparse(e), e);
    EXPECT_EQ(reparse(e, "urn:with|pipe and space"), e);
}

TEST(Element, SerializesVeryDeepTreesWithoutRecursion) {
    // Built by hand (the parser would stop at maxDepth); destruction and serialization must cope.
    constexpr int kDepth = 100000;
    Element root("d", "urn:d");
    Element* cur = &root;
    for (int i = 0; i < kDepth; ++i) {
        cur = &cur->append("d", "urn:d");
    }
    const std::string s = root.toString();
    EXPECT_EQ(s.size(), std::string_view("<d xmlns='urn:d'>").size() +
                            kDepth * std::string_view("<d></d>").size() - 2 +
                            std::string_view("</d>").size() - 1);
    Element copy("d", "urn:d");
    EXPECT_FALSE(copy == root);
}

TEST(Element, SerializeToAppends) {
    std::string out = "prefix:";
    Element("a", "").serializeTo(out);
    EXPECT_EQ(out, "prefix:<a/>");
}

}  // namespace
}  // namespace parley::xml
