#pragma once
// Jid: an XMPP address (RFC 7622) that is always valid and always in canonical (prepared) form.
// The only ways to get one are Jid::parse and Jid::make, which return an error value for invalid input
// (docs/STYLE.md rule 4), so code holding a Jid never has to check it.
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "parley/base/result.h"

namespace parley {

enum class JidError : std::uint8_t {
    Empty,             // empty string, or an empty part where a separator was given ("@d", "u@", "d/")
    LocalpartInvalid,  // fails PRECIS UsernameCaseMapped (RFC 8265 §3.3) or contains "&'/:<>@
    LocalpartTooLong,  // more than 1023 octets after preparation (RFC 7622 §3.3)
    DomainInvalid,     // not a valid IDNA2008 domain name or IP literal (RFC 7622 §3.2)
    DomainTooLong,     // more than 1023 octets, or a label longer than 63 octets
    ResourceInvalid,   // fails PRECIS OpaqueString (RFC 8265 §4.2)
    ResourceTooLong,   // more than 1023 octets after preparation (RFC 7622 §3.4)
};
std::string_view toString(JidError error) noexcept;

class Jid {
  public:
    // Parses and prepares "[local@]domain[/resource]" (RFC 7622 §3.1 split order).
    static Result<Jid, JidError> parse(std::string_view text);
    // Prepares and joins parts; an empty local or resource means "absent".
    static Result<Jid, JidError> make(std::string_view local, std::string_view domain,
                                      std::string_view resource = {});

    std::string_view local() const noexcept;
    std::string_view domain() const noexcept;
    std::string_view resource() const noexcept;
    bool hasLocal() const noexcept { return domainStart_ > 0; }
    bool hasResource() const noexcept { return resourceStart_ < full_.size(); }
    bool isBare() const noexcept { return !hasResource(); }
    bool isDomain() const noexcept { return !hasLocal() && !hasResource(); }

    // The whole address in canonical form.
    const std::string& str() const noexcept { return full_; }
    // local@domain (or domain) without the resource.
    std::string_view bareView() const noexcept;
    Jid bare() const;
    Jid domainJid() const;
    // This address with a different resource (prepared); an empty resource gives the bare JID.
    Result<Jid, JidError> withResource(std::string_view resource) const;

    friend bool operator==(const Jid& a, const Jid& b) noexcept { return a.full_ == b.full_; }
    friend std::strong_ordering operator<=>(const Jid& a, const Jid& b) noexcept {
        return a.full_ <=> b.full_;
    }

  private:
    Jid() = default;
    // Takes an already prepared string; the offsets are as described below.
    Jid(std::string full, std::size_t domainStart, std::size_t resourceStart);
    // A part given as nullopt is absent; an empty optional part is an error.
    static Result<Jid, JidError> fromParts(std::optional<std::string_view> local, std::string_view domain,
                                           std::optional<std::string_view> resource);
    std::string full_;
    // full_ = [local '@'] domain ['/' resource]; domainStart_ is 0 without a localpart, otherwise the
    // index after '@'; resourceStart_ is full_.size() without a resource, otherwise the index after '/'.
    std::uint16_t domainStart_ = 0;
    std::uint16_t resourceStart_ = 0;
};

// The preparation steps, also used for user names in registration and SASL (RFC 7622 §3).
Result<std::string, JidError> prepareLocalpart(std::string_view localpart);
Result<std::string, JidError> prepareDomain(std::string_view domain);
Result<std::string, JidError> prepareResource(std::string_view resource);
// The ASCII form of a domainpart for DNS and TLS name checks: every U-label becomes its A-label
// (RFC 5891 §5). Takes any domainpart, prepared or not; Jid::domain() stores U-labels.
Result<std::string, JidError> domainToAscii(std::string_view domain);

}  // namespace parley

template <>
struct std::hash<parley::Jid> {
    std::size_t operator()(const parley::Jid& jid) const noexcept {
        return std::hash<std::string>{}(jid.str());
    }
};
