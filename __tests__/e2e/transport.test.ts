/**
 * Prometheus behind TLS with a private CA, a bearer token or basic auth, and a tenant header, as
 * managed services put it: dist/index.js against the sandbox, whose real Prometheus sits behind
 * the authenticating HTTPS proxy of sandbox/prometheus-proxy.ts. No credential may reach anything
 * the action prints or writes.
 */
import { jest } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { SANDBOX_CERT } from '../../sandbox/apiserver/tls.js'
import type { Sandbox } from '../../sandbox/index.js'
import { type PrometheusProxy, startPrometheusProxy } from '../../sandbox/prometheus-proxy.js'
import {
  control,
  expectExit,
  expectNoSecrets,
  fastInputs,
  kubeEnv,
  LEASE,
  RECORD_ANNOTATION,
  readLease,
  runAction,
  sandbox,
  versions
} from './harness.js'

jest.setTimeout(180_000)

const TOKEN = `tok-${randomBytes(12).toString('hex')}`
const WRONG_TOKEN = `tok-${randomBytes(12).toString('hex')}`
const TENANT = `tenant-${randomBytes(6).toString('hex')}`
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`
const SECRETS = [TOKEN, WRONG_TOKEN, TENANT, PASSWORD]

describe('Prometheus behind an authenticating HTTPS proxy', () => {
  let sb: Sandbox
  let proxy: PrometheusProxy
  beforeAll(async () => {
    sb = await sandbox()
    proxy = await startPrometheusProxy({
      target: sb.prometheusUrl ?? '',
      tokens: [TOKEN],
      users: { reader: PASSWORD },
      requiredHeaders: { 'X-Scope-OrgID': TENANT }
    })
  })
  afterAll(async () => {
    await proxy?.close()
    await sb?.stop()
  })

  /** Inputs that reach Prometheus through the proxy: its CA, the token, the tenant header. */
  const throughProxy = (extra: Record<string, string> = {}): Record<string, string> =>
    fastInputs(sb, {
      image: 'example.com/reviews:2.0.0',
      'prometheus-url': proxy.url,
      'prometheus-ca': SANDBOX_CERT,
      'prometheus-token': TOKEN,
      'prometheus-headers': `X-Scope-OrgID: ${TENANT}`,
      ...extra
    })

  const refusals: Array<{ name: string; inputs: Record<string, string>; message: RegExp }> = [
    {
      name: 'without prometheus-ca',
      inputs: { 'prometheus-ca': '' },
      message:
        /::error::Prometheus at https:\/\/127\.0\.0\.1:\d+: its TLS certificate is not signed by a trusted CA \(DEPTH_ZERO_SELF_SIGNED_CERT\); set input "prometheus-ca"/
    },
    {
      name: 'with a wrong token',
      inputs: { 'prometheus-token': WRONG_TOKEN },
      message:
        /::error::Prometheus at https:\/\/127\.0\.0\.1:\d+ refused the request \(HTTP 401: invalid credentials\), which carried a bearer token and header X-Scope-OrgID; check inputs "prometheus-token"/
    },
    {
      name: 'without the tenant header',
      inputs: { 'prometheus-headers': '' },
      message:
        /::error::Prometheus at https:\/\/127\.0\.0\.1:\d+ refused the request \(HTTP 401: no X-Scope-OrgID header\), which carried a bearer token; check inputs "prometheus-token" and "prometheus-headers"/
    }
  ]
  it.each(refusals)(
    'refuses $name in preflight and changes nothing',
    async ({ inputs, message }) => {
      const before = versions(sb)
      const run = await runAction(throughProxy(inputs), kubeEnv(sb))
      expectExit(run, 'failure')
      expect(run.log).toContain('::group::Preflight')
      expect(run.log).toMatch(message)
      expect(versions(sb)).toEqual(before)
      expect(sb.api.store.get('leases', 'demo', LEASE)).toBeUndefined()
      await expectNoSecrets(run, SECRETS)
    }
  )

  it('deploys through the proxy with prometheus-ca, prometheus-token and prometheus-headers', async () => {
    proxy.requests.length = 0
    // Two steps: what counts here is how each query travels, not how many checks there are.
    const run = await runAction(throughProxy({ steps: '50,100' }), kubeEnv(sb))
    expectExit(run, 'success')
    expect(run.outputs).toMatchObject({ result: 'promoted', weights: 'blue=0,green=100' })
    // Preflight and every check went through the proxy, with the credentials, and got answers.
    expect(proxy.requests.length).toBeGreaterThan(12)
    for (const r of proxy.requests) {
      expect(r).toMatchObject({ method: 'POST', path: '/api/v1/query', status: 200 })
      expect(r.headers).toMatchObject({
        authorization: `Bearer ${TOKEN}`,
        'x-scope-orgid': TENANT
      })
    }
    expect(existsSync(run.outputs.report ?? '')).toBe(true)
    expect(run.log).toContain(`::add-mask::${TOKEN}`)
    expect(run.log).toContain(`::add-mask::${TENANT}`)
    await expectNoSecrets(run, SECRETS)
  })

  it('takes basic auth from the URL and records the URL without it', async () => {
    await control(sb, '/images', {
      image: 'example.com/reviews:never-ready',
      ready: false,
      notReadyReason: 'ImagePullBackOff'
    })
    proxy.requests.length = 0
    const withUser = proxy.url.replace('https://', `https://reader:${PASSWORD}@`)
    const run = await runAction(
      throughProxy({
        image: 'example.com/reviews:never-ready',
        'prometheus-url': withUser,
        'prometheus-token': '',
        'ready-timeout': '2s',
        'fail-on-rollback': 'false'
      }),
      kubeEnv(sb)
    )
    // Preflight passed through the proxy with basic auth; the candidate then never got ready.
    expectExit(run, 'success')
    expect(run.outputs.result).toBe('rolled-back')
    expect(proxy.requests.length).toBeGreaterThan(0)
    const basic = `Basic ${Buffer.from(`reader:${PASSWORD}`).toString('base64')}`
    for (const r of proxy.requests) expect(r.headers.authorization).toBe(basic)
    expect(readLease(sb)?.record?.config.prometheusUrl).toBe(proxy.url)
    const annotation = sb.api.store.get('leases', 'demo', LEASE)?.metadata.annotations?.[
      RECORD_ANNOTATION
    ]
    expect(annotation).toContain(proxy.url)
    for (const secret of [PASSWORD, 'reader@', basic]) expect(annotation).not.toContain(secret)
    expect(run.log).toContain(`::add-mask::${PASSWORD}`)
    await expectNoSecrets(run, SECRETS)
  })

  it('refuses to promote a paused rollout without the credentials, changing nothing', async () => {
    const paused = await runAction(throughProxy({ steps: '50,100', 'pause-at': '50' }), kubeEnv(sb))
    expectExit(paused, 'success')
    expect(paused.outputs.result).toBe('paused')

    const before = versions(sb)
    const promote = { service: 'reviews', namespace: 'demo', command: 'promote' }
    const refused = await runAction(
      {
        ...promote,
        'prometheus-ca': SANDBOX_CERT,
        'prometheus-headers': `X-Scope-OrgID: ${TENANT}`
      },
      kubeEnv(sb)
    )
    expectExit(refused, 'failure')
    expect(refused.log).toMatch(
      /::error::Prometheus at https:\/\/127\.0\.0\.1:\d+ refused the request \(HTTP 401: no credentials\), which carried header X-Scope-OrgID; check inputs "prometheus-token" and "prometheus-headers"; nothing was changed: give this run the same prometheus-\* inputs as the release/
    )
    expect(versions(sb)).toEqual(before)
    expect(readLease(sb)?.record?.phase).toBe('paused')

    const promoted = await runAction(
      {
        ...promote,
        'prometheus-ca': SANDBOX_CERT,
        'prometheus-token': TOKEN,
        'prometheus-headers': `X-Scope-OrgID: ${TENANT}`
      },
      kubeEnv(sb)
    )
    expectExit(promoted, 'success')
    expect(promoted.outputs.result).toBe('promoted')
    await expectNoSecrets(refused, SECRETS)
    await expectNoSecrets(promoted, SECRETS)
  })
})
