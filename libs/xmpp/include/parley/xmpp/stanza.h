#pragma once
// Stanza: an xml::Element of kind message, presence or iq, with what routing needs (type, id, to, from)
// parsed once. A routed stanza is immutable and shared (StanzaPtr): presence fan-out delivers one object
// to many sessions. Rewrites (stamping `from`) happen before it is shared, or build a new stanza.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "parley/base/result.h"
#include "parley/jid/jid.h"
#include "parley/xml/element.h"
#include "parley/xmpp/errors.h"

namespace parley::xmpp {

enum class StanzaKind : std::uint8_t { Message, Presence, Iq };
std::string_view toString(StanzaKind kind) noexcept;

enum class IqType : std::uint8_t { Get, Set, Result, Error };
std::optional<IqType> iqTypeFromString(std::string_view type) noexcept;
std::string_view toString(IqType type) noexcept;

class Stanza {
  public:
    // Why an element could not become a stanza.
    enum class Problem : std::uint8_t {
        NotAStanza,  // not message/presence/iq in the stream's content namespace (§4.9.3.24)
        BadTo,       // `to` is not a valid JID (§8.3.3.8 jid-malformed)
        BadFrom,     // `from` is not a valid JID
        BadIq,       // iq without id, with a bad type, or get/set without exactly one child (§8.2.3)
    };

    // Classifies the element and parses its addresses. `contentNs` is the stream's namespace. The element
    // is moved from only on success: on failure the caller still has it, to answer with an error.
    static Result<Stanza, Problem> fromElement(xml::Element&& element,
                                               std::string_view contentNs = "jabber:client");

    // Builds a new stanza (for server-generated stanzas).
    Stanza(StanzaKind kind, xml::Element element, std::optional<Jid> to, std::optional<Jid> from);

    StanzaKind kind() const noexcept { return kind_; }
    bool isMessage() const noexcept { return kind_ == StanzaKind::Message; }
    bool isPresence() const noexcept { return kind_ == StanzaKind::Presence; }
    bool isIq() const noexcept { return kind_ == StanzaKind::Iq; }
    const xml::Element& element() const noexcept { return element_; }
    std::string_view type() const noexcept { return element_.attr("type"); }
    std::string_view id() const noexcept { return element_.attr("id"); }
    bool isError() const noexcept { return type() == "error"; }
    // For an iq, its type (validated by fromElement).
    IqType iqType() const noexcept { return iqType_; }
    // The single child of an iq get/set (validated by fromElement), else the first child or nullptr.
    const xml::Element* payload() const noexcept { return element_.firstChild(); }

    const std::optional<Jid>& to() const noexcept { return to_; }
    const std::optional<Jid>& from() const noexcept { return from_; }
    void setTo(std::optional<Jid> to);
    void setFrom(std::optional<Jid> from);

    // The serialized form, written without xmlns when `inheritedNs` is the stanza's namespace.
    void serializeTo(std::string& out, std::string_view inheritedNs = "jabber:client") const {
        element_.serializeTo(out, inheritedNs);
    }

  private:
    StanzaKind kind_;
    IqType iqType_ = IqType::Get;
    xml::Element element_;
    std::optional<Jid> to_;
    std::optional<Jid> from_;
};

using StanzaPtr = std::shared_ptr<const Stanza>;

// The error reply to `request` (§8.3.1): to/from swapped, same id, type='error', the original payload
// kept for iq get/set as RFC 6120 examples show. Returns nullopt for a stanza of type error (never
// answer an error with an error).
std::optional<Stanza> makeErrorReply(const Stanza& request, const StanzaError& error);

// The result reply to an iq get/set, with an optional payload; from = request's to (or `serverFrom`
// when the request had none), to = request's from.
Stanza makeIqResult(const Stanza& request, std::optional<xml::Element> payload,
                    const std::optional<Jid>& serverFrom = std::nullopt);

}  // namespace parley::xmpp
