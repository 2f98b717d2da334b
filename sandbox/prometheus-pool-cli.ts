/**
 * Runs a Prometheus pool (prometheus-pool.ts) until SIGTERM, SIGINT or the end of its standard
 * input (the process that started it is gone). Prints `pool <url>` once it listens; the end-to-end
 * tests' global setup starts it and hands the URL to the sandboxes as SANDBOX_PROMETHEUS_POOL.
 *
 * Options: --dir DIR (required), --scrape-interval 1s, --warm N (Prometheus servers to start at
 * once, default 0).
 */
import { parseArgs } from 'node:util'
import { startPrometheusPool } from './prometheus-pool.js'

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    'scrape-interval': { type: 'string' },
    warm: { type: 'string' }
  }
})
if (!values.dir) {
  console.error(
    'usage: tsx sandbox/prometheus-pool-cli.ts --dir DIR [--scrape-interval 1s] [--warm N]'
  )
  process.exit(2)
}
const pool = await startPrometheusPool({
  dir: values.dir,
  ...(values['scrape-interval'] ? { scrapeInterval: values['scrape-interval'] } : {}),
  warm: Number(values.warm ?? 0)
})
console.log(`pool ${pool.url}`)

let stopping: Promise<void> | undefined
const stop = (): void => {
  stopping ??= pool.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`the Prometheus pool did not stop cleanly: ${String(err)}`)
      process.exit(1)
    }
  )
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.resume()
