#pragma once
// Stanza errors (RFC 6120 §8.3) and stream errors (RFC 6120 §4.9) as values.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "parley/xml/element.h"

namespace parley::xmpp {

// §8.3.3 defined conditions.
enum class StanzaErrorCondition : std::uint8_t {
    BadRequest,
    Conflict,
    FeatureNotImplemented,
    Forbidden,
    Gone,
    InternalServerError,
    ItemNotFound,
    JidMalformed,
    NotAcceptable,
    NotAllowed,
    NotAuthorized,
    PolicyViolation,
    RecipientUnavailable,
    Redirect,
    RegistrationRequired,
    RemoteServerNotFound,
    RemoteServerTimeout,
    ResourceConstraint,
    ServiceUnavailable,
    SubscriptionRequired,
    UndefinedCondition,
    UnexpectedRequest,
};
std::string_view toString(StanzaErrorCondition condition) noexcept;
std::optional<StanzaErrorCondition> stanzaErrorConditionFromString(std::string_view name) noexcept;

// §8.3.2 error types.
enum class StanzaErrorType : std::uint8_t { Auth, Cancel, Continue, Modify, Wait };
std::string_view toString(StanzaErrorType type) noexcept;
// The type §8.3.3 gives each condition in its examples.
StanzaErrorType defaultType(StanzaErrorCondition condition) noexcept;

struct StanzaError {
    StanzaErrorCondition condition = StanzaErrorCondition::UndefinedCondition;
    StanzaErrorType type = StanzaErrorType::Cancel;
    std::string text;
    // An optional application-specific condition (e.g. <stanza-too-big xmlns='urn:xmpp:errors'/>).
    std::optional<xml::Element> applicationCondition;

    StanzaError() = default;
    StanzaError(StanzaErrorCondition c, std::string t = {})
        : condition(c), type(defaultType(c)), text(std::move(t)) {}
    StanzaError(StanzaErrorCondition c, StanzaErrorType ty, std::string t = {})
        : condition(c), type(ty), text(std::move(t)) {}

    // <error type='...'><condition xmlns='...stanzas'/><text>...</text></error> in jabber:client.
    xml::Element toElement(std::string_view contentNs = "jabber:client") const;
};

// §4.9.3 defined stream error conditions.
enum class StreamErrorCondition : std::uint8_t {
    BadFormat,
    BadNamespacePrefix,
    Conflict,
    ConnectionTimeout,
    HostGone,
    HostUnknown,
    ImproperAddressing,
    InternalServerError,
    InvalidFrom,
    InvalidNamespace,
    InvalidXml,
    NotAuthorized,
    NotWellFormed,
    PolicyViolation,
    RemoteConnectionFailed,
    Reset,
    ResourceConstraint,
    RestrictedXml,
    SeeOtherHost,
    SystemShutdown,
    UndefinedCondition,
    UnsupportedEncoding,
    UnsupportedFeature,
    UnsupportedStanzaType,
    UnsupportedVersion,
};
std::string_view toString(StreamErrorCondition condition) noexcept;

struct StreamError {
    StreamErrorCondition condition = StreamErrorCondition::UndefinedCondition;
    std::string text;
    std::optional<xml::Element> applicationCondition;

    // The serialized <stream:error>...</stream:error> (with the stream: prefix bound by the header).
    std::string toXml() const;
};

}  // namespace parley::xmpp
