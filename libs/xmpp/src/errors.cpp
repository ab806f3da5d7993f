#include "parley/xmpp/errors.h"

#include <array>
#include <utility>

#include "parley/xmpp/namespaces.h"

namespace parley::xmpp {
namespace {

constexpr std::array<std::pair<StanzaErrorCondition, std::string_view>, 22> kStanzaConditions{{
    {StanzaErrorCondition::BadRequest, "bad-request"},
    {StanzaErrorCondition::Conflict, "conflict"},
    {StanzaErrorCondition::FeatureNotImplemented, "feature-not-implemented"},
    {StanzaErrorCondition::Forbidden, "forbidden"},
    {StanzaErrorCondition::Gone, "gone"},
    {StanzaErrorCondition::InternalServerError, "internal-server-error"},
    {StanzaErrorCondition::ItemNotFound, "item-not-found"},
    {StanzaErrorCondition::JidMalformed, "jid-malformed"},
    {StanzaErrorCondition::NotAcceptable, "not-acceptable"},
    {StanzaErrorCondition::NotAllowed, "not-allowed"},
    {StanzaErrorCondition::NotAuthorized, "not-authorized"},
    {StanzaErrorCondition::PolicyViolation, "policy-violation"},
    {StanzaErrorCondition::RecipientUnavailable, "recipient-unavailable"},
    {StanzaErrorCondition::Redirect, "redirect"},
    {StanzaErrorCondition::RegistrationRequired, "registration-required"},
    {StanzaErrorCondition::RemoteServerNotFound, "remote-server-not-found"},
    {StanzaErrorCondition::RemoteServerTimeout, "remote-server-timeout"},
    {StanzaErrorCondition::ResourceConstraint, "resource-constraint"},
    {StanzaErrorCondition::ServiceUnavailable, "service-unavailable"},
    {StanzaErrorCondition::SubscriptionRequired, "subscription-required"},
    {StanzaErrorCondition::UndefinedCondition, "undefined-condition"},
    {StanzaErrorCondition::UnexpectedRequest, "unexpected-request"},
}};

constexpr std::array<std::string_view, 25> kStreamConditions{
    "bad-format",
    "bad-namespace-prefix",
    "conflict",
    "connection-timeout",
    "host-gone",
    "host-unknown",
    "improper-addressing",
    "internal-server-error",
    "invalid-from",
    "invalid-namespace",
    "invalid-xml",
    "not-authorized",
    "not-well-formed",
    "policy-violation",
    "remote-connection-failed",
    "reset",
    "resource-constraint",
    "restricted-xml",
    "see-other-host",
    "system-shutdown",
    "undefined-condition",
    "unsupported-encoding",
    "unsupported-feature",
    "unsupported-stanza-type",
    "unsupported-version",
};

}  // namespace

std::string_view toString(StanzaErrorCondition condition) noexcept {
    return kStanzaConditions[static_cast<std::size_t>(condition)].second;
}

std::optional<StanzaErrorCondition> stanzaErrorConditionFromString(std::string_view name) noexcept {
    for (const auto& [condition, text] : kStanzaConditions) {
        if (text == name)
            return condition;
    }
    return std::nullopt;
}

std::string_view toString(StanzaErrorType type) noexcept {
    switch (type) {
        case StanzaErrorType::Auth:
            return "auth";
        case StanzaErrorType::Cancel:
            return "cancel";
        case StanzaErrorType::Continue:
            return "continue";
        case StanzaErrorType::Modify:
            return "modify";
        case StanzaErrorType::Wait:
            return "wait";
    }
    return "cancel";
}

StanzaErrorType defaultType(StanzaErrorCondition condition) noexcept {
    using C = StanzaErrorCondition;
    switch (condition) {
        case C::BadRequest:
        case C::JidMalformed:
        case C::NotAcceptable:
        case C::PolicyViolation:
        case C::Redirect:
            return StanzaErrorType::Modify;
        case C::Forbidden:
        case C::NotAuthorized:
        case C::RegistrationRequired:
        case C::SubscriptionRequired:
            return StanzaErrorType::Auth;
        case C::InternalServerError:
        case C::RecipientUnavailable:
        case C::RemoteServerTimeout:
        case C::ResourceConstraint:
        case C::UnexpectedRequest:
            return StanzaErrorType::Wait;
        default:
            return StanzaErrorType::Cancel;
    }
}

xml::Element StanzaError::toElement(std::string_view contentNs) const {
    xml::Element error("error", std::string(contentNs));
    error.setAttr("type", std::string(toString(type)));
    error.append(std::string(toString(condition)), std::string(ns::kStanzaErrors));
    if (!text.empty()) {
        xml::Element& textElement = error.append("text", std::string(ns::kStanzaErrors));
        textElement.setAttr("lang", "en", xml::kXmlNamespace);
        textElement.appendText(text);
    }
    if (applicationCondition)
        error.append(*applicationCondition);
    return error;
}

std::string_view toString(StreamErrorCondition condition) noexcept {
    return kStreamConditions[static_cast<std::size_t>(condition)];
}

std::string StreamError::toXml() const {
    // The stream: prefix is bound by our stream header; the error body is in the streams namespace.
    std::string out = "<stream:error>";
    xml::Element conditionElement(std::string(toString(condition)), std::string(ns::kStreamErrors));
    conditionElement.serializeTo(out);
    if (!text.empty()) {
        xml::Element textElement("text", std::string(ns::kStreamErrors));
        textElement.setAttr("lang", "en", xml::kXmlNamespace);
        textElement.appendText(text);
        textElement.serializeTo(out);
    }
    if (applicationCondition)
        applicationCondition->serializeTo(out);
    out += "</stream:error>";
    return out;
}

}  // namespace parley::xmpp
