/**
 * The Prometheus pool the e2e sandboxes share: a Prometheus handed to the next sandbox answers
 * only that sandbox's samples, as a fresh one would, and the pool grows when every one is taken.
 * Runs the real Prometheus.
 */
import http from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {
  leasePrometheus,
  startPrometheusPool,
  type PrometheusPool
} from '../../sandbox/prometheus-pool.js'

/** A /metrics target serving one counter, `pool_test_total{source}`, at a value the test sets. */
async function target(source: string, value: number): Promise<{ host: string; close(): void }> {
  const server = http.createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
    res.end(`# TYPE pool_test_total counter\npool_test_total{source="${source}"} ${value}\n`)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const addr = server.address() as { port: number }
  return { host: `127.0.0.1:${addr.port}`, close: () => server.close() }
}

let dir: string
let pool: PrometheusPool
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'prom-pool-'))
  pool = await startPrometheusPool({ dir, warm: 1 })
})
afterAll(async () => {
  await pool.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('Prometheus pool', () => {
  it('hands a Prometheus to the next sandbox wiped of the last one’s series', async () => {
    const a = await target('a', 5)
    const first = await leasePrometheus(pool.url, a.host)
    await first.waitForScrape()
    await first.waitForQuery('pool_test_total')
    await first.stop()
    a.close()

    const b = await target('b', 1)
    const second = await leasePrometheus(pool.url, b.host)
    // The same Prometheus, reused rather than started again.
    expect(second.url).toBe(first.url)
    expect(pool.size()).toBe(1)
    // From the first query on, nothing of `a` is left: no series, no sample in a range.
    expect(await second.query('pool_test_total{source="a"}')).toEqual([])
    expect(await second.query('count_over_time(pool_test_total{source="a"}[10m])')).toEqual([])
    await second.waitForScrape()
    await second.waitForQuery('pool_test_total')
    const samples = await second.query('max_over_time(pool_test_total[10m])')
    expect(samples.map((s) => [s.metric['source'], s.value[1]])).toEqual([['b', '1']])
    expect(await second.query('count_over_time(pool_test_total{source="a"}[10m])')).toEqual([])

    // A second sandbox at the same time gets a Prometheus of its own.
    const c = await target('c', 2)
    const third = await leasePrometheus(pool.url, c.host)
    expect(third.url).not.toBe(second.url)
    expect(pool.size()).toBe(2)
    await third.waitForQuery('pool_test_total')
    expect((await third.query('pool_test_total')).map((s) => s.metric['source'])).toEqual(['c'])
    expect((await second.query('pool_test_total')).map((s) => s.metric['source'])).toEqual(['b'])
    await Promise.all([second.stop(), third.stop()])
    b.close()
    c.close()
  }, 60_000)

  it('refuses a release of a slot that is not taken, and an acquire without a target', async () => {
    const release = await fetch(`${pool.url}/release`, {
      method: 'POST',
      body: JSON.stringify({ slot: 0 })
    })
    expect(release.status).toBe(500)
    expect(await release.text()).toMatch(/slot 0 is not taken/)
    const acquire = await fetch(`${pool.url}/acquire`, { method: 'POST', body: '{}' })
    expect(acquire.status).toBe(400)
    expect(await acquire.text()).toMatch(/needs \{"target": "host:port"\}/)
  })
})
