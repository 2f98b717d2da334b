/**
 * Every input of the action, read once, validated, and frozen into one settings object. Errors
 * name the input and the accepted form. Nothing else in the action reads inputs.
 */
import { X509Certificate } from 'node:crypto'
import { COMMANDS, type CommandName } from './core/commands.js'
import { parseMetricDefinitions, type MetricDefinition } from './core/custom-metrics.js'
import { parseDuration } from './core/duration.js'
import { INT32_MAX, qualifiedNameProblem } from './core/limits.js'
import type { RolloutSettings } from './core/record.js'
import { parseTestHeader, type TestHeader } from './core/test-route.js'

export type PreviousColorPolicy = RolloutSettings['previousColor']

/** Values of input `router`. */
export const ROUTER_KINDS = ['istio', 'gateway-api'] as const
export type RouterKind = (typeof ROUTER_KINDS)[number]

/** At most this many router objects in one list (`virtual-service: a,b,…`). */
export const MAX_ROUTER_OBJECTS = 8

/** The run's settings: the rollout's own (RolloutSettings, kept in its record) and the run's. */
export interface Settings extends RolloutSettings {
  command: CommandName
  /** Kubeconfig file content; undefined: KUBECONFIG, ~/.kube/config, or in-cluster. */
  kubeconfig?: string
  context?: string
  /** Undefined: the kubeconfig context's namespace, else `default`. */
  namespace?: string
  service: string
  image?: string
  container?: string
  manifests?: string
  /** Which kind of object splits the traffic: Istio VirtualServices, or Gateway API HTTPRoutes. */
  router: RouterKind
  /** The VirtualServices to shift, every one alike (input virtual-service, a comma list). */
  virtualServices: readonly string[]
  destinationRule: string
  /** The HTTPRoutes to shift, every one alike (input http-route, a comma list; router gateway-api). */
  httpRoutes: readonly string[]
  /**
   * Names of the HTTP routes (VirtualService) or rules (HTTPRoute) to shift; empty: every one
   * that sends to the service.
   */
  routes: readonly string[]
  steps: readonly number[]
  /**
   * Required by deploy and plan; the other commands use the rollout record's unless given. Never
   * holds a user or password: those are taken out into prometheusBasicAuth.
   */
  prometheusUrl?: string
  /** PEM of the CA certificate(s) that signed Prometheus's certificate; https only. */
  prometheusCa?: string
  /** Sent as `Authorization: Bearer <token>`. */
  prometheusToken?: string
  /** Extra request headers for Prometheus (e.g. X-Scope-OrgID), in the order given. */
  prometheusHeaders: Readonly<Record<string, string>>
  /** The user and password that prometheus-url carried, sent as basic auth. */
  prometheusBasicAuth?: BasicAuth
  /** Limit for one Prometheus query. */
  prometheusTimeoutMs: number
  failOnRollback: boolean
  skipAnalysis: boolean
  /** Commit for the status; default the workflow's. */
  sha?: string
  githubToken?: string
  environment?: string
  /** What a run does with a rollout whose run died or was cancelled. */
  onInterrupt: 'rollback' | 'pause'
  /** How long to wait for another run's lock; undefined: fail at once. */
  waitForLockMs?: number
  /** How long a lock outlives its holder's last renewal, in whole seconds (rounded up). */
  leaseDurationMs: number
  /** The user's own metrics, judged beside the built-in ones; empty when none are given. */
  metrics: readonly MetricDefinition[]
}

export interface BasicAuth {
  username: string
  password: string
}

/** A bad input: the message names the input and the accepted form. */
export class InputError extends Error {
  constructor(
    readonly input: string,
    message: string
  ) {
    super(`input "${input}": ${message}`)
    this.name = 'InputError'
  }
}

/** Reads one input's raw value ('' when not given). */
export type InputReader = (name: string) => string

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
// An OCI image reference: [registry[:port]/]path[:tag][@digest].
const IMAGE =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$/

function dnsLabel(input: string, value: string, maxLength: number, what: string): string {
  if (value.length > maxLength || !DNS_LABEL.test(value)) {
    throw new InputError(
      input,
      `"${value}" is not a valid ${what}: use lower-case letters, digits and '-', starting and ending with a letter or digit, at most ${maxLength} characters`
    )
  }
  return value
}

/**
 * A comma list of object names (`reviews,reviews-edge`): each a DNS label, none twice, at most
 * MAX_ROUTER_OBJECTS.
 */
function objectList(input: string, value: string, what: string): string[] {
  const names = value.split(',').map((n) => n.trim())
  if (names.some((n) => n === '')) {
    throw new InputError(
      input,
      `"${value}" has an empty name; give one ${what} or a comma list of them, e.g. reviews,reviews-edge`
    )
  }
  for (const name of names) dnsLabel(input, name, 63, what)
  const twice = names.find((n, i) => names.indexOf(n) !== i)
  if (twice !== undefined) {
    throw new InputError(input, `names "${twice}" twice; give each ${what} once`)
  }
  if (names.length > MAX_ROUTER_OBJECTS) {
    throw new InputError(
      input,
      `names ${names.length} objects, more than the ${MAX_ROUTER_OBJECTS} one rollout may shift; split the service, or shift fewer`
    )
  }
  return names
}

function duration(input: string, value: string): number {
  const ms = parseDuration(value)
  if (ms === undefined || ms <= 0) {
    throw new InputError(
      input,
      `"${value}" is not a duration; use a number with a unit: ms, s, m or h (e.g. 30s, 5m, 1h, 1m30s)`
    )
  }
  return ms
}

function integer(input: string, value: string, min: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new InputError(input, `"${value}" is not a whole number of at least ${min}`)
  }
  return Number(value)
}

/** `1%`, `0.5%` or `0.01`: a share of requests, 0..1. */
export function parseRate(input: string, value: string): number {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(value)
  const rate = percent ? Number(percent[1]) / 100 : /^\d*\.?\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isFinite(rate) || rate < 0 || rate > 1) {
    throw new InputError(
      input,
      `"${value}" is not a rate; use a percentage from 0% to 100% (e.g. 1%) or a fraction from 0 to 1 (e.g. 0.01)`
    )
  }
  return rate
}

/** `99%` or `0.99`: how sure the judge must be, strictly between 50% and 100% (at most 99.99%). */
function confidence(value: string): number {
  const form =
    'use a percentage such as 99% or 99.9% (or a fraction such as 0.99), above 50% and at most 99.99%'
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(value)
  const raw = percent ? Number(percent[1]) / 100 : /^0?\.\d+$/.test(value) ? Number(value) : NaN
  // 99.9 / 100 is 0.9990000000000001 in floating point; the input never means that.
  const c = Math.round(raw * 1e9) / 1e9
  if (!Number.isFinite(c) || c <= 0.5 || c > 0.9999) {
    throw new InputError('confidence', `"${value}" is not a confidence; ${form}`)
  }
  return c
}

/** negligible-rate: a rate above 0 and below 100%, or undefined for the per-metric default. */
function negligible(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const rate = parseRate('negligible-rate', value)
  if (rate <= 0 || rate >= 1) {
    throw new InputError(
      'negligible-rate',
      `"${value}" must be above 0% and below 100% (e.g. 0.1%, or 5% for a quiet staging service)`
    )
  }
  return rate
}

/** `3x`, `1.5x` or `3`: a ratio to the stable's bad share, at least `min`. */
function ratio(input: string, value: string, min: number): number {
  const m = /^(\d+(?:\.\d+)?)x?$/i.exec(value)
  const r = m ? Number(m[1]) : NaN
  if (!Number.isFinite(r) || r < min || r > 1000) {
    throw new InputError(
      input,
      `"${value}" is not a ratio to the stable's rate; use a number of at least ${min} with an optional x, e.g. 1x, 1.5x or 3x`
    )
  }
  return r
}

/** Candidate weights: whole numbers from 1 to 100, strictly increasing, ending at 100. */
export function parseSteps(value: string): number[] {
  const form =
    'use comma-separated whole percentages from 1 to 100, strictly increasing and ending at 100 (e.g. 10,25,50,100)'
  const parts = value.split(',').map((s) => s.trim())
  const steps = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN))
  const bad = parts.find(
    (p, i) => !Number.isInteger(steps[i]) || (steps[i] as number) < 1 || (steps[i] as number) > 100
  )
  if (bad !== undefined)
    throw new InputError('steps', `"${bad}" in "${value}" is not a weight; ${form}`)
  for (let i = 1; i < steps.length; i++) {
    if ((steps[i] as number) <= (steps[i - 1] as number)) {
      throw new InputError('steps', `"${value}" is not strictly increasing; ${form}`)
    }
  }
  if (steps.at(-1) !== 100) throw new InputError('steps', `"${value}" does not end at 100; ${form}`)
  return steps
}

function oneOf<T extends string>(input: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InputError(input, `"${value}" is not one of: ${allowed.join(', ')}`)
  }
  return value as T
}

function bool(input: string, value: string): boolean {
  if (['true', 'True', 'TRUE'].includes(value)) return true
  if (['false', 'False', 'FALSE'].includes(value)) return false
  throw new InputError(input, `"${value}" is not a boolean; use true or false`)
}

/**
 * A URL as it may be shown: everything up to its last `@` replaced by `***`, so that even a
 * password holding `/` (which ends the host part early) stays hidden.
 */
function withoutUserinfo(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[\s\S]*@/i, '$1***@')
}

/**
 * prometheus-url without the user and password it may carry (`https://user:pass@host`), which
 * come back apart, for basic auth: the URL is stored in the rollout record and shown in messages.
 */
function prometheusEndpoint(value: string): { url: string; basicAuth?: BasicAuth } {
  const input = 'prometheus-url'
  const shown = withoutUserinfo(value)
  let parsed: URL
  try {
    parsed = new URL(value)
  } catch {
    throw new InputError(input, `"${shown}" is not a URL; use http(s)://host:port`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InputError(input, `"${shown}" is not an http or https URL`)
  }
  if (parsed.username === '' && parsed.password === '') {
    // An @ that is not the end of a user and password: most likely a password holding / ? or #,
    // which ended the host part early and left the rest of it in the path.
    if (value.includes('@')) {
      throw new InputError(
        input,
        `"${shown}" has an @ outside a user:password@ part; percent-encode / ? # and % in the user and password (e.g. / as %2F)`
      )
    }
    return { url: value.replace(/\/+$/, '') }
  }
  let basicAuth: BasicAuth
  try {
    basicAuth = {
      username: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password)
    }
  } catch {
    throw new InputError(
      input,
      `the user or password in "${shown}" is not valid percent-encoding; encode reserved characters, e.g. @ as %40`
    )
  }
  parsed.username = ''
  parsed.password = ''
  return { url: parsed.href.replace(/\/+$/, ''), basicAuth }
}

const PEM_FORM =
  'give the PEM content of the CA certificate(s), one or more -----BEGIN CERTIFICATE----- … -----END CERTIFICATE----- blocks (e.g. ${{ secrets.PROMETHEUS_CA }}), not a file path'

/** One or more PEM certificates and nothing else; each must parse as X.509. */
function pemCertificates(input: string, value: string): string {
  const blocks = value.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
  const rest = value.replace(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g, '')
  // The value is never shown: a private key pasted by mistake must not reach the log.
  const other = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(rest)?.[1]
  if (other !== undefined) {
    throw new InputError(
      input,
      `holds a ${other} block, not only certificates${other.includes('PRIVATE KEY') ? ' (never give a private key)' : ''}; ${PEM_FORM}`
    )
  }
  if (blocks.length === 0) throw new InputError(input, `holds no PEM certificate; ${PEM_FORM}`)
  if (rest.trim() !== '') {
    throw new InputError(input, `holds text outside the certificate blocks; ${PEM_FORM}`)
  }
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block)
    } catch {
      throw new InputError(
        input,
        `certificate ${i + 1} of ${blocks.length} is not a valid X.509 certificate; ${PEM_FORM}`
      )
    }
  })
  return blocks.join('\n') + '\n'
}

// RFC 7230 token characters: what a header name may hold.
const HEADER_NAME = /^[-!#$%&'*+.^_`|~0-9A-Za-z]+$/
// Visible ASCII, spaces and tabs: no CR, LF or other control characters.
const HEADER_VALUE = /^[\t\x20-\x7e]+$/
// Headers the action sets itself, for the query it sends.
const OWN_HEADERS = ['host', 'content-type', 'content-length', 'transfer-encoding']

/**
 * prometheus-headers: one `Name: value` per line, blank lines ignored. Values are never shown in
 * a message: they often carry keys.
 */
function headerLines(value: string, authorization: string | undefined): Record<string, string> {
  const input = 'prometheus-headers'
  const form = 'give one header per line as Name: value (e.g. X-Scope-OrgID: tenant-a)'
  const headers: Record<string, string> = {}
  const seen = new Set<string>()
  value.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '') return
    const colon = line.indexOf(':')
    const name = line.slice(0, Math.max(colon, 0)).trim()
    if (!HEADER_NAME.test(name)) {
      throw new InputError(
        input,
        `line ${i + 1} is not Name: value with a header name of letters, digits and !#$%&'*+-.^_\`|~; ${form}`
      )
    }
    const lower = name.toLowerCase()
    if (OWN_HEADERS.includes(lower)) {
      throw new InputError(input, `header ${name} is set by the action itself; remove it`)
    }
    if (lower === 'authorization' && authorization !== undefined) {
      throw new InputError(
        input,
        `header Authorization and ${authorization} both set Authorization; give only one`
      )
    }
    if (seen.has(lower)) throw new InputError(input, `header ${name} is given twice; give it once`)
    seen.add(lower)
    const headerValue = line.slice(colon + 1).trim()
    if (headerValue === '') {
      throw new InputError(input, `header ${name} has no value (is the secret it comes from set?)`)
    }
    if (!HEADER_VALUE.test(headerValue)) {
      throw new InputError(
        input,
        `the value of header ${name} holds a control character, a line break or a non-ASCII character; use printable ASCII`
      )
    }
    headers[name] = headerValue
  })
  return headers
}

/** `metrics`: a YAML list of gauges and ratios; each max-rate reads as max-error-rate does. */
function metricDefinitions(value: string): readonly MetricDefinition[] {
  const parsed = parseMetricDefinitions(value, (rate) => {
    try {
      return parseRate('max-rate', rate)
    } catch (error) {
      // The reason alone: the message about the metric says where it is.
      if (!(error instanceof InputError)) throw error
      throw new Error(error.message.slice(`input "${error.input}": `.length), { cause: error })
    }
  })
  if ('error' in parsed) throw new InputError('metrics', parsed.error)
  return parsed.metrics
}

/** Input `test-header`; undefined when empty. */
function testHeader(value: string | undefined): TestHeader | undefined {
  if (value === undefined) return undefined
  const parsed = parseTestHeader(value)
  if ('error' in parsed) {
    throw new InputError('test-header', parsed.error.slice('input "test-header": '.length))
  }
  return parsed
}

/** Read and validate every input. Throws InputError on the first bad one. */
export function readSettings(read: InputReader): Readonly<Settings> {
  const get = (name: string, fallback = ''): string => read(name).trim() || fallback
  const optional = (name: string): string | undefined => get(name) || undefined
  const required = (name: string, what: string): string => {
    const value = get(name)
    if (!value) throw new InputError(name, `is required: ${what}`)
    return value
  }

  const command = oneOf('command', get('command', 'deploy'), COMMANDS)
  const service = dnsLabel(
    'service',
    required('service', 'the name of the Kubernetes Service to release'),
    57,
    'Service name (its Deployments are named <service>-blue and <service>-green)'
  )
  const namespace = optional('namespace')
  if (namespace !== undefined) dnsLabel('namespace', namespace, 63, 'namespace name')

  const releases = command === 'deploy' || command === 'plan'
  const image = optional('image')
  if (image !== undefined && (image.length > 4096 || !IMAGE.test(image))) {
    throw new InputError(
      'image',
      `"${image}" is not an image reference; use [registry/]repository[:tag][@sha256:digest], e.g. ghcr.io/acme/reviews:1.2.3`
    )
  }
  const manifests = optional('manifests')
  if (releases && image === undefined && manifests === undefined) {
    throw new InputError(
      'image',
      `is required for ${command} unless "manifests" is given: the new image for the service`
    )
  }
  const container = optional('container')
  if (container !== undefined) dnsLabel('container', container, 63, 'container name')

  const router = oneOf('router', get('router', 'istio'), ROUTER_KINDS)
  // Each router's inputs name objects of that router only: one given with the other router is a
  // mistake about which API the service uses, not something to ignore.
  const foreign = router === 'istio' ? ['http-route'] : ['virtual-service', 'destination-rule']
  for (const input of foreign) {
    if (get(input) !== '') {
      throw new InputError(
        input,
        `applies to router ${router === 'istio' ? 'gateway-api' : 'istio'} only, and "router" is ${router}; ${router === 'istio' ? 'set router: gateway-api to shift HTTPRoutes, or leave http-route empty' : 'give the HTTPRoutes in "http-route" (the per-color Services replace the DestinationRule), or set router: istio'}`
      )
    }
  }
  const virtualServices = objectList(
    'virtual-service',
    get('virtual-service', service),
    'VirtualService name'
  )
  const destinationRule = get('destination-rule', service)
  dnsLabel('destination-rule', destinationRule, 253, 'DestinationRule name')
  const httpRoutes = objectList('http-route', get('http-route', service), 'HTTPRoute name')
  const routes = get('routes')
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '')
  const colorLabel = get('color-label', 'version')
  const labelKey = qualifiedNameProblem(colorLabel)
  if (labelKey) {
    throw new InputError(
      'color-label',
      `"${colorLabel}" is not a label key (${labelKey}); use e.g. version or example.com/color`
    )
  }

  const maxP99 = optional('max-p99-latency')
  const prometheus = releases
    ? required(
        'prometheus-url',
        `the base URL of the Prometheus that scrapes Istio metrics for ${command}, e.g. http://prometheus.istio-system:9090`
      )
    : optional('prometheus-url')
  const endpoint = prometheus === undefined ? undefined : prometheusEndpoint(prometheus)
  const ca = optional('prometheus-ca')
  const prometheusCa = ca === undefined ? undefined : pemCertificates('prometheus-ca', ca)
  if (prometheusCa !== undefined && endpoint?.url.startsWith('http:')) {
    throw new InputError(
      'prometheus-ca',
      `applies to an https prometheus-url only, and "${endpoint.url}" is http; use https://, or leave prometheus-ca empty`
    )
  }
  const prometheusToken = optional('prometheus-token')
  if (prometheusToken !== undefined && !/^[\x21-\x7e]+$/.test(prometheusToken)) {
    throw new InputError(
      'prometheus-token',
      'holds whitespace or a character that cannot go in an HTTP header; give the token alone, without "Bearer " (the action sends Authorization: Bearer <token>)'
    )
  }
  if (prometheusToken !== undefined && endpoint?.basicAuth) {
    throw new InputError(
      'prometheus-token',
      'and the user and password in "prometheus-url" both set Authorization; give only one'
    )
  }
  const waitForLock = optional('wait-for-lock')
  const sha = optional('sha')
  if (sha !== undefined && !/^[0-9a-f]{40}$/i.test(sha)) {
    throw new InputError('sha', `"${sha}" is not a full commit SHA (40 hexadecimal characters)`)
  }
  const settings: Settings = {
    command,
    kubeconfig: optional('kubeconfig'),
    context: optional('context'),
    namespace,
    service,
    image,
    container,
    manifests,
    router,
    virtualServices,
    destinationRule,
    httpRoutes,
    routes,
    colorLabel,
    steps: parseSteps(get('steps', '10,25,50,100')),
    stepDurationMs: duration('step-duration', get('step-duration', '1m')),
    checkIntervalMs: duration('check-interval', get('check-interval', '10s')),
    readyTimeoutMs: duration('ready-timeout', get('ready-timeout', '5m')),
    prometheusUrl: endpoint?.url,
    prometheusCa,
    prometheusToken,
    prometheusHeaders: headerLines(
      get('prometheus-headers'),
      prometheusToken !== undefined
        ? 'input "prometheus-token"'
        : endpoint?.basicAuth
          ? 'the user and password in "prometheus-url"'
          : undefined
    ),
    prometheusBasicAuth: endpoint?.basicAuth,
    prometheusTimeoutMs: duration('prometheus-timeout', get('prometheus-timeout', '10s')),
    maxErrorRate: parseRate('max-error-rate', get('max-error-rate', '1%')),
    maxP99Ms: maxP99 === undefined ? undefined : duration('max-p99-latency', maxP99),
    analysisWindowMs: duration('analysis-window', get('analysis-window', '1m')),
    maxInconclusive: integer('max-inconclusive', get('max-inconclusive', '2'), 0),
    confidence: confidence(get('confidence', '99%')),
    tolerance: ratio('tolerance', get('tolerance', '1x'), 1),
    maxRegression: ratio('max-regression', get('max-regression', '3x'), 1),
    negligibleRate: negligible(optional('negligible-rate')),
    onInconclusive: oneOf('on-inconclusive', get('on-inconclusive', 'pause'), [
      'pause',
      'rollback'
    ] as const),
    reporter: oneOf('reporter', get('reporter', 'destination'), [
      'destination',
      'source',
      'waypoint'
    ] as const),
    previousColor: oneOf('previous-color', get('previous-color', 'keep'), [
      'keep',
      'scale-down'
    ] as const),
    failOnRollback: bool('fail-on-rollback', get('fail-on-rollback', 'true')),
    skipAnalysis: bool('skip-analysis', get('skip-analysis', 'false')),
    sha,
    githubToken: optional('github-token'),
    environment: optional('environment'),
    onInterrupt: oneOf('on-interrupt', get('on-interrupt', 'rollback'), [
      'rollback',
      'pause'
    ] as const),
    testHeader: testHeader(optional('test-header')),
    onDrift: oneOf('on-drift', get('on-drift', 'pause'), ['pause', 'rollback'] as const),
    waitForLockMs: waitForLock === undefined ? undefined : duration('wait-for-lock', waitForLock),
    metrics: metricDefinitions(get('metrics')),
    // A Lease counts in whole seconds (leaseDurationSeconds is an int32): round up, never down.
    leaseDurationMs:
      Math.ceil(duration('lease-duration', get('lease-duration', '60s')) / 1000) * 1000
  }
  if (settings.leaseDurationMs / 1000 > INT32_MAX) {
    throw new InputError(
      'lease-duration',
      `must be at most ${INT32_MAX}s: leaseDurationSeconds is an int32 (e.g. 60s)`
    )
  }
  if (settings.leaseDurationMs < 5000) {
    throw new InputError(
      'lease-duration',
      'must be at least 5s: the lock is renewed every third of it'
    )
  }
  const pauseAt = optional('pause-at')
  if (pauseAt !== undefined) {
    const weight = /^\d+$/.test(pauseAt) ? Number(pauseAt) : NaN
    // 0 stops before the first step: only the test route reaches the candidate then, so a
    // release without one would pause with nothing to test. Resume takes the header from the
    // rollout's record, so it checks it there.
    if (weight === 0 && releases && settings.testHeader === undefined) {
      throw new InputError(
        'pause-at',
        `0 pauses before any weight so that tests can reach the candidate through the test route, and "test-header" is empty; set it (e.g. test-header: "x-canary: true"), or pause at one of the steps (${settings.steps.join(', ')})`
      )
    }
    if (weight !== 0 && !settings.steps.includes(weight)) {
      throw new InputError(
        'pause-at',
        `"${pauseAt}" is not one of the steps (${settings.steps.join(', ')}); pause at a weight the rollout reaches, or at 0 (with "test-header") before the first step`
      )
    }
    settings.pauseAt = weight
  }
  if (settings.skipAnalysis && command !== 'promote') {
    throw new InputError('skip-analysis', `applies to promote only, not to ${command}`)
  }
  if (settings.maxRegression <= settings.tolerance) {
    throw new InputError(
      'max-regression',
      `${settings.maxRegression}x is not above "tolerance" (${settings.tolerance}x): the regression to rule out must be worse than what is tolerated (e.g. tolerance 1x, max-regression 3x)`
    )
  }
  if (settings.analysisWindowMs < 1000) {
    throw new InputError(
      'analysis-window',
      'must be at least 1s: Prometheus ranges are whole seconds'
    )
  }
  return Object.freeze(settings)
}
