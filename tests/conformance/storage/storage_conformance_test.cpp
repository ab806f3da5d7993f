// The storage conformance suite: every backend passes these same cases (docs/STYLE.md rule 10). A new
// backend adds a factory to test_support.h and one INSTANTIATE_TYPED_TEST_SUITE_P line at the bottom.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "parley/storage/storage.h"
#include "roster_tombstones.h"
#include "test_support.h"

namespace parley::storage::test {
namespace {

using sasl::HashAlgorithm;
using sasl::ScramCredential;

ScramCredential credential(HashAlgorithm algorithm, std::string seed) {
    ScramCredential result;
    result.algorithm = algorithm;
    result.salt = "salt-" + seed + std::string("\0\xff", 2);  // raw bytes, NUL included
    result.iterations = 4096;
    result.storedKey = "stored-" + seed + std::string(1, '\0');
    result.serverKey = "server-" + seed + "\x80\x01";
    return result;
}

Account account(std::string host, std::string username, std::int64_t createdAt = 1700000000) {
    Account result;
    result.host = std::move(host);
    result.username = std::move(username);
    result.createdAt = createdAt;
    result.credentials = {credential(HashAlgorithm::Sha1, "a"), credential(HashAlgorithm::Sha256, "b")};
    return result;
}

RosterItem rosterItem(std::string jid, std::string name = {}, std::vector<std::string> groups = {}) {
    RosterItem item;
    item.jid = std::move(jid);
    item.name = std::move(name);
    item.groups = std::move(groups);
    return item;
}

// Every field of an item, so that a comparison shows what differs.
std::string dump(const RosterItem& item) {
    std::string text = "jid=" + item.jid + " name=" + item.name + " groups=[";
    for (const auto& group : item.groups) {
        text += "\"" + group + "\"";
    }
    text += "] subscription=" + std::string{toString(item.subscription)};
    text += " askOut=" + std::to_string(item.askOut) + " pendingIn=" + std::to_string(item.pendingIn);
    text += " preApproved=" + std::to_string(item.preApproved) + " listed=" + std::to_string(item.listed);
    text += " pendingInStanza=" + item.pendingInStanza + " version=" + std::to_string(item.version);
    return text;
}

std::vector<std::string> dump(const std::vector<RosterItem>& items) {
    std::vector<std::string> dumped;
    for (const auto& item : items) {
        dumped.push_back(dump(item));
    }
    return dumped;
}

std::vector<std::string> jidsOf(const Roster& roster) {
    std::vector<std::string> jids;
    for (const auto& item : roster.items) {
        jids.push_back(item.jid);
    }
    return jids;
}

using Removed = std::vector<std::pair<std::string, std::uint64_t>>;

OfflineMessage offlineMessage(std::string xml, std::int64_t storedAt = 1700000000000) {
    OfflineMessage message;
    message.storedAt = storedAt;
    message.xml = std::move(xml);
    return message;
}

std::vector<std::string> xmlOf(const std::vector<OfflineMessage>& messages) {
    std::vector<std::string> xml;
    for (const auto& message : messages) {
        xml.push_back(message.xml);
    }
    return xml;
}

template <class Backend>
class StorageConformance : public ::testing::Test {
  protected:
    template <class T>
    T run(asio::awaitable<T> task) {
        return runSync(io_, std::move(task));
    }
    AccountStore& accounts() { return storage_->accounts(); }
    KeyValueStore& values() { return storage_->keyValue(); }

    void create(Account newAccount) {
        auto created = run(accounts().createAccount(std::move(newAccount)));
        ASSERT_TRUE(created) << toString(created.error());
    }
    std::optional<Account> find(std::string host, std::string username) {
        auto found = run(accounts().findAccount(std::move(host), std::move(username)));
        EXPECT_TRUE(found) << toString(found.error());
        return found ? *found : std::nullopt;
    }
    std::optional<std::int64_t> tombstone(std::string host, std::string username) {
        auto found = run(accounts().findTombstone(std::move(host), std::move(username)));
        EXPECT_TRUE(found) << toString(found.error());
        return found ? *found : std::nullopt;
    }
    std::vector<std::string> list(std::string host) {
        auto listed = run(accounts().listAccounts(std::move(host)));
        EXPECT_TRUE(listed) << toString(listed.error());
        return listed ? *listed : std::vector<std::string>{};
    }
    void set(std::string host, std::string username, std::string store, std::string key, std::string value) {
        auto done = run(values().set(std::move(host), std::move(username), std::move(store), std::move(key),
                                     std::move(value)));
        ASSERT_TRUE(done) << toString(done.error());
    }
    std::optional<std::string> get(std::string host, std::string username, std::string store,
                                   std::string key) {
        auto got = run(values().get(std::move(host), std::move(username), std::move(store), std::move(key)));
        EXPECT_TRUE(got) << toString(got.error());
        return got ? *got : std::nullopt;
    }

    RosterStore& rosters() { return storage_->roster(); }
    OfflineStore& offline() { return storage_->offline(); }
    BlockListStore& blocks() { return storage_->blockList(); }
    PepStore& pep() { return storage_->pep(); }

    std::optional<PepNodeConfig> pepNode(std::string host, std::string username, std::string node) {
        auto found = run(pep().findNode(std::move(host), std::move(username), std::move(node)));
        EXPECT_TRUE(found) << toString(found.error());
        return found ? *found : std::nullopt;
    }
    void createPepNode(std::string host, std::string username, std::string node, PepNodeConfig config,
                       std::size_t maxNodes = 0) {
        auto created = run(pep().createNode(std::move(host), std::move(username), std::move(node),
                                            std::move(config), maxNodes));
        ASSERT_TRUE(created) << toString(created.error());
    }
    std::uint64_t publishPep(std::string host, std::string username, std::string node, PepItem item) {
        auto order =
            run(pep().publishItem(std::move(host), std::move(username), std::move(node), std::move(item)));
        EXPECT_TRUE(order) << toString(order.error());
        return order ? *order : 0;
    }
    std::vector<PepItem> pepItems(std::string host, std::string username, std::string node,
                                  std::vector<std::string> ids = {}, std::size_t limit = 0) {
        auto items =
            run(pep().items(std::move(host), std::move(username), std::move(node), std::move(ids), limit));
        EXPECT_TRUE(items) << toString(items.error());
        return items ? *items : std::vector<PepItem>{};
    }

    Roster load(std::string host, std::string username) {
        auto roster = run(rosters().loadRoster(std::move(host), std::move(username)));
        EXPECT_TRUE(roster) << toString(roster.error());
        return roster ? *roster : Roster{};
    }
    std::optional<RosterItem> findItem(std::string host, std::string username, std::string jid) {
        auto found = run(rosters().findItem(std::move(host), std::move(username), std::move(jid)));
        EXPECT_TRUE(found) << toString(found.error());
        return found ? *found : std::nullopt;
    }
    std::uint64_t put(std::string host, std::string username, RosterItem item, std::size_t maxItems = 0) {
        auto version =
            run(rosters().putItem(std::move(host), std::move(username), std::move(item), maxItems));
        EXPECT_TRUE(version) << toString(version.error());
        return version ? *version : 0;
    }
    std::uint64_t removeItem(std::string host, std::string username, std::string jid) {
        auto version = run(rosters().removeItem(std::move(host), std::move(username), std::move(jid)));
        EXPECT_TRUE(version) << toString(version.error());
        return version ? *version : 0;
    }

    std::uint64_t push(std::string host, std::string username, OfflineMessage message,
                       std::size_t maxPerUser = 0) {
        auto id = run(offline().push(std::move(host), std::move(username), std::move(message), maxPerUser));
        EXPECT_TRUE(id) << toString(id.error());
        return id ? *id : 0;
    }
    std::vector<OfflineMessage> messages(std::string host, std::string username, std::size_t limit = 0) {
        auto listed = run(offline().list(std::move(host), std::move(username), limit));
        EXPECT_TRUE(listed) << toString(listed.error());
        return listed ? *listed : std::vector<OfflineMessage>{};
    }
    std::size_t countMessages(std::string host, std::string username) {
        auto counted = run(offline().count(std::move(host), std::move(username)));
        EXPECT_TRUE(counted) << toString(counted.error());
        return counted ? *counted : 0;
    }
    void removeMessages(std::string host, std::string username, std::vector<std::uint64_t> ids) {
        auto removed = run(offline().remove(std::move(host), std::move(username), std::move(ids)));
        ASSERT_TRUE(removed) << toString(removed.error());
    }

    std::vector<std::string> blocked(std::string host, std::string username) {
        auto listed = run(blocks().list(std::move(host), std::move(username)));
        EXPECT_TRUE(listed) << toString(listed.error());
        return listed ? *listed : std::vector<std::string>{};
    }
    void block(std::string host, std::string username, std::vector<std::string> jids,
               std::size_t maxItems = 0) {
        auto added = run(blocks().add(std::move(host), std::move(username), std::move(jids), maxItems));
        ASSERT_TRUE(added) << toString(added.error());
    }
    void unblock(std::string host, std::string username, std::vector<std::string> jids) {
        auto removed = run(blocks().remove(std::move(host), std::move(username), std::move(jids)));
        ASSERT_TRUE(removed) << toString(removed.error());
    }

    Backend backend_;
    asio::io_context io_;
    std::unique_ptr<Storage> storage_ = backend_.open();
};

TYPED_TEST_SUITE_P(StorageConformance);

// AccountStore

TYPED_TEST_P(StorageConformance, CreatedAccountIsFoundWithItsCredentials) {
    this->create(account("example.org", "juliet", 1234));
    auto found = this->find("example.org", "juliet");
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->host, "example.org");
    EXPECT_EQ(found->username, "juliet");
    EXPECT_EQ(found->createdAt, 1234);
    EXPECT_EQ(found->credentials, account("example.org", "juliet").credentials);
}

TYPED_TEST_P(StorageConformance, AbsentAccountIsNulloptNotAnError) {
    EXPECT_EQ(this->find("example.org", "nobody"), std::nullopt);
    this->create(account("example.org", "juliet"));
    EXPECT_EQ(this->find("example.org", "romeo"), std::nullopt);
    EXPECT_EQ(this->find("example.net", "juliet"), std::nullopt);
}

TYPED_TEST_P(StorageConformance, TakenUsernameIsAlreadyExistsAndKeepsTheFirstAccount) {
    this->create(account("example.org", "juliet", 1));
    Account second = account("example.org", "juliet", 2);
    second.credentials = {credential(HashAlgorithm::Sha512, "other")};
    auto created = this->run(this->accounts().createAccount(second));
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error(), StorageError::AlreadyExists);
    auto found = this->find("example.org", "juliet");
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->createdAt, 1);
    EXPECT_EQ(found->credentials, account("example.org", "juliet").credentials);
}

TYPED_TEST_P(StorageConformance, BulkCreationSkipsTakenNamesAndCountsTheRest) {
    this->create(account("example.org", "bench2", 1));
    this->create(account("example.org", "gone", 1));
    ASSERT_TRUE(this->run(this->accounts().deleteAccount("example.org", "gone", 1800000000)));
    std::vector<Account> batch;
    for (const char* name : {"bench1", "bench2", "bench3", "gone"}) {
        Account a = account("example.org", name, 5);
        a.credentials = {credential(HashAlgorithm::Sha256, name)};
        batch.push_back(std::move(a));
    }
    auto created = this->run(this->accounts().createAccounts(batch));
    ASSERT_TRUE(created) << toString(created.error());
    EXPECT_EQ(*created, 2u);  // bench2 exists, gone has a tombstone
    EXPECT_EQ(this->find("example.org", "bench1")->credentials, batch[0].credentials);
    EXPECT_EQ(this->find("example.org", "bench3")->createdAt, 5);
    EXPECT_EQ(this->find("example.org", "bench2")->createdAt, 1);  // the first account is kept whole
    EXPECT_EQ(this->find("example.org", "bench2")->credentials, account("example.org", "bench2").credentials);
    EXPECT_EQ(this->find("example.org", "gone"), std::nullopt);
    auto again = this->run(this->accounts().createAccounts(batch));
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, 0u);
}

TYPED_TEST_P(StorageConformance, SameUsernameOnAnotherHostIsAnotherAccount) {
    this->create(account("example.org", "juliet", 1));
    Account other = account("example.net", "juliet", 2);
    other.credentials = {credential(HashAlgorithm::Sha512, "net")};
    this->create(other);
    EXPECT_EQ(this->find("example.org", "juliet")->createdAt, 1);
    EXPECT_EQ(this->find("example.net", "juliet")->credentials, other.credentials);
}

TYPED_TEST_P(StorageConformance, AccountWithoutCredentialsIsAllowed) {
    Account bare = account("example.org", "juliet");
    bare.credentials.clear();
    this->create(bare);
    auto found = this->find("example.org", "juliet");
    ASSERT_TRUE(found.has_value());
    EXPECT_TRUE(found->credentials.empty());
}

TYPED_TEST_P(StorageConformance, CredentialBytesRoundTripExactly) {
    Account unusual = account("example.org", "juliet");
    ScramCredential empty;
    empty.algorithm = HashAlgorithm::Sha512;
    empty.iterations = UINT32_MAX;  // the largest count the type can hold
    unusual.credentials = {empty, credential(HashAlgorithm::Sha1, std::string(300, '\0'))};
    this->create(unusual);
    auto found = this->find("example.org", "juliet");
    ASSERT_TRUE(found.has_value());
    // Sorted by algorithm.
    EXPECT_EQ(found->credentials, (std::vector<ScramCredential>{unusual.credentials[1], empty}));
}

TYPED_TEST_P(StorageConformance, CredentialsAreOnePerAlgorithmLastWinsSortedByAlgorithm) {
    Account duplicated = account("example.org", "juliet");
    duplicated.credentials = {
        credential(HashAlgorithm::Sha512, "x"), credential(HashAlgorithm::Sha256, "first"),
        credential(HashAlgorithm::Sha1, "y"), credential(HashAlgorithm::Sha256, "last")};
    this->create(duplicated);
    std::vector<ScramCredential> expected = {credential(HashAlgorithm::Sha1, "y"),
                                             credential(HashAlgorithm::Sha256, "last"),
                                             credential(HashAlgorithm::Sha512, "x")};
    EXPECT_EQ(this->find("example.org", "juliet")->credentials, expected);

    auto replaced = this->run(this->accounts().setCredentials(
        "example.org", "juliet",
        {credential(HashAlgorithm::Sha1, "1"), credential(HashAlgorithm::Sha1, "2")}));
    ASSERT_TRUE(replaced);
    EXPECT_EQ(this->find("example.org", "juliet")->credentials,
              (std::vector<ScramCredential>{credential(HashAlgorithm::Sha1, "2")}));
}

TYPED_TEST_P(StorageConformance, SetCredentialsReplacesAllOfThem) {
    this->create(account("example.org", "juliet", 7));
    std::vector<ScramCredential> next = {credential(HashAlgorithm::Sha256, "new"),
                                         credential(HashAlgorithm::Sha512, "new")};
    auto replaced = this->run(this->accounts().setCredentials("example.org", "juliet", next));
    ASSERT_TRUE(replaced) << toString(replaced.error());
    auto found = this->find("example.org", "juliet");
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->credentials, next);  // the SHA-1 one is gone
    EXPECT_EQ(found->createdAt, 7);

    auto cleared = this->run(this->accounts().setCredentials("example.org", "juliet", {}));
    ASSERT_TRUE(cleared);
    EXPECT_TRUE(this->find("example.org", "juliet")->credentials.empty());
}

TYPED_TEST_P(StorageConformance, SetCredentialsOfAbsentAccountIsNotFound) {
    this->create(account("example.org", "juliet"));
    auto replaced = this->run(
        this->accounts().setCredentials("example.net", "juliet", {credential(HashAlgorithm::Sha256, "x")}));
    ASSERT_FALSE(replaced);
    EXPECT_EQ(replaced.error(), StorageError::NotFound);
    EXPECT_EQ(this->find("example.net", "juliet"), std::nullopt);
}

TYPED_TEST_P(StorageConformance, DeleteAccountRemovesItAndItsCredentials) {
    this->create(account("example.org", "juliet"));
    this->create(account("example.org", "romeo"));
    auto deleted = this->run(this->accounts().deleteAccount("example.org", "juliet", 1800000000));
    ASSERT_TRUE(deleted) << toString(deleted.error());
    EXPECT_EQ(this->find("example.org", "juliet"), std::nullopt);
    EXPECT_EQ(this->list("example.org"), std::vector<std::string>{"romeo"});

    // Re-registering the name (once released) starts from nothing: no credential of the old account
    // survives.
    ASSERT_TRUE(this->run(this->accounts().removeTombstone("example.org", "juliet")));
    Account again = account("example.org", "juliet", 99);
    again.credentials = {credential(HashAlgorithm::Sha512, "again")};
    this->create(again);
    EXPECT_EQ(this->find("example.org", "juliet")->credentials, again.credentials);
}

TYPED_TEST_P(StorageConformance, DeleteAbsentAccountIsNotFound) {
    auto deleted = this->run(this->accounts().deleteAccount("example.org", "nobody", 1800000000));
    ASSERT_FALSE(deleted);
    EXPECT_EQ(deleted.error(), StorageError::NotFound);

    this->create(account("example.org", "juliet"));
    ASSERT_TRUE(this->run(this->accounts().deleteAccount("example.org", "juliet", 1800000000)));
    auto again = this->run(this->accounts().deleteAccount("example.org", "juliet", 1800000000));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), StorageError::NotFound);
}

TYPED_TEST_P(StorageConformance, DeleteAccountRemovesOnlyThatUsersDocuments) {
    this->create(account("example.org", "juliet"));
    this->create(account("example.org", "romeo"));
    this->create(account("example.net", "juliet"));
    this->set("example.org", "juliet", "private", "a", "1");
    this->set("example.org", "juliet", "vcard", "", "2");
    this->set("example.org", "romeo", "private", "a", "3");
    this->set("example.net", "juliet", "private", "a", "4");

    ASSERT_TRUE(this->run(this->accounts().deleteAccount("example.org", "juliet", 1800000000)));
    EXPECT_EQ(this->get("example.org", "juliet", "private", "a"), std::nullopt);
    EXPECT_EQ(this->get("example.org", "juliet", "vcard", ""), std::nullopt);
    EXPECT_EQ(this->get("example.org", "romeo", "private", "a"), "3");
    EXPECT_EQ(this->get("example.net", "juliet", "private", "a"), "4");
}

TYPED_TEST_P(StorageConformance, DeleteAccountLeavesATombstoneWithTheDeletionTime) {
    this->create(account("example.org", "juliet"));
    this->create(account("example.org", "romeo"));
    EXPECT_EQ(this->tombstone("example.org", "juliet"), std::nullopt);  // a live account has none
    EXPECT_EQ(this->tombstone("example.org", "nobody"), std::nullopt);  // nor a name never used

    ASSERT_TRUE(this->run(this->accounts().deleteAccount("example.org", "juliet", 1800000123)));
    EXPECT_EQ(this->tombstone("example.org", "juliet"), 1800000123);
    EXPECT_EQ(this->tombstone("example.org", "romeo"), std::nullopt);
    EXPECT_EQ(this->tombstone("example.net", "juliet"), std::nullopt);
    EXPECT_EQ(this->tombstone("example.org", "juliet2"), std::nullopt);
    // The tombstone is not an account.
    EXPECT_EQ(this->find("example.org", "juliet"), std::nullopt);
    EXPECT_EQ(this->list("example.org"), std::vector<std::string>{"romeo"});
    // Deleting again is NotFound and leaves the tombstone as it was.
    auto again = this->run(this->accounts().deleteAccount("example.org", "juliet", 1900000000));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), StorageError::NotFound);
    EXPECT_EQ(this->tombstone("example.org", "juliet"), 1800000123);
}

TYPED_TEST_P(StorageConformance, TombstonedNameCannotBeCreatedAgainUntilReleased) {
    this->create(account("example.org", "juliet", 1));
    this->put("example.org", "juliet", rosterItem("romeo@example.net"));
    ASSERT_TRUE(this->run(this->accounts().deleteAccount("example.org", "juliet", 1800000000)));

    // Refused like a taken name, so in-band registration answers <conflict/>.
    auto refused = this->run(this->accounts().createAccount(account("example.org", "juliet", 2)));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), StorageError::AlreadyExists);
    EXPECT_EQ(this->find("example.org", "juliet"), std::nullopt);
    EXPECT_EQ(this->tombstone("example.org", "juliet"), 1800000000);
    // Only that name on that host.
    this->create(account("example.net", "juliet"));
    this->create(account("example.org", "Juliet"));

    ASSERT_TRUE(this->run(this->accounts().removeTombstone("example.org", "juliet")));
    EXPECT_EQ(this->tombstone("example.org", "juliet"), std::nullopt);
    this->create(account("example.org", "juliet", 3));
    EXPECT_EQ(this->find("example.org", "juliet")->createdAt, 3);
    EXPECT_EQ(this->load("example.org", "juliet").version, 0u);

    // Deleted a second time, the name gets a new tombstone with the new time.
    ASSERT_TRUE(this->run(this->accounts().deleteAccount("example.org", "juliet", 1900000000)));
    EXPECT_EQ(this->tombstone("example.org", "juliet"), 1900000000);
}

TYPED_TEST_P(StorageConformance, RemoveAbsentTombstoneIsNotFound) {
    auto none = this->run(this->accounts().removeTombstone("example.org", "nobody"));
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error(), StorageError::NotFound);

    // A live account has no tombstone to remove, and removing nothing leaves the account alone.
    this->create(account("example.org", "juliet"));
    auto live = this->run(this->accounts().removeTombstone("example.org", "juliet"));
    ASSERT_FALSE(live);
    EXPECT_EQ(live.error(), StorageError::NotFound);
    EXPECT_TRUE(this->find("example.org", "juliet").has_value());

    ASSERT_TRUE(this->run(this->accounts().deleteAccount("example.org", "juliet", 1800000000)));
    ASSERT_TRUE(this->run(this->accounts().removeTombstone("example.org", "juliet")));
    auto twice = this->run(this->accounts().removeTombstone("example.org", "juliet"));
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error(), StorageError::NotFound);
}

TYPED_TEST_P(StorageConformance, ListAccountsIsSortedAndPerHost) {
    EXPECT_TRUE(this->list("example.org").empty());
    for (const char* name : {"romeo", "juliet", "Zed", "\xc3\xa9loise", "benvolio", "2b", "juliet2"}) {
        this->create(account("example.org", name));
    }
    this->create(account("example.net", "mercutio"));
    this->create(account("example.org.evil", "tybalt"));
    // Byte order, as std::string compares: digits < upper case < lower case < UTF-8 multi-byte.
    const std::vector<std::string> expected = {"2b",      "Zed",   "benvolio",     "juliet",
                                               "juliet2", "romeo", "\xc3\xa9loise"};
    EXPECT_EQ(this->list("example.org"), expected);
    EXPECT_EQ(this->list("example.net"), std::vector<std::string>{"mercutio"});
    EXPECT_TRUE(this->list("example.com").empty());
}

// KeyValueStore

TYPED_TEST_P(StorageConformance, AbsentValueIsNulloptAndRemovingItIsNotAnError) {
    EXPECT_EQ(this->get("example.org", "juliet", "private", "missing"), std::nullopt);
    auto removed = this->run(this->values().remove("example.org", "juliet", "private", "missing"));
    EXPECT_TRUE(removed);
}

TYPED_TEST_P(StorageConformance, ValueIsSetReplacedAndRemoved) {
    this->set("example.org", "juliet", "private", "storage:bookmarks", "<storage/>");
    EXPECT_EQ(this->get("example.org", "juliet", "private", "storage:bookmarks"), "<storage/>");
    this->set("example.org", "juliet", "private", "storage:bookmarks", "<storage><conference/></storage>");
    EXPECT_EQ(this->get("example.org", "juliet", "private", "storage:bookmarks"),
              "<storage><conference/></storage>");
    auto removed = this->run(this->values().remove("example.org", "juliet", "private", "storage:bookmarks"));
    ASSERT_TRUE(removed);
    EXPECT_EQ(this->get("example.org", "juliet", "private", "storage:bookmarks"), std::nullopt);
}

TYPED_TEST_P(StorageConformance, ValuesDoNotNeedAnAccount) {
    // A user who authenticates by other means than a local account may still keep documents.
    this->set("example.org", "external", "vcard", "", "<vCard/>");
    EXPECT_EQ(this->get("example.org", "external", "vcard", ""), "<vCard/>");
}

TYPED_TEST_P(StorageConformance, ValuesAreIsolatedByHostUserStoreAndKey) {
    this->set("example.org", "juliet", "private", "k", "base");
    this->set("example.net", "juliet", "private", "k", "other host");
    this->set("example.org", "romeo", "private", "k", "other user");
    this->set("example.org", "juliet", "vcard", "k", "other store");
    this->set("example.org", "juliet", "private", "k2", "other key");
    EXPECT_EQ(this->get("example.org", "juliet", "private", "k"), "base");
    EXPECT_EQ(this->get("example.net", "juliet", "private", "k"), "other host");
    EXPECT_EQ(this->get("example.org", "romeo", "private", "k"), "other user");
    EXPECT_EQ(this->get("example.org", "juliet", "vcard", "k"), "other store");
    EXPECT_EQ(this->get("example.org", "juliet", "private", "k2"), "other key");

    ASSERT_TRUE(this->run(this->values().remove("example.org", "juliet", "private", "k")));
    EXPECT_EQ(this->get("example.org", "juliet", "private", "k"), std::nullopt);
    EXPECT_EQ(this->get("example.net", "juliet", "private", "k"), "other host");
    EXPECT_EQ(this->get("example.org", "romeo", "private", "k"), "other user");
    EXPECT_EQ(this->get("example.org", "juliet", "vcard", "k"), "other store");
    EXPECT_EQ(this->get("example.org", "juliet", "private", "k2"), "other key");
}

TYPED_TEST_P(StorageConformance, ValueBytesRoundTripExactly) {
    const std::string binary("\0\x01\xff<x/>\0", 8);
    const std::string large(1 << 20, 'x');
    this->set("example.org", "juliet", "s", "binary", binary);
    this->set("example.org", "juliet", "s", "empty", "");
    this->set("example.org", "juliet", "s", "large", large);
    EXPECT_EQ(this->get("example.org", "juliet", "s", "binary"), binary);
    EXPECT_EQ(this->get("example.org", "juliet", "s", "empty"), std::string{});
    EXPECT_EQ(this->get("example.org", "juliet", "s", "large"), large);
}

// RosterStore

TYPED_TEST_P(StorageConformance, RosterOfUnknownUserIsEmptyAtVersionZero) {
    const Roster roster = this->load("example.org", "juliet");
    EXPECT_EQ(roster.version, 0u);
    EXPECT_TRUE(roster.items.empty());
    EXPECT_TRUE(roster.removed.empty());
    EXPECT_EQ(roster.removedSince, 0u);
    EXPECT_EQ(this->findItem("example.org", "juliet", "romeo@example.net"), std::nullopt);
    // Removing from a roster that does not exist changes nothing and creates nothing.
    EXPECT_EQ(this->removeItem("example.org", "juliet", "romeo@example.net"), 0u);
    EXPECT_EQ(this->load("example.org", "juliet").version, 0u);
    EXPECT_TRUE(this->load("example.org", "juliet").removed.empty());
}

TYPED_TEST_P(StorageConformance, PutItemBumpsTheVersionByOneFromOne) {
    EXPECT_EQ(this->put("example.org", "juliet", rosterItem("romeo@example.net", "Romeo")), 1u);
    EXPECT_EQ(this->put("example.org", "juliet", rosterItem("nurse@example.org")), 2u);
    // Replacing an item is a change too; the version given with the item is ignored.
    RosterItem replaced = rosterItem("romeo@example.net", "Romeo Montague", {"Friends"});
    replaced.version = 999;
    EXPECT_EQ(this->put("example.org", "juliet", replaced), 3u);

    auto found = this->findItem("example.org", "juliet", "romeo@example.net");
    ASSERT_TRUE(found.has_value());
    replaced.version = 3;
    EXPECT_EQ(dump(*found), dump(replaced));

    const Roster roster = this->load("example.org", "juliet");
    EXPECT_EQ(roster.version, 3u);
    ASSERT_EQ(roster.items.size(), 2u);
    EXPECT_EQ(roster.items[0].jid, "nurse@example.org");
    EXPECT_EQ(roster.items[0].version, 2u);
    EXPECT_EQ(dump(roster.items[1]), dump(replaced));
    EXPECT_TRUE(roster.removed.empty());
}

TYPED_TEST_P(StorageConformance, RosterItemsAreSortedByJid) {
    for (const char* jid : {"romeo@example.net", "Zed@example.com", "benvolio@example.net", "2b@example.com",
                            "\xc3\xa9loise@example.fr", "example.com", "romeo@example.net/balcony"}) {
        this->put("example.org", "juliet", rosterItem(jid));
    }
    // Byte order, as std::string compares.
    const std::vector<std::string> expected = {
        "2b@example.com",    "Zed@example.com",           "benvolio@example.net",    "example.com",
        "romeo@example.net", "romeo@example.net/balcony", "\xc3\xa9loise@example.fr"};
    EXPECT_EQ(jidsOf(this->load("example.org", "juliet")), expected);
}

TYPED_TEST_P(StorageConformance, RosterItemFieldsRoundTripExactly) {
    RosterItem full = rosterItem("romeo@example.net", "Rom\xc3\xa9o \xe2\x9d\xa4 \xf0\x9f\x8c\xb9",
                                 {"Friends", "\xe5\xae\xb6\xe6\x97\x8f", "", "with\nline feed",
                                  "back\\slash\\n", "trailing\\", "Friends"});
    full.subscription = Subscription::Both;
    full.askOut = true;
    full.pendingIn = true;
    full.preApproved = true;
    full.listed = true;
    full.pendingInStanza =
        "<presence from='romeo@example.net/orchard' to='juliet@example.org' type='subscribe'>"
        "<status>\xc3\xa9\xe2\x82\xac &amp; \"quotes\"\n</status></presence>";

    RosterItem bare = rosterItem("nurse@example.org");  // no name, no group, nothing pending
    bare.listed = false;

    RosterItem onlyEmptyGroup = rosterItem("tybalt@example.com", "", {""});
    onlyEmptyGroup.subscription = Subscription::To;
    onlyEmptyGroup.preApproved = true;

    RosterItem from = rosterItem("mercutio@example.com", "Mercutio", {"a", "b"});
    from.subscription = Subscription::From;
    from.pendingIn = true;
    from.pendingInStanza = "<presence type='subscribe'/>";

    full.version = this->put("example.org", "juliet", full);
    bare.version = this->put("example.org", "juliet", bare);
    onlyEmptyGroup.version = this->put("example.org", "juliet", onlyEmptyGroup);
    from.version = this->put("example.org", "juliet", from);

    for (const auto* item : {&full, &bare, &onlyEmptyGroup, &from}) {
        auto found = this->findItem("example.org", "juliet", item->jid);
        ASSERT_TRUE(found.has_value()) << item->jid;
        EXPECT_EQ(dump(*found), dump(*item));
        EXPECT_EQ(found->groups, item->groups);  // order, duplicates and empty names kept
    }
    EXPECT_EQ(dump(this->load("example.org", "juliet").items),
              (std::vector<std::string>{dump(from), dump(bare), dump(full), dump(onlyEmptyGroup)}));
}

TYPED_TEST_P(StorageConformance, PutNewItemBeyondMaxItemsIsQuotaExceededAndChangesNothing) {
    this->put("example.org", "juliet", rosterItem("a@example.com"), 2);
    RosterItem unlisted = rosterItem("b@example.com");
    unlisted.listed = false;  // a pending request counts like any item
    unlisted.pendingIn = true;
    this->put("example.org", "juliet", unlisted, 2);

    auto refused =
        this->run(this->rosters().putItem("example.org", "juliet", rosterItem("c@example.com"), 2));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), StorageError::QuotaExceeded);
    Roster roster = this->load("example.org", "juliet");
    EXPECT_EQ(roster.version, 2u);
    EXPECT_EQ(jidsOf(roster), (std::vector<std::string>{"a@example.com", "b@example.com"}));

    // Replacing an existing item is always allowed, even past the limit.
    EXPECT_EQ(this->put("example.org", "juliet", rosterItem("b@example.com", "B"), 2), 3u);
    EXPECT_EQ(this->put("example.org", "juliet", rosterItem("a@example.com", "A"), 1), 4u);
    // 0 is no limit.
    EXPECT_EQ(this->put("example.org", "juliet", rosterItem("c@example.com"), 0), 5u);
    // Once an item is removed, there is room again.
    this->removeItem("example.org", "juliet", "c@example.com");
    this->removeItem("example.org", "juliet", "b@example.com");
    EXPECT_EQ(this->put("example.org", "juliet", rosterItem("d@example.com"), 2), 8u);
    EXPECT_EQ(jidsOf(this->load("example.org", "juliet")),
              (std::vector<std::string>{"a@example.com", "d@example.com"}));
}

TYPED_TEST_P(StorageConformance, RemoveItemBumpsTheVersionAndLeavesATombstone) {
    this->put("example.org", "juliet", rosterItem("a@example.com"));
    this->put("example.org", "juliet", rosterItem("b@example.com"));
    this->put("example.org", "juliet", rosterItem("c@example.com"));

    EXPECT_EQ(this->removeItem("example.org", "juliet", "c@example.com"), 4u);
    EXPECT_EQ(this->findItem("example.org", "juliet", "c@example.com"), std::nullopt);
    EXPECT_EQ(this->removeItem("example.org", "juliet", "a@example.com"), 5u);

    Roster roster = this->load("example.org", "juliet");
    EXPECT_EQ(roster.version, 5u);
    EXPECT_EQ(jidsOf(roster), std::vector<std::string>{"b@example.com"});
    // Sorted by version, not by jid.
    EXPECT_EQ(roster.removed, (Removed{{"c@example.com", 4}, {"a@example.com", 5}}));
    EXPECT_EQ(roster.removedSince, 0u);
}

TYPED_TEST_P(StorageConformance, RemoveAbsentItemReturnsTheCurrentVersionAndChangesNothing) {
    this->put("example.org", "juliet", rosterItem("a@example.com"));
    this->put("example.org", "juliet", rosterItem("b@example.com"));
    EXPECT_EQ(this->removeItem("example.org", "juliet", "b@example.com"), 3u);

    EXPECT_EQ(this->removeItem("example.org", "juliet", "nobody@example.com"), 3u);
    EXPECT_EQ(this->removeItem("example.org", "juliet", "b@example.com"), 3u);  // already removed
    Roster roster = this->load("example.org", "juliet");
    EXPECT_EQ(roster.version, 3u);
    EXPECT_EQ(jidsOf(roster), std::vector<std::string>{"a@example.com"});
    EXPECT_EQ(roster.removed, (Removed{{"b@example.com", 3}}));
    // The next change is the next version: nothing was skipped.
    EXPECT_EQ(this->put("example.org", "juliet", rosterItem("c@example.com")), 4u);
}

TYPED_TEST_P(StorageConformance, ReaddingARemovedItemDeletesItsTombstone) {
    this->put("example.org", "juliet", rosterItem("a@example.com"));
    this->put("example.org", "juliet", rosterItem("b@example.com"));
    this->removeItem("example.org", "juliet", "a@example.com");
    this->removeItem("example.org", "juliet", "b@example.com");
    EXPECT_EQ(this->put("example.org", "juliet", rosterItem("a@example.com", "again")), 5u);

    Roster roster = this->load("example.org", "juliet");
    EXPECT_EQ(roster.version, 5u);
    ASSERT_EQ(roster.items.size(), 1u);
    EXPECT_EQ(roster.items[0].name, "again");
    EXPECT_EQ(roster.items[0].version, 5u);
    EXPECT_EQ(roster.removed, (Removed{{"b@example.com", 4}}));

    // Removed again: one tombstone, with the new version.
    EXPECT_EQ(this->removeItem("example.org", "juliet", "a@example.com"), 6u);
    EXPECT_EQ(this->load("example.org", "juliet").removed,
              (Removed{{"b@example.com", 4}, {"a@example.com", 6}}));
}

TYPED_TEST_P(StorageConformance, OldTombstonesArePrunedAndRemovedSinceRisesPastThem) {
    const std::size_t extra = 5;
    const std::size_t total = kMaxRosterTombstones + extra;
    auto jid = [](std::size_t i) { return "contact" + std::to_string(1000 + i) + "@example.com"; };
    for (std::size_t i = 0; i < total; ++i) {
        ASSERT_EQ(this->put("example.org", "juliet", rosterItem(jid(i))), i + 1);
    }
    // Removed in reverse jid order, so that version order is not jid order.
    for (std::size_t i = 0; i < kMaxRosterTombstones; ++i) {
        ASSERT_EQ(this->removeItem("example.org", "juliet", jid(total - 1 - i)), total + i + 1);
    }
    Roster roster = this->load("example.org", "juliet");
    EXPECT_EQ(roster.removed.size(), kMaxRosterTombstones);
    EXPECT_EQ(roster.removedSince, 0u);  // nothing pruned yet

    for (std::size_t i = kMaxRosterTombstones; i < total; ++i) {
        ASSERT_EQ(this->removeItem("example.org", "juliet", jid(total - 1 - i)), total + i + 1);
    }
    roster = this->load("example.org", "juliet");
    EXPECT_EQ(roster.version, 2 * total);
    EXPECT_TRUE(roster.items.empty());
    ASSERT_EQ(roster.removed.size(), kMaxRosterTombstones);
    // The oldest `extra` removals (versions total+1 .. total+extra) are gone; the latest are kept.
    const std::uint64_t firstKept = total + extra + 1;
    EXPECT_EQ(roster.removed.front(), std::make_pair(jid(total - 1 - extra), firstKept));
    EXPECT_EQ(roster.removed.back(), std::make_pair(jid(0), std::uint64_t{2 * total}));
    for (std::size_t i = 1; i < roster.removed.size(); ++i) {
        EXPECT_EQ(roster.removed[i].second, roster.removed[i - 1].second + 1);
    }
    // Honest: every removal at or after removedSince is listed, so a client at least that recent can
    // be sent only what changed; an older one needs the whole roster.
    EXPECT_EQ(roster.removedSince, firstKept);
    EXPECT_LE(roster.removedSince, roster.removed.front().second);
    EXPECT_GT(roster.removedSince, total + extra);  // the newest pruned removal

    // Re-adding a jid whose tombstone was pruned is an ordinary change.
    EXPECT_EQ(this->put("example.org", "juliet", rosterItem(jid(total - 1))), 2 * total + 1);
    roster = this->load("example.org", "juliet");
    EXPECT_EQ(roster.removed.size(), kMaxRosterTombstones);
    EXPECT_EQ(roster.removedSince, firstKept);
}

TYPED_TEST_P(StorageConformance, RostersAreIsolatedByHostAndUser) {
    this->put("example.org", "juliet", rosterItem("romeo@example.net", "org juliet's"));
    this->put("example.org", "juliet", rosterItem("nurse@example.org"));
    this->put("example.net", "juliet", rosterItem("romeo@example.net", "net juliet's"));
    this->put("example.org", "romeo", rosterItem("juliet@example.org"));
    this->removeItem("example.org", "juliet", "nurse@example.org");

    Roster orgJuliet = this->load("example.org", "juliet");
    EXPECT_EQ(orgJuliet.version, 3u);
    EXPECT_EQ(jidsOf(orgJuliet), std::vector<std::string>{"romeo@example.net"});
    EXPECT_EQ(orgJuliet.items[0].name, "org juliet's");
    Roster netJuliet = this->load("example.net", "juliet");
    EXPECT_EQ(netJuliet.version, 1u);  // versions are per roster
    EXPECT_EQ(netJuliet.items[0].name, "net juliet's");
    EXPECT_TRUE(netJuliet.removed.empty());
    EXPECT_EQ(jidsOf(this->load("example.org", "romeo")), std::vector<std::string>{"juliet@example.org"});
    EXPECT_EQ(this->findItem("example.org", "romeo", "romeo@example.net"), std::nullopt);
    EXPECT_EQ(this->findItem("example.com", "juliet", "romeo@example.net"), std::nullopt);

    // Removing in one roster leaves the same jid in another; quotas count one roster only.
    EXPECT_EQ(this->removeItem("example.net", "juliet", "romeo@example.net"), 2u);
    EXPECT_TRUE(this->findItem("example.org", "juliet", "romeo@example.net").has_value());
    EXPECT_EQ(this->put("example.org", "romeo", rosterItem("benvolio@example.net"), 2), 2u);
}

// OfflineStore

TYPED_TEST_P(StorageConformance, OfflineMessagesGetIncreasingIdsAndComeBackOldestFirst) {
    EXPECT_TRUE(this->messages("example.org", "juliet").empty());
    EXPECT_EQ(this->countMessages("example.org", "juliet"), 0u);

    std::vector<OfflineMessage> pushed = {
        offlineMessage("<message id='1'><body>first</body></message>", 1700000000001),
        offlineMessage("<message id='2'><body>\xc3\xa9t\xc3\xa9 \xf0\x9f\x8c\xb9</body></message>",
                       1700000000000),
        offlineMessage("<message id='3'/>", -5),  // stored_at is whatever the caller says
        offlineMessage(std::string(100000, 'x'), 0)};
    std::uint64_t previous = 0;
    for (auto& message : pushed) {
        message.id = 424242;  // ignored: the store assigns it
        message.id = this->push("example.org", "juliet", message);
        EXPECT_GT(message.id, previous);
        previous = message.id;
    }
    EXPECT_EQ(this->countMessages("example.org", "juliet"), 4u);

    const auto listed = this->messages("example.org", "juliet");
    ASSERT_EQ(listed.size(), pushed.size());
    for (std::size_t i = 0; i < listed.size(); ++i) {
        EXPECT_EQ(listed[i].id, pushed[i].id);
        EXPECT_EQ(listed[i].storedAt, pushed[i].storedAt);
        EXPECT_EQ(listed[i].xml, pushed[i].xml);
    }
    // Listing removes nothing.
    EXPECT_EQ(this->countMessages("example.org", "juliet"), 4u);
}

TYPED_TEST_P(StorageConformance, OfflineListHonoursTheLimit) {
    for (int i = 0; i < 5; ++i) {
        this->push("example.org", "juliet", offlineMessage("m" + std::to_string(i)));
    }
    EXPECT_EQ(xmlOf(this->messages("example.org", "juliet", 2)), (std::vector<std::string>{"m0", "m1"}));
    EXPECT_EQ(xmlOf(this->messages("example.org", "juliet", 1)), (std::vector<std::string>{"m0"}));
    EXPECT_EQ(this->messages("example.org", "juliet", 5).size(), 5u);
    EXPECT_EQ(this->messages("example.org", "juliet", 100).size(), 5u);
    EXPECT_EQ(this->messages("example.org", "juliet", 0).size(), 5u);  // 0: all
}

TYPED_TEST_P(StorageConformance, OfflinePushBeyondMaxPerUserIsQuotaExceeded) {
    this->push("example.org", "juliet", offlineMessage("m0"), 2);
    const std::uint64_t second = this->push("example.org", "juliet", offlineMessage("m1"), 2);
    auto refused = this->run(this->offline().push("example.org", "juliet", offlineMessage("m2"), 2));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), StorageError::QuotaExceeded);
    refused = this->run(this->offline().push("example.org", "juliet", offlineMessage("m2"), 1));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), StorageError::QuotaExceeded);
    EXPECT_EQ(xmlOf(this->messages("example.org", "juliet")), (std::vector<std::string>{"m0", "m1"}));

    // Another user's quota is their own; 0 is no limit; removing makes room.
    this->push("example.org", "romeo", offlineMessage("r0"), 1);
    this->push("example.org", "juliet", offlineMessage("m2"), 0);
    this->removeMessages("example.org", "juliet", {second});
    auto room = this->run(this->offline().push("example.org", "juliet", offlineMessage("m3"), 2));
    ASSERT_FALSE(room);  // still 2 of 2
    this->removeMessages("example.org", "juliet", {this->messages("example.org", "juliet", 1).front().id});
    this->push("example.org", "juliet", offlineMessage("m3"), 2);
    EXPECT_EQ(xmlOf(this->messages("example.org", "juliet")), (std::vector<std::string>{"m2", "m3"}));
}

TYPED_TEST_P(StorageConformance, OfflineRemoveIgnoresAbsentIds) {
    const std::uint64_t a = this->push("example.org", "juliet", offlineMessage("a"));
    const std::uint64_t b = this->push("example.org", "juliet", offlineMessage("b"));
    const std::uint64_t c = this->push("example.org", "juliet", offlineMessage("c"));
    this->removeMessages("example.org", "juliet", {});
    EXPECT_EQ(this->countMessages("example.org", "juliet"), 3u);
    this->removeMessages("example.org", "juliet", {c + 1000, b, b, 0, UINT64_MAX});
    EXPECT_EQ(xmlOf(this->messages("example.org", "juliet")), (std::vector<std::string>{"a", "c"}));
    this->removeMessages("example.org", "juliet", {a, c});
    EXPECT_EQ(this->countMessages("example.org", "juliet"), 0u);
    this->removeMessages("example.org", "nobody", {a});  // a user without messages
}

TYPED_TEST_P(StorageConformance, OfflineIdsKeepIncreasingAfterRemoval) {
    const std::uint64_t first = this->push("example.org", "juliet", offlineMessage("a"));
    this->removeMessages("example.org", "juliet", {first});
    // A session still holding the old id must never remove the newer message with it.
    const std::uint64_t second = this->push("example.org", "juliet", offlineMessage("b"));
    EXPECT_GT(second, first);
}

TYPED_TEST_P(StorageConformance, OfflineMessagesAreIsolatedByHostAndUser) {
    const std::uint64_t orgJuliet = this->push("example.org", "juliet", offlineMessage("org juliet"));
    const std::uint64_t netJuliet = this->push("example.net", "juliet", offlineMessage("net juliet"));
    const std::uint64_t orgRomeo = this->push("example.org", "romeo", offlineMessage("org romeo"));
    EXPECT_EQ(xmlOf(this->messages("example.org", "juliet")), std::vector<std::string>{"org juliet"});
    EXPECT_EQ(xmlOf(this->messages("example.net", "juliet")), std::vector<std::string>{"net juliet"});
    EXPECT_EQ(this->countMessages("example.org", "romeo"), 1u);
    EXPECT_EQ(this->countMessages("example.com", "juliet"), 0u);

    // One user cannot remove another's messages, even by their ids.
    this->removeMessages("example.org", "juliet", {netJuliet, orgRomeo});
    EXPECT_EQ(this->countMessages("example.net", "juliet"), 1u);
    EXPECT_EQ(this->countMessages("example.org", "romeo"), 1u);
    EXPECT_EQ(this->countMessages("example.org", "juliet"), 1u);
    this->removeMessages("example.org", "juliet", {orgJuliet});
    EXPECT_EQ(this->countMessages("example.org", "juliet"), 0u);
    EXPECT_EQ(this->countMessages("example.net", "juliet"), 1u);
}

// BlockListStore

TYPED_TEST_P(StorageConformance, BlockListIsSortedAndIgnoresDuplicates) {
    EXPECT_TRUE(this->blocked("example.org", "juliet").empty());
    this->block("example.org", "juliet",
                {"tybalt@example.com", "example.net", "romeo@example.net/orchard", "tybalt@example.com"});
    this->block("example.org", "juliet", {"tybalt@example.com", "2b@example.com", "\xc3\xa9@example.fr"});
    this->block("example.org", "juliet", {});
    const std::vector<std::string> expected = {"2b@example.com", "example.net", "romeo@example.net/orchard",
                                               "tybalt@example.com", "\xc3\xa9@example.fr"};
    EXPECT_EQ(this->blocked("example.org", "juliet"), expected);
}

TYPED_TEST_P(StorageConformance, BlockBeyondMaxItemsIsQuotaExceededAndAddsNothing) {
    this->block("example.org", "juliet", {"a@example.com", "b@example.com"}, 3);
    // Already blocked JIDs do not count twice: a, b, c is 3.
    this->block("example.org", "juliet", {"b@example.com", "c@example.com", "c@example.com"}, 3);
    auto refused =
        this->run(this->blocks().add("example.org", "juliet", {"a@example.com", "d@example.com"}, 3));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), StorageError::QuotaExceeded);
    // Only already blocked JIDs: nothing new, so no limit is passed.
    this->block("example.org", "juliet", {"a@example.com", "c@example.com"}, 3);
    EXPECT_EQ(this->blocked("example.org", "juliet"),
              (std::vector<std::string>{"a@example.com", "b@example.com", "c@example.com"}));

    // All or nothing: the first JIDs of a refused list are not added either.
    refused = this->run(
        this->blocks().add("example.org", "romeo", {"x@example.com", "y@example.com", "z@example.com"}, 2));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), StorageError::QuotaExceeded);
    EXPECT_TRUE(this->blocked("example.org", "romeo").empty());
    this->block("example.org", "romeo", {"x@example.com", "y@example.com", "z@example.com"},
                0);  // 0: no limit
    EXPECT_EQ(this->blocked("example.org", "romeo").size(), 3u);
}

TYPED_TEST_P(StorageConformance, UnblockRemovesTheGivenJidsOrAllOfThem) {
    this->block("example.org", "juliet",
                {"a@example.com", "b@example.com", "c@example.com", "d@example.com"});
    this->block("example.org", "romeo", {"a@example.com"});
    this->unblock("example.org", "juliet", {"b@example.com", "absent@example.com", "d@example.com"});
    EXPECT_EQ(this->blocked("example.org", "juliet"),
              (std::vector<std::string>{"a@example.com", "c@example.com"}));
    this->unblock("example.org", "juliet", {});  // XEP-0191 §3.4: unblock all
    EXPECT_TRUE(this->blocked("example.org", "juliet").empty());
    this->unblock("example.org", "juliet", {});  // already empty
    EXPECT_EQ(this->blocked("example.org", "romeo"), std::vector<std::string>{"a@example.com"});
}

TYPED_TEST_P(StorageConformance, BlockListsAreIsolatedByHostAndUser) {
    this->block("example.org", "juliet", {"org-juliet@example.com"}, 1);
    this->block("example.net", "juliet", {"net-juliet@example.com"}, 1);  // quotas are per user
    this->block("example.org", "romeo", {"org-romeo@example.com"}, 1);
    EXPECT_EQ(this->blocked("example.org", "juliet"), std::vector<std::string>{"org-juliet@example.com"});
    EXPECT_EQ(this->blocked("example.net", "juliet"), std::vector<std::string>{"net-juliet@example.com"});
    EXPECT_EQ(this->blocked("example.org", "romeo"), std::vector<std::string>{"org-romeo@example.com"});
    this->unblock("example.org", "juliet", {});
    EXPECT_EQ(this->blocked("example.net", "juliet").size(), 1u);
    EXPECT_EQ(this->blocked("example.org", "romeo").size(), 1u);
}

// Deleting an account takes the user's roster, offline messages and block list with it.

TYPED_TEST_P(StorageConformance, DeleteAccountRemovesTheRosterOfflineMessagesAndBlockList) {
    this->create(account("example.org", "juliet"));
    this->create(account("example.org", "romeo"));
    this->create(account("example.net", "juliet"));
    for (const auto& [host, username] : std::vector<std::pair<std::string, std::string>>{
             {"example.org", "juliet"}, {"example.org", "romeo"}, {"example.net", "juliet"}}) {
        this->put(host, username, rosterItem("a@example.com"));
        this->put(host, username, rosterItem("b@example.com"));
        this->removeItem(host, username, "b@example.com");
        this->push(host, username, offlineMessage("<message/>"));
        this->block(host, username, {"c@example.com"});
    }

    ASSERT_TRUE(this->run(this->accounts().deleteAccount("example.org", "juliet", 1800000000)));
    const Roster gone = this->load("example.org", "juliet");
    EXPECT_EQ(gone.version, 0u);
    EXPECT_TRUE(gone.items.empty());
    EXPECT_TRUE(gone.removed.empty());
    EXPECT_EQ(gone.removedSince, 0u);
    EXPECT_EQ(this->countMessages("example.org", "juliet"), 0u);
    EXPECT_TRUE(this->blocked("example.org", "juliet").empty());

    for (const auto& [host, username] : std::vector<std::pair<std::string, std::string>>{
             {"example.org", "romeo"}, {"example.net", "juliet"}}) {
        const Roster kept = this->load(host, username);
        EXPECT_EQ(kept.version, 3u);
        EXPECT_EQ(jidsOf(kept), std::vector<std::string>{"a@example.com"});
        EXPECT_EQ(kept.removed, (Removed{{"b@example.com", 3}}));
        EXPECT_EQ(this->countMessages(host, username), 1u);
        EXPECT_EQ(this->blocked(host, username), std::vector<std::string>{"c@example.com"});
    }

    // Re-registering the name (once released) starts from an empty roster at version 1.
    ASSERT_TRUE(this->run(this->accounts().removeTombstone("example.org", "juliet")));
    this->create(account("example.org", "juliet"));
    EXPECT_EQ(this->put("example.org", "juliet", rosterItem("z@example.com")), 1u);
    EXPECT_TRUE(this->load("example.org", "juliet").removed.empty());
}

// Concurrency and lifetime

asio::awaitable<bool> createAndReadBack(Storage* storage, std::string username) {
    auto created = co_await storage->accounts().createAccount(account("example.org", username));
    auto stored = co_await storage->keyValue().set("example.org", username, "s", "k", username);
    auto found = co_await storage->accounts().findAccount("example.org", username);
    auto value = co_await storage->keyValue().get("example.org", username, "s", "k");
    co_return created&& stored&& found && found->has_value() && value&&* value == username;
}

TYPED_TEST_P(StorageConformance, ConcurrentCallsFromSeveralThreadsAllSucceed) {
    constexpr int kUsers = 40;
    std::vector<std::string> names;
    std::atomic<int> succeeded = 0;
    for (int i = 0; i < kUsers; ++i) {
        names.push_back("user" + std::to_string(100 + i));
        asio::co_spawn(this->io_, createAndReadBack(this->storage_.get(), names.back()),
                       [&succeeded](std::exception_ptr error, bool ok) {
                           if (!error && ok) {
                               ++succeeded;
                           }
                       });
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back([this] { this->io_.run(); });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(succeeded.load(), kUsers);
    EXPECT_EQ(this->list("example.org"), names);  // "user100".."user139" are already sorted
}

asio::awaitable<bool> pushAndBumpRoster(Storage* storage, int index) {
    auto id =
        co_await storage->offline().push("example.org", "juliet", offlineMessage(std::to_string(index)), 0);
    RosterItem item;
    item.jid = "contact" + std::to_string(index) + "@example.com";
    auto version = co_await storage->roster().putItem("example.org", "juliet", std::move(item), 0);
    co_return id.has_value() && version.has_value();
}

TYPED_TEST_P(StorageConformance, ConcurrentWritersGetDistinctIdsAndVersions) {
    constexpr int kCalls = 40;
    std::atomic<int> succeeded = 0;
    for (int i = 0; i < kCalls; ++i) {
        asio::co_spawn(this->io_, pushAndBumpRoster(this->storage_.get(), i),
                       [&succeeded](std::exception_ptr error, bool ok) {
                           if (!error && ok) {
                               ++succeeded;
                           }
                       });
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back([this] { this->io_.run(); });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(succeeded.load(), kCalls);

    const auto listed = this->messages("example.org", "juliet");
    ASSERT_EQ(listed.size(), static_cast<std::size_t>(kCalls));
    for (std::size_t i = 1; i < listed.size(); ++i) {
        EXPECT_LT(listed[i - 1].id, listed[i].id);
    }
    const Roster roster = this->load("example.org", "juliet");
    EXPECT_EQ(roster.version, static_cast<std::uint64_t>(kCalls));
    std::set<std::uint64_t> versions;
    for (const auto& item : roster.items) {
        versions.insert(item.version);
    }
    EXPECT_EQ(versions.size(), static_cast<std::size_t>(kCalls));  // one version per change
    EXPECT_EQ(*versions.begin(), 1u);
    EXPECT_EQ(*versions.rbegin(), static_cast<std::uint64_t>(kCalls));
}

TYPED_TEST_P(StorageConformance, CallsAfterCloseAreUnavailable) {
    this->create(account("example.org", "juliet"));
    this->storage_->close();
    auto expectUnavailable = [](const auto& result) {
        ASSERT_FALSE(result);
        EXPECT_EQ(result.error(), StorageError::Unavailable);
    };
    expectUnavailable(this->run(this->accounts().createAccount(account("example.org", "romeo"))));
    expectUnavailable(this->run(this->accounts().findAccount("example.org", "juliet")));
    expectUnavailable(this->run(this->accounts().setCredentials("example.org", "juliet", {})));
    expectUnavailable(this->run(this->accounts().deleteAccount("example.org", "juliet", 1800000000)));
    expectUnavailable(this->run(this->accounts().listAccounts("example.org")));
    expectUnavailable(this->run(this->accounts().findTombstone("example.org", "juliet")));
    expectUnavailable(this->run(this->accounts().removeTombstone("example.org", "juliet")));
    expectUnavailable(this->run(this->values().get("example.org", "juliet", "s", "k")));
    expectUnavailable(this->run(this->values().set("example.org", "juliet", "s", "k", "v")));
    expectUnavailable(this->run(this->values().remove("example.org", "juliet", "s", "k")));
    expectUnavailable(this->run(this->rosters().loadRoster("example.org", "juliet")));
    expectUnavailable(this->run(this->rosters().findItem("example.org", "juliet", "romeo@example.net")));
    expectUnavailable(
        this->run(this->rosters().putItem("example.org", "juliet", rosterItem("a@example.com"), 0)));
    expectUnavailable(this->run(this->rosters().removeItem("example.org", "juliet", "a@example.com")));
    expectUnavailable(
        this->run(this->offline().push("example.org", "juliet", offlineMessage("<message/>"), 0)));
    expectUnavailable(this->run(this->offline().list("example.org", "juliet", 0)));
    expectUnavailable(this->run(this->offline().remove("example.org", "juliet", {1})));
    expectUnavailable(this->run(this->offline().count("example.org", "juliet")));
    expectUnavailable(this->run(this->blocks().list("example.org", "juliet")));
    expectUnavailable(this->run(this->blocks().add("example.org", "juliet", {"a@example.com"}, 0)));
    expectUnavailable(this->run(this->blocks().remove("example.org", "juliet", {})));
    expectUnavailable(this->run(this->pep().listNodes("example.org", "juliet")));
    expectUnavailable(this->run(this->pep().findNode("example.org", "juliet", "n")));
    expectUnavailable(this->run(this->pep().createNode("example.org", "juliet", "n", {}, 0)));
    expectUnavailable(this->run(this->pep().configureNode("example.org", "juliet", "n", {})));
    expectUnavailable(this->run(this->pep().deleteNode("example.org", "juliet", "n")));
    expectUnavailable(this->run(this->pep().publishItem("example.org", "juliet", "n", {})));
    expectUnavailable(this->run(this->pep().items("example.org", "juliet", "n", {}, 0)));
    expectUnavailable(this->run(this->pep().retractItem("example.org", "juliet", "n", "1")));
    expectUnavailable(this->run(this->pep().purgeNode("example.org", "juliet", "n")));
    this->storage_->close();  // closing twice is harmless
}

// PepStore

namespace {

PepItem pepItem(std::string id, std::string xml = "<x xmlns='urn:example'/>") {
    return PepItem{std::move(id), std::move(xml), "juliet@example.org/balcony", 0};
}

std::vector<std::string> pepIds(const std::vector<PepItem>& items) {
    std::vector<std::string> ids;
    for (const auto& item : items)
        ids.push_back(item.id);
    return ids;
}

}  // namespace

TYPED_TEST_P(StorageConformance, PepNodesAreCreatedFoundListedSortedAndConfigured) {
    EXPECT_FALSE(this->pepNode("example.org", "juliet", "urn:xmpp:avatar:data"));
    PepNodeConfig open;
    open.accessModel = "open";
    open.maxItems = 3;
    open.persistItems = false;
    open.sendLastPublishedItem = "never";
    open.notifyRetract = false;
    open.rosterGroups = {"Friends", "", "a\nb\\c"};
    open.whitelist = {"nurse@example.org", "romeo@example.net"};
    open.maxItemsIsMax = true;
    open.title = "Juliet's avatar";
    open.description = "What she looks like, \"today\"";
    open.payloadType = "urn:xmpp:avatar:data";
    this->createPepNode("example.org", "juliet", "urn:xmpp:avatar:data", open);
    this->createPepNode("example.org", "juliet", "eu.siacs.conversations.axolotl.devicelist", {});
    EXPECT_EQ(this->pepNode("example.org", "juliet", "urn:xmpp:avatar:data"), open);
    EXPECT_EQ(this->pepNode("example.org", "juliet", "eu.siacs.conversations.axolotl.devicelist"),
              PepNodeConfig{});
    auto listed = this->run(this->pep().listNodes("example.org", "juliet"));
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 2u);
    EXPECT_EQ((*listed)[0].name, "eu.siacs.conversations.axolotl.devicelist");
    EXPECT_EQ((*listed)[1].name, "urn:xmpp:avatar:data");
    EXPECT_EQ((*listed)[1].config, open);
    // Creating it again is AlreadyExists and keeps the first configuration.
    auto again = this->run(this->pep().createNode("example.org", "juliet", "urn:xmpp:avatar:data", {}, 0));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), StorageError::AlreadyExists);
    EXPECT_EQ(this->pepNode("example.org", "juliet", "urn:xmpp:avatar:data"), open);
    // Nodes of other users and hosts are separate.
    EXPECT_FALSE(this->pepNode("example.org", "romeo", "urn:xmpp:avatar:data"));
    EXPECT_FALSE(this->pepNode("example.net", "juliet", "urn:xmpp:avatar:data"));
    PepNodeConfig changed = open;
    changed.accessModel = "whitelist";
    changed.whitelist = {};
    changed.maxItemsIsMax = false;
    changed.title.clear();
    changed.description = "Changed";
    ASSERT_TRUE(
        this->run(this->pep().configureNode("example.org", "juliet", "urn:xmpp:avatar:data", changed)));
    EXPECT_EQ(this->pepNode("example.org", "juliet", "urn:xmpp:avatar:data"), changed);
    auto absent =
        this->run(this->pep().configureNode("example.org", "romeo", "urn:xmpp:avatar:data", changed));
    ASSERT_FALSE(absent);
    EXPECT_EQ(absent.error(), StorageError::NotFound);
}

TYPED_TEST_P(StorageConformance, PepNodesBeyondMaxNodesAreQuotaExceeded) {
    this->createPepNode("example.org", "juliet", "a", {}, 2);
    this->createPepNode("example.org", "juliet", "b", {}, 2);
    auto third = this->run(this->pep().createNode("example.org", "juliet", "c", {}, 2));
    ASSERT_FALSE(third);
    EXPECT_EQ(third.error(), StorageError::QuotaExceeded);
    EXPECT_FALSE(this->pepNode("example.org", "juliet", "c"));
    this->createPepNode("example.org", "romeo", "c", {}, 2);   // per account
    this->createPepNode("example.org", "juliet", "c", {}, 0);  // 0: no limit
}

TYPED_TEST_P(StorageConformance, PepItemsAreNewestFirstReplacedByIdAndTrimmedToMaxItems) {
    PepNodeConfig config;
    config.maxItems = 3;
    this->createPepNode("example.org", "juliet", "n", config);
    const std::uint64_t first =
        this->publishPep("example.org", "juliet", "n", pepItem("1", "<a xmlns='u'>1</a>"));
    const std::uint64_t second = this->publishPep("example.org", "juliet", "n", pepItem("2"));
    EXPECT_LT(first, second);
    this->publishPep("example.org", "juliet", "n", pepItem("3"));
    EXPECT_EQ(pepIds(this->pepItems("example.org", "juliet", "n")),
              (std::vector<std::string>{"3", "2", "1"}));
    // The same id again replaces the item and makes it the newest; its publication time is kept.
    PepItem again = pepItem("1", "<b xmlns='u'/>");
    again.publishedAt = 1800000123;
    const std::uint64_t replaced = this->publishPep("example.org", "juliet", "n", again);
    EXPECT_GT(replaced, second);
    auto items = this->pepItems("example.org", "juliet", "n");
    ASSERT_EQ(pepIds(items), (std::vector<std::string>{"1", "3", "2"}));
    EXPECT_EQ(items[0].xml, "<b xmlns='u'/>");
    EXPECT_EQ(items[0].publisher, "juliet@example.org/balcony");
    EXPECT_EQ(items[0].order, replaced);
    EXPECT_EQ(items[0].publishedAt, 1800000123);
    EXPECT_EQ(items[1].publishedAt, 0);
    // A fourth id drops the oldest.
    this->publishPep("example.org", "juliet", "n", pepItem("4"));
    EXPECT_EQ(pepIds(this->pepItems("example.org", "juliet", "n")),
              (std::vector<std::string>{"4", "1", "3"}));
    // Limit and ids.
    EXPECT_EQ(pepIds(this->pepItems("example.org", "juliet", "n", {}, 1)), (std::vector<std::string>{"4"}));
    EXPECT_EQ(pepIds(this->pepItems("example.org", "juliet", "n", {"3", "4", "9"})),
              (std::vector<std::string>{"4", "3"}));
    // A smaller max_items trims at once; 0 keeps everything.
    config.maxItems = 1;
    ASSERT_TRUE(this->run(this->pep().configureNode("example.org", "juliet", "n", config)));
    EXPECT_EQ(pepIds(this->pepItems("example.org", "juliet", "n")), (std::vector<std::string>{"4"}));
    config.maxItems = 0;
    ASSERT_TRUE(this->run(this->pep().configureNode("example.org", "juliet", "n", config)));
    for (const char* id : {"5", "6", "7"})
        this->publishPep("example.org", "juliet", "n", pepItem(id));
    EXPECT_EQ(this->pepItems("example.org", "juliet", "n").size(), 4u);
}

TYPED_TEST_P(StorageConformance, PepRetractPurgeAndDeleteNode) {
    this->createPepNode("example.org", "juliet", "n", PepNodeConfig{.maxItems = 10});
    this->publishPep("example.org", "juliet", "n", pepItem("1"));
    this->publishPep("example.org", "juliet", "n", pepItem("2"));
    auto retracted = this->run(this->pep().retractItem("example.org", "juliet", "n", "1"));
    ASSERT_TRUE(retracted);
    EXPECT_TRUE(*retracted);
    retracted = this->run(this->pep().retractItem("example.org", "juliet", "n", "1"));
    ASSERT_TRUE(retracted);
    EXPECT_FALSE(*retracted);
    EXPECT_EQ(pepIds(this->pepItems("example.org", "juliet", "n")), (std::vector<std::string>{"2"}));
    ASSERT_TRUE(this->run(this->pep().purgeNode("example.org", "juliet", "n")));
    EXPECT_TRUE(this->pepItems("example.org", "juliet", "n").empty());
    this->publishPep("example.org", "juliet", "n", pepItem("3"));
    ASSERT_TRUE(this->run(this->pep().deleteNode("example.org", "juliet", "n")));
    EXPECT_FALSE(this->pepNode("example.org", "juliet", "n"));
    // A node created again under the same name starts empty.
    this->createPepNode("example.org", "juliet", "n", {});
    EXPECT_TRUE(this->pepItems("example.org", "juliet", "n").empty());
    auto expectNotFound = [](const auto& result) {
        ASSERT_FALSE(result);
        EXPECT_EQ(result.error(), StorageError::NotFound);
    };
    expectNotFound(this->run(this->pep().deleteNode("example.org", "juliet", "absent")));
    expectNotFound(this->run(this->pep().publishItem("example.org", "juliet", "absent", pepItem("1"))));
    expectNotFound(this->run(this->pep().items("example.org", "juliet", "absent", {}, 0)));
    expectNotFound(this->run(this->pep().retractItem("example.org", "juliet", "absent", "1")));
    expectNotFound(this->run(this->pep().purgeNode("example.org", "juliet", "absent")));
}

TYPED_TEST_P(StorageConformance, DeleteAccountRemovesThePepNodes) {
    this->create(account("example.org", "juliet"));
    this->createPepNode("example.org", "juliet", "n", {});
    this->publishPep("example.org", "juliet", "n", pepItem("1"));
    this->createPepNode("example.org", "romeo", "n", {});
    ASSERT_TRUE(this->run(this->accounts().deleteAccount("example.org", "juliet", 1800000000)));
    auto listed = this->run(this->pep().listNodes("example.org", "juliet"));
    ASSERT_TRUE(listed);
    EXPECT_TRUE(listed->empty());
    EXPECT_TRUE(this->pepNode("example.org", "romeo", "n"));
}

REGISTER_TYPED_TEST_SUITE_P(
    StorageConformance, CreatedAccountIsFoundWithItsCredentials, AbsentAccountIsNulloptNotAnError,
    TakenUsernameIsAlreadyExistsAndKeepsTheFirstAccount, SameUsernameOnAnotherHostIsAnotherAccount,
    AccountWithoutCredentialsIsAllowed, CredentialBytesRoundTripExactly,
    CredentialsAreOnePerAlgorithmLastWinsSortedByAlgorithm, SetCredentialsReplacesAllOfThem,
    SetCredentialsOfAbsentAccountIsNotFound, DeleteAccountRemovesItAndItsCredentials,
    DeleteAbsentAccountIsNotFound, DeleteAccountRemovesOnlyThatUsersDocuments,
    DeleteAccountLeavesATombstoneWithTheDeletionTime, TombstonedNameCannotBeCreatedAgainUntilReleased,
    RemoveAbsentTombstoneIsNotFound, ListAccountsIsSortedAndPerHost,
    AbsentValueIsNulloptAndRemovingItIsNotAnError, ValueIsSetReplacedAndRemoved, ValuesDoNotNeedAnAccount,
    ValuesAreIsolatedByHostUserStoreAndKey, ValueBytesRoundTripExactly,
    RosterOfUnknownUserIsEmptyAtVersionZero, PutItemBumpsTheVersionByOneFromOne, RosterItemsAreSortedByJid,
    RosterItemFieldsRoundTripExactly, PutNewItemBeyondMaxItemsIsQuotaExceededAndChangesNothing,
    RemoveItemBumpsTheVersionAndLeavesATombstone, RemoveAbsentItemReturnsTheCurrentVersionAndChangesNothing,
    ReaddingARemovedItemDeletesItsTombstone, OldTombstonesArePrunedAndRemovedSinceRisesPastThem,
    RostersAreIsolatedByHostAndUser, OfflineMessagesGetIncreasingIdsAndComeBackOldestFirst,
    OfflineListHonoursTheLimit, OfflinePushBeyondMaxPerUserIsQuotaExceeded, OfflineRemoveIgnoresAbsentIds,
    OfflineIdsKeepIncreasingAfterRemoval, OfflineMessagesAreIsolatedByHostAndUser,
    BlockListIsSortedAndIgnoresDuplicates, BlockBeyondMaxItemsIsQuotaExceededAndAddsNothing,
    UnblockRemovesTheGivenJidsOrAllOfThem, BlockListsAreIsolatedByHostAndUser,
    DeleteAccountRemovesTheRosterOfflineMessagesAndBlockList, ConcurrentCallsFromSeveralThreadsAllSucceed,
    ConcurrentWritersGetDistinctIdsAndVersions, CallsAfterCloseAreUnavailable,
    PepNodesAreCreatedFoundListedSortedAndConfigured, PepNodesBeyondMaxNodesAreQuotaExceeded,
    PepItemsAreNewestFirstReplacedByIdAndTrimmedToMaxItems, PepRetractPurgeAndDeleteNode,
    DeleteAccountRemovesThePepNodes, BulkCreationSkipsTakenNamesAndCountsTheRest);

// One line per backend.
INSTANTIATE_TYPED_TEST_SUITE_P(Memory, StorageConformance, MemoryBackend);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StorageConformance, SqliteBackend);

// Outside the suite: the backend choice itself.

TEST(OpenStorage, UnknownBackendIsAClearOpenError) {
    auto storage = openStorage({.backend = "postgres-typo"});
    ASSERT_FALSE(storage);
    EXPECT_NE(storage.error().message.find("postgres-typo"), std::string::npos) << storage.error().message;
    EXPECT_NE(storage.error().message.find("storage.backend"), std::string::npos) << storage.error().message;
}

TEST(OpenStorage, StorageErrorsHaveNames) {
    EXPECT_EQ(toString(StorageError::NotFound), "not found");
    EXPECT_EQ(toString(StorageError::AlreadyExists), "already exists");
    EXPECT_EQ(toString(StorageError::Unavailable), "storage unavailable");
    EXPECT_EQ(toString(StorageError::QuotaExceeded), "quota exceeded");
}

TEST(OpenStorage, SubscriptionsHaveTheirRfc6121Names) {
    EXPECT_EQ(toString(Subscription::None), "none");
    EXPECT_EQ(toString(Subscription::To), "to");
    EXPECT_EQ(toString(Subscription::From), "from");
    EXPECT_EQ(toString(Subscription::Both), "both");
}

}  // namespace
}  // namespace parley::storage::test
