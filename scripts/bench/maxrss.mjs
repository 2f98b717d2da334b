// Preloaded (node --import) by the cold-start bench: at exit, the process's own peak resident set
// in KiB, written to the file BENCH_MAXRSS_FILE names.
import { writeFileSync } from 'node:fs'
import process from 'node:process'

process.on('exit', () => {
  writeFileSync(process.env.BENCH_MAXRSS_FILE, String(process.resourceUsage().maxRSS))
})
