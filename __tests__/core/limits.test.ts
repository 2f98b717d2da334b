/**
 * What kube-apiserver refuses in what the action writes (k8s.io/apimachinery validation), and
 * that everything the action builds from valid inputs passes those rules.
 */
import { deploymentName } from '../../src/core/color.js'
import {
  annotationsBytes,
  dnsLabelProblem,
  INT32_MAX,
  int32Count,
  labelValueProblem,
  MAX_ANNOTATIONS_BYTES,
  metadataProblems,
  microTime,
  qualifiedNameProblem,
  subdomainProblem
} from '../../src/core/limits.js'
import { subsetPatch } from '../../src/core/subsets.js'
import { buildCandidate, type DeploymentObject } from '../../src/core/workload.js'
import { leaseName, RECORD_ANNOTATION } from '../../src/adapters/lease.js'

describe('qualifiedNameProblem (label keys; annotation keys lower-cased)', () => {
  it.each([
    'version',
    'app.kubernetes.io/managed-by',
    'istio-bluegreen.io/record',
    'Track_1.x',
    'c'.repeat(63),
    `${'p'.repeat(253)}/color`
  ])('accepts %s', (key) => {
    expect(qualifiedNameProblem(key)).toBeUndefined()
  })

  it.each([
    ['', 'name part must be non-empty'],
    ['c'.repeat(64), 'name part must be no more than 63 characters'],
    [`${'p'.repeat(254)}/color`, 'prefix part must be no more than 253 characters'],
    ['Example.com/color', 'prefix part must consist of lower case'],
    ['/color', 'prefix part must be non-empty'],
    ['example.com/', 'name part must be non-empty'],
    ['a/b/c', "at most one '/'"],
    ['-version', 'name part must consist of'],
    ['bad label!', 'name part must consist of']
  ])('refuses %j: %s', (key, problem) => {
    expect(qualifiedNameProblem(key)).toContain(problem)
  })
})

describe('labelValueProblem', () => {
  it.each(['', 'blue', 'istio-bluegreen', 'v1.2_3', 'x'.repeat(63)])('accepts %j', (v) => {
    expect(labelValueProblem(v)).toBeUndefined()
  })
  it.each([
    ['x'.repeat(64), 'no more than 63'],
    ['-blue', 'must be empty or consist'],
    ['blue.', 'must be empty or consist'],
    ['a b', 'must be empty or consist']
  ])('refuses %j', (v, problem) => {
    expect(labelValueProblem(v)).toContain(problem)
  })
})

describe('names: subdomain ≤ 253, label ≤ 63', () => {
  it.each([
    ['a'.repeat(253), undefined],
    ['a'.repeat(254), 'no more than 253'],
    ['reviews.demo', undefined],
    ['Reviews', 'lower case']
  ])('subdomain %s', (name, problem) => {
    if (problem) expect(subdomainProblem(name)).toContain(problem)
    else expect(subdomainProblem(name)).toBeUndefined()
  })
  it.each([
    ['a'.repeat(63), undefined],
    ['a'.repeat(64), 'no more than 63'],
    ['reviews.demo', 'lower case']
  ])('label %s', (name, problem) => {
    if (problem) expect(dnsLabelProblem(name)).toContain(problem)
    else expect(dnsLabelProblem(name)).toBeUndefined()
  })
})

describe('annotationsBytes and the 256 KiB total', () => {
  it('counts keys and values in UTF-8 bytes, as Go len does', () => {
    expect(annotationsBytes({ a: 'bc', 'd/e': '→' })).toBe(1 + 2 + 3 + 3)
  })
  it('refuses a total above 262144 bytes, accepts exactly that', () => {
    const at = { k: 'x'.repeat(MAX_ANNOTATIONS_BYTES - 1) }
    expect(metadataProblems({ annotations: at })).toEqual([])
    expect(metadataProblems({ annotations: { ...at, l: '' } })).toEqual([
      'annotations: 262145 bytes in all, more than 262144'
    ])
  })
  it('names bad label keys, label values and annotation keys', () => {
    expect(
      metadataProblems({
        labels: { 'x/y/z': 'ok', app: '-bad' },
        annotations: { 'Example.COM/Key': 'case does not matter', 'bad key': '' }
      })
    ).toEqual([
      'label key "x/y/z": a qualified name has at most one \'/\'',
      expect.stringContaining('label app="-bad"'),
      expect.stringContaining('annotation key "bad key"')
    ])
  })
})

describe('microTime (Lease acquireTime, renewTime)', () => {
  it.each([
    [Date.UTC(2026, 11, 2, 5, 0, 0, 123), '2026-12-02T05:00:00.123000Z'],
    [Date.UTC(2026, 11, 2, 5, 0, 0, 0), '2026-12-02T05:00:00.000000Z'],
    // A fractional millisecond (performance clocks) is dropped, never printed as more digits.
    [Date.UTC(2026, 11, 2, 5, 0, 0, 7) + 0.9, '2026-12-02T05:00:00.007000Z']
  ])('%d is %s: exactly six fractional digits', (ms, text) => {
    expect(microTime(ms)).toBe(text)
    expect(microTime(ms)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
  })
  it('refuses a time RFC 3339 cannot write (a year past 9999)', () => {
    expect(() => microTime(Date.UTC(10000, 0, 1))).toThrow(RangeError)
  })
})

describe('int32Count (leaseTransitions)', () => {
  it.each([
    [0, 0],
    [7, 7],
    [INT32_MAX, INT32_MAX],
    [INT32_MAX + 1, INT32_MAX],
    [-1, 0],
    [Number.NaN, 0]
  ])('%d → %d', (n, expected) => {
    expect(int32Count(n)).toBe(expected)
  })
})

describe('what the action builds from the longest valid inputs', () => {
  // inputs.ts: service ≤ 57 (so <service>-green ≤ 63), color-label any qualified name.
  const service = `s${'x'.repeat(56)}`
  const colorLabel = `${'p'.repeat(253)}/${'c'.repeat(63)}`
  const template: DeploymentObject = {
    metadata: { name: service, labels: { app: service }, annotations: { owner: 'team' } },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: service } },
      template: {
        metadata: { labels: { app: service } },
        spec: { containers: [{ name: 'app', image: 'example.com/app:1' }] }
      }
    }
  }

  it('Deployment names are DNS-1123 labels (≤ 63), the Lease name a subdomain', () => {
    for (const color of ['blue', 'green'] as const) {
      expect(dnsLabelProblem(deploymentName(service, color))).toBeUndefined()
    }
    expect(subdomainProblem(leaseName(service))).toBeUndefined()
    expect(qualifiedNameProblem(RECORD_ANNOTATION)).toBeUndefined()
  })

  it('the candidate Deployment has valid labels, selector and pod labels, and an int32 replicas', () => {
    const built = buildCandidate(template, {
      service,
      namespace: 'demo',
      color: 'green',
      colorLabel,
      image: 'example.com/app:2',
      replicas: 3
    })
    if ('error' in built) throw new Error(built.error)
    const d = built.deployment
    expect(metadataProblems(d.metadata)).toEqual([])
    expect(metadataProblems({ labels: d.spec?.selector?.matchLabels })).toEqual([])
    expect(metadataProblems({ labels: d.spec?.template?.metadata?.labels })).toEqual([])
    expect(Number.isInteger(d.spec?.replicas)).toBe(true)
  })

  it('the DestinationRule subsets name labels a server accepts', () => {
    const plan = subsetPatch(
      { host: service },
      '1',
      { name: service, namespace: 'demo' },
      colorLabel,
      service
    )
    if ('error' in plan) throw new Error(plan.error)
    const labels = plan.ops.flatMap((op) => {
      const v = ('value' in op ? op.value : undefined) as
        { labels?: Record<string, string> } | Array<{ labels?: Record<string, string> }> | undefined
      return (Array.isArray(v) ? v : [v]).flatMap((s) => (s?.labels ? [s.labels] : []))
    })
    expect(labels.length).toBeGreaterThan(0)
    for (const l of labels) expect(metadataProblems({ labels: l })).toEqual([])
  })
})
