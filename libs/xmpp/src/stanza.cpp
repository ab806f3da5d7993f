#include "parley/xmpp/stanza.h"

namespace parley::xmpp {

std::string_view toString(StanzaKind kind) noexcept {
    switch (kind) {
        case StanzaKind::Message:
            return "message";
        case StanzaKind::Presence:
            return "presence";
        case StanzaKind::Iq:
            return "iq";
    }
    return "message";
}

std::optional<IqType> iqTypeFromString(std::string_view type) noexcept {
    if (type == "get")
        return IqType::Get;
    if (type == "set")
        return IqType::Set;
    if (type == "result")
        return IqType::Result;
    if (type == "error")
        return IqType::Error;
    return std::nullopt;
}

std::string_view toString(IqType type) noexcept {
    switch (type) {
        case IqType::Get:
            return "get";
        case IqType::Set:
            return "set";
        case IqType::Result:
            return "result";
        case IqType::Error:
            return "error";
    }
    return "get";
}

Result<Stanza, Stanza::Problem> Stanza::fromElement(xml::Element&& element, std::string_view contentNs) {
    StanzaKind kind;
    if (element.ns() != contentNs)
        return Problem::NotAStanza;
    if (element.name() == "message") {
        kind = StanzaKind::Message;
    } else if (element.name() == "presence") {
        kind = StanzaKind::Presence;
    } else if (element.name() == "iq") {
        kind = StanzaKind::Iq;
    } else {
        return Problem::NotAStanza;
    }
    std::optional<Jid> to;
    std::optional<Jid> from;
    if (const std::string* toText = element.findAttr("to")) {
        auto parsed = Jid::parse(*toText);
        if (!parsed)
            return Problem::BadTo;
        to = std::move(*parsed);
    }
    if (const std::string* fromText = element.findAttr("from")) {
        auto parsed = Jid::parse(*fromText);
        if (!parsed)
            return Problem::BadFrom;
        from = std::move(*parsed);
    }
    IqType iqType = IqType::Get;
    if (kind == StanzaKind::Iq) {
        // RFC 6120 §8.2.3: id and type are required; get/set carry exactly one child, result 0 or 1.
        auto parsedType = iqTypeFromString(element.attr("type"));
        if (!parsedType || !element.hasAttr("id"))
            return Problem::BadIq;
        iqType = *parsedType;
        const std::size_t children = element.childCount();
        if ((iqType == IqType::Get || iqType == IqType::Set) && children != 1)
            return Problem::BadIq;
        if (iqType == IqType::Result && children > 1)
            return Problem::BadIq;
    }
    Stanza stanza(kind, std::move(element), std::move(to), std::move(from));
    stanza.iqType_ = iqType;
    return stanza;
}

Stanza::Stanza(StanzaKind kind, xml::Element element, std::optional<Jid> to, std::optional<Jid> from)
    : kind_(kind), element_(std::move(element)), to_(std::move(to)), from_(std::move(from)) {
    if (kind_ == StanzaKind::Iq)
        iqType_ = iqTypeFromString(element_.attr("type")).value_or(IqType::Get);
    // Keep the attributes in step with the cached addresses.
    if (to_)
        element_.setAttr("to", to_->str());
    else
        element_.removeAttr("to");
    if (from_)
        element_.setAttr("from", from_->str());
    else
        element_.removeAttr("from");
}

void Stanza::setTo(std::optional<Jid> to) {
    to_ = std::move(to);
    if (to_)
        element_.setAttr("to", to_->str());
    else
        element_.removeAttr("to");
}

void Stanza::setFrom(std::optional<Jid> from) {
    from_ = std::move(from);
    if (from_)
        element_.setAttr("from", from_->str());
    else
        element_.removeAttr("from");
}

std::optional<Stanza> makeErrorReply(const Stanza& request, const StanzaError& error) {
    if (request.isError())
        return std::nullopt;  // RFC 6120 §8.3.1: never answer an error with an error
    xml::Element reply(request.element().name(), request.element().ns());
    if (request.element().hasAttr("id"))
        reply.setAttr("id", std::string(request.id()));
    reply.setAttr("type", "error");
    // §8.3.1: the error stanza SHOULD include the original XML of the request for iq get/set; for
    // messages and presence we keep only the error, which avoids echoing large bodies back.
    if (request.isIq()) {
        if (const xml::Element* payload = request.payload())
            reply.append(*payload);
    }
    reply.append(error.toElement(request.element().ns()));
    return Stanza(request.kind(), std::move(reply), request.from(), request.to());
}

Stanza makeIqResult(const Stanza& request, std::optional<xml::Element> payload,
                    const std::optional<Jid>& serverFrom) {
    xml::Element reply("iq", request.element().ns());
    reply.setAttr("id", std::string(request.id()));
    reply.setAttr("type", "result");
    if (payload)
        reply.append(std::move(*payload));
    return Stanza(StanzaKind::Iq, std::move(reply), request.from(), request.to() ? request.to() : serverFrom);
}

}  // namespace parley::xmpp
