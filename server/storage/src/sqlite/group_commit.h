#pragma once
// Group commit for the SQLite stores (docs/storage.md "Message archive"): writes queued from any thread
// while the worker is busy are committed by the first of their jobs to run, in one transaction; the
// later jobs of the group find their results ready. No timer: a lone write is committed at once.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "parley/storage/storage.h"

namespace parley::storage {

template <class Pending, class Value>
class GroupCommit {
  public:
    using Outcome = Result<Value, StorageError>;

    // Any thread: queues a write; its job must then call take() with the returned ticket.
    std::uint64_t enqueue(Pending pending) {
        std::lock_guard lock(mutex_);
        const std::uint64_t ticket = ++nextTicket_;
        queued_.emplace_back(ticket, std::move(pending));
        return ticket;
    }

    // On the worker: the outcome of write `ticket`. Unless an earlier job already committed it, commits
    // everything queued with `commitGroup(std::vector<Pending>&)`, which returns one outcome per write,
    // in order (a failed transaction: the same error for each).
    template <class CommitGroup>
    Outcome take(std::uint64_t ticket, CommitGroup&& commitGroup) {
        if (auto ready = results_.find(ticket); ready != results_.end()) {
            Outcome outcome = std::move(ready->second);
            results_.erase(ready);
            return outcome;
        }
        std::vector<std::pair<std::uint64_t, Pending>> queued;
        {
            std::lock_guard lock(mutex_);
            queued.swap(queued_);
        }
        std::vector<Pending> group;
        group.reserve(queued.size());
        for (auto& entry : queued)
            group.push_back(std::move(entry.second));
        std::vector<Outcome> outcomes = commitGroup(group);
        commits_.fetch_add(1);
        Outcome own(boost::system::in_place_error,
                    StorageError::Unavailable);  // the job runs after its queueing
        for (std::size_t i = 0; i < queued.size() && i < outcomes.size(); ++i) {
            if (queued[i].first == ticket)
                own = std::move(outcomes[i]);
            else
                results_.emplace(queued[i].first, std::move(outcomes[i]));
        }
        return own;
    }

    // How many transactions the writes took so far (for tests and benchmarks).
    std::uint64_t commits() const noexcept { return commits_.load(); }

  private:
    std::mutex mutex_;  // guards nextTicket_ and queued_ (writes come from every event loop)
    std::uint64_t nextTicket_ = 0;
    std::vector<std::pair<std::uint64_t, Pending>> queued_;
    std::unordered_map<std::uint64_t, Outcome> results_;  // worker only: committed, not yet taken
    std::atomic<std::uint64_t> commits_{0};
};

}  // namespace parley::storage
