'use strict'

// Command-line parsing shared by the JS models of hyp (tests/interop/storage/js-hyp.js,
// tests/interop/replicate/js-hyp.js).

// argv -> { _: [positional...], <option>: value }. spec.flags: options that take no value (set to
// true); spec.lists: options that may repeat (collected into arrays). Errors are thrown as
// spec.Error (default Error).
function parseArgs (argv, spec = {}) {
  const Err = spec.Error || Error
  const flags = new Set(spec.flags || [])
  const opts = { _: [] }
  for (const k of spec.lists || []) opts[k] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a.startsWith('--')) {
      const k = a.slice(2)
      if (flags.has(k)) opts[k] = true
      else if (Array.isArray(opts[k]) && i + 1 < argv.length) opts[k].push(argv[++i])
      else if (i + 1 < argv.length) opts[k] = argv[++i]
      else throw new Err('missing value for ' + a)
    } else opts._.push(a)
  }
  return opts
}

// A core key as hyp takes it (64 hex characters, or hyper://<64 hex>) -> lower-case hex.
function parseKey (s, Err = Error) {
  let hex = s
  if (hex.startsWith('hyper://')) hex = hex.slice(8)
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Err('invalid key ' + JSON.stringify(s) + ': expected 64 hex characters or hyper://<64 hex>')
  return hex.toLowerCase()
}

module.exports = { parseArgs, parseKey }
