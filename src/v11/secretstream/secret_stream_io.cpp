#include "v11/secretstream/secret_stream_io.h"

#include "v11/secretstream/secret_stream_pump.h"

namespace hs::v11 {

asio::awaitable<Error> run_secret_stream(SecretStreamIo io) { return run_secret_stream_on(io); }

}  // namespace hs::v11
