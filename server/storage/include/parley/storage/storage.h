#pragma once
// Storage: one interface per feature, each with an in-memory and an SQLite backend (PostgreSQL later),
// all passing one conformance suite (tests/conformance/storage). Calls are coroutines; a backend that
// blocks (SQLite) runs the work on its own thread and resumes the caller on the caller's executor, so a
// network event loop never waits for the disk (docs/ARCHITECTURE.md "Storage").
//
// Coroutine parameters are taken by value (docs/STYLE.md rule 7).
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parley/base/result.h"
#include "parley/sasl/scram_credential.h"

namespace parley::storage {

namespace asio = boost::asio;

enum class StorageError : std::uint8_t {
    NotFound,       // the account (or row) does not exist
    AlreadyExists,  // e.g. registering a taken user name
    Unavailable,    // the backend failed (I/O error, disk full, database down): retry later
    QuotaExceeded,  // a per-user limit was reached
};
std::string_view toString(StorageError error) noexcept;

template <class T>
using StoreResult = asio::awaitable<Result<T, StorageError>>;

struct Account {
    std::string host;                                // prepared domain
    std::string username;                            // prepared localpart
    std::vector<sasl::ScramCredential> credentials;  // one per hash algorithm
    std::int64_t createdAt = 0;                      // Unix seconds
};

class AccountStore {
  public:
    virtual ~AccountStore() = default;
    // AlreadyExists if the user name is taken on that host, by an account or by a tombstone.
    virtual StoreResult<void> createAccount(Account account) = 0;
    // Bulk creation (parleyctl adduser-range, benchmarks): creates each account whose name is free, in
    // one transaction, and skips those whose name is taken (by an account or a tombstone). Returns how
    // many were created.
    virtual StoreResult<std::size_t> createAccounts(std::vector<Account> accounts) = 0;
    // nullopt (not an error) when there is no such account.
    virtual StoreResult<std::optional<Account>> findAccount(std::string host, std::string username) = 0;
    // Replaces all credentials (password change). NotFound if there is no such account.
    virtual StoreResult<void> setCredentials(std::string host, std::string username,
                                             std::vector<sasl::ScramCredential> credentials) = 0;
    // Deletes the account and everything stored for it in this backend, and leaves a tombstone of the
    // name (`deletedAt`, Unix seconds) in the same transaction. NotFound if absent.
    virtual StoreResult<void> deleteAccount(std::string host, std::string username,
                                            std::int64_t deletedAt) = 0;
    // User names on a host, sorted.
    virtual StoreResult<std::vector<std::string>> listAccounts(std::string host) = 0;

    // Tombstones (cf. Prosody's mod_tombstones): the name of a deleted account stays taken, so nobody
    // registers it to receive what the old account's contacts still send, or to be mistaken for it by
    // a client that cached the old roster. They are kept until removed (no expiry).
    //
    // When the account `host`/`username` was deleted: its tombstone's time (Unix seconds), or nullopt
    // when there is none (never deleted, or released since). Existing accounts have none.
    virtual StoreResult<std::optional<std::int64_t>> findTombstone(std::string host,
                                                                   std::string username) = 0;
    // Frees a deleted account's name for a new account (an administrator's decision). NotFound if
    // there is no tombstone.
    virtual StoreResult<void> removeTombstone(std::string host, std::string username) = 0;
};

// Small per-user documents that a feature reads and writes whole (XEP-0049 private XML, vCards,
// preferences). `store` names the feature ("private", "vcard"), `key` the document in it.
class KeyValueStore {
  public:
    virtual ~KeyValueStore() = default;
    virtual StoreResult<std::optional<std::string>> get(std::string host, std::string username,
                                                        std::string store, std::string key) = 0;
    virtual StoreResult<void> set(std::string host, std::string username, std::string store, std::string key,
                                  std::string value) = 0;
    // Removing an absent key is not an error.
    virtual StoreResult<void> remove(std::string host, std::string username, std::string store,
                                     std::string key) = 0;
};

// --- Rosters and subscriptions (RFC 6121 §2, §3) ---------------------------------------------------

// The subscription state of a roster item (RFC 6121 §3 and Appendix A): `to` = the user receives the
// contact's presence, `from` = the contact receives the user's.
enum class Subscription : std::uint8_t { None, To, From, Both };
std::string_view toString(Subscription subscription) noexcept;

struct RosterItem {
    std::string jid;  // the contact's bare JID, prepared
    std::string name;
    std::vector<std::string> groups;
    Subscription subscription = Subscription::None;
    bool askOut = false;       // "Pending Out": the user asked for the contact's presence (ask='subscribe')
    bool pendingIn = false;    // "Pending In": the contact asked for the user's presence, unanswered
    bool preApproved = false;  // §3.4: the user approved the contact's future request in advance
    bool listed = true;        // false: only a pending-in request or pre-approval, not in the user's roster
    std::string pendingInStanza;  // the contact's subscribe request as received (XML), redelivered at login
    std::uint64_t version = 0;    // the roster version at this item's last change (set by the store)
};

struct Roster {
    // Bumped by 1 by every change, starting at 1; 0 for a user who never had a roster (or whose
    // account was deleted since).
    std::uint64_t version = 0;
    std::vector<RosterItem> items;  // sorted by jid (byte order); unlisted items included
    // Tombstones for §2.6 pushes of only what changed: every removal whose version is >= removedSince,
    // as (jid, version of the removal), sorted by version. A jid added again since is not here (its
    // item, with a newer version, is in `items`). Backends keep the latest 200 tombstones and raise
    // removedSince past the ones they prune, so a client whose version is older than removedSince must
    // get the whole roster; any other client needs only the items and tombstones newer than its version.
    std::vector<std::pair<std::string, std::uint64_t>> removed;
    std::uint64_t removedSince = 0;
};

class RosterStore {
  public:
    virtual ~RosterStore() = default;
    // The whole roster, with the tombstones of removed items. An empty Roster (version 0) for a user
    // who never had one.
    virtual StoreResult<Roster> loadRoster(std::string host, std::string username) = 0;
    // nullopt (not an error) when the roster has no item with this jid; unlisted items are found.
    virtual StoreResult<std::optional<RosterItem>> findItem(std::string host, std::string username,
                                                            std::string jid) = 0;
    // Inserts or replaces the item with this jid, bumps the roster version and returns it (the item's
    // version becomes it; the version given is ignored), and deletes the jid's tombstone if any.
    // QuotaExceeded when the item is new and the roster already holds `maxItems` items, unlisted ones
    // included (0: no limit); then nothing changes. Replacing an item is always allowed.
    virtual StoreResult<std::uint64_t> putItem(std::string host, std::string username, RosterItem item,
                                               std::size_t maxItems) = 0;
    // Removes the item, bumps the version, leaves a tombstone (jid, new version) and returns the new
    // version. Removing an absent item is not an error and changes nothing (it returns the current
    // version, 0 if there is no roster).
    virtual StoreResult<std::uint64_t> removeItem(std::string host, std::string username,
                                                  std::string jid) = 0;
};

// --- Offline messages (XEP-0160) -----------------------------------------------------------------

struct OfflineMessage {
    // Assigned by the store: increasing in arrival order and never reused, not even after the
    // message is removed (a session holding a stale id cannot remove a newer message).
    std::uint64_t id = 0;
    std::int64_t storedAt = 0;  // Unix milliseconds
    std::string xml;            // the stanza as it will be delivered (with its <delay/>)
};

class OfflineStore {
  public:
    virtual ~OfflineStore() = default;
    // Appends a message durably (committed before this returns) and returns its id. QuotaExceeded when
    // the user already has `maxPerUser` messages (0: no limit). Unavailable means it was not stored.
    virtual StoreResult<std::uint64_t> push(std::string host, std::string username, OfflineMessage message,
                                            std::size_t maxPerUser) = 0;
    // The user's messages, oldest first, at most `limit` (0: all).
    virtual StoreResult<std::vector<OfflineMessage>> list(std::string host, std::string username,
                                                          std::size_t limit) = 0;
    // Removes the given messages of this user (absent ids, and other users' ids, are ignored).
    virtual StoreResult<void> remove(std::string host, std::string username,
                                     std::vector<std::uint64_t> ids) = 0;
    virtual StoreResult<std::size_t> count(std::string host, std::string username) = 0;
};

// --- Blocking (XEP-0191) -------------------------------------------------------------------------

class BlockListStore {
  public:
    virtual ~BlockListStore() = default;
    // The blocked JIDs (bare, full or domain JIDs as the user gave them, prepared), sorted.
    virtual StoreResult<std::vector<std::string>> list(std::string host, std::string username) = 0;
    // Adds the JIDs (already blocked ones and repeats are ignored). QuotaExceeded if the list would
    // then hold more than `maxItems` JIDs (0: no limit); then nothing is added.
    virtual StoreResult<void> add(std::string host, std::string username, std::vector<std::string> jids,
                                  std::size_t maxItems) = 0;
    // Removes the JIDs (absent ones are ignored); an empty list removes all of them (XEP-0191 §3.4).
    virtual StoreResult<void> remove(std::string host, std::string username,
                                     std::vector<std::string> jids) = 0;
};

// --- Personal eventing (XEP-0163 on XEP-0060) ---------------------------------------------------

// A PEP node's configuration (XEP-0060 §16.4.3 pubsub#node_config), as far as PEP uses it. The store
// keeps it as given; the module decides what the values mean.
struct PepNodeConfig {
    std::string accessModel = "presence";  // open, presence, roster, whitelist (XEP-0060 §4.5)
    std::size_t maxItems = 1;              // items kept; the oldest go first (0: no limit)
    bool persistItems = true;
    std::string sendLastPublishedItem = "on_sub_and_presence";  // never, on_sub, on_sub_and_presence
    bool notifyRetract = true;
    std::vector<std::string> rosterGroups;  // access model roster: the owner's groups allowed
    std::vector<std::string> whitelist;     // access model whitelist: bare JIDs allowed besides the owner
    // pubsub#max_items was `max` (XEP-0060 §16.4.3): maxItems is the most the service allows.
    bool maxItemsIsMax = false;
    // Descriptive fields (pubsub#title, pubsub#description, pubsub#type), kept and shown as given.
    std::string title;
    std::string description;
    std::string payloadType;
    friend bool operator==(const PepNodeConfig&, const PepNodeConfig&) = default;
};

struct PepNode {
    std::string name;
    PepNodeConfig config;
};

struct PepItem {
    std::string id;
    std::string xml;        // the payload element as XML (one element, XEP-0060 §7.1.3.6)
    std::string publisher;  // the full JID that published it
    // Set by the store: increases with every publish to the node, so the newest item has the largest.
    std::uint64_t order = 0;
    // When it was published (Unix seconds), kept as given: the XEP-0203 stamp of the last item sent later.
    std::int64_t publishedAt = 0;
    friend bool operator==(const PepItem&, const PepItem&) = default;
};

class PepStore {
  public:
    virtual ~PepStore() = default;
    // The account's nodes, sorted by name.
    virtual StoreResult<std::vector<PepNode>> listNodes(std::string host, std::string username) = 0;
    // nullopt (not an error) when there is no such node.
    virtual StoreResult<std::optional<PepNodeConfig>> findNode(std::string host, std::string username,
                                                               std::string node) = 0;
    // AlreadyExists if the node exists; QuotaExceeded if the account already has `maxNodes` nodes
    // (0: no limit).
    virtual StoreResult<void> createNode(std::string host, std::string username, std::string node,
                                         PepNodeConfig config, std::size_t maxNodes) = 0;
    // Replaces the configuration and drops the oldest items past the new maxItems. NotFound if absent.
    virtual StoreResult<void> configureNode(std::string host, std::string username, std::string node,
                                            PepNodeConfig config) = 0;
    // Removes the node with its items. NotFound if absent.
    virtual StoreResult<void> deleteNode(std::string host, std::string username, std::string node) = 0;
    // Stores the item as the node's newest (replacing an item with the same id), then drops the oldest
    // items past the node's maxItems. Returns the item's order. NotFound if there is no such node.
    virtual StoreResult<std::uint64_t> publishItem(std::string host, std::string username, std::string node,
                                                   PepItem item) = 0;
    // The node's items, newest first: those with the given ids (all when `ids` is empty), at most
    // `limit` (0: all). NotFound if there is no such node.
    virtual StoreResult<std::vector<PepItem>> items(std::string host, std::string username, std::string node,
                                                    std::vector<std::string> ids, std::size_t limit) = 0;
    // Removes one item: false when the node has none with this id. NotFound if there is no such node.
    virtual StoreResult<bool> retractItem(std::string host, std::string username, std::string node,
                                          std::string id) = 0;
    // Removes every item of the node (XEP-0060 §8.5 purge). NotFound if there is no such node.
    virtual StoreResult<void> purgeNode(std::string host, std::string username, std::string node) = 0;
};

// --- Message archive (XEP-0313, with XEP-0359 stanza ids and XEP-0059 paging) ----------------------
// A generic archive (docs/storage.md "Message archive"): appends, and finds or deletes by time, `with`
// and id. Each user's archive is ordered by insertion.

struct ArchivedMessage {
    std::string id;            // XEP-0359 stanza-id, chosen by the caller: opaque, unique per archive
    std::int64_t stamp = 0;    // Unix milliseconds
    std::string with;          // the other party's bare JID
    std::string withResource;  // its resource ("" when none)
    std::string xml;           // the message as archived
    std::string text;          // what full-text search sees (the body)
};

struct ArchiveQuery {
    // Filters (XEP-0313 §4.1.1); all given ones must hold.
    std::optional<std::string> with;              // the other party's bare JID
    std::optional<std::string> withResource;      // with `with`: only this resource of it
    std::optional<std::int64_t> start;            // Unix ms, inclusive
    std::optional<std::int64_t> end;              // Unix ms, inclusive
    std::optional<std::string> afterId;           // only messages archived after this one
    std::optional<std::string> beforeId;          // only messages archived before this one
    std::optional<std::vector<std::string>> ids;  // only these messages (each must exist)
    std::string text;  // full text: every word (letters and digits, case-insensitive) is a word of it
    // Paging (XEP-0059 §2): after `after`, or the last page before `before` ("" = the last page).
    std::optional<std::string> after;
    std::optional<std::string> before;
    std::size_t max = 50;  // messages per page (0: only the count)
};

struct ArchivePage {
    std::vector<ArchivedMessage> messages;  // in archive order
    std::size_t count = 0;                  // how many messages the filters match, on all pages
    std::size_t firstIndex = 0;             // how many of those precede messages.front() (XEP-0059 §2.4)
    bool complete = false;                  // no more pages in the direction of the query (XEP-0313 §4.3)
};

class ArchiveStore {
  public:
    virtual ~ArchiveStore() = default;
    // Appends a message durably (committed before this returns; the SQLite backend commits the
    // appends queued meanwhile in one transaction). When the user then has more than `maxPerUser`
    // messages (0: no limit), the oldest are removed. AlreadyExists when the id is taken in this archive.
    virtual StoreResult<void> append(std::string host, std::string username, ArchivedMessage message,
                                     std::size_t maxPerUser) = 0;
    // One page of the messages that match. NotFound when `after`, `before`, `afterId`, `beforeId` or
    // one of `ids` names no message of this archive (XEP-0313 §4.1.3, §4.3.2: item-not-found).
    virtual StoreResult<ArchivePage> query(std::string host, std::string username, ArchiveQuery query) = 0;
    // Retention: removes every user's messages older than `stamp` (Unix ms); returns how many.
    virtual StoreResult<std::size_t> removeOlderThan(std::int64_t stamp) = 0;
    // Removes a user's whole archive (an account deletion does it too).
    virtual StoreResult<void> removeAll(std::string host, std::string username) = 0;
};

// A backend: owns its threads and connections and hands out the feature stores.
class Storage {
  public:
    virtual ~Storage() = default;
    virtual AccountStore& accounts() = 0;
    virtual KeyValueStore& keyValue() = 0;
    virtual RosterStore& roster() = 0;
    virtual OfflineStore& offline() = 0;
    virtual BlockListStore& blockList() = 0;
    virtual PepStore& pep() = 0;
    virtual ArchiveStore& archive() = 0;
    // Finishes queued work and closes; called once at shutdown.
    virtual void close() = 0;
};

struct StorageOptions {
    std::string backend = "sqlite";  // "sqlite" or "memory"
    std::filesystem::path path;      // sqlite database file (created with its folder)
    bool synchronousFull = false;    // sqlite: PRAGMA synchronous=FULL instead of NORMAL
};

struct OpenError {
    std::string
        message;  // what failed and how to fix it, e.g. "cannot open var/parley.db: permission denied"
};

// Opens a backend; the SQLite one applies pending migrations (server/storage/migrations/sqlite) first.
Result<std::unique_ptr<Storage>, OpenError> openStorage(const StorageOptions& options);

}  // namespace parley::storage
