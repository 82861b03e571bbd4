#include "v11/udx_io/duplex.h"

namespace hs::v11::udx_io {

Duplex::Duplex(asio::any_io_executor executor, std::shared_ptr<Stream> stream)
    : m_executor(std::move(executor)),
      m_stream(std::move(stream)),
      m_wake(m_executor, asio::steady_timer::time_point::max()) {
    m_stream->add_waker(&m_wake);
}

Duplex::~Duplex() { m_stream->remove_waker(&m_wake); }

std::error_code Duplex::state_error() const {
    if (!m_stream->closed()) return {};
    switch (m_stream->close_reason()) {
        case CloseReason::kReset: return asio::error::connection_reset;
        case CloseReason::kTimedOut: return asio::error::timed_out;
        case CloseReason::kDestroyed: return asio::error::operation_aborted;
        default: return asio::error::broken_pipe;  // ended: nothing more goes either way
    }
}

void Duplex::shutdown(asio::socket_base::shutdown_type what, std::error_code& ec) {
    ec.clear();
    if (what == asio::socket_base::shutdown_receive) return;
    if (m_closed || m_stream->closed()) {
        ec = asio::error::not_connected;
        return;
    }
    m_shut_send = true;
    m_stream->end();
}

void Duplex::close(std::error_code& ec) {
    ec.clear();
    if (m_closed) return;
    m_closed = true;
    // Ended both ways: the stream finishes its acknowledgements by itself.
    if (!m_stream->closed() && !(m_shut_send && m_stream->core().eof())) m_stream->destroy();
    m_wake.cancel();
}

}  // namespace hs::v11::udx_io
