// The exception the hypercore/alpha message and manifest decoders (messages.h, manifest.h)
// throw on malformed input: truncation, a length past the end, an unknown manifest version, hash
// or signature id, a uint above 2^53 - 1. It carries the compact-encoding Error (Errc::Protocol)
// that says which field failed and where. Nothing else is thrown by a decoder, so a caller that
// handles peer input catches exactly this and closes that channel.
#pragma once

#include <stdexcept>
#include <utility>

#include "common/util/error.h"

namespace hs::v11::compact {

class DecodeError : public std::runtime_error {
public:
    explicit DecodeError(Error error)
        : std::runtime_error(error.message), m_error(std::move(error)) {}
    const Error& error() const noexcept { return m_error; }

private:
    Error m_error;
};

}  // namespace hs::v11::compact
