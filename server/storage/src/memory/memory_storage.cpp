#include "memory/memory_storage.h"

#include <algorithm>
#include <utility>

#include "archive_words.h"
#include "credentials.h"
#include "roster_tombstones.h"

namespace parley::storage {

// The coroutines below never suspend, so each one holds the lock from its first statement to its
// co_return and completes inline when awaited.

StoreResult<void> MemoryAccountStore::createAccount(Account account) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    MemoryState::UserKey key{account.host, account.username};
    if (state_.accounts.contains(key) || state_.tombstones.contains(key)) {
        co_return StorageError::AlreadyExists;
    }
    account.credentials = normalizeCredentials(std::move(account.credentials));
    state_.accounts.emplace(std::move(key), std::move(account));
    co_return Result<void, StorageError>{};
}

StoreResult<std::size_t> MemoryAccountStore::createAccounts(std::vector<Account> accounts) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    std::size_t created = 0;
    for (Account& account : accounts) {
        MemoryState::UserKey key{account.host, account.username};
        if (state_.accounts.contains(key) || state_.tombstones.contains(key)) {
            continue;
        }
        account.credentials = normalizeCredentials(std::move(account.credentials));
        state_.accounts.emplace(std::move(key), std::move(account));
        ++created;
    }
    co_return created;
}

StoreResult<std::optional<Account>> MemoryAccountStore::findAccount(std::string host, std::string username) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto it = state_.accounts.find({std::move(host), std::move(username)});
    if (it == state_.accounts.end()) {
        co_return std::optional<Account>{};
    }
    co_return std::optional<Account>{it->second};
}

StoreResult<void> MemoryAccountStore::setCredentials(std::string host, std::string username,
                                                     std::vector<sasl::ScramCredential> credentials) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto it = state_.accounts.find({std::move(host), std::move(username)});
    if (it == state_.accounts.end()) {
        co_return StorageError::NotFound;
    }
    it->second.credentials = normalizeCredentials(std::move(credentials));
    co_return Result<void, StorageError>{};
}

StoreResult<void> MemoryAccountStore::deleteAccount(std::string host, std::string username,
                                                    std::int64_t deletedAt) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto it = state_.accounts.find({host, username});
    if (it == state_.accounts.end()) {
        co_return StorageError::NotFound;
    }
    state_.accounts.erase(it);
    // The user's documents sort together, starting at the empty store and key.
    auto value = state_.values.lower_bound({host, username, std::string{}, std::string{}});
    while (value != state_.values.end() && std::get<0>(value->first) == host &&
           std::get<1>(value->first) == username) {
        value = state_.values.erase(value);
    }
    const MemoryState::UserKey user{std::move(host), std::move(username)};
    state_.rosters.erase(user);
    state_.offline.erase(user);
    state_.blockLists.erase(user);
    state_.pep.erase(user);
    state_.archives.erase(user);
    state_.tombstones.insert_or_assign(user, deletedAt);
    co_return Result<void, StorageError>{};
}

StoreResult<std::vector<std::string>> MemoryAccountStore::listAccounts(std::string host) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    std::vector<std::string> usernames;
    for (auto it = state_.accounts.lower_bound({host, std::string{}});
         it != state_.accounts.end() && it->first.first == host; ++it) {
        usernames.push_back(it->first.second);
    }
    co_return usernames;
}

StoreResult<std::optional<std::int64_t>> MemoryAccountStore::findTombstone(std::string host,
                                                                           std::string username) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto it = state_.tombstones.find({std::move(host), std::move(username)});
    if (it == state_.tombstones.end()) {
        co_return std::optional<std::int64_t>{};
    }
    co_return std::optional<std::int64_t>{it->second};
}

StoreResult<void> MemoryAccountStore::removeTombstone(std::string host, std::string username) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    if (state_.tombstones.erase({std::move(host), std::move(username)}) == 0) {
        co_return StorageError::NotFound;
    }
    co_return Result<void, StorageError>{};
}

StoreResult<std::optional<std::string>> MemoryKeyValueStore::get(std::string host, std::string username,
                                                                 std::string store, std::string key) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto it = state_.values.find({std::move(host), std::move(username), std::move(store), std::move(key)});
    if (it == state_.values.end()) {
        co_return std::optional<std::string>{};
    }
    co_return std::optional<std::string>{it->second};
}

StoreResult<void> MemoryKeyValueStore::set(std::string host, std::string username, std::string store,
                                           std::string key, std::string value) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    state_.values.insert_or_assign({std::move(host), std::move(username), std::move(store), std::move(key)},
                                   std::move(value));
    co_return Result<void, StorageError>{};
}

StoreResult<void> MemoryKeyValueStore::remove(std::string host, std::string username, std::string store,
                                              std::string key) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    state_.values.erase({std::move(host), std::move(username), std::move(store), std::move(key)});
    co_return Result<void, StorageError>{};
}

// MemoryRosterStore

StoreResult<Roster> MemoryRosterStore::loadRoster(std::string host, std::string username) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    Roster roster;
    auto it = state_.rosters.find({std::move(host), std::move(username)});
    if (it == state_.rosters.end()) {
        co_return roster;
    }
    const auto& data = it->second;
    roster.version = data.version;
    roster.removedSince = data.removedSince;
    roster.items.reserve(data.items.size());
    for (const auto& [jid, item] : data.items) {
        roster.items.push_back(item);
    }
    roster.removed.reserve(data.tombstones.size());
    for (const auto& [version, jid] : data.tombstones) {
        roster.removed.emplace_back(jid, version);
    }
    co_return roster;
}

StoreResult<std::optional<RosterItem>> MemoryRosterStore::findItem(std::string host, std::string username,
                                                                   std::string jid) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto roster = state_.rosters.find({std::move(host), std::move(username)});
    if (roster == state_.rosters.end()) {
        co_return std::optional<RosterItem>{};
    }
    auto item = roster->second.items.find(jid);
    if (item == roster->second.items.end()) {
        co_return std::optional<RosterItem>{};
    }
    co_return std::optional<RosterItem>{item->second};
}

namespace {

void eraseTombstone(MemoryState::RosterData& roster, const std::string& jid) {
    // At most kMaxRosterTombstones entries: a scan is cheap.
    auto it = std::find_if(roster.tombstones.begin(), roster.tombstones.end(),
                           [&](const auto& tombstone) { return tombstone.second == jid; });
    if (it != roster.tombstones.end()) {
        roster.tombstones.erase(it);
    }
}

}  // namespace

StoreResult<std::uint64_t> MemoryRosterStore::putItem(std::string host, std::string username, RosterItem item,
                                                      std::size_t maxItems) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    MemoryState::UserKey user{std::move(host), std::move(username)};
    auto found = state_.rosters.find(user);
    const bool isNew = found == state_.rosters.end() || !found->second.items.contains(item.jid);
    const std::size_t size = found == state_.rosters.end() ? 0 : found->second.items.size();
    // Replacing an item never exceeds the quota; unlisted items count like the others.
    if (isNew && maxItems != 0 && size >= maxItems) {
        co_return StorageError::QuotaExceeded;
    }
    auto& roster = found == state_.rosters.end() ? state_.rosters[std::move(user)] : found->second;
    const std::uint64_t version = ++roster.version;
    item.version = version;
    eraseTombstone(roster, item.jid);
    auto jid = item.jid;
    roster.items.insert_or_assign(std::move(jid), std::move(item));
    co_return version;
}

StoreResult<std::uint64_t> MemoryRosterStore::removeItem(std::string host, std::string username,
                                                         std::string jid) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto found = state_.rosters.find({std::move(host), std::move(username)});
    if (found == state_.rosters.end()) {
        co_return std::uint64_t{0};
    }
    auto& roster = found->second;
    auto item = roster.items.find(jid);
    if (item == roster.items.end()) {
        co_return roster.version;
    }
    roster.items.erase(item);
    const std::uint64_t version = ++roster.version;
    roster.tombstones.emplace(version, std::move(jid));
    // Keep the latest tombstones; a client older than the newest pruned removal gets the whole roster.
    while (roster.tombstones.size() > kMaxRosterTombstones) {
        auto oldest = roster.tombstones.begin();
        roster.removedSince = std::max(roster.removedSince, oldest->first + 1);
        roster.tombstones.erase(oldest);
    }
    co_return version;
}

// MemoryOfflineStore

StoreResult<std::uint64_t> MemoryOfflineStore::push(std::string host, std::string username,
                                                    OfflineMessage message, std::size_t maxPerUser) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto& messages = state_.offline[{std::move(host), std::move(username)}];
    if (maxPerUser != 0 && messages.size() >= maxPerUser) {
        co_return StorageError::QuotaExceeded;
    }
    const std::uint64_t id = ++state_.lastOfflineId;
    message.id = id;
    messages.emplace(id, std::move(message));
    co_return id;
}

StoreResult<std::vector<OfflineMessage>> MemoryOfflineStore::list(std::string host, std::string username,
                                                                  std::size_t limit) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    std::vector<OfflineMessage> result;
    auto found = state_.offline.find({std::move(host), std::move(username)});
    if (found == state_.offline.end()) {
        co_return result;
    }
    for (const auto& [id, message] : found->second) {
        if (limit != 0 && result.size() >= limit) {
            break;
        }
        result.push_back(message);
    }
    co_return result;
}

StoreResult<void> MemoryOfflineStore::remove(std::string host, std::string username,
                                             std::vector<std::uint64_t> ids) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto found = state_.offline.find({std::move(host), std::move(username)});
    if (found == state_.offline.end()) {
        co_return Result<void, StorageError>{};
    }
    for (const auto id : ids) {
        found->second.erase(id);
    }
    if (found->second.empty()) {
        state_.offline.erase(found);
    }
    co_return Result<void, StorageError>{};
}

StoreResult<std::size_t> MemoryOfflineStore::count(std::string host, std::string username) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto found = state_.offline.find({std::move(host), std::move(username)});
    co_return found == state_.offline.end() ? std::size_t{0} : found->second.size();
}

// MemoryBlockListStore

StoreResult<std::vector<std::string>> MemoryBlockListStore::list(std::string host, std::string username) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto found = state_.blockLists.find({std::move(host), std::move(username)});
    if (found == state_.blockLists.end()) {
        co_return std::vector<std::string>{};
    }
    co_return std::vector<std::string>(found->second.begin(), found->second.end());
}

StoreResult<void> MemoryBlockListStore::add(std::string host, std::string username,
                                            std::vector<std::string> jids, std::size_t maxItems) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    MemoryState::UserKey user{std::move(host), std::move(username)};
    auto found = state_.blockLists.find(user);
    std::set<std::string> added;
    for (auto& jid : jids) {
        if (found == state_.blockLists.end() || !found->second.contains(jid)) {
            added.insert(std::move(jid));
        }
    }
    if (added.empty()) {
        co_return Result<void, StorageError>{};
    }
    const std::size_t size = found == state_.blockLists.end() ? 0 : found->second.size();
    if (maxItems != 0 && size + added.size() > maxItems) {
        co_return StorageError::QuotaExceeded;
    }
    auto& blocked = found == state_.blockLists.end() ? state_.blockLists[std::move(user)] : found->second;
    blocked.merge(added);
    co_return Result<void, StorageError>{};
}

StoreResult<void> MemoryBlockListStore::remove(std::string host, std::string username,
                                               std::vector<std::string> jids) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto found = state_.blockLists.find({std::move(host), std::move(username)});
    if (found == state_.blockLists.end()) {
        co_return Result<void, StorageError>{};
    }
    if (jids.empty()) {
        state_.blockLists.erase(found);
        co_return Result<void, StorageError>{};
    }
    for (const auto& jid : jids) {
        found->second.erase(jid);
    }
    if (found->second.empty()) {
        state_.blockLists.erase(found);
    }
    co_return Result<void, StorageError>{};
}

// MemoryPepStore

namespace {

// Drops the oldest items past maxItems (0: no limit).
void trimPepItems(MemoryState::PepNodeData& node) {
    const std::size_t max = node.config.maxItems;
    if (max != 0 && node.items.size() > max)
        node.items.erase(node.items.begin(), node.items.end() - static_cast<std::ptrdiff_t>(max));
}

}  // namespace

MemoryState::PepNodeData* MemoryPepStore::find(const std::string& host, const std::string& username,
                                               const std::string& node) {
    auto user = state_.pep.find({host, username});
    if (user == state_.pep.end())
        return nullptr;
    auto found = user->second.find(node);
    return found == user->second.end() ? nullptr : &found->second;
}

Result<MemoryState::PepNodeData*, StorageError> MemoryPepStore::existing(const std::string& host,
                                                                         const std::string& username,
                                                                         const std::string& node) {
    if (state_.closed)
        return StorageError::Unavailable;
    auto* data = find(host, username, node);
    if (!data)
        return StorageError::NotFound;
    return data;
}

StoreResult<std::vector<PepNode>> MemoryPepStore::listNodes(std::string host, std::string username) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed)
        co_return StorageError::Unavailable;
    std::vector<PepNode> nodes;
    auto user = state_.pep.find({std::move(host), std::move(username)});
    if (user != state_.pep.end()) {
        for (const auto& [name, data] : user->second)
            nodes.push_back(PepNode{name, data.config});
    }
    co_return nodes;
}

StoreResult<std::optional<PepNodeConfig>> MemoryPepStore::findNode(std::string host, std::string username,
                                                                   std::string node) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed)
        co_return StorageError::Unavailable;
    const auto* data = find(host, username, node);
    co_return data ? std::optional<PepNodeConfig>(data->config) : std::nullopt;
}

StoreResult<void> MemoryPepStore::createNode(std::string host, std::string username, std::string node,
                                             PepNodeConfig config, std::size_t maxNodes) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed)
        co_return StorageError::Unavailable;
    auto& nodes = state_.pep[{std::move(host), std::move(username)}];
    if (nodes.contains(node))
        co_return StorageError::AlreadyExists;
    if (maxNodes != 0 && nodes.size() >= maxNodes)
        co_return StorageError::QuotaExceeded;
    nodes[std::move(node)].config = std::move(config);
    co_return Result<void, StorageError>{};
}

StoreResult<void> MemoryPepStore::configureNode(std::string host, std::string username, std::string node,
                                                PepNodeConfig config) {
    std::lock_guard lock(state_.mutex);
    auto found = existing(host, username, node);
    if (!found)
        co_return found.error();
    MemoryState::PepNodeData* data = *found;
    data->config = std::move(config);
    trimPepItems(*data);
    co_return Result<void, StorageError>{};
}

StoreResult<void> MemoryPepStore::deleteNode(std::string host, std::string username, std::string node) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed)
        co_return StorageError::Unavailable;
    auto user = state_.pep.find({std::move(host), std::move(username)});
    if (user == state_.pep.end() || user->second.erase(node) == 0)
        co_return StorageError::NotFound;
    if (user->second.empty())
        state_.pep.erase(user);
    co_return Result<void, StorageError>{};
}

StoreResult<std::uint64_t> MemoryPepStore::publishItem(std::string host, std::string username,
                                                       std::string node, PepItem item) {
    std::lock_guard lock(state_.mutex);
    auto found = existing(host, username, node);
    if (!found)
        co_return found.error();
    MemoryState::PepNodeData* data = *found;
    std::erase_if(data->items, [&](const PepItem& stored) { return stored.id == item.id; });
    item.order = ++data->lastOrder;
    const std::uint64_t order = item.order;
    data->items.push_back(std::move(item));
    trimPepItems(*data);
    co_return order;
}

StoreResult<std::vector<PepItem>> MemoryPepStore::items(std::string host, std::string username,
                                                        std::string node, std::vector<std::string> ids,
                                                        std::size_t limit) {
    std::lock_guard lock(state_.mutex);
    auto found = existing(host, username, node);
    if (!found)
        co_return found.error();
    MemoryState::PepNodeData* data = *found;
    std::vector<PepItem> selected;
    for (auto it = data->items.rbegin(); it != data->items.rend(); ++it) {
        if (limit != 0 && selected.size() >= limit)
            break;
        if (ids.empty() || std::find(ids.begin(), ids.end(), it->id) != ids.end())
            selected.push_back(*it);
    }
    co_return selected;
}

StoreResult<bool> MemoryPepStore::retractItem(std::string host, std::string username, std::string node,
                                              std::string id) {
    std::lock_guard lock(state_.mutex);
    auto found = existing(host, username, node);
    if (!found)
        co_return found.error();
    MemoryState::PepNodeData* data = *found;
    co_return std::erase_if(data->items, [&](const PepItem& item) { return item.id == id; }) > 0;
}

StoreResult<void> MemoryPepStore::purgeNode(std::string host, std::string username, std::string node) {
    std::lock_guard lock(state_.mutex);
    auto found = existing(host, username, node);
    if (!found)
        co_return found.error();
    MemoryState::PepNodeData* data = *found;
    data->items.clear();
    co_return Result<void, StorageError>{};
}

namespace {

bool matchesArchiveQuery(const ArchivedMessage& message, std::uint64_t seq, const ArchiveQuery& query,
                         std::uint64_t afterIdSeq, std::uint64_t beforeIdSeq,
                         const std::vector<std::string>& words) {
    if (query.with && message.with != *query.with)
        return false;
    if (query.with && query.withResource && message.withResource != *query.withResource)
        return false;
    if ((query.start && message.stamp < *query.start) || (query.end && message.stamp > *query.end))
        return false;
    if ((query.afterId && seq <= afterIdSeq) || (query.beforeId && seq >= beforeIdSeq))
        return false;
    if (query.ids && std::find(query.ids->begin(), query.ids->end(), message.id) == query.ids->end())
        return false;
    if (words.empty())
        return true;
    const std::vector<std::string> text = archiveWords(message.text);
    return std::all_of(words.begin(), words.end(), [&](const std::string& word) {
        return std::find(text.begin(), text.end(), word) != text.end();
    });
}

}  // namespace

StoreResult<void> MemoryArchiveStore::append(std::string host, std::string username, ArchivedMessage message,
                                             std::size_t maxPerUser) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    auto& archive = state_.archives[{std::move(host), std::move(username)}];
    if (archive.byId.contains(message.id)) {
        co_return StorageError::AlreadyExists;
    }
    const std::uint64_t seq = ++state_.lastArchiveSeq;
    archive.byId.emplace(message.id, seq);
    archive.messages.emplace(seq, std::move(message));
    while (maxPerUser != 0 && archive.messages.size() > maxPerUser) {
        archive.byId.erase(archive.messages.begin()->second.id);
        archive.messages.erase(archive.messages.begin());
    }
    co_return Result<void, StorageError>{};
}

StoreResult<ArchivePage> MemoryArchiveStore::query(std::string host, std::string username,
                                                   ArchiveQuery query) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    static const MemoryState::ArchiveData kEmpty;
    const auto found = state_.archives.find({std::move(host), std::move(username)});
    const auto& archive = found == state_.archives.end() ? kEmpty : found->second;
    // Every id the query names must be one of this archive's (XEP-0313 §4.1.1: item-not-found).
    std::uint64_t seqs[4] = {0, 0, 0, 0};
    const std::optional<std::string>* named[4] = {&query.afterId, &query.beforeId, &query.after,
                                                  &query.before};
    for (int i = 0; i < 4; ++i) {
        if (!*named[i] || (i == 3 && named[i]->value().empty()))
            continue;
        const auto id = archive.byId.find(**named[i]);
        if (id == archive.byId.end()) {
            co_return StorageError::NotFound;
        }
        seqs[i] = id->second;
    }
    if (query.ids) {
        for (const std::string& id : *query.ids) {
            if (!archive.byId.contains(id)) {
                co_return StorageError::NotFound;
            }
        }
    }
    const std::vector<std::string> words = archiveWords(query.text);
    std::vector<std::pair<std::uint64_t, const ArchivedMessage*>> matching;
    for (const auto& [seq, message] : archive.messages) {
        if (matchesArchiveQuery(message, seq, query, seqs[0], seqs[1], words))
            matching.emplace_back(seq, &message);
    }
    ArchivePage page;
    page.count = matching.size();
    std::size_t from = 0;
    std::size_t to = matching.size();
    if (query.before) {
        if (!query.before->empty()) {
            to = static_cast<std::size_t>(
                std::lower_bound(matching.begin(), matching.end(), seqs[3],
                                 [](const auto& entry, std::uint64_t seq) { return entry.first < seq; }) -
                matching.begin());
        }
        from = to > query.max ? to - query.max : 0;
        page.complete = from == 0;
    } else {
        if (query.after) {
            from = static_cast<std::size_t>(
                std::upper_bound(matching.begin(), matching.end(), seqs[2],
                                 [](std::uint64_t seq, const auto& entry) { return seq < entry.first; }) -
                matching.begin());
        }
        to = std::min(matching.size(), from + query.max);
        page.complete = to == matching.size();
    }
    for (std::size_t i = from; i < to; ++i)
        page.messages.push_back(*matching[i].second);
    co_return page;
}

StoreResult<std::size_t> MemoryArchiveStore::removeOlderThan(std::int64_t stamp) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    std::size_t removed = 0;
    for (auto& [user, archive] : state_.archives) {
        for (auto it = archive.messages.begin(); it != archive.messages.end();) {
            if (it->second.stamp >= stamp) {
                ++it;
                continue;
            }
            archive.byId.erase(it->second.id);
            it = archive.messages.erase(it);
            ++removed;
        }
    }
    co_return removed;
}

StoreResult<void> MemoryArchiveStore::removeAll(std::string host, std::string username) {
    std::lock_guard lock(state_.mutex);
    if (state_.closed) {
        co_return StorageError::Unavailable;
    }
    state_.archives.erase({std::move(host), std::move(username)});
    co_return Result<void, StorageError>{};
}

void MemoryStorage::close() {
    std::lock_guard lock(state_.mutex);
    state_.closed = true;
}

}  // namespace parley::storage
