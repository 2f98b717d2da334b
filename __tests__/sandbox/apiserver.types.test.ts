/**
 * Built-in kinds decode into Go structs in kube-apiserver: integer fields refuse fractions,
 * strings and out-of-range numbers, and MicroTimes must be RFC 3339 with six fractional digits
 * (400 BadRequest with the decoder's words; 422 for patches, whose result is decoded). Leases are
 * validated as ValidateLeaseSpec does (422 Invalid with field paths).
 */
import { microTimeError } from '../../sandbox/apiserver/gotime.js'
import type { KubeObject } from '../../sandbox/types.js'
import {
  DEPLOY_PATH,
  LEASE_PATH,
  NS,
  SVC_PATH,
  deployment,
  seed,
  startHarness,
  type Harness
} from './apiserver.harness.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness({ controllerDelayMs: 60_000 })
  seed(h.server.store)
})
afterAll(async () => {
  await h.close()
})

const lease = (name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name },
  spec
})

/** A Deployment body as text, with `spec` merged in (and raw number text where needed). */
function deploymentText(
  name: string,
  edit: (d: KubeObject) => void,
  raw?: [string, string]
): string {
  const d = deployment(name, 'x', 'img:1', 1)
  edit(d)
  const text = JSON.stringify(d)
  return raw ? text.replace(raw[0], raw[1]) : text
}

const LEASE_DECODE = 'Lease in version "v1" cannot be handled as a Lease: '
const DEPLOY_DECODE = 'Deployment in version "v1" cannot be handled as a Deployment: '

describe('integer fields of built-ins refuse what does not decode into their Go type (400)', () => {
  it.each([
    [
      'a fractional leaseDurationSeconds',
      LEASE_PATH,
      JSON.stringify(lease('l1', { leaseDurationSeconds: 7.5 })),
      `${LEASE_DECODE}json: cannot unmarshal number 7.5 into Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32`
    ],
    [
      'a string leaseTransitions',
      LEASE_PATH,
      JSON.stringify(lease('l2', { leaseTransitions: '3' })),
      `${LEASE_DECODE}json: cannot unmarshal string into Go struct field LeaseSpec.spec.leaseTransitions of type int32`
    ],
    [
      'a leaseDurationSeconds past int32',
      LEASE_PATH,
      JSON.stringify(lease('l3', { leaseDurationSeconds: 2147483648 })),
      `${LEASE_DECODE}json: cannot unmarshal number 2147483648 into Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32`
    ],
    [
      'a fractional replicas',
      DEPLOY_PATH,
      deploymentText('d1', (d) => Object.assign(d.spec ?? {}, { replicas: 1.5 })),
      `${DEPLOY_DECODE}json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32`
    ],
    [
      'a whole number written with a fraction (the text is what Go parses)',
      DEPLOY_PATH,
      deploymentText('d2', (d) => Object.assign(d.spec ?? {}, { revisionHistoryLimit: 3 }), [
        '"revisionHistoryLimit":3',
        '"revisionHistoryLimit":3.0'
      ]),
      `${DEPLOY_DECODE}json: cannot unmarshal number 3.0 into Go struct field DeploymentSpec.spec.revisionHistoryLimit of type int32`
    ],
    [
      'a string progressDeadlineSeconds',
      DEPLOY_PATH,
      deploymentText('d3', (d) => Object.assign(d.spec ?? {}, { progressDeadlineSeconds: '600' })),
      `${DEPLOY_DECODE}json: cannot unmarshal string into Go struct field DeploymentSpec.spec.progressDeadlineSeconds of type int32`
    ],
    [
      'a fractional terminationGracePeriodSeconds (int64)',
      DEPLOY_PATH,
      deploymentText('d4', (d) => {
        const template = d.spec?.template as { spec: Record<string, unknown> }
        template.spec.terminationGracePeriodSeconds = 30.5
      }),
      `${DEPLOY_DECODE}json: cannot unmarshal number 30.5 into Go struct field PodSpec.spec.template.spec.terminationGracePeriodSeconds of type int64`
    ],
    [
      'a container port past int32 (list indices are not in the path)',
      DEPLOY_PATH,
      deploymentText('d5', (d) => {
        const template = d.spec?.template as {
          spec: { containers: Array<Record<string, unknown>> }
        }
        Object.assign(template.spec.containers[0] ?? {}, { ports: [{ containerPort: 4294967296 }] })
      }),
      `${DEPLOY_DECODE}json: cannot unmarshal number 4294967296 into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32`
    ],
    [
      'a fractional maxSurge (IntOrString decodes itself: no field path)',
      DEPLOY_PATH,
      deploymentText('d6', (d) =>
        Object.assign(d.spec ?? {}, {
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1.5 } }
        })
      ),
      `${DEPLOY_DECODE}json: cannot unmarshal number 1.5 into Go value of type int32`
    ],
    [
      'the first of two bad fields, in document order',
      DEPLOY_PATH,
      deploymentText('d7', (d) =>
        Object.assign(d.spec ?? {}, { minReadySeconds: true, revisionHistoryLimit: 'x' })
      ),
      `${DEPLOY_DECODE}json: cannot unmarshal bool into Go struct field DeploymentSpec.spec.minReadySeconds of type int32`
    ],
    [
      'a string Service port',
      SVC_PATH,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 's1' },
        spec: { ports: [{ port: '80' }] }
      }),
      'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32'
    ],
    [
      'a fractional Service targetPort',
      SVC_PATH,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 's2' },
        spec: { ports: [{ port: 80, targetPort: 80.5 }] }
      }),
      'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal number 80.5 into Go value of type int32'
    ]
  ])('%s', async (_what, path, body, message) => {
    const r = await h.call('POST', path, { body })
    expect(r.status).toBe(400)
    expect(r.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason: 'BadRequest',
      code: 400
    })
  })

  it('refuses them in a PUT, a YAML body and a Scale too, and stores nothing', async () => {
    const before = h.server.store.get('leases', NS, 'reviews-lock') as KubeObject
    const put = await h.call('PUT', `${LEASE_PATH}/reviews-lock`, {
      body: { ...before, spec: { ...before.spec, leaseDurationSeconds: 7.5 } }
    })
    expect(put.status).toBe(400)
    expect(h.server.store.get('leases', NS, 'reviews-lock')).toEqual(before)
    const yaml = await h.call('POST', DEPLOY_PATH, {
      contentType: 'application/yaml',
      body: 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: y1}\nspec: {replicas: 2.5}\n'
    })
    expect(yaml.status).toBe(400)
    expect(yaml.body.message).toBe(
      `${DEPLOY_DECODE}json: cannot unmarshal number 2.5 into Go struct field DeploymentSpec.spec.replicas of type int32`
    )
    const scale = await h.call('PUT', `${DEPLOY_PATH}/reviews-blue/scale`, {
      body: {
        apiVersion: 'autoscaling/v1',
        kind: 'Scale',
        metadata: { name: 'reviews-blue' },
        spec: { replicas: 2.5 }
      }
    })
    expect(scale.status).toBe(400)
    expect(scale.body.message).toBe(
      'Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal number 2.5 into Go struct field ScaleSpec.spec.replicas of type int32'
    )
  })

  it('refuses a patch whose result does not decode: 422 with the patched object', async () => {
    const merge = await h.call('PATCH', `${LEASE_PATH}/reviews-lock`, {
      contentType: 'application/merge-patch+json',
      body: { spec: { leaseDurationSeconds: 7.5 } }
    })
    expect(merge.status).toBe(422)
    expect(merge.body.message).toMatch(
      /^ "" is invalid: patch: Invalid value: "\{.*\}": json: cannot unmarshal number 7\.5 into Go struct field LeaseSpec\.spec\.leaseDurationSeconds of type int32$/
    )
    const json = await h.call('PATCH', `${DEPLOY_PATH}/reviews-blue`, {
      contentType: 'application/json-patch+json',
      body: [{ op: 'replace', path: '/spec/replicas', value: '3' }]
    })
    expect(json.status).toBe(422)
    expect(json.body.details.causes[0].message).toMatch(
      /json: cannot unmarshal string into Go struct field DeploymentSpec\.spec\.replicas of type int32$/
    )
    // Strategic merge patch goes through the unstructured converter, with its own words.
    const smp = await h.call('PATCH', `${DEPLOY_PATH}/reviews-blue`, {
      contentType: 'application/strategic-merge-patch+json',
      body: { spec: { replicas: 1.5 } }
    })
    expect(smp.status).toBe(422)
    expect(smp.body.message).toBe(
      ' "" is invalid: patch: Invalid value: "map[spec:map[replicas:1.5]]": cannot convert float64 to int32'
    )
  })

  it('accepts integers, integer-valued IntOrStrings and names, and nulls', async () => {
    const r = await h.call('POST', DEPLOY_PATH, {
      body: deploymentText('fine', (d) =>
        Object.assign(d.spec ?? {}, {
          replicas: 2,
          progressDeadlineSeconds: null,
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: '25%' } }
        })
      )
    })
    expect(r.status).toBe(201)
  })
})

describe('Leases are validated as ValidateLeaseSpec does (422)', () => {
  it.each([
    [
      { leaseDurationSeconds: 0 },
      'spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0'
    ],
    [
      { leaseDurationSeconds: -5 },
      'spec.leaseDurationSeconds: Invalid value: -5: must be greater than 0'
    ],
    [
      { leaseTransitions: -1 },
      'spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0'
    ],
    [
      { leaseDurationSeconds: 0, leaseTransitions: -1 },
      '[spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0, spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0]'
    ]
  ])('%j', async (spec, detail) => {
    const r = await h.call('POST', LEASE_PATH, { body: lease('bad-lease', spec) })
    expect(r.status).toBe(422)
    expect(r.body.reason).toBe('Invalid')
    expect(r.body.message).toBe(`Lease.coordination.k8s.io "bad-lease" is invalid: ${detail}`)
    expect(r.body.details.causes.map((c: { field: string }) => c.field)).toEqual(
      Object.keys(spec).map((k) => `spec.${k}`)
    )
  })

  it('takes a Lease with a positive duration, no transitions yet and MicroTimes', async () => {
    const r = await h.call('POST', LEASE_PATH, {
      body: lease('good-lease', {
        holderIdentity: 'a',
        leaseDurationSeconds: 1,
        leaseTransitions: 0,
        acquireTime: '2026-12-02T05:00:00.000000Z',
        renewTime: '2026-12-02T07:00:00.123456+02:00'
      })
    })
    expect(r.status).toBe(201)
  })

  it.each([
    ['2026-12-02T05:00:00Z', 'cannot parse "Z" as ".000000"'],
    ['2026-12-02T05:00:00.123Z', 'cannot parse ".123Z" as ".000000"'],
    ['2026-12-02T05:00:00.1234567Z', 'cannot parse "7Z" as "Z07:00"']
  ])(
    'refuses renewTime %s while decoding (400), as MicroTime.UnmarshalJSON does',
    async (t, why) => {
      const r = await h.call('POST', LEASE_PATH, { body: lease('time-lease', { renewTime: t }) })
      expect(r.status).toBe(400)
      expect(r.body.message).toBe(
        `${LEASE_DECODE}parsing time "${t}" as "2006-01-02T15:04:05.000000Z07:00": ${why}`
      )
    }
  )
})

describe('MicroTime as time.Parse(RFC3339Micro) reads it', () => {
  it.each([
    ['2026-12-02T05:00:00.000000Z', undefined],
    ['2026-12-02T05:00:00.000000-07:30', undefined],
    ['2024-02-29T23:59:59.999999Z', undefined],
    // Go's hour takes one or two digits.
    ['2026-12-02T5:00:00.000000Z', undefined],
    ['2026-12-02 05:00:00.000000Z', 'cannot parse " 05:00:00.000000Z" as "T"'],
    ['2026-12-02T05:00:00,000000Z', undefined],
    ['26-12-02T05:00:00.000000Z', 'cannot parse "26-12-02T05:00:00.000000Z" as "2006"'],
    ['2026-12-02T05:00:00.000000', 'cannot parse "" as "Z07:00"'],
    ['2026-12-02T05:00:00.000000z', 'cannot parse "z" as "Z07:00"']
  ])('%s', (value, why) => {
    expect(microTimeError(value)).toBe(
      why && `parsing time "${value}" as "2006-01-02T15:04:05.000000Z07:00": ${why}`
    )
  })

  it.each([
    ['2026-13-02T05:00:00.000000Z', 'month out of range'],
    ['2025-02-29T05:00:00.000000Z', 'day out of range'],
    ['2026-12-02T24:00:00.000000Z', 'hour out of range'],
    ['2026-12-02T05:60:00.000000Z', 'minute out of range'],
    ['2026-12-02T05:00:00.000000Zjunk', 'extra text: "junk"']
  ])('%s: %s', (value, why) => {
    expect(microTimeError(value)).toBe(`parsing time "${value}": ${why}`)
  })
})

describe('object metadata: label keys, annotation keys, 256 KiB of annotations (ValidateObjectMeta)', () => {
  const annotated = (name: string, metadata: Record<string, unknown>): KubeObject => ({
    ...lease(name, { leaseDurationSeconds: 60 }),
    metadata: { name, ...metadata }
  })

  it('accepts annotations of exactly 262144 bytes in all (keys and values, UTF-8)', async () => {
    const r = await h.call('POST', LEASE_PATH, {
      // 'k' (1 byte) + 131071 × 'é' (2 bytes each) + 'x' (1 byte) = 262144: bytes, not characters.
      body: annotated('meta-ok', { annotations: { k: 'é'.repeat(131071) + 'x' } })
    })
    expect(r.status).toBe(201)
  })

  it.each([
    [
      'annotations one byte over 256 KiB',
      { annotations: { k: 'x'.repeat(262144) } },
      'metadata.annotations: Too long: may not be more than 262144 bytes'
    ],
    [
      'a label key whose name part is 64 characters',
      { labels: { ['c'.repeat(64)]: 'v' } },
      'metadata.labels: Invalid value: "' +
        'c'.repeat(64) +
        '": name part must be no more than 63 characters'
    ],
    [
      'a label key with an upper-case prefix',
      { labels: { 'Example.com/color': 'v' } },
      'metadata.labels: Invalid value: "Example.com/color": prefix part a lowercase RFC 1123 subdomain'
    ],
    [
      'an annotation key with a space',
      { annotations: { 'bad key': '' } },
      'metadata.annotations: Invalid value: "bad key": name part must consist of alphanumeric characters'
    ]
  ])('refuses %s with 422', async (_what, metadata, message) => {
    const r = await h.call('POST', LEASE_PATH, { body: annotated('meta-bad', metadata) })
    expect(r.status).toBe(422)
    expect(r.body.message).toContain(message)
    expect(h.server.store.get('leases', NS, 'meta-bad')).toBeUndefined()
  })

  it('takes upper case in annotation keys (checked lower-cased)', async () => {
    const r = await h.call('POST', LEASE_PATH, {
      body: annotated('meta-case', { annotations: { 'Example.COM/Key': 'v' } })
    })
    expect(r.status).toBe(201)
  })
})
