#pragma once
// Message history from the server's archive (XEP-0313 Message Archive Management), paged with
// XEP-0059 Result Set Management.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "parley/client/message.h"

namespace parley::client {

/// XEP-0082 DateTime in UTC, e.g. "2026-11-21T10:00:00Z", for printing timestamps.
std::string formatTimestamp(std::chrono::system_clock::time_point time);

struct HistoryQuery {
    std::string with;  ///< only the conversation with this JID; empty: everything
    std::optional<std::chrono::system_clock::time_point> start;
    std::optional<std::chrono::system_clock::time_point> end;
    std::size_t pageSize = 50;
    /// Paging (XEP-0059): messages after this archive id (the `last` of the previous page, walking
    /// forward) or before it (the `first`, walking backward). `latest` without either gives the
    /// newest page, as a chat window wants it.
    std::string after;
    std::string before;
    bool latest = false;
};

struct ArchivedMessage {
    std::string archiveId;  ///< XEP-0313 result id, usable for paging
    std::chrono::system_clock::time_point timestamp;
    Message message;
};

struct HistoryPage {
    std::vector<ArchivedMessage> messages;  ///< oldest first
    std::string first;                      ///< archive id of the first message of the page
    std::string last;                       ///< archive id of the last one
    bool complete = false;                  ///< no more messages in the direction of paging
    std::optional<std::size_t> count;       ///< total matching messages, when the server says
};

}  // namespace parley::client
