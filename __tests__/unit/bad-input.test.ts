/**
 * The bad-input rows that input validation alone refuses, before the action's first network call:
 * a malformed or missing input, or a kubeconfig that cannot be read. They were rows of
 * `__tests__/e2e/bad-input.test.ts`, each starting the built action against a sandbox; here each
 * calls what the main step runs first, in its order (src/main.ts): the raw inputs' credentials
 * handed to masking, `readSettings`, then `loadKubeConfig`. Those are synchronous, so a row they
 * refuse cannot have sent a request, let alone changed the cluster.
 *
 * Each row asserts what the e2e row did, in unit form:
 * - one error, whose message holds the same fragment (naming the input and what to do);
 * - every credential the row gives is among what is handed to the runner's masking (the e2e row's
 *   `::add-mask::` lines), and no credential, masked or not, is in the message.
 *
 * A few of these rows stay in e2e as well, so that "bad input → failed step, nothing written, no
 * secret printed" still runs end to end through dist/index.js: see the comment there.
 */
import { loadKubeConfig } from '../../src/adapters/kube.js'
import { readSettings } from '../../src/inputs.js'
import { inputSecrets, kubeconfigSecrets } from '../../src/secrets.js'
import { SANDBOX_CERT, SANDBOX_KEY } from '../../sandbox/apiserver/tls.js'
import { fastInputs } from '../e2e/harness.js'

/** The GitHub token every row is given, as in e2e: it must be masked and never shown. */
const GITHUB_TOKEN = 'ghs_badInputRowsNeverPrintThisToken0123'
/** The kubeconfig's bearer token. */
const KUBE_TOKEN = 'sandbox-bearer-token-never-printed-4567'

/** A kubeconfig shaped as the sandbox's (cluster, user and context all named sandbox). */
const KUBECONFIG = [
  'apiVersion: v1',
  'kind: Config',
  'clusters:',
  '- name: sandbox',
  '  cluster:',
  '    server: https://127.0.0.1:6443',
  `    certificate-authority-data: ${Buffer.from(SANDBOX_CERT).toString('base64')}`,
  'users:',
  '- name: sandbox',
  '  user:',
  `    token: ${JSON.stringify(KUBE_TOKEN)}`,
  'contexts:',
  '- name: sandbox',
  '  context:',
  '    cluster: sandbox',
  '    user: sandbox',
  '    namespace: demo',
  'current-context: sandbox',
  ''
].join('\n')

/** The e2e rows' inputs (fastInputs plus an image and the GitHub token), with the kubeconfig. */
const BASE: Record<string, string> = fastInputs(
  { prometheusUrl: 'http://127.0.0.1:9090' },
  { image: 'example.com/reviews:2.0.0', 'github-token': GITHUB_TOKEN, kubeconfig: KUBECONFIG }
)

interface Row {
  name: string
  /** Inputs over BASE; '' for an input not given. */
  inputs: Record<string, string>
  /** What the error must say (a part of its message), as in the e2e row. */
  message: string
  /** Credentials in `inputs` that must be masked (besides the GitHub and kubeconfig tokens). */
  secrets?: string[]
  /** Values that are not masked but must never be shown either. */
  unshown?: string[]
}

const rows: Row[] = [
  // ---- inputs, one malformed value each --------------------------------------------------
  {
    name: 'steps not increasing',
    inputs: { steps: '10,5,100' },
    message:
      'input "steps": "10,5,100" is not strictly increasing; use comma-separated whole percentages from 1 to 100, strictly increasing and ending at 100 (e.g. 10,25,50,100)'
  },
  {
    name: 'a step of 0',
    inputs: { steps: '0,100' },
    message: 'input "steps": "0" in "0,100" is not a weight; use comma-separated whole percentages'
  },
  {
    name: 'a step over 100',
    inputs: { steps: '10,150' },
    message: 'input "steps": "150" in "10,150" is not a weight'
  },
  {
    name: 'steps that are not numbers',
    inputs: { steps: 'abc' },
    message: 'input "steps": "abc" in "abc" is not a weight'
  },
  {
    name: 'steps that stop short of 100',
    inputs: { steps: '10,50' },
    message: 'input "steps": "10,50" does not end at 100'
  },
  {
    name: 'a duration without a unit',
    inputs: { 'step-duration': '5' },
    message:
      'input "step-duration": "5" is not a duration; use a number with a unit: ms, s, m or h (e.g. 30s, 5m, 1h, 1m30s)'
  },
  {
    name: 'a negative duration',
    inputs: { 'check-interval': '-1m' },
    message: 'input "check-interval": "-1m" is not a duration'
  },
  {
    name: 'a duration in years',
    inputs: { 'ready-timeout': '1y' },
    message: 'input "ready-timeout": "1y" is not a duration'
  },
  {
    name: 'an analysis window under a second',
    inputs: { 'analysis-window': '500ms' },
    message: 'input "analysis-window": must be at least 1s: Prometheus ranges are whole seconds'
  },
  {
    name: 'a latency limit that is not a duration',
    inputs: { 'max-p99-latency': 'fast' },
    message: 'input "max-p99-latency": "fast" is not a duration'
  },
  {
    name: 'an error rate over 100%',
    inputs: { 'max-error-rate': '200%' },
    message:
      'input "max-error-rate": "200%" is not a rate; use a percentage from 0% to 100% (e.g. 1%) or a fraction from 0 to 1 (e.g. 0.01)'
  },
  {
    name: 'a negative error rate',
    inputs: { 'max-error-rate': '-1' },
    message: 'input "max-error-rate": "-1" is not a rate'
  },
  {
    name: 'an error rate over 1',
    inputs: { 'max-error-rate': '1.5' },
    message: 'input "max-error-rate": "1.5" is not a rate'
  },
  {
    name: 'a confidence of 100%',
    inputs: { confidence: '100%' },
    message:
      'input "confidence": "100%" is not a confidence; use a percentage such as 99% or 99.9% (or a fraction such as 0.99), above 50% and at most 99.99%'
  },
  {
    name: 'a max-regression not above the tolerance',
    inputs: { tolerance: '2x', 'max-regression': '2x' },
    message: 'input "max-regression": 2x is not above "tolerance" (2x)'
  },
  {
    name: 'a negative max-inconclusive',
    inputs: { 'max-inconclusive': '-1' },
    message: 'input "max-inconclusive": "-1" is not a whole number of at least 0'
  },
  {
    name: 'an unknown command',
    inputs: { command: 'ship' },
    message:
      'input "command": "ship" is not one of: deploy, promote, resume, rollback, abort, status, plan'
  },
  {
    name: 'an unknown reporter',
    inputs: { reporter: 'both' },
    message: 'input "reporter": "both" is not one of: destination, source, waypoint'
  },
  {
    name: 'an unknown router',
    inputs: { router: 'linkerd' },
    message: 'input "router": "linkerd" is not one of: istio, gateway-api'
  },
  {
    name: 'http-route with the Istio router',
    inputs: { 'http-route': 'reviews' },
    message: 'input "http-route": applies to router gateway-api only, and "router" is istio'
  },
  {
    name: 'virtual-service with the Gateway API router',
    inputs: { router: 'gateway-api', 'virtual-service': 'reviews' },
    message: 'input "virtual-service": applies to router istio only, and "router" is gateway-api'
  },
  {
    name: 'destination-rule with the Gateway API router',
    inputs: { router: 'gateway-api', 'destination-rule': 'reviews' },
    message: 'input "destination-rule": applies to router istio only, and "router" is gateway-api'
  },
  {
    name: 'an http-route list with an empty name',
    inputs: { router: 'gateway-api', 'http-route': 'reviews,' },
    message: 'input "http-route": "reviews," has an empty name; give one HTTPRoute name'
  },
  {
    name: 'an unknown previous-color',
    inputs: { 'previous-color': 'delete' },
    message: 'input "previous-color": "delete" is not one of: keep, scale-down'
  },
  {
    name: 'an unknown on-interrupt',
    inputs: { 'on-interrupt': 'ignore' },
    message: 'input "on-interrupt": "ignore" is not one of: rollback, pause'
  },
  {
    name: 'an unknown on-drift',
    inputs: { 'on-drift': 'ignore' },
    message: 'input "on-drift": "ignore" is not one of: pause, rollback'
  },
  {
    name: 'a boolean that is not one',
    inputs: { 'fail-on-rollback': 'yes' },
    message: 'input "fail-on-rollback": "yes" is not a boolean; use true or false'
  },
  {
    name: 'skip-analysis with deploy',
    inputs: { 'skip-analysis': 'true' },
    message: 'input "skip-analysis": applies to promote only, not to deploy'
  },
  {
    name: 'pause-at outside the steps',
    inputs: { 'pause-at': '30' },
    message:
      'input "pause-at": "30" is not one of the steps (10, 25, 50, 100); pause at a weight the rollout reaches'
  },
  {
    name: 'pause-at 0 without a test header',
    inputs: { 'pause-at': '0' },
    message:
      'input "pause-at": 0 pauses before any weight so that tests can reach the candidate through the test route, and "test-header" is empty; set it (e.g. test-header: "x-canary: true"), or pause at one of the steps (10, 25, 50, 100)'
  },
  {
    name: 'a test header without a colon',
    inputs: { 'test-header': 'x-canary true' },
    message:
      'input "test-header": "x-canary true" has no ":" between the name and the value; write it as "Name: value", e.g. "x-canary: true"'
  },
  {
    name: 'a test header without a value',
    inputs: { 'test-header': 'x-canary:' },
    message: 'input "test-header": header "x-canary" has no value'
  },
  {
    name: 'a test header name with a space',
    inputs: { 'test-header': 'x canary: true' },
    message: 'input "test-header": "x canary" is not a valid header name'
  },
  {
    name: 'a pseudo-header as test header',
    inputs: { 'test-header': ':authority: reviews' },
    message: 'input "test-header": ":authority: reviews" is a pseudo-header'
  },
  {
    name: 'a hop-by-hop test header',
    inputs: { 'test-header': 'Connection: canary' },
    message:
      'input "test-header": header "connection" cannot select the test route: it is hop-by-hop: proxies remove it before routing'
  },
  {
    name: 'a test header Envoy owns',
    inputs: { 'test-header': 'x-envoy-canary: 1' },
    message:
      'input "test-header": header "x-envoy-canary" cannot select the test route: Envoy owns the x-envoy- headers'
  },
  {
    name: 'a lease shorter than 5s',
    inputs: { 'lease-duration': '2s' },
    message: 'input "lease-duration": must be at least 5s: the lock is renewed every third of it'
  },
  {
    name: 'a wait-for-lock that is not a duration',
    inputs: { 'wait-for-lock': 'forever' },
    message: 'input "wait-for-lock": "forever" is not a duration'
  },
  {
    name: 'a branch name as sha',
    inputs: { sha: 'main' },
    message: 'input "sha": "main" is not a full commit SHA (40 hexadecimal characters)'
  },
  {
    name: 'an image reference with a space',
    inputs: { image: 'example.com/reviews:2.0 --privileged' },
    message:
      'input "image": "example.com/reviews:2.0 --privileged" is not an image reference; use [registry/]repository[:tag][@sha256:digest], e.g. ghcr.io/acme/reviews:1.2.3'
  },
  {
    name: 'an image reference with upper-case letters',
    inputs: { image: 'example.com/Reviews:2.0' },
    message: 'input "image": "example.com/Reviews:2.0" is not an image reference'
  },
  {
    name: 'an image reference with an empty tag',
    inputs: { image: 'example.com/reviews:' },
    message: 'input "image": "example.com/reviews:" is not an image reference'
  },
  {
    name: 'a service name that would inject PromQL',
    inputs: { service: 'x"}or vector(1) or{a="' },
    message:
      'input "service": "x"}or vector(1) or{a="" is not a valid Service name (its Deployments are named <service>-blue and <service>-green): use lower-case letters, digits and \'-\''
  },
  {
    name: 'a namespace that is not a DNS label',
    inputs: { namespace: 'Demo_1' },
    message: 'input "namespace": "Demo_1" is not a valid namespace name'
  },
  {
    name: 'a color label that is not a label key',
    inputs: { 'color-label': 'color!' },
    message:
      "input \"color-label\": \"color!\" is not a label key (name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character); use e.g. version or example.com/color"
  },
  {
    name: 'a prometheus-url that is not a URL',
    inputs: { 'prometheus-url': 'prometheus:9090' },
    message: 'input "prometheus-url": "prometheus:9090" is not an http or https URL'
  },
  {
    // The slash ends the URL's host part early, so no URL parser finds the password: it is not
    // masked (inputSecrets cannot tell it apart), and the message must hide it by itself.
    name: 'a prometheus-url with a password holding a slash',
    inputs: { 'prometheus-url': 'https://grafana:pa/ss-word-123@prom.example.com' },
    message:
      'input "prometheus-url": "https://***@prom.example.com" is not a URL; use http(s)://host:port',
    unshown: ['pa/ss-word-123', 'ss-word-123', 'grafana:pa']
  },
  {
    name: 'a file path as prometheus-ca',
    inputs: { 'prometheus-ca': 'certs/prometheus-ca.pem' },
    message:
      'input "prometheus-ca": holds no PEM certificate; give the PEM content of the CA certificate(s)'
  },
  {
    name: 'a private key in prometheus-ca',
    inputs: { 'prometheus-ca': SANDBOX_CERT + SANDBOX_KEY },
    message:
      'input "prometheus-ca": holds a PRIVATE KEY block, not only certificates (never give a private key)',
    // Any line of the key's base64 body.
    unshown: SANDBOX_KEY.split('\n').filter((line) => line.length >= 16 && !line.startsWith('---'))
  },
  {
    name: 'prometheus-ca with an http prometheus-url',
    inputs: { 'prometheus-ca': SANDBOX_CERT },
    message: 'input "prometheus-ca": applies to an https prometheus-url only'
  },
  {
    name: 'a prometheus-token with its Bearer prefix',
    inputs: { 'prometheus-token': 'Bearer glc_eyJvIjoiMTIzNCJ9' },
    message:
      'input "prometheus-token": holds whitespace or a character that cannot go in an HTTP header; give the token alone, without "Bearer "',
    secrets: ['Bearer glc_eyJvIjoiMTIzNCJ9'],
    unshown: ['glc_eyJvIjoiMTIzNCJ9']
  },
  {
    // A key rather than e2e's tenant name (which the message's example happens to use): without
    // a colon it is not masked, so the message must not quote the line.
    name: 'a prometheus-headers line without a colon',
    inputs: { 'prometheus-headers': 'X-Api-Key 7f3a9c0d-key-value' },
    message: 'input "prometheus-headers": line 1 is not Name: value',
    unshown: ['7f3a9c0d-key-value']
  },
  {
    name: 'a prometheus-headers line overriding Host',
    inputs: { 'prometheus-headers': 'X-Scope-OrgID: tenant-a\nHost: attacker.example.com' },
    message: 'input "prometheus-headers": header Host is set by the action itself; remove it',
    secrets: ['tenant-a', 'attacker.example.com']
  },
  {
    name: 'a prometheus-timeout of zero',
    inputs: { 'prometheus-timeout': '0s' },
    message: 'input "prometheus-timeout": "0s" is not a duration'
  },
  {
    name: 'a context the kubeconfig does not have',
    inputs: { context: 'prod' },
    message: 'input "context": the kubeconfig has no context "prod" (it has: sandbox)'
  },

  // ---- required inputs, per command ------------------------------------------------------
  {
    name: 'deploy without service',
    inputs: { service: '' },
    message: 'input "service": is required: the name of the Kubernetes Service to release'
  },
  {
    name: 'deploy without image or manifests',
    inputs: { image: '' },
    message:
      'input "image": is required for deploy unless "manifests" is given: the new image for the service'
  },
  {
    name: 'plan without image or manifests',
    inputs: { command: 'plan', image: '' },
    message: 'input "image": is required for plan unless "manifests" is given'
  },
  {
    name: 'deploy without prometheus-url',
    inputs: { 'prometheus-url': '' },
    message:
      'input "prometheus-url": is required: the base URL of the Prometheus that scrapes Istio metrics for deploy'
  },
  {
    name: 'promote without service',
    inputs: { command: 'promote', service: '' },
    message: 'input "service": is required'
  },

  // ---- the kubeconfig ------------------------------------------------------------------
  {
    name: 'a kubeconfig that is not YAML',
    inputs: { kubeconfig: 'apiVersion: v1\nclusters: [unclosed\n\tusers: {' },
    message: 'could not read the kubeconfig from input "kubeconfig":'
  },
  {
    name: 'a kubeconfig without a current context',
    inputs: { kubeconfig: KUBECONFIG.replace(/^current-context:.*$/m, '') },
    message:
      'the kubeconfig from input "kubeconfig" has no current context with a cluster: set current-context in it, or give input "context"'
  }
]

/**
 * What the main step does with its inputs before its first network call, in its order; the
 * reader trims as core.getInput does.
 */
function validate(inputs: Record<string, string>): { error: unknown; masked: string[] } {
  const read = (name: string): string => (inputs[name] ?? '').trim()
  const masked = inputSecrets(read)
  try {
    const settings = readSettings(read)
    masked.push(...kubeconfigSecrets(loadKubeConfig(settings)))
  } catch (error) {
    return { error, masked }
  }
  throw new Error('expected the inputs to be refused before any network call, and they were not')
}

describe('bad inputs refused by validation alone', () => {
  it('accepts the base inputs, so each row fails only for what it changes', () => {
    const read = (name: string): string => BASE[name] ?? ''
    const settings = readSettings(read)
    expect(loadKubeConfig(settings).getCurrentCluster()?.name).toBe('sandbox')
  })

  it('has at least 45 rows', () => {
    expect(rows.length).toBeGreaterThanOrEqual(45)
  })

  it.each(rows)('refuses $name, masking and never showing a credential', (row) => {
    const inputs = { ...BASE, ...row.inputs }
    const { error, masked } = validate(inputs)
    expect(error).toBeInstanceOf(Error)
    const message = (error as Error).message
    expect(message).toContain(row.message)

    const secrets = [
      GITHUB_TOKEN,
      ...(inputs.kubeconfig?.includes(KUBE_TOKEN) ? [KUBE_TOKEN] : []),
      ...(row.secrets ?? [])
    ]
    expect(masked).toEqual(expect.arrayContaining(secrets))
    for (const value of [...secrets, ...(row.unshown ?? [])]) {
      expect(message).not.toContain(value)
    }
  })
})
