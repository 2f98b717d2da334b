/**
 * A pool of real Prometheus servers that the sandboxes of one test run take turns on, so a
 * sandbox does not wait the ~5 s a fresh Prometheus takes to its first scrape (its discovery and
 * scrape managers hand over new targets on a 5 s ticker).
 *
 * Each pooled Prometheus scrapes one fixed target that never changes, a slot of the pool's own
 * HTTP server (`/slots/<i>/metrics`); the slot forwards the scrape to the mesh of the sandbox that
 * holds it, and answers 503 while no sandbox does. Handing a slot to the next sandbox deletes
 * every series up to that moment (the admin API's `delete_series`, which hides the samples from
 * every query at once), so the new sandbox sees only its own counters, as with a Prometheus of its
 * own. The action's queries are unchanged: a sandbox still has a Prometheus URL of its own while it
 * holds the slot, and no label tells sandboxes apart.
 *
 * The pool grows when every slot is taken and never shrinks; `stop()` ends every Prometheus.
 */
import http from 'node:http'
import path from 'node:path'
import { prometheusClient, startPrometheus, type Prometheus } from './prometheus.js'

export interface PrometheusPoolOptions {
  /** Directory for the pooled Prometheus servers' config, data and logs. */
  dir: string
  /** Scrape and evaluation interval of every pooled Prometheus (default `1s`). */
  scrapeInterval?: string
  /** Binary; default env PROMETHEUS_BIN, then /usr/bin/prometheus. */
  bin?: string
  /**
   * How many Prometheus servers to start right away, in the background (default 0): as many as
   * sandboxes will run at once, so not even the first waits for a fresh one.
   */
  warm?: number
}

export interface PrometheusPool {
  /** Base URL of the pool's HTTP server: `POST /acquire`, `POST /release`, `GET /slots/<i>/metrics`. */
  url: string
  /** How many Prometheus servers the pool runs, taken or free. */
  size(): number
  stop(): Promise<void>
}

/** What `POST /acquire` answers. */
export interface PrometheusLease {
  slot: number
  url: string
  pid: number
  configPath: string
  logPath: string
  dataDir: string
}

interface Slot {
  index: number
  prometheus: Prometheus
  /** host:port of the mesh whose metrics the slot serves; undefined while the slot is free. */
  target?: string
}

export async function startPrometheusPool(o: PrometheusPoolOptions): Promise<PrometheusPool> {
  const slots: Slot[] = []
  const free: Slot[] = []
  let stopping = false
  let baseUrl = ''

  const newSlot = async (): Promise<Slot> => {
    const index = slots.length
    // Reserve the index before the await, so two acquires at once get two slots.
    const placeholder = { index } as Slot
    slots.push(placeholder)
    try {
      placeholder.prometheus = await startPrometheus({
        dir: path.join(o.dir, `prometheus-${index}`),
        targets: [new URL(baseUrl).host],
        metricsPath: `/slots/${index}/metrics`,
        adminApi: true,
        ...(o.scrapeInterval !== undefined ? { scrapeInterval: o.scrapeInterval } : {}),
        ...(o.bin !== undefined ? { bin: o.bin } : {})
      })
    } catch (err) {
      slots.splice(slots.indexOf(placeholder), 1)
      throw err
    }
    return placeholder
  }

  // Slots being started ahead of any acquire; an acquire with no free slot takes the first of
  // these before it starts one more.
  const warming: Array<Promise<Slot | undefined>> = []
  const acquire = async (target: string): Promise<PrometheusLease> => {
    if (stopping) throw new Error('the Prometheus pool is stopping')
    const slot = free.pop() ?? (await warming.shift()) ?? (await newSlot())
    try {
      await deleteAllSeries(slot.prometheus.url)
    } catch (err) {
      // A Prometheus that cannot be wiped would show the last sandbox's counters: it is not put
      // back in `free`, so it is never handed out again.
      await slot.prometheus.stop().catch(() => undefined)
      throw err
    }
    slot.target = target
    const p = slot.prometheus
    return {
      slot: slot.index,
      url: p.url,
      pid: p.pid,
      configPath: p.configPath,
      logPath: p.logPath,
      dataDir: p.dataDir
    }
  }

  const release = (index: number): void => {
    const slot = slots[index]
    if (!slot?.target) {
      throw new RangeError(`slot ${index} is not taken: release only what acquire handed out`)
    }
    delete slot.target
    free.push(slot)
  }

  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(err instanceof Error ? err.message : String(err))
    })
  })
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const m = /^\/slots\/(\d+)\/metrics$/.exec(req.url ?? '')
    if (req.method === 'GET' && m) {
      const target = slots[Number(m[1])]?.target
      if (!target) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end(`slot ${m[1]} is free`)
        return
      }
      const upstream = await fetch(`http://${target}/metrics`)
      res.writeHead(upstream.status, {
        'content-type': upstream.headers.get('content-type') ?? 'text/plain'
      })
      res.end(Buffer.from(await upstream.arrayBuffer()))
      return
    }
    if (req.method === 'POST' && (req.url === '/acquire' || req.url === '/release')) {
      const body = JSON.parse(await readBody(req)) as { target?: unknown; slot?: unknown }
      if (req.url === '/acquire') {
        if (typeof body.target !== 'string' || !/^[\w.-]+:\d+$/.test(body.target)) {
          res.writeHead(400).end('POST /acquire needs {"target": "host:port"} of a mesh')
          return
        }
        const lease = await acquire(body.target)
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(lease))
      } else {
        if (typeof body.slot !== 'number') {
          res.writeHead(400).end('POST /release needs {"slot": n} from an acquire')
          return
        }
        release(body.slot)
        res.writeHead(204).end()
      }
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`no ${req.method} ${req.url}`)
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const addr = server.address()
  baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`
  for (let i = 0; i < (o.warm ?? 0); i++) {
    // A warm-up that fails is not fatal: the acquire that would have taken it starts its own,
    // and reports that one's failure.
    warming.push(newSlot().catch(() => undefined))
  }

  return {
    url: baseUrl,
    size: () => slots.length,
    async stop() {
      stopping = true
      await Promise.allSettled(warming)
      await Promise.allSettled(slots.map((s) => s.prometheus?.stop()))
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/**
 * Take a Prometheus from the pool at `poolUrl` for the mesh at `target` (host:port). Its `stop()`
 * hands it back (the Prometheus keeps running for the next sandbox).
 */
export async function leasePrometheus(poolUrl: string, target: string): Promise<Prometheus> {
  const res = await fetch(`${poolUrl}/acquire`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ target })
  }).catch((err: unknown) => {
    throw new Error(
      `the Prometheus pool at ${poolUrl} (SANDBOX_PROMETHEUS_POOL) does not answer: ${String(err)}; ` +
        'unset SANDBOX_PROMETHEUS_POOL to start a Prometheus per sandbox',
      { cause: err }
    )
  })
  const text = await res.text()
  if (res.status !== 200) {
    throw new Error(`the Prometheus pool at ${poolUrl} gave no Prometheus (${res.status}): ${text}`)
  }
  const lease = JSON.parse(text) as PrometheusLease
  let released: Promise<void> | undefined
  return {
    ...prometheusClient(lease.url),
    pid: lease.pid,
    configPath: lease.configPath,
    logPath: lease.logPath,
    dataDir: lease.dataDir,
    stop: () =>
      (released ??= (async () => {
        const r = await fetch(`${poolUrl}/release`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ slot: lease.slot })
        })
        if (r.status !== 204) {
          throw new Error(
            `the Prometheus pool refused to take slot ${lease.slot} back: ${await r.text()}`
          )
        }
      })())
  }
}

/** Delete every series up to now, so the next sandbox's queries see only its own samples. */
async function deleteAllSeries(url: string): Promise<void> {
  const end = (Date.now() / 1000).toFixed(3)
  const res = await fetch(
    `${url}/api/v1/admin/tsdb/delete_series?match[]=${encodeURIComponent('{__name__=~".+"}')}&end=${end}`,
    { method: 'POST' }
  )
  if (res.status !== 204) {
    throw new Error(
      `Prometheus at ${url} did not delete its series (${res.status}: ${await res.text()}); ` +
        'a pooled Prometheus needs --web.enable-admin-api'
    )
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}
