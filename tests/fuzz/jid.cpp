// libFuzzer target for libs/jid: arbitrary bytes through Jid::parse and the preparation functions.
// Whatever is accepted must be canonical: parsing or preparing it again gives the same thing, and
// rebuilding it from its parts gives the same address.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "parley/jid/jid.h"

namespace {

void check(bool condition) {
    if (!condition) {
        std::abort();
    }
}

void checkPart(parley::Result<std::string, parley::JidError> (*prepare)(std::string_view),
               std::string_view input) {
    const parley::Result<std::string, parley::JidError> once = prepare(input);
    if (!once) {
        check(!parley::toString(once.error()).empty());
        return;
    }
    check(!once->empty() && once->size() <= 1023);
    const parley::Result<std::string, parley::JidError> twice = prepare(*once);
    check(twice.has_value() && *twice == *once);
}

void checkJid(const parley::Jid& jid) {
    check(jid.str().size() <= 3071);
    const parley::Result<parley::Jid, parley::JidError> again = parley::Jid::parse(jid.str());
    check(again.has_value() && *again == jid);
    check(again->local() == jid.local() && again->domain() == jid.domain() &&
          again->resource() == jid.resource());

    const parley::Result<parley::Jid, parley::JidError> made =
        parley::Jid::make(jid.local(), jid.domain(), jid.resource());
    check(made.has_value() && *made == jid);

    check(!jid.domain().empty());
    check(jid.hasLocal() == !jid.local().empty());
    check(jid.hasResource() == !jid.resource().empty());
    if (jid.hasLocal()) {
        const parley::Result<std::string, parley::JidError> local = parley::prepareLocalpart(jid.local());
        check(local.has_value() && *local == jid.local());
    }
    const parley::Result<std::string, parley::JidError> domain = parley::prepareDomain(jid.domain());
    check(domain.has_value() && *domain == jid.domain());
    // The A-label form is ASCII and prepares back to the same U-label form.
    const parley::Result<std::string, parley::JidError> ascii = parley::domainToAscii(jid.domain());
    check(ascii.has_value());
    for (const char c : *ascii) {
        check(static_cast<unsigned char>(c) < 0x80);
    }
    const parley::Result<std::string, parley::JidError> fromAscii = parley::prepareDomain(*ascii);
    check(fromAscii.has_value() && *fromAscii == jid.domain());
    if (jid.hasResource()) {
        const parley::Result<std::string, parley::JidError> resource =
            parley::prepareResource(jid.resource());
        check(resource.has_value() && *resource == jid.resource());
    }

    const parley::Jid bare = jid.bare();
    check(bare.isBare() && bare.str() == jid.bareView() && bare.local() == jid.local() &&
          bare.domain() == jid.domain());
    const parley::Jid domainJid = jid.domainJid();
    check(domainJid.isDomain() && domainJid.str() == jid.domain());
    const parley::Result<parley::Jid, parley::JidError> withResource = bare.withResource(jid.resource());
    check(withResource.has_value() && *withResource == jid);
    check(std::hash<parley::Jid>{}(*withResource) == std::hash<parley::Jid>{}(jid));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    const parley::Result<parley::Jid, parley::JidError> jid = parley::Jid::parse(input);
    if (jid) {
        checkJid(*jid);
    }

    // Each profile on its own, without the separators getting in the way.
    checkPart(parley::prepareLocalpart, input);
    checkPart(parley::prepareDomain, input);
    checkPart(parley::prepareResource, input);

    // Split the input in three at the first two NUL bytes and build an address from the pieces.
    const std::size_t first = input.find('\0');
    if (first != std::string_view::npos) {
        const std::size_t second = input.find('\0', first + 1);
        const std::string_view local = input.substr(0, first);
        const std::string_view domain = input.substr(
            first + 1, second == std::string_view::npos ? std::string_view::npos : second - first - 1);
        const std::string_view resource =
            second == std::string_view::npos ? std::string_view() : input.substr(second + 1);
        const parley::Result<parley::Jid, parley::JidError> made = parley::Jid::make(local, domain, resource);
        if (made) {
            checkJid(*made);
        }
    }
    return 0;
}
