#include "parley/jid/jid.h"

#include <optional>

#include "parts.h"

namespace parley {
namespace {

// Builds the canonical string in one buffer: [local '@'] domain ['/' resource].
struct Builder {
    std::string full;
    std::size_t domainStart = 0;
    std::size_t resourceStart = 0;

    std::optional<JidError> build(std::optional<std::string_view> local, std::string_view domain,
                                  std::optional<std::string_view> resource) {
        // Room for ASCII input; longer canonical forms only cost a reallocation.
        full.reserve((local ? local->size() + 1 : 0) + domain.size() + (resource ? resource->size() + 1 : 0));
        if (local) {
            if (const std::optional<JidError> error = detail::appendLocalpart(*local, full)) {
                return error;
            }
            full.push_back('@');
        }
        domainStart = full.size();
        if (const std::optional<JidError> error = detail::appendDomain(domain, full)) {
            return error;
        }
        if (resource) {
            full.push_back('/');
            resourceStart = full.size();
            return detail::appendResource(*resource, full);
        }
        resourceStart = full.size();
        return std::nullopt;
    }
};

Result<std::string, JidError> prepareOne(std::string_view part,
                                         std::optional<JidError> (*append)(std::string_view, std::string&)) {
    std::string out;
    out.reserve(part.size());
    if (const std::optional<JidError> error = append(part, out)) {
        return *error;
    }
    return out;
}

}  // namespace

std::string_view toString(JidError error) noexcept {
    switch (error) {
        case JidError::Empty:
            return "empty address or address part";
        case JidError::LocalpartInvalid:
            return "invalid localpart";
        case JidError::LocalpartTooLong:
            return "localpart longer than 1023 bytes";
        case JidError::DomainInvalid:
            return "invalid domainpart";
        case JidError::DomainTooLong:
            return "domainpart or one of its labels too long";
        case JidError::ResourceInvalid:
            return "invalid resourcepart";
        case JidError::ResourceTooLong:
            return "resourcepart longer than 1023 bytes";
    }
    return "unknown address error";
}

Result<Jid, JidError> Jid::parse(std::string_view text) {
    if (text.empty()) {
        return JidError::Empty;
    }
    // RFC 7622 §3.1: the resourcepart starts at the first '/', then the localpart ends at the first '@'
    // before it. Either separator with nothing on its other side is an error (§3.3, §3.4).
    std::optional<std::string_view> resource;
    std::string_view head = text;
    if (const std::size_t slash = text.find('/'); slash != std::string_view::npos) {
        resource = text.substr(slash + 1);
        head = text.substr(0, slash);
    }
    std::optional<std::string_view> local;
    std::string_view domain = head;
    if (const std::size_t at = head.find('@'); at != std::string_view::npos) {
        local = head.substr(0, at);
        domain = head.substr(at + 1);
    }
    if ((local && local->empty()) || (resource && resource->empty()) || domain.empty()) {
        return JidError::Empty;
    }
    return fromParts(local, domain, resource);
}

Result<Jid, JidError> Jid::make(std::string_view local, std::string_view domain, std::string_view resource) {
    return fromParts(local.empty() ? std::nullopt : std::optional(local), domain,
                     resource.empty() ? std::nullopt : std::optional(resource));
}

Result<Jid, JidError> Jid::fromParts(std::optional<std::string_view> local, std::string_view domain,
                                     std::optional<std::string_view> resource) {
    Builder builder;
    if (const std::optional<JidError> error = builder.build(local, domain, resource)) {
        return *error;
    }
    return Jid(std::move(builder.full), builder.domainStart, builder.resourceStart);
}

Jid::Jid(std::string full, std::size_t domainStart, std::size_t resourceStart)
    : full_(std::move(full)),
      domainStart_(static_cast<std::uint16_t>(domainStart)),
      resourceStart_(static_cast<std::uint16_t>(resourceStart)) {}

std::string_view Jid::local() const noexcept {
    return hasLocal() ? std::string_view(full_).substr(0, domainStart_ - 1U) : std::string_view();
}

std::string_view Jid::domain() const noexcept {
    const std::size_t end = hasResource() ? resourceStart_ - 1U : full_.size();
    return std::string_view(full_).substr(domainStart_, end - domainStart_);
}

std::string_view Jid::resource() const noexcept {
    return hasResource() ? std::string_view(full_).substr(resourceStart_) : std::string_view();
}

std::string_view Jid::bareView() const noexcept {
    return hasResource() ? std::string_view(full_).substr(0, resourceStart_ - 1U) : std::string_view(full_);
}

Jid Jid::bare() const {
    const std::string_view view = bareView();
    return Jid(std::string(view), domainStart_, view.size());
}

Jid Jid::domainJid() const {
    const std::string_view view = domain();
    return Jid(std::string(view), 0, view.size());
}

Result<Jid, JidError> Jid::withResource(std::string_view resource) const {
    if (resource.empty()) {
        return bare();
    }
    const std::string_view base = bareView();
    std::string full;
    full.reserve(base.size() + 1 + resource.size());
    full.append(base);
    full.push_back('/');
    if (const std::optional<JidError> error = detail::appendResource(resource, full)) {
        return *error;
    }
    return Jid(std::move(full), domainStart_, base.size() + 1);
}

Result<std::string, JidError> prepareLocalpart(std::string_view localpart) {
    return prepareOne(localpart, detail::appendLocalpart);
}

Result<std::string, JidError> prepareDomain(std::string_view domain) {
    return prepareOne(domain, detail::appendDomain);
}

Result<std::string, JidError> prepareResource(std::string_view resource) {
    return prepareOne(resource, detail::appendResource);
}

Result<std::string, JidError> domainToAscii(std::string_view domain) {
    return prepareOne(domain, detail::appendDomainAscii);
}

}  // namespace parley
