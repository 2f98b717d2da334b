/**
 * Starts a real Prometheus (the Debian/Ubuntu package's binary) that scrapes
 * the mesh simulator, so the action's queries run against the real PromQL
 * engine. Each call gets its own config, data directory and free port, so test
 * suites can run side by side.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import yaml from 'js-yaml'

export const DEFAULT_PROMETHEUS_BIN = '/usr/bin/prometheus'
export const MESH_JOB = 'istio-mesh'

const INSTALL_HINT =
  'Install it with `sudo apt-get install -y prometheus` (the service it enables is not needed: ' +
  '`sudo systemctl disable --now prometheus`), or set PROMETHEUS_BIN to a prometheus binary.'

export interface PrometheusOptions {
  /** Directory for the config, data and log. */
  dir: string
  /** host:port targets serving the metrics (the mesh simulator). */
  targets: string[]
  /** Path of the targets' metrics (default `/metrics`). */
  metricsPath?: string
  /**
   * Serve the admin API (`--web.enable-admin-api`), whose series deletion lets a pooled
   * Prometheus start over for its next sandbox (prometheus-pool.ts).
   */
  adminApi?: boolean
  /** Prometheus duration, e.g. `1s` (default). */
  scrapeInterval?: string
  evaluationInterval?: string
  /** Binary; default env PROMETHEUS_BIN, then /usr/bin/prometheus. */
  bin?: string
  readyTimeoutMs?: number
}

export interface PromSample {
  metric: Record<string, string>
  value: [number, string]
}

export interface Prometheus {
  url: string
  pid: number
  configPath: string
  logPath: string
  dataDir: string
  /** Runs an instant query and returns the vector result. */
  query(promql: string): Promise<PromSample[]>
  /** Resolves once every target has been scraped successfully at least once. */
  waitForScrape(timeoutMs?: number): Promise<void>
  /** Resolves once `promql` returns at least one sample (e.g. a rate that needs two scrapes). */
  waitForQuery(promql: string, timeoutMs?: number): Promise<void>
  /** Stops Prometheus and waits for it to exit. */
  stop(): Promise<void>
}

export class PrometheusStartError extends Error {
  override name = 'PrometheusStartError'
}

const DURATION = /^(\d+(ms|s|m|h))+$/

/** The prometheus.yml for scraping the given targets. */
export function prometheusConfig(o: {
  targets: string[]
  metricsPath?: string
  scrapeInterval: string
  evaluationInterval: string
}): string {
  for (const d of [o.scrapeInterval, o.evaluationInterval]) {
    if (!DURATION.test(d)) throw new RangeError(`not a Prometheus duration: ${JSON.stringify(d)}`)
  }
  return yaml.dump({
    global: {
      scrape_interval: o.scrapeInterval,
      // Prometheus refuses a timeout longer than the interval (default timeout is 10s).
      scrape_timeout: o.scrapeInterval,
      evaluation_interval: o.evaluationInterval
    },
    scrape_configs: [
      {
        job_name: MESH_JOB,
        metrics_path: o.metricsPath ?? '/metrics',
        static_configs: [{ targets: o.targets }]
      }
    ]
  })
}

/**
 * Writes the config and starts Prometheus on a free loopback port. Any data
 * from an earlier run in the same directory is wiped first: old counters would
 * otherwise show up in range queries. Throws PrometheusStartError, with the
 * install hint, when the binary is missing or never becomes ready.
 */
export async function startPrometheus(o: PrometheusOptions): Promise<Prometheus> {
  const dir = path.resolve(o.dir)
  const bin = o.bin ?? process.env['PROMETHEUS_BIN'] ?? DEFAULT_PROMETHEUS_BIN
  const scrapeInterval = o.scrapeInterval ?? '1s'
  const configPath = path.join(dir, 'prometheus.yml')
  const dataDir = path.join(dir, 'prometheus-data')
  const logPath = path.join(dir, 'prometheus.log')
  await mkdir(dir, { recursive: true })
  await writeFile(
    configPath,
    prometheusConfig({
      targets: o.targets,
      ...(o.metricsPath !== undefined ? { metricsPath: o.metricsPath } : {}),
      scrapeInterval,
      evaluationInterval: o.evaluationInterval ?? scrapeInterval
    })
  )
  // Another process can take the free port between our probe and Prometheus binding it; retry then.
  for (let attempt = 1; ; attempt++) {
    await rm(dataDir, { recursive: true, force: true })
    const port = await freePort()
    try {
      return await launch({
        bin,
        configPath,
        dataDir,
        logPath,
        port,
        adminApi: o.adminApi ?? false,
        readyTimeoutMs: o.readyTimeoutMs ?? 15_000
      })
    } catch (err) {
      const log = await readFile(logPath, 'utf8').catch(() => '')
      if (attempt < 3 && log.includes('address already in use')) continue
      throw err
    }
  }
}

async function launch(o: {
  bin: string
  configPath: string
  dataDir: string
  logPath: string
  port: number
  adminApi: boolean
  readyTimeoutMs: number
}): Promise<Prometheus> {
  const url = `http://127.0.0.1:${o.port}`
  const logFd = openSync(o.logPath, 'w')
  let child: ChildProcess
  try {
    child = spawn(
      o.bin,
      [
        `--config.file=${o.configPath}`,
        `--storage.tsdb.path=${o.dataDir}`,
        `--web.listen-address=127.0.0.1:${o.port}`,
        '--storage.tsdb.retention.time=1h',
        ...(o.adminApi ? ['--web.enable-admin-api'] : [])
      ],
      { stdio: ['ignore', logFd, logFd] }
    )
  } finally {
    closeSync(logFd)
  }
  const exited = new Promise<{ code: number | null; signal: string | null; error?: Error }>(
    (resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }))
      child.once('exit', (code, signal) => resolve({ code, signal }))
    }
  )
  let exitInfo: { code: number | null; signal: string | null; error?: Error } | undefined
  void exited.then((e) => {
    exitInfo = e
    liveChildren.delete(child)
  })
  if (child.pid !== undefined) liveChildren.add(child)
  installExitHook()

  const deadline = Date.now() + o.readyTimeoutMs
  for (;;) {
    if (exitInfo) {
      const log = await readFile(o.logPath, 'utf8').catch(() => '')
      if (exitInfo.error) {
        const code = (exitInfo.error as NodeJS.ErrnoException).code
        throw new PrometheusStartError(
          code === 'ENOENT'
            ? `Prometheus is missing: ${o.bin} not found. ${INSTALL_HINT}`
            : `Prometheus could not be started (${o.bin}: ${exitInfo.error.message}). ${INSTALL_HINT}`,
          { cause: exitInfo.error }
        )
      }
      throw new PrometheusStartError(
        `Prometheus (${o.bin}) exited with ${exitInfo.code ?? exitInfo.signal} before it was ready. ` +
          `Is it installed and working? ${INSTALL_HINT}\nLast log lines (${o.logPath}):\n${tail(log)}`
      )
    }
    if (await isReady(url)) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      await exited
      const log = await readFile(o.logPath, 'utf8').catch(() => '')
      throw new PrometheusStartError(
        `Prometheus (${o.bin}) was not ready within ${o.readyTimeoutMs} ms. ${INSTALL_HINT}\n` +
          `Last log lines (${o.logPath}):\n${tail(log)}`
      )
    }
    await sleep(100)
  }

  return {
    ...prometheusClient(url),
    pid: child.pid ?? -1,
    configPath: o.configPath,
    logPath: o.logPath,
    dataDir: o.dataDir,
    async stop() {
      if (exitInfo) return
      child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(killer)
    }
  }
}

/** The query side of a Prometheus at `url`: what tests and the sandbox ask of it. */
export function prometheusClient(
  url: string
): Pick<Prometheus, 'url' | 'query' | 'waitForScrape' | 'waitForQuery'> {
  const query = async (promql: string): Promise<PromSample[]> => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`)
    const body = (await res.json()) as {
      status: string
      error?: string
      data?: { resultType: string; result: PromSample[] }
    }
    if (body.status !== 'success' || !body.data) {
      throw new Error(
        `Prometheus query failed (${res.status}): ${body.error ?? 'no data'}: ${promql}`
      )
    }
    if (body.data.resultType !== 'vector') throw new Error(`expected a vector result for ${promql}`)
    return body.data.result
  }
  return {
    url,
    query,
    async waitForScrape(timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs
      for (;;) {
        const up = await query(`up{job="${MESH_JOB}"}`).catch(() => [])
        if (up.length > 0 && up.every((s) => s.value[1] === '1')) return
        if (Date.now() > until) {
          throw new Error(
            `Prometheus has not scraped ${MESH_JOB} successfully within ${timeoutMs} ms`
          )
        }
        await sleep(100)
      }
    },
    async waitForQuery(promql: string, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs
      while ((await query(promql).catch(() => [])).length === 0) {
        if (Date.now() > until)
          throw new Error(`Prometheus has no data for ${promql} after ${timeoutMs} ms`)
        await sleep(100)
      }
    }
  }
}

async function isReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })
    await res.arrayBuffer()
    return res.status === 200
  } catch {
    // Not listening yet: the caller polls until its deadline.
    return false
  }
}

/** A port free on the loopback interface right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n')
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/**
 * Prometheus children still running. If the process exits without stop() (a
 * crashed test worker, an uncaught error in the CLI), they would outlive it and
 * hold ports and disk, so one exit hook kills whatever is left.
 */
const liveChildren = new Set<ChildProcess>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const c of liveChildren) c.kill('SIGKILL')
  })
}
