import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import yaml from 'js-yaml'
import { InputError, parseRate, parseSteps, readSettings } from '../../src/inputs.js'
import { SANDBOX_CERT } from '../../sandbox/apiserver/tls.js'
import { OTHER_CA_CERT } from '../fakes/tls.js'

const base: Record<string, string> = {
  service: 'reviews',
  image: 'example.com/reviews:2.0.0',
  'prometheus-url': 'http://127.0.0.1:9090/'
}

const repoFile = (path: string): string =>
  readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), 'utf8')

function settings(inputs: Record<string, string>) {
  const all = { ...base, ...inputs }
  return readSettings((name) => all[name] ?? '')
}

function errorOf(inputs: Record<string, string>): string {
  try {
    settings(inputs)
  } catch (error) {
    expect(error).toBeInstanceOf(InputError)
    return (error as Error).message
  }
  throw new Error('expected an InputError')
}

describe('readSettings', () => {
  it('applies the documented defaults', () => {
    expect(settings({})).toEqual({
      command: 'deploy',
      kubeconfig: undefined,
      context: undefined,
      namespace: undefined,
      service: 'reviews',
      image: 'example.com/reviews:2.0.0',
      container: undefined,
      manifests: undefined,
      router: 'istio',
      virtualServices: ['reviews'],
      destinationRule: 'reviews',
      httpRoutes: ['reviews'],
      routes: [],
      colorLabel: 'version',
      steps: [10, 25, 50, 100],
      stepDurationMs: 60_000,
      checkIntervalMs: 10_000,
      readyTimeoutMs: 300_000,
      prometheusUrl: 'http://127.0.0.1:9090',
      prometheusCa: undefined,
      prometheusToken: undefined,
      prometheusHeaders: {},
      prometheusBasicAuth: undefined,
      prometheusTimeoutMs: 10_000,
      maxErrorRate: 0.01,
      maxP99Ms: undefined,
      analysisWindowMs: 60_000,
      maxInconclusive: 2,
      confidence: 0.99,
      tolerance: 1,
      maxRegression: 3,
      negligibleRate: undefined,
      onInconclusive: 'pause',
      reporter: 'destination',
      previousColor: 'keep',
      failOnRollback: true,
      skipAnalysis: false,
      sha: undefined,
      githubToken: undefined,
      environment: undefined,
      onInterrupt: 'rollback',
      onDrift: 'pause',
      waitForLockMs: undefined,
      leaseDurationMs: 60_000,
      metrics: []
    })
  })

  it.each(['promote', 'resume', 'rollback', 'abort', 'status'])(
    '%s needs neither an image nor prometheus-url (the record has them)',
    (command) => {
      const s = readSettings((name) => ({ service: 'reviews', command })[name] ?? '')
      expect(s).toMatchObject({ command, image: undefined, prometheusUrl: undefined })
    }
  )

  it('reads test-header as an exact match, its name lowercased; pause-at 0 only with it', () => {
    expect(settings({ 'test-header': ' X-Canary :  true ' }).testHeader).toEqual({
      name: 'x-canary',
      value: 'true'
    })
    expect(settings({}).testHeader).toBeUndefined()
    expect(settings({ 'test-header': 'x-canary: true', 'pause-at': '0' }).pauseAt).toBe(0)
    expect(() => settings({ 'pause-at': '0' })).toThrow(
      'input "pause-at": 0 pauses before any weight'
    )
    // resume checks it against the rollout's record, which carries the header.
    expect(settings({ command: 'resume', 'pause-at': '0' }).pauseAt).toBe(0)
  })

  it('reads pause-at, skip-analysis, sha, github-token and environment', () => {
    expect(settings({ 'pause-at': '50' }).pauseAt).toBe(50)
    const s = settings({
      command: 'promote',
      'skip-analysis': 'true',
      sha: 'a'.repeat(40),
      'github-token': 'ghs_x',
      environment: 'production'
    })
    expect(s).toMatchObject({
      skipAnalysis: true,
      sha: 'a'.repeat(40),
      githubToken: 'ghs_x',
      environment: 'production'
    })
  })

  it('reads every input', () => {
    const s = settings({
      namespace: 'shop',
      container: 'app',
      'virtual-service': 'reviews-vs',
      'destination-rule': 'reviews-dr',
      routes: 'primary, canary',
      'color-label': 'example.com/color',
      steps: '5,100',
      'step-duration': '30s',
      'check-interval': '5s',
      'ready-timeout': '2m',
      'max-error-rate': '0.5%',
      'max-p99-latency': '750ms',
      'analysis-window': '2m',
      'max-inconclusive': '0',
      confidence: '99.9%',
      tolerance: '1.2x',
      'max-regression': '2',
      'on-inconclusive': 'rollback',
      'negligible-rate': '5%',
      reporter: 'source',
      'previous-color': 'scale-down',
      'fail-on-rollback': 'false'
    })
    expect(s).toMatchObject({
      namespace: 'shop',
      container: 'app',
      virtualServices: ['reviews-vs'],
      destinationRule: 'reviews-dr',
      routes: ['primary', 'canary'],
      colorLabel: 'example.com/color',
      steps: [5, 100],
      stepDurationMs: 30_000,
      checkIntervalMs: 5000,
      readyTimeoutMs: 120_000,
      maxErrorRate: 0.005,
      maxP99Ms: 750,
      analysisWindowMs: 120_000,
      confidence: 0.999,
      tolerance: 1.2,
      maxRegression: 2,
      onInconclusive: 'rollback',
      negligibleRate: 0.05,
      maxInconclusive: 0,
      reporter: 'source',
      previousColor: 'scale-down',
      failOnRollback: false
    })
    expect(Object.isFrozen(s)).toBe(true)
  })

  it.each([
    [
      'a CA, a token, headers and a timeout',
      {
        'prometheus-url': 'https://prometheus.example.com/prom/',
        'prometheus-ca': SANDBOX_CERT,
        'prometheus-token': 'glc_eyJvIjoiMSJ9==',
        'prometheus-headers': 'X-Scope-OrgID: tenant-a\n\n  X-Api-Key:  k3y:with:colons  \r\n',
        'prometheus-timeout': '30s'
      },
      {
        prometheusUrl: 'https://prometheus.example.com/prom',
        prometheusCa: SANDBOX_CERT,
        prometheusToken: 'glc_eyJvIjoiMSJ9==',
        prometheusHeaders: { 'X-Scope-OrgID': 'tenant-a', 'X-Api-Key': 'k3y:with:colons' },
        prometheusBasicAuth: undefined,
        prometheusTimeoutMs: 30_000
      }
    ],
    [
      'a bundle of two CA certificates, blank lines around them',
      {
        'prometheus-url': 'https://127.0.0.1:9443',
        'prometheus-ca': `\n${SANDBOX_CERT}\n\n${OTHER_CA_CERT}\n`
      },
      { prometheusCa: `${SANDBOX_CERT.trim()}\n${OTHER_CA_CERT.trim()}\n` }
    ],
    [
      'basic auth in the URL, taken out of it (percent-encoding undone)',
      { 'prometheus-url': 'https://123456:glc%40secret%3Ax@prom.grafana.net/api/prom/' },
      {
        prometheusUrl: 'https://prom.grafana.net/api/prom',
        prometheusBasicAuth: { username: '123456', password: 'glc@secret:x' }
      }
    ],
    [
      'a password holding / and %, percent-encoded',
      { 'prometheus-url': 'https://user:a%2Fb%25c@prom.example.com:9090' },
      {
        prometheusUrl: 'https://prom.example.com:9090',
        prometheusBasicAuth: { username: 'user', password: 'a/b%c' }
      }
    ],
    [
      'a user without a password',
      { 'prometheus-url': 'https://reader@prom.example.com' },
      {
        prometheusUrl: 'https://prom.example.com',
        prometheusBasicAuth: { username: 'reader', password: '' }
      }
    ],
    [
      'Authorization as a header, with no token or user',
      { 'prometheus-headers': 'Authorization: ApiKey abc' },
      { prometheusHeaders: { Authorization: 'ApiKey abc' } }
    ],
    [
      'a CA with promote, which takes its URL from the record',
      { command: 'promote', 'prometheus-url': '', 'prometheus-ca': SANDBOX_CERT },
      { prometheusUrl: undefined, prometheusCa: SANDBOX_CERT }
    ]
  ])('reads Prometheus transport: %s', (_name, inputs, expected) => {
    expect(settings(inputs)).toMatchObject(expected)
  })

  it.each([
    [
      { 'prometheus-ca': 'ca.pem' },
      'input "prometheus-ca": holds no PEM certificate; give the PEM content of the CA certificate(s)'
    ],
    [
      { 'prometheus-ca': SANDBOX_CERT + 'subject=CN = x' },
      'input "prometheus-ca": holds text outside the certificate blocks; give the PEM content'
    ],
    [
      { 'prometheus-ca': '-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----' },
      'input "prometheus-ca": holds a PRIVATE KEY block, not only certificates (never give a private key)'
    ],
    [
      {
        'prometheus-ca': `${SANDBOX_CERT}-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----`
      },
      'input "prometheus-ca": certificate 2 of 2 is not a valid X.509 certificate'
    ],
    [
      { 'prometheus-ca': SANDBOX_CERT },
      'input "prometheus-ca": applies to an https prometheus-url only, and "http://127.0.0.1:9090" is http'
    ],
    [
      { 'prometheus-token': 'Bearer abc' },
      'input "prometheus-token": holds whitespace or a character that cannot go in an HTTP header; give the token alone, without "Bearer "'
    ],
    [{ 'prometheus-token': 'abc\ndef' }, 'input "prometheus-token": holds whitespace'],
    [{ 'prometheus-token': 'tökén' }, 'input "prometheus-token": holds whitespace or a character'],
    [
      { 'prometheus-url': 'https://u:p@prom.example.com', 'prometheus-token': 'abc' },
      'input "prometheus-token": and the user and password in "prometheus-url" both set Authorization'
    ],
    [
      { 'prometheus-headers': 'X-Scope-OrgID s3cr3t-tenant' },
      'input "prometheus-headers": line 1 is not Name: value'
    ],
    [
      { 'prometheus-headers': 'Ok: 1\n: no-name' },
      'input "prometheus-headers": line 2 is not Name: value'
    ],
    [
      { 'prometheus-headers': 'X Scope: a' },
      'input "prometheus-headers": line 1 is not Name: value'
    ],
    [
      { 'prometheus-headers': 'X-Ok: a\rX-Injected: b' },
      'input "prometheus-headers": the value of header X-Ok holds a control character'
    ],
    [
      { 'prometheus-headers': 'X-Tab: a\u0000b' },
      'the value of header X-Tab holds a control character'
    ],
    [
      { 'prometheus-headers': 'X-Key: s3cr3t-clé' },
      'the value of header X-Key holds a control character, a line break or a non-ASCII character'
    ],
    [
      { 'prometheus-headers': 'X-Scope-OrgID:' },
      'input "prometheus-headers": header X-Scope-OrgID has no value'
    ],
    [
      { 'prometheus-headers': 'host: evil.example.com' },
      'input "prometheus-headers": header host is set by the action itself'
    ],
    [
      { 'prometheus-headers': 'Content-Type: text/plain' },
      'header Content-Type is set by the action itself'
    ],
    [
      { 'prometheus-headers': 'Content-Length: 0' },
      'header Content-Length is set by the action itself'
    ],
    [
      { 'prometheus-headers': 'X-A: s3cr3t-1\nx-a: s3cr3t-2' },
      'input "prometheus-headers": header x-a is given twice'
    ],
    [
      { 'prometheus-headers': 'authorization: Basic eA==', 'prometheus-token': 'abc' },
      'input "prometheus-headers": header Authorization and input "prometheus-token" both set Authorization'
    ],
    [
      {
        'prometheus-url': 'https://u:p@prom.example.com',
        'prometheus-headers': 'Authorization: x'
      },
      'header Authorization and the user and password in "prometheus-url" both set Authorization'
    ],
    [{ 'prometheus-timeout': '0s' }, 'input "prometheus-timeout": "0s" is not a duration'],
    [{ 'prometheus-timeout': '10' }, 'input "prometheus-timeout": "10" is not a duration'],
    [
      { 'prometheus-url': 'ftp://user:hunter2@host' },
      'input "prometheus-url": "ftp://***@host" is not an http or https URL'
    ],
    [
      { 'prometheus-url': 'https://user:hunter2@exa mple.com' },
      'input "prometheus-url": "https://***@exa mple.com" is not a URL'
    ],
    [
      { 'prometheus-url': 'https://user:12/hunter2@example.com' },
      'input "prometheus-url": "https://***@example.com" has an @ outside a user:password@ part; percent-encode / ? # and %'
    ],
    [
      { 'prometheus-url': 'https://user:ab/hunter2@example.com' },
      'input "prometheus-url": "https://***@example.com" is not a URL'
    ],
    [
      { 'prometheus-url': 'user:hunter2@example.com' },
      'input "prometheus-url": "***@example.com" is not an http or https URL'
    ],
    [
      { 'prometheus-url': 'https://user:hunter2%zz@example.com' },
      'input "prometheus-url": the user or password in "https://***@example.com" is not valid percent-encoding'
    ]
  ])('refuses Prometheus transport %j, showing no secret', (inputs, message) => {
    const error = errorOf(inputs)
    expect(error).toContain(message)
    for (const secret of ['hunter2', 's3cr3t', 'Basic eA==', 'MIGHAgEA', 'abc\ndef', 'evil']) {
      expect(error).not.toContain(secret)
    }
  })

  it.each([
    [{ steps: '10,5,100' }, 'input "steps": "10,5,100" is not strictly increasing'],
    [{ steps: '0,100' }, 'input "steps": "0" in "0,100" is not a weight'],
    [{ steps: '10,150' }, 'input "steps": "150" in "10,150" is not a weight'],
    [{ steps: 'abc' }, 'input "steps": "abc" in "abc" is not a weight'],
    [{ steps: '10,50' }, 'input "steps": "10,50" does not end at 100'],
    [{ 'step-duration': '5' }, 'input "step-duration": "5" is not a duration'],
    [{ 'step-duration': '-1m' }, 'input "step-duration": "-1m" is not a duration'],
    [{ 'ready-timeout': '1y' }, 'input "ready-timeout": "1y" is not a duration'],
    [{ 'check-interval': '0s' }, 'input "check-interval": "0s" is not a duration'],
    [{ 'max-error-rate': '200%' }, 'input "max-error-rate": "200%" is not a rate'],
    [{ 'max-error-rate': '-1' }, 'input "max-error-rate": "-1" is not a rate'],
    [{ 'max-error-rate': '1.5' }, 'input "max-error-rate": "1.5" is not a rate'],
    [{ 'max-p99-latency': 'fast' }, 'input "max-p99-latency": "fast" is not a duration'],
    [{ 'analysis-window': '500ms' }, 'input "analysis-window": must be at least 1s'],
    [{ confidence: '50%' }, 'input "confidence": "50%" is not a confidence; use a percentage'],
    [{ confidence: '100%' }, 'input "confidence": "100%" is not a confidence'],
    [{ confidence: 'high' }, 'input "confidence": "high" is not a confidence'],
    [
      { tolerance: '0.5x' },
      'input "tolerance": "0.5x" is not a ratio to the stable\'s rate; use a number of at least 1'
    ],
    [{ 'max-regression': 'triple' }, 'input "max-regression": "triple" is not a ratio'],
    [
      { tolerance: '2x', 'max-regression': '1.5x' },
      'input "max-regression": 1.5x is not above "tolerance" (2x)'
    ],
    [{ 'negligible-rate': '0%' }, 'input "negligible-rate": "0%" must be above 0% and below 100%'],
    [
      { 'on-inconclusive': 'promote' },
      'input "on-inconclusive": "promote" is not one of: pause, rollback'
    ],
    [
      { command: 'ship' },
      'input "command": "ship" is not one of: deploy, promote, resume, rollback, abort, status, plan'
    ],
    [{ 'pause-at': '30' }, 'input "pause-at": "30" is not one of the steps (10, 25, 50, 100)'],
    [{ 'skip-analysis': 'true' }, 'input "skip-analysis": applies to promote only, not to deploy'],
    [{ sha: 'main' }, 'input "sha": "main" is not a full commit SHA'],
    [{ 'on-interrupt': 'ignore' }, 'input "on-interrupt": "ignore" is not one of: rollback, pause'],
    [{ 'on-drift': 'overwrite' }, 'input "on-drift": "overwrite" is not one of: pause, rollback'],
    [{ 'wait-for-lock': 'forever' }, 'input "wait-for-lock": "forever" is not a duration'],
    [{ 'lease-duration': '2s' }, 'input "lease-duration": must be at least 5s'],
    [
      { command: 'plan', image: '' },
      'input "image": is required for plan unless "manifests" is given'
    ],
    [{ reporter: 'both' }, 'input "reporter": "both" is not one of: destination, source, waypoint'],
    [
      { 'previous-color': 'delete' },
      'input "previous-color": "delete" is not one of: keep, scale-down'
    ],
    [{ 'fail-on-rollback': 'yes' }, 'input "fail-on-rollback": "yes" is not a boolean'],
    [{ service: '' }, 'input "service": is required'],
    [{ service: 'Reviews' }, 'input "service": "Reviews" is not a valid Service name'],
    [{ service: 'x"}or vector(1) or{a="' }, 'is not a valid Service name'],
    [{ namespace: 'demo_ns' }, 'input "namespace": "demo_ns" is not a valid namespace name'],
    [
      { image: '', manifests: '' },
      'input "image": is required for deploy unless "manifests" is given'
    ],
    [
      { image: 'Example.com/UPPER:tag' },
      'input "image": "Example.com/UPPER:tag" is not an image reference'
    ],
    [{ image: 'reviews:bad tag' }, 'is not an image reference'],
    [{ 'prometheus-url': '' }, 'input "prometheus-url": is required'],
    [
      { 'prometheus-url': 'prometheus:9090' },
      'input "prometheus-url": "prometheus:9090" is not an http or https URL'
    ],
    [{ 'prometheus-url': 'not a url' }, 'input "prometheus-url": "not a url" is not a URL'],
    [{ 'color-label': 'bad label!' }, 'input "color-label": "bad label!" is not a label key'],
    // The name part of a label key is at most 63 characters, its prefix at most 253.
    [{ 'color-label': 'c'.repeat(64) }, 'name part must be no more than 63 characters'],
    [
      { 'color-label': `${'p'.repeat(254)}/color` },
      'prefix part must be no more than 253 characters'
    ],
    [{ 'color-label': 'a/b/c' }, "a qualified name has at most one '/'"],
    // leaseDurationSeconds is an int32: 2^31 s is refused by the server, so by the input.
    [{ 'lease-duration': '596524h' }, 'input "lease-duration": must be at most 2147483647s']
  ])('refuses %j', (inputs, message) => {
    expect(errorOf(inputs)).toContain(message)
  })

  it('reads metrics, a gauge and a ratio, into frozen definitions', () => {
    const s = settings({
      metrics: [
        '- name: queue-lag',
        '  query: max(lag{workload="{{ workload }}"})',
        '  max: 5',
        '- name: checkout-failures',
        '  bad: sum(failed{color="{{color}}"})',
        '  total: sum(all{color="{{color}}"})',
        '  max-rate: 0.5%'
      ].join('\n')
    })
    expect(s.metrics).toEqual([
      { kind: 'gauge', name: 'queue-lag', query: 'max(lag{workload="{{ workload }}"})', max: 5 },
      {
        kind: 'ratio',
        name: 'checkout-failures',
        bad: 'sum(failed{color="{{color}}"})',
        total: 'sum(all{color="{{color}}"})',
        maxRate: 0.005
      }
    ])
    expect(Object.isFrozen(s.metrics)).toBe(true)
  })

  it.each([
    [
      'README.md',
      () => {
        const section = repoFile('README.md').split('### Custom metrics\n')[1] ?? ''
        const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
        return (yaml.load(block) as { with: { metrics: string } }).with.metrics
      },
      2
    ],
    [
      'action.yml',
      () => {
        const action = yaml.load(repoFile('action.yml')) as {
          inputs: { metrics: { description: string } }
        }
        return /`(- \{.*\})`/.exec(action.inputs.metrics.description)?.[1] ?? ''
      },
      1
    ]
  ])('accepts the metrics example of %s', (_file, example, count) => {
    expect(settings({ metrics: example() }).metrics).toHaveLength(count)
  })

  it.each([
    [
      '- name: p\n  bad: e{color="{{ color }}"}\n  total: t{color="{{ color }}"}\n  max-rate: 2',
      'input "metrics": metric "p": max-rate "2" is not a rate; use a percentage from 0% to 100% (e.g. 1%) or a fraction from 0 to 1 (e.g. 0.01)'
    ],
    ['- name: [', 'input "metrics": is not valid YAML: unexpected end of the stream'],
    [
      '- name: lag\n  query: q{workload="{{ workload }}"}',
      'input "metrics": metric "lag" has a query but no bound; give max and/or min'
    ],
    [
      '- name: errors\n  query: q{color="{{ color }}"}\n  max: 1',
      'input "metrics": metric "errors"'
    ]
  ])('refuses the metrics %j', (metrics, message) => {
    const error = errorOf({ metrics })
    expect(error).toContain(message)
    expect(error).not.toContain('input "max-rate"')
  })

  it.each([
    'example.com/reviews:1.0.0',
    'reviews',
    'ghcr.io/acme/reviews:1.2.3',
    'localhost:5000/team/app@sha256:' + 'a'.repeat(64),
    'docker.io/library/nginx:1.27-alpine'
  ])('accepts the image reference %s', (image) => {
    expect(settings({ image }).image).toBe(image)
  })
})

describe('lease-duration', () => {
  it.each([
    ['60s', 60_000],
    ['1m30s', 90_000],
    ['7500ms', 8_000],
    ['5s1ms', 6_000],
    ['4500ms', 5_000],
    ['596523h', 596523 * 3_600_000]
  ])('%s is %i ms: whole seconds, rounded up, as leaseDurationSeconds is an integer', (v, ms) => {
    expect(settings({ 'lease-duration': v }).leaseDurationMs).toBe(ms)
  })
})

describe('parseRate', () => {
  it.each([
    ['1%', 0.01],
    ['0.5%', 0.005],
    ['0.01', 0.01],
    ['0', 0],
    ['100%', 1],
    ['1', 1]
  ])('%s is %d', (text, rate) => {
    expect(parseRate('max-error-rate', text)).toBeCloseTo(rate, 10)
  })
})

describe('parseSteps', () => {
  it.each([
    ['10,25,50,100', [10, 25, 50, 100]],
    ['100', [100]],
    [' 1, 2 ,100', [1, 2, 100]]
  ])('%s', (text, steps) => {
    expect(parseSteps(text)).toEqual(steps)
  })
})

describe('router and http-route', () => {
  it('defaults to the Istio router, with the HTTPRoute named as the service', () => {
    expect(settings({})).toMatchObject({ router: 'istio', httpRoutes: ['reviews'] })
  })
  it.each([
    ['reviews', ['reviews']],
    ['reviews,reviews-edge', ['reviews', 'reviews-edge']],
    [' reviews , reviews-edge ', ['reviews', 'reviews-edge']]
  ])('router gateway-api, http-route %j → %j', (value, expected) => {
    const s = settings({ router: 'gateway-api', 'http-route': value, routes: 'main' })
    expect(s).toMatchObject({ router: 'gateway-api', httpRoutes: expected, routes: ['main'] })
  })
  it.each([
    [{ router: 'linkerd' }, 'input "router": "linkerd" is not one of: istio, gateway-api'],
    [
      { 'http-route': 'reviews' },
      'input "http-route": applies to router gateway-api only, and "router" is istio; set router: gateway-api to shift HTTPRoutes, or leave http-route empty'
    ],
    [
      { router: 'gateway-api', 'virtual-service': 'reviews' },
      'input "virtual-service": applies to router istio only, and "router" is gateway-api; give the HTTPRoutes in "http-route" (the per-color Services replace the DestinationRule), or set router: istio'
    ],
    [
      { router: 'gateway-api', 'destination-rule': 'reviews' },
      'input "destination-rule": applies to router istio only, and "router" is gateway-api; give the HTTPRoutes in "http-route" (the per-color Services replace the DestinationRule), or set router: istio'
    ],
    [
      { router: 'gateway-api', 'http-route': 'reviews,,edge' },
      'input "http-route": "reviews,,edge" has an empty name; give one HTTPRoute name or a comma list of them, e.g. reviews,reviews-edge'
    ],
    [
      { router: 'gateway-api', 'http-route': 'Reviews' },
      'input "http-route": "Reviews" is not a valid HTTPRoute name: use lower-case letters, digits and \'-\', starting and ending with a letter or digit, at most 63 characters'
    ],
    [
      { router: 'gateway-api', 'http-route': 'a,b,c,d,e,f,g,h,i' },
      'input "http-route": names 9 objects, more than the 8 one rollout may shift; split the service, or shift fewer'
    ]
  ])('refuses %j', (inputs, message) => {
    expect(errorOf(inputs)).toBe(message)
  })
})

describe('reporter', () => {
  it.each(['destination', 'source', 'waypoint'])('accepts %s', (reporter) => {
    expect(settings({ reporter }).reporter).toBe(reporter)
  })
})

describe('virtual-service: one name or a comma list', () => {
  it.each([
    ['reviews', ['reviews']],
    ['reviews,reviews-edge', ['reviews', 'reviews-edge']],
    [' reviews , reviews-edge ', ['reviews', 'reviews-edge']]
  ])('%j → %j', (value, expected) => {
    expect(settings({ 'virtual-service': value }).virtualServices).toEqual(expected)
  })
  it('defaults to the service name', () => {
    expect(settings({}).virtualServices).toEqual(['reviews'])
  })
  it.each([
    [
      'reviews,,edge',
      'input "virtual-service": "reviews,,edge" has an empty name; give one VirtualService name or a comma list of them, e.g. reviews,reviews-edge'
    ],
    [
      'reviews,Edge',
      'input "virtual-service": "Edge" is not a valid VirtualService name: use lower-case letters, digits and \'-\', starting and ending with a letter or digit, at most 63 characters'
    ],
    [
      'reviews,edge,reviews',
      'input "virtual-service": names "reviews" twice; give each VirtualService name once'
    ],
    [
      'a,b,c,d,e,f,g,h,i',
      'input "virtual-service": names 9 objects, more than the 8 one rollout may shift; split the service, or shift fewer'
    ]
  ])('refuses %j', (value, message) => {
    expect(errorOf({ 'virtual-service': value })).toBe(message)
  })
})
