#include "parley/xml/element.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <tuple>

namespace parley::xml {

namespace {

constexpr std::string_view kXmlnsNamespace = "http://www.w3.org/2000/xmlns/";

// Below this depth node destruction simply recurses; deeper subtrees are taken apart iteratively so
// that a hand-built tree of any depth cannot overflow the stack (parser trees are bounded by
// StreamLimits::maxDepth anyway).
constexpr unsigned kRecursiveDestroyDepth = 256;
thread_local unsigned destroyDepth = 0;

}  // namespace

// --- Node ---------------------------------------------------------------------------------------

Node::Node(Element element) : element_(std::make_unique<Element>(std::move(element))) {}

Node::Node(std::string text) : text_(std::move(text)) {}

// Copying recurses once per level of the tree; trees from the parser are at most maxDepth deep.
Node::Node(const Node& other)
    : element_(other.element_ ? std::make_unique<Element>(*other.element_) : nullptr), text_(other.text_) {}

Node& Node::operator=(const Node& other) {
    if (this != &other) {
        Node copy(other);
        *this = std::move(copy);
    }
    return *this;
}

Node::~Node() {
    if (!element_ || element_->nodes().empty()) {
        return;
    }
    if (destroyDepth < kRecursiveDestroyDepth) {
        ++destroyDepth;
        element_.reset();
        --destroyDepth;
        return;
    }
    // Deep: move every descendant into a flat work list, so each destructor sees no children.
    std::vector<Node> pending = std::move(element_->nodes());
    element_->nodes().clear();
    while (!pending.empty()) {
        Node node = std::move(pending.back());
        pending.pop_back();
        if (node.element_) {
            auto& children = node.element_->nodes();
            std::move(children.begin(), children.end(), std::back_inserter(pending));
            children.clear();
        }
    }
}

// --- Element: attributes -------------------------------------------------------------------------

const std::string* Element::findAttr(std::string_view name, std::string_view ns) const noexcept {
    for (const Attribute& a : attributes_) {
        if (a.name == name && a.ns == ns) {
            return &a.value;
        }
    }
    return nullptr;
}

std::string_view Element::attr(std::string_view name) const noexcept {
    const std::string* value = findAttr(name);
    return value ? std::string_view(*value) : std::string_view{};
}

void Element::setAttr(std::string_view name, std::string value, std::string_view ns) {
    for (Attribute& a : attributes_) {
        if (a.name == name && a.ns == ns) {
            a.value = std::move(value);
            return;
        }
    }
    attributes_.push_back(Attribute{std::string(name), std::move(value), std::string(ns)});
}

bool Element::removeAttr(std::string_view name, std::string_view ns) {
    const auto it = std::find_if(attributes_.begin(), attributes_.end(),
                                 [&](const Attribute& a) { return a.name == name && a.ns == ns; });
    if (it == attributes_.end()) {
        return false;
    }
    attributes_.erase(it);
    return true;
}

// --- Element: children ---------------------------------------------------------------------------

Element& Element::append(Element child) {
    nodes_.emplace_back(std::move(child));
    return nodes_.back().element();
}

void Element::appendText(std::string_view text) {
    if (text.empty()) {
        return;
    }
    if (!nodes_.empty() && nodes_.back().isText()) {
        nodes_.back().text().append(text);
    } else {
        nodes_.emplace_back(std::string(text));
    }
}

const Element* Element::findChild(std::string_view name, std::string_view ns) const noexcept {
    for (const Node& n : nodes_) {
        if (n.isElement() && n.element().is(name, ns)) {
            return &n.element();
        }
    }
    return nullptr;
}

Element* Element::findChild(std::string_view name, std::string_view ns) noexcept {
    for (Node& n : nodes_) {
        if (n.isElement() && n.element().is(name, ns)) {
            return &n.element();
        }
    }
    return nullptr;
}

const Element* Element::firstChild() const noexcept {
    for (const Node& n : nodes_) {
        if (n.isElement()) {
            return &n.element();
        }
    }
    return nullptr;
}

std::size_t Element::childCount() const noexcept {
    return static_cast<std::size_t>(
        std::count_if(nodes_.begin(), nodes_.end(), [](const Node& n) { return n.isElement(); }));
}

std::vector<const Element*> Element::children() const {
    std::vector<const Element*> out;
    for (const Node& n : nodes_) {
        if (n.isElement()) {
            out.push_back(&n.element());
        }
    }
    return out;
}

std::vector<const Element*> Element::children(std::string_view name, std::string_view ns) const {
    std::vector<const Element*> out;
    for (const Node& n : nodes_) {
        if (n.isElement() && n.element().is(name, ns)) {
            out.push_back(&n.element());
        }
    }
    return out;
}

std::size_t Element::removeChildren(std::string_view name, std::string_view ns) {
    const auto before = nodes_.size();
    nodes_.erase(std::remove_if(nodes_.begin(), nodes_.end(),
                                [&](const Node& n) { return n.isElement() && n.element().is(name, ns); }),
                 nodes_.end());
    return before - nodes_.size();
}

std::string Element::text() const {
    std::string out;
    for (const Node& n : nodes_) {
        if (n.isText()) {
            out += n.text();
        }
    }
    return out;
}

std::string Element::childText(std::string_view name, std::string_view ns) const {
    const Element* child = findChild(name, ns);
    return child ? child->text() : std::string();
}

// --- Escaping ------------------------------------------------------------------------------------

namespace {

// Appends `s`, replacing each byte for which `replacement` returns a non-empty view.
template <class Replace>
void appendEscaped(std::string& out, std::string_view s, Replace replacement) {
    std::size_t run = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const std::string_view r = replacement(s[i]);
        if (!r.empty()) {
            out.append(s.data() + run, i - run);
            out.append(r);
            run = i + 1;
        }
    }
    out.append(s.data() + run, s.size() - run);
}

}  // namespace

void appendEscapedText(std::string& out, std::string_view text) {
    appendEscaped(out, text, [](char c) -> std::string_view {
        switch (c) {
            case '&':
                return "&amp;";
            case '<':
                return "&lt;";
            case '>':
                return "&gt;";  // also keeps "]]>" out of character data
            case '\r':
                return "&#13;";  // a literal CR would be read back as LF (XML 1.0 §2.11)
            default:
                return {};
        }
    });
}

void appendEscapedAttr(std::string& out, std::string_view value) {
    appendEscaped(out, value, [](char c) -> std::string_view {
        switch (c) {
            case '&':
                return "&amp;";
            case '<':
                return "&lt;";
            case '>':
                return "&gt;";
            case '\'':
                return "&apos;";
            case '"':
                return "&quot;";
            // Literal tab, LF and CR would be normalised to spaces when read back (XML 1.0 §3.3.3).
            case '\t':
                return "&#9;";
            case '\n':
                return "&#10;";
            case '\r':
                return "&#13;";
            default:
                return {};
        }
    });
}

// --- Serialization -------------------------------------------------------------------------------

namespace {

void writeAttribute(std::string& out, std::string_view prefix, const Attribute& a) {
    out += ' ';
    if (!prefix.empty()) {
        out += prefix;
        out += ':';
    }
    out += a.name;
    out += "='";
    appendEscapedAttr(out, a.value);
    out += '\'';
}

// Writes `<name xmlns='..' attrs...` (without the closing '>' or '/>').
void writeStartTag(std::string& out, const Element& e, std::string_view inheritedNs) {
    out += '<';
    out += e.name();
    if (e.ns() != inheritedNs) {
        out += " xmlns='";
        appendEscapedAttr(out, e.ns());
        out += '\'';
    }
    // Namespaced attributes other than xml:* get generated prefixes ns0, ns1, ... declared on this
    // element. The element itself never uses a prefix, so these cannot clash with its name.
    std::vector<std::string_view> declared;
    for (const Attribute& a : e.attributes()) {
        if (a.ns.empty()) {
            writeAttribute(out, {}, a);
        } else if (a.ns == kXmlNamespace) {
            writeAttribute(out, "xml", a);
        } else if (a.ns == kXmlnsNamespace) {
            // Namespace declarations are not attributes in this tree; the parser never produces
            // one, and writing it would change the meaning of the element. Skip it.
        } else {
            const auto it = std::find(declared.begin(), declared.end(), std::string_view(a.ns));
            const std::size_t index = static_cast<std::size_t>(it - declared.begin());
            const std::string prefix = "ns" + std::to_string(index);
            if (it == declared.end()) {
                declared.push_back(a.ns);
                out += " xmlns:";
                out += prefix;
                out += "='";
                appendEscapedAttr(out, a.ns);
                out += '\'';
            }
            writeAttribute(out, prefix, a);
        }
    }
}

}  // namespace

// Iterative (explicit stack), so that serialization depth is bounded by heap, not by the call stack.
void Element::serializeTo(std::string& out, std::string_view inheritedNs) const {
    struct Frame {
        const Element* element;
        std::size_t next;  // index of the next child node to write
    };
    writeStartTag(out, *this, inheritedNs);
    if (nodes_.empty()) {
        out += "/>";
        return;
    }
    out += '>';
    std::vector<Frame> stack;
    stack.push_back({this, 0});
    while (!stack.empty()) {
        Frame& top = stack.back();
        const Element& e = *top.element;
        if (top.next == e.nodes_.size()) {
            out += "</";
            out += e.name();
            out += '>';
            stack.pop_back();
            continue;
        }
        const Node& node = e.nodes_[top.next++];
        if (node.isText()) {
            appendEscapedText(out, node.text());
            continue;
        }
        const Element& child = node.element();
        writeStartTag(out, child, e.ns());
        if (child.nodes_.empty()) {
            out += "/>";
        } else {
            out += '>';
            stack.push_back({&child, 0});  // `top` is not used after this point
        }
    }
}

std::string Element::toString(std::string_view inheritedNs) const {
    std::string out;
    out.reserve(256);
    serializeTo(out, inheritedNs);
    return out;
}

// --- Equality ------------------------------------------------------------------------------------

namespace {

bool sameAttributes(const std::vector<Attribute>& a, const std::vector<Attribute>& b) {
    if (a.size() != b.size()) {
        return false;
    }
    // Attribute order carries no meaning in XML; names are unique within an element.
    auto key = [](const Attribute* x) { return std::tie(x->ns, x->name, x->value); };
    std::vector<const Attribute*> sa, sb;
    sa.reserve(a.size());
    sb.reserve(b.size());
    for (const Attribute& x : a) {
        sa.push_back(&x);
    }
    for (const Attribute& x : b) {
        sb.push_back(&x);
    }
    auto less = [&](const Attribute* x, const Attribute* y) { return key(x) < key(y); };
    std::sort(sa.begin(), sa.end(), less);
    std::sort(sb.begin(), sb.end(), less);
    for (std::size_t i = 0; i < sa.size(); ++i) {
        if (key(sa[i]) != key(sb[i])) {
            return false;
        }
    }
    return true;
}

// Children with adjacent text nodes merged and empty text dropped, so that trees built with
// different appendText() patterns but the same content compare equal.
struct Item {
    std::string text;
    const Element* element = nullptr;
};

std::vector<Item> normalisedChildren(const std::vector<Node>& nodes) {
    std::vector<Item> items;
    for (const Node& n : nodes) {
        if (n.isElement()) {
            items.push_back({{}, &n.element()});
        } else if (!n.text().empty()) {
            if (!items.empty() && items.back().element == nullptr) {
                items.back().text += n.text();
            } else {
                items.push_back({n.text(), nullptr});
            }
        }
    }
    return items;
}

}  // namespace

bool operator==(const Element& a, const Element& b) {
    std::vector<std::pair<const Element*, const Element*>> work{{&a, &b}};
    while (!work.empty()) {
        const auto [x, y] = work.back();
        work.pop_back();
        if (x->name_ != y->name_ || x->ns_ != y->ns_ || !sameAttributes(x->attributes_, y->attributes_)) {
            return false;
        }
        const std::vector<Item> ix = normalisedChildren(x->nodes_);
        const std::vector<Item> iy = normalisedChildren(y->nodes_);
        if (ix.size() != iy.size()) {
            return false;
        }
        for (std::size_t i = 0; i < ix.size(); ++i) {
            if ((ix[i].element == nullptr) != (iy[i].element == nullptr)) {
                return false;
            }
            if (ix[i].element == nullptr) {
                if (ix[i].text != iy[i].text) {
                    return false;
                }
            } else {
                work.emplace_back(ix[i].element, iy[i].element);
            }
        }
    }
    return true;
}

}  // namespace parley::xml
