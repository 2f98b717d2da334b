/**
 * Injection: a value meant to break out of a PromQL label matcher is refused as an input, and
 * even if one reached a query it would stay inside its quoted literal: the real Prometheus finds
 * no such workload instead of evaluating `vector(1)`.
 */
import { jest } from '@jest/globals'
import { Prometheus } from '../../src/adapters/prometheus.js'
import { readSettings } from '../../src/inputs.js'
import type { Sandbox } from '../../sandbox/index.js'
import { sandbox } from './harness.js'

jest.setTimeout(60_000)

const HOSTILE = [
  'x"}or vector(1) or{a="',
  'reviews-blue"} or vector(1) #',
  'reviews-blue\\"} or vector(1) or {a=\\"',
  'reviews-blue"\n} or vector(1)'
]

describe('injection', () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await sandbox()
  })
  afterAll(async () => {
    await sb.stop()
  })

  it.each(HOSTILE)('refuses %j as a service, namespace or object name', (value) => {
    for (const input of ['service', 'namespace', 'virtual-service', 'destination-rule']) {
      const inputs: Record<string, string> = {
        service: 'reviews',
        image: 'example.com/reviews:2.0.0',
        'prometheus-url': 'http://127.0.0.1:9090',
        [input]: value
      }
      expect(() => readSettings((name) => inputs[name] ?? '')).toThrow(
        `input "${input}": "${value}" is not a valid`
      )
    }
  })

  it('keeps hostile values inside their label matcher on the real Prometheus', async () => {
    const prometheus = new Prometheus(sb.prometheusUrl as string)
    const selector = { namespace: 'demo', reporter: 'destination' as const }
    // The real workload has data, so an empty answer below means "no such workload".
    const real = await prometheus.traffic({ ...selector, workload: 'reviews-blue' }, 5000)
    expect(real.rps).toBeGreaterThan(0)
    for (const workload of HOSTILE) {
      expect(await prometheus.traffic({ ...selector, workload }, 5000)).toEqual({})
    }
  })
})
