#pragma once
// xml::Element: a small, lossless XML tree (name, namespace, attributes, mixed children). Unknown
// payloads pass through untouched; only the module that owns a namespace interprets it.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::xml {

inline constexpr std::string_view kXmlNamespace = "http://www.w3.org/XML/1998/namespace";

// An attribute. `ns` is empty for unprefixed attributes (the usual case in XMPP); `xml:lang` has
// ns == kXmlNamespace and name == "lang".
struct Attribute {
    std::string name;
    std::string value;
    std::string ns;
};

class Element;

// One child of an element: either an element or a run of character data (already unescaped).
class Node {
  public:
    explicit Node(Element element);
    explicit Node(std::string text);
    Node(const Node& other);
    Node& operator=(const Node& other);
    Node(Node&&) noexcept = default;
    Node& operator=(Node&&) noexcept = default;
    ~Node();

    bool isElement() const noexcept { return element_ != nullptr; }
    bool isText() const noexcept { return element_ == nullptr; }
    const Element& element() const { return *element_; }
    Element& element() { return *element_; }
    const std::string& text() const noexcept { return text_; }
    std::string& text() noexcept { return text_; }

  private:
    std::unique_ptr<Element> element_;
    std::string text_;
};

class Element {
  public:
    Element() = default;
    Element(std::string name, std::string ns) : name_(std::move(name)), ns_(std::move(ns)) {}

    const std::string& name() const noexcept { return name_; }
    const std::string& ns() const noexcept { return ns_; }
    void setName(std::string name) { name_ = std::move(name); }
    void setNs(std::string ns) { ns_ = std::move(ns); }
    bool is(std::string_view name, std::string_view ns) const noexcept { return name_ == name && ns_ == ns; }

    // --- attributes -------------------------------------------------------------------------
    const std::vector<Attribute>& attributes() const noexcept { return attributes_; }
    // The attribute `name` in namespace `ns` (empty: no namespace), or nullptr.
    const std::string* findAttr(std::string_view name, std::string_view ns = {}) const noexcept;
    // The value of the unprefixed attribute `name`, or "" when absent.
    std::string_view attr(std::string_view name) const noexcept;
    bool hasAttr(std::string_view name) const noexcept { return findAttr(name) != nullptr; }
    // Sets (replacing any existing value) an attribute.
    void setAttr(std::string_view name, std::string value, std::string_view ns = {});
    // Removes an attribute; returns whether it was there.
    bool removeAttr(std::string_view name, std::string_view ns = {});
    // Replaces all attributes at once (the parser's path: no per-attribute search). The caller
    // guarantees that no two attributes share a name and namespace.
    void setAttributes(std::vector<Attribute> attributes) noexcept { attributes_ = std::move(attributes); }
    // xml:lang, or "" when absent.
    std::string_view lang() const noexcept {
        return findAttr("lang", kXmlNamespace) ? *findAttr("lang", kXmlNamespace) : std::string_view{};
    }

    // --- children ---------------------------------------------------------------------------
    const std::vector<Node>& nodes() const noexcept { return nodes_; }
    std::vector<Node>& nodes() noexcept { return nodes_; }
    // Appends a child element and returns a reference to it (valid until the next append).
    Element& append(Element child);
    Element& append(std::string name, std::string ns) {
        return append(Element(std::move(name), std::move(ns)));
    }
    // Appends character data (merged with a directly preceding text node).
    void appendText(std::string_view text);

    // The first child element with this name and namespace, or nullptr.
    const Element* findChild(std::string_view name, std::string_view ns) const noexcept;
    Element* findChild(std::string_view name, std::string_view ns) noexcept;
    // The first child element, whatever its name, or nullptr.
    const Element* firstChild() const noexcept;
    // Number of child elements (text nodes are not counted).
    std::size_t childCount() const noexcept;
    // All child elements, in order; optionally only those with this name and namespace.
    std::vector<const Element*> children() const;
    std::vector<const Element*> children(std::string_view name, std::string_view ns) const;
    // Removes every child element with this name and namespace; returns how many were removed.
    std::size_t removeChildren(std::string_view name, std::string_view ns);

    // Concatenated direct character data of this element.
    std::string text() const;
    // Text of the first child `name`/`ns`, or "" when there is no such child.
    std::string childText(std::string_view name, std::string_view ns) const;

    // Serializes this element. Its xmlns is written unless it equals `inheritedNs` (the default
    // namespace in scope where it is written, e.g. "jabber:client" inside a client stream).
    std::string toString(std::string_view inheritedNs = {}) const;
    void serializeTo(std::string& out, std::string_view inheritedNs = {}) const;

    friend bool operator==(const Element& a, const Element& b);

  private:
    std::string name_;
    std::string ns_;
    std::vector<Attribute> attributes_;
    std::vector<Node> nodes_;
};

// Escaping for character data and for attribute values written with single quotes.
void appendEscapedText(std::string& out, std::string_view text);
void appendEscapedAttr(std::string& out, std::string_view value);

}  // namespace parley::xml
