#include "line_editor.h"

namespace parley::cli {
namespace {

constexpr char kEscape = '\x1b';
constexpr char ctrl(char letter) {
    return static_cast<char>(letter & 0x1f);
}

bool continuationByte(char byte) {
    return (static_cast<unsigned char>(byte) & 0xc0) == 0x80;
}

/// The length of the UTF-8 sequence that `lead` starts (RFC 3629 §3).
std::size_t sequenceLength(char lead) {
    const auto b = static_cast<unsigned char>(lead);
    return b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
}

/// Columns the text takes: one per UTF-8 character (wide characters are rare in chat input; counting
/// them as one only misplaces the cursor, never the text).
std::size_t columns(std::string_view text) {
    std::size_t n = 0;
    for (char byte : text)
        n += continuationByte(byte) ? 0 : 1;
    return n;
}

/// Terminal lines end with CR LF: in raw mode the terminal does not add the CR.
std::string terminalLines(std::string_view text) {
    std::string out;
    for (char byte : text) {
        if (byte == '\n')
            out += '\r';
        out += byte;
    }
    return out;
}

}  // namespace

LineEditor::LineEditor(std::string prompt) : prompt_(std::move(prompt)) {}

std::string LineEditor::redraw() const {
    // ECMA-48: CR to the first column, EL (CSI K) clears to the end of the line, CUB (CSI n D) moves
    // the cursor back over the text after it.
    std::string out = "\r" + prompt_ + buffer_ + "\x1b[K";
    const std::size_t after = columns(std::string_view(buffer_).substr(cursor_));
    if (after > 0)
        out += "\x1b[" + std::to_string(after) + "D";
    return out;
}

std::string LineEditor::printAbove(std::string_view text) const {
    return "\r\x1b[K" + terminalLines(text) + "\r\n" + redraw();
}

std::size_t LineEditor::previousBoundary(std::size_t from) const {
    while (from > 0) {
        --from;
        if (!continuationByte(buffer_[from]))
            break;
    }
    return from;
}

std::size_t LineEditor::nextBoundary(std::size_t from) const {
    if (from < buffer_.size())
        ++from;
    while (from < buffer_.size() && continuationByte(buffer_[from]))
        ++from;
    return from;
}

LineEditor::Output LineEditor::feed(std::string_view bytes) {
    Output out;
    for (char byte : bytes) {
        if (out.endOfInput || out.interrupted)
            break;
        if (!pendingEscape_.empty() || byte == kEscape) {
            pendingEscape_ += byte;
            const std::string_view seq = pendingEscape_;
            // CSI (ESC [ params final) ends with a byte in 0x40-0x7e; SS3 (ESC O x) is three bytes;
            // ESC and anything else (Alt-key) is two bytes and ignored.
            const bool complete = (seq.size() >= 3 && seq[1] == '[' && byte >= 0x40 && byte <= 0x7e) ||
                                  (seq.size() == 3 && seq[1] == 'O') ||
                                  (seq.size() == 2 && seq[1] != '[' && seq[1] != 'O');
            if (complete) {
                const std::string sequence = std::move(pendingEscape_);
                pendingEscape_.clear();
                escape(sequence, out);
            }
            continue;
        }
        key(byte, out);
    }
    return out;
}

void LineEditor::escape(std::string_view seq, Output& out) {
    const std::string_view body = seq.substr(2);
    if (body == "D") {
        cursor_ = previousBoundary(cursor_);
    } else if (body == "C") {
        cursor_ = nextBoundary(cursor_);
    } else if (body == "H" || body == "1~" || body == "7~") {
        cursor_ = 0;
    } else if (body == "F" || body == "4~" || body == "8~") {
        cursor_ = buffer_.size();
    } else if (body == "A") {
        if (historyIndex_ > 0)
            recall(historyIndex_ - 1);
    } else if (body == "B") {
        if (historyIndex_ < history_.size())
            recall(historyIndex_ + 1);
    } else if (body == "3~") {
        buffer_.erase(cursor_, nextBoundary(cursor_) - cursor_);
    } else {
        return;  // a key the editor does not use: nothing changed
    }
    out.terminal += redraw();
}

void LineEditor::key(char byte, Output& out) {
    switch (byte) {
        case '\r':
        case '\n':
            submit(out);
            return;
        case ctrl('C'):
            out.interrupted = true;
            out.terminal += "\r\n";
            return;
        case ctrl('D'):
            if (buffer_.empty()) {
                out.endOfInput = true;
                out.terminal += "\r\n";
                return;
            }
            buffer_.erase(cursor_, nextBoundary(cursor_) - cursor_);
            break;
        case ctrl('A'):
            cursor_ = 0;
            break;
        case ctrl('E'):
            cursor_ = buffer_.size();
            break;
        case ctrl('B'):
            cursor_ = previousBoundary(cursor_);
            break;
        case ctrl('F'):
            cursor_ = nextBoundary(cursor_);
            break;
        case ctrl('H'):
        case '\x7f': {
            const std::size_t start = previousBoundary(cursor_);
            buffer_.erase(start, cursor_ - start);
            cursor_ = start;
            break;
        }
        case ctrl('U'):
            buffer_.erase(0, cursor_);
            cursor_ = 0;
            break;
        case ctrl('K'):
            buffer_.erase(cursor_);
            break;
        case ctrl('W'): {
            // Like a shell: the spaces before the cursor, then the word before them.
            std::size_t start = cursor_;
            while (start > 0 && buffer_[start - 1] == ' ')
                --start;
            while (start > 0 && buffer_[start - 1] != ' ')
                --start;
            buffer_.erase(start, cursor_ - start);
            cursor_ = start;
            break;
        }
        case ctrl('P'):
            if (historyIndex_ > 0)
                recall(historyIndex_ - 1);
            break;
        case ctrl('N'):
            if (historyIndex_ < history_.size())
                recall(historyIndex_ + 1);
            break;
        case ctrl('L'):
            break;  // just the redraw below
        default:
            if (static_cast<unsigned char>(byte) < 0x20)
                return;  // other control characters (Tab, Ctrl-G, ...) would garble the line
            buffer_.insert(cursor_, 1, byte);
            ++cursor_;
            // A UTF-8 character arrives a byte at a time: draw it once it is whole.
            if (cursor_ - previousBoundary(cursor_) < sequenceLength(buffer_[previousBoundary(cursor_)]))
                return;
            break;
    }
    out.terminal += redraw();
}

void LineEditor::submit(Output& out) {
    out.terminal += "\r\n";
    if (!buffer_.empty() && (history_.empty() || history_.back() != buffer_))
        history_.push_back(buffer_);
    out.lines.push_back(std::move(buffer_));
    buffer_.clear();
    draft_.clear();
    cursor_ = 0;
    historyIndex_ = history_.size();
    out.terminal += redraw();
}

void LineEditor::recall(std::size_t index) {
    if (historyIndex_ == history_.size())
        draft_ = buffer_;  // leaving the line being typed: keep it for the way back down
    historyIndex_ = index;
    buffer_ = index == history_.size() ? draft_ : history_[index];
    cursor_ = buffer_.size();
}

}  // namespace parley::cli
