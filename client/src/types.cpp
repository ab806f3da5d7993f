// String forms of the client library's enums, and small helpers of its value types.
#include <algorithm>
#include <stdexcept>

#include "codecs.h"
#include "parley/client/disco.h"
#include "parley/client/error.h"
#include "parley/client/message.h"
#include "parley/client/roster.h"

namespace parley::client {

std::string_view toString(ErrorKind kind) noexcept {
    switch (kind) {
        case ErrorKind::Dns:
            return "dns";
        case ErrorKind::Network:
            return "network";
        case ErrorKind::Tls:
            return "tls";
        case ErrorKind::Sasl:
            return "sasl";
        case ErrorKind::Stream:
            return "stream";
        case ErrorKind::Stanza:
            return "stanza";
        case ErrorKind::Timeout:
            return "timeout";
        case ErrorKind::Protocol:
            return "protocol";
        case ErrorKind::Usage:
            return "usage";
    }
    return "unknown";
}

std::string Error::describe() const {
    std::string out(toString(kind));
    out += ' ';
    out += condition;
    if (!text.empty()) {
        out += ": ";
        out += text;
    }
    return out;
}

void throw_exception_from_error(const Error& error, const boost::source_location& location) {
    throw std::logic_error("Outcome::value() called on an error (" + error.describe() + ") at " +
                           location.file_name() + ":" + std::to_string(location.line()));
}

std::string_view toString(Subscription subscription) noexcept {
    switch (subscription) {
        case Subscription::None:
            return "none";
        case Subscription::To:
            return "to";
        case Subscription::From:
            return "from";
        case Subscription::Both:
            return "both";
        case Subscription::Remove:
            return "remove";
    }
    return "none";
}

std::optional<Subscription> subscriptionFromString(std::string_view text) noexcept {
    for (Subscription s : {Subscription::None, Subscription::To, Subscription::From, Subscription::Both,
                           Subscription::Remove}) {
        if (toString(s) == text)
            return s;
    }
    return std::nullopt;
}

std::string_view toString(MessageType type) noexcept {
    switch (type) {
        case MessageType::Chat:
            return "chat";
        case MessageType::Normal:
            return "normal";
        case MessageType::Groupchat:
            return "groupchat";
        case MessageType::Headline:
            return "headline";
        case MessageType::Error:
            return "error";
    }
    return "normal";
}

std::string_view toString(Availability availability) noexcept {
    switch (availability) {
        case Availability::Available:
            return "available";
        case Availability::Chat:
            return "chat";
        case Availability::Away:
            return "away";
        case Availability::ExtendedAway:
            return "xa";
        case Availability::DoNotDisturb:
            return "dnd";
        case Availability::Unavailable:
            return "unavailable";
    }
    return "available";
}

std::optional<Availability> availabilityFromString(std::string_view text) noexcept {
    for (Availability a :
         {Availability::Available, Availability::Chat, Availability::Away, Availability::ExtendedAway,
          Availability::DoNotDisturb, Availability::Unavailable}) {
        if (toString(a) == text)
            return a;
    }
    return std::nullopt;
}

std::string formatTimestamp(std::chrono::system_clock::time_point time) {
    return codec::formatTimestamp(time);
}

bool DiscoInfo::hasFeature(const std::string& feature) const {
    return std::find(features.begin(), features.end(), feature) != features.end();
}

}  // namespace parley::client
