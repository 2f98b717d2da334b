/**
 * Bad inputs and bad cluster states, against the sandbox: each row must end in a failed step
 * whose error names the input or object at fault and what to do, and leave the cluster exactly as
 * it was (every object's resourceVersion unchanged, no object added or removed). The harness's
 * runAction also fails a row whose output shows any credential the run was given.
 *
 * Rows that input validation alone refuses are unit tests (__tests__/unit/bad-input.test.ts), but
 * for the few kept here (see the first section of the table).
 */
import { jest } from '@jest/globals'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SANDBOX_CERT, SANDBOX_KEY } from '../../sandbox/apiserver/tls.js'
import type { Sandbox } from '../../sandbox/index.js'
import type { KubeObject, ResourceName } from '../../sandbox/types.js'
import {
  expectExit,
  fastInputs,
  kubeEnv,
  RESOURCES,
  runAction,
  sandbox,
  versions
} from './harness.js'

jest.setTimeout(120_000)

function edit(
  sb: Sandbox,
  resource: ResourceName,
  name: string,
  change: (o: KubeObject) => KubeObject
): void {
  const o = sb.api.store.get(resource, 'demo', name)
  if (!o) throw new Error(`${resource}/${name} missing`)
  sb.api.store.replace(resource, change(structuredClone(o)))
}

function editVirtualService(sb: Sandbox, spec: Record<string, unknown>): void {
  edit(sb, 'virtualservices', 'reviews', (o) => ({ ...o, spec: { hosts: ['reviews'], ...spec } }))
}

const route = (...destinations: Array<[string, number?, string?]>): Record<string, unknown> => ({
  name: 'primary',
  route: destinations.map(([subset, weight, host]) => ({
    destination: { host: host ?? 'reviews', subset },
    ...(weight === undefined ? {} : { weight })
  }))
})

/** The sandbox's own kubeconfig, changed line by line. */
function kubeconfig(sb: Sandbox, change: (yaml: string) => string): Record<string, string> {
  return { kubeconfig: change(sb.api.kubeconfig('demo')) }
}

/** A GitHub token the action is given on every row: it must never be printed. */
const GITHUB_TOKEN = 'ghs_badInputRowsNeverPrintThisToken0123'

/**
 * A stand-in for Prometheus that misbehaves in the way its base path names:
 * `/html` a login page, `/error` an API error, `/parse` a PromQL syntax error, `/empty` no data,
 * `/slow` no answer for 5 s.
 */
function startBadPrometheus(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const mode = (req.url ?? '').split('/')[1]
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    switch (mode) {
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html' })
        res.end('<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>')
        return
      case 'error':
        return json(503, {
          status: 'error',
          errorType: 'unavailable',
          error: 'too many queries in flight'
        })
      case 'parse':
        return json(400, {
          status: 'error',
          errorType: 'bad_data',
          error: 'invalid parameter "query": 1:27: parse error: unexpected "}"'
        })
      case 'empty':
        return json(200, { status: 'success', data: { resultType: 'vector', result: [] } })
      case 'slow':
        setTimeout(
          () => json(200, { status: 'success', data: { resultType: 'vector', result: [] } }),
          5000
        )
        return
      default:
        res.writeHead(404)
        res.end()
    }
  })
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server })
    )
  )
}

/** The `::error::` messages of a log, decoded as the runner decodes workflow commands. */
function errorsOf(log: string): string[] {
  return log
    .split('\n')
    .filter((l) => l.startsWith('::error::'))
    .map((l) =>
      l.slice('::error::'.length).replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
    )
}

/** Wait until the sandbox's controller stopped reacting to a row's setup. */
async function settle(sb: Sandbox): Promise<void> {
  for (let before = JSON.stringify(versions(sb)); ;) {
    await new Promise((r) => setTimeout(r, 700))
    const now = JSON.stringify(versions(sb))
    if (now === before) return
    before = now
  }
}

interface Row {
  name: string
  /** Inputs over fastInputs(); a function for inputs that depend on the sandbox. */
  inputs?: Record<string, string> | ((sb: Sandbox, badPrometheus: string) => Record<string, string>)
  /** Change the cluster before the run (undone after it). */
  setup?: (sb: Sandbox) => void
  /** What the error must say (a part of the `::error::` line). */
  message: string
}

const rows: Row[] = [
  // ---- refused by input validation alone, kept end to end ---------------------------------
  // Every row that validation refuses before the first network call (readSettings,
  // loadKubeConfig) is a unit test: __tests__/unit/bad-input.test.ts, with the same inputs and
  // messages. These five stay here so that "bad input → failed step, nothing written, no secret
  // printed" still runs through dist/index.js, one per path: a plain InputError; an error that
  // quotes an input carrying a password (shown as ***, never printed); a token that is masked
  // before the inputs are validated; a kubeconfig the parser rejects (its message may quote the
  // file); a kubeconfig with a token, loaded, then refused for its context.
  {
    name: 'steps not increasing',
    inputs: { steps: '10,5,100' },
    message:
      'input "steps": "10,5,100" is not strictly increasing; use comma-separated whole percentages from 1 to 100, strictly increasing and ending at 100 (e.g. 10,25,50,100)'
  },
  {
    name: 'a prometheus-url with a password holding a slash',
    inputs: { 'prometheus-url': 'https://grafana:pa/ss-word-123@prom.example.com' },
    message:
      'input "prometheus-url": "https://***@prom.example.com" is not a URL; use http(s)://host:port'
  },
  {
    name: 'a prometheus-token with its Bearer prefix',
    inputs: { 'prometheus-token': 'Bearer glc_eyJvIjoiMTIzNCJ9' },
    message:
      'input "prometheus-token": holds whitespace or a character that cannot go in an HTTP header; give the token alone, without "Bearer "'
  },
  {
    name: 'a kubeconfig that is not YAML',
    inputs: { kubeconfig: 'apiVersion: v1\nclusters: [unclosed\n\tusers: {' },
    message: 'could not read the kubeconfig from input "kubeconfig":'
  },
  {
    name: 'a context the kubeconfig does not have',
    inputs: (sb) => ({ ...kubeconfig(sb, (y) => y), context: 'prod' }),
    message: 'input "context": the kubeconfig has no context "prod" (it has: sandbox)'
  },

  // ---- inputs that only the cluster or the runner's files can refute -----------------------
  {
    // Read in preflight, after the first requests to the API server.
    name: 'manifests that match no file',
    inputs: { manifests: 'deploy/nothing-*.yaml' },
    message: 'input "manifests": no file matches "deploy/nothing-*.yaml"'
  },
  {
    name: 'promote with nothing to promote',
    inputs: { command: 'promote' },
    message:
      'promote refused: nothing to promote: promote continues a paused rollout, and the rollout is not started'
  },

  // ---- the kubeconfig, against the API server --------------------------------------------
  {
    name: 'a kubeconfig pointing at no server',
    inputs: (sb) => kubeconfig(sb, (y) => y.replace(/server: .*/, 'server: https://127.0.0.1:2')),
    message:
      "cannot reach the Kubernetes API server at https://127.0.0.1:2 (connect ECONNREFUSED 127.0.0.1:2); check the kubeconfig's server address and that this runner can reach it"
  },
  {
    name: 'an invalid token',
    inputs: (sb) =>
      kubeconfig(sb, (y) => y.replace(/token: .*/, 'token: "eyJhbGciOiJSUzI1NiJ9.expired.token"')),
    message:
      "rejected the kubeconfig's credentials (401 Unauthorized): its token or client certificate is invalid or expired; give a kubeconfig with current credentials"
  },
  {
    name: 'a client certificate the server does not accept',
    inputs: (sb) =>
      kubeconfig(sb, (y) =>
        y.replace(
          /token: .*/,
          `client-certificate-data: ${Buffer.from(SANDBOX_CERT).toString('base64')}\n    client-key-data: ${Buffer.from(SANDBOX_KEY).toString('base64')}`
        )
      ),
    message: "rejected the kubeconfig's credentials (401 Unauthorized)"
  },
  {
    name: 'a server certificate the kubeconfig does not trust',
    inputs: (sb) => kubeconfig(sb, (y) => y.replace(/^\s*certificate-authority-data: .*\n/m, '')),
    message:
      "presented a certificate this runner does not trust (self-signed certificate): put the cluster's CA certificate in the kubeconfig (certificate-authority-data of the cluster)"
  },

  // ---- objects missing or shaped wrong ---------------------------------------------------
  {
    name: 'a namespace that does not exist',
    inputs: { namespace: 'shop' },
    message: 'Service reviews not found in namespace shop; check inputs "service" and "namespace"'
  },
  {
    name: 'a missing Service',
    inputs: { service: 'ratings' },
    message: 'Service ratings not found in namespace demo; check inputs "service" and "namespace"'
  },
  {
    name: 'a Service without a selector',
    setup: (sb) =>
      edit(sb, 'services', 'reviews', (o) => ({ ...o, spec: { ...o.spec, selector: {} } })),
    message:
      'Service reviews has no pod selector; istio-bluegreen needs a Service that selects its pods'
  },
  {
    name: 'a missing stable Deployment',
    setup: (sb) => {
      sb.api.store.delete('deployments', 'demo', 'reviews-blue')
      for (const pod of sb.api.store.list('pods', 'demo')) {
        sb.api.store.delete('pods', 'demo', pod.metadata.name)
      }
    },
    message:
      'Deployment reviews-blue not found in namespace demo; deploy the service first (the stable color must be running)'
  },
  {
    name: 'a missing VirtualService',
    inputs: { 'virtual-service': 'nope' },
    message:
      'VirtualService nope not found in namespace demo; create it, or set input "virtual-service"'
  },
  {
    name: 'a missing DestinationRule',
    inputs: { 'destination-rule': 'nope' },
    message:
      'DestinationRule nope not found in namespace demo; create one for host reviews, or set input "destination-rule"'
  },
  {
    name: 'a VirtualService with no route to the service',
    setup: (sb) => editVirtualService(sb, { http: [route(['v1', undefined, 'ratings'])] }),
    message:
      'no HTTP route of the VirtualService has a destination to reviews (destinations: ratings); check inputs "service" and "virtual-service"'
  },
  {
    name: 'an unknown route',
    inputs: { routes: 'canary' },
    message:
      'VirtualService reviews: input "routes": no HTTP route named "canary"; the routes are: primary'
  },
  {
    name: 'weights that do not sum to 100',
    setup: (sb) => editVirtualService(sb, { http: [route(['blue', 60], ['green', 30])] }),
    message:
      'HTTP route "primary" has weights that sum to 90, not 100 (blue=60, green=30); correct them so that they sum to 100'
  },
  {
    name: 'a VirtualService with TCP routes only',
    setup: (sb) =>
      editVirtualService(sb, {
        tcp: [{ route: [{ destination: { host: 'reviews', subset: 'blue' } }] }]
      }),
    message:
      'the VirtualService has no HTTP routes (only TCP/TLS routes); istio-bluegreen shifts HTTP route weights only'
  },
  {
    name: 'a VirtualService with TLS routes only',
    setup: (sb) =>
      editVirtualService(sb, {
        tls: [
          {
            match: [{ sniHosts: ['reviews'] }],
            route: [{ destination: { host: 'reviews', subset: 'blue' } }]
          }
        ]
      }),
    message: 'the VirtualService has no HTTP routes (only TCP/TLS routes)'
  },
  {
    name: 'a route to a subset other than the colors',
    setup: (sb) => editVirtualService(sb, { http: [route(['v1'])] }),
    message:
      'HTTP route "primary" sends traffic to subset "v1" of reviews; istio-bluegreen manages only the subsets blue and green'
  },
  {
    name: 'weights between colors (a rollout in flight)',
    setup: (sb) => editVirtualService(sb, { http: [route(['blue', 70], ['green', 30])] }),
    message:
      'VirtualService reviews is between colors (primary: blue=70,green=30); a rollout is in flight or was interrupted: finish it or roll it back before deploying'
  },
  {
    name: 'a test-header that a shifted route already matches',
    inputs: { 'test-header': 'X-Canary: true', 'pause-at': '0' },
    setup: (sb) =>
      editVirtualService(sb, {
        http: [{ ...route(['blue']), match: [{ headers: { 'X-Canary': { exact: 'no' } } }] }]
      }),
    message:
      'VirtualService reviews: input "test-header": HTTP route "primary" already matches header "x-canary"; choose another header name for the test route'
  },
  {
    name: 'a color subset that selects other labels',
    setup: (sb) =>
      edit(sb, 'destinationrules', 'reviews', (o) => ({
        ...o,
        spec: { ...o.spec, subsets: [{ name: 'blue', labels: { version: 'v1' } }] }
      })),
    message: 'DestinationRule reviews: subset "blue" selects version=v1, expected version=blue'
  },
  {
    name: 'a container the Deployment does not have',
    inputs: { container: 'app' },
    message: 'input "container": Deployment reviews-blue has no container "app" (it has: reviews)'
  },
  {
    name: 'stable pods outside the mesh',
    setup: (sb) => {
      for (const pod of sb.api.store.list('pods', 'demo')) {
        const spec = pod.spec as { containers: Array<{ name: string }> }
        const annotations = { ...pod.metadata.annotations }
        delete annotations['sidecar.istio.io/status']
        sb.api.store.replace('pods', {
          ...pod,
          metadata: { ...pod.metadata, annotations },
          spec: { ...spec, containers: spec.containers.filter((c) => c.name !== 'istio-proxy') }
        })
      }
    },
    message:
      '3 of 3 pods of reviews-blue are not in the Istio mesh (no istio-proxy sidecar, no ambient redirection): route weights would not apply to them and they report no telemetry; enable injection for namespace demo'
  },
  {
    name: 'the lock held by a live run',
    setup: (sb) =>
      sb.api.store.create('leases', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'istio-bluegreen-reviews', namespace: 'demo' },
        spec: {
          holderIdentity: 'acme/shop#41.1',
          leaseDurationSeconds: 600,
          renewTime: new Date().toISOString().replace('Z', '000Z')
        }
      }),
    message: 'deploy refused: acme/shop#41.1 is running a rollout of this service right now'
  },

  // ---- permissions -------------------------------------------------------------------------
  {
    name: 'no permission to patch VirtualServices',
    setup: (sb) => sb.api.setDenials([{ verb: 'patch', resource: 'virtualservices' }]),
    message:
      'missing permission in namespace demo: patch virtualservices.networking.istio.io; grant them with the Role in the README ("Permissions")'
  },
  {
    name: 'no permission to create Leases',
    setup: (sb) => sb.api.setDenials([{ verb: 'create', resource: 'leases', namespace: 'demo' }]),
    message: 'missing permission in namespace demo: create leases.coordination.k8s.io'
  },
  {
    name: 'no permission to list pods',
    setup: (sb) => sb.api.setDenials([{ verb: 'list', resource: 'pods' }]),
    message: 'missing permission in namespace demo: list pods;'
  },
  {
    name: 'no permission to review its own access',
    setup: (sb) => sb.api.setDenials([{ verb: 'create', resource: 'selfsubjectaccessreviews' }]),
    message:
      'this credential cannot create selfsubjectaccessreviews.authorization.k8s.io, which preflight needs to check its permissions; every authenticated user may by default (ClusterRole system:basic-user)'
  },

  // ---- Prometheus ---------------------------------------------------------------------------
  {
    name: 'Prometheus unreachable',
    inputs: { 'prometheus-url': 'http://127.0.0.1:2' },
    message: 'Prometheus at http://127.0.0.1:2 is unreachable'
  },
  {
    name: 'Prometheus answering with a web page',
    inputs: (_sb, bad) => ({ 'prometheus-url': `${bad}/html` }),
    message: 'answered HTTP 200 with something that is not its JSON API'
  },
  {
    name: 'Prometheus answering with an error',
    inputs: (_sb, bad) => ({ 'prometheus-url': `${bad}/error` }),
    message:
      '/error rejected the query (unavailable: too many queries in flight); retry when it is less busy, or raise "prometheus-timeout" if it timed out'
  },
  {
    name: 'a query Prometheus cannot parse',
    inputs: (_sb, bad) => ({ 'prometheus-url': `${bad}/parse` }),
    message:
      '/parse rejected the query (bad_data: invalid parameter "query": 1:27: parse error: unexpected "}"); check that input "prometheus-url" points at Prometheus or a PromQL-compatible service'
  },
  {
    name: 'Prometheus without data for the stable workload',
    inputs: (_sb, bad) => ({ 'prometheus-url': `${bad}/empty` }),
    message:
      'Prometheus has no istio_requests_total series for workload reviews-blue in namespace demo'
  },
  {
    name: 'Prometheus slower than its timeout',
    inputs: (_sb, bad) => ({ 'prometheus-url': `${bad}/slow`, 'prometheus-timeout': '1s' }),
    message: 'no answer within'
  }
]

/**
 * The rows run in two lanes, a sandbox each: a row changes its sandbox and puts it back, so the
 * rows of one lane run one after the other, and the two lanes at once.
 */
const LANES = 2

describe('bad inputs and bad cluster states', () => {
  let lanes: Sandbox[] = []
  let sb: Sandbox
  let bad: { url: string; server: Server }
  const turns: Array<Promise<unknown>> = Array.from({ length: LANES }, () => Promise.resolve())
  /** Run `fn` on lane `i`'s sandbox once the rows before it in that lane are done. */
  function inLane<T>(i: number, fn: (sb: Sandbox) => Promise<T>): Promise<T> {
    const lane = i % LANES
    const turn = (turns[lane] as Promise<unknown>).then(() => fn(lanes[lane] as Sandbox))
    turns[lane] = turn.catch(() => undefined)
    return turn
  }
  beforeAll(async () => {
    ;[lanes, bad] = await Promise.all([
      Promise.all(Array.from({ length: LANES }, () => sandbox())),
      startBadPrometheus()
    ])
    sb = lanes[0] as Sandbox
  })
  afterAll(async () => {
    bad.server.closeAllConnections()
    await new Promise((r) => bad.server.close(r))
    await Promise.all(lanes.map((l) => l.stop()))
  })

  it('skips TLS verification of the API server only when the kubeconfig says so, with a warning', async () => {
    const insecure = kubeconfig(sb, (y) =>
      y.replace(/certificate-authority-data: .*/, 'insecure-skip-tls-verify: true')
    )
    const run = await runAction({
      service: 'reviews',
      namespace: 'demo',
      command: 'status',
      ...insecure
    })
    expectExit(run, 'success')
    expect(run.log).toMatch(
      /::warning::the kubeconfig turns off TLS verification for cluster sandbox \(insecure-skip-tls-verify\)/
    )
  })

  it('warns when Prometheus credentials would travel over plain http', async () => {
    const run = await runAction(
      {
        service: 'reviews',
        namespace: 'demo',
        command: 'status',
        'prometheus-url': 'http://prometheus.monitoring:9090',
        'prometheus-token': 'glc_cleartextWarningToken'
      },
      kubeEnv(sb)
    )
    expectExit(run, 'success')
    expect(run.log).toContain(
      '::warning::Prometheus credentials (prometheus-token, a user and password, or prometheus-headers) go to http://prometheus.monitoring:9090 in clear text: use https'
    )
  })

  it('has at least 35 rows', () => {
    expect(rows.length).toBeGreaterThanOrEqual(35)
  })

  it.concurrent.each(rows.map((row, i) => ({ ...row, i })))(
    'refuses $name and changes nothing',
    ({ i, ...row }) => inLane(i, (sb) => refuses(sb, row))
  )

  async function refuses(sb: Sandbox, { inputs, setup, message }: Row): Promise<void> {
    const store = sb.api.store
    const saved = RESOURCES.flatMap((r) => store.list(r).map((o) => ({ r, o })))
    try {
      if (setup) {
        setup(sb)
        await settle(sb)
      }
      const before = versions(sb)
      const given = typeof inputs === 'function' ? inputs(sb, bad.url) : (inputs ?? {})
      const run = await runAction(
        fastInputs(sb, {
          image: 'example.com/reviews:2.0.0',
          'github-token': GITHUB_TOKEN,
          ...given
        }),
        given.kubeconfig === undefined ? kubeEnv(sb) : {}
      )
      expectExit(run, 'failure')
      // Handed to the runner's masking first, even when the inputs are refused.
      const lines = run.log.split('\n')
      const masks = lines.slice(
        0,
        lines.findIndex((l) => !l.startsWith('::add-mask::'))
      )
      expect(masks).toContain(`::add-mask::${GITHUB_TOKEN}`)
      expect(errorsOf(run.log)).toEqual([expect.stringContaining(message)])
      expect(versions(sb)).toEqual(before)
    } finally {
      // Put back what the row's setup changed, so rows stay independent.
      sb.api.setDenials([])
      for (const { r, o } of saved) {
        const now = store.get(r, o.metadata.namespace, o.metadata.name)
        if (now?.metadata.resourceVersion !== o.metadata.resourceVersion) {
          if (now) store.replace(r, o)
          else store.create(r, o)
        }
      }
      if (store.get('leases', 'demo', 'istio-bluegreen-reviews')) {
        store.delete('leases', 'demo', 'istio-bluegreen-reviews')
      }
    }
  }
})
