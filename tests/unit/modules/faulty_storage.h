#pragma once
// FaultyStorage: the server's real (in-memory) storage behind a wrapper that tests switch to failing
// (StorageError::Unavailable, as from a full disk or a lost database) for the offline and block-list
// stores, and that measures how many offline-message listings of one user overlap.
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "parley/storage/storage.h"
#include "test_server.h"

namespace parley::test {

class FaultyStorage final : public storage::Storage {
  public:
    explicit FaultyStorage(std::unique_ptr<storage::Storage> inner)
        : inner_(std::move(inner)), offline_(*this), blockList_(*this), archive_(*this) {}

    // A TestServer storage wrapper that keeps a pointer to the FaultyStorage it made in `*out`.
    static TestServer::StorageWrapper wrapper(FaultyStorage** out) {
        return [out](std::unique_ptr<storage::Storage> inner) {
            auto faulty = std::make_unique<FaultyStorage>(std::move(inner));
            *out = faulty.get();
            return std::unique_ptr<storage::Storage>(std::move(faulty));
        };
    }

    storage::AccountStore& accounts() override { return inner_->accounts(); }
    storage::KeyValueStore& keyValue() override { return inner_->keyValue(); }
    storage::RosterStore& roster() override { return inner_->roster(); }
    storage::OfflineStore& offline() override { return offline_; }
    storage::BlockListStore& blockList() override { return blockList_; }
    storage::PepStore& pep() override { return inner_->pep(); }
    storage::ArchiveStore& archive() override { return archive_; }
    void close() override { inner_->close(); }

    // --- switches (set from the test thread, read on the server's loops) -----------------------
    std::atomic<bool> failOfflinePush{false};
    std::atomic<int> offlineRemoves{0};  // calls of OfflineStore::remove
    // Every message-archive call fails.
    std::atomic<bool> failArchive{false};
    // Block-list reads fail for this user name (empty: for nobody).
    void failBlockListReadsOf(const std::string& username) {
        std::lock_guard lock(mutex_);
        failingBlockListUser_ = username;
    }
    // While set, a listing of offline messages lets its loop run other work before it returns (up to a
    // bound, or until another listing of the same user overlaps it), to give a missing lock a chance
    // to show.
    std::atomic<bool> slowOfflineLists{false};
    // The most offline-message listings of one user that were ever running at once.
    std::atomic<int> maxOverlappingLists{0};

  private:
    bool blockListFailsFor(const std::string& username) {
        std::lock_guard lock(mutex_);
        return !failingBlockListUser_.empty() && failingBlockListUser_ == username;
    }

    class Offline final : public storage::OfflineStore {
      public:
        explicit Offline(FaultyStorage& owner) : owner_(owner) {}
        storage::StoreResult<std::uint64_t> push(std::string host, std::string username,
                                                 storage::OfflineMessage message,
                                                 std::size_t maxPerUser) override {
            if (owner_.failOfflinePush.load())
                co_return storage::StorageError::Unavailable;
            auto pushed = co_await owner_.inner_->offline().push(std::move(host), std::move(username),
                                                                 std::move(message), maxPerUser);
            co_return pushed;
        }
        storage::StoreResult<std::vector<storage::OfflineMessage>> list(std::string host,
                                                                        std::string username,
                                                                        std::size_t limit) override {
            const int overlapping = ++inFlight_;
            int seen = owner_.maxOverlappingLists.load();
            while (overlapping > seen &&
                   !owner_.maxOverlappingLists.compare_exchange_weak(seen, overlapping)) {
            }
            auto listed = co_await owner_.inner_->offline().list(std::move(host), std::move(username), limit);
            if (owner_.slowOfflineLists.load()) {
                auto executor = co_await boost::asio::this_coro::executor;
                for (int i = 0; i < 20000 && inFlight_.load() < 2; ++i)
                    co_await boost::asio::post(executor, boost::asio::use_awaitable);
            }
            --inFlight_;
            co_return listed;
        }
        storage::StoreResult<void> remove(std::string host, std::string username,
                                          std::vector<std::uint64_t> ids) override {
            ++owner_.offlineRemoves;
            auto removed = co_await owner_.inner_->offline().remove(std::move(host), std::move(username),
                                                                    std::move(ids));
            co_return removed;
        }
        storage::StoreResult<std::size_t> count(std::string host, std::string username) override {
            auto counted = co_await owner_.inner_->offline().count(std::move(host), std::move(username));
            co_return counted;
        }

      private:
        FaultyStorage& owner_;
        std::atomic<int> inFlight_{0};  // tests list one user's messages only
    };

    class BlockLists final : public storage::BlockListStore {
      public:
        explicit BlockLists(FaultyStorage& owner) : owner_(owner) {}
        storage::StoreResult<std::vector<std::string>> list(std::string host, std::string username) override {
            if (owner_.blockListFailsFor(username))
                co_return storage::StorageError::Unavailable;
            auto listed = co_await owner_.inner_->blockList().list(std::move(host), std::move(username));
            co_return listed;
        }
        storage::StoreResult<void> add(std::string host, std::string username, std::vector<std::string> jids,
                                       std::size_t maxItems) override {
            auto added = co_await owner_.inner_->blockList().add(std::move(host), std::move(username),
                                                                 std::move(jids), maxItems);
            co_return added;
        }
        storage::StoreResult<void> remove(std::string host, std::string username,
                                          std::vector<std::string> jids) override {
            auto removed = co_await owner_.inner_->blockList().remove(std::move(host), std::move(username),
                                                                      std::move(jids));
            co_return removed;
        }

      private:
        FaultyStorage& owner_;
    };

    class Archive final : public storage::ArchiveStore {
      public:
        explicit Archive(FaultyStorage& owner) : owner_(owner) {}
        storage::StoreResult<void> append(std::string host, std::string username,
                                          storage::ArchivedMessage message, std::size_t maxPerUser) override {
            if (owner_.failArchive.load())
                co_return storage::StorageError::Unavailable;
            auto appended = co_await owner_.inner_->archive().append(std::move(host), std::move(username),
                                                                     std::move(message), maxPerUser);
            co_return appended;
        }
        storage::StoreResult<storage::ArchivePage> query(std::string host, std::string username,
                                                         storage::ArchiveQuery query) override {
            if (owner_.failArchive.load())
                co_return storage::StorageError::Unavailable;
            auto page = co_await owner_.inner_->archive().query(std::move(host), std::move(username),
                                                                std::move(query));
            co_return page;
        }
        storage::StoreResult<std::size_t> removeOlderThan(std::int64_t stamp) override {
            if (owner_.failArchive.load())
                co_return storage::StorageError::Unavailable;
            auto removed = co_await owner_.inner_->archive().removeOlderThan(stamp);
            co_return removed;
        }
        storage::StoreResult<void> removeAll(std::string host, std::string username) override {
            if (owner_.failArchive.load())
                co_return storage::StorageError::Unavailable;
            auto removed = co_await owner_.inner_->archive().removeAll(std::move(host), std::move(username));
            co_return removed;
        }

      private:
        FaultyStorage& owner_;
    };

    std::unique_ptr<storage::Storage> inner_;
    Offline offline_;
    BlockLists blockList_;
    Archive archive_;
    std::mutex mutex_;
    std::string failingBlockListUser_;
};

}  // namespace parley::test
