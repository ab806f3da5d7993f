#pragma once
// Full-text search of the message archive (XEP-0313 §4.1.1 with a search field, XEP-0431) splits text
// the same way in every backend, so that a query finds the same messages in each: a word is a run of
// ASCII letters and digits or of non-ASCII bytes (UTF-8 sequences), compared ASCII-case-insensitively.
// This is what SQLite's FTS5 unicode61 tokenizer does for ASCII text (docs/storage.md "Message archive").
#include <string>
#include <string_view>
#include <vector>

namespace parley::storage {

inline std::vector<std::string> archiveWords(std::string_view text) {
    std::vector<std::string> words;
    std::string word;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        const bool alnum = (byte >= '0' && byte <= '9') || (byte >= 'a' && byte <= 'z') ||
                           (byte >= 'A' && byte <= 'Z') || byte >= 0x80;
        if (alnum) {
            word += (byte >= 'A' && byte <= 'Z') ? static_cast<char>(byte - 'A' + 'a') : c;
        } else if (!word.empty()) {
            words.push_back(std::move(word));
            word.clear();
        }
    }
    if (!word.empty())
        words.push_back(std::move(word));
    return words;
}

}  // namespace parley::storage
