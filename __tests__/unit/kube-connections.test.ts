/**
 * Kube keeps its TLS connections: client-node gives every request of a cluster with its own CA a
 * new undici Agent, so without Kube's sharing each request would open a connection and shake
 * hands again. A loopback HTTPS server counts the TLS connections it accepts.
 */
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { connectionKey, Kube, LEASES, loadKubeConfig } from '../../src/adapters/kube.js'
import { SANDBOX_CERT, SANDBOX_KEY } from '../../sandbox/apiserver/tls.js'

type ClusterFields = Parameters<typeof connectionKey>[0]
type UserFields = Parameters<typeof connectionKey>[1]

const CLUSTER: NonNullable<ClusterFields> = {
  server: 'https://10.0.0.1',
  caData: 'Q0E=',
  skipTLSVerify: false
}
const USER: NonNullable<UserFields> = {}

describe('connectionKey: which requests may share connections', () => {
  const key = (c: Partial<typeof CLUSTER>, u: UserFields, auth?: string) =>
    connectionKey({ ...CLUSTER, ...c }, { ...USER, ...u }, auth)
  const base = key({}, {}, 'Bearer a')

  it.each<[string, string | undefined, boolean]>([
    ['the same cluster, user and token', key({}, {}, 'Bearer a'), true],
    ['another token', key({}, {}, 'Bearer b'), false],
    ['another server', key({ server: 'https://10.0.0.2' }, {}, 'Bearer a'), false],
    ['another CA', key({ caData: 'Q0I=' }, {}, 'Bearer a'), false],
    ['a client certificate', key({}, { certData: 'Y2VydA==' }, 'Bearer a'), false],
    ['another TLS server name', key({ tlsServerName: 'api' }, {}, 'Bearer a'), false]
  ])('%s: shared with the first = %s', (_name, other, same) => {
    expect(other === base).toBe(same)
  })

  it.each<[string, UserFields, string | undefined, boolean]>([
    ['a static token', {}, 'Bearer a', true],
    ['no credentials at all', {}, undefined, true],
    ['an exec plugin that gave a token', { exec: { command: 'aws' } }, 'Bearer a', true],
    // The plugin may have given a client certificate it renews: only a new connection shows it.
    ['an exec plugin without a token', { exec: { command: 'tsh' } }, undefined, false],
    ['an auth provider without a token', { authProvider: { name: 'oidc' } }, undefined, false]
  ])('%s: shareable = %s', (_name, user, auth, shareable) => {
    expect(key({}, user, auth) !== undefined).toBe(shareable)
  })
})

describe('Kube over TLS', () => {
  let server: Server
  let connections = 0
  let url = ''

  beforeAll(async () => {
    server = createServer({ cert: SANDBOX_CERT, key: SANDBOX_KEY }, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: 'l', namespace: 'demo', resourceVersion: '1' }
        })
      )
    })
    server.on('secureConnection', () => connections++)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it('sends the requests of one identity over the connections of the first', async () => {
    const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: '${url}', certificate-authority-data: '${Buffer.from(SANDBOX_CERT).toString('base64')}' } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: x, context: { cluster: c, user: u, namespace: demo } }]
current-context: x
`
    const kube = new Kube(loadKubeConfig({ kubeconfig }))
    connections = 0
    for (let i = 0; i < 10; i++) {
      expect((await kube.get(LEASES, 'demo', 'l'))?.metadata.name).toBe('l')
    }
    // One a request without the sharing; a second may open while the first is being released.
    expect(connections).toBeLessThanOrEqual(2)
  })
})
