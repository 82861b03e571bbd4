'use strict'

// The udx-native side of bench/udx_bench.js: the same command line and JSON lines as
// tests/interop/udx_peer.cpp (one stream): binds --port on 127.0.0.1, prints
// {"event":"listening","port":P}, waits for a line on stdin, writes --send bytes of the shared
// pattern (then ends), reads the other side to its end checking every byte and hashing it
// (sha256), and prints {"event":"done",...} and {"event":"all-done", ms, cpu_ms}.

const crypto = require('crypto')
const readline = require('readline')
const UDX = require('./lib/common').requireJs('udx-native')

const args = process.argv.slice(2)
const opt = (name, dflt) => { const i = args.indexOf(name); return i === -1 ? dflt : args[i + 1] }
const localId = Number(opt('--local-id', 1))
const remoteId = Number(opt('--remote-id', 2))
const remotePort = Number(opt('--remote-port', 0))
const port = Number(opt('--port', 0))
const size = Number(opt('--send', 0))

const PERIOD = 2048 * 256
const PATTERN = Buffer.alloc(2 * PERIOD)
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = (i * 31 + Math.floor(i / 2048)) & 0xff
const pattern = (from, n) => PATTERN.subarray(from % PERIOD, from % PERIOD + n)
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n')

const udx = new UDX()
const socket = udx.createSocket()
socket.bind(port, '127.0.0.1')
emit({ event: 'listening', port: socket.address().port })
const rl = readline.createInterface({ input: process.stdin })
rl.once('line', () => {
  rl.close()
  const started = Date.now()
  const cpu0 = process.cpuUsage()
  const stream = udx.createStream(localId)
  stream.connect(socket, remoteId, remotePort, '127.0.0.1')
  let received = 0
  let ok = true
  const hash = crypto.createHash('sha256')
  stream.on('data', (d) => {
    for (let at = 0; at < d.length && ok;) {
      const n = Math.min(PERIOD, d.length - at)
      if (!d.subarray(at, at + n).equals(pattern(received + at, n))) ok = false
      at += n
    }
    hash.update(d)
    received += d.length
  })
  stream.on('error', (e) => emit({ event: 'error', message: e.message }))
  stream.on('close', async () => {
    const cpu = process.cpuUsage(cpu0)
    emit({ event: 'done', index: 0, sent: size, received, ok, sha256: hash.digest('hex'), reason: 'ended' })
    emit({ event: 'all-done', ms: Date.now() - started, cpu_ms: (cpu.user + cpu.system) / 1000 })
    await socket.close()
  })
  let sent = 0
  const writeMore = () => {
    while (sent < size) {
      const n = Math.min(65536, size - sent)
      const more = stream.write(pattern(sent, n))
      sent += n
      if (!more) { stream.once('drain', writeMore); return }
    }
    stream.end()
  }
  writeMore()
})
