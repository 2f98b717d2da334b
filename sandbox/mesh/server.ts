/**
 * Runs the mesh simulator on the wall clock and serves what the sidecars would
 * expose: `GET /metrics` for Prometheus and `GET /state` for people and tests.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { BehaviourRegistry, ObjectStore } from '../types.js'
import {
  MeshSimulator,
  type MeshState,
  type ProbeRequest,
  type ProbeResult,
  type TrafficSettings
} from './simulator.js'

export interface MeshOptions {
  store: Pick<ObjectStore, 'list' | 'onChange'>
  behaviours: BehaviourRegistry
  rps?: number
  /** Loopback port for /metrics and /state; 0 (default) picks a free one. */
  port?: number
  /** How often traffic is sent; default 100 ms, so routing changes apply well within a second. */
  tickMs?: number
}

export interface Mesh {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string
  /** host:port, as a Prometheus scrape target. */
  target: string
  simulator: MeshSimulator
  readonly rps: number
  setRps(rps: number): void
  readonly traffic: TrafficSettings
  setTraffic(t: TrafficSettings): void
  state(): MeshState
  /** Sends shaped requests now (after the traffic owed so far); see MeshSimulator.probe. */
  probe(p: ProbeRequest): ProbeResult
  close(): Promise<void>
}

export async function startMesh(o: MeshOptions): Promise<Mesh> {
  const simulator = new MeshSimulator({
    store: o.store,
    behaviours: o.behaviours,
    ...(o.rps !== undefined ? { rps: o.rps } : {})
  })
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' })
        .end('method not allowed\n')
      return
    }
    if (path === '/metrics') {
      // Scrapes see counts up to this instant, not up to the last tick.
      try {
        simulator.tick()
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`tick failed: ${String(err)}\n`)
        return
      }
      res
        .writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
        .end(simulator.metricsText())
    } else if (path === '/state') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(simulator.state(), null, 2) + '\n')
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  let lastError = ''
  const timer = setInterval(() => {
    try {
      simulator.tick()
      lastError = ''
    } catch (err) {
      // A bad object in the store must not kill the whole sandbox; say so once, keep ticking.
      const msg = err instanceof Error ? (err.stack ?? err.message) : String(err)
      if (msg !== lastError) console.error(`mesh simulator: tick failed: ${msg}`)
      lastError = msg
    }
  }, o.tickMs ?? 100)
  let closed: Promise<void> | undefined
  return {
    url: `http://127.0.0.1:${port}`,
    target: `127.0.0.1:${port}`,
    simulator,
    get rps() {
      return simulator.rps
    },
    setRps: (rps) => simulator.setRps(rps),
    get traffic() {
      return simulator.traffic
    },
    setTraffic: (t) => simulator.setTraffic(t),
    state: () => simulator.state(),
    probe: (p) => {
      simulator.tick()
      return simulator.probe(p)
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        clearInterval(timer)
        simulator.close()
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closed
    }
  }
}
