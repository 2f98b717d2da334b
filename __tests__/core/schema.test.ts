/**
 * Records of the first format, as the first release wrote them into the Lease (fixtures captured
 * from a run of that release), are read and upgraded to the current schema; a record of a newer
 * schema than the code knows, or no record at all, is refused with a message, never misread.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { leaseState, RECORD_ANNOTATION } from '../../src/adapters/lease.js'
import { RECORD_SCHEMA, recordAnnotation, type RolloutRecord } from '../../src/core/record.js'
import { RecordSchemaError, upgradeRecord } from '../../src/core/schema.js'
import { rolloutRecord } from '../fixtures/record.js'

const DIR = path.join(import.meta.dirname, '../fixtures/records-v1')
type Json = Record<string, unknown>

function fixture(name: string): string {
  return readFileSync(path.join(DIR, `${name}.json`), 'utf8').trim()
}

function without(o: Json, keys: readonly string[]): Json {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)))
}

function lease(annotation: string): Parameters<typeof leaseState>[0] {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: 'istio-bluegreen-reviews',
      namespace: 'demo',
      annotations: { [RECORD_ANNOTATION]: annotation }
    },
    spec: {}
  }
}

describe('a record of the first format is upgraded on read', () => {
  it.each([
    ['paused', 'paused', 1, { blue: 75, green: 25 }],
    ['promoted', 'promoted', 3, { blue: 0, green: 100 }],
    ['shifting', 'shifting', 1, { blue: 25, green: 75 }]
  ] as const)('%s.json', (name, phase, step, weights) => {
    const text = fixture(name)
    const raw = JSON.parse(text) as Json
    const rawConfig = raw.config as Json
    // The fixture really is of the old format.
    expect(raw.schema).toBeUndefined()
    expect(typeof raw.virtualServiceVersion).toBe('string')

    const record = leaseState(lease(text), 0).record as RolloutRecord
    expect(record.schema).toBe(RECORD_SCHEMA)
    expect(record).toMatchObject({ phase, step, weights })
    expect(record.config.router).toEqual({
      kind: 'istio',
      apiVersion: rawConfig.istioVersion,
      objects: [rawConfig.virtualService],
      routes: rawConfig.routes,
      destinationRule: rawConfig.destinationRule
    })
    expect(record.routerVersions).toEqual({
      [rawConfig.virtualService as string]: raw.virtualServiceVersion
    })
    // The Istio fields are gone from the config and the record; nothing else changed.
    const other = without(raw, ['virtualServiceVersion', 'config'])
    const otherConfig = without(rawConfig, [
      'virtualService',
      'destinationRule',
      'istioVersion',
      'routes'
    ])
    const upgraded = without(record as unknown as Json, ['schema', 'routerVersions', 'config'])
    const upgradedConfig = without(record.config as unknown as Json, ['router'])
    expect(upgraded).toEqual(other)
    expect(upgradedConfig).toEqual(otherConfig)
    // Written again and read back: the same record, now of the current schema.
    expect(leaseState(lease(recordAnnotation(record)), 0).record).toEqual(record)
  })
})

describe('a record of the current schema is read as it is', () => {
  it('round-trips through the Lease annotation', () => {
    const record = rolloutRecord({ routerVersions: { reviews: '12', 'reviews-edge': '40' } })
    expect(leaseState(lease(recordAnnotation(record)), 0).record).toEqual(record)
  })
})

describe('a record the code cannot read is refused, not misread', () => {
  const current = JSON.parse(JSON.stringify(rolloutRecord())) as Json
  it.each<[string, unknown, string]>([
    [
      'a newer schema',
      { ...current, schema: 3 },
      'holds a rollout record of schema 3, written by a newer istio-bluegreen than this one (which reads schemas 1 to 2): run this command with that release or a newer one; nothing was changed'
    ],
    [
      'a schema no release writes',
      { ...current, schema: '2' },
      'holds a rollout record of schema "2", which no istio-bluegreen release writes'
    ],
    [
      'no schema and no Istio fields',
      { ...current, schema: undefined },
      "holds a rollout record without a schema that is not one of the first release's either"
    ],
    ['not an object', [1, 2], 'holds a rollout record that is not a JSON object']
  ])('%s', (_, raw, message) => {
    expect(() => upgradeRecord(raw, 'the Lease x')).toThrow(RecordSchemaError)
    expect(() => upgradeRecord(raw, 'the Lease x')).toThrow(`the Lease x ${message}`)
  })

  it('names the Lease when read from one', () => {
    expect(() => leaseState(lease(JSON.stringify({ ...current, schema: 7 })), 0)).toThrow(
      "the Lease istio-bluegreen-reviews's record annotation holds a rollout record of schema 7"
    )
  })
})
