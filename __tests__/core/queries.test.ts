import { promString, trafficQueries } from '../../src/core/queries.js'

describe('promString', () => {
  it.each([
    ['reviews-blue', '"reviews-blue"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['back\\slash', '"back\\\\slash"'],
    ['two\nlines', '"two\\nlines"'],
    ['x"}or vector(1) or{a="', '"x\\"}or vector(1) or{a=\\""']
  ])('quotes %j as %s', (value, literal) => {
    expect(promString(value)).toBe(literal)
  })
})

describe('trafficQueries', () => {
  it('puts every value inside a quoted literal, so none can close the matcher', () => {
    const hostile = 'x"}or vector(1) or{a="'
    const q = trafficQueries(
      { workload: hostile, namespace: 'demo\\"}', reporter: 'destination' },
      '60s'
    )
    expect(q.rps).toBe(
      'sum(rate(istio_requests_total{reporter="destination",destination_workload="x\\"}or vector(1) or{a=\\"",destination_workload_namespace="demo\\\\\\"}"}[60s]))'
    )
  })
})
