/**
 * Every input of the action, read once, validated, and frozen into one settings object. Errors
 * name the input and the accepted form. Nothing else in the action reads inputs.
 */
import { parseDuration } from './core/duration.js'
import type { Reporter } from './core/queries.js'

export const COMMANDS = [
  'deploy',
  'promote',
  'resume',
  'rollback',
  'abort',
  'status',
  'plan'
] as const
export type Command = (typeof COMMANDS)[number]
export type PreviousColorPolicy = 'keep' | 'scale-down'

export interface Settings {
  command: Command
  /** Kubeconfig file content; undefined: KUBECONFIG, ~/.kube/config, or in-cluster. */
  kubeconfig?: string
  context?: string
  /** Undefined: the kubeconfig context's namespace, else `default`. */
  namespace?: string
  service: string
  image?: string
  container?: string
  manifests?: string
  virtualService: string
  destinationRule: string
  /** Names of the HTTP routes to shift; empty: every route to the service. */
  routes: readonly string[]
  colorLabel: string
  steps: readonly number[]
  stepDurationMs: number
  checkIntervalMs: number
  readyTimeoutMs: number
  /** Required by deploy and plan; the other commands use the rollout record's unless given. */
  prometheusUrl?: string
  maxErrorRate: number
  maxP99Ms?: number
  analysisWindowMs: number
  minRequests: number
  failureLimit: number
  maxInconclusive: number
  reporter: Reporter
  previousColor: PreviousColorPolicy
  failOnRollback: boolean
  /** Candidate weight (one of steps) at which deploy or resume pauses. */
  pauseAt?: number
  skipAnalysis: boolean
  /** Commit for the status; default the workflow's. */
  sha?: string
  githubToken?: string
  environment?: string
  /** What a run does with a rollout whose run died or was cancelled. */
  onInterrupt: 'rollback' | 'pause'
  /** What a run does when the weights changed behind its back. */
  onDrift: 'pause' | 'rollback'
  /** How long to wait for another run's lock; undefined: fail at once. */
  waitForLockMs?: number
  /** How long a lock outlives its holder's last renewal. */
  leaseDurationMs: number
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
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/
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

function url(input: string, value: string): string {
  let parsed: URL
  try {
    parsed = new URL(value)
  } catch {
    throw new InputError(input, `"${value}" is not a URL; use http(s)://host:port`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InputError(input, `"${value}" is not an http or https URL`)
  }
  return value.replace(/\/+$/, '')
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

  const virtualService = get('virtual-service', service)
  dnsLabel('virtual-service', virtualService, 253, 'VirtualService name')
  const destinationRule = get('destination-rule', service)
  dnsLabel('destination-rule', destinationRule, 253, 'DestinationRule name')
  const routes = get('routes')
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '')
  const colorLabel = get('color-label', 'version')
  if (colorLabel.length > 317 || !LABEL_KEY.test(colorLabel)) {
    throw new InputError(
      'color-label',
      `"${colorLabel}" is not a label key; use e.g. version or example.com/color`
    )
  }

  const maxP99 = optional('max-p99-latency')
  const prometheus = optional('prometheus-url')
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
    virtualService,
    destinationRule,
    routes,
    colorLabel,
    steps: parseSteps(get('steps', '10,25,50,100')),
    stepDurationMs: duration('step-duration', get('step-duration', '1m')),
    checkIntervalMs: duration('check-interval', get('check-interval', '10s')),
    readyTimeoutMs: duration('ready-timeout', get('ready-timeout', '5m')),
    prometheusUrl: releases
      ? url(
          'prometheus-url',
          required(
            'prometheus-url',
            `the base URL of the Prometheus that scrapes Istio metrics for ${command}, e.g. http://prometheus.istio-system:9090`
          )
        )
      : prometheus === undefined
        ? undefined
        : url('prometheus-url', prometheus),
    maxErrorRate: parseRate('max-error-rate', get('max-error-rate', '1%')),
    maxP99Ms: maxP99 === undefined ? undefined : duration('max-p99-latency', maxP99),
    analysisWindowMs: duration('analysis-window', get('analysis-window', '1m')),
    minRequests: integer('min-requests', get('min-requests', '20'), 1),
    failureLimit: integer('failure-limit', get('failure-limit', '2'), 1),
    maxInconclusive: integer('max-inconclusive', get('max-inconclusive', '2'), 0),
    reporter: oneOf('reporter', get('reporter', 'destination'), ['destination', 'source'] as const),
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
    onDrift: oneOf('on-drift', get('on-drift', 'pause'), ['pause', 'rollback'] as const),
    waitForLockMs: waitForLock === undefined ? undefined : duration('wait-for-lock', waitForLock),
    leaseDurationMs: duration('lease-duration', get('lease-duration', '60s'))
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
    if (!settings.steps.includes(weight)) {
      throw new InputError(
        'pause-at',
        `"${pauseAt}" is not one of the steps (${settings.steps.join(', ')}); pause at a weight the rollout reaches`
      )
    }
    settings.pauseAt = weight
  }
  if (settings.skipAnalysis && command !== 'promote') {
    throw new InputError('skip-analysis', `applies to promote only, not to ${command}`)
  }
  if (settings.analysisWindowMs < 1000) {
    throw new InputError(
      'analysis-window',
      'must be at least 1s: Prometheus ranges are whole seconds'
    )
  }
  return Object.freeze(settings)
}
