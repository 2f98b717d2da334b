import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import yaml from 'js-yaml'
import {
  prometheusConfig,
  PrometheusStartError,
  startPrometheus
} from '../../sandbox/prometheus.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'prom-launcher-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('Prometheus launcher', () => {
  it('writes one scrape job with the configured intervals', () => {
    const config = yaml.load(
      prometheusConfig({
        targets: ['127.0.0.1:9999'],
        scrapeInterval: '2s',
        evaluationInterval: '1s'
      })
    )
    expect(config).toEqual({
      global: { scrape_interval: '2s', scrape_timeout: '2s', evaluation_interval: '1s' },
      scrape_configs: [
        {
          job_name: 'istio-mesh',
          metrics_path: '/metrics',
          static_configs: [{ targets: ['127.0.0.1:9999'] }]
        }
      ]
    })
    expect(() =>
      prometheusConfig({ targets: [], scrapeInterval: 'soon', evaluationInterval: '1s' })
    ).toThrow(/not a Prometheus duration/)
  })

  it('says how to install Prometheus when the binary is missing', async () => {
    const err = await startPrometheus({
      dir,
      targets: ['127.0.0.1:1'],
      bin: path.join(dir, 'no-prometheus')
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PrometheusStartError)
    expect((err as Error).message).toMatch(/Prometheus is missing/)
    expect((err as Error).message).toContain('sudo apt-get install -y prometheus')
  })

  it('reports the log when Prometheus exits before it is ready', async () => {
    const err = await startPrometheus({ dir, targets: ['127.0.0.1:1'], bin: '/bin/false' }).catch(
      (e: unknown) => e
    )
    expect(err).toBeInstanceOf(PrometheusStartError)
    expect((err as Error).message).toMatch(/exited with 1 before it was ready/)
    expect((err as Error).message).toContain('sudo apt-get install -y prometheus')
  })

  it('starts, answers queries and stops', async () => {
    const p = await startPrometheus({ dir, targets: ['127.0.0.1:1'] })
    try {
      const res = await p.query('vector(42)')
      expect(res[0]?.value[1]).toBe('42')
      await expect(p.query('sum(')).rejects.toThrow(/Prometheus query failed/)
    } finally {
      await p.stop()
    }
    expect(() => process.kill(p.pid, 0)).toThrow()
  })
})
